#!/usr/bin/env python3
"""The hash list of the scanner benchmark (bench/scan_run.sh), as one CSV for `schoon lists import`.

    scan_data.py --hashes HASHES.jsonl --random N [--seed S] -o LIST.csv

HASHES.jsonl is `schoon hash -f jsonl` of the corpus images that should match. The first half of
them is listed by MD5 and exact PDQ; the second half by PDQ only, with 8 bits flipped (a re-encoded
copy, found by the radius search, not by an exact lookup). N random PDQ and N random MD5 hashes
(seeded) fill the index so that lookups are not made against a near-empty one; a uniformly random
256-bit PDQ hash has 128 +- 8 bits set, well inside the import quality gate (64..192), and is at
distance ~128 from any image's hash, so it never matches.

The columns are `type,hash,quality,ref`; `ref` names the corpus file (`match-exact:<path>` or
`match-near:<path>`) or `random-<i>`.
"""

import argparse
import json
import sys

import numpy as np

FLIPPED_BITS = 8


def flip_bits(hex_hash: str, rng: np.random.Generator, n: int) -> str:
    value = int(hex_hash, 16)
    for bit in rng.choice(256, size=n, replace=False):
        value ^= 1 << int(bit)
    return f"{value:064x}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hashes", required=True, help="schoon hash -f jsonl of the files that should match")
    ap.add_argument("--random", type=int, required=True, help="random PDQ and random MD5 hashes (each)")
    ap.add_argument("--seed", type=int, default=20251123)
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()

    rows = [json.loads(line) for line in open(args.hashes) if line.strip()]
    bad = [r["path"] for r in rows if r.get("error") or not r.get("pdq")]
    if bad:
        sys.exit(f"scan_data.py: no PDQ hash for {bad[:3]}")
    low = [r["path"] for r in rows if r["quality"] < 50]
    if low:
        print(f"scan_data.py: warning: {len(low)} files have PDQ quality < 50 (refused by the import gate)",
              file=sys.stderr)

    rng = np.random.default_rng(args.seed)
    half = (len(rows) + 1) // 2
    with open(args.output, "w") as out:
        out.write("type,hash,quality,ref\n")
        for i, r in enumerate(rows):
            if i < half:
                out.write(f"md5,{r['md5']},,match-exact:{r['path']}\n")
                out.write(f"pdq,{r['pdq']},{r['quality']},match-exact:{r['path']}\n")
            else:
                out.write(f"pdq,{flip_bits(r['pdq'], rng, FLIPPED_BITS)},{r['quality']},match-near:{r['path']}\n")
        # Bulk random hashes, vectorised: 32 bytes per PDQ, 16 per MD5.
        pdq = rng.integers(0, 256, size=(args.random, 32), dtype=np.uint8)
        md5 = rng.integers(0, 256, size=(args.random, 16), dtype=np.uint8)
        ones = np.unpackbits(pdq, axis=1).sum(axis=1)
        assert ((ones >= 64) & (ones <= 192)).all(), "a random PDQ hash outside the quality gate"
        for i in range(args.random):
            out.write(f"pdq,{pdq[i].tobytes().hex()},100,random-{i}\n")
            out.write(f"md5,{md5[i].tobytes().hex()},,random-{i}\n")
    print(f"scan_data.py: {len(rows)} matching files ({half} exact MD5+PDQ, {len(rows) - half} near PDQ), "
          f"{args.random} random PDQ + {args.random} random MD5 -> {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
