//! Trust in the lists over HTTP: entry provenance and status for list managers, alerts,
//! disputes, retraction notices.
//!
//! | route | who |
//! |---|---|
//! | `GET /v1/lists/{id}/entries?type=&value=` or `?status=held` | admin, list_manager (own) |
//! | `GET /v1/lists/{id}/entries/{entry}` | admin, list_manager (own) |
//! | `POST /v1/lists/{id}/entries/{entry}/status` `{"status", "reason"}` | admin, list_manager (own) |
//! | `POST /v1/lists/{id}/entries/{entry}/allowlist` `{"allowlist_id", "reason"}` | admin, list_manager (own, and of the allowlist) |
//! | `GET /v1/lists/{id}/conflicts` | admin, list_manager (own) |
//! | `GET /v1/alerts`, `POST /v1/alerts/{id}/ack` | admin (all), list_manager (its lists') |
//! | `POST /v1/disputes` `{"type", "value", "reason"}` | every role, for its own matches |
//! | `GET /v1/disputes` | hosters and analysts: their organisation's; list managers: their lists'; admin: all |
//! | `POST /v1/disputes/{id}/resolve` `{"outcome": "reject"\|"retract"\|"allowlist", ...}` | admin, list_manager (own list) |
//! | `GET /v1/retractions` | every role: its organisation's notices |
//!
//! A hoster never sees an entry: a dispute names the hash *it* sent, and a retraction notice
//! names the list, the reason and the hoster's own matching hashes.

use crate::AppState;
use crate::auth::Auth;
use crate::check::parse_json;
use crate::error::{ApiError, Code};
use crate::extract::{ApiBytes, ApiPath, ApiQuery};
use crate::lists_api::authorised_list;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use index::{HashKind, Key};
use lists::curate::{self, Resolution};
use lists::trust::*;
use lists::{Action, ListInfo, Role};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

async fn entry_on(state: &AppState, list: &ListInfo, entry: i64) -> Result<EntryInfo, ApiError> {
    let e = state.store.entry(entry).await?;
    if e.list_id != list.id {
        return Err(ApiError::not_found(format!(
            "entry {entry} is not on list {}",
            list.id
        )));
    }
    Ok(e)
}

