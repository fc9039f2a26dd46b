//! Notices, the hoster portal and notice templates, in process (the router as a tower service
//! over a real SQLite store, with a manual clock): who may see and answer which notified
//! cases over the portal's JSON API, what hosters' answers do and which are refused, the
//! portal pages with their notice links, session cookie and cross-site protection, and the
//! analysts' notices and templates routes.
//!
//! Cases are brought to "notified" through the stores directly (report, assess, actionable,
//! party; a notice queued and recorded as sent), so no SMTP server is needed.

use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use lists::keys::NewKey;
use lists::live::LiveIndex;
use lists::{ApiKey, Clock, ManualClock, Millis, OrgKind, Role};
use ntd::case::Action;
use ntd::fetch::{Check, Verdict};
use ntd::notice::NoticeKind;
use ntd::register::{Channel as HosterChannel, HosterFields};
use ntd::takedown::{CheckRecord, NewNotice, NoticeStore, Policy, SendOutcome};
use ntd::{CaseState, CaseStore};
use serde_json::{Value, json};
use server::{AppState, Config};
use std::collections::HashMap;
use std::sync::Arc;
use tower::ServiceExt;

/// 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
/// When the notices of [`World::scenario`] are recorded as sent.
const SENT: i64 = T0 + 5 * MIN;

struct World {
    _dir: tempfile::TempDir,
    cases: Arc<dyn CaseStore>,
    notices: Arc<dyn NoticeStore>,
    clock: Arc<ManualClock>,
    app: axum::Router,
    /// name → (token, key id)
    keys: HashMap<&'static str, (String, String)>,
    /// name → organisation id
    orgs: HashMap<&'static str, i64>,
}

/// What [`World::scenario`] made.
struct Scenario {
    /// Register entry A (linked to the organisation of the `hoster_a` key).
    a: i64,
    /// Register entry B (linked to the organisation of the `hoster_b` key).
    b: i64,
    /// A's two notified cases (one notice).
    a1: i64,
    a2: i64,
    /// A's case whose notice is queued but not sent: not in the portal.
    a_queued: i64,
    /// B's notified case.
    b1: i64,
}

const URL_A1: &str = "http://files.host-a.example/u/1";
const URL_A2: &str = "http://files.host-a.example/u/2";
const URL_A3: &str = "http://files.host-a.example/u/3";
const URL_B1: &str = "http://board.host-b.example/t/9";

/// An answer: status, headers, and the body as text.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("<none>")
}

