//! The 2021 incident, replayed against a real `schoon serve` process, on SQLite and on a real
//! PostgreSQL, with a real SMTP server (aiosmtpd) receiving the mails.
//!
//! A police list wrongly holds the hashes of three benign images (it also holds three right
//! entries). Fifty hosters check near copies of the benign images, each with its own variant.
//! The flood rule (10 distinct organisations) suspends the three entries, alerts the list
//! managers by e-mail and on the alert endpoint, and from then on checks answer "no match".
//! A hoster disputes one match without ever learning the entry; the manager resolves the
//! dispute by allowlisting it, retracts the second and reinstates the third. Every hoster that
//! matched a retracted entry gets a retraction notice naming its own hash, and an e-mail. With
//! the hash on the allowlist, a partner's list that also holds it answers "no match" and records
//! the conflict. The quality gate refuses a degenerate hash and holds a low-quality one, which
//! matches only once a manager activates it. Hosters cannot read any of it.

mod common;

use common::{http, key, spawn_serve_with};
use lists::{Category, NewList, OrgKind, Purpose, Role};
use mail::testing::SmtpSink;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Child;
use std::time::{Duration, Instant};
use store::testing::TempPostgres;

const HOSTERS: usize = 50;
const FLOOD_ORGS: usize = 10;

/// Images from the conformance set: (md5, pdq), distinct pictures of high quality.
fn images() -> Vec<(String, String)> {
    let tsv = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/pdq-conformance/expected.tsv"
    ))
    .unwrap();
    let mut out: Vec<(String, String)> = Vec::new();
    for line in tsv.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let (md5, pdq, quality) = (f[3], f[6], f[7].parse::<u32>().unwrap_or(0));
        let ones = ones(pdq);
        // Far from every image already taken, so each query matches one entry only.
        if quality >= 80
            && (96..=160).contains(&ones)
            && out.iter().all(|(_, p)| distance(p, pdq) > 100)
        {
            out.push((md5.to_string(), pdq.to_string()));
        }
    }
    assert!(out.len() >= 7, "the conformance set has distinct images");
    out
}

fn bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn ones(hex: &str) -> u32 {
    bytes(hex).iter().map(|b| b.count_ones()).sum()
}

fn distance(a: &str, b: &str) -> u32 {
    bytes(a)
        .iter()
        .zip(bytes(b))
        .map(|(x, y)| (x ^ y).count_ones())
        .sum()
}

/// `pdq` with two bits flipped: a near copy (distance 2), different for each `i` below 128.
fn variant(pdq: &str, i: usize) -> String {
    let mut b = bytes(pdq);
    for bit in [i % 128, 128 + (i * 7) % 128] {
        b[bit / 8] ^= 1 << (bit % 8);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct World {
    admin: String,
    manager: String,
    partner: String,
    hosters: Vec<String>,
    hoster_emails: Vec<String>,
    list: i64,
    partner_list: i64,
    allowlist: i64,
}

async fn setup(url: &str) -> World {
    let store = store::open(url).await.unwrap();
    let op = store
        .create_org("Operator", OrgKind::Operator)
        .await
        .unwrap();
    let police = store.create_org("Politie", OrgKind::Police).await.unwrap();
    store
        .set_org_email(police.id, Some("hashlists@politie.example"))
        .await
        .unwrap();
    let partner = store
        .create_org("Partner hotline", OrgKind::Hotline)
        .await
        .unwrap();
    let new = |name: &str, owner: i64, purpose: Purpose| NewList {
        name: name.into(),
        owner_org_id: owner,
        category: Category::new(if purpose == Purpose::Allow {
            "other"
        } else {
            "csam"
        })
        .unwrap(),
        description: String::new(),
        source: "incident replay".into(),
        purpose,
    };
    let list = store
        .create_list(&new("nl-police-csam", police.id, Purpose::Block))
        .await
        .unwrap();
    let partner_list = store
        .create_list(&new("partner-list", partner.id, Purpose::Block))
        .await
        .unwrap();
    let allowlist = store
        .create_list(&new("cms-defaults", police.id, Purpose::Allow))
        .await
        .unwrap();
    let mut hosters = Vec::new();
    let mut hoster_emails = Vec::new();
    for i in 0..HOSTERS + 5 {
        let org = store
            .create_org(&format!("Hoster {i:02}"), OrgKind::Hoster)
            .await
            .unwrap();
        let email = format!("abuse@hoster{i:02}.example");
        store.set_org_email(org.id, Some(&email)).await.unwrap();
        hosters.push(key(store.as_ref(), org.id, Role::Hoster).await);
        hoster_emails.push(email);
    }
    World {
        admin: key(store.as_ref(), op.id, Role::Admin).await,
        manager: key(store.as_ref(), police.id, Role::ListManager).await,
        partner: key(store.as_ref(), partner.id, Role::ListManager).await,
        hosters,
        hoster_emails,
        list: list.id,
        partner_list: partner_list.id,
        allowlist: allowlist.id,
    }
}

fn post(addr: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
    http(
        addr,
        "POST",
        path,
        token,
        "application/json",
        &body.to_string(),
    )
}

fn get(addr: &str, path: &str, token: &str) -> (u16, Value) {
    http(addr, "GET", path, token, "application/json", "")
}

fn check(addr: &str, token: &str, hashes: &[(&str, &str)]) -> Vec<bool> {
    let body = json!({"hashes": hashes.iter().map(|(t, v)| json!({"type": t, "value": v})).collect::<Vec<_>>()});
    let (status, v) = post(addr, "/v1/check", token, body);
    assert_eq!(status, 200, "{v}");
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["matched"].as_bool().unwrap())
        .collect()
}

/// Polls until `f` holds (at most 15 s).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let started = Instant::now();
    while !f() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "timed out waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn import(addr: &str, token: &str, list: i64, query: &str, csv: &str) -> Value {
    let (status, v) = http(
        addr,
        "POST",
        &format!("/v1/lists/{list}/import{query}"),
        token,
        "text/csv",
        csv,
    );
    assert_eq!(status, 200, "{v}");
    v
}

