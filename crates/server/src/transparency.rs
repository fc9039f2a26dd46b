//! The public transparency pages: how fast the hosting sector removes what the hotline
//! reports, per hoster, with the list of non-cooperating hosters and their explanations.
//!
//! | route | what |
//! |---|---|
//! | `GET /transparency?period=…&sort=…&dir=…` | sector figures, charts, the sortable hoster table |
//! | `GET /transparency/list` | the non-cooperation list, explanations beside the entries |
//! | `GET /transparency/report?period=…` | a printable report of one period |
//! | `GET /transparency/data.json?period=…`, `…/data.csv?period=…` | the same figures to download |
//!
//! No sign-in, and **no URLs**: only counts per hoster, category and month. A period is
//! `2026`, `2026-Q3`, `2026-03` or a range of days `2026-01-01..2026-06-30`; without one, the
//! last twelve months. Every view of a period is computed from one [`monitor::Summary`]
//! that the database aggregates ([`monitor::MonitorStore::summary`]) and this module caches
//! for [`CACHE_TTL`], so the page, the downloads and the report of one moment agree to the
//! digit, and a burst of visitors costs one query. Tables sort on the server (plain links),
//! charts are inline SVG drawn on the server ([`monitor::svg`]): no JavaScript.

use crate::AppState;
use crate::error::{ApiError, Code};
use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use lists::Millis;
use monitor::stats::Bucket;
use monitor::store::Listing;
use monitor::svg;
use monitor::{Figures, Filter, Month, Period, Summary};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a computed period is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(60);

/// Computed summaries by period, for [`CACHE_TTL`].
#[derive(Debug, Default)]
pub struct Cache {
    entries: Mutex<HashMap<String, (Instant, Arc<Summary>)>>,
}

impl Cache {
    /// Forgets everything (after a decision that changes what the pages show).
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// The page routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/transparency", get(page))
        .route("/transparency/list", get(list_page))
        .route("/transparency/report", get(report_page))
        .route("/transparency/data.json", get(data_json))
        .route("/transparency/data.csv", get(data_csv))
}

/// The last twelve months, this month included.
pub(crate) fn default_period(now: Millis) -> Period {
    let this = Month::of(now);
    let mut first = this;
    for _ in 0..11 {
        first = first.prev();
    }
    Period::custom(first.start(), this.end()).unwrap_or_else(|_| this.period())
}

pub(crate) fn parse_period(s: Option<&str>, now: Millis) -> Result<Period, ApiError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default_period(now)),
        Some(s) => {
            let p: Period = s.parse().map_err(|e: monitor::PeriodError| {
                ApiError::bad(Code::InvalidRequest, e.to_string())
            })?;
            if p.to.0 - p.from.0 > 20 * 366 * monitor::stats::NORM_MS {
                return Err(ApiError::bad(
                    Code::InvalidRequest,
                    "a period is at most 20 years",
                ));
            }
            Ok(p)
        }
    }
}

/// The summary of `period` as of now, from the cache when fresh.
pub(crate) async fn summary(state: &AppState, period: &Period) -> Result<Arc<Summary>, ApiError> {
    let key = period.slug();
    if let Some((at, s)) = state
        .monitor_cache
        .entries
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key)
        && at.elapsed() < CACHE_TTL
    {
        return Ok(Arc::clone(s));
    }
    let now = state.clock.now();
    let started = Instant::now();
    let s = Arc::new(state.monitor.summary(period, now).await?);
    metrics::histogram!("schoon_monitor_summary_seconds").record(started.elapsed().as_secs_f64());
    let mut entries = state
        .monitor_cache
        .entries
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if entries.len() > 256 {
        entries.clear();
    }
    entries.insert(key, (Instant::now(), Arc::clone(&s)));
    Ok(s)
}

