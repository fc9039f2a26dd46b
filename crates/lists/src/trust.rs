//! Trust in the lists: keeping a bad entry cheap to catch and quick to undo.
//!
//! In 2021 standard WordPress images ended up on a Dutch hash list and hosters' automated
//! checks flagged ordinary customer websites. This module holds the rules that stop that from
//! spreading:
//!
//! * **Provenance and status.** Every entry knows the list version (and so the actor, time and
//!   import note) that added it, its external reference, how many independent confirmations it
//!   had, and its [`EntryStatus`]. Only *active* entries are in the check index. Every status
//!   change is an [`EntryEvent`] with actor, time and reason; one that changes what checks
//!   answer takes a number of the change sequence, so replicas apply it like a list change.
//! * **Hold for review.** With [`crate::store::Gate::hold_low_quality`], low-quality PDQ rows
//!   are imported as *held* instead of refused; a list manager activates or retracts them.
//! * **Allowlists.** Lists with [`crate::Purpose::Allow`] override matches: see
//!   [`crate::check::Snapshot::check`]. The overridden match is kept as a conflict.
//! * **Flood quarantine.** Each match of an entry is recorded ([`EntryHit`]). [`FloodRule`]
//!   says how many distinct organisations or matches in a window are unusual; [`flood_sweep`]
//!   suspends such entries, raises an [`Alert`] and e-mails the list's owner. Nothing is
//!   deleted: a manager reinstates or retracts.
//! * **Disputes and retractions.** A hoster disputes a match by the hash *it* sent (it never
//!   learns the entry). Retracting an entry ([`retract`]) writes a [`Retraction`] notice for
//!   every organisation that matched it, and e-mails them, so they can restore what they removed.
//!
//! The store writes each decision and its consequences (event, alert, notices, queued e-mails)
//! in one transaction ([`TrustStore::change_status`]).

use crate::model::{Category, Millis};
use crate::{Error, Result};
use async_trait::async_trait;
use index::Key;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Where an entry stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// Matched by checks.
    Active,
    /// Imported but waiting for a list manager's review (e.g. low PDQ quality); not matched.
    Held,
    /// Taken out of checks for now (by the flood rule or a manager); not matched.
    Suspended,
    /// Judged wrong; not matched, and a later import of the same hash into the list is skipped.
    Retracted,
}

impl EntryStatus {
    /// Every status.
    pub const ALL: [EntryStatus; 4] = [
        EntryStatus::Active,
        EntryStatus::Held,
        EntryStatus::Suspended,
        EntryStatus::Retracted,
    ];

    /// The stored and displayed name.
    pub fn name(self) -> &'static str {
        match self {
            EntryStatus::Active => "active",
            EntryStatus::Held => "held",
            EntryStatus::Suspended => "suspended",
            EntryStatus::Retracted => "retracted",
        }
    }
}

impl fmt::Display for EntryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EntryStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        EntryStatus::ALL
            .into_iter()
            .find(|x| x.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown entry status {s:?} (active, held, suspended or retracted)"
                ))
            })
    }
}

/// An entry with its provenance, as shown to its list's managers (never to hosters).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EntryInfo {
    /// Database id.
    pub id: i64,
    /// The list.
    pub list_id: i64,
    /// The hash.
    #[serde(serialize_with = "ser_key")]
    pub key: Key,
    /// PDQ quality, if the import gave it.
    pub quality: Option<u8>,
    /// The list owner's reference (case number, source record).
    pub ext_ref: Option<String>,
    /// Independent analyst confirmations the import declared.
    pub confirmations: u32,
    /// The list version that added it.
    pub added_version: i64,
    /// When that version was made.
    pub added_at: Millis,
    /// Who made it: a key id, or `cli:<user>`.
    pub added_by: String,
    /// The organisation of that key, when it was a key.
    pub added_by_org: Option<i64>,
    /// The import's note (e.g. the file name).
    pub import_note: String,
    /// The version that removed it from the list, if any.
    pub removed_version: Option<i64>,
    /// Its status.
    pub status: EntryStatus,
    /// Why it was held at import, if it was.
    pub hold_reason: Option<String>,
}

