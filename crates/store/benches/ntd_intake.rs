//! Notice and takedown, bulk intake: a report of 10,000 URLs over 500 hostnames is
//! normalised, deduplicated into cases and every case attributed to its hosting provider,
//! against a real DNS server on loopback ([`ntd::testing::TestDns`]).
//!
//! * **schoon**: `case::validate` + one `CaseStore::submit` transaction, then
//!   `Engine::run_once` until no case is due (each round claims up to 2,000 cases and
//!   resolves each distinct host of the round once, 64 at a time).
//! * **naive**: the same reports one at a time: validate, `submit` a batch of one, resolve
//!   the URL's host (`Resolver::resolve`), attribute and `save_attribution`, sequentially.
//!
//! On SQLite (a temporary file) and, with `SCHOON_BENCH_PG=1`, also on a throwaway PostgreSQL
//! server (`store::testing::TempPostgres`; the naive approach alone takes over 3 minutes there).
//! Every iteration gets a fresh database with the hosters register and the attribution data
//! loaded outside the timed part; the end state (one attributed case per distinct URL, every
//! report in one) and the number of DNS queries are checked after each. Criterion runs one
//! warm-up and 10 measured iterations of each; the bench also prints each approach's DNS query
//! count and the medians of its phases over the 10 measured iterations.
//!
//! Run with `cargo bench -p schoon-store --bench ntd_intake` (about 2 minutes after the build;
//! 7 to 8 with `SCHOON_BENCH_PG=1`).

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use lists::{Clock, SystemClock};
use ntd::CaseStore;
use ntd::attribution::{Attributor, DataSource, ip2asn, rpsl};
use ntd::case::{CaseFilter, NewReport, Submitter, validate};
use ntd::dns::{DnsConfig, Resolver, resolve_all};
use ntd::engine::{BATCH, Engine};
use ntd::register::HosterFields;
use ntd::testing::{TestDns, TestRecord};
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::testing::TempPostgres;

/// Distinct hostnames in the report.
const HOSTS: usize = 500;
/// Distinct pages (normalised URLs, hence cases) per host.
const PAGES_PER_HOST: usize = 18;
/// Reports that repeat an earlier report's URL string exactly (5%).
const EXACT_DUPLICATES: usize = 500;
/// Reports of an already reported page in another spelling (5%).
const RESPELLED_DUPLICATES: usize = 500;
/// Cases the report makes.
const CASES: usize = HOSTS * PAGES_PER_HOST;
/// URLs in the report.
const REPORTS: usize = CASES + EXACT_DUPLICATES + RESPELLED_DUPLICATES;

/// The ip2asn rows (iptoasn.com's TSV; documentation prefixes only).
const IP2ASN: &str = "\
192.0.2.0\t192.0.2.255\t64496\tNL\tHOSTER-A Hoster A B.V.
198.51.100.0\t198.51.100.127\t64497\tDE\tHOSTER-B Hoster B GmbH
198.51.100.128\t198.51.100.255\t64499\tFR\tHOSTER-C Hoster C SAS
203.0.113.0\t203.0.113.255\t64498\tNL\tEDGE-CDN Edge CDN
2001:db8::\t2001:db8:ffff:ffff:ffff:ffff:ffff:ffff\t64496\tNL\tHOSTER-A Hoster A B.V.
";

/// The RIR objects (RIPE-style RPSL).
const RPSL: &str = "\
inetnum:        192.0.2.0 - 192.0.2.255
netname:        HOSTER-A-NET
country:        NL
org:            ORG-HA1-TEST
source:         TEST

inet6num:       2001:db8::/32
netname:        HOSTER-A-V6
country:        NL
org:            ORG-HA1-TEST
source:         TEST

inetnum:        198.51.100.0 - 198.51.100.127
netname:        HOSTER-B-NET
country:        DE
org:            ORG-HB1-TEST
abuse-c:        HB1-TEST
source:         TEST

