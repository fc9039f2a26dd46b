//! SSRF-safe re-checks of reported URLs (being written).
