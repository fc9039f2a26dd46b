//! The web pages: the public report form, and the analysts' queue, case pages and hosters
//! register.
//!
//! Pages are rendered on the server with askama (templates under `templates/`, checked at
//! compile time) and work without JavaScript: every action is a plain HTML form that posts and
//! redirects back (post/redirect/get), so reloading never repeats an action.
//!
//! * `GET/POST /report`: anyone, no account. Rate limited per client address
//!   ([`Config::public_reports_per_hour`](crate::Config)); the reporter gets a reference
//!   number. The form can only create reports: it shows nothing about cases.
//! * `/ui/...`: analysts and admins, signed in with their API key at `/ui/login`. The session
//!   is a cookie `key id . expiry . HMAC-SHA256(key's stored secret hash, id . expiry)`: it
//!   holds no secret, works on every replica without a session table, and dies with the key
//!   when the key is revoked. Cookies are `HttpOnly` and `SameSite=Strict`, and every POST
//!   must come from this site (`Origin` / `Sec-Fetch-Site`), which stops cross-site form posts.
//!
//! Reported URLs are shown as text, never as links: Schoon never fetches or shows the material,
//! and an analyst must not open it by a stray click.

use crate::AppState;
use crate::error::ApiError;
use crate::ntd_api::{CaseDetail, CaseQuery, load_case};
use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::Router;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use governor::{DefaultKeyedRateLimiter, Quota};
use hmac::{KeyInit, Mac};
use lists::{Action as Can, Millis, Principal};
use ntd::case::{Action, NewReport, OutcomeStatus, Submitter};
use ntd::register::{Channel, HosterFields};
use ntd::{CaseState, Source};
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;

/// The session cookie's name.
const COOKIE: &str = "schoon_session";
/// How long a sign-in lasts.
const SESSION_MS: i64 = 12 * 3600 * 1000;

/// The page routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/static/schoon.css", get(css))
        .route("/report", get(report_form).post(report_submit))
        .route("/ui", get(dashboard))
        .route("/ui/login", get(login_form).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/queue", get(queue))
        .route("/ui/cases", get(all_cases))
        .route("/ui/cases/{id}", get(case_page))
        .route("/ui/cases/{id}/action", post(case_action))
        .route("/ui/hosters", get(hosters_page).post(hoster_create))
        .route("/ui/hosters/{id}", get(hoster_page).post(hoster_update))
        .route("/ui/templates", get(templates_page).post(templates_post))
}

/// Per-address limits of the public form.
#[derive(Debug)]
pub struct PublicLimits(Option<DefaultKeyedRateLimiter<IpAddr>>);

impl PublicLimits {
    /// `per_hour` reports per client address (a burst of up to 5 at once); 0 turns limits off.
    pub fn new(per_hour: u32) -> PublicLimits {
        PublicLimits(NonZeroU32::new(per_hour).map(|n| {
            let burst = NonZeroU32::new(per_hour.min(5)).unwrap_or(NonZeroU32::MIN);
            DefaultKeyedRateLimiter::keyed(Quota::per_hour(n).allow_burst(burst))
        }))
    }

    fn check(&self, ip: IpAddr) -> bool {
        self.0.as_ref().is_none_or(|l| l.check_key(&ip).is_ok())
    }
}

// ---------------------------------------------------------------------------------------
// Sessions

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The session MAC over `id.expires`, keyed with the key's stored secret hash.
fn session_hmac(secret_sha256: &[u8; 32], id: &str, expires: i64) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret_sha256).expect("HMAC takes any key length");
    mac.update(format!("{id}.{expires}").as_bytes());
    mac
}