inetnum:        198.51.100.128 - 198.51.100.255
netname:        HOSTER-C-NET
country:        FR
source:         TEST

inetnum:        203.0.113.0 - 203.0.113.255
netname:        EDGE-CDN-NET
country:        NL
abuse-c:        EC1-TEST
source:         TEST

aut-num:        AS64497
as-name:        HOSTER-B
org:            ORG-HB1-TEST
source:         TEST

aut-num:        AS64499
as-name:        HOSTER-C
abuse-c:        HC1-TEST
source:         TEST

organisation:   ORG-HA1-TEST
org-name:       Hoster A B.V.
abuse-c:        HA1-TEST
source:         TEST

organisation:   ORG-HB1-TEST
org-name:       Hoster B GmbH
source:         TEST

role:           Hoster A abuse desk
nic-hdl:        HA1-TEST
abuse-mailbox:  abuse@hoster-a.example
source:         TEST

role:           Hoster B abuse desk
nic-hdl:        HB1-TEST
abuse-mailbox:  Abuse Desk <abuse@hoster-b.example>
source:         TEST

role:           Hoster C abuse desk
nic-hdl:        HC1-TEST
abuse-mailbox:  abuse@hoster-c.example
source:         TEST

role:           Edge CDN abuse desk
nic-hdl:        EC1-TEST
abuse-mailbox:  abuse@edge-cdn.example
source:         TEST
";

/// A small deterministic generator (splitmix64), so every run benchmarks the same report.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

fn host(i: usize) -> String {
    format!("site-{i:03}.example")
}

/// Whether a host is a CNAME to the CDN (1 in 20).
fn is_alias(i: usize) -> bool {
    i.is_multiple_of(20)
}

/// [`is_alias`] by name.
fn aliased(host: &str) -> bool {
    host.strip_prefix("site-")
        .and_then(|rest| rest.strip_suffix(".example"))
        .and_then(|n| n.parse().ok())
        .is_some_and(is_alias)
}

/// The DNS data: A records for most hosts (some with AAAA too), a CNAME to the CDN for 1 in 20.
fn dns_records() -> Vec<(String, TestRecord)> {
    let mut records = Vec::new();
    for k in 0..4u8 {
        records.push((
            format!("edge-{k}.edge-cdn.example"),
            TestRecord::A([203, 0, 113, 10 + k].into()),
        ));
    }
    for i in 0..HOSTS {
        let name = host(i);
        let low = (i % 120) as u8;
        if is_alias(i) {
            records.push((
                name,
                TestRecord::Cname(format!("edge-{}.edge-cdn.example", i % 4)),
            ));
            continue;
        }
        let v4 = match i % 3 {
            0 => [192, 0, 2, 1 + low],
            1 => [198, 51, 100, 1 + low],
            _ => [198, 51, 100, 128 + low],
        };
        records.push((name.clone(), TestRecord::A(v4.into())));
        if i % 4 == 1 {
            let v6 = format!("2001:db8::{:x}", i + 1)
                .parse()
                .expect("an IPv6 address");
            records.push((name, TestRecord::Aaaa(v6)));
        }
    }
    records
}

/// One way of writing page `page` of host `h` (all variants normalise to the same URL).
fn spelling(h: usize, page: usize, variant: usize) -> String {
    let name = host(h);
    let path = format!("/files/{page}/img-{h}-{page}.jpg?id={}", h * 100 + page);
    let https = (h + page).is_multiple_of(3);
    let scheme = if https { "https" } else { "http" };
    match variant % 5 {
        0 => format!("{scheme}://{name}{path}"),
        1 => format!("{}://{}{path}", scheme.to_uppercase(), name.to_uppercase()),
        2 => format!("{scheme}://{name}:{}{path}", if https { 443 } else { 80 }),
        3 => format!("{scheme}://{name}{path}#section-{page}"),
        _ if !https => format!("{}{path}", name.replace("site", "SITE")),
        _ => format!("{scheme}://{name}.{path}"),
    }
}

