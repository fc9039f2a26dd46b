//! The monitor's statistics over 1,000,000 notified cases: aggregated in the database
//! ([`MonitorStore::summary`]) against the naive way, every case read as [`CaseFacts`] and the
//! figures computed with [`Dataset`].
//!
//! The data (deterministic, made in Rust, loaded outside every timed part):
//!
//! * 200 hosters in the register with Zipf-skewed volumes (hoster `k` gets a share
//!   proportional to `1 / (k + 1)`: the largest about 17 %, the top 10 about half); 20 of
//!   them are linked to an organisation that uses the hash check;
//! * 1,000,000 notified cases over the 10 years before `now` (about 100,000 a year, ids in
//!   notice order), 3 categories (70 % `csam`, 20 % `terrorism`, 10 % `ncii`); times to
//!   removal: 60 % within 5 min to 6 h, 23 % 6 to 24 h, 12 % 24 to 72 h, 3 % 3 to 14 days,
//!   2 % still online; a reminder 12 h after the notice when still online then (about 32 %),
//!   an escalation after 72 h (about 5 %); 3 % repeat an earlier URL of the same hoster;
//! * 100,000 sent notice messages (and 10,000 reminders) and 200,000 hash-check audit records.
//!
//! Loading: SQLite (a file in a temporary directory) takes multi-row `INSERT`s of 1,000 rows
//! in one transaction, then a checkpoint (`wal_checkpoint(TRUNCATE)`); PostgreSQL takes `INSERT ... SELECT * FROM UNNEST(arrays)` in chunks
//! of 50,000, then `VACUUM ANALYZE` (the state autovacuum leaves a bulk load in).
//!
//! The backends run one after the other: SQLite is loaded, measured and dropped before the
//! PostgreSQL server starts. Measured, per backend (criterion, 10 samples each):
//!
//! * `summary_10y`: `summary()` over the 10 years; `summary_1y`: over the last 365 days;
//! * `naive_read_10y`: `cases_behind` with [`Drill::All`] and no limit: the 1,000,000 cases as
//!   [`CaseFacts`];
//!
//! and once (backend-independent, in memory), for the 10 years and for the last year:
//!
//! * `views_from_summary_*`: the sector, every hoster, every month and the removal histogram
//!   from the period's [`Summary`];
//! * `views_from_dataset_*`: the same views from the 1,000,000 [`CaseFacts`] with [`Dataset`]
//!   (including `Dataset::new`, which sorts them and marks repeats). The naive way needs the
//!   whole history for either period (a repeat looks back to any year); it is given no notices
//!   or participation, so it does a little less than the summary's way.
//!
//! Per backend, after its timed runs, the bench also times, 3 times each and outside
//! criterion, the summary's `GROUP BY` with the repeat flag found by `EXISTS` (what the store
//! runs) against a window function (`ROW_NUMBER() OVER (PARTITION BY hoster_id, url ...)`), to
//! show why the store uses the former; both must find the same groups and repeats. Both
//! backends must give the same summaries, and at the end both ways must give the same counts
//! (urls, removals, within 24 h, undecided, reminders, escalations, repeats; the medians may
//! differ by less than a minute, see `monitor::summary`), per hoster, per month and per
//! histogram bar.
//!
//! Run with `cargo bench -p schoon-store --bench monitor` (both backends, about 10 minutes
//! after the build; `SCHOON_SKIP_PG=1` for SQLite only; `SCHOON_BENCH_CASES=N` for a smaller
//! set).

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use lists::{Clock, Millis, SystemClock};
use monitor::store::{Drill, DrillQuery, MonitorStore};
use monitor::{
    Bucket, CaseFacts, Dataset, Figures, Filter, Month, NoticeFacts, Participation, Period, Summary,
};
use ntd::CaseStore;
use ntd::register::HosterFields;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::testing::TempPostgres;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
/// Hosters in the register.
const HOSTERS: usize = 200;
/// Of those, linked to a hash-check organisation.
const LINKED: usize = 20;
/// Ten years of notices.
const SPAN: i64 = 3652 * DAY;
/// Sent notice messages (one message covers about 10 cases).
const NOTICES: usize = 100_000;
/// Hash-check audit records.
const AUDITS: usize = 200_000;
const CATEGORIES: [&str; 3] = ["csam", "terrorism", "ncii"];

