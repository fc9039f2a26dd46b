//! [`monitor::MonitorStore`](::monitor::MonitorStore) for both backends, written once as a
//! macro like [`crate::notices`]: the takedown statistics and the non-cooperation list.
//!
//! * **Statistics** are aggregated in the database: [`SUMMARY_SQL`] groups the notified cases
//!   of a period by hoster, category, UTC day, outcome and minute, following the rules of
//!   [`Summary::from_facts`](::monitor::Summary::from_facts) to the letter (the tests compare
//!   the two on both backends). The cases come back as counts without their URLs and with
//!   the repeats already found; at a minute's resolution, though, nearly every case is a
//!   group of its own (996,342 groups for 1,000,000 cases in `benches/monitor.rs`), so a
//!   summary is about as many rows as the cases it covers. Notices and hash-check
//!   participation are grouped per day in SQL and folded into months in Rust, which keeps
//!   the SQL the same on both backends; the hash-check organisations are mapped to hosters
//!   through the register (`org_id` in a hoster's fields).
//! * **The list**: runs with their proposals, listings, events and explanations. A decision
//!   and its event (and, on approval, the e-mails to the newly listed hosters) commit in one
//!   write transaction. The partial unique index `noncoop_listings_current` keeps one current
//!   listing per hoster, so of two replicas approving at once the second gets a conflict.
//!
//! Every instant is epoch milliseconds; every integer the SQL returns is cast to `BIGINT`
//! (PostgreSQL's `SUM` of a `BIGINT` is a `NUMERIC`, and a `CASE` of `1`/`0` an `INTEGER`).

use ::monitor::store::Error;
use ::monitor::summary::{CaseGroup, DAY_MS, NoticeCount};
use ::monitor::{Month, Participation};
use std::collections::{BTreeMap, HashMap};

/// A failed statement as [`Error::Storage`], naming what was being read or written.
pub(crate) fn merr(what: &str) -> impl Fn(sqlx::Error) -> Error + '_ {
    move |e| match &e {
        sqlx::Error::RowNotFound => Error::NotFound(what.to_string()),
        _ => Error::Storage(format!("{what}: {e}")),
    }
}

/// Whether the statement failed on a unique index.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Whether the statement failed on a foreign key.
pub(crate) fn is_fk_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_foreign_key_violation())
}

/// Unreadable JSON in a column.
pub(crate) fn mjson_err(e: serde_json::Error) -> Error {
    Error::Storage(format!("bad JSON in the database: {e}"))
}

/// The grouped cases of a period: `$1` = period start, `$2` = period end (excluded),
/// `$3` = now. The day is `floor(notified_at / DAY_MS)` for any sign (SQL's `/` truncates);
/// a removal's minutes round up, a still-online case's round down; a repeat is a case whose
/// URL was in an earlier notified case (by `notified_at`, then id) of the same hoster,
/// found through `cases_hoster_url`.
#[doc(hidden)]
pub const SUMMARY_SQL: &str = "\
SELECT hoster_id, category, nday, \
       CAST(removed AS BIGINT) AS is_removed, \
       CAST(minutes AS BIGINT) AS n_minutes, \
       CAST(COUNT(*) AS BIGINT) AS n_cases, \
       CAST(SUM(reminded) AS BIGINT) AS n_reminded, \
       CAST(SUM(escalated) AS BIGINT) AS n_escalated, \
       CAST(SUM(escalated * (1 - removed)) AS BIGINT) AS n_escalated_online, \
       CAST(SUM(repeated) AS BIGINT) AS n_repeats \
FROM ( \
  SELECT c.hoster_id, c.category, \
         (c.notified_at - ((c.notified_at % 86400000) + 86400000) % 86400000) / 86400000 AS nday, \
         CASE WHEN c.removed_at <= $3 THEN 1 ELSE 0 END AS removed, \
         CASE WHEN c.removed_at <= $3 \
              THEN ((CASE WHEN c.removed_at > c.notified_at THEN c.removed_at - c.notified_at ELSE 0 END) + 59999) / 60000 \
              ELSE ($3 - c.notified_at) / 60000 END AS minutes, \
         CASE WHEN c.reminded_at <= $3 THEN 1 ELSE 0 END AS reminded, \
         CASE WHEN c.escalated_at <= $3 THEN 1 ELSE 0 END AS escalated, \
         CASE WHEN EXISTS (SELECT 1 FROM cases p \
                           WHERE p.hoster_id = c.hoster_id AND p.url = c.url \
                             AND p.notified_at <= c.notified_at \
                             AND (p.notified_at < c.notified_at OR p.id < c.id)) \
              THEN 1 ELSE 0 END AS repeated \
  FROM cases c \
  WHERE c.notified_at IS NOT NULL AND c.hoster_id IS NOT NULL \
    AND c.notified_at >= $1 AND c.notified_at < $2 AND c.notified_at <= $3 \
) t \
GROUP BY hoster_id, category, nday, removed, minutes";

/// First notices sent per hoster and UTC day: `$1` = period start, `$2` = end, `$3` = now.
pub(crate) const NOTICES_SQL: &str = "\
SELECT hoster_id, nday, CAST(COUNT(*) AS BIGINT) AS n \
FROM ( \
  SELECT hoster_id, (sent_at - ((sent_at % 86400000) + 86400000) % 86400000) / 86400000 AS nday \
  FROM notices \
  WHERE kind = 'notice' AND status = 'sent' AND sent_at IS NOT NULL \
    AND sent_at >= $1 AND sent_at < $2 AND sent_at <= $3 \
) t \
GROUP BY hoster_id, nday";

