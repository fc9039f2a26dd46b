//! `schoon scan`: a hoster checks its own storage against the hash lists, sending only hashes.

use crate::size::ByteSize;
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use scan::client::Client;
use scan::report::{self, Writer};
use scan::state::State;
use scan::{Options, Progress, S3Options, Scanner, Source, Summary};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Arguments of `schoon scan`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = EXAMPLES)]
pub struct ScanArgs {
    /// Directories, files or buckets (`s3://bucket` or `s3://bucket/prefix`) to scan.
    #[arg(required = true, value_name = "SOURCE")]
    pub sources: Vec<String>,

    /// The check service, e.g. https://schoon.example.org.
    #[arg(long, env = "SCHOON_SERVER", value_name = "URL")]
    pub server: String,

    /// A file holding the API key (a hoster key is enough). Keep it readable by the scanning
    /// user only.
    #[arg(long, env = "SCHOON_KEY_FILE", value_name = "FILE")]
    pub key_file: PathBuf,

    /// The scan's memory: what was hashed and what the service answered. Keep one per machine
    /// and reuse it: a re-scan then hashes only new and changed files.
    #[arg(long, env = "SCHOON_SCAN_STATE", value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// Write every match here: JSON Lines, or CSV when the name ends in .csv; `-` for standard
    /// output (the default). Give it twice for both.
    #[arg(long, value_name = "FILE")]
    pub report: Vec<PathBuf>,

    /// Write the files that got no PDQ hash (not an image, malformed, too large, unsupported,
    /// unreadable) here, JSON Lines or CSV. Their digests were still checked (unreadable files
    /// have none).
    #[arg(long, value_name = "FILE")]
    pub rejected: Option<PathBuf>,

    /// Move matched files into this folder (keeping their relative paths), each with a
    /// `.schoon.json` record beside it. Without it, matches are only reported.
    #[arg(long, value_name = "DIR")]
    pub quarantine: Option<PathBuf>,

    /// Also check the seven rotations and mirrors of every image (catches flipped and rotated
    /// copies; eight PDQ look-ups per image instead of one).
    #[arg(long)]
    pub dihedral: bool,

    /// PDQ distance that counts as a match (default: the server's, usually 31).
    #[arg(long, value_name = "BITS")]
    pub max_distance: Option<u32>,

    /// PDQ hashes of lower quality are not sent (flat, featureless images match each other);
    /// the files' digests still are.
    #[arg(long, value_name = "0-100", default_value_t = 50)]
    pub min_quality: u8,

    /// Hash every file again, ignoring the hashes in the state database.
    #[arg(long)]
    pub rehash: bool,

    /// Hashing threads (default: one per core).
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,

    /// S3-compatible endpoint for s3:// sources (default: AWS). Credentials come from
    /// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
    #[arg(long, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub s3_endpoint: Option<String>,

    /// Region for s3:// sources.
    #[arg(long, env = "AWS_REGION", value_name = "NAME")]
    pub s3_region: Option<String>,

    /// Follow symbolic links while walking directories.
    #[arg(short = 'L', long)]
    pub follow_links: bool,

    /// Files larger than this get digests but no PDQ (e.g. 64MiB, 1G).
    #[arg(long, value_name = "SIZE", default_value = "256MiB")]
    pub max_bytes: ByteSize,

    /// Images with more pixels than this are refused before decoding (decompression bombs).
    #[arg(long, value_name = "N", default_value_t = media::Limits::DEFAULT.max_pixels)]
    pub max_pixels: u64,

    /// Never draw a progress bar (it is only drawn when standard error is a terminal).
    #[arg(long)]
    pub no_progress: bool,

    /// Print no summary.
    #[arg(short, long)]
    pub quiet: bool,
}

const EXAMPLES: &str = "\
Every file is read once on this machine: its MD5, SHA-1 and SHA-256 and, for images, its PDQ
hash are computed here and only those hashes are sent to the check service. Files never leave.

The state database remembers each file's size, modification time (or ETag) and hashes, and the
service's answer. A second run hashes only new and changed files; the others are checked again,
from their stored hashes, only when a list has changed since. Stop a scan at any time (Ctrl-C):
the next run goes on where it stopped.

The key's rate limit (hashes per second, see `schoon keys create --rate`) paces the scan; give
a scanning key room for about five hashes per file per second it can hash.

