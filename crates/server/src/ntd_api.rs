//! The notice-and-takedown API: reports in (one or 10,000 at a time), cases, verdicts,
//! attribution and the hosters register.
//!
//! | route | who | what |
//! |---|---|---|
//! | `POST /v1/reports` | reporter, analyst, admin | submit up to 10,000 URLs; each gets an outcome (opened, joined, invalid) |
//! | `GET /v1/reports/{reference}` | the submitting organisation, analyst, admin | what became of a report |
//! | `GET /v1/cases`, `GET /v1/cases/{id}` | analyst, admin | the queue and search; a case with its reports, timeline and attribution |
//! | `POST /v1/cases/{id}/actions` | analyst, admin | a verdict or correction ([`ntd::case::Action`]) |
//! | `POST /v1/cases/{id}/attribute` | analyst, admin | run attribution again |
//! | `GET/POST /v1/hosters`, `GET/PUT /v1/hosters/{id}` | analyst, admin | the hosters register |
//! | `GET /v1/attribution` | analyst, admin | the loaded data; `?host=` attributes a host now |

use crate::AppState;
use crate::auth::Auth;
use crate::check::parse_json;
use crate::error::{ApiError, Code};
use crate::extract::{ApiBytes, ApiPath, ApiQuery};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use lists::{Action as Can, Role};
use ntd::case::{self, Action, CaseFilter, NewReport, Outcome, OutcomeStatus, Submitter};
use ntd::register::HosterFields;
use ntd::{CaseState, Source};
use serde::{Deserialize, Serialize};

impl From<ntd::Error> for ApiError {
    fn from(e: ntd::Error) -> ApiError {
        match e {
            ntd::Error::Invalid(m) => ApiError::bad(Code::InvalidRequest, m),
            ntd::Error::NotFound(m) => ApiError::not_found(format!("{m} not found")),
            ntd::Error::Conflict(m) => ApiError::new(StatusCode::CONFLICT, Code::Conflict, m),
            ntd::Error::Storage(m) => ApiError::internal(m),
        }
    }
}

/// One URL of a submission.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReportItem {
    url: String,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    external_ref: Option<String>,
}

/// `POST /v1/reports`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Submission {
    /// partner (default for reporter keys), crawler, police or hash_check.
    #[serde(default)]
    source: Option<Source>,
    /// The category of every item that names none.
    #[serde(default)]
    category: Option<String>,
    /// The reports.
    #[serde(default)]
    reports: Vec<ReportItem>,
    /// Shorthand: bare URLs with the batch's category.
    #[serde(default)]
    urls: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct SubmissionAnswer {
    received: usize,
    opened: usize,
    joined: usize,
    invalid: usize,
    outcomes: Vec<Outcome>,
}

/// Validates and stores reports; shared by the API and the public form.
pub(crate) async fn intake(
    state: &AppState,
    by: &Submitter,
    reports: Vec<NewReport>,
) -> Result<Vec<Outcome>, ApiError> {
    let categories: Vec<String> = state
        .store
        .categories()
        .await?
        .into_iter()
        .map(|c| c.as_str().to_string())
        .collect();
    let (ok, mut refused) = case::validate(reports, &categories);
    let mut outcomes = if ok.is_empty() {
        Vec::new()
    } else {
        state.cases.submit(by, ok).await?
    };
    outcomes.append(&mut refused);
    outcomes.sort_by_key(|o| o.index);
    for o in &outcomes {
        metrics::counter!("schoon_reports_total", "outcome" => match o.status {
            OutcomeStatus::Opened => "opened",
            OutcomeStatus::Joined => "joined",
            OutcomeStatus::Invalid => "invalid",
        })
        .increment(1);
    }
    state.attribution_wake.notify_one();
    Ok(outcomes)
}

