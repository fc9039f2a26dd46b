//! The three exact digests hash lists use (MD5, SHA-1, SHA-256), computed in one pass.
//!
//! Police and hotline lists hold exact digests of known files next to perceptual hashes. A
//! hoster's scan reads each file once: [`MultiHasher`] takes the bytes as they are read (the same
//! buffer the decoder later gets) and updates all three digests, so no file is read twice.
//!
//! ```
//! let d = digest::digest(b"abc");
//! assert_eq!(d.md5_hex(), "900150983cd24fb0d6963f7d28e17f72");
//! assert_eq!(d.sha1_hex(), "a9993e364706816aba3e25717850c26c9cd0d89d");
//! assert_eq!(
//!     d.sha256_hex(),
//!     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
//! );
//!
//! // Streaming: feed chunks as they arrive.
//! let mut h = digest::MultiHasher::new();
//! h.update(b"a");
//! h.update(b"bc");
//! assert_eq!(h.finish(), d);
//! ```
//!
//! The work is done by the RustCrypto crates (`md-5`, `sha1`, `sha2`), which pick SHA-NI and
//! other CPU extensions at run time. This crate only adds the one-pass API and the types the rest
//! of Schoon passes around ([`Digests`], [`DigestKind`], parsing of hex digests).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use md5::Digest as _;
use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;

/// The exact digest types Schoon understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DigestKind {
    /// MD5, 16 bytes.
    Md5,
    /// SHA-1, 20 bytes.
    Sha1,
    /// SHA-256, 32 bytes.
    Sha256,
}

impl DigestKind {
    /// All kinds, in the order Schoon prints them.
    pub const ALL: [DigestKind; 3] = [DigestKind::Md5, DigestKind::Sha1, DigestKind::Sha256];

    /// Length in bytes.
    pub const fn byte_len(self) -> usize {
        match self {
            DigestKind::Md5 => 16,
            DigestKind::Sha1 => 20,
            DigestKind::Sha256 => 32,
        }
    }

    /// The lower-case name used in files and the API: `md5`, `sha1`, `sha256`.
    pub const fn name(self) -> &'static str {
        match self {
            DigestKind::Md5 => "md5",
            DigestKind::Sha1 => "sha1",
            DigestKind::Sha256 => "sha256",
        }
    }
}

impl fmt::Display for DigestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DigestKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "md5" => Ok(DigestKind::Md5),
            "sha1" => Ok(DigestKind::Sha1),
            "sha256" => Ok(DigestKind::Sha256),
            _ => Err(Error::UnknownKind {
                found: s.to_owned(),
            }),
        }
    }
}

/// Why a digest string or name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not one of `md5`, `sha1`, `sha256`.
    #[error("unknown digest type {found:?}, expected md5, sha1 or sha256")]
    UnknownKind {
        /// The name given.
        found: String,
    },
    /// The hex string has the wrong length for its kind.
    #[error("a {kind} digest has {expected} hex digits, found {found}")]
    Length {
        /// The kind expected.
        kind: DigestKind,
        /// Hex digits expected.
        expected: usize,
        /// Characters found.
        found: usize,
    },
    /// A character is not a hex digit.
    #[error("a {kind} digest holds only hex digits, found {found:?} at position {position}")]
    Digit {
        /// The kind expected.
        kind: DigestKind,
        /// The character.
        found: char,
        /// Its index.
        position: usize,
    },
}

/// Parses a hex digest of the given kind (either case) into its bytes.
///
/// ```
/// use digest::{DigestKind, parse_hex};
/// assert_eq!(parse_hex(DigestKind::Md5, "900150983CD24FB0D6963F7D28E17F72").unwrap().len(), 16);
/// assert!(parse_hex(DigestKind::Sha1, "900150983cd24fb0d6963f7d28e17f72").is_err());
/// ```
pub fn parse_hex(kind: DigestKind, s: &str) -> Result<Vec<u8>, Error> {
    let expected = kind.byte_len() * 2;
    let found = s.chars().count();
    if found != expected || s.len() != expected {
        return Err(Error::Length {
            kind,
            expected,
            found,
        });
    }
    let mut out = vec![0u8; kind.byte_len()];
    for (position, c) in s.chars().enumerate() {
        let v = c.to_digit(16).ok_or(Error::Digit {
            kind,
            found: c,
            position,
        })? as u8;
        out[position / 2] |= if position % 2 == 0 { v << 4 } else { v };
    }
    Ok(out)
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// MD5, SHA-1 and SHA-256 of one byte string.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digests {
    /// MD5.
    pub md5: [u8; 16],
    /// SHA-1.
    pub sha1: [u8; 20],
    /// SHA-256.
    pub sha256: [u8; 32],
}

