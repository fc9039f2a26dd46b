//! The PDQ table: sorted hashes plus a multi-index (16 slots × 16 bits) in CSR form.
//!
//! The layout and the reasons for it are in [`crate::design`].

use crate::lists::ListSetsBuilder;
use crate::{ListId, MAX_RADIUS, Words};
use multiversion::multiversion;
use rayon::prelude::*;

/// Number of slots (16-bit pieces) a hash is cut into.
pub(crate) const SLOTS: usize = 16;
/// Bits in the [`Scratch`] bitmap of hashes seen (at most; 256 KB).
const SEEN_BITS: usize = 1 << 21;
/// Possible values of one slot.
const BUCKETS: usize = 1 << 16;

/// Slot `i` (0..16) of a hash: bits `16 i .. 16 i + 16` counted from the first (leftmost hex)
/// byte, i.e. bytes `2 i` and `2 i + 1`.
#[inline(always)]
pub(crate) fn slot(w: &Words, i: usize) -> usize {
    (w[i / 4] >> (48 - 16 * (i % 4))) as u16 as usize
}

/// A hash aligned to 32 bytes, so that it never straddles two cache lines: verifying a
/// candidate is one cache miss, not one and a half on average (with 16-byte alignment every
/// other hash straddles a line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(C, align(32))]
pub(crate) struct Aligned(pub(crate) Words);

/// Hamming distance of two hashes.
#[inline(always)]
pub(crate) fn distance(a: &Words, b: &Words) -> u32 {
    (a[0] ^ b[0]).count_ones()
        + (a[1] ^ b[1]).count_ones()
        + (a[2] ^ b[2]).count_ones()
        + (a[3] ^ b[3]).count_ones()
}

/// All 16-bit masks with at most 3 bits set, by number of bits: 1 + 16 + 120 + 560.
static PROBES: [u16; 697] = probe_masks();

/// `PROBES[..PROBES_WITHIN[s]]` are the masks with at most `s` bits set.
const PROBES_WITHIN: [usize; 4] = [1, 17, 137, 697];

const fn probe_masks() -> [u16; 697] {
    let mut out = [0u16; 697];
    let mut n = 1;
    let mut a = 0;
    while a < 16 {
        out[n] = 1 << a;
        n += 1;
        a += 1;
    }
    a = 0;
    while a < 16 {
        let mut b = a + 1;
        while b < 16 {
            out[n] = (1 << a) | (1 << b);
            n += 1;
            b += 1;
        }
        a += 1;
    }
    a = 0;
    while a < 16 {
        let mut b = a + 1;
        while b < 16 {
            let mut c = b + 1;
            while c < 16 {
                out[n] = (1 << a) | (1 << b) | (1 << c);
                n += 1;
                c += 1;
            }
            b += 1;
        }
        a += 1;
    }
    assert!(n == 697);
    out
}

/// One slot's inverted index: `ids[offsets[v]..offsets[v + 1]]` are the positions (ascending) of
/// the hashes whose slot value is `v`.
#[derive(Debug)]
struct Slot {
    offsets: Box<[u32]>,
    ids: Box<[u32]>,
}

/// Distinct PDQ hashes, sorted, with their list references and the multi-index.
#[derive(Debug, Default)]
pub(crate) struct PdqTable {
    hashes: Vec<Aligned>,
    refs: Vec<u32>,
    /// Slot 0 needs no ids: the hashes are sorted, so those with slot-0 value `v` are the run
    /// `hashes[slot0[v]..slot0[v + 1]]`. Empty when there are no hashes.
    slot0: Box<[u32]>,
    /// `top[k]` is the slot-0 value of the hash at position `k << top_shift`: with `slot0`, it
    /// gives the slot-0 value of any position in a step or two, from tables small enough to
    /// stay in the L2 cache (≤ 256 KB each), for the filter in [`Self::search`].
    top: Box<[u16]>,
    top_shift: u32,
    /// Slots 1..16. Empty when there are no hashes.
    slots: Vec<Slot>,
}

