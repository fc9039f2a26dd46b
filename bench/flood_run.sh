#!/usr/bin/env bash
# The check API with the flood rule on and off, side by side in one run: two `schoon serve`
# processes on the same data (bench/api_run.sh's 10 M PDQ + 10 M MD5 index), one with the flood
# rule at its defaults, one with --no-flood-rule, driven in turn by wrk on loopback.
#
#   bench/flood_run.sh [--duration SECONDS] [--connections C] [--rounds R]
#
# Half of the queries are listed, so half the requests record a match (what the flood rule
# counts, in both servers). Per round the order alternates (on, off / off, on), so drift on the
# machine falls on both. Prints a markdown table of medians over the rounds and the on/off ratio.
# Everything stays on 127.0.0.1 and every wrk run is bounded in time. Output: bench/out/flood/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION=20
CONNECTIONS=32
ROUNDS=3
while [[ $# -gt 0 ]]; do
    case "$1" in
        --duration) DURATION="$2"; shift 2 ;;
        --connections) CONNECTIONS="$2"; shift 2 ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done

bash bench/api_run.sh --prepare-only
BIN="$(cargo metadata --format-version 1 --no-deps | bench/.venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/schoon"
API=bench/out/api
OUT=bench/out/flood
mkdir -p "$OUT"
DB="sqlite://$API/schoon.db"
# Each run starts with no match records, so both servers write into tables of the same size.
bench/.venv/bin/python -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("DELETE FROM entry_hits"); c.execute("DELETE FROM audit_log"); c.commit()' "$API/schoon.db"
KEY=$("$BIN" keys create --org "Bench Hoster" --create-org hoster --role hoster --rate 1000000000 --db "$DB" 2>/dev/null)
export SCHOON_KEY="$KEY"

free_port() { bench/.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
declare -A PORT PID
for mode in on off; do
    PORT[$mode]=$(free_port)
    extra=()
    [ "$mode" = off ] && extra=(--no-flood-rule)
    RUST_LOG=warn "$BIN" serve --db "$DB" --listen "127.0.0.1:${PORT[$mode]}" "${extra[@]}" \
        > "$OUT/serve-$mode.out" 2> "$OUT/serve-$mode.err" &
    PID[$mode]=$!
done
trap 'kill ${PID[on]} ${PID[off]} 2>/dev/null || true' EXIT
for mode in on off; do
    for _ in $(seq 1 600); do
        grep -q "listening on" "$OUT/serve-$mode.out" 2>/dev/null && break
        kill -0 "${PID[$mode]}" 2>/dev/null || { cat "$OUT/serve-$mode.err" >&2; exit 1; }
        sleep 0.5
    done
done
echo "flood: both servers up" >&2

: > "$OUT/wrk.txt"
for round in $(seq 1 "$ROUNDS"); do
    order="on off"
    [ $((round % 2)) = 0 ] && order="off on"
    for kind in exact pdq; do
        for mode in $order; do
            echo "== round $round $kind $mode" >> "$OUT/wrk.txt"
            wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s bench/wrk_check.lua \
                "http://127.0.0.1:${PORT[$mode]}" -- "$API/q-$kind.txt" >> "$OUT/wrk.txt" 2>&1
        done
    done
done
kill -TERM "${PID[on]}" "${PID[off]}"; wait "${PID[on]}" "${PID[off]}" || true
trap - EXIT
SUSPENDED=$(grep -c "flood rule: entry suspended" "$OUT/serve-on.err" || true)

bench/.venv/bin/python - "$OUT" "$SUSPENDED" <<'PY'
import re, statistics, sys
out, suspended = sys.argv[1], sys.argv[2]
text = open(f"{out}/wrk.txt").read()
runs = {}
for block in text.split("== round ")[1:]:
    _, kind, mode = block.split()[:3]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", block).group(1))
    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", block)
        v, u = float(m.group(1)), m.group(2)
        return v / 1000 if u == "us" else v * 1000 if u == "s" else v
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", block)
    runs.setdefault((kind, mode), []).append((rps, pct(50), pct(99), int(errors.group(1)) if errors else 0))
n = len(runs[("exact", "on")])
print(f"| check, 1 hash per request | flood rule | requests/s (median of {n}) | p50 ms | p99 ms | non-2xx | on/off |")
print("|---|---|---:|---:|---:|---:|---:|")
for kind, label in [("exact", "MD5, exact"), ("pdq", "PDQ, radius 31")]:
    med = {m: statistics.median(x[0] for x in runs[(kind, m)]) for m in ("on", "off")}
    for mode in ("on", "off"):
        r = runs[(kind, mode)]
        ratio = f"{med['on'] / med['off']:.2f}" if mode == "on" else ""
        print(f"| {label} | {mode} | {med[mode]:,.0f} | {statistics.median(x[1] for x in r):.2f} | "
              f"{statistics.median(x[2] for x in r):.2f} | {sum(x[3] for x in r)} | {ratio} |")
print()
print(f"Entries the flood rule suspended during the runs: {suspended} (one hoster key; no entry reaches the thresholds).")
PY
