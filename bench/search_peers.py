#!/usr/bin/env python3
"""PDQ radius search: Schoon's index against faiss and numpy, on the same files, one core.

    search_peers.py [--sets uniform-1m,clustered-1m] [--queries 1000] [--passes 3]
                    [--slow-queries 200] [--out bench/out/search] --schoon PATH
    search_peers.py peer KIND SET_DIR [--passes P] [--limit Q]     (internal: one peer)

For each set it writes, under OUT/SET/ (reused when the manifest matches):

    base.bin     N raw 32-byte hashes
    queries.bin  Q raw 32-byte hashes, alternating: a stored hash with 0-31 random bits
                 flipped (must match), then a uniformly random hash (almost never matches)
    truth.bin    the expected answers at radius 31 (ids of the stored hashes within 31 bits),
                 from a numpy brute-force scan: little-endian u32 Q, Q+1 offsets, then ids

then measures, each in its own process pinned to the core this script runs on:

    faiss IndexBinaryFlat                      (range_search radius 32: faiss keeps d < radius)
    faiss IndexBinaryMultiHash(256, 16, 16)    nflip = 1, so radius 31 is exact by pigeonhole
    numpy brute force                          XOR + bitwise_count over the whole base
    schoon                                     crates/index/examples/search_bench.rs

and writes OUT/results.json and OUT/report.md. faiss runs with jemalloc preloaded when
/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 exists (faiss's MultiHash allocates per bucket;
glibc malloc makes it several times slower). All searches are one query per call, one thread:
the shape of a hash-check request.

Sets: uniform-1m, uniform-10m (N uniformly random hashes), clustered-1m (100 k random centres,
10 hashes each at 0-12 flipped bits from their centre: near-duplicates, as real lists have).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

RADIUS = 31
SETS = {
    "uniform-1m": dict(kind="uniform", n=1_000_000, seed=101),
    "uniform-10m": dict(kind="uniform", n=10_000_000, seed=102),
    "clustered-1m": dict(kind="clustered", n=1_000_000, seed=103, per_centre=10, max_flips=12),
    # Small sets for a smoke test.
    "uniform-100k": dict(kind="uniform", n=100_000, seed=104),
    "clustered-100k": dict(kind="clustered", n=100_000, seed=105, per_centre=10, max_flips=12),
}
JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"


def log(*a):
    print("==", *a, file=sys.stderr, flush=True)


def cpu_ns():
    """Nanoseconds this thread has spent on a CPU (waiting for the core does not count)."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[0])
    except OSError:
        return 0


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def flip_rows(rows, ks, rng):
    """Flips ks[i] distinct random bits of rows[i] (uint8, shape (M, 32)), in place."""
    m = rows.shape[0]
    order = np.argsort(rng.random((m, 256)), axis=1)  # a random permutation of bits per row
    for j in range(int(ks.max(initial=0))):
        sel = np.flatnonzero(ks > j)
        bit = order[sel, j]
        rows[sel, bit // 8] ^= (1 << (bit % 8)).astype(np.uint8)


def flip_rows_fast(rows, ks, rng):
    """As flip_rows, for millions of rows: positions may repeat, so up to ks[i] bits differ."""
    for j in range(int(ks.max(initial=0))):
        sel = np.flatnonzero(ks > j)
        bit = rng.integers(0, 256, size=sel.size)
        rows[sel, bit // 8] ^= (1 << (bit % 8)).astype(np.uint8)


def make_base(p):
    rng = np.random.default_rng(p["seed"])
    n = p["n"]
    if p["kind"] == "uniform":
        return rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    centres = rng.integers(0, 256, size=(n // p["per_centre"], 32), dtype=np.uint8)
    base = np.repeat(centres, p["per_centre"], axis=0)
    ks = rng.integers(0, p["max_flips"] + 1, size=n)
    flip_rows_fast(base, ks, rng)
    return base[rng.permutation(n)]


def make_queries(base, q, seed):
    rng = np.random.default_rng(seed)
    near = base[rng.integers(0, base.shape[0], size=(q + 1) // 2)].copy()
    flip_rows(near, rng.integers(0, RADIUS + 1, size=near.shape[0]), rng)
    far = rng.integers(0, 256, size=(q // 2, 32), dtype=np.uint8)
    out = np.empty((q, 32), dtype=np.uint8)
    out[0::2] = near
    out[1::2] = far
    return out


class NumpyBrute:
    """The plain numpy way: XOR every stored hash with the query, count bits, keep d <= r."""

    def __init__(self, base_u8):
        self.base = np.ascontiguousarray(base_u8).view(np.uint64)  # (N, 4)
        self.tmp = np.empty_like(self.base)
        self.cnt = np.empty(self.base.shape, dtype=np.uint8)

    def search(self, q_u8, r):
        q = np.ascontiguousarray(q_u8).view(np.uint64)
        np.bitwise_xor(self.base, q, out=self.tmp)
        np.bitwise_count(self.tmp, out=self.cnt)
        d = self.cnt.sum(axis=1, dtype=np.uint16)
        return np.flatnonzero(d <= r)


def write_truth(path, answers):
    offsets = np.zeros(len(answers) + 1, dtype=np.uint32)
    offsets[1:] = np.cumsum([len(a) for a in answers])
    ids = np.concatenate([np.asarray(a, dtype=np.uint32) for a in answers]) if answers else []
    with open(path, "wb") as f:
        f.write(np.uint32(len(answers)).tobytes())
        f.write(offsets.tobytes())
        f.write(np.asarray(ids, dtype=np.uint32).tobytes())


def read_truth(path):
    w = np.fromfile(path, dtype="<u4")
    q = int(w[0])
    offsets = w[1 : q + 2]
    ids = w[q + 2 :]
    return [ids[offsets[i] : offsets[i + 1]] for i in range(q)]


def prepare(name, out, queries):
    p = SETS[name]
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    manifest = dict(p, queries=queries, radius=RADIUS, version=1)
    mpath = os.path.join(d, "manifest.json")
    if os.path.exists(mpath) and json.load(open(mpath)) == manifest:
        log(f"{name}: data and truth up to date")
        return d
    log(f"{name}: generating {p['n']:,} hashes and {queries} queries")
    base = make_base(p)
    qs = make_queries(base, queries, p["seed"] + 1)
    base.tofile(os.path.join(d, "base.bin"))
    qs.tofile(os.path.join(d, "queries.bin"))
    log(f"{name}: truth by numpy brute force")
    nb = NumpyBrute(base)
    t = time.perf_counter()
    answers = [np.sort(nb.search(q, RADIUS)) for q in qs]
    log(f"{name}: truth took {time.perf_counter() - t:.1f} s")
    write_truth(os.path.join(d, "truth.bin"), answers)
    json.dump(manifest, open(mpath, "w"), indent=1)
    return d


def recall_of(answers, truth):
    expected = sum(len(t) for t in truth)
    found = sum(np.isin(t, a).sum() for t, a in zip(truth, answers))
    extra = sum((~np.isin(a, t)).sum() for t, a in zip(truth, answers))
    return (found / expected if expected else 1.0), int(expected), int(found), int(extra)


def run_peer(kind, d, passes, limit):
    """Measures one peer in this process and prints its JSON."""
    import faiss  # noqa: PLC0415 (only the peer processes need it)

    faiss.omp_set_num_threads(1)
    base = np.fromfile(os.path.join(d, "base.bin"), dtype=np.uint8).reshape(-1, 32)
    qs = np.fromfile(os.path.join(d, "queries.bin"), dtype=np.uint8).reshape(-1, 32)
    truth = read_truth(os.path.join(d, "truth.bin"))
    if limit:
        qs, truth = qs[:limit], truth[:limit]
    n = base.shape[0]
    rss0 = rss_bytes()
    t = time.perf_counter()
    if kind == "faiss-flat":
        index = faiss.IndexBinaryFlat(256)
        index.add(base)
    elif kind == "faiss-multihash":
        index = faiss.IndexBinaryMultiHash(256, 16, 16)
        index.nflip = 1
        index.add(base)
    elif kind == "numpy":
        index = NumpyBrute(base)
    else:
        raise SystemExit(f"unknown peer {kind}")
    build_s = time.perf_counter() - t
    if kind == "numpy":
        search = lambda q: index.search(q, RADIUS)  # noqa: E731
    else:
        # faiss keeps results with distance < radius: 32 here is d <= 31.
        search = lambda q: index.range_search(q[None, :], RADIUS + 1)[2]  # noqa: E731
    answers = [np.sort(search(q)) for q in qs]  # warm-up pass, kept for the recall
    # After the warm-up, so buffers allocated on first use count. numpy's "index" is the base
    # array itself, loaded before rss0.
    mem = rss_bytes() - rss0 + (base.nbytes if kind == "numpy" else 0)
    rates, cpu_rates = [], []
    for _ in range(passes):
        t, c = time.perf_counter(), cpu_ns()
        for q in qs:
            search(q)
        rates.append(len(qs) / (time.perf_counter() - t))
        cpu_rates.append(len(qs) * 1e9 / max(cpu_ns() - c, 1))
    rates.sort()
    cpu_rates.sort()
    recall, expected, found, extra = recall_of(answers, truth)
    print(
        json.dumps(
            dict(
                tool=kind,
                n=n,
                queries=len(qs),
                radius=RADIUS,
                build_s=round(build_s, 3),
                memory_per_hash=round(mem / n, 2),
                qps_median=round(rates[len(rates) // 2], 1),
                qps_passes=[round(r) for r in rates],
                qps_cpu_median=round(cpu_rates[len(cpu_rates) // 2], 1),
                recall=recall,
                expected=expected,
                found=found,
                extra=extra,
                jemalloc="jemalloc" in os.environ.get("LD_PRELOAD", ""),
                versions=dict(faiss=faiss.__version__, numpy=np.__version__),
            )
        )
    )


def cpus():
    return sorted(os.sched_getaffinity(0))


def run_json(cmd, env=None):
    log(" ".join(cmd))
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, env=env, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "peer":
        ap = argparse.ArgumentParser()
        ap.add_argument("peer")
        ap.add_argument("kind")
        ap.add_argument("dir")
        ap.add_argument("--passes", type=int, default=3)
        ap.add_argument("--limit", type=int, default=0)
        a = ap.parse_args()
        run_peer(a.kind, a.dir, a.passes, a.limit)
        return

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="uniform-1m,clustered-1m")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--slow-queries", type=int, default=200, help="queries per pass for the scanning peers (flat, numpy)")
    ap.add_argument("--out", default="bench/out/search")
    ap.add_argument("--schoon", required=True, help="the search_bench example binary")
    ap.add_argument("--peers", default="schoon,faiss-multihash,faiss-flat,numpy")
    a = ap.parse_args()

    pinned = cpus()
    log(f"running on cpus {pinned}")
    env = dict(os.environ)
    if os.path.exists(JEMALLOC):
        env_faiss = dict(env, LD_PRELOAD=JEMALLOC)
    else:
        log("libjemalloc2 not installed: faiss runs with glibc malloc")
        env_faiss = env
    results = dict(
        date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        machine=dict(cpu=platform.processor() or cpu_model(), nproc=os.cpu_count(), pinned=pinned, load=os.getloadavg()),
        radius=RADIUS,
        passes=a.passes,
        sets={},
    )
    for name in a.sets.split(","):
        d = prepare(name, a.out, a.queries)
        rows = []
        for peer in a.peers.split(","):
            if peer == "schoon":
                rows.append(run_json([a.schoon, f"{d}/base.bin", f"{d}/queries.bin", f"{d}/truth.bin", "--passes", str(a.passes)]))
                # The same build with every core (rayon), for the build time only.
                r2 = run_json(["taskset", "-c", ",".join(map(str, range(os.cpu_count()))), a.schoon, f"{d}/base.bin", f"{d}/queries.bin", "--passes", "1"])
                rows[-1]["build_s_all_cores"] = r2["build_s"]
            else:
                slow = peer in ("faiss-flat", "numpy")
                limit = a.slow_queries if slow else 0
                cmd = [sys.executable, __file__, "peer", peer, d, "--passes", str(a.passes), "--limit", str(limit)]
                rows.append(run_json(cmd, env=env_faiss if peer.startswith("faiss") else env))
            log(f"{name}: {json.dumps(rows[-1])}")
        results["sets"][name] = rows
        json.dump(results, open(os.path.join(a.out, "results.json"), "w"), indent=1)
    report = render(results, " ".join(sys.argv))
    open(os.path.join(a.out, "report.md"), "w").write(report)
    print(report)


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def render(results, command):
    out = [
        f"- Date: {results['date']}; machine: {results['machine']['cpu']}, nproc {results['machine']['nproc']}, "
        f"pinned to cpu {results['machine']['pinned']}, load {' '.join(f'{x:.2f}' for x in results['machine']['load'])}",
        f"- Radius {results['radius']} (d ≤ 31); one query per call, one thread; q/s = median of {results['passes']} passes after a warm-up pass, "
        "per wall-clock second and per second the thread was on a CPU (steadier on a shared machine)",
        f"- Command: `{command}`",
        "",
    ]
    for name, rows in results["sets"].items():
        faiss_best = max((r["qps_median"] for r in rows if r["tool"].startswith("faiss")), default=None)
        faiss_best_cpu = max((r["qps_cpu_median"] for r in rows if r["tool"].startswith("faiss")), default=None)
        out += [
            f"### {name}",
            "",
            "| tool | build (s, 1 core) | memory (B/hash) | queries/s (1 core) | × best faiss | per CPU-second | × best faiss | recall | queries |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in rows:
            ratio = f"{r['qps_median'] / faiss_best:.1f}×" if faiss_best else "–"
            ratio_cpu = f"{r['qps_cpu_median'] / faiss_best_cpu:.1f}×" if faiss_best_cpu else "–"
            build = f"{r['build_s']:.2f}"
            if "build_s_all_cores" in r:
                build += f" ({r['build_s_all_cores']:.2f} on {results['machine']['nproc']})"
            tool = r["tool"] + (" + jemalloc" if r.get("jemalloc") else "")
            out.append(
                f"| {tool} | {build} | {r['memory_per_hash']:.1f} | {r['qps_median']:,.0f} | {ratio} | "
                f"{r['qps_cpu_median']:,.0f} | {ratio_cpu} | "
                f"{r['recall']:.4f} ({r['found']}/{r['expected']}, {r['extra']} extra) | {r['queries']} |"
            )
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    main()
