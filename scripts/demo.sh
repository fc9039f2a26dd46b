#!/usr/bin/env bash
# The main job on the embedded default: build `schoon` and hash the demo images in the
# repository (benign reference images from Meta's ThreatExchange, plus synthetic edge cases).
# Extra arguments go to `schoon hash`, e.g. `scripts/demo.sh --format jsonl`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --locked -p schoon-cli
bin="${CARGO_TARGET_DIR:-target}/release/schoon"
"$bin" hash "$@" testdata/pdq-conformance/images
