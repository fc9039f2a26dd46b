//! The index on small sets (100 k hashes), so it runs in a minute: PDQ radius search against the
//! brute-force scan, exact lookups against a `HashMap`, and the build. The 1 M and 10 M figures
//! against faiss come from `bench/search_run.sh`.
//!
//! Run with `cargo bench -p schoon-index --bench search`.

#[path = "../tests/common/mod.rs"]
mod common;

use common::Rng;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use index::{HashKind, Hit, Index, Key, Scratch};
use std::collections::HashMap;
use std::hint::black_box;

const N: usize = 100_000;

fn pdq(c: &mut Criterion) {
    let base = common::random_hashes(N, 1);
    let index = Index::build(
        base.iter()
            .enumerate()
            .map(|(i, h)| (Key::pdq(*h), i as u32)),
    );
    let mut rng = Rng::new(2);
    // Half near a stored hash (0-31 bits), half random, as in bench/search_peers.py.
    let queries: Vec<[u8; 32]> = (0..256)
        .map(|i| {
            if i % 2 == 0 {
                let h = &base[rng.below(N as u64) as usize];
                let k = rng.below(32) as u32;
                rng.flip(h, k)
            } else {
                rng.hash()
            }
        })
        .collect();
    let mut group = c.benchmark_group("search_pdq_100k");
    group.sample_size(20);
    group.throughput(Throughput::Elements(queries.len() as u64));
    let (mut scratch, mut hits) = (Scratch::new(), Vec::<Hit>::new());
    for radius in [31u32, 47] {
        group.bench_with_input(BenchmarkId::new("index", radius), &radius, |b, &r| {
            b.iter(|| {
                for q in &queries {
                    index.search_pdq(black_box(q), r, &mut scratch, &mut hits);
                }
            })
        });
    }
    // The scan (radius above MAX_RADIUS takes it), for scale: same code path as the fallback.
    group.throughput(Throughput::Elements(16));
    group.bench_function("scan", |b| {
        b.iter(|| {
            for q in &queries[..16] {
                index.search_pdq(black_box(q), 100, &mut scratch, &mut hits);
            }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("build_100k");
    group.sample_size(10);
    group.bench_function("index", |b| {
        b.iter(|| Index::build(base.iter().map(|h| (Key::pdq(*h), 0))))
    });
    group.finish();
}

/// Eight key bytes as the hash: digests are uniform already.
#[derive(Default)]
struct Take8(u64);

impl std::hash::Hasher for Take8 {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        if bytes.len() >= 8 {
            self.0 = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
        }
    }
}

fn exact(c: &mut Criterion) {
    let keys: Vec<[u8; 16]> = common::random_hashes(N * 10, 3)
        .into_iter()
        .map(|h| h[..16].try_into().unwrap())
        .collect();
    let index = Index::build(
        keys.iter()
            .map(|k| (Key::new(HashKind::Md5, k).unwrap(), 1)),
    );
    let map: HashMap<[u8; 16], u32, std::hash::BuildHasherDefault<Take8>> =
        keys.iter().map(|k| (*k, 1)).collect();
    let mut rng = Rng::new(4);
    // Half present, half absent; many, so that most lookups miss the cache as in a service.
    let probes: Vec<Key> = (0..1 << 16)
        .map(|i| {
            let k = if i % 2 == 0 {
                keys[rng.below(keys.len() as u64) as usize]
            } else {
                rng.hash()[..16].try_into().unwrap()
            };
            Key::new(HashKind::Md5, &k).unwrap()
        })
        .collect();
    let mut group = c.benchmark_group("exact_md5_1m");
    group.throughput(Throughput::Elements(probes.len() as u64));
    let mut out = Vec::new();
    group.bench_function("index", |b| {
        b.iter(|| {
            for k in &probes {
                index.exact(black_box(k), &mut out);
            }
        })
    });
    group.bench_function("hashmap_take8", |b| {
        b.iter(|| {
            for k in &probes {
                let key: &[u8; 16] = k.as_bytes().try_into().unwrap();
                out.clear();
                out.extend(map.get(black_box(key)).copied());
            }
        })
    });
    group.finish();
    let map_bytes = map.capacity() * (16 + 4 + 1);
    eprintln!(
        "exact_md5_1m memory: index {} bytes, HashMap at least {map_bytes} bytes",
        index.memory_bytes()
    );
}

criterion_group!(benches, pdq, exact);
criterion_main!(benches);
