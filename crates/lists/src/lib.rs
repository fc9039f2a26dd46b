//! The hash-check domain of Schoon.
//!
//! Police and hotlines keep **lists** of hashes of known illegal images; hosting providers
//! **check** hashes of their uploads against them and get a verdict without ever seeing a list.
//! This crate holds the rules of that exchange, free of any database or web framework:
//!
//! * [`model`]: organisations, roles, API keys, lists and list versions;
//! * [`auth`]: the role matrix (who may check, read, import, export, administer);
//! * [`keys`]: making and verifying API keys (shown once, stored hashed);
//! * [`import`]: reading hash-list files line by line, with line-numbered errors;
//! * [`store`]: the [`Store`] trait the `store` crate implements for SQLite and PostgreSQL;
//! * [`check`]: answering a batch of hashes from an in-memory [`index::Index`] snapshot;
//! * [`live`]: keeping that snapshot in step with the store (other replicas' changes included);
//! * [`trust`] and [`curate`]: provenance and status of entries, allowlists, the flood rule,
//!   disputes and retractions.
//!
//! The flow: a list manager imports a file → the store writes a new list version and bumps the
//! change sequence → every replica's [`live::LiveIndex`] reads the changes, applies them to a new
//! snapshot and swaps it in → checks read whichever snapshot is current, without locks.

pub mod auth;
pub mod check;
pub mod curate;
pub mod import;
pub mod keys;
pub mod live;
pub mod model;
pub mod store;
pub mod trust;

pub use auth::{Action, Principal};
pub use model::*;
pub use store::Store;

use import::LineError;

/// Everything that can go wrong in the domain, sorted by who has to act.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing asked for does not exist (or the caller may not know it exists).
    #[error("not found: {0}")]
    NotFound(String),
    /// It exists already (a list or organisation name), or a concurrent change won.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request is malformed or breaks a rule.
    #[error("invalid: {0}")]
    Invalid(String),
    /// An import file had lines that could not be read; nothing was changed.
    #[error("{} line(s) could not be read; the list was not changed (first: {})", .total, .errors.first().map(|e| e.to_string()).unwrap_or_default())]
    InvalidFile {
        /// The first errors (at most [`store::MAX_REPORTED_ERRORS`]).
        errors: Vec<LineError>,
        /// How many lines were wrong in all.
        total: u64,
    },
    /// No key, an unknown key or a revoked key.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// The key is known but its role does not allow this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Reading the import's input failed (a file or a request body).
    #[error("reading the input failed: {0}")]
    Input(String),
    /// A bug or an unexpected state.
    #[error("internal error: {0}")]
    Internal(String),
    /// The database failed.
    #[error("database: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The domain's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
