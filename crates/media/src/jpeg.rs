//! JPEG through libjpeg-turbo (the `turbojpeg` crate), as Pillow decodes it.
//!
//! Pillow's JPEG plugin hands the stream to libjpeg-turbo with the library defaults (`ISLOW`
//! DCT, fancy upsampling) and asks for RGB, grey, or inverted ("Adobe") CMYK by the number of
//! components; `turbojpeg` uses the same defaults. What differs is the error model:
//!
//! * libjpeg *warnings* (corrupt entropy data, extraneous bytes, ...) still give a complete
//!   image, which Pillow keeps. TurboJPEG reports them as a failure with the first warning's
//!   message, and the `turbojpeg` crate gives us only that message. So known warning texts
//!   (libjpeg-turbo's `JWRN_*` table) mean "pixels are fine", any other text is fatal.
//! * "Premature end of JPEG file" means libjpeg padded missing data with grey. Pillow refuses
//!   such a file ("image file is truncated"), and so do we.
//! * TurboJPEG's *header* reader also fails on warnings, and the crate re-reads the header
//!   inside `decompress`. For that case the header segments are rebuilt without the cause of
//!   the warning (junk between segments, an unknown JFIF major version, an unknown Adobe
//!   transform, a broken ICC profile), none of which changes what libjpeg decodes.
//!
//! A small marker walker ([`scan`]) also gives `probe` the size without calling C, and tells a
//! truncated header from a broken one.

use std::borrow::Cow;

use turbojpeg::{Colorspace, Decompressor, PixelFormat};

use crate::{Error, Format, Limits, RgbImage, alloc_zeroed};

const F: Format = Format::Jpeg;

/// The frame header (SOFn) fields we need.
#[derive(Debug, Clone, Copy)]
struct Frame {
    precision: u8,
    height: u16,
    width: u16,
    components: u8,
}

/// How the walk from SOI towards the first scan ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Reached a start-of-scan marker at this offset.
    Scan(usize),
    /// The bytes ran out first.
    RanOut,
    /// An end-of-image marker came first: a tables-only stream, no image.
    NoImage,
    /// A segment length below 2.
    BadLength,
}

/// One marker segment between SOI and SOS: marker byte and body (without the length field).
#[derive(Debug, Clone, Copy)]
struct Segment<'a> {
    marker: u8,
    body: &'a [u8],
}

#[derive(Debug)]
struct Scan<'a> {
    frame: Option<Frame>,
    segments: Vec<Segment<'a>>,
    /// Bytes libjpeg would skip with an "extraneous bytes" warning.
    junk: usize,
    end: End,
}

/// Walks the marker segments from SOI to the first SOS the way libjpeg's `next_marker` does
/// (skipping non-`FF` junk, `FF` fill bytes and stuffed `FF 00`).
fn scan(bytes: &[u8]) -> Scan<'_> {
    let mut s = Scan {
        frame: None,
        segments: Vec::new(),
        junk: 0,
        end: End::RanOut,
    };
    let mut pos = 2; // after SOI (the caller sniffed FF D8)
    loop {
        // Find the next marker code.
        let marker = loop {
            while pos < bytes.len() && bytes[pos] != 0xFF {
                s.junk += 1;
                pos += 1;
            }
            while pos < bytes.len() && bytes[pos] == 0xFF {
                pos += 1;
            }
            match bytes.get(pos) {
                None => return s,
                Some(0) => {
                    s.junk += 2;
                    pos += 1;
                }
                Some(&m) => {
                    pos += 1;
                    break m;
                }
            }
        };
        match marker {
            0xD9 => {
                s.end = End::NoImage;
                return s;
            }
            0xD0..=0xD8 | 0x01 => continue, // RSTn, TEM (and a duplicate SOI, which libjpeg rejects)
            _ => {}
        }
        let Some(len) = bytes.get(pos..pos + 2) else {
            return s;
        };
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        if len < 2 {
            s.end = End::BadLength;
            return s;
        }
        let Some(body) = bytes.get(pos + 2..pos + len) else {
            return s;
        };
        if marker == 0xDA {
            s.end = End::Scan(pos - 2);
            return s;
        }
        if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) && body.len() >= 6
        {
            s.frame.get_or_insert(Frame {
                precision: body[0],
                height: u16::from_be_bytes([body[1], body[2]]),
                width: u16::from_be_bytes([body[3], body[4]]),
                components: body[5],
            });
        }
        s.segments.push(Segment { marker, body });
        pos += len;
    }
}