pub(crate) async fn submit(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<Json<SubmissionAnswer>, ApiError> {
    auth.require(Can::SubmitReports)?;
    let sub: Submission = parse_json(&headers, &body)?;
    let source = sub.source.unwrap_or(Source::Partner);
    if source == Source::Public {
        return Err(ApiError::bad(
            Code::InvalidRequest,
            "source \"public\" is for the public report form; use partner, crawler, police or hash_check",
        ));
    }
    let count = sub.reports.len() + sub.urls.len();
    if count == 0 {
        return Err(ApiError::bad(
            Code::EmptyBatch,
            "send at least one report in `reports` (or `urls`)",
        ));
    }
    if count > case::MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::BatchTooLarge,
            format!(
                "{count} reports in one request; at most {} are accepted: split the batch",
                case::MAX_BATCH
            ),
        ));
    }
    let default_category = sub.category.clone();
    let need_category = |c: Option<String>, i: usize| {
        c.or_else(|| default_category.clone()).ok_or_else(|| {
            ApiError::bad(
                Code::InvalidRequest,
                format!("report {i} has no category and the batch names none"),
            )
            .at(i)
        })
    };
    let mut reports = Vec::with_capacity(count);
    for (i, item) in sub.reports.into_iter().enumerate() {
        reports.push(NewReport {
            url: item.url,
            category: need_category(item.category, i)?,
            source,
            contact: None,
            text: item.text,
            external_ref: item.external_ref,
        });
    }
    let offset = reports.len();
    for (i, url) in sub.urls.into_iter().enumerate() {
        reports.push(NewReport {
            url,
            category: need_category(None, offset + i)?,
            source,
            contact: None,
            text: None,
            external_ref: None,
        });
    }
    let by = Submitter {
        actor: auth.principal.key_id.clone(),
        org_id: Some(auth.principal.org_id),
    };
    let started = std::time::Instant::now();
    let mut outcomes = intake(&state, &by, reports).await?;
    if auth.principal.role == Role::Reporter {
        // Reporters learn the outcome and the reference, not the hotline's case numbers.
        for o in &mut outcomes {
            o.case_id = None;
        }
    }
    let count_of = |s: OutcomeStatus| outcomes.iter().filter(|o| o.status == s).count();
    let answer = SubmissionAnswer {
        received: count,
        opened: count_of(OutcomeStatus::Opened),
        joined: count_of(OutcomeStatus::Joined),
        invalid: count_of(OutcomeStatus::Invalid),
        outcomes: Vec::new(),
    };
    tracing::info!(
        key = %auth.principal.key_id,
        received = count,
        opened = answer.opened,
        joined = answer.joined,
        invalid = answer.invalid,
        ms = started.elapsed().as_millis() as u64,
        "reports submitted"
    );
    state
        .record_audit(
            &auth,
            "reports.submit",
            count as i64,
            0,
            serde_json::json!({"opened": answer.opened, "joined": answer.joined, "invalid": answer.invalid}),
        )
        .await;
    Ok(Json(SubmissionAnswer { outcomes, ..answer }))
}

#[derive(Debug, Serialize)]
pub(crate) struct ReportStatus {
    reference: String,
    url: String,
    received_at: lists::Millis,
    source: Source,
    category: String,
    /// Where the case of this report stands.
    state: CaseState,
}

pub(crate) async fn report_status(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(reference): ApiPath<String>,
) -> Result<Json<ReportStatus>, ApiError> {
    auth.require(Can::SubmitReports)?;
    let not_found = || ApiError::not_found(format!("no report {reference:?} of yours"));
    let report = state
        .cases
        .report_by_reference(&reference)
        .await?
        .ok_or_else(not_found)?;
    let mine = report.org_id == Some(auth.principal.org_id);
    if !mine && !auth.principal.can(Can::WorkCases) {
        return Err(not_found());
    }
    let case = state
        .cases
        .case(report.case_id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(ReportStatus {
        reference: report.reference,
        url: report.url,
        received_at: report.at,
        source: report.source,
        category: report.category,
        state: case.state,
    }))
}

/// `GET /v1/cases` query.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CaseQuery {
    /// Comma-separated states; `queue` for new and assessing.
    pub(crate) state: Option<String>,
    pub(crate) category: Option<String>,
    pub(crate) source: Option<String>,
    pub(crate) hoster: Option<i64>,
    /// Text the URL contains.
    pub(crate) q: Option<String>,
    /// `oldest` (default for the queue) or `newest`.
    pub(crate) order: Option<String>,
    pub(crate) limit: Option<i64>,
    pub(crate) offset: Option<i64>,
}

