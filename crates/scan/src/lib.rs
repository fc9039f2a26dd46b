//! The hosters' scanner: hash files where they are, send only hashes, remember what was done.
//!
//! A hosting provider runs `schoon scan` on its own machines over its customers' storage (a
//! directory tree or an S3-compatible bucket). Files never leave: each is read once, its MD5,
//! SHA-1 and SHA-256 computed and, for images, its PDQ hash ([`filehash`]), and only those
//! hashes go to the check service ([`client`]) in batches. What matched is reported, and can be
//! moved to a quarantine folder ([`quarantine`]).
//!
//! Hosters hold millions of files, so a scan must be cheap to repeat. The [`state`] database
//! remembers every file's size and version (mtime or ETag), its hashes, and the index sequence
//! of the service's answer. The next run hashes only what is new or changed; for the rest it
//! asks the service whether any list changed since (`GET /v1/check` gives the current
//! sequence) and sends the stored hashes again only if so. A run stopped half-way loses at
//! most the batch in flight.
//!
//! The pieces, in the order a scan uses them: [`source`] lists files, [`scanner`] decides and
//! drives the work, [`filehash`] hashes, [`client`] asks, [`state`] remembers, [`report`]
//! writes the results.

pub mod client;
pub mod filehash;
pub mod quarantine;
pub mod report;
pub mod scanner;
pub mod source;
pub mod state;

pub use object_store;
pub use scanner::{NoProgress, Options, Progress, Scanner, Summary};
pub use source::{S3Options, Source};
