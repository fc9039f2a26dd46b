#!/usr/bin/env bash
# The main job on the embedded default: build `schoon` and start the hash-check service on
# SQLite (target/demo/schoon.db) at http://127.0.0.1:8080, with a demo list made from the
# repository's benign test images and a fresh hoster key. It prints a ready-to-paste `curl`
# check; stop it with Ctrl-C. Extra arguments go to `schoon serve`, e.g. `--listen 127.0.0.1:9000`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --locked -p schoon-cli
bin="${CARGO_TARGET_DIR:-target}/release/schoon"
mkdir -p target/demo
exec "$bin" serve --demo --db "sqlite://target/demo/schoon.db" "$@"
