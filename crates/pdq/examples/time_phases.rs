//! Times the fast path on a synthetic 4000×3000 photo, for profiling.
//!
//! Run with `cargo run --release -p schoon-pdq --example time_phases`.
fn main() {
    let (w, h) = (4000usize, 3000usize);
    let mut s = 1u64;
    let rgb: Vec<u8> = (0..w * h * 3)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((i / 3 % w) * 255 / w + (s % 32) as usize) as u8
        })
        .collect();
    let px = pdq::Pixels::rgb(&rgb, w, h).unwrap();
    let mut hasher = pdq::Hasher::new();
    let mut times = Vec::new();
    for _ in 0..15 {
        let t = std::time::Instant::now();
        std::hint::black_box(hasher.hash(&px));
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    println!("median {:.1} ms, min {:.1} ms", times[7], times[0]);
}
