//! [`lists::trust::TrustStore`] for both backends, written once like [`crate::common`]'s
//! `impl_store!`: entry provenance and status, match records, alerts, disputes, retraction
//! notices and the e-mail outbox.
//!
//! A status change and everything it causes (its event, an alert, retraction notices, queued
//! e-mails) commit together. It holds the change-sequence row while it runs, so concurrent
//! replicas serialise on it and only the first of two identical decisions writes anything.

/// The columns [`entry_info`] reads, joined with the adding list version and its key.
pub(crate) const ENTRY_SELECT: &str = "SELECT e.id, e.list_id, e.kind, e.hash, e.quality, e.ext_ref, e.confirmations, \
     e.added_version, e.removed_version, e.status, e.hold_reason, v.created_at AS added_at, v.actor AS added_by, \
     v.note AS import_note, k.org_id AS added_by_org \
     FROM entries e JOIN list_versions v ON v.list_id = e.list_id AND v.version = e.added_version \
     LEFT JOIN api_keys k ON k.id = v.actor";

pub(crate) const DISPUTE_SELECT: &str = "SELECT d.id, d.created_at, d.org_id, d.key_id, d.entry_id, e.list_id, d.query_kind, \
     d.query_hash, d.reason, d.status, d.resolved_at, d.resolved_by, d.resolution \
     FROM disputes d JOIN entries e ON e.id = d.entry_id";

pub(crate) const ALERT_COLS: &str =
    "id, at, kind, list_id, entry_id, message, detail, acked_at, acked_by";

pub(crate) const MAIL_COLS: &str =
    "id, created_at, ref, to_addrs, subject, body, json, attempts, sent_at, failed_at, last_error";

/// Match records per INSERT statement (12 parameters each).
pub(crate) const HIT_BATCH: usize = 200;

/// The match-record insert for `n` records: each is resolved to its live entry (and the
/// allowlist entry that overrode it, if any) inside the statement.
pub(crate) fn hits_insert(n: usize, numbered: bool) -> String {
    let mut values = String::with_capacity(n * 60);
    for i in 0..n {
        if i > 0 {
            values.push(',');
        }
        values.push('(');
        for j in 1..=12 {
            if j > 1 {
                values.push(',');
            }
            if numbered {
                values.push_str(&format!("${}", i * 12 + j));
            } else {
                values.push('?');
            }
        }
        values.push(')');
    }
    format!(
        "INSERT INTO entry_hits (at, entry_id, org_id, key_id, query_kind, query_hash, distance, allowed_by) \
         SELECT v.column1, e.id, v.column2, v.column3, v.column4, v.column5, v.column6, \
                (SELECT a.id FROM entries a WHERE a.list_id = v.column7 AND a.kind = v.column8 AND a.hash = v.column9 \
                 AND a.removed_version IS NULL ORDER BY a.id LIMIT 1) \
         FROM (VALUES {values}) AS v \
         CROSS JOIN entries e WHERE e.list_id = v.column10 AND e.kind = v.column11 AND e.hash = v.column12 \
                       AND e.removed_version IS NULL"
    )
}

/// `0` means "no limit" for a flood threshold.
pub(crate) fn threshold(v: u32) -> i64 {
    if v == 0 { i64::MAX } else { i64::from(v) }
}

/// `(1, 2, 3)` for an SQL `IN`; integers only, so formatting them in is safe.
pub(crate) fn id_list(ids: &[i64]) -> String {
    let inner: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!(
        "({})",
        if inner.is_empty() {
            "NULL".to_string()
        } else {
            inner.join(",")
        }
    )
}

