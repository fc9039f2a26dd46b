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
    /// Rows the quality gate refused (the import goes on without them).
    pub refused: u64,
    /// The first of those refusals, with their reasons.
    pub refusals: Vec<LineError>,
    /// Rows the quality gate held for review (imported, but not matched until activated).
    pub held: u64,
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
    /// Of the added entries, those held for review (not matched until a manager activates them).
    pub held: u64,
    /// Input hashes skipped because the list retracted them before.
    pub retracted_skipped: u64,
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
pub trait Store: crate::trust::TrustStore + Send + Sync + std::fmt::Debug {
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
/// all, and turns them into [`Error::InvalidFile`] unless invalid lines may be skipped. Rows go
/// through the [`Gate`] on the way: refused rows are reported, and the import goes on.
#[derive(Clone, Debug, Default)]
pub struct ErrorLog {
    /// Whether invalid lines are skipped (the import goes on) rather than fatal.
    pub skip_invalid: bool,
    /// What rows must pass to be imported.
    pub gate: Gate,
    stats: SourceStats,
}

impl ErrorLog {
    /// A log with the default [`Gate`]; `skip_invalid` as in the field.
    pub fn new(skip_invalid: bool) -> ErrorLog {
        ErrorLog {
            skip_invalid,
            gate: Gate::default(),
            stats: SourceStats::default(),
        }
    }

    /// Counts one line read and its outcome; returns the row if it is to be imported.
    pub fn record(&mut self, outcome: std::result::Result<Option<Row>, LineError>) -> Option<Row> {
        self.stats.lines += 1;
        match outcome {
            Ok(Some(mut row)) => match self.gate.check(&row) {
                Ok(()) => {
                    self.stats.rows += 1;
                    Some(row)
                }
                Err(reason) if self.gate.hold_low_quality && reason.starts_with(LOW_QUALITY) => {
                    self.stats.rows += 1;
                    self.stats.held += 1;
                    row.hold = Some(reason);
                    Some(row)
                }
                Err(reason) => {
                    self.stats.refused += 1;
                    if self.stats.refusals.len() < MAX_REPORTED_ERRORS {
                        self.stats.refusals.push(LineError {
                            line: self.stats.lines,
                            message: reason,
                        });
                    }
                    None
                }
            },
            Ok(None) => None,
            Err(e) => {
                self.stats.invalid += 1;
                if self.stats.errors.len() < MAX_REPORTED_ERRORS {
                    self.stats.errors.push(e);
                }
                None
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

/// The quality gate every imported row passes: hashes that would match far too much are
/// refused (reported with their line and reason; the rest of the import goes on).
///
/// * PDQ hashes whose quality (when the file gives it) is below `min_pdq_quality`: Meta's
///   tooling ignores hashes under 50, because flat or tiny images hash to near-identical values.
/// * PDQ hashes with fewer than `min_pdq_ones` or more than `256 - min_pdq_ones` bits set. PDQ
///   thresholds 256 coefficients at their median, so a real hash has about 128 ones; the hash of a
///   flat image is all zeros.
/// * The digests of the empty file, which match every empty upload.
///
/// ```
/// use lists::store::Gate;
/// use lists::import::Row;
/// use index::Key;
/// let zero = Row { key: Key::pdq([0; 32]), quality: None, ext_ref: None, confirmations: None, hold: None };
/// assert!(Gate::default().check(&zero).unwrap_err().contains("bits set"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gate {
    /// Lowest accepted PDQ quality.
    pub min_pdq_quality: u8,
    /// Fewest ones (and fewest zeros) a PDQ hash may have.
    pub min_pdq_ones: u32,
    /// Import low-quality PDQ rows as *held* for a list manager's review instead of refusing
    /// them. Degenerate hashes are refused either way.
    pub hold_low_quality: bool,
}

/// How a low-quality refusal starts (so it can be turned into a hold).
const LOW_QUALITY: &str = "PDQ quality";

impl Default for Gate {
    fn default() -> Gate {
        Gate {
            min_pdq_quality: 50,
            min_pdq_ones: 64,
            hold_low_quality: false,
        }
    }
}

/// MD5, SHA-1 and SHA-256 of zero bytes.
const EMPTY_FILE: [&str; 3] = [
    "d41d8cd98f00b204e9800998ecf8427e",
    "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
];

impl Gate {
    /// No checks at all (tests, trusted bulk loads).
    pub const OFF: Gate = Gate {
        min_pdq_quality: 0,
        min_pdq_ones: 0,
        hold_low_quality: false,
    };

    /// `Ok` if the row may be imported, else why not.
    pub fn check(&self, row: &Row) -> std::result::Result<(), String> {
        if row.key.kind() == index::HashKind::Pdq {
            if let Some(q) = row.quality
                && q < self.min_pdq_quality
            {
                return Err(format!(
                    "PDQ quality {q} is below {} (low-quality hashes match unrelated images)",
                    self.min_pdq_quality
                ));
            }
            let ones: u32 = row.key.as_bytes().iter().map(|b| b.count_ones()).sum();
            if ones < self.min_pdq_ones || ones > 256 - self.min_pdq_ones.min(256) {
                return Err(format!(
                    "degenerate PDQ hash: {ones} of 256 bits set (a real image has about 128; a flat one 0)"
                ));
            }
        } else if self.min_pdq_ones > 0 && EMPTY_FILE.contains(&row.key.to_hex().as_str()) {
            return Err(format!(
                "the {} of an empty file would match every empty upload",
                row.key.kind().name()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod gate_tests {
    use super::*;
    use index::{HashKind, Key};

    fn row(key: Key, quality: Option<u8>) -> std::result::Result<Option<Row>, LineError> {
        Ok(Some(Row {
            key,
            quality,
            ext_ref: None,
            confirmations: None,
            hold: None,
        }))
    }

    #[test]
    fn the_gate_refuses_what_would_match_too_much_and_the_rest_goes_on() {
        let good = Key::parse_hex(
            HashKind::Pdq,
            "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
        )
        .unwrap();
        let mut log = ErrorLog::new(false);
        assert!(log.record(row(good, Some(100))).is_some());
        assert!(log.record(row(good, Some(49))).is_none());
        assert!(log.record(row(Key::pdq([0; 32]), None)).is_none());
        assert!(log.record(row(Key::pdq([0xff; 32]), None)).is_none());
        let empty = Key::parse_hex(HashKind::Sha1, EMPTY_FILE[1]).unwrap();
        assert!(log.record(row(empty, None)).is_none());
        let md5 = Key::parse_hex(HashKind::Md5, "0123456789abcdef0123456789abcdef").unwrap();
        assert!(log.record(row(md5, None)).is_some());
        let stats = log.finish().unwrap();
        assert_eq!(
            (stats.lines, stats.rows, stats.refused, stats.invalid),
            (6, 2, 4, 0)
        );
        let lines: Vec<u64> = stats.refusals.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 3, 4, 5]);
        assert!(stats.refusals[0].message.contains("quality 49"));
        assert!(stats.refusals[3].message.contains("empty file"));
        let mut off = ErrorLog::new(false);
        off.gate = Gate::OFF;
        assert!(off.record(row(Key::pdq([0; 32]), Some(0))).is_some());
    }
}
