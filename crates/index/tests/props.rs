//! The index against the brute-force oracle: exact lookups of every kind, PDQ radius search,
//! snapshots with changes, and compaction.

mod common;

use common::Rng;
use index::brute::Brute;
use index::{Change, HashKind, Index, Key, ListId, MAX_RADIUS, Scratch};
use proptest::prelude::*;

/// Parameters of a generated base.
#[derive(Clone, Debug)]
struct Spec {
    seed: u64,
    /// Uniformly random PDQ hashes.
    random: usize,
    /// Clusters of near-duplicates: `centres × per_centre` hashes within `max_flips` bits of
    /// their centre (0 flips: exact duplicates).
    centres: usize,
    per_centre: usize,
    max_flips: u32,
    /// Lists are `0..lists`; this many hashes are also put on a second and third list.
    lists: u32,
    multi: usize,
    /// Keys of each digest kind; every third one shares its leading bytes with the previous.
    digests: usize,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        any::<u64>(),
        0..300usize,
        0..12usize,
        1..30usize,
        0..48u32,
        1..6u32,
        0..40usize,
        0..60usize,
    )
        .prop_map(
            |(seed, random, centres, per_centre, max_flips, lists, multi, digests)| Spec {
                seed,
                random,
                centres,
                per_centre,
                max_flips,
                lists,
                multi,
                digests,
            },
        )
}

fn entries(spec: &Spec) -> Vec<(Key, ListId)> {
    let mut rng = Rng::new(spec.seed);
    let mut out = Vec::new();
    let list = |rng: &mut Rng| rng.below(u64::from(spec.lists)) as ListId;
    for _ in 0..spec.random {
        let h = rng.hash();
        out.push((Key::pdq(h), list(&mut rng)));
    }
    for _ in 0..spec.centres {
        let c = rng.hash();
        for _ in 0..spec.per_centre {
            let k = rng.below(u64::from(spec.max_flips) + 1) as u32;
            let h = rng.flip(&c, k);
            out.push((Key::pdq(h), list(&mut rng)));
        }
    }
    let pdq_count = out.len();
    for _ in 0..spec.multi.min(pdq_count) {
        let (k, l) = out[rng.below(pdq_count as u64) as usize];
        out.push((k, l.wrapping_add(1 + rng.below(2) as u32)));
        out.push((k, l)); // a duplicate pair
    }
    // A list id with the top bit set must work like any other.
    if pdq_count > 0 {
        out.push((out[0].0, u32::MAX));
    }
    for kind in [HashKind::Md5, HashKind::Sha1, HashKind::Sha256] {
        let mut prev = [0u8; 32];
        for i in 0..spec.digests {
            let mut b = rng.hash();
            if i % 3 == 2 {
                b[..4].copy_from_slice(&prev[..4]);
            }
            prev = b;
            out.push((
                Key::new(kind, &b[..kind.byte_len()]).unwrap(),
                list(&mut rng),
            ));
        }
    }
    out
}

/// Queries for radius `r` around the stored PDQ hashes: within `r` (random and evenly spread
/// flips, which is the worst case for the pigeonhole), just outside, and random.
fn queries(stored: &[[u8; 32]], r: u32, rng: &mut Rng, n: usize) -> Vec<[u8; 32]> {
    let mut out = Vec::new();
    for i in 0..n {
        if stored.is_empty() || i % 5 == 4 {
            out.push(rng.hash());
            continue;
        }
        let h = &stored[rng.below(stored.len() as u64) as usize];
        let k = match i % 5 {
            0 => rng.below(u64::from(r) + 1) as u32,
            3 => r + rng.below(3) as u32,
            _ => r + (i % 5 == 2) as u32,
        };
        out.push(if i % 5 == 1 || i % 5 == 2 {
            rng.flip_spread(h, k)
        } else {
            rng.flip(h, k)
        });
    }
    out
}

fn pdq_bytes(entries: &[(Key, ListId)]) -> Vec<[u8; 32]> {
    entries
        .iter()
        .filter(|(k, _)| k.kind() == HashKind::Pdq)
        .map(|(k, _)| k.as_bytes().try_into().unwrap())
        .collect()
}

