//! The scan: list a source, decide per file what work it needs, hash on all cores, check the
//! hashes in batches, write each answered batch to the state database.
//!
//! ```text
//!  list ──► compare with state ──► unchanged, answer still valid ─────────────► reused
//!                       │        └► unchanged, lists changed since ──► re-check ─┐
//!                       └► new or changed ──► hash (rayon) ──► batch ──► check ───┴► save
//! ```
//!
//! Hashing runs on its own thread pool and feeds a bounded channel; the async side batches
//! what arrives (up to the server's batch limit, or what came in 200 ms), sends one request per
//! batch and saves the answered batch in one transaction while the cores go on hashing. So the
//! cost the scan adds on top of hashing is one small JSON request and one SQLite transaction
//! per few hundred files, off the hashing threads.

use crate::client::{self, Client, Info, Query};
use crate::filehash::{self, FileHashes, Perceptual, Worker};
use crate::source::{Entry, Source};
use crate::state::{self, Found, Hashes, Known, Record, Rejection, State};
use object_store::ObjectStoreExt;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Why a scan stopped early.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The check service failed (after retries).
    #[error(transparent)]
    Service(#[from] client::Error),
    /// The state database failed.
    #[error(transparent)]
    State(#[from] state::Error),
    /// The source could not be listed.
    #[error(transparent)]
    Source(#[from] crate::source::Error),
    /// Moving a match to quarantine failed (the scan stops rather than leave it in place
    /// silently).
    #[error("cannot quarantine {location}: {reason}")]
    Quarantine {
        /// The file.
        location: String,
        /// Why.
        reason: String,
    },
}

/// How to scan.
#[derive(Debug, Clone)]
pub struct Options {
    /// Decode limits (files over `max_bytes` get digests only).
    pub limits: media::Limits,
    /// Also check the seven rotations and mirrors of every image.
    pub dihedral: bool,
    /// PDQ distance to ask for (`None`: the server's default).
    pub max_distance: Option<u32>,
    /// PDQ hashes below this quality are not sent (Meta advises 50).
    pub min_quality: u8,
    /// Hashing threads.
    pub threads: usize,
    /// Move matched files here (with a `.schoon.json` beside each).
    pub quarantine: Option<PathBuf>,
    /// Ignore the state database's hashes: hash everything again.
    pub rehash: bool,
    /// Paths never to scan (the state database, the quarantine folder).
    pub exclude: Vec<PathBuf>,
}

/// Progress reporting, e.g. a terminal progress bar.
pub trait Progress: Send + Sync {
    /// A phase starts with this many steps.
    fn start(&self, phase: &str, total: u64);
    /// Steps done.
    fn inc(&self, n: u64);
    /// The phase ended.
    fn finish(&self);
}

/// No progress output.
#[derive(Debug, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &str, _: u64) {}
    fn inc(&self, _: u64) {}
    fn finish(&self) {}
}

/// What a scan of one source did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Files found.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Files read and hashed in this run.
    pub hashed: u64,
    /// Bytes read for hashing.
    pub hashed_bytes: u64,
    /// Unchanged files whose stored answer was still valid.
    pub reused: u64,
    /// Unchanged files whose stored hashes were checked again (the lists changed).
    pub rechecked: u64,
    /// Hashes sent.
    pub hashes_sent: u64,
    /// Check requests sent.
    pub requests: u64,
    /// Files that matched something (this run's view of the whole source).
    pub matched: u64,
    /// Files moved to quarantine in this run.
    pub quarantined: u64,
    /// Quarantined files reported to the service as removed on the hoster's own initiative
    /// (this run's, and any an earlier run could not report).
    pub removals_reported: u64,
    /// Quarantined files whose report failed this time (the next run sends them).
    pub removals_unreported: u64,
    /// Files without a PDQ hash, by reason.
    pub rejected: BTreeMap<&'static str, u64>,
    /// Files the state database knew that are gone.
    pub vanished: u64,
    /// Problems met while listing.
    pub walk_errors: Vec<(String, String)>,
    /// Stopped before the end (Ctrl-C).
    pub interrupted: bool,
    /// Wall time.
    pub elapsed: Duration,
}

/// Scans sources against one service with one state database.
#[derive(Debug)]
pub struct Scanner {
    client: Client,
    state: State,
    opts: Options,
    info: Info,
    context: String,
    pacer: Pacer,
    /// The source being scanned (for quarantine moves).
    current: Option<Source>,
}

