#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, then every test of every crate
# (unit, property, end-to-end against the real binary, doc tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
export SCHOON_MOTO_SERVER="${SCHOON_TEST_VENV:-$HOME/.cache/schoon/test-venv}/bin/moto_server"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