/// Counting sort of the positions `0..hashes.len()` by slot `i`.
fn build_slot(hashes: &[Aligned], i: usize) -> Slot {
    let mut offsets = vec![0u32; BUCKETS + 1].into_boxed_slice();
    for Aligned(h) in hashes {
        offsets[slot(h, i) + 1] += 1;
    }
    for v in 1..=BUCKETS {
        offsets[v] += offsets[v - 1];
    }
    let mut next = offsets[..BUCKETS].to_vec();
    let mut ids = vec![0u32; hashes.len()].into_boxed_slice();
    for (id, Aligned(h)) in hashes.iter().enumerate() {
        let v = slot(h, i);
        ids[next[v] as usize] = id as u32;
        next[v] += 1;
    }
    Slot { offsets, ids }
}

impl PdqTable {
    /// Builds from `(hash, list)` pairs sorted and deduplicated.
    pub(crate) fn build(entries: &[(Words, ListId)], sets: &mut ListSetsBuilder) -> Self {
        let mut hashes = Vec::new();
        let mut refs = Vec::new();
        crate::for_each_group(entries, |words, lists| {
            hashes.push(Aligned(*words));
            refs.push(sets.encode(lists));
        });
        if hashes.is_empty() {
            return PdqTable::default();
        }
        assert!(
            hashes.len() < u32::MAX as usize,
            "at most 2^32 - 1 distinct PDQ hashes"
        );
        hashes.shrink_to_fit();
        refs.shrink_to_fit();
        let mut slot0 = vec![0u32; BUCKETS + 1].into_boxed_slice();
        for Aligned(h) in &hashes {
            slot0[slot(h, 0) + 1] += 1;
        }
        for v in 1..=BUCKETS {
            slot0[v] += slot0[v - 1];
        }
        // One entry per ~one slot-0 bucket: at most 2 × 65 536 entries.
        let top_shift = (hashes.len() / BUCKETS).checked_ilog2().unwrap_or(0);
        let top = hashes
            .iter()
            .step_by(1 << top_shift)
            .map(|Aligned(h)| slot(h, 0) as u16)
            .collect();
        let slots = (1..SLOTS)
            .into_par_iter()
            .map(|i| build_slot(&hashes, i))
            .collect();
        PdqTable {
            hashes,
            refs,
            slot0,
            top,
            top_shift,
            slots,
        }
    }

    /// The number of distinct hashes.
    pub(crate) fn len(&self) -> usize {
        self.hashes.len()
    }

    /// The hash at `i`.
    pub(crate) fn hash(&self, i: usize) -> &Words {
        &self.hashes[i].0
    }

    /// The list reference of the hash at `i`.
    #[inline]
    pub(crate) fn list_ref(&self, i: usize) -> &u32 {
        &self.refs[i]
    }

    /// The position of `h`, if present: its slot-0 run, then binary search.
    pub(crate) fn find(&self, h: &Words) -> Option<usize> {
        if self.hashes.is_empty() {
            return None;
        }
        let v = slot(h, 0);
        let (lo, hi) = (self.slot0[v] as usize, self.slot0[v + 1] as usize);
        self.hashes[lo..hi]
            .binary_search(&Aligned(*h))
            .ok()
            .map(|i| lo + i)
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.hashes.capacity() * 32
            + self.refs.capacity() * 4
            + self.slot0.len() * 4
            + self.top.len() * 2
            + self.slots.capacity() * size_of::<Slot>()
            + self
                .slots
                .iter()
                .map(|s| (s.offsets.len() + s.ids.len()) * 4)
                .sum::<usize>()
    }