/// Hash checks and own-initiative removals (`POST /v1/check/removals`, audited as
/// `own_removal`) per organisation and UTC day in `[$1, $2)`. The server marks requests from
/// the scanner with `"client":"scanner"` in the audit detail.
pub(crate) const PARTICIPATION_SQL: &str = "\
SELECT org_id, nday, CAST(SUM(n) AS BIGINT) AS checks, CAST(SUM(m) AS BIGINT) AS matches, \
       CAST(SUM(r) AS BIGINT) AS removed, CAST(MAX(scanner) AS BIGINT) AS scanner \
FROM ( \
  SELECT org_id, (at - ((at % 86400000) + 86400000) % 86400000) / 86400000 AS nday, \
         CASE WHEN action = 'own_removal' THEN 0 ELSE count END AS n, \
         CASE WHEN action = 'own_removal' THEN 0 ELSE matches END AS m, \
         CASE WHEN action = 'own_removal' THEN count ELSE 0 END AS r, \
         CASE WHEN detail LIKE '%\"client\":\"scanner\"%' THEN 1 ELSE 0 END AS scanner \
  FROM audit_log \
  WHERE action IN ('check', 'check_image', 'own_removal') AND at >= $1 AND at < $2 \
) t \
GROUP BY org_id, nday";

/// The columns [`CaseFacts`](::monitor::CaseFacts) are read from (table alias `c`).
pub(crate) const FACT_COLS: &str = "c.id, c.hoster_id, c.category, c.url, c.opened_at, \
     c.notified_at, c.removed_at, c.reminded_at, c.escalated_at";

/// The condition of a drill-down, with `$3` = now.
pub(crate) fn drill_sql(which: ::monitor::store::Drill) -> &'static str {
    use ::monitor::store::Drill;
    match which {
        Drill::All => "",
        Drill::Removed => " AND c.removed_at <= $3",
        Drill::Within24h => " AND c.removed_at <= $3 AND c.removed_at - c.notified_at <= 86400000",
        Drill::Late => " AND c.removed_at <= $3 AND c.removed_at - c.notified_at > 86400000",
        Drill::Online => " AND (c.removed_at IS NULL OR c.removed_at > $3)",
        Drill::Reminded => " AND c.reminded_at <= $3",
        Drill::Escalated => " AND c.escalated_at <= $3",
    }
}

/// Sorts groups the way [`Summary::from_facts`](::monitor::Summary::from_facts) does (by
/// hoster, category (bytewise, whatever the database's collation), day, outcome, minutes).
pub(crate) fn sort_groups(groups: &mut [CaseGroup]) {
    groups.sort_unstable_by(|a, b| {
        (a.hoster_id, &a.category, a.day, a.removed, a.minutes).cmp(&(
            b.hoster_id,
            &b.category,
            b.day,
            b.removed,
            b.minutes,
        ))
    });
}

/// Notice counts in (hoster, day) order.
pub(crate) fn sort_notices(notices: &mut [NoticeCount]) {
    notices.sort_by_key(|n| (n.hoster_id, n.day));
}

/// Per organisation and day: checks, matches, own-initiative removals, scanner.
pub(crate) type DayUse = (i64, i64, u64, u64, u64, bool);

/// Folds the per-day hash-check use of organisations into each linked hoster's months.
/// An organisation linked to no hoster is skipped; one linked to several counts for each.
pub(crate) fn fold_participation(
    days: &[DayUse],
    hosters_of: &HashMap<i64, Vec<i64>>,
) -> Vec<Participation> {
    let mut out: BTreeMap<(i64, Month), Participation> = BTreeMap::new();
    for &(org, day, checks, matches, removed, scanner) in days {
        let Some(hosters) = hosters_of.get(&org) else {
            continue;
        };
        let month = Month::of(lists::Millis(day.saturating_mul(DAY_MS)));
        for &h in hosters {
            let p = out.entry((h, month)).or_insert_with(|| Participation {
                hoster_id: h,
                month,
                checks: 0,
                matches: 0,
                removed_own_initiative: 0,
                scanner: false,
            });
            p.checks = p.checks.saturating_add(checks);
            p.matches = p.matches.saturating_add(matches);
            p.removed_own_initiative = p.removed_own_initiative.saturating_add(removed);
            p.scanner |= scanner;
        }
    }
    out.into_values().collect()
}

/// The organisation a register entry links to (`fields.org_id`), read leniently.
#[derive(serde::Deserialize)]
pub(crate) struct OrgLink {
    #[serde(default)]
    pub(crate) org_id: Option<i64>,
}

/// A list of ids for `IN (...)`: integers only, never text.
pub(crate) fn id_list(ids: &[i64]) -> String {
    let v: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!("({})", v.join(","))
}

/// The most characters an explanation may have.
pub(crate) const MAX_EXPLANATION: usize = 4000;

