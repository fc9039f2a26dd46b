//! Exact lookup tables for the digest kinds (MD5, SHA-1, SHA-256).
//!
//! The keys are sorted and found through a directory on their leading bits: digests are
//! uniformly distributed, so the directory bucket of a key holds one to four keys and a lookup
//! is two or three cache misses, with no hashing and no per-entry overhead beyond the key and its
//! list reference. See [`crate::design`] for the measurements behind this choice.

use crate::lists::ListSetsBuilder;
use crate::{ListId, Words};

/// Sorted keys of `N` bytes, their list references, and a directory on the leading bits.
#[derive(Debug)]
pub(crate) struct DigestTable<const N: usize> {
    keys: Vec<[u8; N]>,
    refs: Vec<u32>,
    /// `keys[dir[p]..dir[p + 1]]` are the keys whose leading `bits` bits equal `p`.
    dir: Vec<u32>,
    bits: u32,
}

impl<const N: usize> Default for DigestTable<N> {
    fn default() -> Self {
        DigestTable {
            keys: Vec::new(),
            refs: Vec::new(),
            dir: Vec::new(),
            bits: 0,
        }
    }
}

/// The leading `bits` (0..=32) bits of a key.
#[inline]
fn prefix(key: &[u8], bits: u32) -> usize {
    let lead = u32::from_be_bytes([key[0], key[1], key[2], key[3]]);
    lead.checked_shr(32 - bits).unwrap_or(0) as usize
}

impl<const N: usize> DigestTable<N> {
    /// Builds from `(key, list)` pairs sorted and deduplicated, keys in the leading `N` bytes of
    /// the words.
    pub(crate) fn build(entries: &[(Words, ListId)], sets: &mut ListSetsBuilder) -> Self {
        let mut keys: Vec<[u8; N]> = Vec::new();
        let mut refs = Vec::new();
        crate::for_each_group(entries, |words, lists| {
            let bytes = crate::words_to_bytes(words);
            keys.push(bytes[..N].try_into().expect("N <= 32"));
            refs.push(sets.encode(lists));
        });
        if keys.is_empty() {
            return DigestTable::default();
        }
        keys.shrink_to_fit();
        refs.shrink_to_fit();
        // Average bucket of 2 to 4 keys: the directory costs 1 to 2 bytes per key.
        let bits = match keys.len() {
            0..=3 => 0,
            n => (n.ilog2() - 1).min(24),
        };
        let mut dir = vec![0u32; (1usize << bits) + 1];
        for k in &keys {
            dir[prefix(k, bits) + 1] += 1;
        }
        for p in 1..dir.len() {
            dir[p] += dir[p - 1];
        }
        DigestTable {
            keys,
            refs,
            dir,
            bits,
        }
    }

    /// The position of `key` (`N` bytes), if present.
    #[inline]
    pub(crate) fn find(&self, key: &[u8]) -> Option<usize> {
        if self.keys.is_empty() {
            return None;
        }
        let p = prefix(key, self.bits);
        let (lo, hi) = (self.dir[p] as usize, self.dir[p + 1] as usize);
        (lo..hi).find(|&i| self.keys[i][..] == *key)
    }

    /// The list reference of the key at `i`.
    #[inline]
    pub(crate) fn list_ref(&self, i: usize) -> &u32 {
        &self.refs[i]
    }

    /// The number of distinct keys.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The key at `i`.
    pub(crate) fn key(&self, i: usize) -> &[u8; N] {
        &self.keys[i]
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.keys.capacity() * N + self.refs.capacity() * 4 + self.dir.capacity() * 4
    }
}
