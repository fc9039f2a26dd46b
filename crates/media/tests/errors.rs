//! Hostile and broken input: every failure is a specific `Error` variant, never a panic.
//!
//! Decompression bombs are built here, byte by byte: tiny files whose headers claim 60000×60000
//! pixels (or the format's maximum). They must be refused from the header, before any pixel
//! memory is allocated.

mod common;

use common::{files_below, fixtures, workspace_root};
use media::{Error, Format, Limits};

fn decode(bytes: &[u8]) -> Result<media::RgbImage, Error> {
    media::decode_rgb(bytes, &Limits::default())
}

// ---------------------------------------------------------------------------------------------
// Byte builders.

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(body);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    out
}

/// A PNG whose IHDR says `w`×`h` RGB8, with a small (wrong-sized) IDAT.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(png_chunk(b"IHDR", &ihdr));
    // zlib stream of a few zero bytes (stored block).
    out.extend(png_chunk(
        b"IDAT",
        &[
            0x78, 0x01, 0x01, 0x04, 0x00, 0xFB, 0xFF, 0, 0, 0, 0, 0x00, 0x04, 0x00, 0x01,
        ],
    ));
    out.extend(png_chunk(b"IEND", &[]));
    out
}

/// A baseline JPEG header (SOF0, 8-bit, `components` channels) claiming `w`×`h`, with an
/// empty scan.
fn jpeg_claiming(w: u16, h: u16, precision: u8, components: u8) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    let sof_len = 8 + 3 * u16::from(components);
    out.extend_from_slice(&[0xFF, 0xC0]);
    out.extend_from_slice(&sof_len.to_be_bytes());
    out.push(precision);
    out.extend_from_slice(&h.to_be_bytes());
    out.extend_from_slice(&w.to_be_bytes());
    out.push(components);
    for c in 1..=components {
        out.extend_from_slice(&[c, 0x11, 0]);
    }
    let sos_len = 6 + 2 * u16::from(components);
    out.extend_from_slice(&[0xFF, 0xDA]);
    out.extend_from_slice(&sos_len.to_be_bytes());
    out.push(components);
    for c in 1..=components {
        out.extend_from_slice(&[c, 0]);
    }
    out.extend_from_slice(&[0, 63, 0]);
    out.extend_from_slice(&[0x00; 16]);
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

fn gif_claiming(w: u16, h: u16) -> Vec<u8> {
    let mut out = b"GIF89a".to_vec();
    out.extend_from_slice(&w.to_le_bytes());
    out.extend_from_slice(&h.to_le_bytes());
    out.extend_from_slice(&[0x80, 0, 0]); // global table of 2 entries
    out.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
    out.push(0x2C);
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&w.to_le_bytes());
    out.extend_from_slice(&h.to_le_bytes());
    out.push(0);
    out.extend_from_slice(&[2, 2, 0x4C, 0x01, 0, 0x3B]);
    out
}

/// A lossless WebP (VP8L) header claiming `w`×`h` (at most 16384 each).
fn webp_claiming(w: u32, h: u32) -> Vec<u8> {
    let bits = (w - 1) | ((h - 1) << 14);
    let mut vp8l = vec![0x2F];
    vp8l.extend_from_slice(&bits.to_le_bytes());
    vp8l.extend_from_slice(&[0; 8]);
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&((4 + 8 + vp8l.len()) as u32).to_le_bytes());
    out.extend_from_slice(b"WEBPVP8L");
    out.extend_from_slice(&(vp8l.len() as u32).to_le_bytes());
    out.extend(vp8l);
    out
}

fn bmp_claiming(w: i32, h: i32, bpp: u16) -> Vec<u8> {
    let mut out = b"BM".to_vec();
    out.extend_from_slice(&(54u32 + 64).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&54u32.to_le_bytes());
    out.extend_from_slice(&40u32.to_le_bytes());
    out.extend_from_slice(&w.to_le_bytes());
    out.extend_from_slice(&h.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&bpp.to_le_bytes());
    out.extend_from_slice(&[0; 24]);
    out.extend_from_slice(&[0x55; 64]);
    out
}

