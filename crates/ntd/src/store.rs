//! What notice and takedown needs from storage. The `store` crate implements it for SQLite
//! and PostgreSQL; every change and its timeline event commit in one transaction.

use crate::attribution::{Attribution, DataSource, StoredData, ip2asn::AsnRange, rpsl::RpslData};
use crate::case::{Action, Case, CaseFilter, Event, Intake, Outcome, Report, Submitter};
use crate::register::{Hoster, HosterFields};
use crate::{CaseState, Result};
use async_trait::async_trait;
use std::time::Duration;

/// A case that needs attribution, as the worker claims it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The case.
    pub case_id: i64,
    /// Its host.
    pub host: String,
}

/// How many cases are in each state.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct StateCounts(pub Vec<(CaseState, i64)>);

/// Storage for reports, cases, the hosters register and attribution data.
#[async_trait]
pub trait CaseStore: Send + Sync + std::fmt::Debug {
    /// Stores validated reports: each joins the open case of its URL or opens one (also
    /// within the batch), all in one transaction. Outcomes come back in the intakes' order.
    async fn submit(&self, by: &Submitter, intakes: Vec<Intake>) -> Result<Vec<Outcome>>;

    /// Cases matching the filter, and how many match in all.
    async fn cases(&self, filter: &CaseFilter) -> Result<(Vec<Case>, i64)>;

    /// One case.
    async fn case(&self, id: i64) -> Result<Option<Case>>;

    /// A case's reports, oldest first.
    async fn reports(&self, case_id: i64) -> Result<Vec<Report>>;

    /// A case's timeline, oldest first.
    async fn events(&self, case_id: i64) -> Result<Vec<Event>>;

    /// The report with this reference number.
    async fn report_by_reference(&self, reference: &str) -> Result<Option<Report>>;

    /// Applies an analyst's action (checked against the state machine inside the
    /// transaction) and records it on the timeline.
    async fn act(&self, case_id: i64, actor: &str, action: &Action) -> Result<Case>;

    /// Case counts per state.
    async fn state_counts(&self) -> Result<StateCounts>;

    /// Claims up to `limit` cases whose attribution is due (never attributed, or asked for
    /// again), for `lease`: another replica skips them until then.
    async fn claim_attribution(&self, limit: usize, lease: Duration) -> Result<Vec<Pending>>;

    /// Asks for a case's attribution to run again.
    async fn request_attribution(&self, case_id: i64, actor: &str) -> Result<()>;

    /// Stores an attribution on its case (replacing the previous one) with a timeline event;
    /// names the party to notify unless an analyst has named one by hand.
    async fn save_attribution(&self, case_id: i64, attribution: &Attribution) -> Result<()>;

    /// A case's latest attribution.
    async fn attribution(&self, case_id: i64) -> Result<Option<Attribution>>;

    /// The hosters register.
    async fn hosters(&self) -> Result<Vec<Hoster>>;

    /// One register entry.
    async fn hoster(&self, id: i64) -> Result<Option<Hoster>>;

    /// Adds a register entry (fields already checked).
    async fn create_hoster(&self, fields: &HosterFields, actor: &str) -> Result<Hoster>;

    /// Replaces a register entry's fields.
    async fn update_hoster(&self, id: i64, fields: &HosterFields, actor: &str) -> Result<Hoster>;

    /// Replaces the ip2asn data in one transaction.
    async fn replace_asn_ranges(&self, rows: &[AsnRange], source: &DataSource) -> Result<()>;

    /// Replaces the RIR data in one transaction.
    async fn replace_rpsl(&self, data: &RpslData, source: &DataSource) -> Result<()>;

    /// All attribution data, to build an [`crate::attribution::Attributor`].
    async fn attribution_data(&self) -> Result<StoredData>;

    /// What was loaded when.
    async fn attribution_sources(&self) -> Result<Vec<DataSource>>;

    /// A number that changes whenever the attribution data or the register changes.
    async fn attribution_version(&self) -> Result<i64>;
}
