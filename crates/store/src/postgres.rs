//! The PostgreSQL backend: for production, with several `schoon serve` replicas.
//!
//! Every change of a list ends with `pg_notify('schoon_changes', seq)` inside its transaction,
//! so the notification goes out exactly when the change is visible. Each replica keeps one
//! connection listening on that channel ([`sqlx::postgres::PgListener`]); its follow loop wakes
//! up, reads the changes after its snapshot's sequence and applies them. If a notification is
//! lost (the listening connection dropped), the loop's poll interval still catches up.

use crate::OpenError;
use lists::Clock;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use tokio::sync::Mutex;

/// The channel list changes are announced on.
pub const CHANNEL: &str = "schoon_changes";

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    clock: Arc<dyn Clock>,
    listener: Arc<Mutex<Option<PgListener>>>,
}

impl PgStore {
    /// Connects to `url` (`postgres://...`) and migrates the database.
    pub async fn open(url: &str, clock: Arc<dyn Clock>) -> Result<PgStore, OpenError> {
        let options = PgConnectOptions::from_str(url).map_err(OpenError::Connect)?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect_with(options)
            .await
            .map_err(OpenError::Connect)?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(OpenError::Migrate)?;
        Ok(PgStore {
            pool,
            clock,
            listener: Arc::new(Mutex::new(None)),
        })
    }

    /// The connection pool, for tests and tools.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Whether the staging insert uses `$N` placeholders.
    const NUMBERED: bool = true;

    const STAGING_DDL: &'static str = "CREATE TEMP TABLE staging (kind BIGINT NOT NULL, hash BYTEA NOT NULL, \
         quality BIGINT, ext_ref TEXT, confirmations BIGINT NOT NULL, hold_reason TEXT, PRIMARY KEY (kind, hash))";

    /// Holds the change-sequence row for the rest of the transaction.
    const LOCK_SEQ: &'static str = "SELECT value FROM change_seq WHERE id = 1 FOR UPDATE";

    async fn begin_write(
        conn: &mut PoolConnection<Postgres>,
    ) -> lists::Result<Transaction<'_, Postgres>> {
        use sqlx::Connection;
        conn.begin()
            .await
            .map_err(crate::common::db_err("transaction"))
    }

    async fn notify(tx: &mut Transaction<'_, Postgres>, seq: i64) -> lists::Result<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(seq.to_string())
            .execute(&mut **tx)
            .await
            .map_err(crate::common::db_err("notification"))?;
        Ok(())
    }

    async fn wait(&self, max: std::time::Duration) {
        let mut guard = self.listener.lock().await;
        if guard.is_none() {
            match PgListener::connect_with(&self.pool).await {
                Ok(mut l) => match l.listen(CHANNEL).await {
                    Ok(()) => *guard = Some(l),
                    Err(e) => tracing::warn!(error = %e, "cannot LISTEN; polling instead"),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "cannot open a listening connection; polling instead")
                }
            }
        }
        match guard.as_mut() {
            Some(listener) => match tokio::time::timeout(max, listener.recv()).await {
                Ok(Ok(_)) | Err(_) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "listening connection failed; reconnecting");
                    *guard = None;
                    drop(guard);
                    tokio::time::sleep(max).await;
                }
            },
            None => {
                drop(guard);
                tokio::time::sleep(max).await;
            }
        }
    }
}

crate::common::impl_store!(PgStore, sqlx::Postgres, sqlx::postgres::PgRow, "postgres");
crate::trust::impl_trust!(PgStore, sqlx::Postgres, sqlx::postgres::PgRow);
crate::cases::impl_ntd!(
    PgStore,
    sqlx::Postgres,
    sqlx::postgres::PgRow,
    " FOR UPDATE",
    "SELECT pg_advisory_xact_lock(7412001)"
);
crate::notices::impl_notices!(
    PgStore,
    sqlx::Postgres,
    sqlx::postgres::PgRow,
    " FOR UPDATE SKIP LOCKED",
    " FOR UPDATE"
);
crate::monitor::impl_monitor!(
    PgStore,
    sqlx::Postgres,
    sqlx::postgres::PgRow,
    " FOR UPDATE"
);