/// Checks what the walk found; returns the frame header.
fn check_scan(scan: &Scan<'_>) -> Result<Frame, Error> {
    match scan.end {
        End::Scan(_) => {}
        End::RanOut => {
            return Err(Error::Truncated {
                format: F,
                detail: "the data ends inside the header, before the first scan".into(),
            });
        }
        End::NoImage => {
            return Err(Error::Malformed {
                format: F,
                detail: "the stream ends (eoi marker) before any image data".into(),
            });
        }
        End::BadLength => {
            return Err(Error::Malformed {
                format: F,
                detail: "a marker segment declares a length below 2".into(),
            });
        }
    }
    let frame = scan.frame.ok_or_else(|| Error::Malformed {
        format: F,
        detail: "no frame header (sof marker) before the first scan".into(),
    })?;
    if frame.precision != 8 {
        return Err(Error::Unsupported {
            format: F,
            detail: format!(
                "{}-bit samples (only 8-bit jpeg is decoded, as in pillow)",
                frame.precision
            ),
        });
    }
    if !matches!(frame.components, 1 | 3 | 4) {
        return Err(Error::Unsupported {
            format: F,
            detail: format!(
                "{} colour components (expected 1, 3 or 4)",
                frame.components
            ),
        });
    }
    Ok(frame)
}

/// Width and height from the frame header, without calling libjpeg.
pub(crate) fn probe(bytes: &[u8]) -> Result<(u32, u32), Error> {
    let frame = check_scan(&scan(bytes))?;
    Ok((u32::from(frame.width), u32::from(frame.height)))
}

/// What a TurboJPEG error message means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// libjpeg ran out of data and padded the image.
    Eof,
    /// Any other libjpeg warning: the image is complete.
    Warning,
    /// A fatal error.
    Fatal,
}

/// Classifies by libjpeg-turbo's message table (`jerror.h`, the `JWRN_*` entries).
fn kind(message: &str) -> Kind {
    const WARNINGS: [&str; 7] = [
        "Corrupt JPEG data", // JWRN_ARITH_BAD_CODE, _EXTRANEOUS_DATA, _HIT_MARKER, _HUFF_BAD_CODE, _MUST_RESYNC, _BOGUS_ICC
        "Warning: unknown JFIF revision", // JWRN_JFIF_MAJOR
        "Unknown Adobe color transform code", // JWRN_ADOBE_XFORM
        "Inconsistent progression sequence", // JWRN_BOGUS_PROGRESSION
        "Invalid SOS parameters for sequential", // JWRN_NOT_SEQUENTIAL
        "Application transferred too many scanlines", // JWRN_TOO_MUCH_DATA
        "Premature end of JPEG file", // JWRN_JPEG_EOF (handled below)
    ];
    if message.starts_with("Premature end of JPEG file") {
        Kind::Eof
    } else if WARNINGS.iter().any(|w| message.starts_with(w)) {
        Kind::Warning
    } else {
        Kind::Fatal
    }
}

fn message(e: &turbojpeg::Error) -> String {
    match e {
        turbojpeg::Error::TurboJpegError(m) => m.trim().to_owned(),
        other => other.to_string(),
    }
}

