//! Hash kinds and hash values ([`HashKind`], [`Key`]) and the one error type ([`KeyError`]).

use std::fmt;
use std::str::FromStr;

/// The kinds of hash a list can hold.
///
/// The order (`Md5 < Sha1 < Sha256 < Pdq`) is the order of [`HashKind::ALL`] and of [`Key`]'s
/// `Ord`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashKind {
    /// MD5 digest, 16 bytes.
    Md5,
    /// SHA-1 digest, 20 bytes.
    Sha1,
    /// SHA-256 digest, 32 bytes.
    Sha256,
    /// Meta's PDQ perceptual hash, 32 bytes in Meta's (big-endian) hex order.
    Pdq,
}

impl HashKind {
    /// Every kind, in order.
    pub const ALL: [HashKind; 4] = [
        HashKind::Md5,
        HashKind::Sha1,
        HashKind::Sha256,
        HashKind::Pdq,
    ];

    /// The length of a value of this kind in bytes (16, 20, 32, 32).
    pub const fn byte_len(self) -> usize {
        match self {
            HashKind::Md5 => 16,
            HashKind::Sha1 => 20,
            HashKind::Sha256 | HashKind::Pdq => 32,
        }
    }

    /// The lower-case name: `"md5"`, `"sha1"`, `"sha256"` or `"pdq"`.
    pub const fn name(self) -> &'static str {
        match self {
            HashKind::Md5 => "md5",
            HashKind::Sha1 => "sha1",
            HashKind::Sha256 => "sha256",
            HashKind::Pdq => "pdq",
        }
    }

    /// The position in [`HashKind::ALL`].
    pub(crate) const fn ordinal(self) -> usize {
        self as usize
    }
}

impl fmt::Display for HashKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HashKind {
    type Err = KeyError;

    /// Accepts the [names](HashKind::name) in any case, and also `sha-1` and `sha-256`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "md5" => Ok(HashKind::Md5),
            "sha1" | "sha-1" => Ok(HashKind::Sha1),
            "sha256" | "sha-256" => Ok(HashKind::Sha256),
            "pdq" => Ok(HashKind::Pdq),
            _ => Err(KeyError::UnknownKind {
                found: s.to_owned(),
            }),
        }
    }
}

/// Why a kind name or a hash value was rejected: the crate's only error type.
///
/// Every variant names the kind that was expected and what was found, so a message can point at
/// the faulty input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The name is not one of `md5`, `sha1`, `sha256`, `pdq` (or `sha-1`, `sha-256`).
    #[error("unknown hash kind {found:?}: expected md5, sha1, sha256 or pdq")]
    UnknownKind {
        /// The name as given.
        found: String,
    },
    /// [`Key::new`] got the wrong number of bytes.
    #[error("a {kind} hash has {expected} bytes, got {found}")]
    Length {
        /// The kind asked for.
        kind: HashKind,
        /// Its length in bytes.
        expected: usize,
        /// How many bytes were given.
        found: usize,
    },
    /// [`Key::parse_hex`] got a string of the wrong length.
    #[error("a {kind} hash has {expected} hex digits, got {found} characters")]
    HexLength {
        /// The kind asked for.
        kind: HashKind,
        /// Twice its length in bytes.
        expected: usize,
        /// How many characters the string had.
        found: usize,
    },
    /// [`Key::parse_hex`] found a character that is not a hex digit.
    #[error("a {kind} hash holds only hex digits, found {found:?} at position {position}")]
    HexDigit {
        /// The kind asked for.
        kind: HashKind,
        /// The offending character.
        found: char,
        /// Its index (in characters) in the string.
        position: usize,
    },
}

