//! Answering checks from an in-memory snapshot.
//!
//! A [`Snapshot`] is one immutable state of every list: the [`index::Index`] plus each list's
//! name, category and version. A check reads one snapshot from start to end, so every answer
//! in a batch is consistent with one set of list versions, and the version it reports is the
//! one the match was made against.
//!
//! What an answer says: for each hash, each list it matched (id, name, category, version) and
//! the Hamming distance (0 for digests). It never contains the listed hash: for a PDQ near
//! match the client learns only that something within the radius is listed, and how close.

use crate::model::Category;
use index::{Hit, Index, Key, ListId, Scratch};
use serde::Serialize;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// The default PDQ match radius: Meta's recommended threshold.
pub const DEFAULT_RADIUS: u32 = 31;

/// What a check answer says about a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListMeta {
    /// List id.
    pub id: i64,
    /// List name.
    pub name: String,
    /// Category.
    pub category: Category,
    /// The version the snapshot holds.
    pub version: i64,
    /// An allowlist: its matches override the others (see [`allowed`]).
    #[serde(skip)]
    pub allow: bool,
}

/// One immutable state of all lists.
#[derive(Debug)]
pub struct Snapshot {
    /// The hashes.
    pub index: Index,
    /// List metadata by index list id.
    pub lists: Arc<HashMap<ListId, ListMeta>>,
    /// The change sequence this snapshot includes.
    pub seq: i64,
}

impl Snapshot {
    /// An empty snapshot at sequence 0.
    pub fn empty() -> Snapshot {
        Snapshot {
            index: Index::empty(),
            lists: Arc::default(),
            seq: 0,
        }
    }
}

/// One match of one queried hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Match {
    /// The list.
    #[serde(flatten)]
    pub list: ListMeta,
    /// Hamming distance for PDQ; 0 for digests.
    pub distance: u32,
    /// The listed hash that matched: the query itself for digests, the list's nearest hash for
    /// PDQ. Never part of an answer to a hoster; it identifies the entry in match records.
    #[serde(skip)]
    pub listed: Key,
}

/// The allowlist match among `matches`, if there is one: then the hash is answered "no match",
/// and the other matches are conflicts to record for the list managers.
pub fn allowed(matches: &[Match]) -> Option<&Match> {
    matches.iter().find(|m| m.list.allow)
}

thread_local! {
    static SCRATCH: RefCell<(Scratch, Vec<ListId>, Vec<Hit>)> =
        RefCell::new((Scratch::new(), Vec::new(), Vec::new()));
}

impl Snapshot {
    /// The matches of one hash, best first: block lists and allowlists alike (see [`allowed`]).
    /// PDQ hashes are searched within `radius` (the caller caps it); digests match exactly.
    /// Entries that are held, suspended or retracted are not in the index.
    pub fn check(&self, key: &Key, radius: u32, out: &mut Vec<Match>) {
        out.clear();
        SCRATCH.with_borrow_mut(|(scratch, lists, hits)| {
            if key.kind() == index::HashKind::Pdq {
                let mut q = [0u8; 32];
                q.copy_from_slice(key.as_bytes());
                self.index.search_pdq(&q, radius, scratch, hits);
                out.extend(hits.iter().filter_map(|h| {
                    self.lists.get(&h.list).map(|m| Match {
                        list: m.clone(),
                        distance: h.distance,
                        listed: Key::pdq(h.hash),
                    })
                }));
            } else {
                lists.clear();
                self.index.exact(key, lists);
                out.extend(lists.iter().filter_map(|l| {
                    self.lists.get(l).map(|m| Match {
                        list: m.clone(),
                        distance: 0,
                        listed: *key,
                    })
                }));
            }
        });
    }
}
