//! Inputs the fuzzer (`fuzz/`, target `decode`) found, kept so they stay fixed.
//!
//! Each file in `tests/fuzz-regressions/` once made a decoder panic or misbehave. `media` catches
//! panics as a last resort (they come back as `Error::Malformed` with "panicked" in the
//! message), so the test also requires that no panic happened at all: the fix is in how the
//! input reaches the decoder, not in the safety net.

mod common;

use media::{Error, Limits};

/// The fuzz target's limits.
const FUZZ_LIMITS: Limits = Limits {
    max_bytes: 1 << 20,
    max_width: 4096,
    max_height: 4096,
    max_pixels: 4_000_000,
};

#[test]
fn fuzz_findings_decode_without_panicking() {
    let dir = common::fixtures().join("../fuzz-regressions");
    let files = common::files_below(&dir);
    assert!(!files.is_empty());
    for rel in files {
        let bytes = std::fs::read(dir.join(&rel)).unwrap();
        for limits in [FUZZ_LIMITS, Limits::default()] {
            let decoded = media::decode_rgb(&bytes, &limits);
            let probed = media::probe(&bytes, &limits);
            for e in [decoded.as_ref().err(), probed.as_ref().err()]
                .into_iter()
                .flatten()
            {
                assert!(!e.to_string().contains("panicked"), "{rel}: {e}");
            }
            if let Ok(img) = decoded {
                assert_eq!(img.data.len(), img.width * img.height * 3, "{rel}");
            }
        }
    }
}

/// `png` 0.18.1 indexes past the end of a PLTE chunk whose length is not a multiple of 3.
#[test]
fn png_palette_with_a_stray_byte() {
    let bytes = std::fs::read(
        common::fixtures().join("../fuzz-regressions/png-plte-not-multiple-of-3.png"),
    )
    .unwrap();
    match media::decode_rgb(&bytes, &FUZZ_LIMITS) {
        Ok(_) => {}
        Err(Error::Malformed { detail, .. }) => assert!(!detail.contains("panicked"), "{detail}"),
        Err(e) => panic!("{e:?}"),
    }
}
