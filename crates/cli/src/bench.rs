//! `schoon bench`: per-stage timings on one core, in the shape `bench/run.sh` compares with the
//! Python peers (Pillow, Meta's C++ through `pdqhash`, hashlib) measured in the same run.

use anyhow::{Context, Result, bail};
use digest::DigestKind;
use scan::filehash::{Options, Worker};
use serde::Serialize;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `schoon bench`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = EXAMPLES)]
pub struct BenchArgs {
    /// Image files or directories (recursive). Files that are not decodable images are skipped.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Passes over all files per stage; the median pass is reported.
    #[arg(short, long, default_value_t = 5, value_name = "N")]
    pub repeat: usize,

    /// Print one JSON object (the format `bench/report.py` reads) instead of a table.
    #[arg(long)]
    pub json: bool,
}

const EXAMPLES: &str = "\
All stages run on the calling thread only, so the figures are per core. Each pass goes over
every file once; stages take turns pass by pass, so slow drift of a noisy machine hits them all
alike. Files are read into memory first (and decoded once for the `pdq` stage), except for
`end_to_end`, which reads each file from disk as `schoon hash` does.

Stages: decode (bytes to RGB), pdq (hash of decoded pixels), decode_pdq, md5, sha1, sha256,
end_to_end (read + three digests + decode + PDQ).

Examples:
  schoon bench testdata/pdq-conformance/images
  taskset -c 0 schoon bench --repeat 9 --json bench/out/corpus/photo-12mp > schoon.json

Use bench/run.sh to measure Meta's C++ (PyPI pdqhash), Pillow and hashlib beside it.";

/// Timings of one stage, seconds per pass over all files.
#[derive(Debug, Serialize)]
struct Stage {
    median_s: f64,
    min_s: f64,
    max_s: f64,
    samples: Vec<f64>,
}

impl Stage {
    fn from_samples(mut samples: Vec<f64>) -> Stage {
        let mut sorted = samples.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        samples.shrink_to_fit();
        Stage {
            median_s: median,
            min_s: sorted[0],
            max_s: sorted[n - 1],
            samples,
        }
    }
}

#[derive(Debug, Serialize)]
struct Report {
    tool: &'static str,
    version: &'static str,
    files: usize,
    bytes: u64,
    pixels: u64,
    repeat: usize,
    stages: BTreeMap<&'static str, Stage>,
}

/// Runs `schoon bench`.
pub fn run(args: &BenchArgs) -> Result<()> {
    if args.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    let limits = media::Limits::default();
    let mut files = Vec::new();
    let mut skipped = 0usize;
    for root in &args.paths {
        for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
            let entry = entry.with_context(|| format!("walking {}", root.display()))?;
            if !entry.file_type().is_file() {
                continue;
            }
            let bytes = std::fs::read(entry.path())
                .with_context(|| format!("reading {}", entry.path().display()))?;
            match media::decode_rgb(&bytes, &limits) {
                Ok(img) => files.push((entry.into_path(), bytes, img)),
                Err(_) => skipped += 1,
            }
        }
    }
    if files.is_empty() {
        bail!("no decodable images under the given paths ({skipped} other files skipped)");
    }
    let bytes: u64 = files.iter().map(|f| f.1.len() as u64).sum();
    let pixels: u64 = files.iter().map(|f| (f.2.width * f.2.height) as u64).sum();

    type StageFn<'a> = Box<dyn FnMut() + 'a>;
    let mut hasher = pdq::Hasher::new();
    let mut worker = Worker::default();
    let opts = Options::default();
    let files = &files;
    let mut hasher2 = pdq::Hasher::new();
    let mut stages: Vec<(&'static str, StageFn<'_>)> = vec![
        (
            "decode",
            Box::new(|| {
                for (_, b, _) in files {
                    black_box(media::decode_rgb(b, &limits).map(|i| i.width).ok());
                }
            }),
        ),
        (
            "pdq",
            Box::new(|| {
                for (_, _, img) in files {
                    let px = pdq::Pixels::rgb(&img.data, img.width, img.height).expect("decoded");
                    black_box(hasher.hash(&px));
                }
            }),
        ),
        (
            "decode_pdq",
            Box::new(|| {
                for (_, b, _) in files {
                    let img = media::decode_rgb(b, &limits).expect("decoded before");
                    let px = pdq::Pixels::rgb(&img.data, img.width, img.height).expect("decoded");
                    black_box(hasher2.hash(&px));
                }
            }),
        ),
        ("md5", digest_stage(files, DigestKind::Md5)),
        ("sha1", digest_stage(files, DigestKind::Sha1)),
        ("sha256", digest_stage(files, DigestKind::Sha256)),
        (
            "end_to_end",
            Box::new(|| {
                for (path, _, _) in files {
                    black_box(worker.hash_path(path, &opts).map(|h| h.size).ok());
                }
            }),
        ),
    ];

    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); stages.len()];
    // One untimed warm-up pass (page cache, buffers, CPU dispatch), then interleaved passes.
    for (_, f) in stages.iter_mut() {
        f();
    }
    for _ in 0..args.repeat {
        for (i, (_, f)) in stages.iter_mut().enumerate() {
            let t = Instant::now();
            f();
            samples[i].push(t.elapsed().as_secs_f64());
        }
    }
    let names: Vec<&'static str> = stages.iter().map(|s| s.0).collect();
    drop(stages);
    let report = Report {
        tool: "schoon",
        version: env!("CARGO_PKG_VERSION"),
        files: files.len(),
        bytes,
        pixels,
        repeat: args.repeat,
        stages: names
            .into_iter()
            .zip(samples)
            .map(|(n, s)| (n, Stage::from_samples(s)))
            .collect(),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "{} images, {:.1} MB, {:.1} Mpixels; median of {} passes, one thread",
            report.files,
            report.bytes as f64 / 1e6,
            report.pixels as f64 / 1e6,
            report.repeat
        );
        for (name, s) in &report.stages {
            let rate = if name.starts_with("sha") || *name == "md5" {
                format!("{:>10.1} MB/s", report.bytes as f64 / 1e6 / s.median_s)
            } else {
                format!("{:>10.1} img/s", report.files as f64 / s.median_s)
            };
            println!("{name:<12} {:>10.2} ms/pass {rate}", s.median_s * 1e3);
        }
        if skipped > 0 {
            println!("({skipped} files skipped: not decodable images)");
        }
    }
    Ok(())
}

fn digest_stage<'a>(
    files: &'a [(PathBuf, Vec<u8>, media::RgbImage)],
    kind: DigestKind,
) -> Box<dyn FnMut() + 'a> {
    Box::new(move || {
        for (_, b, _) in files {
            black_box(digest::digest_one(kind, b));
        }
    })
}