/// Serialises a key as `{"type": "pdq", "value": "..."}`.
pub fn ser_key<S: serde::Serializer>(key: &Key, s: S) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut st = s.serialize_struct("Hash", 2)?;
    st.serialize_field("type", key.kind().name())?;
    st.serialize_field("value", &key.to_hex())?;
    st.end()
}

fn ser_keys<S: serde::Serializer>(keys: &[Key], s: S) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    #[derive(Serialize)]
    struct K<'a>(#[serde(serialize_with = "ser_key")] &'a Key);
    let mut seq = s.serialize_seq(Some(keys.len()))?;
    for k in keys {
        seq.serialize_element(&K(k))?;
    }
    seq.end()
}

/// One status change of an entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EntryEvent {
    /// Database id.
    pub id: i64,
    /// The entry.
    pub entry_id: i64,
    /// The change sequence number it took, when it changed what checks answer.
    pub seq: Option<i64>,
    /// When.
    pub at: Millis,
    /// Who: a key id, `cli:<user>` or `flood-rule`.
    pub actor: String,
    /// Status before.
    pub from: EntryStatus,
    /// Status after.
    pub to: EntryStatus,
    /// Why.
    pub reason: String,
}

/// How often an entry matched.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HitStats {
    /// Distinct organisations whose checks it matched (allowlisted matches excluded).
    pub orgs: i64,
    /// Matches (allowlisted ones excluded).
    pub hits: i64,
    /// Matches an allowlist overrode (conflicts).
    pub conflicts: i64,
    /// First match.
    pub first_at: Option<Millis>,
    /// Last match.
    pub last_at: Option<Millis>,
}

/// One match of one listed entry by one checked hash, as recorded by the check endpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryHit {
    /// When.
    pub at: Millis,
    /// The checking organisation.
    pub org_id: i64,
    /// Its key.
    pub key_id: String,
    /// The list of the matched entry.
    pub list_id: i64,
    /// The listed hash that matched (the entry is the live one with this hash on the list).
    pub listed: Key,
    /// The hash that was checked (the hoster's own).
    pub query: Key,
    /// Hamming distance (0 for digests).
    pub distance: u32,
    /// The allowlist and its listed hash that overrode this match, if one did.
    pub allowed_by: Option<(i64, Key)>,
}

/// One match record, as the flood rule reads them (in id order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HitRow {
    /// Database id (ascending with time of writing).
    pub id: i64,
    /// The matched entry.
    pub entry_id: i64,
    /// The checking organisation.
    pub org_id: i64,
    /// When.
    pub at: Millis,
    /// Whether an allowlist overrode it.
    pub allowed: bool,
}

/// An organisation that matched an entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HitOrg {
    /// The organisation.
    pub org_id: i64,
    /// Its name.
    pub name: String,
    /// Where its notices go, if known.
    pub email: Option<String>,
    /// First match.
    pub first_at: Millis,
    /// Last match.
    pub last_at: Millis,
    /// Matches.
    pub hits: i64,
}

/// A match an allowlist overrode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// The hit's id (pages are ordered by it).
    pub id: i64,
    /// When.
    pub at: Millis,
    /// The blocklist entry that matched.
    pub entry_id: i64,
    /// The allowlist entry that overrode it.
    pub allowed_by: i64,
    /// The checking organisation.
    pub org_id: i64,
    /// Distance to the blocklist entry.
    pub distance: u32,
}

/// An entry the flood rule finds unusual.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FloodCandidate {
    /// The entry.
    pub entry_id: i64,
    /// Its list.
    pub list_id: i64,
    /// Distinct organisations it matched in the window.
    pub orgs: i64,
    /// Matches in the window.
    pub hits: i64,
}

