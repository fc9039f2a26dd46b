//! PDQ on decoded pixels: the fast path against the plain port of Meta's C++ (same machine,
//! same run). The cross-language comparison with Meta's C++ itself is `bench/run.sh`.
//!
//! Run with `cargo bench -p schoon-pdq`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

/// A deterministic photo-like RGB buffer: smooth gradients plus pseudo-random noise.
fn synthetic_rgb(w: usize, h: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut out = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state & 31) as usize;
            out.push(((x * 255 / w + noise) % 256) as u8);
            out.push(((y * 255 / h + noise) % 256) as u8);
            out.push((((x + y) * 127 / (w + h) + noise) % 256) as u8);
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("pdq");
    group.sample_size(10);
    for (w, h) in [(1024, 768), (4000, 3000)] {
        let rgb = synthetic_rgb(w, h);
        let pixels = pdq::Pixels::rgb(&rgb, w, h).unwrap();
        let label = format!("{w}x{h}");
        group.throughput(Throughput::Elements((w * h) as u64));
        let mut hasher = pdq::Hasher::new();
        group.bench_with_input(BenchmarkId::new("fast", &label), &pixels, |b, px| {
            b.iter(|| hasher.hash(black_box(px)))
        });
        group.bench_with_input(BenchmarkId::new("dihedral", &label), &pixels, |b, px| {
            b.iter(|| hasher.hash_dihedral(black_box(px)))
        });
        group.bench_with_input(
            BenchmarkId::new("reference-port", &label),
            &pixels,
            |b, px| b.iter(|| pdq::reference::hash(black_box(px)).unwrap()),
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
