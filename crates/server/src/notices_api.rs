//! Notices, re-checks and notice templates, for analysts.
//!
//! | route | who | what |
//! |---|---|---|
//! | `GET /v1/notices[?case=ID]` | analyst, admin | notices, reminders and escalations, newest first, with every attempt's outcome |
//! | `GET /v1/notices/{reference}` | analyst, admin | one notice as it was sent |
//! | `GET /v1/cases/{id}/checks` | analyst, admin | a case's re-checks, newest first |
//! | `GET /v1/templates` | analyst, admin | the notice templates |
//! | `PUT /v1/templates/{kind}` | analyst, admin | save a template (refused if it does not render) |
//! | `POST /v1/templates/{kind}/preview` | analyst, admin | render a template against a sample notice |
//!
//! Hosters answer notices through [`crate::portal`].

use crate::AppState;
use crate::auth::Auth;
use crate::check::parse_json;
use crate::error::{ApiError, Code};
use crate::extract::{ApiBytes, ApiPath, ApiQuery};
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use lists::Action as Can;
use ntd::notice::{NoticeKind, Template};
use ntd::takedown::{CheckRow, Notice, StoredTemplate};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub(crate) struct NoticeQuery {
    case: Option<i64>,
    limit: Option<usize>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<NoticeQuery>,
) -> Result<Json<Vec<Notice>>, ApiError> {
    auth.require(Can::WorkCases)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(state.notices.notices(q.case, limit).await?))
}

pub(crate) async fn get(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(reference): ApiPath<String>,
) -> Result<Json<Notice>, ApiError> {
    auth.require(Can::WorkCases)?;
    state
        .notices
        .notice(&reference)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("notice {reference} not found")))
}

pub(crate) async fn checks(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<CheckRow>>, ApiError> {
    auth.require(Can::WorkCases)?;
    Ok(Json(state.notices.checks(id, 200).await?))
}

pub(crate) async fn templates(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Vec<StoredTemplate>>, ApiError> {
    auth.require(Can::WorkCases)?;
    Ok(Json(state.notices.templates().await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TemplateBody {
    subject: String,
    body: String,
}

fn kind(s: &str) -> Result<NoticeKind, ApiError> {
    s.parse().map_err(|_| {
        ApiError::not_found(format!(
            "no template kind {s:?}: use notice, reminder or escalation"
        ))
    })
}

/// Renders `t` against the sample notice: the check before saving, and the preview.
pub(crate) fn try_render(t: &Template) -> Result<ntd::notice::Rendered, ApiError> {
    ntd::notice::check_template(t).map_err(|e| {
        ApiError::bad(
            Code::InvalidRequest,
            format!("the template does not render: {e}"),
        )
    })
}

pub(crate) async fn save_template(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(k): ApiPath<String>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<Json<StoredTemplate>, ApiError> {
    auth.require(Can::WorkCases)?;
    let kind = kind(&k)?;
    let b: TemplateBody = parse_json(&headers, &body)?;
    let t = Template {
        kind,
        subject: b.subject,
        body: b.body,
    };
    try_render(&t)?;
    state
        .notices
        .save_template(&t, &auth.principal.key_id, state.clock.now())
        .await?;
    state
        .record_audit(
            &auth,
            "templates.save",
            1,
            0,
            serde_json::json!({"kind": kind.name()}),
        )
        .await;
    let saved = state
        .notices
        .templates()
        .await?
        .into_iter()
        .find(|s| s.template.kind == kind)
        .ok_or_else(|| ApiError::internal("the saved template is missing"))?;
    Ok(Json(saved))
}

pub(crate) async fn preview(
    State(_state): State<AppState>,
    auth: Auth,
    ApiPath(k): ApiPath<String>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth.require(Can::WorkCases)?;
    let kind = kind(&k)?;
    let b: TemplateBody = parse_json(&headers, &body)?;
    let r = try_render(&Template {
        kind,
        subject: b.subject,
        body: b.body,
    })?;
    let doc = ntd::notice::sample_doc(kind);
    Ok(Json(serde_json::json!({
        "subject": r.subject,
        "text": r.text,
        "json": serde_json::from_str::<serde_json::Value>(&ntd::notice::json_part(&doc)).unwrap_or_default(),
    })))
}
