//! Notice and takedown, the scheduler under load: 10,000 open actionable cases over 200
//! hosters, and one [`Notifier`] tick notices, mails and re-checks them all. The parts are real and
//! on loopback, as in `tests/notices.rs`: an SMTP server (aiosmtpd, [`SmtpSink`]) receives the
//! notices, an axum HTTP server plays the 200 reported sites, a DNS server
//! ([`ntd::testing::TestDns`]) maps the 200 host names to 127.0.0.1, and a [`ManualClock`]
//! stands still.
//!
//! The workload: 200 hosters in the register (e-mail channel, one abuse address each); 10,000
//! cases, 50 per hoster, each on its hoster's own host name (`site-NNN.example`), made
//! actionable with the hoster named as the party. The cases were reported in one bulk report
//! whose URLs interleave the hosters (case `i` is hoster `i % 200`'s). One page in ten answers
//! 404 (5 per hoster), so its first re-check closes the case; the others answer 200 with a small
//! HTML page. The notifier has the default [`NotifierConfig`]: 8 senders, 64 re-checks at once
//! overall and 2 per host, 1,000 cases at most per notice.
//!
//! What one iteration times, in this order:
//!
//! * **the drain**: one tick, as [`Notifier::plan`] (which first runs
//!   [`Notifier::adopt_parties`]: here one query that finds nothing), [`Notifier::send_due`]
//!   and [`Notifier::check_due`], timed one by one (those three are all [`Notifier::tick`]
//!   runs). The planner reads up to 50,000 due cases of a kind at once (`PLAN_BATCH` in
//!   `ntd::notifier`), so this one tick queues and sends one notice of 50 cases per hoster
//!   (200) and runs all 10,000 re-checks, each due as soon as its case's notice is sent.
//! * **the idle tick**: the same three phases once more, which must do nothing
//!   ([`TickReport::default`]).
//! * **memory during the drain**: the growth of the process's peak resident set (the
//!   high-water mark `VmHWM` is reset to the current `VmRSS` by writing `5` to
//!   `/proc/self/clear_refs` just before, and read just after), and the peak of the bytes the
//!   Rust heap holds above what it held before, over the drain and within each phase (a
//!   counting wrapper around the system allocator). SQLite's own allocations, its page cache
//!   included, are C `malloc`s and show only in the RSS; memory freed by earlier iterations is
//!   reused, so the RSS grows less than the heap. The HTTP and DNS servers run in this process;
//!   aiosmtpd and PostgreSQL do not.
//! * **without the database** (after the checks below, outside the drain's figures): the
//!   drain's notices sent again to aiosmtpd, 8 at a time (*mail only*), and the same 10,000
//!   `Fetcher::check`s with the notifier's limits, 64 overall and `per_host` per host (*fetch
//!   only*): what the send and re-check phases would cost if storing were free.
//!
//! After each iteration the bench checks: the first tick noticed 10,000 cases in 200 notices,
//! sent 200 and failed none, and ran 10,000 re-checks of which 1,000 offline; aiosmtpd
//! received 200 notices, one per hoster, each listing exactly that hoster's 50 URLs; the HTTP
//! server answered exactly 10,000 re-checks; the database holds 9,000 notified and 1,000
//! closed cases; the second tick, and one more [`Notifier::tick`], did nothing.
//!
//! Iterations alternate two configurations that differ only in the re-check politeness:
//! `per_host` 2 (the default) and 64 (no limit per host beyond the overall 64), in alternating
//! order, after one warm-up iteration that is not counted. Every iteration gets a fresh copy of
//! one database built once at the start (hosters, report, 30,000 analyst actions: this set-up is
//! timed and printed, never counted): a file copy on SQLite, `CREATE DATABASE ... TEMPLATE` on
//! PostgreSQL. The bench prints the medians (and the smallest and largest value) of each figure.
//! At the end, once: the fetch-only run with all 10,000 URLs on 10 host names, `per_host` 2
//! against 64, 3 times each: what politeness costs when a few hosts hold many URLs.
//!
//! Run with `cargo bench -p schoon-store --bench ntd_tick` (SQLite; `SCHOON_BENCH_PG=1` adds a
//! throwaway PostgreSQL server via [`TempPostgres`]; `SCHOON_BENCH_ITERS=N` measures N
//! iterations of each configuration, 5 by default): about 2.5 minutes after the build, about 7
//! with PostgreSQL. Needs aiosmtpd (`scripts/setup.sh --test`).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use futures_util::StreamExt as _;
use lists::{Clock, ManualClock, Millis};
use mail::testing::SmtpSink;
use ntd::case::{Action, NewReport, OutcomeStatus, Submitter, validate};
use ntd::dns::{DnsConfig, Resolver};
use ntd::fetch::{FetchConfig, Fetcher, Verdict};
use ntd::notifier::{Notifier, NotifierConfig, TickReport};
use ntd::register::{Channel, HosterFields};
use ntd::testing::{TestDns, TestRecord};
use ntd::{CaseState, CaseStore, Source};
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use store::testing::TempPostgres;
use tokio::sync::Semaphore;

