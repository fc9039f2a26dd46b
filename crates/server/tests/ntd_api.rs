//! Notice and takedown end to end, in process (the router as a tower service over a real
//! SQLite store): the role matrix of the report, case, hoster and attribution routes, bulk
//! submissions, bad input and its error texts, the case state machine over the API, the
//! hosters register, the public report form with its rate limit and honeypot, and the
//! analysts' web sign-in with its session cookie and cross-site protection.

use axum::body::{Body, to_bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use lists::keys::NewKey;
use lists::live::LiveIndex;
use lists::{ApiKey, Millis, OrgKind, Role, Store};
use ntd::{CaseState, Source};
use serde_json::{Value, json};
use server::{AppState, Config};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tower::ServiceExt;

struct World {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    cases: Arc<dyn ntd::CaseStore>,
    app: axum::Router,
    /// name → (token, key id)
    keys: HashMap<&'static str, (String, String)>,
    /// name → organisation id
    orgs: HashMap<&'static str, i64>,
}

/// An answer: status, headers, and the body as text.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| Value::String(self.body.clone()))
    }

    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

async fn world(config: Config) -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let stores = store::open_stores(&url, Arc::new(lists::SystemClock))
        .await
        .unwrap();
    let store = Arc::clone(&stores.lists);
    let mut orgs = HashMap::new();
    for (name, kind) in [
        ("operator", OrgKind::Operator),
        ("hotline", OrgKind::Hotline),
        ("police", OrgKind::Police),
        ("hoster", OrgKind::Hoster),
        ("partner", OrgKind::Hotline),
        ("partner2", OrgKind::Other),
    ] {
        orgs.insert(name, store.create_org(name, kind).await.unwrap().id);
    }
    let mut keys = HashMap::new();
    for (name, org, role) in [
        ("admin", "operator", Role::Admin),
        ("analyst", "hotline", Role::Analyst),
        ("analyst2", "hotline", Role::Analyst),
        ("reporter", "partner", Role::Reporter),
        ("reporter2", "partner2", Role::Reporter),
        ("hoster", "hoster", Role::Hoster),
        ("list_manager", "police", Role::ListManager),
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
                created_at: Millis::now(),
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
        Arc::new(lists::SystemClock),
    ));
    let (state, _writer) = AppState::new(
        Arc::clone(&store),
        server::NtdParts {
            cases: Arc::clone(&stores.cases),
            engine,
            wake: Arc::new(tokio::sync::Notify::new()),
            notices: Arc::clone(&stores.notices),
            clock: Arc::new(lists::SystemClock),
            policy: ntd::takedown::Policy::default(),
            notify_wake: Arc::new(tokio::sync::Notify::new()),
            monitor: Arc::clone(&stores.monitor),
            rules: monitor::Rules::default(),
            hotline_name: "Test hotline".into(),
            portal_base: "http://127.0.0.1".into(),
        },
        live,
        config,
    );
    World {
        _dir: dir,
        app: server::router(state),
        store,
        cases: Arc::clone(&stores.cases),
        keys,
        orgs,
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

impl World {
    async fn send(&self, req: Request<Body>) -> Answer {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = to_bytes(res.into_body(), 64 << 20).await.unwrap();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    fn token(&self, who: &str) -> &str {
        &self.keys[who].0
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
        (a.status, a.json())
    }

    async fn get(&self, who: &str, path: &str) -> (StatusCode, Value) {
        self.api(Some(who), Method::GET, path, None).await
    }

    async fn post(&self, who: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.api(Some(who), Method::POST, path, Some(&body)).await
    }

    /// Submits URLs in one category; returns the answer.
    async fn report(&self, who: &str, category: &str, urls: &[&str]) -> Value {
        let (s, v) = self
            .post(
                who,
                "/v1/reports",
                json!({"category": category, "urls": urls}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    /// A browser request: optional session cookie, optional form body, optional client
    /// address, extra headers.
    async fn page(
        &self,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        form_body: Option<String>,
        from: Option<SocketAddr>,
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
        let mut req = req
            .body(form_body.map_or(Body::empty(), Body::from))
            .unwrap();
        if let Some(addr) = from {
            req.extensions_mut().insert(ConnectInfo(addr));
        }
        self.send(req).await
    }

    /// Signs in at `/ui/login` with a key; returns the `name=value` part of the cookie.
    async fn sign_in(&self, who: &str) -> String {
        let a = self
            .page(
                Method::POST,
                "/ui/login",
                None,
                Some(form(&[("key", self.token(who)), ("next", "/ui/queue")])),
                None,
                &[],
            )
            .await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
        let cookie = a.header(header::SET_COOKIE).to_string();
        cookie.split(';').next().unwrap().to_string()
    }
}

fn addr(last: u8) -> SocketAddr {
    SocketAddr::from(([198, 51, 100, last], 40000))
}

#[tokio::test]
async fn role_matrix_for_every_ntd_route() {
    let w = world(Config::default()).await;
    // Seeds: one case (the analyst's), one report of each reporter organisation, one hoster.
    let seed = w
        .report("analyst", "csam", &["http://seed.example/a"])
        .await;
    let case = seed["outcomes"][0]["case_id"].as_i64().unwrap();
    let mine = w
        .report("reporter", "csam", &["http://mine.example/x"])
        .await;
    let my_ref = mine["outcomes"][0]["reference"]
        .as_str()
        .unwrap()
        .to_string();
    let theirs = w
        .report("reporter2", "csam", &["http://theirs.example/y"])
        .await;
    let their_ref = theirs["outcomes"][0]["reference"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, h) = w
        .post("admin", "/v1/hosters", json!({"name": "Seed Hosting"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{h}");
    let hoster = h["id"].as_i64().unwrap();

    let ok = StatusCode::OK;
    let no = StatusCode::FORBIDDEN;
    let who = ["admin", "analyst", "reporter", "hoster", "list_manager"];
    let workers = [ok, ok, no, no, no];
    // (method, path, body, expected per role). Bodies that create things get a fresh name
    // per caller through `{who}`.
    let routes: Vec<(Method, String, Option<Value>, [StatusCode; 5])> = vec![
        (
            Method::POST,
            "/v1/reports".into(),
            Some(json!({"category": "csam", "urls": ["http://matrix.example/{who}"]})),
            [ok, ok, ok, no, no],
        ),
        (
            Method::GET,
            format!("/v1/reports/{my_ref}"),
            None,
            [ok, ok, ok, no, no],
        ),
        (Method::GET, "/v1/cases".into(), None, workers),
        (Method::GET, "/v1/cases?state=queue".into(), None, workers),
        (Method::GET, format!("/v1/cases/{case}"), None, workers),
        (
            Method::POST,
            format!("/v1/cases/{case}/actions"),
            Some(json!({"action": "note", "text": "seen by {who}"})),
            workers,
        ),
        (
            Method::POST,
            format!("/v1/cases/{case}/attribute"),
            None,
            [StatusCode::ACCEPTED, StatusCode::ACCEPTED, no, no, no],
        ),
        (Method::GET, "/v1/hosters".into(), None, workers),
        (
            Method::POST,
            "/v1/hosters".into(),
            Some(json!({"name": "Hosting of {who}"})),
            [StatusCode::CREATED, StatusCode::CREATED, no, no, no],
        ),
        (Method::GET, format!("/v1/hosters/{hoster}"), None, workers),
        (
            Method::PUT,
            format!("/v1/hosters/{hoster}"),
            Some(json!({"name": "Seed Hosting", "notes": "checked by {who}"})),
            workers,
        ),
        (Method::GET, "/v1/attribution".into(), None, workers),
        (Method::GET, "/v1/monitor/figures".into(), None, workers),
        (
            Method::GET,
            "/v1/monitor/figures?period=2026-Q1".into(),
            None,
            workers,
        ),
        (Method::GET, "/v1/monitor/overdue".into(), None, workers),
        (Method::GET, "/v1/monitor/runs".into(), None, workers),
        (
            Method::POST,
            "/v1/monitor/runs".into(),
            None,
            [StatusCode::CREATED, StatusCode::CREATED, no, no, no],
        ),
        (Method::GET, "/v1/monitor/listings".into(), None, workers),
        (
            Method::GET,
            "/v1/monitor/explanations".into(),
            None,
            workers,
        ),
        (Method::GET, "/v1/monitor/events".into(), None, workers),
    ];
    for (method, path, body, expected) in &routes {
        for (i, name) in who.iter().enumerate() {
            let body = body
                .as_ref()
                .map(|b| serde_json::from_str(&b.to_string().replace("{who}", name)).unwrap());
            let (s, v) = w.api(Some(name), method.clone(), path, body.as_ref()).await;
            assert_eq!(s, expected[i], "{name} {method} {path}: {v}");
            if s == no {
                assert_eq!(code(&v), "forbidden", "{v}");
                assert!(
                    message(&v).contains(&format!("a {name} key may not")),
                    "{v}"
                );
            }
        }
        // Without a key: 401 everywhere.
        let (s, v) = w.api(None, method.clone(), path, body.as_ref()).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{method} {path}: {v}");
        assert_eq!(code(&v), "unauthenticated");
    }

    // What the successful calls did.
    let (_, v) = w.get("analyst", &format!("/v1/cases/{case}")).await;
    let notes: Vec<&str> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "note")
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(notes, ["seen by admin", "seen by analyst"]);
    let (_, v) = w.get("analyst", "/v1/hosters").await;
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Hosting of admin", "Hosting of analyst", "Seed Hosting"]
    );
    let (_, v) = w.get("admin", &format!("/v1/hosters/{hoster}")).await;
    assert_eq!(v["notes"], "checked by analyst");
    assert_eq!(v["updated_by"], w.keys["analyst"].1.as_str());
    let (_, v) = w.get("admin", "/v1/attribution").await;
    assert_eq!(v["hosters"], 3, "{v}");
    assert_eq!(v["sources"], json!([]));

    // Reporters: their answers carry references but no case numbers; analysts' carry both.
    let v = w
        .report(
            "reporter",
            "csam",
            &["http://mine.example/x", "http://new.example/"],
        )
        .await;
    assert_eq!(
        (v["opened"].as_i64(), v["joined"].as_i64()),
        (Some(1), Some(1))
    );
    for o in v["outcomes"].as_array().unwrap() {
        assert!(o.get("case_id").is_none(), "{o}");
        assert!(o["reference"].as_str().unwrap().starts_with("R-"), "{o}");
    }
    assert_eq!(v["outcomes"][0]["status"], "joined");
    assert_eq!(v["outcomes"][0]["url"], "http://mine.example/x");
    let (_, v) = w
        .post(
            "analyst",
            "/v1/reports",
            json!({"category": "csam", "urls": ["http://mine.example/x"]}),
        )
        .await;
    assert_eq!(v["outcomes"][0]["status"], "joined");
    assert!(v["outcomes"][0]["case_id"].as_i64().is_some(), "{v}");

    // A reporter sees its own organisation's report, not another's (404, not 403: it does
    // not learn that the reference exists).
    let (s, v) = w.get("reporter", &format!("/v1/reports/{my_ref}")).await;
    assert_eq!(s, ok, "{v}");
    assert_eq!(v["reference"], my_ref.as_str());
    assert_eq!(v["url"], "http://mine.example/x");
    assert_eq!(v["state"], "new");
    assert_eq!(v["source"], "partner");
    assert_eq!(v["category"], "csam");
    assert!(v.get("case_id").is_none(), "{v}");
    let (s, v) = w.get("reporter", &format!("/v1/reports/{their_ref}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(code(&v), "not_found");
    let stored = w.cases.report_by_reference(&my_ref).await.unwrap().unwrap();
    assert_eq!(stored.org_id, Some(w.orgs["partner"]));
    assert_eq!(stored.actor, w.keys["reporter"].1);
    let (s, v) = w
        .get("reporter2", &format!("/v1/reports/{their_ref}"))
        .await;
    assert_eq!((s, &v["url"]), (ok, &json!("http://theirs.example/y")));
    // Analysts and admins see every organisation's reports.
    for name in ["analyst", "admin"] {
        let (s, v) = w.get(name, &format!("/v1/reports/{their_ref}")).await;
        assert_eq!((s, &v["reference"]), (ok, &json!(their_ref)), "{name}");
    }
    // An unknown reference.
    let (s, v) = w.get("analyst", "/v1/reports/R-00000-00000").await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"));

    // The reports route and the others are in the API description.
    let a = w
        .page(Method::GET, "/openapi.json", None, None, None, &[])
        .await;
    let doc = a.json();
    for (method, path) in [
        ("post", "/v1/reports"),
        ("get", "/v1/reports/{reference}"),
        ("post", "/v1/cases/{id}/actions"),
        ("put", "/v1/hosters/{id}"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
}

#[tokio::test]
async fn ten_thousand_urls_in_one_request() {
    let w = world(Config::default()).await;
    // 500 hosts × 10 paths, each URL sent twice (the second time spelled differently): 5000
    // cases opened, 5000 reports joined.
    let mut urls = Vec::with_capacity(10_000);
    for h in 0..500 {
        for p in 0..10 {
            urls.push(format!("http://shop{h}.example/item/{p}"));
            urls.push(format!("HTTP://Shop{h}.Example:80/item/{p}#top"));
        }
    }
    let started = std::time::Instant::now();
    let (s, v) = w
        .post(
            "analyst",
            "/v1/reports",
            json!({"source": "crawler", "category": "csam", "urls": urls}),
        )
        .await;
    eprintln!(
        "10,000 URLs over 500 hosts in one request: {:?}",
        started.elapsed()
    );
    assert_eq!(s, StatusCode::OK, "{}", message(&v));
    assert_eq!(v["received"], 10_000);
    assert_eq!(v["opened"], 500 * 10);
    assert_eq!(v["joined"], 5000);
    assert_eq!(v["invalid"], 0);
    let outcomes = v["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), 10_000);
    let mut cases = std::collections::HashSet::new();
    for (i, o) in outcomes.iter().enumerate() {
        assert_eq!(o["index"], i);
        let (h, p) = (i / 20, (i % 20) / 2);
        assert_eq!(o["url"], format!("http://shop{h}.example/item/{p}"));
        if i % 2 == 0 {
            assert_eq!(o["status"], "opened", "{o}");
            assert!(cases.insert(o["case_id"].as_i64().unwrap()));
        } else {
            assert_eq!(o["status"], "joined", "{o}");
            assert_eq!(o["case_id"], outcomes[i - 1]["case_id"]);
            assert_ne!(o["reference"], outcomes[i - 1]["reference"]);
        }
    }
    assert_eq!(cases.len(), 5000);
    let (_, v) = w.get("analyst", "/v1/cases?state=new&limit=1").await;
    assert_eq!(v["total"], 5000);
    assert_eq!(v["cases"][0]["url"], "http://shop0.example/item/0");
    assert_eq!(v["cases"][0]["reports"], 2);
    assert_eq!(v["cases"][0]["sources"], json!(["crawler"]));
    // Sent again: every report joins its open case.
    let (s, v) = w
        .post(
            "analyst",
            "/v1/reports",
            json!({"category": "csam", "urls": &urls[..100]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (v["opened"].as_i64(), v["joined"].as_i64()),
        (Some(0), Some(100))
    );

    // Long URLs: over the 2 MiB most routes take, within the 16 MiB of this one.
    let long: Vec<String> = (0..10_000)
        .map(|i| format!("https://long{}.example/{i}/{}", i % 7, "p".repeat(280)))
        .collect();
    let (s, v) = w
        .post(
            "reporter",
            "/v1/reports",
            json!({"category": "ncii", "urls": long}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{}", message(&v));
    assert_eq!(
        (v["opened"].as_i64(), v["joined"].as_i64()),
        (Some(10_000), Some(0))
    );
    let huge = json!({"category": "csam", "reports": [{"url": "http://a.example/", "text": "x".repeat(17 << 20)}]});
    let (s, v) = w.post("reporter", "/v1/reports", huge).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        "{v}"
    );
    // One over the limit.
    urls.push("http://one-more.example/".into());
    let (s, v) = w
        .post(
            "analyst",
            "/v1/reports",
            json!({"category": "csam", "urls": urls}),
        )
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(code(&v), "batch_too_large");
    assert!(message(&v).contains("10001 reports"), "{v}");
    assert!(message(&v).contains("at most 10000"), "{v}");
    // The same over `reports` and `urls` together.
    let reports: Vec<Value> = (0..5001)
        .map(|i| json!({"url": format!("http://r{i}.example/")}))
        .collect();
    let (s, v) = w
        .post(
            "analyst",
            "/v1/reports",
            json!({"category": "csam", "reports": reports, "urls": &urls[..5000]}),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::PAYLOAD_TOO_LARGE, "batch_too_large")
    );
    // Nothing at all.
    for body in [
        json!({}),
        json!({"category": "csam", "urls": [], "reports": []}),
    ] {
        let (s, v) = w.post("analyst", "/v1/reports", body).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "empty_batch"),
            "{v}"
        );
        assert!(message(&v).contains("at least one report"), "{v}");
    }
    // The public form's source is not for the API.
    let (s, v) = w
        .post(
            "reporter",
            "/v1/reports",
            json!({"source": "public", "category": "csam", "urls": ["http://a.example/"]}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_request"));
    assert!(message(&v).contains("source \"public\""), "{v}");
    // Nothing of the refused requests was stored.
    let (_, v) = w.get("analyst", "/v1/cases?limit=1").await;
    assert_eq!(v["total"], 15_000);
}

#[tokio::test]
async fn bad_input_is_refused_with_a_reason() {
    let w = world(Config::default()).await;
    let long = format!("http://long.example/{}", "a".repeat(4100));
    let items = json!([
        {"url": "http://good.example/1"},
        {"url": "http://exa mple.com/"},
        {"url": "ftp://files.example/x"},
        {"url": "javascript:alert(1)"},
        {"url": "http://192.0.2.7/x"},
        {"url": "http://[2001:db8::1]/x"},
        {"url": "http://3221225991/"},
        {"url": long},
        {"url": "http://good.example/2", "category": "spam"},
        {"url": "http://localhost/x"},
        {"url": "   "},
        {"url": "http://good.example/3", "category": "terrorism", "text": "seen on a forum", "external_ref": "P-17"},
    ]);
    let (s, v) = w
        .post(
            "reporter",
            "/v1/reports",
            json!({"category": "csam", "reports": items}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (
            v["received"].as_i64(),
            v["opened"].as_i64(),
            v["invalid"].as_i64()
        ),
        (Some(12), Some(2), Some(10))
    );
    let outcomes = v["outcomes"].as_array().unwrap();
    let wanted: [(&str, &str); 12] = [
        ("opened", ""),
        ("invalid", "not a valid URL"),
        (
            "invalid",
            "only http and https URLs can be reported, not \"ftp\"",
        ),
        (
            "invalid",
            "only http and https URLs can be reported, not \"javascript\"",
        ),
        ("invalid", "the host is an IP address (192.0.2.7)"),
        ("invalid", "the host is an IP address (2001:db8::1)"),
        ("invalid", "the host is an IP address (192.0.2.7)"),
        ("invalid", "bytes long; at most 4096 are accepted"),
        ("invalid", "unknown category \"spam\""),
        (
            "invalid",
            "the host \"localhost\" is not a public domain name",
        ),
        ("invalid", "the URL is empty"),
        ("opened", ""),
    ];
    for (i, (o, (status, error))) in outcomes.iter().zip(wanted).enumerate() {
        assert_eq!(o["index"], i, "{o}");
        assert_eq!(o["status"], status, "{i}: {o}");
        if status == "invalid" {
            let e = o["error"].as_str().unwrap();
            assert!(e.contains(error), "{i}: {e:?} should contain {error:?}");
            assert!(
                o.get("reference").is_none() && o.get("url").is_none(),
                "{o}"
            );
        } else {
            assert!(o.get("error").is_none(), "{o}");
        }
    }
    assert_eq!(outcomes[11]["url"], "http://good.example/3");
    let (s, r) = w
        .get(
            "analyst",
            &format!(
                "/v1/reports/{}",
                outcomes[11]["reference"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!((s, &r["category"]), (StatusCode::OK, &json!("terrorism")));
    // The two valid ones were stored, nothing else.
    let (_, v) = w.get("analyst", "/v1/cases").await;
    assert_eq!(v["total"], 2, "{v}");

    // An item without a category in a batch that names none: the whole request is refused.
    let (s, v) = w
        .post(
            "reporter",
            "/v1/reports",
            json!({"reports": [{"url": "http://a.example/", "category": "csam"}, {"url": "http://b.example/"}]}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_request"));
    assert_eq!(v["error"]["index"], 1);
    assert!(message(&v).contains("report 1 has no category"), "{v}");
    // Unknown fields, at the top and in an item, and unknown sources.
    for body in [
        json!({"category": "csam", "urls": ["http://a.example/"], "priority": "high"}),
        json!({"reports": [{"url": "http://a.example/", "category": "csam", "colour": "red"}]}),
        json!({"source": "email", "category": "csam", "urls": ["http://a.example/"]}),
    ] {
        let (s, v) = w.post("reporter", "/v1/reports", body).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "malformed_json"),
            "{v}"
        );
        assert!(
            message(&v).contains("unknown field") || message(&v).contains("unknown variant"),
            "{v}"
        );
    }
    // Not JSON at all.
    let a = w
        .send(
            Request::builder()
                .method(Method::POST)
                .uri("/v1/reports")
                .header(
                    header::AUTHORIZATION,
                    format!("Bearer {}", w.token("reporter")),
                )
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{\"urls\": [\"http://a.example/\""))
                .unwrap(),
        )
        .await;
    assert_eq!(
        (a.status, code(&a.json())),
        (StatusCode::BAD_REQUEST, "malformed_json")
    );
    // The wrong content type.
    let a = w
        .send(
            Request::builder()
                .method(Method::POST)
                .uri("/v1/reports")
                .header(
                    header::AUTHORIZATION,
                    format!("Bearer {}", w.token("reporter")),
                )
                .header(header::CONTENT_TYPE, "text/plain")
                .body(Body::from("http://a.example/\n"))
                .unwrap(),
        )
        .await;
    let v = a.json();
    assert_eq!(
        (a.status, code(&v)),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
    assert!(message(&v).contains("text/plain"), "{v}");
    // Attribution of an IP address is refused before any lookup.
    let (s, v) = w.get("analyst", "/v1/attribution?host=192.0.2.1").await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_request"));
    assert!(message(&v).contains("IP address"), "{v}");
    let (s, v) = w.get("analyst", "/v1/attribution?hots=a.example").await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_request"),
        "{v}"
    );
    // Nothing more was stored.
    let (_, v) = w.get("analyst", "/v1/cases").await;
    assert_eq!(v["total"], 2, "{v}");
}

#[tokio::test]
async fn cases_queue_filters_and_actions() {
    let w = world(Config::default()).await;
    let mut ids = Vec::new();
    for (source, category, url) in [
        ("partner", "csam", "http://first.example/a"),
        ("police", "terrorism", "http://second.example/b"),
        ("crawler", "csam", "http://third.example/needle/c"),
        ("partner", "ncii", "http://fourth.example/d"),
    ] {
        let (s, v) = w
            .post(
                "analyst",
                "/v1/reports",
                json!({"source": source, "category": category, "urls": [url]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        ids.push(v["outcomes"][0]["case_id"].as_i64().unwrap());
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let listed = |v: &Value| -> Vec<i64> {
        v["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect()
    };
    // The queue: oldest first. Everything else: newest first, unless asked.
    let (s, v) = w.get("analyst", "/v1/cases?state=queue").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(listed(&v), ids);
    assert_eq!(v["total"], 4);
    let (_, v) = w.get("analyst", "/v1/cases").await;
    assert_eq!(listed(&v), ids.iter().rev().copied().collect::<Vec<_>>());
    let (_, v) = w
        .get("analyst", "/v1/cases?order=oldest&limit=2&offset=1")
        .await;
    assert_eq!(
        (listed(&v), v["total"].as_i64()),
        (ids[1..3].to_vec(), Some(4))
    );
    // Filters.
    let (_, v) = w
        .get("analyst", "/v1/cases?state=queue&category=csam")
        .await;
    assert_eq!(listed(&v), [ids[0], ids[2]]);
    let (_, v) = w.get("analyst", "/v1/cases?source=police").await;
    assert_eq!(listed(&v), [ids[1]]);
    assert_eq!(v["cases"][0]["category"], "terrorism");
    let (_, v) = w.get("analyst", "/v1/cases?q=needle").await;
    assert_eq!(listed(&v), [ids[2]]);
    assert_eq!(v["cases"][0]["url"], "http://third.example/needle/c");
    let (_, v) = w.get("analyst", "/v1/cases?q=%25").await;
    assert_eq!(listed(&v), Vec::<i64>::new(), "% is text, not a wildcard");
    let (_, v) = w
        .get("analyst", "/v1/cases?source=partner&category=ncii")
        .await;
    assert_eq!(listed(&v), [ids[3]]);
    // Bad filters.
    for (query, wanted) in [
        ("state=gone", "unknown case state \"gone\""),
        ("source=email", "unknown source \"email\""),
        ("order=random", "order \"random\""),
        ("colour=red", "bad query string"),
    ] {
        let (s, v) = w.get("analyst", &format!("/v1/cases?{query}")).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{query}"
        );
        assert!(message(&v).contains(wanted), "{query}: {v}");
    }

    // One case in detail.
    let id = ids[0];
    let (s, v) = w.get("analyst", &format!("/v1/cases/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["id"], id);
    assert_eq!(v["state"], "new");
    assert_eq!(v["url"], "http://first.example/a");
    assert_eq!(v["host"], "first.example");
    assert_eq!(v["reports_list"].as_array().unwrap().len(), 1);
    assert_eq!(v["reports_list"][0]["source"], "partner");
    assert_eq!(v["reports_list"][0]["actor"], w.keys["analyst"].1.as_str());
    assert_eq!(v["timeline"][0]["kind"], "opened");
    assert_eq!(v["timeline"][0]["message"], "opened by a partner report");
    assert_eq!(v["attribution"], Value::Null);

    let act = |body: Value| {
        let w = &w;
        async move {
            w.post("analyst", &format!("/v1/cases/{id}/actions"), body)
                .await
        }
    };
    let (s, v) = act(json!({"action": "assess"})).await;
    assert_eq!(
        (s, &v["state"]),
        (StatusCode::OK, &json!("assessing")),
        "{v}"
    );
    let (_, v) = w.get("analyst", "/v1/cases?state=assessing").await;
    assert_eq!(listed(&v), [id]);
    let (s, v) = act(json!({"action": "actionable", "reason": "clearly illegal"})).await;
    assert_eq!(
        (s, &v["state"]),
        (StatusCode::OK, &json!("actionable")),
        "{v}"
    );
    // Out of the queue now.
    let (_, v) = w.get("analyst", "/v1/cases?state=queue").await;
    assert_eq!(listed(&v), ids[1..].to_vec());
    // A refused move names both states.
    let (s, v) = act(json!({"action": "close"})).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "conflict"));
    assert_eq!(message(&v), "a case cannot go from actionable to closed");
    // not_actionable needs its reason.
    let (s, v) = act(json!({"action": "not_actionable"})).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "malformed_json"));
    assert!(message(&v).contains("missing field `reason`"), "{v}");
    let (s, v) = act(json!({"action": "not_actionable", "reason": "  "})).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_request"));
    assert_eq!(message(&v), "the reason must not be empty");
    let (s, v) = act(json!({"action": "explode"})).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "malformed_json"));
    assert!(message(&v).contains("unknown variant `explode`"), "{v}");
    // A revised verdict: forwarded abroad.
    let (s, v) =
        act(json!({"action": "forward", "partner": "NCMEC (US)", "reason": "hosted in the US"}))
            .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "forwarded");
    assert_eq!(v["forwarded_to"], "NCMEC (US)");
    let (s, v) = act(json!({"action": "forward", "partner": "   "})).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_request"));
    assert_eq!(message(&v), "the partner hotline must not be empty");
    // The timeline explains the state.
    let (_, v) = w.get("admin", &format!("/v1/cases/{id}")).await;
    let moves: Vec<(&str, &str, &str)> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "state")
        .map(|e| {
            (
                e["from_state"].as_str().unwrap(),
                e["to_state"].as_str().unwrap(),
                e["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        moves,
        [
            ("new", "assessing", "New → Assessing"),
            (
                "assessing",
                "actionable",
                "Assessing → Actionable: clearly illegal"
            ),
            (
                "actionable",
                "forwarded",
                "Actionable → Forwarded abroad (NCMEC (US)): hosted in the US"
            ),
        ]
    );
    assert!(
        v["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["kind"] != "state" || e["actor"] == w.keys["analyst"].1.as_str())
    );
    // A new report of the forwarded URL opens a new case.
    let v = w
        .report("reporter", "csam", &["http://first.example/a"])
        .await;
    assert_eq!(v["outcomes"][0]["status"], "opened");
    // Recategorise to an unknown category, and set an unknown hoster.
    let (s, v) = act(json!({"action": "recategorise", "category": "spam"})).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_request"));
    assert_eq!(message(&v), "unknown category \"spam\"");
    let (s, v) = act(json!({"action": "set_hoster", "hoster_id": 999})).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{v}");
    // Unknown cases.
    let (s, v) = w.get("analyst", "/v1/cases/9999").await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"));
    assert!(message(&v).contains("9999"), "{v}");
    let (s, v) = w
        .post(
            "analyst",
            "/v1/cases/9999/actions",
            json!({"action": "assess"}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"));
    let (s, v) = w
        .api(
            Some("analyst"),
            Method::POST,
            "/v1/cases/9999/attribute",
            None,
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"));
    let (s, v) = w.get("analyst", "/v1/cases/abc").await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_request"));
}

#[tokio::test]
async fn the_hosters_register() {
    let w = world(Config::default()).await;
    let fields = json!({
        "name": "Example Hosting",
        "asns": [64500, 64501, 64500],
        "prefixes": ["192.0.2.0/24", "2001:db8::/32"],
        "abuse": ["abuse@hosting.example"],
        "country": "nl",
        "coc_member": true,
    });
    let (s, v) = w.post("analyst", "/v1/hosters", fields.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_i64().unwrap();
    assert_eq!(v["name"], "Example Hosting");
    assert_eq!(v["asns"], json!([64500, 64501]));
    assert_eq!(v["prefixes"], json!(["192.0.2.0/24", "2001:db8::/32"]));
    assert_eq!(v["country"], "NL");
    assert_eq!(v["channel"], "email");
    assert_eq!(v["coc_member"], true);
    assert_eq!(v["cdn"], false);
    assert_eq!(v["updated_by"], w.keys["analyst"].1.as_str());
    // The same name again.
    let (s, v) = w.post("analyst", "/v1/hosters", fields.clone()).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "conflict"));
    assert!(
        message(&v).contains("a hoster with this name already exists"),
        "{v}"
    );
    // Bad fields.
    for (body, wanted) in [
        (
            json!({"name": "Typo Hosting", "prefixes": ["192.0.2.1/24"]}),
            "prefix \"192.0.2.1/24\": host bits are set",
        ),
        (
            json!({"name": "Typo Hosting", "prefixes": ["192.0.2.0/33"]}),
            "bad prefix length",
        ),
        (
            json!({"name": "Typo Hosting", "abuse": ["abuse at hosting.example"]}),
            "\"abuse at hosting.example\" is not an e-mail address",
        ),
        (
            json!({"name": "Typo Hosting", "abuse": ["abuse@hosting"]}),
            "is not an e-mail address",
        ),
        (json!({"name": "  "}), "a hoster needs a name"),
        (
            json!({"name": "Typo Hosting", "country": "NLD"}),
            "is not a two-letter code",
        ),
        (
            json!({"name": "Typo Hosting", "channel": "webhook"}),
            "needs a webhook_url",
        ),
        (json!({"name": "Typo Hosting", "asns": [0]}), "AS 0"),
    ] {
        let (s, v) = w.post("analyst", "/v1/hosters", body.clone()).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{body}"
        );
        assert!(message(&v).contains(wanted), "{body}: {v}");
    }
    let (s, v) = w
        .post(
            "analyst",
            "/v1/hosters",
            json!({"name": "X", "colour": "red"}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "malformed_json"));
    assert!(message(&v).contains("unknown field `colour`"), "{v}");
    // Update.
    let (s, v) = w
        .api(
            Some("admin"),
            Method::PUT,
            &format!("/v1/hosters/{id}"),
            Some(&json!({
                "name": "Example Hosting B.V.",
                "abuse": ["abuse@hosting.example", "noc@hosting.example"],
                "channel": "webhook",
                "webhook_url": "https://hosting.example/notices",
                "cdn": true,
            })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["name"], "Example Hosting B.V.");
    assert_eq!(v["channel"], "webhook");
    assert_eq!(v["cdn"], true);
    assert_eq!(v["prefixes"], json!([]), "PUT replaces every field");
    assert_eq!(v["updated_by"], w.keys["admin"].1.as_str());
    // An update with a bad prefix changes nothing.
    let (s, v) = w
        .api(
            Some("admin"),
            Method::PUT,
            &format!("/v1/hosters/{id}"),
            Some(&json!({"name": "Example Hosting B.V.", "prefixes": ["192.0.2.1/24"]})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_request"));
    let (s, v) = w.get("analyst", &format!("/v1/hosters/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["name"], "Example Hosting B.V.");
    assert_eq!(
        v["abuse"],
        json!(["abuse@hosting.example", "noc@hosting.example"])
    );
    assert_eq!(v["webhook_url"], "https://hosting.example/notices");
    // Renaming onto another hoster's name.
    let (s, _) = w
        .post("analyst", "/v1/hosters", json!({"name": "Other Hosting"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v) = w
        .api(
            Some("admin"),
            Method::PUT,
            &format!("/v1/hosters/{id}"),
            Some(&json!({"name": "Other Hosting"})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "conflict"), "{v}");
    let (_, v) = w.get("analyst", "/v1/hosters").await;
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Example Hosting B.V.", "Other Hosting"]);
    // Unknown ids.
    let (s, v) = w.get("analyst", "/v1/hosters/999").await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"));
    assert_eq!(message(&v), "no hoster 999");
    let (s, v) = w
        .api(
            Some("analyst"),
            Method::PUT,
            "/v1/hosters/999",
            Some(&json!({"name": "Ghost"})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"));
    // A case pointed at a hoster by hand shows it, renamed with the register.
    let v = w
        .report("analyst", "csam", &["http://hosted.example/x"])
        .await;
    let case = v["outcomes"][0]["case_id"].as_i64().unwrap();
    let (s, v) = w
        .post(
            "analyst",
            &format!("/v1/cases/{case}/actions"),
            json!({"action": "set_hoster", "hoster_id": id, "reason": "known customer"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["hoster_id"].as_i64(), &v["hoster_name"]),
        (Some(id), &json!("Example Hosting B.V."))
    );
    let (s, _) = w
        .api(
            Some("analyst"),
            Method::PUT,
            &format!("/v1/hosters/{id}"),
            Some(&json!({"name": "Example Hosting"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = w.get("analyst", &format!("/v1/cases?hoster={id}")).await;
    assert_eq!(v["cases"][0]["hoster_name"], "Example Hosting");
}

#[tokio::test]
async fn the_public_report_form() {
    let w = world(Config::default()).await;
    // Pages anyone may see.
    let a = w.page(Method::GET, "/report", None, None, None, &[]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.header(header::CONTENT_TYPE).starts_with("text/html"));
    for c in ["csam", "terrorism", "ncii", "other"] {
        assert!(
            a.body.contains(&format!("<option value=\"{c}\"")),
            "{c}: {}",
            a.body
        );
    }
    assert!(a.body.contains("name=\"website\""), "the honeypot field");
    let a = w.page(Method::GET, "/", None, None, None, &[]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("/report"));
    let a = w
        .page(Method::GET, "/static/schoon.css", None, None, None, &[])
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.header(header::CONTENT_TYPE).starts_with("text/css"));

    // A valid report: a reference number, a case with the public source.
    let a = w
        .page(
            Method::POST,
            "/report",
            None,
            Some(form(&[
                ("url", "shop.example/bad?id=7"),
                ("category", "csam"),
                ("text", "a picture on the front page"),
                ("contact", ""),
                ("website", ""),
            ])),
            Some(addr(1)),
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let at = a.body.find("id=\"reference\">").expect("a reference") + "id=\"reference\">".len();
    let reference = &a.body[at..at + 13];
    assert!(reference.starts_with("R-"), "{reference}");
    assert!(!a.body.contains("already being looked into"));
    let report = w
        .cases
        .report_by_reference(reference)
        .await
        .unwrap()
        .expect("the report is stored");
    assert_eq!(report.source, Source::Public);
    assert_eq!(report.actor, "public");
    assert_eq!(report.org_id, None);
    assert_eq!(report.contact, None);
    assert_eq!(report.text.as_deref(), Some("a picture on the front page"));
    let case = w.cases.case(report.case_id).await.unwrap().unwrap();
    assert_eq!(case.url, "http://shop.example/bad?id=7");
    assert_eq!(case.sources, [Source::Public]);
    assert_eq!(case.state, CaseState::New);
    // The same URL again joins the case.
    let a = w
        .page(
            Method::POST,
            "/report",
            None,
            Some(form(&[
                ("url", "http://SHOP.example/bad?id=7"),
                ("category", "csam"),
            ])),
            Some(addr(2)),
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("already being looked into"), "{}", a.body);
    assert_eq!(
        w.cases.case(report.case_id).await.unwrap().unwrap().reports,
        2
    );

    // An invalid URL: the form again, with the error and what was typed.
    let a = w
        .page(
            Method::POST,
            "/report",
            None,
            Some(form(&[
                ("url", "ftp://files.example/x"),
                ("category", "terrorism"),
                ("text", "kept <as> typed"),
            ])),
            Some(addr(3)),
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        a.body
            .contains("only http and https URLs can be reported, not &#34;ftp&#34;")
            || a.body
                .contains("only http and https URLs can be reported, not &quot;ftp&quot;"),
        "{}",
        a.body
    );
    assert!(
        a.body.contains("value=\"ftp://files.example/x\""),
        "{}",
        a.body
    );
    assert!(a.body.contains("kept &#60;as&#62; typed") || a.body.contains("kept &lt;as&gt; typed"));
    assert!(!a.body.contains("kept <as> typed"), "typed text is escaped");
    let a = w
        .page(
            Method::POST,
            "/report",
            None,
            Some(form(&[("url", "http://192.0.2.7/x"), ("category", "csam")])),
            Some(addr(4)),
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        a.body.contains("the host is an IP address (192.0.2.7)"),
        "{}",
        a.body
    );
    let a = w
        .page(
            Method::POST,
            "/report",
            None,
            Some(form(&[
                ("url", "http://fine.example/"),
                ("category", "spam"),
            ])),
            Some(addr(4)),
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(a.body.contains("unknown category"), "{}", a.body);
    // The honeypot.
    let a = w
        .page(
            Method::POST,
            "/report",
            None,
            Some(form(&[
                ("url", "http://bot.example/"),
                ("category", "csam"),
                ("website", "http://spam.example/"),
            ])),
            Some(addr(5)),
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.body.contains("could not be accepted"), "{}", a.body);
    // Nothing but the one case was stored.
    let (_, v) = w.get("analyst", "/v1/cases").await;
    assert_eq!(v["total"], 1, "{v}");
    // Not a form.
    let a = w
        .send(
            Request::builder()
                .method(Method::POST)
                .uri("/report")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
}

#[tokio::test]
async fn the_public_form_is_rate_limited_per_address() {
    let w = world(Config {
        public_reports_per_hour: 3,
        ..Config::default()
    })
    .await;
    let submit = |n: u32, from: SocketAddr| {
        let w = &w;
        async move {
            w.page(
                Method::POST,
                "/report",
                None,
                Some(form(&[
                    ("url", &format!("http://limited.example/{n}")),
                    ("category", "csam"),
                ])),
                Some(from),
                &[],
            )
            .await
        }
    };
    for n in 0..3 {
        let a = submit(n, addr(10)).await;
        assert_eq!(a.status, StatusCode::OK, "{n}: {}", a.body);
    }
    let a = submit(3, addr(10)).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        a.body.contains("Too many reports from your address"),
        "{}",
        a.body
    );
    assert!(
        a.body.contains("http://limited.example/3"),
        "the form keeps the URL"
    );
    // Another address is not affected; the same port on another host neither.
    let a = submit(4, addr(11)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = submit(
        5,
        SocketAddr::from(([2001, 0xdb8, 0, 0, 0, 0, 0, 1], 40000)),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    // Another port of the limited address is still limited.
    let a = submit(6, SocketAddr::from(([198, 51, 100, 10], 50000))).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    let (_, v) = w.get("analyst", "/v1/cases").await;
    assert_eq!(v["total"], 5, "{v}");
}

#[tokio::test]
async fn analysts_sign_in_to_the_web_pages() {
    let w = world(Config::default()).await;
    let v = w
        .report(
            "analyst",
            "csam",
            &["http://shop.example/item/1", "http://shop.example/item/2"],
        )
        .await;
    let case = v["outcomes"][0]["case_id"].as_i64().unwrap();

    // Without a session: to the sign-in page, remembering where to go.
    let a = w
        .page(Method::GET, "/ui/queue", None, None, None, &[])
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.header(header::LOCATION), "/ui/login?next=%2Fui%2Fqueue");
    let a = w
        .page(
            Method::GET,
            &format!("/ui/cases/{case}"),
            None,
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(
        a.header(header::LOCATION),
        format!("/ui/login?next=%2Fui%2Fcases%2F{case}")
    );
    let a = w
        .page(
            Method::GET,
            "/ui/login?next=/ui/queue",
            None,
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("value=\"/ui/queue\""), "{}", a.body);

    // Signing in.
    let a = w
        .page(
            Method::POST,
            "/ui/login",
            None,
            Some(form(&[("key", w.token("analyst")), ("next", "/ui/queue")])),
            None,
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.header(header::LOCATION), "/ui/queue");
    let set = a.header(header::SET_COOKIE).to_string();
    assert!(set.starts_with("schoon_session="), "{set}");
    assert!(set.contains("; HttpOnly"), "{set}");
    assert!(set.contains("; SameSite=Strict"), "{set}");
    assert!(!set.contains("Secure"), "not asked for: {set}");
    assert!(
        !set.contains(w.token("analyst")),
        "the cookie holds no secret"
    );
    let cookie = set.split(';').next().unwrap().to_string();
    assert!(cookie.starts_with(&format!("schoon_session={}.", w.keys["analyst"].1)));
    // A redirect elsewhere after signing in is refused.
    let a = w
        .page(
            Method::POST,
            "/ui/login",
            None,
            Some(form(&[
                ("key", w.token("analyst")),
                ("next", "//evil.example/"),
            ])),
            None,
            &[],
        )
        .await;
    assert_eq!(a.header(header::LOCATION), "/ui/queue");

    // The queue lists the URLs as text, never as links.
    let a = w
        .page(Method::GET, "/ui/queue", Some(&cookie), None, None, &[])
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("http://shop.example/item/1"), "{}", a.body);
    assert!(a.body.contains("http://shop.example/item/2"));
    assert!(!a.body.contains("href=\"http://shop"), "{}", a.body);
    assert!(!a.body.contains("href='http://shop"));
    let a = w
        .page(
            Method::GET,
            &format!("/ui/cases/{case}"),
            Some(&cookie),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("http://shop.example/item/1"));
    assert!(!a.body.contains("href=\"http://shop"), "{}", a.body);
    for page in ["/ui", "/ui/cases", "/ui/hosters"] {
        let a = w
            .page(Method::GET, page, Some(&cookie), None, None, &[])
            .await;
        assert_eq!(a.status, StatusCode::OK, "{page}");
    }

    // Keys that may not work cases, and wrong keys.
    for who in ["hoster", "reporter", "list_manager"] {
        let a = w
            .page(
                Method::POST,
                "/ui/login",
                None,
                Some(form(&[("key", w.token(who)), ("next", "/ui/queue")])),
                None,
                &[],
            )
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{who}");
        assert!(
            a.body
                .contains(&format!("A {who} key cannot use the analyst pages")),
            "{}",
            a.body
        );
        assert!(a.headers.get(header::SET_COOKIE).is_none());
    }
    let a = w
        .page(
            Method::POST,
            "/ui/login",
            None,
            Some(form(&[("key", "hunter2")])),
            None,
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.body.contains("That is not a Schoon API key"));

    // A tampered cookie: back to the sign-in page.
    let mut tampered = cookie.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == '0' { '1' } else { '0' });
    let extended = {
        // Another expiry with the old MAC.
        let parts: Vec<&str> = cookie.split('.').collect();
        let exp: i64 = parts[1].parse().unwrap();
        format!("{}.{}.{}", parts[0], exp + 1000, parts[2])
    };
    for bad in [
        tampered.as_str(),
        extended.as_str(),
        "schoon_session=nonsense",
        "schoon_session=a.b.c.d",
    ] {
        let a = w
            .page(Method::GET, "/ui/queue", Some(bad), None, None, &[])
            .await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{bad}");
        assert!(
            a.header(header::LOCATION).starts_with("/ui/login?next="),
            "{bad}"
        );
    }

    // A revoked key's session dies with the key.
    let other = w.sign_in("analyst2").await;
    let a = w
        .page(Method::GET, "/ui/queue", Some(&other), None, None, &[])
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let (s, _) = w
        .api(
            Some("admin"),
            Method::DELETE,
            &format!("/v1/keys/{}", w.keys["analyst2"].1),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let a = w
        .page(Method::GET, "/ui/queue", Some(&other), None, None, &[])
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert!(a.header(header::LOCATION).starts_with("/ui/login"));

    // Cross-site form posts are refused; same-site ones act and redirect back.
    let action = format!("/ui/cases/{case}/action");
    for headers in [
        vec![("origin", "http://evil.example"), ("host", "schoon.test")],
        vec![("sec-fetch-site", "cross-site"), ("host", "schoon.test")],
        vec![
            ("sec-fetch-site", "same-site"),
            ("origin", "http://schoon.test"),
            ("host", "schoon.test"),
        ],
    ] {
        let a = w
            .page(
                Method::POST,
                &action,
                Some(&cookie),
                Some(form(&[("action", "assess")])),
                None,
                &headers,
            )
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(a.body.contains("posted from another site"), "{}", a.body);
    }
    assert_eq!(
        w.cases.case(case).await.unwrap().unwrap().state,
        CaseState::New
    );
    // A login posted from another site is refused too.
    let a = w
        .page(
            Method::POST,
            "/ui/login",
            None,
            Some(form(&[("key", w.token("analyst"))])),
            None,
            &[("origin", "http://evil.example"), ("host", "schoon.test")],
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.headers.get(header::SET_COOKIE).is_none());

    let a = w
        .page(
            Method::POST,
            &action,
            Some(&cookie),
            Some(form(&[("action", "assess")])),
            None,
            &[("sec-fetch-site", "same-origin"), ("host", "schoon.test")],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(
        a.header(header::LOCATION),
        format!("/ui/cases/{case}?done=saved")
    );
    let c = w.cases.case(case).await.unwrap().unwrap();
    assert_eq!(c.state, CaseState::Assessing);
    let events = w.cases.events(case).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(
        (last.kind.as_str(), last.actor.as_str()),
        ("state", w.keys["analyst"].1.as_str())
    );
    // The same with a matching Origin.
    let a = w
        .page(
            Method::POST,
            &action,
            Some(&cookie),
            Some(form(&[("action", "actionable"), ("reason", "seen")])),
            None,
            &[("origin", "http://schoon.test"), ("host", "schoon.test")],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(
        w.cases.case(case).await.unwrap().unwrap().state,
        CaseState::Actionable
    );
    // A refused move shows the case page with the reason, and changes nothing.
    let a = w
        .page(
            Method::POST,
            &action,
            Some(&cookie),
            Some(form(&[("action", "close")])),
            None,
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert!(
        a.body
            .contains("a case cannot go from actionable to closed"),
        "{}",
        a.body
    );
    // The case page now shows the verdict.
    let a = w
        .page(
            Method::GET,
            &format!("/ui/cases/{case}?done=saved"),
            Some(&cookie),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("Actionable"), "{}", a.body);
    // Signing out clears the cookie.
    let a = w
        .page(
            Method::POST,
            "/ui/logout",
            Some(&cookie),
            None,
            None,
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert!(a.header(header::SET_COOKIE).contains("Max-Age=0"));
    assert!(
        w.store
            .key(&w.keys["analyst2"].1)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
}
