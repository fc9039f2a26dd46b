//! API keys: made from 32 random bytes, shown once, stored as a SHA-256.
//!
//! A key reads `schoon_<id>_<secret>`: a 16-character public id (the database key, safe to
//! log) and a 64-hex-digit secret. Only SHA-256(secret) is stored, and comparing it takes the
//! same time whatever the input. SHA-256 is enough here: the secret is 256 random bits, so
//! there is nothing for a slow password hash (argon2) to protect, and a slow hash would cap the
//! check rate.
//!
//! ```
//! use lists::keys::{NewKey, ParsedKey};
//! let new = NewKey::generate().unwrap();
//! let parsed = ParsedKey::parse(new.token()).unwrap();
//! assert_eq!(parsed.id, new.id);
//! assert!(parsed.matches(&new.secret_sha256));
//! assert!(ParsedKey::parse("schoon_short_x").is_err());
//! ```

use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

const PREFIX: &str = "schoon_";
const ID_LEN: usize = 16;
const SECRET_LEN: usize = 64;
/// Lowercase letters and digits without the look-alikes `0 o 1 l i`.
const ID_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";

/// A freshly made key. [`NewKey::token`] is what the user gets, once.
#[derive(Clone)]
pub struct NewKey {
    /// Public id.
    pub id: String,
    /// SHA-256 of the secret: what is stored.
    pub secret_sha256: [u8; 32],
    token: String,
}

impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl NewKey {
    /// Makes a key from the operating system's random source.
    pub fn generate() -> Result<NewKey, crate::Error> {
        let mut raw = [0u8; ID_LEN + 32];
        getrandom::fill(&mut raw)
            .map_err(|e| crate::Error::Internal(format!("no randomness: {e}")))?;
        let id: String = raw[..ID_LEN]
            .iter()
            .map(|b| ID_ALPHABET[usize::from(*b) % ID_ALPHABET.len()] as char)
            .collect();
        let secret = hex::encode(&raw[ID_LEN..]);
        Ok(NewKey {
            secret_sha256: Sha256::digest(secret.as_bytes()).into(),
            token: format!("{PREFIX}{id}_{secret}"),
            id,
        })
    }

    /// The whole key, to hand to its user. It is not stored anywhere.
    pub fn token(&self) -> &str {
        &self.token
    }
}

/// A key as presented by a client.
#[derive(Clone, PartialEq, Eq)]
pub struct ParsedKey {
    /// Public id.
    pub id: String,
    secret: String,
}

impl fmt::Debug for ParsedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl ParsedKey {
    /// Splits a presented key. Fails (without saying which part is wrong) if it does not
    /// have the shape of a Schoon key.
    pub fn parse(token: &str) -> Result<ParsedKey, crate::Error> {
        let bad = || crate::Error::Unauthenticated("not a Schoon API key".into());
        let rest = token.trim().strip_prefix(PREFIX).ok_or_else(bad)?;
        let (id, secret) = rest.split_once('_').ok_or_else(bad)?;
        if id.len() != ID_LEN
            || !id.bytes().all(|b| ID_ALPHABET.contains(&b))
            || secret.len() != SECRET_LEN
            || !secret.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(bad());
        }
        Ok(ParsedKey {
            id: id.to_string(),
            secret: secret.to_ascii_lowercase(),
        })
    }

    /// Whether the secret hashes to `stored`, in constant time.
    pub fn matches(&self, stored: &[u8; 32]) -> bool {
        let h: [u8; 32] = Sha256::digest(self.secret.as_bytes()).into();
        h.ct_eq(stored).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_verify() {
        let a = NewKey::generate().unwrap();
        let b = NewKey::generate().unwrap();
        assert_ne!(a.id, b.id);
        assert_ne!(a.token(), b.token());
        let pa = ParsedKey::parse(a.token()).unwrap();
        assert!(pa.matches(&a.secret_sha256));
        assert!(!pa.matches(&b.secret_sha256));
        assert!(!format!("{a:?}").contains(&a.token()[24..]));
    }

    #[test]
    fn malformed_keys_are_refused() {
        let a = NewKey::generate().unwrap();
        let t = a.token();
        for bad in [
            "",
            "Bearer x",
            &t[1..],
            &t[..t.len() - 1],
            &t.replace("schoon_", "schoen_"),
            &format!("{t}0"),
        ] {
            assert!(ParsedKey::parse(bad).is_err(), "{bad:?}");
        }
    }
}
