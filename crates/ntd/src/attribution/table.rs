//! A lookup table of inclusive IP address ranges, and the error shared by the data loaders.
//!
//! Attribution asks one question millions of times: *which of the loaded ranges contain this
//! address, and which of them is the most specific?* The ranges come from two kinds of data:
//!
//! * **RIR registration data** (RIPE `inetnum`/`inet6num`): ranges **nest**. An allocation
//!   `/13` to a provider contains an assignment `/24` to a customer, which may contain a
//!   range that is not aligned to any prefix (`198.51.100.10 - 198.51.100.20`). The answer
//!   is the *smallest* range that contains the address, and, when that range has no abuse
//!   contact, its parents in turn (RIPE's own rule, see [`super::rpsl`]).
//! * **Routing data** (iptoasn.com, see [`super::ip2asn`]): flat, sorted, non-overlapping
//!   ranges, which are the trivial case of the above.
//!
//! A prefix trie cannot hold ranges such as `198.51.100.10 - 198.51.100.20` without
//! splitting them into prefixes, and a crate of interval trees brings more than this needs,
//! so the table is hand-written over sorted arrays.
//!
//! # How it works
//!
//! [`RangeTable::new`] sorts the ranges once, by first address ascending and, for equal
//! first addresses, by last address descending, so that an enclosing range comes before the
//! ranges it encloses. One pass with a stack then records each range's **parent**: the
//! nearest earlier range that still contains its first address. For properly nested
//! (laminar) ranges that is exactly the nearest enclosing range, and the parent links form
//! the containment tree.
//!
//! A lookup binary-searches the last range whose first address is `<=` the queried one and
//! walks up the parent links. Every range that contains the address lies on that walk: a
//! range that is not on it was taken off the stack because it ended before a later range
//! began, so it ends before the address too. For nested data the first containing range
//! met is the smallest, and the walk stops there; the cost is one binary search plus the
//! nesting depth (a handful for RIPE data), for tables of millions of ranges.
//!
//! Both address families are kept in separate sorted arrays (`u32` keys for IPv4, `u128`
//! for IPv6), so an IPv4 table of five million ranges costs eight bytes per key rather than
//! thirty-two, and a range such as `::/0` never swallows IPv4 addresses. An IPv4-mapped
//! IPv6 address (`::ffff:192.0.2.1`) is looked up as the IPv4 address it carries, and a
//! range whose two ends are both IPv4-mapped is stored as an IPv4 range.
//!
//! # Tolerated irregularities
//!
//! * **Partially overlapping ranges** (`.0 - .100` and `.50 - .200`) break the nesting the
//!   parent links assume, but lookups stay correct: a range that is not contained in its
//!   parent marks its part of the tree as irregular, and there the walk does not stop at
//!   the first containing range but goes on to the root, keeping the smallest containing
//!   range it meets. The walk still meets every containing range, so
//!   [`RangeTable::most_specific`] still returns the smallest one (for data with many long
//!   chains of partial overlaps a lookup can then cost more than the nesting depth).
//! * **Exact duplicates** are all kept; [`RangeTable::most_specific`] returns the one given
//!   last, and [`RangeTable::containing`] lists all of them, the one given last first.
//!   More generally, among equally small containing ranges the one that starts last wins
//!   (for equal starts, the one given last).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A data file could not be loaded; nothing from it is used.
///
/// Shared by the loaders of the attribution data ([`super::ip2asn::parse`],
/// [`super::rpsl::objects`], [`super::rpsl::build`]).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("line {line}: {message}")]
pub struct DataError {
    /// The 1-based line at fault; for a problem with a whole object, the line where the
    /// object starts.
    pub line: usize,
    /// What is wrong, in lower case, naming the value at fault.
    pub message: String,
}

impl DataError {
    /// An error at `line` (1-based) with `message`.
    pub fn new(line: usize, message: impl Into<String>) -> Self {
        DataError {
            line,
            message: message.into(),
        }
    }
}

