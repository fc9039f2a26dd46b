//! Notice and takedown on both backends: reports and their deduplication into cases, the case
//! state machine and its timeline, queues and searches, the hosters register and attribution
//! data, and the attribution worker end to end against a real DNS server on loopback.
//!
//! Every scenario runs on SQLite in a temporary file and on a throwaway PostgreSQL server
//! ([`TempPostgres`]), each with a [`ManualClock`] so times on the timeline can be checked.

use lists::{Clock, ManualClock, Millis};
use ntd::attribution::rpsl::{self, RpslData};
use ntd::attribution::{Attribution, DataSource, Party, StoredData, ip2asn};
use ntd::case::{Action, Case, CaseFilter, NewReport, Outcome, OutcomeStatus, Submitter, validate};
use ntd::dns::{DnsConfig, Resolver};
use ntd::engine::Engine;
use ntd::register::HosterFields;
use ntd::store::Pending;
use ntd::testing::{TestDns, TestRecord};
use ntd::{CaseState, CaseStore, Error, Source};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::testing::TempPostgres;

/// The clock's start: 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000_000;

/// One store under test and the clock it reads.
struct Env {
    cases: Arc<dyn CaseStore>,
    clock: Arc<ManualClock>,
    backend: &'static str,
}

async fn env(url: &str, backend: &'static str) -> Env {
    let clock = Arc::new(ManualClock::new(Millis(T0)));
    let stores = store::open_stores(url, Arc::clone(&clock) as Arc<dyn Clock>)
        .await
        .unwrap();
    Env {
        cases: stores.cases,
        clock,
        backend,
    }
}

/// The categories a fresh store knows.
fn categories() -> Vec<String> {
    ["csam", "ncii", "other", "terrorism"]
        .map(String::from)
        .to_vec()
}

fn report(url: &str, source: Source) -> NewReport {
    NewReport {
        url: url.into(),
        category: "csam".into(),
        source,
        contact: None,
        text: None,
        external_ref: None,
    }
}

fn by(actor: &str) -> Submitter {
    Submitter {
        actor: actor.into(),
        org_id: None,
    }
}

/// Validates and submits valid reports; checks that every one comes back, in order.
async fn submit(s: &dyn CaseStore, actor: &str, reports: Vec<NewReport>) -> Vec<Outcome> {
    let n = reports.len();
    let (ok, refused) = validate(reports, &categories());
    assert!(refused.is_empty(), "{refused:?}");
    let out = s.submit(&by(actor), ok).await.unwrap();
    assert_eq!(out.len(), n);
    for (i, o) in out.iter().enumerate() {
        assert_eq!(o.index, i);
        assert!(o.error.is_none(), "{o:?}");
    }
    out
}

/// Submits one report and returns its case.
async fn open_one(s: &dyn CaseStore, url: &str, source: Source) -> i64 {
    submit(s, "partner-key", vec![report(url, source)]).await[0]
        .case_id
        .unwrap()
}

async fn case(s: &dyn CaseStore, id: i64) -> Case {
    s.case(id).await.unwrap().unwrap()
}

fn all(limit: i64) -> CaseFilter {
    CaseFilter {
        oldest_first: true,
        limit,
        ..Default::default()
    }
}

fn statuses(out: &[Outcome]) -> Vec<OutcomeStatus> {
    out.iter().map(|o| o.status).collect()
}

// ---------------------------------------------------------------------------------------------
// 1. Deduplication

async fn dedup(env: Env) {
    let s = env.cases.as_ref();
    let spellings = [
        "HTTP://Shop.Example.com:80/a#x",
        "http://shop.example.com/a",
        "shop.example.com/a",
    ];

    // Three spellings of one URL in one batch: one case.
    let out = submit(
        s,
        "partner-key",
        vec![
            report(spellings[0], Source::Public),
            report(spellings[1], Source::Partner),
            report(spellings[2], Source::Public),
        ],
    )
    .await;
    use OutcomeStatus::{Joined, Opened};
    assert_eq!(statuses(&out), [Opened, Joined, Joined]);
    let a = out[0].case_id.unwrap();
    assert!(out.iter().all(|o| o.case_id == Some(a)));
    assert!(
        out.iter()
            .all(|o| o.url.as_deref() == Some("http://shop.example.com/a"))
    );
    let refs: BTreeSet<&str> = out
        .iter()
        .map(|o| o.reference.as_deref().unwrap())
        .collect();
    assert_eq!(refs.len(), 3);

    let c = case(s, a).await;
    assert_eq!(c.url, "http://shop.example.com/a");
    assert_eq!(c.host, "shop.example.com");
    assert_eq!(c.state, CaseState::New);
    assert_eq!(c.reports, 3);
    assert_eq!(c.sources, [Source::Public, Source::Partner]);
    assert_eq!(c.opened_at, Millis(T0));
    assert_eq!(c.category, "csam");
    let reports = s.reports(a).await.unwrap();
    assert_eq!(
        reports.iter().map(|r| r.url.as_str()).collect::<Vec<_>>(),
        spellings,
        "reports keep the URL as reported"
    );
    assert_eq!(
        reports.iter().map(|r| r.source).collect::<Vec<_>>(),
        [Source::Public, Source::Partner, Source::Public]
    );
    assert!(reports.iter().all(|r| r.actor == "partner-key"));
    for o in &out {
        let r = s
            .report_by_reference(o.reference.as_deref().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.case_id, a);
    }
    assert_eq!(s.report_by_reference("R-NOPE0-NOPE0").await.unwrap(), None);
    let events = s.events(a).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["opened"]
    );

    // The same URL in three later batches: it joins, once per batch.
    let mut b = None;
    for (i, spelling) in spellings.iter().enumerate() {
        env.clock.advance(1000);
        let url = spelling.replace("/a", "/b");
        let source = if i == 1 {
            Source::Partner
        } else {
            Source::Public
        };
        let out = submit(s, "partner-key", vec![report(&url, source)]).await;
        assert_eq!(out[0].status, if i == 0 { Opened } else { Joined });
        assert_eq!(out[0].url.as_deref(), Some("http://shop.example.com/b"));
        let id = out[0].case_id.unwrap();
        assert_eq!(*b.get_or_insert(id), id);
    }
    let b = b.unwrap();
    assert_ne!(a, b, "a different URL opens a second case");
    let cb = case(s, b).await;
    assert_eq!(cb.reports, 3);
    assert_eq!(cb.sources, [Source::Public, Source::Partner]);
    assert_eq!(cb.opened_at, Millis(T0 + 1000));
    assert_eq!(cb.updated_at, Millis(T0 + 3000));
    assert_eq!(
        s.reports(b)
            .await
            .unwrap()
            .iter()
            .map(|r| r.reference.as_str())
            .collect::<BTreeSet<_>>()
            .len(),
        3
    );
    let events = s.events(b).await.unwrap();
    assert_eq!(
        events
            .iter()
            .map(|e| (e.kind.as_str(), e.at))
            .collect::<Vec<_>>(),
        [
            ("opened", Millis(T0 + 1000)),
            ("reported", Millis(T0 + 2000)),
            ("reported", Millis(T0 + 3000)),
        ]
    );
    assert!(events.iter().all(|e| e.actor == "partner-key"));
    // The scheme is part of the URL: https is another case.
    let https = open_one(s, "https://shop.example.com/a", Source::Public).await;
    assert!(https != a && https != b);
    assert_eq!(s.cases(&all(100)).await.unwrap().1, 3);

    // Once the case has ended, a new report is a repeat: a new case; the old one keeps its own.
    s.act(a, "analyst", &Action::Assess).await.unwrap();
    s.act(
        a,
        "analyst",
        &Action::NotActionable {
            reason: "not illegal".into(),
        },
    )
    .await
    .unwrap();
    env.clock.advance(1000);
    let out = submit(s, "public", vec![report(spellings[2], Source::Crawler)]).await;
    assert_eq!(out[0].status, Opened);
    let again = out[0].case_id.unwrap();
    assert!(again != a && again != b && again != https);
    let old = case(s, a).await;
    assert_eq!(old.state, CaseState::NotActionable);
    assert_eq!(old.reports, 3);
    assert_eq!(s.reports(a).await.unwrap().len(), 3);
    let new = case(s, again).await;
    assert_eq!((new.state, new.reports), (CaseState::New, 1));
    assert_eq!(new.sources, [Source::Crawler]);
    assert_eq!(new.url, old.url);
    // And the next report joins the new case, not the ended one.
    let out = submit(s, "public", vec![report(spellings[0], Source::Public)]).await;
    assert_eq!((out[0].status, out[0].case_id), (Joined, Some(again)));
    assert_eq!(case(s, again).await.reports, 2);
    assert_eq!(case(s, a).await.reports, 3);
}

