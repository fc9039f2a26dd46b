//! The hoster portal: where an abuse desk answers the notices sent to it.
//!
//! A hoster gets in two ways:
//!
//! * **The link in a notice** (`/portal/t/{token}`): the token names the hoster and an expiry
//!   and is signed with a secret all replicas share ([`ntd::notice::portal_token`]). Following
//!   it starts a portal session; no account is needed, which is what a small hoster's abuse
//!   desk reading a notice wants.
//! * **Signing in** at `/portal/login` with an API key of role `hoster` whose organisation is
//!   linked to a register entry (the entry's `org_id`). The same key works on the JSON API
//!   (`GET /v1/portal/cases`, `POST /v1/portal/cases/{id}/response`) for desks that automate.
//!
//! Either way the hoster sees only the cases whose notice went to it, with the URL, category,
//! notice reference and deadline: never the reports, the reporters or the evidence. It can
//! confirm removal, say it is not the host (naming who is) or dispute the notice with a
//! reason. "Removed" makes a re-check due at once; the case closes only when the re-check
//! finds the material offline ([`ntd::takedown`]).
//!
//! The session cookie (`schoon_portal`) is `h{id}.{via}.{expiry}.{HMAC}` under a key derived
//! from the shared portal secret: stateless like the analysts' session, `HttpOnly`,
//! `SameSite=Lax` (so that following the link from a mail client keeps it), and every POST
//! must come from this site. `via` is `link` for a session started from a notice's link, or
//! `k{key id}` for one started by signing in; such a session is checked against its key on
//! every request, so revoking the key, or unlinking its organisation from the register entry,
//! ends the session too (within the key cache's few seconds), as it does for the API.

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use hmac::{KeyInit, Mac};
use lists::{Action as Can, Millis};
use ntd::register::Hoster;
use ntd::takedown::{HosterResponse, PortalCase};
use serde::Deserialize;

const COOKIE: &str = "schoon_portal";
const SESSION_MS: i64 = 12 * 3600 * 1000;
/// Closed cases stay visible this long, so the desk sees its confirmations land.
const RECENT_MS: i64 = 30 * 24 * 3600 * 1000;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The portal's page routes (the JSON routes are under `/v1` in [`crate::router`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/portal", get(portal_page))
        .route("/portal/t/{token}", get(follow_link))
        .route("/portal/login", get(login_form).post(login))
        .route("/portal/logout", post(logout))
        .route("/portal/cases/{id}", post(respond_form))
}

/// How a portal session was started.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Via {
    /// From the signed link in a notice.
    Link,
    /// By signing in with this API key (its id).
    Key(String),
}

impl Via {
    fn encode(&self) -> String {
        match self {
            Via::Link => "link".to_string(),
            Via::Key(id) => format!("k{id}"),
        }
    }

    fn decode(s: &str) -> Option<Via> {
        if s == "link" {
            return Some(Via::Link);
        }
        let id = s.strip_prefix('k')?;
        (!id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| Via::Key(id.to_string()))
    }
}

fn session_mac(secret: &str, hoster_id: i64, via: &Via, expires: i64) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(format!("portal-session:{secret}").as_bytes())
        .expect("HMAC takes any key length");
    mac.update(format!("h{hoster_id}.{}.{expires}", via.encode()).as_bytes());
    mac
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

async fn session_cookie(
    state: &AppState,
    hoster_id: i64,
    via: &Via,
) -> Result<HeaderValue, ApiError> {
    let secret = state.notices.secret("portal").await?;
    let expires = state.clock.now().0 + SESSION_MS;
    let mac = hex::encode(
        session_mac(&secret, hoster_id, via, expires)
            .finalize()
            .into_bytes(),
    );
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}=h{hoster_id}.{}.{expires}.{mac}; Path=/portal; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        via.encode(),
        SESSION_MS / 1000
    ))
    .map_err(|_| ApiError::internal("cannot build the session cookie"))
}

/// A hoster with a portal session.
#[derive(Debug, Clone)]
pub struct PortalHoster(pub Hoster);

