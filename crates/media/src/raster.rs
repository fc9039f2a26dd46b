//! PNG, GIF, WebP, BMP and TIFF through the `image` crate, then Pillow's `convert('RGB')` rules.

use std::io::Cursor;

use image::codecs::bmp::BmpDecoder;
use image::codecs::png::PngDecoder;
use image::codecs::tiff::TiffDecoder;
use image::codecs::webp::WebPDecoder;
use image::error::{ImageError, LimitErrorKind};
use image::{ColorType, ImageDecoder};

use crate::{Error, Format, Limits, RgbImage, alloc_zeroed};

/// The `image` crate's limits for an image of `pixels` pixels: our width and height caps, and
/// an allocation budget of 16 bytes per pixel plus 64 MiB. That is room for the decoded samples
/// (at most 8 bytes per pixel, 16-bit RGBA) and for compressed or intermediate data of the same
/// order, so a hostile file that declares a small image but huge strips or chunks is bounded by
/// its declared size rather than by the global pixel cap.
fn image_limits(limits: &Limits, pixels: u64) -> image::Limits {
    let mut l = image::Limits::default();
    l.max_image_width = Some(limits.max_width);
    l.max_image_height = Some(limits.max_height);
    l.max_alloc = Some(pixels.saturating_mul(16).saturating_add(64 * 1024 * 1024));
    l
}

/// Maps an `image` error, telling truncation and limits from other faults.
fn map_err(format: Format, e: ImageError) -> Error {
    match e {
        ImageError::Limits(l) => match l.kind() {
            LimitErrorKind::DimensionError => Error::ResourceLimit {
                format,
                detail: "the decoder's dimension limit was exceeded".into(),
            },
            _ => Error::ResourceLimit {
                format,
                detail: l.to_string().to_lowercase(),
            },
        },
        ImageError::Unsupported(u) => Error::Unsupported {
            format,
            detail: u.to_string().to_lowercase(),
        },
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::Truncated {
                format,
                detail: io.to_string().to_lowercase(),
            }
        }
        other => {
            let detail = describe(&other);
            if looks_truncated(&detail) {
                Error::Truncated { format, detail }
            } else {
                Error::Malformed { format, detail }
            }
        }
    }
}

/// A WebP file's RIFF header states its length; a decoder failing on a file shorter than that
/// failed because the data is cut off (`image-webp` calls it a "corrupt bitstream").
fn short_riff(bytes: &[u8], e: Error) -> Error {
    let Error::Malformed {
        format: Format::WebP,
        detail,
    } = e
    else {
        return e;
    };
    let declared = bytes
        .get(4..8)
        .map(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])) + 8);
    match declared {
        Some(n) if (bytes.len() as u64) < n => Error::Truncated {
            format: Format::WebP,
            detail: format!(
                "the riff header declares {n} bytes, {} are present; {detail}",
                bytes.len()
            ),
        },
        _ => Error::Malformed {
            format: Format::WebP,
            detail,
        },
    }
}

/// The error and its sources, lower case, joined by ": ".
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        src = s.source();
    }
    out.to_lowercase()
}

/// Decoders that wrap their I/O errors in a decoding error still say so in words.
fn looks_truncated(detail: &str) -> bool {
    [
        "unexpected eof",
        "unexpected end",
        "end of file",
        "failed to fill whole buffer",
    ]
    .iter()
    .any(|p| detail.contains(p))
}

