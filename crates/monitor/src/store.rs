//! What the monitor needs from storage. The `store` crate implements it for SQLite and
//! PostgreSQL; this crate only declares it, so the statistics stay free of SQL.
//!
//! Two kinds of work:
//!
//! * **Reading figures**: [`MonitorStore::summary`] aggregates in the database (one
//!   `GROUP BY` over the cases of a period, see [`crate::summary`]) so that a million cases
//!   compute in seconds; [`MonitorStore::cases_behind`] and [`MonitorStore::overdue`] give the
//!   cases behind a figure for the analysts' drill-down.
//! * **The non-cooperation list** (see [`crate::listing`]): runs and their proposals,
//!   listings and delistings with their events, and explanations with their review. Every
//!   decision and its event commit in one transaction, and approving a run queues its e-mails
//!   in the same transaction, so a crash never lists a hoster without telling it.

use crate::facts::CaseFacts;
use crate::listing::{Proposal, Reason, Rules};
use crate::period::Period;
use crate::summary::Summary;
use async_trait::async_trait;
use lists::Millis;
use lists::trust::NewMail;
use serde::{Deserialize, Serialize};

/// Storage failed or refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is not acceptable; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// No such run, listing or explanation.
    #[error("{0} not found")]
    NotFound(String),
    /// The change conflicts with the current state (a run already decided, an explanation
    /// from a hoster that is not listed).
    #[error("{0}")]
    Conflict(String),
    /// The database failed.
    #[error("storage: {0}")]
    Storage(String),
}

/// This module's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which cases behind a figure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Drill {
    /// Every case of the slice (`urls`).
    #[default]
    All,
    /// Removed by `now` (`removed`).
    Removed,
    /// Removed within 24 h (`removed_within_24h`).
    Within24h,
    /// Removed after more than 24 h.
    Late,
    /// Not removed by `now` (`still_online`).
    Online,
    /// Reminded by `now` (`reminders`).
    Reminded,
    /// Escalated by `now` (`escalations`).
    Escalated,
}

impl Drill {
    /// Every kind, in menu order.
    pub const ALL: [Drill; 7] = [
        Drill::All,
        Drill::Removed,
        Drill::Within24h,
        Drill::Late,
        Drill::Online,
        Drill::Reminded,
        Drill::Escalated,
    ];

    /// The id used in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Drill::All => "all",
            Drill::Removed => "removed",
            Drill::Within24h => "within_24h",
            Drill::Late => "late",
            Drill::Online => "online",
            Drill::Reminded => "reminded",
            Drill::Escalated => "escalated",
        }
    }

    /// Parses [`Drill::as_str`].
    pub fn parse(s: &str) -> Option<Drill> {
        Drill::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// A drill-down: the cases behind one figure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrillQuery {
    /// Cases notified in this period ...
    pub period: Period,
    /// ... as of this moment.
    pub now: Millis,
    /// Only this hoster.
    pub hoster: Option<i64>,
    /// Only this category.
    pub category: Option<String>,
    /// Which figure.
    pub which: Drill,
    /// At most this many, newest notice first.
    pub limit: u32,
}

/// Whether a run has been decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Waiting for an analyst.
    Proposed,
    /// Approved: its listings and delistings happened.
    Approved,
    /// Discarded: nothing happened.
    Discarded,
}

impl RunStatus {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Proposed => "proposed",
            RunStatus::Approved => "approved",
            RunStatus::Discarded => "discarded",
        }
    }

    /// Parses [`RunStatus::as_str`].
    pub fn parse(s: &str) -> Option<RunStatus> {
        match s {
            "proposed" => Some(RunStatus::Proposed),
            "approved" => Some(RunStatus::Approved),
            "discarded" => Some(RunStatus::Discarded),
            _ => None,
        }
    }
}

/// A run to save.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRun {
    /// When it ran.
    pub at: Millis,
    /// Who started it (a key id, or `scheduler`).
    pub by: String,
    /// The window its figures are over.
    pub window: Period,
    /// The rules it applied.
    pub rules: Rules,
    /// What it proposes.
    pub proposals: Vec<Proposal>,
}

/// A saved run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Run {
    /// Its number.
    pub id: i64,
    /// When it ran.
    pub at: Millis,
    /// Who started it.
    pub by: String,
    /// The window.
    pub window: Period,
    /// The rules.
    pub rules: Rules,
    /// Proposed, approved or discarded.
    pub status: RunStatus,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<Millis>,
    /// The proposals, with the hoster names.
    pub proposals: Vec<NamedProposal>,
}

/// A proposal with its hoster's name.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NamedProposal {
    /// The hoster's register name.
    pub hoster_name: String,
    /// The proposal.
    #[serde(flatten)]
    pub proposal: Proposal,
}

/// One hoster's time on the list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Listing {
    /// Its number.
    pub id: i64,
    /// The hoster.
    pub hoster_id: i64,
    /// The hoster's register name.
    pub hoster_name: String,
    /// When it was listed (the run's approval).
    pub listed_at: Millis,
    /// Who approved.
    pub listed_by: String,
    /// The run that proposed it.
    pub run_id: i64,
    /// The rules it broke.
    pub reasons: Vec<Reason>,
    /// When it was taken off the list, if it was.
    pub delisted_at: Option<Millis>,
    /// Who took it off.
    pub delisted_by: Option<String>,
    /// The latest approved explanation: what the public page shows beside the entry.
    pub explanation: Option<Explanation>,
}