/// `now`: 2026-07-01T00:00:00Z.
fn now() -> Millis {
    Period::month(2026, 7).expect("a month").from
}

fn cases_wanted() -> usize {
    std::env::var("SCHOON_BENCH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// xorshift64: deterministic data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: i64) -> i64 {
        (self.next() % n.max(1) as u64) as i64
    }

    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below(hi - lo)
    }
}

/// One generated case.
struct Case {
    id: i64,
    /// Index into the hosters, not the id.
    hoster: usize,
    category: &'static str,
    url: String,
    opened_at: i64,
    notified_at: i64,
    removed_at: Option<i64>,
    reminded_at: Option<i64>,
    escalated_at: Option<i64>,
    open: bool,
}

struct Data {
    cases: Vec<Case>,
    /// (hoster index, kind, sent_at)
    notices: Vec<(usize, &'static str, i64)>,
    /// (org, at, action, count, matches, scanner)
    audits: Vec<(i64, i64, &'static str, i64, i64, bool)>,
}

fn generate(n: usize) -> Data {
    let now = now().0;
    let start = now - SPAN;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Zipf: cumulative weights of 1 / (k + 1).
    let mut cumulative = Vec::with_capacity(HOSTERS);
    let mut total = 0.0;
    for k in 0..HOSTERS {
        total += 1.0 / (k + 1) as f64;
        cumulative.push(total);
    }
    let pick_hoster = |rng: &mut Rng| {
        let x = (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * total;
        cumulative.partition_point(|&c| c < x).min(HOSTERS - 1)
    };
    let step = SPAN / n as i64;
    let mut past: Vec<Vec<usize>> = vec![Vec::new(); HOSTERS];
    let mut open_urls: HashSet<String> = HashSet::new();
    let mut cases: Vec<Case> = Vec::with_capacity(n);
    for i in 0..n {
        let hoster = pick_hoster(&mut rng);
        let notified_at = start + i as i64 * step + rng.below(step);
        let category = match rng.below(10) {
            0..7 => CATEGORIES[0],
            7..9 => CATEGORIES[1],
            _ => CATEGORIES[2],
        };
        let earlier = &past[hoster];
        let url = if rng.below(100) < 3 && !earlier.is_empty() {
            let from = earlier.len().saturating_sub(1000);
            cases[earlier[from + rng.below((earlier.len() - from) as i64) as usize]]
                .url
                .clone()
        } else {
            format!("https://site-{hoster:03}.example/content/{i}")
        };
        let after = match rng.below(1000) {
            0..20 => None,
            20..620 => Some(rng.between(5 * MIN, 6 * HOUR)),
            620..850 => Some(rng.between(6 * HOUR, DAY)),
            850..970 => Some(rng.between(DAY, 3 * DAY)),
            _ => Some(rng.between(3 * DAY, 14 * DAY)),
        };
        // Nothing is removed in the future: a removal after `now` has not happened yet.
        let removed_at = after.map(|a| notified_at + a).filter(|&r| r <= now);
        let still = |t: i64| removed_at.is_none_or(|r| r > t) && t <= now;
        let reminded_at = Some(notified_at + 12 * HOUR).filter(|&t| still(t));
        let escalated_at = Some(notified_at + 3 * DAY).filter(|&t| still(t));
        let open = removed_at.is_none() && open_urls.insert(url.clone());
        past[hoster].push(i);
        cases.push(Case {
            id: i as i64 + 1,
            hoster,
            category,
            url,
            opened_at: notified_at - rng.below(2 * HOUR),
            notified_at,
            removed_at,
            reminded_at,
            escalated_at,
            open,
        });
    }
    let mut notices = Vec::with_capacity(NOTICES + NOTICES / 10);
    for i in 0..NOTICES + NOTICES / 10 {
        let kind = if i % 11 == 10 { "reminder" } else { "notice" };
        notices.push((pick_hoster(&mut rng), kind, start + rng.below(SPAN)));
    }
    let mut audits = Vec::with_capacity(AUDITS);
    for _ in 0..AUDITS {
        let org = 100 + rng.below(LINKED as i64 + 5); // 5 organisations are no hoster's
        let action = match rng.below(10) {
            0 => "import",
            1..3 => "check_image",
            _ => "check",
        };
        audits.push((
            org,
            start + rng.below(SPAN),
            action,
            1 + rng.below(1000),
            rng.below(3),
            rng.below(10) == 0,
        ));
    }
    Data {
        cases,
        notices,
        audits,
    }
}

/// The backends under test, each loaded once.
enum Db {
    Sqlite {
        store: Arc<store::SqliteStore>,
        _dir: tempfile::TempDir,
    },
    Postgres {
        store: Arc<store::PgStore>,
        _server: TempPostgres,
    },
}

impl Db {
    fn name(&self) -> &'static str {
        match self {
            Db::Sqlite { .. } => "sqlite",
            Db::Postgres { .. } => "postgres",
        }
    }

    fn monitor(&self) -> Arc<dyn MonitorStore> {
        match self {
            Db::Sqlite { store: s, .. } => Arc::clone(s) as Arc<dyn MonitorStore>,
            Db::Postgres { store: s, .. } => Arc::clone(s) as Arc<dyn MonitorStore>,
        }
    }

    fn cases(&self) -> Arc<dyn CaseStore> {
        match self {
            Db::Sqlite { store: s, .. } => Arc::clone(s) as Arc<dyn CaseStore>,
            Db::Postgres { store: s, .. } => Arc::clone(s) as Arc<dyn CaseStore>,
        }
    }
}

async fn register(cases: &dyn CaseStore) -> Vec<i64> {
    let mut ids = Vec::with_capacity(HOSTERS);
    for k in 0..HOSTERS {
        let fields = HosterFields {
            name: format!("Hoster {k:03}"),
            org_id: (k < LINKED).then_some(100 + k as i64),
            abuse: vec![format!("abuse@site-{k:03}.example")],
            ..Default::default()
        }
        .check()
        .expect("valid fields");
        ids.push(
            cases
                .create_hoster(&fields, "bench")
                .await
                .expect("a hoster")
                .id,
        );
    }
    ids
}

const CASE_INSERT: &str = "INSERT INTO cases (id, url, host, category, state, is_open, opened_at, \
     updated_at, hoster_id, notified_at, removed_at, reminded_at, escalated_at)";

fn state(c: &Case) -> &'static str {
    if c.open { "notified" } else { "closed" }
}

async fn load_sqlite(s: &store::SqliteStore, hosters: &[i64], d: &Data) {
    let mut tx = s.pool().begin().await.expect("a transaction");
    let rows = |n: usize, width: usize| {
        let one = format!("({})", vec!["?"; width].join(","));
        vec![one; n].join(",")
    };
    for chunk in d.cases.chunks(1000) {
        let sql = format!("{CASE_INSERT} VALUES {}", rows(chunk.len(), 13));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for c in chunk {
            q = q
                .bind(c.id)
                .bind(&c.url)
                .bind("bench.example")
                .bind(c.category)
                .bind(state(c))
                .bind(i64::from(c.open))
                .bind(c.opened_at)
                .bind(c.notified_at)
                .bind(hosters[c.hoster])
                .bind(c.notified_at)
                .bind(c.removed_at)
                .bind(c.reminded_at)
                .bind(c.escalated_at);
        }
        q.execute(&mut *tx).await.expect("insert cases");
    }
    for (n, chunk) in d.notices.chunks(2000).enumerate() {
        let sql = format!(
            "INSERT INTO notices (reference, kind, hoster_id, channel, recipients, subject, body, json, \
             status, queued_at, sent_at) VALUES {}",
            rows(chunk.len(), 11)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (i, (h, kind, at)) in chunk.iter().enumerate() {
            q = q
                .bind(format!("N-{n}-{i}"))
                .bind(*kind)
                .bind(hosters[*h])
                .bind("email")
                .bind("[]")
                .bind("s")
                .bind("b")
                .bind("{}")
                .bind("sent")
                .bind(at - MIN)
                .bind(*at);
        }
        q.execute(&mut *tx).await.expect("insert notices");
    }
    for chunk in d.audits.chunks(2000) {
        let sql = format!(
            "INSERT INTO audit_log (at, key_id, org_id, action, count, matches, detail) VALUES {}",
            rows(chunk.len(), 7)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (org, at, action, count, matches, scanner) in chunk {
            q = q
                .bind(*at)
                .bind(format!("key-{org}"))
                .bind(*org)
                .bind(*action)
                .bind(*count)
                .bind(*matches)
                .bind(detail(*scanner));
        }
        q.execute(&mut *tx).await.expect("insert audit records");
    }
    tx.commit().await.expect("commit");
    // What a running database's checkpoints leave: the pages in the database file, not the
    // write-ahead log.
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(s.pool())
        .await
        .expect("checkpoint");
}

fn detail(scanner: bool) -> &'static str {
    if scanner {
        r#"{"radius":31,"index_seq":7,"matches":[],"client":"scanner"}"#
    } else {
        r#"{"radius":31,"index_seq":7,"matches":[]}"#
    }
}

async fn load_postgres(s: &store::PgStore, hosters: &[i64], d: &Data) {
    let pool = s.pool();
    for chunk in d.cases.chunks(50_000) {
        let col = |f: &dyn Fn(&Case) -> i64| chunk.iter().map(f).collect::<Vec<i64>>();
        let opt = |f: &dyn Fn(&Case) -> Option<i64>| chunk.iter().map(f).collect::<Vec<_>>();
        sqlx::query(
            "INSERT INTO cases (id, url, host, category, state, is_open, opened_at, updated_at, hoster_id, \
             notified_at, removed_at, reminded_at, escalated_at) \
             SELECT id, url, 'bench.example', category, state, is_open, opened_at, opened_at, hoster_id, \
                    notified_at, removed_at, reminded_at, escalated_at \
             FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::BIGINT[], $6::BIGINT[], \
                         $7::BIGINT[], $8::BIGINT[], $9::BIGINT[], $10::BIGINT[], $11::BIGINT[]) \
                  AS t(id, url, category, state, is_open, opened_at, hoster_id, notified_at, removed_at, \
                       reminded_at, escalated_at)",
        )
        .bind(col(&|c| c.id))
        .bind(chunk.iter().map(|c| c.url.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|c| c.category).collect::<Vec<_>>())
        .bind(chunk.iter().map(state).collect::<Vec<_>>())
        .bind(col(&|c| i64::from(c.open)))
        .bind(col(&|c| c.opened_at))
        .bind(col(&|c| hosters[c.hoster]))
        .bind(col(&|c| c.notified_at))
        .bind(opt(&|c| c.removed_at))
        .bind(opt(&|c| c.reminded_at))
        .bind(opt(&|c| c.escalated_at))
        .execute(pool)
        .await
        .expect("insert cases");
    }
    let refs: Vec<String> = (0..d.notices.len()).map(|i| format!("N-{i}")).collect();
    sqlx::query(
        "INSERT INTO notices (reference, kind, hoster_id, channel, recipients, subject, body, json, \
         status, queued_at, sent_at) \
         SELECT r, k, h, 'email', '[]', 's', 'b', '{}', 'sent', t - 60000, t \
         FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[]) AS x(r, k, h, t)",
    )
    .bind(&refs)
    .bind(d.notices.iter().map(|n| n.1).collect::<Vec<_>>())
    .bind(d.notices.iter().map(|n| hosters[n.0]).collect::<Vec<_>>())
    .bind(d.notices.iter().map(|n| n.2).collect::<Vec<_>>())
    .execute(pool)
    .await
    .expect("insert notices");
    sqlx::query(
        "INSERT INTO audit_log (at, key_id, org_id, action, count, matches, detail) \
         SELECT t, 'key-' || o, o, a, n, m, d \
         FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::BIGINT[], $5::BIGINT[], $6::TEXT[]) \
              AS x(t, o, a, n, m, d)",
    )
    .bind(d.audits.iter().map(|a| a.1).collect::<Vec<_>>())
    .bind(d.audits.iter().map(|a| a.0).collect::<Vec<_>>())
    .bind(d.audits.iter().map(|a| a.2).collect::<Vec<_>>())
    .bind(d.audits.iter().map(|a| a.3).collect::<Vec<_>>())
    .bind(d.audits.iter().map(|a| a.4).collect::<Vec<_>>())
    .bind(d.audits.iter().map(|a| detail(a.5)).collect::<Vec<_>>())
    .execute(pool)
    .await
    .expect("insert audit records");
    // What autovacuum leaves after a bulk load: statistics, and a visibility map that lets
    // the repeat lookup read only the index.
    sqlx::query("VACUUM ANALYZE")
        .execute(pool)
        .await
        .expect("vacuum");
}

/// The views a monitor page shows for the whole period: the sector, every hoster, every
/// month and the removal histogram.
type Views = (
    Figures,
    BTreeMap<i64, Figures>,
    Vec<(Month, Figures)>,
    Vec<(Bucket, u64)>,
);

fn views_from_summary(s: &Summary) -> Views {
    let all = Filter::all();
    (
        s.sector(),
        s.per_hoster(&all),
        s.monthly(&all),
        s.removal_histogram(&all),
    )
}

fn views_from_dataset(cases: &[CaseFacts], period: &Period, now: Millis) -> Views {
    let all = Filter::all();
    let d = Dataset::new(cases, &[] as &[NoticeFacts], &[] as &[Participation]);
    (
        d.sector(period, now),
        d.per_hoster(period, now, &all),
        d.monthly(period, now, &all),
        d.removal_histogram(period, now, &all),
    )
}

/// The counts two sets of figures must share (medians may differ by under a minute;
/// the naive way had no notices or participation to read).
fn counts(f: &Figures) -> [u64; 8] {
    [
        f.hosters,
        f.urls,
        f.removed,
        f.removed_within_24h,
        f.undecided_24h,
        f.reminders,
        f.escalations,
        f.repeats,
    ]
}

fn check_same(a: &Views, b: &Views) {
    assert_eq!(counts(&a.0), counts(&b.0), "sector");
    let close = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) => (x - y).abs() < 1.0 / 60.0,
        (x, y) => x == y,
    };
    assert!(close(a.0.median_hours, b.0.median_hours), "median");
    assert!(close(a.0.p90_hours, b.0.p90_hours), "p90");
    assert_eq!(
        a.1.iter().map(|(h, f)| (*h, counts(f))).collect::<Vec<_>>(),
        b.1.iter().map(|(h, f)| (*h, counts(f))).collect::<Vec<_>>(),
        "per hoster"
    );
    assert_eq!(
        a.2.iter().map(|(m, f)| (*m, counts(f))).collect::<Vec<_>>(),
        b.2.iter().map(|(m, f)| (*m, counts(f))).collect::<Vec<_>>(),
        "monthly"
    );
    assert_eq!(a.3, b.3, "histogram");
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    match v.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2,
    }
}

fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.0} ms", d.as_secs_f64() * 1000.0)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// Times `f` with criterion (10 samples, one call each) and keeps every call's duration, so
/// the bench can print medians and ratios of its own.
fn timed<T>(
    c: &mut Criterion,
    group: &str,
    name: &str,
    medians: &mut BTreeMap<String, Duration>,
    mut f: impl FnMut() -> T,
) {
    let log: RefCell<Vec<Duration>> = RefCell::new(Vec::new());
    let mut g = c.benchmark_group(group);
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1));
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let started = Instant::now();
                let out = f();
                let took = started.elapsed();
                drop(out);
                total += took;
                log.borrow_mut().push(took);
            }
            total
        })
    });
    g.finish();
    // The first call is criterion's warm-up: leave it out, as criterion does.
    let log: Vec<Duration> = log.into_inner().into_iter().skip(1).collect();
    let m = median(log.clone());
    eprintln!(
        "  {group}/{name}: median {} of {} ({}–{})",
        secs(m),
        log.len(),
        secs(log.iter().min().copied().unwrap_or_default()),
        secs(log.iter().max().copied().unwrap_or_default()),
    );
    medians.insert(format!("{group}/{name}"), m);
}

/// The summary's case query with the repeat flag from a window function over the history up
/// to the period's end, for the comparison with the store's `EXISTS` (same columns).
const WINDOW_SQL: &str = "\
SELECT hoster_id, category, nday, CAST(removed AS BIGINT) AS is_removed, CAST(minutes AS BIGINT) AS n_minutes, \
       CAST(COUNT(*) AS BIGINT) AS n_cases, CAST(SUM(reminded) AS BIGINT) AS n_reminded, \
       CAST(SUM(escalated) AS BIGINT) AS n_escalated, \
       CAST(SUM(escalated * (1 - removed)) AS BIGINT) AS n_escalated_online, \
       CAST(SUM(repeated) AS BIGINT) AS n_repeats \
FROM ( \
  SELECT w.hoster_id, w.category, \
         (w.notified_at - ((w.notified_at % 86400000) + 86400000) % 86400000) / 86400000 AS nday, \
         CASE WHEN w.removed_at <= $3 THEN 1 ELSE 0 END AS removed, \
         CASE WHEN w.removed_at <= $3 \
              THEN ((CASE WHEN w.removed_at > w.notified_at THEN w.removed_at - w.notified_at ELSE 0 END) + 59999) / 60000 \
              ELSE ($3 - w.notified_at) / 60000 END AS minutes, \
         CASE WHEN w.reminded_at <= $3 THEN 1 ELSE 0 END AS reminded, \
         CASE WHEN w.escalated_at <= $3 THEN 1 ELSE 0 END AS escalated, \
         CASE WHEN w.rn > 1 THEN 1 ELSE 0 END AS repeated \
  FROM (SELECT c.*, ROW_NUMBER() OVER (PARTITION BY c.hoster_id, c.url ORDER BY c.notified_at, c.id) AS rn \
        FROM cases c WHERE c.notified_at IS NOT NULL AND c.hoster_id IS NOT NULL AND c.notified_at < $2) w \
  WHERE w.notified_at >= $1 AND w.notified_at <= $3 \
) t \
GROUP BY hoster_id, category, nday, removed, minutes";