/// Keeps the request rate under the key's limit, so a scan slows down instead of collecting
/// 429s.
#[derive(Debug)]
struct Pacer {
    per_sec: f64,
    next: Instant,
}

impl Pacer {
    async fn take(&mut self, n: usize) {
        let now = Instant::now();
        if self.next > now {
            tokio::time::sleep(self.next - now).await;
        }
        let start = self.next.max(now);
        self.next = start + Duration::from_secs_f64(n as f64 / self.per_sec.max(1.0));
    }
}

/// A file hashed by the pool, on its way to a batch.
struct Hashed {
    entry: Entry,
    result: Result<FileHashes, String>,
}

/// A file whose hashes are going to the service.
struct Pending {
    record: Record,
    /// Queries `[start, end)` of the batch are this file's, each with its type and transform.
    queries: Vec<(Query, Option<&'static str>)>,
}

impl Scanner {
    /// Connects (reads `GET /v1/check`, which also proves the key).
    pub async fn new(client: Client, state: State, opts: Options) -> Result<Scanner, Error> {
        let info = client.info().await?;
        let distance = opts.max_distance.unwrap_or(info.default_distance);
        let context = format!(
            "{} d={distance} dihedral={} q={}",
            client.url(),
            opts.dihedral,
            opts.min_quality
        );
        let pacer = Pacer {
            per_sec: f64::from(info.rate_per_sec),
            next: Instant::now(),
        };
        Ok(Scanner {
            client,
            state,
            opts,
            info,
            context,
            pacer,
            current: None,
        })
    }

    /// The service facts read at the start.
    pub fn info(&self) -> &Info {
        &self.info
    }

    /// The state database.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Scans one source. Setting `stop` ends the run early but cleanly: what was hashed is
    /// checked and saved, and the summary says `interrupted`.
    pub async fn scan(
        &mut self,
        source: &Source,
        progress: &dyn Progress,
        stop: &Arc<AtomicBool>,
    ) -> Result<Summary, Error> {
        let started = Instant::now();
        let mut sum = Summary::default();
        let id = source.id();
        self.current = Some(source.clone());
        progress.start("listing", 0);
        let (entries, walk_errors) = source.list(&self.opts.exclude).await?;
        progress.finish();
        sum.walk_errors = walk_errors;
        sum.files = entries.len() as u64;
        sum.bytes = entries.iter().map(|e| e.size).sum();
        let mut known = self.state.load(&id).await?;

        // Decide per file.
        let want_pdq = if self.opts.dihedral { 8 } else { 1 };
        let mut to_hash = Vec::new();
        let mut to_check = Vec::new();
        let mut to_move = Vec::new();
        for e in entries {
            match known.remove(&e.location) {
                Some(k) if !self.opts.rehash && self.unchanged(&k, &e, want_pdq) => {
                    if k.context.as_deref() == Some(self.context.as_str())
                        && k.checked_seq.is_some_and(|s| s >= self.info.index_seq)
                    {
                        sum.reused += 1;
                        if k.matched && !k.quarantined && self.opts.quarantine.is_some() {
                            to_move.push(e.location);
                        }
                    } else {
                        to_check.push(e.location);
                    }
                }
                _ => to_hash.push(e),
            }
        }
        // What is left in `known` is gone from the source.
        let gone: Vec<String> = known.into_keys().collect();
        sum.vanished = gone.len() as u64;
        self.state.forget(&gone).await?;

        progress.start("scanning", (to_hash.len() + to_check.len()) as u64);
        self.recheck(&to_check, &mut sum, progress, stop).await?;
        self.hash_and_check(source, to_hash, &mut sum, progress, stop)
            .await?;
        progress.finish();
        // Matches known from earlier runs that are still in place.
        if let Some(dir) = self.opts.quarantine.clone() {
            for chunk in to_move.chunks(500) {
                let mut records = self.state.get(chunk).await?;
                for r in &mut records {
                    r.quarantined = Some(crate::quarantine::move_file(r, source, &dir).await?);
                    sum.quarantined += 1;
                }
                self.state
                    .save_moved(&records, records.len() as u64)
                    .await?;
            }
        }
        self.report_removals(&mut sum).await?;

        for r in self.state.rejected(&id).await? {
            if let Some(x) = r.rejected {
                *sum.rejected.entry(x.class).or_default() += 1;
            }
        }
        sum.matched = self.state.matched(&id).await?.len() as u64;
        sum.interrupted = stop.load(Ordering::Relaxed);
        sum.elapsed = started.elapsed();
        Ok(sum)
    }

