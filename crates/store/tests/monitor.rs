//! The monitor's storage on both backends: the statistics aggregated in SQL against
//! [`Summary::from_facts`] over the same facts, the drill-down and the overdue list, and the
//! non-cooperation list from a run to a delisting.
//!
//! Every scenario runs on SQLite in a temporary file and on a throwaway PostgreSQL server
//! ([`TempPostgres`]). Cases, notices and audit records are written with plain SQL (the
//! statistics only read them), through a second connection pool of the test's own.

use lists::trust::NewMail;
use lists::{Clock, ManualClock, Millis};
use monitor::store::{
    Drill, DrillQuery, Error, ExplanationStatus, MonitorStore, NewRun, RunStatus,
};
use monitor::{
    CaseFacts, Figures, Month, NoticeFacts, NoticeKindLite, Participation, Period, Proposal,
    ProposalAction, Reason, Rules, Summary,
};
use ntd::CaseStore;
use ntd::register::HosterFields;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use store::testing::TempPostgres;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

/// One store under test, and a pool of the test's own for writing facts with SQL.
struct Env {
    cases: Arc<dyn CaseStore>,
    monitor: Arc<dyn MonitorStore>,
    raw: Raw,
}

enum Raw {
    Lite(sqlx::SqlitePool),
    Pg(sqlx::PgPool),
}

impl Raw {
    async fn exec(&self, sql: String) {
        let q = sqlx::AssertSqlSafe(sql.clone());
        let r = match self {
            Raw::Lite(p) => sqlx::query(q).execute(p).await.map(|_| ()),
            Raw::Pg(p) => sqlx::query(q).execute(p).await.map(|_| ()),
        };
        r.unwrap_or_else(|e| panic!("{e}: {sql}"));
    }

    /// The first column of every row, as text.
    async fn texts(&self, sql: &str) -> Vec<String> {
        use sqlx::Row as _;
        let q = sqlx::AssertSqlSafe(sql.to_string());
        match self {
            Raw::Lite(p) => sqlx::query(q)
                .fetch_all(p)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>(0))
                .collect(),
            Raw::Pg(p) => sqlx::query(q)
                .fetch_all(p)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>(0))
                .collect(),
        }
    }
}

async fn env(url: &str) -> Env {
    let clock = Arc::new(ManualClock::new(Millis(1_700_000_000_000)));
    let stores = store::open_stores(url, clock as Arc<dyn Clock>)
        .await
        .unwrap();
    let raw = if url.starts_with("sqlite:") {
        Raw::Lite(sqlx::SqlitePool::connect(url).await.unwrap())
    } else {
        Raw::Pg(sqlx::PgPool::connect(url).await.unwrap())
    };
    Env {
        cases: stores.cases,
        monitor: stores.monitor,
        raw,
    }
}

async fn hoster(e: &Env, name: &str, org_id: Option<i64>) -> i64 {
    e.cases
        .create_hoster(
            &HosterFields {
                name: name.into(),
                org_id,
                ..Default::default()
            }
            .check()
            .unwrap(),
            "admin",
        )
        .await
        .unwrap()
        .id
}

/// A case as stored: what [`CaseFacts`] holds, plus what may be missing in the database.
#[derive(Clone, Debug)]
struct Row {
    id: i64,
    hoster_id: Option<i64>,
    category: &'static str,
    url: String,
    notified_at: Option<i64>,
    removed_at: Option<i64>,
    reminded_at: Option<i64>,
    escalated_at: Option<i64>,
    open: bool,
}

impl Row {
    fn new(id: i64, hoster_id: i64, notified_at: i64) -> Row {
        Row {
            id,
            hoster_id: Some(hoster_id),
            category: "csam",
            url: format!("https://h{hoster_id}.example/{id}"),
            notified_at: Some(notified_at),
            removed_at: None,
            reminded_at: None,
            escalated_at: None,
            open: false,
        }
    }

    fn facts(&self) -> Option<CaseFacts> {
        Some(CaseFacts {
            case_id: self.id,
            hoster_id: self.hoster_id?,
            category: self.category.to_string(),
            url: self.url.clone(),
            opened_at: Millis(self.notified_at? - HOUR),
            notified_at: Millis(self.notified_at?),
            removed_at: self.removed_at.map(Millis),
            reminded_at: self.reminded_at.map(Millis),
            escalated_at: self.escalated_at.map(Millis),
        })
    }
}

