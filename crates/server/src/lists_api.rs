//! List management: metadata for admins, analysts and owners; entries in and out for owners.
//! Hoster keys get 403 on every route here.

use crate::AppState;
use crate::auth::Auth;
use crate::check::parse_json;
use crate::error::{ApiError, Code};
use crate::extract::{ApiBytes, ApiPath, ApiQuery};
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use index::{HashKind, Key};
use lists::import::{Mode, Parser, Row};
use lists::store::{ErrorLog, ImportOutcome, RowSource, SourceStats};
use lists::{Action, Category, ListInfo, ListVersion, NewList};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// A list as the API shows it.
#[derive(Serialize)]
pub(crate) struct ListOut {
    #[serde(flatten)]
    info: ListInfo,
    entries: Counts,
}

#[derive(Serialize)]
struct Counts {
    md5: u64,
    sha1: u64,
    sha256: u64,
    pdq: u64,
}

async fn list_out(state: &AppState, info: ListInfo) -> Result<ListOut, ApiError> {
    let c = state.store.entry_counts(info.id).await?;
    Ok(ListOut {
        info,
        entries: Counts {
            md5: c[0],
            sha1: c[1],
            sha256: c[2],
            pdq: c[3],
        },
    })
}

/// Loads a list and checks `action` against its owner.
pub(crate) async fn authorised_list(
    state: &AppState,
    auth: &Auth,
    id: i64,
    action: fn(i64) -> Action,
) -> Result<ListInfo, ApiError> {
    // Hosters learn nothing, not even whether the id exists.
    auth.require(Action::ListLists)?;
    let info = state.store.list(id).await?;
    auth.require(action(info.owner_org_id))?;
    Ok(info)
}

