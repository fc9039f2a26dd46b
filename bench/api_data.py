#!/usr/bin/env python3
"""Data for the check-API benchmark (bench/api_run.sh).

Writes, into OUT (default bench/out/api):
  pdq.tsv     header `pdq`, N random 256-bit hashes (one per line)
  md5.tsv     header `md5`, N random MD5s
  q-exact.txt one JSON body per line: a single MD5, half of them listed, half not
  q-pdq.txt   one JSON body per line: a single PDQ, half a listed hash with 0-31 bits flipped
              (must match), half random (must not)
Deterministic (seeded), streamed in chunks so 10 M lines need little memory.
"""
import argparse
import json
import os
import random

import numpy as np


def write_hashes(path, header, n, nbytes, rng, keep, chunk=500_000):
    kept = []
    with open(path, "w") as f:
        f.write(header + "\n")
        done = 0
        while done < n:
            m = min(chunk, n - done)
            block = rng.integers(0, 256, size=(m, nbytes), dtype=np.uint8)
            hexes = [row.tobytes().hex() for row in block]
            f.write("\n".join(hexes))
            f.write("\n")
            if len(kept) < keep:
                kept.extend(hexes[: keep - len(kept)])
            done += m
    return kept


def flip(hexstr, bits, rnd):
    b = bytearray(bytes.fromhex(hexstr))
    for i in rnd.sample(range(256), bits):
        b[i // 8] ^= 1 << (i % 8)
    return b.hex()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--queries", type=int, default=20_000)
    ap.add_argument("--out", default="bench/out/api")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(2026)
    rnd = random.Random(2026)
    half = a.queries // 2
    pdqs = write_hashes(f"{a.out}/pdq.tsv", "pdq", a.n, 32, rng, half)
    md5s = write_hashes(f"{a.out}/md5.tsv", "md5", a.n, 16, rng, half)
    with open(f"{a.out}/q-exact.txt", "w") as f:
        for i in range(a.queries):
            v = md5s[i % len(md5s)] if i % 2 == 0 else os.urandom(16).hex()
            f.write(json.dumps({"hashes": [{"type": "md5", "value": v}]}) + "\n")
    with open(f"{a.out}/q-pdq.txt", "w") as f:
        for i in range(a.queries):
            if i % 2 == 0:
                v = flip(pdqs[i % len(pdqs)], rnd.randint(0, 31), rnd)
            else:
                v = os.urandom(32).hex()
            f.write(json.dumps({"hashes": [{"type": "pdq", "value": v}]}) + "\n")


if __name__ == "__main__":
    main()