/// The store's case query, timed the same way.
const EXISTS_SQL: &str = store::MONITOR_SUMMARY_SQL;

/// Runs one of the two case queries (planned for its bounds, as the store does) and returns
/// (rows, repeats).
async fn raw_groups(db: &Db, sql: &'static str, period: &Period, now: Millis) -> (usize, i64) {
    use sqlx::Row as _;
    macro_rules! run {
        ($pool:expr) => {{
            let rows = sqlx::query(sql)
                .persistent(false)
                .bind(period.from.0)
                .bind(period.to.0)
                .bind(now.0)
                .fetch_all($pool)
                .await
                .expect("the case query");
            let repeats = rows.iter().map(|r| r.get::<i64, _>("n_repeats")).sum();
            (rows.len(), repeats)
        }};
    }
    match db {
        Db::Sqlite { store: s, .. } => run!(s.pool()),
        Db::Postgres { store: s, .. } => run!(s.pool()),
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let n = cases_wanted();
    let started = Instant::now();
    let data = generate(n);
    let online = data.cases.iter().filter(|c| c.removed_at.is_none()).count();
    let reminded = data
        .cases
        .iter()
        .filter(|c| c.reminded_at.is_some())
        .count();
    let escalated = data
        .cases
        .iter()
        .filter(|c| c.escalated_at.is_some())
        .count();
    let mut seen = HashSet::new();
    let repeats = data
        .cases
        .iter()
        .filter(|c| !seen.insert((c.hoster, c.url.as_str())))
        .count();
    let pct = |k: usize| k as f64 * 100.0 / n as f64;
    eprintln!(
        "monitor: {n} cases over 10 years, {HOSTERS} hosters: {:.1} % still online, {:.1} % reminded, \
         {:.1} % escalated, {:.1} % repeats; generated in {:.1} s",
        pct(online),
        pct(reminded),
        pct(escalated),
        pct(repeats),
        started.elapsed().as_secs_f64()
    );

    let now = now();
    let ten = Period::custom(Millis(now.0 - SPAN), now).expect("10 years");
    let one = Period::custom(Millis(now.0 - 365 * DAY), now).expect("1 year");
    let all_cases = DrillQuery {
        period: ten,
        now,
        hoster: None,
        category: None,
        which: Drill::All,
        limit: u32::MAX,
    };
    let clock = Arc::new(SystemClock) as Arc<dyn Clock>;
    let mut medians = BTreeMap::new();
    let mut kept: Option<(Summary, Summary, Vec<CaseFacts>)> = None;
    let mut measured: Vec<&'static str> = Vec::new();
    // One backend at a time: load, measure, drop, so that neither's background work (the
    // PostgreSQL server's checkpoints and autovacuum) runs during the other's measurements.
    for backend in ["sqlite", "postgres"] {
        let db = if backend == "sqlite" {
            let dir = tempfile::Builder::new()
                .prefix("schoon-bench-")
                .tempdir()
                .expect("a temporary directory");
            let url = format!("sqlite://{}", dir.path().join("monitor.db").display());
            let store = rt
                .block_on(store::SqliteStore::open(&url, Arc::clone(&clock)))
                .expect("open SQLite");
            Db::Sqlite {
                store: Arc::new(store),
                _dir: dir,
            }
        } else if TempPostgres::skipped() {
            eprintln!("monitor: SCHOON_SKIP_PG=1: SQLite only");
            continue;
        } else {
            match TempPostgres::start() {
                Ok(pg) => {
                    let url = pg.fresh_database("monitor").expect("createdb");
                    let store = rt
                        .block_on(store::PgStore::open(&url, Arc::clone(&clock)))
                        .expect("open PostgreSQL");
                    Db::Postgres {
                        store: Arc::new(store),
                        _server: pg,
                    }
                }
                Err(e) => {
                    eprintln!("monitor: PostgreSQL skipped: {e}");
                    continue;
                }
            }
        };
        let started = Instant::now();
        rt.block_on(async {
            let hosters = register(db.cases().as_ref()).await;
            match &db {
                Db::Sqlite { store: s, .. } => load_sqlite(s, &hosters, &data).await,
                Db::Postgres { store: s, .. } => load_postgres(s, &hosters, &data).await,
            }
        });
        eprintln!(
            "monitor/{}: loaded {n} cases, {} notices, {AUDITS} audit records in {:.1} s (set-up, not measured)",
            db.name(),
            data.notices.len(),
            started.elapsed().as_secs_f64()
        );

        let m = db.monitor();
        let group = format!("monitor/{}", db.name());
        let s10 = rt.block_on(m.summary(&ten, now)).expect("summary");
        let s1 = rt.block_on(m.summary(&one, now)).expect("summary");
        eprintln!(
            "monitor/{}: 10 years: {} groups ({} cases), {} notice counts, {} participation rows; \
             last year: {} groups ({} cases)",
            db.name(),
            s10.groups.len(),
            s10.groups.iter().map(|g| g.cases).sum::<u64>(),
            s10.notices.len(),
            s10.participation.len(),
            s1.groups.len(),
            s1.groups.iter().map(|g| g.cases).sum::<u64>(),
        );
        timed(c, &group, "summary_10y", &mut medians, || {
            rt.block_on(m.summary(&ten, now)).expect("summary")
        });
        timed(c, &group, "summary_1y", &mut medians, || {
            rt.block_on(m.summary(&one, now)).expect("summary")
        });
        timed(c, &group, "naive_read_10y", &mut medians, || {
            rt.block_on(m.cases_behind(&all_cases)).expect("cases")
        });
        let facts = rt.block_on(m.cases_behind(&all_cases)).expect("cases");
        assert_eq!(facts.len(), n, "every case read");
        if let Some((a, b, _)) = &kept {
            assert_eq!((a, b), (&s10, &s1), "both backends give the same summaries");
        } else {
            kept = Some((s10, s1, facts));
        }

        // EXISTS against a window function for the repeat flag, 3 alternating rounds each.
        for (label, period) in [("10y", &ten), ("1y", &one)] {
            let mut times: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
            let mut answers = HashSet::new();
            for round in 0..3 {
                let order = if round % 2 == 0 {
                    [("exists", EXISTS_SQL), ("window", WINDOW_SQL)]
                } else {
                    [("window", WINDOW_SQL), ("exists", EXISTS_SQL)]
                };
                for (name, sql) in order {
                    let started = Instant::now();
                    let got = rt.block_on(raw_groups(&db, sql, period, now));
                    times.entry(name).or_default().push(started.elapsed());
                    answers.insert(got);
                }
            }
            assert_eq!(
                answers.len(),
                1,
                "both queries find the same groups and repeats"
            );
            eprintln!(
                "  monitor/{}/repeat lookup {label}: EXISTS median {}, window function median {} (3 each)",
                db.name(),
                secs(median(times.remove("exists").unwrap_or_default())),
                secs(median(times.remove("window").unwrap_or_default())),
            );
        }
        measured.push(db.name());
        drop(db);
    }
    drop(data);

    let (s10, s1, facts) = kept.expect("at least SQLite ran");
    for (label, summary, period) in [("10y", &s10, &ten), ("1y", &s1, &one)] {
        timed(
            c,
            "monitor/memory",
            &format!("views_from_summary_{label}"),
            &mut medians,
            || views_from_summary(summary),
        );
        timed(
            c,
            "monitor/memory",
            &format!("views_from_dataset_{label}"),
            &mut medians,
            || views_from_dataset(&facts, period, now),
        );
        check_same(
            &views_from_summary(summary),
            &views_from_dataset(&facts, period, now),
        );
    }
    eprintln!("monitor: the views from the summary and from the cases agree");

    let get = |k: &str| medians.get(k).copied().unwrap_or_default();
    for name in measured {
        let g = format!("monitor/{name}");
        // The naive way reads the whole history for either period: a repeat in the last year
        // may repeat a URL of any year before.
        let read = get(&format!("{g}/naive_read_10y"));
        for label in ["10y", "1y"] {
            let summary = get(&format!("{g}/summary_{label}"));
            let views_s = get(&format!("monitor/memory/views_from_summary_{label}"));
            let views_d = get(&format!("monitor/memory/views_from_dataset_{label}"));
            let aggregated = summary + views_s;
            let naive = read + views_d;
            eprintln!(
                "monitor/{}: {label}, sector + hosters + months + histogram: summary {} + views {} = {}; \
                 naive: read all {} + Dataset {} = {}; naive / aggregated = {:.2}x",
                name,
                secs(summary),
                secs(views_s),
                secs(aggregated),
                secs(read),
                secs(views_d),
                secs(naive),
                naive.as_secs_f64() / aggregated.as_secs_f64().max(1e-9),
            );
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