/// A hash value of a given kind.
///
/// The first [`kind.byte_len()`](HashKind::byte_len) bytes of an inner 32-byte array hold the
/// value and the rest are zero, so a key is `Copy`, 33 bytes, and needs no allocation. PDQ keys
/// are in Meta's byte order: [`Key::to_hex`] prints what Meta's tools print (and what
/// `pdq::Hash256::as_bytes` holds).
///
/// Keys order by kind, then by bytes.
///
/// ```
/// use index::{HashKind, Key};
/// let k = Key::parse_hex(HashKind::Md5, "D41D8CD98F00B204E9800998ECF8427E")?;
/// assert_eq!(k.to_hex(), "d41d8cd98f00b204e9800998ecf8427e");
/// assert_eq!(k.as_bytes().len(), 16);
/// assert!(Key::new(HashKind::Sha1, k.as_bytes()).is_err());
/// # Ok::<(), index::KeyError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    kind: HashKind,
    bytes: [u8; 32],
}

impl Key {
    /// A key from exactly [`kind.byte_len()`](HashKind::byte_len) bytes.
    pub fn new(kind: HashKind, bytes: &[u8]) -> Result<Key, KeyError> {
        let expected = kind.byte_len();
        if bytes.len() != expected {
            return Err(KeyError::Length {
                kind,
                expected,
                found: bytes.len(),
            });
        }
        let mut b = [0u8; 32];
        b[..expected].copy_from_slice(bytes);
        Ok(Key { kind, bytes: b })
    }

    /// A PDQ key from its 32 bytes (Meta's order); cannot fail.
    pub const fn pdq(bytes: [u8; 32]) -> Key {
        Key {
            kind: HashKind::Pdq,
            bytes,
        }
    }

    /// A key from `2 × byte_len` hex digits, either case, nothing else (no `0x`, no spaces).
    pub fn parse_hex(kind: HashKind, hex: &str) -> Result<Key, KeyError> {
        let expected = 2 * kind.byte_len();
        if hex.len() != expected {
            return Err(KeyError::HexLength {
                kind,
                expected,
                found: hex.chars().count(),
            });
        }
        let mut b = [0u8; 32];
        for (position, c) in hex.chars().enumerate() {
            // `hex.len() == expected` bytes; a multi-byte character makes `chars()` shorter, and
            // its first character is the one that is not a hex digit.
            let v = c.to_digit(16).ok_or(KeyError::HexDigit {
                kind,
                found: c,
                position,
            })? as u8;
            b[position / 2] |= if position % 2 == 0 { v << 4 } else { v };
        }
        Ok(Key { kind, bytes: b })
    }

    /// The kind.
    pub const fn kind(&self) -> HashKind {
        self.kind
    }

    /// The value: [`kind().byte_len()`](HashKind::byte_len) bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.kind.byte_len()]
    }

    /// All 32 bytes (the value, then zeros).
    pub(crate) const fn raw(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// Lower-case hex, `2 × byte_len` characters.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(2 * self.kind.byte_len());
        for &b in self.as_bytes() {
            s.push(DIGITS[usize::from(b >> 4)] as char);
            s.push(DIGITS[usize::from(b & 15)] as char);
        }
        s
    }
}