/// Width and height from IHDR, which must be the first chunk (offsets 16 and 20).
fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    let be = |o: usize| {
        bytes
            .get(o..o + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    Some((be(16)?, be(20)?))
}

/// The PNG colour type and bit depth from IHDR (fixed offsets 24 and 25).
fn png_ihdr(bytes: &[u8]) -> Option<(u8, u8)> {
    if bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    Some((*bytes.get(24)?, *bytes.get(25)?))
}

/// For a 16-bit BMP, the width of its green field (5 or 6); `None` for other depths.
///
/// Pillow reads only the two classic layouts, 5-5-5 (`BI_RGB`, or bit fields `7C00 03E0 001F`)
/// and 5-6-5 (bit fields `F800 07E0 001F`), and refuses other masks; so do we.
fn bmp16_green_bits(bytes: &[u8]) -> Result<Option<u32>, Error> {
    let u16_at = |o: usize| {
        bytes
            .get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |o: usize| {
        bytes
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    // BITMAPCOREHEADER (12 bytes) has no 16-bit mode; the others keep bpp at 28.
    if u32_at(14).is_none_or(|size| size < 40) || u16_at(28) != Some(16) {
        return Ok(None);
    }
    match u32_at(30) {
        Some(0) => Ok(Some(5)),
        // BI_BITFIELDS, BI_ALPHABITFIELDS: the masks follow the 40-byte header.
        Some(3 | 6) => match (u32_at(54), u32_at(58), u32_at(62)) {
            (Some(0xF800), Some(0x07E0), Some(0x001F)) => Ok(Some(6)),
            (Some(0x7C00), Some(0x03E0), Some(0x001F)) => Ok(Some(5)),
            (Some(r), Some(g), Some(b)) => Err(Error::Unsupported {
                format: Format::Bmp,
                detail: format!(
                    "16-bit bit fields {r:#06x} {g:#06x} {b:#06x} (pillow reads only 5-5-5 and 5-6-5)"
                ),
            }),
            _ => Ok(None), // truncated: the decoder will say so
        },
        _ => Ok(None),
    }
}

/// Pillow widens an `n`-bit field `v` to `v * 255 / (2^n - 1)`, truncating (`BGR;15`/`BGR;16`
/// unpackers); `image` rounds. Recover `v` from `image`'s value (the widening is injective, so
/// the nearest `v` is exact) and widen it Pillow's way.
fn rescale_bmp16(data: &mut [u8], green_bits: u32) {
    let table = |bits: u32| -> [u8; 256] {
        let max = (1u32 << bits) - 1;
        std::array::from_fn(|o| {
            let v = (o as u32 * max + 127) / 255;
            (v * 255 / max) as u8
        })
    };
    let (five, green) = (table(5), table(green_bits));
    for px in data.chunks_exact_mut(3) {
        px[0] = five[usize::from(px[0])];
        px[1] = green[usize::from(px[1])];
        px[2] = five[usize::from(px[2])];
    }
}

/// How to turn 16-bit grey into 8 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grey16 {
    /// Pillow's `I;16` → `RGB`: `min(v, 255)`.
    Clamp,
    /// Pillow's `LA;16B` unpacker: the high byte.
    HighByte,
}

/// Opens the format's decoder with limits applied, as a trait object.
fn open<'a>(
    format: Format,
    bytes: &'a [u8],
    limits: &Limits,
) -> Result<Box<dyn ImageDecoder + 'a>, Error> {
    let r = Cursor::new(bytes);
    let mut dec: Box<dyn ImageDecoder + 'a> = match format {
        Format::Png => {
            // `PngDecoder` applies `image`'s limits while it reads the header; check ours on
            // IHDR first so that a bomb is reported with its dimensions.
            let pixels = match png_size(bytes) {
                Some((w, h)) => {
                    limits.check(format, u64::from(w), u64::from(h))?;
                    u64::from(w) * u64::from(h)
                }
                None => limits.max_pixels, // not a valid IHDR: the decoder will say why
            };
            let il = image_limits(limits, pixels);
            Box::new(PngDecoder::with_limits(r, il).map_err(|e| map_err(format, e))?)
        }
        Format::WebP => Box::new(WebPDecoder::new(r).map_err(|e| map_err(format, e))?),
        Format::Bmp => Box::new(BmpDecoder::new(r).map_err(|e| map_err(format, e))?),
        Format::Tiff => Box::new(TiffDecoder::new(r).map_err(|e| map_err(format, e))?),
        Format::Jpeg | Format::Gif => unreachable!("decoded by the jpeg and gif modules"),
    };
    let (w, h) = dec.dimensions();
    limits.check(format, u64::from(w), u64::from(h))?;
    dec.set_limits(image_limits(limits, u64::from(w) * u64::from(h)))
        .map_err(|e| map_err(format, e))?;
    Ok(dec)
}