/// Hosters in the register, each with its own host name.
const HOSTERS: usize = 200;
/// Cases per hoster.
const PER_HOSTER: usize = 50;
/// Open cases.
const CASES: usize = HOSTERS * PER_HOSTER;
/// One page in this many answers 404 (its case closes at the first re-check).
const GONE_EVERY: usize = 10;
/// Cases whose page is gone.
const GONE: usize = CASES / GONE_EVERY;
/// When the cases were reported (2023-11-14T22:13:20Z).
const T0: i64 = 1_700_000_000_000;
/// When the ticks run: a minute later.
const T1: i64 = T0 + 60_000;
/// The two politeness settings compared.
const PER_HOST: [usize; 2] = [2, 64];
/// Host names in the fetch-only comparison of politeness with concentrated hosts.
const CONCENTRATED: usize = 10;
/// How long to wait for aiosmtpd to have written every message.
const MAIL_WAIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------------------------

/// The system allocator, counting the bytes held and their peak.
struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = HELD.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

fn shrank(n: usize) {
    HELD.fetch_sub(n, Ordering::Relaxed);
}

// The only unsafe code: a pass-through to `System` that counts sizes, which the allocator
// interface can only be implemented as.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// `VmRSS` and `VmHWM` of this process, in KiB.
fn rss() -> (i64, i64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The bytes the Rust heap holds now; its peak is reset to that.
fn heap_mark() -> i64 {
    let held = HELD.load(Ordering::Relaxed);
    PEAK.store(held, Ordering::Relaxed);
    held as i64
}

/// Memory marks taken just before the drain.
struct Marks {
    rss: i64,
    heap: usize,
    /// The highest heap peak seen, in bytes.
    peak: i64,
    /// Per phase (plan, send, check), the most the heap grew during one, in bytes.
    phases: [i64; 3],
    /// Why `VmHWM` could not be reset, if it could not.
    hwm_error: Option<String>,
}

impl Marks {
    fn take() -> Marks {
        let rss = rss().0;
        // `5` sets the high-water mark to the current resident set (Linux 4.0+).
        let hwm_error = std::fs::write("/proc/self/clear_refs", "5")
            .err()
            .map(|e| e.to_string());
        let heap = HELD.load(Ordering::Relaxed);
        PEAK.store(heap, Ordering::Relaxed);
        Marks {
            rss,
            heap,
            peak: heap as i64,
            phases: [0; 3],
            hwm_error,
        }
    }

    /// Notes the heap's peak during phase `k`, which began holding `start` bytes.
    fn phase(&mut self, k: usize, start: i64) {
        let peak = PEAK.load(Ordering::Relaxed) as i64;
        self.phases[k] = self.phases[k].max(peak - start);
        self.peak = self.peak.max(peak);
    }

    /// What the drain added, measured from the marks.
    fn read(&self) -> Memory {
        let (now, hwm) = rss();
        let peak = self.peak.max(PEAK.load(Ordering::Relaxed) as i64);
        let held = HELD.load(Ordering::Relaxed) as i64;
        let heap = self.heap as i64;
        Memory {
            rss_before: self.rss,
            rss_peak: hwm - self.rss,
            rss_kept: now - self.rss,
            heap_peak: (peak - heap) / 1024,
            heap_kept: (held - heap) / 1024,
            heap_phases: self.phases.map(|b| b / 1024),
            hwm_error: self.hwm_error.clone(),
        }
    }
}

/// Memory during the drain, in KiB.
#[derive(Clone, Debug, Default)]
struct Memory {
    /// `VmRSS` just before.
    rss_before: i64,
    /// `VmHWM` after, less `rss_before` (meaningful only when the mark was reset).
    rss_peak: i64,
    /// `VmRSS` after, less `rss_before`.
    rss_kept: i64,
    /// The most the Rust heap held above what it held before.
    heap_peak: i64,
    /// What the Rust heap held after, above what it held before.
    heap_kept: i64,
    /// The most the heap grew during one plan, send or check phase.
    heap_phases: [i64; 3],
    /// Why `VmHWM` could not be reset to `VmRSS`, if it could not.
    hwm_error: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// The workload
// ---------------------------------------------------------------------------------------------

fn host(h: usize) -> String {
    format!("site-{h:03}.example")
}

fn abuse(h: usize) -> String {
    format!("abuse@hoster-{h:03}.example")
}

/// Case `i`'s hoster: the report interleaves them.
fn hoster_of(i: usize) -> usize {
    i % HOSTERS
}

fn url(i: usize, port: u16) -> String {
    format!("http://{}:{port}/p/{i}", host(hoster_of(i)))
}

/// Whether page `i` answers 404: 5 of each hoster's 50.
fn gone(i: usize) -> bool {
    (i / HOSTERS).is_multiple_of(GONE_EVERY)
}

/// The reported sites: `/p/{i}` answers 404 when [`gone`], else 200 with a small page.
async fn page(State(hits): State<Arc<AtomicUsize>>, Path(p): Path<String>) -> (StatusCode, String) {
    hits.fetch_add(1, Ordering::Relaxed);
    match p.parse::<usize>() {
        Ok(i) if !gone(i) => (
            StatusCode::OK,
            format!(
                "<!doctype html><html><head><title>Gallery {i}</title></head>\
                 <body><h1>Gallery {i}</h1><p>Pictures of item {i}.</p></body></html>"
            ),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "<html><body>no such page</body></html>".into(),
        ),
    }
}

async fn start_site(hits: Arc<AtomicUsize>) -> u16 {
    let app = Router::new().route("/p/{p}", get(page)).with_state(hits);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the site");
    let port = listener.local_addr().expect("its port").port();
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve the site") });
    port
}

/// Fills a fresh database: the register, the bulk report in one `submit`, then per case
/// `Assess`, `Actionable` and `SetHoster`, `concurrency` cases at a time.
async fn populate(
    cases: Arc<dyn CaseStore>,
    port: u16,
    concurrency: usize,
) -> (Duration, Duration) {
    let started = Instant::now();
    let mut hosters = Vec::with_capacity(HOSTERS);
    for h in 0..HOSTERS {
        let fields = HosterFields {
            name: format!("Hoster {h:03}"),
            abuse: vec![abuse(h)],
            channel: Channel::Email,
            coc_member: true,
            ..HosterFields::default()
        }
        .check()
        .expect("a valid register entry");
        let created = cases
            .create_hoster(&fields, "bench")
            .await
            .expect("create a hoster");
        hosters.push(created.id);
    }
    let reports = (0..CASES)
        .map(|i| NewReport {
            url: url(i, port),
            category: "csam".into(),
            source: Source::Partner,
            contact: None,
            text: None,
            external_ref: None,
        })
        .collect();
    let (intakes, refused) = validate(reports, &["csam".to_string()]);
    assert!(refused.is_empty(), "{refused:?}");
    let outcomes = cases
        .submit(
            &Submitter {
                actor: "bench".into(),
                org_id: None,
            },
            intakes,
        )
        .await
        .expect("submit the report");
    assert_eq!(outcomes.len(), CASES);
    let submitted = started.elapsed();
    let ids: Vec<(usize, i64)> = outcomes
        .iter()
        .map(|o| {
            assert_eq!(o.status, OutcomeStatus::Opened, "{o:?}");
            (o.index, o.case_id.expect("a case"))
        })
        .collect();
    let acted = Instant::now();
    futures_util::stream::iter(ids)
        .map(|(i, id)| {
            let cases = Arc::clone(&cases);
            let hoster_id = hosters[hoster_of(i)];
            async move {
                for action in [
                    Action::Assess,
                    Action::Actionable { reason: None },
                    Action::SetHoster {
                        hoster_id,
                        reason: None,
                    },
                ] {
                    cases.act(id, "analyst", &action).await.expect("an action");
                }
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<()>>()
        .await;
    (submitted, acted.elapsed())
}

// ---------------------------------------------------------------------------------------------
// Databases
// ---------------------------------------------------------------------------------------------

/// Where the databases live: one template filled once, a copy per iteration.
enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(TempPostgres),
}

const PG_TEMPLATE: &str = "ntd_tick_template";

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Builds and fills the template; returns how long the report and the actions took.
    async fn build_template(&self, port: u16) -> (Duration, Duration) {
        let clock = Arc::new(ManualClock::new(Millis(T0))) as Arc<dyn Clock>;
        match self {
            Backend::Sqlite(dir) => {
                let url = format!("sqlite://{}", dir.path().join("template.db").display());
                let s = Arc::new(
                    store::SqliteStore::open(&url, clock)
                        .await
                        .expect("open the template"),
                );
                // One writer at a time: SQLite has one write lock.
                let took = populate(Arc::clone(&s) as Arc<dyn CaseStore>, port, 1).await;
                s.pool().close().await;
                took
            }
            Backend::Postgres(pg) => {
                let url = pg.fresh_database(PG_TEMPLATE).expect("createdb");
                let s = Arc::new(
                    store::PgStore::open(&url, clock)
                        .await
                        .expect("open the template"),
                );
                let took = populate(Arc::clone(&s) as Arc<dyn CaseStore>, port, 8).await;
                s.pool().close().await;
                took
            }
        }
    }

    /// A copy of the template, as database `n`.
    async fn fresh(&self, n: usize) -> String {
        match self {
            Backend::Sqlite(dir) => {
                for suffix in ["", "-wal"] {
                    let from = dir.path().join(format!("template.db{suffix}"));
                    if from.exists() {
                        std::fs::copy(&from, dir.path().join(format!("b{n}.db{suffix}")))
                            .expect("copy the template");
                    }
                }
                format!("sqlite://{}", dir.path().join(format!("b{n}.db")).display())
            }
            Backend::Postgres(pg) => {
                self.admin(
                    pg,
                    &format!("CREATE DATABASE bench_{n} TEMPLATE {PG_TEMPLATE}"),
                )
                .await;
                let base = pg.url();
                let (server, _) = base.rsplit_once('/').expect("a database URL");
                format!("{server}/bench_{n}")
            }
        }
    }

    /// Deletes database `n`.
    async fn dispose(&self, n: usize) {
        match self {
            Backend::Sqlite(dir) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(dir.path().join(format!("b{n}.db{suffix}")));
                }
            }
            Backend::Postgres(pg) => {
                self.admin(pg, &format!("DROP DATABASE bench_{n} WITH (FORCE)"))
                    .await;
            }
        }
    }

    async fn admin(&self, pg: &TempPostgres, sql: &str) {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(&pg.url())
            .await
            .expect("connect to PostgreSQL");
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

// ---------------------------------------------------------------------------------------------
// One iteration
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, Default)]
struct Phases {
    plan: Duration,
    send: Duration,
    check: Duration,
}

impl Phases {
    fn total(&self) -> Duration {
        self.plan + self.send + self.check
    }
}

#[derive(Clone, Debug, Default)]
struct Sample {
    /// The first tick's report and phases: the drain.
    tick: TickReport,
    phases: Phases,
    /// The second tick, which found nothing to do.
    idle: Duration,
    memory: Memory,
    /// 10,000 fetches with the same limits, no database.
    fetch_only: Duration,
    /// The drain's notices sent again to aiosmtpd, 8 at a time, no database.
    mail_only: Duration,
    dns_queries: u64,
}

struct Ctx {
    rt: tokio::runtime::Runtime,
    dns: TestDns,
    resolver: Resolver,
    port: u16,
    hits: Arc<AtomicUsize>,
}

fn fetcher(resolver: &Resolver) -> Fetcher {
    Fetcher::new(
        resolver.clone(),
        FetchConfig {
            allow_loopback: true,
            ..FetchConfig::default()
        },
    )
    .expect("a fetcher")
}

fn run_one(ctx: &Ctx, backend: &Backend, n: usize, per_host: usize) -> Sample {
    // Untimed: a fresh copy of the database, a fresh mailbox, the notifier.
    let url = ctx.rt.block_on(backend.fresh(n));
    let sink = SmtpSink::start().expect("aiosmtpd (scripts/setup.sh --test)");
    let clock = Arc::new(ManualClock::new(Millis(T1)));
    let stores = ctx
        .rt
        .block_on(store::open_stores(
            &url,
            Arc::clone(&clock) as Arc<dyn Clock>,
        ))
        .expect("open the copy");
    let mailer = mail::Mailer::new(
        mail::SmtpConfig::parse(&sink.url(), "Hotline <hotline@schoon.example>")
            .expect("an SMTP URL"),
    )
    .expect("a mailer");
    let notifier = Notifier::new(
        Arc::clone(&stores.cases),
        Arc::clone(&stores.notices),
        Some(mailer),
        fetcher(&ctx.resolver),
        Arc::clone(&clock) as Arc<dyn Clock>,
        NotifierConfig {
            portal_base: "https://hotline.example".into(),
            per_host,
            ..NotifierConfig::default()
        },
    );
    let hits_before = ctx.hits.load(Ordering::Relaxed);
    let queries_before = ctx.dns.queries();

    let mut sample = ctx.rt.block_on(async {
        let mut s = Sample::default();
        let mut marks = Marks::take();
        // Tick 1 is the drain; tick 2 must find nothing to do.
        for t in 0..2 {
            let mut r = TickReport::default();
            let t0 = Instant::now();
            let h = heap_mark();
            notifier.plan(&mut r).await.expect("plan");
            marks.phase(0, h);
            let t1 = Instant::now();
            let h = heap_mark();
            notifier.send_due(&mut r).await.expect("send");
            marks.phase(1, h);
            let t2 = Instant::now();
            let h = heap_mark();
            notifier.check_due(&mut r).await.expect("check");
            marks.phase(2, h);
            let t3 = Instant::now();
            if t == 0 {
                s.tick = r;
                s.phases = Phases {
                    plan: t1 - t0,
                    send: t2 - t1,
                    check: t3 - t2,
                };
                // The drain's memory, without the idle tick.
                s.memory = marks.read();
            } else {
                // `tick()` is exactly these three phases.
                assert_eq!(r, TickReport::default(), "the second tick did something");
                s.idle = t3 - t0;
            }
        }
        // `tick()` itself, once more: still nothing.
        let again = notifier.tick().await.expect("a tick");
        assert_eq!(
            again,
            TickReport::default(),
            "a tick after the drain did something"
        );
        s
    });
    sample.dns_queries = ctx.dns.queries() - queries_before;

    // Untimed: the end state. One tick did everything: a notice per hoster, all sent, every
    // case re-checked.
    let total = sample.tick.clone();
    assert_eq!(
        TickReport {
            notices: HOSTERS,
            reminders: 0,
            escalations: 0,
            cases_noticed: CASES,
            sent: HOSTERS,
            send_failures: 0,
            checks: CASES,
            offline: GONE,
        },
        total,
        "the first tick"
    );
    assert_eq!(
        ctx.hits.load(Ordering::Relaxed) - hits_before,
        CASES,
        "one HTTP request per re-check"
    );
    let mails = ctx
        .rt
        .block_on(sink.wait_for(total.sent, MAIL_WAIT))
        .expect("every notice arrives");
    assert_eq!(mails.len(), total.sent, "no notice twice");
    let mut per_hoster: HashMap<String, (usize, usize)> = HashMap::new();
    for m in &mails {
        assert_eq!(m.to.len(), 1, "{:?}", m.to);
        let to = &m.to[0];
        let h: usize = to
            .strip_prefix("abuse@hoster-")
            .and_then(|r| r.strip_suffix(".example"))
            .and_then(|r| r.parse().ok())
            .unwrap_or_else(|| panic!("a notice to {to}"));
        let json: serde_json::Value =
            serde_json::from_slice(&m.attachments[0].bytes).expect("the JSON part");
        let items = json["items"].as_array().expect("items");
        for item in items {
            let u = item["url"].as_str().expect("an item's URL");
            assert!(
                u.contains(&format!("//{}:", host(h))),
                "{u} in a notice to {to}"
            );
        }
        let e = per_hoster.entry(to.clone()).or_default();
        e.0 += 1;
        e.1 += items.len();
    }
    assert_eq!(per_hoster.len(), HOSTERS, "every hoster got a notice");
    for (to, (notices, items)) in &per_hoster {
        assert_eq!(
            (*notices, *items),
            (1, PER_HOSTER),
            "notices and URLs to {to}"
        );
    }
    let counts = ctx
        .rt
        .block_on(stores.cases.state_counts())
        .expect("state counts");
    let count = |s: CaseState| {
        counts
            .0
            .iter()
            .find(|(x, _)| *x == s)
            .map_or(0, |(_, n)| *n as usize)
    };
    assert_eq!(
        (count(CaseState::Notified), count(CaseState::Closed)),
        (CASES - GONE, GONE),
        "{counts:?}"
    );

    // Mail only: the same messages to the same server, nothing stored.
    sample.mail_only = ctx.rt.block_on(mail_only(&stores, &sink, total.sent));

    // Fetch only: the same URLs with the same limits, nothing stored.
    let started = Instant::now();
    let offline = ctx.rt.block_on(fetch_only(ctx, HOSTERS, per_host));
    sample.fetch_only = started.elapsed();
    assert_eq!(offline, GONE);

    drop(notifier);
    ctx.rt.block_on(async {
        drop(stores);
        backend.dispose(n).await;
    });
    drop(sink);
    sample
}

/// The send phase's SMTP work alone: the stored notices built into messages as
/// [`Notifier::send_due`] builds them, and sent again, 8 at a time. Returns the time taken.
async fn mail_only(stores: &store::Stores, sink: &SmtpSink, expected: usize) -> Duration {
    let notices = stores
        .notices
        .notices(None, 10_000)
        .await
        .expect("the notices");
    assert_eq!(notices.len(), expected);
    let messages: Vec<mail::Message> = notices
        .into_iter()
        .map(|n| mail::Message {
            to: n.recipients,
            subject: n.subject,
            text: n.body,
            json: Some(("notice.json".into(), n.json)),
            headers: vec![("X-Schoon-Ref".into(), n.reference.clone())],
            id_local: Some(n.reference),
        })
        .collect();
    let mailer = mail::Mailer::new(
        mail::SmtpConfig::parse(&sink.url(), "Hotline <hotline@schoon.example>")
            .expect("an SMTP URL"),
    )
    .expect("a mailer");
    let started = Instant::now();
    futures_util::stream::iter(messages)
        .map(|m| {
            let mailer = mailer.clone();
            async move { mailer.send(&m).await.expect("aiosmtpd accepts") }
        })
        .buffer_unordered(NotifierConfig::default().send_concurrency)
        .collect::<Vec<String>>()
        .await;
    started.elapsed()
}

/// The re-check phase's HTTP work alone: every URL once, 64 at a time and `per_host` per host,
/// as [`Notifier::check_due`] limits it, with the URLs on the first `hosts` host names (all
/// 200: the workload's own). Returns how many were offline.
async fn fetch_only(ctx: &Ctx, hosts: usize, per_host: usize) -> usize {
    let fetcher = fetcher(&ctx.resolver);
    let overall = Arc::new(Semaphore::new(NotifierConfig::default().check_concurrency));
    let limits: Vec<Arc<Semaphore>> = (0..hosts)
        .map(|_| Arc::new(Semaphore::new(per_host)))
        .collect();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..CASES {
        let (fetcher, overall) = (fetcher.clone(), Arc::clone(&overall));
        let host = Arc::clone(&limits[i % hosts]);
        let u = format!("http://{}:{}/p/{i}", self::host(i % hosts), ctx.port);
        set.spawn(async move {
            let _h = host.acquire_owned().await.expect("never closed");
            let _o = overall.acquire_owned().await.expect("never closed");
            fetcher.check(&u, None).await.verdict
        });
    }
    let mut offline = 0;
    while let Some(v) = set.join_next().await {
        match v.expect("a fetch task") {
            Verdict::Offline => offline += 1,
            Verdict::Online => {}
            v => panic!("a fetch was {v:?}"),
        }
    }
    offline
}

// ---------------------------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------------------------

/// Median, smallest and largest.
fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return (0.0, 0.0, 0.0);
    }
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (median, v[0], v[n - 1])
}

