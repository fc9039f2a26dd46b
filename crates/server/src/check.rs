//! `POST /v1/check` and `POST /v1/check/image`: the hosters' endpoints.
//!
//! ```text
//! POST /v1/check
//! {"hashes": [{"type": "md5", "value": "..."}, {"type": "pdq", "value": "..."}], "max_distance": 31}
//!
//! 200 {"results": [{"matched": false},
//!                  {"matched": true, "matches": [{"list_id": 1, "list": "nl-csam", "category": "csam",
//!                                                 "list_version": 3, "distance": 4}]}],
//!      "index_seq": 17}
//! ```
//!
//! An answer names the lists a hash matched, their category and version, and the distance;
//! never the listed hash, and nothing about other entries. A wrong item fails the whole request
//! with a 400 naming its index, so a client never mistakes a typo for "not listed".

use crate::auth::Auth;
use crate::error::{ApiError, Code};
use crate::extract::ApiBytes;
use crate::{AppState, unavailable};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use index::{HashKind, Key};
use lists::check::Match;
use lists::trust::EntryHit;
use lists::{Action, Millis};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckRequest {
    hashes: Vec<HashItem>,
    #[serde(default)]
    max_distance: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HashItem {
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

/// One list a hash matched.
#[derive(Serialize)]
pub(crate) struct MatchOut {
    list_id: i64,
    list: String,
    category: String,
    list_version: i64,
    distance: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    hash_type: Option<&'static str>,
}

impl MatchOut {
    fn from(m: &Match, hash_type: Option<&'static str>) -> MatchOut {
        MatchOut {
            list_id: m.list.id,
            list: m.list.name.clone(),
            category: m.list.category.to_string(),
            list_version: m.list.version,
            distance: m.distance,
            hash_type,
        }
    }
}

#[derive(Serialize)]
struct CheckResult {
    matched: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    matches: Vec<MatchOut>,
}

#[derive(Serialize)]
pub(crate) struct CheckResponse {
    results: Vec<CheckResult>,
    index_seq: i64,
}

/// What a check client needs to know before it starts.
#[derive(Serialize)]
pub(crate) struct CheckInfo {
    /// The change sequence of the index that answers: it grows whenever any list changes, so a
    /// client that stored it with an answer knows whether asking again could answer otherwise.
    index_seq: i64,
    /// Most hashes per `POST /v1/check`.
    max_batch: usize,
    /// The PDQ distance used when a request names none.
    default_distance: u32,
    /// The largest `max_distance` a request may ask for.
    max_distance: u32,
    /// Hashes per second this key may check.
    rate_per_sec: u32,
}

/// `GET /v1/check`: the facts a scanner reads once per run. Reveals nothing about any list.
pub(crate) async fn info(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<CheckInfo>, ApiError> {
    auth.require(Action::Check)?;
    Ok(Json(CheckInfo {
        index_seq: state.live.snapshot().seq,
        max_batch: state.config.max_batch,
        default_distance: state.config.default_radius,
        max_distance: state.config.max_radius.min(index::MAX_RADIUS),
        rate_per_sec: auth.rate_per_sec.unwrap_or(state.config.default_rate),
    }))
}

/// Splits one checked hash's matches into what the answer reports and the match records: if an
/// allowlist matched (`allow`: the allowlist and its listed hash), nothing is reported and every
/// block match is recorded as a conflict; otherwise every block match is reported and recorded.
fn verdict<'a>(
    found: &'a [Match],
    allow: Option<(i64, Key)>,
    query: &Key,
    auth: &Auth,
    at: Millis,
    hits: &mut Vec<EntryHit>,
) -> (Vec<&'a Match>, usize) {
    let mut reported = Vec::new();
    let mut conflicts = 0;
    for m in found.iter().filter(|m| !m.list.allow) {
        hits.push(EntryHit {
            at,
            org_id: auth.principal.org_id,
            key_id: auth.principal.key_id.clone(),
            list_id: m.list.id,
            listed: m.listed,
            query: *query,
            distance: m.distance,
            allowed_by: allow,
        });
        if allow.is_some() {
            conflicts += 1;
        } else {
            reported.push(m);
        }
    }
    (reported, conflicts)
}

/// Parses a JSON body with our error codes (axum's own rejections have none).
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.is_empty() && !ct.starts_with("application/json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::UnsupportedMediaType,
            format!("send JSON (Content-Type: application/json), not {ct:?}"),
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad(Code::MalformedJson, format!("the body is not valid: {e}")))
}

fn radius(state: &AppState, asked: Option<u32>) -> Result<u32, ApiError> {
    let r = asked.unwrap_or(state.config.default_radius);
    if r > state.config.max_radius || r > index::MAX_RADIUS {
        return Err(ApiError::bad(
            Code::RadiusTooLarge,
            format!(
                "max_distance {r} is above this server's cap of {}",
                state.config.max_radius.min(index::MAX_RADIUS)
            ),
        ));
    }
    Ok(r)
}

pub(crate) fn rate_check(state: &AppState, auth: &Auth, cells: usize) -> Result<(), ApiError> {
    let rate = auth.rate_per_sec.unwrap_or(state.config.default_rate);
    let burst = u32::try_from(state.config.max_batch)
        .unwrap_or(u32::MAX)
        .max(rate);
    state.limits.take(
        &auth.principal.key_id,
        rate,
        burst,
        u32::try_from(cells).unwrap_or(u32::MAX),
    )
}

/// Whether the request comes from `schoon scan` (its user agent).
fn from_scanner(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.starts_with("schoon-scan/"))
}