// ---------------------------------------------------------------------------------------------
// 2. The state machine through `act`

/// Applies an action that must succeed: exactly one new event, by `actor`, at the clock's time.
async fn step(env: &Env, id: i64, action: Action) -> Case {
    let s = env.cases.as_ref();
    env.clock.advance(60_000);
    let now = env.clock.now();
    let before = s.events(id).await.unwrap();
    let c = s.act(id, "analyst-7", &action).await.unwrap();
    assert_eq!(c.updated_at, now);
    assert_eq!(case(s, id).await, c);
    let after = s.events(id).await.unwrap();
    assert_eq!(after.len(), before.len() + 1, "{action:?}: {after:#?}");
    assert_eq!(after[..before.len()], before[..]);
    let e = after.last().unwrap();
    assert_eq!((e.case_id, e.actor.as_str(), e.at), (id, "analyst-7", now));
    if let Some(to) = action.target() {
        assert_eq!(e.kind, "state");
        assert_eq!(e.to_state, Some(to));
        assert_eq!(c.state, to);
    }
    c
}

/// Applies an action that must be refused with `want`, changing nothing.
async fn refused(env: &Env, id: i64, action: Action, want: fn(&Error) -> bool) {
    let s = env.cases.as_ref();
    env.clock.advance(60_000);
    let before = case(s, id).await;
    let events = s.events(id).await.unwrap();
    let r = s.act(id, "analyst-7", &action).await;
    assert!(matches!(&r, Err(e) if want(e)), "{action:?}: {r:?}");
    assert_eq!(case(s, id).await, before, "{action:?} changed the case");
    assert_eq!(
        s.events(id).await.unwrap(),
        events,
        "{action:?} added an event"
    );
}

fn conflict(e: &Error) -> bool {
    matches!(e, Error::Conflict(_))
}
fn invalid(e: &Error) -> bool {
    matches!(e, Error::Invalid(_))
}
fn not_found(e: &Error) -> bool {
    matches!(e, Error::NotFound(_))
}

