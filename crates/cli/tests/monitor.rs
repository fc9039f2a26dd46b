//! The monitor end to end, with real parts: a real `schoon serve` process over a SQLite file
//! seeded beforehand through the ordinary store calls (hosters, reports, attribution, notices,
//! reminders, escalations and removal re-checks, each at its own moment of the past weeks),
//! a real SMTP server (aiosmtpd) for the listing e-mail, and headless chromium for the
//! analyst, the listed hoster and the public.
//!
//! The seeded register: "Slowhost B.V." with five URLs notified 5–20 days ago that are all
//! still online (three reminded, two escalated), "Quickhost" with four URLs removed within
//! 2 h, and "Midhost" with two URLs (one removed after 10 h, one still online).
//!
//! * `comply_or_explain_end_to_end`: the analyst runs the rules in the browser (only
//!   Slowhost is proposed) and approves; Slowhost gets exactly one e-mail with a portal link;
//!   the public list shows it without explanation; the hoster follows the link, explains,
//!   and the public list still shows none until the analyst publishes it; then the
//!   explanation is in Slowhost's row (checked in the DOM and in the pixels of a
//!   screenshot). The history API shows listed → explanation submitted → approved, and
//!   Quickhost is never listed.
//! * `public_page_downloads_and_report_agree`: the public page, the JSON and CSV downloads
//!   and the printable report of one period carry the same sector and per-hoster figures,
//!   equal to the hand-computed ones, and none of them names a seeded URL; in chromium the
//!   charts render (8 histogram bars, monthly points, non-white pixels) and the hoster table
//!   sorts by the share within 24 h, both ways.

mod common;

use common::browser::Browser;
use fantoccini::Locator;
use lists::{Clock, ManualClock, Millis};
use mail::testing::SmtpSink;
use ntd::attribution::{Attributor, StoredData};
use ntd::case::{Action, NewReport, Source, Submitter};
use ntd::dns::Resolution;
use ntd::notice::NoticeKind;
use ntd::register::HosterFields;
use ntd::takedown::{Channel, CheckRecord, NewNotice, Policy, SendOutcome};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::path::Path;
use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// Bound on every wait for the server (mail, page state).
const WAIT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------
// Seeding

/// One seeded case: notified `days_ago` days before now, removed (a verified offline
/// re-check) `removed_after_min` minutes after the notice or never, with a reminder after
/// 24 h and an escalation after 72 h when asked.
#[derive(Clone, Copy, Debug)]
struct Plan {
    days_ago: i64,
    removed_after_min: Option<i64>,
    reminded: bool,
    escalated: bool,
}

const fn removed(days_ago: i64, minutes: i64) -> Plan {
    Plan {
        days_ago,
        removed_after_min: Some(minutes),
        reminded: false,
        escalated: false,
    }
}

const fn online(days_ago: i64, reminded: bool, escalated: bool) -> Plan {
    Plan {
        days_ago,
        removed_after_min: None,
        reminded,
        escalated,
    }
}

/// A register entry and its cases; case `i`'s URL is `{url}{i}`.
struct SeedHoster {
    name: &'static str,
    abuse: &'static str,
    prefix: &'static str,
    ip: Ipv4Addr,
    url: &'static str,
    plans: &'static [Plan],
}

const SLOWHOST: SeedHoster = SeedHoster {
    name: "Slowhost B.V.",
    abuse: "abuse@slowhost.example",
    prefix: "192.0.2.0/28",
    ip: Ipv4Addr::new(192, 0, 2, 5),
    url: "http://files.slowhost.example/secret-path-",
    plans: &[
        online(5, false, false),
        online(8, true, false),
        online(11, false, false),
        online(14, true, true),
        online(20, true, true),
    ],
};

const QUICKHOST: SeedHoster = SeedHoster {
    name: "Quickhost",
    abuse: "abuse@quickhost.example",
    prefix: "192.0.2.16/28",
    ip: Ipv4Addr::new(192, 0, 2, 20),
    url: "http://img.quickhost.example/hidden-gallery-",
    plans: &[
        removed(6, 30),
        removed(9, 60),
        removed(12, 90),
        removed(15, 120),
    ],
};

const MIDHOST: SeedHoster = SeedHoster {
    name: "Midhost",
    abuse: "abuse@midhost.example",
    prefix: "192.0.2.32/28",
    ip: Ipv4Addr::new(192, 0, 2, 40),
    url: "http://www.midhost.example/private-album-",
    plans: &[removed(7, 600), online(10, true, false)],
};

const ALL: [&SeedHoster; 3] = [&SLOWHOST, &QUICKHOST, &MIDHOST];

/// What was seeded for one hoster.
#[derive(Debug)]
struct Seeded {
    id: i64,
    urls: Vec<String>,
}

fn seeded_urls(seeded: &[Seeded]) -> Vec<String> {
    seeded.iter().flat_map(|s| s.urls.iter().cloned()).collect()
}

fn host_of(url: &str) -> String {
    let rest = url.split_once("://").expect("a URL").1;
    rest.split('/').next().unwrap().to_string()
}

fn notice(kind: NoticeKind, hoster_id: i64, to: &str, case_id: i64, url: &str) -> NewNotice {
    let reference = ntd::notice::new_notice_reference();
    NewNotice {
        subject: format!("{} {reference}: 1 URL", kind.label()),
        body: format!("{} about {url}\n", kind.label()),
        json: "{}".into(),
        reference,
        kind,
        hoster_id,
        channel: Channel::Email,
        recipients: vec![to.to_string()],
        case_ids: vec![case_id],
    }
}

