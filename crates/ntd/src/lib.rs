//! Notice and takedown: from a reported URL to the hosting provider who can remove it, and on
//! to its verified removal.
//!
//! The flow, and the module for each step:
//!
//! 1. **Intake** ([`case`]): a [`case::NewReport`] is a URL with a category, a
//!    [`case::Source`] and optional reporter details. Its URL is normalised ([`urls`]) and the
//!    report joins the open case of the same URL, or opens one: the hotline assesses a URL
//!    once, however often it is reported.
//! 2. **Assessment** ([`case::CaseState`]): an analyst records a verdict (actionable, not
//!    actionable, forwarded to a partner hotline abroad). Every change is an event on the
//!    case's timeline with its actor and time; the state machine refuses moves that make no
//!    sense, so the timeline always explains the state.
//! 3. **Attribution** ([`attribution`]): URL → DNS (CNAME chain, A/AAAA; [`dns`]) → IP →
//!    network (most specific RIR range) → AS and organisation → abuse contact, with every step
//!    and its source kept as evidence. The operator's hosters register ([`register`]) wins over
//!    the data; CDN ranges name the CDN as the party to notify.
//! 4. **Notices** ([`notice`], [`notifier`], [`takedown`]): one message per hoster per round
//!    listing all its URLs, from operator-edited templates, with a JSON part and a signed link
//!    into the hoster portal; queued in the database before sending, never sent twice.
//! 5. **Re-checks** ([`fetch`]): SSRF-safe HTTP checks on a schedule that verify removal; the
//!    first offline check after the notice is the case's removal time. Reminders after the
//!    24-hour norm, escalation after 72 hours.
//!
//! Schoon never shows the reported material and never stores it: analysts assess it in their
//! own secured environment and record the verdict here. Re-checks read at most a capped
//! prefix of the answer, keep only a verdict and hashes, and discard the bytes.
//!
//! The domain names no database and no web framework: storage is the [`store::CaseStore`]
//! trait, which the `store` crate implements for SQLite and PostgreSQL.

pub mod attribution;
pub mod case;
pub mod dns;
pub mod engine;
pub mod fetch;
pub mod notice;
pub mod notifier;
pub mod register;
pub mod store;
pub mod takedown;
#[cfg(feature = "testing")]
pub mod testing;
pub mod urls;

pub use case::{CaseState, Source};
pub use store::CaseStore;

/// What can go wrong in this crate's domain operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is not acceptable; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// No such case, report or hoster.
    #[error("{0} not found")]
    NotFound(String),
    /// The change conflicts with the current state (a refused transition, a duplicate).
    #[error("{0}")]
    Conflict(String),
    /// The database failed.
    #[error("storage: {0}")]
    Storage(String),
}

/// This crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
