//! Notice texts and their machine-readable part (being written).