fn sql_opt(v: Option<i64>) -> String {
    v.map_or_else(|| "NULL".to_string(), |v| v.to_string())
}

/// Writes the cases with plain SQL, 100 to a statement.
async fn insert_cases(e: &Env, rows: &[Row]) {
    for chunk in rows.chunks(100) {
        let values: Vec<String> = chunk
            .iter()
            .map(|r| {
                let opened = r.notified_at.unwrap_or(0) - HOUR;
                let state = if r.open { "notified" } else { "closed" };
                format!(
                    "({}, '{}', 'h.example', '{}', '{state}', {}, {opened}, {opened}, {}, {}, {}, {}, {})",
                    r.id,
                    r.url,
                    r.category,
                    i64::from(r.open),
                    sql_opt(r.hoster_id),
                    sql_opt(r.notified_at),
                    sql_opt(r.removed_at),
                    sql_opt(r.reminded_at),
                    sql_opt(r.escalated_at),
                )
            })
            .collect();
        e.raw
            .exec(format!(
                "INSERT INTO cases (id, url, host, category, state, is_open, opened_at, updated_at, \
                 hoster_id, notified_at, removed_at, reminded_at, escalated_at) VALUES {}",
                values.join(", ")
            ))
            .await;
    }
}

/// Marks one case per URL open (the newest not removed), as the partial unique index
/// `cases_open_url` allows.
fn open_one_per_url(rows: &mut [Row]) {
    let mut seen = HashSet::new();
    for r in rows.iter_mut().rev() {
        r.open = r.removed_at.is_none() && seen.insert(r.url.clone());
    }
}

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> i64 {
        (self.next() % n) as i64
    }
}

fn sort(s: &mut Summary) {
    s.groups.sort_by(|a, b| {
        (a.hoster_id, &a.category, a.day, a.removed, a.minutes).cmp(&(
            b.hoster_id,
            &b.category,
            b.day,
            b.removed,
            b.minutes,
        ))
    });
    s.notices.sort_by_key(|n| (n.hoster_id, n.day));
    s.participation.sort_by_key(|p| (p.hoster_id, p.month));
}

