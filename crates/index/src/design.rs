//! How the index works, and why (a chapter; this module has no code).
#![doc = include_str!("../docs/design.md")]
