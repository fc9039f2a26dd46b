//! The scanner's state database: what was hashed, and what the service answered.
//!
//! One SQLite file (WAL) on the scanning machine. It holds hashes and answers, never file
//! contents. A scan writes every batch in one transaction right after the service has answered
//! it, so a scan stopped at any point (Ctrl-C, kill, power loss) keeps everything up to its last
//! batch, and the next run goes on from there. The schema is in `migrations/`.
//!
//! A re-scan loads the light part of every row of a source at once ([`Known`]), compares it
//! with what the walk found, and touches the database again only for what changed: that is what
//! makes re-scanning an unchanged tree cost a directory walk, not a hashing pass.

use crate::client::ListMatch;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};
use std::collections::HashMap;
use std::path::Path;

/// A state database failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Opening, migrating, reading or writing failed.
    #[error("scan state database {path}: {source}")]
    Db {
        /// The file.
        path: String,
        /// What SQLite said.
        #[source]
        source: sqlx::Error,
    },
    /// The schema could not be brought up to date.
    #[error("scan state database {path}: {source}")]
    Migrate {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
}

/// The hashes of one readable file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashes {
    /// MD5 of the bytes.
    pub md5: [u8; 16],
    /// SHA-1 of the bytes.
    pub sha1: [u8; 20],
    /// SHA-256 of the bytes.
    pub sha256: [u8; 32],
    /// No entry: not an image, or not decodable. One: the PDQ hash. Eight: the dihedral set,
    /// original first (Meta's order, see `pdq::Dihedral::NAMES`).
    pub pdq: Vec<[u8; 32]>,
    /// PDQ quality (0-100), when there is a PDQ hash.
    pub quality: Option<u8>,
    /// Container format, for images.
    pub format: Option<String>,
    /// Decoded size, for images.
    pub dims: Option<(u32, u32)>,
}

/// One match of one of a file's hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Found {
    /// `md5`, `sha1`, `sha256` or `pdq`.
    pub hash_type: String,
    /// For PDQ with `--dihedral`: which rotation or mirror of the file matched
    /// (`original`, `rot90`, `flipx`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<String>,
    /// The file's own hash that matched (never the listed one: the service does not say).
    pub hash: String,
    /// The list and distance.
    #[serde(flatten)]
    pub list: ListMatch,
}

/// Everything the state database holds about one file.
#[derive(Debug, Clone)]
pub struct Record {
    /// Absolute path or `s3://bucket/key`.
    pub location: String,
    /// The scanned root it belongs to.
    pub source: String,
    /// Bytes.
    pub size: u64,
    /// mtime (nanoseconds) or ETag.
    pub version: String,
    /// `None` when the file could not be read at all.
    pub hashes: Option<Hashes>,
    /// Why there is no PDQ hash (or no hashes at all): short class, then detail.
    pub rejected: Option<Rejection>,
    /// Unix milliseconds.
    pub hashed_at: i64,
    /// The check context of the last answer.
    pub context: Option<String>,
    /// The index sequence of the last answer.
    pub checked_seq: Option<i64>,
    /// What matched.
    pub matches: Vec<Found>,
    /// Where the file was moved to.
    pub quarantined: Option<String>,
}

/// Why a file has no PDQ hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// `not an image`, `malformed`, `too large`, `unsupported` or `unreadable`.
    pub class: &'static str,
    /// The decoder's or the OS's words.
    pub detail: String,
}

impl Rejection {
    /// The classes, in the order the summary lists them.
    pub const CLASSES: [&'static str; 5] = [
        "not an image",
        "malformed",
        "too large",
        "unsupported",
        "unreadable",
    ];

    fn class_from(s: &str) -> &'static str {
        Self::CLASSES
            .iter()
            .copied()
            .find(|c| *c == s)
            .unwrap_or("unreadable")
    }
}

/// The light part of a row, loaded for a whole source at the start of a scan.
#[derive(Debug, Clone)]
pub struct Known {
    /// Bytes when last hashed.
    pub size: u64,
    /// mtime or ETag when last hashed.
    pub version: String,
    /// Whether there are hashes (the file was readable).
    pub readable: bool,
    /// How many PDQ hashes are stored (0, 1 or 8).
    pub pdq_count: u8,
    /// The context of the last answer.
    pub context: Option<String>,
    /// Its index sequence.
    pub checked_seq: Option<i64>,
    /// Whether the last answer matched anything.
    pub matched: bool,
    /// Whether the file was moved to quarantine.
    pub quarantined: bool,
}

