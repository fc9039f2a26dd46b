#!/usr/bin/env bash
# The check API under load: `schoon serve` on SQLite with N PDQ + N MD5 hashes (default
# 10 M + 10 M), driven by wrk on loopback, one POST /v1/check per request (one hash each).
#
#   bench/api_run.sh [--n N] [--duration SECONDS] [--connections C] [--rounds R] [--prepare-only]
#
# Steps: apt-installs wrk when missing; builds the release binary; writes the data and the
# query bodies (bench/api_data.py, seeded); imports them with `schoon lists import` (timed);
# starts `schoon serve` with a hoster key of a very high rate (this measures capacity); runs wrk for the
# exact and the PDQ bodies, alternating, `--rounds` times; prints a markdown table of the
# median requests/s and latency percentiles over the rounds. Everything stays on 127.0.0.1 and
# every wrk run is bounded in time. Output: bench/out/api/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

N=10000000
DURATION=20
CONNECTIONS=32
ROUNDS=3
PREPARE_ONLY=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --n) N="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --connections) CONNECTIONS="$2"; shift 2 ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        --prepare-only) PREPARE_ONLY=1; shift ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done

if ! command -v wrk >/dev/null; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >/dev/null
fi
bash scripts/setup.sh
[ -x bench/.venv/bin/python ] || python3 -m venv bench/.venv
bench/.venv/bin/python -c 'import numpy' 2>/dev/null || bench/.venv/bin/pip install -q numpy==2.4.6

cargo build --release --locked -p schoon-cli
BIN="$(cargo metadata --format-version 1 --no-deps | bench/.venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/schoon"

OUT=bench/out/api
mkdir -p "$OUT"
if [ ! -f "$OUT/pdq.tsv" ] || [ "$(cat "$OUT/n" 2>/dev/null)" != "$N" ]; then
    echo "api: writing $N + $N hashes and the query bodies" >&2
    bench/.venv/bin/python bench/api_data.py --n "$N" --out "$OUT"
    echo "$N" > "$OUT/n"
    rm -f "$OUT/schoon.db" "$OUT/schoon.db-wal" "$OUT/schoon.db-shm"
fi
DB="sqlite://$OUT/schoon.db"
if [ ! -f "$OUT/imported" ]; then
    rm -f "$OUT/schoon.db" "$OUT/schoon.db-wal" "$OUT/schoon.db-shm"
    "$BIN" orgs create "Bench Police" --kind police --db "$DB" >/dev/null
    for t in pdq md5; do
        "$BIN" lists create "bench-$t" --owner "Bench Police" --category other --db "$DB" >/dev/null
        start=$(date +%s.%N)
        "$BIN" lists import "bench-$t" "$OUT/$t.tsv" --db "$DB" >&2
        end=$(date +%s.%N)
        echo "$t $(echo "$end - $start" | bc)" >> "$OUT/import-seconds"
    done
    touch "$OUT/imported"
fi
[ "$PREPARE_ONLY" = 1 ] && { echo "api: data imported into $DB" >&2; exit 0; }
# A hoster key whose own rate is far above what one machine can send: the rate limiter runs on
# every request, as in production, without throttling the measurement.
KEY=$("$BIN" keys create --org "Bench Hoster" --create-org hoster --role hoster --rate 1000000000 --db "$DB" 2>/dev/null)
export SCHOON_KEY="$KEY"

PORT=$(bench/.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RUST_LOG=warn "$BIN" serve --db "$DB" --listen "127.0.0.1:$PORT" > "$OUT/serve.out" 2> "$OUT/serve.err" &
SERVE=$!
trap 'kill $SERVE 2>/dev/null || true' EXIT
load_start=$(date +%s.%N)
for _ in $(seq 1 600); do
    grep -q "listening on" "$OUT/serve.out" 2>/dev/null && break
    kill -0 $SERVE 2>/dev/null || { cat "$OUT/serve.err" >&2; exit 1; }
    sleep 0.5
done
load_end=$(date +%s.%N)
echo "api: server up (index load $(echo "$load_end - $load_start" | bc) s; RSS $(ps -o rss= -p $SERVE) KiB)" >&2

: > "$OUT/wrk.txt"
for round in $(seq 1 "$ROUNDS"); do
    for kind in exact pdq; do
        echo "== round $round $kind" >> "$OUT/wrk.txt"
        wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s bench/wrk_check.lua \
            "http://127.0.0.1:$PORT" -- "$OUT/q-$kind.txt" >> "$OUT/wrk.txt" 2>&1
    done
done
RSS=$(ps -o rss= -p $SERVE)
kill -TERM $SERVE; wait $SERVE || true
trap - EXIT

bench/.venv/bin/python - "$OUT" "$N" "$RSS" <<'PY'
import re, statistics, sys
out, n, rss = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
text = open(f"{out}/wrk.txt").read()
runs = {"exact": [], "pdq": []}
for block in text.split("== round ")[1:]:
    kind = block.split()[1]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", block).group(1))
    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", block)
        v, u = float(m.group(1)), m.group(2)
        return v / 1000 if u == "us" else v * 1000 if u == "s" else v
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", block)
    runs[kind].append((rps, pct(50), pct(99), int(errors.group(1)) if errors else 0))
imports = dict(l.split() for l in open(f"{out}/import-seconds"))
print(f"| check (1 hash per request) | requests/s (median of {len(runs['exact'])}) | p50 ms | p99 ms | non-2xx |")
print("|---|---:|---:|---:|---:|")
for kind, label in [("exact", "MD5, exact"), ("pdq", "PDQ, radius 31")]:
    r = runs[kind]
    print(f"| {label} | {statistics.median(x[0] for x in r):,.0f} | {statistics.median(x[1] for x in r):.2f} | {statistics.median(x[2] for x in r):.2f} | {sum(x[3] for x in r)} |")
print()
print(f"Index: {n:,} PDQ + {n:,} MD5; server RSS after the runs {rss/1024/1024:.2f} GiB; "
      f"import {n/float(imports['pdq']):,.0f} PDQ lines/s, {n/float(imports['md5']):,.0f} MD5 lines/s.")
PY