/// The bulk report: every page once in some spelling, 5% exact repeats of earlier URLs and
/// 5% repeats of a page in another spelling, shuffled.
fn workload() -> Vec<NewReport> {
    let mut rng = Rng(20_261_124);
    let mut urls = Vec::with_capacity(REPORTS);
    let mut variants = Vec::with_capacity(CASES);
    for h in 0..HOSTS {
        for page in 0..PAGES_PER_HOST {
            let v = rng.below(5);
            urls.push(spelling(h, page, v));
            variants.push((h, page, v));
        }
    }
    for _ in 0..EXACT_DUPLICATES {
        let copy = urls[rng.below(CASES)].clone();
        urls.push(copy);
    }
    for _ in 0..RESPELLED_DUPLICATES {
        let (h, page, v) = variants[rng.below(CASES)];
        urls.push(spelling(h, page, v + 1 + rng.below(4)));
    }
    rng.shuffle(&mut urls);
    urls.into_iter()
        .map(|url| NewReport {
            url,
            category: "csam".into(),
            source: ntd::Source::Partner,
            contact: None,
            text: None,
            external_ref: None,
        })
        .collect()
}

fn submitter() -> Submitter {
    Submitter {
        actor: "bench".into(),
        org_id: None,
    }
}

fn categories() -> Vec<String> {
    vec!["csam".to_string()]
}

/// A fresh database: the hosters register and the attribution data loaded.
async fn prepare(url: &str) -> Arc<dyn CaseStore> {
    let stores = store::open_stores(url, Arc::new(SystemClock))
        .await
        .expect("open the store");
    let cases = stores.cases;
    let hosters = [
        HosterFields {
            name: "Hoster A B.V.".into(),
            asns: vec![64496],
            prefixes: vec!["192.0.2.0/24".into(), "2001:db8::/32".into()],
            abuse: vec!["notices@hoster-a.example".into()],
            coc_member: true,
            country: Some("NL".into()),
            ..HosterFields::default()
        },
        HosterFields {
            name: "Hoster C SAS".into(),
            asns: vec![64499],
            country: Some("FR".into()),
            ..HosterFields::default()
        },
        HosterFields {
            name: "Edge CDN".into(),
            asns: vec![64498],
            prefixes: vec!["203.0.113.0/24".into()],
            abuse: vec!["abuse@edge-cdn.example".into()],
            cdn: true,
            coc_member: true,
            country: Some("NL".into()),
            ..HosterFields::default()
        },
    ];
    for fields in hosters {
        let fields = fields.check().expect("valid register entry");
        cases
            .create_hoster(&fields, "bench")
            .await
            .expect("create a hoster");
    }
    let source = |kind: &str, records: usize| DataSource {
        kind: kind.into(),
        files: format!("benches/ntd_intake.rs ({kind})"),
        loaded_at: SystemClock.now(),
        loaded_by: "bench".into(),
        records: records as i64,
        sha256: "0".repeat(64),
    };
    let ranges = ip2asn::parse(IP2ASN.as_bytes()).expect("the ip2asn rows parse");
    cases
        .replace_asn_ranges(&ranges, &source("ip2asn", ranges.len()))
        .await
        .expect("load ip2asn");
    let objects = rpsl::objects(RPSL.as_bytes()).expect("the RPSL parses");
    let data = rpsl::build(&objects).expect("the RPSL builds");
    cases
        .replace_rpsl(
            &data,
            &source("rpsl", data.networks.len() + data.autnums.len()),
        )
        .await
        .expect("load RPSL");
    cases
}

