//! GIF's first frame, with Pillow's rules, through the `gif` crate (the decoder inside `image`).
//!
//! `image` composites the first frame onto a transparent-black logical screen and cannot see
//! palette indices, so it differs from Pillow wherever the first frame does not cover the whole
//! screen. Pillow's `GifImagePlugin` (13.0) does this for frame 0:
//!
//! * the canvas is the logical screen, grown to contain the frame if the frame reaches past it;
//! * the canvas starts as the transparency index when the frame has one, else index 0;
//! * the frame's indices are written as they are (transparent ones included);
//! * indices are looked up in the local palette, else the global one; an index past the end of
//!   the palette is black;
//! * a palette that is the identity grey ramp (entry `i` = `(i, i, i)`), or no palette at all,
//!   makes the image mode `L`: each index *is* the grey value.

use std::io::Cursor;

use crate::{Error, Format, Limits, RgbImage, alloc_zeroed};

const F: Format = Format::Gif;

fn map_err(e: gif::DecodingError) -> Error {
    match e {
        gif::DecodingError::UnexpectedEof => Error::Truncated {
            format: F,
            detail: "the data ends inside the first frame".into(),
        },
        gif::DecodingError::MemoryLimit | gif::DecodingError::OutOfMemory => Error::ResourceLimit {
            format: F,
            detail: e.to_string().to_lowercase(),
        },
        gif::DecodingError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::Truncated {
                format: F,
                detail: io.to_string().to_lowercase(),
            }
        }
        other => {
            let detail = other.to_string().to_lowercase();
            // The gif crate reports a frame whose data runs out as a format error.
            if detail.contains("truncated") || detail.contains("eof") {
                Error::Truncated { format: F, detail }
            } else {
                Error::Malformed { format: F, detail }
            }
        }
    }
}

/// Pillow's `_is_palette_needed`: false when entry `i` is `(i, i, i)` for every entry.
fn palette_needed(p: &[u8]) -> bool {
    p.chunks(3)
        .enumerate()
        .any(|(i, c)| c.iter().any(|&v| usize::from(v) != i))
}

/// What the frame's header says, before any pixel is decoded.
struct First {
    canvas: (u32, u32),
    rect: (u32, u32, u32, u32),
    transparent: Option<u8>,
    palette: Option<Vec<u8>>,
}

type Decoder<'a> = gif::Decoder<Cursor<&'a [u8]>>;

fn open<'a>(bytes: &'a [u8], limits: &Limits) -> Result<(Decoder<'a>, First), Error> {
    let mut opts = gif::DecodeOptions::new();
    opts.set_color_output(gif::ColorOutput::Indexed);
    let budget = limits.max_pixels.saturating_add(1).max(1);
    opts.set_memory_limit(gif::MemoryLimit::Bytes(
        std::num::NonZeroU64::new(budget).unwrap_or(std::num::NonZeroU64::MIN),
    ));
    let mut dec = opts.read_info(Cursor::new(bytes)).map_err(map_err)?;
    let (sw, sh) = (u32::from(dec.width()), u32::from(dec.height()));
    let global = dec
        .global_palette()
        .filter(|p| palette_needed(p))
        .map(<[u8]>::to_vec);
    let frame = dec
        .next_frame_info()
        .map_err(map_err)?
        .ok_or(Error::Malformed {
            format: F,
            detail: "no image descriptor before the trailer".into(),
        })?;
    let (x0, y0) = (u32::from(frame.left), u32::from(frame.top));
    let (w, h) = (u32::from(frame.width), u32::from(frame.height));
    let local = match &frame.palette {
        Some(p) if palette_needed(p) => Some(p.clone()),
        Some(_) => None, // an identity local palette makes the frame grey, even with a global one
        None => global,
    };
    let first = First {
        canvas: (sw.max(x0 + w), sh.max(y0 + h)),
        rect: (x0, y0, w, h),
        transparent: frame.transparent,
        palette: local,
    };
    Ok((dec, first))
}

/// The `gif` crate refuses a frame with neither a local nor a global colour table; Pillow reads
/// it as grey (mode `L`). A file without a global table is therefore decoded from a copy given
/// the identity grey table, which [`palette_needed`] then discards again: the same result.
fn with_grey_table(bytes: &[u8]) -> Option<Vec<u8>> {
    let flags = *bytes.get(10)?;
    if flags & 0x80 != 0 || bytes.len() < 13 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() + 768);
    out.extend_from_slice(&bytes[..13]);
    out[10] = flags | 0x87; // global table present, 2^(7+1) entries
    out.extend((0..=255u8).flat_map(|i| [i; 3]));
    out.extend_from_slice(&bytes[13..]);
    Some(out)
}

pub(crate) fn probe(bytes: &[u8], limits: &Limits) -> Result<(u32, u32), Error> {
    let patched = with_grey_table(bytes);
    Ok(open(patched.as_deref().unwrap_or(bytes), limits)?.1.canvas)
}

pub(crate) fn decode(bytes: &[u8], limits: &Limits) -> Result<RgbImage, Error> {
    let patched = with_grey_table(bytes);
    let (mut dec, first) = open(patched.as_deref().unwrap_or(bytes), limits)?;
    let (cw, ch) = first.canvas;
    limits.check(F, u64::from(cw), u64::from(ch))?;
    let (x0, y0, w, h) = first.rect;
    let mut indices = alloc_zeroed(F, u64::from(w) * u64::from(h))?;
    if !indices.is_empty() {
        dec.read_into_buffer(&mut indices).map_err(map_err)?;
    }

    let lookup = |i: u8| -> [u8; 3] {
        match &first.palette {
            None => [i; 3],
            Some(p) => {
                let at = 3 * usize::from(i);
                p.get(at..at + 3).map_or([0; 3], |c| [c[0], c[1], c[2]])
            }
        }
    };
    let (cw, ch, x0, y0, w) = (
        cw as usize,
        ch as usize,
        x0 as usize,
        y0 as usize,
        w as usize,
    );
    let mut data = alloc_zeroed(F, (cw * ch * 3) as u64)?;
    let fill = lookup(first.transparent.unwrap_or(0));
    for px in data.chunks_exact_mut(3) {
        px.copy_from_slice(&fill);
    }
    if w > 0 {
        for (r, row) in indices.chunks_exact(w).enumerate() {
            let start = ((y0 + r) * cw + x0) * 3;
            let out = &mut data[start..start + 3 * w];
            for (px, &i) in out.chunks_exact_mut(3).zip(row) {
                px.copy_from_slice(&lookup(i));
            }
        }
    }
    Ok(RgbImage {
        width: cw,
        height: ch,
        data,
        format: F,
    })
}