impl FromRequestParts<AppState> for PortalHoster {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || Redirect::to("/portal/login").into_response();
        let Some(value) = cookie_value(&parts.headers) else {
            return Err(to_login());
        };
        let mut it = value.split('.');
        let (Some(h), Some(via), Some(exp), Some(mac), None) =
            (it.next(), it.next(), it.next(), it.next(), it.next())
        else {
            return Err(to_login());
        };
        let (Some(id), Some(via), Ok(expires)) = (
            h.strip_prefix('h').and_then(|s| s.parse::<i64>().ok()),
            Via::decode(via),
            exp.parse::<i64>(),
        ) else {
            return Err(to_login());
        };
        if expires < state.clock.now().0 {
            return Err(to_login());
        }
        let secret = state
            .notices
            .secret("portal")
            .await
            .map_err(|e| ApiError::from(e).into_response())?;
        let got = hex::decode(mac).unwrap_or_default();
        if session_mac(&secret, id, &via, expires)
            .verify_slice(&got)
            .is_err()
        {
            return Err(to_login());
        }
        if parts.method == axum::http::Method::POST && !crate::pages::same_site(&parts.headers) {
            return Err(crate::pages::error_page(
                StatusCode::FORBIDDEN,
                "Refused",
                "This form was posted from another site.",
            ));
        }
        let h = match state.cases.hoster(id).await {
            Ok(Some(h)) => h,
            Ok(None) => return Err(to_login()),
            Err(e) => return Err(ApiError::from(e).into_response()),
        };
        if let Via::Key(key_id) = &via {
            // The key must still be live and its organisation still linked to this entry.
            let key = state
                .keys
                .get(state.store.as_ref(), key_id)
                .await
                .map_err(IntoResponse::into_response)?;
            let live = key.is_some_and(|k| {
                k.revoked_at.is_none()
                    && h.org_id == Some(k.org_id)
                    && lists::Principal {
                        key_id: k.id.clone(),
                        org_id: k.org_id,
                        role: k.role,
                    }
                    .can(Can::AnswerNotices)
            });
            if !live {
                return Err(to_login());
            }
        }
        Ok(PortalHoster(h))
    }
}

/// The register entry of a hoster key's organisation.
pub(crate) async fn hoster_of_key(state: &AppState, auth: &Auth) -> Result<Hoster, ApiError> {
    auth.require(Can::AnswerNotices)?;
    let org = auth.principal.org_id;
    state
        .cases
        .hosters()
        .await?
        .into_iter()
        .find(|h| h.org_id == Some(org))
        .ok_or_else(|| {
            ApiError::forbidden(
                "this key's organisation is not linked to an entry of the hosters register; ask the hotline",
            )
        })
}

async fn cases_of(state: &AppState, hoster_id: i64) -> Result<Vec<PortalCase>, ApiError> {
    let since = Millis(state.clock.now().0 - RECENT_MS);
    let mut cases = state.notices.portal_cases(hoster_id, since).await?;
    for c in &mut cases {
        c.deadline = c.notified_at.map(|n| state.policy.remind_at(n));
    }
    Ok(cases)
}

// ---------------------------------------------------------------------------------------
// JSON API

