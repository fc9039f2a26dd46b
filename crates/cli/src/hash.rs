//! `schoon hash`: digests and PDQ of files and directory trees, on all cores.

use crate::output::{self, Row, Writer};
use crate::size::ByteSize;
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use scan::filehash::{Options, Worker};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Arguments of `schoon hash`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = EXAMPLES)]
pub struct HashArgs {
    /// Files or directories to hash; directories are searched recursively. `-` reads a list of
    /// paths from standard input, one per line.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(short, long, value_enum, default_value_t = output::Format::Tsv)]
    pub format: output::Format,

    /// Also print the seven rotated and mirrored PDQ hashes (Meta's dihedral set).
    #[arg(long)]
    pub dihedral: bool,

    /// Write the rows to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Worker threads (default: one per core).
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,

    /// Never draw a progress bar (it is only drawn when standard error is a terminal).
    #[arg(long)]
    pub no_progress: bool,

    /// Print no summary on standard error.
    #[arg(short, long)]
    pub quiet: bool,

    /// Follow symbolic links while walking directories.
    #[arg(short = 'L', long)]
    pub follow_links: bool,

    /// Files larger than this get digests but no PDQ (e.g. 64MiB, 1G).
    #[arg(long, value_name = "SIZE", default_value = "256MiB")]
    pub max_bytes: ByteSize,

    /// Images with more pixels than this are refused before decoding (decompression bombs).
    #[arg(long, value_name = "N", default_value_t = media::Limits::DEFAULT.max_pixels)]
    pub max_pixels: u64,

    /// Images wider or taller than this are refused before decoding.
    #[arg(long, value_name = "PX", default_value_t = media::Limits::DEFAULT.max_width)]
    pub max_side: u32,
}

const EXAMPLES: &str = "\
Every file gets its size, MD5, SHA-1 and SHA-256; images (JPEG, PNG, GIF, WebP, BMP, TIFF,
recognised by their bytes, not their names) also get a PDQ hash and its quality (0-100; Meta
advises ignoring hashes below 50 when matching). The PDQ hashes are bit-exact with Meta's C++
reference, so they match lists made with Meta's tools.

A file that cannot be read, or an image that cannot be decoded, is reported in the `error`
column of its own row and the run goes on. Other data (videos, text) gets its digests and the
note \"not an image\".

Exit status: 0 when every file was hashed, 1 when some file or image failed, 2 on a usage or
fatal error.

Examples:
  Hash the demo images and print a table:
    schoon hash testdata/pdq-conformance/images

  JSON Lines with the rotated and mirrored hashes, into a file:
    schoon hash --format jsonl --dihedral -o hashes.jsonl /srv/uploads

  Only the images below 20 MB, two threads, hashes of the files `find` selects:
    find /srv -name '*.jpg' -newer last-run | schoon hash -j 2 --max-bytes 20MB -

  Keep the rows of images whose PDQ is good enough to match on (TSV: column 7 is quality):
    schoon hash photos/ | awk -F'\\t' 'NR > 1 && $7 >= 50'";

/// One thing to hash, or a walk error to report in its place.
enum Item {
    File(PathBuf),
    Error(String, String),
}

fn display(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Expands the arguments into files, in a stable order (directory entries sorted by name).
fn collect(args: &HashArgs) -> Result<Vec<Item>> {
    let mut roots = Vec::new();
    for p in &args.paths {
        if p.as_os_str() == "-" {
            let stdin = std::io::stdin();
            for line in stdin.lock().lines() {
                let line = line.context("reading paths from standard input")?;
                if !line.is_empty() {
                    roots.push(PathBuf::from(line));
                }
            }
        } else {
            roots.push(p.clone());
        }
    }
    let mut items = Vec::new();
    for root in roots {
        if root.is_file() {
            items.push(Item::File(root));
            continue;
        }
        if !root.exists() {
            items.push(Item::Error(
                display(&root),
                "no such file or directory".into(),
            ));
            continue;
        }
        let walk = walkdir::WalkDir::new(&root)
            .follow_links(args.follow_links)
            .sort_by_file_name();
        for entry in walk {
            match entry {
                Ok(e) if e.file_type().is_file() => items.push(Item::File(e.into_path())),
                Ok(e) if e.file_type().is_symlink() && !args.follow_links => {
                    // Not followed: say nothing, like `find` without -L.
                }
                Ok(_) => {}
                Err(e) => {
                    let path = e.path().map(display).unwrap_or_else(|| display(&root));
                    let msg = e
                        .io_error()
                        .map(|io| io.to_string())
                        .unwrap_or(e.to_string());
                    items.push(Item::Error(path, msg));
                }
            }
        }
    }
    Ok(items)
}

/// Counts for the summary line.
#[derive(Default)]
struct Tally {
    files: u64,
    bytes: u64,
    images: u64,
    not_images: u64,
    failed: u64,
}

impl Tally {
    fn add(&mut self, row: &Row) {
        self.files += 1;
        self.bytes += row.size.unwrap_or(0);
        if row.pdq.is_some() {
            self.images += 1;
        } else if row.failed {
            self.failed += 1;
        } else {
            self.not_images += 1;
        }
    }
}

fn progress_bar(total: usize, enabled: bool) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} files  {per_sec}  ETA {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb
}

/// Runs `schoon hash`; returns whether every file was hashed.
pub fn run(args: &HashArgs) -> Result<bool> {
    let opts = Options {
        limits: media::Limits {
            max_bytes: args.max_bytes.0,
            max_width: args.max_side,
            max_height: args.max_side,
            max_pixels: args.max_pixels,
        },
        dihedral: args.dihedral,
    };
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .context("starting worker threads")?;

    let started = Instant::now();
    let items = collect(args)?;
    let out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut writer = Writer::new(args.format, args.dihedral, out)?;
    let show_progress = !args.no_progress && !args.quiet && std::io::stderr().is_terminal();
    let pb = progress_bar(items.len(), show_progress);
    let mut tally = Tally::default();

    // Batches keep the output in input order and memory bounded, while every core stays busy
    // inside a batch; 32 files per thread makes the wait at each batch's end negligible.
    let batch = threads.max(1) * 32;
    for chunk in items.chunks(batch) {
        let rows: Vec<Row> = pool.install(|| {
            chunk
                .par_iter()
                .map_init(Worker::default, |worker, item| {
                    let row = match item {
                        Item::Error(path, msg) => Row::unreadable(path.clone(), msg.clone()),
                        Item::File(path) => match worker.hash_path(path, &opts) {
                            Ok(h) => Row::from_hashes(display(path), &h, args.dihedral),
                            Err(e) => Row::unreadable(display(path), e.to_string()),
                        },
                    };
                    pb.inc(1);
                    row
                })
                .collect()
        });
        for row in &rows {
            tally.add(row);
            writer.write(row)?;
        }
    }
    writer.flush()?;
    pb.finish_and_clear();

    if !args.quiet {
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "schoon: hashed {} files ({}) in {:.2} s, {:.1} files/s: {} images, {} not images, {} failed",
            tally.files,
            ByteSize(tally.bytes),
            secs,
            tally.files as f64 / secs.max(1e-9),
            tally.images,
            tally.not_images,
            tally.failed,
        );
    }
    Ok(tally.failed == 0)
}
