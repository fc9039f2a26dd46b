//! [`ntd::CaseStore`] for both backends, written once like [`crate::common`]'s `impl_store!`:
//! reports and cases with their timeline, the hosters register and the attribution data.
//!
//! Deduplication rests on a partial unique index (`cases_open_url`: one open case per URL).
//! A new case is inserted with `ON CONFLICT DO NOTHING` and, when another transaction won,
//! read back, so two replicas taking reports of one URL at once still make one case.

pub(crate) use ntd::case::{Case, CaseState, Event, Report, Source};
pub(crate) use ntd::{Error, Result};

/// The columns [`case_row`] reads.
pub(crate) const CASE_COLS: &str = "id, url, host, category, state, opened_at, updated_at, reports, sources, \
     hoster_id, hoster_name, country, forwarded_to, attributed_at";

pub(crate) const REPORT_COLS: &str =
    "id, case_id, at, reference, url, category, source, actor, org_id, contact, text, external_ref";

pub(crate) const EVENT_COLS: &str =
    "id, case_id, at, actor, kind, from_state, to_state, message, detail";

/// Records per attribution-data chunk.
pub(crate) const CHUNK: usize = 5000;

pub(crate) fn nerr(what: &str) -> impl Fn(sqlx::Error) -> Error + '_ {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            Error::Conflict(format!("{what} already exists"))
        }
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
            Error::Invalid(format!("{what} refers to something that does not exist"))
        }
        sqlx::Error::RowNotFound => Error::NotFound(what.to_string()),
        _ => Error::Storage(e.to_string()),
    }
}

pub(crate) fn state(s: &str) -> Result<CaseState> {
    s.parse()
        .map_err(|_| Error::Storage(format!("unknown case state {s:?} in the database")))
}

pub(crate) fn source(s: &str) -> Result<Source> {
    s.parse()
        .map_err(|_| Error::Storage(format!("unknown report source {s:?} in the database")))
}

pub(crate) fn sources(s: &str) -> Result<Vec<Source>> {
    s.split(',').filter(|p| !p.is_empty()).map(source).collect()
}

pub(crate) fn merge_sources(old: &str, add: Source) -> String {
    let mut v: Vec<&str> = old.split(',').filter(|p| !p.is_empty()).collect();
    if !v.contains(&add.name()) {
        v.push(add.name());
    }
    v.join(",")
}

pub(crate) fn json_err(e: serde_json::Error) -> Error {
    Error::Storage(format!("bad JSON in the database: {e}"))
}

/// Anything a dynamic query binds.
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    Int(i64),
    Text(String),
}