/// A little-endian TIFF with one strip, 8-bit grey, claiming `w`×`h`.
fn tiff_claiming(w: u32, h: u32) -> Vec<u8> {
    let entries: [(u16, u16, u32); 9] = [
        (256, 4, w),                   // ImageWidth, LONG
        (257, 4, h),                   // ImageLength
        (258, 3, 8),                   // BitsPerSample, SHORT
        (259, 3, 1),                   // Compression: none
        (262, 3, 1),                   // Photometric: min-is-black
        (273, 4, 200),                 // StripOffsets
        (277, 3, 1),                   // SamplesPerPixel
        (278, 4, h),                   // RowsPerStrip
        (279, 4, w.saturating_mul(h)), // StripByteCounts
    ];
    let mut out = b"II*\0".to_vec();
    out.extend_from_slice(&8u32.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for (tag, kind, value) in entries {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        if kind == 3 {
            out.extend_from_slice(&(value as u16).to_le_bytes());
            out.extend_from_slice(&[0, 0]);
        } else {
            out.extend_from_slice(&value.to_le_bytes());
        }
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    out.resize(264, 0x80);
    out
}

// ---------------------------------------------------------------------------------------------
// Empty, unknown, oversized.

#[test]
fn empty_input_is_empty() {
    assert_eq!(decode(b"").unwrap_err(), Error::Empty);
    assert_eq!(
        media::probe(b"", &Limits::default()).unwrap_err(),
        Error::Empty
    );
    assert!(Error::Empty.is_malformed());
}

#[test]
fn unknown_formats_are_named_by_their_first_bytes() {
    for bytes in [
        &b"hello, world"[..],
        b"%PDF-1.7\n",
        b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00", // AVIF: not decoded
        b"\x00\x00\x00\x18ftypheic",                 // HEIC: not decoded
        b"BMW is a car brand, not a bitmap",         // "BM" but no DIB header size
        b"RIFF\x10\x00\x00\x00WAVEfmt ",             // RIFF but not WebP
        b"\xFF\xD8",                                 // too short to be a JPEG
        &[0u8; 64],
    ] {
        let e = decode(bytes).unwrap_err();
        let Error::UnknownFormat { found } = &e else {
            panic!("{bytes:?}: {e:?}");
        };
        assert_eq!(found.len(), 2 * bytes.len().min(12), "{e}");
        assert!(e.is_unsupported() && !e.is_malformed());
        assert_eq!(media::sniff(bytes), None);
        assert!(matches!(
            media::probe(bytes, &Limits::default()),
            Err(Error::UnknownFormat { .. })
        ));
    }
}

#[test]
fn sniffing_uses_magic_bytes_only() {
    assert_eq!(media::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(Format::Jpeg));
    assert_eq!(media::sniff(b"\x89PNG\r\n\x1a\n"), Some(Format::Png));
    assert_eq!(media::sniff(b"GIF87a"), Some(Format::Gif));
    assert_eq!(media::sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(Format::WebP));
    assert_eq!(media::sniff(b"MM\0*\0\0\0\x08"), Some(Format::Tiff));
    assert_eq!(media::sniff(b"II+\0\x08\0\0\0"), Some(Format::Tiff));
    assert_eq!(media::sniff(&bmp_claiming(1, 1, 24)), Some(Format::Bmp));
    assert_eq!(media::sniff(b"BM"), Some(Format::Bmp)); // too short to tell: let the decoder say
    assert_eq!(Format::WebP.to_string(), "webp");
    assert_eq!(Format::Jpeg.mime_type(), "image/jpeg");
}

#[test]
fn input_over_max_bytes_is_refused_before_sniffing() {
    let png = png_claiming(1, 1);
    let limits = Limits {
        max_bytes: png.len() as u64 - 1,
        ..Limits::default()
    };
    let want = Error::InputTooLarge {
        found: png.len() as u64,
        max: png.len() as u64 - 1,
    };
    assert_eq!(media::decode_rgb(&png, &limits).unwrap_err(), want);
    assert_eq!(media::probe(&png, &limits).unwrap_err(), want);
    assert!(want.is_too_large());
    // Even garbage is measured before it is sniffed.
    assert!(matches!(
        media::decode_rgb(
            &[7; 200],
            &Limits {
                max_bytes: 100,
                ..Limits::default()
            }
        ),
        Err(Error::InputTooLarge {
            found: 200,
            max: 100
        })
    ));
}

// ---------------------------------------------------------------------------------------------
// Decompression bombs.

fn assert_bomb(name: &str, bytes: &[u8], format: Format, w: u64, h: u64) {
    let limits = Limits::default();
    for (what, result) in [
        ("decode", media::decode_rgb(bytes, &limits).map(|_| ())),
        ("probe", media::probe(bytes, &limits).map(|_| ())),
    ] {
        match result {
            Err(Error::ImageTooLarge {
                format: f,
                width,
                height,
                max_width,
                max_height,
                max_pixels,
            }) => {
                assert_eq!((f, width, height), (format, w, h), "{name} {what}");
                assert_eq!(
                    (max_width, max_height, max_pixels),
                    (limits.max_width, limits.max_height, limits.max_pixels)
                );
            }
            other => panic!("{name} {what}: expected ImageTooLarge, got {other:?}"),
        }
    }
    assert!(bytes.len() < 1024, "{name}: a bomb is a small file");
}

#[test]
fn decompression_bombs_are_refused_from_the_header() {
    assert_bomb(
        "png",
        &png_claiming(60_000, 60_000),
        Format::Png,
        60_000,
        60_000,
    );
    assert_bomb(
        "png wide",
        &png_claiming(1 << 20, 1),
        Format::Png,
        1 << 20,
        1,
    );
    assert_bomb(
        "jpeg",
        &jpeg_claiming(60_000, 60_000, 8, 3),
        Format::Jpeg,
        60_000,
        60_000,
    );
    assert_bomb(
        "jpeg grey",
        &jpeg_claiming(65_535, 65_535, 8, 1),
        Format::Jpeg,
        65_535,
        65_535,
    );
    assert_bomb(
        "gif",
        &gif_claiming(60_000, 60_000),
        Format::Gif,
        60_000,
        60_000,
    );
    // 16000, not the format's maximum 16384: image-webp 0.2.4 reads a VP8L side of 16384 as 0.
    assert_bomb(
        "webp",
        &webp_claiming(16_000, 16_000),
        Format::WebP,
        16_000,
        16_000,
    );
    assert_bomb(
        "bmp",
        &bmp_claiming(60_000, 60_000, 24),
        Format::Bmp,
        60_000,
        60_000,
    );
    assert_bomb(
        "tiff",
        &tiff_claiming(60_000, 60_000),
        Format::Tiff,
        60_000,
        60_000,
    );
}

#[test]
fn limits_are_configurable() {
    let bytes = std::fs::read(fixtures().join("images/png/rgba8.png")).unwrap();
    let small = Limits {
        max_width: 36,
        ..Limits::default()
    };
    assert!(matches!(
        media::decode_rgb(&bytes, &small),
        Err(Error::ImageTooLarge {
            width: 37,
            height: 29,
            max_width: 36,
            ..
        })
    ));
    let few = Limits {
        max_pixels: 37 * 29 - 1,
        ..Limits::default()
    };
    for format in [
        "jpeg/rgb-420.jpg",
        "gif/partial.gif",
        "webp/lossy.webp",
        "bmp/rgb.bmp",
        "tiff/rgb.tif",
    ] {
        let bytes = std::fs::read(fixtures().join("images").join(format)).unwrap();
        assert!(
            matches!(
                media::decode_rgb(&bytes, &few),
                Err(Error::ImageTooLarge { .. })
            ),
            "{format}"
        );
        let exact = Limits {
            max_pixels: 37 * 29,
            max_width: 37,
            max_height: 29,
            ..Limits::default()
        };
        assert!(media::decode_rgb(&bytes, &exact).is_ok(), "{format}");
    }
}

#[test]
fn a_gif_frame_outside_the_screen_counts_towards_the_limits() {
    // Pillow grows the canvas to hold the frame; the limit applies to the grown size.
    let bytes = std::fs::read(fixtures().join("images/gif/frame-outside-screen.gif")).unwrap();
    let limits = Limits {
        max_width: 20,
        ..Limits::default()
    };
    assert!(matches!(
        media::decode_rgb(&bytes, &limits),
        Err(Error::ImageTooLarge {
            width: 23,
            height: 16,
            ..
        })
    ));
}

// ---------------------------------------------------------------------------------------------
// Truncation.

/// Small JPEG and PNG files: this crate's fixtures and the small conformance images.
fn jpegs_and_pngs() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for base in [
        fixtures().join("images"),
        workspace_root().join("testdata/pdq-conformance/images"),
    ] {
        for rel in files_below(&base) {
            let bytes = std::fs::read(base.join(&rel)).unwrap();
            // Frames after an APNG's default image are not read, and bytes after a JPEG's EOI
            // are ignored, so cutting those off changes nothing.
            let tail_unused = rel.ends_with("apng.png") || rel.ends_with("trailing-garbage.jpg");
            if bytes.len() <= 64 * 1024
                && !tail_unused
                && matches!(media::sniff(&bytes), Some(Format::Jpeg | Format::Png))
                && decode(&bytes).is_ok()
            {
                out.push((rel, bytes));
            }
        }
    }
    out
}

#[test]
fn every_jpeg_and_png_truncated_anywhere_is_truncated() {
    let files = jpegs_and_pngs();
    assert!(files.len() >= 40, "only {} files", files.len());
    let mut checked = 0;
    for (rel, bytes) in &files {
        let n = bytes.len();
        // The PNG signature is 8 bytes, a JPEG needs 3 to be sniffed; then every header field,
        // then points through the compressed data. PNGs are whole once the pixels are: like
        // Pillow, a cut inside the final IEND chunk still decodes, so stop before it.
        let end = if rel.ends_with(".png") { n - 12 } else { n };
        let mut cuts: Vec<usize> = (8..64.min(end)).collect();
        cuts.extend((1..16).map(|k| end * k / 16));
        cuts.extend([end - 1, end.saturating_sub(2)]);
        cuts.retain(|&c| c >= 8 && c < end);
        cuts.dedup();
        for cut in cuts {
            match decode(&bytes[..cut]) {
                Err(Error::Truncated { format, .. }) => {
                    assert_eq!(Some(format), media::sniff(bytes));
                    checked += 1;
                }
                other => panic!("{rel} cut at {cut} of {n}: expected Truncated, got {other:?}"),
            }
        }
    }
    assert!(checked > 3000, "{checked} cuts");
}

#[test]
fn a_png_cut_inside_iend_still_decodes_like_pillow() {
    let bytes = std::fs::read(fixtures().join("images/png/rgba8.png")).unwrap();
    let whole = decode(&bytes).unwrap();
    for cut in 1..=12 {
        assert_eq!(
            decode(&bytes[..bytes.len() - cut]).unwrap(),
            whole,
            "cut {cut}"
        );
    }
}

#[test]
fn other_formats_truncated_are_truncated() {
    for rel in files_below(&fixtures().join("images")) {
        let bytes = std::fs::read(fixtures().join("images").join(&rel)).unwrap();
        let format = media::sniff(&bytes).unwrap();
        if matches!(format, Format::Jpeg | Format::Png)
            || decode(&bytes).is_err()
            || rel.contains("animated")
        {
            continue;
        }
        for k in 1..8 {
            let cut = 16 + (bytes.len() - 16) * k / 8;
            match decode(&bytes[..cut]) {
                Err(Error::Truncated { format: f, .. }) => assert_eq!(f, format),
                other => panic!("{rel} cut at {cut}: expected Truncated, got {other:?}"),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Malformed and unsupported.

#[test]
fn corrupt_png_checksums_and_data_are_malformed() {
    let good = std::fs::read(fixtures().join("images/png/rgb8-trns.png")).unwrap();
    // IHDR CRC (bytes 29..33).
    let mut bad = good.clone();
    bad[30] ^= 0xFF;
    assert!(
        matches!(
            decode(&bad),
            Err(Error::Malformed {
                format: Format::Png,
                ..
            })
        ),
        "{:?}",
        decode(&bad)
    );
    // Zero width.
    let mut zero = png_claiming(0, 5);
    zero.truncate(33);
    zero.extend(png_chunk(b"IEND", &[]));
    assert!(
        matches!(
            decode(&zero),
            Err(Error::Malformed {
                format: Format::Png,
                ..
            })
        ),
        "{:?}",
        decode(&zero)
    );
    // Garbage after the signature.
    let mut junk = b"\x89PNG\r\n\x1a\n".to_vec();
    junk.extend_from_slice(b"this is not a chunk stream at all, just text");
    assert!(
        matches!(
            decode(&junk),
            Err(Error::Malformed {
                format: Format::Png,
                ..
            })
        ),
        "{:?}",
        decode(&junk)
    );
}

#[test]
fn corrupt_jpeg_headers_are_malformed_or_unsupported() {
    // 12-bit and 2-channel JPEGs: Pillow refuses them too.
    assert!(matches!(
        decode(&jpeg_claiming(8, 8, 12, 3)),
        Err(Error::Unsupported {
            format: Format::Jpeg,
            ..
        })
    ));
    assert!(matches!(
        decode(&jpeg_claiming(8, 8, 8, 2)),
        Err(Error::Unsupported {
            format: Format::Jpeg,
            ..
        })
    ));
    // Zero height (a DNL stream, which libjpeg does not support either).
    assert!(matches!(
        decode(&jpeg_claiming(8, 0, 8, 3)),
        Err(Error::Malformed {
            format: Format::Jpeg,
            ..
        })
    ));
    // A tables-only ("abbreviated") stream: no image at all.
    let tables_only = [0xFF, 0xD8, 0xFF, 0xFE, 0x00, 0x04, b'h', b'i', 0xFF, 0xD9];
    assert!(matches!(
        decode(&tables_only),
        Err(Error::Malformed {
            format: Format::Jpeg,
            ..
        })
    ));
    // A segment length below 2.
    let bad_len = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x01, 0xFF, 0xD9];
    assert!(matches!(
        decode(&bad_len),
        Err(Error::Malformed {
            format: Format::Jpeg,
            ..
        })
    ));
    // No Huffman tables for the scan: libjpeg's fatal error comes through as Malformed.
    assert!(matches!(
        decode(&jpeg_claiming(8, 8, 8, 3)),
        Err(Error::Malformed {
            format: Format::Jpeg,
            ..
        })
    ));
}

#[test]
fn jpeg_warnings_keep_the_image_like_pillow() {
    // Junk between header segments makes libjpeg warn ("extraneous bytes before marker"); the
    // pixels are those of the clean file, and Pillow keeps them too.
    let good = std::fs::read(fixtures().join("images/jpeg/rgb-420.jpg")).unwrap();
    let app0_end = 4 + usize::from(u16::from_be_bytes([good[4], good[5]]));
    assert_eq!(good[app0_end], 0xFF);
    let mut junk = good[..app0_end].to_vec();
    junk.extend_from_slice(b"\x00junk");
    junk.extend_from_slice(&good[app0_end..]);
    assert_eq!(decode(&junk).unwrap(), decode(&good).unwrap());
    // Trailing bytes after EOI are ignored.
    let mut tail = good.clone();
    tail.extend_from_slice(b"trailing");
    assert_eq!(decode(&tail).unwrap(), decode(&good).unwrap());
}

#[test]
fn bmp_bitfields_pillow_cannot_read_are_unsupported() {
    let mut bmp = bmp_claiming(4, 4, 16);
    bmp[30] = 3; // BI_BITFIELDS
    bmp.truncate(54);
    for mask in [0x0F00u32, 0x00F0, 0x000F] {
        bmp.extend_from_slice(&mask.to_le_bytes());
    }
    bmp.extend_from_slice(&[0x11; 32]);
    assert!(
        matches!(
            decode(&bmp),
            Err(Error::Unsupported {
                format: Format::Bmp,
                ..
            })
        ),
        "{:?}",
        decode(&bmp)
    );
}

#[test]
fn garbage_after_every_signature_is_an_error_not_a_panic() {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut noise = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    };
    let heads: [&[u8]; 8] = [
        b"\xFF\xD8\xFF",
        b"\x89PNG\r\n\x1a\n",
        b"GIF89a",
        b"RIFF\x00\x01\x00\x00WEBP",
        b"II*\0",
        b"MM\0*",
        b"BM\x00\x01\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00",
        b"GIF87a",
    ];
    for head in heads {
        for len in [0, 1, 7, 50, 500, 5000] {
            let mut bytes = head.to_vec();
            bytes.extend(noise(len));
            let format = media::sniff(&bytes).unwrap();
            let e = decode(&bytes).unwrap_err();
            assert_eq!(e.format(), Some(format), "{e:?}");
            assert!(
                e.is_malformed() || e.is_unsupported() || e.is_too_large(),
                "{e:?}"
            );
            assert!(media::probe(&bytes, &Limits::default()).is_err() || !e.is_unsupported());
        }
    }
}

#[test]
fn error_messages_are_lower_case_and_name_the_fault() {
    let cases = [
        decode(b"").unwrap_err(),
        decode(b"nope").unwrap_err(),
        decode(&png_claiming(60_000, 60_000)).unwrap_err(),
        decode(&jpeg_claiming(8, 8, 12, 3)).unwrap_err(),
        decode(&b"\x89PNG\r\n\x1a\n\0\0"[..]).unwrap_err(),
    ];
    let words = [
        "empty",
        "unknown format",
        "image too large",
        "unsupported jpeg",
        "truncated png",
    ];
    for (e, word) in cases.iter().zip(words) {
        let msg = e.to_string();
        assert!(msg.starts_with(word), "{msg}");
        assert!(msg.chars().next().unwrap().is_lowercase(), "{msg}");
    }
}
