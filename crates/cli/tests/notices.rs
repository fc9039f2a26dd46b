//! Notice and takedown, part 2, end to end with real parts: a real `schoon serve` process, a
//! real SMTP server (aiosmtpd) that receives the notices, a real DNS server and real HTTP
//! servers on loopback that play the reported sites, headless chromium for the analyst and
//! the hoster portal, and a clock file that moves the running server's time.
//!
//! * `report_to_removal_and_a_late_case`: report → assess (browser) → attribution → notice
//!   e-mail → the hoster follows the notice's link and confirms removal in the portal → the
//!   re-check finds the page gone → the case is closed with that check as its removal time.
//!   A second hoster ignores its notice: it gets one reminder after 24 h and the authority one
//!   escalation after 72 h.
//! * `a_notice_queued_when_the_service_dies_is_sent_once`: kill -9 while a notice is queued
//!   (its first attempt failed), restart twice: exactly one e-mail.

mod common;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use common::browser::Browser;
use mail::testing::SmtpSink;
use ntd::testing::{TestDns, TestRecord};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const HOUR_MS: i64 = 3_600_000;
const WAIT: Duration = Duration::from_secs(30);

/// The reported sites: each path answers the status set for it (200 with a page by default).
#[derive(Clone, Default)]
struct Site(Arc<Mutex<HashMap<String, u16>>>);

impl Site {
    fn set(&self, path: &str, status: u16) {
        self.0.lock().unwrap().insert(path.to_string(), status);
    }
}

async fn page(State(site): State<Site>, Path(p): Path<String>) -> (StatusCode, String) {
    let status = site.0.lock().unwrap().get(&p).copied().unwrap_or(200);
    (
        StatusCode::from_u16(status).unwrap(),
        format!("<html><body><h1>Gallery</h1><p>page {p}</p></body></html>"),
    )
}