impl From<monitor::store::Error> for ApiError {
    fn from(e: monitor::store::Error) -> ApiError {
        use monitor::store::Error as E;
        match e {
            E::NotFound(m) => ApiError::not_found(format!("{m} not found")),
            E::Conflict(m) => ApiError::new(axum::http::StatusCode::CONFLICT, Code::Conflict, m),
            E::Invalid(m) => ApiError::bad(Code::InvalidRequest, m),
            E::Storage(m) => ApiError::internal(m),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The published data: one structure for the page, the report, JSON and CSV.

/// One hoster's published figures.
#[derive(Clone, Debug, Serialize)]
pub struct HosterFigures {
    /// Register id.
    pub hoster_id: i64,
    /// Register name.
    pub hoster: String,
    /// On the non-cooperation list now.
    pub listed: bool,
    /// The figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// One month's sector figures.
#[derive(Clone, Debug, Serialize)]
pub struct MonthFigures {
    /// `2026-03`.
    pub month: Month,
    /// The figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// One category's figures.
#[derive(Clone, Debug, Serialize)]
pub struct CategoryFigures {
    /// The category.
    pub category: String,
    /// The figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// One bar of the removal-time histogram.
#[derive(Clone, Debug, Serialize)]
pub struct HistogramBar {
    /// `0-1h`, …, `online`.
    pub bucket: &'static str,
    /// Its label.
    pub label: &'static str,
    /// Cases.
    pub cases: u64,
}

/// Everything published about one period.
#[derive(Clone, Debug, Serialize)]
pub struct Published {
    /// The period's short form (`2026-Q3`).
    pub period: String,
    /// Its label.
    pub label: String,
    /// The moment the figures are as of (RFC 3339).
    pub as_of: String,
    /// The same moment, for pages.
    #[serde(skip)]
    pub now: Millis,
    /// The whole sector.
    pub sector: Figures,
    /// Per hoster, by URLs (most first).
    pub hosters: Vec<HosterFigures>,
    /// Per category.
    pub categories: Vec<CategoryFigures>,
    /// Per month (sector).
    pub months: Vec<MonthFigures>,
    /// The removal-time histogram (sector).
    pub histogram: Vec<HistogramBar>,
}

pub(crate) async fn published(state: &AppState, period: &Period) -> Result<Published, ApiError> {
    let s = summary(state, period).await?;
    let names: BTreeMap<i64, String> = state
        .cases
        .hosters()
        .await?
        .into_iter()
        .map(|h| (h.id, h.fields.name))
        .collect();
    let listed: std::collections::BTreeSet<i64> = state
        .monitor
        .listings(true)
        .await?
        .into_iter()
        .map(|l| l.hoster_id)
        .collect();
    let all = Filter::all();
    let mut hosters: Vec<HosterFigures> = s
        .per_hoster(&all)
        .into_iter()
        .filter(|(_, f)| f.urls > 0 || f.notices > 0)
        .map(|(id, figures)| HosterFigures {
            hoster_id: id,
            hoster: names
                .get(&id)
                .cloned()
                .unwrap_or_else(|| format!("hoster {id}")),
            listed: listed.contains(&id),
            figures,
        })
        .collect();
    hosters.sort_by(|a, b| {
        b.figures
            .urls
            .cmp(&a.figures.urls)
            .then_with(|| a.hoster.cmp(&b.hoster))
    });
    Ok(Published {
        period: period.slug(),
        label: period.label(),
        as_of: s.now.rfc3339(),
        now: s.now,
        sector: s.sector(),
        hosters,
        categories: s
            .per_category(&all)
            .into_iter()
            .map(|(category, figures)| CategoryFigures { category, figures })
            .collect(),
        months: s
            .monthly(&all)
            .into_iter()
            .map(|(month, figures)| MonthFigures { month, figures })
            .collect(),
        histogram: s
            .removal_histogram(&all)
            .into_iter()
            .map(|(b, cases)| HistogramBar {
                bucket: b.id(),
                label: b.label(),
                cases,
            })
            .collect(),
    })
}

// ---------------------------------------------------------------------------------------
// Formatting, shared by the pages and the report.

/// `84.2 %`, or `–` when nothing can be judged.
pub(crate) fn fmt_share(s: Option<f64>) -> String {
    s.map_or_else(|| "–".into(), |s| format!("{:.1} %", s * 100.0))
}

/// `5.3 h`, `≥ 120.0 h` for a lower bound, or `–`.
pub(crate) fn fmt_hours(h: Option<f64>, censored: bool) -> String {
    match h {
        None => "–".into(),
        Some(h) if censored => format!("≥ {h:.1} h"),
        Some(h) => format!("{h:.1} h"),
    }
}

/// A raw value for `data-value` attributes and CSV: the number, or empty.
pub(crate) fn raw(v: Option<f64>) -> String {
    v.map(|v| format!("{v}")).unwrap_or_default()
}

/// One table row, formatted.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) listed: bool,
    pub(crate) f: Figures,
    pub(crate) share: String,
    pub(crate) share_raw: String,
    pub(crate) median: String,
    pub(crate) median_raw: String,
    pub(crate) p90: String,
    pub(crate) p90_raw: String,
}

impl Row {
    pub(crate) fn new(id: i64, name: &str, listed: bool, f: &Figures) -> Row {
        Row {
            id,
            name: name.to_string(),
            listed,
            f: f.clone(),
            share: fmt_share(f.share_within_24h),
            share_raw: raw(f.share_within_24h),
            median: fmt_hours(f.median_hours, f.median_censored),
            median_raw: raw(f.median_hours),
            p90: fmt_hours(f.p90_hours, f.p90_censored),
            p90_raw: raw(f.p90_hours),
        }
    }
}

/// The columns the hoster table sorts by.
const SORTS: [(&str, &str); 10] = [
    ("hoster", "Hoster"),
    ("urls", "URLs"),
    ("notices", "Notices"),
    ("share", "Within 24 h"),
    ("median", "Median"),
    ("p90", "90th pct."),
    ("online", "Still online"),
    ("escalations", "Escalated"),
    ("checks", "Hash checks"),
    ("own", "Own removals"),
];

fn sort_rows(rows: &mut [Row], by: &str, desc: bool) {
    let key = |r: &Row| -> f64 {
        match by {
            "urls" => r.f.urls as f64,
            "notices" => r.f.notices as f64,
            "share" => r.f.share_within_24h.unwrap_or(-1.0),
            "median" => r.f.median_hours.unwrap_or(f64::INFINITY),
            "p90" => r.f.p90_hours.unwrap_or(f64::INFINITY),
            "online" => r.f.still_online as f64,
            "escalations" => r.f.escalations as f64,
            "checks" => r.f.checks as f64,
            "own" => r.f.removed_own_initiative as f64,
            _ => 0.0,
        }
    };
    rows.sort_by(|a, b| {
        let o = if by == "hoster" {
            a.name.to_lowercase().cmp(&b.name.to_lowercase())
        } else {
            key(a).total_cmp(&key(b))
        };
        let o = o.then_with(|| a.name.cmp(&b.name));
        if desc { o.reverse() } else { o }
    });
}

/// A column header: its link and sort state.
#[derive(Debug)]
pub(crate) struct Col {
    id: &'static str,
    label: &'static str,
    href: String,
    aria: &'static str,
}

fn columns(period: &str, by: &str, desc: bool) -> Vec<Col> {
    SORTS
        .iter()
        .map(|&(id, label)| {
            let on = id == by;
            // A first click sorts names A–Z and numbers high to low; a second click flips.
            let next_desc = if on { !desc } else { id != "hoster" };
            Col {
                id,
                label,
                href: format!(
                    "/transparency?period={}&sort={id}&dir={}#hosters",
                    enc(period),
                    if next_desc { "desc" } else { "asc" }
                ),
                aria: match (on, desc) {
                    (false, _) => "none",
                    (true, true) => "descending",
                    (true, false) => "ascending",
                },
            }
        })
        .collect()
}

pub(crate) fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The charts of a period, as inline SVG.
#[derive(Debug)]
pub(crate) struct Charts {
    pub(crate) histogram: String,
    pub(crate) monthly: String,
    pub(crate) hosters: String,
}

pub(crate) fn charts(p: &Published) -> Charts {
    let bars: Vec<svg::HistogramBar> = Bucket::ALL
        .iter()
        .zip(&p.histogram)
        .map(|(&bucket, b)| svg::HistogramBar {
            bucket,
            cases: b.cases,
        })
        .collect();
    let points: Vec<svg::MonthShare> = p
        .months
        .iter()
        .map(|m| svg::MonthShare {
            month: m.month,
            share: m.figures.share_within_24h,
            urls: m.figures.urls,
        })
        .collect();
    let sector = p.sector.share_within_24h;
    let mut ranked: Vec<&HosterFigures> = p
        .hosters
        .iter()
        .filter(|h| h.figures.share_within_24h.is_some())
        .collect();
    ranked.sort_by(|a, b| {
        a.figures
            .share_within_24h
            .unwrap_or(0.0)
            .total_cmp(&b.figures.share_within_24h.unwrap_or(0.0))
            .then_with(|| a.hoster.cmp(&b.hoster))
    });
    let rows: Vec<svg::HosterShare> = ranked
        .iter()
        .take(20)
        .map(|h| svg::HosterShare {
            name: h.hoster.clone(),
            share: h.figures.share_within_24h,
            urls: h.figures.urls,
        })
        .collect();
    Charts {
        histogram: svg::removal_histogram("Time from notice to removal", &bars),
        monthly: svg::share_per_month(
            "Share removed within 24 hours, per month of notice",
            &points,
            sector.map(|s| ("period average", s)),
        ),
        hosters: svg::hoster_shares(
            "Share removed within 24 hours per hoster (lowest first)",
            &rows,
            sector.map(|s| ("sector", s)),
        ),
    }
}

/// A period to choose in the picker.
#[derive(Debug)]
pub(crate) struct Choice {
    pub(crate) slug: String,
    pub(crate) label: String,
    pub(crate) on: bool,
}

pub(crate) fn choices(now: Millis, current: &Period) -> Vec<Choice> {
    let this = Month::of(now);
    let mut v: Vec<(Period, String)> = vec![(default_period(now), "Last 12 months".into())];
    if let Ok(y) = Period::year(this.year()) {
        v.push((y, format!("{}", this.year())));
    }
    if let Ok(y) = Period::year(this.year() - 1) {
        v.push((y, format!("{}", this.year() - 1)));
    }
    let mut m = this;
    for _ in 0..4 {
        if let Ok(q) = Period::quarter(m.year(), m.quarter()) {
            v.push((q, q.label()));
        }
        for _ in 0..3 {
            m = m.prev();
        }
    }
    let mut m = this;
    for _ in 0..3 {
        v.push((m.period(), m.to_string()));
        m = m.prev();
    }
    v.into_iter()
        .map(|(p, label)| Choice {
            on: p == *current,
            slug: p.slug(),
            label,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Pages

#[derive(Debug, Deserialize)]
pub(crate) struct PageQuery {
    period: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
}

fn public_nav() -> crate::pages::Nav {
    crate::pages::Nav {
        signed_in: false,
        current: "transparency",
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "transparency.html")]
struct Page {
    nav: crate::pages::Nav,
    period: String,
    label: String,
    as_of: String,
    choices: Vec<Choice>,
    sector: Row,
    rows: Vec<Row>,
    cols: Vec<Col>,
    charts: Charts,
    listed: usize,
    categories: Vec<(String, Row)>,
}

async fn page(State(state): State<AppState>, Query(q): Query<PageQuery>) -> Response {
    match build_page(&state, q).await {
        Ok(p) => p.into_response(),
        Err(e) => crate::pages::api_error_page(e),
    }
}

async fn build_page(state: &AppState, q: PageQuery) -> Result<Page, ApiError> {
    let now = state.clock.now();
    let period = parse_period(q.period.as_deref(), now)?;
    let p = published(state, &period).await?;
    let by = q
        .sort
        .as_deref()
        .filter(|s| SORTS.iter().any(|(id, _)| id == s))
        .unwrap_or("urls")
        .to_string();
    let desc = q.dir.as_deref().map_or(by != "hoster", |d| d != "asc");
    let mut rows: Vec<Row> = p
        .hosters
        .iter()
        .map(|h| Row::new(h.hoster_id, &h.hoster, h.listed, &h.figures))
        .collect();
    sort_rows(&mut rows, &by, desc);
    Ok(Page {
        nav: public_nav(),
        choices: choices(now, &period),
        sector: Row::new(0, "Sector", false, &p.sector),
        listed: p.hosters.iter().filter(|h| h.listed).count(),
        categories: p
            .categories
            .iter()
            .map(|c| {
                (
                    c.category.clone(),
                    Row::new(0, &c.category, false, &c.figures),
                )
            })
            .collect(),
        cols: columns(&p.period, &by, desc),
        charts: charts(&p),
        rows,
        period: p.period,
        label: p.label,
        as_of: ntd::notice::format_datetime(p.now),
    })
}

/// One entry of the public list.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) hoster_id: i64,
    pub(crate) hoster: String,
    pub(crate) since: String,
    pub(crate) reasons: Vec<String>,
    pub(crate) explanation: Option<(String, String)>,
}

pub(crate) fn entries(listings: &[Listing]) -> Vec<Entry> {
    listings
        .iter()
        .map(|l| Entry {
            hoster_id: l.hoster_id,
            hoster: l.hoster_name.clone(),
            since: ntd::notice::format_datetime(l.listed_at),
            reasons: l.reasons.iter().map(ToString::to_string).collect(),
            explanation: l
                .explanation
                .as_ref()
                .map(|e| (e.text.clone(), ntd::notice::format_datetime(e.submitted_at))),
        })
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "transparency_list.html")]
struct ListPage {
    nav: crate::pages::Nav,
    entries: Vec<Entry>,
    rules: Vec<String>,
    delisted: Vec<(String, String, String)>,
}

async fn list_page(State(state): State<AppState>) -> Response {
    let build = async {
        let current = state.monitor.listings(true).await?;
        let all = state.monitor.listings(false).await?;
        let delisted = all
            .iter()
            .filter_map(|l| {
                Some((
                    l.hoster_name.clone(),
                    ntd::notice::format_datetime(l.listed_at),
                    ntd::notice::format_datetime(l.delisted_at?),
                ))
            })
            .take(50)
            .collect();
        Ok::<_, ApiError>(ListPage {
            nav: public_nav(),
            entries: entries(&current),
            rules: state.rules.describe(),
            delisted,
        })
    };
    match build.await {
        Ok(p) => p.into_response(),
        Err(e) => crate::pages::api_error_page(e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "transparency_report.html")]
struct ReportPage {
    label: String,
    period: String,
    as_of: String,
    sector: Row,
    rows: Vec<Row>,
    months: Vec<(String, Row)>,
    categories: Vec<(String, Row)>,
    charts: Charts,
    entries: Vec<Entry>,
    rules: Vec<String>,
    hotline: String,
}

async fn report_page(State(state): State<AppState>, Query(q): Query<PageQuery>) -> Response {
    let build = async {
        let now = state.clock.now();
        let period = parse_period(q.period.as_deref(), now)?;
        let p = published(&state, &period).await?;
        let mut rows: Vec<Row> = p
            .hosters
            .iter()
            .map(|h| Row::new(h.hoster_id, &h.hoster, h.listed, &h.figures))
            .collect();
        sort_rows(&mut rows, "hoster", false);
        Ok::<_, ApiError>(ReportPage {
            sector: Row::new(0, "Sector", false, &p.sector),
            months: p
                .months
                .iter()
                .map(|m| (m.month.to_string(), Row::new(0, "", false, &m.figures)))
                .collect(),
            categories: p
                .categories
                .iter()
                .map(|c| {
                    (
                        c.category.clone(),
                        Row::new(0, &c.category, false, &c.figures),
                    )
                })
                .collect(),
            charts: charts(&p),
            entries: entries(&state.monitor.listings(true).await?),
            rules: state.rules.describe(),
            hotline: state.hotline_name.clone(),
            rows,
            label: p.label,
            period: p.period,
            as_of: ntd::notice::format_datetime(p.now),
        })
    };
    match build.await {
        Ok(p) => p.into_response(),
        Err(e) => crate::pages::api_error_page(e),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct DataQuery {
    period: Option<String>,
}

/// A download of a period's figures: `ext` names the file, `inline` or `attachment` says
/// whether a browser shows it, and `body` renders the figures.
async fn download<B: IntoResponse>(
    state: &AppState,
    q: &DataQuery,
    ext: &str,
    content_type: &str,
    disposition: &str,
    body: impl FnOnce(Published) -> B,
) -> Result<Response, ApiError> {
    let period = parse_period(q.period.as_deref(), state.clock.now())?;
    let p = published(state, &period).await?;
    let name = format!("schoon-transparency-{}.{ext}", p.period.replace("..", "_"));
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("{disposition}; filename=\"{name}\""),
            ),
        ],
        body(p),
    )
        .into_response())
}

async fn data_json(
    State(state): State<AppState>,
    Query(q): Query<DataQuery>,
) -> Result<Response, ApiError> {
    download(&state, &q, "json", "application/json", "inline", axum::Json).await
}

/// The CSV columns after `scope,hoster_id,hoster,listed`.
const CSV_FIGURES: [&str; 20] = [
    "urls",
    "notices",
    "removed",
    "removed_within_24h",
    "still_online",
    "undecided_24h",
    "share_within_24h",
    "median_hours",
    "median_censored",
    "p90_hours",
    "p90_censored",
    "reminders",
    "escalations",
    "repeats",
    "checks",
    "matches",
    "removed_own_initiative",
    "uses_hash_check",
    "uses_scanner",
    "hosters",
];

fn csv_cell(s: &str) -> String {
    // Spreadsheets run cells that start with = + - @ as formulas: a hoster name must not.
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn csv_figures(f: &Figures) -> Vec<String> {
    let v = serde_json::to_value(f).unwrap_or_default();
    CSV_FIGURES
        .iter()
        .map(|k| match v.get(*k) {
            Some(serde_json::Value::Null) | None => String::new(),
            Some(x) => x.to_string(),
        })
        .collect()
}

/// The published figures as CSV: one `sector` row, then one `hoster` row each.
pub(crate) fn to_csv(p: &Published) -> String {
    let mut out = String::from("period,scope,hoster_id,hoster,listed,");
    out.push_str(&CSV_FIGURES.join(","));
    out.push('\n');
    let mut line = |scope: &str, id: String, name: &str, listed: &str, f: &Figures| {
        let mut cells = vec![
            csv_cell(&p.period),
            scope.to_string(),
            id,
            csv_cell(name),
            listed.to_string(),
        ];
        cells.extend(csv_figures(f));
        out.push_str(&cells.join(","));
        out.push('\n');
    };
    line("sector", String::new(), "", "", &p.sector);
    for h in &p.hosters {
        line(
            "hoster",
            h.hoster_id.to_string(),
            &h.hoster,
            if h.listed { "true" } else { "false" },
            &h.figures,
        );
    }
    out
}

async fn data_csv(
    State(state): State<AppState>,
    Query(q): Query<DataQuery>,
) -> Result<Response, ApiError> {
    download(
        &state,
        &q,
        "csv",
        "text/csv; charset=utf-8",
        "attachment",
        |p| to_csv(&p),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_share(Some(0.8421)), "84.2 %");
        assert_eq!(fmt_share(None), "–");
        assert_eq!(fmt_hours(Some(120.0), true), "≥ 120.0 h");
        assert_eq!(fmt_hours(Some(5.25), false), "5.2 h");
    }
}
