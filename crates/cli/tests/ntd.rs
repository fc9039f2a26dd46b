//! Notice and takedown end to end, with real parts: a real DNS server on loopback (hickory,
//! in this process), attribution data loaded with `schoon attribution load`, a real
//! `schoon serve` process, and headless Debian chromium driven over WebDriver.
//!
//! The browser files a public report, signs in as an analyst, finds the report in the queue,
//! sees the attribution on the case page and records a verdict.

mod common;

use common::browser::Browser;
use ntd::testing::{TestDns, TestRecord};
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

const IP2ASN: &str = "192.0.2.0\t192.0.2.255\t64500\tNL\tHOSTERA Hoster A B.V.\n\
198.51.100.0\t198.51.100.255\t64501\tDE\tHANSE Hanse Hosting GmbH\n\
203.0.113.0\t203.0.113.255\t64510\tNL\tFASTEDGE FastEdge CDN\n";

const RPSL: &str = "\
# The contents of this file are subject to 
# RIPE Database Terms and Conditions

inetnum:        198.51.100.0 - 198.51.100.255
netname:        HANSE-NET
country:        DE
org:            ORG-HH1-TEST
admin-c:        DUMY-RIPE
source:         RIPE

organisation:   ORG-HH1-TEST
org-name:       Hanse Hosting GmbH
abuse-c:        HH1-RIPE
source:         RIPE

role:           Hanse abuse desk
nic-hdl:        HH1-RIPE
abuse-mailbox:  abuse@hanse.example
e-mail:         unread@ripe.net
source:         RIPE
";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

/// Loads the test data and the register; returns an analyst key.
fn set_up(dir: &Path, db: &str) -> String {
    let ip2asn = write(dir, "ip2asn.tsv", IP2ASN);
    let rpsl = write(dir, "ripe.db", RPSL);
    let out = common::ok(common::schoon(&[
        "attribution",
        "load",
        "--db",
        db,
        "--ip2asn",
        &ip2asn,
        "--rpsl",
        &rpsl,
    ]));
    assert!(out.contains("ip2asn: 3 ranges loaded"), "{out}");
    assert!(
        out.contains("rpsl: 1 networks (1 with their own abuse mailbox)"),
        "{out}"
    );
    common::ok(common::schoon(&[
        "hosters",
        "add",
        "Hoster A B.V.",
        "--db",
        db,
        "--asn",
        "64500",
        "--prefix",
        "192.0.2.0/25",
        "--abuse",
        "abuse@hoster-a.example",
        "--coc",
        "--country",
        "NL",
    ]));
    common::ok(common::schoon(&[
        "hosters",
        "add",
        "FastEdge CDN",
        "--db",
        db,
        "--cdn",
        "--prefix",
        "203.0.113.0/24",
        "--abuse",
        "abuse@fastedge.example",
    ]));
    common::analyst_key(db)
}

fn dns() -> TestDns {
    TestDns::start(&[
        (
            "shop.hoster-a.example",
            TestRecord::A(Ipv4Addr::new(192, 0, 2, 10)),
        ),
        (
            "www.hanse.example",
            TestRecord::A(Ipv4Addr::new(198, 51, 100, 20)),
        ),
        (
            "www.behind-cdn.example",
            TestRecord::Cname("edge.fastedge.example".into()),
        ),
        (
            "edge.fastedge.example",
            TestRecord::A(Ipv4Addr::new(203, 0, 113, 5)),
        ),
    ])
    .unwrap()
}