impl CaseQuery {
    pub(crate) fn filter(&self) -> Result<CaseFilter, ApiError> {
        let mut states = Vec::new();
        if let Some(s) = self.state.as_deref().filter(|s| !s.is_empty()) {
            for part in s.split(',') {
                if part == "queue" {
                    states.extend(CaseState::QUEUE);
                } else if part == "open" {
                    states.extend(CaseState::ALL.into_iter().filter(|s| s.is_open()));
                } else {
                    states.push(part.parse()?);
                }
            }
        }
        let queue = states.iter().all(|s| CaseState::QUEUE.contains(s)) && !states.is_empty();
        let oldest_first = match self.order.as_deref() {
            None | Some("") => queue,
            Some("oldest") => true,
            Some("newest") => false,
            Some(o) => {
                return Err(ApiError::bad(
                    Code::InvalidRequest,
                    format!("order {o:?}: oldest or newest"),
                ));
            }
        };
        Ok(CaseFilter {
            states,
            category: self.category.clone().filter(|c| !c.is_empty()),
            source: self
                .source
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(str::parse)
                .transpose()?,
            hoster_id: self.hoster,
            url_contains: self.q.clone().filter(|q| !q.trim().is_empty()),
            oldest_first,
            limit: self.limit.unwrap_or(100).clamp(1, 1000),
            offset: self.offset.unwrap_or(0).max(0),
        })
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct CaseList {
    total: i64,
    cases: Vec<ntd::case::Case>,
}

pub(crate) async fn list_cases(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<CaseQuery>,
) -> Result<Json<CaseList>, ApiError> {
    auth.require(Can::WorkCases)?;
    let (cases, total) = state.cases.cases(&q.filter()?).await?;
    Ok(Json(CaseList { total, cases }))
}

/// A case with everything the case page shows.
#[derive(Debug, Serialize)]
pub(crate) struct CaseDetail {
    #[serde(flatten)]
    pub(crate) case: ntd::case::Case,
    pub(crate) reports_list: Vec<ntd::case::Report>,
    pub(crate) timeline: Vec<ntd::case::Event>,
    pub(crate) attribution: Option<ntd::attribution::Attribution>,
}

pub(crate) async fn load_case(state: &AppState, id: i64) -> Result<CaseDetail, ApiError> {
    let case = state
        .cases
        .case(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no case {id}")))?;
    Ok(CaseDetail {
        reports_list: state.cases.reports(id).await?,
        timeline: state.cases.events(id).await?,
        attribution: state.cases.attribution(id).await?,
        case,
    })
}

pub(crate) async fn get_case(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<CaseDetail>, ApiError> {
    auth.require(Can::WorkCases)?;
    Ok(Json(load_case(&state, id).await?))
}

pub(crate) async fn act(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<Json<ntd::case::Case>, ApiError> {
    auth.require(Can::WorkCases)?;
    let action: Action = parse_json(&headers, &body)?;
    let case = state.cases.act(id, &auth.principal.key_id, &action).await?;
    state
        .record_audit(
            &auth,
            "cases.act",
            1,
            0,
            serde_json::json!({"case": id, "action": action}),
        )
        .await;
    Ok(Json(case))
}

pub(crate) async fn attribute(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    auth.require(Can::WorkCases)?;
    state
        .cases
        .request_attribution(id, &auth.principal.key_id)
        .await?;
    state.attribution_wake.notify_one();
    Ok(StatusCode::ACCEPTED)
}

pub(crate) async fn list_hosters(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Vec<ntd::register::Hoster>>, ApiError> {
    auth.require(Can::WorkCases)?;
    Ok(Json(state.cases.hosters().await?))
}

pub(crate) async fn get_hoster(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ntd::register::Hoster>, ApiError> {
    auth.require(Can::WorkCases)?;
    Ok(Json(state.cases.hoster(id).await?.ok_or_else(|| {
        ApiError::not_found(format!("no hoster {id}"))
    })?))
}

pub(crate) async fn create_hoster(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<ntd::register::Hoster>), ApiError> {
    auth.require(Can::WorkCases)?;
    let fields: HosterFields = parse_json(&headers, &body)?;
    let h = state
        .cases
        .create_hoster(&fields.check()?, &auth.principal.key_id)
        .await?;
    state
        .record_audit(
            &auth,
            "hosters.create",
            1,
            0,
            serde_json::json!({"hoster": h.id}),
        )
        .await;
    Ok((StatusCode::CREATED, Json(h)))
}

pub(crate) async fn update_hoster(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<Json<ntd::register::Hoster>, ApiError> {
    auth.require(Can::WorkCases)?;
    let fields: HosterFields = parse_json(&headers, &body)?;
    let h = state
        .cases
        .update_hoster(id, &fields.check()?, &auth.principal.key_id)
        .await?;
    state
        .record_audit(
            &auth,
            "hosters.update",
            1,
            0,
            serde_json::json!({"hoster": id}),
        )
        .await;
    Ok(Json(h))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AttributionQuery {
    host: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct AttributionInfo {
    sources: Vec<ntd::attribution::DataSource>,
    asn_ranges: usize,
    networks: usize,
    autnums: usize,
    hosters: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    lookup: Option<ntd::attribution::Attribution>,
}

pub(crate) async fn attribution(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<AttributionQuery>,
) -> Result<Json<AttributionInfo>, ApiError> {
    auth.require(Can::WorkCases)?;
    let attributor = state.engine.attributor().await?;
    let (asn_ranges, networks, autnums) = attributor.sizes();
    let lookup = match q.host {
        Some(h) => {
            let url = ntd::urls::normalise(&h)
                .map_err(|e| ApiError::bad(Code::InvalidRequest, e.to_string()))?;
            Some(state.engine.attribute_host(url.host()).await?)
        }
        None => None,
    };
    Ok(Json(AttributionInfo {
        sources: state.cases.attribution_sources().await?,
        asn_ranges,
        networks,
        autnums,
        hosters: attributor.hosters().len(),
        lookup,
    }))
}