/// 300 cases over four hosters, with repeats (also at the very same instant), removals at
/// and around the 24-hour mark, before the notice and after `now`, cases without a hoster or
/// without a notice, and a few before 1970; sent and unsent notices and reminders; hash-check
/// audit records of linked and unlinked organisations. The store's summary must equal
/// `Summary::from_facts` for a month, a quarter and custom ranges.
async fn summary_equivalence(e: Env) {
    let h = [
        hoster(&e, "Alpha Hosting", Some(7)).await,
        hoster(&e, "Beta Cloud", None).await,
        hoster(&e, "Gamma Net", Some(8)).await,
        hoster(&e, "Delta CDN", None).await,
    ];
    let base = Period::month(2026, 1).unwrap().from.0;
    let now = base + 100 * DAY + 5 * HOUR + 17_123;
    let categories = ["csam", "terrorism", "ncii"];
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut rows: Vec<Row> = Vec::new();
    let mut urls_of: HashMap<i64, Vec<String>> = HashMap::new();
    for i in 0..300i64 {
        let id = i + 1;
        let hid = h[rng.below(4) as usize];
        let notified = base - 60 * DAY + rng.below((220 * DAY) as u64);
        let mut r = Row::new(id, hid, notified);
        r.category = categories[rng.below(3) as usize];
        // About 15 % repeat an earlier URL of the hoster; a few take another hoster's URL
        // (not a repeat: repeats are per hoster).
        let known = urls_of.entry(hid).or_default();
        match rng.below(100) {
            0..15 if !known.is_empty() => {
                r.url = known[rng.below(known.len() as u64) as usize].clone();
            }
            15..18 => {
                let other = h[(h.iter().position(|&x| x == hid).unwrap() + 1) % 4];
                if let Some(u) = urls_of.get(&other).and_then(|v| v.first()) {
                    r.url = u.clone();
                }
            }
            _ => {}
        }
        match rng.below(20) {
            0..12 => r.removed_at = Some(notified + rng.below((72 * HOUR) as u64)),
            12 => r.removed_at = Some(notified + DAY),
            13 => r.removed_at = Some(notified + DAY + 1),
            14 => r.removed_at = Some(notified + 7 * MIN),
            15 => r.removed_at = Some(notified - 5_000),
            _ => {}
        }
        if rng.below(10) < 3 {
            r.reminded_at = Some(notified + DAY);
        }
        if rng.below(10) < 1 {
            r.escalated_at = Some(notified + 3 * DAY);
        }
        if i % 25 == 11 {
            // Escalated and ignored.
            r.removed_at = None;
            r.escalated_at = Some(notified + 3 * DAY);
        }
        match i % 50 {
            7 => r.hoster_id = None,
            9 => r.notified_at = None,
            _ => {}
        }
        if r.hoster_id.is_some() && r.notified_at.is_some() {
            urls_of.entry(hid).or_default().push(r.url.clone());
        }
        rows.push(r);
    }
    // The same URL notified twice at the same instant: the later id is the repeat.
    let mut a = Row::new(301, h[1], base + 40 * DAY + 123);
    a.url = "https://tie.example/x".into();
    let mut b = a.clone();
    b.id = 302;
    b.removed_at = Some(b.notified_at.unwrap() + 2 * HOUR);
    rows.push(a);
    rows.push(b);
    // Before 1970: days are floored, not truncated.
    for (i, at) in [-5 * DAY - 3 * HOUR, -HOUR, -1, 0, 5 * HOUR]
        .into_iter()
        .enumerate()
    {
        let mut r = Row::new(303 + i as i64, h[0], at);
        r.url = format!("https://old.example/{}", i % 2);
        r.removed_at = Some(at + 25 * HOUR);
        rows.push(r);
    }
    open_one_per_url(&mut rows);
    insert_cases(&e, &rows).await;
    let facts: Vec<CaseFacts> = rows.iter().filter_map(Row::facts).collect();

    // Notices: sent notices count, unsent ones and reminders do not.
    let mut notices = Vec::new();
    let mut values = Vec::new();
    for i in 0..40i64 {
        let hid = h[(i % 4) as usize];
        let queued = base - 10 * DAY + rng.below((130 * DAY) as u64);
        let (kind, status, sent) = match i % 5 {
            0 => ("reminder", "sent", Some(queued + MIN)),
            1 => ("notice", "queued", None),
            _ => ("notice", "sent", Some(queued + rng.below(HOUR as u64))),
        };
        if let Some(s) = sent {
            notices.push(NoticeFacts {
                hoster_id: hid,
                kind: if kind == "notice" {
                    NoticeKindLite::Notice
                } else {
                    NoticeKindLite::Reminder
                },
                sent_at: Millis(s),
                cases: 1,
            });
        }
        values.push(format!(
            "('N-{i}', '{kind}', {hid}, 'email', '[]', 's', 'b', '{{}}', '{status}', {queued}, {})",
            sql_opt(sent)
        ));
    }
    e.raw
        .exec(format!(
            "INSERT INTO notices (reference, kind, hoster_id, channel, recipients, subject, body, json, \
             status, queued_at, sent_at) VALUES {}",
            values.join(", ")
        ))
        .await;

    // Hash checks: org 7 is Alpha, org 8 Gamma, org 9 nobody. Imports do not count; an
    // own-initiative removal counts as removed, not as checks or matches.
    let mut parts: BTreeMap<(i64, Month), Participation> = BTreeMap::new();
    let mut values = Vec::new();
    for i in 0..60i64 {
        let org = [7, 8, 9][(i % 3) as usize];
        let at = base - 40 * DAY + rng.below((160 * DAY) as u64);
        let action = match i % 7 {
            0 => "import",
            1 => "check_image",
            2 => "own_removal",
            _ => "check",
        };
        let count = 1 + rng.below(500);
        let matches = rng.below(3);
        let scanner = i % 4 == 0;
        let detail = if scanner {
            r#"{"radius":31,"client":"scanner"}"#
        } else {
            r#"{"radius":31}"#
        };
        values.push(format!(
            "({at}, 'k{org}', {org}, '{action}', {count}, {matches}, '{detail}')"
        ));
        let hid = match org {
            7 => h[0],
            8 => h[2],
            _ => continue,
        };
        if action == "import" {
            continue;
        }
        let month = Month::of(Millis(at));
        let p = parts.entry((hid, month)).or_insert(Participation {
            hoster_id: hid,
            month,
            checks: 0,
            matches: 0,
            removed_own_initiative: 0,
            scanner: false,
        });
        if action == "own_removal" {
            p.removed_own_initiative += count as u64;
        } else {
            p.checks += count as u64;
            p.matches += matches as u64;
        }
        p.scanner |= scanner;
    }
    e.raw
        .exec(format!(
            "INSERT INTO audit_log (at, key_id, org_id, action, count, matches, detail) VALUES {}",
            values.join(", ")
        ))
        .await;
    let participation: Vec<Participation> = parts.into_values().collect();

    let periods = [
        ("month", Period::month(2026, 3).unwrap(), Millis(now)),
        ("quarter", Period::quarter(2026, 1).unwrap(), Millis(now)),
        (
            "custom range past now",
            Period::custom(
                Millis(base + 10 * DAY + 3 * HOUR + 7),
                Millis(base + 140 * DAY),
            )
            .unwrap(),
            Millis(now),
        ),
        (
            "everything, as of long ago",
            Period::custom(Millis(-30 * DAY), Millis(base + 200 * DAY)).unwrap(),
            Millis(base - 20 * DAY),
        ),
        (
            "around 1970",
            Period::custom(Millis(-10 * DAY), Millis(DAY)).unwrap(),
            Millis(2 * DAY),
        ),
    ];
    for (label, period, at) in periods {
        let mut got = e.monitor.summary(&period, at).await.unwrap();
        let mut want = Summary::from_facts(&facts, &notices, &participation, &period, at);
        sort(&mut got);
        sort(&mut want);
        assert!(!want.groups.is_empty(), "{label}: no groups to compare");
        assert_eq!(got.groups, want.groups, "{label}: groups");
        assert_eq!(got.notices, want.notices, "{label}: notices");
        assert_eq!(
            got.participation, want.participation,
            "{label}: participation"
        );
        assert_eq!(got, want, "{label}");
        if label == "quarter" {
            let g = &want.groups;
            assert!(g.iter().any(|g| g.repeats > 0), "the data has repeats");
            assert!(g.iter().any(|g| g.escalated_online > 0));
            assert!(!want.notices.is_empty() && !want.participation.is_empty());
            assert!(want.participation.iter().any(|p| p.scanner));
            assert!(
                want.participation
                    .iter()
                    .any(|p| p.removed_own_initiative > 0)
            );
        }
    }
}

