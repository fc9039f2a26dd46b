//! Hashes a raw, packed 8-bit RGB file (for example one written by Pillow's `tobytes()`).
//!
//! Run with `cargo run -p schoon-pdq --example hash_raw -- image.rgb WIDTH HEIGHT`.
//! Prints the PDQ hash and quality from the fast path and from the plain reference port.

use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, w, h] = args.as_slice() else {
        return Err("usage: hash_raw FILE WIDTH HEIGHT".into());
    };
    let data = std::fs::read(path)?;
    let pixels = pdq::Pixels::rgb(&data, w.parse()?, h.parse()?)?;
    let fast = pdq::Hasher::new().hash(&pixels);
    let reference = pdq::reference::hash(&pixels)?;
    println!("fast      {} q{}", fast.hash, fast.quality);
    println!("reference {} q{}", reference.hash, reference.quality);
    Ok(())
}
