//! What the hash-check domain needs from storage. The `store` crate implements it for SQLite
//! (the zero-set-up default) and PostgreSQL (several replicas); both pass the same tests.
//!
//! The database is the source of truth; checks never touch it. Each change of a list is one
//! transaction that writes a new [`ListVersion`](crate::ListVersion) and takes the next number
//! of one installation-wide **change sequence**. Entries remember the version (and sequence) that
//! added them and the one that removed them, so:
//!
//! * the list as it was at any version can be listed again ([`Store::export_page`]);
//! * "was this hash on the list at version v" has an answer ([`Store::entry_history`]);
//! * a replica that has applied everything up to sequence `s` asks only for the changes of
//!   `s + 1, s + 2, ...` ([`Store::changes_page`]), and learns of new changes from
//!   [`Store::wait_for_change`].

use crate::import::{LineError, Mode, Row};
use crate::model::*;
use crate::{Error, Result};
use async_trait::async_trait;
use index::{Key, ListId};
use std::time::Duration;

/// How many line errors an import reports (it counts them all).
pub const MAX_REPORTED_ERRORS: usize = 100;

/// Where an import's rows come from: a file, or an HTTP body being received. The source parses
/// and keeps its own line errors; the store asks for rows in batches, then asks
/// [`RowSource::finish`] whether to commit.
#[async_trait]
pub trait RowSource: Send {
    /// Up to `max` more rows; an empty vector at the end of the input.
    async fn next_batch(&mut self, max: usize) -> Result<Vec<Row>>;
    /// Called once at the end, before committing: `Err` (e.g. [`Error::InvalidFile`]) rolls the
    /// whole import back.
    fn finish(&mut self) -> Result<SourceStats>;
}

/// What a [`RowSource`] read.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SourceStats {
    /// Lines read, including headers, blank lines and comments.
    pub lines: u64,
    /// Rows produced.
    pub rows: u64,
    /// Lines that could not be read (and were skipped, when the source allows that).
    pub invalid: u64,
    /// The first of those errors.
    pub errors: Vec<LineError>,
}

/// What an import did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ImportOutcome {
    /// The list's new version, or `None` if nothing changed (then no version is written).
    pub version: Option<ListVersion>,
    /// The list's version after the import (the old one if nothing changed).
    pub list_version: i64,
    /// What the source read.
    pub source: SourceStats,
    /// Distinct hashes in the input (duplicates collapsed).
    pub distinct: u64,
    /// Entries added to the list.
    pub added: u64,
    /// Entries removed from the list.
    pub removed: u64,
}

/// One live entry for building the in-memory index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexRow {
    /// Database id of the entry (pages are ordered by it).
    pub id: i64,
    /// The hash.
    pub key: Key,
    /// The list holding it.
    pub list: ListId,
}

/// One change for a replica's index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChangeRow {
    /// Database id of the entry (pages are ordered by it).
    pub id: i64,
    /// The hash.
    pub key: Key,
    /// The list.
    pub list: ListId,
    /// `true`: the entry was added; `false`: it was removed.
    pub added: bool,
}

/// One entry as exported to its list's owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportRow {
    /// Database id (pages are ordered by it).
    pub id: i64,
    /// The hash.
    pub key: Key,
    /// PDQ quality, if known.
    pub quality: Option<u8>,
    /// The owner's reference.
    pub ext_ref: Option<String>,
    /// The version that added it.
    pub added_version: i64,
}

/// One stretch of an entry's life on a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Presence {
    /// The version that added it.
    pub added_version: i64,
    /// The version that removed it, if any.
    pub removed_version: Option<i64>,
}

