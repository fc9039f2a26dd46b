//! Administration (organisations, keys, the audit log) and the operational endpoints
//! (`/healthz`, `/metrics`).

use crate::AppState;
use crate::auth::Auth;
use crate::check::parse_json;
use crate::error::ApiError;
use crate::extract::{ApiBytes, ApiPath, ApiQuery};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lists::keys::NewKey;
use lists::{Action, ApiKey, ApiKeyInfo, AuditRecord, OrgKind, Organisation, Role};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateOrg {
    name: String,
    kind: String,
}

/// `POST /v1/orgs`.
pub(crate) async fn create_org(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<Organisation>), ApiError> {
    auth.require(Action::Administer)?;
    let req: CreateOrg = parse_json(&headers, &body)?;
    let kind = OrgKind::from_str(&req.kind)?;
    let org = state.store.create_org(&req.name, kind).await?;
    Ok((StatusCode::CREATED, Json(org)))
}

/// `GET /v1/orgs`.
pub(crate) async fn list_orgs(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Vec<Organisation>>, ApiError> {
    auth.require(Action::Administer)?;
    Ok(Json(state.store.orgs().await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    org_id: i64,
    role: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    rate_per_sec: Option<u32>,
}

#[derive(Serialize)]
pub(crate) struct CreatedKey {
    /// The whole key: shown this once, never stored.
    key: String,
    #[serde(flatten)]
    info: ApiKeyInfo,
}

/// `POST /v1/keys`: the answer holds the key itself, once.
pub(crate) async fn create_key(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    auth.require(Action::Administer)?;
    let req: CreateKey = parse_json(&headers, &body)?;
    let role = Role::from_str(&req.role)?;
    state.store.org(req.org_id).await?;
    let new = NewKey::generate()?;
    let key = ApiKey {
        id: new.id.clone(),
        org_id: req.org_id,
        role,
        name: req.name,
        secret_sha256: new.secret_sha256,
        rate_per_sec: req.rate_per_sec,
        created_at: lists::Millis::now(),
        revoked_at: None,
    };
    state.store.insert_key(&key).await?;
    state
        .record_audit(
            &auth,
            "key_create",
            1,
            0,
            serde_json::json!({"key": key.id, "role": role.name(), "org": key.org_id}),
        )
        .await;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            key: new.token().to_string(),
            info: ApiKeyInfo::from(&key),
        }),
    ))
}

/// `GET /v1/keys`: never the secrets.
pub(crate) async fn list_keys(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Vec<ApiKeyInfo>>, ApiError> {
    auth.require(Action::Administer)?;
    Ok(Json(
        state
            .store
            .keys()
            .await?
            .iter()
            .map(ApiKeyInfo::from)
            .collect(),
    ))
}

/// `DELETE /v1/keys/{id}`: revokes (the key stays listed, with its revocation time).
pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ApiKeyInfo>, ApiError> {
    auth.require(Action::Administer)?;
    let key = state.store.revoke_key(&id).await?;
    state.keys.forget(&id);
    state
        .record_audit(&auth, "key_revoke", 1, 0, serde_json::json!({"key": id}))
        .await;
    Ok(Json(ApiKeyInfo::from(&key)))
}

/// `GET /v1/categories`: the categories lists may have (everyone who may see lists).
pub(crate) async fn list_categories(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Vec<lists::Category>>, ApiError> {
    auth.require(Action::ListLists)?;
    Ok(Json(state.store.categories().await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateCategory {
    name: String,
}

/// `POST /v1/categories`: adds a category to the extensible set (admins).
pub(crate) async fn create_category(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<Vec<lists::Category>>), ApiError> {
    auth.require(Action::Administer)?;
    let req: CreateCategory = parse_json(&headers, &body)?;
    state
        .store
        .add_category(&lists::Category::new(&req.name)?)
        .await?;
    Ok((StatusCode::CREATED, Json(state.store.categories().await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    #[serde(default)]
    before: Option<i64>,
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Serialize)]
pub(crate) struct AuditOut {
    id: i64,
    at: String,
    #[serde(flatten)]
    record: AuditRecord,
}

/// `GET /v1/audit?before=ID&limit=N`: newest first.
pub(crate) async fn audit(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<Vec<AuditOut>>, ApiError> {
    auth.require(Action::Administer)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad(
            crate::error::Code::InvalidRequest,
            "limit must be 1 to 1000",
        ));
    }
    let rows = state.store.audit(q.before, limit).await?;
    Ok(Json(
        rows.into_iter()
            .map(|(id, record)| AuditOut {
                id,
                at: record.at.rfc3339(),
                record,
            })
            .collect(),
    ))
}

#[derive(Serialize)]
pub(crate) struct Health {
    status: &'static str,
    backend: &'static str,
    index_seq: i64,
    entries: usize,
}

/// `GET /healthz`: no key needed; says nothing about the lists beyond their total size.
pub(crate) async fn healthz(State(state): State<AppState>) -> Json<Health> {
    let snap = state.live.snapshot();
    Json(Health {
        status: "ok",
        backend: state.store.backend(),
        index_seq: snap.seq,
        entries: snap.index.len(),
    })
}

/// `GET /metrics`: Prometheus text. Admin keys only, unless the operator made it public.
pub(crate) async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !state.config.metrics_public {
        let header = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let (principal, _) = state
            .keys
            .authenticate(state.store.as_ref(), header)
            .await?;
        principal.require(Action::Administer)?;
    }
    crate::record_index_gauges(&state.live);
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateOrg {
    /// Where alerts and notices for the organisation go; `null` clears it.
    email: Option<String>,
}

/// An organisation with its contact address.
#[derive(Serialize)]
pub(crate) struct OrgOut {
    #[serde(flatten)]
    org: Organisation,
    email: Option<String>,
}

/// `PATCH /v1/orgs/{id}`: sets the organisation's e-mail address.
pub(crate) async fn update_org(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    ApiBytes(body): ApiBytes,
) -> Result<Json<OrgOut>, ApiError> {
    auth.require(Action::Administer)?;
    let req: UpdateOrg = parse_json(&headers, &body)?;
    state.store.set_org_email(id, req.email.as_deref()).await?;
    Ok(Json(OrgOut {
        org: state.store.org(id).await?,
        email: state.store.org_email(id).await?,
    }))
}

/// `GET /v1/outbox`: the newest queued e-mails and whether they went out.
pub(crate) async fn outbox(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Vec<lists::trust::OutboxMail>>, ApiError> {
    auth.require(Action::Administer)?;
    Ok(Json(state.store.outbox(200).await?))
}
