//! Attribution: which hosting provider serves a URL, and how we know.

pub mod ip2asn;
pub mod rpsl;
pub mod table;
