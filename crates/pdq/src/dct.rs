//! Everything after the 64×64 downsample: quality, the 64→16 DCT, the dihedral sign/transpose
//! tricks, the median and the bits. These are small (the DCT is ~130 k multiply-adds) and are
//! shared by the reference port and the fast path, so they are written once, in the reference's
//! exact operation order.

use crate::Hash256;
use std::sync::OnceLock;

/// A 64×64 block of floats, row-major.
pub(crate) type Block64 = [[f32; 64]; 64];
/// A 16×16 block of DCT coefficients, row-major.
pub(crate) type Block16 = [[f32; 16]; 16];

/// The 16×64 DCT-II matrix, rows 1..=16 of the 64-point transform.
///
/// As in Meta's `dct_matrix_64`: the scale `sqrt(2/64)` is rounded to `f32` first, then multiplied
/// (in `f64`) by the `f64` cosine, and the product is stored as `f32`.
fn dct_matrix() -> &'static [[f32; 64]; 16] {
    static MATRIX: OnceLock<[[f32; 64]; 16]> = OnceLock::new();
    MATRIX.get_or_init(|| {
        let scale = (2.0f64 / 64.0).sqrt() as f32;
        let mut m = [[0f32; 64]; 16];
        for (i, row) in m.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                let angle =
                    (std::f64::consts::PI / 2.0 / 64.0) * (i + 1) as f64 * (2 * j + 1) as f64;
                *v = (f64::from(scale) * angle.cos()) as f32;
            }
        }
        m
    })
}

/// Meta's image-domain quality metric: the sum of truncated, scaled neighbour gradients.
///
/// Integer arithmetic as in the C++: each term is `(int)(((u - v) * 100) / 255)` in `f32`,
/// truncated towards zero, then its absolute value is added; the sum is divided by 90 (integer
/// division) and capped at 100. Float-only ports get this wrong for low-quality images.
#[allow(clippy::needless_range_loop)] // index form mirrors the reference's loops
pub(crate) fn quality(b: &Block64) -> u8 {
    let mut sum: i32 = 0;
    for i in 0..63 {
        for j in 0..64 {
            let d = ((b[i][j] - b[i + 1][j]) * 100.0) / 255.0;
            sum += (d as i32).abs();
        }
    }
    for row in b.iter() {
        for j in 0..63 {
            let d = ((row[j] - row[j + 1]) * 100.0) / 255.0;
            sum += (d as i32).abs();
        }
    }
    (sum / 90).min(100) as u8
}

/// `B = D · A · Dᵀ`, keeping Meta's summation order (k ascending, one `f32` accumulator).
#[allow(clippy::needless_range_loop)] // index form mirrors the reference's loops
pub(crate) fn dct64_to_16(a: &Block64) -> Block16 {
    let d = dct_matrix();
    let mut t = [[0f32; 64]; 16];
    for i in 0..16 {
        for j in 0..64 {
            let mut sum = 0f32;
            for k in 0..64 {
                sum += d[i][k] * a[k][j];
            }
            t[i][j] = sum;
        }
    }
    let mut b = [[0f32; 16]; 16];
    for i in 0..16 {
        for j in 0..16 {
            let mut sum = 0f32;
            for k in 0..64 {
                sum += t[i][k] * d[j][k];
            }
            b[i][j] = sum;
        }
    }
    b
}

/// The median of the 256 coefficients as Torben's algorithm returns it for an even count: the
/// lower median, i.e. the 128th smallest value.
///
/// Meta uses Torben's iterative method; for n = 256 it always ends on the element of rank 127
/// (0-based), which a sort finds too. Only comparisons against the result matter, so the sign of
/// a zero is irrelevant.
fn median(b: &Block16) -> f32 {
    let mut v: Vec<f32> = b.iter().flatten().copied().collect();
    let (_, m, _) = v.select_nth_unstable_by(127, f32::total_cmp);
    *m
}