fn entry_id(addr: &str, token: &str, list: i64, kind: &str, value: &str) -> (i64, Value) {
    let (status, v) = get(
        addr,
        &format!("/v1/lists/{list}/entries?type={kind}&value={value}"),
        token,
    );
    assert_eq!(status, 200, "{v}");
    let e = v.as_array().unwrap().last().unwrap().clone();
    (e["id"].as_i64().unwrap(), e)
}

fn replay(url: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let w = rt.block_on(setup(url));
    let sink = SmtpSink::start().expect(
        "start the SMTP test server (aiosmtpd; `bash scripts/setup.sh --test` installs it)",
    );
    let smtp = sink.url();
    let (child, addr) = spawn_serve_with(
        url,
        "0.2",
        &[
            "--rate",
            "0",
            "--flood-orgs",
            &FLOOD_ORGS.to_string(),
            "--flood-hits",
            "0",
            "--flood-every",
            "0.2",
            "--smtp",
            &smtp,
            "--mail-from",
            "schoon@hotline.example",
            "--alert-to",
            "desk@hotline.example",
        ],
    );
    let server = Server { child, addr };
    let addr = server.addr.as_str();
    let img = images();
    let (wrong, right, held_img) = (&img[0..3], &img[3..6], &img[6]);

    // The list: three benign images wrongly, three right entries; md5 and PDQ of each.
    let mut csv = String::from("type,hash,quality,ref,confirmations\n");
    for (i, (md5, pdq)) in wrong.iter().chain(right).enumerate() {
        csv.push_str(&format!(
            "md5,{md5},,case-{i},2\npdq,{pdq},100,case-{i},2\n"
        ));
    }
    let v = import(addr, &w.manager, w.list, "?note=batch-7", &csv);
    assert_eq!(v["added"], 12, "{v}");

    // Provenance: who, when, from which import, how verified.
    let (id0, e) = entry_id(addr, &w.manager, w.list, "pdq", &wrong[0].1);
    assert_eq!(e["status"], "active");
    assert_eq!(e["ext_ref"], "case-0");
    assert_eq!(e["confirmations"], 2);
    assert_eq!(e["import_note"], "batch-7");
    assert_eq!(e["added_version"], 1);
    assert!(e["added_by_org"].as_i64().is_some(), "{e}");

    // Fifty hosters check near copies of the three benign images, one after the other.
    let mut matched: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for h in 0..HOSTERS {
        let vars: Vec<String> = wrong.iter().map(|(_, p)| variant(p, h)).collect();
        let q: Vec<(&str, &str)> = vars.iter().map(|v| ("pdq", v.as_str())).collect();
        let answer = check(addr, &w.hosters[h], &q);
        let which: Vec<usize> = (0..3).filter(|&i| answer[i]).collect();
        if !which.is_empty() {
            matched.insert(h, which);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!(
        "{} of {HOSTERS} hosters matched before the flood rule suspended the entries",
        matched.len()
    );
    assert!(matched.len() >= FLOOD_ORGS, "{matched:?}");

    // The flood rule suspends all three; fresh hosters then get "no match".
    let (id1, _) = entry_id(addr, &w.manager, w.list, "pdq", &wrong[1].1);
    let (id2, _) = entry_id(addr, &w.manager, w.list, "pdq", &wrong[2].1);
    for id in [id0, id1, id2] {
        eventually("the flood rule suspends the entry", || {
            let (_, v) = get(
                addr,
                &format!("/v1/lists/{}/entries/{id}", w.list),
                &w.manager,
            );
            v["entry"]["status"] == "suspended"
        });
    }
    eventually("checks stop reporting the suspended entries", || {
        let vars: Vec<String> = wrong.iter().map(|(_, p)| variant(p, 110)).collect();
        let q: Vec<(&str, &str)> = vars.iter().map(|v| ("pdq", v.as_str())).collect();
        check(addr, &w.hosters[HOSTERS], &q) == [false, false, false]
    });
    for h in HOSTERS..HOSTERS + 5 {
        let vars: Vec<String> = wrong.iter().map(|(_, p)| variant(p, h)).collect();
        let q: Vec<(&str, &str)> = vars.iter().map(|v| ("pdq", v.as_str())).collect();
        assert_eq!(check(addr, &w.hosters[h], &q), [false, false, false]);
    }
    // The right entries still match.
    let q: Vec<(&str, &str)> = right.iter().map(|(m, _)| ("md5", m.as_str())).collect();
    assert_eq!(check(addr, &w.hosters[0], &q), [true, true, true]);

    let (_, d) = get(
        addr,
        &format!("/v1/lists/{}/entries/{id0}", w.list),
        &w.manager,
    );
    assert_eq!(d["events"][0]["actor"], "flood-rule", "{d}");
    assert_eq!(d["events"][0]["from"], "active");
    assert!(
        d["matches"]["orgs"].as_i64().unwrap() >= FLOOD_ORGS as i64,
        "{d}"
    );

    // Alerts: on the endpoint, and by e-mail to the list owner and the desk.
    let (status, alerts) = get(addr, "/v1/alerts", &w.manager);
    assert_eq!(status, 200);
    let flooded: BTreeSet<i64> = alerts
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "flood")
        .map(|a| a["entry_id"].as_i64().unwrap())
        .collect();
    assert_eq!(flooded, BTreeSet::from([id0, id1, id2]));
    let (_, partner_alerts) = get(addr, "/v1/alerts", &w.partner);
    assert_eq!(
        partner_alerts,
        json!([]),
        "alerts only reach the list's managers"
    );
    let mails = rt
        .block_on(sink.wait_for(3, Duration::from_secs(15)))
        .unwrap();
    let floods: Vec<_> = mails
        .iter()
        .filter(|m| m.subject.contains("suspended by the flood rule"))
        .collect();
    assert_eq!(floods.len(), 3, "{mails:?}");
    for m in &floods {
        assert_eq!(
            m.to,
            ["hashlists@politie.example", "desk@hotline.example"],
            "{m:?}"
        );
        assert!(m.header("X-Schoon-Ref").unwrap().starts_with("flood:"));
    }

    // Hosters read nothing of this.
    let hoster = &w.hosters[0];
    for (method, path) in [
        (
            "GET",
            format!("/v1/lists/{}/entries?status=suspended", w.list),
        ),
        ("GET", format!("/v1/lists/{}/entries/{id0}", w.list)),
        ("POST", format!("/v1/lists/{}/entries/{id0}/status", w.list)),
        (
            "POST",
            format!("/v1/lists/{}/entries/{id0}/allowlist", w.list),
        ),
        ("GET", format!("/v1/lists/{}/conflicts", w.allowlist)),
        (
            "GET",
            format!("/v1/lists/{}/entries?status=active", w.allowlist),
        ),
        ("GET", "/v1/alerts".to_string()),
        ("GET", "/v1/outbox".to_string()),
    ] {
        let body = json!({"status": "active", "reason": "x", "allowlist_id": w.allowlist});
        let (status, v) = http(
            addr,
            method,
            &path,
            hoster,
            "application/json",
            &body.to_string(),
        );
        assert_eq!(status, 403, "{method} {path}: {v}");
    }

    // A hoster that matched disputes; one that never matched cannot use a dispute to probe.
    let (&h0, which) = matched.iter().next().unwrap();
    let i = which[0];
    let disputed = variant(&wrong[i].1, h0);
    let (status, v) = post(
        addr,
        "/v1/disputes",
        &w.hosters[h0],
        json!({"type": "pdq", "value": disputed, "reason": "this is our customers' WordPress header image"}),
    );
    assert_eq!(status, 201, "{v}");
    let dispute = v[0].clone();
    assert_eq!(dispute["list"], "nl-police-csam");
    assert_eq!(dispute["status"], "open");
    assert!(dispute.get("entry_id").is_none(), "{dispute}");
    let (status, _) = post(
        addr,
        "/v1/disputes",
        &w.hosters[HOSTERS + 1],
        json!({"type": "pdq", "value": wrong[i].1, "reason": "probing"}),
    );
    assert_eq!(status, 404);
    let (_, mine) = get(addr, "/v1/disputes", &w.hosters[h0]);
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let (_, theirs) = get(addr, "/v1/disputes", &w.hosters[HOSTERS + 1]);
    assert_eq!(theirs, json!([]));

    // The manager sees the dispute with its entry, and allowlists the entry in one step.
    let (_, open) = get(addr, "/v1/disputes?status=open", &w.manager);
    let ids = [id0, id1, id2];
    assert_eq!(open[0]["entry_id"], ids[i], "{open}");
    let (status, v) = post(
        addr,
        &format!("/v1/disputes/{}/resolve", dispute["id"]),
        &w.manager,
        json!({"outcome": "allowlist", "allowlist_id": w.allowlist, "note": "theme image, confirmed benign"}),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "upheld");
    // The second wrong entry is retracted directly; the third is judged right and reinstated.
    let (j, k) = match i {
        0 => (1, 2),
        1 => (0, 2),
        _ => (0, 1),
    };
    let (status, v) = post(
        addr,
        &format!("/v1/lists/{}/entries/{}/status", w.list, ids[j]),
        &w.manager,
        json!({"status": "retracted", "reason": "stock photo, not CSAM"}),
    );
    assert_eq!(status, 200, "{v}");
    let (status, v) = post(
        addr,
        &format!("/v1/lists/{}/entries/{}/status", w.list, ids[k]),
        &w.manager,
        json!({"status": "active", "reason": "verified again by two analysts"}),
    );
    assert_eq!(status, 200, "{v}");
    let (_, d) = get(
        addr,
        &format!("/v1/lists/{}/entries/{}", w.list, ids[k]),
        &w.manager,
    );
    assert_eq!(d["entry"]["status"], "active");
    assert_eq!(d["events"].as_array().unwrap().len(), 2);

    // Retraction notices: every hoster that matched a retracted entry, naming its own hash.
    let retracted = [i, j];
    let mut expected_mails = 0;
    for h in 0..HOSTERS + 5 {
        let (status, notices) = get(addr, "/v1/retractions", &w.hosters[h]);
        assert_eq!(status, 200);
        let notices = notices.as_array().unwrap();
        let want: Vec<usize> = matched
            .get(&h)
            .map(|m| {
                m.iter()
                    .copied()
                    .filter(|x| retracted.contains(x))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(notices.len(), want.len(), "hoster {h}: {notices:?}");
        for n in notices {
            assert_eq!(n["list"], "nl-police-csam");
            let q = n["queries"].as_array().unwrap();
            assert_eq!(q.len(), 1, "{n}");
            let own: Vec<String> = want.iter().map(|&x| variant(&wrong[x].1, h)).collect();
            assert!(
                own.contains(&q[0]["value"].as_str().unwrap().to_string()),
                "{n}"
            );
            assert!(n.get("entry_id").is_none());
        }
        expected_mails += want.len();
    }
    assert!(expected_mails > 0);
    // Mails: 3 flood alerts, 1 dispute alert, one retraction per (hoster, entry).
    let all = rt
        .block_on(sink.wait_for(4 + expected_mails, Duration::from_secs(30)))
        .unwrap();
    let retractions: Vec<_> = all
        .iter()
        .filter(|m| m.subject.starts_with("[Schoon] retraction"))
        .collect();
    assert_eq!(retractions.len(), expected_mails);
    for m in &retractions {
        assert_eq!(m.to.len(), 1);
        assert!(w.hoster_emails.contains(&m.to[0]), "{m:?}");
        assert_eq!(m.attachments.len(), 1, "the JSON part");
    }
    assert_eq!(
        all.iter().filter(|m| m.subject.contains("dispute")).count(),
        1
    );

    // Allowlisted: a partner list holding the same image still answers "no match", and the
    // conflict is recorded for the partner's managers.
    import(
        addr,
        &w.partner,
        w.partner_list,
        "",
        &format!("pdq,quality\n{},100\n", wrong[i].1),
    );
    eventually("the partner's import reaches the index", || {
        let (_, v) = get(addr, "/v1/check", &w.hosters[1]);
        v["index_seq"].as_i64().unwrap() > 0
    });
    std::thread::sleep(Duration::from_millis(500));
    let probe = variant(&wrong[i].1, 120);
    assert_eq!(check(addr, &w.hosters[2], &[("pdq", &probe)]), [false]);
    eventually("the conflict is recorded", || {
        let (_, c) = get(
            addr,
            &format!("/v1/lists/{}/conflicts", w.partner_list),
            &w.partner,
        );
        c.as_array().is_some_and(|c| !c.is_empty())
    });
    // The reinstated entry matches again, and is not suspended again at once.
    let probe_k = variant(&wrong[k].1, 121);
    eventually("the reinstated entry matches", || {
        check(addr, &w.hosters[3], &[("pdq", &probe_k)]) == [true]
    });
    // A retracted hash does not come back with the next import.
    let v = import(
        addr,
        &w.manager,
        w.list,
        "",
        &format!("pdq,quality\n{},100\n", wrong[j].1),
    );
    assert_eq!(
        (v["added"].as_u64(), v["retracted_skipped"].as_u64()),
        (Some(0), Some(1)),
        "{v}"
    );

    // Quality gate: a degenerate hash is refused, a low-quality one held until approved.
    let zero = "0".repeat(64);
    let v = import(
        addr,
        &w.manager,
        w.list,
        "?hold_low_quality=true",
        &format!("pdq,quality\n{zero},100\n{},30\n", held_img.1),
    );
    assert_eq!(v["source"]["refused"], 1, "{v}");
    assert!(
        v["source"]["refusals"][0]["message"]
            .as_str()
            .unwrap()
            .contains("bits set")
    );
    assert_eq!(
        (v["added"].as_u64(), v["held"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(check(addr, &w.hosters[4], &[("pdq", &held_img.1)]), [false]);
    let (held_id, e) = entry_id(addr, &w.manager, w.list, "pdq", &held_img.1);
    assert_eq!(e["status"], "held");
    assert!(e["hold_reason"].as_str().unwrap().contains("quality 30"));
    let (status, _) = post(
        addr,
        &format!("/v1/lists/{}/entries/{held_id}/status", w.list),
        &w.manager,
        json!({"status": "active", "reason": "checked by hand"}),
    );
    assert_eq!(status, 200);
    eventually("the approved entry matches", || {
        check(addr, &w.hosters[4], &[("pdq", &held_img.1)]) == [true]
    });

    // The outbox shows every mail as sent.
    let (_, outbox) = get(addr, "/v1/outbox", &w.admin);
    let outbox = outbox.as_array().unwrap();
    assert_eq!(outbox.len(), 4 + expected_mails);
    assert!(outbox.iter().all(|m| !m["sent_at"].is_null()), "{outbox:?}");
    drop(server);
}

#[test]
fn incident_replay_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    replay(&format!("sqlite://{}", dir.path().join("s.db").display()));
}

#[test]
fn incident_replay_on_postgres() {
    if TempPostgres::skipped() {
        eprintln!("SCHOON_SKIP_PG=1: skipping");
        return;
    }
    let pg = TempPostgres::start().expect("start PostgreSQL");
    replay(&pg.url());
}
