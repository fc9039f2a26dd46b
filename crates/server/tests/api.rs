//! The API end to end, in process (the router as a tower service over a real SQLite store):
//! the role matrix for every endpoint, bad input and its error codes, what a check answer
//! reveals, the audit log, list changes reaching the live index, and entry status, allowlists,
//! alerts, disputes and retraction notices.

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use index::{HashKind, Key};
use lists::import::{Mode, Row};
use lists::keys::NewKey;
use lists::live::LiveIndex;
use lists::store::VecSource;
use lists::{ApiKey, Category, Millis, NewList, OrgKind, Role, Store};
use serde_json::{Value, json};
use server::{AppState, Config};
use std::sync::Arc;
use tower::ServiceExt;

const BRIDGE: &str = "../../testdata/pdq-conformance/images/bridge-mods/square-256x256.jpg";
const BRIDGE_MD5: &str = "5dc1441dd7a12fa79f2a43b1ebc93eab";
const BRIDGE_PDQ: &str = "d8f8f0cec4f4a84f0637022a078f67f0b36e2ee5b6621e1d33e6239c4e9c9b22";

struct World {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    app: axum::Router,
    state: AppState,
    keys: std::collections::HashMap<&'static str, (String, String)>,
    list: i64,
}

fn flip(hex: &str, bits: usize) -> String {
    let mut b = hex::decode(hex).unwrap();
    for i in 0..bits {
        b[i / 8] ^= 1 << (i % 8);
    }
    hex::encode(b)
}