/// An open state database.
#[derive(Debug, Clone)]
pub struct State {
    pool: SqlitePool,
    path: String,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Record {
    /// A fresh record (hashed now, not checked yet).
    pub fn new(
        location: String,
        source: String,
        size: u64,
        version: String,
        hashes: Option<Hashes>,
        rejected: Option<Rejection>,
    ) -> Record {
        Record {
            location,
            source,
            size,
            version,
            hashes,
            rejected,
            hashed_at: now_ms(),
            context: None,
            checked_seq: None,
            matches: Vec::new(),
            quarantined: None,
        }
    }
}

impl State {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<State, Error> {
        let name = path.display().to_string();
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            let _ = std::fs::create_dir_all(dir);
        }
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(30));
        let pool = sqlx::pool::PoolOptions::new()
            .max_connections(2)
            .connect_with(opts)
            .await
            .map_err(|source| Error::Db {
                path: name.clone(),
                source,
            })?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|source| Error::Migrate {
                path: name.clone(),
                source,
            })?;
        Ok(State { pool, path: name })
    }

    fn err(&self) -> impl Fn(sqlx::Error) -> Error + '_ {
        |source| Error::Db {
            path: self.path.clone(),
            source,
        }
    }

    /// The light part of every row of `source`, by location.
    pub async fn load(&self, source: &str) -> Result<HashMap<String, Known>, Error> {
        let rows = sqlx::query(
            "SELECT location, size, version, md5 IS NOT NULL, length(pdq), context, checked_seq, \
             matches IS NOT NULL, quarantined IS NOT NULL FROM files WHERE source = $1",
        )
        .bind(source)
        .fetch_all(&self.pool)
        .await
        .map_err(self.err())?;
        let mut out = HashMap::with_capacity(rows.len());
        for r in rows {
            let pdq_len: Option<i64> = r.get(4);
            out.insert(
                r.get::<String, _>(0),
                Known {
                    size: r.get::<i64, _>(1) as u64,
                    version: r.get(2),
                    readable: r.get(3),
                    pdq_count: (pdq_len.unwrap_or(0) / 32) as u8,
                    context: r.get(5),
                    checked_seq: r.get(6),
                    matched: r.get(7),
                    quarantined: r.get(8),
                },
            );
        }
        Ok(out)
    }

    /// Full records, by location (for re-checking stored hashes).
    pub async fn get(&self, locations: &[String]) -> Result<Vec<Record>, Error> {
        let mut out = Vec::with_capacity(locations.len());
        // SQLite's default limit is 32766 variables; stay well below it.
        for chunk in locations.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!("{SELECT_ALL} WHERE location IN ({})", marks.join(","));
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for l in chunk {
                q = q.bind(l);
            }
            for r in q.fetch_all(&self.pool).await.map_err(self.err())? {
                out.push(record_from(&r));
            }
        }
        Ok(out)
    }

    /// Rows of `source` that matched something, in location order.
    pub async fn matched(&self, source: &str) -> Result<Vec<Record>, Error> {
        let sql =
            format!("{SELECT_ALL} WHERE source = $1 AND matches IS NOT NULL ORDER BY location");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(source)
            .fetch_all(&self.pool)
            .await
            .map_err(self.err())?;
        Ok(rows.iter().map(record_from).collect())
    }

    /// Rows of `source` without a PDQ hash for a reason, in location order.
    pub async fn rejected(&self, source: &str) -> Result<Vec<Record>, Error> {
        let sql =
            format!("{SELECT_ALL} WHERE source = $1 AND rejected IS NOT NULL ORDER BY location");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(source)
            .fetch_all(&self.pool)
            .await
            .map_err(self.err())?;
        Ok(rows.iter().map(record_from).collect())
    }

    /// Writes (inserts or replaces) records, all in one transaction.
    pub async fn save(&self, records: &[Record]) -> Result<(), Error> {
        self.save_moved(records, 0).await
    }

    /// Writes records like [`State::save`], and in the same transaction counts `moved` of them
    /// as newly quarantined, for [`State::unreported_removals`].
    pub async fn save_moved(&self, records: &[Record], moved: u64) -> Result<(), Error> {
        if records.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(self.err())?;
        if moved > 0 {
            sqlx::query("INSERT INTO own_removals (at, count) VALUES ($1, $2)")
                .bind(now_ms())
                .bind(i64::try_from(moved).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await
                .map_err(self.err())?;
        }
        for r in records {
            let h = r.hashes.as_ref();
            let pdq: Option<Vec<u8>> = h.filter(|h| !h.pdq.is_empty()).map(|h| h.pdq.concat());
            let matches = (!r.matches.is_empty())
                .then(|| serde_json::to_string(&r.matches).expect("plain data serialises"));
            sqlx::query(
                "INSERT OR REPLACE INTO files (location, source, size, version, md5, sha1, sha256, \
                 pdq, quality, format, width, height, rejected, rejected_detail, hashed_at, \
                 context, checked_seq, matches, quarantined) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)",
            )
            .bind(&r.location)
            .bind(&r.source)
            .bind(r.size as i64)
            .bind(&r.version)
            .bind(h.map(|h| h.md5.to_vec()))
            .bind(h.map(|h| h.sha1.to_vec()))
            .bind(h.map(|h| h.sha256.to_vec()))
            .bind(pdq)
            .bind(h.and_then(|h| h.quality).map(i64::from))
            .bind(h.and_then(|h| h.format.clone()))
            .bind(h.and_then(|h| h.dims).map(|d| i64::from(d.0)))
            .bind(h.and_then(|h| h.dims).map(|d| i64::from(d.1)))
            .bind(r.rejected.as_ref().map(|x| x.class))
            .bind(r.rejected.as_ref().map(|x| x.detail.clone()))
            .bind(r.hashed_at)
            .bind(&r.context)
            .bind(r.checked_seq)
            .bind(matches)
            .bind(&r.quarantined)
            .execute(&mut *tx)
            .await
            .map_err(self.err())?;
        }
        tx.commit().await.map_err(self.err())
    }

    /// Quarantined files not yet reported to the service.
    pub async fn unreported_removals(&self) -> Result<u64, Error> {
        let n: Option<i64> =
            sqlx::query_scalar("SELECT SUM(count) FROM own_removals WHERE reported_at IS NULL")
                .fetch_one(&self.pool)
                .await
                .map_err(self.err())?;
        Ok(n.unwrap_or(0).max(0) as u64)
    }

    /// Marks every unreported removal as reported.
    pub async fn mark_removals_reported(&self) -> Result<(), Error> {
        sqlx::query("UPDATE own_removals SET reported_at = $1 WHERE reported_at IS NULL")
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(self.err())?;
        Ok(())
    }

    /// Forgets files that are gone.
    pub async fn forget(&self, locations: &[String]) -> Result<(), Error> {
        let mut tx = self.pool.begin().await.map_err(self.err())?;
        for l in locations {
            sqlx::query("DELETE FROM files WHERE location = $1")
                .bind(l)
                .execute(&mut *tx)
                .await
                .map_err(self.err())?;
        }
        tx.commit().await.map_err(self.err())
    }

    /// Number of rows (all sources).
    pub async fn count(&self) -> Result<u64, Error> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM files")
            .fetch_one(&self.pool)
            .await
            .map_err(self.err())?;
        Ok(n as u64)
    }

    /// Closes the pool (checkpointing the WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

