//! Pillow's conversion rules, one small file per rule (bit depths, palettes, alpha, GIF frames,
//! BMP layouts, TIFF modes, JPEG subsampling and colour models, WebP variants).
//!
//! `tests/fixtures/gen_fixtures.py` writes the files and `bench/pillow_pixels.py` records the
//! MD5 of Pillow 13's `convert('RGB')` pixels in `tests/fixtures/pillow-rgb.tsv`. A row whose
//! "digest" starts with `error:` is a file Pillow refuses; we must refuse it too.

mod common;

use std::collections::BTreeMap;

use common::{fixtures, md5_hex, read_tsv};
use media::{Error, Limits};

/// Files where we knowingly differ from Pillow, and why. Kept short and explained.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "tiff/cmyk-random.tif",
        "image converts CMYK with truncating float maths, pillow rounds: ±1",
    ),
    (
        "tiff/grey-jpeg.tif",
        "JPEG-in-TIFF is decoded by zune-jpeg, not libjpeg-turbo",
    ),
    ("tiff/float.tif", "image has no 32-bit float grey TIFF"),
    ("tiff/int32.tif", "image has no signed 32-bit TIFF"),
    (
        "tiff/la.tif",
        "image has no grey + alpha TIFF without an ExtraSamples tag",
    ),
    ("tiff/palette.tif", "image has no palette TIFF"),
];

#[test]
fn every_fixture_decodes_to_pillows_pixels() {
    let dir = fixtures();
    let table = read_tsv(&dir.join("pillow-rgb.tsv"));
    let known: BTreeMap<_, _> = KNOWN_DIFFERENCES.iter().copied().collect();
    let on_disk = common::files_below(&dir.join("images"));
    assert_eq!(
        on_disk,
        table.iter().map(|r| r["path"].clone()).collect::<Vec<_>>(),
        "pillow-rgb.tsv must list exactly the files in tests/fixtures/images (rerun the scripts)"
    );

    let mut failures = Vec::new();
    for row in &table {
        let rel = &row["path"];
        let bytes = std::fs::read(dir.join("images").join(rel)).unwrap();
        let want = &row["rgb_md5"];
        let got = media::decode_rgb(&bytes, &Limits::default());
        let verdict = match (&got, want.strip_prefix("error: ")) {
            (Err(_), Some(_)) => None,
            (Ok(img), Some(pillow_err)) => Some(format!(
                "decoded {}×{} but pillow refuses it ({pillow_err})",
                img.width, img.height
            )),
            (Err(e), None) => Some(format!("failed ({e}), pillow decodes it")),
            (Ok(img), None) => {
                let size = (img.width.to_string(), img.height.to_string());
                let md5 = md5_hex(&img.data);
                if size != (row["width"].clone(), row["height"].clone()) {
                    Some(format!(
                        "size {}×{}, pillow {}×{}",
                        size.0, size.1, row["width"], row["height"]
                    ))
                } else if &md5 != want {
                    Some(format!("pixels differ from pillow's (md5 {md5})"))
                } else {
                    None
                }
            }
        };
        match (verdict, known.get(rel.as_str())) {
            (Some(v), None) => failures.push(format!("{rel}: {v}")),
            (None, Some(_)) => failures.push(format!(
                "{rel}: now matches pillow; remove it from KNOWN_DIFFERENCES"
            )),
            _ => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn probe_agrees_with_decode_on_every_fixture() {
    let dir = fixtures();
    for rel in common::files_below(&dir.join("images")) {
        let bytes = std::fs::read(dir.join("images").join(&rel)).unwrap();
        let limits = Limits::default();
        if let Ok(img) = media::decode_rgb(&bytes, &limits) {
            let info = media::probe(&bytes, &limits).unwrap_or_else(|e| panic!("{rel}: {e}"));
            assert_eq!(info.format, img.format, "{rel}");
            assert_eq!(
                (info.width as usize, info.height as usize),
                (img.width, img.height),
                "{rel}"
            );
            assert_eq!(media::sniff(&bytes), Some(img.format), "{rel}");
        }
    }
}

#[test]
fn missing_eoi_is_truncated_like_pillow() {
    let bytes = std::fs::read(fixtures().join("images/jpeg/missing-eoi.jpg")).unwrap();
    let e = media::decode_rgb(&bytes, &Limits::default()).unwrap_err();
    assert!(matches!(e, Error::Truncated { .. }), "{e:?}");
}
