//! `schoon`: the one binary of Schoon. This file only parses arguments and maps results to exit
//! codes; the work happens in the library crates (`pdq`, `media`, `digest`, `lists`, `store`).

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// mimalloc rather than glibc's allocator: `schoon serve` holds a large index for weeks while
/// serving many small allocations per request, the pattern glibc fragments under; measured
/// in BENCHMARKS.md (check API).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod admin;
mod bench;
mod db;
mod demo;
mod hash;
mod hashlists;
mod import;
mod monitor_cmd;
mod ntd_cmd;
mod output;
mod scan;
mod serve;
mod size;

/// Schoon keeps the internet clean of known illegal images: it hashes files (exact digests and
/// Meta's PDQ perceptual hash) so they can be checked against police and hotline hash lists.
/// Schoon never needs or stores the images themselves: only hashes leave your machine.
#[derive(Debug, Parser)]
#[command(
    name = "schoon",
    version,
    propagate_version = true,
    max_term_width = 100
)]
#[command(after_help = "Run `schoon help <command>` or `schoon <command> --help` for examples.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Hash files and directories: MD5, SHA-1, SHA-256 and PDQ, on all cores.
    Hash(hash::HashArgs),
    /// Time decoding, PDQ and the digests on one core, stage by stage.
    Bench(bench::BenchArgs),
    /// Scan directories and buckets against the hash lists: hashes are made here, only they
    /// are sent; resumable, and a re-scan only hashes what changed.
    Scan(scan::ScanArgs),
    /// Serve the hash-check API (checks for hosters, list management, keys, audit).
    Serve(serve::ServeArgs),
    /// Organisations: the police services, hotlines and hosters that keys and lists belong to.
    Orgs(admin::OrgsArgs),
    /// API keys: create (shown once), list, revoke.
    Keys(admin::KeysArgs),
    /// Hash lists: create, list, show, import, export, history.
    Lists(hashlists::ListsArgs),
    /// Attribution data (ip2asn, RIR dumps in RPSL): load, look a host up, status.
    Attribution(ntd_cmd::AttributionArgs),
    /// The hosters register: hosting providers and CDNs, their prefixes and abuse addresses.
    Hosters(ntd_cmd::HostersArgs),
    /// The monitor: takedown figures per hoster, and a dry run of the non-cooperation rules.
    Monitor(monitor_cmd::MonitorArgs),
}

/// 0 when everything went well, 1 when some file, row or line failed.
fn status(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Hash(args) => hash::run(&args).map(status),
        Command::Bench(args) => bench::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Scan(args) => db::block_on(scan::run(args))?,
        Command::Serve(args) => db::block_on(serve::run(args))?.map(|()| ExitCode::SUCCESS),
        Command::Orgs(args) => db::block_on(admin::orgs(args))?.map(|()| ExitCode::SUCCESS),
        Command::Keys(args) => db::block_on(admin::keys(args))?.map(|()| ExitCode::SUCCESS),
        Command::Lists(args) => db::block_on(hashlists::run(args))?.map(status),
        Command::Attribution(args) => {
            db::block_on(ntd_cmd::attribution(args))?.map(|()| ExitCode::SUCCESS)
        }
        Command::Hosters(args) => db::block_on(ntd_cmd::hosters(args))?.map(|()| ExitCode::SUCCESS),
        Command::Monitor(args) => db::block_on(monitor_cmd::run(args))?.map(|()| ExitCode::SUCCESS),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            // A closed pipe (`schoon hash dir | head`) is the reader's choice, not a failure.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("schoon: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