/// `GET /v1/portal/cases`: the caller's notified cases.
pub(crate) async fn api_cases(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<serde_json::Value>, ApiError> {
    let h = hoster_of_key(&state, &auth).await?;
    let cases = cases_of(&state, h.id).await?;
    Ok(Json(
        serde_json::json!({"hoster": {"id": h.id, "name": h.name}, "cases": cases}),
    ))
}

/// `POST /v1/portal/cases/{id}/response`: answer a notice.
pub(crate) async fn api_respond(
    State(state): State<AppState>,
    auth: Auth,
    crate::extract::ApiPath(id): crate::extract::ApiPath<i64>,
    headers: HeaderMap,
    crate::extract::ApiBytes(body): crate::extract::ApiBytes,
) -> Result<Json<PortalCase>, ApiError> {
    let h = hoster_of_key(&state, &auth).await?;
    let response: HosterResponse = crate::check::parse_json(&headers, &body)?;
    let mut case = state
        .notices
        .respond(
            h.id,
            id,
            &response,
            &format!("hoster:{}", auth.principal.key_id),
            state.clock.now(),
        )
        .await?;
    case.deadline = case.notified_at.map(|n| state.policy.remind_at(n));
    state.notify_wake.notify_one();
    Ok(Json(case))
}

// ---------------------------------------------------------------------------------------
// Pages

#[derive(Template, WebTemplate)]
#[template(path = "portal_login.html")]
struct LoginPage {
    nav: crate::pages::Nav,
    error: Option<String>,
}

fn portal_nav() -> crate::pages::Nav {
    crate::pages::Nav {
        signed_in: false,
        current: "portal",
    }
}

async fn login_form() -> LoginPage {
    LoginPage {
        nav: portal_nav(),
        error: None,
    }
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    key: String,
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let fail = |msg: &str| {
        (
            StatusCode::UNAUTHORIZED,
            LoginPage {
                nav: portal_nav(),
                error: Some(msg.to_string()),
            },
        )
            .into_response()
    };
    if !crate::pages::same_site(&headers) {
        return fail("This form was posted from another site.");
    }
    let Ok(parsed) = lists::keys::ParsedKey::parse(f.key.trim()) else {
        return fail("That is not a Schoon API key.");
    };
    let key = match state.keys.get(state.store.as_ref(), &parsed.id).await {
        Ok(Some(k)) if parsed.matches(&k.secret_sha256) && k.revoked_at.is_none() => k,
        Ok(_) => return fail("Unknown or revoked key."),
        Err(e) => return crate::pages::api_error_page(e),
    };
    let auth = Auth {
        principal: lists::Principal {
            key_id: key.id.clone(),
            org_id: key.org_id,
            role: key.role,
        },
        rate_per_sec: None,
    };
    if !auth.principal.can(Can::AnswerNotices) {
        // Say what the portal needs, not the API's bare "a … key may not do this".
        let role = key.role.to_string();
        let article = if role.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "An"
        } else {
            "A"
        };
        return fail(&format!(
            "{article} {role} key cannot use the hoster portal. Sign in with a key of role hoster whose organisation the hotline linked to your entry in its hosters register."
        ));
    }
    let h = match hoster_of_key(&state, &auth).await {
        Ok(h) => h,
        Err(e) => return fail(&e.message),
    };
    signed_in(&state, h.id, &Via::Key(key.id)).await
}

async fn signed_in(state: &AppState, hoster_id: i64, via: &Via) -> Response {
    match session_cookie(state, hoster_id, via).await {
        Ok(cookie) => {
            let mut res = Redirect::to("/portal").into_response();
            res.headers_mut().insert(header::SET_COOKIE, cookie);
            res
        }
        Err(e) => crate::pages::api_error_page(e),
    }
}

async fn follow_link(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let secret = match state.notices.secret("portal").await {
        Ok(s) => s,
        Err(e) => return crate::pages::api_error_page(e.into()),
    };
    match ntd::notice::verify_portal_token(secret.as_bytes(), &token, state.clock.now()) {
        Ok(hoster_id) => {
            tracing::info!(hoster_id, "hoster followed a notice link into the portal");
            signed_in(&state, hoster_id, &Via::Link).await
        }
        Err(e) => crate::pages::error_page(
            StatusCode::FORBIDDEN,
            "This link does not work",
            &format!("{e}. Sign in with your API key instead, or ask the hotline for a new link."),
        ),
    }
}