/// Asserts `index` and `brute` hold the same pairs and answer the same, for the given keys
/// (exact, contains) and PDQ queries at radius `r`.
fn assert_same(index: &Index, brute: &Brute, keys: &[Key], qs: &[[u8; 32]], r: u32) {
    assert_eq!(index.len(), brute.len());
    assert_eq!(index.is_empty(), brute.is_empty());
    for kind in HashKind::ALL {
        assert_eq!(index.count(kind), brute.count(kind), "{kind}");
    }
    let mut all = Vec::new();
    index.for_each(|k, l| all.push((k, l)));
    all.sort_unstable();
    assert_eq!(all, brute.pairs().collect::<Vec<_>>());

    let (mut a, mut b) = (Vec::new(), Vec::new());
    for k in keys {
        index.exact(k, &mut a);
        brute.exact(k, &mut b);
        assert_eq!(a, b, "exact {k}");
        for l in [0, 1, 2, 5, u32::MAX] {
            assert_eq!(index.contains(k, l), b.contains(&l), "contains {k} {l}");
        }
    }
    let mut scratch = Scratch::new();
    let (mut ha, mut hb) = (Vec::new(), Vec::new());
    for q in qs {
        index.search_pdq(q, r, &mut scratch, &mut ha);
        brute.search_pdq(q, r, &mut hb);
        assert_eq!(ha, hb, "search radius {r} query {}", Key::pdq(*q));
    }
}