fn session_mac(secret_sha256: &[u8; 32], id: &str, expires: i64) -> Vec<u8> {
    session_hmac(secret_sha256, id, expires)
        .finalize()
        .into_bytes()
        .to_vec()
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// A signed-in analyst (or admin). Extracting it redirects to the sign-in page when there is
/// no valid session, and answers 403 for a role that may not work cases.
#[derive(Debug, Clone)]
pub struct Analyst(pub Principal);

impl FromRequestParts<AppState> for Analyst {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || {
            let next = parts
                .uri
                .path_and_query()
                .map_or("/ui", |p| p.as_str())
                .to_string();
            Redirect::to(&format!("/ui/login?next={}", urlencode(&next))).into_response()
        };
        let Some(value) = cookie_value(&parts.headers) else {
            return Err(to_login());
        };
        let mut it = value.split('.');
        let (Some(id), Some(exp), Some(mac), None) = (it.next(), it.next(), it.next(), it.next())
        else {
            return Err(to_login());
        };
        let Ok(expires) = exp.parse::<i64>() else {
            return Err(to_login());
        };
        if expires < Millis::now().0 {
            return Err(to_login());
        }
        let key = state
            .keys
            .get(state.store.as_ref(), id)
            .await
            .map_err(IntoResponse::into_response)?;
        let Some(key) = key.filter(|k| k.revoked_at.is_none()) else {
            return Err(to_login());
        };
        let got = hex::decode(mac).unwrap_or_default();
        if !session_ok(&key.secret_sha256, id, expires, &got) {
            return Err(to_login());
        }
        let principal = Principal {
            key_id: key.id,
            org_id: key.org_id,
            role: key.role,
        };
        if !principal.can(Can::WorkCases) {
            return Err(error_page(
                StatusCode::FORBIDDEN,
                "Not for this key",
                &format!(
                    "A {} key cannot use the analyst pages. Sign in with an analyst key.",
                    principal.role
                ),
            ));
        }
        if parts.method == axum::http::Method::POST && !same_site(&parts.headers) {
            return Err(error_page(
                StatusCode::FORBIDDEN,
                "Refused",
                "This form was posted from another site.",
            ));
        }
        Ok(Analyst(principal))
    }
}

/// Whether `got` is the session MAC for `id` and `expires` (compared in constant time).
fn session_ok(secret_sha256: &[u8; 32], id: &str, expires: i64, got: &[u8]) -> bool {
    session_hmac(secret_sha256, id, expires)
        .verify_slice(got)
        .is_ok()
}

/// Whether a POST comes from this site: browsers send `Sec-Fetch-Site` and `Origin`.
pub(crate) fn same_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.trim_end_matches('/') == host),
        _ => true,
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

// ---------------------------------------------------------------------------------------
// Shared bits for templates

/// A date-time for people: `2026-11-23 09:30 UTC`.
fn when(m: Millis) -> String {
    let s = m.rfc3339();
    match (s.get(0..10), s.get(11..16)) {
        (Some(d), Some(t)) => format!("{d} {t} UTC"),
        _ => s,
    }
}

/// How long ago, roughly.
fn ago(m: Millis) -> String {
    let secs = (Millis::now().0 - m.0) / 1000;
    match secs {
        s if s < 0 => "just now".into(),
        s if s < 90 => format!("{s} s ago"),
        s if s < 90 * 60 => format!("{} min ago", s / 60),
        s if s < 36 * 3600 => format!("{} h ago", s / 3600),
        s => format!("{} days ago", s / 86400),
    }
}

#[derive(Debug)]
pub(crate) struct Nav {
    pub(crate) signed_in: bool,
    pub(crate) current: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "message.html")]
struct MessagePage {
    nav: Nav,
    title: String,
    message: String,
}

pub(crate) fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    (
        status,
        MessagePage {
            nav: Nav {
                signed_in: false,
                current: "",
            },
            title: title.to_string(),
            message: message.to_string(),
        },
    )
        .into_response()
}

pub(crate) fn api_error_page(e: ApiError) -> Response {
    let title = match e.status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::CONFLICT => "Not possible now",
        StatusCode::BAD_REQUEST => "Please check the form",
        _ => "Something went wrong",
    };
    error_page(e.status, title, &e.message)
}

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../templates/schoon.css"),
    )
}

// ---------------------------------------------------------------------------------------
// Home and the public report form

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    nav: Nav,
}

async fn home() -> HomePage {
    HomePage {
        nav: Nav {
            signed_in: false,
            current: "home",
        },
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "report.html")]
struct ReportPage {
    nav: Nav,
    categories: Vec<String>,
    error: Option<String>,
    form: ReportForm,
}

#[derive(Template, WebTemplate)]
#[template(path = "report_done.html")]
struct ReportDone {
    nav: Nav,
    reference: String,
    joined: bool,
}

#[derive(Debug, Default, Deserialize)]
struct ReportForm {
    #[serde(default)]
    url: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    contact: String,
    /// A field people never see: bots fill it in.
    #[serde(default)]
    website: String,
}

async fn categories(state: &AppState) -> Result<Vec<String>, ApiError> {
    Ok(state
        .store
        .categories()
        .await?
        .into_iter()
        .map(|c| c.as_str().to_string())
        .collect())
}