/// Something list managers must look at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// Database id.
    pub id: i64,
    /// When.
    pub at: Millis,
    /// `flood`, `dispute`, ...
    pub kind: String,
    /// The list concerned.
    pub list_id: Option<i64>,
    /// The entry concerned.
    pub entry_id: Option<i64>,
    /// One line for people.
    pub message: String,
    /// JSON with the figures.
    pub detail: serde_json::Value,
    /// When someone acknowledged it.
    pub acked_at: Option<Millis>,
    /// Who.
    pub acked_by: Option<String>,
}

/// An alert to raise.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAlert {
    /// `flood`, `dispute`, ...
    pub kind: String,
    /// The list concerned.
    pub list_id: Option<i64>,
    /// The entry concerned.
    pub entry_id: Option<i64>,
    /// One line for people.
    pub message: String,
    /// JSON with the figures.
    pub detail: serde_json::Value,
}

/// A retraction notice: "an entry you matched was wrong".
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Retraction {
    /// Database id.
    pub id: i64,
    /// When the entry was retracted.
    pub created_at: Millis,
    /// The list (its name and category, never the listed hash).
    pub list_id: i64,
    /// List name.
    pub list: String,
    /// List category.
    pub category: Category,
    /// The organisation told.
    pub org_id: i64,
    /// Its first match of the entry.
    pub first_hit_at: Millis,
    /// Its last match.
    pub last_hit_at: Millis,
    /// How many of its checks matched.
    pub hits: i64,
    /// Why the entry was retracted.
    pub reason: String,
    /// The hashes *this organisation* checked that matched (its own files' hashes), so it can
    /// find and restore them. At most [`MAX_NOTICE_QUERIES`].
    #[serde(serialize_with = "ser_keys")]
    pub queries: Vec<Key>,
    /// The entry (database id); never serialised, so the notices a hoster reads do not name it.
    #[serde(skip)]
    pub entry_id: i64,
}

/// Most of an organisation's own matching hashes named in one retraction notice.
pub const MAX_NOTICE_QUERIES: usize = 1000;

/// A retraction notice to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRetraction {
    /// The organisation.
    pub org_id: i64,
    /// Its first match.
    pub first_hit_at: Millis,
    /// Its last match.
    pub last_hit_at: Millis,
    /// Its matches.
    pub hits: i64,
}

/// An e-mail to queue. `reference` makes queueing idempotent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NewMail {
    /// Unique: the same reference is never queued twice.
    pub reference: String,
    /// Recipients.
    pub to: Vec<String>,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// Optional machine-readable part.
    pub json: Option<String>,
}

/// A queued e-mail, claimed for sending.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutboxMail {
    /// Database id.
    pub id: i64,
    /// What was queued.
    #[serde(flatten)]
    pub mail: NewMail,
    /// Attempts so far (this one not counted).
    pub attempts: u32,
    /// Queued.
    pub created_at: Millis,
    /// Sent, if it was.
    pub sent_at: Option<Millis>,
    /// Given up on, if so.
    pub failed_at: Option<Millis>,
    /// The last error.
    pub last_error: Option<String>,
}

/// What happened to an attempt to send a queued e-mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailOutcome {
    /// Accepted by the SMTP server.
    Sent,
    /// Failed; try again at this instant.
    Retry(Millis, String),
    /// Failed for good.
    Failed(String),
}

/// A status change with everything that follows from it, written in one transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusChange {
    /// The entry.
    pub entry_id: i64,
    /// Only if the entry is in one of these statuses (empty: any); otherwise nothing happens.
    pub from: Vec<EntryStatus>,
    /// The new status.
    pub to: EntryStatus,
    /// Who.
    pub actor: String,
    /// Why.
    pub reason: String,
    /// An alert to raise.
    pub alert: Option<NewAlert>,
    /// Retraction notices to write.
    pub retractions: Vec<NewRetraction>,
    /// E-mails to queue.
    pub mails: Vec<NewMail>,
}

