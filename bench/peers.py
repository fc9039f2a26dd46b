#!/usr/bin/env python3
"""Time the Python peers of `schoon bench`, stage by stage, on one thread.

    peers.py [--repeat R] [--json] PATH...

PATH: image files, or directories searched recursively for image files (by
extension). All files are read into memory first and decoded once (untimed);
after one untimed warm-up pass of every stage, each stage is timed as one pass
over all files, R times, the stages taking turns pass by pass:

  decode      Image.open(BytesIO(b)).convert("RGB") then np.asarray
  pdq         pdqhash.compute(arr) on the already decoded arrays (Meta's C++)
  decode_pdq  both of the above
  md5, sha1, sha256   hashlib on the preloaded bytes
  end_to_end  open(path, "rb").read() + the three digests + decode + PDQ

With --json, prints the same JSON object as `schoon bench --json`, with
"tool": "python-peers"; otherwise a short human-readable table.
"""

import argparse
import hashlib
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time
from io import BytesIO
from pathlib import Path

import numpy as np
import PIL
import pdqhash
from PIL import Image, features

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"}
STAGES = ["decode", "pdq", "decode_pdq", "md5", "sha1", "sha256", "end_to_end"]


def collect(paths: list[str]) -> list[Path]:
    """Files named directly, plus image files found under directories, sorted."""
    found: list[Path] = []
    for arg in paths:
        p = Path(arg)
        if p.is_dir():
            for root, dirs, names in os.walk(p):
                dirs.sort()
                for name in sorted(names):
                    if Path(name).suffix.lower() in IMAGE_EXTENSIONS:
                        found.append(Path(root) / name)
        elif p.is_file():
            found.append(p)
        else:
            sys.exit(f"peers.py: no such file or directory: {arg}")
    return found


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(BytesIO(data)).convert("RGB"))


# One function per stage; each does one full pass over all files.

def stage_decode(ctx) -> None:
    for data in ctx["bytes"]:
        decode(data)


def stage_pdq(ctx) -> None:
    for arr in ctx["arrays"]:
        pdqhash.compute(arr)


def stage_decode_pdq(ctx) -> None:
    for data in ctx["bytes"]:
        pdqhash.compute(decode(data))


def digest_stage(constructor):
    def run(ctx) -> None:
        for data in ctx["bytes"]:
            constructor(data).digest()
    return run


def stage_end_to_end(ctx) -> None:
    for path in ctx["paths"]:
        with open(path, "rb") as f:
            data = f.read()
        hashlib.md5(data).digest()
        hashlib.sha1(data).digest()
        hashlib.sha256(data).digest()
        pdqhash.compute(decode(data))


STAGE_FUNCS = {
    "decode": stage_decode,
    "pdq": stage_pdq,
    "decode_pdq": stage_decode_pdq,
    "md5": digest_stage(hashlib.md5),
    "sha1": digest_stage(hashlib.sha1),
    "sha256": digest_stage(hashlib.sha256),
    "end_to_end": stage_end_to_end,
}


def summary(samples: list[float]) -> dict:
    return {
        "median_s": statistics.median(samples),
        "min_s": min(samples),
        "max_s": max(samples),
        "samples": samples,
    }


def versions() -> dict:
    return {
        "python": platform.python_version(),
        "pillow": PIL.__version__,
        "pdqhash": importlib.metadata.version("pdqhash"),
        "numpy": np.__version__,
        "libjpeg_turbo": features.version_feature("libjpeg_turbo"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5, help="timed passes per stage (default 5)")
    ap.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    ap.add_argument("paths", nargs="+", metavar="PATH")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")

    # Load everything, and decode once to give the pdq stage its input. Files
    # Pillow cannot decode are left out of every stage.
    paths, blobs, arrays = [], [], []
    for path in collect(args.paths):
        data = path.read_bytes()
        try:
            arr = decode(data)
        except Exception as e:  # noqa: BLE001 - any decoder failure just skips the file
            print(f"peers.py: skipping {path}: {e}", file=sys.stderr)
            continue
        paths.append(path)
        blobs.append(data)
        arrays.append(arr)
    if not paths:
        sys.exit("peers.py: no decodable image files")
    ctx = {"paths": paths, "bytes": blobs, "arrays": arrays}

    # One untimed warm-up pass of every stage, as `schoon bench` does.
    for stage in STAGES:
        STAGE_FUNCS[stage](ctx)

    samples: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for _ in range(args.repeat):
        for stage in STAGES:
            run = STAGE_FUNCS[stage]
            t0 = time.perf_counter()
            run(ctx)
            samples[stage].append(time.perf_counter() - t0)

    v = versions()
    result = {
        "tool": "python-peers",
        "version": f"Pillow {v['pillow']}, pdqhash {v['pdqhash']}, numpy {v['numpy']}",
        "versions": v,
        "files": len(paths),
        "bytes": sum(len(b) for b in blobs),
        "pixels": sum(a.shape[0] * a.shape[1] for a in arrays),
        "repeat": args.repeat,
        "stages": {stage: summary(samples[stage]) for stage in STAGES},
    }

    if args.json:
        json.dump(result, sys.stdout)
        print()
    else:
        print(f"{result['files']} files, {result['bytes']} bytes, {result['pixels']} pixels, {args.repeat} passes")
        for stage, s in result["stages"].items():
            print(f"{stage:>11}  median {s['median_s'] * 1e3:10.2f} ms  min {s['min_s'] * 1e3:10.2f} ms")


if __name__ == "__main__":
    main()
