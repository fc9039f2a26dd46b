//! A line-by-line port of Meta's C++ reference (`downscaling.cpp`, `pdqhashing.cpp`).
//!
//! It is slow on purpose: it is the oracle the fast path is tested against, and it shows what the
//! fast path must reproduce float for float. Use [`crate::Hasher`] for real work.

use crate::dct::{self, Block64};
use crate::{Dihedral, Error, Hash256, Pdq, Pixels};

/// Meta's `box1DFloat`: a running-sum box filter along one line, in four phases (warm up, grow,
/// slide, shrink), dividing the `f32` sum by the current window length.
fn box_1d(input: &[f32], output: &mut [f32], len: usize, stride: usize, window: usize) {
    let half = (window + 2) / 2;
    let phase1 = half - 1;
    let phase2 = window - half + 1;
    let phase3 = len.saturating_sub(window);
    let phase4 = half - 1;
    let (mut li, mut ri, mut oi) = (0usize, 0usize, 0usize);
    let mut sum = 0f32;
    let mut count = 0usize;
    for _ in 0..phase1 {
        sum += input[ri];
        count += 1;
        ri += stride;
    }
    for _ in 0..phase2 {
        sum += input[ri];
        count += 1;
        output[oi] = sum / count as f32;
        ri += stride;
        oi += stride;
    }
    for _ in 0..phase3 {
        sum += input[ri];
        sum -= input[li];
        output[oi] = sum / count as f32;
        li += stride;
        ri += stride;
        oi += stride;
    }
    for _ in 0..phase4 {
        sum -= input[li];
        count -= 1;
        output[oi] = sum / count as f32;
        li += stride;
        oi += stride;
    }
}

/// Luma as Meta's `fillFloatLumaFromRGB` / `fillFloatLumaFromGrey`.
pub(crate) fn luma(px: &Pixels<'_>) -> Vec<f32> {
    let (w, h) = (px.width(), px.height());
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        let row = px.row(y);
        match px.channels() {
            1 => out.extend(row.iter().map(|&g| f32::from(g))),
            n => out.extend(
                row.chunks_exact(n)
                    .map(|p| crate::luma_of(p[0], p[1], p[2])),
            ),
        }
    }
    out
}

/// The 64×64 downsample: two rounds of (rows, then columns) box filtering, then sampling.
fn downsample(mut buf1: Vec<f32>, w: usize, h: usize) -> Box<Block64> {
    let mut out = Box::new([[0f32; 64]; 64]);
    if w == 64 && h == 64 {
        for (i, row) in out.iter_mut().enumerate() {
            row.copy_from_slice(&buf1[i * 64..(i + 1) * 64]);
        }
        return out;
    }
    let mut buf2 = vec![0f32; w * h];
    let (wr, wc) = (dct::window_size(w), dct::window_size(h));
    for _ in 0..2 {
        for y in 0..h {
            box_1d(&buf1[y * w..], &mut buf2[y * w..], w, 1, wr);
        }
        for x in 0..w {
            box_1d(&buf2[x..], &mut buf1[x..], h, w, wc);
        }
    }
    let (rows, cols) = (dct::sample_positions(h), dct::sample_positions(w));
    for (i, &y) in rows.iter().enumerate() {
        for (j, &x) in cols.iter().enumerate() {
            out[i][j] = buf1[y * w + x];
        }
    }
    out
}

/// PDQ as Meta's `pdqHash256FromFloatLuma`, without any optimisation.
pub fn hash(px: &Pixels<'_>) -> Result<Pdq, Error> {
    let (w, h) = (px.width(), px.height());
    if w < crate::MIN_SIDE || h < crate::MIN_SIDE {
        return Ok(Pdq {
            hash: Hash256::ZERO,
            quality: 0,
        });
    }
    let block = downsample(luma(px), w, h);
    let quality = dct::quality(&block);
    let coeffs = dct::dct64_to_16(&block);
    Ok(Pdq {
        hash: dct::to_bits(&coeffs),
        quality,
    })
}

/// The eight dihedral hashes as Meta's `pdqDihedralHash256esFromFloatLuma` (which, unlike
/// [`hash`], always filters, even a 64×64 input: the result is the same because the window is 1).
pub fn hash_dihedral(px: &Pixels<'_>) -> Result<Dihedral, Error> {
    let (w, h) = (px.width(), px.height());
    if w < crate::MIN_SIDE || h < crate::MIN_SIDE {
        return Ok(Dihedral {
            hashes: [Hash256::ZERO; 8],
            quality: 0,
        });
    }
    let block = downsample(luma(px), w, h);
    let quality = dct::quality(&block);
    let coeffs = dct::dct64_to_16(&block);
    let blocks = dct::dihedral_blocks(&coeffs);
    Ok(Dihedral {
        hashes: blocks.map(|b| dct::to_bits(&b)),
        quality,
    })
}