const SELECT_ALL: &str = "SELECT location, source, size, version, md5, sha1, sha256, pdq, \
    quality, format, width, height, rejected, rejected_detail, hashed_at, context, checked_seq, \
    matches, quarantined FROM files";

fn fixed<const N: usize>(v: Option<Vec<u8>>) -> Option<[u8; N]> {
    v.and_then(|v| v.try_into().ok())
}

fn record_from(r: &sqlx::sqlite::SqliteRow) -> Record {
    let md5 = fixed::<16>(r.get(4));
    let sha1 = fixed::<20>(r.get(5));
    let sha256 = fixed::<32>(r.get(6));
    let pdq: Option<Vec<u8>> = r.get(7);
    let hashes = match (md5, sha1, sha256) {
        (Some(md5), Some(sha1), Some(sha256)) => Some(Hashes {
            md5,
            sha1,
            sha256,
            pdq: pdq
                .unwrap_or_default()
                .chunks_exact(32)
                .map(|c| c.try_into().expect("32-byte chunks"))
                .collect(),
            quality: r.get::<Option<i64>, _>(8).map(|q| q as u8),
            format: r.get(9),
            dims: match (r.get::<Option<i64>, _>(10), r.get::<Option<i64>, _>(11)) {
                (Some(w), Some(h)) => Some((w as u32, h as u32)),
                _ => None,
            },
        }),
        _ => None,
    };
    let rejected = r.get::<Option<String>, _>(12).map(|class| Rejection {
        class: Rejection::class_from(&class),
        detail: r.get::<Option<String>, _>(13).unwrap_or_default(),
    });
    let matches = r
        .get::<Option<String>, _>(17)
        .and_then(|m| serde_json::from_str(&m).ok())
        .unwrap_or_default();
    Record {
        location: r.get(0),
        source: r.get(1),
        size: r.get::<i64, _>(2) as u64,
        version: r.get(3),
        hashes,
        rejected,
        hashed_at: r.get(14),
        context: r.get(15),
        checked_seq: r.get(16),
        matches,
        quarantined: r.get(18),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(loc: &str, pdq: usize, matched: bool) -> Record {
        let mut r = Record::new(
            loc.into(),
            "/srv".into(),
            10,
            "1.000000001:7".into(),
            Some(Hashes {
                md5: [1; 16],
                sha1: [2; 20],
                sha256: [3; 32],
                pdq: vec![[4; 32]; pdq],
                quality: (pdq > 0).then_some(90),
                format: (pdq > 0).then(|| "jpeg".into()),
                dims: (pdq > 0).then_some((640, 480)),
            }),
            (pdq == 0).then(|| Rejection {
                class: "not an image",
                detail: "text".into(),
            }),
        );
        r.context = Some("ctx".into());
        r.checked_seq = Some(5);
        if matched {
            r.matches.push(Found {
                hash_type: "pdq".into(),
                transform: Some("flipy".into()),
                hash: "04".repeat(32),
                list: ListMatch {
                    list_id: 1,
                    list: "l".into(),
                    category: "csam".into(),
                    list_version: 2,
                    distance: 3,
                },
            });
        }
        r
    }

    #[tokio::test]
    async fn records_round_trip_and_the_light_view_agrees() {
        let dir = tempfile::tempdir().unwrap();
        let st = State::open(&dir.path().join("s.db")).await.unwrap();
        let recs = vec![
            record("/srv/a.jpg", 8, true),
            record("/srv/b.txt", 0, false),
            Record::new(
                "/srv/c".into(),
                "/srv".into(),
                1,
                "v".into(),
                None,
                Some(Rejection {
                    class: "unreadable",
                    detail: "permission denied".into(),
                }),
            ),
        ];
        st.save(&recs).await.unwrap();
        let known = st.load("/srv").await.unwrap();
        assert_eq!(known.len(), 3);
        let a = &known["/srv/a.jpg"];
        assert!(a.readable && a.matched && !a.quarantined);
        assert_eq!((a.pdq_count, a.checked_seq, a.size), (8, Some(5), 10));
        assert!(!known["/srv/c"].readable);
        assert!(st.load("/elsewhere").await.unwrap().is_empty());

        let got = st.get(&["/srv/a.jpg".into()]).await.unwrap();
        assert_eq!(got[0].hashes, recs[0].hashes);
        assert_eq!(got[0].matches, recs[0].matches);
        let rejected = st.rejected("/srv").await.unwrap();
        let classes: Vec<_> = rejected
            .iter()
            .map(|r| r.rejected.clone().unwrap().class)
            .collect();
        assert_eq!(classes, ["not an image", "unreadable"]);
        assert_eq!(st.matched("/srv").await.unwrap().len(), 1);

        // Saving again replaces; forgetting deletes.
        let mut a2 = recs[0].clone();
        a2.matches.clear();
        st.save(&[a2]).await.unwrap();
        assert!(st.matched("/srv").await.unwrap().is_empty());
        st.forget(&["/srv/b.txt".into()]).await.unwrap();
        assert_eq!(st.count().await.unwrap(), 2);
        st.close().await;

        // Reopening keeps everything (the schema is migrated once).
        let st = State::open(&dir.path().join("s.db")).await.unwrap();
        assert_eq!(st.count().await.unwrap(), 2);
    }

    #[tokio::test]
    async fn removals_are_counted_with_their_records_until_reported() {
        let dir = tempfile::tempdir().unwrap();
        let st = State::open(&dir.path().join("s.db")).await.unwrap();
        assert_eq!(st.unreported_removals().await.unwrap(), 0);
        let mut a = record("/srv/a.jpg", 8, true);
        a.quarantined = Some("/q/a.jpg".into());
        st.save_moved(&[a.clone()], 1).await.unwrap();
        // Nothing to save counts nothing; a plain save counts nothing.
        st.save_moved(&[], 5).await.unwrap();
        st.save(&[record("/srv/b.jpg", 8, true)]).await.unwrap();
        let mut c = record("/srv/c.jpg", 8, true);
        c.quarantined = Some("/q/c.jpg".into());
        st.save_moved(&[c], 1).await.unwrap();
        assert_eq!(st.unreported_removals().await.unwrap(), 2);
        // Still there after a restart (a failed report is sent by the next run).
        st.close().await;
        let st = State::open(&dir.path().join("s.db")).await.unwrap();
        assert_eq!(st.unreported_removals().await.unwrap(), 2);
        st.mark_removals_reported().await.unwrap();
        assert_eq!(st.unreported_removals().await.unwrap(), 0);
        st.save_moved(&[a], 1).await.unwrap();
        assert_eq!(st.unreported_removals().await.unwrap(), 1);
    }
}
