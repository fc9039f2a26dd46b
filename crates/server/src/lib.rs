//! Schoon's HTTP API, on axum.
//!
//! | route | who | what |
//! |---|---|---|
//! | `POST /v1/check` | every role | a batch of hashes (any mix of md5, sha1, sha256, pdq) → per hash: matched lists, category, version, distance |
//! | `POST /v1/check/image` | every role | image bytes, hashed in memory and discarded → the same answer for its four hashes |
//! | `POST /v1/check/removals` | every role | a count of matched items removed on the caller's own initiative (for the monitor) |
//! | `GET/POST /v1/lists`, `GET /v1/lists/{id}`, `.../versions` | admin, analyst, list_manager (own) | list metadata |
//! | `POST /v1/lists/{id}/import`, `GET .../export`, `GET .../history` | admin, list_manager (own) | entries in and out |
//! | `GET /v1/categories` | admin, analyst, list_manager | the list categories |
//! | `/v1/orgs`, `/v1/keys`, `/v1/audit`, `POST /v1/categories`, `/v1/outbox` | admin | accounts, the audit log, new categories, queued e-mail |
//! | `/v1/lists/{id}/entries...`, `/v1/lists/{id}/conflicts`, `/v1/alerts` | admin, list_manager (own) | provenance, status, allowlisting, alerts ([`trust_api`]) |
//! | `/v1/disputes`, `/v1/retractions` | every role (its own) | dispute a match; retraction notices |
//! | `/v1/monitor/...` | admin, analyst | figures, overdue cases, the non-cooperation list ([`monitor_ui`]) |
//! | `/v1/portal/...` | hoster | its notices and its listing ([`portal`], [`monitor_ui`]) |
//! | `/transparency...` | anyone | the public figures, charts, list, downloads and report ([`transparency`]) |
//! | `/healthz`, `/openapi.json` | anyone | liveness, the API description |
//! | `/metrics` | admin (or anyone, if configured) | Prometheus text |
//!
//! The handlers are thin: they parse, authorise ([`lists::auth`]), call the domain and
//! render. Checks never touch the database: they read the current [`lists::live::LiveIndex`]
//! snapshot. Errors have stable codes ([`error::Code`]).

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use lists::Store;
use lists::live::LiveIndex;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

pub mod audit;
pub mod auth;
mod check;
mod control;
pub mod error;
mod extract;
mod lists_api;
pub mod monitor_ui;
mod notices_api;
mod ntd_api;
pub mod openapi;
pub mod outbox;
pub mod pages;
pub mod portal;
pub mod transparency;
mod trust_api;

use error::ApiError;

/// What an operator can tune. [`Config::default`] is what `schoon serve` starts with.
#[derive(Clone, Debug)]
pub struct Config {
    /// Most hashes in one `/v1/check` request.
    pub max_batch: usize,
    /// PDQ radius when a request names none.
    pub default_radius: u32,
    /// Largest PDQ radius a request may ask for.
    pub max_radius: u32,
    /// Hashes per second per key, unless the key has its own rate; 0 turns limits off.
    pub default_rate: u32,
    /// Largest image accepted by `/v1/check/image`, bytes.
    pub max_image_bytes: usize,
    /// Largest import body, bytes.
    pub max_import_bytes: usize,
    /// How long a key lookup is cached (revocations through another replica take this long).
    pub key_cache_ttl: Duration,
    /// Also write the non-matching hashes of every check to the audit log.
    pub audit_all_hashes: bool,
    /// Serve `/metrics` without a key.
    pub metrics_public: bool,
    /// When an entry's matches are a flood (see [`lists::curate::FloodRule`]).
    pub flood: lists::curate::FloodRule,
    /// Where alerts go, and the public base URL for links in e-mails.
    pub notify: lists::curate::Notify,
    /// Reports one client address may file through the public form per hour.
    pub public_reports_per_hour: u32,
    /// Mark session cookies `Secure` (serve over HTTPS, or behind a TLS proxy).
    pub secure_cookies: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_batch: 1000,
            default_radius: lists::check::DEFAULT_RADIUS,
            max_radius: 40,
            default_rate: 2000,
            max_image_bytes: 64 << 20,
            max_import_bytes: 4 << 30,
            key_cache_ttl: Duration::from_secs(5),
            audit_all_hashes: false,
            metrics_public: false,
            flood: lists::curate::FloodRule::default(),
            notify: lists::curate::Notify::default(),
            public_reports_per_hour: 20,
            secure_cookies: false,
        }
    }
}