    /// Appends to `found` every `(position, distance)` of a hash within `radius` of `q`, each
    /// position once, in no particular order.
    pub(crate) fn search(&self, q: &Words, radius: u32, scratch: &mut Scratch) {
        let n = self.hashes.len();
        if n == 0 {
            return;
        }
        if radius > MAX_RADIUS {
            scan(&self.hashes, q, radius, 0, &mut scratch.found);
            return;
        }
        let masks = &PROBES[..PROBES_WITHIN[(radius / 16) as usize]];
        // One bit per hash up to 2^21 hashes; beyond, hashes share bits (id mod 2^21). A shared
        // bit can only make a hash look "seen again", which sends it to full verification: never
        // a wrong answer, a few per cent more verifications at 10 M hashes, and a bitmap of
        // 256 KB that stays in the L2 cache (measured: one bit per hash, 1.25 MB at 10 M, made
        // its test-and-set the slowest step of the search).
        let bits = n.next_power_of_two().clamp(64, scratch.seen_bits.max(64));
        let (words, mask) = (bits / 64, (bits - 1) as u32);
        if scratch.seen.len() < words {
            scratch.seen.resize(words, 0);
        }
        // A hash within `radius` has a slot within `radius / 16` bits of the query's (pigeonhole):
        // the candidates are the hashes in the buckets of those slot values. First the bucket
        // bounds, slot by slot (independent loads, so their cache misses overlap).
        let ranges = &mut scratch.ranges;
        ranges.clear();
        let v0 = slot(q, 0);
        ranges.extend(masks.iter().map(|&m| {
            let v = v0 ^ usize::from(m);
            (self.slot0[v], self.slot0[v + 1])
        }));
        for (i, s) in self.slots.iter().enumerate() {
            let vi = slot(q, i + 1);
            ranges.extend(masks.iter().map(|&m| {
                let v = vi ^ usize::from(m);
                (s.offsets[v], s.offsets[v + 1])
            }));
        }
        let (ranges0, rest) = ranges.split_at(masks.len());
        // Then read one id in every cache line of every bucket, so those misses overlap too: the
        // marking loop below ends each bucket with a mispredicted branch, which would otherwise
        // make the CPU wait for one bucket's first cache line at a time (measured: 2x fewer
        // queries per second at 1 M hashes without this).
        let mut touch = 0u32;
        for (s, r) in self.slots.iter().zip(rest.chunks_exact(masks.len())) {
            for &(lo, hi) in r {
                for &id in s.ids[lo as usize..hi as usize].iter().step_by(16) {
                    touch ^= id;
                }
                touch ^= s.ids.get(hi.wrapping_sub(1) as usize).copied().unwrap_or(0);
            }
        }
        std::hint::black_box(touch);
        // Mark each candidate in the bitmap. The first time a hash is seen, keep it for
        // verification if it may match (below); every later time, put it in `again`: a hash
        // found through several slots is verified in full. No branch per id.
        //
        // Which first sightings may match: a hash first found in slot i >= 1 and in no other
        // slot differs from the query by more than `radius / 16` bits in each of the other 15
        // slots (else it would have been found there too), so its distance is at least
        // d0 + 14 (radius / 16 + 1), where d0 is its exact distance in slot 0. d0 comes from the
        // slot-0 tables, which stay in cache, instead of a read of 32 bytes out of 320 MB. At
        // radius 31 that leaves ~1 % of them (d0 <= 3); below radius 14, none (a match must
        // then show up in two slots). Hashes first found in slot 0 are all kept: they are read
        // in sorted runs, so cheaply.
        let total = ranges
            .iter()
            .map(|&(lo, hi)| (hi - lo) as usize)
            .sum::<usize>();
        let seen = &mut scratch.seen[..words];
        let (keep, again) = (&mut scratch.keep, &mut scratch.again);
        keep.clear();
        keep.resize(total, 0);
        again.clear();
        again.resize(total, 0);
        let (mut kept, mut dup) = (0, 0);
        for &(lo, hi) in ranges0 {
            for id in lo..hi {
                let b = id & mask;
                let (w, bit) = ((b >> 6) as usize, 1u64 << (b & 63));
                let old = seen[w];
                seen[w] = old | bit;
                keep[kept] = id;
                kept += usize::from(old & bit == 0);
                again[dup] = id;
                dup += usize::from(old & bit != 0);
            }
        }
        // `d0 < below` may match; 0 rejects every single sighting.
        let below = radius
            .checked_sub(14 * (radius / 16 + 1))
            .map_or(0, |l| l + 1);
        let marks = Marks {
            seen: &mut *seen,
            keep: &mut keep[..],
            kept,
            again: &mut again[..],
            dup,
        };
        let (kept, dup) = mark_slots(
            &self.slots,
            rest,
            masks.len(),
            self,
            slot(q, 0),
            below,
            marks,
        );
        keep.truncate(kept);
        again.truncate(dup);
        again.sort_unstable();
        again.dedup();
        keep.extend_from_slice(again);
        let found = &mut scratch.found;
        let first = found.len();
        verify(&self.hashes, q, radius, keep, found);
        // A hash both kept above and found again is verified twice.
        found[first..].sort_unstable();
        let mut n = first;
        for i in first..found.len() {
            if i == first || found[i] != found[n - 1] {
                found[n] = found[i];
                n += 1;
            }
        }
        found.truncate(n);
        // Leave the bitmap clear for the next query: every set bit belongs to a candidate. Read
        // the buckets again (they are in cache) when that touches fewer words than clearing all.
        if total < words {
            for &(lo, hi) in ranges0 {
                for id in lo..hi {
                    seen[((id & mask) >> 6) as usize] = 0;
                }
            }
            for (s, r) in self.slots.iter().zip(rest.chunks_exact(masks.len())) {
                for &(lo, hi) in r {
                    for &id in &s.ids[lo as usize..hi as usize] {
                        seen[((id & mask) >> 6) as usize] = 0;
                    }
                }
            }
        } else {
            seen.fill(0);
        }
    }
}

