//! List membership: one `u32` per distinct hash, with the common one-list case stored inline.

use crate::ListId;
use std::collections::HashMap;

/// The tag bit of a list reference: clear means "the reference *is* the list id" (the common
/// case: a hash on one list), set means "the low 31 bits index [`ListSets`]".
const SET: u32 = 1 << 31;

/// The shared table of list sets for hashes held by more than one list (or by one list whose id
/// has the tag bit set). Identical sets are stored once.
#[derive(Debug, Default)]
pub(crate) struct ListSets {
    /// `ids[offsets[s]..offsets[s + 1]]` is set `s`, sorted.
    offsets: Vec<u32>,
    ids: Vec<ListId>,
}

impl ListSets {
    /// The lists a reference stands for, sorted. `r` must come from the [`ListSetsBuilder`] that
    /// made this table.
    #[inline]
    pub(crate) fn get<'a>(&'a self, r: &'a u32) -> &'a [ListId] {
        if r & SET == 0 {
            std::slice::from_ref(r)
        } else {
            let s = (r & !SET) as usize;
            &self.ids[self.offsets[s] as usize..self.offsets[s + 1] as usize]
        }
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        (self.offsets.capacity() + self.ids.capacity()) * 4
    }
}

/// Encodes list sets into references while a base is built.
#[derive(Debug, Default)]
pub(crate) struct ListSetsBuilder {
    sets: ListSets,
    known: HashMap<Vec<ListId>, u32>,
}

impl ListSetsBuilder {
    /// The reference for `lists` (sorted, deduplicated, not empty).
    pub(crate) fn encode(&mut self, lists: &[ListId]) -> u32 {
        debug_assert!(!lists.is_empty() && lists.windows(2).all(|w| w[0] < w[1]));
        if let [one] = lists
            && one & SET == 0
        {
            return *one;
        }
        if let Some(&r) = self.known.get(lists) {
            return r;
        }
        let sets = &mut self.sets;
        if sets.offsets.is_empty() {
            sets.offsets.push(0);
        }
        let s = u32::try_from(sets.offsets.len() - 1).expect("fewer than 2^31 list sets");
        assert!(s < SET, "fewer than 2^31 distinct list sets");
        sets.ids.extend_from_slice(lists);
        sets.offsets
            .push(u32::try_from(sets.ids.len()).expect("fewer than 2^32 set members"));
        let r = s | SET;
        self.known.insert(lists.to_vec(), r);
        r
    }

    pub(crate) fn finish(mut self) -> ListSets {
        self.sets.offsets.shrink_to_fit();
        self.sets.ids.shrink_to_fit();
        self.sets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_lists_are_inline_and_sets_are_shared() {
        let mut b = ListSetsBuilder::default();
        let one = b.encode(&[7]);
        let big = b.encode(&[SET + 1]);
        let two = b.encode(&[1, 2]);
        let two_again = b.encode(&[1, 2]);
        let three = b.encode(&[1, 2, 3]);
        assert_eq!(one, 7);
        assert_eq!(two, two_again);
        let sets = b.finish();
        assert_eq!(sets.get(&one), &[7]);
        assert_eq!(sets.get(&big), &[SET + 1]);
        assert_eq!(sets.get(&two), &[1, 2]);
        assert_eq!(sets.get(&three), &[1, 2, 3]);
        assert_eq!(sets.ids.len(), 1 + 2 + 3);
    }
}