    /// Sends the count of quarantined files the service has not recorded yet (from this run
    /// or an earlier one whose report failed). A failure is logged and left for the next run:
    /// the files are out of the served tree either way.
    async fn report_removals(&self, sum: &mut Summary) -> Result<(), Error> {
        let n = self.state.unreported_removals().await?;
        if n == 0 {
            return Ok(());
        }
        match self.client.report_removals(n).await {
            Ok(_) => {
                self.state.mark_removals_reported().await?;
                sum.removals_reported = n;
            }
            Err(e) => {
                tracing::warn!(error = %e, removed = n, "could not report the quarantined files to the service; the next run will try again");
                sum.removals_unreported = n;
            }
        }
        Ok(())
    }

    fn unchanged(&self, k: &Known, e: &Entry, want_pdq: u8) -> bool {
        k.readable
            && k.size == e.size
            && k.version == e.version
            // An image hashed without its dihedral set must be hashed again to get it.
            && (k.pdq_count == 0 || k.pdq_count >= want_pdq)
    }

    /// Sends the stored hashes of unchanged files again.
    async fn recheck(
        &mut self,
        locations: &[String],
        sum: &mut Summary,
        progress: &dyn Progress,
        stop: &AtomicBool,
    ) -> Result<(), Error> {
        let per_batch = (self.info.max_batch / 11).max(1);
        for chunk in locations.chunks(per_batch) {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let records = self.state.get(chunk).await?;
            let pending: Vec<Pending> = records
                .into_iter()
                .map(|mut record| {
                    record.matches.clear();
                    let queries = self.queries(record.hashes.as_ref());
                    Pending { record, queries }
                })
                .collect();
            let n = pending.len() as u64;
            self.check_and_save(pending, sum).await?;
            sum.rechecked += n;
            progress.inc(n);
        }
        Ok(())
    }

    /// The hashes of one file to send.
    fn queries(&self, h: Option<&Hashes>) -> Vec<(Query, Option<&'static str>)> {
        let Some(h) = h else { return Vec::new() };
        let mut q = vec![
            (Query::new("md5", hex::encode(h.md5)), None),
            (Query::new("sha1", hex::encode(h.sha1)), None),
            (Query::new("sha256", hex::encode(h.sha256)), None),
        ];
        if h.quality.unwrap_or(0) >= self.opts.min_quality {
            let n = if self.opts.dihedral { h.pdq.len() } else { 1 };
            for (i, p) in h.pdq.iter().take(n).enumerate() {
                let transform = self.opts.dihedral.then(|| pdq::Dihedral::NAMES[i]);
                q.push((Query::new("pdq", hex::encode(p)), transform));
            }
        }
        q
    }

    async fn hash_and_check(
        &mut self,
        source: &Source,
        to_hash: Vec<Entry>,
        sum: &mut Summary,
        progress: &dyn Progress,
        stop: &Arc<AtomicBool>,
    ) -> Result<(), Error> {
        if to_hash.is_empty() {
            return Ok(());
        }
        let (tx, mut rx) = mpsc::channel::<Hashed>(self.opts.threads.max(1) * 64);
        let fopts = filehash::Options {
            limits: self.opts.limits,
            dihedral: self.opts.dihedral,
        };
        let producer = spawn_producer(source, to_hash, fopts, self.opts.threads, tx, stop);

        let id = source.id();
        let limit = self.info.max_batch.max(11) - 11;
        let mut batch: Vec<Pending> = Vec::new();
        let mut n_queries = 0;
        let mut deadline: Option<Instant> = None;
        let mut result = Ok(());
        loop {
            let item = match deadline {
                Some(d) => match tokio::time::timeout_at(d.into(), rx.recv()).await {
                    Ok(x) => x,
                    Err(_) => {
                        // Nothing more within the window: send what there is.
                        result = self.flush(&mut batch, sum, progress).await;
                        n_queries = 0;
                        deadline = None;
                        if result.is_err() {
                            break;
                        }
                        continue;
                    }
                },
                None => rx.recv().await,
            };
            let Some(h) = item else { break };
            sum.hashed += 1;
            sum.hashed_bytes += h.entry.size;
            let p = self.pending(&id, h);
            n_queries += p.queries.len();
            batch.push(p);
            deadline.get_or_insert_with(|| Instant::now() + Duration::from_millis(200));
            if n_queries >= limit {
                result = self.flush(&mut batch, sum, progress).await;
                n_queries = 0;
                deadline = None;
                if result.is_err() {
                    break;
                }
            }
        }
        if result.is_ok() {
            result = self.flush(&mut batch, sum, progress).await;
        } else {
            // Keep the hashes even though the service failed: the next run only checks them.
            let records: Vec<Record> = batch.drain(..).map(|p| p.record).collect();
            let _ = self.state.save(&records).await;
            stop.store(true, Ordering::Relaxed);
            while rx.recv().await.is_some() {}
        }
        drop(rx);
        if let Err(e) = producer.await {
            tracing::error!(error = %e, "the hashing task failed");
        }
        result
    }