/// Where a dispute stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeStatus {
    /// Waiting for a list manager.
    Open,
    /// The entry stays: the manager judged it correct.
    Rejected,
    /// The hoster was right: the entry was retracted (and maybe allowlisted).
    Upheld,
}

impl DisputeStatus {
    /// The stored and displayed name.
    pub fn name(self) -> &'static str {
        match self {
            DisputeStatus::Open => "open",
            DisputeStatus::Rejected => "rejected",
            DisputeStatus::Upheld => "upheld",
        }
    }
}

impl FromStr for DisputeStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "open" => Ok(DisputeStatus::Open),
            "rejected" => Ok(DisputeStatus::Rejected),
            "upheld" => Ok(DisputeStatus::Upheld),
            _ => Err(Error::Invalid(format!(
                "unknown dispute status {s:?} (open, rejected or upheld)"
            ))),
        }
    }
}

/// A hoster's dispute of one match.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Dispute {
    /// Database id.
    pub id: i64,
    /// When it was opened.
    pub created_at: Millis,
    /// The disputing organisation.
    pub org_id: i64,
    /// Its key.
    pub key_id: String,
    /// The disputed entry (never shown to the hoster).
    pub entry_id: i64,
    /// The entry's list.
    pub list_id: i64,
    /// The hash the hoster checked.
    #[serde(serialize_with = "ser_key")]
    pub query: Key,
    /// The hoster's reason.
    pub reason: String,
    /// Where it stands.
    pub status: DisputeStatus,
    /// When it was resolved.
    pub resolved_at: Option<Millis>,
    /// By whom.
    pub resolved_by: Option<String>,
    /// The manager's note.
    pub resolution: Option<String>,
}

/// A dispute to open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDispute {
    /// The disputing organisation.
    pub org_id: i64,
    /// Its key.
    pub key_id: String,
    /// The disputed entry.
    pub entry_id: i64,
    /// The hash the hoster checked.
    pub query: Key,
    /// The hoster's reason.
    pub reason: String,
}

/// Which disputes to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DisputeFilter {
    /// Only this organisation's (a hoster sees only its own).
    pub org_id: Option<i64>,
    /// Only on entries of these lists (a list manager sees only its own lists').
    pub list_ids: Option<Vec<i64>>,
    /// Only in this status.
    pub status: Option<DisputeStatus>,
    /// Only of this entry.
    pub entry_id: Option<i64>,
}

/// Storage for trust: implemented by the `store` crate for both backends, next to
/// [`crate::Store`] (which requires it).
#[async_trait]
pub trait TrustStore: Send + Sync {
    /// Sets (or clears) where an organisation's alerts and notices go.
    async fn set_org_email(&self, org_id: i64, email: Option<&str>) -> Result<()>;
    /// An organisation's e-mail address, if set.
    async fn org_email(&self, org_id: i64) -> Result<Option<String>>;