async fn report_form(State(state): State<AppState>) -> Response {
    match categories(&state).await {
        Ok(categories) => ReportPage {
            nav: Nav {
                signed_in: false,
                current: "report",
            },
            categories,
            error: None,
            form: ReportForm::default(),
        }
        .into_response(),
        Err(e) => api_error_page(e),
    }
}

fn client_ip(parts_ext: &axum::http::Extensions) -> IpAddr {
    parts_ext
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip())
}

async fn report_submit(State(state): State<AppState>, req: axum::extract::Request) -> Response {
    let ip = client_ip(req.extensions());
    let (parts, body) = req.into_parts();
    let form = match Form::<ReportForm>::from_request(
        axum::extract::Request::from_parts(parts, body),
        &state,
    )
    .await
    {
        Ok(Form(f)) => f,
        Err(e) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Please check the form",
                &e.body_text(),
            );
        }
    };
    let cats = match categories(&state).await {
        Ok(c) => c,
        Err(e) => return api_error_page(e),
    };
    let again = |error: String, form: ReportForm, status: StatusCode| {
        (
            status,
            ReportPage {
                nav: Nav {
                    signed_in: false,
                    current: "report",
                },
                categories: cats.clone(),
                error: Some(error),
                form,
            },
        )
            .into_response()
    };
    if !form.website.is_empty() {
        return again(
            "This report could not be accepted.".into(),
            form,
            StatusCode::BAD_REQUEST,
        );
    }
    if !state.public_limits.check(ip) {
        metrics::counter!("schoon_public_reports_limited_total").increment(1);
        return again(
            "Too many reports from your address in the last hour. Please try again later, or contact the hotline directly.".into(),
            form,
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let non_empty = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let report = NewReport {
        url: form.url.clone(),
        category: form.category.clone(),
        source: Source::Public,
        contact: non_empty(&form.contact),
        text: non_empty(&form.text),
        external_ref: None,
    };
    let by = Submitter {
        actor: "public".into(),
        org_id: None,
    };
    match crate::ntd_api::intake(&state, &by, vec![report]).await {
        Ok(outcomes) => match outcomes.into_iter().next() {
            Some(o) if o.status != OutcomeStatus::Invalid => ReportDone {
                nav: Nav {
                    signed_in: false,
                    current: "report",
                },
                reference: o.reference.unwrap_or_default(),
                joined: o.status == OutcomeStatus::Joined,
            }
            .into_response(),
            Some(o) => again(
                o.error.unwrap_or_else(|| "invalid report".into()),
                form,
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            None => again("nothing was received".into(), form, StatusCode::BAD_REQUEST),
        },
        Err(e) => api_error_page(e),
    }
}

// ---------------------------------------------------------------------------------------
// Signing in

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Nav,
    next: String,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Only local paths: never redirect to another site after signing in.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/ui") && !n.starts_with("//") => n.to_string(),
        _ => "/ui/queue".into(),
    }
}

async fn login_form(Query(q): Query<NextQuery>) -> LoginPage {
    LoginPage {
        nav: Nav {
            signed_in: false,
            current: "login",
        },
        next: safe_next(q.next.as_deref()),
        error: None,
    }
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    key: String,
    #[serde(default)]
    next: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let next = safe_next(f.next.as_deref());
    let fail = |msg: &str| {
        (
            StatusCode::UNAUTHORIZED,
            LoginPage {
                nav: Nav {
                    signed_in: false,
                    current: "login",
                },
                next: next.clone(),
                error: Some(msg.to_string()),
            },
        )
            .into_response()
    };
    if !same_site(&headers) {
        return fail("This form was posted from another site.");
    }
    let token = f.key.trim();
    let Ok(parsed) = lists::keys::ParsedKey::parse(token) else {
        return fail("That is not a Schoon API key.");
    };
    let key = match state.keys.get(state.store.as_ref(), &parsed.id).await {
        Ok(Some(k)) if parsed.matches(&k.secret_sha256) && k.revoked_at.is_none() => k,
        Ok(_) => return fail("Unknown or revoked key."),
        Err(e) => return api_error_page(e),
    };
    let principal = Principal {
        key_id: key.id.clone(),
        org_id: key.org_id,
        role: key.role,
    };
    if !principal.can(Can::WorkCases) {
        return fail(&format!(
            "A {} key cannot use the analyst pages.",
            principal.role
        ));
    }
    let expires = Millis::now().0 + SESSION_MS;
    let mac = hex::encode(session_mac(&key.secret_sha256, &key.id, expires));
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{COOKIE}={}.{expires}.{mac}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        key.id,
        SESSION_MS / 1000
    );
    tracing::info!(key = %key.id, "analyst signed in to the web pages");
    let mut res = Redirect::to(&next).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