/// Queues a message at `at` and records it sent 5 s later, as the notifier would.
async fn send(
    notices: &Arc<dyn ntd::takedown::NoticeStore>,
    clock: &ManualClock,
    n: &NewNotice,
    at: i64,
) {
    clock.set(Millis(at));
    let id = notices.queue_notice(n, clock.now()).await.unwrap();
    clock.set(Millis(at + 5_000));
    let outcome = SendOutcome::Sent(format!("<{}@hotline.example>", n.reference));
    notices
        .finish_notice(id, clock.now(), &outcome, &Policy::default())
        .await
        .unwrap();
}

/// Writes the hosters and their cases into the database at `db` (before `schoon serve`
/// starts), each step at its own past moment through a [`ManualClock`].
async fn seed(db: &str, hosters: &[&SeedHoster]) -> Vec<Seeded> {
    let now = Millis::now().0;
    let clock = Arc::new(ManualClock::new(Millis(now - 60 * DAY)));
    let stores = store::open_stores(db, Arc::clone(&clock) as Arc<dyn Clock>)
        .await
        .unwrap();
    let cases = Arc::clone(&stores.cases);
    let mut seeded = Vec::new();
    for h in hosters {
        let fields = HosterFields {
            name: h.name.into(),
            prefixes: vec![h.prefix.into()],
            abuse: vec![h.abuse.into()],
            coc_member: true,
            country: Some("NL".into()),
            ..HosterFields::default()
        }
        .check()
        .unwrap();
        let created = cases.create_hoster(&fields, "seed").await.unwrap();
        seeded.push(Seeded {
            id: created.id,
            urls: (0..h.plans.len())
                .map(|i| format!("{}{i}", h.url))
                .collect(),
        });
    }
    let attributor =
        Attributor::new(StoredData::default(), cases.hosters().await.unwrap()).unwrap();

    // Oldest notice first; cases of one day a few minutes apart.
    let mut work: Vec<(i64, usize, usize)> = Vec::new();
    for (hi, h) in hosters.iter().enumerate() {
        for (ci, p) in h.plans.iter().enumerate() {
            let at = now - p.days_ago * DAY - (hi * 10 + ci) as i64 * 60_000;
            work.push((at, hi, ci));
        }
    }
    work.sort();
    let known = vec!["csam".to_string()];
    for (notified, hi, ci) in work {
        let h = hosters[hi];
        let plan = h.plans[ci];
        let hoster_id = seeded[hi].id;
        let url = seeded[hi].urls[ci].clone();

        // Reported three hours before the notice, by a partner hotline.
        clock.set(Millis(notified - 3 * HOUR));
        let (ok, refused) = ntd::case::validate(
            vec![NewReport {
                url: url.clone(),
                category: "csam".into(),
                source: Source::Partner,
                contact: None,
                text: None,
                external_ref: Some(format!("SEED-{hi}-{ci}")),
            }],
            &known,
        );
        assert!(refused.is_empty(), "{refused:?}");
        let by = Submitter {
            actor: "seed-partner".into(),
            org_id: None,
        };
        let out = cases.submit(&by, ok).await.unwrap();
        let case_id = out[0].case_id.expect("a new case");

        // Attribution through the register (the address is in the hoster's prefix).
        clock.advance(60_000);
        let host = host_of(&url);
        let answer = Ok(Resolution {
            host: host.clone(),
            cnames: Vec::new(),
            addrs: vec![IpAddr::V4(h.ip)],
        });
        let a = attributor.attribute(&host, &answer, clock.now());
        assert_eq!(
            a.notify.as_ref().and_then(|p| p.hoster_id),
            Some(hoster_id),
            "{a:?}"
        );
        cases.save_attribution(case_id, &a).await.unwrap();

        // The analyst's assessment.
        clock.advance(30 * 60_000);
        cases
            .act(case_id, "seed-analyst", &Action::Assess)
            .await
            .unwrap();
        clock.advance(10 * 60_000);
        cases
            .act(
                case_id,
                "seed-analyst",
                &Action::Actionable { reason: None },
            )
            .await
            .unwrap();

        // The notice (sent at `notified`), reminder, escalation, removal.
        let n = notice(NoticeKind::Notice, hoster_id, h.abuse, case_id, &url);
        send(&stores.notices, &clock, &n, notified - 5_000).await;
        if plan.reminded {
            let n = notice(NoticeKind::Reminder, hoster_id, h.abuse, case_id, &url);
            send(&stores.notices, &clock, &n, notified + DAY + 60_000).await;
        }
        if plan.escalated {
            let n = notice(
                NoticeKind::Escalation,
                hoster_id,
                "police@authority.example",
                case_id,
                &url,
            );
            send(&stores.notices, &clock, &n, notified + 3 * DAY + 60_000).await;
        }
        if let Some(minutes) = plan.removed_after_min {
            let at = Millis(notified + minutes * 60_000);
            clock.set(at);
            let check = ntd::fetch::Check {
                verdict: ntd::fetch::Verdict::Offline,
                reason: "HTTP 404".into(),
                status: Some(404),
                hops: vec![url.clone()],
                address: None,
                content: None,
                bytes: 0,
                truncated: false,
                millis: 40,
            };
            stores
                .notices
                .save_checks(&[CheckRecord {
                    case_id,
                    at,
                    check,
                    next: at,
                }])
                .await
                .unwrap();
        }
        let c = cases.case(case_id).await.unwrap().unwrap();
        assert_eq!(c.hoster_id, Some(hoster_id));
    }

    // Proactive participation: Quickhost's organisation checks with the scanner (500 hashes,
    // 2 matches) and reports 2 own-initiative removals; an organisation linked to no hoster
    // checks too, and counts for nobody.
    if let Some(i) = hosters.iter().position(|h| h.name == QUICKHOST.name) {
        let lists = &stores.lists;
        let org = lists
            .create_org("Quickhost", lists::OrgKind::Hoster)
            .await
            .unwrap();
        let stray = lists
            .create_org("Unlinked", lists::OrgKind::Hoster)
            .await
            .unwrap();
        let h = cases.hoster(seeded[i].id).await.unwrap().unwrap();
        let mut fields = h.fields.clone();
        fields.org_id = Some(org.id);
        cases.update_hoster(h.id, &fields, "seed").await.unwrap();
        let record = |org_id: i64, action: &str, count: i64, matches: i64| lists::AuditRecord {
            at: Millis(now - HOUR),
            key_id: format!("seed-{org_id}"),
            org_id,
            action: action.into(),
            count,
            matches,
            detail: r#"{"client":"scanner"}"#.into(),
        };
        lists
            .append_audit(&[
                record(org.id, "check", 300, 1),
                record(org.id, "check_image", 200, 1),
                record(org.id, "own_removal", 2, 0),
                record(stray.id, "check", 1_000, 5),
                record(stray.id, "own_removal", 5, 0),
            ])
            .await
            .unwrap();
    }
    seeded
}