/// The notice-and-takedown side of the state.
#[derive(Debug, Clone)]
pub struct NtdParts {
    /// The case store (the same database as the lists).
    pub cases: Arc<dyn ntd::CaseStore>,
    /// Attribution.
    pub engine: Arc<ntd::engine::Engine>,
    /// Wakes the attribution worker.
    pub wake: Arc<tokio::sync::Notify>,
    /// Notices, re-checks, hoster answers and templates (the same database again).
    pub notices: Arc<dyn ntd::takedown::NoticeStore>,
    /// The clock of notice and takedown (tests move it).
    pub clock: Arc<dyn lists::Clock>,
    /// The notice timing rules (for deadlines shown to hosters).
    pub policy: ntd::takedown::Policy,
    /// Wakes the notice scheduler (a hoster said "removed": re-check now).
    pub notify_wake: Arc<tokio::sync::Notify>,
    /// The monitor's store (statistics, the non-cooperation list).
    pub monitor: Arc<dyn monitor::MonitorStore>,
    /// The non-cooperation rules.
    pub rules: monitor::Rules,
    /// The hotline's name, in e-mails and the report.
    pub hotline_name: String,
    /// The public base URL of the hoster portal, for links in e-mails.
    pub portal_base: String,
}

/// Shared by every handler.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

/// What [`AppState`] holds.
#[derive(Debug)]
pub struct Inner {
    /// The database.
    pub store: Arc<dyn Store>,
    /// The current hash snapshot.
    pub live: Arc<LiveIndex>,
    /// Settings.
    pub config: Config,
    /// API keys.
    pub keys: auth::KeyCache,
    /// Per-key rate limits.
    pub limits: auth::RateLimits,
    /// Audit records go here.
    pub audit: audit::AuditSink,
    /// Prometheus text.
    pub metrics: PrometheusHandle,
    /// Images decoded at once, at most (decoding is memory- and CPU-heavy).
    pub image_permits: Semaphore,
    /// Reports, cases, the hosters register, attribution data.
    pub cases: Arc<dyn ntd::CaseStore>,
    /// Attribution (the worker and on-demand lookups).
    pub engine: Arc<ntd::engine::Engine>,
    /// Woken when new cases wait for attribution.
    pub attribution_wake: Arc<tokio::sync::Notify>,
    /// Per-client limits of the public report form.
    pub public_limits: pages::PublicLimits,
    /// Notices, re-checks, hoster answers and templates.
    pub notices: Arc<dyn ntd::takedown::NoticeStore>,
    /// The clock of notice and takedown.
    pub clock: Arc<dyn lists::Clock>,
    /// The notice timing rules.
    pub policy: ntd::takedown::Policy,
    /// Wakes the notice scheduler.
    pub notify_wake: Arc<tokio::sync::Notify>,
    /// The monitor's store.
    pub monitor: Arc<dyn monitor::MonitorStore>,
    /// Computed figures, reused for a minute.
    pub monitor_cache: transparency::Cache,
    /// The non-cooperation rules.
    pub rules: monitor::Rules,
    /// The hotline's name.
    pub hotline_name: String,
    /// The public base URL of the hoster portal.
    pub portal_base: String,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// The process-wide Prometheus recorder (installed on first use).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
                    0.25, 0.5, 1.0, 2.5, 10.0,
                ])
                .expect("static buckets are valid")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed");
            }
            handle
        })
        .clone()
}