async fn logout(headers: HeaderMap) -> Response {
    if !crate::pages::same_site(&headers) {
        return crate::pages::error_page(
            StatusCode::FORBIDDEN,
            "Refused",
            "This form was posted from another site.",
        );
    }
    let mut res = Redirect::to("/portal/login").into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("schoon_portal=; Path=/portal; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    res
}

#[derive(Debug)]
struct CaseRow {
    id: i64,
    url: String,
    category: String,
    reference: String,
    notified: String,
    deadline: String,
    late: bool,
    said: String,
    verdict: String,
    removed: String,
    open: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal.html")]
struct PortalPage {
    nav: crate::pages::Nav,
    hoster: String,
    listing: Option<crate::transparency::Entry>,
    explanations: Vec<(String, String, String, String)>,
    open: Vec<CaseRow>,
    closed: Vec<CaseRow>,
    done: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DoneQuery {
    done: Option<String>,
    error: Option<String>,
}

async fn portal_page(
    State(state): State<AppState>,
    PortalHoster(h): PortalHoster,
    Query(q): Query<DoneQuery>,
) -> Response {
    let cases = match cases_of(&state, h.id).await {
        Ok(c) => c,
        Err(e) => return crate::pages::api_error_page(e),
    };
    let now = state.clock.now();
    let when = |m: Option<Millis>| m.map(ntd::notice::format_datetime).unwrap_or_default();
    let (mut open, mut closed) = (Vec::new(), Vec::new());
    for c in cases {
        let row = CaseRow {
            id: c.case_id,
            url: c.url,
            category: c.category,
            reference: c.reference,
            notified: when(c.notified_at),
            deadline: when(c.deadline),
            late: c.deadline.is_some_and(|d| d.0 < now.0),
            said: match c.hoster_said.as_deref() {
                Some("removed") => "you said: removed".into(),
                Some("not_host") => "you said: not the host".into(),
                Some("dispute") => "you disputed it".into(),
                _ => String::new(),
            },
            verdict: c.last_verdict.unwrap_or_default(),
            removed: when(c.removed_at),
            open: c.state == ntd::CaseState::Notified,
        };
        if row.open {
            open.push(row);
        } else {
            closed.push(row);
        }
    }
    let (listing, explanations) = match (
        state.monitor.listing_of(h.id).await,
        state.monitor.explanations_of(h.id).await,
    ) {
        (Ok(l), Ok(e)) => (l, e),
        (Err(e), _) | (_, Err(e)) => return crate::pages::api_error_page(e.into()),
    };
    let listing = listing.and_then(|l| crate::transparency::entries(&[l]).pop());
    let explanations = if listing.is_some() {
        explanations
            .into_iter()
            .take(3)
            .map(|e| {
                (
                    e.status.as_str().to_string(),
                    when(Some(e.submitted_at)),
                    e.text,
                    e.note.unwrap_or_default(),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    PortalPage {
        nav: portal_nav(),
        hoster: h.name.clone(),
        listing,
        explanations,
        open,
        closed,
        done: q.done,
        error: q.error,
    }
    .into_response()
}

#[derive(Debug, Deserialize)]
struct RespondForm {
    response: String,
    #[serde(default)]
    text: String,
}

async fn respond_form(
    State(state): State<AppState>,
    PortalHoster(h): PortalHoster,
    Path(id): Path<i64>,
    Form(f): Form<RespondForm>,
) -> Response {
    let text = f.text.trim().to_string();
    let response = match f.response.as_str() {
        "removed" => HosterResponse::Removed {
            note: (!text.is_empty()).then_some(text),
        },
        "not_host" => HosterResponse::NotHost { party: text },
        "dispute" => HosterResponse::Dispute { reason: text },
        _ => {
            return Redirect::to("/portal?error=Unknown+answer").into_response();
        }
    };
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    match state
        .notices
        .respond(
            h.id,
            id,
            &response,
            &format!("portal:{}", h.name),
            state.clock.now(),
        )
        .await
    {
        Ok(_) => {
            state.notify_wake.notify_one();
            let msg = match response {
                HosterResponse::Removed { .. } => format!(
                    "Thank you. Case {id} is marked as removed by you; Schoon checks the URL now and closes the case when it is offline."
                ),
                HosterResponse::NotHost { .. } => {
                    format!("Case {id}: the hotline will look at who the host is.")
                }
                HosterResponse::Dispute { .. } => {
                    format!("Case {id}: your dispute goes to an analyst.")
                }
            };
            Redirect::to(&format!("/portal?done={}", enc(&msg))).into_response()
        }
        Err(e) => {
            let e = ApiError::from(e);
            Redirect::to(&format!("/portal?error={}", enc(&e.message))).into_response()
        }
    }
}
