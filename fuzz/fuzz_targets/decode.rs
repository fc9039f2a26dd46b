//! Any bytes through `media::probe` and `media::decode_rgb`, with small limits.
//!
//! A decode must return pixels or an `Error`, never panic (libfuzzer-sys aborts on a panic even
//! when `media` catches it, so panics inside third-party decoders are found too), and the
//! result must be self-consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::{Error, Limits};

const LIMITS: Limits = Limits {
    max_bytes: 1 << 20,
    max_width: 4096,
    max_height: 4096,
    max_pixels: 4_000_000,
};

fuzz_target!(|data: &[u8]| {
    let probed = media::probe(data, &LIMITS);
    match media::decode_rgb(data, &LIMITS) {
        Ok(img) => {
            assert_eq!(img.data.len(), img.width * img.height * 3);
            assert!(img.width >= 1 && img.height >= 1);
            assert!(img.width <= 4096 && img.height <= 4096);
            assert!((img.width * img.height) as u64 <= LIMITS.max_pixels);
            assert_eq!(media::sniff(data), Some(img.format));
            // A file that decodes has a readable header of the same size.
            let info = probed.expect("probe fails on a file that decodes");
            assert_eq!(
                (info.width as usize, info.height as usize),
                (img.width, img.height)
            );
        }
        Err(e) => {
            // Every error renders, and names a format once one was sniffed.
            assert!(!e.to_string().is_empty());
            if !matches!(
                e,
                Error::Empty | Error::UnknownFormat { .. } | Error::InputTooLarge { .. }
            ) {
                assert_eq!(e.format(), media::sniff(data));
            }
        }
    }
});