fn radius(rng: &mut Rng) -> u32 {
    match rng.below(8) {
        0 => 64 + rng.below(80) as u32, // above MAX_RADIUS: the scan path
        1 => 31,
        _ => rng.below(u64::from(MAX_RADIUS) + 1) as u32,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn build_and_search_equal_brute_force(spec in spec(), qseed: u64) {
        let e = entries(&spec);
        let index = Index::build(e.iter().copied());
        let brute = Brute::new(e.iter().copied());
        let mut rng = Rng::new(qseed);
        let mut keys: Vec<Key> = e.iter().map(|p| p.0).collect();
        // Absent keys of each kind, including one a bit away from a stored PDQ hash.
        for kind in HashKind::ALL {
            keys.push(Key::new(kind, &rng.hash()[..kind.byte_len()]).unwrap());
        }
        let stored = pdq_bytes(&e);
        if let Some(h) = stored.first() {
            keys.push(Key::pdq(rng.flip(h, 1)));
        }
        for _ in 0..4 {
            let r = radius(&mut rng);
            let qs = queries(&stored, r, &mut rng, 25);
            assert_same(&index, &brute, &keys, &qs, r);
        }
    }

    #[test]
    fn changes_then_compact_equal_brute_force(
        spec in spec(),
        batches in prop::collection::vec(
            prop::collection::vec((any::<bool>(), any::<u16>(), 0..4u32), 0..40), 1..6),
        qseed: u64,
    ) {
        let e = entries(&spec);
        let mut rng = Rng::new(qseed);
        // The pool of keys the changes draw from: the base's, near-duplicates, and new ones.
        let mut pool: Vec<Key> = e.iter().map(|p| p.0).collect();
        let stored = pdq_bytes(&e);
        for _ in 0..20 {
            if let Some(h) = stored.get(rng.below(stored.len() as u64 + 1) as usize) {
                let k = rng.below(20) as u32;
                pool.push(Key::pdq(rng.flip(h, k)));
            }
            let kind = HashKind::ALL[rng.below(4) as usize];
            pool.push(Key::new(kind, &rng.hash()[..kind.byte_len()]).unwrap());
        }
        let mut index = Index::build(e.iter().copied());
        let mut brute = Brute::new(e.iter().copied());
        for (round, batch) in batches.iter().enumerate() {
            let changes: Vec<Change> = batch
                .iter()
                .map(|&(add, i, l)| {
                    let k = pool[usize::from(i) % pool.len()];
                    if add { Change::Add(k, l) } else { Change::Remove(k, l) }
                })
                .collect();
            // Sometimes the same changes twice: applying them again is a no-op.
            index = index.with_changes(&changes);
            if round % 2 == 1 {
                index = index.with_changes(&changes);
            }
            brute.apply(&changes);
            let mut all_pdq: Vec<[u8; 32]> = stored.clone();
            all_pdq.extend(pool.iter().filter(|k| k.kind() == HashKind::Pdq)
                .map(|k| <[u8; 32]>::try_from(k.as_bytes()).unwrap()));
            let r = radius(&mut rng);
            let qs = queries(&all_pdq, r, &mut rng, 20);
            assert_same(&index, &brute, &pool, &qs, r);
            if round % 3 == 2 {
                let compacted = index.compact();
                prop_assert_eq!(compacted.delta_len(), 0);
                assert_same(&compacted, &brute, &pool, &qs, r);
                index = compacted;
            }
        }
        let rebuilt = Index::build(brute.pairs());
        let r = radius(&mut rng);
        let qs = queries(&stored, r, &mut rng, 20);
        assert_same(&rebuilt, &brute, &pool, &qs, r);
        assert_same(&index.compact(), &brute, &pool, &qs, r);
    }
}

#[test]
fn every_radius_finds_hashes_at_exactly_that_distance_spread_over_all_slots() {
    let mut rng = Rng::new(7);
    let stored = common::clustered_hashes(3000, 30, 40, 8);
    let index = Index::build(
        stored
            .iter()
            .enumerate()
            .map(|(i, h)| (Key::pdq(*h), i as u32 % 7)),
    );
    let brute = Brute::new(
        stored
            .iter()
            .enumerate()
            .map(|(i, h)| (Key::pdq(*h), i as u32 % 7)),
    );
    let mut scratch = Scratch::new();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for r in 0..=MAX_RADIUS + 2 {
        for _ in 0..20 {
            let h = &stored[rng.below(stored.len() as u64) as usize];
            let q = rng.flip_spread(h, r);
            index.search_pdq(&q, r, &mut scratch, &mut a);
            brute.search_pdq(&q, r, &mut b);
            assert_eq!(a, b, "radius {r}");
            assert!(!a.is_empty());
        }
    }
}

#[test]
fn clustered_base_at_radius_31_equals_brute_force() {
    let mut rng = Rng::new(11);
    let mut stored = common::clustered_hashes(20_000, 50, 31, 12);
    stored.extend(common::random_hashes(10_000, 13));
    let pairs: Vec<(Key, ListId)> = stored
        .iter()
        .map(|h| (Key::pdq(*h), rng.below(20) as u32))
        .collect();
    let index = Index::build(pairs.iter().copied());
    let brute = Brute::new(pairs.iter().copied());
    let qs = queries(&stored, 31, &mut rng, 300);
    assert_same(&index, &brute, &[], &qs, 31);
}

#[test]
fn pdq_exact_lookup_distinguishes_neighbours() {
    let h = [0x5au8; 32];
    let mut near = h;
    near[31] ^= 1;
    let index = Index::build([(Key::pdq(h), 3), (Key::pdq(h), 1)]);
    let mut out = Vec::new();
    index.exact(&Key::pdq(h), &mut out);
    assert_eq!(out, [1, 3]);
    index.exact(&Key::pdq(near), &mut out);
    assert!(out.is_empty());
    // The same bytes as another kind are another key.
    index.exact(&Key::new(HashKind::Sha256, &h).unwrap(), &mut out);
    assert!(out.is_empty());
}

#[test]
fn should_compact_after_enough_changes_and_not_before() {
    let base: Vec<(Key, ListId)> = common::random_hashes(100, 1)
        .into_iter()
        .map(|h| (Key::pdq(h), 0))
        .collect();
    let mut index = Index::build(base.iter().copied());
    assert!(!index.should_compact());
    let adds: Vec<Change> = common::random_hashes(5000, 2)
        .into_iter()
        .map(|h| Change::Add(Key::pdq(h), 1))
        .collect();
    index = index.with_changes(&adds[..100]);
    assert!(!index.should_compact());
    assert_eq!(index.delta_len(), 100);
    index = index.with_changes(&adds);
    assert!(index.should_compact());
    let compacted = index.compact();
    assert!(!compacted.should_compact());
    assert_eq!(compacted.len(), 5100);
}

#[test]
fn old_snapshots_are_unchanged_by_new_ones() {
    let k = Key::pdq([9; 32]);
    let a = Index::build([(k, 1)]);
    let b = a.with_changes(&[Change::Remove(k, 1), Change::Add(k, 2)]);
    let c = b.compact();
    let mut out = Vec::new();
    a.exact(&k, &mut out);
    assert_eq!(out, [1]);
    b.exact(&k, &mut out);
    assert_eq!(out, [2]);
    c.exact(&k, &mut out);
    assert_eq!(out, [2]);
}

/// Bytes per PDQ hash at 1 M random hashes, one list each. The 16 tables of bucket offsets
/// (16 × 65 537 × 4 B ≈ 4.2 MB) and the slot-0 directory of the search filter (at most
/// 2 × 65 536 × 2 B = 256 KB) are fixed costs; the rest must fit the per-hash budget of
/// 32 (hash) + 60 (ids in slots 1..16) + 4 (lists) = 96 bytes, so 10 M hashes take
/// ≤ 96.5 bytes each (BENCHMARKS.md has the measured 10 M figure).
#[test]
fn memory_per_pdq_hash_fits_the_budget() {
    let n = 1_000_000;
    let index = Index::build(
        common::random_hashes(n, 5)
            .into_iter()
            .map(|h| (Key::pdq(h), 1)),
    );
    assert_eq!(index.count(HashKind::Pdq), n);
    let fixed = 16 * 65_537 * 4 + 2 * 65_536 * 2;
    let bytes = index.memory_bytes();
    let per_hash = bytes.saturating_sub(fixed) as f64 / n as f64;
    eprintln!(
        "{bytes} bytes, {:.2} per hash, {per_hash:.2} beyond the fixed tables",
        bytes as f64 / n as f64
    );
    assert!(per_hash <= 96.1, "{per_hash} bytes per hash");
    assert!(per_hash + fixed as f64 / 10e6 <= 100.0);
}