pub(crate) fn probe(format: Format, bytes: &[u8], limits: &Limits) -> Result<(u32, u32), Error> {
    if format == Format::Gif {
        return crate::gif::probe(bytes, limits);
    }
    open(format, bytes, limits)
        .map(|d| d.dimensions())
        .map_err(|e| short_riff(bytes, e))
}

pub(crate) fn decode(format: Format, bytes: &[u8], limits: &Limits) -> Result<RgbImage, Error> {
    if format == Format::Gif {
        return crate::gif::decode(bytes, limits);
    }
    let fixed_plte = match format {
        Format::Png => trim_plte(bytes),
        _ => None,
    };
    let bytes = fixed_plte.as_deref().unwrap_or(bytes);
    match decode_with_image(format, bytes, limits) {
        Err(e @ Error::Truncated { .. }) if format == Format::Png => match complete_iend(bytes) {
            Some(fixed) => decode_with_image(format, &fixed, limits),
            None => Err(e),
        },
        other => other.map_err(|e| short_riff(bytes, e)),
    }
}

/// A PLTE chunk whose length is not a multiple of 3 makes `png` 0.18.1 panic (slice index out
/// of range while building its palette; found by fuzzing). Pillow reads such a palette and
/// ignores the incomplete last entry. So when PLTE (before the first IDAT) has a valid CRC and
/// a stray byte or two, return the bytes with those dropped and the CRC recomputed.
fn trim_plte(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut pos = 8;
    loop {
        let head = bytes.get(pos..pos + 8)?;
        let len = usize::try_from(u32::from_be_bytes([head[0], head[1], head[2], head[3]])).ok()?;
        let kind = &head[4..8];
        if kind == b"IDAT" {
            return None;
        }
        let end = pos.checked_add(12)?.checked_add(len)?;
        let chunk = bytes.get(pos..end)?;
        if kind == b"PLTE" && len % 3 != 0 {
            let stored = u32::from_be_bytes(chunk[8 + len..].try_into().ok()?);
            // A corrupt chunk: let the decoder report it. Fuzz builds of `png` skip CRC checks
            // (`cfg(fuzzing)`), so this one does too, or the fuzzer would still reach the panic.
            #[allow(unexpected_cfgs)]
            let check_crc = !cfg!(fuzzing);
            if check_crc && crc32(&chunk[4..8 + len]) != stored {
                return None;
            }
            let keep = len - len % 3;
            let mut out = Vec::with_capacity(bytes.len());
            out.extend_from_slice(&bytes[..pos]);
            out.extend_from_slice(&(keep as u32).to_be_bytes());
            out.extend_from_slice(&chunk[4..8 + keep]);
            out.extend_from_slice(&crc32(&chunk[4..8 + keep]).to_be_bytes());
            out.extend_from_slice(&bytes[end..]);
            return Some(out);
        }
        pos = end;
    }
}

/// CRC-32 (ISO-HDLC), as PNG uses it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// The 12 bytes of a PNG's closing IEND chunk.
const IEND: [u8; 12] = [0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82];

/// Pillow decodes a PNG whose IEND chunk is cut off: it stops reading once the pixels are
/// complete. The `png` crate wants to see the chunk after the last IDAT. So when the chunks walk
/// cleanly to the end and what is left is the start of IEND, return the bytes with IEND whole.
fn complete_iend(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut pos = 8;
    let mut seen_idat = false;
    loop {
        let rest = bytes.get(pos..)?;
        if rest.len() < IEND.len() {
            return (seen_idat && IEND.starts_with(rest)).then(|| {
                let mut fixed = bytes.to_vec();
                fixed.extend_from_slice(&IEND[rest.len()..]);
                fixed
            });
        }
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        seen_idat |= &rest[4..8] == b"IDAT";
        pos = pos
            .checked_add(12)?
            .checked_add(usize::try_from(len).ok()?)?;
    }
}