async fn state_machine(env: Env) {
    let s = env.cases.as_ref();
    let a = open_one(s, "http://sm.example/a", Source::Public).await;
    let b = open_one(s, "http://sm.example/b", Source::Public).await;
    let c = open_one(s, "http://sm.example/c", Source::Public).await;
    let d = open_one(s, "http://sm.example/d", Source::Public).await;

    // new → closed is refused; new → assessing → actionable is the path.
    refused(&env, a, Action::Close { reason: None }, conflict).await;
    let r = s.act(a, "x", &Action::Close { reason: None }).await;
    assert!(
        matches!(&r, Err(Error::Conflict(m)) if m.contains("new") && m.contains("closed")),
        "{r:?}"
    );
    let ca = step(&env, a, Action::Assess).await;
    assert_eq!(ca.state, CaseState::Assessing);
    let e = s.events(a).await.unwrap().pop().unwrap();
    assert_eq!(
        (e.from_state, e.to_state),
        (Some(CaseState::New), Some(CaseState::Assessing))
    );
    refused(&env, a, Action::Assess, conflict).await;
    let ca = step(
        &env,
        a,
        Action::Actionable {
            reason: Some("hosted in NL".into()),
        },
    )
    .await;
    assert_eq!(ca.state, CaseState::Actionable);
    let e = s.events(a).await.unwrap().pop().unwrap();
    assert_eq!(e.from_state, Some(CaseState::Assessing));
    assert!(e.message.contains("hosted in NL"), "{}", e.message);
    // actionable → closed is refused.
    refused(&env, a, Action::Close { reason: None }, conflict).await;

    // not_actionable → actionable is refused; not_actionable → closed is allowed.
    step(&env, b, Action::Assess).await;
    step(
        &env,
        b,
        Action::NotActionable {
            reason: "adult, legal".into(),
        },
    )
    .await;
    refused(&env, b, Action::Actionable { reason: None }, conflict).await;
    refused(&env, b, Action::Assess, conflict).await;
    step(&env, b, Action::Close { reason: None }).await;
    // Nothing leaves closed.
    for action in [
        Action::Assess,
        Action::Actionable { reason: None },
        Action::Close { reason: None },
    ] {
        refused(&env, b, action, conflict).await;
    }

    // Forward sets forwarded_to (trimmed) and ends the case.
    let cc = step(
        &env,
        c,
        Action::Forward {
            partner: " NCMEC (US) ".into(),
            reason: Some("hosted in the US".into()),
        },
    )
    .await;
    assert_eq!(cc.state, CaseState::Forwarded);
    assert_eq!(cc.forwarded_to.as_deref(), Some("NCMEC (US)"));
    let e = s.events(c).await.unwrap().pop().unwrap();
    assert!(e.message.contains("NCMEC (US)"), "{}", e.message);
    refused(&env, c, Action::Assess, conflict).await;
    let cc = step(&env, c, Action::Close { reason: None }).await;
    assert_eq!(cc.forwarded_to.as_deref(), Some("NCMEC (US)"));

    // Corrections that do not move the state.
    refused(
        &env,
        d,
        Action::Recategorise {
            category: "spam".into(),
        },
        invalid,
    )
    .await;
    refused(
        &env,
        d,
        Action::Recategorise {
            category: " ".into(),
        },
        invalid,
    )
    .await;
    let cd = step(
        &env,
        d,
        Action::Recategorise {
            category: "terrorism".into(),
        },
    )
    .await;
    assert_eq!(
        (cd.category.as_str(), cd.state),
        ("terrorism", CaseState::New)
    );
    assert_eq!(s.events(d).await.unwrap().pop().unwrap().kind, "category");
    refused(
        &env,
        d,
        Action::SetHoster {
            hoster_id: 9999,
            reason: None,
        },
        not_found,
    )
    .await;
    let h = s
        .create_hoster(
            &HosterFields {
                name: "Hoster SM".into(),
                ..Default::default()
            }
            .check()
            .unwrap(),
            "admin",
        )
        .await
        .unwrap();
    let cd = step(
        &env,
        d,
        Action::SetHoster {
            hoster_id: h.id,
            reason: Some("RIR data is stale".into()),
        },
    )
    .await;
    assert_eq!(
        (cd.hoster_id, cd.hoster_name.as_deref()),
        (Some(h.id), Some("Hoster SM"))
    );
    assert_eq!(s.events(d).await.unwrap().pop().unwrap().kind, "hoster");
    step(
        &env,
        d,
        Action::Note {
            text: "  asked the partner for the original  ".into(),
        },
    )
    .await;
    let note = s.events(d).await.unwrap().pop().unwrap();
    assert_eq!(
        (note.kind.as_str(), note.message.as_str()),
        ("note", "asked the partner for the original")
    );
    refused(&env, d, Action::Note { text: "".into() }, invalid).await;
    refused(
        &env,
        d,
        Action::NotActionable {
            reason: "  ".into(),
        },
        invalid,
    )
    .await;

    // An unknown case.
    let r = s.act(9999, "analyst-7", &Action::Assess).await;
    assert!(matches!(r, Err(Error::NotFound(_))), "{r:?}");

    // The whole timeline of `a`, in order, with times from the clock.
    let events = s.events(a).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["opened", "state", "state"]
    );
    assert!(
        events
            .windows(2)
            .all(|w| w[0].id < w[1].id && w[0].at < w[1].at)
    );
    let counts = s.state_counts().await.unwrap().0;
    assert_eq!(
        counts,
        [
            (CaseState::New, 1),
            (CaseState::Actionable, 1),
            (CaseState::Closed, 2)
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Concurrency

const TASKS: usize = 8;
const URLS: usize = 200;

/// `TASKS` tasks submit the same `URLS` URLs at once, task `t` with source `source(t)`, odd
/// tasks in reverse order if `reverse_odd`. Checks one case per URL with a report from every
/// task, and returns the cases.
async fn submit_concurrently(
    env: &Env,
    source: fn(usize) -> Source,
    reverse_odd: bool,
) -> Vec<Case> {
    let urls: Arc<Vec<String>> = Arc::new(
        (0..URLS)
            .map(|i| format!("http://c{}.example/item/{i}", i % 20))
            .collect(),
    );
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let store = Arc::clone(&env.cases);
        let urls = Arc::clone(&urls);
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            let mut reports: Vec<NewReport> = urls.iter().map(|u| report(u, source(t))).collect();
            if reverse_odd && t % 2 == 1 {
                reports.reverse();
            }
            let (ok, refused) = validate(reports, &categories());
            assert!(refused.is_empty());
            barrier.wait().await;
            store.submit(&by(&format!("key-{t}")), ok).await
        }));
    }
    let mut opened = 0;
    let mut by_url: HashMap<String, BTreeSet<i64>> = HashMap::new();
    for t in tasks {
        let out = t.await.unwrap().unwrap();
        assert_eq!(out.len(), URLS);
        for o in out {
            opened += usize::from(o.status == OutcomeStatus::Opened);
            by_url
                .entry(o.url.unwrap())
                .or_default()
                .insert(o.case_id.unwrap());
        }
    }
    assert_eq!(opened, URLS, "each URL opened exactly once");
    assert_eq!(by_url.len(), URLS);
    assert!(by_url.values().all(|ids| ids.len() == 1), "{by_url:?}");
    let (cases, total) = env.cases.cases(&all(1000)).await.unwrap();
    assert_eq!(total, URLS as i64);
    for c in &cases {
        assert_eq!(c.reports, TASKS as i64, "{c:?}");
        assert_eq!(by_url[&c.url], BTreeSet::from([c.id]));
        let reports = env.cases.reports(c.id).await.unwrap();
        let actors: BTreeSet<String> = reports.iter().map(|r| r.actor.clone()).collect();
        assert_eq!(actors.len(), TASKS, "one report from each task");
        let events = env.cases.events(c.id).await.unwrap();
        assert_eq!(events.len(), TASKS);
        assert_eq!(events[0].kind, "opened");
        assert!(events[1..].iter().all(|e| e.kind == "reported"));
    }
    cases
}

async fn concurrent_submissions(env: Env) {
    let cases = submit_concurrently(&env, |_| Source::Partner, false).await;
    assert!(cases.iter().all(|c| c.sources == [Source::Partner]));
}

/// Each task reports with another source: every case must list all of them.
async fn concurrent_sources_merge(env: Env) {
    let cases = submit_concurrently(&env, |t| Source::ALL[t % Source::ALL.len()], false).await;
    for c in &cases {
        let names: BTreeSet<&str> = c.sources.iter().map(|s| s.name()).collect();
        assert_eq!(
            names.len(),
            Source::ALL.len(),
            "case {} lists {:?}",
            c.id,
            c.sources
        );
    }
}

/// Two bulk submitters whose batches share URLs in different orders must both succeed.
async fn concurrent_opposite_orders(env: Env) {
    submit_concurrently(&env, |_| Source::Partner, true).await;
}

// ---------------------------------------------------------------------------------------------
// 4. Bulk

