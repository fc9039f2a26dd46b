//! The SQL both backends share, and the conversions between rows and domain types.
//!
//! [`impl_store!`] writes the [`lists::Store`] implementation once for each sqlx driver. The
//! backend modules supply what differs as inherent methods: `begin_write` (how a write
//! transaction starts), `staging_ddl` (the import's temporary table), `notify` (tell other
//! replicas) and `wait` (hear from them).

use index::{HashKind, Key, ListId};
use lists::import::Mode;
use lists::{Category, Error, Millis, OrgKind, Role};

/// How hash kinds are stored.
pub(crate) fn kind_code(kind: HashKind) -> i64 {
    match kind {
        HashKind::Md5 => 1,
        HashKind::Sha1 => 2,
        HashKind::Sha256 => 3,
        HashKind::Pdq => 4,
    }
}

pub(crate) fn kind_from_code(code: i64) -> Result<HashKind, Error> {
    Ok(match code {
        1 => HashKind::Md5,
        2 => HashKind::Sha1,
        3 => HashKind::Sha256,
        4 => HashKind::Pdq,
        _ => {
            return Err(Error::Internal(format!(
                "unknown hash kind code {code} in the database"
            )));
        }
    })
}

pub(crate) fn key_from(kind: i64, hash: &[u8]) -> Result<Key, Error> {
    Key::new(kind_from_code(kind)?, hash)
        .map_err(|e| Error::Internal(format!("bad hash in the database: {e}")))
}

pub(crate) fn list_id(id: i64) -> Result<ListId, Error> {
    ListId::try_from(id).map_err(|_| Error::Internal(format!("list id {id} out of range")))
}

pub(crate) fn org_kind(s: &str) -> Result<OrgKind, Error> {
    s.parse()
        .map_err(|_| Error::Internal(format!("unknown organisation kind {s:?} in the database")))
}

pub(crate) fn role(s: &str) -> Result<Role, Error> {
    s.parse()
        .map_err(|_| Error::Internal(format!("unknown role {s:?} in the database")))
}

pub(crate) fn mode(s: &str) -> Result<Mode, Error> {
    s.parse()
        .map_err(|_| Error::Internal(format!("unknown import mode {s:?} in the database")))
}

pub(crate) fn category(s: &str) -> Result<Category, Error> {
    Category::new(s)
}

pub(crate) fn millis(v: i64) -> Millis {
    Millis(v)
}

/// Maps driver errors: unique violations are conflicts, foreign-key violations invalid
/// references, the rest backend failures.
pub(crate) fn db_err(what: &str) -> impl Fn(sqlx::Error) -> Error + '_ {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            Error::Conflict(format!("{what} already exists"))
        }
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
            Error::Invalid(format!("{what} refers to something that does not exist"))
        }
        sqlx::Error::RowNotFound => Error::NotFound(what.to_string()),
        _ => Error::Backend(Box::new(e)),
    }
}

/// Rows per multi-row INSERT into the import's staging table.
pub(crate) const STAGING_BATCH: usize = 1000;
/// Parameters per staged row.
pub(crate) const STAGING_COLS: usize = 6;

pub(crate) const ORG_COLS: &str = "id, name, kind, created_at";
pub(crate) const KEY_COLS: &str =
    "id, org_id, role, name, secret_sha256, rate_per_sec, created_at, revoked_at";
pub(crate) const LIST_COLS: &str = "id, name, owner_org_id, category, description, source, version, purpose, created_at, updated_at";
pub(crate) const VERSION_COLS: &str =
    "list_id, version, seq, created_at, actor, mode, added, removed, note";