/// Maps a fatal libjpeg/TurboJPEG error to ours.
fn fatal(msg: String, complete: bool) -> Error {
    let lower = msg.to_lowercase();
    if lower.contains("scans") && lower.starts_with("progressive jpeg image has more than") {
        Error::ResourceLimit {
            format: F,
            detail: lower,
        }
    } else if lower.contains("unsupported") || lower.contains("maximum supported image dimension") {
        Error::Unsupported {
            format: F,
            detail: lower,
        }
    } else if lower.contains("insufficient memory") || lower.contains("memory allocation failure") {
        Error::ResourceLimit {
            format: F,
            detail: lower,
        }
    } else if !complete {
        Error::Truncated {
            format: F,
            detail: format!("no end-of-image marker after the last scan; libjpeg: {lower}"),
        }
    } else {
        Error::Malformed {
            format: F,
            detail: lower,
        }
    }
}

/// Whether an EOI marker follows the last SOS marker (entropy-coded data cannot contain
/// `FF D9`, since `FF` is stuffed there).
fn has_eoi_after_last_sos(bytes: &[u8]) -> bool {
    let last_sos = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    match last_sos {
        None => false,
        Some(i) => bytes[i..].windows(2).any(|w| w == [0xFF, 0xD9]),
    }
}

/// Rebuilds the header without what makes libjpeg warn while reading it. Only used after
/// TurboJPEG's header reader failed on a warning; the scans are copied unchanged.
fn sanitise(bytes: &[u8], scan: &Scan<'_>) -> Option<Vec<u8>> {
    let End::Scan(sos) = scan.end else {
        return None;
    };
    let components = scan.frame.map_or(3, |f| f.components);
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&[0xFF, 0xD8]);
    for seg in &scan.segments {
        let mut body = Cow::Borrowed(seg.body);
        match seg.marker {
            // APP0 JFIF: libjpeg only warns about a major version other than 1.
            0xE0 if body.len() >= 14 && body.starts_with(b"JFIF\0") && body[5] != 1 => {
                body.to_mut()[5] = 1;
            }
            // APP2 ICC profile: not used for decoding; a malformed chain makes TurboJPEG warn.
            0xE2 if body.starts_with(b"ICC_PROFILE\0") => continue,
            // APP14 Adobe: an unknown transform is treated as YCbCr (3 components) or YCCK (4).
            0xEE if body.len() >= 12 && body.starts_with(b"Adobe") && body[11] > 2 => {
                body.to_mut()[11] = if components == 4 { 2 } else { 1 };
            }
            _ => {}
        }
        out.extend_from_slice(&[0xFF, seg.marker]);
        let len = u16::try_from(body.len() + 2).ok()?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&body);
    }
    out.extend_from_slice(&bytes[sos..]);
    Some(out)
}

pub(crate) fn decode(bytes: &[u8], limits: &Limits) -> Result<RgbImage, Error> {
    let walk = scan(bytes);
    let frame = check_scan(&walk)?;
    limits.check(F, u64::from(frame.width), u64::from(frame.height))?;

    let mut dec = Decompressor::new().map_err(|e| Error::ResourceLimit {
        format: F,
        detail: format!(
            "cannot create a libjpeg-turbo decompressor: {}",
            message(&e)
        ),
    })?;
    dec.set_scan_limit(crate::JPEG_MAX_SCANS)
        .map_err(|e| Error::ResourceLimit {
            format: F,
            detail: message(&e).to_lowercase(),
        })?;
    let mut data: Cow<'_, [u8]> = Cow::Borrowed(bytes);
    let header = match dec.read_header(&data) {
        Ok(h) => h,
        Err(e) => {
            let msg = message(&e);
            if kind(&msg) == Kind::Fatal {
                return Err(fatal(msg, true));
            }
            // A warning while reading the header: retry on a rebuilt header.
            data = Cow::Owned(sanitise(bytes, &walk).ok_or_else(|| Error::Malformed {
                format: F,
                detail: msg.to_lowercase(),
            })?);
            dec.read_header(&data).map_err(|e| Error::Malformed {
                format: F,
                detail: message(&e).to_lowercase(),
            })?
        }
    };
    let (width, height) = (header.width, header.height);
    limits.check(F, width as u64, height as u64)?;

    let cmyk = matches!(header.colorspace, Colorspace::CMYK | Colorspace::YCCK);
    let (pixel_format, channels) = if cmyk {
        (PixelFormat::CMYK, 4)
    } else {
        (PixelFormat::RGB, 3)
    };
    let mut buf = alloc_zeroed(F, (width * height * channels) as u64)?;
    let image = turbojpeg::Image {
        pixels: &mut buf[..],
        width,
        pitch: width * channels,
        height,
        format: pixel_format,
    };
    if let Err(e) = dec.decompress(&data, image) {
        let msg = message(&e);
        let complete = has_eoi_after_last_sos(&data);
        match kind(&msg) {
            Kind::Eof => {
                return Err(Error::Truncated {
                    format: F,
                    detail: "libjpeg: premature end of jpeg file".into(),
                });
            }
            Kind::Warning if complete => {} // the image is whole; Pillow keeps it too
            Kind::Warning => {
                return Err(Error::Truncated {
                    format: F,
                    detail: format!(
                        "no end-of-image marker after the last scan; libjpeg: {}",
                        msg.to_lowercase()
                    ),
                });
            }
            Kind::Fatal => return Err(fatal(msg, complete)),
        }
    }
    if cmyk {
        cmyk_to_rgb_in_place(&mut buf);
    }
    Ok(RgbImage {
        width,
        height,
        data: buf,
        format: F,
    })
}

