//! Notices, re-checks, reminders and escalation on both backends, with real parts on
//! loopback: an SMTP server (aiosmtpd) that receives the notices, an HTTP server that plays
//! the reported site (and a hoster's webhook), a DNS server that names it, and a
//! [`ManualClock`] that the test moves through the 24-hour norm and the 72-hour escalation.
//!
//! Every scenario runs on SQLite and on a throwaway PostgreSQL server.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use lists::{Clock, ManualClock, Millis};
use mail::testing::SmtpSink;
use ntd::case::{Action, CaseFilter, NewReport, Submitter, validate};
use ntd::dns::{DnsConfig, Resolver};
use ntd::fetch::{FetchConfig, Fetcher};
use ntd::notice::{NoticeKind, Template};
use ntd::notifier::{Escalation, Notifier, NotifierConfig, TickReport};
use ntd::register::{Channel, HosterFields};
use ntd::takedown::{HosterResponse, NoticeStatus, NoticeStore};
use ntd::testing::{TestDns, TestRecord};
use ntd::{CaseState, CaseStore, Error, Source};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::testing::TempPostgres;

/// 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const WAIT: Duration = Duration::from_secs(20);

struct Env {
    cases: Arc<dyn CaseStore>,
    notices: Arc<dyn NoticeStore>,
    clock: Arc<ManualClock>,
}

async fn env(url: &str) -> Env {
    let clock = Arc::new(ManualClock::new(Millis(T0)));
    let stores = store::open_stores(url, Arc::clone(&clock) as Arc<dyn Clock>)
        .await
        .unwrap();
    Env {
        cases: stores.cases,
        notices: stores.notices,
        clock,
    }
}

/// The reported site and a webhook receiver: paths answer what `pages` says (200 with a body,
/// or a status), webhook calls are kept with their headers.
#[derive(Clone, Default)]
struct Site {
    pages: Arc<Mutex<HashMap<String, u16>>>,
    hooks: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    hits: Arc<Mutex<usize>>,
}

impl Site {
    fn set(&self, path: &str, status: u16) {
        self.pages.lock().unwrap().insert(path.to_string(), status);
    }
}

async fn page(State(site): State<Site>, Path(p): Path<String>) -> (StatusCode, String) {
    *site.hits.lock().unwrap() += 1;
    let status = site.pages.lock().unwrap().get(&p).copied().unwrap_or(404);
    (
        StatusCode::from_u16(status).unwrap(),
        format!("<html><body>page {p}</body></html>"),
    )
}

async fn hook(State(site): State<Site>, headers: HeaderMap, body: String) -> StatusCode {
    site.hooks.lock().unwrap().push((headers, body));
    StatusCode::ACCEPTED
}

