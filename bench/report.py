#!/usr/bin/env python3
"""Merge benchmark results and render them as Markdown.

    report.py merge -o OUT.json IN.json...
        Concatenate the samples of several runs of one tool on one set (e.g.
        the rounds of bench/run.sh) and recompute median/min/max.

    report.py render [-o OUT.md] [--command CMD] [--note TEXT]...
                     --set NAME SCHOON.json PEERS.json [--set ...]
        Write a Markdown section comparing Schoon with the Python peers, one
        table per set.

Every JSON file has the shape printed by `schoon bench --json` (and by
bench/peers.py): tool, version, files, bytes, pixels, repeat, and stages
mapping each stage to {median_s, min_s, max_s, samples}.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

IMAGE_STAGES = ["decode", "pdq", "decode_pdq", "end_to_end"]
DIGEST_STAGES = ["md5", "sha1", "sha256"]
STAGE_ORDER = ["decode", "pdq", "decode_pdq", "md5", "sha1", "sha256", "end_to_end"]
STAGE_LABELS = {
    "decode": "decode (bytes → RGB)",
    "pdq": "PDQ (on decoded pixels)",
    "decode_pdq": "decode + PDQ",
    "md5": "MD5",
    "sha1": "SHA-1",
    "sha256": "SHA-256",
    "end_to_end": "end to end (read + 3 digests + decode + PDQ)",
}


def load(path: str) -> dict:
    with open(path) as f:
        result = json.load(f)
    for key in ("tool", "files", "bytes", "pixels", "repeat", "stages"):
        if key not in result:
            sys.exit(f"report.py: {path}: missing key {key!r}")
    return result


# ---------------------------------------------------------------- merge

def merge(paths: list[str]) -> dict:
    runs = [load(p) for p in paths]
    first = runs[0]
    for path, run in zip(paths[1:], runs[1:]):
        for key in ("tool", "files", "bytes", "pixels"):
            if run[key] != first[key]:
                sys.exit(f"report.py: {path}: {key} is {run[key]!r}, but {paths[0]} has {first[key]!r}")

    merged = {k: v for k, v in first.items() if k != "stages"}
    merged["runs"] = len(runs)
    merged["stages"] = {}
    for stage in first["stages"]:
        samples = [s for run in runs for s in run["stages"][stage]["samples"]]
        merged["stages"][stage] = {
            "median_s": statistics.median(samples),
            "min_s": min(samples),
            "max_s": max(samples),
            "samples": samples,
        }
    return merged


# ---------------------------------------------------------------- render

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def nproc() -> str:
    try:
        return subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return str(os.cpu_count())


def throughput(result: dict, stage: str) -> float | None:
    """img/s for image stages, MB/s (10^6 bytes) for digests."""
    s = result["stages"].get(stage)
    if not s or s["median_s"] <= 0:
        return None
    amount = result["files"] if stage in IMAGE_STAGES else result["bytes"] / 1e6
    return amount / s["median_s"]


def fmt_rate(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "–"
    r = a / b
    return f"{r:.1f}×" if r >= 1 else f"{r:.2f}×"


def samples_count(result: dict) -> int:
    return min(len(s["samples"]) for s in result["stages"].values())


def render_set(name: str, schoon: dict, peers: dict) -> list[str]:
    out = [f"### {name}", ""]
    out.append(
        f"{schoon['files']} files, {schoon['bytes'] / 1e6:.1f} MB, "
        f"{schoon['pixels'] / 1e6:.1f} Mpixel decoded "
        f"({schoon['pixels'] / 1e6 / schoon['files']:.2f} Mpixel per image on average); "
        f"medians of {samples_count(schoon)} passes (Schoon) and {samples_count(peers)} passes (peers)."
    )
    for key in ("files", "bytes", "pixels"):
        if schoon[key] != peers[key]:
            out.append("")
            out.append(
                f"**Warning:** the tools saw different inputs: {key} = {schoon[key]} (Schoon) "
                f"vs {peers[key]} (peers); rates are per tool and the ratio compares unlike work."
            )
    out.append("")
    out.append("| stage | unit | Schoon | Python peers | Schoon / peers |")
    out.append("| --- | --- | ---: | ---: | ---: |")
    for stage in STAGE_ORDER:
        if stage not in schoon["stages"] and stage not in peers["stages"]:
            continue
        unit = "img/s" if stage in IMAGE_STAGES else "MB/s"
        a, b = throughput(schoon, stage), throughput(peers, stage)
        out.append(f"| {STAGE_LABELS[stage]} | {unit} | {fmt_rate(a)} | {fmt_rate(b)} | {fmt_ratio(a, b)} |")
    out.append("")
    return out


def version_line(result: dict) -> str:
    versions = result.get("versions")
    if isinstance(versions, dict):
        parts = ", ".join(f"{k} {v}" for k, v in versions.items())
        return f"{result['tool']}: {parts}"
    return f"{result['tool']} {result.get('version', '?')}"


def render(sets: list[tuple[str, dict, dict]], command: str | None, notes: list[str]) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["## Benchmark: Schoon vs Python peers", ""]
    lines.append(
        "Throughput from the median time of one pass over all files of a set "
        "(img/s = files / median; MB/s = 10^6 bytes / median; higher is better). "
        "Both tools run on one thread, pinned to one core with `taskset`, "
        "alternating in rounds so that drift hits both alike; "
        "the samples of all rounds are pooled before taking the median."
    )
    lines.append("")
    lines.append(f"- Date: {now}")
    lines.append(f"- Machine: {cpu_model()}, nproc {nproc()}, kernel {platform.release()}")
    try:
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        lines.append(f"- Load average (1, 5, 15 min) when the report was written: {load}")
    except OSError:
        pass
    seen = []
    for _, schoon, peers in sets:
        for r in (schoon, peers):
            v = version_line(r)
            if v not in seen:
                seen.append(v)
    for v in seen:
        lines.append(f"- {v}")
    repeats = sorted({r["repeat"] for _, s, p in sets for r in (s, p)})
    rounds = sorted({r.get("runs", 1) for _, s, p in sets for r in (s, p)})
    passes = sorted({samples_count(r) for _, s, p in sets for r in (s, p)})
    lines.append(
        f"- Medians over {'/'.join(map(str, passes))} passes per tool, set and stage "
        f"(--repeat {'/'.join(map(str, repeats))} × {'/'.join(map(str, rounds))} rounds), "
        "one thread, one core via `taskset`"
    )
    for note in notes:
        lines.append(f"- {note}")
    if command:
        lines.append("")
        lines.append("Command:")
        lines.append("")
        lines.append("```")
        lines.append(command)
        lines.append("```")
    lines.append("")
    for name, schoon, peers in sets:
        lines.extend(render_set(name, schoon, peers))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    m = sub.add_parser("merge", help="pool the samples of several runs of one tool")
    m.add_argument("-o", "--output", required=True)
    m.add_argument("inputs", nargs="+")

    r = sub.add_parser("render", help="write the Markdown report")
    r.add_argument("-o", "--output", help="write here instead of stdout")
    r.add_argument("--command", help="the command that produced the results")
    r.add_argument("--note", action="append", default=[], help="an extra bullet line")
    r.add_argument("--set", nargs=3, action="append", required=True,
                   metavar=("NAME", "SCHOON_JSON", "PEERS_JSON"))
    args = ap.parse_args()

    if args.cmd == "merge":
        merged = merge(args.inputs)
        Path(args.output).write_text(json.dumps(merged) + "\n")
        return

    sets = [(name, load(a), load(b)) for name, a, b in args.set]
    text = render(sets, args.command, args.note)
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
