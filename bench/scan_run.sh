#!/usr/bin/env bash
# The scanner against plain hashing, and a re-scan against a first scan, in one run.
#
#   bench/scan_run.sh [--n N] [--rounds R] [--matches M] [--random K] [--threads T] [--out DIR]
#                     [--prepare-only]
#
# 1. scan ratio:    files/s of `schoon scan DIR` (fresh state database, against a `schoon serve`
#                   on this machine, SQLite) / files/s of `schoon hash DIR -o /dev/null`
#                   (target >= 0.90);
# 2. re-scan ratio: wall time of that first scan / wall time of a re-scan of the unchanged tree
#                   with the same state database (target >= 50x);
# plus the peak RSS (`/usr/bin/time -f %M`) of hash, scan and re-scan.
#
# Steps: sets up bench/.venv (pinned Pillow, numpy); builds the release binary (SCHOON_BIN=path
# uses that binary instead); makes N (default 10,000) benign 640x480 JPEGs with
# `make_corpus.py --n-scan N` (bench/out/scan/corpus/photo-0.3mp/, sub-folders of 1,000);
# makes a SQLite database with one list holding the PDQ/MD5 of M (default 50) corpus images
# (half exact MD5+PDQ, half PDQ 8 bits away) and K (default 100,000) random PDQ + K random MD5
# (bench/scan_data.py, seeded); starts `schoon serve` on 127.0.0.1 (a free port) with a hoster
# key of a very high rate, written to a key file (the rate limiter runs, but does not throttle);
# warms the page cache (cat) and both commands (one untimed hash and one untimed scan, which
# must find exactly the M files); then runs R (default 5) rounds, alternating the order:
#   odd rounds:  hash, scan, re-scan        even rounds: scan, re-scan, hash
# Each scan uses a new state database; its re-scan reuses it. Wall time is taken around the
# command (nanoseconds), peak RSS and CPU time from /usr/bin/time, the server's CPU time from
# /proc, and its request/hash counters from /metrics. The report (medians, ratios of medians,
# per-round ratios) goes to bench/out/scan/scan.md and is printed.
#
# Traffic goes only to 127.0.0.1; every wait is bounded. Exit 1 from scan means "matches" and is
# expected; 2 or anything else stops the run. Output: bench/out/scan/ (or --out DIR); the corpus
# and the imported list are kept there and reused while N, M and K stay the same.
# --prepare-only stops after the warm-up scan (or, without a scan subcommand, after the import).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

N=10000
ROUNDS=5
MATCHES=50
RANDOM_HASHES=100000
THREADS=""
PREPARE_ONLY=0
OUT=bench/out/scan
while [[ $# -gt 0 ]]; do
    case "$1" in
        --n) N="$2"; shift 2 ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        --matches) MATCHES="$2"; shift 2 ;;
        --random) RANDOM_HASHES="$2"; shift 2 ;;
        --threads) THREADS="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --prepare-only) PREPARE_ONLY=1; shift ;;
        -h|--help) sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "scan_run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