async fn start_site() -> (Site, u16) {
    let site = Site::default();
    let app = Router::new()
        .route("/p/{p}", get(page))
        .route("/hook", post(hook))
        .with_state(site.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (site, port)
}

fn fetcher(dns: &TestDns) -> Fetcher {
    let resolver = Resolver::new(&DnsConfig {
        servers: vec![dns.addr()],
        ..DnsConfig::default()
    })
    .unwrap();
    Fetcher::new(
        resolver,
        FetchConfig {
            allow_loopback: true,
            timeout: Duration::from_secs(5),
            ..FetchConfig::default()
        },
    )
    .unwrap()
}

fn mailer(url: &str) -> mail::Mailer {
    mail::Mailer::new(mail::SmtpConfig::parse(url, "Hotline <hotline@schoon.example>").unwrap())
        .unwrap()
}

fn notifier(e: &Env, mailer: Option<mail::Mailer>, dns: &TestDns) -> Notifier {
    Notifier::new(
        Arc::clone(&e.cases),
        Arc::clone(&e.notices),
        mailer,
        fetcher(dns),
        Arc::clone(&e.clock) as Arc<dyn Clock>,
        NotifierConfig {
            escalation: Some(Escalation {
                name: "Upstream Transit".into(),
                email: "noc@upstream.example".into(),
            }),
            portal_base: "http://127.0.0.1:9".into(),
            ..NotifierConfig::default()
        },
    )
}

async fn hoster(e: &Env, name: &str, channel: Channel, webhook: Option<String>) -> i64 {
    e.cases
        .create_hoster(
            &HosterFields {
                name: name.into(),
                abuse: vec![format!(
                    "abuse@{}.example",
                    name.to_lowercase().replace(' ', "-")
                )],
                channel,
                webhook_url: webhook,
                coc_member: true,
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

/// Reports `urls`, judges them actionable and names `hoster_id` as the party.
async fn actionable(e: &Env, urls: &[String], hoster_id: i64) -> Vec<i64> {
    let reports = urls
        .iter()
        .map(|u| NewReport {
            url: u.clone(),
            category: "csam".into(),
            source: Source::Public,
            contact: None,
            text: None,
            external_ref: None,
        })
        .collect();
    let (ok, bad) = validate(reports, &["csam".to_string()]);
    assert!(bad.is_empty(), "{bad:?}");
    let out = e
        .cases
        .submit(
            &Submitter {
                actor: "public".into(),
                org_id: None,
            },
            ok,
        )
        .await
        .unwrap();
    let mut ids = Vec::new();
    for o in out {
        let id = o.case_id.unwrap();
        e.cases.act(id, "analyst", &Action::Assess).await.unwrap();
        e.cases
            .act(id, "analyst", &Action::Actionable { reason: None })
            .await
            .unwrap();
        e.cases
            .act(
                id,
                "analyst",
                &Action::SetHoster {
                    hoster_id,
                    reason: None,
                },
            )
            .await
            .unwrap();
        ids.push(id);
    }
    ids
}

async fn state_of(e: &Env, id: i64) -> CaseState {
    e.cases.case(id).await.unwrap().unwrap().state
}

async fn tick(n: &Notifier) -> TickReport {
    n.tick().await.unwrap()
}

fn advance(e: &Env, ms: i64) {
    e.clock.set(Millis(e.clock.now().0 + ms));
}

/// Report → notice by e-mail (one per hoster) and webhook → re-check → hoster says removed →
/// re-check finds it gone → closed with that check's time; a late case gets its reminder
/// after 24 h and its escalation after 72 h, each exactly once.
async fn flow(e: Env) {
    let sink = SmtpSink::start().expect("aiosmtpd (scripts/setup.sh --test)");
    let (site, port) = start_site().await;
    let dns = TestDns::start(&[
        (
            "www.host-a.example",
            TestRecord::A("127.0.0.1".parse().unwrap()),
        ),
        (
            "www.host-b.example",
            TestRecord::A("127.0.0.1".parse().unwrap()),
        ),
    ])
    .unwrap();
    let a = hoster(&e, "Host A", Channel::Email, None).await;
    let b = hoster(
        &e,
        "Host B",
        Channel::Webhook,
        Some(format!("http://www.host-b.example:{port}/hook")),
    )
    .await;
    let urls_a: Vec<String> = (1..=3)
        .map(|i| format!("http://www.host-a.example:{port}/p/a{i}"))
        .collect();
    for i in 1..=3 {
        site.set(&format!("a{i}"), 200);
    }
    site.set("b1", 200);
    let ca = actionable(&e, &urls_a, a).await;
    let cb = actionable(&e, &[format!("http://www.host-b.example:{port}/p/b1")], b).await;
    let n = notifier(&e, Some(mailer(&sink.url())), &dns);

    // One tick: one notice per hoster (one e-mail with all three URLs, one webhook call),
    // sent, and the first re-check of every case (all online).
    let r = tick(&n).await;
    assert_eq!((r.notices, r.cases_noticed, r.sent), (2, 4, 2), "{r:?}");
    assert_eq!(r.checks, 4, "{r:?}");
    let mails = sink.wait_for(1, WAIT).await.unwrap();
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert_eq!(m.to, ["abuse@host-a.example"]);
    for u in &urls_a {
        assert!(m.text.contains(u.as_str()), "{u} missing in:\n{}", m.text);
    }
    let reference = m.header("X-Schoon-Ref").unwrap().to_string();
    assert!(m.text.contains(&reference));
    assert!(
        m.text.contains("http://127.0.0.1:9/portal/t/"),
        "{}",
        m.text
    );
    assert_eq!(
        m.header("Message-ID").unwrap(),
        format!("<{reference}@schoon.example>")
    );
    let json: serde_json::Value = serde_json::from_slice(&m.attachments[0].bytes).unwrap();
    assert_eq!(json["reference"], reference.as_str());
    assert_eq!(json["items"].as_array().unwrap().len(), 3);

    let hooks = site.hooks.lock().unwrap().clone();
    assert_eq!(hooks.len(), 1);
    let secret = ntd::notifier::webhook_secret(&e.notices.secret("webhook").await.unwrap(), b);
    let sig = hooks[0].0["schoon-signature"].to_str().unwrap();
    ntd::notice::verify_webhook(
        secret.as_bytes(),
        sig,
        hooks[0].1.as_bytes(),
        T0 / 1000,
        300,
    )
    .expect("the webhook call is signed with the shared secret");

    for id in ca.iter().chain(&cb) {
        let c = e.cases.case(*id).await.unwrap().unwrap();
        assert_eq!(c.state, CaseState::Notified);
    }
    let notice = e.notices.notice(&reference).await.unwrap().unwrap();
    assert_eq!(notice.status, NoticeStatus::Sent);
    assert_eq!(notice.case_ids, ca);
    assert_eq!(notice.sent_at, Some(Millis(T0)));

    // A second tick right away: nothing new to send, no re-check due yet.
    let r = tick(&n).await;
    assert_eq!(r, TickReport::default());

    // 30 minutes on, Host A says case 1 is gone, and it is: the re-check runs at once and
    // the case closes with the check's time as the removal time.
    advance(&e, 30 * MIN);
    let pc = e
        .notices
        .respond(
            a,
            ca[0],
            &HosterResponse::Removed { note: None },
            "portal",
            e.clock.now(),
        )
        .await
        .unwrap();
    assert_eq!(pc.hoster_said.as_deref(), Some("removed"));
    // Another hoster cannot answer for it.
    let err = e
        .notices
        .respond(
            b,
            ca[0],
            &HosterResponse::Removed { note: None },
            "portal",
            e.clock.now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    site.set("a1", 404);
    advance(&e, MIN);
    let removal = e.clock.now();
    let r = tick(&n).await;
    assert_eq!((r.checks, r.offline), (1, 1), "{r:?}");
    let c1 = e.cases.case(ca[0]).await.unwrap().unwrap();
    assert_eq!(c1.state, CaseState::Closed);
    let portal = e.notices.portal_cases(a, Millis(0)).await.unwrap();
    let p1 = portal.iter().find(|p| p.case_id == ca[0]).unwrap();
    assert_eq!(p1.removed_at, Some(removal));
    let events = e.cases.events(ca[0]).await.unwrap();
    assert!(
        events
            .iter()
            .any(|ev| ev.to_state == Some(CaseState::Removed) && ev.at == removal),
        "{events:?}"
    );

    // Case 2 goes at 20 h without a word from the hoster; the scheduled check finds it.
    site.set("a2", 410);
    e.clock.set(Millis(T0 + 20 * HOUR));
    tick(&n).await; // the 12 h check point is long past: one check now
    assert_eq!(state_of(&e, ca[1]).await, CaseState::Closed);

    // Case 3 and Host B's case stay online: at 24 h + 1 min each hoster gets one reminder.
    e.clock.set(Millis(T0 + 24 * HOUR + MIN));
    let r = tick(&n).await;
    assert_eq!((r.reminders, r.cases_noticed), (2, 2), "{r:?}");
    let mails = sink.wait_for(2, WAIT).await.unwrap();
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[1].to, ["abuse@host-a.example"]);
    assert!(mails[1].text.contains(&urls_a[2]));
    assert!(!mails[1].text.contains(&urls_a[0]), "{}", mails[1].text);
    assert_eq!(site.hooks.lock().unwrap().len(), 2);
    // ... and only one: more ticks later send nothing more.
    advance(&e, HOUR);
    let r = tick(&n).await;
    assert_eq!((r.reminders, r.escalations, r.sent), (0, 0, 0), "{r:?}");

    // At 72 h + 1 min: one escalation per hoster, to the upstream.
    e.clock.set(Millis(T0 + 72 * HOUR + MIN));
    let r = tick(&n).await;
    assert_eq!(r.escalations, 2, "{r:?}");
    let mails = sink.wait_for(4, WAIT).await.unwrap();
    let esc: Vec<_> = mails
        .iter()
        .filter(|m| m.to == ["noc@upstream.example"])
        .collect();
    assert_eq!(esc.len(), 2);
    assert!(esc.iter().any(|m| m.text.contains(&urls_a[2])));
    advance(&e, 24 * HOUR);
    let r = tick(&n).await;
    assert_eq!((r.reminders, r.escalations), (0, 0), "{r:?}");
    assert_eq!(sink.messages().len(), 4);
    let events = e.cases.events(ca[2]).await.unwrap();
    for kind in ["reminder", "escalation"] {
        assert!(
            events.iter().any(|ev| ev.kind == kind),
            "no {kind} event: {events:?}"
        );
    }
    assert_eq!(state_of(&e, ca[2]).await, CaseState::Notified);
}

/// A notice that cannot be sent (no SMTP server) stays queued with its failed attempt on the
/// case; a restarted sender with a server sends it exactly once, and two senders working
/// the same queue at once send each notice once.
async fn exactly_once(e: Env) {
    let (site, port) = start_site().await;
    let dns = TestDns::start(&[(
        "www.host-a.example",
        TestRecord::A("127.0.0.1".parse().unwrap()),
    )])
    .unwrap();
    site.set("x", 200);
    let a = hoster(&e, "Host A", Channel::Email, None).await;
    let ids = actionable(&e, &[format!("http://www.host-a.example:{port}/p/x")], a).await;

    // A port where nothing listens: connection refused, a transient failure.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("smtp://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let first = notifier(&e, Some(mailer(&dead)), &dns);
    let r = tick(&first).await;
    assert_eq!((r.notices, r.sent, r.send_failures), (1, 0, 1), "{r:?}");
    assert_eq!(state_of(&e, ids[0]).await, CaseState::Actionable);
    let events = e.cases.events(ids[0]).await.unwrap();
    assert!(
        events
            .iter()
            .any(|ev| ev.kind == "attempt" && ev.message.contains("attempt 1 failed")),
        "{events:?}"
    );
    drop(first);

    // "Restart" with a working server, twice over, with two senders each time.
    let sink = SmtpSink::start().unwrap();
    advance(&e, MIN);
    let (x, y) = (
        notifier(&e, Some(mailer(&sink.url())), &dns),
        notifier(&e, Some(mailer(&sink.url())), &dns),
    );
    let (rx, ry) = tokio::join!(x.tick(), y.tick());
    let (rx, ry) = (rx.unwrap(), ry.unwrap());
    assert_eq!(rx.sent + ry.sent, 1, "{rx:?} {ry:?}");
    assert_eq!(rx.notices + ry.notices, 0);
    advance(&e, 10 * MIN);
    let (rx, ry) = tokio::join!(x.tick(), y.tick());
    assert_eq!(rx.unwrap().sent + ry.unwrap().sent, 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.wait_for(1, WAIT).await.unwrap().len(), 1);
    assert_eq!(state_of(&e, ids[0]).await, CaseState::Notified);

    // Two replicas reaching the reminder at the same instant queue and send it once.
    e.clock.set(Millis(T0 + 25 * HOUR));
    let (rx, ry) = tokio::join!(x.tick(), y.tick());
    let (rx, ry) = (rx.unwrap(), ry.unwrap());
    assert_eq!(rx.reminders + ry.reminders, 1, "{rx:?} {ry:?}");
    assert_eq!(rx.sent + ry.sent, 1, "{rx:?} {ry:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 2);
}

/// Saved templates are used for the next notice; a template that does not render is refused
/// by the check every caller runs before saving.
async fn templates(e: Env) {
    let sink = SmtpSink::start().unwrap();
    let (site, port) = start_site().await;
    let dns = TestDns::start(&[(
        "www.host-a.example",
        TestRecord::A("127.0.0.1".parse().unwrap()),
    )])
    .unwrap();
    site.set("t", 200);
    let stored = e.notices.templates().await.unwrap();
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().all(|t| t.updated.is_none()));
    let custom = Template {
        kind: NoticeKind::Notice,
        subject: "Takedown {{ reference }} for {{ hoster }}".into(),
        body: "Dear {{ hoster }},\n{% for i in items %}- {{ i.url }}\n{% endfor %}Portal: {{ portal_url }}\n"
            .into(),
    };
    ntd::notice::check_template(&custom).unwrap();
    e.notices
        .save_template(&custom, "analyst", e.clock.now())
        .await
        .unwrap();
    let bad = Template {
        body: "{{ no_such_variable }}".into(),
        ..custom.clone()
    };
    assert!(ntd::notice::check_template(&bad).is_err());

    let a = hoster(&e, "Host A", Channel::Email, None).await;
    let url = format!("http://www.host-a.example:{port}/p/t");
    actionable(&e, std::slice::from_ref(&url), a).await;
    let n = notifier(&e, Some(mailer(&sink.url())), &dns);
    tick(&n).await;
    let m = &sink.wait_for(1, WAIT).await.unwrap()[0];
    assert!(m.subject.starts_with("Takedown N-"), "{}", m.subject);
    assert!(m.subject.ends_with("for Host A"), "{}", m.subject);
    assert!(m.text.starts_with("Dear Host A,\n- "), "{}", m.text);
    assert!(m.text.contains(&url));
    let all = e.cases.cases(&CaseFilter::default()).await.unwrap().1;
    assert_eq!(all, 1);
}

/// A case whose party attribution found only in the RIR data (an abuse-c mailbox, not in the
/// register) is noticed too: the party gets a register entry, once, and later cases of the
/// same party join it.
async fn party_outside_the_register(e: Env) {
    let sink = SmtpSink::start().unwrap();
    let (site, port) = start_site().await;
    let dns = TestDns::start(&[(
        "www.abroad.example",
        TestRecord::A("127.0.0.1".parse().unwrap()),
    )])
    .unwrap();
    site.set("r1", 200);
    site.set("r2", 200);
    let party = ntd::attribution::Party {
        hoster_id: None,
        name: "Abroad Hosting Ltd".into(),
        abuse: vec!["abuse@abroad.example".into()],
        coc_member: None,
        source: "RIPE abuse-c".into(),
    };
    let n = notifier(&e, Some(mailer(&sink.url())), &dns);
    for (i, path) in ["r1", "r2"].iter().enumerate() {
        let url = format!("http://www.abroad.example:{port}/p/{path}");
        let (ok, _) = validate(
            vec![NewReport {
                url: url.clone(),
                category: "csam".into(),
                source: Source::Public,
                contact: None,
                text: None,
                external_ref: None,
            }],
            &["csam".to_string()],
        );
        let id = e
            .cases
            .submit(
                &Submitter {
                    actor: "public".into(),
                    org_id: None,
                },
                ok,
            )
            .await
            .unwrap()[0]
            .case_id
            .unwrap();
        let mut a = e.cases.attribution(id).await.unwrap().unwrap_or_else(|| {
            ntd::attribution::Attribution {
                host: "www.abroad.example".into(),
                at: e.clock.now(),
                cnames: Vec::new(),
                addrs: Vec::new(),
                notify: None,
                hoster: None,
                cdn: None,
                country: None,
                evidence: Vec::new(),
                error: None,
            }
        });
        a.notify = Some(party.clone());
        e.cases.save_attribution(id, &a).await.unwrap();
        e.cases.act(id, "analyst", &Action::Assess).await.unwrap();
        e.cases
            .act(id, "analyst", &Action::Actionable { reason: None })
            .await
            .unwrap();
        let r = tick(&n).await;
        assert_eq!((r.notices, r.sent), (1, 1), "case {i}: {r:?}");
        let c = e.cases.case(id).await.unwrap().unwrap();
        assert_eq!(c.state, CaseState::Notified);
        assert_eq!(c.hoster_name.as_deref(), Some("Abroad Hosting Ltd"));
    }
    let registered: Vec<_> = e
        .cases
        .hosters()
        .await
        .unwrap()
        .into_iter()
        .filter(|h| h.name == "Abroad Hosting Ltd")
        .collect();
    assert_eq!(registered.len(), 1, "one register entry for the party");
    assert_eq!(registered[0].abuse, ["abuse@abroad.example"]);
    assert!(registered[0].asns.is_empty() && registered[0].prefixes.is_empty());
    let mails = sink.wait_for(2, WAIT).await.unwrap();
    assert!(mails.iter().all(|m| m.to == ["abuse@abroad.example"]));
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
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
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
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

scenarios!(flow, exactly_once, templates, party_outside_the_register);
