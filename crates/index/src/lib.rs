//! The in-memory hash lists behind Schoon's hash check: which lists hold an MD5, SHA-1, SHA-256
//! or PDQ value, and which lists hold a PDQ hash within a Hamming radius of a query.
//!
//! An [`Index`] is an immutable snapshot. Readers share it (an `Arc` inside, so cloning is cheap)
//! and never lock; a writer derives the next snapshot with [`Index::with_changes`], which shares
//! the large base and copies only a small delta, and folds the delta into a new base with
//! [`Index::compact`] when [`Index::should_compact`] says so, in a background thread. The caller
//! publishes snapshots (for instance behind `arc-swap`); this crate does no I/O, no locking and
//! no async.
//!
//! ```
//! use index::{Change, HashKind, Hit, Index, Key, Scratch};
//!
//! let pdq = Key::parse_hex(HashKind::Pdq, &"f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22")?;
//! let md5 = Key::parse_hex(HashKind::Md5, "d41d8cd98f00b204e9800998ecf8427e")?;
//! let index = Index::build([(pdq, 1), (md5, 1), (md5, 2)]);
//!
//! // Exact lookups, for every kind: the lists holding the value, sorted.
//! let mut lists = Vec::new();
//! index.exact(&md5, &mut lists);
//! assert_eq!(lists, [1, 2]);
//!
//! // PDQ radius search: flip 5 bits of the stored hash, search within 31.
//! let mut query: [u8; 32] = pdq.as_bytes().try_into().unwrap();
//! query[0] ^= 0b1011_0000;
//! query[31] ^= 0b11;
//! let (mut scratch, mut hits) = (Scratch::new(), Vec::new());
//! index.search_pdq(&query, 31, &mut scratch, &mut hits);
//! assert_eq!((hits.len(), hits[0].list, hits[0].distance), (1, 1, 5));
//!
//! // A new snapshot; the old one is unchanged.
//! let next = index.with_changes(&[Change::Remove(pdq, 1), Change::Add(Key::pdq(query), 3)]);
//! next.search_pdq(&query, 31, &mut scratch, &mut hits);
//! assert_eq!((hits.len(), hits[0].list, hits[0].distance), (1, 3, 0));
//! assert_eq!((index.len(), next.len()), (3, 3));
//! # Ok::<(), index::KeyError>(())
//! ```
//!
//! # Why hand-written
//!
//! No crate does *exact* radius search over 256-bit codes: `mih-rs` stops at 128-bit codes, the
//! HNSW crates (`hnsw_rs`, `instant-distance`, `usearch`) are approximate (recall below 100 %,
//! and a missed match is a missed abuse image), and faiss needs a C++ library that Debian does
//! not package. Multi-index hashing is small and well understood, and the layout here (no hash
//! maps, one 4-byte id per hash per slot, hashes sorted so one slot needs no ids) is what makes
//! it both fast and under 100 bytes per hash. [`design`] explains it, with the measurements.
//!
//! # What it does not do
//!
//! * No I/O, persistence or network: the store loads entries and calls [`Index::build`].
//! * No approximate search: every search finds every hash within the radius, or it is a bug.
//!   Radii above [`MAX_RADIUS`] are still exact but scan every hash.
//! * It knows list ids, not lists: names, owners and who may query what live elsewhere.
//! * It does not check PDQ quality: callers drop low-quality hashes before they get here.
#![deny(missing_docs)]

pub mod brute;
pub mod design;
mod digest;
mod key;
mod lists;
mod pdq;

pub use key::{HashKind, Key, KeyError};
pub use pdq::Scratch;

use digest::DigestTable;
use lists::{ListSets, ListSetsBuilder};
use pdq::PdqTable;
use rayon::prelude::*;
use std::fmt;
use std::sync::Arc;

/// A list's id.
pub type ListId = u32;