    async fn flush(
        &mut self,
        batch: &mut Vec<Pending>,
        sum: &mut Summary,
        progress: &dyn Progress,
    ) -> Result<(), Error> {
        if batch.is_empty() {
            return Ok(());
        }
        let n = batch.len() as u64;
        self.check_and_save(std::mem::take(batch), sum).await?;
        progress.inc(n);
        Ok(())
    }

    fn pending(&self, source: &str, h: Hashed) -> Pending {
        let Hashed { entry, result } = h;
        let (hashes, rejected) = match result {
            Err(msg) => (
                None,
                Some(Rejection {
                    class: "unreadable",
                    detail: msg,
                }),
            ),
            Ok(fh) => {
                let mut hashes = Hashes {
                    md5: fh.digests.md5,
                    sha1: fh.digests.sha1,
                    sha256: fh.digests.sha256,
                    pdq: Vec::new(),
                    quality: None,
                    format: None,
                    dims: None,
                };
                let rejected = match fh.perceptual {
                    Perceptual::Hashed {
                        format,
                        width,
                        height,
                        pdq,
                        dihedral,
                    } => {
                        hashes.pdq = match dihedral {
                            Some(d) => d.hashes.iter().map(|h| *h.as_bytes()).collect(),
                            None => vec![*pdq.hash.as_bytes()],
                        };
                        hashes.quality = Some(pdq.quality);
                        hashes.format = Some(format.to_string());
                        hashes.dims = Some((width as u32, height as u32));
                        None
                    }
                    Perceptual::NotImage => Some(Rejection {
                        class: "not an image",
                        detail: "not an image format Schoon decodes; digests checked".into(),
                    }),
                    Perceptual::Failed(e) => Some(Rejection {
                        class: if e.is_too_large() {
                            "too large"
                        } else if e.is_unsupported() {
                            "unsupported"
                        } else {
                            "malformed"
                        },
                        detail: e.to_string(),
                    }),
                };
                (Some(hashes), rejected)
            }
        };
        let record = Record::new(
            entry.location,
            source.to_string(),
            entry.size,
            entry.version,
            hashes,
            rejected,
        );
        let queries = self.queries(record.hashes.as_ref());
        Pending { record, queries }
    }

