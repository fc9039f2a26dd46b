#!/usr/bin/env bash
# Reproduce the Schoon vs Python-peers benchmark in one command.
#
#   bench/run.sh [--quick] [--repeat N] [--rounds N]
#
# Sets up bench/.venv (pinned Pillow, numpy, pdqhash), builds the release
# binary, makes the synthetic corpus, then for each set runs `schoon bench`
# and bench/peers.py pinned to one core, alternating between the two tools
# for several rounds, pools each tool's samples and writes a Markdown report.
#
#   full run:  bench/out/report.md        (results in bench/out/results/)
#   --quick:   bench/out/quick/report.md  (a smoke test: few images, few passes)
#
# Environment: BENCH_CPU (core to pin to, default 0); SCHOON_BIN (use this
# binary instead of building one); CARGO_TARGET_DIR is respected.
# Network is used only by pip and cargo during setup, and only when something
# is missing.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

PILLOW_VERSION=13.0.0
NUMPY_VERSION=2.4.6
PDQHASH_VERSION=0.2.8

QUICK=0
REPEAT=""
ROUNDS=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --repeat) REPEAT=$2; shift ;;
        --rounds) ROUNDS=$2; shift ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

if [[ $QUICK == 1 ]]; then
    OUT=bench/out/quick
    N_SMALL=10 N_LARGE=2
    REPEAT=${REPEAT:-1} ROUNDS=${ROUNDS:-2}
else
    OUT=bench/out
    N_SMALL=200 N_LARGE=20
    REPEAT=${REPEAT:-3} ROUNDS=${ROUNDS:-3}
fi
CPU=${BENCH_CPU:-0}
INVOCATION="bench/run.sh $(
    [[ $QUICK == 1 ]] && printf -- '--quick '
    printf -- '--repeat %s --rounds %s' "$REPEAT" "$ROUNDS"
)"

log() { echo "== $*" >&2; }

# ---- setup: venv ------------------------------------------------------------
VENV=bench/.venv
PY=$VENV/bin/python
if [[ ! -x $PY ]]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
fi
# pip does not contact the index when the pinned versions are already there.
"$PY" -m pip install --quiet --disable-pip-version-check \
    "pillow==$PILLOW_VERSION" "numpy==$NUMPY_VERSION" "pdqhash==$PDQHASH_VERSION"

# ---- setup: schoon ------------------------------------------------------------
if [[ -n ${SCHOON_BIN:-} ]]; then
    SCHOON=$SCHOON_BIN
    log "using SCHOON_BIN=$SCHOON (not building)"
else
    log "cargo build --release -p schoon-cli"
    cargo build --release -p schoon-cli
    TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
        "$PY" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    SCHOON=$TARGET_DIR/release/schoon
    SCHOON=${SCHOON#"$ROOT"/}  # relative when inside the repository, for the report
fi
if ! "$SCHOON" bench --help >/dev/null 2>&1; then
    echo "run.sh: '$SCHOON bench --help' failed: this schoon has no bench subcommand" >&2
    exit 1
fi

# ---- corpus -----------------------------------------------------------------
log "corpus: $N_SMALL x photo-0.8mp, $N_LARGE x photo-12mp"
"$PY" bench/make_corpus.py --out "$OUT/corpus" --n-small "$N_SMALL" --n-large "$N_LARGE"

SET_NAMES=(photo-0.8mp photo-12mp pdq-conformance)
SET_PATHS=("$OUT/corpus/photo-0.8mp" "$OUT/corpus/photo-12mp" testdata/pdq-conformance/images)

# ---- measure ----------------------------------------------------------------
SCHOON_CMD=(taskset -c "$CPU" "$SCHOON" bench --repeat "$REPEAT" --json)
PEERS_CMD=(taskset -c "$CPU" "$PY" bench/peers.py --repeat "$REPEAT" --json)

run_tool() { # tool set path round
    local tool=$1 set=$2 path=$3 round=$4
    local dest=$OUT/results/$set/$tool-$round.json
    log "$set, round $round/$ROUNDS: $tool"
    if [[ $tool == schoon ]]; then
        "${SCHOON_CMD[@]}" "$path" >"$dest.tmp"
    else
        "${PEERS_CMD[@]}" "$path" >"$dest.tmp"
    fi
    mv "$dest.tmp" "$dest"
}

RENDER_ARGS=()
for i in "${!SET_NAMES[@]}"; do
    set=${SET_NAMES[$i]} path=${SET_PATHS[$i]}
    rm -rf "$OUT/results/$set"
    mkdir -p "$OUT/results/$set"
    for ((round = 1; round <= ROUNDS; round++)); do
        # Alternate which tool goes first, so slow drift hits both alike.
        if ((round % 2 == 1)); then order=(schoon peers); else order=(peers schoon); fi
        for tool in "${order[@]}"; do
            run_tool "$tool" "$set" "$path" "$round"
        done
    done
    for tool in schoon peers; do
        "$PY" bench/report.py merge -o "$OUT/results/$set/$tool.json" "$OUT/results/$set/$tool"-[0-9]*.json
    done
    RENDER_ARGS+=(--set "$set" "$OUT/results/$set/schoon.json" "$OUT/results/$set/peers.json")
done

# ---- report -----------------------------------------------------------------
COMMAND="$INVOCATION
# which runs, for each set PATH, $ROUNDS rounds alternating the order of:
${SCHOON_CMD[*]} PATH
${PEERS_CMD[*]} PATH"

SETS_NOTE=""
for i in "${!SET_NAMES[@]}"; do
    SETS_NOTE+="${SETS_NOTE:+, }${SET_NAMES[$i]} = \`${SET_PATHS[$i]}\`"
done

"$PY" bench/report.py render -o "$OUT/report.md" --command "$COMMAND" \
    --note "Sets: $SETS_NOTE" \
    "${RENDER_ARGS[@]}"
log "wrote $OUT/report.md"
cat "$OUT/report.md"