impl AppState {
    /// Wires the state; starts the audit writer on the current runtime.
    pub fn new(
        store: Arc<dyn Store>,
        ntd: NtdParts,
        live: Arc<LiveIndex>,
        config: Config,
    ) -> (AppState, audit::AuditWriter) {
        let (sink, writer) = audit::AuditSink::start(Arc::clone(&store), 100_000);
        let permits = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
        let state = AppState(Arc::new(Inner {
            store,
            live,
            keys: auth::KeyCache::new(config.key_cache_ttl),
            limits: auth::RateLimits::default(),
            audit: sink,
            metrics: metrics_handle(),
            image_permits: Semaphore::new(permits),
            cases: ntd.cases,
            engine: ntd.engine,
            attribution_wake: ntd.wake,
            notices: ntd.notices,
            clock: ntd.clock,
            policy: ntd.policy,
            notify_wake: ntd.notify_wake,
            monitor: ntd.monitor,
            monitor_cache: transparency::Cache::default(),
            rules: ntd.rules,
            hotline_name: ntd.hotline_name,
            portal_base: ntd.portal_base,
            public_limits: pages::PublicLimits::new(config.public_reports_per_hour),
            config,
        }));
        (state, writer)
    }
}

impl AppState {
    /// Queues an audit record for the caller's action.
    pub(crate) async fn record_audit(
        &self,
        auth: &auth::Auth,
        action: &str,
        count: i64,
        matches: i64,
        detail: serde_json::Value,
    ) {
        self.record_audit_hits(auth, action, count, matches, detail, Vec::new())
            .await;
    }

    /// Queues an audit record with the entry matches it reports.
    pub(crate) async fn record_audit_hits(
        &self,
        auth: &auth::Auth,
        action: &str,
        count: i64,
        matches: i64,
        detail: serde_json::Value,
        hits: Vec<lists::trust::EntryHit>,
    ) {
        self.0
            .audit
            .record_with_hits(
                lists::AuditRecord {
                    at: lists::Millis::now(),
                    key_id: auth.principal.key_id.clone(),
                    org_id: auth.principal.org_id,
                    action: action.to_string(),
                    count,
                    matches,
                    detail: detail.to_string(),
                },
                hits,
            )
            .await;
    }
}