fn parse_key(kind: &str, value: &str) -> Result<Key, ApiError> {
    let kind = HashKind::from_str(kind).map_err(|_| {
        ApiError::bad(
            Code::UnknownHashType,
            format!("unknown type {kind:?} (md5, sha1, sha256 or pdq)"),
        )
    })?;
    Key::parse_hex(kind, value.trim()).map_err(|e| ApiError::bad(Code::InvalidHash, e.to_string()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntriesQuery {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    after: Option<i64>,
    #[serde(default)]
    limit: Option<u32>,
}

/// `GET /v1/lists/{id}/entries`: by hash (every row it ever had on the list) or by status.
pub(crate) async fn entries(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<EntriesQuery>,
) -> Result<Json<Vec<EntryInfo>>, ApiError> {
    let list = authorised_list(&state, &auth, id, |owner| Action::ExportList { owner }).await?;
    match (q.kind, q.value, q.status) {
        (Some(kind), Some(value), None) => Ok(Json(
            state
                .store
                .find_entries(list.id, &parse_key(&kind, &value)?)
                .await?,
        )),
        (None, None, Some(status)) => Ok(Json(
            state
                .store
                .entries_with_status(
                    list.id,
                    EntryStatus::from_str(&status)?,
                    q.after.unwrap_or(0),
                    q.limit.unwrap_or(1000).min(10_000),
                )
                .await?,
        )),
        _ => Err(ApiError::bad(
            Code::InvalidRequest,
            "ask by hash (?type=pdq&value=...) or by status (?status=held|suspended|retracted|active)",
        )),
    }
}

/// One entry with everything a manager needs to judge it.
#[derive(Serialize)]
pub(crate) struct EntryDetail {
    entry: EntryInfo,
    events: Vec<EntryEvent>,
    matches: HitStats,
    disputes: Vec<Dispute>,
}

/// `GET /v1/lists/{id}/entries/{entry}`.
pub(crate) async fn entry(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((id, entry)): ApiPath<(i64, i64)>,
) -> Result<Json<EntryDetail>, ApiError> {
    let list = authorised_list(&state, &auth, id, |owner| Action::ExportList { owner }).await?;
    let entry = entry_on(&state, &list, entry).await?;
    let disputes = state
        .store
        .disputes(
            &DisputeFilter {
                entry_id: Some(entry.id),
                ..DisputeFilter::default()
            },
            1000,
        )
        .await?;
    Ok(Json(EntryDetail {
        events: state.store.entry_events(entry.id).await?,
        matches: state.store.hit_stats(entry.id).await?,
        disputes,
        entry,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: String,
    reason: String,
}

fn need_reason(reason: &str) -> Result<(), ApiError> {
    if reason.trim().is_empty() || reason.len() > 4000 {
        return Err(ApiError::bad(
            Code::InvalidRequest,
            "`reason` is required (1-4000 characters); it is kept with the entry's history",
        ));
    }
    Ok(())
}

/// `POST /v1/lists/{id}/entries/{entry}/status`: activate (approve a held entry, reinstate a
/// suspended one), suspend, or retract (notifies every organisation that matched it).
pub(crate) async fn set_status(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiPath((id, entry)): ApiPath<(i64, i64)>,
    ApiBytes(body): ApiBytes,
) -> Result<Json<EntryEvent>, ApiError> {
    let list = authorised_list(&state, &auth, id, |owner| Action::WriteList { owner }).await?;
    let req: StatusBody = parse_json(&headers, &body)?;
    need_reason(&req.reason)?;
    let entry = entry_on(&state, &list, entry).await?;
    let to = EntryStatus::from_str(&req.status)?;
    let ev = curate::set_status(
        state.store.as_ref(),
        entry.id,
        to,
        &auth.principal.key_id,
        req.reason.trim(),
    )
    .await?;
    state.live.wake();
    Ok(Json(ev))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowBody {
    allowlist_id: i64,
    reason: String,
}

/// `POST /v1/lists/{id}/entries/{entry}/allowlist`: one step from "this is a benign image" to
/// "never match it again": the hash goes on the allowlist and the entry is retracted.
pub(crate) async fn allowlist(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiPath((id, entry)): ApiPath<(i64, i64)>,
    ApiBytes(body): ApiBytes,
) -> Result<Json<EntryEvent>, ApiError> {
    let list = authorised_list(&state, &auth, id, |owner| Action::WriteList { owner }).await?;
    let req: AllowBody = parse_json(&headers, &body)?;
    need_reason(&req.reason)?;
    authorised_list(&state, &auth, req.allowlist_id, |owner| Action::WriteList {
        owner,
    })
    .await?;
    let entry = entry_on(&state, &list, entry).await?;
    let ev = curate::allowlist(
        state.store.as_ref(),
        entry.id,
        req.allowlist_id,
        &auth.principal.key_id,
        req.reason.trim(),
    )
    .await?;
    state.live.wake();
    Ok(Json(ev))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    #[serde(default)]
    after: Option<i64>,
    #[serde(default)]
    limit: Option<u32>,
}

/// `GET /v1/lists/{id}/conflicts`: matches of this list that an allowlist overrode.
pub(crate) async fn conflicts(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Vec<Conflict>>, ApiError> {
    let list = authorised_list(&state, &auth, id, |owner| Action::ExportList { owner }).await?;
    Ok(Json(
        state
            .store
            .conflicts(
                list.id,
                q.after.unwrap_or(0),
                q.limit.unwrap_or(1000).min(10_000),
            )
            .await?,
    ))
}

/// The lists whose alerts and disputes a principal manages: `None` means all (admin).
async fn managed_lists(state: &AppState, auth: &Auth) -> Result<Option<Vec<i64>>, ApiError> {
    match auth.principal.role {
        Role::Admin => Ok(None),
        Role::ListManager => Ok(Some(
            state
                .store
                .lists()
                .await?
                .into_iter()
                .filter(|l| l.owner_org_id == auth.principal.org_id)
                .map(|l| l.id)
                .collect(),
        )),
        _ => Err(ApiError::forbidden(format!(
            "a {} key may not do this",
            auth.principal.role
        ))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertsQuery {
    #[serde(default)]
    all: bool,
    #[serde(default)]
    limit: Option<u32>,
}

/// `GET /v1/alerts`: unacknowledged alerts (all with `?all=true`), newest first.
pub(crate) async fn alerts(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<AlertsQuery>,
) -> Result<Json<Vec<Alert>>, ApiError> {
    let lists = managed_lists(&state, &auth).await?;
    Ok(Json(
        state
            .store
            .alerts(lists.as_deref(), !q.all, q.limit.unwrap_or(200).min(10_000))
            .await?,
    ))
}

/// `POST /v1/alerts/{id}/ack`.
pub(crate) async fn ack_alert(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Alert>, ApiError> {
    let lists = managed_lists(&state, &auth).await?;
    let alert = state.store.alert(id).await?;
    if let Some(ids) = lists
        && !alert.list_id.is_some_and(|l| ids.contains(&l))
    {
        return Err(ApiError::not_found(format!("alert {id}")));
    }
    Ok(Json(
        state.store.ack_alert(id, &auth.principal.key_id).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DisputeBody {
    #[serde(rename = "type")]
    kind: String,
    value: String,
    reason: String,
}

/// A dispute as its opener sees it: no entry, only the list (which the check answer named).
#[derive(Serialize)]
pub(crate) struct DisputeOut {
    id: i64,
    created_at: lists::Millis,
    list_id: i64,
    list: String,
    category: lists::Category,
    #[serde(serialize_with = "ser_key")]
    hash: Key,
    reason: String,
    status: DisputeStatus,
    resolved_at: Option<lists::Millis>,
    resolution: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entry_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    org_id: Option<i64>,
}

async fn dispute_out(state: &AppState, d: Dispute, manager: bool) -> Result<DisputeOut, ApiError> {
    let list = state.store.list(d.list_id).await?;
    Ok(DisputeOut {
        id: d.id,
        created_at: d.created_at,
        list_id: list.id,
        list: list.name,
        category: list.category,
        hash: d.query,
        reason: d.reason,
        status: d.status,
        resolved_at: d.resolved_at,
        resolution: d.resolution,
        entry_id: manager.then_some(d.entry_id),
        org_id: manager.then_some(d.org_id),
    })
}

/// `POST /v1/disputes`: "this match is wrong". The hash must be one that this organisation's
/// checks matched, as the match records say; the answer names only lists a check already named.
/// It costs one hash of the key's rate and is audited. Match records are written a moment after
/// the check answers, so a dispute sent right after its check waits for them (up to 2 s).
pub(crate) async fn open_dispute(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<Vec<DisputeOut>>), ApiError> {
    auth.require(Action::Check)?;
    let req: DisputeBody = parse_json(&headers, &body)?;
    let key = parse_key(&req.kind, &req.value)?;
    crate::check::rate_check(&state, &auth, 1)?;
    let mut tries = 0;
    let made = loop {
        let r = curate::open_disputes(
            state.store.as_ref(),
            auth.principal.org_id,
            &auth.principal.key_id,
            &key,
            &req.reason,
            &state.config.notify,
        )
        .await;
        match r {
            Err(lists::Error::NotFound(_)) if tries < 10 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            other => break other,
        }
    };
    let detail = serde_json::json!({"type": key.kind().name(), "hash": key.to_hex(),
        "disputes": made.as_ref().map(|d| d.iter().map(|d| d.id).collect::<Vec<_>>()).unwrap_or_default()});
    state.record_audit(&auth, "dispute", 1, 0, detail).await;
    let made = made?;
    let mut out = Vec::with_capacity(made.len());
    for d in made {
        out.push(dispute_out(&state, d, false).await?);
    }
    Ok((StatusCode::CREATED, Json(out)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DisputesQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

/// `GET /v1/disputes`.
pub(crate) async fn disputes(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<DisputesQuery>,
) -> Result<Json<Vec<DisputeOut>>, ApiError> {
    auth.require(Action::Check)?;
    let status = q
        .status
        .as_deref()
        .map(DisputeStatus::from_str)
        .transpose()?;
    let (filter, manager) = match auth.principal.role {
        Role::Admin => (DisputeFilter::default(), true),
        Role::ListManager => (
            DisputeFilter {
                list_ids: managed_lists(&state, &auth).await?,
                ..DisputeFilter::default()
            },
            true,
        ),
        Role::Analyst | Role::Hoster | Role::Reporter => (
            DisputeFilter {
                org_id: Some(auth.principal.org_id),
                ..DisputeFilter::default()
            },
            false,
        ),
    };
    let filter = DisputeFilter { status, ..filter };
    let mut out = Vec::new();
    for d in state
        .store
        .disputes(&filter, q.limit.unwrap_or(200).min(10_000))
        .await?
    {
        out.push(dispute_out(&state, d, manager).await?);
    }
    Ok(Json(out))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    outcome: String,
    #[serde(default)]
    allowlist_id: Option<i64>,
    note: String,
}

/// `POST /v1/disputes/{id}/resolve`: `reject` (the entry stays), `retract` (the entry goes and
/// those who matched it are told), or `allowlist` (retract, and put the hash on
/// `allowlist_id`).
pub(crate) async fn resolve_dispute(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    ApiBytes(body): ApiBytes,
) -> Result<Json<DisputeOut>, ApiError> {
    auth.require(Action::ListLists)?;
    let req: ResolveBody = parse_json(&headers, &body)?;
    need_reason(&req.note)?;
    let d = state.store.dispute(id).await?;
    let list = state.store.list(d.list_id).await?;
    if !auth.principal.can(Action::WriteList {
        owner: list.owner_org_id,
    }) {
        return Err(ApiError::not_found(format!("dispute {id}")));
    }
    let resolution = match (req.outcome.as_str(), req.allowlist_id) {
        ("reject", None) => Resolution::Reject,
        ("retract", None) => Resolution::Retract,
        ("allowlist", Some(a)) => {
            authorised_list(&state, &auth, a, |owner| Action::WriteList { owner }).await?;
            Resolution::Allowlist(a)
        }
        _ => {
            return Err(ApiError::bad(
                Code::InvalidRequest,
                "`outcome` is reject, retract, or allowlist (with `allowlist_id`)",
            ));
        }
    };
    let d = curate::resolve_dispute(
        state.store.as_ref(),
        id,
        &resolution,
        &auth.principal.key_id,
        req.note.trim(),
    )
    .await?;
    state.live.wake();
    Ok(Json(dispute_out(&state, d, true).await?))
}

/// `GET /v1/retractions`: this organisation's retraction notices, oldest first; page with
/// `?after=<last id>`.
pub(crate) async fn retractions(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Vec<Retraction>>, ApiError> {
    auth.require(Action::Check)?;
    Ok(Json(
        state
            .store
            .retractions(
                auth.principal.org_id,
                q.after.unwrap_or(0),
                q.limit.unwrap_or(200).min(1000),
            )
            .await?,
    ))
}