/// Storage for the hash-check domain. See the [module docs](self).
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Creates an organisation. [`Error::Conflict`] if the name is taken.
    async fn create_org(&self, name: &str, kind: OrgKind) -> Result<Organisation>;
    /// One organisation by id.
    async fn org(&self, id: i64) -> Result<Organisation>;
    /// One organisation by name.
    async fn org_by_name(&self, name: &str) -> Result<Organisation>;
    /// All organisations, by id.
    async fn orgs(&self) -> Result<Vec<Organisation>>;

    /// Stores a new key (only the secret's hash).
    async fn insert_key(&self, key: &ApiKey) -> Result<()>;
    /// A key by its public id, revoked or not; `None` if unknown.
    async fn key(&self, id: &str) -> Result<Option<ApiKey>>;
    /// All keys, by creation time.
    async fn keys(&self) -> Result<Vec<ApiKey>>;
    /// Revokes a key (idempotent); returns it.
    async fn revoke_key(&self, id: &str) -> Result<ApiKey>;

    /// The known categories.
    async fn categories(&self) -> Result<Vec<Category>>;
    /// Adds a category (idempotent).
    async fn add_category(&self, category: &Category) -> Result<()>;

    /// Creates an empty list at version 0. [`Error::Conflict`] if the name is taken,
    /// [`Error::Invalid`] for an unknown category or organisation.
    async fn create_list(&self, new: &NewList) -> Result<ListInfo>;
    /// One list by id.
    async fn list(&self, id: i64) -> Result<ListInfo>;
    /// One list by name.
    async fn list_by_name(&self, name: &str) -> Result<ListInfo>;
    /// All lists, by id.
    async fn lists(&self) -> Result<Vec<ListInfo>>;
    /// A list's versions, oldest first.
    async fn versions(&self, list_id: i64) -> Result<Vec<ListVersion>>;
    /// Live entries of a list per hash kind, in [`index::HashKind::ALL`] order.
    async fn entry_counts(&self, list_id: i64) -> Result<[u64; 4]>;

    /// Applies a whole input to a list in **one transaction**: either the list gets exactly
    /// one new version, or (on an error, a crash or a kill) it stays as it was.
    async fn import(
        &self,
        list_id: i64,
        mode: Mode,
        actor: &str,
        note: &str,
        rows: &mut (dyn RowSource + '_),
    ) -> Result<ImportOutcome>;

    /// Entries of `list_id` as of `version` (`None`: the current one), with id > `after_id`,
    /// at most `limit`, ordered by id.
    async fn export_page(
        &self,
        list_id: i64,
        version: Option<i64>,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<ExportRow>>;
    /// When `key` was on `list_id`, oldest first.
    async fn entry_history(&self, list_id: i64, key: &Key) -> Result<Vec<Presence>>;

    /// The last change sequence number (0 when nothing has changed yet).
    async fn current_seq(&self) -> Result<i64>;
    /// Live entries of every list with id > `after_id`, at most `limit`, ordered by id.
    async fn index_page(&self, after_id: i64, limit: u32) -> Result<Vec<IndexRow>>;
    /// The entries added and removed by change `seq` (one list version), with id >
    /// `after_id`, at most `limit`, ordered by id.
    async fn changes_page(&self, seq: i64, after_id: i64, limit: u32) -> Result<Vec<ChangeRow>>;
    /// Returns when another process (or this one) may have changed a list, or after `max`.
    /// PostgreSQL listens for a notification; SQLite simply waits.
    async fn wait_for_change(&self, max: Duration);

    /// Appends audit records (in one transaction).
    async fn append_audit(&self, records: &[AuditRecord]) -> Result<()>;
    /// Audit records with id < `before_id` (or the newest), newest first, at most `limit`.
    async fn audit(&self, before_id: Option<i64>, limit: u32) -> Result<Vec<(i64, AuditRecord)>>;
}

/// A [`RowSource`] over rows already in memory (tests, small API bodies).
#[derive(Debug, Default)]
pub struct VecSource {
    rows: std::vec::IntoIter<Row>,
    stats: SourceStats,
}

impl VecSource {
    /// A source yielding `rows`.
    pub fn new(rows: Vec<Row>) -> VecSource {
        let n = rows.len() as u64;
        VecSource {
            rows: rows.into_iter(),
            stats: SourceStats {
                lines: n,
                rows: n,
                ..SourceStats::default()
            },
        }
    }
}

#[async_trait]
impl RowSource for VecSource {
    async fn next_batch(&mut self, max: usize) -> Result<Vec<Row>> {
        Ok(self.rows.by_ref().take(max).collect())
    }
    fn finish(&mut self) -> Result<SourceStats> {
        Ok(self.stats.clone())
    }
}

/// Collects line errors for a [`RowSource`]: keeps the first [`MAX_REPORTED_ERRORS`], counts
/// all, and turns them into [`Error::InvalidFile`] unless invalid lines may be skipped.
#[derive(Clone, Debug, Default)]
pub struct ErrorLog {
    /// Whether invalid lines are skipped (the import goes on) rather than fatal.
    pub skip_invalid: bool,
    stats: SourceStats,
}

impl ErrorLog {
    /// A log; `skip_invalid` as in the field.
    pub fn new(skip_invalid: bool) -> ErrorLog {
        ErrorLog {
            skip_invalid,
            stats: SourceStats::default(),
        }
    }

    /// Counts one line read, and its outcome.
    pub fn record(&mut self, outcome: &std::result::Result<Option<Row>, LineError>) {
        self.stats.lines += 1;
        match outcome {
            Ok(Some(_)) => self.stats.rows += 1,
            Ok(None) => {}
            Err(e) => {
                self.stats.invalid += 1;
                if self.stats.errors.len() < MAX_REPORTED_ERRORS {
                    self.stats.errors.push(e.clone());
                }
            }
        }
    }

    /// The stats so far.
    pub fn stats(&self) -> &SourceStats {
        &self.stats
    }

    /// The end of the input: the stats, or [`Error::InvalidFile`].
    pub fn finish(&self) -> Result<SourceStats> {
        if self.stats.invalid > 0 && !self.skip_invalid {
            return Err(Error::InvalidFile {
                errors: self.stats.errors.clone(),
                total: self.stats.invalid,
            });
        }
        Ok(self.stats.clone())
    }
}