/// The largest radius [`Index::search_pdq`] answers through the multi-index: 63.
///
/// A hash within radius `r` of the query agrees with it to within `⌊r / 16⌋` bits in at least one
/// of the 16 slots (pigeonhole), so a search probes, in each slot, every value within that many
/// bits: 1, 17, 137 or 697 values for `⌊r / 16⌋` = 0, 1, 2, 3. At `r ≤ 63` (3 bits, as in Meta's
/// `MIH_MAX_D`) that is at most 11 152 buckets; beyond, the probes and candidates approach the
/// whole index, so larger radii scan every hash instead (still exact, but O(N): tens of
/// milliseconds at 10 M hashes). The service should cap requested radii at this value; its
/// default is 31 (Meta's match threshold).
pub const MAX_RADIUS: u32 = 63;

/// A hash as four big-endian 64-bit words: ordering the words orders the bytes.
pub(crate) type Words = [u64; 4];

pub(crate) fn bytes_to_words(b: &[u8; 32]) -> Words {
    let mut w = [0u64; 4];
    for (i, c) in b.chunks_exact(8).enumerate() {
        w[i] = u64::from_be_bytes(c.try_into().expect("8 bytes"));
    }
    w
}

pub(crate) fn words_to_bytes(w: &Words) -> [u8; 32] {
    let mut b = [0u8; 32];
    for (i, c) in b.chunks_exact_mut(8).enumerate() {
        c.copy_from_slice(&w[i].to_be_bytes());
    }
    b
}

/// Calls `f(key, lists)` for each run of equal keys in sorted, deduplicated pairs.
pub(crate) fn for_each_group(entries: &[(Words, ListId)], mut f: impl FnMut(&Words, &[ListId])) {
    let mut lists = Vec::new();
    for run in entries.chunk_by(|a, b| a.0 == b.0) {
        lists.clear();
        lists.extend(run.iter().map(|e| e.1));
        f(&run[0].0, &lists);
    }
}

/// One change to the lists: add or remove `key` on a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Change {
    /// Put the key on the list (a no-op if it is there).
    Add(Key, ListId),
    /// Take the key off the list (a no-op if it is not there).
    Remove(Key, ListId),
}

/// One list that holds a PDQ hash near the query, the smallest distance among its hashes, and
/// that nearest hash (the smallest of them on a tie).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Hit {
    /// The list.
    pub list: ListId,
    /// The Hamming distance from the query to the list's nearest hash (0..=256).
    pub distance: u32,
    /// That nearest listed hash, in Meta's byte order. The caller decides who may see it: a
    /// check answer never does; the match record for list managers does.
    pub hash: [u8; 32],
}

/// The immutable bulk of an index.
#[derive(Debug, Default)]
struct Base {
    md5: DigestTable<16>,
    sha1: DigestTable<20>,
    sha256: DigestTable<32>,
    pdq: PdqTable,
    sets: ListSets,
    /// `(key, list)` pairs per kind.
    pairs: [usize; 4],
}

impl Base {
    fn build(mut per_kind: [Vec<(Words, ListId)>; 4]) -> Base {
        per_kind.par_iter_mut().for_each(|v| {
            v.par_sort_unstable();
            v.dedup();
        });
        let pairs = [0, 1, 2, 3].map(|k| per_kind[k].len());
        let mut sets = ListSetsBuilder::default();
        let md5 = DigestTable::build(&per_kind[0], &mut sets);
        let sha1 = DigestTable::build(&per_kind[1], &mut sets);
        let sha256 = DigestTable::build(&per_kind[2], &mut sets);
        let [_, _, _, pdq_entries] = per_kind;
        let pdq = PdqTable::build(&pdq_entries, &mut sets);
        drop(pdq_entries);
        Base {
            md5,
            sha1,
            sha256,
            pdq,
            sets: sets.finish(),
            pairs,
        }
    }

    /// The position of `key` in its kind's table.
    fn find(&self, key: &Key) -> Option<usize> {
        let b = key.as_bytes();
        match key.kind() {
            HashKind::Md5 => self.md5.find(b),
            HashKind::Sha1 => self.sha1.find(b),
            HashKind::Sha256 => self.sha256.find(b),
            HashKind::Pdq => self.pdq.find(&bytes_to_words(key.raw())),
        }
    }

    fn list_ref(&self, kind: HashKind, i: usize) -> &u32 {
        match kind {
            HashKind::Md5 => self.md5.list_ref(i),
            HashKind::Sha1 => self.sha1.list_ref(i),
            HashKind::Sha256 => self.sha256.list_ref(i),
            HashKind::Pdq => self.pdq.list_ref(i),
        }
    }