fn secs(samples: &[Sample], f: impl Fn(&Sample) -> Option<Duration>) -> String {
    let v: Vec<f64> = samples
        .iter()
        .filter_map(|s| f(s).map(|d| d.as_secs_f64()))
        .collect();
    if v.is_empty() {
        return "-".into();
    }
    let (m, lo, hi) = stats(v);
    format!("{m:.2} s ({lo:.2}–{hi:.2})")
}

fn kib(samples: &[Sample], f: impl Fn(&Sample) -> i64) -> String {
    let (m, lo, hi) = stats(samples.iter().map(|s| f(s) as f64 / 1024.0).collect());
    format!("{m:.1} MiB ({lo:.1}–{hi:.1})")
}

fn report(backend: &str, per_host: usize, samples: &[Sample]) {
    let first = &samples[0];
    eprintln!(
        "\nntd_tick/{backend}/per_host={per_host}: {} iterations; medians (smallest–largest)",
        samples.len()
    );
    let r = &first.tick;
    eprintln!(
        "  tick 1 (the drain): {} notices ({} cases), {} sent, {} re-checks ({} offline)",
        r.notices, r.cases_noticed, r.sent, r.checks, r.offline
    );
    eprintln!(
        "    plan {}  send {}  check {}  tick {}",
        secs(samples, |s| Some(s.phases.plan)),
        secs(samples, |s| Some(s.phases.send)),
        secs(samples, |s| Some(s.phases.check)),
        secs(samples, |s| Some(s.phases.total())),
    );
    eprintln!(
        "  tick 2 (idle) {}; {} DNS queries per drain",
        secs(samples, |s| Some(s.idle)),
        first.dns_queries
    );
    eprintln!(
        "  without the database: fetch only (10,000 URLs) {}; mail only ({} notices) {}",
        secs(samples, |s| Some(s.fetch_only)),
        first.tick.sent,
        secs(samples, |s| Some(s.mail_only)),
    );
    let rss_peak = match samples.iter().find_map(|s| s.memory.hwm_error.clone()) {
        None => format!("peak RSS growth {}", kib(samples, |s| s.memory.rss_peak)),
        Some(e) => format!("peak RSS growth unknown (VmHWM could not be reset: {e})"),
    };
    eprintln!(
        "  memory during the drain: RSS before {}; {rss_peak}, RSS kept {}; peak Rust heap growth {}, \
         heap kept {}",
        kib(samples, |s| s.memory.rss_before),
        kib(samples, |s| s.memory.rss_kept),
        kib(samples, |s| s.memory.heap_peak),
        kib(samples, |s| s.memory.heap_kept),
    );
    eprintln!(
        "  peak Rust heap growth within one phase: plan {}, send {}, check {}",
        kib(samples, |s| s.memory.heap_phases[0]),
        kib(samples, |s| s.memory.heap_phases[1]),
        kib(samples, |s| s.memory.heap_phases[2]),
    );
}

