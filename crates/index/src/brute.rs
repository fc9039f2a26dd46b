//! The brute-force oracle: the same questions as [`Index`](crate::Index), answered by looking
//! at every pair. Obviously correct and O(N) per query; the tests and benchmarks compare the
//! index with it.
//!
//! ```
//! use index::brute::{Brute, distance};
//! use index::{Change, Hit, Key};
//!
//! let mut b = Brute::new([(Key::pdq([0; 32]), 7)]);
//! let mut q = [0u8; 32];
//! q[3] = 0b111;
//! assert_eq!(distance(&q, &[0; 32]), 3);
//! let mut hits = Vec::new();
//! b.search_pdq(&q, 3, &mut hits);
//! assert_eq!((hits[0].list, hits[0].distance), (7, 3));
//! b.apply(&[Change::Remove(Key::pdq([0; 32]), 7)]);
//! b.search_pdq(&q, 3, &mut hits);
//! assert!(hits.is_empty());
//! ```

use crate::{Change, HashKind, Hit, Key, ListId};
use std::collections::BTreeSet;

/// The Hamming distance between two 256-bit hashes, byte by byte.
pub fn distance(a: &[u8; 32], b: &[u8; 32]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// A set of `(key, list)` pairs searched by looking at each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Brute {
    pairs: BTreeSet<(Key, ListId)>,
}

impl Brute {
    /// The set of the given pairs (duplicates collapse).
    pub fn new(entries: impl IntoIterator<Item = (Key, ListId)>) -> Brute {
        Brute {
            pairs: entries.into_iter().collect(),
        }
    }

    /// Applies changes in order.
    pub fn apply(&mut self, changes: &[Change]) {
        for c in changes {
            match *c {
                Change::Add(k, l) => self.pairs.insert((k, l)),
                Change::Remove(k, l) => self.pairs.remove(&(k, l)),
            };
        }
    }

    /// The pairs, sorted.
    pub fn pairs(&self) -> impl Iterator<Item = (Key, ListId)> + '_ {
        self.pairs.iter().copied()
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The number of pairs of one kind.
    pub fn count(&self, kind: HashKind) -> usize {
        self.pairs.iter().filter(|(k, _)| k.kind() == kind).count()
    }

    /// The lists holding `key`, sorted.
    pub fn exact(&self, key: &Key, out: &mut Vec<ListId>) {
        out.clear();
        out.extend(self.pairs.iter().filter(|(k, _)| k == key).map(|&(_, l)| l));
    }

    /// Per list, the smallest distance from `query` to one of its PDQ hashes, if at most
    /// `radius`; sorted by (distance, list).
    pub fn search_pdq(&self, query: &[u8; 32], radius: u32, out: &mut Vec<Hit>) {
        let mut best = std::collections::BTreeMap::new();
        for (k, l) in &self.pairs {
            if k.kind() != HashKind::Pdq {
                continue;
            }
            let h: [u8; 32] = k.as_bytes().try_into().expect("32 bytes");
            let d = distance(&h, query);
            if d <= radius {
                let e = best.entry(*l).or_insert((d, h));
                *e = (*e).min((d, h));
            }
        }
        out.clear();
        out.extend(best.into_iter().map(|(list, (distance, hash))| Hit {
            list,
            distance,
            hash,
        }));
        out.sort_by_key(|h| (h.distance, h.list));
    }
}