/// The staging insert for `n` rows: `($1,$2,$3,$4),($5,...)`, or with anonymous `?`
/// placeholders when `numbered` is false. SQLite gets `?`: sqlx looks every `$N` up by name,
/// and SQLite's name lookup is linear in the number of parameters, which made a 4,000-parameter
/// statement spend most of its time there.
pub(crate) fn staging_insert(n: usize, numbered: bool) -> String {
    let mut sql = String::with_capacity(80 + n * 36);
    sql.push_str(
        "INSERT INTO staging (kind, hash, quality, ext_ref, confirmations, hold_reason) VALUES ",
    );
    for i in 0..n {
        if i > 0 {
            sql.push(',');
        }
        if numbered {
            let b = i * STAGING_COLS;
            sql.push('(');
            for j in 1..=STAGING_COLS {
                if j > 1 {
                    sql.push(',');
                }
                sql.push_str(&format!("${}", b + j));
            }
            sql.push(')');
        } else {
            sql.push_str("(?,?,?,?,?,?)");
        }
    }
    sql.push_str(" ON CONFLICT (kind, hash) DO NOTHING");
    sql
}

/// Audit records per INSERT statement (7 parameters each).
pub(crate) const AUDIT_BATCH: usize = 500;

/// The audit insert for `n` records, with `$N` or `?` placeholders.
pub(crate) fn audit_insert(n: usize, numbered: bool) -> String {
    let mut sql = String::with_capacity(100 + n * 40);
    sql.push_str(
        "INSERT INTO audit_log (at, key_id, org_id, action, count, matches, detail) VALUES ",
    );
    for i in 0..n {
        if i > 0 {
            sql.push(',');
        }
        if numbered {
            let b = i * 7;
            sql.push('(');
            for j in 1..=7 {
                if j > 1 {
                    sql.push(',');
                }
                sql.push_str(&format!("${}", b + j));
            }
            sql.push(')');
        } else {
            sql.push_str("(?,?,?,?,?,?,?)");
        }
    }
    sql
}