fn message(v: &Value) -> &str {
    v["error"]["message"].as_str().unwrap_or("<none>")
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The `name=value` part of a `Set-Cookie` header.
fn cookie_of(a: &Answer) -> String {
    a.header(header::SET_COOKIE)
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let clock = Arc::new(ManualClock::new(Millis(T0)));
    let stores = store::open_stores(&url, Arc::clone(&clock) as Arc<dyn Clock>)
        .await
        .unwrap();
    let store = Arc::clone(&stores.lists);
    let mut orgs = HashMap::new();
    for (name, kind) in [
        ("operator", OrgKind::Operator),
        ("hotline", OrgKind::Hotline),
        ("partner", OrgKind::Hotline),
        ("host_a", OrgKind::Hoster),
        ("host_b", OrgKind::Hoster),
        ("host_free", OrgKind::Hoster),
    ] {
        orgs.insert(name, store.create_org(name, kind).await.unwrap().id);
    }
    let mut keys = HashMap::new();
    for (name, org, role) in [
        ("admin", "operator", Role::Admin),
        ("analyst", "hotline", Role::Analyst),
        ("reporter", "partner", Role::Reporter),
        ("hoster_a", "host_a", Role::Hoster),
        ("hoster_b", "host_b", Role::Hoster),
        ("hoster_free", "host_free", Role::Hoster),
    ] {
        let new = NewKey::generate().unwrap();
        store
            .insert_key(&ApiKey {
                id: new.id.clone(),
                org_id: orgs[org],
                role,
                name: name.into(),
                secret_sha256: new.secret_sha256,
                rate_per_sec: None,
                created_at: Millis(T0),
                revoked_at: None,
            })
            .await
            .unwrap();
        keys.insert(name, (new.token().to_string(), new.id.clone()));
    }
    let live = Arc::new(LiveIndex::load(store.as_ref(), |_| {}).await.unwrap());
    let engine = Arc::new(ntd::engine::Engine::new(
        Arc::clone(&stores.cases),
        ntd::dns::Resolver::new(&ntd::dns::DnsConfig::default()).unwrap(),
        Arc::clone(&clock) as Arc<dyn Clock>,
    ));
    let (state, _writer) = AppState::new(
        Arc::clone(&store),
        server::NtdParts {
            cases: Arc::clone(&stores.cases),
            engine,
            wake: Arc::new(tokio::sync::Notify::new()),
            notices: Arc::clone(&stores.notices),
            clock: Arc::clone(&clock) as Arc<dyn Clock>,
            policy: Policy::default(),
            notify_wake: Arc::new(tokio::sync::Notify::new()),
            monitor: Arc::clone(&stores.monitor),
            rules: monitor::Rules::default(),
            hotline_name: "Test hotline".into(),
            portal_base: "http://127.0.0.1".into(),
        },
        live,
        Config::default(),
    );
    World {
        _dir: dir,
        app: server::router(state),
        cases: Arc::clone(&stores.cases),
        notices: Arc::clone(&stores.notices),
        clock,
        keys,
        orgs,
    }
}

impl World {
    async fn send(&self, req: Request<Body>) -> Answer {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = to_bytes(res.into_body(), 16 << 20).await.unwrap();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    fn token(&self, who: &str) -> &str {
        &self.keys[who].0
    }

    fn key_id(&self, who: &str) -> &str {
        &self.keys[who].1
    }

    /// An API call with a JSON body, or none.
    async fn api(
        &self,
        who: Option<&str>,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(who) = who {
            req = req.header(header::AUTHORIZATION, format!("Bearer {}", self.token(who)));
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let body = body.map_or(Body::empty(), |b| Body::from(b.to_string()));
        let a = self.send(req.body(body).unwrap()).await;
        let v = serde_json::from_str(&a.body).unwrap_or(Value::String(a.body));
        (a.status, v)
    }

    async fn get(&self, who: &str, path: &str) -> (StatusCode, Value) {
        self.api(Some(who), Method::GET, path, None).await
    }

    async fn post(&self, who: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.api(Some(who), Method::POST, path, Some(&body)).await
    }

    async fn put(&self, who: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.api(Some(who), Method::PUT, path, Some(&body)).await
    }

    /// A browser request: optional cookie, optional form body, extra headers.
    async fn page(
        &self,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        form_body: Option<String>,
        extra: &[(&str, &str)],
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        if form_body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        self.send(
            req.body(form_body.map_or(Body::empty(), Body::from))
                .unwrap(),
        )
        .await
    }

    /// A register entry linked to organisation `org` (if any).
    async fn hoster(&self, name: &str, org: Option<&str>) -> i64 {
        self.cases
            .create_hoster(
                &HosterFields {
                    name: name.into(),
                    org_id: org.map(|o| self.orgs[o]),
                    abuse: vec![format!(
                        "abuse@{}.example",
                        name.to_lowercase().replace(' ', "-")
                    )],
                    channel: HosterChannel::Email,
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

    /// Reports `urls` (as the analyst), judges them actionable and names `hoster_id`.
    async fn actionable(&self, urls: &[&str], hoster_id: i64) -> Vec<i64> {
        let (s, v) = self
            .post(
                "analyst",
                "/v1/reports",
                json!({"category": "csam", "urls": urls}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let mut ids = Vec::new();
        for o in v["outcomes"].as_array().unwrap() {
            let id = o["case_id"].as_i64().unwrap();
            self.cases
                .act(id, "analyst", &Action::Assess)
                .await
                .unwrap();
            self.cases
                .act(id, "analyst", &Action::Actionable { reason: None })
                .await
                .unwrap();
            self.cases
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

    /// Queues a notice for `case_ids` at T0; returns its id.
    async fn queue(&self, reference: &str, hoster_id: i64, case_ids: &[i64]) -> i64 {
        self.notices
            .queue_notice(
                &NewNotice {
                    reference: reference.into(),
                    kind: NoticeKind::Notice,
                    hoster_id,
                    channel: ntd::takedown::Channel::Email,
                    recipients: vec![format!("abuse@{}.example", reference.to_lowercase())],
                    subject: format!("Notice {reference}"),
                    body: format!("Please remove the material of notice {reference}."),
                    json: "{}".into(),
                    case_ids: case_ids.to_vec(),
                },
                Millis(T0),
            )
            .await
            .unwrap()
    }

    /// Records notice `id` as accepted by the mail server at [`SENT`].
    async fn sent(&self, id: i64, message_id: &str) {
        self.notices
            .finish_notice(
                id,
                Millis(SENT),
                &SendOutcome::Sent(message_id.into()),
                &Policy::default(),
            )
            .await
            .unwrap();
    }

    /// Two register entries linked to the `host_a` and `host_b` organisations; A has two
    /// cases under one sent notice and a third whose notice is only queued, B one notified
    /// case. The clock stands at T0 + 10 min afterwards.
    async fn scenario(&self) -> Scenario {
        let a = self.hoster("Host A", Some("host_a")).await;
        let b = self.hoster("Host B", Some("host_b")).await;
        // A register entry without an organisation: its existence changes nothing.
        self.hoster("Host C", None).await;
        let ca = self.actionable(&[URL_A1, URL_A2], a).await;
        let cq = self.actionable(&[URL_A3], a).await;
        let cb = self.actionable(&[URL_B1], b).await;
        let na = self.queue("N-A-1", a, &ca).await;
        let nb = self.queue("N-B-1", b, &cb).await;
        self.queue("N-A-2", a, &cq).await;
        self.sent(na, "<n-a-1@schoon.test>").await;
        self.sent(nb, "<n-b-1@schoon.test>").await;
        self.clock.set(Millis(T0 + 10 * MIN));
        for id in ca.iter().chain(&cb) {
            assert_eq!(self.state(*id).await, CaseState::Notified);
        }
        assert_eq!(self.state(cq[0]).await, CaseState::Actionable);
        Scenario {
            a,
            b,
            a1: ca[0],
            a2: ca[1],
            a_queued: cq[0],
            b1: cb[0],
        }
    }

    async fn state(&self, id: i64) -> CaseState {
        self.cases.case(id).await.unwrap().unwrap().state
    }

    /// Closes a notified case the way the checker does: an offline re-check at `at`.
    async fn offline(&self, case_id: i64, url: &str, at: i64) {
        self.notices
            .save_checks(&[CheckRecord {
                case_id,
                at: Millis(at),
                check: Check {
                    verdict: Verdict::Offline,
                    reason: "HTTP 404".into(),
                    status: Some(404),
                    hops: vec![url.into()],
                    address: Some("192.0.2.10".into()),
                    content: None,
                    bytes: 0,
                    truncated: false,
                    millis: 12,
                },
                next: Millis(at + HOUR),
            }])
            .await
            .unwrap();
    }

    /// What the hoster's answer on a case is, per the store.
    async fn said(&self, hoster_id: i64, case_id: i64) -> Option<String> {
        self.notices
            .portal_cases(hoster_id, Millis(0))
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.case_id == case_id)
            .and_then(|c| c.hoster_said)
    }

    /// A portal link for `hoster_id`, expiring at `expires`.
    async fn link(&self, hoster_id: i64, expires: i64) -> String {
        let secret = self.notices.secret("portal").await.unwrap();
        format!(
            "/portal/t/{}",
            ntd::notice::portal_token(secret.as_bytes(), hoster_id, Millis(expires))
        )
    }
}

fn case_ids(v: &Value) -> Vec<i64> {
    v["cases"]
        .as_array()
        .unwrap_or_else(|| panic!("no cases: {v}"))
        .iter()
        .map(|c| c["case_id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn portal_api_shows_each_hoster_only_its_own_notified_cases() {
    let w = world().await;
    let s = w.scenario().await;

    // A's key: exactly A's two notified cases, with URL, reference and the 24-hour deadline;
    // not the case whose notice is still queued, and never B's.
    let (st, v) = w.get("hoster_a", "/v1/portal/cases").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["hoster"], json!({"id": s.a, "name": "Host A"}));
    assert_eq!(case_ids(&v), [s.a1, s.a2]);
    for (c, url) in v["cases"].as_array().unwrap().iter().zip([URL_A1, URL_A2]) {
        assert_eq!(c["url"], url, "{c}");
        assert_eq!(c["category"], "csam");
        assert_eq!(c["state"], "notified");
        assert_eq!(c["reference"], "N-A-1");
        assert_eq!(c["notified_at"], SENT);
        assert_eq!(c["deadline"], SENT + 24 * HOUR);
        assert_eq!(c["hoster_said"], Value::Null);
        assert_eq!(c["removed_at"], Value::Null);
        // What the hoster does not get to see.
        for hidden in ["reports", "reporter", "evidence", "timeline", "attribution"] {
            assert!(c.get(hidden).is_none(), "{hidden} in {c}");
        }
    }
    assert!(!v.to_string().contains(URL_B1), "{v}");
    assert!(!v.to_string().contains(URL_A3), "{v}");
    assert!(!v.to_string().contains("N-B-1"), "{v}");

    // B's key: only B's case.
    let (st, v) = w.get("hoster_b", "/v1/portal/cases").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["hoster"]["id"], s.b);
    assert_eq!(case_ids(&v), [s.b1]);
    assert_eq!(v["cases"][0]["url"], URL_B1);
    assert_eq!(v["cases"][0]["reference"], "N-B-1");

    // Answering another hoster's case, or a case not notified yet: 404, and nothing changes.
    for case in [s.b1, s.a_queued, 999_999] {
        let (st, v) = w
            .post(
                "hoster_a",
                &format!("/v1/portal/cases/{case}/response"),
                json!({"response": "removed"}),
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{case}: {v}");
        assert_eq!(code(&v), "not_found");
        assert!(
            message(&v).contains(&format!("case {case} in your notices not found")),
            "{v}"
        );
    }
    assert_eq!(w.said(s.b, s.b1).await, None);
    assert_eq!(w.state(s.b1).await, CaseState::Notified);

    // A hoster key whose organisation no register entry names.
    let (st, v) = w.get("hoster_free", "/v1/portal/cases").await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(code(&v), "forbidden");
    assert!(
        message(&v).contains("not linked to an entry of the hosters register"),
        "{v}"
    );
    let (st, v) = w
        .post(
            "hoster_free",
            &format!("/v1/portal/cases/{}/response", s.a1),
            json!({"response": "removed"}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    assert!(message(&v).contains("hosters register"), "{v}");

    // Keys of other roles: 403 on both routes; no key: 401.
    for who in ["analyst", "reporter"] {
        let (st, v) = w.get(who, "/v1/portal/cases").await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{who}: {v}");
        assert_eq!(code(&v), "forbidden");
        assert!(message(&v).contains(&format!("a {who} key may not")), "{v}");
        let (st, v) = w
            .post(
                who,
                &format!("/v1/portal/cases/{}/response", s.a1),
                json!({"response": "removed"}),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{who}: {v}");
    }
    let (st, v) = w.api(None, Method::GET, "/v1/portal/cases", None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(code(&v), "unauthenticated");
    let (st, v) = w
        .api(
            None,
            Method::POST,
            &format!("/v1/portal/cases/{}/response", s.a1),
            Some(&json!({"response": "removed"})),
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(w.said(s.a, s.a1).await, None, "nobody answered");
}

#[tokio::test]
async fn portal_api_answers_and_their_limits() {
    let w = world().await;
    let s = w.scenario().await;
    let respond = |case: i64, body: Value| {
        let w = &w;
        async move {
            w.post(
                "hoster_a",
                &format!("/v1/portal/cases/{case}/response"),
                body,
            )
            .await
        }
    };

    // "Removed", with a note.
    let (st, v) = respond(
        s.a1,
        json!({"response": "removed", "note": "account suspended"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["case_id"], s.a1);
    assert_eq!(v["url"], URL_A1);
    assert_eq!(v["hoster_said"], "removed");
    assert_eq!(v["hoster_said_at"], T0 + 10 * MIN);
    assert_eq!(
        v["state"], "notified",
        "the case closes only on an offline check"
    );
    assert_eq!(v["deadline"], SENT + 24 * HOUR);
    assert_eq!(w.said(s.a, s.a1).await.as_deref(), Some("removed"));
    // On the case's timeline, as the hoster key.
    let (st, case) = w.get("analyst", &format!("/v1/cases/{}", s.a1)).await;
    assert_eq!(st, StatusCode::OK, "{case}");
    let answers: Vec<&Value> = case["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "hoster" && e["actor"].as_str().unwrap().starts_with("hoster:"))
        .collect();
    assert_eq!(answers.len(), 1, "{case}");
    assert_eq!(
        answers[0]["actor"],
        format!("hoster:{}", w.key_id("hoster_a"))
    );
    assert_eq!(
        answers[0]["message"],
        "Host A says it removed the material: account suspended"
    );
    // The list shows the answer.
    let (_, v) = w.get("hoster_a", "/v1/portal/cases").await;
    assert_eq!(v["cases"][0]["hoster_said"], "removed", "{v}");
    assert_eq!(v["cases"][1]["hoster_said"], Value::Null, "{v}");

    // "Not the host" needs a party: missing (malformed), or blank (invalid).
    let (st, v) = respond(s.a2, json!({"response": "not_host"})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(code(&v), "malformed_json");
    assert!(message(&v).contains("party"), "{v}");
    let (st, v) = respond(s.a2, json!({"response": "not_host", "party": "   "})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(code(&v), "invalid_request");
    assert!(message(&v).contains("a party is required"), "{v}");
    // A dispute whose reason is too long.
    let (st, v) = respond(
        s.a2,
        json!({"response": "dispute", "reason": "x".repeat(3000)}),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(code(&v), "invalid_request");
    assert!(
        message(&v).contains("the reason is longer than 2000 bytes"),
        "{v}"
    );
    // An answer that does not exist, and one with a field too many.
    let (st, v) = respond(s.a2, json!({"response": "gone"})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(code(&v), "malformed_json");
    assert!(message(&v).contains("gone"), "{v}");
    let (st, v) = respond(s.a2, json!({"note": "no response field"})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(code(&v), "malformed_json");
    // Not JSON.
    let a = w
        .send(
            Request::builder()
                .method(Method::POST)
                .uri(format!("/v1/portal/cases/{}/response", s.a2))
                .header(
                    header::AUTHORIZATION,
                    format!("Bearer {}", w.token("hoster_a")),
                )
                .header(header::CONTENT_TYPE, "text/plain")
                .body(Body::from("removed"))
                .unwrap(),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", a.body);
    // None of the refused answers was recorded.
    assert_eq!(w.said(s.a, s.a2).await, None);

    // A dispute within the limit is recorded.
    let (st, v) = respond(
        s.a2,
        json!({"response": "dispute", "reason": "this is a news report"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["hoster_said"], "dispute");
    // B names another party.
    let (st, v) = w
        .post(
            "hoster_b",
            &format!("/v1/portal/cases/{}/response", s.b1),
            json!({"response": "not_host", "party": "Other Cloud Ltd"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["hoster_said"], "not_host");
    let events = w.cases.events(s.b1).await.unwrap();
    assert_eq!(
        events.last().unwrap().message,
        "Host B says it is not the host; it names Other Cloud Ltd"
    );

    // A case the re-check found offline is closed: answering it is a conflict, and it stays
    // in the list as recently removed.
    w.offline(s.a1, URL_A1, T0 + 20 * MIN).await;
    assert_eq!(w.state(s.a1).await, CaseState::Closed);
    let (st, v) = respond(s.a1, json!({"response": "removed"})).await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert_eq!(code(&v), "conflict");
    assert!(message(&v).contains(&format!("case {} is", s.a1)), "{v}");
    let (_, v) = w.get("hoster_a", "/v1/portal/cases").await;
    assert_eq!(case_ids(&v), [s.a1, s.a2], "{v}");
    assert_eq!(v["cases"][0]["state"], "closed");
    assert_eq!(v["cases"][0]["removed_at"], T0 + 20 * MIN);
    assert_eq!(v["cases"][0]["last_verdict"], "offline");
    // After 30 days it is gone from the list; the open case stays.
    w.clock.set(Millis(T0 + 31 * 24 * HOUR));
    let (_, v) = w.get("hoster_a", "/v1/portal/cases").await;
    assert_eq!(case_ids(&v), [s.a2], "{v}");

    // The re-check is listed for analysts.
    let (st, v) = w
        .get("analyst", &format!("/v1/cases/{}/checks", s.a1))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v[0]["case_id"], s.a1);
    assert_eq!(v[0]["at"], T0 + 20 * MIN);
    assert_eq!(v[0]["check"]["verdict"], "offline");
    assert_eq!(v[0]["check"]["reason"], "HTTP 404");
    let (st, _) = w
        .get("hoster_a", &format!("/v1/cases/{}/checks", s.a1))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn portal_pages_links_sessions_and_forms() {
    let w = world().await;
    let s = w.scenario().await;
    let now = T0 + 10 * MIN;

    // Without a session: to the sign-in page.
    let a = w.page(Method::GET, "/portal", None, None, &[]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.header(header::LOCATION), "/portal/login");
    let a = w.page(Method::GET, "/portal/login", None, None, &[]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("name=\"key\""), "{}", a.body);

    // The link in a notice starts a session.
    let link = w.link(s.a, now + 7 * 24 * HOUR).await;
    let a = w.page(Method::GET, &link, None, None, &[]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.header(header::LOCATION), "/portal");
    let set = a.header(header::SET_COOKIE).to_string();
    assert!(
        set.starts_with(&format!("schoon_portal=h{}.link.{}.", s.a, now + 12 * HOUR)),
        "{set}"
    );
    for part in ["; Path=/portal", "; HttpOnly", "; SameSite=Lax"] {
        assert!(set.contains(part), "{part} in {set}");
    }
    assert!(!set.contains("Secure"), "not asked for: {set}");
    let cookie = cookie_of(&a);

    // The portal page: A's open cases, never B's.
    let a = w
        .page(Method::GET, "/portal", Some(&cookie), None, &[])
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(
        a.body
            .contains("Notices for <span id=\"hoster\">Host A</span>")
    );
    for url in [URL_A1, URL_A2] {
        assert!(
            a.body.contains(&format!("<code>{url}</code>")),
            "{}",
            a.body
        );
    }
    assert!(a.body.contains("N-A-1"));
    assert!(a.body.contains("Open (2)"), "{}", a.body);
    assert!(a.body.contains(&format!("id=\"removed-{}\"", s.a1)));
    for hidden in [URL_B1, URL_A3, "N-B-1", "Host B"] {
        assert!(!a.body.contains(hidden), "{hidden} shown to A");
    }
    assert!(!a.body.contains("href=\"http://files"), "URLs are text");

    // Tampered, foreign, expired and malformed links: a 403 page, no cookie.
    let mut tampered = link.clone().into_bytes();
    let i = "/portal/t/".len() + 3; // inside the hoster id
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let foreign = format!(
        "/portal/t/{}",
        ntd::notice::portal_token(b"another secret", s.a, Millis(now + HOUR))
    );
    let expired = w.link(s.a, now - MIN).await;
    for (bad, why) in [
        (tampered.as_str(), "portal token is not valid"),
        (foreign.as_str(), "portal token is not valid"),
        (expired.as_str(), "portal link expired at"),
        ("/portal/t/not-a-token", "malformed portal token"),
    ] {
        let a = w.page(Method::GET, bad, None, None, &[]).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{bad}: {}", a.body);
        assert!(a.body.contains("This link does not work"), "{}", a.body);
        assert!(a.body.contains(why), "{why}: {}", a.body);
        assert!(a.body.contains("Sign in with your API key instead"));
        assert!(a.headers.get(header::SET_COOKIE).is_none(), "{bad}");
    }

    // A form posted from another site is refused, and records nothing.
    let action = format!("/portal/cases/{}", s.a1);
    let removed = form(&[("response", "removed")]);
    for headers in [
        vec![("origin", "http://evil.example"), ("host", "schoon.test")],
        vec![("sec-fetch-site", "cross-site"), ("host", "schoon.test")],
    ] {
        let a = w
            .page(
                Method::POST,
                &action,
                Some(&cookie),
                Some(removed.clone()),
                &headers,
            )
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(a.body.contains("posted from another site"), "{}", a.body);
    }
    assert_eq!(w.said(s.a, s.a1).await, None);
    // Without a session: to the sign-in page, nothing recorded.
    let a = w
        .page(
            Method::POST,
            &action,
            None,
            Some(removed.clone()),
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.header(header::LOCATION), "/portal/login");
    assert_eq!(w.said(s.a, s.a1).await, None);

    // Same-site: recorded, and back to the portal with a thank-you.
    let a = w
        .page(
            Method::POST,
            &action,
            Some(&cookie),
            Some(removed.clone()),
            &[
                ("origin", "http://schoon.test"),
                ("host", "schoon.test"),
                ("sec-fetch-site", "same-origin"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let location = a.header(header::LOCATION).to_string();
    assert!(
        location.starts_with("/portal?done=Thank+you."),
        "{location}"
    );
    assert_eq!(w.said(s.a, s.a1).await.as_deref(), Some("removed"));
    let events = w.cases.events(s.a1).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(
        (
            last.kind.as_str(),
            last.actor.as_str(),
            last.message.as_str()
        ),
        (
            "hoster",
            "portal:Host A",
            "Host A says it removed the material"
        )
    );
    let a = w
        .page(Method::GET, &location, Some(&cookie), None, &[])
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.body
            .contains(&format!("Case {} is marked as removed by you", s.a1)),
        "{}",
        a.body
    );
    assert!(a.body.contains("you said: removed"), "{}", a.body);

    // Through the form, B's case is not A's to answer; a blank party is refused.
    let a = w
        .page(
            Method::POST,
            &format!("/portal/cases/{}", s.b1),
            Some(&cookie),
            Some(removed.clone()),
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let location = a.header(header::LOCATION);
    assert!(location.starts_with("/portal?error="), "{location}");
    assert!(location.contains("not+found"), "{location}");
    assert_eq!(w.said(s.b, s.b1).await, None);
    let a = w
        .page(
            Method::POST,
            &format!("/portal/cases/{}", s.a2),
            Some(&cookie),
            Some(form(&[("response", "not_host"), ("text", " ")])),
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert!(
        a.header(header::LOCATION).contains("a+party+is+required"),
        "{}",
        a.header(header::LOCATION)
    );
    assert_eq!(w.said(s.a, s.a2).await, None);

    // Forged cookies: B's id with A's MAC, with a made-up MAC, with a later expiry, as a
    // key session with the link's MAC, in the old three-part form; and expired ones. All go
    // back to the sign-in page.
    let value = cookie.strip_prefix("schoon_portal=").unwrap();
    let parts: Vec<&str> = value.split('.').collect();
    assert_eq!(parts.len(), 4, "{value}");
    let (via, exp, mac) = (parts[1], parts[2], parts[3]);
    let forged = [
        format!("schoon_portal=h{}.{via}.{exp}.{mac}", s.b),
        format!("schoon_portal=h{}.{via}.{exp}.{}", s.b, "0".repeat(64)),
        format!("schoon_portal=h{}.{via}.{}.{mac}", s.a, now + 48 * HOUR),
        format!(
            "schoon_portal=h{}.k{}.{exp}.{mac}",
            s.a,
            w.key_id("hoster_a")
        ),
        format!("schoon_portal=h{}.{exp}.{mac}", s.a),
        "schoon_portal=nonsense".to_string(),
        format!("schoon_portal={value}.extra"),
    ];
    for bad in &forged {
        let a = w.page(Method::GET, "/portal", Some(bad), None, &[]).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{bad}: {}", a.body);
        assert_eq!(a.header(header::LOCATION), "/portal/login", "{bad}");
        let a = w
            .page(
                Method::POST,
                &format!("/portal/cases/{}", s.b1),
                Some(bad),
                Some(removed.clone()),
                &[("sec-fetch-site", "same-origin")],
            )
            .await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{bad}");
        assert_eq!(a.header(header::LOCATION), "/portal/login", "{bad}");
    }
    assert_eq!(w.said(s.b, s.b1).await, None);
    // The genuine session ends after 12 hours.
    w.clock.set(Millis(now + 12 * HOUR + 1));
    let a = w
        .page(Method::GET, "/portal", Some(&cookie), None, &[])
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.header(header::LOCATION), "/portal/login");
    w.clock.set(Millis(now));

    // Signing in with a linked hoster key: a session for its register entry.
    let login = |key: String, extra: Vec<(&'static str, &'static str)>| {
        let w = &w;
        async move {
            w.page(
                Method::POST,
                "/portal/login",
                None,
                Some(form(&[("key", &key)])),
                &extra,
            )
            .await
        }
    };
    let a = login(format!(" {} ", w.token("hoster_b")), vec![]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.header(header::LOCATION), "/portal");
    let cookie_b = cookie_of(&a);
    assert!(
        cookie_b.starts_with(&format!(
            "schoon_portal=h{}.k{}.",
            s.b,
            w.key_id("hoster_b")
        )),
        "{cookie_b}"
    );
    let a = w
        .page(Method::GET, "/portal", Some(&cookie_b), None, &[])
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains(URL_B1), "{}", a.body);
    assert!(!a.body.contains(URL_A1), "{}", a.body);

    // Keys that cannot: a 401 page that says why, and no cookie.
    let refused = [
        ("analyst", "An analyst key cannot use the hoster portal"),
        ("reporter", "A reporter key cannot use the hoster portal"),
        (
            "hoster_free",
            "not linked to an entry of the hosters register",
        ),
        ("admin", "not linked to an entry of the hosters register"),
    ];
    for (who, why) in refused {
        let a = login(w.token(who).to_string(), vec![]).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{who}: {}", a.body);
        assert!(a.body.contains(why), "{who}: {}", a.body);
        assert!(a.headers.get(header::SET_COOKIE).is_none(), "{who}");
    }
    let a = login(w.token("analyst").to_string(), vec![]).await;
    assert!(
        a.body.contains("Sign in with a key of role hoster"),
        "{}",
        a.body
    );
    let a = login("hunter2".into(), vec![]).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(
        a.body.contains("That is not a Schoon API key"),
        "{}",
        a.body
    );
    // A login posted from another site.
    let a = login(
        w.token("hoster_a").to_string(),
        vec![("origin", "http://evil.example"), ("host", "schoon.test")],
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.body.contains("posted from another site"), "{}", a.body);
    assert!(a.headers.get(header::SET_COOKIE).is_none());

    // A session from a key ends with the key: revoked through the API, B's cookie no longer
    // opens the portal, while A's session from the link goes on.
    let (status, _) = w
        .api(
            Some("admin"),
            Method::DELETE,
            &format!("/v1/keys/{}", w.key_id("hoster_b")),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let a = w
        .page(Method::GET, "/portal", Some(&cookie_b), None, &[])
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.header(header::LOCATION), "/portal/login");
    let a = w
        .page(Method::GET, "/portal", Some(&cookie), None, &[])
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);

    // Signing out clears the cookie (same-site only).
    let a = w
        .page(
            Method::POST,
            "/portal/logout",
            Some(&cookie_b),
            None,
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = w
        .page(
            Method::POST,
            "/portal/logout",
            Some(&cookie_b),
            None,
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.header(header::LOCATION), "/portal/login");
    assert!(a.header(header::SET_COOKIE).starts_with("schoon_portal=;"));
    assert!(a.header(header::SET_COOKIE).contains("Max-Age=0"));
}

#[tokio::test]
async fn notices_and_templates_for_analysts() {
    let w = world().await;
    let s = w.scenario().await;

    // A case's notices.
    let (st, v) = w
        .get("analyst", &format!("/v1/notices?case={}", s.a1))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 1, "{v}");
    let n = &list[0];
    assert_eq!(n["reference"], "N-A-1");
    assert_eq!(n["kind"], "notice");
    assert_eq!(n["hoster_id"], s.a);
    assert_eq!(n["channel"], "email");
    assert_eq!(n["status"], "sent");
    assert_eq!(n["recipients"], json!(["abuse@n-a-1.example"]));
    assert_eq!(n["case_ids"], json!([s.a1, s.a2]));
    assert_eq!(n["subject"], "Notice N-A-1");
    assert_eq!(n["queued_at"], T0);
    assert_eq!(n["sent_at"], SENT);
    assert_eq!(n["attempts"], 1);
    assert_eq!(n["message_id"], "<n-a-1@schoon.test>");
    assert_eq!(n["last_error"], Value::Null);
    // The queued one.
    let (_, v) = w
        .get("analyst", &format!("/v1/notices?case={}", s.a_queued))
        .await;
    assert_eq!(v[0]["reference"], "N-A-2", "{v}");
    assert_eq!(v[0]["status"], "queued");
    assert_eq!(v[0]["sent_at"], Value::Null);
    // All of them, for an admin too; a case without notices has none.
    let (st, v) = w.get("admin", "/v1/notices").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let mut refs: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["reference"].as_str().unwrap())
        .collect();
    refs.sort_unstable();
    assert_eq!(refs, ["N-A-1", "N-A-2", "N-B-1"]);
    let (_, v) = w.get("analyst", "/v1/notices?limit=1").await;
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    let (st, v) = w.get("analyst", "/v1/notices?case=999999").await;
    assert_eq!((st, v), (StatusCode::OK, json!([])));
    let (st, v) = w.get("analyst", "/v1/notices?case=abc").await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");

    // One notice by reference.
    let (st, v) = w.get("analyst", "/v1/notices/N-B-1").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "sent");
    assert_eq!(v["hoster_id"], s.b);
    assert_eq!(v["recipients"], json!(["abuse@n-b-1.example"]));
    assert_eq!(v["case_ids"], json!([s.b1]));
    assert_eq!(v["body"], "Please remove the material of notice N-B-1.");
    let (st, v) = w.get("analyst", "/v1/notices/N-NOPE").await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(code(&v), "not_found");
    assert!(message(&v).contains("notice N-NOPE not found"), "{v}");

    // Not for hosters or reporters; not without a key.
    for path in ["/v1/notices", "/v1/notices/N-A-1", "/v1/templates"] {
        for who in ["hoster_a", "reporter"] {
            let (st, v) = w.get(who, path).await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{who} {path}: {v}");
            assert_eq!(code(&v), "forbidden");
        }
        let (st, _) = w.api(None, Method::GET, path, None).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{path}");
    }

    // The templates: three kinds, all built in.
    let (st, v) = w.get("analyst", "/v1/templates").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let kinds: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["template"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["notice", "reminder", "escalation"]);
    for t in v.as_array().unwrap() {
        assert_eq!(t["updated"], Value::Null, "{t}");
        assert!(!t["template"]["subject"].as_str().unwrap().is_empty());
        assert!(!t["template"]["body"].as_str().unwrap().is_empty());
    }
    let builtin_notice = v[0]["template"].clone();

    // A misspelt variable: refused, naming it; nothing saved.
    let (st, v) = w
        .put(
            "analyst",
            "/v1/templates/notice",
            json!({
                "subject": "Notice {{ reference }}",
                "body": "Dear {{ hoster }},\n\nplease remove {{ count }} URLs; see {{ portal_urll }}.\n",
            }),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(code(&v), "invalid_request");
    assert!(message(&v).contains("the template does not render"), "{v}");
    assert!(message(&v).contains("portal_urll"), "{v}");
    let (_, v) = w.get("analyst", "/v1/templates").await;
    assert_eq!(v[0]["template"], builtin_notice);
    assert_eq!(v[0]["updated"], Value::Null);

    // A good one: saved, with who and when.
    w.clock.set(Millis(T0 + HOUR));
    let subject = "Notice {{ reference }} for {{ hoster }}";
    let body = "Dear {{ hoster }},\n\n{% for i in items %}- {{ i.url }}\n{% endfor %}\nAnswer at {{ portal_url }}.\n";
    let (st, v) = w
        .put(
            "analyst",
            "/v1/templates/notice",
            json!({"subject": subject, "body": body}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["template"]["kind"], "notice");
    assert_eq!(v["template"]["subject"], subject);
    assert_eq!(v["template"]["body"], body);
    assert_eq!(v["updated"], json!([w.key_id("analyst"), T0 + HOUR]));
    let (_, v) = w.get("analyst", "/v1/templates").await;
    assert_eq!(v[0]["template"]["subject"], subject);
    assert_eq!(v[0]["updated"][0], w.key_id("analyst"));
    assert_eq!(v[1]["updated"], Value::Null, "the reminder is untouched");
    assert_eq!(v[2]["updated"], Value::Null);

    // A preview renders against the sample reminder (sent 26 hours after its notice).
    let (st, v) = w
        .post(
            "analyst",
            "/v1/templates/reminder/preview",
            json!({
                "subject": "Reminder {{ reference }}: {{ count }} URLs, {{ hours_late }} h late",
                "body": "Dear {{ hoster }},\n{% for i in items %}{{ i.url }}\n{% endfor %}",
            }),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["subject"], "Reminder N-7K3QD-M2X9P: 3 URLs, 2 h late");
    let text = v["text"].as_str().unwrap();
    assert!(text.starts_with("Dear Example Hosting B.V.,\n"), "{text}");
    assert!(
        text.contains("https://files.hosting.example/u/7f3a/index.html\n"),
        "{text}"
    );
    assert!(
        text.contains("http://board.customer.example/t/1234"),
        "{text}"
    );
    assert_eq!(v["json"]["reference"], "N-7K3QD-M2X9P");
    assert_eq!(v["json"]["kind"], "reminder");
    assert_eq!(v["json"]["items"].as_array().unwrap().len(), 3);
    // A preview saves nothing.
    let (_, t) = w.get("analyst", "/v1/templates").await;
    assert_eq!(t[1]["updated"], Value::Null);
    // A preview with a misspelt name is refused like a save.
    let (st, v) = w
        .post(
            "analyst",
            "/v1/templates/escalation/preview",
            json!({"subject": "{{ refrence }}", "body": "x"}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert!(message(&v).contains("refrence"), "{v}");

    // Unknown kinds, unknown fields, missing fields, other roles.
    let good = json!({"subject": "s {{ reference }}", "body": "b"});
    let (st, v) = w
        .put("analyst", "/v1/templates/nonsense", good.clone())
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(code(&v), "not_found");
    assert!(message(&v).contains("nonsense"), "{v}");
    assert!(
        message(&v).contains("use notice, reminder or escalation"),
        "{v}"
    );
    let (st, v) = w
        .post("analyst", "/v1/templates/nonsense/preview", good.clone())
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    let (st, v) = w
        .put(
            "analyst",
            "/v1/templates/reminder",
            json!({"subject": "s", "body": "b", "html": "<p>b</p>"}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(code(&v), "malformed_json");
    assert!(message(&v).contains("html"), "{v}");
    let (st, v) = w
        .put("analyst", "/v1/templates/reminder", json!({"subject": "s"}))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(code(&v), "malformed_json");
    for who in ["hoster_a", "reporter"] {
        let (st, v) = w.put(who, "/v1/templates/reminder", good.clone()).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{who}: {v}");
        let (st, v) = w
            .post(who, "/v1/templates/reminder/preview", good.clone())
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{who}: {v}");
    }
    let (_, t) = w.get("analyst", "/v1/templates").await;
    assert_eq!(t[1]["updated"], Value::Null, "nothing refused was saved");
}