async fn logout(headers: HeaderMap) -> Response {
    if !same_site(&headers) {
        return error_page(
            StatusCode::FORBIDDEN,
            "Refused",
            "This form was posted from another site.",
        );
    }
    let mut res = Redirect::to("/ui/login").into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("schoon_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    res
}

// ---------------------------------------------------------------------------------------
// Analyst pages

fn nav(current: &'static str) -> Nav {
    Nav {
        signed_in: true,
        current,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    nav: Nav,
    counts: Vec<(String, String, i64)>,
    total: i64,
    sources: Vec<ntd::attribution::DataSource>,
    hosters: usize,
}

async fn dashboard(State(state): State<AppState>, _a: Analyst) -> Response {
    let run = async {
        let counts = state.cases.state_counts().await?.0;
        let total = counts.iter().map(|(_, n)| n).sum();
        Ok::<_, ApiError>(DashboardPage {
            nav: nav("dashboard"),
            counts: counts
                .into_iter()
                .map(|(s, n)| (s.name().to_string(), s.label().to_string(), n))
                .collect(),
            total,
            sources: state.cases.attribution_sources().await?,
            hosters: state.cases.hosters().await?.len(),
        })
    };
    run.await
        .map_or_else(api_error_page, IntoResponse::into_response)
}

/// One row of a case table.
#[derive(Debug)]
struct Row {
    id: i64,
    url: String,
    category: String,
    state: String,
    state_label: String,
    opened: String,
    opened_ago: String,
    reports: i64,
    sources: String,
    hoster: String,
    country: String,
}

impl From<ntd::case::Case> for Row {
    fn from(c: ntd::case::Case) -> Row {
        Row {
            id: c.id,
            url: c.url,
            category: c.category,
            state: c.state.name().into(),
            state_label: c.state.label().into(),
            opened: when(c.opened_at),
            opened_ago: ago(c.opened_at),
            reports: c.reports,
            sources: c
                .sources
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(", "),
            hoster: c.hoster_name.unwrap_or_default(),
            country: c.country.unwrap_or_default(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "cases.html")]
struct CasesPage {
    nav: Nav,
    title: String,
    action: String,
    rows: Vec<Row>,
    categories: Vec<String>,
    sources: Vec<String>,
    states: Vec<(String, String)>,
    q: CaseQueryEcho,
    prev: Option<String>,
    next: Option<String>,
    showing: String,
}

#[derive(Debug, Default)]
struct CaseQueryEcho {
    state: String,
    category: String,
    source: String,
    q: String,
}

async fn case_list(state: &AppState, mut q: CaseQuery, queue: bool) -> Result<CasesPage, ApiError> {
    if queue && q.state.as_deref().is_none_or(str::is_empty) {
        q.state = Some("queue".into());
    }
    let filter = q.filter()?;
    let (cases, total) = state.cases.cases(&filter).await?;
    let path = if queue { "/ui/queue" } else { "/ui/cases" };
    let echo = CaseQueryEcho {
        state: q.state.clone().unwrap_or_default(),
        category: q.category.clone().unwrap_or_default(),
        source: q.source.clone().unwrap_or_default(),
        q: q.q.clone().unwrap_or_default(),
    };
    let link = |offset: i64| {
        format!(
            "{path}?state={}&category={}&source={}&q={}&offset={offset}",
            urlencode(&echo.state),
            urlencode(&echo.category),
            urlencode(&echo.source),
            urlencode(&echo.q)
        )
    };
    let shown = cases.len() as i64;
    let prev = (filter.offset > 0).then(|| link((filter.offset - filter.limit).max(0)));
    let next = (filter.offset + shown < total).then(|| link(filter.offset + filter.limit));
    Ok(CasesPage {
        nav: nav(if queue { "queue" } else { "cases" }),
        title: if queue {
            "Queue: oldest first".into()
        } else {
            "All cases".into()
        },
        action: path.into(),
        showing: if shown == 0 {
            "No cases".into()
        } else {
            format!("{}–{} of {total}", filter.offset + 1, filter.offset + shown)
        },
        rows: cases.into_iter().map(Row::from).collect(),
        categories: categories(state).await?,
        sources: Source::ALL.iter().map(|s| s.name().to_string()).collect(),
        states: CaseState::ALL
            .iter()
            .map(|s| (s.name().to_string(), s.label().to_string()))
            .collect(),
        q: echo,
        prev,
        next,
    })
}

async fn queue(State(state): State<AppState>, _a: Analyst, Query(q): Query<CaseQuery>) -> Response {
    case_list(&state, q, true)
        .await
        .map_or_else(api_error_page, IntoResponse::into_response)
}

async fn all_cases(
    State(state): State<AppState>,
    _a: Analyst,
    Query(q): Query<CaseQuery>,
) -> Response {
    case_list(&state, q, false)
        .await
        .map_or_else(api_error_page, IntoResponse::into_response)
}

/// A timeline entry for the page.
#[derive(Debug)]
struct TimelineRow {
    at: String,
    actor: String,
    kind: String,
    message: String,
}

#[derive(Debug)]
struct ReportRow {
    at: String,
    reference: String,
    source: String,
    category: String,
    url: String,
    contact: String,
    text: String,
    external_ref: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "case.html")]
struct CasePage {
    nav: Nav,
    c: Row,
    forwarded_to: String,
    attributed: String,
    reports: Vec<ReportRow>,
    timeline: Vec<TimelineRow>,
    attribution: Option<ntd::attribution::Attribution>,
    hosters: Vec<(i64, String)>,
    categories: Vec<String>,
    can_assess: bool,
    can_verdict: bool,
    can_close: bool,
    error: Option<String>,
    done: Option<String>,
    notices: Vec<NoticeView>,
    checks: Vec<CheckView>,
}

/// A notice on the case page.
#[derive(Debug)]
struct NoticeView {
    reference: String,
    kind: String,
    to: String,
    status: String,
    queued: String,
    sent: String,
    attempts: i64,
    last_error: String,
}

/// A re-check on the case page.
#[derive(Debug)]
struct CheckView {
    at: String,
    verdict: String,
    status: String,
    reason: String,
    millis: u64,
}

fn case_page_from(
    d: CaseDetail,
    hosters: Vec<(i64, String)>,
    categories: Vec<String>,
    error: Option<String>,
    done: Option<String>,
) -> CasePage {
    let s = d.case.state;
    let ok = |to| ntd::case::check_transition(s, to).is_ok();
    CasePage {
        nav: nav("queue"),
        forwarded_to: d.case.forwarded_to.clone().unwrap_or_default(),
        attributed: d.case.attributed_at.map(when).unwrap_or_default(),
        can_assess: ok(CaseState::Assessing),
        can_verdict: ok(CaseState::NotActionable),
        can_close: ok(CaseState::Closed),
        c: Row::from(d.case),
        reports: d
            .reports_list
            .into_iter()
            .map(|r| ReportRow {
                at: when(r.at),
                reference: r.reference,
                source: r.source.name().into(),
                category: r.category,
                url: r.url,
                contact: r.contact.unwrap_or_default(),
                text: r.text.unwrap_or_default(),
                external_ref: r.external_ref.unwrap_or_default(),
            })
            .collect(),
        timeline: d
            .timeline
            .into_iter()
            .map(|e| TimelineRow {
                at: when(e.at),
                actor: e.actor,
                kind: e.kind,
                message: e.message,
            })
            .collect(),
        attribution: d.attribution,
        hosters,
        categories,
        error,
        done,
        notices: Vec::new(),
        checks: Vec::new(),
    }
}

#[derive(Debug, Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

async fn render_case(
    state: &AppState,
    id: i64,
    error: Option<String>,
    done: Option<String>,
) -> Result<CasePage, ApiError> {
    let d = load_case(state, id).await?;
    let hosters = state
        .cases
        .hosters()
        .await?
        .into_iter()
        .map(|h| (h.id, h.fields.name))
        .collect();
    let mut page = case_page_from(d, hosters, categories(state).await?, error, done);
    page.notices = state
        .notices
        .notices(Some(id), 50)
        .await?
        .into_iter()
        .map(|n| NoticeView {
            reference: n.reference,
            kind: n.kind.name().into(),
            to: n.recipients.join(", "),
            status: n.status.name().into(),
            queued: when(n.queued_at),
            sent: n.sent_at.map(when).unwrap_or_default(),
            attempts: n.attempts,
            last_error: n.last_error.unwrap_or_default(),
        })
        .collect();
    page.checks = state
        .notices
        .checks(id, 50)
        .await?
        .into_iter()
        .map(|c| CheckView {
            at: when(c.at),
            verdict: c.check.verdict.name().into(),
            status: c.check.status.map(|s| s.to_string()).unwrap_or_default(),
            reason: c.check.reason,
            millis: c.check.millis,
        })
        .collect();
    Ok(page)
}

async fn case_page(
    State(state): State<AppState>,
    _a: Analyst,
    Path(id): Path<i64>,
    Query(q): Query<DoneQuery>,
) -> Response {
    render_case(&state, id, None, q.done)
        .await
        .map_or_else(api_error_page, IntoResponse::into_response)
}

#[derive(Debug, Deserialize)]
struct ActionForm {
    action: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    partner: String,
    #[serde(default)]
    hoster_id: String,
    #[serde(default)]
    category: String,
}

async fn case_action(
    State(state): State<AppState>,
    Analyst(who): Analyst,
    Path(id): Path<i64>,
    Form(f): Form<ActionForm>,
) -> Response {
    let reason = Some(f.reason.trim().to_string()).filter(|r| !r.is_empty());
    let action = match f.action.as_str() {
        "assess" => Ok(Action::Assess),
        "actionable" => Ok(Action::Actionable { reason }),
        "not_actionable" => Ok(Action::NotActionable {
            reason: reason.unwrap_or_default(),
        }),
        "forward" => Ok(Action::Forward {
            partner: f.partner.trim().to_string(),
            reason,
        }),
        "close" => Ok(Action::Close { reason }),
        "note" => Ok(Action::Note {
            text: reason.unwrap_or_default(),
        }),
        "recategorise" => Ok(Action::Recategorise {
            category: f.category.clone(),
        }),
        "set_hoster" => f
            .hoster_id
            .parse()
            .map(|hoster_id| Action::SetHoster { hoster_id, reason })
            .map_err(|_| "choose a hoster from the register".to_string()),
        "attribute" => {
            return match state.cases.request_attribution(id, &who.key_id).await {
                Ok(()) => {
                    state.attribution_wake.notify_one();
                    Redirect::to(&format!("/ui/cases/{id}?done=attribution+requested"))
                        .into_response()
                }
                Err(e) => api_error_page(e.into()),
            };
        }
        other => Err(format!("unknown action {other:?}")),
    };
    let result = match action {
        Ok(a) => state
            .cases
            .act(id, &who.key_id, &a)
            .await
            .map_err(|e| (ApiError::from(e), a)),
        Err(msg) => {
            return render_case(&state, id, Some(msg), None)
                .await
                .map_or_else(api_error_page, |p| {
                    (StatusCode::BAD_REQUEST, p).into_response()
                });
        }
    };
    match result {
        Ok(_) => Redirect::to(&format!("/ui/cases/{id}?done=saved")).into_response(),
        Err((e, _)) if e.status != StatusCode::NOT_FOUND => {
            let status = e.status;
            render_case(&state, id, Some(e.message), None)
                .await
                .map_or_else(api_error_page, |p| (status, p).into_response())
        }
        Err((e, _)) => api_error_page(e),
    }
}

// ---------------------------------------------------------------------------------------
// The hosters register

#[derive(Debug, Default)]
struct HosterRow {
    id: i64,
    name: String,
    asns: String,
    prefixes: String,
    abuse: String,
    channel: String,
    webhook_url: String,
    coc_member: bool,
    cdn: bool,
    country: String,
    notes: String,
    updated: String,
}

impl From<ntd::register::Hoster> for HosterRow {
    fn from(h: ntd::register::Hoster) -> HosterRow {
        HosterRow {
            id: h.id,
            updated: format!("{} by {}", when(h.updated_at), h.updated_by),
            name: h.fields.name,
            asns: h
                .fields
                .asns
                .iter()
                .map(|a| format!("AS{a}"))
                .collect::<Vec<_>>()
                .join(" "),
            prefixes: h.fields.prefixes.join(" "),
            abuse: h.fields.abuse.join(" "),
            channel: h.fields.channel.name().into(),
            webhook_url: h.fields.webhook_url.unwrap_or_default(),
            coc_member: h.fields.coc_member,
            cdn: h.fields.cdn,
            country: h.fields.country.unwrap_or_default(),
            notes: h.fields.notes.unwrap_or_default(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "hosters.html")]
struct HostersPage {
    nav: Nav,
    rows: Vec<HosterRow>,
    form: HosterRow,
    error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "hoster.html")]
struct HosterPage {
    nav: Nav,
    form: HosterRow,
    error: Option<String>,
    done: bool,
}

#[derive(Debug, Deserialize)]
struct HosterForm {
    name: String,
    #[serde(default)]
    asns: String,
    #[serde(default)]
    prefixes: String,
    #[serde(default)]
    abuse: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    webhook_url: String,
    #[serde(default)]
    coc_member: Option<String>,
    #[serde(default)]
    cdn: Option<String>,
    #[serde(default)]
    country: String,
    #[serde(default)]
    notes: String,
}

impl HosterForm {
    fn fields(&self) -> Result<HosterFields, String> {
        let words = |s: &str| -> Vec<String> {
            s.split(|c: char| c.is_whitespace() || c == ',')
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect()
        };
        let asns = words(&self.asns)
            .iter()
            .map(|a| {
                a.trim_start_matches("AS")
                    .trim_start_matches("as")
                    .parse::<u32>()
                    .map_err(|_| format!("{a:?} is not an AS number"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        HosterFields {
            name: self.name.clone(),
            org_id: None,
            asns,
            prefixes: words(&self.prefixes),
            abuse: words(&self.abuse),
            channel: if self.channel.is_empty() {
                Channel::Email
            } else {
                Channel::parse(&self.channel).map_err(|e| e.to_string())?
            },
            webhook_url: opt(&self.webhook_url),
            coc_member: self.coc_member.is_some(),
            cdn: self.cdn.is_some(),
            country: opt(&self.country),
            notes: opt(&self.notes),
        }
        .check()
        .map_err(|e| e.to_string())
    }

    fn echo(&self, id: i64) -> HosterRow {
        HosterRow {
            id,
            name: self.name.clone(),
            asns: self.asns.clone(),
            prefixes: self.prefixes.clone(),
            abuse: self.abuse.clone(),
            channel: self.channel.clone(),
            webhook_url: self.webhook_url.clone(),
            coc_member: self.coc_member.is_some(),
            cdn: self.cdn.is_some(),
            country: self.country.clone(),
            notes: self.notes.clone(),
            updated: String::new(),
        }
    }
}

/// 409 for a taken name, 404 for a missing entry, else 400.
fn conflict_or_bad(e: &ntd::Error) -> StatusCode {
    match e {
        ntd::Error::Conflict(_) => StatusCode::CONFLICT,
        ntd::Error::NotFound(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    }
}

async fn hosters_page(State(state): State<AppState>, _a: Analyst) -> Response {
    match state.cases.hosters().await {
        Ok(hs) => HostersPage {
            nav: nav("hosters"),
            rows: hs.into_iter().map(HosterRow::from).collect(),
            form: HosterRow::default(),
            error: None,
        }
        .into_response(),
        Err(e) => api_error_page(e.into()),
    }
}

async fn hoster_create(
    State(state): State<AppState>,
    Analyst(who): Analyst,
    Form(f): Form<HosterForm>,
) -> Response {
    let created = match f.fields() {
        Ok(fields) => state
            .cases
            .create_hoster(&fields, &who.key_id)
            .await
            .map_err(|e| (conflict_or_bad(&e), e.to_string())),
        Err(e) => Err((StatusCode::BAD_REQUEST, e)),
    };
    match created {
        Ok(h) => Redirect::to(&format!("/ui/hosters/{}?done=1", h.id)).into_response(),
        Err((status, error)) => match state.cases.hosters().await {
            Ok(hs) => (
                status,
                HostersPage {
                    nav: nav("hosters"),
                    rows: hs.into_iter().map(HosterRow::from).collect(),
                    form: f.echo(0),
                    error: Some(error),
                },
            )
                .into_response(),
            Err(e) => api_error_page(e.into()),
        },
    }
}

async fn hoster_page(
    State(state): State<AppState>,
    _a: Analyst,
    Path(id): Path<i64>,
    Query(q): Query<DoneQuery>,
) -> Response {
    match state.cases.hoster(id).await {
        Ok(Some(h)) => HosterPage {
            nav: nav("hosters"),
            form: HosterRow::from(h),
            error: None,
            done: q.done.is_some(),
        }
        .into_response(),
        Ok(None) => error_page(StatusCode::NOT_FOUND, "Not found", "No such hoster."),
        Err(e) => api_error_page(e.into()),
    }
}

async fn hoster_update(
    State(state): State<AppState>,
    Analyst(who): Analyst,
    Path(id): Path<i64>,
    Form(f): Form<HosterForm>,
) -> Response {
    let updated = match f.fields() {
        Ok(fields) => state
            .cases
            .update_hoster(id, &fields, &who.key_id)
            .await
            .map_err(|e| (conflict_or_bad(&e), e.to_string())),
        Err(e) => Err((StatusCode::BAD_REQUEST, e)),
    };
    match updated {
        Ok(_) => Redirect::to(&format!("/ui/hosters/{id}?done=1")).into_response(),
        Err((status, error)) => (
            status,
            HosterPage {
                nav: nav("hosters"),
                form: f.echo(id),
                error: Some(error),
                done: false,
            },
        )
            .into_response(),
    }
}

// ---------------------------------------------------------------------------------------
// Notice templates

#[derive(Debug)]
struct TemplateView {
    kind: String,
    label: String,
    subject: String,
    body: String,
    updated: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "templates.html")]
struct TemplatesPage {
    nav: Nav,
    templates: Vec<TemplateView>,
    preview: Option<(String, String, String)>,
    error: Option<String>,
    done: Option<String>,
}

async fn templates_view(
    state: &AppState,
    edited: Option<&ntd::notice::Template>,
) -> Result<Vec<TemplateView>, ApiError> {
    Ok(state
        .notices
        .templates()
        .await?
        .into_iter()
        .map(|t| {
            let shown = match edited {
                Some(e) if e.kind == t.template.kind => e.clone(),
                _ => t.template,
            };
            TemplateView {
                kind: shown.kind.name().into(),
                label: shown.kind.label().into(),
                subject: shown.subject,
                body: shown.body,
                updated: t
                    .updated
                    .map(|(who, at)| format!("changed by {who}, {}", when(at)))
                    .unwrap_or_else(|| "built-in text".into()),
            }
        })
        .collect())
}

async fn templates_page(
    State(state): State<AppState>,
    _a: Analyst,
    Query(q): Query<DoneQuery>,
) -> Response {
    match templates_view(&state, None).await {
        Ok(templates) => TemplatesPage {
            nav: nav("templates"),
            templates,
            preview: None,
            error: None,
            done: q.done,
        }
        .into_response(),
        Err(e) => api_error_page(e),
    }
}

#[derive(Debug, Deserialize)]
struct TemplateForm {
    kind: String,
    subject: String,
    body: String,
    op: String,
}

async fn templates_post(
    State(state): State<AppState>,
    Analyst(who): Analyst,
    Form(f): Form<TemplateForm>,
) -> Response {
    let Ok(kind) = f.kind.parse::<ntd::notice::NoticeKind>() else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Unknown template",
            "No such kind of notice.",
        );
    };
    // Browsers send CRLF from a textarea; templates are plain LF text.
    let t = ntd::notice::Template {
        kind,
        subject: f.subject,
        body: f.body.replace("\r\n", "\n"),
    };
    let rendered = crate::notices_api::try_render(&t);
    let page = |preview, error: Option<String>, status| {
        let state = state.clone();
        let t = t.clone();
        async move {
            match templates_view(&state, Some(&t)).await {
                Ok(templates) => (
                    status,
                    TemplatesPage {
                        nav: nav("templates"),
                        templates,
                        preview,
                        error,
                        done: None,
                    },
                )
                    .into_response(),
                Err(e) => api_error_page(e),
            }
        }
    };
    match (f.op.as_str(), rendered) {
        (_, Err(e)) => page(None, Some(e.message), StatusCode::BAD_REQUEST).await,
        ("save", Ok(_)) => match state
            .notices
            .save_template(&t, &who.key_id, state.clock.now())
            .await
        {
            Ok(()) => {
                tracing::info!(kind = kind.name(), key = %who.key_id, "notice template saved");
                Redirect::to(&format!(
                    "/ui/templates?done={}",
                    urlencode(&format!(
                        "The {} template is saved; the next {} uses it.",
                        kind.label(),
                        kind.label()
                    ))
                ))
                .into_response()
            }
            Err(e) => api_error_page(e.into()),
        },
        (_, Ok(r)) => {
            page(
                Some((kind.label().to_string(), r.subject, r.text)),
                None,
                StatusCode::OK,
            )
            .await
        }
    }
}
