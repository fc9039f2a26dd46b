#!/usr/bin/env bash
# PDQ radius search: Schoon's index against faiss and numpy, in one command.
#
#   bench/search_run.sh [--with-10m] [--quick] [--queries N] [--passes N]
#
# Sets up bench/.venv (pinned numpy and faiss-cpu), installs libjemalloc2 with apt when it is
# missing and we may (faiss's IndexBinaryMultiHash is measured with it preloaded), builds the
# `search_bench` example in release, then runs bench/search_peers.py pinned to one core, which
# generates the data sets (uniform 1 M, clustered 1 M, and uniform 10 M with --with-10m),
# computes the expected answers by brute force, measures each tool in its own process, and
# writes bench/out/search/{results.json,report.md}; the report is printed at the end.
#
#   --with-10m   add the 10 M set (~15 min more: numpy brute force for the expected answers,
#                faiss's slow build)
#   --quick      100 k sets, 200 queries, 2 passes: a smoke test (~1 min after the build)
#
# Environment: BENCH_CPU (core to pin to, default 1); CARGO_TARGET_DIR is respected.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

NUMPY_VERSION=2.4.6
FAISS_VERSION=1.15.1

SETS=uniform-1m,clustered-1m
QUERIES=1000
PASSES=3
OUT=bench/out/search
while [[ $# -gt 0 ]]; do
    case "$1" in
        --with-10m) SETS=$SETS,uniform-10m ;;
        --quick) SETS=uniform-100k,clustered-100k QUERIES=200 PASSES=2 OUT=bench/out/search-quick ;;
        --queries) QUERIES=$2; shift ;;
        --passes) PASSES=$2; shift ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "search_run.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
CPU=${BENCH_CPU:-1}

log() { echo "== $*" >&2; }

VENV=bench/.venv
PY=$VENV/bin/python
if [[ ! -x $PY ]]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
fi
"$PY" -m pip install --quiet --disable-pip-version-check \
    "numpy==$NUMPY_VERSION" "faiss-cpu==$FAISS_VERSION"

if [[ ! -e /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 ]]; then
    SUDO=""
    [[ $(id -u) == 0 ]] || SUDO=sudo
    log "installing libjemalloc2 (faiss is measured with it preloaded)"
    $SUDO apt-get install -y libjemalloc2 >/dev/null 2>&1 ||
        { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y libjemalloc2 >/dev/null; } ||
        log "could not install libjemalloc2: faiss runs with glibc malloc"
fi

log "cargo build --release -p schoon-index --example search_bench"
cargo build --release -p schoon-index --example search_bench
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
    "$PY" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
BIN=$TARGET_DIR/release/examples/search_bench

taskset -c "$CPU" "$PY" bench/search_peers.py --sets "$SETS" --queries "$QUERIES" \
    --passes "$PASSES" --out "$OUT" --schoon "$BIN"
log "wrote $OUT/report.md"