/// A range given to [`RangeTable::new`] is not a range.
///
/// `index` is the position of the offending range in the `Vec` given to
/// [`RangeTable::new`], so a loader can point at the line it came from.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum RangeError {
    /// The first address is after the last address.
    #[error("range {index}: first address {first} is after last address {last}")]
    Reversed {
        /// Position of the range in the input.
        index: usize,
        /// The range's first address, as given.
        first: IpAddr,
        /// The range's last address, as given.
        last: IpAddr,
    },
    /// One end is IPv4 and the other IPv6 (an IPv4-mapped IPv6 address counts as IPv4).
    #[error(
        "range {index}: first address {first} and last address {last} are of different families"
    )]
    MixedFamilies {
        /// Position of the range in the input.
        index: usize,
        /// The range's first address, as given.
        first: IpAddr,
        /// The range's last address, as given.
        last: IpAddr,
    },
    /// More ranges of one family than the table's 32-bit parent links can address.
    #[error("{count} ranges of one address family; at most {max} are supported")]
    TooMany {
        /// How many ranges of that family were given.
        count: usize,
        /// The most the table supports.
        max: usize,
    },
}

/// An IP address as the table sees it: IPv4-mapped IPv6 addresses become IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The ends of one range in one family's key space.
enum Bounds {
    V4(u32, u32),
    V6(u128, u128),
}

/// Sorts a range into a family: both ends IPv4 (or IPv4-mapped) make an IPv4 range, both
/// ends IPv6 (not both mapped) an IPv6 range; `None` for a real mix.
fn bounds(first: IpAddr, last: IpAddr) -> Option<Bounds> {
    match (canonical(first), canonical(last)) {
        (IpAddr::V4(a), IpAddr::V4(b)) => Some(Bounds::V4(u32::from(a), u32::from(b))),
        _ => match (first, last) {
            (IpAddr::V6(a), IpAddr::V6(b)) => Some(Bounds::V6(u128::from(a), u128::from(b))),
            _ => None,
        },
    }
}

/// Parent link of a range that has no parent.
const NO_PARENT: u32 = u32::MAX;

/// One range of a family, in sorted order; its first address is in `Family::firsts`.
#[derive(Debug, Clone)]
struct Node<K, T> {
    last: K,
    /// Index of the nearest earlier range still containing this range's first address.
    parent: u32,
    /// This range and every ancestor lie within their parents: every ancestor contains
    /// this range, so none can be smaller.
    nested: bool,
    value: T,
}

/// The table for one address family, keyed by `u32` (IPv4) or `u128` (IPv6).
#[derive(Debug, Clone)]
struct Family<K, T> {
    /// First addresses, sorted; kept apart from the nodes so the binary search touches only
    /// them.
    firsts: Vec<K>,
    nodes: Vec<Node<K, T>>,
}

