//! Data generators shared by the tests, the criterion bench and the example.
#![allow(dead_code)] // each user takes what it needs

/// SplitMix64: small, fast, deterministic, good enough for test data.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the bias is negligible for test sizes).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    pub fn hash(&mut self) -> [u8; 32] {
        let mut h = [0u8; 32];
        for c in h.chunks_exact_mut(8) {
            c.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        h
    }

    /// `h` with `k` distinct random bits flipped (so at distance exactly `k`).
    pub fn flip(&mut self, h: &[u8; 32], k: u32) -> [u8; 32] {
        let mut out = *h;
        let mut flipped = [false; 256];
        let mut n = 0;
        while n < k.min(256) {
            let b = self.below(256) as usize;
            if !flipped[b] {
                flipped[b] = true;
                out[b / 8] ^= 1 << (b % 8);
                n += 1;
            }
        }
        out
    }

    /// `h` with `k` bits flipped spread as evenly as possible over the 16 two-byte slots, in a
    /// random order: the worst case for multi-index hashing, where the closest slot is exactly
    /// `⌊k / 16⌋` bits away.
    pub fn flip_spread(&mut self, h: &[u8; 32], k: u32) -> [u8; 32] {
        let k = k.min(256);
        let mut out = *h;
        let mut slots: Vec<usize> = (0..16).collect();
        for i in (1..16).rev() {
            slots.swap(i, self.below(i as u64 + 1) as usize);
        }
        for (rank, &s) in slots.iter().enumerate() {
            let here = k / 16 + u32::from((rank as u32) < k % 16);
            let mut bits: Vec<usize> = (0..16).collect();
            for i in (1..16).rev() {
                bits.swap(i, self.below(i as u64 + 1) as usize);
            }
            for &b in &bits[..here as usize] {
                let bit = s * 16 + b;
                out[bit / 8] ^= 1 << (bit % 8);
            }
        }
        out
    }
}

/// `n` uniformly random hashes.
pub fn random_hashes(n: usize, seed: u64) -> Vec<[u8; 32]> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.hash()).collect()
}

/// `n` hashes around `n / per_centre` random centres, each at 0..=max_flips bits from its centre.
pub fn clustered_hashes(n: usize, per_centre: usize, max_flips: u32, seed: u64) -> Vec<[u8; 32]> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let c = rng.hash();
        for _ in 0..per_centre.min(n - out.len()) {
            let k = rng.below(u64::from(max_flips) + 1) as u32;
            out.push(rng.flip(&c, k));
        }
    }
    out
}
