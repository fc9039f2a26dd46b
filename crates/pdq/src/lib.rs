//! Meta's PDQ perceptual image hash, bit-exact with the C++ reference, and fast.
//!
//! PDQ turns an image into 256 bits that survive re-encoding, resizing and mild edits: similar
//! images give hashes a small Hamming distance apart (≤ 31 is the usual match threshold). Police
//! and hotline hash lists are made with Meta's C++ reference, so a hash that differs from it by a
//! few bits can turn a match into a miss. This crate therefore reproduces the reference **float
//! for float**, tested against every row of a conformance table made with Meta's code.
//!
//! This crate knows pixels, not files: decoding lives in `schoon-media`. It does no I/O.
//!
//! ```
//! use pdq::{Hasher, Pixels};
//!
//! // A 100×80 RGB gradient (any 8-bit RGB, RGBA or grey buffer with a row stride works).
//! let (w, h) = (100, 80);
//! let rgb: Vec<u8> = (0..w * h).flat_map(|i| [(i % w) as u8, (i / w) as u8, 128]).collect();
//! let pixels = Pixels::rgb(&rgb, w, h)?;
//!
//! let mut hasher = Hasher::new();
//! let pdq = hasher.hash(&pixels);
//! assert_eq!(pdq.hash.to_hex().len(), 64);
//! assert!(pdq.quality <= 100);
//!
//! // The eight rotations and flips, from one DCT.
//! let all = hasher.hash_dihedral(&pixels);
//! assert_eq!(all.hashes[0], pdq.hash);
//! # Ok::<(), pdq::Error>(())
//! ```
//!
//! # Why hand-written
//!
//! The one PDQ crate on crates.io (`pdqhash` 0.1) computes the quality score in floats (Meta's
//! is integer arithmetic, so low-quality images get other scores), has no dihedral hashes, is
//! tied to `image` 0.23 and has been unmaintained since 2022. PDQ is also the product's core and
//! its hot loop, so it is worth owning: see [`Hasher`] for what makes this one fast.
//!
//! # What it does not do
//!
//! * It does not resize images before hashing. Meta's command-line tools first shrink images
//!   over 512 px to 512×512; the library API (and the lists made with it) hash full resolution.
//! * It does not apply EXIF orientation: the reference hashes pixels in stored order. The
//!   dihedral hashes cover rotated and mirrored copies.
//! * It does not match hashes; it only makes them. [`Hash256::distance`] is the building block.
#![deny(missing_docs)]

mod dct;
mod fast;
mod hash;
pub mod reference;

pub use hash::{Hash256, ParseHashError};

/// Images smaller than this on either side hash to [`Hash256::ZERO`] with quality 0, as in
/// Meta's reference.
pub const MIN_SIDE: usize = 5;

/// Meta's luma coefficients, written as the C++ does: a `double` literal rounded to `float`.
pub(crate) const LUMA_R: f32 = 0.299f64 as f32;
pub(crate) const LUMA_G: f32 = 0.587f64 as f32;
pub(crate) const LUMA_B: f32 = 0.114f64 as f32;

/// Luma of one pixel in `f32`, evaluated left to right without fused multiply-add.
#[inline(always)]
pub(crate) fn luma_of(r: u8, g: u8, b: u8) -> f32 {
    LUMA_R * f32::from(r) + LUMA_G * f32::from(g) + LUMA_B * f32::from(b)
}

/// Why a pixel buffer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The row stride is shorter than one row of pixels.
    #[error("row stride {stride} is less than width {width} × {channels} channels")]
    StrideTooSmall {
        /// The stride given, in bytes.
        stride: usize,
        /// The width given, in pixels.
        width: usize,
        /// Bytes per pixel of the layout.
        channels: usize,
    },
    /// The buffer ends before the last row does.
    #[error(
        "pixel buffer holds {found} bytes, a {width}×{height} image with stride {stride} needs {needed}"
    )]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        found: usize,
        /// Width in pixels.
        width: usize,
        /// Height in pixels.
        height: usize,
        /// Row stride in bytes.
        stride: usize,
    },
    /// Width × height (or stride × height) does not fit in memory arithmetic.
    #[error("image size {width}×{height} is too large to address")]
    TooLarge {
        /// Width in pixels.
        width: usize,
        /// Height in pixels.
        height: usize,
    },
}

/// How pixels are laid out in the buffer: 8 bits per channel, interleaved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Layout {
    /// Red, green, blue.
    Rgb,
    /// Red, green, blue, alpha. Alpha is ignored, as Pillow's `convert('RGB')` drops it.
    Rgba,
    /// One grey value per pixel, used as luma directly (Meta's `fillFloatLumaFromGrey`).
    Grey,
}

impl Layout {
    /// Bytes per pixel.
    pub const fn channels(self) -> usize {
        match self {
            Layout::Rgb => 3,
            Layout::Rgba => 4,
            Layout::Grey => 1,
        }
    }
}

/// A borrowed, validated 8-bit pixel buffer: what PDQ hashes.
#[derive(Debug, Clone, Copy)]
pub struct Pixels<'a> {
    data: &'a [u8],
    width: usize,
    height: usize,
    stride: usize,
    layout: Layout,
}