macro_rules! impl_monitor {
    ($store:ty, $db:ty, $row:ty, $for_update:literal) => {
        const _: () = {
            use $crate::cases::Bind;
            use $crate::monitor::*;
            use ::monitor::listing::{Proposal, ProposalAction, Reason};
            use ::monitor::store::*;
            use ::monitor::summary::{CaseGroup, NoticeCount, Summary};
            use ::monitor::{CaseFacts, Period};
            use async_trait::async_trait;
            use futures_util::TryStreamExt as _;
            use lists::Millis;
            use lists::trust::NewMail;
            use sqlx::Row as _;
            use std::collections::HashMap;

            type Conn = <$db as sqlx::Database>::Connection;

            const RUN_COLS: &str =
                "id, at, run_by, window_from, window_to, rules, status, decided_by, decided_at";
            const LISTING_COLS: &str = "l.id, l.hoster_id, h.name AS hoster_name, l.listed_at, \
                l.listed_by, l.run_id, l.reasons, l.delisted_at, l.delisted_by";
            const EXPLANATION_COLS: &str = "e.id, e.listing_id, e.hoster_id, h.name AS hoster_name, \
                e.text, e.submitted_at, e.submitted_by, e.status, e.reviewed_at, e.reviewed_by, e.note";

            fn u(v: i64) -> u64 {
                u64::try_from(v).unwrap_or(0)
            }

            fn opt_ms(r: &$row, col: &str) -> Result<Option<Millis>> {
                Ok(r.try_get::<Option<i64>, _>(col).map_err(merr("row"))?.map(Millis))
            }

            /// A case read with [`FACT_COLS`], by position (a drill-down may read a million).
            fn fact_row(r: &$row) -> Result<CaseFacts> {
                let e = merr("case");
                let opt = |i: usize| -> Result<Option<Millis>> {
                    Ok(r.try_get::<Option<i64>, _>(i).map_err(&e)?.map(Millis))
                };
                Ok(CaseFacts {
                    case_id: r.try_get(0).map_err(&e)?,
                    hoster_id: r.try_get::<Option<i64>, _>(1).map_err(&e)?.unwrap_or_default(),
                    category: r.try_get(2).map_err(&e)?,
                    url: r.try_get(3).map_err(&e)?,
                    opened_at: Millis(r.try_get(4).map_err(&e)?),
                    notified_at: opt(5)?.unwrap_or(Millis(0)),
                    removed_at: opt(6)?,
                    reminded_at: opt(7)?,
                    escalated_at: opt(8)?,
                })
            }

            fn explanation_row(r: &$row) -> Result<Explanation> {
                let e = merr("explanation");
                let status: String = r.try_get("status").map_err(&e)?;
                Ok(Explanation {
                    id: r.try_get("id").map_err(&e)?,
                    listing_id: r.try_get("listing_id").map_err(&e)?,
                    hoster_id: r.try_get("hoster_id").map_err(&e)?,
                    hoster_name: r.try_get("hoster_name").map_err(&e)?,
                    text: r.try_get("text").map_err(&e)?,
                    submitted_at: Millis(r.try_get("submitted_at").map_err(&e)?),
                    submitted_by: r.try_get("submitted_by").map_err(&e)?,
                    status: ExplanationStatus::parse(&status)
                        .ok_or_else(|| Error::Storage(format!("unknown explanation status {status:?}")))?,
                    reviewed_at: opt_ms(r, "reviewed_at")?,
                    reviewed_by: r.try_get("reviewed_by").map_err(&e)?,
                    note: r.try_get("note").map_err(&e)?,
                })
            }

            fn listing_row(r: &$row) -> Result<Listing> {
                let e = merr("listing");
                let reasons: String = r.try_get("reasons").map_err(&e)?;
                Ok(Listing {
                    id: r.try_get("id").map_err(&e)?,
                    hoster_id: r.try_get("hoster_id").map_err(&e)?,
                    hoster_name: r.try_get("hoster_name").map_err(&e)?,
                    listed_at: Millis(r.try_get("listed_at").map_err(&e)?),
                    listed_by: r.try_get("listed_by").map_err(&e)?,
                    run_id: r.try_get("run_id").map_err(&e)?,
                    reasons: serde_json::from_str(&reasons).map_err(mjson_err)?,
                    delisted_at: opt_ms(r, "delisted_at")?,
                    delisted_by: r.try_get("delisted_by").map_err(&e)?,
                    explanation: None,
                })
            }

            fn event_row(r: &$row) -> Result<ListEvent> {
                let e = merr("list event");
                Ok(ListEvent {
                    id: r.try_get("id").map_err(&e)?,
                    at: Millis(r.try_get("at").map_err(&e)?),
                    hoster_id: r.try_get("hoster_id").map_err(&e)?,
                    hoster_name: r.try_get("hoster_name").map_err(&e)?,
                    listing_id: r.try_get("listing_id").map_err(&e)?,
                    actor: r.try_get("actor").map_err(&e)?,
                    kind: r.try_get("kind").map_err(&e)?,
                    detail: r.try_get("detail").map_err(&e)?,
                })
            }

            /// Appends an event to the list's history inside the caller's transaction.
            async fn list_event(
                conn: &mut Conn,
                at: Millis,
                hoster_id: i64,
                listing_id: i64,
                actor: &str,
                kind: &str,
                detail: &str,
            ) -> Result<()> {
                sqlx::query(
                    "INSERT INTO noncoop_events (at, hoster_id, listing_id, actor, kind, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(at.0)
                .bind(hoster_id)
                .bind(listing_id)
                .bind(actor)
                .bind(kind)
                .bind(detail)
                .execute(&mut *conn)
                .await
                .map_err(merr("list event"))?;
                Ok(())
            }

            $crate::common::define_queue_mails!();

            /// Runs (one, or the latest `limit`) with their proposals.
            async fn load_runs(conn: &mut Conn, one: Option<i64>, limit: u32) -> Result<Vec<Run>> {
                let rows = match one {
                    Some(id) => sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {RUN_COLS} FROM noncoop_runs WHERE id = $1"
                    )))
                    .bind(id)
                    .fetch_all(&mut *conn)
                    .await,
                    None => sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {RUN_COLS} FROM noncoop_runs ORDER BY id DESC LIMIT {limit}"
                    )))
                    .fetch_all(&mut *conn)
                    .await,
                }
                .map_err(merr("runs"))?;
                let mut runs = Vec::with_capacity(rows.len());
                for r in &rows {
                    let e = merr("run");
                    let rules: String = r.try_get("rules").map_err(&e)?;
                    let status: String = r.try_get("status").map_err(&e)?;
                    runs.push(Run {
                        id: r.try_get("id").map_err(&e)?,
                        at: Millis(r.try_get("at").map_err(&e)?),
                        by: r.try_get("run_by").map_err(&e)?,
                        window: Period {
                            from: Millis(r.try_get("window_from").map_err(&e)?),
                            to: Millis(r.try_get("window_to").map_err(&e)?),
                        },
                        rules: serde_json::from_str(&rules).map_err(mjson_err)?,
                        status: RunStatus::parse(&status)
                            .ok_or_else(|| Error::Storage(format!("unknown run status {status:?}")))?,
                        decided_by: r.try_get("decided_by").map_err(&e)?,
                        decided_at: opt_ms(r, "decided_at")?,
                        proposals: Vec::new(),
                    });
                }
                if runs.is_empty() {
                    return Ok(runs);
                }
                let ids: Vec<i64> = runs.iter().map(|r| r.id).collect();
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT p.run_id, p.hoster_id, h.name AS hoster_name, p.action, p.reasons, p.figures \
                     FROM noncoop_proposals p JOIN hosters h ON h.id = p.hoster_id \
                     WHERE p.run_id IN {} ORDER BY p.run_id, p.hoster_id",
                    id_list(&ids)
                )))
                .fetch_all(&mut *conn)
                .await
                .map_err(merr("proposals"))?;
                let at: HashMap<i64, usize> = runs.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
                for r in &rows {
                    let e = merr("proposal");
                    let run_id: i64 = r.try_get("run_id").map_err(&e)?;
                    let action: String = r.try_get("action").map_err(&e)?;
                    let reasons: String = r.try_get("reasons").map_err(&e)?;
                    let figures: String = r.try_get("figures").map_err(&e)?;
                    let named = NamedProposal {
                        hoster_name: r.try_get("hoster_name").map_err(&e)?,
                        proposal: Proposal {
                            hoster_id: r.try_get("hoster_id").map_err(&e)?,
                            action: ProposalAction::parse(&action)
                                .ok_or_else(|| Error::Storage(format!("unknown proposal action {action:?}")))?,
                            reasons: serde_json::from_str(&reasons).map_err(mjson_err)?,
                            figures: serde_json::from_str(&figures).map_err(mjson_err)?,
                        },
                    };
                    if let Some(&i) = at.get(&run_id) {
                        runs[i].proposals.push(named);
                    }
                }
                Ok(runs)
            }

            async fn load_run(conn: &mut Conn, id: i64) -> Result<Run> {
                load_runs(conn, Some(id), 1)
                    .await?
                    .pop()
                    .ok_or_else(|| Error::NotFound(format!("run {id}")))
            }

            /// Listings (`current`: only those on the list now; `hoster`: only its), newest
            /// first, each with its latest approved explanation.
            async fn load_listings(conn: &mut Conn, current: bool, hoster: Option<i64>) -> Result<Vec<Listing>> {
                let mut sql = format!(
                    "SELECT {LISTING_COLS} FROM noncoop_listings l JOIN hosters h ON h.id = l.hoster_id WHERE 1 = 1"
                );
                if current {
                    sql.push_str(" AND l.delisted_at IS NULL");
                }
                if hoster.is_some() {
                    sql.push_str(" AND l.hoster_id = $1");
                }
                sql.push_str(" ORDER BY l.id DESC");
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                if let Some(h) = hoster {
                    q = q.bind(h);
                }
                let rows = q.fetch_all(&mut *conn).await.map_err(merr("listings"))?;
                let mut listings = rows.iter().map(listing_row).collect::<Result<Vec<_>>>()?;
                if listings.is_empty() {
                    return Ok(listings);
                }
                let ids: Vec<i64> = listings.iter().map(|l| l.id).collect();
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {EXPLANATION_COLS} FROM noncoop_explanations e JOIN hosters h ON h.id = e.hoster_id \
                     WHERE e.status = 'approved' AND e.listing_id IN {} ORDER BY e.id",
                    id_list(&ids)
                )))
                .fetch_all(&mut *conn)
                .await
                .map_err(merr("explanations"))?;
                // Ordered by id: the last one of a listing is its latest.
                let mut latest: HashMap<i64, Explanation> = HashMap::new();
                for r in &rows {
                    let x = explanation_row(r)?;
                    latest.insert(x.listing_id, x);
                }
                for l in &mut listings {
                    l.explanation = latest.remove(&l.id);
                }
                Ok(listings)
            }

            async fn load_explanations(conn: &mut Conn, cond: &str, bind: Option<Bind>) -> Result<Vec<Explanation>> {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {EXPLANATION_COLS} FROM noncoop_explanations e JOIN hosters h ON h.id = e.hoster_id \
                     WHERE 1 = 1{cond} ORDER BY e.id DESC"
                )));
                q = match bind {
                    Some(Bind::Int(v)) => q.bind(v),
                    Some(Bind::Text(v)) => q.bind(v),
                    None => q,
                };
                let rows = q.fetch_all(&mut *conn).await.map_err(merr("explanations"))?;
                rows.iter().map(explanation_row).collect()
            }

            async fn load_explanation(conn: &mut Conn, id: i64) -> Result<Explanation> {
                load_explanations(conn, " AND e.id = $1", Some(Bind::Int(id)))
                    .await?
                    .pop()
                    .ok_or_else(|| Error::NotFound(format!("explanation {id}")))
            }

            async fn hoster_name(conn: &mut Conn, id: i64) -> Result<String> {
                let row = sqlx::query("SELECT name FROM hosters WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(merr("hoster"))?;
                match row {
                    Some(r) => r.try_get("name").map_err(merr("hoster")),
                    None => Ok(format!("hoster {id}")),
                }
            }

            fn reasons_text(reasons: &[Reason]) -> String {
                reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
            }

            impl $store {
                async fn monitor_conn(&self) -> Result<sqlx::pool::PoolConnection<$db>> {
                    self.pool.acquire().await.map_err(merr("connection"))
                }
            }

            #[async_trait]
            impl MonitorStore for $store {
                async fn summary(&self, period: &Period, now: Millis) -> Result<Summary> {
                    let mut conn = self.monitor_conn().await?;
                    // A million rows at most: decoded as they stream in, by position (the
                    // order of SUMMARY_SQL's columns), not held twice.
                    let mut groups = Vec::new();
                    // Planned for each call (`persistent(false)`): PostgreSQL's generic plan
                    // of a cached statement guesses a few rows for any range and hashes a
                    // million groups twice as slowly as the plan for the real bounds.
                    let mut rows = sqlx::query(SUMMARY_SQL)
                        .persistent(false)
                        .bind(period.from.0)
                        .bind(period.to.0)
                        .bind(now.0)
                        .fetch(&mut *conn);
                    let e = merr("case statistics");
                    while let Some(r) = rows.try_next().await.map_err(&e)? {
                        groups.push(CaseGroup {
                            hoster_id: r.try_get(0).map_err(&e)?,
                            category: r.try_get(1).map_err(&e)?,
                            day: r.try_get(2).map_err(&e)?,
                            removed: r.try_get::<i64, _>(3).map_err(&e)? != 0,
                            minutes: r.try_get(4).map_err(&e)?,
                            cases: u(r.try_get(5).map_err(&e)?),
                            reminded: u(r.try_get(6).map_err(&e)?),
                            escalated: u(r.try_get(7).map_err(&e)?),
                            escalated_online: u(r.try_get(8).map_err(&e)?),
                            repeats: u(r.try_get(9).map_err(&e)?),
                        });
                    }
                    drop(rows);
                    sort_groups(&mut groups);

                    let rows = sqlx::query(NOTICES_SQL)
                        .persistent(false)
                        .bind(period.from.0)
                        .bind(period.to.0)
                        .bind(now.0)
                        .fetch_all(&mut *conn)
                        .await
                        .map_err(merr("notice statistics"))?;
                    let mut notices = Vec::with_capacity(rows.len());
                    for r in &rows {
                        let e = merr("notice statistics");
                        notices.push(NoticeCount {
                            hoster_id: r.try_get("hoster_id").map_err(&e)?,
                            day: r.try_get("nday").map_err(&e)?,
                            notices: u(r.try_get("n").map_err(&e)?),
                        });
                    }
                    sort_notices(&mut notices);

                    let months = period.months();
                    let participation = match (months.first(), months.last()) {
                        (Some(first), Some(last)) => {
                            let rows = sqlx::query(PARTICIPATION_SQL)
                                .persistent(false)
                                .bind(first.start().0)
                                .bind(last.end().0)
                                .fetch_all(&mut *conn)
                                .await
                                .map_err(merr("hash-check statistics"))?;
                            let mut days = Vec::with_capacity(rows.len());
                            for r in &rows {
                                let e = merr("hash-check statistics");
                                days.push((
                                    r.try_get::<i64, _>("org_id").map_err(&e)?,
                                    r.try_get::<i64, _>("nday").map_err(&e)?,
                                    u(r.try_get::<Option<i64>, _>("checks").map_err(&e)?.unwrap_or(0)),
                                    u(r.try_get::<Option<i64>, _>("matches").map_err(&e)?.unwrap_or(0)),
                                    u(r.try_get::<Option<i64>, _>("removed").map_err(&e)?.unwrap_or(0)),
                                    r.try_get::<Option<i64>, _>("scanner").map_err(&e)?.unwrap_or(0) != 0,
                                ));
                            }
                            if days.is_empty() {
                                Vec::new()
                            } else {
                                let rows = sqlx::query("SELECT id, fields FROM hosters")
                                    .fetch_all(&mut *conn)
                                    .await
                                    .map_err(merr("hosters"))?;
                                let mut hosters_of: HashMap<i64, Vec<i64>> = HashMap::new();
                                for r in &rows {
                                    let id: i64 = r.try_get("id").map_err(merr("hoster"))?;
                                    let fields: String = r.try_get("fields").map_err(merr("hoster"))?;
                                    let link: OrgLink = serde_json::from_str(&fields).map_err(mjson_err)?;
                                    if let Some(org) = link.org_id {
                                        hosters_of.entry(org).or_default().push(id);
                                    }
                                }
                                fold_participation(&days, &hosters_of)
                            }
                        }
                        _ => Vec::new(),
                    };
                    Ok(Summary {
                        period: *period,
                        now,
                        groups,
                        notices,
                        participation,
                    })
                }

                async fn cases_behind(&self, q: &DrillQuery) -> Result<Vec<CaseFacts>> {
                    let mut sql = format!(
                        "SELECT {FACT_COLS} FROM cases c \
                         WHERE c.notified_at IS NOT NULL AND c.hoster_id IS NOT NULL \
                           AND c.notified_at >= $1 AND c.notified_at < $2 AND c.notified_at <= $3{}",
                        drill_sql(q.which)
                    );
                    let mut binds = Vec::new();
                    if let Some(h) = q.hoster {
                        binds.push(Bind::Int(h));
                        sql.push_str(&format!(" AND c.hoster_id = ${}", binds.len() + 3));
                    }
                    if let Some(k) = &q.category {
                        binds.push(Bind::Text(k.clone()));
                        sql.push_str(&format!(" AND c.category = ${}", binds.len() + 3));
                    }
                    sql.push_str(&format!(" ORDER BY c.notified_at DESC, c.id DESC LIMIT {}", q.limit));
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .persistent(false)
                        .bind(q.period.from.0)
                        .bind(q.period.to.0)
                        .bind(q.now.0);
                    for b in binds {
                        query = match b {
                            Bind::Int(v) => query.bind(v),
                            Bind::Text(v) => query.bind(v),
                        };
                    }
                    let mut rows = query.fetch(&self.pool);
                    let mut out = Vec::new();
                    while let Some(r) = rows.try_next().await.map_err(merr("cases"))? {
                        out.push(fact_row(&r)?);
                    }
                    Ok(out)
                }

                async fn overdue(&self, now: Millis, norm_ms: i64, limit: u32) -> Result<Vec<CaseFacts>> {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {FACT_COLS} FROM cases c \
                         WHERE c.notified_at IS NOT NULL AND c.hoster_id IS NOT NULL AND c.is_open = 1 \
                           AND c.notified_at < $2 AND (c.removed_at IS NULL OR c.removed_at > $1) \
                         ORDER BY c.notified_at, c.id LIMIT {limit}"
                    )))
                    .bind(now.0)
                    .bind(now.0.saturating_sub(norm_ms))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(merr("overdue cases"))?;
                    rows.iter().map(fact_row).collect()
                }

                async fn save_run(&self, run: &NewRun) -> Result<Run> {
                    run.rules.validate().map_err(Error::Invalid)?;
                    if run.window.from >= run.window.to {
                        return Err(Error::Invalid("the run's window is empty".into()));
                    }
                    let rules = serde_json::to_string(&run.rules).map_err(mjson_err)?;
                    let mut conn = self.monitor_conn().await?;
                    let mut tx = Self::begin_write(&mut conn).await.map_err(|e| Error::Storage(e.to_string()))?;
                    let id: i64 = sqlx::query(
                        "INSERT INTO noncoop_runs (at, run_by, window_from, window_to, rules, status) \
                         VALUES ($1, $2, $3, $4, $5, 'proposed') RETURNING id",
                    )
                    .bind(run.at.0)
                    .bind(&run.by)
                    .bind(run.window.from.0)
                    .bind(run.window.to.0)
                    .bind(rules)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(merr("run"))?
                    .try_get("id")
                    .map_err(merr("run"))?;
                    for p in &run.proposals {
                        let reasons = serde_json::to_string(&p.reasons).map_err(mjson_err)?;
                        let figures = serde_json::to_string(&p.figures).map_err(mjson_err)?;
                        sqlx::query(
                            "INSERT INTO noncoop_proposals (run_id, hoster_id, action, reasons, figures) \
                             VALUES ($1, $2, $3, $4, $5)",
                        )
                        .bind(id)
                        .bind(p.hoster_id)
                        .bind(p.action.as_str())
                        .bind(reasons)
                        .bind(figures)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| {
                            if is_unique_violation(&e) {
                                Error::Invalid(format!("hoster {} is proposed twice", p.hoster_id))
                            } else if is_fk_violation(&e) {
                                Error::Invalid(format!("hoster {} is not in the register", p.hoster_id))
                            } else {
                                merr("proposal")(e)
                            }
                        })?;
                    }
                    tx.commit().await.map_err(merr("transaction"))?;
                    load_run(&mut conn, id).await
                }

                async fn run(&self, id: i64) -> Result<Run> {
                    let mut conn = self.monitor_conn().await?;
                    load_run(&mut conn, id).await
                }

                async fn runs(&self, limit: u32) -> Result<Vec<Run>> {
                    let mut conn = self.monitor_conn().await?;
                    load_runs(&mut conn, None, limit).await
                }

                async fn decide_run(
                    &self,
                    id: i64,
                    approve: bool,
                    actor: &str,
                    now: Millis,
                    mails: &[NewMail],
                ) -> Result<Run> {
                    let status = if approve { RunStatus::Approved } else { RunStatus::Discarded };
                    let mut conn = self.monitor_conn().await?;
                    let mut tx = Self::begin_write(&mut conn).await.map_err(|e| Error::Storage(e.to_string()))?;
                    // The conditional update is the lock: of two deciders, the second finds
                    // the run decided (PostgreSQL re-checks the condition after the first
                    // commits).
                    let n = sqlx::query(
                        "UPDATE noncoop_runs SET status = $1, decided_by = $2, decided_at = $3 \
                         WHERE id = $4 AND status = 'proposed'",
                    )
                    .bind(status.as_str())
                    .bind(actor)
                    .bind(now.0)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(merr("run"))?
                    .rows_affected();
                    if n == 0 {
                        let row = sqlx::query("SELECT status FROM noncoop_runs WHERE id = $1")
                            .bind(id)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(merr("run"))?;
                        return Err(match row {
                            None => Error::NotFound(format!("run {id}")),
                            Some(r) => {
                                let s: String = r.try_get("status").map_err(merr("run"))?;
                                Error::Conflict(format!("run {id} is {s} already"))
                            }
                        });
                    }
                    if approve {
                        let rows = sqlx::query(
                            "SELECT hoster_id, action, reasons FROM noncoop_proposals WHERE run_id = $1 ORDER BY hoster_id",
                        )
                        .bind(id)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(merr("proposals"))?;
                        let mut todo = Vec::with_capacity(rows.len());
                        for r in &rows {
                            let e = merr("proposal");
                            let action: String = r.try_get("action").map_err(&e)?;
                            todo.push((
                                r.try_get::<i64, _>("hoster_id").map_err(&e)?,
                                ProposalAction::parse(&action)
                                    .ok_or_else(|| Error::Storage(format!("unknown proposal action {action:?}")))?,
                                r.try_get::<String, _>("reasons").map_err(&e)?,
                            ));
                        }
                        drop(rows);
                        for (hoster_id, action, reasons) in todo {
                            match action {
                                ProposalAction::List => {
                                    let inserted = sqlx::query(
                                        "INSERT INTO noncoop_listings (hoster_id, run_id, listed_at, listed_by, reasons) \
                                         VALUES ($1, $2, $3, $4, $5) RETURNING id",
                                    )
                                    .bind(hoster_id)
                                    .bind(id)
                                    .bind(now.0)
                                    .bind(actor)
                                    .bind(&reasons)
                                    .fetch_one(&mut *tx)
                                    .await;
                                    let listing_id: i64 = match inserted {
                                        Ok(r) => r.try_get("id").map_err(merr("listing"))?,
                                        Err(e) if is_unique_violation(&e) => {
                                            drop(tx);
                                            let name = hoster_name(&mut conn, hoster_id).await?;
                                            return Err(Error::Conflict(format!(
                                                "{name} (hoster {hoster_id}) is on the list already"
                                            )));
                                        }
                                        Err(e) => return Err(merr("listing")(e)),
                                    };
                                    let parsed: Vec<Reason> = serde_json::from_str(&reasons).map_err(mjson_err)?;
                                    list_event(&mut tx, now, hoster_id, listing_id, actor, "listed", &reasons_text(&parsed)).await?;
                                }
                                ProposalAction::Delist => {
                                    let row = sqlx::query(
                                        "UPDATE noncoop_listings SET delisted_at = $1, delisted_by = $2, delist_run = $3 \
                                         WHERE hoster_id = $4 AND delisted_at IS NULL RETURNING id",
                                    )
                                    .bind(now.0)
                                    .bind(actor)
                                    .bind(id)
                                    .bind(hoster_id)
                                    .fetch_optional(&mut *tx)
                                    .await
                                    .map_err(merr("listing"))?;
                                    let Some(row) = row else {
                                        drop(tx);
                                        let name = hoster_name(&mut conn, hoster_id).await?;
                                        return Err(Error::Conflict(format!(
                                            "{name} (hoster {hoster_id}) is not on the list"
                                        )));
                                    };
                                    let listing_id: i64 = row.try_get("id").map_err(merr("listing"))?;
                                    list_event(
                                        &mut tx, now, hoster_id, listing_id, actor, "delisted",
                                        &format!("no rule broken any more (run {id})"),
                                    )
                                    .await?;
                                }
                            }
                        }
                        queue_mails(&mut tx, mails, now)
                        .await
                        .map_err(merr("mail"))?;
                    }
                    tx.commit().await.map_err(merr("transaction"))?;
                    load_run(&mut conn, id).await
                }

                async fn listings(&self, current: bool) -> Result<Vec<Listing>> {
                    let mut conn = self.monitor_conn().await?;
                    load_listings(&mut conn, current, None).await
                }

                async fn listing_of(&self, hoster_id: i64) -> Result<Option<Listing>> {
                    let mut conn = self.monitor_conn().await?;
                    Ok(load_listings(&mut conn, true, Some(hoster_id)).await?.pop())
                }

                async fn submit_explanation(
                    &self,
                    hoster_id: i64,
                    text: &str,
                    by: &str,
                    now: Millis,
                ) -> Result<Explanation> {
                    let text = text.trim();
                    if text.is_empty() {
                        return Err(Error::Invalid("the explanation is empty".into()));
                    }
                    let chars = text.chars().count();
                    if chars > MAX_EXPLANATION {
                        return Err(Error::Invalid(format!(
                            "the explanation has {chars} characters; at most {MAX_EXPLANATION}"
                        )));
                    }
                    let mut conn = self.monitor_conn().await?;
                    let mut tx = Self::begin_write(&mut conn).await.map_err(|e| Error::Storage(e.to_string()))?;
                    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT id FROM noncoop_listings WHERE hoster_id = $1 AND delisted_at IS NULL{}",
                        $for_update
                    )))
                    .bind(hoster_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(merr("listing"))?;
                    let Some(row) = row else {
                        return Err(Error::Conflict(format!("hoster {hoster_id} is not on the list")));
                    };
                    let listing_id: i64 = row.try_get("id").map_err(merr("listing"))?;
                    let id: i64 = sqlx::query(
                        "INSERT INTO noncoop_explanations (listing_id, hoster_id, text, submitted_at, submitted_by, status) \
                         VALUES ($1, $2, $3, $4, $5, 'pending') RETURNING id",
                    )
                    .bind(listing_id)
                    .bind(hoster_id)
                    .bind(text)
                    .bind(now.0)
                    .bind(by)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(merr("explanation"))?
                    .try_get("id")
                    .map_err(merr("explanation"))?;
                    list_event(
                        &mut tx, now, hoster_id, listing_id, by, "explanation_submitted",
                        &format!("explanation {id}"),
                    )
                    .await?;
                    tx.commit().await.map_err(merr("transaction"))?;
                    load_explanation(&mut conn, id).await
                }

                async fn explanations(&self, status: Option<ExplanationStatus>) -> Result<Vec<Explanation>> {
                    let mut conn = self.monitor_conn().await?;
                    match status {
                        Some(s) => load_explanations(&mut conn, " AND e.status = $1", Some(Bind::Text(s.as_str().into()))).await,
                        None => load_explanations(&mut conn, "", None).await,
                    }
                }

                async fn explanations_of(&self, hoster_id: i64) -> Result<Vec<Explanation>> {
                    let mut conn = self.monitor_conn().await?;
                    load_explanations(&mut conn, " AND e.hoster_id = $1", Some(Bind::Int(hoster_id))).await
                }

                async fn review_explanation(
                    &self,
                    id: i64,
                    approve: bool,
                    actor: &str,
                    note: Option<&str>,
                    now: Millis,
                ) -> Result<Explanation> {
                    let status = if approve { ExplanationStatus::Approved } else { ExplanationStatus::Rejected };
                    let note = note.map(str::trim).filter(|n| !n.is_empty());
                    let mut conn = self.monitor_conn().await?;
                    let mut tx = Self::begin_write(&mut conn).await.map_err(|e| Error::Storage(e.to_string()))?;
                    let row = sqlx::query(
                        "UPDATE noncoop_explanations SET status = $1, reviewed_at = $2, reviewed_by = $3, note = $4 \
                         WHERE id = $5 AND status = 'pending' RETURNING listing_id, hoster_id",
                    )
                    .bind(status.as_str())
                    .bind(now.0)
                    .bind(actor)
                    .bind(note)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(merr("explanation"))?;
                    let Some(row) = row else {
                        let row = sqlx::query("SELECT status FROM noncoop_explanations WHERE id = $1")
                            .bind(id)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(merr("explanation"))?;
                        return Err(match row {
                            None => Error::NotFound(format!("explanation {id}")),
                            Some(r) => {
                                let s: String = r.try_get("status").map_err(merr("explanation"))?;
                                Error::Conflict(format!("explanation {id} is {s} already"))
                            }
                        });
                    };
                    let listing_id: i64 = row.try_get("listing_id").map_err(merr("explanation"))?;
                    let hoster_id: i64 = row.try_get("hoster_id").map_err(merr("explanation"))?;
                    let kind = if approve { "explanation_approved" } else { "explanation_rejected" };
                    let detail = match note {
                        Some(n) => format!("explanation {id}: {n}"),
                        None => format!("explanation {id}"),
                    };
                    list_event(&mut tx, now, hoster_id, listing_id, actor, kind, &detail).await?;
                    tx.commit().await.map_err(merr("transaction"))?;
                    load_explanation(&mut conn, id).await
                }

                async fn list_events(&self, hoster_id: Option<i64>, limit: u32) -> Result<Vec<ListEvent>> {
                    let filter = if hoster_id.is_some() { " WHERE e.hoster_id = $1" } else { "" };
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT e.id, e.at, e.hoster_id, h.name AS hoster_name, e.listing_id, e.actor, e.kind, e.detail \
                         FROM noncoop_events e JOIN hosters h ON h.id = e.hoster_id{filter} ORDER BY e.id DESC LIMIT {limit}"
                    )));
                    if let Some(h) = hoster_id {
                        q = q.bind(h);
                    }
                    let rows = q.fetch_all(&self.pool).await.map_err(merr("list events"))?;
                    rows.iter().map(event_row).collect()
                }
            }
        };
    };
}

pub(crate) use impl_monitor;
