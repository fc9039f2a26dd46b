//! The audit log writer: requests hand their records to a channel, and one task writes them
//! to the store in batches (one transaction per batch), so auditing costs a check almost
//! nothing. If the database is unreachable the writer keeps its batch and retries; when the
//! channel is full, requests wait: no check goes unrecorded.

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
    tx: mpsc::Sender<AuditRecord>,
}

/// The writer task; [`AuditWriter::close`] flushes what is queued.
#[derive(Debug)]
pub struct AuditWriter {
    handle: JoinHandle<()>,
}

impl AuditSink {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Arc<dyn Store>, capacity: usize) -> (AuditSink, AuditWriter) {
        let (tx, mut rx) = mpsc::channel::<AuditRecord>(capacity);
        let handle = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                let mut backoff = Duration::from_millis(100);
                loop {
                    match store.append_audit(&batch).await {
                        Ok(()) => break,
                        Err(e) => {
                            tracing::error!(error = %e, records = batch.len(), "cannot write the audit log; retrying");
                            metrics::counter!("schoon_audit_write_errors_total").increment(1);
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(Duration::from_secs(10));
                        }
                    }
                }
                metrics::counter!("schoon_audit_records_total").increment(batch.len() as u64);
                batch.clear();
            }
        });
        (AuditSink { tx }, AuditWriter { handle })
    }

    /// Queues a record (waits if the queue is full).
    pub async fn record(&self, record: AuditRecord) {
        if self.tx.send(record).await.is_err() {
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
