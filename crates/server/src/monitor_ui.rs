//! The monitor for analysts, and "comply or explain" for hosters.
//!
//! | route | who | what |
//! |---|---|---|
//! | `GET /ui/monitor` | analyst | open cases past the norm, hosters trending worse, the figures with drill-down |
//! | `GET /ui/monitor/cases?period=&hoster=&category=&which=` | analyst | the cases behind a figure |
//! | `GET /ui/monitor/list`, `POST /ui/monitor/runs`, `POST .../runs/{id}/decide`, `POST .../explanations/{id}/review` | analyst | the non-cooperation list: run the rules, approve, review explanations |
//! | `POST /portal/explanation` | hoster (portal session) | explain a listing |
//! | `GET /v1/monitor/figures?period=` | analyst, admin | the published figures as JSON |
//! | `GET /v1/monitor/overdue` | analyst, admin | notified cases past the norm |
//! | `GET/POST /v1/monitor/runs`, `GET /v1/monitor/runs/{id}`, `POST .../decision` | analyst, admin | runs of the rules and their approval |
//! | `GET /v1/monitor/listings`, `/v1/monitor/explanations`, `POST .../{id}/review`, `GET /v1/monitor/events` | analyst, admin | the list, explanations, history |
//! | `GET/POST /v1/portal/explanation` | hoster key | the caller's listing; submit an explanation |
//!
//! The flow (see [`monitor::listing`]): a run proposes; an analyst approves, which lists the
//! hosters and queues one e-mail each (with a signed portal link) in the same transaction;
//! the hoster explains in the portal; an analyst approves the explanation and it appears
//! beside the entry on `/transparency/list`.

use crate::AppState;
use crate::auth::Auth;
use crate::check::parse_json;
use crate::error::ApiError;
use crate::extract::{ApiBytes, ApiPath, ApiQuery};
use crate::pages::{Analyst, Nav, api_error_page};
use crate::portal::{PortalHoster, hoster_of_key};
use crate::transparency::{self, Row, enc, fmt_share};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use lists::trust::NewMail;
use lists::{Action as Can, Millis};
use monitor::listing::ProposalAction;
use monitor::store::{Drill, DrillQuery, Explanation, ExplanationStatus, ListEvent, NewRun, Run};
use monitor::{Filter, Month, Period, propose};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// How long the portal link in a listing e-mail works.
const LINK_DAYS: i64 = 30;

/// The page routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui/monitor", get(dashboard))
        .route("/ui/monitor/cases", get(drill_page))
        .route("/ui/monitor/list", get(list_page))
        .route("/ui/monitor/runs", post(run_form))
        .route("/ui/monitor/runs/{id}/decide", post(decide_form))
        .route("/ui/monitor/explanations/{id}/review", post(review_form))
        .route("/portal/explanation", post(portal_explain))
}

// ---------------------------------------------------------------------------------------
// The domain steps, shared by the pages and the API.

/// Runs the rules over their window, as of now, and saves the proposal.
pub(crate) async fn run_rules(state: &AppState, by: &str) -> Result<Run, ApiError> {
    let now = state.clock.now();
    let days = i64::from(state.rules.window_days);
    let window = Period::custom(Millis(now.0 - days * 86_400_000), Millis(now.0 + 1))
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let summary = state.monitor.summary(&window, now).await?;
    let listed: BTreeSet<i64> = state
        .monitor
        .listings(true)
        .await?
        .into_iter()
        .map(|l| l.hoster_id)
        .collect();
    let proposals = propose(&summary, &state.rules, &listed);
    let run = state
        .monitor
        .save_run(&NewRun {
            at: now,
            by: by.to_string(),
            window,
            rules: state.rules.clone(),
            proposals,
        })
        .await?;
    tracing::info!(
        run = run.id,
        proposals = run.proposals.len(),
        by,
        "non-cooperation rules run"
    );
    Ok(run)
}

