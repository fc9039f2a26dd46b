//! The audit log writer: requests hand their records to a channel, and one task writes them
//! to the store in batches (one transaction per batch), so auditing costs a check almost
//! nothing. If the database is unreachable the writer keeps its batch and retries; when the
//! channel is full, requests wait: no check goes unrecorded.
//!
//! A record may carry the [`EntryHit`]s of its matches: which listed entry each checked hash
//! matched. They go into the same batch, and are what the flood rule counts, what a dispute
//! refers to and whom a retraction reaches.

use lists::trust::EntryHit;
use lists::{AuditRecord, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Records per write transaction, at most.
const BATCH: usize = 2000;

/// The sending side, cloned into every request.
#[derive(Debug, Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<(AuditRecord, Vec<EntryHit>)>,
}

/// The writer task; [`AuditWriter::close`] flushes what is queued.
#[derive(Debug)]
pub struct AuditWriter {
    handle: JoinHandle<()>,
}

impl AuditSink {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Arc<dyn Store>, capacity: usize) -> (AuditSink, AuditWriter) {
        let (tx, mut rx) = mpsc::channel::<(AuditRecord, Vec<EntryHit>)>(capacity);
        let handle = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            let mut records = Vec::with_capacity(BATCH);
            let mut hits = Vec::new();
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                records.clear();
                hits.clear();
                for (r, h) in batch.drain(..) {
                    records.push(r);
                    hits.extend(h);
                }
                let mut backoff = Duration::from_millis(100);
                let mut records_done = false;
                loop {
                    let written = async {
                        if !records_done {
                            store.append_audit(&records).await?;
                            records_done = true;
                        }
                        store.record_hits(&hits).await
                    };
                    match written.await {
                        Ok(()) => break,
                        Err(e) => {
                            tracing::error!(error = %e, records = records.len(), "cannot write the audit log; retrying");
                            metrics::counter!("schoon_audit_write_errors_total").increment(1);
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(Duration::from_secs(10));
                        }
                    }
                }
                metrics::counter!("schoon_audit_records_total").increment(records.len() as u64);
                metrics::counter!("schoon_entry_hits_total").increment(hits.len() as u64);
            }
        });
        (AuditSink { tx }, AuditWriter { handle })
    }

    /// Queues a record (waits if the queue is full).
    pub async fn record(&self, record: AuditRecord) {
        self.record_with_hits(record, Vec::new()).await;
    }

    /// Queues a record with the entry matches it reports.
    pub async fn record_with_hits(&self, record: AuditRecord, hits: Vec<EntryHit>) {
        if self.tx.send((record, hits)).await.is_err() {
            tracing::error!("audit writer has stopped; record lost");
        }
    }
}

impl AuditWriter {
    /// Waits until everything queued before every [`AuditSink`] was dropped is written.
    pub async fn close(self) {
        let _ = self.handle.await;
    }
}