/// The review state of an explanation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExplanationStatus {
    /// Submitted, not reviewed.
    Pending,
    /// Approved for publication.
    Approved,
    /// Not published.
    Rejected,
}

impl ExplanationStatus {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            ExplanationStatus::Pending => "pending",
            ExplanationStatus::Approved => "approved",
            ExplanationStatus::Rejected => "rejected",
        }
    }

    /// Parses [`ExplanationStatus::as_str`].
    pub fn parse(s: &str) -> Option<ExplanationStatus> {
        match s {
            "pending" => Some(ExplanationStatus::Pending),
            "approved" => Some(ExplanationStatus::Approved),
            "rejected" => Some(ExplanationStatus::Rejected),
            _ => None,
        }
    }
}

/// A hoster's explanation of its listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// Its number.
    pub id: i64,
    /// The listing it explains.
    pub listing_id: i64,
    /// The hoster.
    pub hoster_id: i64,
    /// The hoster's register name.
    pub hoster_name: String,
    /// The text, as submitted (plain text; pages escape it).
    pub text: String,
    /// When.
    pub submitted_at: Millis,
    /// Who (the portal session's key id or `link`).
    pub submitted_by: String,
    /// Pending, approved or rejected.
    pub status: ExplanationStatus,
    /// When it was reviewed.
    pub reviewed_at: Option<Millis>,
    /// By whom.
    pub reviewed_by: Option<String>,
    /// The reviewer's note to the hoster (why rejected).
    pub note: Option<String>,
}

/// One event in the list's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListEvent {
    /// Its number.
    pub id: i64,
    /// When.
    pub at: Millis,
    /// The hoster.
    pub hoster_id: i64,
    /// The hoster's register name.
    pub hoster_name: String,
    /// The listing it belongs to.
    pub listing_id: i64,
    /// Who.
    pub actor: String,
    /// `listed`, `delisted`, `explanation_submitted`, `explanation_approved` or
    /// `explanation_rejected`.
    pub kind: String,
    /// Details (the reasons, the note).
    pub detail: String,
}

/// Storage for the monitor.
#[async_trait]
pub trait MonitorStore: Send + Sync + std::fmt::Debug {
    /// The grouped facts of `period` as of `now` (see [`Summary`]): the same as
    /// [`Summary::from_facts`] over every notified case, every sent notice and the hash-check
    /// participation of the months overlapping the period.
    async fn summary(&self, period: &Period, now: Millis) -> Result<Summary>;

    /// The cases behind a figure, newest notice first.
    async fn cases_behind(&self, q: &DrillQuery) -> Result<Vec<CaseFacts>>;

    /// Notified cases still online more than `norm_ms` after the notice, oldest first.
    async fn overdue(&self, now: Millis, norm_ms: i64, limit: u32) -> Result<Vec<CaseFacts>>;

    /// Saves a run with its proposals (status proposed).
    async fn save_run(&self, run: &NewRun) -> Result<Run>;

    /// A run.
    async fn run(&self, id: i64) -> Result<Run>;

    /// The latest runs, newest first.
    async fn runs(&self, limit: u32) -> Result<Vec<Run>>;

    /// Approves (`approve`) or discards a proposed run. Approving lists and delists as
    /// proposed, with an event each, and queues `mails` in the same transaction. A run that
    /// is not `proposed` any more is a [`Error::Conflict`]; so is a hoster already listed.
    async fn decide_run(
        &self,
        id: i64,
        approve: bool,
        actor: &str,
        now: Millis,
        mails: &[NewMail],
    ) -> Result<Run>;

    /// Listings, newest first: only those on the list now (`current`), or all.
    async fn listings(&self, current: bool) -> Result<Vec<Listing>>;

    /// The hoster's current listing.
    async fn listing_of(&self, hoster_id: i64) -> Result<Option<Listing>>;

    /// Stores an explanation of the hoster's current listing (pending review). A hoster not
    /// on the list is a [`Error::Conflict`].
    async fn submit_explanation(
        &self,
        hoster_id: i64,
        text: &str,
        by: &str,
        now: Millis,
    ) -> Result<Explanation>;

    /// Explanations, newest first, of one status or all.
    async fn explanations(&self, status: Option<ExplanationStatus>) -> Result<Vec<Explanation>>;

    /// The hoster's explanations, newest first.
    async fn explanations_of(&self, hoster_id: i64) -> Result<Vec<Explanation>>;

    /// Approves or rejects a pending explanation; an event records it.
    async fn review_explanation(
        &self,
        id: i64,
        approve: bool,
        actor: &str,
        note: Option<&str>,
        now: Millis,
    ) -> Result<Explanation>;

    /// The list's history, newest first (one hoster's, or everyone's).
    async fn list_events(&self, hoster_id: Option<i64>, limit: u32) -> Result<Vec<ListEvent>>;
}
