//! [`ntd::takedown::NoticeStore`] for both backends, written once as a macro like
//! [`crate::cases`]: notices and their outbox, the timers on cases, re-checks, hoster answers,
//! templates and shared secrets.
//!
//! Two rules carry the guarantees:
//!
//! * **One step, one row.** `notice_cases` has a unique key `(case, kind, hoster)`: whoever
//!   queues a case's notice (or reminder, or escalation) first wins, and a second planner's
//!   transaction fails whole, so a restart or a second replica never queues a step twice.
//! * **Claims are leases.** A due notice or re-check is claimed by moving its due instant
//!   forward by a lease in one `UPDATE ... RETURNING` whose outer condition is checked again
//!   after a concurrent claimer's lock is released (PostgreSQL, with `SKIP LOCKED` for the
//!   batch claims), so two replicas never work on the same one, and a dead worker's claim
//!   comes due again.

macro_rules! impl_notices {
    ($store:ty, $db:ty, $row:ty, $skip_locked:literal, $for_update:literal) => {
        const _: () = {
            use $crate::cases::{nerr, state, json_err};
            use async_trait::async_trait;
            use lists::Millis;
            use ntd::case::CaseState;
            use ntd::fetch::{Check, Content, Verdict};
            use ntd::notice::{NoticeKind, Template};
            use ntd::takedown::*;
            use ntd::{Error, Result};
            use sqlx::Row as _;
            use std::collections::HashMap;
            use std::time::Duration;

            type Conn = <$db as sqlx::Database>::Connection;

            const NOTICE_COLS: &str = "id, reference, kind, hoster_id, channel, recipients, subject, body, json, \
                status, queued_at, attempts, last_error, sent_at, message_id";

            fn ms(d: Duration) -> i64 {
                i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
            }

            fn kind(s: &str) -> Result<NoticeKind> {
                s.parse().map_err(|_| Error::Storage(format!("unknown notice kind {s:?} in the database")))
            }

            fn notice_row(r: &$row, case_ids: Vec<i64>) -> Result<Notice> {
                let e = nerr("notice");
                let recipients: String = r.try_get("recipients").map_err(&e)?;
                let channel: String = r.try_get("channel").map_err(&e)?;
                let status: String = r.try_get("status").map_err(&e)?;
                Ok(Notice {
                    id: r.try_get("id").map_err(&e)?,
                    reference: r.try_get("reference").map_err(&e)?,
                    kind: kind(&r.try_get::<String, _>("kind").map_err(&e)?)?,
                    hoster_id: r.try_get("hoster_id").map_err(&e)?,
                    channel: Channel::parse(&channel).ok_or_else(|| Error::Storage(format!("unknown channel {channel:?}")))?,
                    recipients: serde_json::from_str(&recipients).map_err(json_err)?,
                    subject: r.try_get("subject").map_err(&e)?,
                    body: r.try_get("body").map_err(&e)?,
                    json: r.try_get("json").map_err(&e)?,
                    status: NoticeStatus::parse(&status).ok_or_else(|| Error::Storage(format!("unknown notice status {status:?}")))?,
                    queued_at: Millis(r.try_get("queued_at").map_err(&e)?),
                    attempts: r.try_get("attempts").map_err(&e)?,
                    last_error: r.try_get("last_error").map_err(&e)?,
                    sent_at: r.try_get::<Option<i64>, _>("sent_at").map_err(&e)?.map(Millis),
                    message_id: r.try_get("message_id").map_err(&e)?,
                    case_ids,
                })
            }

            async fn notice_case_ids(conn: &mut Conn, notice_id: i64) -> Result<Vec<i64>> {
                let rows = sqlx::query("SELECT case_id FROM notice_cases WHERE notice_id = $1 ORDER BY case_id")
                    .bind(notice_id)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(nerr("notice"))?;
                rows.iter().map(|r| r.try_get::<i64, _>("case_id").map_err(nerr("notice"))).collect()
            }

            $crate::cases::event_fn!();

            fn portal_row(r: &$row) -> Result<PortalCase> {
                let e = nerr("case");
                Ok(PortalCase {
                    case_id: r.try_get("id").map_err(&e)?,
                    url: r.try_get("url").map_err(&e)?,
                    category: r.try_get("category").map_err(&e)?,
                    state: state(&r.try_get::<String, _>("state").map_err(&e)?)?,
                    reference: r.try_get("reference").map_err(&e)?,
                    notified_at: r.try_get::<Option<i64>, _>("notified_at").map_err(&e)?.map(Millis),
                    deadline: None,
                    hoster_said: r.try_get("hoster_said").map_err(&e)?,
                    hoster_said_at: r.try_get::<Option<i64>, _>("hoster_said_at").map_err(&e)?.map(Millis),
                    last_verdict: r.try_get("last_verdict").map_err(&e)?,
                    removed_at: r.try_get::<Option<i64>, _>("removed_at").map_err(&e)?.map(Millis),
                })
            }

            const PORTAL_SQL: &str = "SELECT c.id, c.url, c.category, c.state, n.reference, c.notified_at, c.hoster_said, \
                    c.hoster_said_at, c.last_verdict, c.removed_at \
                 FROM notice_cases nc JOIN notices n ON n.id = nc.notice_id JOIN cases c ON c.id = nc.case_id \
                 WHERE nc.kind = 'notice' AND nc.hoster_id = $1 AND n.status = 'sent' AND c.hoster_id = $1";

            #[async_trait]
            impl NoticeStore for $store {
                async fn due(&self, k: NoticeKind, now: Millis, limit: usize) -> Result<Vec<DueCase>> {
                    let cond = match k {
                        NoticeKind::Notice => "c.state = 'actionable' AND c.hoster_id IS NOT NULL AND NOT EXISTS \
                            (SELECT 1 FROM notice_cases nc WHERE nc.case_id = c.id AND nc.kind = 'notice' AND nc.hoster_id = c.hoster_id)",
                        NoticeKind::Reminder => "c.state = 'notified' AND c.remind_at IS NOT NULL AND c.remind_at <= $1 \
                            AND c.hoster_id IS NOT NULL AND (c.hoster_said IS NULL OR c.hoster_said = 'removed')",
                        NoticeKind::Escalation => "c.state = 'notified' AND c.escalate_at IS NOT NULL AND c.escalate_at <= $1 \
                            AND c.hoster_id IS NOT NULL AND (c.hoster_said IS NULL OR c.hoster_said = 'removed')",
                    };
                    let order = match k {
                        NoticeKind::Notice => "c.opened_at, c.id",
                        NoticeKind::Reminder => "c.remind_at, c.id",
                        NoticeKind::Escalation => "c.escalate_at, c.id",
                    };
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT c.id, c.url, c.category, c.opened_at, c.hoster_id, c.attribution, c.notified_at \
                         FROM cases c WHERE {cond} AND $1 = $1 ORDER BY {order} LIMIT {}",
                        limit.max(1)
                    )))
                    .bind(now.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(nerr("cases"))?;
                    let mut out = Vec::with_capacity(rows.len());
                    for r in &rows {
                        let e = nerr("case");
                        let attribution: Option<String> = r.try_get("attribution").map_err(&e)?;
                        let addresses = attribution
                            .as_deref()
                            .and_then(|a| serde_json::from_str::<ntd::attribution::Attribution>(a).ok())
                            .map(|a| a.addrs.iter().map(|x| x.ip.to_string()).collect())
                            .unwrap_or_default();
                        out.push(DueCase {
                            case_id: r.try_get("id").map_err(&e)?,
                            url: r.try_get("url").map_err(&e)?,
                            category: r.try_get("category").map_err(&e)?,
                            opened_at: Millis(r.try_get("opened_at").map_err(&e)?),
                            hoster_id: r.try_get("hoster_id").map_err(&e)?,
                            addresses,
                            notified_at: r.try_get::<Option<i64>, _>("notified_at").map_err(&e)?.map(Millis),
                        });
                    }
                    Ok(out)
                }

                async fn unregistered(&self, limit: usize) -> Result<Vec<Unregistered>> {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT id, attribution FROM cases WHERE state = 'actionable' AND hoster_id IS NULL \
                         AND attribution IS NOT NULL ORDER BY opened_at, id LIMIT {}", limit.max(1))))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(nerr("cases"))?;
                    let mut out = Vec::new();
                    for r in &rows {
                        let a: String = r.try_get("attribution").map_err(nerr("case"))?;
                        let Ok(a) = serde_json::from_str::<ntd::attribution::Attribution>(&a) else { continue };
                        if let Some(party) = a.notify.filter(|p| p.hoster_id.is_none() && !p.abuse.is_empty()) {
                            out.push(Unregistered { case_id: r.try_get("id").map_err(nerr("case"))?, party });
                        }
                    }
                    Ok(out)
                }

                async fn adopt_party(&self, case_id: i64, hoster_id: i64, now: Millis) -> Result<()> {
                    let mut conn = self.pool.acquire().await.map_err(nerr("connection"))?;
                    let mut tx = Self::begin_write(&mut conn).await.map_err(|e| Error::Storage(e.to_string()))?;
                    let name: String = sqlx::query("SELECT name FROM hosters WHERE id = $1")
                        .bind(hoster_id)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(nerr("hoster"))?
                        .try_get("name")
                        .map_err(nerr("hoster"))?;
                    let done = sqlx::query("UPDATE cases SET hoster_id = $1, hoster_name = $2, updated_at = $3 \
                                            WHERE id = $4 AND hoster_id IS NULL AND state = 'actionable'")
                        .bind(hoster_id)
                        .bind(&name)
                        .bind(now.0)
                        .bind(case_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(nerr("case"))?
                        .rows_affected();
                    if done == 1 {
                        event(&mut tx, case_id, now, "schoon", "hoster", None, None,
                            &format!("party to notify: {name} (register entry #{hoster_id}, from the attribution data)"),
                            &serde_json::json!({"hoster_id": hoster_id})).await?;
                    }
                    tx.commit().await.map_err(nerr("transaction"))?;
                    Ok(())
                }

                async fn queue_notice(&self, n: &NewNotice, now: Millis) -> Result<i64> {
                    if n.case_ids.is_empty() {
                        return Err(Error::Invalid("a notice needs at least one case".into()));
                    }
                    let mut conn = self.pool.acquire().await.map_err(nerr("connection"))?;
                    let mut tx = Self::begin_write(&mut conn).await.map_err(|e| Error::Storage(e.to_string()))?;
                    let row = sqlx::query(
                        "INSERT INTO notices (reference, kind, hoster_id, channel, recipients, subject, body, json, status, queued_at, due_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', $9, $9) RETURNING id",
                    )
                    .bind(&n.reference)
                    .bind(n.kind.name())
                    .bind(n.hoster_id)
                    .bind(n.channel.name())
                    .bind(serde_json::to_string(&n.recipients).map_err(json_err)?)
                    .bind(&n.subject)
                    .bind(&n.body)
                    .bind(&n.json)
                    .bind(now.0)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(nerr("notice"))?;
                    let id: i64 = row.try_get("id").map_err(nerr("notice"))?;
                    let timer = match n.kind {
                        NoticeKind::Notice => None,
                        NoticeKind::Reminder => Some("remind_at = NULL, reminded_at = $1"),
                        NoticeKind::Escalation => Some("escalate_at = NULL, escalated_at = $1"),
                    };
                    let to = match n.channel {
                        Channel::Email => format!("e-mail to {}", n.recipients.join(", ")),
                        Channel::Webhook => "webhook".to_string(),
                    };
                    let message = format!("{} {} queued ({to})", n.kind.name(), n.reference);
                    let detail = serde_json::json!({"notice": n.reference, "kind": n.kind.name()});
                    for case_id in &n.case_ids {
                        sqlx::query("INSERT INTO notice_cases (notice_id, case_id, kind, hoster_id) VALUES ($1, $2, $3, $4)")
                            .bind(id)
                            .bind(*case_id)
                            .bind(n.kind.name())
                            .bind(n.hoster_id)
                            .execute(&mut *tx)
                            .await
                            .map_err(|e| match &e {
                                sqlx::Error::Database(d) if d.is_unique_violation() => Error::Conflict(format!(
                                    "the {} of case {case_id} is already queued", n.kind.name()
                                )),
                                _ => nerr("notice case")(e),
                            })?;
                        if let Some(set) = timer {
                            sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE cases SET {set} WHERE id = $2")))
                                .bind(now.0)
                                .bind(*case_id)
                                .execute(&mut *tx)
                                .await
                                .map_err(nerr("case"))?;
                        }
                        event(&mut tx, *case_id, now, "schoon", "notice", None, None, &message, &detail).await?;
                    }
                    tx.commit().await.map_err(nerr("transaction"))?;
                    Ok(id)
                }

                async fn claim_notice(&self, now: Millis, lease: Duration) -> Result<Option<Notice>> {
                    let until = now.0.saturating_add(ms(lease));
                    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE notices SET due_at = $2 WHERE id = ( \
                           SELECT id FROM notices WHERE due_at IS NOT NULL AND due_at <= $1 AND status = 'queued' \
                           ORDER BY due_at, id LIMIT 1{}) \
                         AND due_at <= $1 AND status = 'queued' RETURNING {NOTICE_COLS}", $skip_locked
                    )))
                    .bind(now.0)
                    .bind(until)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(nerr("notice"))?;
                    let Some(row) = row else { return Ok(None) };
                    let id: i64 = row.try_get("id").map_err(nerr("notice"))?;
                    let mut conn = self.pool.acquire().await.map_err(nerr("connection"))?;
                    let ids = notice_case_ids(&mut conn, id).await?;
                    notice_row(&row, ids).map(Some)
                }

                async fn finish_notice(&self, id: i64, now: Millis, outcome: &SendOutcome, policy: &Policy) -> Result<()> {
                    let mut conn = self.pool.acquire().await.map_err(nerr("connection"))?;
                    let mut tx = Self::begin_write(&mut conn).await.map_err(|e| Error::Storage(e.to_string()))?;
                    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {NOTICE_COLS} FROM notices WHERE id = $1{}", $for_update)))
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(nerr("notice"))?
                        .ok_or_else(|| Error::NotFound(format!("notice {id}")))?;
                    let ids = notice_case_ids(&mut tx, id).await?;
                    let n = notice_row(&row, ids)?;
                    if n.status != NoticeStatus::Queued {
                        // Another sender finished it after our lease ran out; keep its record.
                        tx.commit().await.map_err(nerr("transaction"))?;
                        return Ok(());
                    }
                    let attempt = n.attempts + 1;
                    let what = n.kind.name();
                    match outcome {
                        SendOutcome::Sent(answer) => {
                            sqlx::query("UPDATE notices SET status = 'sent', sent_at = $1, attempts = $2, message_id = $3, due_at = NULL, last_error = NULL WHERE id = $4")
                                .bind(now.0)
                                .bind(attempt)
                                .bind(answer.as_str())
                                .bind(id)
                                .execute(&mut *tx)
                                .await
                                .map_err(nerr("notice"))?;
                            let detail = serde_json::json!({"notice": n.reference, "kind": what, "attempt": attempt, "answer": answer});
                            for case_id in &n.case_ids {
                                let current = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT state FROM cases WHERE id = $1{}", $for_update)))
                                    .bind(*case_id)
                                    .fetch_one(&mut *tx)
                                    .await
                                    .map_err(nerr("case"))?;
                                let current = state(&current.try_get::<String, _>("state").map_err(nerr("case"))?)?;
                                if n.kind == NoticeKind::Notice && current == CaseState::Actionable {
                                    sqlx::query("UPDATE cases SET state = 'notified', is_open = 1, updated_at = $1, \
                                                 notified_at = COALESCE(notified_at, $1), remind_at = $2, escalate_at = $3, check_at = $1, checks = 0 \
                                                 WHERE id = $4")
                                        .bind(now.0)
                                        .bind(policy.remind_at(now).0)
                                        .bind(policy.escalate_at(now).0)
                                        .bind(*case_id)
                                        .execute(&mut *tx)
                                        .await
                                        .map_err(nerr("case"))?;
                                    event(&mut tx, *case_id, now, "schoon", "state", Some(current), Some(CaseState::Notified),
                                        &format!("notice {} sent to {} (attempt {attempt})", n.reference, n.recipients.join(", ")), &detail).await?;
                                } else {
                                    sqlx::query("UPDATE cases SET updated_at = $1 WHERE id = $2")
                                        .bind(now.0)
                                        .bind(*case_id)
                                        .execute(&mut *tx)
                                        .await
                                        .map_err(nerr("case"))?;
                                    let message = match n.kind {
                                        NoticeKind::Notice => format!("notice {} sent (the case was {} by then)", n.reference, current.label()),
                                        NoticeKind::Reminder => format!("reminder {} sent to {}", n.reference, n.recipients.join(", ")),
                                        NoticeKind::Escalation => format!("escalated: {} sent to {}", n.reference, n.recipients.join(", ")),
                                    };
                                    event(&mut tx, *case_id, now, "schoon", what, None, None, &message, &detail).await?;
                                }
                            }
                        }
                        SendOutcome::Retry(at, err) => {
                            sqlx::query("UPDATE notices SET due_at = $1, attempts = $2, last_error = $3 WHERE id = $4")
                                .bind(at.0)
                                .bind(attempt)
                                .bind(err.as_str())
                                .bind(id)
                                .execute(&mut *tx)
                                .await
                                .map_err(nerr("notice"))?;
                            let message = format!("{what} {}: attempt {attempt} failed ({err}); next try in {} s",
                                n.reference, (at.0 - now.0).max(0) / 1000);
                            let detail = serde_json::json!({"notice": n.reference, "attempt": attempt, "error": err, "retry_at": at.0});
                            for case_id in &n.case_ids {
                                event(&mut tx, *case_id, now, "schoon", "attempt", None, None, &message, &detail).await?;
                            }
                        }
                        SendOutcome::Failed(err) => {
                            sqlx::query("UPDATE notices SET status = 'failed', due_at = NULL, attempts = $1, last_error = $2 WHERE id = $3")
                                .bind(attempt)
                                .bind(err.as_str())
                                .bind(id)
                                .execute(&mut *tx)
                                .await
                                .map_err(nerr("notice"))?;
                            let message = format!("{what} {} failed for good after {attempt} attempts: {err}", n.reference);
                            let detail = serde_json::json!({"notice": n.reference, "attempt": attempt, "error": err});
                            for case_id in &n.case_ids {
                                event(&mut tx, *case_id, now, "schoon", "attempt", None, None, &message, &detail).await?;
                            }
                        }
                    }
                    tx.commit().await.map_err(nerr("transaction"))?;
                    Ok(())
                }

                async fn notices(&self, case_id: Option<i64>, limit: usize) -> Result<Vec<Notice>> {
                    let sql = match case_id {
                        Some(_) => format!("SELECT {NOTICE_COLS} FROM notices WHERE id IN (SELECT notice_id FROM notice_cases WHERE case_id = $1) ORDER BY id DESC LIMIT {}", limit.max(1)),
                        None => format!("SELECT {NOTICE_COLS} FROM notices WHERE $1 = $1 ORDER BY id DESC LIMIT {}", limit.max(1)),
                    };
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(case_id.unwrap_or(0))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(nerr("notices"))?;
                    let mut conn = self.pool.acquire().await.map_err(nerr("connection"))?;
                    let mut out = Vec::with_capacity(rows.len());
                    for r in &rows {
                        let id: i64 = r.try_get("id").map_err(nerr("notice"))?;
                        let ids = notice_case_ids(&mut conn, id).await?;
                        out.push(notice_row(r, ids)?);
                    }
                    Ok(out)
                }

                async fn notice(&self, reference: &str) -> Result<Option<Notice>> {
                    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {NOTICE_COLS} FROM notices WHERE reference = $1")))
                        .bind(reference)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(nerr("notice"))?;
                    let Some(row) = row else { return Ok(None) };
                    let id: i64 = row.try_get("id").map_err(nerr("notice"))?;
                    let mut conn = self.pool.acquire().await.map_err(nerr("connection"))?;
                    let ids = notice_case_ids(&mut conn, id).await?;
                    notice_row(&row, ids).map(Some)
                }

                async fn claim_checks(&self, now: Millis, limit: usize, lease: Duration) -> Result<Vec<CheckDue>> {
                    let until = now.0.saturating_add(ms(lease));
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE cases SET check_at = $2 WHERE id IN ( \
                           SELECT id FROM cases WHERE check_at IS NOT NULL AND check_at <= $1 AND state = 'notified' \
                           ORDER BY check_at, id LIMIT {}{}) \
                         AND check_at <= $1 RETURNING id, url, host, notified_at, checks, baseline",
                        limit.max(1), $skip_locked
                    )))
                    .bind(now.0)
                    .bind(until)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(nerr("cases"))?;
                    let mut out = Vec::with_capacity(rows.len());
                    for r in &rows {
                        let e = nerr("case");
                        let baseline: Option<String> = r.try_get("baseline").map_err(&e)?;
                        out.push(CheckDue {
                            case_id: r.try_get("id").map_err(&e)?,
                            url: r.try_get("url").map_err(&e)?,
                            host: r.try_get("host").map_err(&e)?,
                            notified_at: Millis(r.try_get::<Option<i64>, _>("notified_at").map_err(&e)?.unwrap_or(now.0)),
                            checks: r.try_get("checks").map_err(&e)?,
                            baseline: baseline.as_deref().map(serde_json::from_str::<Content>).transpose().map_err(json_err)?,
                        });
                    }
                    out.sort_by_key(|d| d.case_id);
                    Ok(out)
                }

                async fn save_checks(&self, checks: &[CheckRecord]) -> Result<()> {
                    if checks.is_empty() {
                        return Ok(());
                    }
                    let mut conn = self.pool.acquire().await.map_err(nerr("connection"))?;
                    let mut tx = Self::begin_write(&mut conn).await.map_err(|e| Error::Storage(e.to_string()))?;
                    for rec in checks {
                        let c = &rec.check;
                        let detail = serde_json::to_string(c).map_err(json_err)?;
                        sqlx::query("INSERT INTO case_checks (case_id, at, verdict, reason, status, detail) VALUES ($1, $2, $3, $4, $5, $6)")
                            .bind(rec.case_id)
                            .bind(rec.at.0)
                            .bind(c.verdict.name())
                            .bind(&c.reason)
                            .bind(c.status.map(i64::from))
                            .bind(detail)
                            .execute(&mut *tx)
                            .await
                            .map_err(nerr("check"))?;
                        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "SELECT state, notified_at, last_verdict, baseline FROM cases WHERE id = $1{}", $for_update)))
                            .bind(rec.case_id)
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(nerr("case"))?;
                        let current = state(&row.try_get::<String, _>("state").map_err(nerr("case"))?)?;
                        if current != CaseState::Notified {
                            continue; // closed by hand meanwhile: the check is kept, nothing follows
                        }
                        let notified_at: Option<i64> = row.try_get("notified_at").map_err(nerr("case"))?;
                        let last: Option<String> = row.try_get("last_verdict").map_err(nerr("case"))?;
                        let has_baseline = row.try_get::<Option<String>, _>("baseline").map_err(nerr("case"))?.is_some();
                        let check_detail = serde_json::json!({"verdict": c.verdict.name(), "status": c.status, "reason": c.reason, "hops": c.hops});
                        match c.verdict {
                            Verdict::Offline => {
                                sqlx::query("UPDATE cases SET state = 'closed', is_open = 0, updated_at = $1, removed_at = $1, \
                                             check_at = NULL, remind_at = NULL, escalate_at = NULL, checks = checks + 1, last_verdict = $2 WHERE id = $3")
                                    .bind(rec.at.0)
                                    .bind(c.verdict.name())
                                    .bind(rec.case_id)
                                    .execute(&mut *tx)
                                    .await
                                    .map_err(nerr("case"))?;
                                let after = notified_at.map(|n| {
                                    let mins = (rec.at.0 - n).max(0) / 60_000;
                                    format!(", {} h {:02} min after the notice", mins / 60, mins % 60)
                                }).unwrap_or_default();
                                event(&mut tx, rec.case_id, rec.at, "schoon", "state", Some(CaseState::Notified), Some(CaseState::Removed),
                                    &format!("removal verified: {}{after}", c.reason), &check_detail).await?;
                                event(&mut tx, rec.case_id, rec.at, "schoon", "state", Some(CaseState::Removed), Some(CaseState::Closed),
                                    "closed: the material is offline", &serde_json::json!({})).await?;
                            }
                            v => {
                                let baseline = match (v, has_baseline, &c.content) {
                                    (Verdict::Online, false, Some(content)) => Some(serde_json::to_string(content).map_err(json_err)?),
                                    _ => None,
                                };
                                sqlx::query("UPDATE cases SET check_at = $1, checks = checks + 1, last_verdict = $2, \
                                             baseline = COALESCE(baseline, $3) WHERE id = $4")
                                    .bind(rec.next.0)
                                    .bind(v.name())
                                    .bind(baseline)
                                    .bind(rec.case_id)
                                    .execute(&mut *tx)
                                    .await
                                    .map_err(nerr("case"))?;
                                // The timeline notes changes of the verdict, not every check.
                                if last.as_deref() != Some(v.name()) {
                                    let message = match v {
                                        Verdict::Online => format!("re-check: still online ({})", c.reason),
                                        Verdict::Changed => format!("re-check: the content changed ({})", c.reason),
                                        Verdict::Refused => format!("re-check refused: {}", c.reason),
                                        _ => format!("re-check inconclusive: {}", c.reason),
                                    };
                                    event(&mut tx, rec.case_id, rec.at, "schoon", "check", None, None, &message, &check_detail).await?;
                                }
                            }
                        }
                    }
                    tx.commit().await.map_err(nerr("transaction"))?;
                    Ok(())
                }

                async fn checks(&self, case_id: i64, limit: usize) -> Result<Vec<CheckRow>> {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT id, case_id, at, detail FROM case_checks WHERE case_id = $1 ORDER BY id DESC LIMIT {}", limit.max(1))))
                        .bind(case_id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(nerr("checks"))?;
                    rows.iter().map(|r| {
                        let e = nerr("check");
                        let detail: String = r.try_get("detail").map_err(&e)?;
                        Ok(CheckRow {
                            id: r.try_get("id").map_err(&e)?,
                            case_id: r.try_get("case_id").map_err(&e)?,
                            at: Millis(r.try_get("at").map_err(&e)?),
                            check: serde_json::from_str::<Check>(&detail).map_err(json_err)?,
                        })
                    }).collect()
                }

                async fn portal_cases(&self, hoster_id: i64, since: Millis) -> Result<Vec<PortalCase>> {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "{PORTAL_SQL} AND (c.state = 'notified' OR (c.removed_at IS NOT NULL AND c.removed_at >= $2)) \
                         ORDER BY c.notified_at, c.id LIMIT 10000")))
                        .bind(hoster_id)
                        .bind(since.0)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(nerr("cases"))?;
                    rows.iter().map(portal_row).collect()
                }

                async fn respond(&self, hoster_id: i64, case_id: i64, response: &HosterResponse, actor: &str, now: Millis) -> Result<PortalCase> {
                    response.check()?;
                    let mut conn = self.pool.acquire().await.map_err(nerr("connection"))?;
                    let mut tx = Self::begin_write(&mut conn).await.map_err(|e| Error::Storage(e.to_string()))?;
                    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{PORTAL_SQL} AND c.id = $2")))
                        .bind(hoster_id)
                        .bind(case_id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(nerr("case"))?
                        .ok_or_else(|| Error::NotFound(format!("case {case_id} in your notices")))?;
                    let case = portal_row(&row)?;
                    if case.state != CaseState::Notified {
                        return Err(Error::Conflict(format!("case {case_id} is {} already", case.state.label())));
                    }
                    let name: String = sqlx::query("SELECT name FROM hosters WHERE id = $1")
                        .bind(hoster_id)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(nerr("hoster"))?
                        .try_get("name")
                        .map_err(nerr("hoster"))?;
                    let check_now = matches!(response, HosterResponse::Removed { .. });
                    sqlx::query("UPDATE cases SET hoster_said = $1, hoster_said_at = $2, updated_at = $2, \
                                 check_at = CASE WHEN $3 = 1 THEN $2 ELSE check_at END WHERE id = $4")
                        .bind(response.name())
                        .bind(now.0)
                        .bind(i64::from(check_now))
                        .bind(case_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(nerr("case"))?;
                    let detail = serde_json::to_value(response).unwrap_or_default();
                    event(&mut tx, case_id, now, actor, "hoster", None, None, &response.message(&name), &detail).await?;
                    tx.commit().await.map_err(nerr("transaction"))?;
                    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{PORTAL_SQL} AND c.id = $2")))
                        .bind(hoster_id)
                        .bind(case_id)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(nerr("case"))?;
                    portal_row(&row)
                }

                async fn templates(&self) -> Result<Vec<StoredTemplate>> {
                    let rows = sqlx::query("SELECT kind, subject, body, updated_at, updated_by FROM notice_templates")
                        .fetch_all(&self.pool)
                        .await
                        .map_err(nerr("templates"))?;
                    let mut saved = HashMap::new();
                    for r in &rows {
                        let e = nerr("template");
                        let k = kind(&r.try_get::<String, _>("kind").map_err(&e)?)?;
                        saved.insert(k, StoredTemplate {
                            template: Template {
                                kind: k,
                                subject: r.try_get("subject").map_err(&e)?,
                                body: r.try_get("body").map_err(&e)?,
                            },
                            updated: Some((r.try_get("updated_by").map_err(&e)?, Millis(r.try_get("updated_at").map_err(&e)?))),
                        });
                    }
                    Ok(NoticeKind::ALL.iter().map(|k| saved.remove(k).unwrap_or_else(|| StoredTemplate {
                        template: ntd::notice::default_template(*k),
                        updated: None,
                    })).collect())
                }

                async fn save_template(&self, t: &Template, actor: &str, now: Millis) -> Result<()> {
                    sqlx::query("INSERT INTO notice_templates (kind, subject, body, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5) \
                                 ON CONFLICT (kind) DO UPDATE SET subject = excluded.subject, body = excluded.body, \
                                 updated_at = excluded.updated_at, updated_by = excluded.updated_by")
                        .bind(t.kind.name())
                        .bind(&t.subject)
                        .bind(&t.body)
                        .bind(now.0)
                        .bind(actor)
                        .execute(&self.pool)
                        .await
                        .map_err(nerr("template"))?;
                    Ok(())
                }

                async fn secret(&self, name: &str) -> Result<String> {
                    let mut bytes = [0u8; 32];
                    getrandom::fill(&mut bytes).map_err(|e| Error::Storage(format!("no randomness: {e}")))?;
                    sqlx::query("INSERT INTO ntd_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                        .bind(name)
                        .bind(hex::encode(bytes))
                        .execute(&self.pool)
                        .await
                        .map_err(nerr("secret"))?;
                    sqlx::query("SELECT value FROM ntd_secrets WHERE name = $1")
                        .bind(name)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(nerr("secret"))?
                        .try_get("value")
                        .map_err(nerr("secret"))
                }
            }
        };
    };
}

pub(crate) use impl_notices;