    /// The number of distinct keys of a kind.
    fn distinct(&self, kind: HashKind) -> usize {
        match kind {
            HashKind::Md5 => self.md5.len(),
            HashKind::Sha1 => self.sha1.len(),
            HashKind::Sha256 => self.sha256.len(),
            HashKind::Pdq => self.pdq.len(),
        }
    }

    fn key_at(&self, kind: HashKind, i: usize) -> Key {
        let new = |b: &[u8]| Key::new(kind, b).expect("a key of its kind's length");
        match kind {
            HashKind::Md5 => new(self.md5.key(i)),
            HashKind::Sha1 => new(self.sha1.key(i)),
            HashKind::Sha256 => new(self.sha256.key(i)),
            HashKind::Pdq => Key::pdq(words_to_bytes(self.pdq.hash(i))),
        }
    }

    /// The lists holding `key`, sorted (empty if none).
    fn lists(&self, key: &Key) -> &[ListId] {
        match self.find(key) {
            Some(i) => self.sets.get(self.list_ref(key.kind(), i)),
            None => &[],
        }
    }

    fn contains(&self, key: &Key, list: ListId) -> bool {
        self.lists(key).binary_search(&list).is_ok()
    }

    fn memory_bytes(&self) -> usize {
        size_of::<Base>()
            + self.md5.memory_bytes()
            + self.sha1.memory_bytes()
            + self.sha256.memory_bytes()
            + self.pdq.memory_bytes()
            + self.sets.memory_bytes()
    }
}

/// The changes since the base: pairs added (not in the base) and removed (tombstones, in the
/// base). Small, and copied by every [`Index::with_changes`].
#[derive(Debug, Default)]
struct Delta {
    /// Sorted; none is in the base.
    adds: Vec<(Key, ListId)>,
    /// Sorted; all are in the base.
    tombs: Vec<(Key, ListId)>,
    /// The PDQ part of `adds`, as words, for scanning; `pdq_add_lists[i]` is the list of
    /// `pdq_adds[i]`.
    pdq_adds: Vec<pdq::Aligned>,
    pdq_add_lists: Vec<ListId>,
    /// The PDQ part of `tombs` as (position in the base's PDQ table, list), sorted.
    pdq_tombs: Vec<(u32, ListId)>,
}

impl Delta {
    fn new(base: &Base, adds: Vec<(Key, ListId)>, tombs: Vec<(Key, ListId)>) -> Delta {
        let first_pdq = adds.partition_point(|(k, _)| k.kind() < HashKind::Pdq);
        let pdq_adds = adds[first_pdq..]
            .iter()
            .map(|(k, _)| pdq::Aligned(bytes_to_words(k.raw())))
            .collect();
        let pdq_add_lists = adds[first_pdq..].iter().map(|&(_, l)| l).collect();
        let first_pdq = tombs.partition_point(|(k, _)| k.kind() < HashKind::Pdq);
        // The base's PDQ hashes are sorted as PDQ keys are, so these come out sorted.
        let pdq_tombs = tombs[first_pdq..]
            .iter()
            .map(|(k, l)| {
                let i = base.find(k).expect("a tombstone is in the base");
                (i as u32, *l)
            })
            .collect();
        Delta {
            adds,
            tombs,
            pdq_adds,
            pdq_add_lists,
            pdq_tombs,
        }
    }

    fn len(&self) -> usize {
        self.adds.len() + self.tombs.len()
    }

    fn is_tomb(&self, key: &Key, list: ListId) -> bool {
        !self.tombs.is_empty() && self.tombs.binary_search(&(*key, list)).is_ok()
    }

    fn memory_bytes(&self) -> usize {
        size_of::<Delta>()
            + (self.adds.capacity() + self.tombs.capacity()) * size_of::<(Key, ListId)>()
            + self.pdq_adds.capacity() * 32
            + self.pdq_add_lists.capacity() * 4
            + self.pdq_tombs.capacity() * 8
    }
}

