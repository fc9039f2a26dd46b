//! Schoon's storage: the [`lists::Store`] trait on SQLite and PostgreSQL.
//!
//! * **SQLite** is the zero-set-up default: one file, WAL journal, `synchronous=NORMAL`, a busy
//!   timeout so the command line and a running server can share it.
//! * **PostgreSQL** is for production with several replicas: every `schoon serve` process reads
//!   the same database and learns of list changes through `LISTEN`/`NOTIFY`.
//!
//! Both run the same SQL (SQLite understands PostgreSQL's `$1` placeholders) from one
//! implementation written once as a macro over the two sqlx drivers; what differs (how a write
//! transaction starts, how replicas hear of a change) sits in [`sqlite`] and [`postgres`].
//! Migrations are plain files under `migrations/<backend>/`, embedded at build time and run at
//! start-up. Both backends pass the same test suite (`tests/store.rs`), PostgreSQL against a
//! real throwaway server ([`testing`], feature `testing`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let store = store::open("sqlite://schoon.db").await?;
//! let lists = store.lists().await?;
//! # Ok(()) }
//! ```

use lists::{Clock, Store, SystemClock};
use std::sync::Arc;

mod cases;
mod common;
mod monitor;
mod notices;
pub mod postgres;
pub mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;
mod trust;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// The monitor's case query, public only so that its benchmark times the very SQL the store
/// runs (against a window-function variant).
#[doc(hidden)]
pub use monitor::SUMMARY_SQL as MONITOR_SUMMARY_SQL;

/// Opening a store failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL is neither `sqlite:` nor `postgres:`/`postgresql:`.
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://...")]
    Scheme(String),
    /// Connecting failed.
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    /// A migration failed.
    #[error("cannot migrate the database: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

/// Opens (and migrates) the store at `url`: `sqlite://PATH` (created if missing),
/// `sqlite::memory:`, or `postgres://...`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, OpenError> {
    open_with_clock(url, Arc::new(SystemClock)).await
}

/// Everything a store does: the hash lists ([`lists::Store`]), notice and takedown
/// ([`ntd::CaseStore`], [`ntd::takedown::NoticeStore`]) and the monitor
/// ([`::monitor::MonitorStore`]), over one connection pool.
pub trait Backend:
    Store + ntd::CaseStore + ntd::takedown::NoticeStore + ::monitor::MonitorStore
{
}
impl<T: Store + ntd::CaseStore + ntd::takedown::NoticeStore + ::monitor::MonitorStore> Backend
    for T
{
}

/// Every side of one store, sharing its connections.
#[derive(Debug, Clone)]
pub struct Stores {
    /// The hash lists, organisations and keys.
    pub lists: Arc<dyn Store>,
    /// Reports, cases, the hosters register and attribution data.
    pub cases: Arc<dyn ntd::CaseStore>,
    /// Notices, re-checks, hoster answers and templates.
    pub notices: Arc<dyn ntd::takedown::NoticeStore>,
    /// The takedown statistics and the non-cooperation list.
    pub monitor: Arc<dyn ::monitor::MonitorStore>,
}

/// Opens (and migrates) the store at `url` for every domain.
pub async fn open_stores(url: &str, clock: Arc<dyn Clock>) -> Result<Stores, OpenError> {
    fn both<T: Backend + 'static>(s: T) -> Stores {
        let s = Arc::new(s);
        Stores {
            lists: Arc::clone(&s) as Arc<dyn Store>,
            cases: Arc::clone(&s) as Arc<dyn ntd::CaseStore>,
            notices: Arc::clone(&s) as Arc<dyn ntd::takedown::NoticeStore>,
            monitor: s as Arc<dyn ::monitor::MonitorStore>,
        }
    }
    if url.starts_with("sqlite:") {
        Ok(both(SqliteStore::open(url, clock).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(both(PgStore::open(url, clock).await?))
    } else {
        Err(OpenError::Scheme(url.to_string()))
    }
}

/// [`open`] with a clock of the caller's choosing (tests move time by hand).
pub async fn open_with_clock(
    url: &str,
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn Store>, OpenError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url, clock).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(PgStore::open(url, clock).await?))
    } else {
        Err(OpenError::Scheme(url.to_string()))
    }
}