/// Approves or discards a run; approving e-mails every newly listed hoster.
pub(crate) async fn decide(
    state: &AppState,
    id: i64,
    approve: bool,
    actor: &str,
) -> Result<Run, ApiError> {
    let run = state.monitor.run(id).await?;
    let mut mails = Vec::new();
    if approve {
        let secret = state.notices.secret("portal").await?;
        let now = state.clock.now();
        for p in &run.proposals {
            if p.proposal.action != ProposalAction::List {
                continue;
            }
            let Some(h) = state.cases.hoster(p.proposal.hoster_id).await? else {
                continue;
            };
            if h.abuse.is_empty() {
                tracing::warn!(hoster = %h.name, "listed hoster has no abuse address in the register: no e-mail");
                continue;
            }
            let token = ntd::notice::portal_token(
                secret.as_bytes(),
                h.id,
                Millis(now.0 + LINK_DAYS * 86_400_000),
            );
            mails.push(listing_mail(
                state,
                run.id,
                &h.name,
                h.id,
                &h.abuse,
                &p.proposal.reasons,
                &token,
            ));
        }
    }
    let run = state
        .monitor
        .decide_run(id, approve, actor, state.clock.now(), &mails)
        .await?;
    state.monitor_cache.clear();
    tracing::info!(
        run = id,
        approve,
        mails = mails.len(),
        actor,
        "non-cooperation run decided"
    );
    Ok(run)
}

fn listing_mail(
    state: &AppState,
    run: i64,
    name: &str,
    hoster_id: i64,
    to: &[String],
    reasons: &[monitor::Reason],
    token: &str,
) -> NewMail {
    let base = state.portal_base.trim_end_matches('/');
    let hotline = &state.hotline_name;
    let reasons_text: String = reasons.iter().map(|r| format!("  - {r}\n")).collect();
    let rules_text: String = state
        .rules
        .describe()
        .iter()
        .map(|r| format!("  - {r}\n"))
        .collect();
    let body = format!(
        "Dear abuse desk of {name},\n\n\
         {hotline} publishes a list of hosting providers that do not remove reported material in \
         time. An analyst has approved placing {name} on that list, for these reasons:\n\n\
         {reasons_text}\n\
         The rules are:\n\n{rules_text}\n\
         You may publish an explanation beside your entry (\"comply or explain\"). Submit it in \
         the hoster portal; an analyst reads it before it is shown:\n\n  {base}/portal/t/{token}\n\n\
         The list: {base}/transparency/list\n\
         When your figures meet the rules again, a later review takes {name} off the list.\n\n\
         -- \n{hotline}\n"
    );
    NewMail {
        reference: format!("listing-{run}-{hoster_id}"),
        to: to.to_vec(),
        subject: format!("{hotline}: {name} is on the list of non-cooperating hosting providers"),
        body,
        json: Some(
            serde_json::json!({
                "schema": "schoon-listing/1",
                "hoster_id": hoster_id,
                "run": run,
                "reasons": reasons,
                "portal": format!("{base}/portal/t/{token}"),
            })
            .to_string(),
        ),
    }
}

// ---------------------------------------------------------------------------------------
// JSON API

#[derive(Debug, Deserialize)]
pub(crate) struct PeriodQuery {
    period: Option<String>,
    limit: Option<u32>,
    status: Option<String>,
    hoster: Option<i64>,
}