Exit status: 0 nothing matched, 1 something matched (see --report), 2 error,
130 interrupted (run again to go on).

Examples:
  Nightly scan of the customers' web roots, matches into a CSV report:
    schoon scan --server https://schoon.example.org --key-file /etc/schoon/key \\
        --report /var/log/schoon/matches-$(date +%F).csv /srv/www

  A bucket on an S3-compatible server, moving matches out of reach:
    AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... schoon scan --server URL --key-file F \\
        --s3-endpoint https://s3.example.net --quarantine /var/quarantine s3://uploads/2026/

  Catch mirrored and rotated copies too, and list what could not be decoded:
    schoon scan --server URL --key-file F --dihedral --rejected rejected.csv /srv/files";

struct Bar(ProgressBar);

impl Progress for Bar {
    fn start(&self, phase: &str, total: u64) {
        self.0.reset();
        self.0.set_length(total);
        self.0.set_position(0);
        self.0.set_message(phase.to_string());
        self.0
            .enable_steady_tick(std::time::Duration::from_millis(120));
        if total == 0 {
            self.0.set_style(
                ProgressStyle::with_template("{spinner} {msg}...").expect("valid template"),
            );
        } else {
            self.0.set_style(
                ProgressStyle::with_template(
                    "{spinner} {msg} [{elapsed_precise}] {wide_bar} {pos}/{len} files  {per_sec}  ETA {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
        }
    }
    fn inc(&self, n: u64) {
        self.0.inc(n);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

fn default_state() -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("schoon").join("scan.db")
}

/// Runs `schoon scan`.
pub async fn run(args: ScanArgs) -> Result<ExitCode> {
    let key = std::fs::read_to_string(&args.key_file)
        .with_context(|| format!("reading the key file {}", args.key_file.display()))?;
    if key.trim().is_empty() {
        bail!("the key file {} is empty", args.key_file.display());
    }
    let client = Client::new(&args.server, key.trim().to_string())?;
    let state_path = args.state.clone().unwrap_or_else(default_state);
    let state = State::open(&state_path).await?;
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let mut exclude = vec![state_path.clone()];
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut p = state_path.clone().into_os_string();
        p.push(suffix);
        exclude.push(p.into());
    }
    if let Some(q) = &args.quarantine {
        std::fs::create_dir_all(q)
            .with_context(|| format!("creating the quarantine folder {}", q.display()))?;
        exclude.push(std::path::absolute(q)?);
    }
    let exclude = exclude
        .into_iter()
        .map(|p| std::path::absolute(&p).unwrap_or(p))
        .collect();
    let opts = Options {
        limits: media::Limits {
            max_bytes: args.max_bytes.0,
            max_pixels: args.max_pixels,
            ..media::Limits::DEFAULT
        },
        dihedral: args.dihedral,
        max_distance: args.max_distance,
        min_quality: args.min_quality,
        threads,
        quarantine: args.quarantine.clone(),
        rehash: args.rehash,
        exclude,
    };
    let s3 = S3Options {
        endpoint: args.s3_endpoint.clone(),
        region: args.s3_region.clone(),
        credentials: None,
    };
    let sources = args
        .sources
        .iter()
        .map(|s| Source::parse(s, &s3, args.follow_links))
        .collect::<Result<Vec<_>, _>>()?;

    let mut scanner = Scanner::new(client, state, opts)
        .await
        .with_context(|| format!("connecting to {}", args.server))?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "schoon: stopping: finishing the files in flight (Ctrl-C again to quit now)"
                );
                stop.store(true, Ordering::Relaxed);
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
    }
    let show = !args.no_progress && !args.quiet && std::io::stderr().is_terminal();
    let bar = if show {
        Bar(ProgressBar::with_draw_target(
            None,
            ProgressDrawTarget::stderr(),
        ))
    } else {
        Bar(ProgressBar::hidden())
    };

    let stdout = [PathBuf::from("-")];
    let report_paths: &[PathBuf] = if args.report.is_empty() {
        &stdout
    } else {
        &args.report
    };
    let mut writers = report_paths
        .iter()
        .map(|p| Writer::create(p).with_context(|| format!("creating {}", p.display())))
        .collect::<Result<Vec<_>>>()?;
    let mut rejected_out = match &args.rejected {
        Some(p) => Some(Writer::create(p).with_context(|| format!("creating {}", p.display()))?),
        None => None,
    };

