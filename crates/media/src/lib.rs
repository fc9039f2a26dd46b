//! Image bytes in, the exact RGB pixels Pillow would give out.
//!
//! PDQ hashes (see `schoon-pdq`) are only comparable with the hash lists made by Meta's and
//! ThreatExchange's tooling if they are computed from **the same pixels**. That tooling opens
//! files with Python's Pillow and calls `Image.open(path).convert('RGB')`. This crate reproduces
//! those pixels byte for byte, for JPEG, PNG, GIF, WebP, BMP and TIFF, and it does so safely:
//! a size limit is checked against the header before any pixel memory is allocated, and bad
//! input of any kind comes back as a typed [`Error`], never as a panic.
//!
//! It does no I/O: it takes a byte slice and returns a buffer.
//!
//! ```
//! use media::{Format, Limits};
//!
//! // A 2×1 PNG: one red pixel, one half-transparent blue one.
//! # let png: &[u8] = &[
//! #     0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
//! #     0x52, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0xf4,
//! #     0x22, 0x7f, 0x8a, 0x00, 0x00, 0x00, 0x11, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8,
//! #     0xcf, 0xc0, 0xf0, 0x9f, 0x81, 0xe1, 0x7f, 0x03, 0x00, 0x0f, 0x7a, 0x03, 0x7e, 0x0b, 0xcb,
//! #     0x2e, 0xb1, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
//! # ];
//! assert_eq!(media::sniff(png), Some(Format::Png));
//!
//! let limits = Limits::default();
//! let info = media::probe(png, &limits)?; // header only
//! assert_eq!((info.width, info.height), (2, 1));
//!
//! let image = media::decode_rgb(png, &limits)?;
//! assert_eq!((image.width, image.height), (2, 1));
//! // Packed RGB8; the alpha channel is dropped, not blended: the blue stays 255, as in Pillow.
//! assert_eq!(image.data, [255, 0, 0, 0, 0, 255]);
//!
//! // Bad input is an error value, never a panic.
//! assert!(media::decode_rgb(b"GIF89a", &limits).unwrap_err().is_truncated());
//! # Ok::<(), media::Error>(())
//! ```
//!
//! # Why libjpeg-turbo for JPEG
//!
//! JPEG decoding is not bit-exact across decoders: the inverse DCT and the chroma upsampling are
//! left to the implementation. Pillow decodes with libjpeg-turbo (default `ISLOW` integer DCT,
//! "fancy" triangular upsampling), and so does most of Meta's tooling. The pure-Rust decoders
//! (`zune-jpeg`, `jpeg-decoder`) give pixels a little off, which moves the PDQ hash of small or
//! low-quality JPEGs by 2–12 bits out of 256. So JPEG goes through libjpeg-turbo itself, via the
//! `turbojpeg` crate, built from vendored source with the same defaults. Grey JPEGs are widened to
//! R = G = B; four-channel (CMYK and YCCK) JPEGs are read as Adobe-inverted CMYK, as Pillow
//! does, and converted with Pillow's `R = (255 − C)·(255 − K)/255` rounding.
//!
//! # The other formats, and Pillow's conversion rules
//!
//! PNG, WebP, BMP and TIFF go through the pure-Rust `image` crate, GIF through `gif` (the decoder
//! inside `image`, used directly to see palette indices). Then Pillow's `convert('RGB')` rules:
//!
//! | source | RGB |
//! |---|---|
//! | grey (`L`), 1/2/4-bit grey | R = G = B = value, low depths widened (1-bit → 0/255) |
//! | alpha (`LA`, `RGBA`, `PA`, tRNS) | alpha **dropped**, colour kept as stored; no compositing |
//! | palette (`P`), GIF | looked up; a transparent index gives its colour; past the palette's end → black |
//! | 16-bit grey (`I;16`, PNG/TIFF) | `min(v, 255)`: Pillow **clamps**, it does not scale |
//! | other 16-bit samples | high byte (`v >> 8`) |
//! | 16-bit BMP (5-5-5, 5-6-5) | `v * 255 / 31` (or `/ 63`), truncated |
//! | GIF | first frame on the logical screen (grown to fit the frame), background = transparency index or index 0; identity-grey or missing palette → grey |
//! | APNG, animated GIF/WebP | the first (default) image |
//!
//! Lossy WebP is decoded by `image-webp`, not libwebp. On every lossy WebP we test (the
//! conformance images and fixtures at quality 20–90, with and without alpha, odd sizes) its
//! pixels are identical to libwebp 1.6.0's as Pillow returns them, so no C decoder is needed.
//!
//! Known differences from Pillow, all in TIFF (rare as an upload format): CMYK TIFF is
//! converted by `image` with truncating float maths (±1 per channel); JPEG-compressed TIFF is
//! decoded by `zune-jpeg`; palette, float, signed-integer and untagged grey+alpha TIFF are
//! [`Error::Unsupported`]. A PNG cut inside its last IDAT chunk's CRC or zlib checksum is refused
//! here, while Pillow keeps it (a cut inside IEND decodes in both).
//!
//! # Why no EXIF orientation
//!
//! Pillow's `Image.open` does not apply the EXIF orientation tag, and Meta's reference hashes
//! pixels in stored order (ThreatExchange even ships `exif-rotn-*.jpg` test files whose expected
//! hashes are of the unrotated pixels). Rotating would make our hashes disagree with every shared
//! hash list. PDQ's dihedral hashes cover rotated and mirrored copies instead.
//!
//! # Limits and hostile input
//!
//! Every call takes [`Limits`]. The input length is checked first, then the width, height and
//! pixel count declared by the header, before the pixel buffer is allocated: a 100-byte PNG that
//! claims 60000×60000 pixels is refused with [`Error::ImageTooLarge`] without touching memory.
//! The `image` crate's own allocation budget is also set, so a decoder's intermediate buffers are
//! bounded too.
//!
//! libjpeg *warnings* (corrupt entropy data, junk between segments, ...) leave a complete image
//! that Pillow keeps, and so do we. Data that ends early is [`Error::Truncated`] in every format,
//! as Pillow's "image file is truncated". Progressive JPEGs are capped at [`JPEG_MAX_SCANS`]
//! scans, a CPU-exhaustion guard that libjpeg-turbo recommends.
//!
//! As a last line of defence, each third-party decoder runs inside
//! [`std::panic::catch_unwind`]. They are written not to panic, but a panic on a crafted file in
//! a dependency must not take down a server thread; it comes back as [`Error::Malformed`] (the
//! default panic hook still prints the message to stderr). This cannot help a binary built with
//! `panic = "abort"`. The crate has been fuzzed (see `fuzz/` in the repository).
//!
//! # What it will not do
//!
//! * Read files, URLs or file names: the format is sniffed from magic bytes only ([`sniff`]).
//! * Apply EXIF orientation, ICC profiles or gamma (Pillow's `convert('RGB')` applies none).
//! * Decode animations beyond the first frame, or resize.
//! * Decode AVIF, HEIC, JPEG XL, 12-bit JPEG or floating-point TIFF ([`Error::Unsupported`] or
//!   [`Error::UnknownFormat`]).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod error;
mod gif;
mod jpeg;
mod raster;

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