/// The marking state: the bitmap, and the two output buffers with their lengths.
struct Marks<'a> {
    seen: &'a mut [u64],
    keep: &'a mut [u32],
    kept: usize,
    again: &'a mut [u32],
    dup: usize,
}

/// Marks the ids of the buckets `ranges` of slots 1..16 (see [`PdqTable::search`]): first
/// sightings whose slot-0 value is less than `below` bits from `q0` go to `keep`, repeated ones
/// to `again`. Returns the new lengths.
///
/// The slot-0 value of position `id` is the `v` with `slot0[v] <= id < slot0[v + 1]`; `top`
/// (the value at every `2^top_shift`-th position) gives a start one or two steps below it.
#[multiversion(targets("x86_64+avx2+popcnt", "x86_64+popcnt"))]
fn mark_slots(
    slots: &[Slot],
    ranges: &[(u32, u32)],
    per_slot: usize,
    table: &PdqTable,
    q0: usize,
    below: u32,
    m: Marks<'_>,
) -> (usize, usize) {
    let Marks {
        seen,
        keep,
        mut kept,
        again,
        mut dup,
    } = m;
    let mask = (seen.len() * 64 - 1) as u32;
    let (slot0, top, shift) = (&table.slot0, &table.top, table.top_shift);
    for (s, r) in slots.iter().zip(ranges.chunks_exact(per_slot)) {
        for &(lo, hi) in r {
            for &id in &s.ids[lo as usize..hi as usize] {
                let b = id & mask;
                let (w, bit) = ((b >> 6) as usize, 1u64 << (b & 63));
                let old = seen[w];
                seen[w] = old | bit;
                let mut v = usize::from(top[(id >> shift) as usize]);
                // Usually zero or one step: take one without a branch, then loop for the rest.
                v += usize::from(slot0[v + 1] <= id);
                while slot0[v + 1] <= id {
                    v += 1;
                }
                let near = (v ^ q0).count_ones() < below;
                keep[kept] = id;
                kept += usize::from(old & bit == 0 && near);
                again[dup] = id;
                dup += usize::from(old & bit != 0);
            }
        }
    }
    (kept, dup)
}