    /// One entry with its provenance.
    async fn entry(&self, entry_id: i64) -> Result<EntryInfo>;
    /// Every entry row for `key` on `list_id` (past ones included), oldest first.
    async fn find_entries(&self, list_id: i64, key: &Key) -> Result<Vec<EntryInfo>>;
    /// Entries of a list in one status, id > `after_id`, at most `limit`, by id.
    async fn entries_with_status(
        &self,
        list_id: i64,
        status: EntryStatus,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<EntryInfo>>;
    /// An entry's status changes, oldest first.
    async fn entry_events(&self, entry_id: i64) -> Result<Vec<EntryEvent>>;
    /// How often an entry matched.
    async fn hit_stats(&self, entry_id: i64) -> Result<HitStats>;
    /// The organisations whose checks matched an entry (allowlisted matches excluded).
    async fn hit_orgs(&self, entry_id: i64) -> Result<Vec<HitOrg>>;

    /// Changes an entry's status, with its event, alert, notices and e-mails, in one
    /// transaction. `None` if the entry was not in one of `change.from` (or already in
    /// `change.to`): then nothing is written, so concurrent callers (replicas) act once.
    async fn change_status(&self, change: &StatusChange) -> Result<Option<EntryEvent>>;

    /// Records matches (each resolved to its live entry; hits on entries that no longer exist
    /// are dropped).
    async fn record_hits(&self, hits: &[EntryHit]) -> Result<()>;
    /// Active entries that, since `since` (and since their last status change), matched at
    /// least `min_orgs` distinct organisations or at least `min_hits` times; only among `only`
    /// unless it is empty.
    async fn flood_candidates(
        &self,
        since: Millis,
        min_orgs: u32,
        min_hits: u32,
        only: &[i64],
    ) -> Result<Vec<FloodCandidate>>;
    /// Match records with id > `after_id`, at most `limit`, by id.
    async fn hits_after(&self, after_id: i64, limit: u32) -> Result<Vec<HitRow>>;
    /// The id just below the first match record at or after `at` (where reading starts).
    async fn hits_start(&self, at: Millis) -> Result<i64>;
    /// Matches of `list_id`'s entries that an allowlist overrode, id > `after_id`.
    async fn conflicts(&self, list_id: i64, after_id: i64, limit: u32) -> Result<Vec<Conflict>>;
    /// The entries (live or not) an organisation's checks of `query` matched, newest first.
    async fn matched_entries(&self, org_id: i64, query: &Key) -> Result<Vec<i64>>;

    /// Raises an alert on its own (alerts that go with a status change use
    /// [`TrustStore::change_status`]).
    async fn raise_alert(&self, alert: &NewAlert, mails: &[NewMail]) -> Result<Alert>;
    /// Alerts, newest first: of these lists only (`None`: all), unacknowledged only if asked.
    async fn alerts(
        &self,
        list_ids: Option<&[i64]>,
        unacked_only: bool,
        limit: u32,
    ) -> Result<Vec<Alert>>;
    /// One alert.
    async fn alert(&self, id: i64) -> Result<Alert>;
    /// Acknowledges an alert (idempotent).
    async fn ack_alert(&self, id: i64, actor: &str) -> Result<Alert>;

    /// Opens a dispute, with an alert and e-mails to the list's managers.
    /// [`Error::Conflict`] if the organisation disputed the entry before.
    async fn create_dispute(
        &self,
        dispute: &NewDispute,
        alert: &NewAlert,
        mails: &[NewMail],
    ) -> Result<Dispute>;
    /// One dispute.
    async fn dispute(&self, id: i64) -> Result<Dispute>;
    /// Disputes, newest first.
    async fn disputes(&self, filter: &DisputeFilter, limit: u32) -> Result<Vec<Dispute>>;
    /// Closes an open dispute. [`Error::Conflict`] if it is not open.
    async fn resolve_dispute(
        &self,
        id: i64,
        status: DisputeStatus,
        actor: &str,
        note: &str,
    ) -> Result<Dispute>;

    /// An organisation's retraction notices with id > `after_id`, oldest first.
    async fn retractions(&self, org_id: i64, after_id: i64, limit: u32) -> Result<Vec<Retraction>>;

    /// Queues e-mails (a reference already queued is skipped).
    async fn enqueue_mail(&self, mails: &[NewMail]) -> Result<()>;
    /// Claims the oldest due e-mail for `lease` (another claimer skips it until then).
    async fn claim_mail(&self, now: Millis, lease: Duration) -> Result<Option<OutboxMail>>;
    /// Records the outcome of a send attempt.
    async fn finish_mail(&self, id: i64, now: Millis, outcome: &MailOutcome) -> Result<()>;
    /// The newest queued e-mails, sent or not.
    async fn outbox(&self, limit: u32) -> Result<Vec<OutboxMail>>;
}