pub use error::Error;

/// Most scans a progressive JPEG may have. Each scan can revisit every coefficient, so a small
/// file with thousands of scans costs minutes of CPU (the "progressive JPEG" denial of service
/// that libjpeg-turbo documents). Real encoders write about ten; beyond this the decode fails
/// with [`Error::ResourceLimit`].
pub const JPEG_MAX_SCANS: u32 = 1000;

/// An image container format, as recognised by [`sniff`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Format {
    /// JPEG/JFIF/Exif (also MPO: its first image).
    Jpeg,
    /// PNG (also APNG: its default image).
    Png,
    /// GIF 87a/89a (the first frame).
    Gif,
    /// WebP, lossy or lossless (the first frame).
    WebP,
    /// Windows bitmap.
    Bmp,
    /// TIFF, including BigTIFF (the first page).
    Tiff,
}

impl Format {
    /// Every format this crate decodes.
    pub const ALL: [Format; 6] = [
        Format::Jpeg,
        Format::Png,
        Format::Gif,
        Format::WebP,
        Format::Bmp,
        Format::Tiff,
    ];

    /// Short lower-case name: `"jpeg"`, `"png"`, `"gif"`, `"webp"`, `"bmp"`, `"tiff"`.
    pub const fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
            Format::Gif => "gif",
            Format::WebP => "webp",
            Format::Bmp => "bmp",
            Format::Tiff => "tiff",
        }
    }

    /// The IANA media type, e.g. `"image/jpeg"`.
    pub const fn mime_type(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Gif => "image/gif",
            Format::WebP => "image/webp",
            Format::Bmp => "image/bmp",
            Format::Tiff => "image/tiff",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Caps on what a decode may cost. Checked before the pixel buffer is allocated.
///
/// The default admits everything Pillow opens with its default settings, and no more:
///
/// | field | default | why |
/// |---|---|---|
/// | `max_bytes` | 256 MiB | far above any real photo; bounds what a caller may hand over |
/// | `max_width`, `max_height` | 65 535 | the largest side JPEG, GIF and WebP can express |
/// | `max_pixels` | 178 956 970 | Pillow's `DecompressionBombError` threshold (2 × `Image.MAX_IMAGE_PIXELS`) |
///
/// At the default pixel cap the RGB output alone is 512 MiB, and a 16-bit RGBA source needs a
/// further 8 bytes per pixel while decoding. A network service should pass tighter limits, e.g.
/// `Limits { max_pixels: 50_000_000, ..Limits::default() }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Longest accepted input, in bytes.
    pub max_bytes: u64,
    /// Widest accepted image, in pixels.
    pub max_width: u32,
    /// Tallest accepted image, in pixels.
    pub max_height: u32,
    /// Most pixels (width × height) accepted.
    pub max_pixels: u64,
}