/// The `WHERE` clause and its binds for a case filter (`$1`, `$2`, ... numbered from 1).
pub(crate) fn case_where(f: &ntd::case::CaseFilter) -> (String, Vec<Bind>) {
    let mut clauses = Vec::new();
    let mut binds = Vec::new();
    if !f.states.is_empty() {
        let mut marks = Vec::new();
        for s in &f.states {
            binds.push(Bind::Text(s.name().to_string()));
            marks.push(format!("${}", binds.len()));
        }
        clauses.push(format!("state IN ({})", marks.join(",")));
    }
    if let Some(c) = &f.category {
        binds.push(Bind::Text(c.clone()));
        clauses.push(format!("category = ${}", binds.len()));
    }
    if let Some(s) = f.source {
        binds.push(Bind::Text(s.name().to_string()));
        clauses.push(format!(
            "EXISTS (SELECT 1 FROM reports r WHERE r.case_id = cases.id AND r.source = ${})",
            binds.len()
        ));
    }
    if let Some(h) = f.hoster_id {
        binds.push(Bind::Int(h));
        clauses.push(format!("hoster_id = ${}", binds.len()));
    }
    if let Some(u) = &f.url_contains {
        let escaped = u
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        binds.push(Bind::Text(format!("%{escaped}%")));
        clauses.push(format!(
            "LOWER(url) LIKE LOWER(${}) ESCAPE '\\'",
            binds.len()
        ));
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    (sql, binds)
}

/// `event(conn, case_id, at, actor, kind, from, to, message, detail)`: appends a timeline event
/// inside the caller's transaction. Expanded inside [`impl_ntd`] and [`crate::notices`]'s
/// macro, where `Conn` names the backend's connection type.
macro_rules! event_fn {
    () => {
            #[allow(clippy::too_many_arguments)]
            async fn event(
                conn: &mut Conn,
                case_id: i64,
                at: Millis,
                actor: &str,
                kind: &str,
                from: Option<CaseState>,
                to: Option<CaseState>,
                message: &str,
                detail: &serde_json::Value,
            ) -> Result<()> {
                sqlx::query(
                    "INSERT INTO case_events (case_id, at, actor, kind, from_state, to_state, message, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(case_id)
                .bind(at.0)
                .bind(actor)
                .bind(kind)
                .bind(from.map(|s| s.name()))
                .bind(to.map(|s| s.name()))
                .bind(message)
                .bind(detail.to_string())
                .execute(&mut *conn)
                .await
                .map_err(nerr("case event"))?;
                Ok(())
            }
    };
}

pub(crate) use event_fn;

macro_rules! impl_ntd {
    ($store:ty, $db:ty, $row:ty, $for_update:literal, $serialise:literal) => {
        const _: () = {
            use $crate::cases::*;
            use async_trait::async_trait;
            use lists::Millis;
            use ntd::attribution::{Attribution, DataSource, StoredData, ip2asn::AsnRange, rpsl::{AutNum, Network, RpslData}};
            use ntd::case::{Action, CaseFilter, Intake, Outcome, OutcomeStatus, Submitter};
            use ntd::register::{Hoster, HosterFields};
            use ntd::store::{CaseStore, Pending, StateCounts};
            use sqlx::Row as _;
            use std::collections::HashMap;
            use std::time::Duration;

            type Conn = <$db as sqlx::Database>::Connection;

            fn case_row(r: &$row) -> Result<Case> {
                let e = nerr("case");
                Ok(Case {
                    id: r.try_get("id").map_err(&e)?,
                    url: r.try_get("url").map_err(&e)?,
                    host: r.try_get("host").map_err(&e)?,
                    category: r.try_get("category").map_err(&e)?,
                    state: state(&r.try_get::<String, _>("state").map_err(&e)?)?,
                    opened_at: Millis(r.try_get("opened_at").map_err(&e)?),
                    updated_at: Millis(r.try_get("updated_at").map_err(&e)?),
                    reports: r.try_get("reports").map_err(&e)?,
                    sources: sources(&r.try_get::<String, _>("sources").map_err(&e)?)?,
                    hoster_id: r.try_get("hoster_id").map_err(&e)?,
                    hoster_name: r.try_get("hoster_name").map_err(&e)?,
                    country: r.try_get("country").map_err(&e)?,
                    forwarded_to: r.try_get("forwarded_to").map_err(&e)?,
                    attributed_at: r.try_get::<Option<i64>, _>("attributed_at").map_err(&e)?.map(Millis),
                })
            }

            fn report_row(r: &$row) -> Result<Report> {
                let e = nerr("report");
                Ok(Report {
                    id: r.try_get("id").map_err(&e)?,
                    case_id: r.try_get("case_id").map_err(&e)?,
                    at: Millis(r.try_get("at").map_err(&e)?),
                    reference: r.try_get("reference").map_err(&e)?,
                    url: r.try_get("url").map_err(&e)?,
                    category: r.try_get("category").map_err(&e)?,
                    source: source(&r.try_get::<String, _>("source").map_err(&e)?)?,
                    actor: r.try_get("actor").map_err(&e)?,
                    org_id: r.try_get("org_id").map_err(&e)?,
                    contact: r.try_get("contact").map_err(&e)?,
                    text: r.try_get("text").map_err(&e)?,
                    external_ref: r.try_get("external_ref").map_err(&e)?,
                })
            }

            fn event_row(r: &$row) -> Result<Event> {
                let e = nerr("case event");
                let detail: String = r.try_get("detail").map_err(&e)?;
                Ok(Event {
                    id: r.try_get("id").map_err(&e)?,
                    case_id: r.try_get("case_id").map_err(&e)?,
                    at: Millis(r.try_get("at").map_err(&e)?),
                    actor: r.try_get("actor").map_err(&e)?,
                    kind: r.try_get("kind").map_err(&e)?,
                    from_state: r.try_get::<Option<String>, _>("from_state").map_err(&e)?.as_deref().map(state).transpose()?,
                    to_state: r.try_get::<Option<String>, _>("to_state").map_err(&e)?.as_deref().map(state).transpose()?,
                    message: r.try_get("message").map_err(&e)?,
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
                })
            }

            fn hoster_row(r: &$row) -> Result<Hoster> {
                let e = nerr("hoster");
                let fields: String = r.try_get("fields").map_err(&e)?;
                Ok(Hoster {
                    id: r.try_get("id").map_err(&e)?,
                    fields: serde_json::from_str(&fields).map_err(json_err)?,
                    updated_at: Millis(r.try_get("updated_at").map_err(&e)?),
                    updated_by: r.try_get("updated_by").map_err(&e)?,
                })
            }

            $crate::cases::event_fn!();

            async fn bump_version(conn: &mut Conn) -> Result<()> {
                sqlx::query("UPDATE attr_version SET value = value + 1 WHERE id = 1")
                    .execute(&mut *conn)
                    .await
                    .map_err(nerr("attribution version"))?;
                Ok(())
            }

            async fn replace_chunks<T: serde::Serialize>(conn: &mut Conn, kind: &str, rows: &[T]) -> Result<()> {
                sqlx::query("DELETE FROM attr_chunks WHERE kind = $1")
                    .bind(kind)
                    .execute(&mut *conn)
                    .await
                    .map_err(nerr("attribution data"))?;
                for (n, chunk) in rows.chunks(CHUNK).enumerate() {
                    let body = serde_json::to_string(chunk).map_err(json_err)?;
                    sqlx::query("INSERT INTO attr_chunks (kind, n, body) VALUES ($1, $2, $3)")
                        .bind(kind)
                        .bind(n as i64)
                        .bind(body)
                        .execute(&mut *conn)
                        .await
                        .map_err(nerr("attribution data"))?;
                }
                Ok(())
            }

            async fn record_source(conn: &mut Conn, s: &DataSource) -> Result<()> {
                sqlx::query(
                    "INSERT INTO attr_sources (kind, files, loaded_at, loaded_by, records, sha256) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (kind) DO UPDATE SET files = excluded.files, loaded_at = excluded.loaded_at, \
                     loaded_by = excluded.loaded_by, records = excluded.records, sha256 = excluded.sha256",
                )
                .bind(&s.kind)
                .bind(&s.files)
                .bind(s.loaded_at.0)
                .bind(&s.loaded_by)
                .bind(s.records)
                .bind(&s.sha256)
                .execute(&mut *conn)
                .await
                .map_err(nerr("attribution source"))?;
                Ok(())
            }

            async fn chunks<T: serde::de::DeserializeOwned>(pool: &sqlx::Pool<$db>, kind: &str) -> Result<Vec<T>> {
                let rows = sqlx::query("SELECT body FROM attr_chunks WHERE kind = $1 ORDER BY n")
                    .bind(kind)
                    .fetch_all(pool)
                    .await
                    .map_err(nerr("attribution data"))?;
                let mut out = Vec::new();
                for r in rows {
                    let body: String = r.try_get("body").map_err(nerr("attribution data"))?;
                    let part: Vec<T> = serde_json::from_str(&body).map_err(json_err)?;
                    out.extend(part);
                }
                Ok(out)
            }

            fn lease_ms(d: Duration) -> i64 {
                i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
            }

            #[async_trait]
            impl CaseStore for $store {
                async fn submit(&self, by: &Submitter, intakes: Vec<Intake>) -> Result<Vec<Outcome>> {
                    let mut conn = self.pool.acquire().await.map_err(nerr("connection"))?;
                    let mut tx = Self::begin_write(&mut conn).await.map_err(|e| Error::Storage(e.to_string()))?;
                    // Submissions take turns (SQLite's write lock does this already): two
                    // batches sharing URLs in different orders would otherwise deadlock on
                    // PostgreSQL, and a case's merged sources could lose a writer's update.
                    if !$serialise.is_empty() {
                        sqlx::query($serialise).execute(&mut *tx).await.map_err(nerr("submission lock"))?;
                    }
                    let now = self.clock.now();
                    // Per touched case: its sources before and after, how many reports joined,
                    // and whether this batch opened it.
                    struct Touched { sources: String, added: i64, opened: bool, first_source: Source }
                    let mut by_url: HashMap<String, i64> = HashMap::new();
                    let mut touched: HashMap<i64, Touched> = HashMap::new();
                    let mut order: Vec<i64> = Vec::new();
                    let mut outcomes = Vec::with_capacity(intakes.len());
                    for intake in intakes {
                        let url = intake.url.as_str().to_string();
                        let mut status = OutcomeStatus::Joined;
                        let case_id = match by_url.get(&url) {
                            Some(id) => *id,
                            None => {
                                let existing = sqlx::query("SELECT id, sources FROM cases WHERE url = $1 AND is_open = 1")
                                    .bind(&url)
                                    .fetch_optional(&mut *tx)
                                    .await
                                    .map_err(nerr("case"))?;
                                let (id, srcs, opened) = match existing {
                                    Some(r) => (
                                        r.try_get::<i64, _>("id").map_err(nerr("case"))?,
                                        r.try_get::<String, _>("sources").map_err(nerr("case"))?,
                                        false,
                                    ),
                                    None => {
                                        let inserted = sqlx::query(
                                            "INSERT INTO cases (url, host, category, state, is_open, opened_at, updated_at, reports, sources, attr_due) \
                                             VALUES ($1, $2, $3, 'new', 1, $4, $4, 0, '', $4) \
                                             ON CONFLICT (url) WHERE is_open = 1 DO NOTHING RETURNING id",
                                        )
                                        .bind(&url)
                                        .bind(intake.url.host())
                                        .bind(&intake.report.category)
                                        .bind(now.0)
                                        .fetch_optional(&mut *tx)
                                        .await
                                        .map_err(nerr("case"))?;
                                        match inserted {
                                            Some(r) => (r.try_get::<i64, _>("id").map_err(nerr("case"))?, String::new(), true),
                                            None => {
                                                // Another transaction opened it in the meantime.
                                                let r = sqlx::query("SELECT id, sources FROM cases WHERE url = $1 AND is_open = 1")
                                                    .bind(&url)
                                                    .fetch_one(&mut *tx)
                                                    .await
                                                    .map_err(nerr("case"))?;
                                                (
                                                    r.try_get::<i64, _>("id").map_err(nerr("case"))?,
                                                    r.try_get::<String, _>("sources").map_err(nerr("case"))?,
                                                    false,
                                                )
                                            }
                                        }
                                    }
                                };
                                if opened {
                                    status = OutcomeStatus::Opened;
                                }
                                by_url.insert(url.clone(), id);
                                touched.insert(id, Touched { sources: srcs, added: 0, opened, first_source: intake.report.source });
                                order.push(id);
                                id
                            }
                        };
                        let t = touched.get_mut(&case_id).expect("every case in by_url is touched");
                        t.sources = merge_sources(&t.sources, intake.report.source);
                        t.added += 1;
                        let r = &intake.report;
                        sqlx::query(
                            "INSERT INTO reports (case_id, at, reference, url, category, source, actor, org_id, contact, text, external_ref) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                        )
                        .bind(case_id)
                        .bind(now.0)
                        .bind(&intake.reference)
                        .bind(&r.url)
                        .bind(&r.category)
                        .bind(r.source.name())
                        .bind(&by.actor)
                        .bind(by.org_id)
                        .bind(r.contact.as_deref())
                        .bind(r.text.as_deref())
                        .bind(r.external_ref.as_deref())
                        .execute(&mut *tx)
                        .await
                        .map_err(nerr("report"))?;
                        outcomes.push(Outcome {
                            index: intake.index,
                            status,
                            url: Some(url),
                            case_id: Some(case_id),
                            reference: Some(intake.reference),
                            error: None,
                        });
                    }
                    for id in order {
                        let t = &touched[&id];
                        sqlx::query("UPDATE cases SET reports = reports + $1, sources = $2, updated_at = $3 WHERE id = $4")
                            .bind(t.added)
                            .bind(&t.sources)
                            .bind(now.0)
                            .bind(id)
                            .execute(&mut *tx)
                            .await
                            .map_err(nerr("case"))?;
                        let (kind, message) = if t.opened {
                            ("opened", format!("opened by a {} report{}", t.first_source.name(),
                                if t.added > 1 { format!(" (+{} in the same submission)", t.added - 1) } else { String::new() }))
                        } else {
                            ("reported", format!("{} more report{} ({})", t.added, if t.added == 1 { "" } else { "s" }, t.sources))
                        };
                        event(&mut tx, id, now, &by.actor, kind, None, None, &message,
                            &serde_json::json!({"reports": t.added})).await?;
                    }
                    tx.commit().await.map_err(nerr("transaction"))?;
                    Ok(outcomes)
                }

                async fn cases(&self, f: &CaseFilter) -> Result<(Vec<Case>, i64)> {
                    let (clause, binds) = case_where(f);
                    let order = if f.oldest_first { "opened_at, id" } else { "opened_at DESC, id DESC" };
                    let sql = format!(
                        "SELECT {CASE_COLS} FROM cases{clause} ORDER BY {order} LIMIT {} OFFSET {}",
                        f.limit.clamp(1, 10_000),
                        f.offset.max(0)
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for b in &binds {
                        q = match b { Bind::Int(v) => q.bind(*v), Bind::Text(v) => q.bind(v.clone()) };
                    }
                    let rows = q.fetch_all(&self.pool).await.map_err(nerr("cases"))?;
                    let cases = rows.iter().map(case_row).collect::<Result<Vec<_>>>()?;
                    let mut c = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM cases{clause}")));
                    for b in &binds {
                        c = match b { Bind::Int(v) => c.bind(*v), Bind::Text(v) => c.bind(v.clone()) };
                    }
                    let total: i64 = c.fetch_one(&self.pool).await.map_err(nerr("cases"))?.try_get("n").map_err(nerr("cases"))?;
                    Ok((cases, total))
                }

                async fn case(&self, id: i64) -> Result<Option<Case>> {
                    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {CASE_COLS} FROM cases WHERE id = $1")))
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(nerr("case"))?
                        .as_ref()
                        .map(case_row)
                        .transpose()
                }

                async fn reports(&self, case_id: i64) -> Result<Vec<Report>> {
                    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {REPORT_COLS} FROM reports WHERE case_id = $1 ORDER BY id")))
                        .bind(case_id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(nerr("reports"))?
                        .iter()
                        .map(report_row)
                        .collect()
                }

                async fn events(&self, case_id: i64) -> Result<Vec<Event>> {
                    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {EVENT_COLS} FROM case_events WHERE case_id = $1 ORDER BY id")))
                        .bind(case_id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(nerr("case events"))?
                        .iter()
                        .map(event_row)
                        .collect()
                }

                async fn report_by_reference(&self, reference: &str) -> Result<Option<Report>> {
                    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {REPORT_COLS} FROM reports WHERE reference = $1")))
                        .bind(reference)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(nerr("report"))?
                        .as_ref()
                        .map(report_row)
                        .transpose()
                }

                async fn act(&self, case_id: i64, actor: &str, action: &Action) -> Result<Case> {
                    action.check()?;
                    let mut conn = self.pool.acquire().await.map_err(nerr("connection"))?;
                    let mut tx = Self::begin_write(&mut conn).await.map_err(|e| Error::Storage(e.to_string()))?;
                    let now = self.clock.now();
                    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT state, category FROM cases WHERE id = $1{}", $for_update)))
                        .bind(case_id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(nerr("case"))?
                        .ok_or_else(|| Error::NotFound(format!("case {case_id}")))?;
                    let current = state(&row.try_get::<String, _>("state").map_err(nerr("case"))?)?;
                    let old_category: String = row.try_get("category").map_err(nerr("case"))?;
                    if let Some(to) = action.target() {
                        ntd::case::check_transition(current, to)?;
                        let forwarded = match action { Action::Forward { partner, .. } => Some(partner.trim().to_string()), _ => None };
                        sqlx::query("UPDATE cases SET state = $1, is_open = $2, updated_at = $3, forwarded_to = COALESCE($4, forwarded_to) WHERE id = $5")
                            .bind(to.name())
                            .bind(i64::from(to.is_open()))
                            .bind(now.0)
                            .bind(forwarded.as_deref())
                            .bind(case_id)
                            .execute(&mut *tx)
                            .await
                            .map_err(nerr("case"))?;
                        let mut message = format!("{} → {}", current.label(), to.label());
                        if let Some(p) = &forwarded {
                            message.push_str(&format!(" ({p})"));
                        }
                        if let Some(r) = action.reason() {
                            message.push_str(&format!(": {r}"));
                        }
                        event(&mut tx, case_id, now, actor, "state", Some(current), Some(to), &message,
                            &serde_json::to_value(action).unwrap_or_default()).await?;
                    } else {
                        match action {
                            Action::Recategorise { category } => {
                                let known = sqlx::query("SELECT name FROM categories WHERE name = $1")
                                    .bind(category.as_str())
                                    .fetch_optional(&mut *tx)
                                    .await
                                    .map_err(nerr("category"))?;
                                if known.is_none() {
                                    return Err(Error::Invalid(format!("unknown category {category:?}")));
                                }
                                sqlx::query("UPDATE cases SET category = $1, updated_at = $2 WHERE id = $3")
                                    .bind(category.as_str())
                                    .bind(now.0)
                                    .bind(case_id)
                                    .execute(&mut *tx)
                                    .await
                                    .map_err(nerr("case"))?;
                                event(&mut tx, case_id, now, actor, "category", None, None,
                                    &format!("category {old_category} → {category}"), &serde_json::to_value(action).unwrap_or_default()).await?;
                            }
                            Action::SetHoster { hoster_id, reason } => {
                                let h = sqlx::query("SELECT name FROM hosters WHERE id = $1")
                                    .bind(*hoster_id)
                                    .fetch_optional(&mut *tx)
                                    .await
                                    .map_err(nerr("hoster"))?
                                    .ok_or_else(|| Error::NotFound(format!("hoster {hoster_id}")))?;
                                let name: String = h.try_get("name").map_err(nerr("hoster"))?;
                                sqlx::query("UPDATE cases SET hoster_id = $1, hoster_name = $2, hoster_manual = 1, updated_at = $3 WHERE id = $4")
                                    .bind(*hoster_id)
                                    .bind(&name)
                                    .bind(now.0)
                                    .bind(case_id)
                                    .execute(&mut *tx)
                                    .await
                                    .map_err(nerr("case"))?;
                                let mut message = format!("party to notify set to {name} by hand");
                                if let Some(r) = reason {
                                    message.push_str(&format!(": {r}"));
                                }
                                event(&mut tx, case_id, now, actor, "hoster", None, None, &message,
                                    &serde_json::to_value(action).unwrap_or_default()).await?;
                            }
                            Action::Note { text } => {
                                sqlx::query("UPDATE cases SET updated_at = $1 WHERE id = $2")
                                    .bind(now.0)
                                    .bind(case_id)
                                    .execute(&mut *tx)
                                    .await
                                    .map_err(nerr("case"))?;
                                event(&mut tx, case_id, now, actor, "note", None, None, text.trim(), &serde_json::json!({})).await?;
                            }
                            _ => unreachable!("actions without a target state are handled above"),
                        }
                    }
                    tx.commit().await.map_err(nerr("transaction"))?;
                    self.case(case_id).await?.ok_or_else(|| Error::NotFound(format!("case {case_id}")))
                }

                async fn state_counts(&self) -> Result<StateCounts> {
                    let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM cases GROUP BY state")
                        .fetch_all(&self.pool)
                        .await
                        .map_err(nerr("cases"))?;
                    let mut counts = Vec::new();
                    for r in &rows {
                        counts.push((state(&r.try_get::<String, _>("state").map_err(nerr("cases"))?)?,
                            r.try_get::<i64, _>("n").map_err(nerr("cases"))?));
                    }
                    counts.sort_by_key(|(s, _)| CaseState::ALL.iter().position(|x| x == s));
                    Ok(StateCounts(counts))
                }

                async fn claim_attribution(&self, limit: usize, lease: Duration) -> Result<Vec<Pending>> {
                    let now = self.clock.now().0;
                    let until = now.saturating_add(lease_ms(lease));
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE cases SET attr_due = $2 WHERE id IN ( \
                           SELECT id FROM cases WHERE attr_due IS NOT NULL AND attr_due <= $1 ORDER BY attr_due, id LIMIT {}) \
                         AND attr_due IS NOT NULL AND attr_due <= $1 RETURNING id, host",
                        limit.max(1)
                    )))
                    .bind(now)
                    .bind(until)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(nerr("cases"))?;
                    rows.iter()
                        .map(|r| Ok(Pending {
                            case_id: r.try_get("id").map_err(nerr("case"))?,
                            host: r.try_get("host").map_err(nerr("case"))?,
                        }))
                        .collect()
                }

                async fn request_attribution(&self, case_id: i64, actor: &str) -> Result<()> {
                    let mut conn = self.pool.acquire().await.map_err(nerr("connection"))?;
                    let mut tx = Self::begin_write(&mut conn).await.map_err(|e| Error::Storage(e.to_string()))?;
                    let now = self.clock.now();
                    let n = sqlx::query("UPDATE cases SET attr_due = $1 WHERE id = $2")
                        .bind(now.0)
                        .bind(case_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(nerr("case"))?
                        .rows_affected();
                    if n == 0 {
                        return Err(Error::NotFound(format!("case {case_id}")));
                    }
                    event(&mut tx, case_id, now, actor, "attribution_requested", None, None,
                        "attribution asked to run again", &serde_json::json!({})).await?;
                    tx.commit().await.map_err(nerr("transaction"))?;
                    Ok(())
                }

                async fn save_attribution(&self, case_id: i64, a: &Attribution) -> Result<()> {
                    let mut conn = self.pool.acquire().await.map_err(nerr("connection"))?;
                    let mut tx = Self::begin_write(&mut conn).await.map_err(|e| Error::Storage(e.to_string()))?;
                    let now = self.clock.now();
                    let body = serde_json::to_string(a).map_err(json_err)?;
                    let party = a.notify.as_ref();
                    sqlx::query(
                        "UPDATE cases SET attribution = $1, attributed_at = $2, attr_due = NULL, country = $3, updated_at = $2, \
                         hoster_id = CASE WHEN hoster_manual = 1 THEN hoster_id ELSE $4 END, \
                         hoster_name = CASE WHEN hoster_manual = 1 THEN hoster_name ELSE $5 END WHERE id = $6",
                    )
                    .bind(body)
                    .bind(now.0)
                    .bind(a.country.as_deref())
                    .bind(party.and_then(|p| p.hoster_id))
                    .bind(party.map(|p| p.name.as_str()))
                    .bind(case_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(nerr("case"))?;
                    let (kind, message) = match (party, &a.error) {
                        (Some(p), None) => ("attributed", format!(
                            "attributed: {}{}{}",
                            if a.cdn.is_some() { format!("behind CDN {}; notify ", p.name) } else { format!("hosted by {}; notify ", p.name) },
                            p.abuse.join(", "),
                            a.country.as_deref().map(|c| format!(" (hosted in {c})")).unwrap_or_default()
                        )),
                        (Some(p), Some(e)) => ("attributed", format!("attributed to {} ({e})", p.name)),
                        (None, e) => ("attribution_failed", format!("attribution failed: {}", e.as_deref().unwrap_or("unknown"))),
                    };
                    event(&mut tx, case_id, now, "system", kind, None, None, &message,
                        &serde_json::json!({"hoster_id": party.and_then(|p| p.hoster_id), "country": a.country})).await?;
                    tx.commit().await.map_err(nerr("transaction"))?;
                    Ok(())
                }

                async fn attribution(&self, case_id: i64) -> Result<Option<Attribution>> {
                    let row = sqlx::query("SELECT attribution FROM cases WHERE id = $1")
                        .bind(case_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(nerr("case"))?;
                    match row {
                        None => Err(Error::NotFound(format!("case {case_id}"))),
                        Some(r) => match r.try_get::<Option<String>, _>("attribution").map_err(nerr("case"))? {
                            None => Ok(None),
                            Some(s) => Ok(Some(serde_json::from_str(&s).map_err(json_err)?)),
                        },
                    }
                }

                async fn hosters(&self) -> Result<Vec<Hoster>> {
                    sqlx::query("SELECT id, fields, updated_at, updated_by FROM hosters ORDER BY name")
                        .fetch_all(&self.pool)
                        .await
                        .map_err(nerr("hosters"))?
                        .iter()
                        .map(hoster_row)
                        .collect()
                }

                async fn hoster(&self, id: i64) -> Result<Option<Hoster>> {
                    sqlx::query("SELECT id, fields, updated_at, updated_by FROM hosters WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(nerr("hoster"))?
                        .as_ref()
                        .map(hoster_row)
                        .transpose()
                }

                async fn create_hoster(&self, fields: &HosterFields, actor: &str) -> Result<Hoster> {
                    let mut conn = self.pool.acquire().await.map_err(nerr("connection"))?;
                    let mut tx = Self::begin_write(&mut conn).await.map_err(|e| Error::Storage(e.to_string()))?;
                    let id: i64 = sqlx::query(
                        "INSERT INTO hosters (name, fields, updated_at, updated_by) VALUES ($1, $2, $3, $4) RETURNING id",
                    )
                    .bind(&fields.name)
                    .bind(serde_json::to_string(fields).map_err(json_err)?)
                    .bind(self.clock.now().0)
                    .bind(actor)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(nerr("a hoster with this name"))?
                    .try_get("id")
                    .map_err(nerr("hoster"))?;
                    bump_version(&mut tx).await?;
                    tx.commit().await.map_err(nerr("transaction"))?;
                    self.hoster(id).await?.ok_or_else(|| Error::NotFound(format!("hoster {id}")))
                }

                async fn update_hoster(&self, id: i64, fields: &HosterFields, actor: &str) -> Result<Hoster> {
                    let mut conn = self.pool.acquire().await.map_err(nerr("connection"))?;
                    let mut tx = Self::begin_write(&mut conn).await.map_err(|e| Error::Storage(e.to_string()))?;
                    let n = sqlx::query("UPDATE hosters SET name = $1, fields = $2, updated_at = $3, updated_by = $4 WHERE id = $5")
                        .bind(&fields.name)
                        .bind(serde_json::to_string(fields).map_err(json_err)?)
                        .bind(self.clock.now().0)
                        .bind(actor)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(nerr("a hoster with this name"))?
                        .rows_affected();
                    if n == 0 {
                        return Err(Error::NotFound(format!("hoster {id}")));
                    }
                    // Cases that name it by id show its current name.
                    sqlx::query("UPDATE cases SET hoster_name = $1 WHERE hoster_id = $2")
                        .bind(&fields.name)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(nerr("cases"))?;
                    bump_version(&mut tx).await?;
                    tx.commit().await.map_err(nerr("transaction"))?;
                    self.hoster(id).await?.ok_or_else(|| Error::NotFound(format!("hoster {id}")))
                }

                async fn replace_asn_ranges(&self, rows: &[AsnRange], source: &DataSource) -> Result<()> {
                    let mut conn = self.pool.acquire().await.map_err(nerr("connection"))?;
                    let mut tx = Self::begin_write(&mut conn).await.map_err(|e| Error::Storage(e.to_string()))?;
                    replace_chunks(&mut tx, "ip2asn", rows).await?;
                    record_source(&mut tx, source).await?;
                    bump_version(&mut tx).await?;
                    tx.commit().await.map_err(nerr("transaction"))?;
                    Ok(())
                }

                async fn replace_rpsl(&self, data: &RpslData, source: &DataSource) -> Result<()> {
                    let mut conn = self.pool.acquire().await.map_err(nerr("connection"))?;
                    let mut tx = Self::begin_write(&mut conn).await.map_err(|e| Error::Storage(e.to_string()))?;
                    replace_chunks(&mut tx, "rpsl_networks", &data.networks).await?;
                    replace_chunks(&mut tx, "rpsl_autnums", &data.autnums).await?;
                    record_source(&mut tx, source).await?;
                    bump_version(&mut tx).await?;
                    tx.commit().await.map_err(nerr("transaction"))?;
                    Ok(())
                }

                async fn attribution_data(&self) -> Result<StoredData> {
                    let asn_ranges: Vec<AsnRange> = chunks(&self.pool, "ip2asn").await?;
                    let networks: Vec<Network> = chunks(&self.pool, "rpsl_networks").await?;
                    let autnums: Vec<AutNum> = chunks(&self.pool, "rpsl_autnums").await?;
                    let sources = self.attribution_sources().await?;
                    Ok(StoredData { asn_ranges, rpsl: RpslData { networks, autnums }, sources })
                }

                async fn attribution_sources(&self) -> Result<Vec<DataSource>> {
                    let rows = sqlx::query("SELECT kind, files, loaded_at, loaded_by, records, sha256 FROM attr_sources ORDER BY kind")
                        .fetch_all(&self.pool)
                        .await
                        .map_err(nerr("attribution sources"))?;
                    let mut sources = Vec::new();
                    for r in &rows {
                        let e = nerr("attribution source");
                        sources.push(DataSource {
                            kind: r.try_get("kind").map_err(&e)?,
                            files: r.try_get("files").map_err(&e)?,
                            loaded_at: Millis(r.try_get("loaded_at").map_err(&e)?),
                            loaded_by: r.try_get("loaded_by").map_err(&e)?,
                            records: r.try_get("records").map_err(&e)?,
                            sha256: r.try_get("sha256").map_err(&e)?,
                        });
                    }
                    Ok(sources)
                }

                async fn attribution_version(&self) -> Result<i64> {
                    sqlx::query("SELECT value FROM attr_version WHERE id = 1")
                        .fetch_one(&self.pool)
                        .await
                        .map_err(nerr("attribution version"))?
                        .try_get("value")
                        .map_err(nerr("attribution version"))
                }
            }
        };
    };
}
pub(crate) use impl_ntd;