/// Appends `(id, distance)` for each candidate within `radius`.
///
/// Each candidate is a random read in the hash array (320 MB at 10 M hashes), so this loop is
/// bound by how many cache misses the CPU keeps in flight. The verification loop is too long
/// for the reorder buffer to hold more than a few iterations' misses, so each chunk of
/// candidates is first read by a minimal loop whose loads all overlap, then verified from cache.
/// Measured on 41 k random reads over 10 M hashes (this project's VM): 30 ns per candidate
/// plain, 21-24 ns in chunks of 128-256 (the minimal loop alone: 18 ns); with huge pages
/// 24 → 15 ns (12 ns).
#[multiversion(targets("x86_64+avx2+popcnt", "x86_64+popcnt"))]
fn verify(hashes: &[Aligned], q: &Words, radius: u32, cands: &[u32], found: &mut Vec<(u32, u32)>) {
    for chunk in cands.chunks(VERIFY_CHUNK) {
        let mut touch = 0u64;
        for &id in chunk {
            touch ^= hashes[id as usize].0[0];
        }
        std::hint::black_box(touch);
        for &id in chunk {
            let d = distance(&hashes[id as usize].0, q);
            if d <= radius {
                found.push((id, d));
            }
        }
    }
}

/// Candidates per chunk in [`verify`]: their cache lines (8 KB) stay in L1.
const VERIFY_CHUNK: usize = 128;

/// Appends `(first + position, distance)` for each of `hashes` within `radius`.
#[multiversion(targets("x86_64+avx2+popcnt", "x86_64+popcnt"))]
pub(crate) fn scan(
    hashes: &[Aligned],
    q: &Words,
    radius: u32,
    first: u32,
    found: &mut Vec<(u32, u32)>,
) {
    for (i, Aligned(h)) in hashes.iter().enumerate() {
        let d = distance(h, q);
        if d <= radius {
            found.push((first + i as u32, d));
        }
    }
}

/// Per-thread buffers reused across PDQ searches: keep one per thread and pass it to every
/// [`Index::search_pdq`](crate::Index::search_pdq) call.
///
/// It holds a bitmap of the hashes seen during a search (one bit per hash, at most 256 KB),
/// so candidates found through several slots are checked once, and the candidate and result
/// buffers. Nothing in it outlives a search except capacity.
#[derive(Debug)]
pub struct Scratch {
    seen: Vec<u64>,
    /// The most bits `seen` may have: [`SEEN_BITS`], or fewer in tests of bit sharing.
    pub(crate) seen_bits: usize,
    ranges: Vec<(u32, u32)>,
    again: Vec<u32>,
    keep: Vec<u32>,
    pub(crate) found: Vec<(u32, u32)>,
    pub(crate) delta_found: Vec<(u32, u32)>,
    pub(crate) hits: Vec<(ListId, u32, Words)>,
}

impl Default for Scratch {
    fn default() -> Scratch {
        Scratch {
            seen: Vec::new(),
            seen_bits: SEEN_BITS,
            ranges: Vec::new(),
            again: Vec::new(),
            keep: Vec::new(),
            found: Vec::new(),
            delta_found: Vec::new(),
            hits: Vec::new(),
        }
    }
}

impl Scratch {
    /// Empty buffers; they grow on first use.
    pub fn new() -> Scratch {
        Scratch::default()
    }

    /// Heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.seen.capacity() * 8
            + (self.again.capacity() + self.keep.capacity()) * 4
            + self.ranges.capacity() * 8
            + (self.found.capacity() + self.delta_found.capacity() + self.hits.capacity()) * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_masks_are_distinct_and_grouped_by_bit_count() {
        let mut seen = std::collections::HashSet::new();
        for (s, w) in PROBES_WITHIN.windows(2).enumerate() {
            for &m in &PROBES[w[0]..w[1]] {
                assert_eq!(m.count_ones() as usize, s + 1);
                assert!(seen.insert(m));
            }
        }
        assert_eq!(PROBES[0], 0);
    }

    #[test]
    fn slots_cover_the_bytes_in_order() {
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = i as u8;
        }
        let w = crate::bytes_to_words(&bytes);
        for i in 0..SLOTS {
            assert_eq!(
                slot(&w, i),
                usize::from(u16::from_be_bytes([bytes[2 * i], bytes[2 * i + 1]]))
            );
        }
    }
}