    let mut total = Summary::default();
    let mut matched_rows = 0u64;
    for source in &sources {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let sum = scanner
            .scan(source, &bar, &stop)
            .await
            .with_context(|| format!("scanning {}", source.id()))?;
        // Reports come from the state database: what an uninterrupted run would report.
        for r in scanner.state().matched(&source.id()).await? {
            for row in report::match_rows(&r) {
                matched_rows += 1;
                for w in &mut writers {
                    w.write(&row)?;
                }
            }
        }
        if let Some(w) = &mut rejected_out {
            for r in scanner.state().rejected(&source.id()).await? {
                if let Some(row) = report::rejected_row(&r) {
                    w.write(&row)?;
                }
            }
        }
        add(&mut total, sum);
    }
    for w in writers {
        w.finish()?;
    }
    if let Some(w) = rejected_out {
        w.finish()?;
    }
    scanner.state().close().await;

    if !args.quiet {
        print_summary(&total, matched_rows, &args);
    }
    Ok(if total.interrupted {
        ExitCode::from(130)
    } else if total.matched > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn add(t: &mut Summary, s: Summary) {
    t.files += s.files;
    t.bytes += s.bytes;
    t.hashed += s.hashed;
    t.hashed_bytes += s.hashed_bytes;
    t.reused += s.reused;
    t.rechecked += s.rechecked;
    t.hashes_sent += s.hashes_sent;
    t.requests += s.requests;
    t.matched += s.matched;
    t.quarantined += s.quarantined;
    t.removals_reported += s.removals_reported;
    t.removals_unreported = t.removals_unreported.max(s.removals_unreported);
    for (k, v) in s.rejected {
        *t.rejected.entry(k).or_default() += v;
    }
    t.vanished += s.vanished;
    t.walk_errors.extend(s.walk_errors);
    t.interrupted |= s.interrupted;
    t.elapsed += s.elapsed;
}

fn print_summary(t: &Summary, matched_rows: u64, args: &ScanArgs) {
    let secs = t.elapsed.as_secs_f64();
    let done = t.hashed + t.reused + t.rechecked;
    let head = if t.interrupted {
        format!("stopped after {done} of {} files", t.files)
    } else {
        format!("scanned {} files", t.files)
    };
    eprintln!(
        "schoon: {head} ({}) in {:.2} s, {:.1} files/s: {} hashed ({}), {} unchanged, {} re-checked; {} hashes in {} requests",
        ByteSize(t.bytes),
        secs,
        done as f64 / secs.max(1e-9),
        t.hashed,
        ByteSize(t.hashed_bytes),
        t.reused,
        t.rechecked,
        t.hashes_sent,
        t.requests,
    );
    let rejected: u64 = t.rejected.values().sum();
    if rejected > 0 {
        let parts: Vec<String> = t.rejected.iter().map(|(k, v)| format!("{v} {k}")).collect();
        eprintln!(
            "schoon: {rejected} files without a PDQ hash (digests checked): {}{}",
            parts.join(", "),
            if args.rejected.is_none() {
                "; list them with --rejected FILE"
            } else {
                ""
            }
        );
    }
    for (path, msg) in t.walk_errors.iter().take(10) {
        eprintln!("schoon: could not list {path}: {msg}");
    }
    if t.vanished > 0 {
        eprintln!("schoon: {} files from earlier scans are gone", t.vanished);
    }
    if t.matched > 0 {
        eprintln!(
            "schoon: MATCHED: {} files ({} matches){}{}",
            t.matched,
            matched_rows,
            if t.quarantined > 0 {
                format!(", {} moved to quarantine in this run", t.quarantined)
            } else {
                String::new()
            },
            if args.report.is_empty() {
                " (listed on standard output)"
            } else {
                ""
            }
        );
    } else {
        eprintln!("schoon: no matches");
    }
    if t.removals_reported > 0 {
        eprintln!(
            "schoon: told the service that {} quarantined files were removed on your own initiative (a count only; the hotline's monitor shows it)",
            t.removals_reported
        );
    }
    if t.removals_unreported > 0 {
        eprintln!(
            "schoon: could not tell the service about {} quarantined files; the next run will",
            t.removals_unreported
        );
    }
    if t.interrupted {
        eprintln!("schoon: interrupted; run the same command again to go on");
    }
}