impl<K, T> Family<K, T>
where
    K: Copy + Ord + Into<u128>,
{
    fn empty() -> Self {
        Family {
            firsts: Vec::new(),
            nodes: Vec::new(),
        }
    }

    /// Sorts and links the ranges; `Err(count)` if there are too many for `u32` links.
    fn build(mut ranges: Vec<(K, K, T)>) -> Result<Self, usize> {
        if ranges.len() >= NO_PARENT as usize {
            return Err(ranges.len());
        }
        // Stable, so exact duplicates keep their input order (the later one wins a lookup).
        ranges.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut firsts = Vec::with_capacity(ranges.len());
        let mut nodes: Vec<Node<K, T>> = Vec::with_capacity(ranges.len());
        // The parent chain of the range pushed last.
        let mut stack: Vec<u32> = Vec::new();
        for (first, last, value) in ranges {
            while let Some(&top) = stack.last() {
                if nodes[top as usize].last < first {
                    stack.pop();
                } else {
                    break;
                }
            }
            let (parent, nested) = match stack.last() {
                None => (NO_PARENT, true),
                Some(&p) => {
                    let up = &nodes[p as usize];
                    (p, last <= up.last && up.nested)
                }
            };
            let index = u32::try_from(nodes.len()).map_err(|_| nodes.len())?;
            firsts.push(first);
            nodes.push(Node {
                last,
                parent,
                nested,
                value,
            });
            stack.push(index);
        }
        Ok(Family { firsts, nodes })
    }

    /// Calls `visit(index, size)` for every range containing `key`, walking up from the
    /// last range starting at or before `key`; stops early when `visit` returns `false`.
    fn walk(&self, key: K, mut visit: impl FnMut(usize, u128) -> bool) {
        let after = self.firsts.partition_point(|&f| f <= key);
        let Some(mut i) = after.checked_sub(1) else {
            return;
        };
        loop {
            let node = &self.nodes[i];
            if node.last >= key {
                let size = node.last.into() - self.firsts[i].into();
                if !visit(i, size) {
                    return;
                }
            }
            if node.parent == NO_PARENT {
                return;
            }
            i = node.parent as usize;
        }
    }

    fn most_specific(&self, key: K) -> Option<&T> {
        let mut best: Option<(u128, usize)> = None;
        self.walk(key, |i, size| {
            if best.is_none_or(|(smallest, _)| size < smallest) {
                best = Some((size, i));
            }
            // In a nested chain every ancestor contains this range: none is smaller.
            !self.nodes[i].nested
        });
        best.map(|(_, i)| &self.nodes[i].value)
    }

    fn containing(&self, key: K) -> Vec<&T> {
        let mut found: Vec<(u128, usize)> = Vec::new();
        self.walk(key, |i, size| {
            found.push((size, i));
            true
        });
        // Already smallest first for nested data; stable, so ties keep the walk's order.
        found.sort_by_key(|&(size, _)| size);
        found
            .into_iter()
            .map(|(_, i)| &self.nodes[i].value)
            .collect()
    }
}

/// A lookup table of inclusive IP address ranges (IPv4 and IPv6) with a value for each.
///
/// Ranges may nest and need not be aligned to prefixes; see the [module documentation](self)
/// for the algorithm and for how overlaps and duplicates are treated.
///
/// ```
/// use std::net::IpAddr;
/// use ntd::attribution::table::RangeTable;
///
/// let ip = |s: &str| s.parse::<IpAddr>().unwrap();
/// let table = RangeTable::new(vec![
///     (ip("198.51.100.0"), ip("198.51.100.255"), "assignment"),
///     (ip("198.51.100.10"), ip("198.51.100.20"), "customer"),
/// ])?;
/// assert_eq!(table.most_specific(ip("198.51.100.15")), Some(&"customer"));
/// assert_eq!(table.containing(ip("198.51.100.15")), vec![&"customer", &"assignment"]);
/// assert_eq!(table.most_specific(ip("192.0.2.1")), None);
/// # Ok::<(), ntd::attribution::table::RangeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RangeTable<T> {
    v4: Family<u32, T>,
    v6: Family<u128, T>,
}

impl<T> Default for RangeTable<T> {
    fn default() -> Self {
        RangeTable {
            v4: Family::empty(),
            v6: Family::empty(),
        }
    }
}

impl<T> RangeTable<T> {
    /// Builds the table from `(first, last, value)` triples, both ends inclusive, in any
    /// order.
    ///
    /// Fails on a range whose first address is after its last, or whose ends are of
    /// different families; [`RangeError`] says which range (by position) was at fault.
    pub fn new(ranges: Vec<(IpAddr, IpAddr, T)>) -> Result<Self, RangeError> {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for (index, (first, last, value)) in ranges.into_iter().enumerate() {
            let reversed = RangeError::Reversed { index, first, last };
            match bounds(first, last) {
                Some(Bounds::V4(a, b)) if a <= b => v4.push((a, b, value)),
                Some(Bounds::V6(a, b)) if a <= b => v6.push((a, b, value)),
                Some(_) => return Err(reversed),
                None => return Err(RangeError::MixedFamilies { index, first, last }),
            }
        }
        let too_many = |count| RangeError::TooMany {
            count,
            max: NO_PARENT as usize - 1,
        };
        Ok(RangeTable {
            v4: Family::build(v4).map_err(too_many)?,
            v6: Family::build(v6).map_err(too_many)?,
        })
    }

