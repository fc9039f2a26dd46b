//! Two `schoon serve` processes on one real PostgreSQL: both answer checks, and a list change
//! made through one is visible in the other within seconds (LISTEN/NOTIFY; the replicas' poll
//! interval is set far longer than the test's deadline, so polling cannot be what passes it).
//! Also: the service on SQLite starts, answers, and stops cleanly on SIGTERM.

mod common;

use common::{http, key};

use lists::{Category, NewList, OrgKind, Role};
use serde_json::{Value, json};
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use store::testing::TempPostgres;

struct Replica {
    child: Child,
    addr: String,
}

impl Replica {
    fn start(db: &str) -> Replica {
        let (child, addr) = common::spawn_serve(db, "600");
        Replica { child, addr }
    }

    /// SIGTERM, then the exit status must be success (graceful shutdown).
    fn stop(mut self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "serve exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sets up a police list manager, a hoster and an empty list; returns (manager, hoster, list).
async fn bootstrap(url: &str) -> (String, String, i64) {
    let store = store::open(url).await.unwrap();
    let police = store.create_org("Police", OrgKind::Police).await.unwrap();
    let hoster = store.create_org("Hoster", OrgKind::Hoster).await.unwrap();
    let list = store
        .create_list(&NewList {
            name: "nl-test".into(),
            owner_org_id: police.id,
            category: Category::new("csam").unwrap(),
            description: String::new(),
            source: String::new(),
            purpose: Default::default(),
        })
        .await
        .unwrap();
    (
        key(store.as_ref(), police.id, Role::ListManager).await,
        key(store.as_ref(), hoster.id, Role::Hoster).await,
        list.id,
    )
}

fn check(addr: &str, token: &str, md5: &str) -> Value {
    let body = json!({"hashes": [{"type": "md5", "value": md5}]}).to_string();
    let (status, v) = http(addr, "POST", "/v1/check", token, "application/json", &body);
    assert_eq!(status, 200, "{v}");
    v["results"][0].clone()
}

/// Polls `addr` until the check's `matched` equals `want`; returns how long it took.
fn wait_for(addr: &str, token: &str, md5: &str, want: bool) -> Duration {
    let started = Instant::now();
    loop {
        if check(addr, token, md5)["matched"] == want {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "replica {addr} did not see the change within 5 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_replicas_on_postgres_see_each_others_changes() {
    if TempPostgres::skipped() {
        eprintln!("SCHOON_SKIP_PG=1: skipping");
        return;
    }
    let pg = TempPostgres::start().expect("start PostgreSQL");
    let url = pg.url();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (manager, hoster, list) = rt.block_on(bootstrap(&url));
    let a = Replica::start(&url);
    let b = Replica::start(&url);
    let md5 = "0123456789abcdef0123456789abcdef";
    for r in [&a, &b] {
        assert_eq!(check(&r.addr, &hoster, md5)["matched"], false);
    }

    // Add through A; B must answer "matched" within seconds.
    let (status, v) = http(
        &a.addr,
        "POST",
        &format!("/v1/lists/{list}/import?type=md5"),
        &manager,
        "text/plain",
        &format!("{md5}\n"),
    );
    assert_eq!(status, 200, "{v}");
    let took = wait_for(&b.addr, &hoster, md5, true);
    eprintln!("replica B saw the addition after {took:?}");
    assert_eq!(
        check(&b.addr, &hoster, md5)["matches"][0]["list_version"],
        1
    );
    wait_for(&a.addr, &hoster, md5, true);

    // Suspend the entry through A (a status change, not a list version): B stops matching it;
    // reinstate it through B: A matches it again.
    let (status, v) = http(
        &a.addr,
        "GET",
        &format!("/v1/lists/{list}/entries?type=md5&value={md5}"),
        &manager,
        "application/json",
        "",
    );
    assert_eq!(status, 200, "{v}");
    let entry = v[0]["id"].as_i64().unwrap();
    for (via, to, want, other) in [(&a, "suspended", false, &b), (&b, "active", true, &a)] {
        let body = json!({"status": to, "reason": "replica test"}).to_string();
        let (status, v) = http(
            &via.addr,
            "POST",
            &format!("/v1/lists/{list}/entries/{entry}/status"),
            &manager,
            "application/json",
            &body,
        );
        assert_eq!(status, 200, "{v}");
        let took = wait_for(&other.addr, &hoster, md5, want);
        eprintln!("the other replica saw the entry {to} after {took:?}");
    }

    // Remove through B; A follows.
    let (status, v) = http(
        &b.addr,
        "POST",
        &format!("/v1/lists/{list}/import?type=md5&mode=remove"),
        &manager,
        "text/plain",
        &format!("{md5}\n"),
    );
    assert_eq!(status, 200, "{v}");
    let took = wait_for(&a.addr, &hoster, md5, false);
    eprintln!("replica A saw the removal after {took:?}");

    a.stop();
    b.stop();
}

#[test]
fn serve_on_sqlite_answers_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (manager, hoster, list) = rt.block_on(bootstrap(&url));
    let r = Replica::start(&url);
    let (status, v) = http(&r.addr, "GET", "/healthz", "", "text/plain", "");
    assert_eq!((status, &v["backend"]), (200, &json!("sqlite")));
    let md5 = "fedcba9876543210fedcba9876543210";
    let (status, _) = http(
        &r.addr,
        "POST",
        &format!("/v1/lists/{list}/import?type=md5"),
        &manager,
        "text/plain",
        md5,
    );
    assert_eq!(status, 200);
    // The follow loop is woken by the import itself: no need to wait for the (600 s) poll.
    wait_for(&r.addr, &hoster, md5, true);
    let (status, v) = http(&r.addr, "GET", "/metrics", "", "text/plain", "");
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    r.stop();
}
