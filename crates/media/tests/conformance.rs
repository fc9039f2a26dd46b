//! End to end against the PDQ conformance table: bytes → `decode_rgb` → PDQ must give Meta's
//! reference hashes, and the pixels must be Pillow's (MD5 from `bench/pillow_pixels.py`).
//!
//! Images come from `testdata/pdq-conformance/images/`; the few left out of the repository for
//! size are read from `../shared/pdq-conformance/images/` next to the workspace when present.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use common::{md5_hex, read_tsv, workspace_root};
use media::Limits;
use pdq::{Dihedral, Hash256, Hasher, Pixels};

const DIHEDRAL_COLUMNS: [&str; 8] = [
    "pdq",
    "pdq_rot90",
    "pdq_rot180",
    "pdq_rot270",
    "pdq_flipx",
    "pdq_flipy",
    "pdq_flipplus1",
    "pdq_flipminus1",
];

fn find_image(rel: &str) -> Option<PathBuf> {
    let root = workspace_root();
    [
        root.join("testdata/pdq-conformance/images").join(rel),
        root.join("../shared/pdq-conformance/images").join(rel),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

#[test]
fn decoded_pixels_and_hashes_match_pillow_and_meta() {
    let root = workspace_root();
    let expected = read_tsv(&root.join("testdata/pdq-conformance/expected.tsv"));
    let pillow: HashMap<String, HashMap<String, String>> =
        read_tsv(&root.join("testdata/pdq-conformance/pillow-rgb.tsv"))
            .into_iter()
            .map(|r| (r["path"].clone(), r))
            .collect();
    assert!(
        expected.len() >= 70,
        "expected.tsv has {} rows",
        expected.len()
    );
    for (name, col) in Dihedral::NAMES.iter().zip(DIHEDRAL_COLUMNS).skip(1) {
        assert_eq!(
            col,
            format!("pdq_{name}"),
            "column order must follow Dihedral::NAMES"
        );
    }

    let mut hasher = Hasher::new();
    let (mut checked, mut skipped, mut failures) = (0, Vec::new(), Vec::new());
    for row in &expected {
        let rel = &row["path"];
        let Some(path) = find_image(rel) else {
            skipped.push(rel.clone());
            continue;
        };
        let bytes = std::fs::read(&path).unwrap();
        let img = match media::decode_rgb(&bytes, &Limits::default()) {
            Ok(img) => img,
            Err(e) => {
                failures.push(format!("{rel}: decode failed: {e}"));
                continue;
            }
        };
        checked += 1;
        let (w, h): (usize, usize) = (
            row["width"].parse().unwrap(),
            row["height"].parse().unwrap(),
        );
        if (img.width, img.height) != (w, h) {
            failures.push(format!(
                "{rel}: size {}×{}, expected {w}×{h}",
                img.width, img.height
            ));
            continue;
        }
        let md5 = md5_hex(&img.data);
        let want_md5 = pillow.get(rel).map(|r| r["rgb_md5"].as_str());
        if want_md5 != Some(md5.as_str()) {
            failures.push(format!("{rel}: rgb md5 {md5}, pillow {want_md5:?}"));
        }

        let px = Pixels::rgb(&img.data, img.width, img.height).unwrap();
        let pdq = hasher.hash(&px);
        let want: Hash256 = row["pdq"].parse().unwrap();
        let want_q: u8 = row["quality"].parse().unwrap();
        if pdq.hash != want || pdq.quality != want_q {
            failures.push(format!(
                "{rel}: pdq {} bits off, quality {} (expected {want_q})",
                pdq.hash.distance(&want),
                pdq.quality
            ));
        }
        let dih = hasher.hash_dihedral(&px);
        for (i, col) in DIHEDRAL_COLUMNS.iter().enumerate() {
            let want: Hash256 = row[*col].parse().unwrap();
            if dih.hashes[i] != want {
                failures.push(format!(
                    "{rel}: {} {} bits off",
                    Dihedral::NAMES[i],
                    dih.hashes[i].distance(&want)
                ));
            }
        }
        if dih.quality != want_q {
            failures.push(format!("{rel}: dihedral quality {}", dih.quality));
        }
    }

    if skipped.is_empty() {
        println!("conformance: all {checked} rows checked");
    } else {
        println!(
            "conformance: {checked} rows checked; {} skipped because the image is in neither \
             testdata/pdq-conformance/images nor ../shared/pdq-conformance/images: {}",
            skipped.len(),
            skipped.join(", ")
        );
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked >= 70, "only {checked} rows had an image");
}