/// All routes.
pub fn router(state: AppState) -> Router {
    let image_limit = state.config.max_image_bytes;
    let import_limit = state.config.max_import_bytes;
    let v1 = Router::new()
        .route("/check", get(check::info).post(check::check))
        .route("/check/removals", post(check::removals))
        .route(
            "/check/image",
            post(check::check_image).layer(DefaultBodyLimit::max(image_limit)),
        )
        .route(
            "/lists",
            get(lists_api::list_lists).post(lists_api::create_list),
        )
        .route("/lists/{id}", get(lists_api::get_list))
        .route("/lists/{id}/versions", get(lists_api::versions))
        .route(
            "/lists/{id}/import",
            post(lists_api::import).layer(DefaultBodyLimit::max(import_limit)),
        )
        .route("/lists/{id}/export", get(lists_api::export))
        .route("/lists/{id}/history", get(lists_api::history))
        .route("/lists/{id}/entries", get(trust_api::entries))
        .route("/lists/{id}/entries/{entry}", get(trust_api::entry))
        .route(
            "/lists/{id}/entries/{entry}/status",
            post(trust_api::set_status),
        )
        .route(
            "/lists/{id}/entries/{entry}/allowlist",
            post(trust_api::allowlist),
        )
        .route("/lists/{id}/conflicts", get(trust_api::conflicts))
        .route("/alerts", get(trust_api::alerts))
        .route("/alerts/{id}/ack", post(trust_api::ack_alert))
        .route(
            "/disputes",
            get(trust_api::disputes).post(trust_api::open_dispute),
        )
        .route("/disputes/{id}/resolve", post(trust_api::resolve_dispute))
        .route("/retractions", get(trust_api::retractions))
        .route(
            "/reports",
            post(ntd_api::submit).layer(DefaultBodyLimit::max(16 << 20)),
        )
        .route("/reports/{reference}", get(ntd_api::report_status))
        .route("/cases", get(ntd_api::list_cases))
        .route("/cases/{id}", get(ntd_api::get_case))
        .route("/cases/{id}/actions", post(ntd_api::act))
        .route("/cases/{id}/attribute", post(ntd_api::attribute))
        .route(
            "/hosters",
            get(ntd_api::list_hosters).post(ntd_api::create_hoster),
        )
        .route(
            "/hosters/{id}",
            get(ntd_api::get_hoster).put(ntd_api::update_hoster),
        )
        .route("/attribution", get(ntd_api::attribution))
        .route("/notices", get(notices_api::list))
        .route("/notices/{reference}", get(notices_api::get))
        .route("/cases/{id}/checks", get(notices_api::checks))
        .route("/templates", get(notices_api::templates))
        .route(
            "/templates/{kind}",
            axum::routing::put(notices_api::save_template),
        )
        .route("/templates/{kind}/preview", post(notices_api::preview))
        .route("/portal/cases", get(portal::api_cases))
        .route("/portal/cases/{id}/response", post(portal::api_respond))
        .route(
            "/portal/explanation",
            get(monitor_ui::api_portal_listing).post(monitor_ui::api_portal_explain),
        )
        .route("/monitor/figures", get(monitor_ui::api_figures))
        .route("/monitor/overdue", get(monitor_ui::api_overdue))
        .route(
            "/monitor/runs",
            get(monitor_ui::api_runs).post(monitor_ui::api_run),
        )
        .route("/monitor/runs/{id}", get(monitor_ui::api_get_run))
        .route("/monitor/runs/{id}/decision", post(monitor_ui::api_decide))
        .route("/monitor/listings", get(monitor_ui::api_listings))
        .route("/monitor/explanations", get(monitor_ui::api_explanations))
        .route(
            "/monitor/explanations/{id}/review",
            post(monitor_ui::api_review),
        )
        .route("/monitor/events", get(monitor_ui::api_events))
        .route("/outbox", get(control::outbox))
        .route("/orgs/{id}", axum::routing::patch(control::update_org))
        .route("/orgs", get(control::list_orgs).post(control::create_org))
        .route("/keys", get(control::list_keys).post(control::create_key))
        .route("/keys/{id}", delete(control::revoke_key))
        .route("/audit", get(control::audit))
        .route(
            "/categories",
            get(control::list_categories).post(control::create_category),
        )
        .layer(DefaultBodyLimit::max(2 << 20));
    Router::new()
        .nest("/v1", v1)
        .route("/healthz", get(control::healthz))
        .route("/metrics", get(control::metrics))
        .route("/openapi.json", get(openapi::serve))
        .merge(pages::routes())
        .merge(portal::routes())
        .merge(transparency::routes())
        .merge(monitor_ui::routes())
        .fallback(|| async { ApiError::not_found("no such endpoint; see /openapi.json") })
        .layer(middleware::from_fn(track))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                ApiError::internal("a handler panicked").into_response()
            },
        ))
        .with_state(state)
}

/// Counts requests and their latency per route and status.
async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().to_string();
    let started = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    let secs = started.elapsed().as_secs_f64();
    metrics::histogram!("schoon_http_request_duration_seconds", "route" => route.clone(), "method" => method.clone(), "status" => status.clone()).record(secs);
    metrics::counter!("schoon_http_requests_total", "route" => route, "method" => method, "status" => status).increment(1);
    res
}

/// Serves until `shutdown` resolves, then drains connections.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Publishes the index's size as gauges.
pub fn record_index_gauges(live: &LiveIndex) {
    let snap = live.snapshot();
    metrics::gauge!("schoon_index_seq").set(snap.seq as f64);
    for kind in index::HashKind::ALL {
        metrics::gauge!("schoon_index_entries", "type" => kind.name())
            .set(snap.index.count(kind) as f64);
    }
    metrics::gauge!("schoon_index_memory_bytes").set(snap.index.memory_bytes() as f64);
}

pub(crate) fn unavailable() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        error::Code::Unavailable,
        "the server is busy; try again",
    )
}