/// Sets bit `16 i + j` when coefficient `(i, j)` is strictly above the median.
pub(crate) fn to_bits(b: &Block16) -> Hash256 {
    let m = median(b);
    let mut h = Hash256::ZERO;
    for (i, row) in b.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            if v > m {
                h.set_bit(i * 16 + j);
            }
        }
    }
    h
}

/// The eight dihedral variants of a coefficient block, in Meta's order: original, rotate 90,
/// rotate 180, rotate 270, flip X, flip Y, flip +1, flip −1.
///
/// Each is a transpose and/or sign change of the coefficients (see `pdqhashing.cpp`): rotating or
/// flipping the image negates the odd-frequency coefficients along the flipped axis.
#[allow(clippy::needless_range_loop)] // index form mirrors the reference's loops
pub(crate) fn dihedral_blocks(a: &Block16) -> [Block16; 8] {
    let mut out = [[[0f32; 16]; 16]; 8];
    for i in 0..16 {
        for j in 0..16 {
            let v = a[i][j];
            let odd_i = i & 1 == 1;
            let odd_j = j & 1 == 1;
            let odd_sum = (i + j) & 1 == 1;
            out[0][i][j] = v;
            out[1][j][i] = if odd_j { v } else { -v };
            out[2][i][j] = if odd_sum { -v } else { v };
            out[3][j][i] = if odd_i { v } else { -v };
            out[4][i][j] = if odd_i { v } else { -v };
            out[5][i][j] = if odd_j { v } else { -v };
            out[6][j][i] = v;
            out[7][j][i] = if odd_sum { -v } else { v };
        }
    }
    out
}

/// The sampling grid of Meta's `decimateFloat`: output cell `i` of 64 reads input index
/// `(int)(((i + 0.5) * n) / 64)`, computed in `f64`.
pub(crate) fn sample_positions(n: usize) -> [usize; 64] {
    let mut out = [0usize; 64];
    for (i, v) in out.iter_mut().enumerate() {
        *v = (((i as f64 + 0.5) * n as f64) / 64.0) as usize;
    }
    out
}

/// Meta's `computeJaroszFilterWindowSize(old, 64)`: half a 64th of the side, rounded up.
pub(crate) fn window_size(n: usize) -> usize {
    // Meta: (old + 2 * 64 - 1) / (2 * 64) in integers, which is a ceiling division.
    n.div_ceil(2 * 64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_is_rank_127() {
        let mut b = [[0f32; 16]; 16];
        for (k, v) in b.iter_mut().flatten().enumerate() {
            *v = ((k * 37) % 256) as f32;
        }
        assert_eq!(median(&b), 127.0);
    }

    #[test]
    fn flat_block_has_quality_zero() {
        let b = [[42f32; 64]; 64];
        assert_eq!(quality(&b), 0);
    }

    #[test]
    fn quality_truncates_each_term() {
        // Alternating columns differing by 2.0: each horizontal term is (int)(200/255) = 0.
        let mut b = [[0f32; 64]; 64];
        for row in b.iter_mut() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = if j % 2 == 0 { 2.0 } else { 0.0 };
            }
        }
        assert_eq!(quality(&b), 0);
        // Differences of 255 give 100 per term: 64 * 63 * 100 / 90 is capped at 100.
        for row in b.iter_mut() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = if j % 2 == 0 { 255.0 } else { 0.0 };
            }
        }
        assert_eq!(quality(&b), 100);
    }

    #[test]
    fn sample_grid_and_window() {
        let s = sample_positions(64);
        assert_eq!(s[0], 0);
        assert_eq!(s[63], 63);
        let s = sample_positions(1004);
        assert_eq!(s[0], 7);
        assert!(s[63] < 1004);
        assert_eq!(window_size(64), 1);
        assert_eq!(window_size(128), 1);
        assert_eq!(window_size(129), 2);
        assert_eq!(window_size(1600), 13);
    }
}