/// Checks the end state: one case per page, every report in one, every case attributed to a
/// party to notify. Returns the cases' hosts in id order.
async fn check(cases: &dyn CaseStore) -> Vec<String> {
    let (all, total) = cases
        .cases(&CaseFilter {
            limit: 10_000,
            oldest_first: true,
            ..CaseFilter::default()
        })
        .await
        .expect("list the cases");
    assert_eq!(
        total as usize, CASES,
        "one case per distinct normalised URL"
    );
    assert_eq!(all.len(), CASES);
    let reports: i64 = all.iter().map(|c| c.reports).sum();
    assert_eq!(reports as usize, REPORTS, "every report joined a case");
    for c in &all {
        assert!(c.attributed_at.is_some(), "case {} not attributed", c.id);
        assert!(c.hoster_name.is_some(), "case {} has no party", c.id);
    }
    let sample = cases
        .attribution(all[0].id)
        .await
        .expect("read an attribution")
        .expect("an attribution");
    assert!(
        sample.notify.is_some() && sample.error.is_none(),
        "{sample:?}"
    );
    let mut by_id: Vec<(i64, String)> = all.into_iter().map(|c| (c.id, c.host)).collect();
    by_id.sort();
    by_id.into_iter().map(|(_, h)| h).collect()
}

/// How long each part took in one iteration.
#[derive(Debug, Default, Clone, Copy)]
struct Phases {
    total: Duration,
    /// validate + submit (Schoon: one transaction; naive: summed over the URLs).
    submit: Duration,
    /// Schoon: the engine's rounds (claim, DNS, attribute, save); naive: the DNS lookups.
    attribute: Duration,
    /// Naive only: attribute + `save_attribution`, summed.
    save: Duration,
    queries: u64,
    rounds: usize,
}

/// Schoon's way: one submission, then attribution rounds until nothing is due.
async fn schoon(cases: Arc<dyn CaseStore>, resolver: Resolver, reports: Vec<NewReport>) -> Phases {
    let started = Instant::now();
    let (intakes, refused) = validate(reports, &categories());
    assert!(refused.is_empty(), "{refused:?}");
    cases
        .submit(&submitter(), intakes)
        .await
        .expect("submit the report");
    let submitted = Instant::now();
    let engine = Engine::new(cases, resolver, Arc::new(SystemClock));
    let mut rounds = 0;
    while engine.run_once().await.expect("an attribution round") > 0 {
        rounds += 1;
    }
    let done = Instant::now();
    Phases {
        total: done - started,
        submit: submitted - started,
        attribute: done - submitted,
        rounds,
        ..Phases::default()
    }
}

/// The naive way: each URL on its own, with its own DNS lookup.
async fn naive(cases: Arc<dyn CaseStore>, resolver: Resolver, reports: Vec<NewReport>) -> Phases {
    let started = Instant::now();
    let attributor = Attributor::new(
        cases.attribution_data().await.expect("attribution data"),
        cases.hosters().await.expect("the register"),
    )
    .expect("attribution tables");
    let (by, categories) = (submitter(), categories());
    let mut p = Phases::default();
    for report in reports {
        let t0 = Instant::now();
        let (mut intakes, refused) = validate(vec![report], &categories);
        assert!(refused.is_empty(), "{refused:?}");
        let intake = intakes.pop().expect("one intake");
        let host = intake.url.host().to_string();
        let outcome = cases.submit(&by, vec![intake]).await.expect("submit a URL");
        let case_id = outcome[0].case_id.expect("a case");
        let t1 = Instant::now();
        let answer = resolver.resolve(&host).await;
        let t2 = Instant::now();
        let attribution = attributor.attribute(&host, &answer, SystemClock.now());
        cases
            .save_attribution(case_id, &attribution)
            .await
            .expect("save an attribution");
        let t3 = Instant::now();
        p.submit += t1 - t0;
        p.attribute += t2 - t1;
        p.save += t3 - t2;
    }
    p.total = started.elapsed();
    p
}

