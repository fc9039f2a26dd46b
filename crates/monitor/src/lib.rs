//! The monitor (being written).
