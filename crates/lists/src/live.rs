//! The live index: the current [`Snapshot`], swapped atomically as lists change.
//!
//! Readers call [`LiveIndex::snapshot`] and never wait: the snapshot is behind an
//! [`arc_swap::ArcSwap`], and a new one is built beside the old before it is swapped in.
//! One task per process runs [`LiveIndex::follow`]: it waits for a change (PostgreSQL
//! notifications, or polling), reads the entries added and removed since the snapshot's change
//! sequence, and applies them as a small delta ([`index::Index::with_changes`]). When the delta
//! has grown, the index is compacted on a blocking thread while checks go on against the old
//! snapshot. This is how a list change made through one replica reaches all of them without a
//! restart.

use crate::check::{ListMeta, Snapshot};
use crate::store::Store;
use crate::{Error, Result};
use arc_swap::ArcSwap;
use index::{Change, Index, ListId};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Rows fetched per database round trip while loading or following.
pub const PAGE: u32 = 100_000;

/// The current snapshot, shared by every request handler.
#[derive(Debug)]
pub struct LiveIndex {
    current: ArcSwap<Snapshot>,
    wake: tokio::sync::Notify,
}

fn list_id(id: i64) -> Result<ListId> {
    ListId::try_from(id).map_err(|_| Error::Internal(format!("list id {id} out of range")))
}

async fn list_metas(store: &dyn Store) -> Result<Arc<HashMap<ListId, ListMeta>>> {
    let mut map = HashMap::new();
    for l in store.lists().await? {
        map.insert(
            list_id(l.id)?,
            ListMeta {
                id: l.id,
                name: l.name,
                category: l.category,
                version: l.version,
                allow: l.purpose == crate::model::Purpose::Allow,
            },
        );
    }
    Ok(Arc::new(map))
}

impl LiveIndex {
    /// An empty live index (sequence 0); [`LiveIndex::refresh`] fills it.
    pub fn empty() -> LiveIndex {
        LiveIndex {
            current: ArcSwap::from_pointee(Snapshot::empty()),
            wake: tokio::sync::Notify::new(),
        }
    }

    /// Loads every live entry from the store. `progress` is told the number of entries read
    /// so far after each page.
    pub async fn load(
        store: &dyn Store,
        mut progress: impl FnMut(u64) + Send,
    ) -> Result<LiveIndex> {
        // Read the sequence first: anything committed later is picked up by the next refresh,
        // and applying a change twice is harmless.
        let seq = store.current_seq().await?;
        let lists = list_metas(store).await?;
        let mut entries = Vec::new();
        let mut after = 0;
        loop {
            let page = store.index_page(after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            entries.extend(page.iter().map(|r| (r.key, r.list)));
            progress(entries.len() as u64);
        }
        let index = tokio::task::spawn_blocking(move || Index::build(entries))
            .await
            .map_err(|e| Error::Internal(format!("index build failed: {e}")))?;
        Ok(LiveIndex {
            current: ArcSwap::from_pointee(Snapshot { index, lists, seq }),
            wake: tokio::sync::Notify::new(),
        })
    }

    /// Makes [`LiveIndex::follow`] look for changes now, without waiting for a notification
    /// or the poll interval (called after a change made through this process).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The current snapshot. Hold it for the length of one request.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Applies the changes committed since the current snapshot, if any, and swaps in the
    /// result. Returns the number of entry changes applied. Call from one task at a time.
    pub async fn refresh(&self, store: &dyn Store) -> Result<usize> {
        let cur = self.current.load_full();
        let upto = store.current_seq().await?;
        if upto <= cur.seq {
            return Ok(0);
        }
        // Change by change, in order: an entry added by one and removed by a later one ends
        // up removed, as in the store.
        let mut changes = Vec::new();
        for seq in cur.seq + 1..=upto {
            let mut after = 0;
            loop {
                let page = store.changes_page(seq, after, PAGE).await?;
                let Some(last) = page.last() else { break };
                after = last.id;
                changes.extend(page.iter().map(|c| {
                    if c.added {
                        Change::Add(c.key, c.list)
                    } else {
                        Change::Remove(c.key, c.list)
                    }
                }));
            }
        }
        let lists = list_metas(store).await?;
        let n = changes.len();
        let base = Arc::clone(&cur);
        let index = tokio::task::spawn_blocking(move || {
            let next = base.index.with_changes(&changes);
            if next.should_compact() {
                next.compact()
            } else {
                next
            }
        })
        .await
        .map_err(|e| Error::Internal(format!("index update failed: {e}")))?;
        self.current.store(Arc::new(Snapshot {
            index,
            lists,
            seq: upto,
        }));
        Ok(n)
    }

    /// Follows the store for ever: waits for a change (at most `poll`), then refreshes.
    /// Errors are passed to `on_error` and retried after `poll`.
    pub async fn follow(
        self: Arc<Self>,
        store: Arc<dyn Store>,
        poll: Duration,
        mut on_update: impl FnMut(usize, i64, Duration) + Send,
        mut on_error: impl FnMut(&Error) + Send,
    ) {
        loop {
            let started = Instant::now();
            match self.refresh(store.as_ref()).await {
                Ok(0) => {}
                Ok(n) => on_update(n, self.snapshot().seq, started.elapsed()),
                Err(e) => {
                    on_error(&e);
                    tokio::time::sleep(poll).await;
                }
            }
            tokio::select! {
                () = store.wait_for_change(poll) => {}
                () = self.wake.notified() => {}
            }
        }
    }
}