// ---------------------------------------------------------------------------------------
// The server and HTTP

/// A running `schoon serve`, killed when dropped (also when a test panics).
struct Serve {
    child: Child,
    addr: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `schoon serve` on the seeded database: no notices or re-checks from this process
/// (the seeded URLs are fictitious), the mail outbox sent to `smtp`, DNS on a loopback port
/// where nothing answers, and the share rule from 3 URLs on.
fn serve(db: &str, smtp: Option<&str>) -> Serve {
    let mut args = vec![
        "--no-notices",
        "--dns",
        "127.0.0.1:9",
        "--list-min-urls",
        "3",
        "--hotline-name",
        "Test hotline",
    ];
    if let Some(url) = smtp {
        args.extend([
            "--smtp",
            url,
            "--mail-from",
            "Test hotline <hotline@schoon.example>",
        ]);
    }
    let (child, addr) = common::spawn_serve_with(db, "0.5", &args);
    Serve { child, addr }
}

/// `GET path` on loopback without credentials: the status and the body (a chunked body is
/// decoded).
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8(raw).expect("a UTF-8 answer");
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head[9..12].parse().unwrap();
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    if !chunked {
        return (status, body.to_string());
    }
    let mut out = String::new();
    let mut rest = body;
    loop {
        let (size, after) = rest.split_once("\r\n").expect("a chunk size");
        let size = usize::from_str_radix(size.trim(), 16).expect("a hex chunk size");
        if size == 0 {
            return (status, out);
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
}

/// `GET path` that must answer 200.
fn get_ok(addr: &str, path: &str) -> String {
    let (status, body) = get(addr, path);
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// An analyst API call (JSON).
fn api(addr: &str, key: &str, path: &str) -> Value {
    let (status, body) = common::http(addr, "GET", path, key, "application/json", "");
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

// ---------------------------------------------------------------------------------------
// Browser helpers

/// Waits (at most [`WAIT`]) until the text of css satisfies `pred`; returns it.
async fn wait_text(b: &Browser, css: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let t = b.text(css).await;
        if pred(&t) {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "{css} never {what} within {WAIT:?}; last text: {t:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every element matching css, now (no waiting).
async fn all(b: &Browser, css: &str) -> Vec<fantoccini::elements::Element> {
    b.client
        .find_all(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("finding {css:?}: {e}"))
}

/// The `data-value`s of the elements matching css, in document order.
async fn data_values(b: &Browser, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for el in all(b, css).await {
        out.push(el.attr("data-value").await.unwrap().unwrap_or_default());
    }
    out
}

/// Pixels that are clearly not white in a PNG (or in the rectangle `area` of it, in CSS
/// pixels scaled by `dpr`).
fn dark_pixels(png: &[u8], area: Option<(f64, f64, f64, f64, f64)>) -> usize {
    let img = image::load_from_memory(png)
        .expect("a decodable PNG")
        .to_rgb8();
    let (w, h) = img.dimensions();
    let (x0, y0, x1, y1) = match area {
        None => (0, 0, w, h),
        Some((x, y, aw, ah, dpr)) => {
            let c = |v: f64, max: u32| ((v * dpr).round().max(0.0) as u32).min(max);
            (c(x, w), c(y, h), c(x + aw, w), c(y + ah, h))
        }
    };
    let mut n = 0;
    for y in y0..y1 {
        for x in x0..x1 {
            let p = img.get_pixel(x, y);
            if p.0.iter().any(|&v| v < 200) {
                n += 1;
            }
        }
    }
    n
}

/// Scrolls the first element matching css to the top of the viewport (as far as the page
/// allows).
async fn scroll_to(b: &Browser, css: &str) {
    let el = b.find(css).await;
    b.client
        .execute(
            "arguments[0].scrollIntoView({block: 'start'});",
            vec![serde_json::to_value(&el).unwrap()],
        )
        .await
        .unwrap_or_else(|e| panic!("scrolling to {css}: {e}"));
}

/// The viewport rectangle of the first element matching css and the device pixel ratio:
/// (left, top, width, height, dpr).
async fn view_rect(b: &Browser, css: &str) -> (f64, f64, f64, f64, f64) {
    let el = b.find(css).await;
    let v = b
        .client
        .execute(
            "const r = arguments[0].getBoundingClientRect(); \
             return [r.left, r.top, r.width, r.height, window.devicePixelRatio];",
            vec![serde_json::to_value(&el).unwrap()],
        )
        .await
        .unwrap_or_else(|e| panic!("rectangle of {css}: {e}"));
    let f = |i: usize| v[i].as_f64().unwrap_or_else(|| panic!("{v}"));
    (f(0), f(1), f(2), f(3), f(4))
}

/// A viewport screenshot saved to `path`; returns its bytes.
async fn screenshot(b: &Browser, path: &Path) -> Vec<u8> {
    b.screenshot(path).await;
    std::fs::read(path).unwrap()
}

// ---------------------------------------------------------------------------------------
// Test 1

#[tokio::test(flavor = "multi_thread")]
async fn comply_or_explain_end_to_end() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("s.db").display());
    let key = common::analyst_key(&db);
    let seeded = seed(&db, &ALL).await;
    let (slow, quick, mid) = (seeded[0].id, seeded[1].id, seeded[2].id);
    let sink = SmtpSink::start().expect("aiosmtpd (scripts/setup.sh --test)");
    let smtp = sink.url();
    let server = serve(&db, Some(&smtp));
    let addr = server.addr.clone();
    let base = format!("http://{addr}");

    // The analyst signs in and runs the rules: only Slowhost is proposed, for listing.
    let analyst = Browser::start().await;
    analyst
        .goto(&format!("{base}/ui/login?next=/ui/monitor/list"))
        .await;
    analyst.fill("#key", &key).await;
    analyst.click("#signin").await;
    analyst.find("#run-rules").await;
    assert!(
        all(&analyst, "section.run").await.is_empty(),
        "no run before the first"
    );
    analyst.click("#run-rules").await;
    let done = wait_text(&analyst, "#done", "reported the run", |t| {
        t.contains("proposes")
    })
    .await;
    let run: i64 = done
        .strip_prefix("Run ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a run number in {done:?}"));
    assert!(done.contains("proposes 1 change(s)"), "{done}");
    assert_eq!(
        analyst.text(&format!("#run-{run}-status")).await,
        "proposed"
    );
    let rows = all(&analyst, &format!("#run-{run} tr[data-hoster]")).await;
    assert_eq!(rows.len(), 1, "one proposal");
    assert_eq!(
        rows[0].attr("data-hoster").await.unwrap(),
        Some(slow.to_string())
    );
    assert_eq!(
        analyst
            .text(&format!("#run-{run} tr[data-hoster] strong"))
            .await,
        "list"
    );
    let row = rows[0].text().await.unwrap();
    assert!(row.contains("Slowhost B.V."), "{row}");
    assert!(row.contains("0 of 5 judged URLs"), "{row}");
    assert!(
        row.contains("2 URL(s) still online after escalation"),
        "{row}"
    );
    let r = api(&addr, &key, &format!("/v1/monitor/runs/{run}"));
    let proposals = r["proposals"].as_array().unwrap();
    assert_eq!(proposals.len(), 1, "{r:#}");
    assert_eq!(proposals[0]["hoster_id"], slow);
    assert_eq!(proposals[0]["action"], "list");

    // Approve: the run is approved and Slowhost is on the list.
    analyst.click(&format!("#approve-{run}")).await;
    wait_text(
        &analyst,
        &format!("#run-{run}-status"),
        "became approved",
        |t| t == "approved",
    )
    .await;
    assert!(
        analyst.text("#done").await.contains("approved"),
        "the page says so"
    );
    assert!(
        all(&analyst, &format!("#approve-{run}")).await.is_empty(),
        "a decided run has no Approve button"
    );

    // Exactly one e-mail, to Slowhost's abuse desk, about the list, with a portal link.
    let mails = sink.wait_for(1, WAIT).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mails_now = sink.messages();
    assert_eq!(mails_now.len(), 1, "{mails_now:#?}");
    let mail = &mails[0];
    assert_eq!(mail.to, ["abuse@slowhost.example"]);
    assert!(
        mail.subject.contains("list") && mail.subject.contains("Slowhost B.V."),
        "{}",
        mail.subject
    );
    assert_eq!(
        mail.header("X-Schoon-Ref"),
        Some(format!("listing-{run}-{slow}").as_str())
    );
    let link = mail
        .text
        .split_whitespace()
        .find(|w| w.contains("/portal/t/"))
        .unwrap_or_else(|| panic!("a portal link in the mail:\n{}", mail.text))
        .to_string();
    assert!(link.starts_with(&format!("{base}/portal/t/")), "{link}");
    assert!(
        mail.text.contains(&format!("{base}/transparency/list")),
        "{}",
        mail.text
    );

    // The public list (another browser, never signed in): Slowhost without explanation.
    let public = Browser::start().await;
    let slow_cell = format!("table#noncoop-list tr#hoster-{slow} td.explanation");
    public.goto(&format!("{base}/transparency/list")).await;
    assert!(
        public
            .text(&format!("table#noncoop-list tr#hoster-{slow} td.name"))
            .await
            .contains("Slowhost B.V."),
        "Slowhost is listed"
    );
    assert!(public.text(&slow_cell).await.contains("No explanation"));
    assert_eq!(
        all(&public, "table#noncoop-list tbody tr").await.len(),
        1,
        "only Slowhost is listed"
    );
    for other in [quick, mid] {
        assert!(all(&public, &format!("tr#hoster-{other}")).await.is_empty());
    }
    let shots = dir.path();
    scroll_to(&public, "table#noncoop-list").await;
    let cell_before = view_rect(&public, &slow_cell).await;
    let before_png = screenshot(&public, &shots.join("list-before.png")).await;
    let ink_before = dark_pixels(&before_png, Some(cell_before));

    // The hoster follows the link, sees its listing, explains.
    public.goto(&link).await;
    assert_eq!(public.text("#hoster").await, "Slowhost B.V.");
    let listing = public.text("#listing").await;
    assert!(
        listing.contains("You are on the list of non-cooperating hosting providers"),
        "{listing}"
    );
    assert!(listing.contains("0 of 5 judged URLs"), "{listing}");
    let explanation = "Our abuse desk had no weekend staff until March. Since then every notice \
                       is handled within 12 hours, also on Sundays.";
    public.fill("#explanation-text", explanation).await;
    public.click("#explanation-submit").await;
    let thanks = public.text("#done").await;
    assert!(thanks.contains("Thank you"), "{thanks}");
    assert!(
        public.text("#listing").await.contains("pending"),
        "the portal shows the explanation waiting for review"
    );

    // Pending review: the public list still shows no explanation (to a visitor without the
    // hoster's session).
    public
        .client
        .delete_all_cookies()
        .await
        .expect("cookies cleared");
    public.goto(&format!("{base}/transparency/list")).await;
    assert!(public.text(&slow_cell).await.contains("No explanation"));
    let (_, html) = get(&addr, "/transparency/list");
    assert!(
        !html.contains("weekend staff"),
        "an unreviewed text is shown"
    );

    // The analyst publishes it.
    let pending = api(&addr, &key, "/v1/monitor/explanations?status=pending");
    let pending = pending.as_array().unwrap();
    assert_eq!(pending.len(), 1, "{pending:#?}");
    assert_eq!(pending[0]["hoster_id"], slow);
    assert_eq!(pending[0]["text"], explanation);
    let eid = pending[0]["id"].as_i64().unwrap();
    analyst.goto(&format!("{base}/ui/monitor/list")).await;
    assert!(
        analyst
            .text(&format!("#explanation-{eid}"))
            .await
            .contains("weekend staff")
    );
    analyst.click(&format!("#publish-{eid}")).await;
    let done = analyst.text("#done").await;
    assert!(
        done.contains("published") && done.contains("Slowhost B.V."),
        "{done}"
    );

    // Now the public list shows it beside Slowhost's entry.
    public.goto(&format!("{base}/transparency/list")).await;
    let cell = wait_text(&public, &slow_cell, "showed the explanation", |t| {
        t.contains("weekend staff")
    })
    .await;
    assert!(cell.contains(explanation), "{cell}");
    assert!(!cell.contains("No explanation"), "{cell}");
    scroll_to(&public, "table#noncoop-list").await;
    let cell_after = view_rect(&public, &slow_cell).await;
    let table = view_rect(&public, "table#noncoop-list").await;
    let png = screenshot(&public, &shots.join("list-after.png")).await;
    let ink_table = dark_pixels(&png, Some(table));
    let ink_after = dark_pixels(&png, Some(cell_after));
    assert!(png.len() > 10_000, "a screenshot of {} bytes", png.len());
    assert!(
        ink_table > 2_000,
        "the list's area has {ink_table} dark pixels"
    );
    assert!(
        ink_after > 2 * ink_before.max(1),
        "the explanation cell drew {ink_after} dark pixels, \"No explanation.\" {ink_before}"
    );

    // The list's history: listed, explained, approved, in that order; Quickhost never.
    let events = api(&addr, &key, &format!("/v1/monitor/events?hoster={slow}"));
    let mut kinds: Vec<(i64, String)> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["at"].as_i64().unwrap(),
                e["kind"].as_str().unwrap().into(),
            )
        })
        .collect();
    kinds.reverse(); // newest first → oldest first
    let names: Vec<&str> = kinds.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(
        names,
        ["listed", "explanation_submitted", "explanation_approved"],
        "{events:#}"
    );
    assert!(kinds.windows(2).all(|w| w[0].0 <= w[1].0), "{events:#}");
    let everyone = api(&addr, &key, "/v1/monitor/events");
    assert!(
        everyone
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["hoster_id"] == slow),
        "{everyone:#}"
    );
    let listings = api(&addr, &key, "/v1/monitor/listings?status=all");
    let listed: Vec<i64> = listings
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["hoster_id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, [slow], "{listings:#}");
    assert!(
        api(&addr, &key, &format!("/v1/monitor/events?hoster={quick}"))
            .as_array()
            .unwrap()
            .is_empty()
    );

    public.close().await;
    analyst.close().await;
    drop(server);
    eprintln!("comply_or_explain_end_to_end: {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------
// Test 2

/// The figures compared across the four views.
const SECTOR_KEYS: [&str; 8] = [
    "urls",
    "share_within_24h",
    "median_hours",
    "p90_hours",
    "still_online",
    "notices",
    "escalations",
    "hosters",
];
const HOSTER_KEYS: [&str; 9] = [
    "urls",
    "notices",
    "share_within_24h",
    "median_hours",
    "p90_hours",
    "still_online",
    "escalations",
    "checks",
    "removed_own_initiative",
];

/// A figure: a number, or none (`null`, an empty cell or attribute).
type Fig = Option<f64>;

fn fig(s: &str) -> Fig {
    let s = s.trim();
    if s.is_empty() || s == "null" {
        None
    } else {
        Some(
            s.parse()
                .unwrap_or_else(|_| panic!("{s:?} is not a number")),
        )
    }
}

/// A figure of [`exact_json`]: its number as text, read by Rust's (correctly rounding)
/// float parser.
fn json_fig(v: &Value) -> Fig {
    match v {
        Value::Null => None,
        Value::String(s) => Some(fig(s).expect("a number")),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        other => panic!("{other} is not a figure"),
    }
}

/// Parses JSON with every number turned into a string holding its text: serde_json's own
/// float parsing (without its `float_roundtrip` feature) may be one unit in the last place
/// off, and the views are compared to the digit.
fn exact_json(text: &str) -> Value {
    let mut out = String::with_capacity(text.len() + 64);
    let mut chars = text.chars().peekable();
    let (mut in_string, mut escaped) = (false, false);
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if c == '-' || c.is_ascii_digit() {
            out.push('"');
            out.push(c);
            while let Some(&d) = chars.peek() {
                if d.is_ascii_digit() || matches!(d, '.' | 'e' | 'E' | '+' | '-') {
                    out.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push('"');
        } else {
            out.push(c);
        }
    }
    serde_json::from_str(&out).expect("JSON")
}

/// The `data-key`/`data-value` pairs in an HTML fragment.
fn data_pairs(html: &str) -> BTreeMap<String, Fig> {
    let mut out = BTreeMap::new();
    let mut rest = html;
    while let Some(i) = rest.find("data-key=\"") {
        rest = &rest[i + 10..];
        let end = rest.find('"').unwrap();
        let key = rest[..end].to_string();
        rest = &rest[end..];
        let v = rest
            .strip_prefix("\" data-value=\"")
            .unwrap_or_else(|| panic!("data-value after data-key {key}"));
        let end = v.find('"').unwrap();
        out.insert(key, fig(&v[..end]));
        rest = &v[end..];
    }
    out
}

/// The figures of a page or report: the sector's and each hoster row's (by hoster id).
type Views = (BTreeMap<String, Fig>, BTreeMap<i64, BTreeMap<String, Fig>>);

fn from_html(html: &str) -> Views {
    let at = html.find("id=\"sector\"").expect("the sector tiles");
    let sector = &html[at..];
    let sector = &sector[..sector.find("<p").expect("text after the tiles")];
    let at = html.find("id=\"hoster-table\"").expect("the hoster table");
    let table = &html[at..];
    let table = &table[..table.find("</table>").unwrap()];
    let mut rows = BTreeMap::new();
    for chunk in table.split("<tr data-hoster=\"").skip(1) {
        let id: i64 = chunk[..chunk.find('"').unwrap()].parse().unwrap();
        rows.insert(id, data_pairs(chunk));
    }
    (data_pairs(sector), rows)
}

fn from_json(v: &Value) -> Views {
    let pick = |o: &Value, keys: &[&str]| -> BTreeMap<String, Fig> {
        keys.iter()
            .map(|k| (k.to_string(), json_fig(&o[*k])))
            .collect()
    };
    let rows = v["hosters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let id = h["hoster_id"].as_str().unwrap().parse().unwrap();
            (id, pick(h, &HOSTER_KEYS))
        })
        .collect();
    (pick(&v["sector"], &SECTOR_KEYS), rows)
}

/// The CSV's rows as maps of column → cell: the sector row, and the hoster rows by id.
type CsvRows = (
    BTreeMap<String, String>,
    BTreeMap<i64, BTreeMap<String, String>>,
);

fn from_csv(text: &str) -> CsvRows {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let mut sector = None;
    let mut rows = BTreeMap::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        let row: BTreeMap<String, String> = header
            .iter()
            .cloned()
            .zip(rec.iter().map(String::from))
            .collect();
        match row["scope"].as_str() {
            "sector" => {
                assert!(sector.is_none(), "one sector row");
                sector = Some(row);
            }
            "hoster" => {
                rows.insert(row["hoster_id"].parse().unwrap(), row);
            }
            other => panic!("scope {other:?}"),
        }
    }
    (sector.expect("a sector row"), rows)
}

fn csv_view((sector, rows): &CsvRows) -> Views {
    let pick = |r: &BTreeMap<String, String>, keys: &[&str]| -> BTreeMap<String, Fig> {
        keys.iter()
            .map(|k| {
                let cell = r
                    .get(*k)
                    .unwrap_or_else(|| panic!("CSV column {k} missing"));
                (k.to_string(), fig(cell))
            })
            .collect()
    };
    (
        pick(sector, &SECTOR_KEYS),
        rows.iter()
            .map(|(id, r)| (*id, pick(r, &HOSTER_KEYS)))
            .collect(),
    )
}

/// Only the keys every view has.
fn restrict(v: &Views) -> Views {
    let keep = |m: &BTreeMap<String, Fig>, keys: &[&str]| -> BTreeMap<String, Fig> {
        keys.iter()
            .map(|k| {
                (
                    k.to_string(),
                    *m.get(*k).unwrap_or_else(|| panic!("{k} missing in {m:?}")),
                )
            })
            .collect()
    };
    (
        keep(&v.0, &SECTOR_KEYS),
        v.1.iter()
            .map(|(id, m)| (*id, keep(m, &HOSTER_KEYS)))
            .collect(),
    )
}

/// Hand-computed figures of one hoster (or the sector); every seeded URL had one notice.
struct Expect {
    urls: u64,
    removed: u64,
    within: u64,
    online: u64,
    share: f64,
    escalations: u64,
    reminders: u64,
}

fn check_figures(what: &str, f: &Value, exact_share: Fig, e: &Expect) {
    let n = |k: &str| {
        f[k].as_u64()
            .unwrap_or_else(|| panic!("{what}: {k} in {f}"))
    };
    assert_eq!(n("urls"), e.urls, "{what} urls: {f}");
    assert_eq!(n("removed"), e.removed, "{what} removed: {f}");
    assert_eq!(n("removed_within_24h"), e.within, "{what} within 24 h: {f}");
    assert_eq!(n("still_online"), e.online, "{what} still online: {f}");
    assert_eq!(n("undecided_24h"), 0, "{what} undecided: {f}");
    assert_eq!(n("escalations"), e.escalations, "{what} escalations: {f}");
    assert_eq!(n("reminders"), e.reminders, "{what} reminders: {f}");
    assert_eq!(n("notices"), e.urls, "{what}: one notice per URL: {f}");
    let share = f["share_within_24h"].as_f64().unwrap();
    assert!((share - e.share).abs() < 1e-12, "{what} share: {f}");
    assert_eq!(
        exact_share,
        Some(e.share),
        "{what}: the share's digits are the exact quotient"
    );
}

/// `schoon monitor rules --save` (for a monthly timer): a proposal waits for the analysts,
/// and a second one is not saved while the first waits.
#[tokio::test(flavor = "multi_thread")]
async fn rules_from_a_timer_wait_for_the_analysts() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("s.db").display());
    let seeded = seed(&db, &ALL).await;
    let run = |extra: &[&str]| {
        let mut args = vec!["monitor", "--db", db.as_str(), "rules"];
        args.extend_from_slice(extra);
        common::ok(common::schoon(&args))
    };
    // Without --save: a dry run.
    let dry = run(&[]);
    assert!(dry.contains("\nlist Slowhost B.V."), "{dry}");
    assert!(!dry.contains("Saved as run"), "{dry}");
    let stores = store::open_stores(&db, Arc::new(lists::SystemClock) as Arc<dyn Clock>)
        .await
        .unwrap();
    assert!(stores.monitor.runs(10).await.unwrap().is_empty());

    let first = run(&["--save"]);
    assert!(first.contains("\nlist Slowhost B.V."), "{first}");
    assert!(first.contains("Saved as run"), "{first}");
    let runs = stores.monitor.runs(10).await.unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let r = &runs[0];
    assert_eq!(r.status, monitor::store::RunStatus::Proposed);
    assert_eq!(r.by, "schoon monitor rules --save");
    let proposed: Vec<i64> = r.proposals.iter().map(|p| p.proposal.hoster_id).collect();
    assert_eq!(proposed, vec![seeded[0].id], "only Slowhost");
    // Nobody is listed until an analyst approves.
    assert!(stores.monitor.listings(true).await.unwrap().is_empty());

    let second = run(&["--save"]);
    assert!(
        second.contains(&format!("Not saved: run {} of", r.id)),
        "{second}"
    );
    assert_eq!(stores.monitor.runs(10).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn public_page_downloads_and_report_agree() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("s.db").display());
    common::analyst_key(&db);
    let seeded = seed(&db, &ALL).await;
    let (slow, quick, mid) = (seeded[0].id, seeded[1].id, seeded[2].id);
    let server = serve(&db, None);
    let addr = server.addr.clone();

    // The period: the default one (the last twelve months), by its slug.
    let default: Value = serde_json::from_str(&get_ok(&addr, "/transparency/data.json")).unwrap();
    let period = default["period"].as_str().unwrap().to_string();
    assert!(!period.is_empty());
    let q = url_escape(&period);
    let page = get_ok(&addr, &format!("/transparency?period={q}"));
    let json_text = get_ok(&addr, &format!("/transparency/data.json?period={q}"));
    let csv_text = get_ok(&addr, &format!("/transparency/data.csv?period={q}"));
    let report = get_ok(&addr, &format!("/transparency/report?period={q}"));
    let json: Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!(json["period"], period);
    assert!(report.contains(&format!("<span id=\"period\">{period}</span>")));

    // No URL (or its secret path) in anything public.
    for url in seeded_urls(&seeded) {
        let path = url.rsplit('/').next().unwrap().to_string();
        for (name, body) in [
            ("page", &page),
            ("JSON", &json_text),
            ("CSV", &csv_text),
            ("report", &report),
        ] {
            assert!(!body.contains(&url), "{name} names {url}");
            assert!(!body.contains(&path), "{name} names {path}");
            assert!(
                !body.contains(&host_of(&url)),
                "{name} names the host of {url}"
            );
        }
    }

    // The hand-computed figures, in the JSON.
    let exact = exact_json(&json_text);
    let exact_share = |v: &Value| json_fig(&v["share_within_24h"]);
    let exact_hoster = |id: i64| -> &Value {
        exact["hosters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["hoster_id"].as_str().and_then(|s| s.parse().ok()) == Some(id))
            .unwrap_or_else(|| panic!("hoster {id} in {exact:#}"))
    };
    check_figures(
        "sector",
        &json["sector"],
        exact_share(&exact["sector"]),
        &Expect {
            urls: 11,
            removed: 5,
            within: 5,
            online: 6,
            share: 5.0 / 11.0,
            escalations: 2,
            reminders: 4,
        },
    );
    assert_eq!(json["sector"]["hosters"], 3);
    let hosters = json["hosters"].as_array().unwrap();
    assert_eq!(hosters.len(), 3, "{hosters:#?}");
    let by_id = |id: i64| -> &Value {
        hosters
            .iter()
            .find(|h| h["hoster_id"] == id)
            .unwrap_or_else(|| panic!("hoster {id} in {hosters:#?}"))
    };
    let expect = [
        (
            slow,
            "Slowhost B.V.",
            Expect {
                urls: 5,
                removed: 0,
                within: 0,
                online: 5,
                share: 0.0,
                escalations: 2,
                reminders: 3,
            },
        ),
        (
            quick,
            "Quickhost",
            Expect {
                urls: 4,
                removed: 4,
                within: 4,
                online: 0,
                share: 1.0,
                escalations: 0,
                reminders: 0,
            },
        ),
        (
            mid,
            "Midhost",
            Expect {
                urls: 2,
                removed: 1,
                within: 1,
                online: 1,
                share: 0.5,
                escalations: 0,
                reminders: 1,
            },
        ),
    ];
    for (id, name, e) in &expect {
        let h = by_id(*id);
        assert_eq!(h["hoster"], *name);
        assert_eq!(h["listed"], false);
        check_figures(name, h, exact_share(exact_hoster(*id)), e);
    }
    // Kaplan–Meier without censoring is the lower empirical quantile: Quickhost's removals
    // after 0.5, 1, 1.5 and 2 h have a median of 1 h and a 90th percentile of 2 h; Midhost's
    // one removal (10 h) of two URLs brings the curve to 0.5 there.
    assert_eq!(by_id(quick)["median_hours"], 1.0);
    assert_eq!(by_id(quick)["p90_hours"], 2.0);
    assert_eq!(by_id(quick)["median_censored"], false);
    assert_eq!(by_id(mid)["median_hours"], 10.0);
    assert_eq!(by_id(mid)["median_censored"], false);
    assert_eq!(by_id(mid)["p90_censored"], true);
    assert_eq!(by_id(slow)["median_censored"], true);
    // Participation: Quickhost's checks and own removals; the unlinked organisation's count
    // for nobody.
    let qh = by_id(quick);
    assert_eq!(
        (
            &qh["checks"],
            &qh["matches"],
            &qh["removed_own_initiative"],
            &qh["uses_scanner"]
        ),
        (&json!(500), &json!(2), &json!(2), &json!(true)),
        "{qh}"
    );
    for other in [slow, mid] {
        assert_eq!(by_id(other)["checks"], 0);
        assert_eq!(by_id(other)["removed_own_initiative"], 0);
    }
    assert_eq!(json["sector"]["checks"], 500);
    assert_eq!(json["sector"]["removed_own_initiative"], 2);
    let in_bars: u64 = json["histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["cases"].as_u64().unwrap())
        .sum();
    assert_eq!(in_bars, 11, "every URL is in one histogram bar");

    // The four views agree, sector and every hoster row, to the digit.
    let from_page = from_html(&page);
    let from_report = from_html(&report);
    let csv_rows = from_csv(&csv_text);
    let from_csv_view = csv_view(&csv_rows);
    let reference = restrict(&from_json(&exact));
    assert_eq!(reference.1.len(), 3);
    for (name, view) in [
        ("page", restrict(&from_page)),
        ("report", restrict(&from_report)),
        ("CSV", restrict(&from_csv_view)),
    ] {
        assert_eq!(view.0, reference.0, "the sector on the {name} vs JSON");
        assert_eq!(
            view.1.keys().collect::<Vec<_>>(),
            reference.1.keys().collect::<Vec<_>>(),
            "the hosters on the {name} vs JSON"
        );
        for (id, row) in &reference.1 {
            assert_eq!(&view.1[id], row, "hoster {id} on the {name} vs JSON");
        }
    }
    // The CSV also carries the counts the pages show only in words.
    for (id, _, e) in &expect {
        let row = &csv_rows.1[id];
        assert_eq!(row["removed_within_24h"], e.within.to_string());
        assert_eq!(row["removed"], e.removed.to_string());
        assert_eq!(row["period"], period);
    }
    assert_eq!(csv_rows.0["removed_within_24h"], "5");
    assert!(
        report.contains("5 were removed within 24 hours"),
        "the report's summary sentence"
    );

    // In chromium: the charts render, and the table sorts both ways.
    let b = Browser::start().await;
    b.goto(&format!("http://{addr}/transparency?period={q}"))
        .await;
    assert_eq!(
        all(&b, "#chart-histogram svg.chart-histogram rect.bar")
            .await
            .len(),
        8
    );
    assert!(
        !all(&b, "#chart-monthly svg.chart-share circle.point")
            .await
            .is_empty()
    );
    assert_eq!(
        all(&b, "#chart-hosters svg.chart-hosters rect.bar")
            .await
            .len(),
        3
    );
    let bars: Vec<String> = data_values(&b, "#chart-histogram rect.bar").await;
    let want: Vec<String> = json["histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["cases"].to_string())
        .collect();
    assert_eq!(bars, want, "the histogram's bars are the JSON's");
    // ≤ 1 h: Quickhost's 30 and 60 min; 1–6 h: its 90 and 120 min; 6–12 h: Midhost's 10 h;
    // still online: Slowhost's five and Midhost's one.
    assert_eq!(bars, ["2", "2", "1", "0", "0", "0", "0", "6"]);
    // The chart must be in the viewport whole: an element screenshot is clipped to it.
    scroll_to(&b, "#chart-histogram").await;
    let png = b
        .find("#chart-histogram")
        .await
        .screenshot()
        .await
        .unwrap_or_else(|e| panic!("screenshot of #chart-histogram: {e}"));
    std::fs::write(dir.path().join("histogram.png"), &png).unwrap();
    let ink = dark_pixels(&png, None);
    assert!(ink > 2_000, "the histogram drew {ink} dark pixels");
    // The within-24-h bars are blue: three of them, a few thousand pixels.
    let img = image::load_from_memory(&png).unwrap().to_rgb8();
    let blue = img
        .pixels()
        .filter(|p| p.0[2] > 120 && p.0[0] < 80 && p.0[1] < 160)
        .count();
    assert!(blue > 2_000, "the histogram has {blue} blue pixels");

    let shares = "#hoster-table tbody td[data-key=share_within_24h]";
    b.click("th[data-col=share] a").await;
    b.wait_attr("th[data-col=share]", "aria-sort", "descending")
        .await;
    let desc: Vec<f64> = data_values(&b, shares)
        .await
        .iter()
        .map(|v| fig(v).unwrap_or(-1.0))
        .collect();
    assert_eq!(desc, [1.0, 0.5, 0.0], "high to low");
    let ids: Vec<String> = {
        let mut v = Vec::new();
        for tr in all(&b, "#hoster-table tbody tr").await {
            v.push(tr.attr("data-hoster").await.unwrap().unwrap());
        }
        v
    };
    assert_eq!(ids, [quick, mid, slow].map(|i| i.to_string()));
    b.click("th[data-col=share] a").await;
    b.wait_attr("th[data-col=share]", "aria-sort", "ascending")
        .await;
    let asc: Vec<f64> = data_values(&b, shares)
        .await
        .iter()
        .map(|v| fig(v).unwrap_or(-1.0))
        .collect();
    assert!(asc.windows(2).all(|w| w[0] <= w[1]), "{asc:?}");
    let mut reversed = desc.clone();
    reversed.reverse();
    assert_eq!(asc, reversed, "the second click reverses the order");

    b.close().await;
    drop(server);
    eprintln!(
        "public_page_downloads_and_report_agree: {:?}",
        started.elapsed()
    );
}

/// Percent-encodes a period slug for a query string.
fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