/// Serves the site on `ip` (any loopback address); returns its port.
async fn serve_site(site: &Site, ip: Ipv4Addr) -> u16 {
    let app = Router::new()
        .route("/p/{p}", get(page))
        .with_state(site.clone());
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

fn add_hoster(db: &str, name: &str, prefix: &str, abuse: &str) {
    common::ok(common::schoon(&[
        "hosters", "add", name, "--db", db, "--prefix", prefix, "--abuse", abuse, "--coc",
    ]));
}

fn api(addr: &str, method: &str, path: &str, key: &str, body: &Value) -> (u16, Value) {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    common::http(addr, method, path, key, "application/json", &body)
}

/// Reports `url` over the API; returns the case id.
fn report(addr: &str, key: &str, url: &str) -> i64 {
    let (status, body) = api(
        addr,
        "POST",
        "/v1/reports",
        key,
        &json!({"category": "csam", "urls": [url]}),
    );
    assert_eq!(status, 200, "{body}");
    body["outcomes"][0]["case_id"].as_i64().expect("a case id")
}

fn case(addr: &str, key: &str, id: i64) -> Value {
    let (status, body) = api(addr, "GET", &format!("/v1/cases/{id}"), key, &Value::Null);
    assert_eq!(status, 200, "{body}");
    body
}

/// Polls the case until `pred` holds (at most [`WAIT`]).
fn wait_case(addr: &str, key: &str, id: i64, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let c = case(addr, key, id);
        if pred(&c) {
            return c;
        }
        assert!(
            started.elapsed() < WAIT,
            "case {id} never got {what}: {c:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn set_clock(file: &std::path::Path, offset_ms: i64) {
    std::fs::write(file, offset_ms.to_string()).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn report_to_removal_and_a_late_case() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("s.db").display());
    let clock = dir.path().join("clock");
    set_clock(&clock, 0);
    let sink = SmtpSink::start().expect("aiosmtpd (scripts/setup.sh --test)");
    let site = Site::default();
    let port_a = serve_site(&site, Ipv4Addr::new(127, 0, 0, 1)).await;
    let port_late = serve_site(&site, Ipv4Addr::new(127, 0, 0, 2)).await;
    let dns = TestDns::start(&[
        (
            "shop.hoster-a.example",
            TestRecord::A(Ipv4Addr::new(127, 0, 0, 1)),
        ),
        (
            "www.late-host.example",
            TestRecord::A(Ipv4Addr::new(127, 0, 0, 2)),
        ),
    ])
    .unwrap();
    let key = common::analyst_key(&db);
    add_hoster(
        &db,
        "Hoster A B.V.",
        "127.0.0.1/32",
        "abuse@hoster-a.example",
    );
    add_hoster(
        &db,
        "Late Host Ltd",
        "127.0.0.2/32",
        "abuse@late-host.example",
    );
    let dns_addr = dns.addr().to_string();
    let smtp = sink.url();
    let clock_arg = clock.to_string_lossy().into_owned();
    let (mut child, addr) = common::spawn_serve_with(
        &db,
        "0.5",
        &[
            "--dns",
            &dns_addr,
            "--smtp",
            &smtp,
            "--mail-from",
            "Hotline <hotline@schoon.example>",
            "--recheck-allow-loopback",
            "--notice-every",
            "0.3",
            "--escalate-to",
            "Police unit <police@authority.example>",
            "--test-clock-file",
            &clock_arg,
            "--metrics-public",
        ],
    );
    let base = format!("http://{addr}");
    let url_a = format!("http://shop.hoster-a.example:{port_a}/p/gallery-1");
    let url_late = format!("http://www.late-host.example:{port_late}/p/late-1");
    let id_a = report(&addr, &key, &url_a);
    let id_late = report(&addr, &key, &url_late);

    // The analyst assesses the first case in the browser, and the late one over the API.
    let b = Browser::start().await;
    b.goto(&format!("{base}/ui/cases/{id_a}")).await;
    b.fill("#key", &key).await;
    b.click("#signin").await;
    b.click("#do-assess").await;
    b.click("#do-actionable").await;
    b.wait_attr("#state", "data-state", "actionable").await;
    for action in [json!({"action": "assess"}), json!({"action": "actionable"})] {
        let (s, body) = api(
            &addr,
            "POST",
            &format!("/v1/cases/{id_late}/actions"),
            &key,
            &action,
        );
        assert_eq!(s, 200, "{body}");
    }

    // Attribution names the hosters from the register; the scheduler sends one notice each.
    let mails = sink.wait_for(2, WAIT).await.unwrap();
    let notice_a = mails
        .iter()
        .find(|m| m.to == ["abuse@hoster-a.example"])
        .expect("a notice to Hoster A");
    assert!(notice_a.text.contains(&url_a), "{}", notice_a.text);
    assert!(!notice_a.text.contains(&url_late), "{}", notice_a.text);
    let reference = notice_a.header("X-Schoon-Ref").unwrap().to_string();
    assert!(reference.starts_with("N-"), "{reference}");
    assert!(
        notice_a
            .attachments
            .iter()
            .any(|a| a.content_type.starts_with("application/json")),
        "the notice has its JSON part"
    );
    let c = wait_case(&addr, &key, id_a, "notified", |c| c["state"] == "notified");
    assert_eq!(c["hoster_name"], "Hoster A B.V.");
    let link = notice_a
        .text
        .split_whitespace()
        .find(|w| w.contains("/portal/t/"))
        .expect("a portal link in the notice")
        .to_string();
    assert!(link.starts_with(&base), "{link}");

    // The case page shows the notice.
    b.goto(&format!("{base}/ui/cases/{id_a}")).await;
    assert!(b.text("#notice-list").await.contains(&reference));

    // The hoster follows the link, sees its own notice only, removes the page and says so.
    b.goto(&link).await;
    assert_eq!(b.text("#hoster").await, "Hoster A B.V.");
    let open = b.text("#open-cases").await;
    assert!(open.contains(&url_a), "{open}");
    assert!(!open.contains(&url_late), "{open}");
    assert!(open.contains(&reference), "{open}");
    site.set("gallery-1", 404);
    b.click(&format!("#removed-{id_a}")).await;
    assert!(b.text("#done").await.contains("checks the URL now"));

    // The re-check finds it gone: the case closes, its removal time that check's time.
    let c = wait_case(&addr, &key, id_a, "closed", |c| c["state"] == "closed");
    let timeline = c["timeline"].as_array().unwrap();
    let said = timeline
        .iter()
        .find(|e| e["kind"] == "hoster")
        .expect("the hoster's answer is on the timeline");
    let removed = timeline
        .iter()
        .find(|e| e["to_state"] == "removed")
        .expect("a removal event");
    let sent = timeline
        .iter()
        .find(|e| e["to_state"] == "notified")
        .expect("a notified event");
    let (_, checks) = api(
        &addr,
        "GET",
        &format!("/v1/cases/{id_a}/checks"),
        &key,
        &Value::Null,
    );
    let checks = checks.as_array().unwrap();
    let first_offline = checks
        .iter()
        .rev()
        .find(|c| c["check"]["verdict"] == "offline")
        .expect("an offline check");
    assert_eq!(
        removed["at"], first_offline["at"],
        "removal time = first offline check"
    );
    assert_eq!(first_offline["check"]["status"], 404);
    assert!(removed["at"].as_i64() > said["at"].as_i64());
    assert!(said["at"].as_i64() > sent["at"].as_i64());
    assert!(
        checks
            .iter()
            .filter(|c| c["at"].as_i64() < removed["at"].as_i64())
            .all(|c| c["check"]["verdict"] == "online"),
        "{checks:#?}"
    );
    b.goto(&format!("{base}/portal")).await;
    assert!(b.text("#closed-cases").await.contains(&url_a));

    // The late hoster does nothing. At 24 h it gets a reminder, at 72 h the authority gets
    // an escalation; each once.
    wait_case(&addr, &key, id_late, "notified", |c| {
        c["state"] == "notified"
    });
    assert_eq!(sink.messages().len(), 2);
    set_clock(&clock, 24 * HOUR_MS + 60_000);
    let mails = sink.wait_for(3, WAIT).await.unwrap();
    let reminder = &mails[2];
    assert_eq!(reminder.to, ["abuse@late-host.example"]);
    assert!(reminder.text.contains(&url_late), "{}", reminder.text);
    set_clock(&clock, 72 * HOUR_MS + 60_000);
    let mails = sink.wait_for(4, WAIT).await.unwrap();
    let escalation = &mails[3];
    assert_eq!(escalation.to, ["police@authority.example"]);
    assert!(escalation.text.contains(&url_late), "{}", escalation.text);
    assert!(
        escalation.text.contains("Late Host Ltd"),
        "{}",
        escalation.text
    );
    // More ticks (the scheduler runs every 0.3 s) send nothing more.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.messages().len(), 4);
    let c = case(&addr, &key, id_late);
    assert_eq!(c["state"], "notified");
    let kinds: Vec<&str> = c["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "reminder").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "escalation").count(),
        1,
        "{kinds:?}"
    );

    // The scheduler's work shows in the metrics.
    let (_, metrics) = common::http(&addr, "GET", "/metrics", "", "text/plain", "");
    let metrics = metrics.as_str().unwrap_or_default().to_string();
    for line in [
        "schoon_notices_sent_total{kind=\"notice\"} 2",
        "schoon_notices_sent_total{kind=\"reminder\"} 1",
        "schoon_notices_sent_total{kind=\"escalation\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} missing in:\n{metrics}");
    }
    assert!(
        metrics.contains("schoon_rechecks_total{verdict=\"offline\"} 1"),
        "{metrics}"
    );

    b.close().await;
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notice_queued_when_the_service_dies_is_sent_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("s.db").display());
    let clock = dir.path().join("clock");
    set_clock(&clock, 0);
    let site = Site::default();
    let port = serve_site(&site, Ipv4Addr::new(127, 0, 0, 1)).await;
    let dns = TestDns::start(&[(
        "shop.hoster-a.example",
        TestRecord::A(Ipv4Addr::new(127, 0, 0, 1)),
    )])
    .unwrap();
    let key = common::analyst_key(&db);
    add_hoster(
        &db,
        "Hoster A B.V.",
        "127.0.0.1/32",
        "abuse@hoster-a.example",
    );
    let dns_addr = dns.addr().to_string();
    let clock_arg = clock.to_string_lossy().into_owned();
    // The SMTP server is down at first: a port where nothing listens.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("smtp://127.0.0.1:{}", free.local_addr().unwrap().port());
    drop(free);
    let start = |smtp: &str| {
        common::spawn_serve_with(
            &db,
            "0.5",
            &[
                "--dns",
                &dns_addr,
                "--smtp",
                smtp,
                "--mail-from",
                "hotline@schoon.example",
                "--recheck-allow-loopback",
                "--notice-every",
                "0.3",
                "--test-clock-file",
                &clock_arg,
            ],
        )
    };
    let (mut first, addr) = start(&dead);
    let url = format!("http://shop.hoster-a.example:{port}/p/x");
    let id = report(&addr, &key, &url);
    for action in [json!({"action": "assess"}), json!({"action": "actionable"})] {
        let (s, body) = api(
            &addr,
            "POST",
            &format!("/v1/cases/{id}/actions"),
            &key,
            &action,
        );
        assert_eq!(s, 200, "{body}");
    }
    // Queued, tried once, failed: then the service is killed (SIGKILL, no clean-up).
    let started = Instant::now();
    let notice = loop {
        let (_, list) = api(
            &addr,
            "GET",
            &format!("/v1/notices?case={id}"),
            &key,
            &Value::Null,
        );
        if let Some(n) = list.as_array().and_then(|l| l.first())
            && n["attempts"].as_i64() >= Some(1)
        {
            break n.clone();
        }
        assert!(started.elapsed() < WAIT, "no failed attempt: {list:#}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(notice["status"], "queued");
    first.kill().unwrap();
    first.wait().unwrap();
    let reference = notice["reference"].as_str().unwrap().to_string();

    // The SMTP server is back; the next try is due after the back-off (30 s): move on 1 min.
    let sink = SmtpSink::start().unwrap();
    set_clock(&clock, 60_000);
    let (mut second, addr) = start(&sink.url());
    let mails = sink.wait_for(1, WAIT).await.unwrap();
    assert_eq!(mails[0].header("X-Schoon-Ref"), Some(reference.as_str()));
    wait_case(&addr, &key, id, "notified", |c| c["state"] == "notified");
    second.kill().unwrap();
    second.wait().unwrap();

    // Another restart, later still: nothing is sent again.
    set_clock(&clock, 10 * 60_000);
    let (mut third, addr) = start(&sink.url());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.messages().len(), 1);
    let (_, n) = api(
        &addr,
        "GET",
        &format!("/v1/notices/{reference}"),
        &key,
        &Value::Null,
    );
    assert_eq!(n["status"], "sent", "{n:#}");
    assert_eq!(n["attempts"], 2, "{n:#}");
    let c = case(&addr, &key, id);
    let attempts = c["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "attempt")
        .count();
    assert_eq!(attempts, 1, "the failed attempt is on the case");
    third.kill().unwrap();
    third.wait().unwrap();
}