/// `(old ∪ ins) ∖ del`, all sorted and deduplicated.
fn merge_apply<T: Ord + Copy>(old: &[T], ins: &[T], del: &[T]) -> Vec<T> {
    let mut out = Vec::with_capacity(old.len() + ins.len());
    let (mut i, mut j, mut d) = (0, 0, 0);
    while i < old.len() || j < ins.len() {
        let next = match (old.get(i), ins.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
                *a
            }
            (Some(a), Some(b)) if a < b => {
                i += 1;
                *a
            }
            (Some(a), None) => {
                i += 1;
                *a
            }
            (_, Some(b)) => {
                j += 1;
                *b
            }
            (None, None) => unreachable!("loop condition"),
        };
        while d < del.len() && del[d] < next {
            d += 1;
        }
        if d < del.len() && del[d] == next {
            continue;
        }
        out.push(next);
    }
    out
}

/// The delta size above which [`Index::should_compact`] says yes: 4 096 changes or 1/1024 of the
/// base, whichever is larger.
///
/// Each query scans the PDQ part of the delta (about 1 ns per hash) and each
/// [`Index::with_changes`] copies the delta, so at 10 M hashes a delta of ~10 k costs about 10 µs
/// per query, a few per cent of a radius-31 search, while compaction (a full rebuild, seconds)
/// runs at most once per ~10 k changes.
fn compact_threshold(base_pairs: usize) -> usize {
    (base_pairs / 1024).max(4096)
}

/// An immutable snapshot of the hash lists: exact lookups for every kind and exact PDQ radius
/// search. See the [crate documentation](crate) for an example and [`design`] for how it works.
///
/// Cloning is cheap (two `Arc`s); a snapshot can be shared between threads and searched without
/// locks.
#[derive(Clone, Default)]
pub struct Index {
    base: Arc<Base>,
    delta: Arc<Delta>,
    /// Live `(key, list)` pairs per kind.
    live: [usize; 4],
}

impl fmt::Debug for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Index");
        for k in HashKind::ALL {
            d.field(k.name(), &self.live[k.ordinal()]);
        }
        d.field("delta", &self.delta.len())
            .field("memory_bytes", &self.memory_bytes())
            .finish()
    }
}

impl Index {
    /// An index with no hashes (allocates nothing).
    pub fn empty() -> Index {
        Index::default()
    }

    /// An index of `(key, list)` pairs. Duplicates collapse; a key may be on several lists.
    ///
    /// O(N log N), parallel with rayon: about half a second per million PDQ hashes on one
    /// core, 5 s for 10 M (see `BENCHMARKS.md`).
    pub fn build(entries: impl IntoIterator<Item = (Key, ListId)>) -> Index {
        let mut per_kind: [Vec<(Words, ListId)>; 4] = Default::default();
        for (k, l) in entries {
            per_kind[k.kind().ordinal()].push((bytes_to_words(k.raw()), l));
        }
        Index::from_base(Base::build(per_kind))
    }

    fn from_base(base: Base) -> Index {
        Index {
            live: base.pairs,
            base: Arc::new(base),
            delta: Arc::default(),
        }
    }