/// `GET /v1/lists`.
pub(crate) async fn list_lists(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Vec<ListOut>>, ApiError> {
    auth.require(Action::ListLists)?;
    let mut out = Vec::new();
    for info in state.store.lists().await? {
        if auth.principal.can(Action::ReadList {
            owner: info.owner_org_id,
        }) {
            out.push(list_out(&state, info).await?);
        }
    }
    Ok(Json(out))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateList {
    name: String,
    category: String,
    #[serde(default)]
    owner_org_id: Option<i64>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    source: String,
    /// `block` (the default) or `allow`.
    #[serde(default)]
    purpose: Option<String>,
}

/// `POST /v1/lists`.
pub(crate) async fn create_list(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<ListOut>), ApiError> {
    let req: CreateList = parse_json(&headers, &body)?;
    let owner = req.owner_org_id.unwrap_or(auth.principal.org_id);
    auth.require(Action::CreateList { owner })?;
    let info = state
        .store
        .create_list(&NewList {
            name: req.name,
            owner_org_id: owner,
            category: Category::new(&req.category)?,
            description: req.description,
            source: req.source,
            purpose: req
                .purpose
                .as_deref()
                .map(lists::Purpose::from_str)
                .transpose()?
                .unwrap_or_default(),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(list_out(&state, info).await?)))
}

/// `GET /v1/lists/{id}`.
pub(crate) async fn get_list(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ListOut>, ApiError> {
    let info = authorised_list(&state, &auth, id, |owner| Action::ReadList { owner }).await?;
    Ok(Json(list_out(&state, info).await?))
}

/// `GET /v1/lists/{id}/versions`.
pub(crate) async fn versions(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<ListVersion>>, ApiError> {
    authorised_list(&state, &auth, id, |owner| Action::ReadList { owner }).await?;
    Ok(Json(state.store.versions(id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportQuery {
    #[serde(default)]
    mode: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    skip_invalid: bool,
    #[serde(default)]
    hold_low_quality: bool,
    #[serde(default)]
    note: Option<String>,
}

/// Rows from an HTTP body as it arrives: bytes → lines → [`Parser`].
struct BodySource {
    stream: axum::body::BodyDataStream,
    parser: Parser,
    log: ErrorLog,
    pending: Vec<u8>,
    line: u64,
    done: bool,
}

impl BodySource {
    fn take_line(&mut self, text: &[u8], out: &mut Vec<Row>) {
        self.line += 1;
        let outcome = match std::str::from_utf8(text) {
            Ok(t) => self.parser.line(self.line, t),
            Err(_) => Err(lists::import::LineError {
                line: self.line,
                message: "not UTF-8 text".into(),
            }),
        };
        if let Some(row) = self.log.record(outcome) {
            out.push(row);
        }
    }
}

#[async_trait::async_trait]
impl RowSource for BodySource {
    async fn next_batch(&mut self, max: usize) -> lists::Result<Vec<Row>> {
        let mut out = Vec::with_capacity(max);
        while out.len() < max && !self.done {
            if let Some(nl) = self.pending.iter().position(|&b| b == b'\n') {
                let rest = self.pending.split_off(nl + 1);
                let line = std::mem::replace(&mut self.pending, rest);
                self.take_line(&line[..nl], &mut out);
                continue;
            }
            match self.stream.next().await {
                Some(Ok(chunk)) => self.pending.extend_from_slice(&chunk),
                Some(Err(e)) => return Err(lists::Error::Input(e.to_string())),
                None => {
                    self.done = true;
                    if !self.pending.is_empty() {
                        let last = std::mem::take(&mut self.pending);
                        self.take_line(&last, &mut out);
                    }
                }
            }
        }
        Ok(out)
    }

    fn finish(&mut self) -> lists::Result<SourceStats> {
        self.log.finish()
    }
}

/// `POST /v1/lists/{id}/import?mode=add|replace|remove&type=pdq&skip_invalid=true`: the body
/// is a hash-list file (CSV/TSV with a header, or one hash per line), streamed into the store.
/// The list changes in one transaction or not at all.
pub(crate) async fn import(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: Body,
) -> Result<Json<ImportOutcome>, ApiError> {
    authorised_list(&state, &auth, id, |owner| Action::WriteList { owner }).await?;
    let mode = q
        .mode
        .as_deref()
        .map(Mode::from_str)
        .transpose()?
        .unwrap_or_default();
    let kind = q
        .kind
        .as_deref()
        .map(|k| {
            HashKind::from_str(k).map_err(|_| {
                ApiError::bad(Code::UnknownHashType, format!("unknown hash type {k:?}"))
            })
        })
        .transpose()?;
    let mut source = BodySource {
        stream: body.into_data_stream(),
        parser: Parser::new(kind),
        log: {
            let mut log = ErrorLog::new(q.skip_invalid);
            log.gate.hold_low_quality = q.hold_low_quality;
            log
        },
        pending: Vec::new(),
        line: 0,
        done: false,
    };
    let note = q.note.unwrap_or_else(|| "api import".into());
    let outcome = state
        .store
        .import(id, mode, &auth.principal.key_id, &note, &mut source)
        .await?;
    if outcome.version.is_some() {
        state.live.wake();
    }
    state
        .record_audit(&auth, "import", outcome.source.rows as i64, 0, serde_json::json!({"list": id, "mode": mode.name(), "added": outcome.added, "removed": outcome.removed, "version": outcome.list_version}))
        .await;
    Ok(Json(outcome))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportQuery {
    #[serde(default)]
    version: Option<i64>,
}

/// `GET /v1/lists/{id}/export[?version=V]`: CSV (`type,hash,quality,ref,added_version`),
/// streamed page by page. Only the owner's list managers and admins.
pub(crate) async fn export(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let info = authorised_list(&state, &auth, id, |owner| Action::ExportList { owner }).await?;
    let version = q.version.unwrap_or(info.version);
    if version < 0 || version > info.version {
        return Err(ApiError::not_found(format!(
            "list {id} has versions 0 to {}",
            info.version
        )));
    }
    state
        .record_audit(
            &auth,
            "export",
            0,
            0,
            serde_json::json!({"list": id, "version": version}),
        )
        .await;
    let store = state.store.clone();
    let header_line = Bytes::from_static(b"type,hash,quality,ref,added_version\n");
    let pages = futures_util::stream::unfold(Some(0i64), move |after| {
        let store = store.clone();
        async move {
            let after = after?;
            match store.export_page(id, Some(version), after, 10_000).await {
                Ok(page) if page.is_empty() => None,
                Ok(page) => {
                    let next = page.last().map(|r| r.id);
                    let mut text = String::with_capacity(page.len() * 100);
                    for r in &page {
                        text.push_str(&format!(
                            "{},{},{},{},{}\n",
                            r.key.kind().name(),
                            r.key.to_hex(),
                            r.quality.map(|q| q.to_string()).unwrap_or_default(),
                            r.ext_ref.as_deref().map(csv_field).unwrap_or_default(),
                            r.added_version
                        ));
                    }
                    Some((Ok::<_, std::io::Error>(Bytes::from(text)), next))
                }
                Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
            }
        }
    });
    let body = futures_util::stream::once(async move { Ok(header_line) }).chain(pages);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryQuery {
    #[serde(rename = "type")]
    kind: String,
    hash: String,
}

#[derive(Serialize)]
pub(crate) struct HistoryOut {
    list_id: i64,
    current_version: i64,
    on_list_now: bool,
    presence: Vec<lists::store::Presence>,
}

/// `GET /v1/lists/{id}/history?type=pdq&hash=...`: in which versions the hash was on the
/// list. Owners and admins only (it reveals entries).
pub(crate) async fn history(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<HistoryOut>, ApiError> {
    let info = authorised_list(&state, &auth, id, |owner| Action::ExportList { owner }).await?;
    let kind = HashKind::from_str(&q.kind).map_err(|_| {
        ApiError::bad(
            Code::UnknownHashType,
            format!("unknown hash type {:?}", q.kind),
        )
    })?;
    let key = Key::parse_hex(kind, &q.hash)
        .map_err(|e| ApiError::bad(Code::InvalidHash, e.to_string()))?;
    let presence = state.store.entry_history(id, &key).await?;
    Ok(Json(HistoryOut {
        list_id: id,
        current_version: info.version,
        on_list_now: presence.iter().any(|p| p.removed_version.is_none()),
        presence,
    }))
}