async fn world(config: Config) -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let stores = store::open_stores(&url, Arc::new(lists::SystemClock))
        .await
        .unwrap();
    let store = Arc::clone(&stores.lists);
    let police = store.create_org("Police", OrgKind::Police).await.unwrap();
    let hotline = store.create_org("Hotline", OrgKind::Hotline).await.unwrap();
    let hoster = store.create_org("Hoster", OrgKind::Hoster).await.unwrap();
    let operator = store
        .create_org("Operator", OrgKind::Operator)
        .await
        .unwrap();
    let mut keys = std::collections::HashMap::new();
    for (name, org, role) in [
        ("admin", operator.id, Role::Admin),
        ("manager", police.id, Role::ListManager),
        ("other_manager", hotline.id, Role::ListManager),
        ("analyst", hotline.id, Role::Analyst),
        ("hoster", hoster.id, Role::Hoster),
    ] {
        let new = NewKey::generate().unwrap();
        store
            .insert_key(&ApiKey {
                id: new.id.clone(),
                org_id: org,
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
    let list = store
        .create_list(&NewList {
            name: "nl-police-csam".into(),
            owner_org_id: police.id,
            category: Category::new("csam").unwrap(),
            description: "test".into(),
            source: "benign test images".into(),
            purpose: Default::default(),
        })
        .await
        .unwrap()
        .id;
    let rows = vec![
        Row {
            key: Key::parse_hex(HashKind::Md5, BRIDGE_MD5).unwrap(),
            quality: None,
            ext_ref: Some("bridge".into()),
            confirmations: None,
            hold: None,
        },
        Row {
            key: Key::parse_hex(HashKind::Pdq, BRIDGE_PDQ).unwrap(),
            quality: Some(100),
            ext_ref: Some("bridge".into()),
            confirmations: None,
            hold: None,
        },
    ];
    store
        .import(list, Mode::Add, "test", "", &mut VecSource::new(rows))
        .await
        .unwrap();
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
        app: server::router(state.clone()),
        state,
        store,
        keys,
        list,
    }
}

impl World {
    async fn call(
        &self,
        who: Option<&str>,
        method: Method,
        path: &str,
        body: Body,
        ct: Option<&str>,
    ) -> (StatusCode, Value, axum::http::HeaderMap) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(who) = who {
            let token = self.keys.get(who).map_or(who.to_string(), |k| k.0.clone());
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(ct) = ct {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let res = self
            .app
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = to_bytes(res.into_body(), 64 << 20).await.unwrap();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, value, headers)
    }

    async fn json(
        &self,
        who: &str,
        method: Method,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let (s, v, _) = self
            .call(
                Some(who),
                method,
                path,
                Body::from(body.to_string()),
                Some("application/json"),
            )
            .await;
        (s, v)
    }

    async fn get(&self, who: &str, path: &str) -> (StatusCode, Value) {
        let (s, v, _) = self
            .call(Some(who), Method::GET, path, Body::empty(), None)
            .await;
        (s, v)
    }

    /// A call with a JSON body, or none.
    async fn send(
        &self,
        who: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let (s, v, _) = self
            .call(
                Some(who),
                method,
                path,
                body.map_or(Body::empty(), |b| Body::from(b.to_string())),
                body.map(|_| "application/json"),
            )
            .await;
        (s, v)
    }

    async fn import(&self, who: &str, list: i64, query: &str, file: String) -> (StatusCode, Value) {
        let (s, v, _) = self
            .call(
                Some(who),
                Method::POST,
                &format!("/v1/lists/{list}/import{query}"),
                Body::from(file),
                Some("text/plain"),
            )
            .await;
        (s, v)
    }

    /// Waits until the audit writer (asynchronous) has recorded `n` matches of `entry`,
    /// allowlisted ones included.
    async fn wait_for_hits(&self, entry: i64, n: i64) {
        for _ in 0..200 {
            let h = self.store.hit_stats(entry).await.unwrap();
            if h.hits + h.conflicts >= n {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("entry {entry}: fewer than {n} matches recorded");
    }

    async fn check(&self, who: &str, hashes: Value) -> (StatusCode, Value) {
        self.json(who, Method::POST, "/v1/check", json!({ "hashes": hashes }))
            .await
    }
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("<none>")
}

#[tokio::test]
async fn role_matrix_covers_every_endpoint() {
    let w = world(Config::default()).await;
    let l = w.list;
    let image = std::fs::read(BRIDGE).unwrap();
    let new_org = |i: usize| json!({"name": format!("Org {i}"), "kind": "hoster"});
    // (method, path, body, [admin, manager, other_manager, analyst, hoster])
    let ok = StatusCode::OK;
    let created = StatusCode::CREATED;
    let no = StatusCode::FORBIDDEN;
    let all_ok = [ok; 5];
    let owner_only = [ok, ok, no, no, no];
    let readers = [ok, ok, no, ok, no];
    let admin_only = [ok, no, no, no, no];
    // Alerts: admins see all, list managers their own lists' (the other one sees none, but may ask).
    let managers = [ok, ok, ok, no, no];
    let md5 = Key::parse_hex(HashKind::Md5, BRIDGE_MD5).unwrap();
    let e = w.store.find_entries(l, &md5).await.unwrap()[0].id;
    let cases: Vec<(Method, String, Option<Value>, [StatusCode; 5])> = vec![
        (
            Method::POST,
            "/v1/check".into(),
            Some(json!({"hashes": [{"type": "md5", "value": BRIDGE_MD5}]})),
            all_ok,
        ),
        (Method::GET, "/v1/check".into(), None, all_ok),
        (
            Method::POST,
            "/v1/check/removals".into(),
            Some(json!({"removed": 2})),
            all_ok,
        ),
        (Method::GET, "/v1/lists".into(), None, [ok, ok, ok, ok, no]),
        (Method::GET, format!("/v1/lists/{l}"), None, readers),
        (
            Method::GET,
            format!("/v1/lists/{l}/versions"),
            None,
            readers,
        ),
        (
            Method::GET,
            format!("/v1/lists/{l}/export"),
            None,
            owner_only,
        ),
        (
            Method::GET,
            format!("/v1/lists/{l}/history?type=md5&hash={BRIDGE_MD5}"),
            None,
            owner_only,
        ),
        (
            Method::GET,
            format!("/v1/lists/{l}/entries?status=active"),
            None,
            owner_only,
        ),
        (
            Method::GET,
            format!("/v1/lists/{l}/entries?type=md5&value={BRIDGE_MD5}"),
            None,
            owner_only,
        ),
        (
            Method::GET,
            format!("/v1/lists/{l}/entries/{e}"),
            None,
            owner_only,
        ),
        (
            Method::GET,
            format!("/v1/lists/{l}/conflicts"),
            None,
            owner_only,
        ),
        (Method::GET, "/v1/alerts".into(), None, managers),
        (Method::GET, "/v1/disputes".into(), None, all_ok),
        (Method::GET, "/v1/retractions".into(), None, all_ok),
        (Method::GET, "/v1/outbox".into(), None, admin_only),
        (Method::GET, "/v1/orgs".into(), None, admin_only),
        (Method::GET, "/v1/keys".into(), None, admin_only),
        (Method::GET, "/v1/audit".into(), None, admin_only),
        (
            Method::GET,
            "/v1/categories".into(),
            None,
            [ok, ok, ok, ok, no],
        ),
        (Method::GET, "/metrics".into(), None, admin_only),
    ];
    let who = ["admin", "manager", "other_manager", "analyst", "hoster"];
    for (method, path, body, expected) in &cases {
        for (i, w_name) in who.iter().enumerate() {
            let (s, v, _) = w
                .call(
                    Some(w_name),
                    method.clone(),
                    path,
                    body.as_ref()
                        .map_or(Body::empty(), |b| Body::from(b.to_string())),
                    body.as_ref().map(|_| "application/json"),
                )
                .await;
            assert_eq!(s, expected[i], "{w_name} {method} {path}: {v}");
            if s == StatusCode::FORBIDDEN {
                assert_eq!(code(&v), "forbidden");
            }
        }
        // Without a key: 401 everywhere under /v1 and on /metrics.
        let (s, v, h) = w
            .call(None, method.clone(), path, Body::empty(), None)
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(code(&v), "unauthenticated");
        assert!(h.contains_key(header::WWW_AUTHENTICATE));
    }

    // Endpoints that change things, one role at a time (each success changes state).
    for (i, name) in who.iter().enumerate() {
        let (s, _, _) = w
            .call(
                Some(name),
                Method::POST,
                "/v1/check/image",
                Body::from(image.clone()),
                Some("application/octet-stream"),
            )
            .await;
        assert_eq!(s, ok, "{name} check/image");
        let (s, v) = w
            .json(
                name,
                Method::POST,
                "/v1/lists",
                json!({"name": format!("list-{name}"), "category": "ncii"}),
            )
            .await;
        assert_eq!(
            s,
            [created, created, created, no, no][i],
            "{name} create list: {v}"
        );
        let (s, v, _) = w
            .call(
                Some(name),
                Method::POST,
                &format!("/v1/lists/{l}/import?type=md5"),
                Body::from(format!("{:032x}\n", i + 1)),
                Some("text/plain"),
            )
            .await;
        assert_eq!(s, owner_only[i], "{name} import: {v}");
        let (s, v) = w
            .json(
                name,
                Method::POST,
                "/v1/categories",
                json!({"name": format!("cat_{i}")}),
            )
            .await;
        assert_eq!(
            s,
            [created, no, no, no, no][i],
            "{name} create category: {v}"
        );
        let (s, v) = w.json(name, Method::POST, "/v1/orgs", new_org(i)).await;
        assert_eq!(s, [created, no, no, no, no][i], "{name} create org: {v}");
        let (s, v) = w
            .json(
                name,
                Method::PATCH,
                "/v1/orgs/1",
                json!({"email": format!("{name}@example.org")}),
            )
            .await;
        assert_eq!(s, admin_only[i], "{name} set org e-mail: {v}");
        if s == ok {
            assert_eq!(
                (v["id"].as_i64(), &v["email"]),
                (Some(1), &json!("admin@example.org"))
            );
        }
        let (s, v) = w
            .json(
                name,
                Method::POST,
                "/v1/keys",
                json!({"org_id": 1, "role": "hoster"}),
            )
            .await;
        assert_eq!(s, [created, no, no, no, no][i], "{name} create key: {v}");
        if s == created {
            let id = v["id"].as_str().unwrap().to_string();
            assert!(v["key"].as_str().unwrap().starts_with("schoon_"));
            let (s, v) = w.get(name, "/v1/keys").await;
            assert_eq!(s, ok);
            assert!(!v.to_string().contains("secret"), "{v}");
            let (s, v) = w
                .json(name, Method::DELETE, &format!("/v1/keys/{id}"), json!({}))
                .await;
            assert_eq!(s, ok, "{v}");
            assert!(v["revoked_at"].is_number());
        } else {
            let victim = &w.keys["analyst"].1;
            let (s, _) = w
                .json(
                    name,
                    Method::DELETE,
                    &format!("/v1/keys/{victim}"),
                    json!({}),
                )
                .await;
            assert_eq!(s, no, "{name} revoke");
        }
    }
    // The new category can be used.
    let (s, v) = w
        .json(
            "manager",
            Method::POST,
            "/v1/lists",
            json!({"name": "fraud-list", "category": "cat_0"}),
        )
        .await;
    assert_eq!(s, created, "{v}");
    // The other organisation's list manager sees only its own lists.
    let (_, v) = w.get("other_manager", "/v1/lists").await;
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["list-other_manager"]);
    // Public endpoints.
    for path in ["/healthz", "/openapi.json"] {
        let (s, v, _) = w.call(None, Method::GET, path, Body::empty(), None).await;
        assert_eq!(s, ok, "{path}: {v}");
    }
}

#[tokio::test]
async fn check_answers_without_revealing_entries() {
    let w = world(Config::default()).await;
    let near = flip(BRIDGE_PDQ, 12);
    let far = flip(BRIDGE_PDQ, 40);
    let (s, v) = w
        .check(
            "hoster",
            json!([
                {"type": "md5", "value": BRIDGE_MD5.to_uppercase()},
                {"type": "pdq", "value": near},
                {"type": "pdq", "value": far},
                {"type": "sha256", "value": "00".repeat(32)},
            ]),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let r = v["results"].as_array().unwrap();
    assert_eq!(r[0]["matched"], true);
    assert_eq!(r[0]["matches"][0]["list"], "nl-police-csam");
    assert_eq!(r[0]["matches"][0]["category"], "csam");
    assert_eq!(r[0]["matches"][0]["list_version"], 1);
    assert_eq!(r[0]["matches"][0]["distance"], 0);
    assert_eq!(r[1]["matched"], true);
    assert_eq!(r[1]["matches"][0]["distance"], 12);
    assert_eq!(r[2], json!({"matched": false}));
    assert_eq!(r[3], json!({"matched": false}));
    let seq = v["index_seq"].as_i64().unwrap();
    // GET /v1/check: the facts a scanner needs, and the same index sequence.
    let (s, info, _) = w
        .call(
            Some("hoster"),
            Method::GET,
            "/v1/check",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{info}");
    assert_eq!(info["index_seq"], seq);
    assert_eq!(info["max_batch"], 1000);
    assert_eq!(info["default_distance"], 31);
    assert_eq!(info["max_distance"], 40);
    assert!(info["rate_per_sec"].as_u64().unwrap() > 0);
    assert_eq!(
        info.as_object().unwrap().len(),
        5,
        "nothing about lists: {info}"
    );
    let text = v.to_string();
    assert!(!text.contains(BRIDGE_PDQ), "the listed hash leaked: {text}");
    assert!(!text.contains("bridge"), "the reference leaked: {text}");

    // POST /v1/check/removals: a count of own-initiative removals, nothing else.
    let (s, v) = w
        .json(
            "hoster",
            Method::POST,
            "/v1/check/removals",
            json!({"removed": 3}),
        )
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({"recorded": 3})));
    for (body, code) in [
        (json!({"removed": 0}), "invalid_request"),
        (json!({"removed": 100_001}), "invalid_request"),
        (json!({"removed": -1}), "malformed_json"),
        (json!({"removed": 1, "hashes": []}), "malformed_json"),
        (json!({}), "malformed_json"),
    ] {
        let (s, v) = w
            .json("hoster", Method::POST, "/v1/check/removals", body.clone())
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_eq!(v["error"]["code"], code, "{body}: {v}");
    }

    // A smaller radius per request.
    let (_, v) = w
        .json(
            "hoster",
            Method::POST,
            "/v1/check",
            json!({"hashes": [{"type": "pdq", "value": near}], "max_distance": 10}),
        )
        .await;
    assert_eq!(v["results"][0]["matched"], false);

    // The image endpoint hashes in memory and matches by MD5 and PDQ.
    let image = std::fs::read(BRIDGE).unwrap();
    let (s, v, _) = w
        .call(
            Some("hoster"),
            Method::POST,
            "/v1/check/image",
            Body::from(image),
            Some("image/jpeg"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["hashes"]["pdq"], BRIDGE_PDQ);
    assert_eq!(v["hashes"]["md5"], BRIDGE_MD5);
    let types: Vec<&str> = v["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["hash_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["md5", "pdq"]);
    // Bytes that are not an image still get their digests checked, and say why there is no PDQ.
    let (s, v, _) = w
        .call(
            Some("hoster"),
            Method::POST,
            "/v1/check/image",
            Body::from("not an image"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["matched"], false);
    assert!(
        v["hashes"]["pdq_error"]
            .as_str()
            .unwrap()
            .contains("not hashed"),
        "{v}"
    );

    // The audit log has each check with its matches, but not the non-matching hashes.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let records = w.store.audit(None, 100).await.unwrap();
    let checks: Vec<_> = records
        .iter()
        .filter(|(_, r)| r.action == "check")
        .collect();
    assert_eq!(checks.len(), 2);
    let first = &checks[1].1;
    assert_eq!((first.count, first.matches), (4, 2));
    assert_eq!(first.key_id, w.keys["hoster"].1);
    assert!(first.detail.contains(&near), "{}", first.detail);
    assert!(!first.detail.contains(&far), "{}", first.detail);
    assert!(records.iter().any(|(_, r)| r.action == "check_image"));
}

#[tokio::test]
async fn bad_input_gets_stable_codes() {
    let w = world(Config {
        max_batch: 5,
        ..Config::default()
    })
    .await;
    let md5 = json!({"type": "md5", "value": BRIDGE_MD5});
    let cases: Vec<(Value, StatusCode, &str, Option<usize>)> = vec![
        (
            json!({"hashes": [md5, {"type": "sha512", "value": "00"}]}),
            StatusCode::BAD_REQUEST,
            "unknown_hash_type",
            Some(1),
        ),
        (
            json!({"hashes": [{"type": "pdq", "value": &BRIDGE_PDQ[..60]}]}),
            StatusCode::BAD_REQUEST,
            "invalid_hash",
            Some(0),
        ),
        (
            json!({"hashes": [md5, {"type": "md5", "value": "zz".repeat(16)}]}),
            StatusCode::BAD_REQUEST,
            "invalid_hash",
            Some(1),
        ),
        (
            json!({"hashes": [md5, md5, md5, md5, md5, md5]}),
            StatusCode::BAD_REQUEST,
            "batch_too_large",
            None,
        ),
        (
            json!({"hashes": []}),
            StatusCode::BAD_REQUEST,
            "empty_batch",
            None,
        ),
        (
            json!({"hashes": [md5], "max_distance": 64}),
            StatusCode::BAD_REQUEST,
            "radius_too_large",
            None,
        ),
        (
            json!({"hashes": [md5], "colour": "blue"}),
            StatusCode::BAD_REQUEST,
            "malformed_json",
            None,
        ),
        (
            json!({"hash": [md5]}),
            StatusCode::BAD_REQUEST,
            "malformed_json",
            None,
        ),
        (
            json!([md5]),
            StatusCode::BAD_REQUEST,
            "malformed_json",
            None,
        ),
    ];
    for (body, status, want, index) in cases {
        let (s, v) = w
            .json("hoster", Method::POST, "/v1/check", body.clone())
            .await;
        assert_eq!((s, code(&v)), (status, want), "{body}: {v}");
        assert_eq!(
            v["error"]["index"].as_u64(),
            index.map(|i| i as u64),
            "{body}: {v}"
        );
        assert!(!v["error"]["message"].as_str().unwrap().is_empty());
    }
    let (s, v, _) = w
        .call(
            Some("hoster"),
            Method::POST,
            "/v1/check",
            Body::from("{\"hashes\": [}"),
            Some("application/json"),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "malformed_json"),
        "{v}"
    );
    let (s, v, _) = w
        .call(
            Some("hoster"),
            Method::POST,
            "/v1/check",
            Body::from("hashes=1"),
            Some("application/x-www-form-urlencoded"),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
    let (s, v, _) = w
        .call(
            Some("hoster"),
            Method::POST,
            "/v1/check",
            Body::from(vec![b' '; 3 << 20]),
            Some("application/json"),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        "{v}"
    );
    let (s, v) = w.get("admin", "/v1/lists/abc").await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_request"),
        "{v}"
    );
    let (s, v) = w.get("admin", "/v1/lists/999").await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{v}");
    let (s, v) = w.get("admin", "/v1/nothing").await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{v}");

    // Keys: malformed, unknown, wrong secret, revoked.
    let real = &w.keys["hoster"].0;
    let wrong_secret = format!("{}{}", &real[..real.len() - 4], "0000");
    let unknown = NewKey::generate().unwrap();
    for (token, want) in [
        ("not-a-key".to_string(), "unauthenticated"),
        (unknown.token().to_string(), "unknown_key"),
        (wrong_secret, "unknown_key"),
    ] {
        let (s, v, _) = w
            .call(
                Some(&token),
                Method::POST,
                "/v1/check",
                Body::from(json!({"hashes": [md5]}).to_string()),
                Some("application/json"),
            )
            .await;
        assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, want), "{token}");
    }
    let (s, _) = w
        .json(
            "admin",
            Method::DELETE,
            &format!("/v1/keys/{}", w.keys["hoster"].1),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = w.check("hoster", json!([md5])).await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "revoked_key"));

    // Duplicate list names and unknown categories.
    let (s, v) = w
        .json(
            "manager",
            Method::POST,
            "/v1/lists",
            json!({"name": "nl-police-csam", "category": "csam"}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "conflict"), "{v}");
    let (s, v) = w
        .json(
            "manager",
            Method::POST,
            "/v1/lists",
            json!({"name": "x", "category": "nope"}),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_request"),
        "{v}"
    );
}