/// Where the fresh databases come from.
enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(TempPostgres),
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    fn fresh(&self, n: usize) -> String {
        match self {
            Backend::Sqlite(dir) => {
                format!("sqlite://{}", dir.path().join(format!("b{n}.db")).display())
            }
            Backend::Postgres(pg) => pg.fresh_database(&format!("bench_{n}")).expect("createdb"),
        }
    }

    /// Deletes database `n` (a run leaves tens of megabytes in each).
    fn dispose(&self, rt: &tokio::runtime::Runtime, n: usize) {
        match self {
            Backend::Sqlite(dir) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(dir.path().join(format!("b{n}.db{suffix}")));
                }
            }
            Backend::Postgres(pg) => rt.block_on(async {
                use sqlx::Connection as _;
                let mut conn = sqlx::PgConnection::connect(&pg.url())
                    .await
                    .expect("connect to PostgreSQL");
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE bench_{n} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .expect("drop the database");
            }),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Approach {
    Schoon,
    Naive,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    match v.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

struct Ctx {
    rt: tokio::runtime::Runtime,
    dns: TestDns,
    resolver: Resolver,
    reports: Vec<NewReport>,
    /// Each report's host, normalised.
    report_hosts: Vec<String>,
    databases: RefCell<usize>,
}

fn run_one(
    c: &mut Criterion,
    ctx: &Ctx,
    backend: &Backend,
    approach: Approach,
    medians: &mut HashMap<(&'static str, &'static str), Duration>,
) {
    let label = match approach {
        Approach::Schoon => "schoon",
        Approach::Naive => "naive",
    };
    let log: RefCell<Vec<Phases>> = RefCell::new(Vec::new());
    let mut group = c.benchmark_group(format!("ntd_intake/{}", backend.name()));
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1));
    group.bench_function(label, |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let n = {
                    let mut d = ctx.databases.borrow_mut();
                    *d += 1;
                    *d
                };
                let url = backend.fresh(n);
                // Untimed: a fresh database with the register and data, the report's copy.
                let cases = ctx.rt.block_on(prepare(&url));
                let reports = ctx.reports.clone();
                let before = ctx.dns.queries();
                let mut p = ctx.rt.block_on(async {
                    match approach {
                        Approach::Schoon => {
                            schoon(Arc::clone(&cases), ctx.resolver.clone(), reports).await
                        }
                        Approach::Naive => {
                            naive(Arc::clone(&cases), ctx.resolver.clone(), reports).await
                        }
                    }
                });
                p.queries = ctx.dns.queries() - before;
                timed += p.total;
                // Untimed: the end state is right, and the DNS work is what it should be.
                let hosts = ctx.rt.block_on(check(cases.as_ref()));
                match approach {
                    Approach::Schoon => {
                        // Every case is claimed once, in id order, BATCH at a time; each
                        // round asks A and AAAA once per distinct host in it (the resolver
                        // may ask an alias's target once more).
                        let (expected, slack) = hosts
                            .chunks(BATCH)
                            .map(|round| round.iter().collect::<BTreeSet<_>>())
                            .fold((0, 0), |(e, s), distinct| {
                                let aliases = distinct.iter().filter(|h| aliased(h)).count();
                                (e + 2 * distinct.len(), s + aliases)
                            });
                        assert_eq!(p.rounds, CASES.div_ceil(BATCH));
                        assert!(
                            (expected..=expected + slack).contains(&(p.queries as usize)),
                            "{} DNS queries, expected {expected} (+ up to {slack})",
                            p.queries
                        );
                        assert!(p.queries <= (2 * HOSTS * p.rounds + slack) as u64);
                    }
                    Approach::Naive => {
                        let expected = 2 * REPORTS;
                        let slack = ctx.report_hosts.iter().filter(|h| aliased(h)).count();
                        assert!(
                            (expected..=expected + slack).contains(&(p.queries as usize)),
                            "{} DNS queries, expected {expected} (+ up to {slack})",
                            p.queries
                        );
                    }
                }
                drop(cases);
                backend.dispose(&ctx.rt, n);
                log.borrow_mut().push(p);
            }
            timed
        })
    });
    group.finish();
    // The first iteration is criterion's warm-up: leave it out, as criterion does.
    let log: Vec<Phases> = log.into_inner().into_iter().skip(1).collect();
    let pick = |f: fn(&Phases) -> Duration| median(log.iter().map(f).collect());
    let total = pick(|p| p.total);
    medians.insert((backend.name(), label), total);
    let last = log.last().copied().unwrap_or_default();
    match approach {
        Approach::Schoon => eprintln!(
            "  {}/{label}: median {} of {} iterations: validate + submit (one transaction) {}, \
             {} engine rounds {}; {} DNS queries",
            backend.name(),
            ms(total),
            log.len(),
            ms(pick(|p| p.submit)),
            last.rounds,
            ms(pick(|p| p.attribute)),
            last.queries
        ),
        Approach::Naive => eprintln!(
            "  {}/{label}: median {} of {} iterations: validate + submit per URL {}, \
             DNS per URL {}, attribute + save per URL {}; {} DNS queries",
            backend.name(),
            ms(total),
            log.len(),
            ms(pick(|p| p.submit)),
            ms(pick(|p| p.attribute)),
            ms(pick(|p| p.save)),
            last.queries
        ),
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let records = dns_records();
    let refs: Vec<(&str, TestRecord)> = records
        .iter()
        .map(|(n, r)| (n.as_str(), r.clone()))
        .collect();
    let dns = TestDns::start(&refs).expect("start the test DNS server");
    let resolver = Resolver::new(&DnsConfig {
        servers: vec![dns.addr()],
        ..DnsConfig::default()
    })
    .expect("a resolver");
    let reports = workload();
    assert_eq!(reports.len(), REPORTS);
    let report_hosts = reports
        .iter()
        .map(|r| {
            let url = ntd::urls::normalise(&r.url).expect("every URL is valid");
            url.host().to_string()
        })
        .collect();
    let ctx = Ctx {
        rt,
        dns,
        resolver,
        reports,
        report_hosts,
        databases: RefCell::new(0),
    };

    // What one round's DNS costs on its own: every host once, 64 at a time.
    let before = ctx.dns.queries();
    let started = Instant::now();
    let answers = ctx.rt.block_on(resolve_all(
        &ctx.resolver,
        (0..HOSTS).map(host),
        ntd::engine::CONCURRENCY,
    ));
    let took = started.elapsed();
    assert!(answers.values().all(Result::is_ok), "every host resolves");
    eprintln!(
        "ntd_intake: {REPORTS} URLs, {CASES} distinct pages, {HOSTS} hosts; resolve_all of the \
         {HOSTS} hosts: {} ({} queries)",
        ms(took),
        ctx.dns.queries() - before
    );

    let mut backends = vec![Backend::Sqlite(
        tempfile::Builder::new()
            .prefix("schoon-bench-")
            .tempdir()
            .expect("a temporary directory"),
    )];
    if std::env::var("SCHOON_BENCH_PG").is_ok_and(|v| v == "1") {
        match TempPostgres::start() {
            Ok(pg) => backends.push(Backend::Postgres(pg)),
            Err(e) => eprintln!("ntd_intake: PostgreSQL skipped: {e}"),
        }
    } else {
        eprintln!("ntd_intake: SQLite only; SCHOON_BENCH_PG=1 adds PostgreSQL");
    }

    let mut medians = HashMap::new();
    for (i, backend) in backends.iter().enumerate() {
        // Alternate which approach goes first from one backend to the next.
        let order = if i % 2 == 0 {
            [Approach::Schoon, Approach::Naive]
        } else {
            [Approach::Naive, Approach::Schoon]
        };
        for approach in order {
            run_one(c, &ctx, backend, approach, &mut medians);
        }
    }
    for backend in &backends {
        let name = backend.name();
        if let (Some(s), Some(n)) = (
            medians.get(&(name, "schoon")),
            medians.get(&(name, "naive")),
        ) {
            eprintln!(
                "ntd_intake/{name}: schoon {} vs naive {}: naive / schoon = {:.1}x",
                ms(*s),
                ms(*n),
                n.as_secs_f64() / s.as_secs_f64()
            );
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