/// `a * b / 255`, rounded, in Pillow's integer form (`MULDIV255` in `libImaging`).
#[inline]
fn muldiv255(a: u8, b: u8) -> u8 {
    let t = u32::from(a) * u32::from(b) + 128;
    (((t >> 8) + t) >> 8) as u8
}

/// Pillow reads four-component JPEGs as Adobe-style inverted CMYK (`CMYK;I`) and converts to RGB
/// with `R = (255 - C) * (255 - K) / 255`. With the stored (inverted) values `c' = 255 - C` that
/// is `c' * k' / 255`. Compacts 4-byte pixels to 3 in place.
fn cmyk_to_rgb_in_place(buf: &mut Vec<u8>) {
    let n = buf.len() / 4;
    for i in 0..n {
        let [c, m, y, k] = [buf[4 * i], buf[4 * i + 1], buf[4 * i + 2], buf[4 * i + 3]];
        buf[3 * i] = muldiv255(c, k);
        buf[3 * i + 1] = muldiv255(m, k);
        buf[3 * i + 2] = muldiv255(y, k);
    }
    buf.truncate(3 * n);
    buf.shrink_to_fit();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn muldiv255_is_rounded_division() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let exact = f64::from(a) * f64::from(b) / 255.0;
                assert_eq!(muldiv255(a, b), exact.round() as u8, "{a} * {b}");
            }
        }
    }

    #[test]
    fn warnings_are_told_from_errors() {
        assert_eq!(kind("Premature end of JPEG file"), Kind::Eof);
        assert_eq!(
            kind("Corrupt JPEG data: 3 extraneous bytes before marker 0xd9"),
            Kind::Warning
        );
        assert_eq!(kind("Bogus marker length"), Kind::Fatal);
    }

    #[test]
    fn walker_skips_junk_and_finds_the_frame() {
        // SOI, junk, APP0 (len 4), SOF0 8-bit 3x2 with 1 component, SOS.
        let bytes = [
            0xFF, 0xD8, 0x12, 0x34, 0xFF, 0xE0, 0x00, 0x04, 0xAA, 0xBB, 0xFF, 0xC0, 0x00, 0x0B,
            0x08, 0x00, 0x02, 0x00, 0x03, 0x01, 0x01, 0x11, 0x00, 0xFF, 0xDA, 0x00, 0x08,
        ];
        let s = scan(&bytes);
        assert_eq!(s.junk, 2);
        assert_eq!(scan(&bytes[..bytes.len() - 1]).end, End::RanOut);
        let mut whole = bytes.to_vec();
        whole.extend_from_slice(&[0; 6]);
        assert_eq!(scan(&whole).end, End::Scan(23));
        let f = s.frame.unwrap();
        assert_eq!((f.width, f.height, f.components), (3, 2, 1));
        assert_eq!(scan(&bytes[..12]).end, End::RanOut);
    }
}
