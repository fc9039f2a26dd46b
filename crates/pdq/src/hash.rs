//! The 256-bit PDQ hash value, its hex form and Hamming distance.

use std::fmt;
use std::str::FromStr;

/// A 256-bit PDQ hash.
///
/// Bit `k` (for DCT coefficient row `k / 16`, column `k % 16`) is set when that coefficient is
/// strictly greater than the median of all 256. The hex form is Meta's `Hash256::format()`:
/// sixteen 16-bit words printed from `w[15]` down to `w[0]`, which is the big-endian hex of the
/// integer `Σ bit_k · 2^k`. The bytes are kept in that same big-endian order, so
/// [`Hash256::to_hex`] is a plain hex encoding of [`Hash256::as_bytes`].
///
/// ```
/// use pdq::Hash256;
/// let h: Hash256 = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22".parse()?;
/// assert_eq!(h.to_string(), "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22");
/// assert_eq!(h.distance(&h), 0);
/// # Ok::<(), pdq::ParseHashError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash256([u8; 32]);

impl Hash256 {
    /// The all-zero hash: what PDQ gives for images smaller than 5 pixels on a side.
    pub const ZERO: Hash256 = Hash256([0; 32]);

    /// Builds a hash from its 32 bytes in big-endian (display) order.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Hash256(bytes)
    }

    /// The 32 bytes in big-endian (display) order.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether bit `k` (0..256) is set; bit 0 belongs to DCT coefficient (0, 0).
    ///
    /// # Panics
    /// If `k >= 256`.
    pub fn bit(&self, k: usize) -> bool {
        assert!(k < 256, "bit index {k} out of range");
        self.0[31 - k / 8] >> (k % 8) & 1 == 1
    }

    /// Sets bit `k` (0..256).
    pub(crate) fn set_bit(&mut self, k: usize) {
        self.0[31 - k / 8] |= 1 << (k % 8);
    }

    /// The number of set bits.
    pub fn count_ones(&self) -> u32 {
        self.words().iter().map(|w| w.count_ones()).sum()
    }

    /// The Hamming distance to `other`: the number of bits in which they differ (0..=256).
    ///
    /// Two PDQ hashes are usually said to match when this is at most 31.
    pub fn distance(&self, other: &Hash256) -> u32 {
        let (a, b) = (self.words(), other.words());
        (a[0] ^ b[0]).count_ones()
            + (a[1] ^ b[1]).count_ones()
            + (a[2] ^ b[2]).count_ones()
            + (a[3] ^ b[3]).count_ones()
    }

    /// The hash as four 64-bit words (big-endian chunks of the display bytes).
    pub fn words(&self) -> [u64; 4] {
        let mut out = [0u64; 4];
        for (i, chunk) in self.0.chunks_exact(8).enumerate() {
            out[i] = u64::from_be_bytes(chunk.try_into().expect("chunk of 8"));
        }
        out
    }

    /// Lower-case hex, 64 characters, exactly as Meta's `Hash256::format()`.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(DIGITS[usize::from(b >> 4)] as char);
            s.push(DIGITS[usize::from(b & 15)] as char);
        }
        s
    }
}

impl fmt::Display for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash256({})", self.to_hex())
    }
}

/// Why a string is not a PDQ hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseHashError {
    /// The string is not 64 characters long.
    #[error("a PDQ hash has 64 hex digits, this one has {found} characters")]
    Length {
        /// How many characters the string had.
        found: usize,
    },
    /// A character is not a hex digit.
    #[error("a PDQ hash holds only hex digits, found {found:?} at position {position}")]
    Digit {
        /// The offending character.
        found: char,
        /// Its index (in characters) in the string.
        position: usize,
    },
}

impl FromStr for Hash256 {
    type Err = ParseHashError;

    /// Parses 64 hex digits (either case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let count = s.chars().count();
        if count != 64 || s.len() != 64 {
            return Err(ParseHashError::Length { found: count });
        }
        let mut out = [0u8; 32];
        for (position, c) in s.chars().enumerate() {
            let v = c
                .to_digit(16)
                .ok_or(ParseHashError::Digit { found: c, position })? as u8;
            out[position / 2] |= if position % 2 == 0 { v << 4 } else { v };
        }
        Ok(Hash256(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_zero_is_the_last_hex_digit() {
        let mut h = Hash256::ZERO;
        h.set_bit(0);
        assert!(h.to_hex().ends_with('1'));
        assert!(h.bit(0));
        h.set_bit(255);
        assert!(h.to_hex().starts_with('8'));
        assert_eq!(h.count_ones(), 2);
    }

    #[test]
    fn word_layout_matches_meta() {
        // Meta: bit k lives in w[k >> 4] at bit k & 15, and w[15] is printed first.
        let mut h = Hash256::ZERO;
        h.set_bit(16 + 4); // w[1] = 0x0010
        assert_eq!(&h.to_hex()[56..60], "0010");
    }

    #[test]
    fn parse_errors_name_the_fault() {
        assert_eq!(
            "abc".parse::<Hash256>(),
            Err(ParseHashError::Length { found: 3 })
        );
        let bad = format!("{}g", "0".repeat(63));
        assert_eq!(
            bad.parse::<Hash256>(),
            Err(ParseHashError::Digit {
                found: 'g',
                position: 63
            })
        );
        let multibyte = format!("{}é", "0".repeat(63));
        assert!(multibyte.parse::<Hash256>().is_err());
        for e in [
            ParseHashError::Length { found: 3 },
            ParseHashError::Digit {
                found: 'x',
                position: 1,
            },
        ] {
            assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn upper_case_parses_to_lower_case() {
        let s = "F8F8F0CEE0F4A84F06370A22038F63F0B36E2ED596621E1D33E6B39C4E9C9B22";
        let h: Hash256 = s.parse().unwrap();
        assert_eq!(h.to_hex(), s.to_lowercase());
    }
}