    /// One request for the batch, then the answers into the records, quarantine, and one
    /// transaction.
    async fn check_and_save(
        &mut self,
        mut batch: Vec<Pending>,
        sum: &mut Summary,
    ) -> Result<(), Error> {
        let queries: Vec<Query> = batch
            .iter()
            .flat_map(|p| p.queries.iter().map(|(q, _)| q.clone()))
            .collect();
        let mut seq = self.info.index_seq;
        if !queries.is_empty() {
            for part in queries.chunks(self.info.max_batch.max(1)) {
                self.pacer.take(part.len()).await;
            }
            let mut results = Vec::with_capacity(queries.len());
            for part in queries.chunks(self.info.max_batch.max(1)) {
                let answer = match self.client.check(part, self.opts.max_distance).await {
                    Ok(a) => a,
                    Err(e) => {
                        // Keep the hashes: the next run only has to check them.
                        let records: Vec<Record> = batch.drain(..).map(|p| p.record).collect();
                        let _ = self.state.save(&records).await;
                        return Err(e.into());
                    }
                };
                sum.requests += 1;
                seq = answer.index_seq;
                results.extend(answer.results);
            }
            sum.hashes_sent += queries.len() as u64;
            let mut at = 0;
            for p in &mut batch {
                for (q, transform) in &p.queries {
                    for m in &results[at].matches {
                        p.record.matches.push(Found {
                            hash_type: q.kind.to_string(),
                            transform: transform.map(str::to_string),
                            hash: q.value.clone(),
                            list: m.clone(),
                        });
                    }
                    at += 1;
                }
            }
        }
        let mut moved = 0;
        for p in &mut batch {
            p.record.context = Some(self.context.clone());
            p.record.checked_seq = Some(seq);
            if !p.record.matches.is_empty()
                && p.record.quarantined.is_none()
                && let Some(dir) = self.opts.quarantine.clone()
                && let Some(source) = &self.current
            {
                let to = crate::quarantine::move_file(&p.record, source, &dir).await?;
                p.record.quarantined = Some(to);
                sum.quarantined += 1;
                moved += 1;
            }
        }
        let records: Vec<Record> = batch.into_iter().map(|p| p.record).collect();
        self.state.save_moved(&records, moved).await?;
        Ok(())
    }
}

/// Starts hashing on a thread pool (local files) or with concurrent downloads (objects).
fn spawn_producer(
    source: &Source,
    to_hash: Vec<Entry>,
    fopts: filehash::Options,
    threads: usize,
    tx: mpsc::Sender<Hashed>,
    stop: &Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let stop = Arc::clone(stop);
    match source {
        Source::Local { .. } => tokio::task::spawn_blocking(move || {
            use rayon::prelude::*;
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads.max(1))
                .thread_name(|i| format!("schoon-hash-{i}"))
                .build()
                .expect("a thread pool starts");
            pool.install(|| {
                to_hash
                    .into_par_iter()
                    .for_each_init(Worker::default, |worker, entry| {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        let result = hash_local(worker, &entry, &fopts);
                        // A closed channel means the consumer gave up: stop quietly.
                        if tx.blocking_send(Hashed { entry, result }).is_err() {
                            stop.store(true, Ordering::Relaxed);
                        }
                    });
            });
        }),
        Source::S3 { store, .. } => {
            let store = Arc::clone(store);
            let source = source.clone();
            tokio::spawn(async move {
                use futures_util::StreamExt;
                let jobs = futures_util::stream::iter(to_hash.into_iter().map(|entry| {
                    let store = Arc::clone(&store);
                    let path = source.object_path(&entry);
                    let stop = Arc::clone(&stop);
                    async move {
                        if stop.load(Ordering::Relaxed) {
                            return None;
                        }
                        let result = match path {
                            Some(p) => hash_object(store.as_ref(), &p, entry.size, fopts).await,
                            None => Err("not an object of this bucket".to_string()),
                        };
                        Some(Hashed { entry, result })
                    }
                }))
                .buffer_unordered(threads.max(1) * 4);
                futures_util::pin_mut!(jobs);
                while let Some(h) = jobs.next().await {
                    if let Some(h) = h
                        && tx.send(h).await.is_err()
                    {
                        stop.store(true, Ordering::Relaxed);
                        break;
                    }
                }
            })
        }
    }
}

fn hash_local(
    worker: &mut Worker,
    entry: &Entry,
    opts: &filehash::Options,
) -> Result<FileHashes, String> {
    let path = std::path::Path::new(&entry.location);
    worker.hash_path(path, opts).map_err(|e| e.to_string())
}

async fn hash_object(
    store: &dyn object_store::ObjectStore,
    path: &object_store::path::Path,
    size: u64,
    opts: filehash::Options,
) -> Result<FileHashes, String> {
    use futures_util::StreamExt;
    let got = store.get(path).await.map_err(|e| e.to_string())?;
    if size <= opts.limits.max_bytes {
        let bytes = got.bytes().await.map_err(|e| e.to_string())?;
        return Ok(tokio::task::spawn_blocking(move || {
            thread_local! {
                static WORKER: std::cell::RefCell<Worker> = std::cell::RefCell::new(Worker::default());
            }
            WORKER.with(|w| w.borrow_mut().hash_bytes(&bytes, &opts))
        })
        .await
        .expect("hashing does not panic"));
    }
    // Too big to decode: stream it through the digests.
    let mut stream = got.into_stream();
    let mut hasher = digest::MultiHasher::new();
    let mut head = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        if head.is_none() {
            head = Some(media::sniff(&chunk));
        }
        hasher.update(&chunk);
    }
    let size = hasher.len();
    Ok(FileHashes {
        size,
        digests: hasher.finish(),
        perceptual: match head.flatten() {
            None => Perceptual::NotImage,
            Some(_) => Perceptual::Failed(media::Error::InputTooLarge {
                found: size,
                max: opts.limits.max_bytes,
            }),
        },
    })
}