impl Limits {
    /// Pillow's `DecompressionBombError` threshold: `2 * Image.MAX_IMAGE_PIXELS`.
    pub const PILLOW_MAX_PIXELS: u64 = 2 * 89_478_485;

    /// The defaults, as a constant (see the table on [`Limits`]).
    pub const DEFAULT: Limits = Limits {
        max_bytes: 256 * 1024 * 1024,
        max_width: 65_535,
        max_height: 65_535,
        max_pixels: Self::PILLOW_MAX_PIXELS,
    };

    /// Checks a header's declared size against these limits.
    pub(crate) fn check(&self, format: Format, width: u64, height: u64) -> Result<(), Error> {
        if width == 0 || height == 0 {
            return Err(Error::Malformed {
                format,
                detail: format!("the header declares an empty image ({width}×{height} pixels)"),
            });
        }
        if width > u64::from(self.max_width)
            || height > u64::from(self.max_height)
            || width.saturating_mul(height) > self.max_pixels
        {
            return Err(Error::ImageTooLarge {
                format,
                width,
                height,
                max_width: self.max_width,
                max_height: self.max_height,
                max_pixels: self.max_pixels,
            });
        }
        Ok(())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What [`probe`] reads from a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Info {
    /// The sniffed format.
    pub format: Format,
    /// Width in pixels, as stored (no EXIF rotation).
    pub width: u32,
    /// Height in pixels, as stored (no EXIF rotation).
    pub height: u32,
}

/// Decoded pixels: packed 8-bit RGB, rows top to bottom, no padding.
#[derive(Clone, PartialEq, Eq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height * 3` bytes: R, G, B, R, G, B, ...
    pub data: Vec<u8>,
    /// The format the pixels were decoded from.
    pub format: Format,
}

impl RgbImage {
    /// The red, green and blue of pixel (`x`, `y`), or `None` outside the image.
    pub fn pixel(&self, x: usize, y: usize) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (y * self.width + x) * 3;
        Some([self.data[i], self.data[i + 1], self.data[i + 2]])
    }
}

impl fmt::Debug for RgbImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RgbImage")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("format", &self.format)
            .field("data", &format_args!("[{} bytes]", self.data.len()))
            .finish()
    }
}

/// Recognises the format from the first bytes, never from a file name.
///
/// Signatures: JPEG `FF D8 FF`; PNG `89 50 4E 47 0D 0A 1A 0A`; GIF `GIF87a`/`GIF89a`; WebP
/// `RIFF????WEBP`; TIFF `II*\0`, `MM\0*` and BigTIFF `II+\0`, `MM\0+`; BMP `BM` followed (when
/// the bytes are there) by a known DIB header size, since two letters alone match plain text.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(Format::Gif)
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some(Format::WebP)
    } else if [b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"]
        .iter()
        .any(|m| bytes.starts_with(*m))
    {
        Some(Format::Tiff)
    } else if bytes.starts_with(b"BM") && bmp_header_plausible(bytes) {
        Some(Format::Bmp)
    } else {
        None
    }
}