fn main() {
    let measured: usize = std::env::var("SCHOON_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let names: Vec<String> = (0..HOSTERS).map(host).collect();
    let records: Vec<(&str, TestRecord)> = names
        .iter()
        .map(|n| (n.as_str(), TestRecord::A([127, 0, 0, 1].into())))
        .collect();
    let dns = TestDns::start(&records).expect("start the test DNS server");
    let resolver = Resolver::new(&DnsConfig {
        servers: vec![dns.addr()],
        ..DnsConfig::default()
    })
    .expect("a resolver");
    let hits = Arc::new(AtomicUsize::new(0));
    let port = rt.block_on(start_site(Arc::clone(&hits)));
    let ctx = Ctx {
        rt,
        dns,
        resolver,
        port,
        hits,
    };

    let mut backends = vec![Backend::Sqlite(
        tempfile::Builder::new()
            .prefix("schoon-bench-")
            .tempdir()
            .expect("a temporary directory"),
    )];
    if std::env::var("SCHOON_BENCH_PG").is_ok_and(|v| v == "1") {
        match TempPostgres::start() {
            Ok(pg) => backends.push(Backend::Postgres(pg)),
            Err(e) => eprintln!("ntd_tick: PostgreSQL skipped: {e}"),
        }
    } else {
        eprintln!("ntd_tick: SQLite only; SCHOON_BENCH_PG=1 adds PostgreSQL");
    }
    eprintln!(
        "ntd_tick: {CASES} actionable cases over {HOSTERS} hosters and host names, {GONE} pages \
         gone; {measured} measured iterations per politeness setting after 1 warm-up"
    );

    let mut n = 0;
    for backend in &backends {
        let started = Instant::now();
        let (submit, acts) = ctx.rt.block_on(backend.build_template(ctx.port));
        eprintln!(
            "ntd_tick/{}: set-up (once): register + one submit of {CASES} URLs {:.1} s, \
             {} analyst actions {:.1} s, in all {:.1} s",
            backend.name(),
            submit.as_secs_f64(),
            3 * CASES,
            acts.as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
        let mut samples: HashMap<usize, Vec<Sample>> = HashMap::new();
        n += 1;
        let warm = run_one(&ctx, backend, n, PER_HOST[0]);
        eprintln!(
            "  warm-up: drain {:.2} s; RSS before {:.1} MiB, peak RSS growth {:.1} MiB, \
             peak Rust heap growth {:.1} MiB",
            warm.phases.total().as_secs_f64(),
            warm.memory.rss_before as f64 / 1024.0,
            warm.memory.rss_peak as f64 / 1024.0,
            warm.memory.heap_peak as f64 / 1024.0,
        );
        for i in 0..measured {
            let order = if i % 2 == 0 {
                PER_HOST
            } else {
                [PER_HOST[1], PER_HOST[0]]
            };
            for per_host in order {
                n += 1;
                let s = run_one(&ctx, backend, n, per_host);
                eprintln!(
                    "  iteration {} per_host={per_host}: drain {:.2} s (check phase {:.2} s), \
                     fetch only {:.2} s",
                    i + 1,
                    s.phases.total().as_secs_f64(),
                    s.phases.check.as_secs_f64(),
                    s.fetch_only.as_secs_f64()
                );
                samples.entry(per_host).or_default().push(s);
            }
        }
        for per_host in PER_HOST {
            report(backend.name(), per_host, &samples[&per_host]);
        }
    }

    // What politeness costs when a few hosts hold everything: the same 10,000 fetches on
    // CONCENTRATED host names (no database, so once, not per backend).
    let mut times: HashMap<usize, Vec<f64>> = HashMap::new();
    for round in 0..3 {
        let order = if round % 2 == 0 {
            PER_HOST
        } else {
            [PER_HOST[1], PER_HOST[0]]
        };
        for per_host in order {
            let started = Instant::now();
            let offline = ctx.rt.block_on(fetch_only(&ctx, CONCENTRATED, per_host));
            assert_eq!(offline, GONE);
            times
                .entry(per_host)
                .or_default()
                .push(started.elapsed().as_secs_f64());
        }
    }
    for per_host in PER_HOST {
        let (m, lo, hi) = stats(times.remove(&per_host).unwrap_or_default());
        eprintln!(
            "\nntd_tick: fetch only, the 10,000 URLs on {CONCENTRATED} host names, per_host={per_host}: \
             median {m:.2} s ({lo:.2}–{hi:.2}) of 3"
        );
    }
}
