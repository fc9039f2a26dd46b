//! Exact lookup tables for the digest kinds (MD5, SHA-1, SHA-256).
//!
//! The keys are sorted and found through a directory on their leading bits: digests are
//! uniformly distributed, so the directory bucket of a key holds one to four keys and a lookup
//! is two or three cache misses, with no hashing and no per-entry overhead beyond the key and its
//! list reference. See [`crate::design`] for the measurements behind this choice.

use crate::lists::ListSetsBuilder;
use crate::{ListId, Words};

/// A key and its list reference side by side: one cache miss finds both.
#[derive(Clone, Copy, Debug)]
struct Entry<const N: usize> {
    key: [u8; N],
    list: u32,
}

/// Sorted keys of `N` bytes with their list references, and a directory on the leading bits.
#[derive(Debug)]
pub(crate) struct DigestTable<const N: usize> {
    entries: Vec<Entry<N>>,
    /// `entries[dir[p]..dir[p + 1]]` are the keys whose leading `bits` bits equal `p`.
    dir: Vec<u32>,
    bits: u32,
}

impl<const N: usize> Default for DigestTable<N> {
    fn default() -> Self {
        DigestTable {
            entries: Vec::new(),
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
    pub(crate) fn build(pairs: &[(Words, ListId)], sets: &mut ListSetsBuilder) -> Self {
        let mut entries: Vec<Entry<N>> = Vec::new();
        crate::for_each_group(pairs, |words, lists| {
            let bytes = crate::words_to_bytes(words);
            let key = bytes[..N].try_into().expect("N <= 32");
            entries.push(Entry {
                key,
                list: sets.encode(lists),
            });
        });
        if entries.is_empty() {
            return DigestTable::default();
        }
        entries.shrink_to_fit();
        // Average bucket of 2 to 4 keys: the directory costs 1 to 2 bytes per key.
        let bits = match entries.len() {
            0..=3 => 0,
            n => (n.ilog2() - 1).min(24),
        };
        let mut dir = vec![0u32; (1usize << bits) + 1];
        for e in &entries {
            dir[prefix(&e.key, bits) + 1] += 1;
        }
        for p in 1..dir.len() {
            dir[p] += dir[p - 1];
        }
        DigestTable { entries, dir, bits }
    }

    /// The position of `key` (`N` bytes), if present.
    #[inline]
    pub(crate) fn find(&self, key: &[u8]) -> Option<usize> {
        if self.entries.is_empty() {
            return None;
        }
        let p = prefix(key, self.bits);
        let (lo, hi) = (self.dir[p] as usize, self.dir[p + 1] as usize);
        (lo..hi).find(|&i| self.entries[i].key[..] == *key)
    }

    /// The list reference of the key at `i`.
    #[inline]
    pub(crate) fn list_ref(&self, i: usize) -> &u32 {
        &self.entries[i].list
    }

    /// The number of distinct keys.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The key at `i`.
    pub(crate) fn key(&self, i: usize) -> &[u8; N] {
        &self.entries[i].key
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.entries.capacity() * size_of::<Entry<N>>() + self.dir.capacity() * 4
    }
}