fn decode_with_image(format: Format, bytes: &[u8], limits: &Limits) -> Result<RgbImage, Error> {
    let bmp16 = match format {
        Format::Bmp => bmp16_green_bits(bytes)?,
        _ => None,
    };
    let dec = open(format, bytes, limits)?;
    let (w, h) = dec.dimensions();
    let color = dec.color_type();
    let mut buf = alloc_zeroed(format, dec.total_bytes())?;
    dec.read_image(&mut buf).map_err(|e| map_err(format, e))?;

    let grey16 = match (format, png_ihdr(bytes)) {
        // Colour type 4 (grey + alpha) at 16 bits: Pillow unpacks the high byte. Colour type 0
        // with a tRNS chunk also comes out of the decoder as grey + alpha, but Pillow sees I;16.
        (Format::Png, Some((16, 4))) => Grey16::HighByte,
        _ => Grey16::Clamp,
    };
    let mut data = to_rgb(format, color, buf, grey16)?;
    if let Some(green_bits) = bmp16 {
        rescale_bmp16(&mut data, green_bits);
    }
    Ok(RgbImage {
        width: w as usize,
        height: h as usize,
        data,
        format,
    })
}

/// Pillow's `convert('RGB')` from the decoder's sample layout.
fn to_rgb(
    format: Format,
    color: ColorType,
    mut buf: Vec<u8>,
    grey16: Grey16,
) -> Result<Vec<u8>, Error> {
    let u16_at = |b: &[u8], i: usize| u16::from_ne_bytes([b[2 * i], b[2 * i + 1]]);
    let g16 = |v: u16| match grey16 {
        Grey16::Clamp => v.min(255) as u8,
        Grey16::HighByte => (v >> 8) as u8,
    };
    let hi = |v: u16| (v >> 8) as u8;
    let bpp = usize::from(color.bytes_per_pixel());
    let n = buf.len() / bpp.max(1);
    let out = match color {
        ColorType::Rgb8 => return Ok(buf),
        ColorType::Rgba8 => {
            for i in 0..n {
                buf.copy_within(4 * i..4 * i + 3, 3 * i);
            }
            buf.truncate(3 * n);
            buf.shrink_to_fit();
            return Ok(buf);
        }
        ColorType::L8 => map_pixels(format, n, |i| [buf[i]; 3])?,
        ColorType::La8 => map_pixels(format, n, |i| [buf[2 * i]; 3])?,
        ColorType::L16 => map_pixels(format, n, |i| [g16(u16_at(&buf, i)); 3])?,
        ColorType::La16 => map_pixels(format, n, |i| [g16(u16_at(&buf, 2 * i)); 3])?,
        ColorType::Rgb16 => map_pixels(format, n, |i| {
            [
                hi(u16_at(&buf, 3 * i)),
                hi(u16_at(&buf, 3 * i + 1)),
                hi(u16_at(&buf, 3 * i + 2)),
            ]
        })?,
        ColorType::Rgba16 => map_pixels(format, n, |i| {
            [
                hi(u16_at(&buf, 4 * i)),
                hi(u16_at(&buf, 4 * i + 1)),
                hi(u16_at(&buf, 4 * i + 2)),
            ]
        })?,
        other => {
            return Err(Error::Unsupported {
                format,
                detail: format!("{other:?} samples").to_lowercase(),
            });
        }
    };
    Ok(out)
}

/// Builds `n` RGB pixels from a per-pixel function into one exact allocation.
fn map_pixels(format: Format, n: usize, f: impl Fn(usize) -> [u8; 3]) -> Result<Vec<u8>, Error> {
    let mut out = alloc_zeroed(format, n as u64 * 3)?;
    for (i, px) in out.chunks_exact_mut(3).enumerate() {
        px.copy_from_slice(&f(i));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_png_iend_constant() {
        assert_eq!(crc32(b"IEND").to_be_bytes(), IEND[8..]);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