/// `BM`, then (if present) a DIB header size that some BMP variant uses.
fn bmp_header_plausible(bytes: &[u8]) -> bool {
    match bytes.get(14..18) {
        None => true,
        Some(s) => matches!(
            u32::from_le_bytes([s[0], s[1], s[2], s[3]]),
            12 | 16 | 40 | 52 | 56 | 64 | 108 | 124
        ),
    }
}

/// Checks the input length and sniffs the format.
fn admit(bytes: &[u8], limits: &Limits) -> Result<Format, Error> {
    if bytes.is_empty() {
        return Err(Error::Empty);
    }
    let len = bytes.len() as u64;
    if len > limits.max_bytes {
        return Err(Error::InputTooLarge {
            found: len,
            max: limits.max_bytes,
        });
    }
    sniff(bytes).ok_or_else(|| Error::UnknownFormat {
        found: bytes.iter().take(12).map(|b| format!("{b:02x}")).collect(),
    })
}

/// Reads the format and size from the header, without decoding pixels.
///
/// The size is checked against `limits`, so `probe` fails exactly when [`decode_rgb`] would
/// refuse the image as too large. A header that parses does not promise that the rest of the
/// file decodes.
pub fn probe(bytes: &[u8], limits: &Limits) -> Result<Info, Error> {
    let format = admit(bytes, limits)?;
    let (width, height) = guard(format, || match format {
        Format::Jpeg => jpeg::probe(bytes),
        _ => raster::probe(format, bytes, limits),
    })?;
    limits.check(format, u64::from(width), u64::from(height))?;
    Ok(Info {
        format,
        width,
        height,
    })
}

/// Decodes an image to packed RGB8, exactly as Pillow 13's `Image.open(f).convert('RGB')`.
///
/// No EXIF orientation is applied; animations give their first frame. See the crate docs for
/// the conversion rules and [`Error`] for the failures.
pub fn decode_rgb(bytes: &[u8], limits: &Limits) -> Result<RgbImage, Error> {
    let format = admit(bytes, limits)?;
    guard(format, || match format {
        Format::Jpeg => jpeg::decode(bytes, limits),
        _ => raster::decode(format, bytes, limits),
    })
}

/// Runs a third-party decoder, turning a panic into [`Error::Malformed`].
///
/// The decoders we call are meant to return errors, not panic, on bad input; but a panic in a
/// dependency on some crafted file must not unwind through (and kill) a caller's worker thread.
/// Nothing escapes the closure except its result, so no broken state is observable afterwards:
/// hence `AssertUnwindSafe`.
fn guard<T>(format: Format, decode: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    catch_unwind(AssertUnwindSafe(decode)).unwrap_or_else(|payload| {
        let why = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".to_owned());
        Err(Error::Malformed {
            format,
            detail: format!("the decoder panicked: {why}"),
        })
    })
}

/// Allocates a zeroed buffer, reporting failure instead of aborting the process.
pub(crate) fn alloc_zeroed(format: Format, len: u64) -> Result<Vec<u8>, Error> {
    let oom = || Error::ResourceLimit {
        format,
        detail: format!("cannot allocate {len} bytes for the pixels"),
    };
    let n = usize::try_from(len).map_err(|_| oom())?;
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| oom())?;
    v.resize(n, 0);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_decoder_becomes_malformed() {
        let quiet = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let r: Result<(), Error> = guard(Format::Tiff, || panic!("index out of bounds"));
        let owned: Result<(), Error> = guard(Format::Png, || panic!("{} is odd", 3));
        std::panic::set_hook(quiet);
        assert_eq!(
            r.unwrap_err(),
            Error::Malformed {
                format: Format::Tiff,
                detail: "the decoder panicked: index out of bounds".into()
            }
        );
        assert!(
            owned
                .unwrap_err()
                .to_string()
                .ends_with("panicked: 3 is odd")
        );
    }

    #[test]
    fn limits_check_edges() {
        let l = Limits {
            max_bytes: 10,
            max_width: 100,
            max_height: 50,
            max_pixels: 1000,
        };
        assert!(l.check(Format::Png, 100, 10).is_ok());
        assert!(l.check(Format::Png, 101, 1).is_err());
        assert!(l.check(Format::Png, 1, 51).is_err());
        assert!(l.check(Format::Png, 100, 11).is_err()); // 1100 pixels
        assert!(matches!(
            l.check(Format::Png, 0, 5),
            Err(Error::Malformed { .. })
        ));
        assert!(l.check(Format::Png, u64::MAX, u64::MAX).is_err());
        assert_eq!(Limits::default().max_pixels, 178_956_970);
    }
}
