//! The SQLite backend: the zero-set-up default.
//!
//! One database file in WAL mode, so checks and the command line read while an import writes.
//! Writes take the lock at their start (`BEGIN IMMEDIATE`), so two writers queue on the busy
//! timeout rather than failing half-way; the import's staging table is a temporary table,
//! which takes no lock on the database, so only its short publish step blocks other writers.

use crate::OpenError;
use lists::Clock;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::str::FromStr;
use std::sync::Arc;

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    clock: Arc<dyn Clock>,
}

impl SqliteStore {
    /// Opens `url` (`sqlite://PATH`, created if missing, or `sqlite::memory:`) and migrates it.
    pub async fn open(url: &str, clock: Arc<dyn Clock>) -> Result<SqliteStore, OpenError> {
        let memory = url.contains(":memory:");
        let options = SqliteConnectOptions::from_str(url)
            .map_err(OpenError::Connect)?
            .create_if_missing(true)
            .journal_mode(if memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            })
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(60))
            // 64 MiB of page cache per connection (the default is 2 MiB): the audit log and
            // the match records are appended to indexes far larger than that.
            .pragma("cache_size", "-65536");
        let pool = SqlitePoolOptions::new()
            // An in-memory database lives in one connection.
            .max_connections(if memory { 1 } else { 8 })
            .connect_with(options)
            .await
            .map_err(OpenError::Connect)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(OpenError::Migrate)?;
        Ok(SqliteStore { pool, clock })
    }

    /// The connection pool, for tests and tools.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Whether the staging insert uses `$N` placeholders.
    const NUMBERED: bool = false;

    const STAGING_DDL: &'static str = "CREATE TEMP TABLE staging (kind INTEGER NOT NULL, hash BLOB NOT NULL, \
         quality INTEGER, ext_ref TEXT, confirmations INTEGER NOT NULL, hold_reason TEXT, PRIMARY KEY (kind, hash)) WITHOUT ROWID";

    /// Holds the change-sequence row for the rest of the transaction (`BEGIN IMMEDIATE` already
    /// holds the whole database).
    const LOCK_SEQ: &'static str = "SELECT value FROM change_seq WHERE id = 1";

    async fn begin_write(
        conn: &mut PoolConnection<Sqlite>,
    ) -> lists::Result<Transaction<'_, Sqlite>> {
        use sqlx::Connection;
        conn.begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(crate::common::db_err("transaction"))
    }

    async fn notify(_tx: &mut Transaction<'_, Sqlite>, _seq: i64) -> lists::Result<()> {
        Ok(())
    }

    async fn wait(&self, max: std::time::Duration) {
        tokio::time::sleep(max).await;
    }
}

crate::common::impl_store!(SqliteStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow, "sqlite");
crate::trust::impl_trust!(SqliteStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow);
crate::cases::impl_ntd!(SqliteStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow, "", "");
crate::notices::impl_notices!(SqliteStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow, "", "");
crate::monitor::impl_monitor!(SqliteStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow, "");