impl Digests {
    /// MD5 as 32 lower-case hex digits.
    pub fn md5_hex(&self) -> String {
        to_hex(&self.md5)
    }
    /// SHA-1 as 40 lower-case hex digits.
    pub fn sha1_hex(&self) -> String {
        to_hex(&self.sha1)
    }
    /// SHA-256 as 64 lower-case hex digits.
    pub fn sha256_hex(&self) -> String {
        to_hex(&self.sha256)
    }
    /// The digest of one kind.
    pub fn get(&self, kind: DigestKind) -> &[u8] {
        match kind {
            DigestKind::Md5 => &self.md5,
            DigestKind::Sha1 => &self.sha1,
            DigestKind::Sha256 => &self.sha256,
        }
    }
}

impl fmt::Debug for Digests {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Digests")
            .field("md5", &self.md5_hex())
            .field("sha1", &self.sha1_hex())
            .field("sha256", &self.sha256_hex())
            .finish()
    }
}

/// Updates MD5, SHA-1 and SHA-256 together.
#[derive(Clone, Default)]
pub struct MultiHasher {
    md5: md5::Md5,
    sha1: sha1::Sha1,
    sha256: sha2::Sha256,
    len: u64,
}

impl fmt::Debug for MultiHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultiHasher")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl MultiHasher {
    /// A hasher that has seen no bytes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes to all three digests.
    pub fn update(&mut self, bytes: &[u8]) {
        self.md5.update(bytes);
        self.sha1.update(bytes);
        self.sha256.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// Bytes seen so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no bytes were seen.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The three digests.
    pub fn finish(self) -> Digests {
        Digests {
            md5: self.md5.finalize().into(),
            sha1: self.sha1.finalize().into(),
            sha256: self.sha256.finalize().into(),
        }
    }
}

/// The digests of a byte string held in memory.
pub fn digest(bytes: &[u8]) -> Digests {
    let mut h = MultiHasher::new();
    h.update(bytes);
    h.finish()
}

/// One digest alone (for benchmarks and callers that need a single kind).
pub fn digest_one(kind: DigestKind, bytes: &[u8]) -> Vec<u8> {
    match kind {
        DigestKind::Md5 => md5::Md5::digest(bytes).to_vec(),
        DigestKind::Sha1 => sha1::Sha1::digest(bytes).to_vec(),
        DigestKind::Sha256 => sha2::Sha256::digest(bytes).to_vec(),
    }
}

/// Reads `reader` to its end in 256 KiB chunks, digesting as it goes; returns the digests and
/// the number of bytes read. Memory use stays constant, whatever the size.
pub fn digest_reader<R: Read>(mut reader: R) -> io::Result<(Digests, u64)> {
    let mut h = MultiHasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    let n = h.len();
    Ok((h.finish(), n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_input_has_the_well_known_digests() {
        let d = digest(b"");
        assert_eq!(d.md5_hex(), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(d.sha1_hex(), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            d.sha256_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn kinds_parse_leniently_and_reject_others() {
        assert_eq!("SHA-256".parse::<DigestKind>(), Ok(DigestKind::Sha256));
        assert_eq!("sha_1".parse::<DigestKind>(), Ok(DigestKind::Sha1));
        let e = "crc32".parse::<DigestKind>().unwrap_err();
        assert!(e.to_string().contains("crc32"));
    }

    #[test]
    fn hex_errors_name_the_fault() {
        let e = parse_hex(DigestKind::Md5, "abc").unwrap_err();
        assert_eq!(
            e,
            Error::Length {
                kind: DigestKind::Md5,
                expected: 32,
                found: 3
            }
        );
        let bad = format!("{}z", "0".repeat(31));
        let e = parse_hex(DigestKind::Md5, &bad).unwrap_err();
        assert_eq!(
            e,
            Error::Digit {
                kind: DigestKind::Md5,
                found: 'z',
                position: 31
            }
        );
        assert!(e.to_string().contains("position 31"));
    }

    proptest! {
        #[test]
        fn chunking_never_changes_the_digests(data in proptest::collection::vec(any::<u8>(), 0..4096), cut in 0usize..4096) {
            let cut = cut.min(data.len());
            let mut h = MultiHasher::new();
            h.update(&data[..cut]);
            h.update(&data[cut..]);
            prop_assert_eq!(h.finish(), digest(&data));
            let (d, n) = digest_reader(&data[..]).unwrap();
            prop_assert_eq!(d, digest(&data));
            prop_assert_eq!(n, data.len() as u64);
            let d = digest(&data);
            prop_assert_eq!(digest_one(DigestKind::Md5, &data), d.md5.to_vec());
            prop_assert_eq!(digest_one(DigestKind::Sha1, &data), d.sha1.to_vec());
            prop_assert_eq!(digest_one(DigestKind::Sha256, &data), d.sha256.to_vec());
        }

        #[test]
        fn hex_round_trips(bytes in proptest::array::uniform32(any::<u8>())) {
            let hex = to_hex(&bytes);
            prop_assert_eq!(parse_hex(DigestKind::Sha256, &hex.to_uppercase()).unwrap(), bytes.to_vec());
        }
    }
}