macro_rules! impl_trust {
    ($store:ty, $db:ty, $row:ty) => {
        const _: () = {
            use $crate::common::*;
            use $crate::trust::*;
            use async_trait::async_trait;
            use index::Key;
            use lists::trust::*;
            use lists::{Error, Millis, Result};
            use sqlx::Row as _;
            use std::time::Duration;

            type Conn = <$db as sqlx::Database>::Connection;

            fn status(s: &str) -> Result<EntryStatus> {
                s.parse()
                    .map_err(|_| Error::Internal(format!("unknown entry status {s:?} in the database")))
            }

            fn entry_info(r: &$row) -> Result<EntryInfo> {
                let e = db_err("entry");
                let kind: i64 = r.try_get("kind").map_err(&e)?;
                let hash: Vec<u8> = r.try_get("hash").map_err(&e)?;
                Ok(EntryInfo {
                    id: r.try_get("id").map_err(&e)?,
                    list_id: r.try_get("list_id").map_err(&e)?,
                    key: key_from(kind, &hash)?,
                    quality: r
                        .try_get::<Option<i64>, _>("quality")
                        .map_err(&e)?
                        .and_then(|q| u8::try_from(q).ok()),
                    ext_ref: r.try_get("ext_ref").map_err(&e)?,
                    confirmations: u32::try_from(r.try_get::<i64, _>("confirmations").map_err(&e)?)
                        .unwrap_or(0),
                    added_version: r.try_get("added_version").map_err(&e)?,
                    added_at: millis(r.try_get("added_at").map_err(&e)?),
                    added_by: r.try_get("added_by").map_err(&e)?,
                    added_by_org: r.try_get("added_by_org").map_err(&e)?,
                    import_note: r.try_get("import_note").map_err(&e)?,
                    removed_version: r.try_get("removed_version").map_err(&e)?,
                    status: status(&r.try_get::<String, _>("status").map_err(&e)?)?,
                    hold_reason: r.try_get("hold_reason").map_err(&e)?,
                })
            }

            fn event_row(r: &$row) -> Result<EntryEvent> {
                let e = db_err("entry event");
                Ok(EntryEvent {
                    id: r.try_get("id").map_err(&e)?,
                    entry_id: r.try_get("entry_id").map_err(&e)?,
                    seq: r.try_get("seq").map_err(&e)?,
                    at: millis(r.try_get("at").map_err(&e)?),
                    actor: r.try_get("actor").map_err(&e)?,
                    from: status(&r.try_get::<String, _>("from_status").map_err(&e)?)?,
                    to: status(&r.try_get::<String, _>("to_status").map_err(&e)?)?,
                    reason: r.try_get("reason").map_err(&e)?,
                })
            }

            fn alert_row(r: &$row) -> Result<Alert> {
                let e = db_err("alert");
                let detail: String = r.try_get("detail").map_err(&e)?;
                Ok(Alert {
                    id: r.try_get("id").map_err(&e)?,
                    at: millis(r.try_get("at").map_err(&e)?),
                    kind: r.try_get("kind").map_err(&e)?,
                    list_id: r.try_get("list_id").map_err(&e)?,
                    entry_id: r.try_get("entry_id").map_err(&e)?,
                    message: r.try_get("message").map_err(&e)?,
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
                    acked_at: r.try_get::<Option<i64>, _>("acked_at").map_err(&e)?.map(millis),
                    acked_by: r.try_get("acked_by").map_err(&e)?,
                })
            }

            fn dispute_row(r: &$row) -> Result<Dispute> {
                let e = db_err("dispute");
                let kind: i64 = r.try_get("query_kind").map_err(&e)?;
                let hash: Vec<u8> = r.try_get("query_hash").map_err(&e)?;
                Ok(Dispute {
                    id: r.try_get("id").map_err(&e)?,
                    created_at: millis(r.try_get("created_at").map_err(&e)?),
                    org_id: r.try_get("org_id").map_err(&e)?,
                    key_id: r.try_get("key_id").map_err(&e)?,
                    entry_id: r.try_get("entry_id").map_err(&e)?,
                    list_id: r.try_get("list_id").map_err(&e)?,
                    query: key_from(kind, &hash)?,
                    reason: r.try_get("reason").map_err(&e)?,
                    status: r
                        .try_get::<String, _>("status")
                        .map_err(&e)?
                        .parse()
                        .map_err(|_| Error::Internal("unknown dispute status in the database".into()))?,
                    resolved_at: r.try_get::<Option<i64>, _>("resolved_at").map_err(&e)?.map(millis),
                    resolved_by: r.try_get("resolved_by").map_err(&e)?,
                    resolution: r.try_get("resolution").map_err(&e)?,
                })
            }

            fn mail_row(r: &$row) -> Result<OutboxMail> {
                let e = db_err("mail");
                let to: String = r.try_get("to_addrs").map_err(&e)?;
                Ok(OutboxMail {
                    id: r.try_get("id").map_err(&e)?,
                    mail: NewMail {
                        reference: r.try_get("ref").map_err(&e)?,
                        to: to.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
                        subject: r.try_get("subject").map_err(&e)?,
                        body: r.try_get("body").map_err(&e)?,
                        json: r.try_get("json").map_err(&e)?,
                    },
                    attempts: u32::try_from(r.try_get::<i64, _>("attempts").map_err(&e)?).unwrap_or(0),
                    created_at: millis(r.try_get("created_at").map_err(&e)?),
                    sent_at: r.try_get::<Option<i64>, _>("sent_at").map_err(&e)?.map(millis),
                    failed_at: r.try_get::<Option<i64>, _>("failed_at").map_err(&e)?.map(millis),
                    last_error: r.try_get("last_error").map_err(&e)?,
                })
            }

            async fn insert_alert(conn: &mut Conn, a: &NewAlert, now: Millis) -> Result<Alert> {
                let r = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO alerts (at, kind, list_id, entry_id, message, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING {ALERT_COLS}"
                )))
                .bind(now.0)
                .bind(&a.kind)
                .bind(a.list_id)
                .bind(a.entry_id)
                .bind(&a.message)
                .bind(a.detail.to_string())
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err("alert"))?;
                alert_row(&r)
            }

            $crate::common::define_queue_mails!();

            #[async_trait]
            impl TrustStore for $store {
                async fn set_org_email(&self, org_id: i64, email: Option<&str>) -> Result<()> {
                    let email = email.map(str::trim).filter(|e| !e.is_empty());
                    if let Some(e) = email
                        && (e.len() > 254 || !e.contains('@') || e.contains(',') || e.contains(char::is_whitespace))
                    {
                        return Err(Error::Invalid(format!("{e:?} is not an e-mail address")));
                    }
                    let n = sqlx::query("UPDATE organisations SET email = $1 WHERE id = $2")
                        .bind(email)
                        .bind(org_id)
                        .execute(&self.pool)
                        .await
                        .map_err(db_err("organisation"))?
                        .rows_affected();
                    if n == 0 {
                        return Err(Error::NotFound(format!("organisation {org_id}")));
                    }
                    Ok(())
                }

                async fn org_email(&self, org_id: i64) -> Result<Option<String>> {
                    sqlx::query("SELECT email FROM organisations WHERE id = $1")
                        .bind(org_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err("organisation"))?
                        .ok_or_else(|| Error::NotFound(format!("organisation {org_id}")))?
                        .try_get("email")
                        .map_err(db_err("organisation"))
                }

                async fn entry(&self, entry_id: i64) -> Result<EntryInfo> {
                    let r = sqlx::query(sqlx::AssertSqlSafe(format!("{ENTRY_SELECT} WHERE e.id = $1")))
                        .bind(entry_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err("entry"))?
                        .ok_or_else(|| Error::NotFound(format!("entry {entry_id}")))?;
                    entry_info(&r)
                }

                async fn find_entries(&self, list_id: i64, key: &Key) -> Result<Vec<EntryInfo>> {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "{ENTRY_SELECT} WHERE e.list_id = $1 AND e.kind = $2 AND e.hash = $3 ORDER BY e.id"
                    )))
                    .bind(list_id)
                    .bind(kind_code(key.kind()))
                    .bind(key.as_bytes())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err("entry"))?
                    .iter()
                    .map(entry_info)
                    .collect()
                }

                async fn entries_with_status(
                    &self,
                    list_id: i64,
                    st: EntryStatus,
                    after_id: i64,
                    limit: u32,
                ) -> Result<Vec<EntryInfo>> {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "{ENTRY_SELECT} WHERE e.list_id = $1 AND e.status = $2 AND e.removed_version IS NULL \
                         AND e.id > $3 ORDER BY e.id LIMIT $4"
                    )))
                    .bind(list_id)
                    .bind(st.name())
                    .bind(after_id)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err("entry"))?
                    .iter()
                    .map(entry_info)
                    .collect()
                }

                async fn entry_events(&self, entry_id: i64) -> Result<Vec<EntryEvent>> {
                    sqlx::query(
                        "SELECT id, entry_id, seq, at, actor, from_status, to_status, reason \
                         FROM entry_events WHERE entry_id = $1 ORDER BY id",
                    )
                    .bind(entry_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err("entry event"))?
                    .iter()
                    .map(event_row)
                    .collect()
                }

                async fn hit_stats(&self, entry_id: i64) -> Result<HitStats> {
                    let r = sqlx::query(
                        "SELECT COUNT(DISTINCT CASE WHEN allowed_by IS NULL THEN org_id END) AS orgs, \
                                SUM(CASE WHEN allowed_by IS NULL THEN 1 ELSE 0 END) AS hits, \
                                SUM(CASE WHEN allowed_by IS NULL THEN 0 ELSE 1 END) AS conflicts, \
                                MIN(at) AS first_at, MAX(at) AS last_at \
                         FROM entry_hits WHERE entry_id = $1",
                    )
                    .bind(entry_id)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_err("match"))?;
                    let e = db_err("match");
                    Ok(HitStats {
                        orgs: r.try_get("orgs").map_err(&e)?,
                        hits: r.try_get::<Option<i64>, _>("hits").map_err(&e)?.unwrap_or(0),
                        conflicts: r.try_get::<Option<i64>, _>("conflicts").map_err(&e)?.unwrap_or(0),
                        first_at: r.try_get::<Option<i64>, _>("first_at").map_err(&e)?.map(millis),
                        last_at: r.try_get::<Option<i64>, _>("last_at").map_err(&e)?.map(millis),
                    })
                }

                async fn hit_orgs(&self, entry_id: i64) -> Result<Vec<HitOrg>> {
                    let rows = sqlx::query(
                        "SELECT h.org_id, o.name, o.email, MIN(h.at) AS first_at, MAX(h.at) AS last_at, COUNT(*) AS hits \
                         FROM entry_hits h JOIN organisations o ON o.id = h.org_id \
                         WHERE h.entry_id = $1 AND h.allowed_by IS NULL \
                         GROUP BY h.org_id, o.name, o.email ORDER BY h.org_id",
                    )
                    .bind(entry_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err("match"))?;
                    rows.iter()
                        .map(|r| {
                            let e = db_err("match");
                            Ok(HitOrg {
                                org_id: r.try_get("org_id").map_err(&e)?,
                                name: r.try_get("name").map_err(&e)?,
                                email: r.try_get("email").map_err(&e)?,
                                first_at: millis(r.try_get("first_at").map_err(&e)?),
                                last_at: millis(r.try_get("last_at").map_err(&e)?),
                                hits: r.try_get("hits").map_err(&e)?,
                            })
                        })
                        .collect()
                }

                async fn change_status(&self, change: &StatusChange) -> Result<Option<EntryEvent>> {
                    let mut conn = self.pool.acquire().await.map_err(db_err("connection"))?;
                    let mut tx = Self::begin_write(&mut conn).await?;
                    // Serialise with imports and other status changes (replicas included).
                    sqlx::query(sqlx::AssertSqlSafe(Self::LOCK_SEQ))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err("change sequence"))?;
                    let Some(r) = sqlx::query("SELECT status, removed_version FROM entries WHERE id = $1")
                        .bind(change.entry_id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err("entry"))?
                    else {
                        return Err(Error::NotFound(format!("entry {}", change.entry_id)));
                    };
                    let cur = status(&r.try_get::<String, _>("status").map_err(db_err("entry"))?)?;
                    let live = r.try_get::<Option<i64>, _>("removed_version").map_err(db_err("entry"))?.is_none();
                    if cur == change.to || (!change.from.is_empty() && !change.from.contains(&cur)) {
                        tx.rollback().await.map_err(db_err("transaction"))?;
                        return Ok(None);
                    }
                    let now = self.clock.now();
                    // Entering or leaving "active" changes what checks answer: that takes a
                    // change sequence number, which replicas follow.
                    let seq = if live && (cur == EntryStatus::Active || change.to == EntryStatus::Active) {
                        let s: i64 = sqlx::query("UPDATE change_seq SET value = value + 1 WHERE id = 1 RETURNING value")
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(db_err("change sequence"))?
                            .try_get("value")
                            .map_err(db_err("change sequence"))?;
                        Some(s)
                    } else {
                        None
                    };
                    sqlx::query("UPDATE entries SET status = $1 WHERE id = $2")
                        .bind(change.to.name())
                        .bind(change.entry_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err("entry"))?;
                    let ev = sqlx::query(
                        "INSERT INTO entry_events (entry_id, seq, at, actor, from_status, to_status, reason) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) \
                         RETURNING id, entry_id, seq, at, actor, from_status, to_status, reason",
                    )
                    .bind(change.entry_id)
                    .bind(seq)
                    .bind(now.0)
                    .bind(&change.actor)
                    .bind(cur.name())
                    .bind(change.to.name())
                    .bind(&change.reason)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err("entry event"))?;
                    let ev = event_row(&ev)?;
                    if let Some(a) = &change.alert {
                        insert_alert(&mut tx, a, now).await?;
                    }
                    for n in &change.retractions {
                        sqlx::query(
                            "INSERT INTO retractions (created_at, entry_id, org_id, first_hit_at, last_hit_at, hits, reason) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (entry_id, org_id) DO NOTHING",
                        )
                        .bind(now.0)
                        .bind(change.entry_id)
                        .bind(n.org_id)
                        .bind(n.first_hit_at.0)
                        .bind(n.last_hit_at.0)
                        .bind(n.hits)
                        .bind(&change.reason)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err("retraction"))?;
                    }
                    queue_mails(&mut tx, &change.mails, now)
                        .await
                        .map_err(db_err("mail"))?;
                    if let Some(s) = seq {
                        Self::notify(&mut tx, s).await?;
                    }
                    tx.commit().await.map_err(db_err("transaction"))?;
                    Ok(Some(ev))
                }

                async fn record_hits(&self, hits: &[EntryHit]) -> Result<()> {
                    if hits.is_empty() {
                        return Ok(());
                    }
                    // Many records per statement: at thousands of matches per second, one
                    // statement each is what would limit the writer.
                    let mut tx = self.pool.begin().await.map_err(db_err("transaction"))?;
                    for chunk in hits.chunks(HIT_BATCH) {
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(hits_insert(chunk.len(), Self::NUMBERED)));
                    for h in chunk {
                        let (al, ak, ah) = match &h.allowed_by {
                            Some((l, k)) => (Some(*l), Some(kind_code(k.kind())), Some(k.as_bytes().to_vec())),
                            None => (None, None, None),
                        };
                        q = q
                        .bind(h.at.0)
                        .bind(h.org_id)
                        .bind(&h.key_id)
                        .bind(kind_code(h.query.kind()))
                        .bind(h.query.as_bytes())
                        .bind(i64::from(h.distance))
                        .bind(al)
                        .bind(ak)
                        .bind(ah)
                        .bind(h.list_id)
                        .bind(kind_code(h.listed.kind()))
                        .bind(h.listed.as_bytes().to_vec());
                    }
                    q.execute(&mut *tx).await.map_err(db_err("match"))?;
                    }
                    tx.commit().await.map_err(db_err("transaction"))
                }

                async fn hits_after(&self, after_id: i64, limit: u32) -> Result<Vec<HitRow>> {
                    let rows = sqlx::query(
                        "SELECT id, entry_id, org_id, at, allowed_by FROM entry_hits WHERE id > $1 ORDER BY id LIMIT $2",
                    )
                    .bind(after_id)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err("match"))?;
                    rows.iter()
                        .map(|r| {
                            let e = db_err("match");
                            Ok(HitRow {
                                id: r.try_get("id").map_err(&e)?,
                                entry_id: r.try_get("entry_id").map_err(&e)?,
                                org_id: r.try_get("org_id").map_err(&e)?,
                                at: millis(r.try_get("at").map_err(&e)?),
                                allowed: r.try_get::<Option<i64>, _>("allowed_by").map_err(&e)?.is_some(),
                            })
                        })
                        .collect()
                }

                async fn hits_start(&self, at: Millis) -> Result<i64> {
                    let r = sqlx::query(
                        "SELECT (SELECT MIN(id) FROM entry_hits WHERE at >= $1) AS first, \
                                (SELECT MAX(id) FROM entry_hits) AS last",
                    )
                    .bind(at.0)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_err("match"))?;
                    let first: Option<i64> = r.try_get("first").map_err(db_err("match"))?;
                    let last: Option<i64> = r.try_get("last").map_err(db_err("match"))?;
                    Ok(match first {
                        Some(f) => f - 1,
                        None => last.unwrap_or(0),
                    })
                }

                async fn flood_candidates(
                    &self,
                    since: Millis,
                    min_orgs: u32,
                    min_hits: u32,
                    only: &[i64],
                ) -> Result<Vec<FloodCandidate>> {
                    // Matches count from the window's start or the entry's last status change,
                    // whichever is later: a manager's reinstatement starts a fresh count.
                    let only_sql = if only.is_empty() {
                        String::new()
                    } else {
                        format!(" AND h.entry_id IN {}", id_list(only))
                    };
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT h.entry_id, e.list_id, COUNT(DISTINCT h.org_id) AS orgs, COUNT(*) AS hits \
                         FROM entry_hits h JOIN entries e ON e.id = h.entry_id \
                         WHERE h.at >= $1 AND h.allowed_by IS NULL AND e.status = 'active' AND e.removed_version IS NULL{only_sql} \
                           AND h.at > COALESCE((SELECT MAX(ev.at) FROM entry_events ev WHERE ev.entry_id = h.entry_id), 0) \
                         GROUP BY h.entry_id, e.list_id \
                         HAVING COUNT(DISTINCT h.org_id) >= $2 OR COUNT(*) >= $3 \
                         ORDER BY h.entry_id"
                    )))
                    .bind(since.0)
                    .bind(threshold(min_orgs))
                    .bind(threshold(min_hits))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err("match"))?;
                    rows.iter()
                        .map(|r| {
                            let e = db_err("match");
                            Ok(FloodCandidate {
                                entry_id: r.try_get("entry_id").map_err(&e)?,
                                list_id: r.try_get("list_id").map_err(&e)?,
                                orgs: r.try_get("orgs").map_err(&e)?,
                                hits: r.try_get("hits").map_err(&e)?,
                            })
                        })
                        .collect()
                }

                async fn conflicts(&self, list_id: i64, after_id: i64, limit: u32) -> Result<Vec<Conflict>> {
                    let rows = sqlx::query(
                        "SELECT h.id, h.at, h.entry_id, h.allowed_by, h.org_id, h.distance \
                         FROM entry_hits h JOIN entries e ON e.id = h.entry_id \
                         WHERE e.list_id = $1 AND h.allowed_by IS NOT NULL AND h.id > $2 ORDER BY h.id LIMIT $3",
                    )
                    .bind(list_id)
                    .bind(after_id)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err("match"))?;
                    rows.iter()
                        .map(|r| {
                            let e = db_err("match");
                            Ok(Conflict {
                                id: r.try_get("id").map_err(&e)?,
                                at: millis(r.try_get("at").map_err(&e)?),
                                entry_id: r.try_get("entry_id").map_err(&e)?,
                                allowed_by: r.try_get("allowed_by").map_err(&e)?,
                                org_id: r.try_get("org_id").map_err(&e)?,
                                distance: u32::try_from(r.try_get::<i64, _>("distance").map_err(&e)?).unwrap_or(0),
                            })
                        })
                        .collect()
                }

                async fn matched_entries(&self, org_id: i64, query: &Key) -> Result<Vec<i64>> {
                    sqlx::query(
                        "SELECT entry_id, MAX(id) AS last FROM entry_hits \
                         WHERE org_id = $1 AND query_kind = $2 AND query_hash = $3 AND allowed_by IS NULL \
                         GROUP BY entry_id ORDER BY last DESC",
                    )
                    .bind(org_id)
                    .bind(kind_code(query.kind()))
                    .bind(query.as_bytes())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err("match"))?
                    .iter()
                    .map(|r| r.try_get("entry_id").map_err(db_err("match")))
                    .collect()
                }

                async fn raise_alert(&self, alert: &NewAlert, mails: &[NewMail]) -> Result<Alert> {
                    let mut tx = self.pool.begin().await.map_err(db_err("transaction"))?;
                    let now = self.clock.now();
                    let a = insert_alert(&mut tx, alert, now).await?;
                    queue_mails(&mut tx, mails, now)
                        .await
                        .map_err(db_err("mail"))?;
                    tx.commit().await.map_err(db_err("transaction"))?;
                    Ok(a)
                }

                async fn alerts(&self, list_ids: Option<&[i64]>, unacked_only: bool, limit: u32) -> Result<Vec<Alert>> {
                    let mut sql = format!("SELECT {ALERT_COLS} FROM alerts WHERE 1 = 1");
                    if let Some(ids) = list_ids {
                        sql.push_str(&format!(" AND list_id IN {}", id_list(ids)));
                    }
                    if unacked_only {
                        sql.push_str(" AND acked_at IS NULL");
                    }
                    sql.push_str(" ORDER BY id DESC LIMIT $1");
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err("alert"))?
                        .iter()
                        .map(alert_row)
                        .collect()
                }

                async fn alert(&self, id: i64) -> Result<Alert> {
                    let r = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {ALERT_COLS} FROM alerts WHERE id = $1")))
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err("alert"))?
                        .ok_or_else(|| Error::NotFound(format!("alert {id}")))?;
                    alert_row(&r)
                }

                async fn ack_alert(&self, id: i64, actor: &str) -> Result<Alert> {
                    sqlx::query("UPDATE alerts SET acked_at = $1, acked_by = $2 WHERE id = $3 AND acked_at IS NULL")
                        .bind(self.clock.now().0)
                        .bind(actor)
                        .bind(id)
                        .execute(&self.pool)
                        .await
                        .map_err(db_err("alert"))?;
                    self.alert(id).await
                }

                async fn create_dispute(&self, d: &NewDispute, alert: &NewAlert, mails: &[NewMail]) -> Result<Dispute> {
                    let mut conn = self.pool.acquire().await.map_err(db_err("connection"))?;
                    let mut tx = Self::begin_write(&mut conn).await?;
                    let open = sqlx::query(
                        "SELECT id FROM disputes WHERE org_id = $1 AND entry_id = $2",
                    )
                    .bind(d.org_id)
                    .bind(d.entry_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err("dispute"))?;
                    if open.is_some() {
                        return Err(Error::Conflict("a dispute of this match".into()));
                    }
                    let now = self.clock.now();
                    let id: i64 = sqlx::query(
                        "INSERT INTO disputes (created_at, org_id, key_id, entry_id, query_kind, query_hash, reason, status) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, 'open') RETURNING id",
                    )
                    .bind(now.0)
                    .bind(d.org_id)
                    .bind(&d.key_id)
                    .bind(d.entry_id)
                    .bind(kind_code(d.query.kind()))
                    .bind(d.query.as_bytes())
                    .bind(&d.reason)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err("dispute"))?
                    .try_get("id")
                    .map_err(db_err("dispute"))?;
                    let mut alert = alert.clone();
                    if let serde_json::Value::Object(m) = &mut alert.detail {
                        m.insert("dispute_id".into(), id.into());
                    }
                    insert_alert(&mut tx, &alert, now).await?;
                    queue_mails(&mut tx, mails, now)
                        .await
                        .map_err(db_err("mail"))?;
                    tx.commit().await.map_err(db_err("transaction"))?;
                    self.dispute(id).await
                }

                async fn dispute(&self, id: i64) -> Result<Dispute> {
                    let r = sqlx::query(sqlx::AssertSqlSafe(format!("{DISPUTE_SELECT} WHERE d.id = $1")))
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err("dispute"))?
                        .ok_or_else(|| Error::NotFound(format!("dispute {id}")))?;
                    dispute_row(&r)
                }

                async fn disputes(&self, f: &DisputeFilter, limit: u32) -> Result<Vec<Dispute>> {
                    let mut sql = format!("{DISPUTE_SELECT} WHERE 1 = 1");
                    if let Some(org) = f.org_id {
                        sql.push_str(&format!(" AND d.org_id = {org}"));
                    }
                    if let Some(entry) = f.entry_id {
                        sql.push_str(&format!(" AND d.entry_id = {entry}"));
                    }
                    if let Some(ids) = &f.list_ids {
                        sql.push_str(&format!(" AND e.list_id IN {}", id_list(ids)));
                    }
                    if let Some(s) = f.status {
                        sql.push_str(&format!(" AND d.status = '{}'", s.name()));
                    }
                    sql.push_str(" ORDER BY d.id DESC LIMIT $1");
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err("dispute"))?
                        .iter()
                        .map(dispute_row)
                        .collect()
                }

                async fn resolve_dispute(&self, id: i64, st: DisputeStatus, actor: &str, note: &str) -> Result<Dispute> {
                    let n = sqlx::query(
                        "UPDATE disputes SET status = $1, resolved_at = $2, resolved_by = $3, resolution = $4 \
                         WHERE id = $5 AND status = 'open'",
                    )
                    .bind(st.name())
                    .bind(self.clock.now().0)
                    .bind(actor)
                    .bind(note)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(db_err("dispute"))?
                    .rows_affected();
                    let d = self.dispute(id).await?;
                    if n == 0 {
                        return Err(Error::Conflict(format!("dispute {id} is already {}", d.status.name())));
                    }
                    Ok(d)
                }

                async fn retractions(&self, org_id: i64, after_id: i64, limit: u32) -> Result<Vec<Retraction>> {
                    let rows = sqlx::query(
                        "SELECT r.id, r.created_at, r.entry_id, e.list_id, l.name AS list, l.category, r.org_id, \
                                r.first_hit_at, r.last_hit_at, r.hits, r.reason \
                         FROM retractions r JOIN entries e ON e.id = r.entry_id JOIN lists l ON l.id = e.list_id \
                         WHERE r.org_id = $1 AND r.id > $2 ORDER BY r.id LIMIT $3",
                    )
                    .bind(org_id)
                    .bind(after_id)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err("retraction"))?;
                    let mut out = Vec::with_capacity(rows.len());
                    for r in &rows {
                        let e = db_err("retraction");
                        let entry_id: i64 = r.try_get("entry_id").map_err(&e)?;
                        let queries = sqlx::query(
                            "SELECT DISTINCT query_kind, query_hash FROM entry_hits \
                             WHERE entry_id = $1 AND org_id = $2 AND allowed_by IS NULL ORDER BY query_kind, query_hash LIMIT $3",
                        )
                        .bind(entry_id)
                        .bind(org_id)
                        .bind(MAX_NOTICE_QUERIES as i64)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(&e)?
                        .iter()
                        .map(|q| {
                            let kind: i64 = q.try_get("query_kind").map_err(db_err("match"))?;
                            let hash: Vec<u8> = q.try_get("query_hash").map_err(db_err("match"))?;
                            key_from(kind, &hash)
                        })
                        .collect::<Result<Vec<Key>>>()?;
                        out.push(Retraction {
                            id: r.try_get("id").map_err(&e)?,
                            created_at: millis(r.try_get("created_at").map_err(&e)?),
                            list_id: r.try_get("list_id").map_err(&e)?,
                            list: r.try_get("list").map_err(&e)?,
                            category: category(&r.try_get::<String, _>("category").map_err(&e)?)?,
                            org_id: r.try_get("org_id").map_err(&e)?,
                            first_hit_at: millis(r.try_get("first_hit_at").map_err(&e)?),
                            last_hit_at: millis(r.try_get("last_hit_at").map_err(&e)?),
                            hits: r.try_get("hits").map_err(&e)?,
                            reason: r.try_get("reason").map_err(&e)?,
                            queries,
                            entry_id,
                        });
                    }
                    Ok(out)
                }

                async fn enqueue_mail(&self, mails: &[NewMail]) -> Result<()> {
                    let mut tx = self.pool.begin().await.map_err(db_err("transaction"))?;
                    queue_mails(&mut tx, mails, self.clock.now())
                        .await
                        .map_err(db_err("mail"))?;
                    tx.commit().await.map_err(db_err("transaction"))
                }

                async fn claim_mail(&self, now: Millis, lease: Duration) -> Result<Option<OutboxMail>> {
                    let until = now.0.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2));
                    // The outer `next_at <= $1` is re-checked after a concurrent claimer's lock
                    // is released (PostgreSQL), so two replicas never claim the same mail.
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE mail_outbox SET next_at = $2 WHERE id = ( \
                           SELECT id FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL AND next_at <= $1 \
                           ORDER BY next_at, id LIMIT 1) \
                         AND next_at <= $1 AND sent_at IS NULL AND failed_at IS NULL RETURNING {MAIL_COLS}"
                    )))
                    .bind(now.0)
                    .bind(until)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err("mail"))?
                    .as_ref()
                    .map(mail_row)
                    .transpose()
                }

                async fn finish_mail(&self, id: i64, now: Millis, outcome: &MailOutcome) -> Result<()> {
                    let q = match outcome {
                        MailOutcome::Sent => sqlx::query(
                            "UPDATE mail_outbox SET sent_at = $1, attempts = attempts + 1, last_error = NULL WHERE id = $2",
                        )
                        .bind(now.0)
                        .bind(id),
                        MailOutcome::Retry(at, err) => sqlx::query(
                            "UPDATE mail_outbox SET next_at = $1, attempts = attempts + 1, last_error = $2 WHERE id = $3",
                        )
                        .bind(at.0)
                        .bind(err.as_str())
                        .bind(id),
                        MailOutcome::Failed(err) => sqlx::query(
                            "UPDATE mail_outbox SET failed_at = $1, attempts = attempts + 1, last_error = $2 WHERE id = $3",
                        )
                        .bind(now.0)
                        .bind(err.as_str())
                        .bind(id),
                    };
                    q.execute(&self.pool).await.map_err(db_err("mail"))?;
                    Ok(())
                }

                async fn outbox(&self, limit: u32) -> Result<Vec<OutboxMail>> {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {MAIL_COLS} FROM mail_outbox ORDER BY id DESC LIMIT $1"
                    )))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err("mail"))?
                    .iter()
                    .map(mail_row)
                    .collect()
                }
            }
        };
    };
}

pub(crate) use impl_trust;