((N >= 1 && ROUNDS >= 1 && MATCHES >= 1 && MATCHES <= N)) || { echo "scan_run.sh: need 1 <= --matches <= --n, --rounds >= 1" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "scan_run.sh: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }

log() { echo "== scan: $*" >&2; }
now_ns() { date +%s%N; }

# ---- setup ---------------------------------------------------------------------------------------
VENV=bench/.venv
PY=$VENV/bin/python
[ -x "$PY" ] || python3 -m venv "$VENV"
"$PY" -m pip install --quiet --disable-pip-version-check "pillow==13.0.0" "numpy==2.4.6"

if [[ -n ${SCHOON_BIN:-} ]]; then
    BIN=$SCHOON_BIN
    log "using SCHOON_BIN=$BIN (not building)"
else
    bash scripts/setup.sh
    cargo build --release --locked -p schoon-cli
    BIN="$(cargo metadata --format-version 1 --no-deps | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/schoon"
fi
HAVE_SCAN=1
"$BIN" scan --help >/dev/null 2>&1 || HAVE_SCAN=0
if [[ $HAVE_SCAN == 0 && $PREPARE_ONLY == 0 ]]; then
    echo "scan_run.sh: '$BIN scan --help' failed: this schoon has no scan subcommand (--prepare-only still works)" >&2
    exit 1
fi

CORPUS_ROOT=$OUT/corpus
CORPUS=$CORPUS_ROOT/photo-0.3mp
mkdir -p "$OUT"

# ---- corpus --------------------------------------------------------------------------------------
log "corpus: $N images of 640x480"
start=$(now_ns)
"$PY" bench/make_corpus.py --out "$CORPUS_ROOT" --n-small 0 --n-large 0 --n-scan "$N"
log "corpus ready in $(( ($(now_ns) - start) / 1000000 )) ms"
CORPUS_FILES=$(find "$CORPUS" -type f | wc -l)
CORPUS_BYTES=$(find "$CORPUS" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
[[ $CORPUS_FILES == "$N" ]] || { echo "scan_run.sh: $CORPUS holds $CORPUS_FILES files, expected $N" >&2; exit 1; }

# ---- the list ------------------------------------------------------------------------------------
DBFILE=$OUT/schoon.db
DB="sqlite://$DBFILE"
PARAMS="n=$N matches=$MATCHES random=$RANDOM_HASHES corpus=$(sha256sum "$CORPUS_ROOT/photo-0.3mp.manifest.json" | cut -c1-16)"
if [[ ! -f $OUT/imported || $(cat "$OUT/imported") != "$PARAMS" ]]; then
    log "list: $MATCHES matching corpus files + $RANDOM_HASHES random PDQ + $RANDOM_HASHES random MD5"
    rm -f "$OUT/imported" "$DBFILE" "$DBFILE-wal" "$DBFILE-shm"
    # MATCHES files spread evenly over the corpus (sorted paths, every N/MATCHES-th).
    find "$CORPUS" -type f -name '*.jpg' | LC_ALL=C sort |
        awk -v n="$N" -v m="$MATCHES" 'BEGIN {step = n / m} (NR - 1) == int(k * step) {print; k++}' > "$OUT/match-paths.txt"
    "$BIN" hash -f jsonl --no-progress -q - < "$OUT/match-paths.txt" > "$OUT/match-hashes.jsonl"
    "$PY" bench/scan_data.py --hashes "$OUT/match-hashes.jsonl" --random "$RANDOM_HASHES" -o "$OUT/list.csv"
    "$BIN" orgs create "Bench Police" --kind police --db "$DB" >/dev/null
    "$BIN" lists create bench-scan --owner "Bench Police" --category other --source "bench/scan_data.py" --db "$DB" >/dev/null
    "$BIN" lists import bench-scan "$OUT/list.csv" --no-progress --db "$DB" >&2
    echo "$PARAMS" > "$OUT/imported"
fi
[[ $PREPARE_ONLY == 1 && $HAVE_SCAN == 0 ]] && log "prepared (no scan subcommand yet): $DB" && exit 0

# A fresh hoster key per run, with a rate far above what the scanner can send: the limiter runs
# on every request, as in production, without throttling the measurement.
KEYFILE=$OUT/hoster.key
(umask 077; "$BIN" keys create --org "Bench Hoster" --create-org hoster --role hoster \
    --name "bench/scan_run.sh" --rate 1000000000 --db "$DB" 2>/dev/null > "$KEYFILE")
[ -s "$KEYFILE" ] || { echo "scan_run.sh: could not create the hoster key" >&2; exit 1; }

PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SERVER=http://127.0.0.1:$PORT
RUST_LOG=warn "$BIN" serve --db "$DB" --listen "127.0.0.1:$PORT" --metrics-public \
    > "$OUT/serve.out" 2> "$OUT/serve.err" &
SERVE=$!
trap 'kill $SERVE 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do
    grep -q "listening on" "$OUT/serve.out" 2>/dev/null && break
    kill -0 $SERVE 2>/dev/null || { cat "$OUT/serve.err" >&2; exit 1; }
    sleep 0.25
done
grep -q "listening on" "$OUT/serve.out" || { echo "scan_run.sh: the server did not start in 60 s" >&2; exit 1; }
log "server $SERVER (pid $SERVE, RSS $(ps -o rss= -p $SERVE) KiB)"

CLK_TCK=$(getconf CLK_TCK)
server_cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVE/stat"; }
# "requests hashes": /v1/check requests and checked hashes so far (all statuses, all types).
server_counters() {
    curl -s --max-time 10 "$SERVER/metrics" | awk '
        /^schoon_http_requests_total\{/ && /route="\/v1\/check"/ && /method="POST"/ {r += $NF}
        /^schoon_checked_hashes_total/ {h += $NF}
        END {printf "%d %d\n", r, h}'
}

THREAD_ARGS=()
[[ -n $THREADS ]] && THREAD_ARGS=(--threads "$THREADS")
HASH_CMD=("$BIN" hash --no-progress -o /dev/null "${THREAD_ARGS[@]}" "$CORPUS")
scan_cmd() { # state report-stem: sets SCAN_CMD
    SCAN_CMD=("$BIN" scan --server "$SERVER" --key-file "$KEYFILE" --state "$1"
        --report "$2.jsonl" --rejected "$2.rejected" --no-progress "${THREAD_ARGS[@]}" "$CORPUS")
}

# ---- one timed run -------------------------------------------------------------------------------
RESULTS=$OUT/results.tsv
printf 'round\tkind\tposition\twall_s\trss_kib\tuser_s\tsys_s\tserver_cpu_s\texit\trequests\thashes\tsummary\n' > "$RESULTS"

run() { # round kind position command...
    local round=$1 kind=$2 pos=$3; shift 3
    local tf=$OUT/time.txt err=$OUT/$kind-$round.err
    local c0 c1 t0 t1 rc m0 m1
    read -r m0 <<<"$(server_counters)"
    c0=$(server_cpu_ticks)
    t0=$(now_ns)
    set +e
    /usr/bin/time -f '%M %U %S' -o "$tf" "$@" > "$OUT/$kind-$round.out" 2> "$err"
    rc=$?
    set -e
    t1=$(now_ns)
    c1=$(server_cpu_ticks)
    read -r m1 <<<"$(server_counters)"
    local ok=0
    case "$kind" in
        hash) [[ $rc == 0 ]] && ok=1 ;;
        scan|rescan|warmup-scan) [[ $rc == 0 || $rc == 1 ]] && ok=1 ;;
    esac
    if [[ $ok == 0 ]]; then
        echo "scan_run.sh: round $round $kind exited $rc:" >&2
        tail -20 "$err" >&2
        exit 1
    fi
    local rss user sys
    read -r rss user sys < <(tail -1 "$tf")
    local summary
    summary=$(grep -m1 '^schoon: ' "$err" | tr '\t' ' ' || true)
    local req hashes
    req=$(( ${m1% *} - ${m0% *} )); hashes=$(( ${m1#* } - ${m0#* } ))
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$kind" "$pos" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", (b - a) / 1e9}')" "$rss" "$user" "$sys" \
        "$(awk -v a="$c0" -v b="$c1" -v t="$CLK_TCK" 'BEGIN {printf "%.2f", (b - a) / t}')" \
        "$rc" "$req" "$hashes" "$summary" >> "$RESULTS"
    log "round $round $kind: $(tail -1 "$RESULTS" | cut -f4) s, exit $rc, $summary"
}

# ---- warm-up (untimed, but checked) -------------------------------------------------------------
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "warm-up: cat, hash, scan"
find "$CORPUS" -type f -exec cat {} + > /dev/null
"${HASH_CMD[@]}" 2> "$OUT/warmup-hash.err" || { cat "$OUT/warmup-hash.err" >&2; exit 1; }
rm -f "$OUT/state-warmup.db"*
scan_cmd "$OUT/state-warmup.db" "$OUT/matches-warmup"
run 0 warmup-scan 0 "${SCAN_CMD[@]}"
WARM_RC=$(tail -1 "$RESULTS" | cut -f9)
[[ $WARM_RC == 1 ]] || { echo "scan_run.sh: the warm-up scan exited $WARM_RC, expected 1 (matches)" >&2; exit 1; }
MATCHED=$("$PY" - "$OUT/matches-warmup.jsonl" "$OUT/match-paths.txt" <<'PY'
import json, os, sys
# Distinct matched files in the JSON Lines report, whatever the row shape: a "path" (or "file")
# field, compared with the chosen paths by their real path.
want = {os.path.realpath(p.strip()) for p in open(sys.argv[2]) if p.strip()}
got = set()
for line in open(sys.argv[1]):
    if line.strip():
        row = json.loads(line)
        p = row.get("path") or row.get("file") or ""
        got.add(os.path.realpath(p))
print(len(got & want), len(got - want), len(want - got))
PY
)
read -r M_OK M_EXTRA M_MISSED <<<"$MATCHED"
log "warm-up scan found $M_OK of the $MATCHES listed files ($M_EXTRA others, $M_MISSED missed)"
if [[ $M_OK != "$MATCHES" || $M_EXTRA != 0 ]]; then
    echo "scan_run.sh: warning: the scan should match exactly the $MATCHES listed files" >&2
fi
[[ $PREPARE_ONLY == 1 ]] && log "prepared: $DB, server checked" && exit 0

# ---- rounds --------------------------------------------------------------------------------------
for round in $(seq 1 "$ROUNDS"); do
    state=$OUT/state-$round.db
    rm -f "$state" "$state"-wal "$state"-shm "$state"-journal
    if ((round % 2 == 1)); then order=(hash scan rescan); else order=(scan rescan hash); fi
    pos=0
    for kind in "${order[@]}"; do
        pos=$((pos + 1))
        case "$kind" in
            hash) run "$round" hash "$pos" "${HASH_CMD[@]}" ;;
            scan) scan_cmd "$state" "$OUT/matches-$round"; run "$round" scan "$pos" "${SCAN_CMD[@]}" ;;
            rescan) scan_cmd "$state" "$OUT/matches-$round-rescan"; run "$round" rescan "$pos" "${SCAN_CMD[@]}" ;;
        esac
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
SERVER_RSS=$(ps -o rss= -p $SERVE | tr -d ' ')
kill -TERM $SERVE; wait $SERVE 2>/dev/null || true
trap - EXIT

# ---- report --------------------------------------------------------------------------------------
CPU_MODEL=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
"$PY" bench/scan_report.py "$RESULTS" -o "$OUT/scan.md" \
    --files "$N" --bytes "$CORPUS_BYTES" --matches "$MATCHES" --random "$RANDOM_HASHES" \
    --matched "$M_OK/$MATCHES (+$M_EXTRA others)" \
    --cpu "$CPU_MODEL" --cores "$(nproc)" --load "$LOAD_BEFORE -> $LOAD_AFTER" \
    --server-rss "$SERVER_RSS" \
    --version "$("$BIN" --version) ($(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo '+dirty'))" \
    --hash-command "${HASH_CMD[*]#"$ROOT"/}" \
    --scan-command "$(scan_cmd "$OUT/state-R.db" "$OUT/matches-R"; echo "${SCAN_CMD[*]#"$ROOT"/}")"
log "wrote $OUT/scan.md"
cat "$OUT/scan.md"
