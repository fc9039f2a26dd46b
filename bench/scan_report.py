#!/usr/bin/env python3
"""Render bench/scan_run.sh's results.tsv as the Markdown of bench/out/scan/scan.md.

    scan_report.py RESULTS.tsv -o OUT.md --files N --bytes B [--cpu MODEL] [...]

Headlines are ratios of medians over the rounds (scan files/s / hash files/s; first-scan wall
time / re-scan wall time), with the per-round ratios beside them (a round pairs the hash, scan and
re-scan that ran back to back); absolute times are given for context only.
"""

import argparse
import csv
import re
import statistics
import sys

KINDS = ["hash", "scan", "rescan"]
LABELS = {
    "hash": "`schoon hash DIR -o /dev/null`",
    "scan": "`schoon scan DIR`, fresh state",
    "rescan": "`schoon scan DIR` again, same state",
}
SCAN_TARGET = 0.90
RESCAN_TARGET = 50.0


def fmt_ratio(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}"


def summary_files(summary: str):
    """N from a summary line such as "schoon: scanned N files ..." or "schoon: hashed N files ..."."""
    m = re.search(r"schoon: \w+ ([\d,]+) files?", summary)
    return int(m.group(1).replace(",", "")) if m else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--files", type=int, required=True)
    ap.add_argument("--bytes", type=int, required=True)
    ap.add_argument("--matches", type=int, default=0)
    ap.add_argument("--random", type=int, default=0)
    ap.add_argument("--matched", default="?")
    ap.add_argument("--cpu", default="?")
    ap.add_argument("--cores", default="?")
    ap.add_argument("--load", default="?")
    ap.add_argument("--server-rss", type=int, default=0, help="KiB")
    ap.add_argument("--version", default="?")
    ap.add_argument("--hash-command", default="")
    ap.add_argument("--scan-command", default="")
    args = ap.parse_args()

    rows = list(csv.DictReader(open(args.results), delimiter="\t"))
    runs = {k: {} for k in KINDS}
    for r in rows:
        if r["kind"] in runs:
            runs[r["kind"]][int(r["round"])] = r
    rounds = sorted(set(runs["hash"]) & set(runs["scan"]) & set(runs["rescan"]))
    if not rounds:
        sys.exit("scan_report.py: no complete round in " + args.results)

    n = args.files
    wall = {k: [float(runs[k][i]["wall_s"]) for i in rounds] for k in KINDS}
    med = {k: statistics.median(wall[k]) for k in KINDS}
    fps = {k: n / med[k] for k in KINDS}

    def col(k, field, conv=float):
        return [conv(runs[k][i][field]) for i in rounds]

    scan_ratio = fps["scan"] / fps["hash"]
    rescan_ratio = med["scan"] / med["rescan"]
    per_scan = [float(runs["hash"][i]["wall_s"]) / float(runs["scan"][i]["wall_s"]) for i in rounds]
    per_rescan = [float(runs["scan"][i]["wall_s"]) / float(runs["rescan"][i]["wall_s"]) for i in rounds]

    warnings = []
    for k in KINDS:
        for i in rounds:
            got = summary_files(runs[k][i]["summary"])
            if got is not None and got != n:
                warnings.append(f"round {i} {k}: the summary says {got:,} files, the corpus has {n:,}")
    for i in rounds:
        if runs["scan"][i]["exit"] != "1":
            warnings.append(f"round {i} scan exited {runs['scan'][i]['exit']} (1 expected: there are matches)")

    L = []
    L.append(f"Scanner vs hashing, {len(rounds)} rounds (order alternating; medians):")
    L.append("")
    L.append("| | files/s | median wall s | min–max wall s | CPU s (user+sys) | server CPU s | POST /v1/check | hashes sent | peak RSS MiB (median, max) |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for k in KINDS:
        cpu = statistics.median(u + s for u, s in zip(col(k, "user_s"), col(k, "sys_s")))
        srv = statistics.median(col(k, "server_cpu_s"))
        req = statistics.median(col(k, "requests", int))
        hashes = statistics.median(col(k, "hashes", int))
        rss = col(k, "rss_kib", int)
        L.append(
            f"| {LABELS[k]} | {fps[k]:,.0f} | {med[k]:.3f} | {min(wall[k]):.3f}–{max(wall[k]):.3f} | "
            f"{cpu:.2f} | {srv:.2f} | {req:,.0f} | {hashes:,.0f} | "
            f"{statistics.median(rss) / 1024:,.1f}, {max(rss) / 1024:,.1f} |"
        )
    L.append("")
    L.append("| ratio | value | per round (min–max) | target | |")
    L.append("|---|---:|---:|---:|---|")
    L.append(
        f"| scan files/s ÷ hash files/s | {fmt_ratio(scan_ratio)} | "
        f"{fmt_ratio(min(per_scan))}–{fmt_ratio(max(per_scan))} | ≥ {SCAN_TARGET:.2f} | "
        f"{'met' if scan_ratio >= SCAN_TARGET else '**not met**'} |"
    )
    L.append(
        f"| first scan wall ÷ re-scan wall | {rescan_ratio:,.1f}× | "
        f"{min(per_rescan):,.1f}×–{max(per_rescan):,.1f}× | ≥ {RESCAN_TARGET:.0f}× | "
        f"{'met' if rescan_ratio >= RESCAN_TARGET else '**not met**'} |"
    )
    L.append("")
    L.append(
        f"Corpus: {n:,} benign 640×480 JPEGs (quality 90, `bench/make_corpus.py --n-scan {n}`, "
        f"{-(-n // 1000)} sub-folder(s) of up to 1,000), {args.bytes / 1e6:,.1f} MB, in the page cache. "
        f"List: {args.matches} corpus images (half MD5 + exact PDQ, half PDQ 8 bits away) + "
        f"{args.random:,} random PDQ + {args.random:,} random MD5 on `schoon serve` (SQLite) on the same "
        f"machine, 127.0.0.1; the warm-up scan matched {args.matched} files. "
        f"Server RSS after the runs: {args.server_rss / 1024:,.0f} MiB."
    )
    L.append("")
    L.append(
        f"Machine: {args.cpu}, {args.cores} cores; load average before → after: {args.load}. "
        f"`{args.version}`. Server CPU is the server process's user+sys time during each run "
        f"(scan and server share the cores); requests and hashes are from its `/metrics`."
    )
    L.append("")
    L.append("Per round (wall s):")
    L.append("")
    L.append("| round | order | hash | scan | re-scan | scan ÷ hash files/s | scan ÷ re-scan wall |")
    L.append("|---:|---|---:|---:|---:|---:|---:|")
    for j, i in enumerate(rounds):
        order = sorted(KINDS, key=lambda k: int(runs[k][i]["position"]))
        L.append(
            f"| {i} | {', '.join(order)} | {float(runs['hash'][i]['wall_s']):.3f} | "
            f"{float(runs['scan'][i]['wall_s']):.3f} | {float(runs['rescan'][i]['wall_s']):.4f} | "
            f"{per_scan[j]:.2f} | {per_rescan[j]:,.1f}× |"
        )
    L.append("")
    L.append("Commands (the scan's `R` is the round; every first scan gets a new state file):")
    L.append("")
    L.append("```")
    L.append(args.hash_command)
    L.append(args.scan_command)
    L.append("```")
    summaries = {k: runs[k][rounds[-1]]["summary"] for k in KINDS}
    L.append("")
    L.append("Summaries of the last round:")
    L.append("")
    L.append("```")
    for k in KINDS:
        L.append(f"{k}: {summaries[k]}")
    L.append("```")
    if warnings:
        L.append("")
        L.append("Warnings:")
        L.append("")
        for w in warnings:
            L.append(f"- {w}")
    open(args.output, "w").write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