async fn bulk(env: Env) {
    let backend = env.backend;
    const HOSTS: usize = 500;
    const N: usize = 10_000;
    const DISTINCT_PATHS: usize = 18;
    // 500 hosts × 18 paths, then the first two paths of every host again (another spelling).
    let reports: Vec<NewReport> = (0..N)
        .map(|i| {
            let host = i % HOSTS;
            let path = (i / HOSTS) % DISTINCT_PATHS;
            let url = if i / HOSTS < DISTINCT_PATHS {
                format!("https://h{host}.example/files/{path}.jpg")
            } else {
                format!("HTTPS://H{host}.Example:443/files/{path}.jpg#dup")
            };
            report(&url, Source::Crawler)
        })
        .collect();
    let (ok, refused) = validate(reports, &categories());
    assert!(refused.is_empty());
    let started = Instant::now();
    let out = env.cases.submit(&by("crawler"), ok).await.unwrap();
    let took = started.elapsed();
    eprintln!(
        "{backend}: submit of {N} reports over {HOSTS} hosts took {} ms",
        took.as_millis()
    );
    assert_eq!(out.len(), N);
    let distinct = HOSTS * DISTINCT_PATHS;
    for (i, o) in out.iter().enumerate() {
        assert_eq!(o.index, i);
        let want = if i < distinct {
            OutcomeStatus::Opened
        } else {
            OutcomeStatus::Joined
        };
        assert_eq!(o.status, want, "{o:?}");
        if i >= distinct {
            assert_eq!(o.case_id, out[i - distinct].case_id);
            assert_eq!(o.url, out[i - distinct].url);
        }
    }
    assert_eq!(
        out[HOSTS + 7].url.as_deref(),
        Some("https://h7.example/files/1.jpg")
    );
    let ids: BTreeSet<i64> = out.iter().map(|o| o.case_id.unwrap()).collect();
    assert_eq!(ids.len(), distinct);
    let (cases, total) = env.cases.cases(&all(10_000)).await.unwrap();
    assert_eq!(total, distinct as i64);
    let twice = cases.iter().filter(|c| c.reports == 2).count();
    let once = cases.iter().filter(|c| c.reports == 1).count();
    assert_eq!((twice, once), (2 * HOSTS, distinct - 2 * HOSTS));
    let hosts: BTreeSet<&str> = cases.iter().map(|c| c.host.as_str()).collect();
    assert_eq!(hosts.len(), HOSTS);
    assert_eq!(
        env.cases.state_counts().await.unwrap().0,
        [(CaseState::New, distinct as i64)]
    );
    // Every case is due for attribution, and a claim hands each out once.
    let claimed = env
        .cases
        .claim_attribution(20_000, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(claimed.len(), distinct);
    assert!(
        env.cases
            .claim_attribution(20_000, Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Filters

fn ids(cases: &[Case]) -> Vec<i64> {
    cases.iter().map(|c| c.id).collect()
}

async fn filters(env: Env) {
    let s = env.cases.as_ref();
    let mut opened = Vec::new();
    for (i, url) in [
        "http://filter.example/100%_off",
        "http://filter.example/10000off",
        "http://filter.example/a_b",
        "http://filter.example/axb",
        "http://other.example/x",
    ]
    .iter()
    .enumerate()
    {
        env.clock.set(Millis(T0 + 1000 * i as i64));
        opened.push(open_one(s, url, Source::Public).await);
    }
    let [c1, c2, c3, c4, c5] = opened[..] else {
        unreachable!()
    };
    // c6 is opened by a partner under another category.
    env.clock.set(Millis(T0 + 5000));
    let out = submit(
        s,
        "partner-key",
        vec![NewReport {
            category: "terrorism".into(),
            ..report("http://other.example/y", Source::Partner)
        }],
    )
    .await;
    let c6 = out[0].case_id.unwrap();
    // c1 opened publicly; a partner report joins it later.
    env.clock.set(Millis(T0 + 6000));
    submit(
        s,
        "partner-key",
        vec![report("http://filter.example/100%_off", Source::Partner)],
    )
    .await;
    assert_eq!(case(s, c1).await.url, "http://filter.example/100%_off");
    assert_eq!(case(s, c1).await.sources, [Source::Public, Source::Partner]);

    s.act(c2, "analyst", &Action::Assess).await.unwrap();
    s.act(c3, "analyst", &Action::Actionable { reason: None })
        .await
        .unwrap();
    s.act(
        c4,
        "analyst",
        &Action::NotActionable {
            reason: "nothing there".into(),
        },
    )
    .await
    .unwrap();

    // The queue: new and assessing, oldest first (by when the case opened).
    let queue = CaseFilter {
        states: CaseState::QUEUE.to_vec(),
        oldest_first: true,
        limit: 50,
        ..Default::default()
    };
    let (got, total) = s.cases(&queue).await.unwrap();
    assert_eq!((ids(&got), total), (vec![c1, c2, c5, c6], 4));
    assert_eq!(got[1].state, CaseState::Assessing);
    let (got, _) = s
        .cases(&CaseFilter {
            oldest_first: false,
            ..queue.clone()
        })
        .await
        .unwrap();
    assert_eq!(ids(&got), [c6, c5, c2, c1]);
    let (got, total) = s
        .cases(&CaseFilter {
            states: vec![CaseState::NotActionable],
            ..all(50)
        })
        .await
        .unwrap();
    assert_eq!((ids(&got), total), (vec![c4], 1));

    // Category.
    let (got, total) = s
        .cases(&CaseFilter {
            category: Some("terrorism".into()),
            ..all(50)
        })
        .await
        .unwrap();
    assert_eq!((ids(&got), total), (vec![c6], 1));
    assert_eq!(got[0].category, "terrorism");

    // Source: any report from it, not only the first.
    let (got, total) = s
        .cases(&CaseFilter {
            source: Some(Source::Partner),
            ..all(50)
        })
        .await
        .unwrap();
    assert_eq!((ids(&got), total), (vec![c1, c6], 2));
    let (got, total) = s
        .cases(&CaseFilter {
            source: Some(Source::Police),
            ..all(50)
        })
        .await
        .unwrap();
    assert_eq!((got.len(), total), (0, 0));
    let (got, _) = s
        .cases(&CaseFilter {
            source: Some(Source::Partner),
            states: CaseState::QUEUE.to_vec(),
            category: Some("csam".into()),
            ..all(50)
        })
        .await
        .unwrap();
    assert_eq!(ids(&got), [c1]);

    // URL text: `%` and `_` are literal.
    let contains = |text: &str| CaseFilter {
        url_contains: Some(text.into()),
        ..all(50)
    };
    let (got, total) = s.cases(&contains("0%_o")).await.unwrap();
    assert_eq!((ids(&got), total), (vec![c1], 1));
    let (got, _) = s.cases(&contains("a_b")).await.unwrap();
    assert_eq!(ids(&got), [c3]);
    let (got, _) = s.cases(&contains("%")).await.unwrap();
    assert_eq!(ids(&got), [c1]);
    let (got, _) = s.cases(&contains("_")).await.unwrap();
    assert_eq!(ids(&got), [c1, c3]);
    let (got, _) = s.cases(&contains("\\")).await.unwrap();
    assert!(got.is_empty(), "{got:?}");
    let (got, total) = s.cases(&contains("filter.example/")).await.unwrap();
    assert_eq!((ids(&got), total), (vec![c1, c2, c3, c4], 4));
    // (Whether the search ignores case differs between the backends: not checked here.)

    // Hoster.
    let h = s
        .create_hoster(
            &HosterFields {
                name: "Hoster F".into(),
                ..Default::default()
            },
            "admin",
        )
        .await
        .unwrap();
    s.act(
        c5,
        "analyst",
        &Action::SetHoster {
            hoster_id: h.id,
            reason: None,
        },
    )
    .await
    .unwrap();
    let (got, total) = s
        .cases(&CaseFilter {
            hoster_id: Some(h.id),
            ..all(50)
        })
        .await
        .unwrap();
    assert_eq!((ids(&got), total), (vec![c5], 1));

    // Pages: limit and offset; the total counts every match.
    let every = [c1, c2, c3, c4, c5, c6];
    let mut paged = Vec::new();
    for offset in (0..8).step_by(2) {
        let (got, total) = s.cases(&CaseFilter { offset, ..all(2) }).await.unwrap();
        assert_eq!(total, 6);
        assert!(got.len() <= 2);
        paged.extend(ids(&got));
    }
    assert_eq!(paged, every);
    let (got, total) = s
        .cases(&CaseFilter {
            offset: 1,
            oldest_first: false,
            ..all(3)
        })
        .await
        .unwrap();
    assert_eq!((ids(&got), total), (vec![c5, c4, c3], 6));
}

// ---------------------------------------------------------------------------------------------
// 6. Attribution data and the register

fn data_source(kind: &str, files: &str, at: i64, records: usize) -> DataSource {
    DataSource {
        kind: kind.into(),
        files: files.into(),
        loaded_at: Millis(at),
        loaded_by: "operator".into(),
        records: records as i64,
        sha256: format!("{:064x}", at),
    }
}

const IP2ASN: &str = "\
192.0.2.0\t192.0.2.255\t64496\tNL\tHOSTER-A-AS Hoster A B.V.
198.51.100.0\t198.51.100.255\t64500\tDE\tEXAMPLE-NET-AS Example Hosting GmbH
203.0.113.0\t203.0.113.255\t64511\tUS\tCDN-PROVIDER-AS CDN Provider Inc.
2001:db8::\t2001:db8:ffff:ffff:ffff:ffff:ffff:ffff\t64496\tNL\tHOSTER-A-AS Hoster A B.V.
";

const RPSL: &str = "\
inetnum:        198.51.100.0 - 198.51.100.255
netname:        EXAMPLE-NET
country:        DE
org:            ORG-EH1-TEST
source:         RIPE

organisation:   ORG-EH1-TEST
org-name:       Example Hosting GmbH
abuse-c:        EAT1-TEST
source:         RIPE

role:           Example Abuse Team
nic-hdl:        EAT1-TEST
abuse-mailbox:  abuse@hosting.example
source:         RIPE

aut-num:        AS64500
as-name:        EXAMPLE-NET-AS
org:            ORG-EH1-TEST
source:         RIPE
";

fn rpsl_data() -> RpslData {
    rpsl::build(&rpsl::objects(RPSL.as_bytes()).unwrap()).unwrap()
}

async fn attribution_data_and_register(env: Env) {
    let s = env.cases.as_ref();
    let v0 = s.attribution_version().await.unwrap();
    assert_eq!(s.attribution_data().await.unwrap(), StoredData::default());
    assert!(s.attribution_sources().await.unwrap().is_empty());

    // Load, read back whole.
    let ranges = ip2asn::parse(IP2ASN.as_bytes()).unwrap();
    assert_eq!(ranges.len(), 4);
    let asn_src = data_source("ip2asn", "ip2asn-combined.tsv", T0, ranges.len());
    s.replace_asn_ranges(&ranges, &asn_src).await.unwrap();
    let v1 = s.attribution_version().await.unwrap();
    assert!(v1 > v0);
    let rpsl = rpsl_data();
    assert_eq!(rpsl.networks.len(), 1);
    assert_eq!(rpsl.autnums.len(), 1);
    assert_eq!(
        rpsl.networks[0].abuse_mailbox.as_deref(),
        Some("abuse@hosting.example")
    );
    let rpsl_src = data_source("rpsl", "ripe.db.inetnum ripe.db.role", T0 + 1, 2);
    s.replace_rpsl(&rpsl, &rpsl_src).await.unwrap();
    let v2 = s.attribution_version().await.unwrap();
    assert!(v2 > v1);
    assert_eq!(
        s.attribution_data().await.unwrap(),
        StoredData {
            asn_ranges: ranges.clone(),
            rpsl: rpsl.clone(),
            sources: vec![asn_src.clone(), rpsl_src.clone()],
        }
    );

    // A second load replaces the first (here: more rows than one stored chunk holds).
    let many: Vec<ip2asn::AsnRange> = (0..12_001u32)
        .map(|i| {
            let text = format!(
                "2001:db8:{:x}:{:x}::\t2001:db8:{:x}:{:x}:ffff:ffff:ffff:ffff\t{}\tNL\tAS-{i}\n",
                i >> 8,
                i & 0xff,
                i >> 8,
                i & 0xff,
                64_512 + i % 1000
            );
            ip2asn::parse(text.as_bytes()).unwrap().remove(0)
        })
        .collect();
    let many_src = data_source("ip2asn", "ip2asn-v6.tsv", T0 + 2, many.len());
    s.replace_asn_ranges(&many, &many_src).await.unwrap();
    let v3 = s.attribution_version().await.unwrap();
    assert!(v3 > v2);
    let data = s.attribution_data().await.unwrap();
    assert_eq!(data.asn_ranges.len(), many.len());
    assert_eq!(data.asn_ranges, many, "replaced in order, not appended");
    assert_eq!(data.rpsl, rpsl, "the RIR data is untouched");
    assert_eq!(data.sources, [many_src, rpsl_src.clone()]);
    // And back to the small file: the extra chunks go.
    s.replace_asn_ranges(&ranges, &asn_src).await.unwrap();
    assert_eq!(s.attribution_data().await.unwrap().asn_ranges, ranges);
    let empty = RpslData::default();
    s.replace_rpsl(&empty, &rpsl_src).await.unwrap();
    assert_eq!(s.attribution_data().await.unwrap().rpsl, empty);
    let v4 = s.attribution_version().await.unwrap();
    assert!(v4 > v3 + 1);

    // The register.
    let fields_a = HosterFields {
        name: "Hoster A".into(),
        asns: vec![64496],
        prefixes: vec!["192.0.2.0/24".into()],
        abuse: vec!["abuse@hoster-a.example".into()],
        coc_member: true,
        country: Some("NL".into()),
        ..Default::default()
    }
    .check()
    .unwrap();
    env.clock.set(Millis(T0 + 10_000));
    let a = s.create_hoster(&fields_a, "admin").await.unwrap();
    assert_eq!(a.fields, fields_a);
    assert_eq!(
        (a.updated_at, a.updated_by.as_str()),
        (Millis(T0 + 10_000), "admin")
    );
    let v5 = s.attribution_version().await.unwrap();
    assert!(v5 > v4);
    let dup = s.create_hoster(&fields_a, "admin").await;
    assert!(matches!(dup, Err(Error::Conflict(_))), "{dup:?}");
    assert_eq!(s.attribution_version().await.unwrap(), v5);
    let b = s
        .create_hoster(
            &HosterFields {
                name: "B Hosting".into(),
                ..Default::default()
            },
            "admin",
        )
        .await
        .unwrap();
    let v6 = s.attribution_version().await.unwrap();
    assert!(v6 > v5);
    assert_eq!(
        s.hosters()
            .await
            .unwrap()
            .iter()
            .map(|h| h.name.as_str())
            .collect::<Vec<_>>(),
        ["B Hosting", "Hoster A"]
    );
    assert_eq!(s.hoster(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(s.hoster(9999).await.unwrap(), None);

    // Cases that name hoster A: one by hand, one by attribution; one names B.
    let by_hand = open_one(s, "http://reg.example/1", Source::Public).await;
    let attributed = open_one(s, "http://reg.example/2", Source::Public).await;
    let other = open_one(s, "http://reg.example/3", Source::Public).await;
    s.act(
        by_hand,
        "analyst",
        &Action::SetHoster {
            hoster_id: a.id,
            reason: None,
        },
    )
    .await
    .unwrap();
    let party = |id: i64, name: &str| Party {
        hoster_id: Some(id),
        name: name.into(),
        abuse: vec![],
        coc_member: Some(false),
        source: format!("register #{id}"),
    };
    let attribution = |p: Party| Attribution {
        host: "reg.example".into(),
        at: Millis(T0 + 10_000),
        cnames: vec![],
        addrs: vec![],
        notify: Some(p.clone()),
        hoster: Some(p),
        cdn: None,
        country: Some("NL".into()),
        evidence: vec![],
        error: None,
    };
    s.save_attribution(attributed, &attribution(party(a.id, "Hoster A")))
        .await
        .unwrap();
    s.save_attribution(other, &attribution(party(b.id, "B Hosting")))
        .await
        .unwrap();
    assert_eq!(
        s.attribution(attributed).await.unwrap(),
        Some(attribution(party(a.id, "Hoster A")))
    );
    assert_eq!(s.attribution(by_hand).await.unwrap(), None);
    let r = s.attribution(9999).await;
    assert!(matches!(r, Err(Error::NotFound(_))), "{r:?}");

    // Renaming A renames it on its cases, and bumps the version.
    env.clock.set(Millis(T0 + 20_000));
    let renamed = HosterFields {
        name: "Hoster A B.V.".into(),
        ..fields_a.clone()
    };
    let a2 = s.update_hoster(a.id, &renamed, "admin-2").await.unwrap();
    assert_eq!(a2.fields, renamed);
    assert_eq!(
        (a2.id, a2.updated_at, a2.updated_by.as_str()),
        (a.id, Millis(T0 + 20_000), "admin-2")
    );
    let v7 = s.attribution_version().await.unwrap();
    assert!(v7 > v6);
    for id in [by_hand, attributed] {
        let c = case(s, id).await;
        assert_eq!(
            (c.hoster_id, c.hoster_name.as_deref()),
            (Some(a.id), Some("Hoster A B.V.")),
            "{c:?}"
        );
    }
    assert_eq!(
        case(s, other).await.hoster_name.as_deref(),
        Some("B Hosting")
    );
    let (got, _) = s
        .cases(&CaseFilter {
            hoster_id: Some(a.id),
            ..all(10)
        })
        .await
        .unwrap();
    assert_eq!(ids(&got), [by_hand, attributed]);

    // Renaming onto another entry's name is a conflict and changes nothing.
    let clash = s
        .update_hoster(
            b.id,
            &HosterFields {
                name: "Hoster A B.V.".into(),
                ..Default::default()
            },
            "admin",
        )
        .await;
    assert!(matches!(clash, Err(Error::Conflict(_))), "{clash:?}");
    assert_eq!(s.hoster(b.id).await.unwrap(), Some(b.clone()));
    assert_eq!(s.attribution_version().await.unwrap(), v7);
    let missing = s.update_hoster(9999, &renamed, "admin").await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
    assert_eq!(s.attribution_version().await.unwrap(), v7);
}

// ---------------------------------------------------------------------------------------------
// 7. The attribution worker end to end

fn evidence_steps(a: &Attribution) -> Vec<&str> {
    a.evidence.iter().map(|e| e.step.as_str()).collect()
}

fn evidence<'a>(a: &'a Attribution, step: &str) -> &'a ntd::attribution::Evidence {
    a.evidence
        .iter()
        .find(|e| e.step == step)
        .unwrap_or_else(|| panic!("no {step} step in {:#?}", a.evidence))
}

async fn attribution_worker(env: Env) {
    let s = env.cases.as_ref();
    let dns = TestDns::start(&[
        (
            "www.hoster-a.example",
            TestRecord::A("192.0.2.10".parse().unwrap()),
        ),
        (
            "shop.rir.example",
            TestRecord::A("198.51.100.20".parse().unwrap()),
        ),
        (
            "www.cdn-site.example",
            TestRecord::Cname("site.cdn-provider.example".into()),
        ),
        (
            "site.cdn-provider.example",
            TestRecord::A("203.0.113.5".parse().unwrap()),
        ),
        (
            "v6.hoster-a.example",
            TestRecord::Aaaa("2001:db8::10".parse().unwrap()),
        ),
    ])
    .unwrap();

    let ranges = ip2asn::parse(IP2ASN.as_bytes()).unwrap();
    s.replace_asn_ranges(&ranges, &data_source("ip2asn", "ip2asn.tsv", T0, 4))
        .await
        .unwrap();
    s.replace_rpsl(&rpsl_data(), &data_source("rpsl", "ripe.db", T0, 4))
        .await
        .unwrap();
    // Hoster A by prefix (v4) and by AS (its v6 space is only in ip2asn).
    let a = s
        .create_hoster(
            &HosterFields {
                name: "Hoster A".into(),
                asns: vec![64496],
                prefixes: vec!["192.0.2.0/24".into()],
                abuse: vec!["abuse@hoster-a.example".into()],
                coc_member: true,
                ..Default::default()
            }
            .check()
            .unwrap(),
            "admin",
        )
        .await
        .unwrap();
    let cdn = s
        .create_hoster(
            &HosterFields {
                name: "CDN Provider".into(),
                prefixes: vec!["203.0.113.0/24".into()],
                abuse: vec!["abuse@cdn-provider.example".into()],
                cdn: true,
                ..Default::default()
            }
            .check()
            .unwrap(),
            "admin",
        )
        .await
        .unwrap();

    let urls = [
        "http://www.hoster-a.example/1",
        "http://www.hoster-a.example/2",
        "https://shop.rir.example/item?id=3",
        "http://shop.rir.example/4",
        "http://www.cdn-site.example/5",
        "http://v6.hoster-a.example/6",
        "http://missing.example/7",
    ];
    let out = submit(
        s,
        "partner-key",
        urls.iter().map(|u| report(u, Source::Partner)).collect(),
    )
    .await;
    let id: Vec<i64> = out.iter().map(|o| o.case_id.unwrap()).collect();
    let hosts: BTreeSet<String> = out
        .iter()
        .map(|o| url_host(o.url.as_deref().unwrap()))
        .collect();
    assert_eq!(hosts.len(), 5);

    let resolver = Resolver::new(&DnsConfig {
        servers: vec![dns.addr()],
        timeout: Duration::from_secs(1),
        attempts: 1,
    })
    .unwrap();
    // What one lookup of each host costs (A and AAAA; a third query where the AAAA answer
    // stops at a CNAME and the resolver follows it): a round must cost exactly that.
    let mut per_host = HashMap::new();
    for h in &hosts {
        let before = dns.queries();
        resolver.resolve(h).await.ok();
        per_host.insert(h.clone(), dns.queries() - before);
    }
    let one_each: u64 = per_host.values().sum();
    assert!(
        per_host.values().all(|n| (2..=3).contains(n)),
        "{per_host:?}"
    );
    let engine = Engine::new(
        Arc::clone(&env.cases),
        resolver,
        Arc::clone(&env.clock) as Arc<dyn Clock>,
    );
    env.clock.advance(1000);
    let now = env.clock.now();
    assert_eq!(engine.run_once().await.unwrap(), urls.len());
    let queries = dns.queries();
    assert_eq!(
        queries - one_each,
        one_each,
        "one lookup per distinct host, not per case: {per_host:?}"
    );

    // Registered hoster by prefix.
    for &case_id in &id[0..2] {
        let c = case(s, case_id).await;
        assert_eq!(
            (c.hoster_id, c.hoster_name.as_deref(), c.country.as_deref()),
            (Some(a.id), Some("Hoster A"), Some("NL")),
            "{c:?}"
        );
        assert_eq!(c.attributed_at, Some(now));
        let at = s.attribution(case_id).await.unwrap().unwrap();
        assert_eq!(at.host, "www.hoster-a.example");
        assert_eq!(at.at, now);
        let notify = at.notify.as_ref().unwrap();
        assert_eq!(
            (
                notify.hoster_id,
                notify.name.as_str(),
                notify.abuse.as_slice()
            ),
            (
                Some(a.id),
                "Hoster A",
                &["abuse@hoster-a.example".to_string()][..]
            )
        );
        assert_eq!(notify.coc_member, Some(true));
        assert!(at.cdn.is_none() && at.error.is_none(), "{at:?}");
        assert_eq!(evidence(&at, "dns").value, "192.0.2.10");
        assert_eq!(
            evidence(&at, "register").source,
            format!("register #{} prefix 192.0.2.0/24", a.id)
        );
        assert_eq!(
            evidence(&at, "asn").source,
            "ip2asn 192.0.2.0 - 192.0.2.255"
        );
        let e = s.events(case_id).await.unwrap().pop().unwrap();
        assert_eq!(
            (e.kind.as_str(), e.actor.as_str(), e.at),
            ("attributed", "system", now)
        );
        assert!(
            e.message.contains("abuse@hoster-a.example"),
            "{}",
            e.message
        );
    }

    // RIR data only: the organisation, its abuse mailbox, and every step with its source.
    for &case_id in &id[2..4] {
        let c = case(s, case_id).await;
        assert_eq!(
            (c.hoster_id, c.hoster_name.as_deref(), c.country.as_deref()),
            (None, Some("Example Hosting GmbH"), Some("DE")),
            "{c:?}"
        );
        let at = s.attribution(case_id).await.unwrap().unwrap();
        let notify = at.notify.as_ref().unwrap();
        assert_eq!(notify.name, "Example Hosting GmbH");
        assert_eq!(notify.abuse, ["abuse@hosting.example"]);
        assert_eq!(notify.source, "RIPE inetnum 198.51.100.0 - 198.51.100.255");
        assert!(at.error.is_none(), "{at:?}");
        assert_eq!(
            evidence_steps(&at),
            ["dns", "asn", "network", "abuse", "country"]
        );
        let dns_step = evidence(&at, "dns");
        assert_eq!(
            (dns_step.value.as_str(), dns_step.source.as_str()),
            ("198.51.100.20", "resolver")
        );
        let asn = evidence(&at, "asn");
        assert_eq!(asn.value, "AS64500 EXAMPLE-NET-AS Example Hosting GmbH");
        assert_eq!(asn.source, "ip2asn 198.51.100.0 - 198.51.100.255");
        let network = evidence(&at, "network");
        assert_eq!(
            network.value,
            "198.51.100.0 - 198.51.100.255 EXAMPLE-NET (Example Hosting GmbH)"
        );
        assert_eq!(network.source, "RIPE inetnum 198.51.100.0 - 198.51.100.255");
        let abuse = evidence(&at, "abuse");
        assert_eq!(abuse.value, "abuse@hosting.example");
        assert_eq!(abuse.source, "RIPE inetnum 198.51.100.0 - 198.51.100.255");
        assert_eq!(at.addrs.len(), 1);
        assert_eq!(at.addrs[0].asn, Some(64500));
        assert_eq!(at.addrs[0].netname.as_deref(), Some("EXAMPLE-NET"));
    }

    // Behind a CDN: the CDN is the party to notify.
    let c = case(s, id[4]).await;
    assert_eq!(
        (c.hoster_id, c.hoster_name.as_deref(), c.country.as_deref()),
        (Some(cdn.id), Some("CDN Provider"), Some("US"))
    );
    let at = s.attribution(id[4]).await.unwrap().unwrap();
    assert_eq!(at.cnames, ["site.cdn-provider.example"]);
    assert_eq!(at.cdn.as_ref().map(|p| p.hoster_id), Some(Some(cdn.id)));
    assert_eq!(at.notify, at.cdn);
    assert_eq!(
        at.notify.as_ref().unwrap().abuse,
        ["abuse@cdn-provider.example"]
    );
    assert!(at.hoster.is_none(), "{at:?}");
    assert_eq!(evidence(&at, "cname").value, "site.cdn-provider.example");
    assert_eq!(evidence(&at, "dns").value, "203.0.113.5");
    assert_eq!(
        evidence(&at, "cdn").source,
        format!("register #{} prefix 203.0.113.0/24", cdn.id)
    );
    let e = s.events(id[4]).await.unwrap().pop().unwrap();
    assert!(
        e.message.contains("behind CDN CDN Provider"),
        "{}",
        e.message
    );

    // IPv6, registered by AS.
    let c = case(s, id[5]).await;
    assert_eq!(
        (c.hoster_id, c.hoster_name.as_deref(), c.country.as_deref()),
        (Some(a.id), Some("Hoster A"), Some("NL"))
    );
    let at = s.attribution(id[5]).await.unwrap().unwrap();
    assert_eq!(evidence(&at, "dns").value, "2001:db8::10");
    assert_eq!(
        evidence(&at, "register").source,
        format!("register #{} AS64496", a.id)
    );

    // A name DNS does not know.
    let c = case(s, id[6]).await;
    assert_eq!((c.hoster_id, c.hoster_name, c.country), (None, None, None));
    assert_eq!(c.attributed_at, Some(now));
    let at = s.attribution(id[6]).await.unwrap().unwrap();
    assert!(at.notify.is_none() && at.addrs.is_empty());
    let error = at.error.as_deref().unwrap();
    assert!(error.contains("DNS"), "{error}");
    assert_eq!(evidence_steps(&at), ["dns"]);
    let e = s.events(id[6]).await.unwrap().pop().unwrap();
    assert_eq!(
        (e.kind.as_str(), e.actor.as_str()),
        ("attribution_failed", "system")
    );
    assert!(e.message.contains("DNS"), "{}", e.message);

    // Nothing is due any more.
    let lease = Duration::from_secs(120);
    assert!(s.claim_attribution(100, lease).await.unwrap().is_empty());
    assert_eq!(engine.run_once().await.unwrap(), 0);
    assert_eq!(dns.queries(), queries, "no round, no lookups");

    // Asked again: due again, claimed once, and again when the lease has run out.
    s.request_attribution(id[6], "analyst").await.unwrap();
    let r = s.request_attribution(9999, "analyst").await;
    assert!(matches!(r, Err(Error::NotFound(_))), "{r:?}");
    assert_eq!(
        s.events(id[6]).await.unwrap().pop().unwrap().kind,
        "attribution_requested"
    );
    let pending = s.claim_attribution(100, lease).await.unwrap();
    assert_eq!(
        pending,
        [Pending {
            case_id: id[6],
            host: "missing.example".into()
        }]
    );
    assert!(s.claim_attribution(100, lease).await.unwrap().is_empty());
    env.clock.advance(121_000);
    assert_eq!(s.claim_attribution(100, lease).await.unwrap(), pending);
    env.clock.advance(121_000);
    assert_eq!(engine.run_once().await.unwrap(), 1);
    assert!(s.claim_attribution(100, lease).await.unwrap().is_empty());

    // A party named by hand stays named by hand; the attribution itself is still stored.
    s.act(
        id[2],
        "analyst",
        &Action::SetHoster {
            hoster_id: a.id,
            reason: Some("the reseller is Hoster A".into()),
        },
    )
    .await
    .unwrap();
    s.request_attribution(id[2], "analyst").await.unwrap();
    env.clock.advance(1000);
    let later = env.clock.now();
    let before = dns.queries();
    assert_eq!(engine.run_once().await.unwrap(), 1);
    assert_eq!(dns.queries() - before, per_host["shop.rir.example"]);
    let c = case(s, id[2]).await;
    assert_eq!(
        (c.hoster_id, c.hoster_name.as_deref(), c.country.as_deref()),
        (Some(a.id), Some("Hoster A"), Some("DE"))
    );
    assert_eq!(c.attributed_at, Some(later));
    let at = s.attribution(id[2]).await.unwrap().unwrap();
    assert_eq!(at.at, later);
    assert_eq!(at.notify.unwrap().name, "Example Hosting GmbH");
    // The sibling case of the same URL's host, not set by hand, still follows attribution.
    assert_eq!(
        case(s, id[3]).await.hoster_name.as_deref(),
        Some("Example Hosting GmbH")
    );

    // A register change reaches the next round without a restart.
    s.update_hoster(
        a.id,
        &HosterFields {
            name: "Hoster A".into(),
            asns: vec![64496],
            prefixes: vec!["192.0.2.0/24".into()],
            abuse: vec!["notices@hoster-a.example".into()],
            ..Default::default()
        },
        "admin",
    )
    .await
    .unwrap();
    s.request_attribution(id[0], "analyst").await.unwrap();
    assert_eq!(engine.run_once().await.unwrap(), 1);
    let at = s.attribution(id[0]).await.unwrap().unwrap();
    assert_eq!(at.notify.unwrap().abuse, ["notices@hoster-a.example"]);
}

/// The host of a normalised URL.
fn url_host(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    rest.split(['/', '?', ':']).next().unwrap().to_string()
}

// ---------------------------------------------------------------------------------------------

macro_rules! scenarios {
    ($($name:ident $(= $pg_bug:literal)?),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let url = format!("sqlite://{}", dir.path().join("t.db").display());
                    super::$name(super::env(&url, "sqlite").await).await;
                }
            )*
        }

        /// A throwaway server per scenario, so the scenarios run (and fail) independently.
        mod postgres {
            use super::TempPostgres;
            $(
                $(#[ignore = $pg_bug])?
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if TempPostgres::skipped() {
                        eprintln!("SCHOON_SKIP_PG=1: skipping the PostgreSQL scenario");
                        return;
                    }
                    let pg = TempPostgres::start().expect("start PostgreSQL");
                    let url = pg.fresh_database(stringify!($name)).unwrap();
                    super::$name(super::env(&url, "postgres").await).await;
                }
            )*
        }
    };
}

scenarios!(
    dedup,
    state_machine,
    concurrent_submissions,
    concurrent_sources_merge,
    concurrent_opposite_orders,
    bulk,
    filters,
    attribution_data_and_register,
    attribution_worker,
);