#[test]
fn a_bad_data_file_is_refused_with_its_line_and_the_old_data_stays() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("s.db").display());
    set_up(dir.path(), &db);
    let bad = write(
        dir.path(),
        "bad.tsv",
        "192.0.2.0\t192.0.2.255\t64500\tNL\tA\n198.51.100.0\t198.51.100.255\t64501\tDE\tB\n203.0.113.9\tnot-an-ip\t64510\tNL\tC\n",
    );
    let out = common::schoon(&["attribution", "load", "--db", &db, "--ip2asn", &bad]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.tsv") && err.contains("line 3"), "{err}");
    assert!(err.contains("stays in use"), "{err}");
    let bad_rpsl = write(
        dir.path(),
        "bad.db",
        "inetnum:        198.51.100.0 - 198.51.100.255\nnetname: X\n\ninetnum:        198.51.100.9 - 198.51.100.1\nsource: RIPE\n",
    );
    let out = common::schoon(&["attribution", "load", "--db", &db, "--rpsl", &bad_rpsl]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 4"), "{err}");
    // Both kinds of data are as before.
    let status = common::ok(common::schoon(&["attribution", "status", "--db", &db]));
    let line = |kind: &str| {
        status
            .lines()
            .find(|l| l.starts_with(kind))
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    assert_eq!(line("ip2asn"), "ip2asn 3 records", "{status}");
    assert_eq!(line("rpsl"), "rpsl 1 records", "{status}");
    // And a lookup still uses them, through the real DNS server.
    let server = dns();
    let addr = server.addr().to_string();
    let out = common::ok(common::schoon(&[
        "attribution",
        "lookup",
        "www.hanse.example",
        "--db",
        &db,
        "--dns",
        &addr,
    ]));
    assert!(
        out.contains("notify: Hanse Hosting GmbH <abuse@hanse.example>"),
        "{out}"
    );
    assert!(out.contains("AS64501"), "{out}");
}

async fn wait_for_text(b: &Browser, url: &str, css: &str, want: &str) -> String {
    let started = Instant::now();
    loop {
        b.goto(url).await;
        if let Ok(el) = b.client.find(fantoccini::Locator::Css(css)).await {
            let t = el.text().await.unwrap_or_default();
            if t.contains(want) {
                return t;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{css} never showed {want:?} at {url}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn report_assess_and_attribute_in_the_browser() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("s.db").display());
    let analyst = set_up(dir.path(), &db);
    let server = dns();
    let dns_addr = server.addr().to_string();
    let (mut child, addr) = common::spawn_serve_with(&db, "0.5", &["--dns", &dns_addr]);
    let base = format!("http://{addr}");
    let b = Browser::start().await;

    // A member of the public reports a URL, spelled sloppily.
    b.goto(&format!("{base}/report")).await;
    b.fill("#url", "HTTP://Shop.Hoster-A.example:80/gallery/1#top")
        .await;
    b.fill("#text", "Seen on a forum").await;
    b.click("#submit").await;
    let reference = b.text("#reference").await;
    assert!(
        reference.starts_with("R-") && reference.len() == 13,
        "{reference}"
    );

    // The same URL again (joins the case), and a URL behind a CDN.
    b.goto(&format!("{base}/report")).await;
    b.fill("#url", "http://shop.hoster-a.example/gallery/1")
        .await;
    b.click("#submit").await;
    assert_ne!(b.text("#reference").await, reference);
    b.goto(&format!("{base}/report")).await;
    b.fill("#url", "www.behind-cdn.example/x").await;
    b.click("#submit").await;
    b.find("#reference").await;
    // Bad input gets a clear message and keeps what was typed.
    b.goto(&format!("{base}/report")).await;
    b.fill("#url", "ftp://files.example/a").await;
    b.click("#submit").await;
    assert!(b.text("#error").await.contains("only http and https"));

    // The analyst pages need a sign-in.
    b.goto(&format!("{base}/ui/queue")).await;
    b.fill("#key", &analyst).await;
    b.click("#signin").await;
    b.find("#queue").await;
    let rows = b.text("#queue").await;
    assert!(
        rows.contains("http://shop.hoster-a.example/gallery/1"),
        "{rows}"
    );
    assert!(rows.contains("http://www.behind-cdn.example/x"), "{rows}");
    assert!(!rows.contains("ftp://"), "{rows}");

    // Filter the queue by source: both came through the public form.
    b.goto(&format!("{base}/ui/queue?source=partner")).await;
    assert!(b.text("#showing").await.contains("No cases"));

    // Open the first case (oldest first).
    b.goto(&format!("{base}/ui/queue")).await;
    b.click("tr.case a.case-link").await;
    assert_eq!(
        b.text("#case-url").await,
        "http://shop.hoster-a.example/gallery/1"
    );
    let case_url = b.client.current_url().await.unwrap().to_string();
    let case_url = case_url.split('?').next().unwrap().to_string();

    // Attribution ran in the background through the real DNS server.
    let party = wait_for_text(&b, &case_url, "#hoster", "Hoster A B.V.").await;
    assert_eq!(party, "Hoster A B.V.");
    assert_eq!(b.text("#abuse").await, "abuse@hoster-a.example");
    let evidence = b.text("#evidence").await;
    assert!(evidence.contains("192.0.2.10"), "{evidence}");
    assert!(
        evidence.contains("register #1 prefix 192.0.2.0/25"),
        "{evidence}"
    );
    assert!(evidence.contains("AS64500"), "{evidence}");
    assert!(b.text("#reports").await.contains(&reference));

    // Assess and record the verdict.
    b.click("#do-assess").await;
    b.wait_attr("#state", "data-state", "assessing").await;
    b.fill("#actionable-reason", "confirmed by two analysts")
        .await;
    b.click("#do-actionable").await;
    b.wait_attr("#state", "data-state", "actionable").await;
    assert!(b.text("#done").await.contains("saved"));
    let timeline = b.text("#timeline").await;
    assert!(
        timeline.contains("Assessing → Actionable: confirmed by two analysts"),
        "{timeline}"
    );
    assert!(timeline.contains("1 more report"), "{timeline}");
    // Only the moves the state machine allows are offered: an actionable case is not closed.
    assert!(
        b.client
            .find(fantoccini::Locator::Css("#do-close"))
            .await
            .is_err()
    );

    // The CDN case names the CDN.
    b.goto(&format!("{base}/ui/cases?q=behind-cdn")).await;
    b.click("tr.case a.case-link").await;
    let cdn_case = b.client.current_url().await.unwrap().to_string();
    wait_for_text(&b, &cdn_case, "#hoster", "FastEdge CDN").await;
    assert_eq!(b.text("#cdn").await, "behind CDN FastEdge CDN");
    assert!(b.text("#evidence").await.contains("edge.fastedge.example"));

    // Signing out ends the session.
    b.click("#logout").await;
    b.goto(&format!("{base}/ui/queue")).await;
    b.find("#key").await;

    b.close().await;
    let _ = child.kill();
    let _ = child.wait();
    assert!(server.queries() >= 4, "the real DNS server answered");
}