pub(crate) async fn api_figures(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> Result<Json<transparency::Published>, ApiError> {
    auth.require(Can::WorkCases)?;
    let period = transparency::parse_period(q.period.as_deref(), state.clock.now())?;
    Ok(Json(transparency::published(&state, &period).await?))
}

pub(crate) async fn api_overdue(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> Result<Json<Vec<monitor::CaseFacts>>, ApiError> {
    auth.require(Can::WorkCases)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(
        state
            .monitor
            .overdue(state.clock.now(), monitor::NORM_MS, limit)
            .await?,
    ))
}

pub(crate) async fn api_runs(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> Result<Json<Vec<Run>>, ApiError> {
    auth.require(Can::WorkCases)?;
    Ok(Json(
        state
            .monitor
            .runs(q.limit.unwrap_or(20).clamp(1, 200))
            .await?,
    ))
}

pub(crate) async fn api_run(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<(axum::http::StatusCode, Json<Run>), ApiError> {
    auth.require(Can::WorkCases)?;
    let run = run_rules(&state, &auth.principal.key_id).await?;
    state
        .record_audit(
            &auth,
            "monitor_run",
            run.proposals.len() as i64,
            0,
            serde_json::json!({"run": run.id}),
        )
        .await;
    Ok((axum::http::StatusCode::CREATED, Json(run)))
}

pub(crate) async fn api_get_run(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Run>, ApiError> {
    auth.require(Can::WorkCases)?;
    Ok(Json(state.monitor.run(id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Decision {
    approve: bool,
}

pub(crate) async fn api_decide(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<Json<Run>, ApiError> {
    auth.require(Can::WorkCases)?;
    let d: Decision = parse_json(&headers, &body)?;
    let run = decide(&state, id, d.approve, &auth.principal.key_id).await?;
    state
        .record_audit(
            &auth,
            "monitor_decide",
            1,
            0,
            serde_json::json!({"run": id, "approve": d.approve}),
        )
        .await;
    Ok(Json(run))
}

pub(crate) async fn api_listings(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> Result<Json<Vec<monitor::store::Listing>>, ApiError> {
    auth.require(Can::WorkCases)?;
    let current = q.status.as_deref() != Some("all");
    Ok(Json(state.monitor.listings(current).await?))
}

pub(crate) async fn api_explanations(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> Result<Json<Vec<Explanation>>, ApiError> {
    auth.require(Can::WorkCases)?;
    let status = match q.status.as_deref() {
        None | Some("all") => None,
        Some(s) => Some(ExplanationStatus::parse(s).ok_or_else(|| {
            ApiError::bad(
                crate::error::Code::InvalidRequest,
                format!("status {s:?}: pending, approved, rejected or all"),
            )
        })?),
    };
    Ok(Json(state.monitor.explanations(status).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Review {
    approve: bool,
    #[serde(default)]
    note: Option<String>,
}

pub(crate) async fn api_review(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<Json<Explanation>, ApiError> {
    auth.require(Can::WorkCases)?;
    let r: Review = parse_json(&headers, &body)?;
    let e = state
        .monitor
        .review_explanation(
            id,
            r.approve,
            &auth.principal.key_id,
            r.note.as_deref().map(str::trim).filter(|n| !n.is_empty()),
            state.clock.now(),
        )
        .await?;
    state.monitor_cache.clear();
    Ok(Json(e))
}

pub(crate) async fn api_events(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> Result<Json<Vec<ListEvent>>, ApiError> {
    auth.require(Can::WorkCases)?;
    Ok(Json(
        state
            .monitor
            .list_events(q.hoster, q.limit.unwrap_or(100).clamp(1, 1000))
            .await?,
    ))
}

pub(crate) async fn api_portal_listing(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<serde_json::Value>, ApiError> {
    let h = hoster_of_key(&state, &auth).await?;
    let listing = state.monitor.listing_of(h.id).await?;
    let explanations = state.monitor.explanations_of(h.id).await?;
    Ok(Json(
        serde_json::json!({"listing": listing, "explanations": explanations}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExplainBody {
    text: String,
}

pub(crate) async fn api_portal_explain(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<(axum::http::StatusCode, Json<Explanation>), ApiError> {
    let h = hoster_of_key(&state, &auth).await?;
    let b: ExplainBody = parse_json(&headers, &body)?;
    let e = state
        .monitor
        .submit_explanation(
            h.id,
            &b.text,
            &format!("hoster:{}", auth.principal.key_id),
            state.clock.now(),
        )
        .await?;
    Ok((axum::http::StatusCode::CREATED, Json(e)))
}

// ---------------------------------------------------------------------------------------
// Pages

fn nav() -> Nav {
    Nav {
        signed_in: true,
        current: "monitor",
    }
}

fn when(m: Millis) -> String {
    ntd::notice::format_datetime(m)
}

/// A case behind a figure, formatted.
#[derive(Debug)]
struct CaseLine {
    id: i64,
    hoster: String,
    hoster_id: i64,
    category: String,
    url: String,
    notified: String,
    removed: String,
    hours: String,
    reminded: bool,
    escalated: bool,
}

fn lines(
    cases: Vec<monitor::CaseFacts>,
    names: &BTreeMap<i64, String>,
    now: Millis,
) -> Vec<CaseLine> {
    cases
        .into_iter()
        .map(|c| {
            let end = c.removed_at.filter(|r| *r <= now).unwrap_or(now);
            CaseLine {
                id: c.case_id,
                hoster: names.get(&c.hoster_id).cloned().unwrap_or_default(),
                hoster_id: c.hoster_id,
                category: c.category,
                url: c.url,
                notified: when(c.notified_at),
                removed: c
                    .removed_at
                    .filter(|r| *r <= now)
                    .map(when)
                    .unwrap_or_default(),
                hours: format!("{:.1}", (end.0 - c.notified_at.0) as f64 / 3_600_000.0),
                reminded: c.reminded_at.is_some_and(|t| t <= now),
                escalated: c.escalated_at.is_some_and(|t| t <= now),
            }
        })
        .collect()
}

async fn names(state: &AppState) -> Result<BTreeMap<i64, String>, ApiError> {
    Ok(state
        .cases
        .hosters()
        .await?
        .into_iter()
        .map(|h| (h.id, h.fields.name))
        .collect())
}

/// A hoster whose share within 24 h fell.
#[derive(Debug)]
struct Trend {
    id: i64,
    name: String,
    before: String,
    recent: String,
    drop_points: String,
    recent_urls: u64,
    recent_slug: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "monitor.html")]
struct DashboardPage {
    nav: Nav,
    period: String,
    label: String,
    choices: Vec<transparency::Choice>,
    sector: Row,
    rows: Vec<Row>,
    overdue: Vec<CaseLine>,
    overdue_more: bool,
    trends: Vec<Trend>,
    recent_label: String,
    before_label: String,
    listed: usize,
    pending: usize,
    proposed: usize,
}

#[derive(Debug, Deserialize)]
struct DashQuery {
    period: Option<String>,
}

async fn dashboard(
    State(state): State<AppState>,
    _a: Analyst,
    Query(q): Query<DashQuery>,
) -> Response {
    build_dashboard(&state, q)
        .await
        .map_or_else(api_error_page, IntoResponse::into_response)
}

/// Three months ending with this one, and the three before.
fn trend_periods(now: Millis) -> (Period, Period) {
    let this = Month::of(now);
    let first_recent = this.prev().prev();
    let first_before = first_recent.prev().prev().prev();
    let recent = Period::custom(first_recent.start(), this.end()).unwrap_or_else(|_| this.period());
    let before = Period::custom(first_before.start(), first_recent.start())
        .unwrap_or_else(|_| first_before.period());
    (recent, before)
}

async fn build_dashboard(state: &AppState, q: DashQuery) -> Result<DashboardPage, ApiError> {
    let now = state.clock.now();
    let period = transparency::parse_period(q.period.as_deref(), now)?;
    let p = transparency::published(state, &period).await?;
    let names = names(state).await?;
    let overdue = state.monitor.overdue(now, monitor::NORM_MS, 51).await?;
    let overdue_more = overdue.len() > 50;
    let overdue = lines(overdue.into_iter().take(50).collect(), &names, now);
    let (recent_p, before_p) = trend_periods(now);
    let recent = transparency::summary(state, &recent_p).await?;
    let before = transparency::summary(state, &before_p).await?;
    let all = Filter::all();
    let before_f = before.per_hoster(&all);
    let mut trends: Vec<(f64, Trend)> = recent
        .per_hoster(&all)
        .into_iter()
        .filter_map(|(id, r)| {
            let b = before_f.get(&id)?;
            let (rs, bs) = (r.share_within_24h?, b.share_within_24h?);
            let judged = |f: &monitor::Figures| f.urls - f.undecided_24h;
            if judged(&r) < 3 || judged(b) < 3 || rs > bs - 0.10 {
                return None;
            }
            Some((
                bs - rs,
                Trend {
                    id,
                    name: names.get(&id).cloned().unwrap_or_default(),
                    before: fmt_share(Some(bs)),
                    recent: fmt_share(Some(rs)),
                    drop_points: format!("{:.0}", (bs - rs) * 100.0),
                    recent_urls: r.urls,
                    recent_slug: recent_p.slug(),
                },
            ))
        })
        .collect();
    trends.sort_by(|a, b| b.0.total_cmp(&a.0));
    let listed = state.monitor.listings(true).await?.len();
    let pending = state
        .monitor
        .explanations(Some(ExplanationStatus::Pending))
        .await?
        .len();
    let proposed = state
        .monitor
        .runs(20)
        .await?
        .iter()
        .filter(|r| r.status == monitor::store::RunStatus::Proposed)
        .count();
    Ok(DashboardPage {
        nav: nav(),
        choices: transparency::choices(now, &period),
        sector: Row::new(0, "Sector", false, &p.sector),
        rows: p
            .hosters
            .iter()
            .map(|h| Row::new(h.hoster_id, &h.hoster, h.listed, &h.figures))
            .collect(),
        overdue,
        overdue_more,
        trends: trends.into_iter().map(|(_, t)| t).collect(),
        recent_label: recent_p.label(),
        before_label: before_p.label(),
        listed,
        pending,
        proposed,
        period: p.period,
        label: p.label,
    })
}

#[derive(Debug, Deserialize)]
struct DrillParams {
    period: Option<String>,
    hoster: Option<String>,
    category: Option<String>,
    which: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "monitor_cases.html")]
struct DrillPage {
    nav: Nav,
    period: String,
    label: String,
    hoster: String,
    hoster_q: String,
    category: String,
    which: String,
    kinds: Vec<(&'static str, bool)>,
    cases: Vec<CaseLine>,
    limit: u32,
}

async fn drill_page(
    State(state): State<AppState>,
    _a: Analyst,
    Query(q): Query<DrillParams>,
) -> Response {
    let build = async {
        let now = state.clock.now();
        let period = transparency::parse_period(q.period.as_deref(), now)?;
        let hoster = q
            .hoster
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<i64>().map_err(|_| {
                    ApiError::bad(crate::error::Code::InvalidRequest, "hoster is a number")
                })
            })
            .transpose()?;
        let which = match q.which.as_deref().filter(|s| !s.is_empty()) {
            None => Drill::All,
            Some(w) => Drill::parse(w).ok_or_else(|| {
                ApiError::bad(
                    crate::error::Code::InvalidRequest,
                    format!("unknown figure {w:?}"),
                )
            })?,
        };
        let category = q.category.clone().filter(|c| !c.is_empty());
        let limit = 500;
        let cases = state
            .monitor
            .cases_behind(&DrillQuery {
                period,
                now,
                hoster,
                category: category.clone(),
                which,
                limit,
            })
            .await?;
        let names = names(&state).await?;
        Ok::<_, ApiError>(DrillPage {
            nav: nav(),
            period: period.slug(),
            label: period.label(),
            hoster: hoster
                .and_then(|h| names.get(&h).cloned())
                .unwrap_or_else(|| "all hosters".into()),
            hoster_q: hoster.map(|h| h.to_string()).unwrap_or_default(),
            category: category.unwrap_or_default(),
            which: which.as_str().into(),
            kinds: Drill::ALL
                .iter()
                .map(|d| (d.as_str(), *d == which))
                .collect(),
            cases: lines(cases, &names, now),
            limit,
        })
    };
    build
        .await
        .map_or_else(api_error_page, IntoResponse::into_response)
}

/// A run, formatted.
#[derive(Debug)]
struct RunView {
    id: i64,
    at: String,
    by: String,
    window: String,
    status: &'static str,
    decided: String,
    proposals: Vec<ProposalView>,
}

/// One proposal of a run, formatted.
#[derive(Debug)]
struct ProposalView {
    hoster_id: i64,
    name: String,
    action: &'static str,
    reasons: Vec<String>,
    share: String,
    urls: u64,
}

#[derive(Template, WebTemplate)]
#[template(path = "monitor_list.html")]
struct ListPage {
    nav: Nav,
    runs: Vec<RunView>,
    entries: Vec<transparency::Entry>,
    pending: Vec<(i64, String, String, String)>,
    events: Vec<(String, String, String, String, String)>,
    rules: Vec<String>,
    done: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DoneQuery {
    done: Option<String>,
    error: Option<String>,
}

async fn list_page(
    State(state): State<AppState>,
    _a: Analyst,
    Query(q): Query<DoneQuery>,
) -> Response {
    let build = async {
        let runs = state.monitor.runs(10).await?;
        let current = state.monitor.listings(true).await?;
        let pending = state
            .monitor
            .explanations(Some(ExplanationStatus::Pending))
            .await?;
        let events = state.monitor.list_events(None, 50).await?;
        Ok::<_, ApiError>(ListPage {
            nav: nav(),
            runs: runs
                .into_iter()
                .map(|r| RunView {
                    id: r.id,
                    at: when(r.at),
                    by: r.by,
                    window: r.window.label(),
                    status: r.status.as_str(),
                    decided: match (r.decided_by, r.decided_at) {
                        (Some(b), Some(t)) => format!("{} by {b}", when(t)),
                        _ => String::new(),
                    },
                    proposals: r
                        .proposals
                        .into_iter()
                        .map(|p| ProposalView {
                            hoster_id: p.proposal.hoster_id,
                            name: p.hoster_name,
                            action: p.proposal.action.as_str(),
                            reasons: p.proposal.reasons.iter().map(ToString::to_string).collect(),
                            share: fmt_share(p.proposal.figures.share_within_24h),
                            urls: p.proposal.figures.urls,
                        })
                        .collect(),
                })
                .collect(),
            entries: transparency::entries(&current),
            pending: pending
                .into_iter()
                .map(|e| (e.id, e.hoster_name, when(e.submitted_at), e.text))
                .collect(),
            events: events
                .into_iter()
                .map(|e| (when(e.at), e.hoster_name, e.kind, e.actor, e.detail))
                .collect(),
            rules: state.rules.describe(),
            done: q.done,
            error: q.error,
        })
    };
    build
        .await
        .map_or_else(api_error_page, IntoResponse::into_response)
}

fn back(r: Result<String, ApiError>) -> Response {
    match r {
        Ok(msg) => Redirect::to(&format!("/ui/monitor/list?done={}", enc(&msg))).into_response(),
        Err(e) => {
            Redirect::to(&format!("/ui/monitor/list?error={}", enc(&e.message))).into_response()
        }
    }
}

async fn run_form(State(state): State<AppState>, Analyst(p): Analyst) -> Response {
    back(
        run_rules(&state, &p.key_id)
            .await
            .map(|r| format!("Run {} proposes {} change(s).", r.id, r.proposals.len())),
    )
}

#[derive(Debug, Deserialize)]
struct DecideForm {
    decision: String,
}

async fn decide_form(
    State(state): State<AppState>,
    Analyst(p): Analyst,
    Path(id): Path<i64>,
    Form(f): Form<DecideForm>,
) -> Response {
    let approve = f.decision == "approve";
    back(decide(&state, id, approve, &p.key_id).await.map(|r| {
        if approve {
            format!(
                "Run {} approved: {} change(s) made; listed hosters are e-mailed.",
                r.id,
                r.proposals.len()
            )
        } else {
            format!("Run {} discarded.", r.id)
        }
    }))
}

#[derive(Debug, Deserialize)]
struct ReviewForm {
    decision: String,
    #[serde(default)]
    note: String,
}

async fn review_form(
    State(state): State<AppState>,
    Analyst(p): Analyst,
    Path(id): Path<i64>,
    Form(f): Form<ReviewForm>,
) -> Response {
    let approve = f.decision == "approve";
    let note = f.note.trim();
    let r = state
        .monitor
        .review_explanation(
            id,
            approve,
            &p.key_id,
            (!note.is_empty()).then_some(note),
            state.clock.now(),
        )
        .await
        .map_err(ApiError::from);
    state.monitor_cache.clear();
    back(r.map(|e| {
        if approve {
            format!("The explanation of {} is published.", e.hoster_name)
        } else {
            format!("The explanation of {} is not published.", e.hoster_name)
        }
    }))
}

#[derive(Debug, Deserialize)]
struct ExplainForm {
    text: String,
}

async fn portal_explain(
    State(state): State<AppState>,
    PortalHoster(h): PortalHoster,
    Form(f): Form<ExplainForm>,
) -> Response {
    match state
        .monitor
        .submit_explanation(h.id, &f.text, &format!("portal:{}", h.name), state.clock.now())
        .await
    {
        Ok(_) => Redirect::to(&format!(
            "/portal?done={}",
            enc("Thank you. Your explanation goes to an analyst; once approved it is shown beside your entry.")
        ))
        .into_response(),
        Err(e) => {
            Redirect::to(&format!("/portal?error={}", enc(&ApiError::from(e).message))).into_response()
        }
    }
}
