//! Run with `cargo run --release -p schoon-index --example search_bench -- BASE QUERIES [TRUTH]`.
//!
//! Measures the PDQ index on files written by `bench/search_peers.py`, and prints one JSON
//! object: build time, memory per hash, single-thread queries per second (median of several
//! passes, one query per call) and recall against the expected answers.
//!
//! * `BASE`: N raw 32-byte hashes (Meta's byte order); hash `i` is put on list `i`, so the
//!   lists found are the ids of the hashes found, as faiss reports them.
//! * `QUERIES`: Q raw 32-byte hashes.
//! * `TRUTH` (optional): the expected answers, little-endian `u32`s: Q, then Q + 1 offsets, then
//!   the ids; the answer to query `q` is `ids[offsets[q]..offsets[q + 1]]`, sorted.
//!
//! Options (after the files): `--radius R` (31), `--passes P` (5), `--threads T` (rayon threads
//! for the build; default: all the process may use, so `taskset -c 1` gives a one-core build).

use index::{Hit, Index, Key, Scratch};
use std::time::Instant;

fn read_hashes(path: &str) -> Vec<[u8; 32]> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    assert!(
        bytes.len().is_multiple_of(32),
        "{path}: length {} is not a multiple of 32",
        bytes.len()
    );
    bytes
        .chunks_exact(32)
        .map(|c| c.try_into().expect("32 bytes"))
        .collect()
}

fn read_truth(path: &str) -> Vec<Vec<u32>> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let words: Vec<u32> = bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    let q = words[0] as usize;
    let offsets = &words[1..q + 2];
    let ids = &words[q + 2..];
    (0..q)
        .map(|i| ids[offsets[i] as usize..offsets[i + 1] as usize].to_vec())
        .collect()
}

/// Resident set size of this process, from `/proc/self/statm` (0 if unavailable).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

/// Nanoseconds this thread has spent on a CPU, from `/proc/thread-self/schedstat` (0 if
/// unavailable). On a shared machine, queries per CPU-second are steadier than per wall-second:
/// time spent waiting for the core does not count.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|t| t.parse().ok()))
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut files = Vec::new();
    let (mut radius, mut passes, mut threads) = (31u32, 5usize, 0usize);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .expect("option value")
                .parse::<usize>()
                .expect("a number")
        };
        match a.as_str() {
            "--radius" => radius = value() as u32,
            "--passes" => passes = value(),
            "--threads" => threads = value(),
            _ => files.push(a.clone()),
        }
    }
    if files.len() < 2 {
        eprintln!(
            "usage: search_bench BASE QUERIES [TRUTH] [--radius R] [--passes P] [--threads T]"
        );
        std::process::exit(2);
    }
    if threads > 0 {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .expect("rayon pool");
    }
    let base = read_hashes(&files[0]);
    let queries = read_hashes(&files[1]);
    let truth = files.get(2).map(|p| read_truth(p));

    let rss_before = rss_bytes();
    let t = Instant::now();
    let index = Index::build(
        base.iter()
            .enumerate()
            .map(|(i, h)| (Key::pdq(*h), i as u32)),
    );
    let build_s = t.elapsed().as_secs_f64();
    let rss_after = rss_bytes();
    let n = base.len();
    drop(base);

    let mut scratch = Scratch::new();
    let mut hits: Vec<Hit> = Vec::new();
    // Warm-up pass, which also collects the answers for the recall.
    let mut answers: Vec<Vec<u32>> = Vec::with_capacity(queries.len());
    for q in &queries {
        index.search_pdq(q, radius, &mut scratch, &mut hits);
        let mut ids: Vec<u32> = hits.iter().map(|h| h.list).collect();
        ids.sort_unstable();
        answers.push(ids);
    }
    let (mut rates, mut cpu_rates) = (Vec::new(), Vec::new());
    let mut found_total = 0usize;
    for _ in 0..passes.max(1) {
        let (t, c) = (Instant::now(), cpu_ns());
        for q in &queries {
            index.search_pdq(q, radius, &mut scratch, &mut hits);
            found_total += hits.len();
        }
        rates.push(queries.len() as f64 / t.elapsed().as_secs_f64());
        cpu_rates.push(queries.len() as f64 * 1e9 / (cpu_ns() - c).max(1) as f64);
    }
    std::hint::black_box(found_total);
    rates.sort_by(f64::total_cmp);
    cpu_rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    let cpu_median = cpu_rates[cpu_rates.len() / 2];

    let (mut expected, mut found, mut extra) = (0usize, 0usize, 0usize);
    if let Some(truth) = &truth {
        assert_eq!(
            truth.len(),
            answers.len(),
            "truth and queries differ in length"
        );
        for (t, a) in truth.iter().zip(&answers) {
            expected += t.len();
            found += t.iter().filter(|id| a.binary_search(id).is_ok()).count();
            extra += a.iter().filter(|id| t.binary_search(id).is_err()).count();
        }
    }
    let recall = if expected == 0 {
        1.0
    } else {
        found as f64 / expected as f64
    };
    let matched = answers.iter().filter(|a| !a.is_empty()).count();
    println!(
        "{{\"tool\": \"schoon-index\", \"n\": {n}, \"queries\": {}, \"radius\": {radius}, \
         \"build_s\": {build_s:.3}, \"memory_bytes\": {}, \"memory_per_hash\": {:.2}, \
         \"rss_growth_per_hash\": {:.2}, \"qps_median\": {median:.1}, \"qps_passes\": {:?}, \
         \"qps_cpu_median\": {cpu_median:.1}, \
         \"queries_matched\": {matched}, \"expected\": {expected}, \"found\": {found}, \
         \"extra\": {extra}, \"recall\": {recall}, \"truth\": {}}}",
        queries.len(),
        index.memory_bytes(),
        index.memory_bytes() as f64 / n.max(1) as f64,
        rss_after.saturating_sub(rss_before) as f64 / n.max(1) as f64,
        rates.iter().map(|r| r.round()).collect::<Vec<_>>(),
        truth.is_some(),
    );
}