    /// A new snapshot with `changes` applied in order, sharing the base with `self`.
    ///
    /// Adding a pair that is there, or removing one that is not, is a no-op. Costs O(D + C log C)
    /// for a delta of D changes and C new ones, not O(N): the delta is copied, the base shared.
    pub fn with_changes(&self, changes: &[Change]) -> Index {
        if changes.is_empty() {
            return self.clone();
        }
        // Set semantics: the last change to a (key, list) pair decides whether it is present.
        let mut net: Vec<(Key, ListId, usize, bool)> = changes
            .iter()
            .enumerate()
            .map(|(seq, c)| match *c {
                Change::Add(k, l) => (k, l, seq, true),
                Change::Remove(k, l) => (k, l, seq, false),
            })
            .collect();
        net.sort_unstable_by_key(|a| (a.0, a.1, a.2));
        let (mut add_ins, mut add_del, mut tomb_ins, mut tomb_del) = Default::default();
        for run in net.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            let &(key, list, _, present) = run.last().expect("chunks are not empty");
            let v: &mut Vec<_> = match (present, self.base.contains(&key, list)) {
                (true, true) => &mut tomb_del,
                (true, false) => &mut add_ins,
                (false, true) => &mut tomb_ins,
                (false, false) => &mut add_del,
            };
            v.push((key, list));
        }
        let adds = merge_apply(&self.delta.adds, &add_ins, &add_del);
        let tombs = merge_apply(&self.delta.tombs, &tomb_ins, &tomb_del);
        let mut live = self.base.pairs;
        for (k, _) in &adds {
            live[k.kind().ordinal()] += 1;
        }
        for (k, _) in &tombs {
            live[k.kind().ordinal()] -= 1;
        }
        let delta = Delta::new(&self.base, adds, tombs);
        Index {
            base: Arc::clone(&self.base),
            delta: Arc::new(delta),
            live,
        }
    }

    /// Whether the delta has grown enough that the caller should [`compact`](Index::compact)
    /// (in a background thread) and publish the result.
    pub fn should_compact(&self) -> bool {
        self.delta.len() > compact_threshold(self.base.pairs.iter().sum())
    }

    /// The number of changes held in the delta (adds not in the base plus tombstones).
    pub fn delta_len(&self) -> usize {
        self.delta.len()
    }

    /// The same contents with the delta folded into a new base. O(N log N) (a rebuild, parallel
    /// with rayon); searches on `self` go on meanwhile.
    pub fn compact(&self) -> Index {
        let mut per_kind: [Vec<(Words, ListId)>; 4] = Default::default();
        for (k, n) in per_kind.iter_mut().zip(self.live) {
            k.reserve_exact(n);
        }
        self.for_each(|k, l| per_kind[k.kind().ordinal()].push((bytes_to_words(k.raw()), l)));
        Index::from_base(Base::build(per_kind))
    }

    /// Calls `f(key, list)` for every live pair, in no particular order.
    pub fn for_each(&self, mut f: impl FnMut(Key, ListId)) {
        let (base, delta) = (&*self.base, &*self.delta);
        for kind in HashKind::ALL {
            for i in 0..base.distinct(kind) {
                let key = base.key_at(kind, i);
                for &l in base.sets.get(base.list_ref(kind, i)) {
                    if !delta.is_tomb(&key, l) {
                        f(key, l);
                    }
                }
            }
        }
        for &(k, l) in &delta.adds {
            f(k, l);
        }
    }

    /// Whether `key` is on `list`.
    pub fn contains(&self, key: &Key, list: ListId) -> bool {
        (self.base.contains(key, list) && !self.delta.is_tomb(key, list))
            || self.delta.adds.binary_search(&(*key, list)).is_ok()
    }

    /// Exact lookup, for any kind (PDQ too): replaces the contents of `out` with the lists
    /// holding `key`, sorted and deduplicated.
    pub fn exact(&self, key: &Key, out: &mut Vec<ListId>) {
        out.clear();
        out.extend(
            self.base
                .lists(key)
                .iter()
                .copied()
                .filter(|&l| !self.delta.is_tomb(key, l)),
        );
        let adds = &self.delta.adds;
        if adds.is_empty() {
            return;
        }
        let first = adds.partition_point(|(k, _)| k < key);
        let from_base = out.len();
        let more = adds[first..].iter().take_while(|(k, _)| k == key);
        out.extend(more.map(|&(_, l)| l));
        // Base and delta lists are disjoint and each sorted.
        if from_base > 0 && out.len() > from_base {
            out.sort_unstable();
        }
    }

    /// PDQ radius search with 100 % recall: replaces the contents of `out` with one [`Hit`] for
    /// each list holding at least one PDQ hash within `radius` (inclusive) of `query`, with the
    /// smallest such distance, sorted by (distance, list).
    ///
    /// `query` is in Meta's byte order (as [`Key::as_bytes`] for a PDQ key). Radii up to
    /// [`MAX_RADIUS`] use the multi-index; larger ones scan every hash. Pass the same `scratch`
    /// to every call on one thread.
    pub fn search_pdq(
        &self,
        query: &[u8; 32],
        radius: u32,
        scratch: &mut Scratch,
        out: &mut Vec<Hit>,
    ) {
        out.clear();
        let q = bytes_to_words(query);
        scratch.found.clear();
        scratch.delta_found.clear();
        scratch.hits.clear();
        let (base, delta) = (&*self.base, &*self.delta);
        base.pdq.search(&q, radius, scratch);
        pdq::scan(&delta.pdq_adds, &q, radius, 0, &mut scratch.delta_found);
        for &(i, d) in &scratch.found {
            for &l in base.sets.get(base.pdq.list_ref(i as usize)) {
                if delta.pdq_tombs.is_empty() || delta.pdq_tombs.binary_search(&(i, l)).is_err() {
                    scratch.hits.push((l, d, *base.pdq.hash(i as usize)));
                }
            }
        }
        for &(i, d) in &scratch.delta_found {
            scratch.hits.push((
                delta.pdq_add_lists[i as usize],
                d,
                delta.pdq_adds[i as usize].0,
            ));
        }
        // Per list, the smallest distance (and the smallest hash at that distance).
        scratch.hits.sort_unstable();
        scratch.hits.dedup_by_key(|h| h.0);
        out.extend(scratch.hits.iter().map(|&(list, distance, w)| Hit {
            list,
            distance,
            hash: words_to_bytes(&w),
        }));
        out.sort_unstable_by_key(|h| (h.distance, h.list));
    }

    /// The number of live `(key, list)` pairs (a key on three lists counts three times).
    pub fn len(&self) -> usize {
        self.live.iter().sum()
    }

    /// Whether the index holds no pairs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of live `(key, list)` pairs of one kind.
    pub fn count(&self, kind: HashKind) -> usize {
        self.live[kind.ordinal()]
    }

    /// Heap and inline bytes held by this snapshot, base included (even when the base is shared
    /// with other snapshots). Counts allocated capacity, not just length.
    pub fn memory_bytes(&self) -> usize {
        size_of::<Index>() + self.base.memory_bytes() + self.delta.memory_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_apply_is_union_minus() {
        assert_eq!(merge_apply(&[1, 3, 5], &[2, 3, 6], &[5, 6, 7]), [1, 2, 3]);
        assert_eq!(merge_apply::<u8>(&[], &[], &[1]), [] as [u8; 0]);
        assert_eq!(merge_apply(&[1], &[], &[]), [1]);
    }

    #[test]
    fn words_round_trip() {
        let mut b = [0u8; 32];
        for (i, x) in b.iter_mut().enumerate() {
            *x = (i * 7) as u8;
        }
        assert_eq!(words_to_bytes(&bytes_to_words(&b)), b);
    }

    /// Above 2^21 hashes, hashes share bits of the "seen" bitmap; force heavy sharing on a
    /// small index and check that answers do not change.
    #[test]
    fn shared_seen_bits_never_change_answers() {
        let mut state = 1u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state
        };
        let mut stored = Vec::new();
        for i in 0..4000u32 {
            let h: [u8; 32] = std::array::from_fn(|_| next() as u8);
            stored.push((Key::pdq(h), i % 5));
        }
        let index = Index::build(stored.iter().copied());
        let brute = brute::Brute::new(stored.iter().copied());
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for seen_bits in [64, 1024, 1 << 21] {
            let mut scratch = Scratch::new();
            scratch.seen_bits = seen_bits;
            for (i, (k, _)) in stored.iter().enumerate().step_by(7) {
                let mut q: [u8; 32] = k.as_bytes().try_into().unwrap();
                let radius = [0, 15, 31, 40, 63][i % 5];
                for _ in 0..(i as u32 % (radius + 2)) {
                    let bit = (next() % 256) as usize;
                    q[bit / 8] ^= 1 << (bit % 8);
                }
                index.search_pdq(&q, radius, &mut scratch, &mut a);
                brute.search_pdq(&q, radius, &mut b);
                assert_eq!(a, b, "seen_bits {seen_bits} radius {radius}");
            }
        }
    }

    #[test]
    fn empty_index_allocates_nothing_and_finds_nothing() {
        let index = Index::empty();
        assert!(index.is_empty());
        let mut out = vec![1];
        index.exact(&Key::pdq([0; 32]), &mut out);
        assert!(out.is_empty());
        let mut hits = vec![Hit {
            list: 0,
            distance: 0,
            hash: [0; 32],
        }];
        index.search_pdq(&[0; 32], 256, &mut Scratch::new(), &mut hits);
        assert!(hits.is_empty());
        assert!(index.memory_bytes() < 1024, "{}", index.memory_bytes());
    }
}