/// Writes the whole [`lists::Store`] implementation for one backend type.
macro_rules! impl_store {
    ($store:ty, $db:ty, $row:ty, $name:literal) => {
        use $crate::common::*;
        use async_trait::async_trait;
        use index::Key;
        use lists::import::Mode;
        use lists::store::*;
        use lists::*;
        use sqlx::Row as _;
        use std::time::Duration;

        fn org_row(r: &$row) -> Result<Organisation> {
            Ok(Organisation {
                id: r.try_get("id").map_err(db_err("organisation"))?,
                name: r.try_get("name").map_err(db_err("organisation"))?,
                kind: org_kind(&r.try_get::<String, _>("kind").map_err(db_err("organisation"))?)?,
                created_at: millis(r.try_get("created_at").map_err(db_err("organisation"))?),
            })
        }

        fn key_row(r: &$row) -> Result<ApiKey> {
            let e = db_err("key");
            let secret: Vec<u8> = r.try_get("secret_sha256").map_err(&e)?;
            Ok(ApiKey {
                id: r.try_get("id").map_err(&e)?,
                org_id: r.try_get("org_id").map_err(&e)?,
                role: role(&r.try_get::<String, _>("role").map_err(&e)?)?,
                name: r.try_get("name").map_err(&e)?,
                secret_sha256: secret
                    .try_into()
                    .map_err(|_| Error::Internal("key hash of the wrong length".into()))?,
                rate_per_sec: r
                    .try_get::<Option<i64>, _>("rate_per_sec")
                    .map_err(&e)?
                    .map(|v| u32::try_from(v).unwrap_or(u32::MAX)),
                created_at: millis(r.try_get("created_at").map_err(&e)?),
                revoked_at: r.try_get::<Option<i64>, _>("revoked_at").map_err(&e)?.map(millis),
            })
        }

        fn list_row(r: &$row) -> Result<ListInfo> {
            let e = db_err("list");
            Ok(ListInfo {
                id: r.try_get("id").map_err(&e)?,
                name: r.try_get("name").map_err(&e)?,
                owner_org_id: r.try_get("owner_org_id").map_err(&e)?,
                category: category(&r.try_get::<String, _>("category").map_err(&e)?)?,
                description: r.try_get("description").map_err(&e)?,
                source: r.try_get("source").map_err(&e)?,
                version: r.try_get("version").map_err(&e)?,
                purpose: r
                    .try_get::<String, _>("purpose")
                    .map_err(&e)?
                    .parse()
                    .map_err(|_| Error::Internal("unknown list purpose in the database".into()))?,
                created_at: millis(r.try_get("created_at").map_err(&e)?),
                updated_at: millis(r.try_get("updated_at").map_err(&e)?),
            })
        }

        fn version_row(r: &$row) -> Result<ListVersion> {
            let e = db_err("list version");
            Ok(ListVersion {
                list_id: r.try_get("list_id").map_err(&e)?,
                version: r.try_get("version").map_err(&e)?,
                seq: r.try_get("seq").map_err(&e)?,
                created_at: millis(r.try_get("created_at").map_err(&e)?),
                actor: r.try_get("actor").map_err(&e)?,
                mode: mode(&r.try_get::<String, _>("mode").map_err(&e)?)?,
                added: r.try_get("added").map_err(&e)?,
                removed: r.try_get("removed").map_err(&e)?,
                note: r.try_get("note").map_err(&e)?,
            })
        }

        fn entry_key(r: &$row) -> Result<Key> {
            let e = db_err("entry");
            let kind: i64 = r.try_get("kind").map_err(&e)?;
            let hash: Vec<u8> = r.try_get("hash").map_err(&e)?;
            key_from(kind, &hash)
        }

        impl $store {
            /// The one row `sql` selects with `bind` as `$1`, or [`Error::NotFound`] naming
            /// `missing`.
            async fn one_by<B>(&self, sql: String, bind: B, missing: String) -> Result<$row>
            where
                B: for<'q> sqlx::Encode<'q, $db> + sqlx::Type<$db> + Send,
            {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(bind)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err("row"))?
                    .ok_or(Error::NotFound(missing))
            }
        }

        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> &'static str {
                $name
            }

            async fn create_org(&self, name: &str, kind: OrgKind) -> Result<Organisation> {
                let name = name.trim();
                if name.is_empty() || name.len() > 200 {
                    return Err(Error::Invalid("an organisation name is 1-200 characters".into()));
                }
                let now = self.clock.now();
                let r = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO organisations (name, kind, created_at) VALUES ($1, $2, $3) RETURNING {ORG_COLS}"
                )))
                .bind(name)
                .bind(kind.name())
                .bind(now.0)
                .fetch_one(&self.pool)
                .await
                .map_err(db_err("an organisation of that name"))?;
                org_row(&r)
            }

            async fn org(&self, id: i64) -> Result<Organisation> {
                let r = self
                    .one_by(
                        format!("SELECT {ORG_COLS} FROM organisations WHERE id = $1"),
                        id,
                        format!("organisation {id}"),
                    )
                    .await?;
                org_row(&r)
            }

            async fn org_by_name(&self, name: &str) -> Result<Organisation> {
                let r = self
                    .one_by(
                        format!("SELECT {ORG_COLS} FROM organisations WHERE name = $1"),
                        name,
                        format!("organisation {name:?}"),
                    )
                    .await?;
                org_row(&r)
            }

            async fn orgs(&self) -> Result<Vec<Organisation>> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {ORG_COLS} FROM organisations ORDER BY id"
                )))
                .fetch_all(&self.pool)
                .await
                .map_err(db_err("organisation"))?
                .iter()
                .map(org_row)
                .collect()
            }

            async fn insert_key(&self, key: &ApiKey) -> Result<()> {
                sqlx::query(
                    "INSERT INTO api_keys (id, org_id, role, name, secret_sha256, rate_per_sec, created_at, revoked_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&key.id)
                .bind(key.org_id)
                .bind(key.role.name())
                .bind(&key.name)
                .bind(&key.secret_sha256[..])
                .bind(key.rate_per_sec.map(i64::from))
                .bind(key.created_at.0)
                .bind(key.revoked_at.map(|m| m.0))
                .execute(&self.pool)
                .await
                .map_err(db_err("key"))?;
                Ok(())
            }

            async fn key(&self, id: &str) -> Result<Option<ApiKey>> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {KEY_COLS} FROM api_keys WHERE id = $1"
                )))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err("key"))?
                .as_ref()
                .map(key_row)
                .transpose()
            }

            async fn keys(&self) -> Result<Vec<ApiKey>> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {KEY_COLS} FROM api_keys ORDER BY created_at, id"
                )))
                .fetch_all(&self.pool)
                .await
                .map_err(db_err("key"))?
                .iter()
                .map(key_row)
                .collect()
            }

            async fn revoke_key(&self, id: &str) -> Result<ApiKey> {
                let now = self.clock.now();
                sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(now.0)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(db_err("key"))?;
                self.key(id)
                    .await?
                    .ok_or_else(|| Error::NotFound(format!("key {id}")))
            }

            async fn categories(&self) -> Result<Vec<Category>> {
                sqlx::query("SELECT name FROM categories ORDER BY name")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err("category"))?
                    .iter()
                    .map(|r| category(&r.try_get::<String, _>("name").map_err(db_err("category"))?))
                    .collect()
            }

            async fn add_category(&self, c: &Category) -> Result<()> {
                sqlx::query("INSERT INTO categories (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
                    .bind(c.as_str())
                    .execute(&self.pool)
                    .await
                    .map_err(db_err("category"))?;
                Ok(())
            }

            async fn create_list(&self, new: &NewList) -> Result<ListInfo> {
                let name = new.name.trim();
                let ok = !name.is_empty()
                    && name.len() <= 100
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
                if !ok {
                    return Err(Error::Invalid(
                        "a list name is 1-100 characters of letters, digits, '-', '_' and '.'".into(),
                    ));
                }
                if !self.categories().await?.contains(&new.category) {
                    return Err(Error::Invalid(format!("unknown category {:?}", new.category.as_str())));
                }
                self.org(new.owner_org_id).await.map_err(|_| {
                    Error::Invalid(format!("organisation {} does not exist", new.owner_org_id))
                })?;
                let now = self.clock.now();
                let r = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO lists (name, owner_org_id, category, description, source, version, purpose, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $7) RETURNING {LIST_COLS}"
                )))
                .bind(name)
                .bind(new.owner_org_id)
                .bind(new.category.as_str())
                .bind(&new.description)
                .bind(&new.source)
                .bind(new.purpose.name())
                .bind(now.0)
                .fetch_one(&self.pool)
                .await
                .map_err(db_err("a list of that name"))?;
                list_row(&r)
            }

            async fn list(&self, id: i64) -> Result<ListInfo> {
                let r = self
                    .one_by(
                        format!("SELECT {LIST_COLS} FROM lists WHERE id = $1"),
                        id,
                        format!("list {id}"),
                    )
                    .await?;
                list_row(&r)
            }

            async fn list_by_name(&self, name: &str) -> Result<ListInfo> {
                let r = self
                    .one_by(
                        format!("SELECT {LIST_COLS} FROM lists WHERE name = $1"),
                        name,
                        format!("list {name:?}"),
                    )
                    .await?;
                list_row(&r)
            }

            async fn lists(&self) -> Result<Vec<ListInfo>> {
                sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {LIST_COLS} FROM lists ORDER BY id")))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err("list"))?
                    .iter()
                    .map(list_row)
                    .collect()
            }

            async fn versions(&self, list_id: i64) -> Result<Vec<ListVersion>> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {VERSION_COLS} FROM list_versions WHERE list_id = $1 ORDER BY version"
                )))
                .bind(list_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err("list version"))?
                .iter()
                .map(version_row)
                .collect()
            }

            async fn entry_counts(&self, list_id: i64) -> Result<[u64; 4]> {
                let rows = sqlx::query(
                    "SELECT kind, COUNT(*) AS n FROM entries WHERE list_id = $1 AND removed_version IS NULL GROUP BY kind",
                )
                .bind(list_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err("entry"))?;
                let mut counts = [0u64; 4];
                for r in rows {
                    let kind = kind_from_code(r.try_get("kind").map_err(db_err("entry"))?)?;
                    let n: i64 = r.try_get("n").map_err(db_err("entry"))?;
                    let i = index::HashKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
                    counts[i] = u64::try_from(n).unwrap_or(0);
                }
                Ok(counts)
            }

            async fn import(
                &self,
                list_id: i64,
                mode: Mode,
                actor: &str,
                note: &str,
                rows: &mut (dyn RowSource + '_),
            ) -> Result<ImportOutcome> {
                self.list(list_id).await?;
                let mut conn = self.pool.acquire().await.map_err(db_err("connection"))?;
                sqlx::query("DROP TABLE IF EXISTS staging")
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err("staging table"))?;
                sqlx::query(Self::STAGING_DDL)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err("staging table"))?;
                // Stage: stream the input into a temporary table that only this connection
                // sees. The list itself is untouched until the publish transaction below.
                let full = staging_insert(STAGING_BATCH, Self::NUMBERED);
                loop {
                    let batch = rows.next_batch(STAGING_BATCH).await?;
                    if batch.is_empty() {
                        break;
                    }
                    let partial;
                    let sql = if batch.len() == STAGING_BATCH {
                        &full
                    } else {
                        partial = staging_insert(batch.len(), Self::NUMBERED);
                        &partial
                    };
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                    for row in &batch {
                        q = q
                            .bind(kind_code(row.key.kind()))
                            .bind(row.key.as_bytes())
                            .bind(row.quality.map(i64::from))
                            .bind(row.ext_ref.as_deref())
                            .bind(i64::from(row.confirmations.unwrap_or(0)))
                            .bind(row.hold.as_deref());
                    }
                    q.execute(&mut *conn).await.map_err(db_err("staged entry"))?;
                }
                let source = rows.finish()?;
                let distinct: i64 = sqlx::query("SELECT COUNT(*) AS n FROM staging")
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err("staging table"))?
                    .try_get("n")
                    .map_err(db_err("staging table"))?;

                // Publish: one transaction. A crash before COMMIT leaves the previous version.
                let mut tx = Self::begin_write(&mut conn).await?;
                let seq: i64 = sqlx::query("UPDATE change_seq SET value = value + 1 WHERE id = 1 RETURNING value")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err("change sequence"))?
                    .try_get("value")
                    .map_err(db_err("change sequence"))?;
                let old: i64 = sqlx::query("SELECT version FROM lists WHERE id = $1")
                    .bind(list_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err("list"))?
                    .try_get("version")
                    .map_err(db_err("list"))?;
                let version = old + 1;
                let mut added = 0;
                let mut removed = 0;
                let mut held = 0;
                let mut retracted_skipped = 0;
                if mode != Mode::Remove {
                    // A hash the list retracted before is not listed again by an import: the
                    // mistake that made the 2021 incident must not come back with the next file.
                    retracted_skipped = sqlx::query(
                        "SELECT COUNT(*) AS n FROM staging s WHERE EXISTS (SELECT 1 FROM entries e \
                         WHERE e.list_id = $1 AND e.kind = s.kind AND e.hash = s.hash AND e.status = 'retracted')",
                    )
                    .bind(list_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err("entry"))?
                    .try_get::<i64, _>("n")
                    .map_err(db_err("entry"))?;
                    let inserted = sqlx::query(
                        "INSERT INTO entries (list_id, kind, hash, quality, ext_ref, added_version, added_seq, \
                                              confirmations, status, initial_status, hold_reason) \
                         SELECT $1, s.kind, s.hash, s.quality, s.ext_ref, $2, $3, s.confirmations, \
                                CASE WHEN s.hold_reason IS NULL THEN 'active' ELSE 'held' END, \
                                CASE WHEN s.hold_reason IS NULL THEN 'active' ELSE 'held' END, s.hold_reason \
                         FROM staging s \
                         WHERE NOT EXISTS (SELECT 1 FROM entries e WHERE e.list_id = $1 AND e.kind = s.kind \
                                           AND e.hash = s.hash AND (e.removed_version IS NULL OR e.status = 'retracted')) \
                         ORDER BY s.kind, s.hash RETURNING status",
                    )
                    .bind(list_id)
                    .bind(version)
                    .bind(seq)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_err("entry"))?;
                    added = inserted.len() as u64;
                    for r in &inserted {
                        if r.try_get::<String, _>("status").map_err(db_err("entry"))? == "held" {
                            held += 1;
                        }
                    }
                }
                if mode != Mode::Add {
                    let sql = if mode == Mode::Replace {
                        "UPDATE entries SET removed_version = $2, removed_seq = $3 \
                         WHERE list_id = $1 AND removed_version IS NULL AND added_version < $2 AND NOT EXISTS \
                         (SELECT 1 FROM staging s WHERE s.kind = entries.kind AND s.hash = entries.hash)"
                    } else {
                        "UPDATE entries SET removed_version = $2, removed_seq = $3 \
                         WHERE list_id = $1 AND removed_version IS NULL AND EXISTS \
                         (SELECT 1 FROM staging s WHERE s.kind = entries.kind AND s.hash = entries.hash)"
                    };
                    removed = sqlx::query(sql)
                        .bind(list_id)
                        .bind(version)
                        .bind(seq)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err("entry"))?
                        .rows_affected();
                }
                let outcome_base = ImportOutcome {
                    version: None,
                    list_version: old,
                    source,
                    distinct: u64::try_from(distinct).unwrap_or(0),
                    added,
                    removed,
                    held,
                    retracted_skipped: u64::try_from(retracted_skipped).unwrap_or(0),
                };
                if added == 0 && removed == 0 {
                    tx.rollback().await.map_err(db_err("transaction"))?;
                    let _ = sqlx::query("DROP TABLE IF EXISTS staging").execute(&mut *conn).await;
                    return Ok(outcome_base);
                }
                let now = self.clock.now();
                sqlx::query("UPDATE lists SET version = $1, updated_at = $2 WHERE id = $3")
                    .bind(version)
                    .bind(now.0)
                    .bind(list_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err("list"))?;
                let v = ListVersion {
                    list_id,
                    version,
                    seq,
                    created_at: now,
                    actor: actor.to_string(),
                    mode,
                    added: i64::try_from(added).unwrap_or(i64::MAX),
                    removed: i64::try_from(removed).unwrap_or(i64::MAX),
                    note: note.to_string(),
                };
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO list_versions ({VERSION_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                )))
                .bind(v.list_id)
                .bind(v.version)
                .bind(v.seq)
                .bind(v.created_at.0)
                .bind(&v.actor)
                .bind(v.mode.name())
                .bind(v.added)
                .bind(v.removed)
                .bind(&v.note)
                .execute(&mut *tx)
                .await
                .map_err(db_err("list version"))?;
                Self::notify(&mut tx, seq).await?;
                tx.commit().await.map_err(db_err("transaction"))?;
                let _ = sqlx::query("DROP TABLE IF EXISTS staging").execute(&mut *conn).await;
                Ok(ImportOutcome {
                    version: Some(v),
                    list_version: version,
                    ..outcome_base
                })
            }

            async fn export_page(
                &self,
                list_id: i64,
                version: Option<i64>,
                after_id: i64,
                limit: u32,
            ) -> Result<Vec<ExportRow>> {
                let version = match version {
                    Some(v) => v,
                    None => self.list(list_id).await?.version,
                };
                let rows = sqlx::query(
                    "SELECT id, kind, hash, quality, ext_ref, added_version FROM entries \
                     WHERE list_id = $1 AND added_version <= $2 \
                       AND (removed_version IS NULL OR removed_version > $2) AND id > $3 \
                     ORDER BY id LIMIT $4",
                )
                .bind(list_id)
                .bind(version)
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db_err("entry"))?;
                rows.iter()
                    .map(|r| {
                        let e = db_err("entry");
                        Ok(ExportRow {
                            id: r.try_get("id").map_err(&e)?,
                            key: entry_key(r)?,
                            quality: r
                                .try_get::<Option<i64>, _>("quality")
                                .map_err(&e)?
                                .and_then(|q| u8::try_from(q).ok()),
                            ext_ref: r.try_get("ext_ref").map_err(&e)?,
                            added_version: r.try_get("added_version").map_err(&e)?,
                        })
                    })
                    .collect()
            }

            async fn entry_history(&self, list_id: i64, key: &Key) -> Result<Vec<Presence>> {
                let rows = sqlx::query(
                    "SELECT added_version, removed_version FROM entries \
                     WHERE list_id = $1 AND kind = $2 AND hash = $3 ORDER BY added_version",
                )
                .bind(list_id)
                .bind(kind_code(key.kind()))
                .bind(key.as_bytes())
                .fetch_all(&self.pool)
                .await
                .map_err(db_err("entry"))?;
                rows.iter()
                    .map(|r| {
                        Ok(Presence {
                            added_version: r.try_get("added_version").map_err(db_err("entry"))?,
                            removed_version: r.try_get("removed_version").map_err(db_err("entry"))?,
                        })
                    })
                    .collect()
            }

            async fn current_seq(&self) -> Result<i64> {
                sqlx::query("SELECT value FROM change_seq WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_err("change sequence"))?
                    .try_get("value")
                    .map_err(db_err("change sequence"))
            }

            async fn index_page(&self, after_id: i64, limit: u32) -> Result<Vec<IndexRow>> {
                let rows = sqlx::query(
                    "SELECT id, kind, hash, list_id FROM entries \
                     WHERE removed_version IS NULL AND status = 'active' AND id > $1 ORDER BY id LIMIT $2",
                )
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db_err("entry"))?;
                rows.iter()
                    .map(|r| {
                        Ok(IndexRow {
                            id: r.try_get("id").map_err(db_err("entry"))?,
                            key: entry_key(r)?,
                            list: list_id(r.try_get("list_id").map_err(db_err("entry"))?)?,
                        })
                    })
                    .collect()
            }

            async fn changes_page(&self, seq: i64, after_id: i64, limit: u32) -> Result<Vec<ChangeRow>> {
                // Three index range scans, merged: entries added by the change (if they were
                // active when added; held ones join the checks by a later status change),
                // entries removed by it, and status changes that took this sequence number.
                let rows = sqlx::query(
                    "SELECT * FROM ( \
                       SELECT * FROM (SELECT id, kind, hash, list_id, 1 AS added FROM entries \
                                      WHERE added_seq = $1 AND initial_status = 'active' AND id > $2 ORDER BY id LIMIT $3) a \
                       UNION ALL \
                       SELECT * FROM (SELECT id, kind, hash, list_id, 0 AS added FROM entries \
                                      WHERE removed_seq = $1 AND id > $2 ORDER BY id LIMIT $3) r \
                       UNION ALL \
                       SELECT * FROM (SELECT e.id, e.kind, e.hash, e.list_id, \
                                             CASE WHEN ev.to_status = 'active' AND e.removed_version IS NULL THEN 1 ELSE 0 END AS added \
                                      FROM entry_events ev JOIN entries e ON e.id = ev.entry_id \
                                      WHERE ev.seq = $1 AND ev.entry_id > $2 ORDER BY ev.entry_id LIMIT $3) s \
                     ) u ORDER BY id LIMIT $3",
                )
                .bind(seq)
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db_err("entry"))?;
                rows.iter()
                    .map(|r| {
                        let e = db_err("entry");
                        let added: i32 = r.try_get("added").map_err(&e)?;
                        Ok(ChangeRow {
                            id: r.try_get("id").map_err(&e)?,
                            key: entry_key(r)?,
                            list: list_id(r.try_get("list_id").map_err(&e)?)?,
                            added: added != 0,
                        })
                    })
                    .collect()
            }

            async fn wait_for_change(&self, max: Duration) {
                self.wait(max).await
            }

            async fn append_audit(&self, records: &[AuditRecord]) -> Result<()> {
                if records.is_empty() {
                    return Ok(());
                }
                // Multi-row inserts: at tens of thousands of checks per second, one statement
                // per record is what limits the writer.
                let mut tx = self.pool.begin().await.map_err(db_err("transaction"))?;
                for chunk in records.chunks(AUDIT_BATCH) {
                    let sql = audit_insert(chunk.len(), Self::NUMBERED);
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for r in chunk {
                        q = q
                            .bind(r.at.0)
                            .bind(&r.key_id)
                            .bind(r.org_id)
                            .bind(&r.action)
                            .bind(r.count)
                            .bind(r.matches)
                            .bind(&r.detail);
                    }
                    q.execute(&mut *tx).await.map_err(db_err("audit record"))?;
                }
                tx.commit().await.map_err(db_err("transaction"))
            }

            async fn audit(&self, before_id: Option<i64>, limit: u32) -> Result<Vec<(i64, AuditRecord)>> {
                let rows = sqlx::query(
                    "SELECT id, at, key_id, org_id, action, count, matches, detail FROM audit_log \
                     WHERE id < $1 ORDER BY id DESC LIMIT $2",
                )
                .bind(before_id.unwrap_or(i64::MAX))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db_err("audit record"))?;
                rows.iter()
                    .map(|r| {
                        let e = db_err("audit record");
                        Ok((
                            r.try_get("id").map_err(&e)?,
                            AuditRecord {
                                at: millis(r.try_get("at").map_err(&e)?),
                                key_id: r.try_get("key_id").map_err(&e)?,
                                org_id: r.try_get("org_id").map_err(&e)?,
                                action: r.try_get("action").map_err(&e)?,
                                count: r.try_get("count").map_err(&e)?,
                                matches: r.try_get("matches").map_err(&e)?,
                                detail: r.try_get("detail").map_err(&e)?,
                            },
                        ))
                    })
                    .collect()
            }
        }
    };
}

pub(crate) use impl_store;

/// Defines `queue_mails(conn, mails, now)` in a backend's scope (where `Conn` is its
/// connection type): it queues e-mails in the caller's transaction, and a reference already
/// queued is skipped, so a retried step never mails twice. The trust and monitor stores both
/// queue through it; the mail sender lives with the trust store.
macro_rules! define_queue_mails {
    () => {
        async fn queue_mails(
            conn: &mut Conn,
            mails: &[lists::trust::NewMail],
            now: lists::Millis,
        ) -> std::result::Result<(), sqlx::Error> {
            for m in mails {
                if m.to.is_empty() {
                    continue;
                }
                sqlx::query(
                    "INSERT INTO mail_outbox (created_at, ref, to_addrs, subject, body, json, next_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $1) ON CONFLICT (ref) DO NOTHING",
                )
                .bind(now.0)
                .bind(&m.reference)
                .bind(m.to.join(", "))
                .bind(&m.subject)
                .bind(&m.body)
                .bind(m.json.as_deref())
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        }
    };
}
pub(crate) use define_queue_mails;