impl<'a> Pixels<'a> {
    /// Wraps a buffer of `height` rows, each starting `stride` bytes after the previous one.
    ///
    /// The last row needs only `width × channels` bytes, so a sub-rectangle of a larger image can
    /// be hashed without copying. A zero width or height is allowed (it hashes to zero).
    pub fn new(
        data: &'a [u8],
        width: usize,
        height: usize,
        stride: usize,
        layout: Layout,
    ) -> Result<Self, Error> {
        let channels = layout.channels();
        let too_large = Error::TooLarge { width, height };
        let row_bytes = width.checked_mul(channels).ok_or(too_large.clone())?;
        if stride < row_bytes {
            return Err(Error::StrideTooSmall {
                stride,
                width,
                channels,
            });
        }
        let needed = if height == 0 || width == 0 {
            0
        } else {
            (height - 1)
                .checked_mul(stride)
                .and_then(|n| n.checked_add(row_bytes))
                .ok_or(too_large.clone())?
        };
        if width
            .checked_mul(height)
            .and_then(|n| n.checked_mul(8))
            .is_none()
        {
            return Err(too_large);
        }
        if data.len() < needed {
            return Err(Error::BufferTooSmall {
                needed,
                found: data.len(),
                width,
                height,
                stride,
            });
        }
        Ok(Pixels {
            data,
            width,
            height,
            stride,
            layout,
        })
    }

    /// Tightly packed RGB (`stride = 3 × width`).
    pub fn rgb(data: &'a [u8], width: usize, height: usize) -> Result<Self, Error> {
        Self::new(data, width, height, width.saturating_mul(3), Layout::Rgb)
    }

    /// Tightly packed RGBA (`stride = 4 × width`); alpha is ignored.
    pub fn rgba(data: &'a [u8], width: usize, height: usize) -> Result<Self, Error> {
        Self::new(data, width, height, width.saturating_mul(4), Layout::Rgba)
    }

    /// Tightly packed grey (`stride = width`).
    pub fn grey(data: &'a [u8], width: usize, height: usize) -> Result<Self, Error> {
        Self::new(data, width, height, width, Layout::Grey)
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    fn channels(&self) -> usize {
        self.layout.channels()
    }

    /// Row `y`: exactly `width × channels` bytes.
    fn row(&self, y: usize) -> &'a [u8] {
        let start = y * self.stride;
        &self.data[start..start + self.width * self.channels()]
    }
}

/// A PDQ hash with Meta's integer quality score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pdq {
    /// The 256-bit hash.
    pub hash: Hash256,
    /// 0 (flat, featureless) to 100. Meta advises ignoring hashes below 50 when matching.
    pub quality: u8,
}

/// The eight dihedral hashes of one image, from one DCT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dihedral {
    /// In Meta's order: see [`Dihedral::NAMES`].
    pub hashes: [Hash256; 8],
    /// The quality score, as in [`Pdq::quality`].
    pub quality: u8,
}

impl Dihedral {
    /// The transform of each entry of [`Dihedral::hashes`], in Meta's naming:
    /// `rot90` is 90° counter-clockwise, `flipx` swaps top and bottom, `flipy` mirrors left and
    /// right, `flipplus1` transposes about the main diagonal, `flipminus1` about the other.
    pub const NAMES: [&'static str; 8] = [
        "original",
        "rot90",
        "rot180",
        "rot270",
        "flipx",
        "flipy",
        "flipplus1",
        "flipminus1",
    ];

    /// The hash of the untransformed image.
    pub fn original(&self) -> Hash256 {
        self.hashes[0]
    }
}

/// Hashes images, reusing its working memory between calls.
///
/// A 12-megapixel photo needs about 2 × 4 × 12 M bytes of float buffers; a `Hasher` keeps them,
/// so hashing many images costs no allocation after the first. Keep one per thread (for example
/// with rayon's `map_init`): a `Hasher` is `Send` but hashes one image at a time. Parallelism
/// belongs *across* images; within one image the work is cache-bound and serial.
///
/// Its results are identical to [`reference::hash`], the plain port of Meta's code, on every
/// input: see the module docs of the fast path (`fast.rs`) for why the reordering is exact.
#[derive(Debug, Default)]
pub struct Hasher {
    buffers: fast::Buffers,
}

impl Hasher {
    /// A hasher with no memory held yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The PDQ hash and quality of `pixels`, as Meta's `pdqHash256FromFloatLuma`.
    pub fn hash(&mut self, pixels: &Pixels<'_>) -> Pdq {
        if pixels.width() < MIN_SIDE || pixels.height() < MIN_SIDE {
            return Pdq {
                hash: Hash256::ZERO,
                quality: 0,
            };
        }
        let block = fast::downsample(pixels, &mut self.buffers, true);
        let quality = dct::quality(&block);
        Pdq {
            hash: dct::to_bits(&dct::dct64_to_16(&block)),
            quality,
        }
    }

    /// The eight dihedral hashes, as Meta's `pdqDihedralHash256esFromFloatLuma`.
    pub fn hash_dihedral(&mut self, pixels: &Pixels<'_>) -> Dihedral {
        if pixels.width() < MIN_SIDE || pixels.height() < MIN_SIDE {
            return Dihedral {
                hashes: [Hash256::ZERO; 8],
                quality: 0,
            };
        }
        // Meta's dihedral entry point filters even a 64×64 input (no copy shortcut).
        let block = fast::downsample(pixels, &mut self.buffers, false);
        let quality = dct::quality(&block);
        let coeffs = dct::dct64_to_16(&block);
        Dihedral {
            hashes: dct::dihedral_blocks(&coeffs).map(|b| dct::to_bits(&b)),
            quality,
        }
    }

    /// Bytes of working memory currently held.
    pub fn memory_bytes(&self) -> usize {
        self.buffers.capacity_bytes()
    }

    /// Gives the working memory back (for example after one unusually large image).
    pub fn shrink(&mut self) {
        self.buffers = fast::Buffers::default();
    }
}

/// Hashes one image with a fresh [`Hasher`]. For many images, keep a `Hasher`.
pub fn hash(pixels: &Pixels<'_>) -> Pdq {
    Hasher::new().hash(pixels)
}