fn figures(urls: u64, within: u64, share: f64) -> Figures {
    Figures {
        hosters: 1,
        urls,
        removed: urls,
        removed_within_24h: within,
        share_within_24h: Some(share),
        median_hours: Some(30.5),
        p90_hours: Some(72.0),
        p90_censored: true,
        ..Figures::default()
    }
}

fn mail(reference: &str, to: &str) -> NewMail {
    NewMail {
        reference: reference.into(),
        to: vec![to.into()],
        subject: "You are on the list".into(),
        body: "See the public page.".into(),
        json: None,
    }
}

fn new_run(at: i64, proposals: Vec<Proposal>) -> NewRun {
    NewRun {
        at: Millis(at),
        by: "scheduler".into(),
        window: Period::custom(Millis(at - 90 * DAY), Millis(at)).unwrap(),
        rules: Rules::default(),
        proposals,
    }
}

fn proposal(hoster_id: i64, action: ProposalAction, reasons: Vec<Reason>) -> Proposal {
    Proposal {
        hoster_id,
        action,
        reasons,
        figures: figures(12, 3, 0.25),
    }
}

/// A run proposes, an analyst approves (listings, events and e-mails in one go), hosters
/// explain, analysts review, and a later run delists.
async fn list_flow(e: Env) {
    let a = hoster(&e, "Alpha Hosting", None).await;
    let b = hoster(&e, "Beta Cloud", None).await;
    let c = hoster(&e, "Gamma Net", None).await;
    let t = 1_780_000_000_000;
    let s = &e.monitor;
    let low = Reason::LowShare {
        urls: 12,
        judged: 12,
        within: 3,
        threshold: 0.5,
    };
    let ignored = Reason::EscalationIgnored { urls: 2 };
    let proposals = vec![
        proposal(a, ProposalAction::List, vec![low.clone()]),
        proposal(b, ProposalAction::List, vec![ignored.clone(), low.clone()]),
    ];
    let run = s.save_run(&new_run(t, proposals.clone())).await.unwrap();
    assert_eq!(run.status, RunStatus::Proposed);
    assert_eq!(
        (run.by.as_str(), run.at, run.decided_by.as_deref()),
        ("scheduler", Millis(t), None)
    );
    assert_eq!(run.rules, Rules::default());
    assert_eq!(run.window.to, Millis(t));
    let got: Vec<Proposal> = run.proposals.iter().map(|p| p.proposal.clone()).collect();
    assert_eq!(got, proposals);
    let names: Vec<&str> = run
        .proposals
        .iter()
        .map(|p| p.hoster_name.as_str())
        .collect();
    assert_eq!(names, ["Alpha Hosting", "Beta Cloud"]);
    assert_eq!(s.run(run.id).await.unwrap(), run);
    assert!(matches!(s.run(run.id + 100).await, Err(Error::NotFound(_))));

    // Bad runs are refused whole.
    let twice = new_run(t, vec![proposal(a, ProposalAction::List, vec![]); 2]);
    assert!(matches!(s.save_run(&twice).await, Err(Error::Invalid(_))));
    let unknown = new_run(t, vec![proposal(9999, ProposalAction::List, vec![])]);
    assert!(matches!(s.save_run(&unknown).await, Err(Error::Invalid(_))));
    let mut bad_rules = new_run(t, vec![]);
    bad_rules.rules.min_share_24h = 2.0;
    assert!(matches!(
        s.save_run(&bad_rules).await,
        Err(Error::Invalid(_))
    ));
    assert_eq!(s.runs(10).await.unwrap(), vec![run.clone()]);

    // A discarded run changes nothing and cannot be decided again.
    let other = s
        .save_run(&new_run(
            t + 1,
            vec![proposal(c, ProposalAction::List, vec![low.clone()])],
        ))
        .await
        .unwrap();
    let discarded = s
        .decide_run(
            other.id,
            false,
            "analyst-2",
            Millis(t + 2),
            &[mail("x-c", "abuse@c.example")],
        )
        .await
        .unwrap();
    assert_eq!(discarded.status, RunStatus::Discarded);
    assert_eq!(discarded.decided_by.as_deref(), Some("analyst-2"));
    assert!(matches!(
        s.decide_run(other.id, true, "analyst-2", Millis(t + 3), &[])
            .await,
        Err(Error::Conflict(_))
    ));
    let runs = s.runs(10).await.unwrap();
    assert_eq!(
        runs.iter().map(|r| r.id).collect::<Vec<_>>(),
        [other.id, run.id]
    );
    assert_eq!(s.runs(1).await.unwrap().len(), 1);

    // Approval: two listings, two events, two e-mails.
    let t1 = t + HOUR;
    let mails = [
        mail("noncoop-1-a", "abuse@a.example"),
        mail("noncoop-1-b", "abuse@b.example"),
    ];
    let approved = s
        .decide_run(run.id, true, "analyst-1", Millis(t1), &mails)
        .await
        .unwrap();
    assert_eq!(approved.status, RunStatus::Approved);
    assert_eq!(
        (approved.decided_by.as_deref(), approved.decided_at),
        (Some("analyst-1"), Some(Millis(t1)))
    );
    assert_eq!(
        e.raw
            .texts("SELECT ref FROM mail_outbox ORDER BY ref")
            .await,
        ["noncoop-1-a", "noncoop-1-b"]
    );
    assert_eq!(
        e.raw
            .texts("SELECT to_addrs FROM mail_outbox ORDER BY ref")
            .await,
        ["abuse@a.example", "abuse@b.example"]
    );
    let current = s.listings(true).await.unwrap();
    assert_eq!(
        current.iter().map(|l| l.hoster_id).collect::<Vec<_>>(),
        [b, a]
    );
    assert!(current.iter().all(|l| l.run_id == run.id
        && l.listed_at == Millis(t1)
        && l.listed_by == "analyst-1"
        && l.delisted_at.is_none()
        && l.explanation.is_none()));
    assert_eq!(current[0].reasons, [ignored.clone(), low.clone()]);
    assert_eq!(current[0].hoster_name, "Beta Cloud");
    let events = s.list_events(None, 10).await.unwrap();
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .all(|e| e.kind == "listed" && e.actor == "analyst-1")
    );
    assert_eq!(events[1].detail, low.to_string());
    assert_eq!(events[0].detail, format!("{ignored}; {low}"));
    assert!(matches!(
        s.decide_run(run.id, true, "analyst-1", Millis(t1), &mails)
            .await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        s.decide_run(run.id + 100, true, "analyst-1", Millis(t1), &[])
            .await,
        Err(Error::NotFound(_))
    ));

    // A run that would list a listed hoster again fails whole: no listing, no mail.
    let again = s
        .save_run(&new_run(
            t1,
            vec![
                proposal(c, ProposalAction::List, vec![low.clone()]),
                proposal(a, ProposalAction::List, vec![low.clone()]),
            ],
        ))
        .await
        .unwrap();
    match s
        .decide_run(
            again.id,
            true,
            "analyst-1",
            Millis(t1 + 1),
            &[mail("again-c", "abuse@c.example")],
        )
        .await
    {
        Err(Error::Conflict(m)) => assert!(m.contains("Alpha Hosting"), "{m}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(s.run(again.id).await.unwrap().status, RunStatus::Proposed);
    assert!(s.listing_of(c).await.unwrap().is_none());
    assert_eq!(
        e.raw
            .texts("SELECT ref FROM mail_outbox ORDER BY ref")
            .await
            .len(),
        2
    );
    s.decide_run(again.id, false, "analyst-1", Millis(t1 + 2), &[])
        .await
        .unwrap();

    // Explanations.
    let t2 = t1 + DAY;
    for bad in ["", "   \n ", "x".repeat(4001).as_str()] {
        assert!(matches!(
            s.submit_explanation(a, bad, "link", Millis(t2)).await,
            Err(Error::Invalid(_))
        ));
    }
    assert!(matches!(
        s.submit_explanation(c, "We are not even listed.", "link", Millis(t2))
            .await,
        Err(Error::Conflict(_))
    ));
    let longest = "é".repeat(4000);
    let x = s
        .submit_explanation(
            a,
            "  We removed everything; our abuse desk was short-staffed.\n",
            "key-a",
            Millis(t2),
        )
        .await
        .unwrap();
    assert_eq!(
        x.text,
        "We removed everything; our abuse desk was short-staffed."
    );
    assert_eq!(
        (
            x.status,
            x.hoster_id,
            x.hoster_name.as_str(),
            x.submitted_by.as_str(),
            x.submitted_at
        ),
        (
            ExplanationStatus::Pending,
            a,
            "Alpha Hosting",
            "key-a",
            Millis(t2)
        )
    );
    assert_eq!(x.listing_id, s.listing_of(a).await.unwrap().unwrap().id);
    let y = s
        .submit_explanation(b, &longest, "link", Millis(t2 + 1))
        .await
        .unwrap();
    assert_eq!(y.text.chars().count(), 4000);
    assert_eq!(
        s.explanations(Some(ExplanationStatus::Pending))
            .await
            .unwrap()
            .iter()
            .map(|x| x.id)
            .collect::<Vec<_>>(),
        [y.id, x.id]
    );
    assert!(
        s.explanations(Some(ExplanationStatus::Approved))
            .await
            .unwrap()
            .is_empty()
    );
    let t3 = t2 + HOUR;
    let ok = s
        .review_explanation(x.id, true, "analyst-2", Some("  "), Millis(t3))
        .await
        .unwrap();
    assert_eq!(
        (
            ok.status,
            ok.reviewed_by.as_deref(),
            ok.reviewed_at,
            ok.note.as_deref()
        ),
        (
            ExplanationStatus::Approved,
            Some("analyst-2"),
            Some(Millis(t3)),
            None
        )
    );
    let no = s
        .review_explanation(
            y.id,
            false,
            "analyst-2",
            Some("Too long, say it shorter."),
            Millis(t3),
        )
        .await
        .unwrap();
    assert_eq!(
        (no.status, no.note.as_deref()),
        (
            ExplanationStatus::Rejected,
            Some("Too long, say it shorter.")
        )
    );
    assert!(matches!(
        s.review_explanation(x.id, false, "analyst-2", None, Millis(t3))
            .await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        s.review_explanation(y.id + 100, true, "analyst-2", None, Millis(t3))
            .await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(s.explanations(None).await.unwrap().len(), 2);
    assert_eq!(s.explanations_of(a).await.unwrap(), vec![ok.clone()]);
    assert_eq!(s.explanations_of(b).await.unwrap(), vec![no.clone()]);
    assert!(s.explanations_of(c).await.unwrap().is_empty());
    let current = s.listings(true).await.unwrap();
    assert_eq!(current[1].explanation.as_ref(), Some(&ok));
    assert_eq!(
        current[0].explanation, None,
        "a rejected explanation is not shown"
    );
    assert_eq!(
        s.listing_of(a).await.unwrap().unwrap().explanation,
        Some(ok.clone())
    );

    // A later run delists both.
    let t4 = t3 + 30 * DAY;
    let later = s
        .save_run(&new_run(
            t4,
            vec![
                proposal(a, ProposalAction::Delist, vec![]),
                proposal(b, ProposalAction::Delist, vec![]),
            ],
        ))
        .await
        .unwrap();
    s.decide_run(later.id, true, "analyst-3", Millis(t4), &[])
        .await
        .unwrap();
    assert!(s.listings(true).await.unwrap().is_empty());
    assert!(s.listing_of(a).await.unwrap().is_none());
    let all = s.listings(false).await.unwrap();
    assert_eq!(all.iter().map(|l| l.hoster_id).collect::<Vec<_>>(), [b, a]);
    assert!(all.iter().all(
        |l| l.delisted_at == Some(Millis(t4)) && l.delisted_by.as_deref() == Some("analyst-3")
    ));
    assert_eq!(all[1].explanation, Some(ok.clone()));
    assert!(matches!(
        s.submit_explanation(a, "Still here.", "link", Millis(t4 + 1))
            .await,
        Err(Error::Conflict(_))
    ));
    let mut history = s.list_events(Some(a), 100).await.unwrap();
    history.reverse();
    assert_eq!(
        history.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        [
            "listed",
            "explanation_submitted",
            "explanation_approved",
            "delisted"
        ]
    );
    assert_eq!(
        history
            .iter()
            .map(|e| (e.actor.as_str(), e.at))
            .collect::<Vec<_>>(),
        [
            ("analyst-1", Millis(t1)),
            ("key-a", Millis(t2)),
            ("analyst-2", Millis(t3)),
            ("analyst-3", Millis(t4))
        ]
    );
    assert!(
        history
            .iter()
            .all(|e| e.hoster_name == "Alpha Hosting" && e.listing_id == x.listing_id)
    );
    assert_eq!(s.list_events(None, 100).await.unwrap().len(), 8);
    assert_eq!(s.list_events(None, 3).await.unwrap().len(), 3);
    assert_eq!(
        s.list_events(Some(b), 100).await.unwrap()[1].detail,
        format!("explanation {}: Too long, say it shorter.", y.id)
    );

    // Listed again later: a new listing, the old one stays in the history.
    let relist = s
        .save_run(&new_run(
            t4 + DAY,
            vec![proposal(a, ProposalAction::List, vec![low.clone()])],
        ))
        .await
        .unwrap();
    s.decide_run(relist.id, true, "analyst-1", Millis(t4 + DAY), &[])
        .await
        .unwrap();
    let now_listed = s.listing_of(a).await.unwrap().unwrap();
    assert_ne!(now_listed.id, x.listing_id);
    assert_eq!(
        now_listed.explanation, None,
        "explanations belong to their listing"
    );
    assert_eq!(s.listings(false).await.unwrap().len(), 3);
    let delist_unlisted = s
        .save_run(&new_run(
            t4 + 2 * DAY,
            vec![proposal(c, ProposalAction::Delist, vec![])],
        ))
        .await
        .unwrap();
    assert!(matches!(
        s.decide_run(
            delist_unlisted.id,
            true,
            "analyst-1",
            Millis(t4 + 2 * DAY),
            &[]
        )
        .await,
        Err(Error::Conflict(_))
    ));
}

/// A hand-made set: each drill-down and the overdue list return exactly the expected cases.
async fn drill_and_overdue(e: Env) {
    let h1 = hoster(&e, "One", None).await;
    let h2 = hoster(&e, "Two", None).await;
    let now = 1_780_000_000_000;
    let at = |d: i64, h: i64| now - d * DAY + h * HOUR;
    let mut rows = Vec::new();
    let mut add = |id: i64, hoster: i64, notified: i64, f: &dyn Fn(&mut Row)| {
        let mut r = Row::new(id, hoster, notified);
        f(&mut r);
        rows.push(r);
    };
    add(1, h1, at(10, 0), &|r| {
        r.removed_at = Some(r.notified_at.unwrap() + 2 * HOUR)
    });
    add(2, h1, at(9, 0), &|r| {
        r.removed_at = Some(r.notified_at.unwrap() + 30 * HOUR);
        r.reminded_at = Some(r.notified_at.unwrap() + DAY);
    });
    add(3, h1, at(8, 0), &|r| {
        r.category = "terrorism";
        r.reminded_at = Some(r.notified_at.unwrap() + DAY);
        r.escalated_at = Some(r.notified_at.unwrap() + 3 * DAY);
        r.open = true;
    });
    add(4, h2, at(7, 0), &|r| {
        r.removed_at = Some(now + HOUR);
        r.reminded_at = Some(now + 2 * HOUR);
        r.open = true;
    });
    add(5, h2, at(0, -2), &|r| r.open = true);
    add(6, h1, at(20, 0), &|r| r.open = true);
    add(7, h1, at(3, 0), &|_| {});
    add(8, h2, at(0, 1), &|r| r.open = true);
    add(9, h1, at(6, 0), &|r| {
        r.notified_at = None;
        r.open = true;
    });
    add(10, h1, at(6, 0), &|r| {
        r.hoster_id = None;
        r.open = true;
    });
    add(11, h1, at(5, 0), &|r| {
        r.removed_at = Some(r.notified_at.unwrap() + DAY)
    });
    insert_cases(&e, &rows).await;

    let period = Period::custom(Millis(now - 15 * DAY), Millis(now + DAY)).unwrap();
    let q = |which: Drill, hoster: Option<i64>, category: Option<&str>, limit: u32| DrillQuery {
        period,
        now: Millis(now),
        hoster,
        category: category.map(String::from),
        which,
        limit,
    };
    let ids = |v: Vec<CaseFacts>| v.iter().map(|c| c.case_id).collect::<Vec<_>>();
    let cases = [
        (q(Drill::All, None, None, 100), vec![5, 7, 11, 4, 3, 2, 1]),
        (q(Drill::Removed, None, None, 100), vec![11, 2, 1]),
        (q(Drill::Within24h, None, None, 100), vec![11, 1]),
        (q(Drill::Late, None, None, 100), vec![2]),
        (q(Drill::Online, None, None, 100), vec![5, 7, 4, 3]),
        (q(Drill::Reminded, None, None, 100), vec![3, 2]),
        (q(Drill::Escalated, None, None, 100), vec![3]),
        (q(Drill::All, Some(h2), None, 100), vec![5, 4]),
        (q(Drill::All, None, Some("terrorism"), 100), vec![3]),
        (q(Drill::Online, Some(h1), Some("csam"), 100), vec![7]),
        (q(Drill::All, None, None, 2), vec![5, 7]),
    ];
    for (query, want) in cases {
        let got = ids(e.monitor.cases_behind(&query).await.unwrap());
        assert_eq!(got, want, "{query:?}");
    }
    let one = e
        .monitor
        .cases_behind(&q(Drill::Late, None, None, 10))
        .await
        .unwrap();
    assert_eq!(one, vec![rows[1].facts().unwrap()], "the facts as stored");

    let overdue = |norm: i64, limit: u32| {
        let m = Arc::clone(&e.monitor);
        async move { ids(m.overdue(Millis(now), norm, limit).await.unwrap()) }
    };
    assert_eq!(overdue(DAY, 100).await, [6, 3, 4]);
    assert_eq!(overdue(DAY, 2).await, [6, 3]);
    assert_eq!(overdue(7 * DAY + 12 * HOUR, 100).await, [6, 3]);
    assert_eq!(overdue(HOUR, 100).await, [6, 3, 4, 5]);
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let url = format!("sqlite://{}", dir.path().join("t.db").display());
                    super::$name(super::env(&url).await).await;
                }
            )*
        }

        mod postgres {
            use super::TempPostgres;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if TempPostgres::skipped() {
                        eprintln!("SCHOON_SKIP_PG=1: skipping the PostgreSQL scenario");
                        return;
                    }
                    let pg = TempPostgres::start().expect("start PostgreSQL");
                    let url = pg.fresh_database(stringify!($name)).unwrap();
                    super::$name(super::env(&url).await).await;
                }
            )*
        }
    };
}

scenarios!(summary_equivalence, list_flow, drill_and_overdue);