    /// The value of the smallest range containing `ip`, or `None` if no range does.
    pub fn most_specific(&self, ip: IpAddr) -> Option<&T> {
        match canonical(ip) {
            IpAddr::V4(a) => self.v4.most_specific(u32::from(a)),
            IpAddr::V6(a) => self.v6.most_specific(u128::from(a)),
        }
    }

    /// The values of all ranges containing `ip`, most specific (smallest) first: for nested
    /// data, the range and its parents up to the outermost.
    ///
    /// RIPE's abuse contact rule falls through to the parent when a range has no contact of
    /// its own; this is the list it falls through.
    pub fn containing(&self, ip: IpAddr) -> Vec<&T> {
        match canonical(ip) {
            IpAddr::V4(a) => self.v4.containing(u32::from(a)),
            IpAddr::V6(a) => self.v6.containing(u128::from(a)),
        }
    }

    /// The number of ranges in the table, both families together.
    pub fn len(&self) -> usize {
        self.v4.nodes.len() + self.v6.nodes.len()
    }

    /// Whether the table holds no range at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The first and last address of an IPv4 prefix `ip/len` (`len` at most 32); host bits
/// set in `ip` are ignored.
pub(crate) fn v4_prefix(ip: Ipv4Addr, len: u8) -> (Ipv4Addr, Ipv4Addr) {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    let first = u32::from(ip) & mask;
    (Ipv4Addr::from(first), Ipv4Addr::from(first | !mask))
}

/// The first and last address of an IPv6 prefix `ip/len` (`len` at most 128); host bits
/// set in `ip` are ignored.
pub(crate) fn v6_prefix(ip: Ipv6Addr, len: u8) -> (Ipv6Addr, Ipv6Addr) {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    let first = u128::from(ip) & mask;
    (Ipv6Addr::from(first), Ipv6Addr::from(first | !mask))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn table(ranges: &[(&str, &str, &'static str)]) -> RangeTable<&'static str> {
        RangeTable::new(ranges.iter().map(|&(a, b, v)| (ip(a), ip(b), v)).collect()).unwrap()
    }

    /// A small deterministic generator (64-bit LCG, Knuth's MMIX constants); no dependency.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }

        /// A number in `0..n`.
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn nested_ranges_give_the_smallest_and_the_parent_chain() {
        let t = table(&[
            ("198.51.100.10", "198.51.100.20", "odd"),
            ("198.51.0.0", "198.51.255.255", "slash16"),
            ("198.51.100.0", "198.51.100.255", "slash24"),
        ]);
        assert_eq!(t.len(), 3);
        assert!(!t.is_empty());
        assert_eq!(t.most_specific(ip("198.51.100.10")), Some(&"odd"));
        assert_eq!(t.most_specific(ip("198.51.100.20")), Some(&"odd"));
        assert_eq!(t.most_specific(ip("198.51.100.21")), Some(&"slash24"));
        assert_eq!(t.most_specific(ip("198.51.100.9")), Some(&"slash24"));
        assert_eq!(t.most_specific(ip("198.51.101.1")), Some(&"slash16"));
        assert_eq!(t.most_specific(ip("198.50.255.255")), None);
        assert_eq!(t.most_specific(ip("198.52.0.0")), None);
        assert_eq!(
            t.containing(ip("198.51.100.15")),
            vec![&"odd", &"slash24", &"slash16"]
        );
        assert_eq!(
            t.containing(ip("198.51.100.30")),
            vec![&"slash24", &"slash16"]
        );
        assert!(t.containing(ip("192.0.2.1")).is_empty());
    }

    #[test]
    fn siblings_after_a_nested_child_fall_back_to_the_parent() {
        // After the child ends, the next range's search lands on the child and must climb.
        let t = table(&[
            ("192.0.2.0", "192.0.2.255", "parent"),
            ("192.0.2.0", "192.0.2.15", "first-child"),
            ("192.0.2.4", "192.0.2.7", "grandchild"),
            ("192.0.2.64", "192.0.2.127", "second-child"),
        ]);
        assert_eq!(t.most_specific(ip("192.0.2.5")), Some(&"grandchild"));
        assert_eq!(t.most_specific(ip("192.0.2.8")), Some(&"first-child"));
        assert_eq!(t.most_specific(ip("192.0.2.16")), Some(&"parent"));
        assert_eq!(t.most_specific(ip("192.0.2.100")), Some(&"second-child"));
        assert_eq!(t.most_specific(ip("192.0.2.200")), Some(&"parent"));
    }

    #[test]
    fn partially_overlapping_ranges_still_give_the_smallest_containing_one() {
        // `wide` starts later but is larger than `narrow`; the two overlap without nesting.
        let t = table(&[
            ("198.51.100.0", "198.51.100.255", "outer"),
            ("198.51.100.5", "198.51.100.50", "narrow"),
            ("198.51.100.6", "198.51.100.200", "wide"),
            ("198.51.100.100", "198.51.100.110", "inner"),
        ]);
        assert_eq!(t.most_specific(ip("198.51.100.40")), Some(&"narrow"));
        assert_eq!(t.most_specific(ip("198.51.100.60")), Some(&"wide"));
        assert_eq!(t.most_specific(ip("198.51.100.105")), Some(&"inner"));
        assert_eq!(t.most_specific(ip("198.51.100.5")), Some(&"narrow"));
        assert_eq!(t.most_specific(ip("198.51.100.250")), Some(&"outer"));
        assert_eq!(
            t.containing(ip("198.51.100.40")),
            vec![&"narrow", &"wide", &"outer"]
        );
        assert_eq!(
            t.containing(ip("198.51.100.105")),
            vec![&"inner", &"wide", &"outer"]
        );
    }

    #[test]
    fn a_partial_overlap_with_no_common_parent_is_found() {
        let t = table(&[
            ("203.0.113.0", "203.0.113.20", "a"),
            ("203.0.113.10", "203.0.113.35", "b"),
            ("203.0.113.25", "203.0.113.26", "c"),
        ]);
        assert_eq!(t.most_specific(ip("203.0.113.5")), Some(&"a"));
        assert_eq!(t.most_specific(ip("203.0.113.15")), Some(&"a"));
        assert_eq!(t.containing(ip("203.0.113.15")), vec![&"a", &"b"]);
        assert_eq!(t.most_specific(ip("203.0.113.22")), Some(&"b"));
        assert_eq!(t.most_specific(ip("203.0.113.25")), Some(&"c"));
        assert_eq!(t.most_specific(ip("203.0.113.28")), Some(&"b"));
        assert_eq!(t.most_specific(ip("203.0.113.35")), Some(&"b"));
        assert_eq!(t.most_specific(ip("203.0.113.36")), None);
    }

    #[test]
    fn exact_duplicates_are_all_kept_and_the_last_given_wins() {
        let t = table(&[
            ("192.0.2.0", "192.0.2.255", "one"),
            ("192.0.2.0", "192.0.2.255", "two"),
            ("192.0.2.128", "192.0.2.255", "half"),
        ]);
        assert_eq!(t.len(), 3);
        assert_eq!(t.most_specific(ip("192.0.2.1")), Some(&"two"));
        assert_eq!(t.containing(ip("192.0.2.1")), vec![&"two", &"one"]);
        assert_eq!(
            t.containing(ip("192.0.2.200")),
            vec![&"half", &"two", &"one"]
        );
    }

    #[test]
    fn single_address_ranges_match_only_their_address() {
        let t = table(&[
            ("192.0.2.7", "192.0.2.7", "seven"),
            ("192.0.2.0", "192.0.2.15", "block"),
            ("2001:db8::1", "2001:db8::1", "v6-one"),
        ]);
        assert_eq!(t.most_specific(ip("192.0.2.7")), Some(&"seven"));
        assert_eq!(t.most_specific(ip("192.0.2.6")), Some(&"block"));
        assert_eq!(t.most_specific(ip("192.0.2.8")), Some(&"block"));
        assert_eq!(t.most_specific(ip("2001:db8::1")), Some(&"v6-one"));
        assert_eq!(t.most_specific(ip("2001:db8::")), None);
        assert_eq!(t.most_specific(ip("2001:db8::2")), None);
    }

    #[test]
    fn the_whole_space_contains_everything_of_its_family_only() {
        let t = table(&[
            ("0.0.0.0", "255.255.255.255", "all-v4"),
            ("203.0.113.0", "203.0.113.255", "doc"),
        ]);
        assert_eq!(t.most_specific(ip("0.0.0.0")), Some(&"all-v4"));
        assert_eq!(t.most_specific(ip("255.255.255.255")), Some(&"all-v4"));
        assert_eq!(t.most_specific(ip("203.0.113.9")), Some(&"doc"));
        assert_eq!(t.containing(ip("203.0.113.9")), vec![&"doc", &"all-v4"]);
        assert_eq!(t.most_specific(ip("2001:db8::1")), None);

        let t6 = table(&[("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "all-v6")]);
        assert_eq!(t6.most_specific(ip("2001:db8::1")), Some(&"all-v6"));
        assert_eq!(t6.most_specific(ip("192.0.2.1")), None);
        // An IPv4-mapped address is IPv4, not part of `::/0`.
        assert_eq!(t6.most_specific(ip("::ffff:192.0.2.1")), None);
    }

    #[test]
    fn ipv6_ranges_nest_like_ipv4_ranges() {
        let t = table(&[
            (
                "2001:db8::",
                "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
                "slash32",
            ),
            (
                "2001:db8:1::",
                "2001:db8:1:ffff:ffff:ffff:ffff:ffff",
                "slash48",
            ),
            ("2001:db8:1::100", "2001:db8:1::1ff", "odd"),
        ]);
        assert_eq!(t.most_specific(ip("2001:db8:1::150")), Some(&"odd"));
        assert_eq!(t.most_specific(ip("2001:db8:1::200")), Some(&"slash48"));
        assert_eq!(t.most_specific(ip("2001:db8:2::")), Some(&"slash32"));
        assert_eq!(t.most_specific(ip("2001:db9::")), None);
        assert_eq!(
            t.containing(ip("2001:db8:1::1ff")),
            vec![&"odd", &"slash48", &"slash32"]
        );
    }

    #[test]
    fn an_ipv4_mapped_query_is_its_ipv4_address() {
        let t = table(&[
            ("192.0.2.0", "192.0.2.255", "v4"),
            (
                "::ffff:198.51.100.0",
                "::ffff:198.51.100.255",
                "mapped-range",
            ),
        ]);
        assert_eq!(t.most_specific(ip("::ffff:192.0.2.9")), Some(&"v4"));
        assert_eq!(t.containing(ip("::ffff:192.0.2.9")), vec![&"v4"]);
        // A range written with mapped ends is an IPv4 range.
        assert_eq!(t.most_specific(ip("198.51.100.1")), Some(&"mapped-range"));
    }

    #[test]
    fn an_empty_table_finds_nothing() {
        let t: RangeTable<()> = RangeTable::new(Vec::new()).unwrap();
        assert!(t.is_empty());
        assert_eq!(t.len(), 0);
        assert_eq!(t.most_specific(ip("192.0.2.1")), None);
        assert!(t.containing(ip("2001:db8::1")).is_empty());
        assert!(RangeTable::<()>::default().is_empty());
    }

    #[test]
    fn reversed_and_mixed_ranges_are_refused_with_their_position() {
        let err = RangeTable::new(vec![
            (ip("192.0.2.0"), ip("192.0.2.255"), ()),
            (ip("192.0.2.9"), ip("192.0.2.1"), ()),
        ])
        .unwrap_err();
        assert_eq!(
            err,
            RangeError::Reversed {
                index: 1,
                first: ip("192.0.2.9"),
                last: ip("192.0.2.1")
            }
        );
        assert_eq!(
            err.to_string(),
            "range 1: first address 192.0.2.9 is after last address 192.0.2.1"
        );

        let err = RangeTable::new(vec![(ip("192.0.2.0"), ip("2001:db8::"), ())]).unwrap_err();
        assert!(matches!(err, RangeError::MixedFamilies { index: 0, .. }));
        assert!(err.to_string().contains("different families"), "{err}");

        // A mapped end pairs with an IPv4 end, but not with a real IPv6 one.
        assert!(RangeTable::new(vec![(ip("192.0.2.0"), ip("::ffff:192.0.2.9"), ())]).is_ok());
        assert!(RangeTable::new(vec![(ip("::ffff:192.0.2.0"), ip("2001:db8::"), ())]).is_ok());

        let too_many = RangeError::TooMany { count: 9, max: 8 };
        assert_eq!(
            too_many.to_string(),
            "9 ranges of one address family; at most 8 are supported"
        );
    }

    #[test]
    fn data_error_names_the_line() {
        let err = DataError::new(7, "bad AS number \"x\"");
        assert_eq!(err.to_string(), "line 7: bad AS number \"x\"");
        assert_eq!(
            err,
            DataError {
                line: 7,
                message: "bad AS number \"x\"".into()
            }
        );
    }

    #[test]
    fn prefix_helpers_cover_the_whole_prefix() {
        let (a, b) = v4_prefix("198.51.100.77".parse().unwrap(), 24);
        assert_eq!(
            (a.to_string(), b.to_string()),
            ("198.51.100.0".into(), "198.51.100.255".into())
        );
        let (a, b) = v4_prefix("192.0.2.1".parse().unwrap(), 0);
        assert_eq!(
            (a.to_string(), b.to_string()),
            ("0.0.0.0".into(), "255.255.255.255".into())
        );
        let (a, b) = v4_prefix("192.0.2.1".parse().unwrap(), 32);
        assert_eq!(a, b);
        let (a, b) = v6_prefix("2001:db8::1".parse().unwrap(), 32);
        assert_eq!(a.to_string(), "2001:db8::");
        assert_eq!(b.to_string(), "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
        let (a, b) = v6_prefix("2001:db8::1".parse().unwrap(), 0);
        assert_eq!((u128::from(a), u128::from(b)), (0, u128::MAX));
    }

    /// Adds a random laminar family inside `[lo, hi]`: disjoint children, each possibly
    /// with children of its own; sometimes an exact duplicate of the parent.
    fn laminar(rng: &mut Lcg, lo: u64, hi: u64, depth: u32, out: &mut Vec<(u64, u64)>) {
        if depth == 0 {
            return;
        }
        if rng.below(8) == 0 {
            out.push((lo, hi));
        }
        let children = rng.below(4);
        let mut points: Vec<u64> = (0..children * 2)
            .map(|_| lo + rng.below(hi - lo + 1))
            .collect();
        points.sort_unstable();
        points.dedup();
        for pair in points.chunks(2) {
            let (a, b) = match *pair {
                [a, b] => (a, b),
                [a] => (a, a),
                _ => unreachable!("chunks of two"),
            };
            out.push((a, b));
            laminar(rng, a, b, depth - 1, out);
        }
    }

    /// Brute force: the smallest containing range's size, and all containing ranges.
    fn brute(ranges: &[(u64, u64)], x: u64) -> (Option<u64>, Vec<(u64, u64)>) {
        let mut all: Vec<(u64, u64)> = ranges
            .iter()
            .copied()
            .filter(|&(a, b)| a <= x && x <= b)
            .collect();
        all.sort_unstable();
        (all.iter().map(|&(a, b)| b - a).min(), all)
    }

    /// Checks one family of offsets against brute force, `to_ip` mapping offsets to
    /// documentation addresses.
    fn check(ranges: &[(u64, u64)], queries: &[u64], to_ip: impl Fn(u64) -> IpAddr) {
        let t = RangeTable::new(
            ranges
                .iter()
                .map(|&(a, b)| (to_ip(a), to_ip(b), (a, b)))
                .collect(),
        )
        .unwrap();
        assert_eq!(t.len(), ranges.len());
        for &x in queries {
            let (smallest, mut all) = brute(ranges, x);
            let got = t.most_specific(to_ip(x));
            assert_eq!(
                got.map(|&(a, b)| b - a),
                smallest,
                "query {x} in {ranges:?}"
            );
            if let Some(&(a, b)) = got {
                assert!(a <= x && x <= b, "query {x}: {a}..{b} does not contain it");
            }
            let containing = t.containing(to_ip(x));
            assert_eq!(containing.first().copied(), got, "query {x}");
            let sizes: Vec<u64> = containing.iter().map(|&&(a, b)| b - a).collect();
            assert!(sizes.is_sorted(), "query {x}: {sizes:?} not smallest first");
            let mut containing: Vec<(u64, u64)> = containing.into_iter().copied().collect();
            containing.sort_unstable();
            all.sort_unstable();
            assert_eq!(containing, all, "query {x} in {ranges:?}");
        }
    }

    fn doc_v4(offset: u64) -> IpAddr {
        let base = u32::from(Ipv4Addr::new(198, 51, 100, 0));
        IpAddr::V4(Ipv4Addr::from(base + u32::try_from(offset).unwrap()))
    }

    fn doc_v6(offset: u64) -> IpAddr {
        let base = u128::from("2001:db8::".parse::<Ipv6Addr>().unwrap());
        IpAddr::V6(Ipv6Addr::from(base + u128::from(offset)))
    }

    #[test]
    fn most_specific_matches_brute_force_on_random_laminar_families() {
        let mut rng = Lcg(0x5C40_0D15);
        for _ in 0..300 {
            // IPv4: within 198.51.100.0/24, every address queried.
            let mut ranges = Vec::new();
            laminar(&mut rng, 0, 255, 5, &mut ranges);
            let all: Vec<u64> = (0..=255).collect();
            check(&ranges, &all, doc_v4);

            // IPv6: within 2001:db8::/32 (offsets below 2^40), queries at and beside every
            // boundary plus random ones.
            let mut ranges = Vec::new();
            laminar(&mut rng, 0, (1 << 40) - 1, 6, &mut ranges);
            let mut queries: Vec<u64> = ranges
                .iter()
                .flat_map(|&(a, b)| [a.saturating_sub(1), a, b, b + 1])
                .collect();
            queries.extend((0..50).map(|_| rng.below(1 << 40)));
            check(&ranges, &queries, doc_v6);
        }
    }

    #[test]
    fn random_overlapping_families_still_match_brute_force() {
        let mut rng = Lcg(0x0BAD_5EED);
        for _ in 0..300 {
            let n = rng.below(12);
            let ranges: Vec<(u64, u64)> = (0..n)
                .map(|_| {
                    let a = rng.below(256);
                    let b = a + rng.below(256 - a);
                    (a, b)
                })
                .collect();
            let all: Vec<u64> = (0..=255).collect();
            check(&ranges, &all, doc_v4);
        }
    }
}