impl fmt::Display for Key {
    /// `kind:hex`, e.g. `md5:d41d8cd98f00b204e9800998ecf8427e`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_their_lengths_and_names() {
        let lens: Vec<_> = HashKind::ALL.iter().map(|k| k.byte_len()).collect();
        assert_eq!(lens, [16, 20, 32, 32]);
        for k in HashKind::ALL {
            assert_eq!(k.name().parse::<HashKind>(), Ok(k));
            assert_eq!(k.name().to_uppercase().parse::<HashKind>(), Ok(k));
            assert_eq!(HashKind::ALL[k.ordinal()], k);
        }
        assert_eq!("SHA-1".parse::<HashKind>(), Ok(HashKind::Sha1));
        assert_eq!("sha-256".parse::<HashKind>(), Ok(HashKind::Sha256));
    }

    #[test]
    fn unknown_kind_names_are_rejected_with_the_name() {
        for bad in ["", "md4", "sha_1", "sha 256", " pdq", "pdq\n"] {
            let e = bad.parse::<HashKind>().unwrap_err();
            assert_eq!(
                e,
                KeyError::UnknownKind {
                    found: bad.to_owned()
                }
            );
        }
    }

    #[test]
    fn new_checks_the_length() {
        assert_eq!(
            Key::new(HashKind::Sha1, &[0; 16]),
            Err(KeyError::Length {
                kind: HashKind::Sha1,
                expected: 20,
                found: 16
            })
        );
        assert!(Key::new(HashKind::Pdq, &[0; 33]).is_err());
        assert!(Key::new(HashKind::Md5, &[]).is_err());
        let k = Key::new(HashKind::Sha1, &[7; 20]).unwrap();
        assert_eq!(k.as_bytes(), &[7; 20]);
        assert_eq!(&k.raw()[20..], &[0; 12]);
    }

    #[test]
    fn parse_hex_round_trips_and_accepts_either_case() {
        for kind in HashKind::ALL {
            let bytes: Vec<u8> = (0..kind.byte_len() as u8)
                .map(|i| i.wrapping_mul(37))
                .collect();
            let k = Key::new(kind, &bytes).unwrap();
            assert_eq!(Key::parse_hex(kind, &k.to_hex()), Ok(k));
            assert_eq!(Key::parse_hex(kind, &k.to_hex().to_uppercase()), Ok(k));
        }
    }

    #[test]
    fn parse_hex_rejects_wrong_lengths() {
        assert_eq!(
            Key::parse_hex(HashKind::Md5, "abc"),
            Err(KeyError::HexLength {
                kind: HashKind::Md5,
                expected: 32,
                found: 3
            })
        );
        let sha256 = "ab".repeat(32);
        assert!(matches!(
            Key::parse_hex(HashKind::Sha1, &sha256),
            Err(KeyError::HexLength {
                expected: 40,
                found: 64,
                ..
            })
        ));
        assert!(Key::parse_hex(HashKind::Pdq, "").is_err());
    }

    #[test]
    fn parse_hex_rejects_non_digits_with_their_position() {
        let mut s = "0".repeat(32);
        s.replace_range(5..6, "g");
        assert_eq!(
            Key::parse_hex(HashKind::Md5, &s),
            Err(KeyError::HexDigit {
                kind: HashKind::Md5,
                found: 'g',
                position: 5
            })
        );
        let with_prefix = format!("0x{}", "0".repeat(30));
        assert!(matches!(
            Key::parse_hex(HashKind::Md5, &with_prefix),
            Err(KeyError::HexDigit {
                found: 'x',
                position: 1,
                ..
            })
        ));
        // 31 ASCII digits and a two-byte character: 32 bytes, but not hex.
        let multibyte = format!("{}é", "0".repeat(30));
        assert_eq!(multibyte.len(), 32);
        assert!(matches!(
            Key::parse_hex(HashKind::Md5, &multibyte),
            Err(KeyError::HexDigit {
                found: 'é',
                position: 30,
                ..
            })
        ));
    }

    #[test]
    fn every_error_formats() {
        let errors = [
            KeyError::UnknownKind {
                found: "md4".into(),
            },
            KeyError::Length {
                kind: HashKind::Md5,
                expected: 16,
                found: 3,
            },
            KeyError::HexLength {
                kind: HashKind::Pdq,
                expected: 64,
                found: 3,
            },
            KeyError::HexDigit {
                kind: HashKind::Sha1,
                found: 'z',
                position: 0,
            },
        ];
        for e in errors {
            let s = e.to_string();
            assert!(!s.is_empty() && !s.ends_with('.'), "{s}");
            assert!(s.starts_with(|c: char| c.is_lowercase()), "lower case: {s}");
        }
    }

    #[test]
    fn keys_order_by_kind_then_bytes() {
        let a = Key::new(HashKind::Md5, &[255; 16]).unwrap();
        let b = Key::new(HashKind::Sha1, &[0; 20]).unwrap();
        let c = Key::pdq([0; 32]);
        assert!(a < b && b < c);
        assert_eq!(c.to_string(), format!("pdq:{}", "0".repeat(64)));
    }
}