/// The most removals one `POST /v1/check/removals` may report.
const MAX_REMOVALS: u64 = 100_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RemovalsRequest {
    /// Matched items the caller took offline on its own initiative.
    removed: u64,
}

/// The answer to `POST /v1/check/removals`.
#[derive(Serialize)]
pub(crate) struct RemovalsResponse {
    recorded: u64,
}

/// `POST /v1/check/removals`: a hoster says it took `removed` matched items offline on its own
/// initiative (the scanner does after `--quarantine`). Only the count is kept, as an audit
/// record (`own_removal`); the monitor shows it per hoster and month beside the checks and
/// matches, as the hoster's own report. It names no hash and no file.
pub(crate) async fn removals(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<Json<RemovalsResponse>, ApiError> {
    auth.require(Action::Check)?;
    let req: RemovalsRequest = parse_json(&headers, &body)?;
    if req.removed == 0 || req.removed > MAX_REMOVALS {
        return Err(ApiError::bad(
            Code::InvalidRequest,
            format!(
                "`removed` is {}; report between 1 and {MAX_REMOVALS} removals per request",
                req.removed
            ),
        ));
    }
    let mut detail = serde_json::json!({});
    if from_scanner(&headers) {
        detail["client"] = "scanner".into();
    }
    state
        .record_audit(
            &auth,
            "own_removal",
            i64::try_from(req.removed).unwrap_or(i64::MAX),
            0,
            detail,
        )
        .await;
    Ok(Json(RemovalsResponse {
        recorded: req.removed,
    }))
}

/// `POST /v1/check`.
pub(crate) async fn check(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<Json<CheckResponse>, ApiError> {
    auth.require(Action::Check)?;
    let req: CheckRequest = parse_json(&headers, &body)?;
    if req.hashes.is_empty() {
        return Err(ApiError::bad(Code::EmptyBatch, "`hashes` is empty"));
    }
    if req.hashes.len() > state.config.max_batch {
        return Err(ApiError::bad(
            Code::BatchTooLarge,
            format!(
                "{} hashes; this server takes at most {} per request",
                req.hashes.len(),
                state.config.max_batch
            ),
        ));
    }
    let radius = radius(&state, req.max_distance)?;
    let mut keys = Vec::with_capacity(req.hashes.len());
    for (i, item) in req.hashes.iter().enumerate() {
        let kind = HashKind::from_str(&item.kind).map_err(|_| {
            ApiError::bad(
                Code::UnknownHashType,
                format!(
                    "hashes[{i}]: unknown type {:?} (md5, sha1, sha256 or pdq)",
                    item.kind
                ),
            )
            .at(i)
        })?;
        let key = Key::parse_hex(kind, item.value.trim())
            .map_err(|e| ApiError::bad(Code::InvalidHash, format!("hashes[{i}]: {e}")).at(i))?;
        keys.push(key);
    }
    rate_check(&state, &auth, keys.len())?;

    let snap = state.live.snapshot();
    let now = Millis::now();
    let mut results = Vec::with_capacity(keys.len());
    let mut found = Vec::new();
    let mut audit_matches = Vec::new();
    let mut hits = Vec::new();
    let mut n_matched = 0;
    let mut n_allowed = 0;
    for (i, key) in keys.iter().enumerate() {
        snap.check(key, radius, &mut found);
        metrics::counter!("schoon_checked_hashes_total", "type" => key.kind().name()).increment(1);
        let allow = lists::check::allowed(&found).map(|a| (a.list.id, a.listed));
        let (reported, conflicts) = verdict(&found, allow, key, &auth, now, &mut hits);
        if !reported.is_empty() || conflicts > 0 {
            n_matched += u64::from(!reported.is_empty());
            n_allowed += u64::from(conflicts > 0);
            audit_matches.push(serde_json::json!({
                "i": i,
                "type": key.kind().name(),
                "hash": key.to_hex(),
                "lists": reported.iter().map(|m| serde_json::json!({"id": m.list.id, "version": m.list.version, "distance": m.distance})).collect::<Vec<_>>(),
                "allowlisted": conflicts,
            }));
        }
        results.push(CheckResult {
            matched: !reported.is_empty(),
            matches: reported.iter().map(|m| MatchOut::from(m, None)).collect(),
        });
    }
    metrics::counter!("schoon_matched_hashes_total").increment(n_matched);
    metrics::counter!("schoon_allowlisted_hashes_total").increment(n_allowed);
    let mut detail =
        serde_json::json!({ "radius": radius, "index_seq": snap.seq, "matches": audit_matches });
    if from_scanner(&headers) {
        // The monitor counts hosters that run the scanner (proactive participation).
        detail["client"] = "scanner".into();
    }
    if state.config.audit_all_hashes {
        detail["hashes"] = keys
            .iter()
            .map(|k| serde_json::json!([k.kind().name(), k.to_hex()]))
            .collect();
    }
    state
        .record_audit_hits(
            &auth,
            "check",
            keys.len() as i64,
            n_matched as i64,
            detail,
            hits,
        )
        .await;
    Ok(Json(CheckResponse {
        results,
        index_seq: snap.seq,
    }))
}

#[derive(Serialize)]
pub(crate) struct ImageResponse {
    matched: bool,
    matches: Vec<MatchOut>,
    hashes: ImageHashes,
    index_seq: i64,
}

#[derive(Serialize)]
struct ImageHashes {
    md5: String,
    sha1: String,
    sha256: String,
    pdq: Option<String>,
    pdq_quality: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pdq_error: Option<String>,
    format: Option<&'static str>,
    width: Option<usize>,
    height: Option<usize>,
}

/// `POST /v1/check/image`: the body is the image's bytes. They are hashed in memory and
/// dropped at the end of the request; nothing is written anywhere.
pub(crate) async fn check_image(
    State(state): State<AppState>,
    auth: Auth,
    ApiBytes(body): ApiBytes,
) -> Result<Json<ImageResponse>, ApiError> {
    auth.require(Action::Check)?;
    rate_check(&state, &auth, 4)?;
    let radius = radius(&state, None)?;
    let _permit = state
        .image_permits
        .acquire()
        .await
        .map_err(|_| unavailable())?;
    let (digests, perceptual) = tokio::task::spawn_blocking(move || {
        let digests = digest::digest(&body);
        let perceptual = media::decode_rgb(&body, &media::Limits::DEFAULT)
            .map_err(|e| e.to_string())
            .and_then(|img| {
                let px = pdq::Pixels::rgb(&img.data, img.width, img.height)
                    .map_err(|e| e.to_string())?;
                Ok((
                    pdq::Hasher::new().hash(&px),
                    img.format,
                    img.width,
                    img.height,
                ))
            });
        drop(body);
        (digests, perceptual)
    })
    .await
    .map_err(ApiError::internal)?;
    metrics::counter!("schoon_checked_images_total").increment(1);
    let mut queries = vec![
        (Key::new(HashKind::Md5, &digests.md5), "md5"),
        (Key::new(HashKind::Sha1, &digests.sha1), "sha1"),
        (Key::new(HashKind::Sha256, &digests.sha256), "sha256"),
    ];
    let mut hashes = ImageHashes {
        md5: hex::encode(digests.md5),
        sha1: hex::encode(digests.sha1),
        sha256: hex::encode(digests.sha256),
        pdq: None,
        pdq_quality: None,
        pdq_error: None,
        format: None,
        width: None,
        height: None,
    };
    match &perceptual {
        Ok((p, format, width, height)) => {
            queries.push((Ok(Key::pdq(*p.hash.as_bytes())), "pdq"));
            hashes.pdq = Some(p.hash.to_hex());
            hashes.pdq_quality = Some(p.quality);
            hashes.format = Some(format.name());
            hashes.width = Some(*width);
            hashes.height = Some(*height);
        }
        Err(e) => hashes.pdq_error = Some(format!("not hashed perceptually: {e}")),
    }
    let snap = state.live.snapshot();
    let now = Millis::now();
    let mut matches = Vec::new();
    let mut hits = Vec::new();
    let mut all = Vec::with_capacity(queries.len());
    for (key, name) in queries {
        let key = key.map_err(ApiError::internal)?;
        let mut found = Vec::new();
        snap.check(&key, radius, &mut found);
        all.push((key, name, found));
    }
    // One image: if any of its hashes is allowlisted, the image is.
    let allow = all
        .iter()
        .find_map(|(_, _, f)| lists::check::allowed(f).map(|a| (a.list.id, a.listed)));
    for (key, name, found) in &all {
        let (reported, _) = verdict(found, allow, key, &auth, now, &mut hits);
        matches.extend(reported.iter().map(|m| MatchOut::from(m, Some(name))));
    }
    let detail = serde_json::json!({
        "radius": radius,
        "index_seq": snap.seq,
        "matches": matches.iter().map(|m| serde_json::json!({"id": m.list_id, "version": m.list_version, "distance": m.distance, "type": m.hash_type})).collect::<Vec<_>>(),
        "hashes": if !matches.is_empty() || state.config.audit_all_hashes {
            serde_json::json!({"md5": hashes.md5, "sha256": hashes.sha256, "pdq": hashes.pdq})
        } else { serde_json::Value::Null },
    });
    state
        .record_audit_hits(
            &auth,
            "check_image",
            1,
            i64::from(!matches.is_empty()),
            detail,
            hits,
        )
        .await;
    Ok(Json(ImageResponse {
        matched: !matches.is_empty(),
        matches,
        hashes,
        index_seq: snap.seq,
    }))
}