#[tokio::test]
async fn rate_limits_stop_bulk_probing() {
    let w = world(Config {
        default_rate: 20,
        max_batch: 10,
        ..Config::default()
    })
    .await;
    let batch: Vec<Value> = (0..10)
        .map(|i| json!({"type": "md5", "value": format!("{i:032x}")}))
        .collect();
    let mut limited = None;
    for _ in 0..10 {
        let (s, v, h) = w
            .call(
                Some("hoster"),
                Method::POST,
                "/v1/check",
                Body::from(json!({"hashes": batch}).to_string()),
                Some("application/json"),
            )
            .await;
        if s == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(code(&v), "rate_limited");
            limited = Some(h);
            break;
        }
        assert_eq!(s, StatusCode::OK);
    }
    let h = limited.expect("10 batches of 10 at 20 hashes/s must be limited");
    assert!(h.get(header::RETRY_AFTER).is_some());
    // Another key is not affected.
    let (s, _) = w.check("analyst", json!(batch)).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn imports_over_the_api_reach_checks_and_exports_round_trip() {
    let w = world(Config::default()).await;
    let l = w.list;
    let new_md5 = "0123456789abcdef0123456789abcdef";
    let (s, v) = w
        .check("hoster", json!([{"type": "md5", "value": new_md5}]))
        .await;
    assert_eq!(
        (s, &v["results"][0]["matched"]),
        (StatusCode::OK, &json!(false))
    );

    // Bad lines: nothing changes, and the answer names them.
    let (s, v, _) = w
        .call(
            Some("manager"),
            Method::POST,
            &format!("/v1/lists/{l}/import"),
            Body::from(format!("md5,ref\n{new_md5},a\nxyz,b\n{new_md5}0,c\n")),
            Some("text/csv"),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_file"),
        "{v}"
    );
    let lines: Vec<u64> = v["error"]["details"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [3, 4]);
    assert_eq!(w.store.list(l).await.unwrap().version, 1);

    let (s, v, _) = w
        .call(
            Some("manager"),
            Method::POST,
            &format!("/v1/lists/{l}/import?note=batch-7"),
            Body::from(format!("md5,ref\n{new_md5},a\n{new_md5},a\n")),
            Some("text/csv"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (
            v["added"].as_u64(),
            v["distinct"].as_u64(),
            v["list_version"].as_i64()
        ),
        (Some(1), Some(1), Some(2))
    );
    // The live index follows the store.
    w.state.live.refresh(w.store.as_ref()).await.unwrap();
    let (_, v) = w
        .check("hoster", json!([{"type": "md5", "value": new_md5}]))
        .await;
    assert_eq!(v["results"][0]["matches"][0]["list_version"], 2);

    let (s, v, h) = w
        .call(
            Some("manager"),
            Method::GET,
            &format!("/v1/lists/{l}/export?version=1"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = v.as_str().unwrap().to_string();
    assert!(
        csv.starts_with("type,hash,quality,ref,added_version\n"),
        "{csv}"
    );
    assert!(csv.contains(BRIDGE_PDQ) && !csv.contains(new_md5), "{csv}");
    let (_, v, _) = w
        .call(
            Some("manager"),
            Method::GET,
            &format!("/v1/lists/{l}/export"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(v.as_str().unwrap().lines().count(), 4);

    let (s, v) = w
        .get(
            "manager",
            &format!("/v1/lists/{l}/history?type=md5&hash={new_md5}"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["presence"],
        json!([{"added_version": 2, "removed_version": null}])
    );
    let (_, v) = w.get("analyst", &format!("/v1/lists/{l}/versions")).await;
    assert_eq!(v[1]["note"], "batch-7");
    assert_eq!(v[1]["actor"], w.keys["manager"].1);
}

/// The endpoints that change entries, alerts and disputes, one role at a time; a hoster never
/// reads or enumerates lists, allowlists or entries, and its disputes never name an entry.
#[tokio::test]
async fn trust_endpoints_keep_hosters_away_from_entries() {
    let w = world(Config::default()).await;
    let l = w.list;
    let (ok, created, no) = (StatusCode::OK, StatusCode::CREATED, StatusCode::FORBIDDEN);
    let md5 = Key::parse_hex(HashKind::Md5, BRIDGE_MD5).unwrap();
    let e = w.store.find_entries(l, &md5).await.unwrap()[0].id;
    let orgs = w.store.orgs().await.unwrap();
    let hoster_org = orgs.iter().find(|o| o.name == "Hoster").unwrap().id;
    let md5_of = |hex: &str| json!({"type": "md5", "value": hex});

    // The owner's allowlist, with an entry of its own, and the other organisation's.
    let (s, v) = w
        .json(
            "manager",
            Method::POST,
            "/v1/lists",
            json!({"name": "police-allow", "category": "csam", "purpose": "allow"}),
        )
        .await;
    assert_eq!((s, &v["purpose"]), (created, &json!("allow")), "{v}");
    let allow = v["id"].as_i64().unwrap();
    let benign = "ab".repeat(16);
    let (s, v) = w
        .import("manager", allow, "?type=md5", format!("{benign}\n"))
        .await;
    assert_eq!((s, v["added"].as_u64()), (ok, Some(1)), "{v}");
    let benign_key = Key::parse_hex(HashKind::Md5, &benign).unwrap();
    let allowed = w.store.find_entries(allow, &benign_key).await.unwrap()[0].id;
    let (s, v) = w
        .json(
            "other_manager",
            Method::POST,
            "/v1/lists",
            json!({"name": "hotline-allow", "category": "csam", "purpose": "allow"}),
        )
        .await;
    assert_eq!(s, created, "{v}");
    let other_allow = v["id"].as_i64().unwrap();

    // A hoster reads and changes nothing of any list, allowlists included, and cannot even
    // tell whether a list exists (999 does not).
    let status_body = json!({"status": "suspended", "reason": "probe"});
    let allow_body = json!({"allowlist_id": allow, "reason": "probe"});
    for (list, entry) in [(l, e), (allow, allowed), (999, 1)] {
        let calls = [
            (Method::GET, format!("/v1/lists/{list}"), None),
            (Method::GET, format!("/v1/lists/{list}/versions"), None),
            (Method::GET, format!("/v1/lists/{list}/export"), None),
            (
                Method::GET,
                format!("/v1/lists/{list}/entries?status=active"),
                None,
            ),
            (
                Method::GET,
                format!("/v1/lists/{list}/entries?type=md5&value={benign}"),
                None,
            ),
            (
                Method::GET,
                format!("/v1/lists/{list}/entries/{entry}"),
                None,
            ),
            (
                Method::POST,
                format!("/v1/lists/{list}/entries/{entry}/status"),
                Some(&status_body),
            ),
            (
                Method::POST,
                format!("/v1/lists/{list}/entries/{entry}/allowlist"),
                Some(&allow_body),
            ),
            (Method::GET, format!("/v1/lists/{list}/conflicts"), None),
        ];
        for (method, path, body) in calls {
            let (s, v) = w.send("hoster", method.clone(), &path, body).await;
            assert_eq!(
                (s, code(&v)),
                (no, "forbidden"),
                "hoster {method} {path}: {v}"
            );
        }
    }
    // Nor enumerate lists or alerts, nor acknowledge one.
    for (method, path) in [
        (Method::GET, "/v1/lists"),
        (Method::GET, "/v1/alerts"),
        (Method::GET, "/v1/alerts?all=true"),
        (Method::POST, "/v1/alerts/1/ack"),
        (Method::GET, "/v1/outbox"),
    ] {
        let (s, v) = w.send("hoster", method.clone(), path, None).await;
        assert_eq!(
            (s, code(&v)),
            (no, "forbidden"),
            "hoster {method} {path}: {v}"
        );
    }

    // Another organisation's list manager changes nothing on a list it does not own, not even
    // with its own allowlist; the owner cannot use the other organisation's allowlist.
    for (who, path, body) in [
        (
            "other_manager",
            format!("/v1/lists/{l}/entries/{e}/status"),
            status_body.clone(),
        ),
        (
            "other_manager",
            format!("/v1/lists/{l}/entries/{e}/allowlist"),
            json!({"allowlist_id": other_allow, "reason": "probe"}),
        ),
        (
            "other_manager",
            format!("/v1/lists/{l}/entries/{e}/allowlist"),
            allow_body.clone(),
        ),
        (
            "manager",
            format!("/v1/lists/{l}/entries/{e}/allowlist"),
            json!({"allowlist_id": other_allow, "reason": "probe"}),
        ),
        (
            "analyst",
            format!("/v1/lists/{l}/entries/{e}/status"),
            status_body.clone(),
        ),
    ] {
        let (s, v) = w.json(who, Method::POST, &path, body).await;
        assert_eq!((s, code(&v)), (no, "forbidden"), "{who} POST {path}: {v}");
    }
    let entry = w.store.entry(e).await.unwrap();
    assert_eq!(entry.status, lists::trust::EntryStatus::Active);
    assert!(w.store.find_entries(allow, &md5).await.unwrap().is_empty());

    // Disputes. A hash the hoster never matched (and that is on no list): not found.
    let dispute =
        |hex: &str| json!({"type": "md5", "value": hex, "reason": "a stock photo of a bridge"});
    let (s, v) = w
        .json(
            "hoster",
            Method::POST,
            "/v1/disputes",
            dispute(&"cd".repeat(16)),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{v}");
    // A listed hash this organisation never checked: not found either, so a dispute tells
    // nothing a rate-limited, audited check would not.
    let (s, v) = w
        .json("hoster", Method::POST, "/v1/disputes", dispute(BRIDGE_MD5))
        .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{v}");
    // Right after a check that matched (its match record is written a moment later; the
    // dispute waits for it) the hoster may dispute it. The answer names the list, as the
    // check did, never the entry.
    let (s, v) = w.check("hoster", json!([md5_of(BRIDGE_MD5)])).await;
    assert_eq!((s, &v["results"][0]["matched"]), (ok, &json!(true)), "{v}");
    let (s, v) = w
        .json("hoster", Method::POST, "/v1/disputes", dispute(BRIDGE_MD5))
        .await;
    assert_eq!(s, created, "{v}");
    let d = &v.as_array().unwrap()[..];
    assert_eq!(d.len(), 1, "{v}");
    assert_eq!(
        (&d[0]["list"], &d[0]["list_id"], &d[0]["status"]),
        (&json!("nl-police-csam"), &json!(l), &json!("open")),
        "{v}"
    );
    assert_eq!(d[0]["hash"], md5_of(BRIDGE_MD5));
    assert!(
        d[0].get("entry_id").is_none() && d[0].get("org_id").is_none(),
        "{v}"
    );
    let dispute_id = d[0]["id"].as_i64().unwrap();
    let (s, v) = w
        .json("hoster", Method::POST, "/v1/disputes", dispute(BRIDGE_MD5))
        .await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "conflict"), "{v}");
    let (s, v) = w
        .json(
            "hoster",
            Method::POST,
            "/v1/disputes",
            json!({"type": "md5", "value": BRIDGE_MD5, "reason": " "}),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_request"),
        "{v}"
    );

    // Who sees it: the hoster (without the entry), the owner's manager and the admin (with it).
    let (s, v) = w.get("hoster", "/v1/disputes").await;
    assert_eq!((s, v.as_array().unwrap().len()), (ok, 1), "{v}");
    assert!(v[0].get("entry_id").is_none(), "{v}");
    for who in ["manager", "admin"] {
        let (s, v) = w.get(who, "/v1/disputes").await;
        assert_eq!((s, v.as_array().unwrap().len()), (ok, 1), "{who}: {v}");
        assert_eq!(
            (&v[0]["entry_id"], &v[0]["org_id"]),
            (&json!(e), &json!(hoster_org)),
            "{who}: {v}"
        );
    }
    for who in ["other_manager", "analyst"] {
        let (s, v) = w.get(who, "/v1/disputes").await;
        assert_eq!((s, v), (ok, json!([])), "{who}");
    }
    let (_, v) = w.get("manager", "/v1/disputes?status=rejected").await;
    assert_eq!(v, json!([]));
    // The entry's detail shows the dispute.
    let (s, v) = w
        .get("manager", &format!("/v1/lists/{l}/entries/{e}"))
        .await;
    assert_eq!(s, ok, "{v}");
    assert_eq!(
        (&v["entry"]["status"], &v["entry"]["key"]),
        (&json!("active"), &md5_of(BRIDGE_MD5))
    );
    assert_eq!(v["disputes"][0]["org_id"], hoster_org, "{v}");

    // The dispute raised an alert for the owner's managers (and the admin) only.
    let (s, v) = w.get("manager", "/v1/alerts").await;
    assert_eq!(s, ok, "{v}");
    let alerts = v.as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{v}");
    assert_eq!(
        (
            &alerts[0]["kind"],
            &alerts[0]["list_id"],
            &alerts[0]["entry_id"]
        ),
        (&json!("dispute"), &json!(l), &json!(e))
    );
    let alert = alerts[0]["id"].as_i64().unwrap();
    let (_, v) = w.get("admin", "/v1/alerts").await;
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    let (_, v) = w.get("other_manager", "/v1/alerts").await;
    assert_eq!(v, json!([]));
    let ack = format!("/v1/alerts/{alert}/ack");
    let (s, v) = w.send("other_manager", Method::POST, &ack, None).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{v}");
    let (s, v) = w.send("manager", Method::POST, &ack, None).await;
    assert_eq!(s, ok, "{v}");
    assert!(v["acked_at"].is_number(), "{v}");
    let (_, v) = w.get("manager", "/v1/alerts").await;
    assert_eq!(v, json!([]));
    let (_, v) = w.get("manager", "/v1/alerts?all=true").await;
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");

    // Resolving: only the owner's managers (and admins).
    let resolve = format!("/v1/disputes/{dispute_id}/resolve");
    let reject = json!({"outcome": "reject", "note": "it is on the list rightly"});
    let (s, v) = w
        .json("hoster", Method::POST, &resolve, reject.clone())
        .await;
    assert_eq!((s, code(&v)), (no, "forbidden"), "{v}");
    for who in ["other_manager", "analyst"] {
        let (s, v) = w.json(who, Method::POST, &resolve, reject.clone()).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::NOT_FOUND, "not_found"),
            "{who}: {v}"
        );
    }
    let (s, v) = w
        .json(
            "manager",
            Method::POST,
            &resolve,
            json!({"outcome": "allowlist", "note": "x"}),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_request"),
        "{v}"
    );
    let (s, v) = w
        .json("manager", Method::POST, &resolve, reject.clone())
        .await;
    assert_eq!(s, ok, "{v}");
    assert_eq!(
        (&v["status"], &v["entry_id"]),
        (&json!("rejected"), &json!(e)),
        "{v}"
    );
    let (s, v) = w.json("manager", Method::POST, &resolve, reject).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "conflict"), "{v}");
    let (_, v) = w.get("hoster", "/v1/disputes?status=rejected").await;
    assert_eq!(v[0]["resolution"], "it is on the list rightly", "{v}");

    // Status changes by the owner's manager: a reason is required, `held` is only for imports.
    w.wait_for_hits(e, 1).await;
    let status = format!("/v1/lists/{l}/entries/{e}/status");
    for (body, want) in [
        (
            json!({"status": "suspended", "reason": ""}),
            "invalid_request",
        ),
        (
            json!({"status": "held", "reason": "review"}),
            "invalid_request",
        ),
        (
            json!({"status": "gone", "reason": "review"}),
            "invalid_request",
        ),
        (json!({"status": "suspended"}), "malformed_json"),
    ] {
        let (s, v) = w.json("manager", Method::POST, &status, body.clone()).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, want),
            "{body}: {v}"
        );
    }
    let suspend = json!({"status": "suspended", "reason": "odd matches"});
    let (s, v) = w
        .json("manager", Method::POST, &status, suspend.clone())
        .await;
    assert_eq!(s, ok, "{v}");
    assert_eq!(
        (&v["from"], &v["to"], &v["entry_id"]),
        (&json!("active"), &json!("suspended"), &json!(e))
    );
    let (s, v) = w.json("manager", Method::POST, &status, suspend).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "conflict"), "{v}");
    w.state.live.refresh(w.store.as_ref()).await.unwrap();
    let (_, v) = w.check("hoster", json!([md5_of(BRIDGE_MD5)])).await;
    assert_eq!(
        v["results"][0]["matched"], false,
        "suspended entries are not matched: {v}"
    );
    let (s, v) = w
        .json(
            "admin",
            Method::POST,
            &status,
            json!({"status": "active", "reason": "checked"}),
        )
        .await;
    assert_eq!((s, &v["to"]), (ok, &json!("active")), "{v}");
    let (s, v) = w
        .get("manager", &format!("/v1/lists/{l}/entries/{e}"))
        .await;
    assert_eq!(s, ok);
    let moves: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ev| ev["to"].as_str().unwrap())
        .collect();
    assert_eq!(moves, ["suspended", "active"], "{v}");
    assert!(v["matches"]["hits"].as_i64().unwrap() >= 1, "{v}");

    // Allowlisting: only onto an allowlist; the entry is retracted, the hash allowlisted.
    let to_allow = format!("/v1/lists/{l}/entries/{e}/allowlist");
    let (s, v) = w
        .json(
            "manager",
            Method::POST,
            &to_allow,
            json!({"allowlist_id": l, "reason": "stock photo"}),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_request"),
        "{v}"
    );
    let (s, v) = w
        .json(
            "manager",
            Method::POST,
            &to_allow,
            json!({"allowlist_id": allow, "reason": "stock photo"}),
        )
        .await;
    assert_eq!((s, &v["to"]), (ok, &json!("retracted")), "{v}");
    assert_eq!(
        w.store.entry(e).await.unwrap().status,
        lists::trust::EntryStatus::Retracted
    );
    let allow_md5 = w.store.find_entries(allow, &md5).await.unwrap()[0].id;
    let (s, v) = w
        .get(
            "manager",
            &format!("/v1/lists/{l}/entries?status=retracted"),
        )
        .await;
    assert_eq!(
        (s, v.as_array().unwrap().len(), &v[0]["id"]),
        (ok, 1, &json!(e)),
        "{v}"
    );

    // The hoster is told, with its own hash, never the entry; the analyst never matched it.
    let (s, v) = w.get("hoster", "/v1/retractions").await;
    assert_eq!((s, v.as_array().unwrap().len()), (ok, 1), "{v}");
    assert_eq!(
        (&v[0]["list"], &v[0]["queries"]),
        (&json!("nl-police-csam"), &json!([md5_of(BRIDGE_MD5)])),
        "{v}"
    );
    assert!(v[0].get("entry_id").is_none(), "{v}");
    let (_, v) = w.get("analyst", "/v1/retractions").await;
    assert_eq!(v, json!([]));
    // Importing the retracted hash again is skipped.
    let (s, v) = w
        .import("manager", l, "?type=md5", format!("{BRIDGE_MD5}\n"))
        .await;
    assert_eq!(
        (s, v["added"].as_u64(), v["retracted_skipped"].as_u64()),
        (ok, Some(0), Some(1)),
        "{v}"
    );

    // The allowlist overrides another of the owner's lists: that match is a conflict for its
    // managers, and the checker hears nothing.
    let (s, v) = w
        .json(
            "manager",
            Method::POST,
            "/v1/lists",
            json!({"name": "police-2", "category": "csam"}),
        )
        .await;
    assert_eq!((s, &v["purpose"]), (created, &json!("block")), "{v}");
    let l2 = v["id"].as_i64().unwrap();
    let (s, v) = w
        .import("manager", l2, "?type=md5", format!("{BRIDGE_MD5}\n"))
        .await;
    assert_eq!((s, v["added"].as_u64()), (ok, Some(1)), "{v}");
    let e2 = w.store.find_entries(l2, &md5).await.unwrap()[0].id;
    w.state.live.refresh(w.store.as_ref()).await.unwrap();
    let (_, v) = w.check("hoster", json!([md5_of(BRIDGE_MD5)])).await;
    assert_eq!(v["results"][0], json!({"matched": false}));
    w.wait_for_hits(e2, 1).await;
    let (s, v) = w.get("manager", &format!("/v1/lists/{l2}/conflicts")).await;
    assert_eq!((s, v.as_array().unwrap().len()), (ok, 1), "{v}");
    assert_eq!(
        (&v[0]["entry_id"], &v[0]["allowed_by"], &v[0]["org_id"]),
        (&json!(e2), &json!(allow_md5), &json!(hoster_org)),
        "{v}"
    );
    let (s, _) = w
        .get("other_manager", &format!("/v1/lists/{l2}/conflicts"))
        .await;
    assert_eq!(s, no);
    // Disputing the hash again finds nothing to dispute: the match the hoster was told about
    // is retracted, and the overridden one was never reported to it.
    let (s, v) = w
        .json("hoster", Method::POST, "/v1/disputes", dispute(BRIDGE_MD5))
        .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{v}");

    // Low-quality PDQ rows: refused by default, held for review on request.
    let weak = format!("pdq,quality\n{},10\n", "a5".repeat(32));
    let (s, v) = w.import("manager", l, "", weak.clone()).await;
    assert_eq!(
        (s, v["added"].as_u64(), v["source"]["refused"].as_u64()),
        (ok, Some(0), Some(1)),
        "{v}"
    );
    let (s, v) = w.import("manager", l, "?hold_low_quality=true", weak).await;
    assert_eq!(
        (
            s,
            v["added"].as_u64(),
            v["held"].as_u64(),
            v["source"]["held"].as_u64()
        ),
        (ok, Some(1), Some(1), Some(1)),
        "{v}"
    );
    let (s, v) = w
        .get("manager", &format!("/v1/lists/{l}/entries?status=held"))
        .await;
    assert_eq!((s, v.as_array().unwrap().len()), (ok, 1), "{v}");
    assert!(v[0]["hold_reason"].is_string(), "{v}");
    let held = v[0]["id"].as_i64().unwrap();
    let (s, v) = w
        .json(
            "manager",
            Method::POST,
            &format!("/v1/lists/{l}/entries/{held}/status"),
            json!({"status": "active", "reason": "looked at it"}),
        )
        .await;
    assert_eq!(
        (s, &v["from"], &v["to"]),
        (ok, &json!("held"), &json!("active")),
        "{v}"
    );
    // An entry of another list is not found under this one.
    let (s, v) = w
        .get("manager", &format!("/v1/lists/{l}/entries/{e2}"))
        .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{v}");
    let (s, v) = w.get("manager", &format!("/v1/lists/{l}/entries")).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_request"),
        "{v}"
    );
}
