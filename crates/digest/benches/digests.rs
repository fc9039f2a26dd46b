//! One-pass MD5 + SHA-1 + SHA-256 against each digest alone, on 4 MiB of data.
//!
//! Run with `cargo bench -p schoon-digest`. Python's hashlib is measured beside Schoon by
//! `bench/run.sh`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use md5::Digest as _;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let data: Vec<u8> = (0..4 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut group = c.benchmark_group("digests");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("all-three", |b| b.iter(|| digest::digest(black_box(&data))));
    group.bench_function("md5", |b| b.iter(|| md5::Md5::digest(black_box(&data))));
    group.bench_function("sha1", |b| b.iter(|| sha1::Sha1::digest(black_box(&data))));
    group.bench_function("sha256", |b| {
        b.iter(|| sha2::Sha256::digest(black_box(&data)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
