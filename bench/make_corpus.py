#!/usr/bin/env python3
"""Make the synthetic benchmark corpus: benign photo-like JPEGs.

Each image is a smooth random colour field (a few random blobs upscaled
bicubically, plus a linear gradient per channel) with Gaussian noise on top,
saved as JPEG quality 90. Everything is derived from fixed seeds, so the same
library versions produce byte-identical files.

    make_corpus.py [--out DIR] [--n-small N] [--n-large N] [--n-scan N] [--jobs J]

writes DIR/photo-0.8mp/ (N images of 1024x768) and DIR/photo-12mp/ (N images
of 4000x3000), each described by DIR/<set>.manifest.json (kept outside the
image folder, so that a benchmarked folder holds images only). A set whose
manifest matches the requested parameters, and whose files are all intact,
is left alone. A count of 0 leaves a set out.

--n-scan N (default 0: not made) adds DIR/photo-0.3mp/: N images of 640x480
for the scanner benchmark (bench/scan_run.sh), in sub-folders of 1,000
(photo-0.3mp/d00/img-00000.jpg, ...), so that a scan walks a tree. Sets are
generated on --jobs processes (default: all cores); every image depends on
its index only, so the bytes do not depend on the number of processes.
"""

import argparse
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, features

# Bump when the generator changes, so old corpora get rebuilt.
GENERATOR_VERSION = 1
BASE_SEED = 20240601
QUALITY = 90

# name -> (width, height, default count)
SETS = {
    "photo-0.8mp": (1024, 768, 200),
    "photo-12mp": (4000, 3000, 20),
    "photo-0.3mp": (640, 480, 0),
}
# Sets written in sub-folders of this many images (the others are flat).
TREE_SETS = {"photo-0.3mp": 1000}


def blobs(rng: np.random.Generator, width: int, height: int, lo: int, hi: int) -> np.ndarray:
    """A random grid of lo..hi cells a side, upscaled bicubically to width x height."""
    gw, gh = rng.integers(lo, hi, size=2)
    grid = (rng.random((gh, gw, 3)) * 255).astype(np.uint8)
    big = Image.fromarray(grid, "RGB").resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(big, dtype=np.float32)


def make_image(width: int, height: int, index: int) -> Image.Image:
    """One deterministic photo-like RGB image."""
    rng = np.random.default_rng([BASE_SEED, width, height, index])

    # Smooth blobs: small random grids upscaled bicubically to full size, a
    # coarse one for the overall colours and a finer, fainter one for texture.
    field = 0.75 * blobs(rng, width, height, 2, 9)
    field += 0.25 * blobs(rng, width, height, 24, 64)

    # A linear gradient per channel, random direction and strength.
    ys = np.linspace(-0.5, 0.5, height, dtype=np.float32)[:, None]
    xs = np.linspace(-0.5, 0.5, width, dtype=np.float32)[None, :]
    for c in range(3):
        angle = rng.uniform(0, 2 * np.pi)
        strength = rng.uniform(20, 120)
        field[:, :, c] += strength * (np.cos(angle) * xs + np.sin(angle) * ys)

    # Sensor-like noise.
    sigma = rng.uniform(2.0, 8.0)
    field += rng.standard_normal((height, width, 3), dtype=np.float32) * sigma

    return Image.fromarray(np.clip(field, 0, 255).astype(np.uint8), "RGB")


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def parameters(width: int, height: int, count: int) -> dict:
    """Everything that determines the bytes of a set."""
    return {
        "generator_version": GENERATOR_VERSION,
        "base_seed": BASE_SEED,
        "width": width,
        "height": height,
        "count": count,
        "quality": QUALITY,
        "pillow": PIL.__version__,
        "numpy": np.__version__,
        "libjpeg_turbo": features.version_feature("libjpeg_turbo"),
    }


def manifest_path(set_dir: Path) -> Path:
    return set_dir.with_name(set_dir.name + ".manifest.json")


def is_current(set_dir: Path, params: dict) -> bool:
    manifest = manifest_path(set_dir)
    if not manifest.is_file():
        return False
    try:
        old = json.loads(manifest.read_text())
    except json.JSONDecodeError:
        return False
    if old.get("parameters") != params:
        return False
    files = old.get("files", {})
    if len(files) != params["count"]:
        return False
    for name, digest in files.items():
        path = set_dir / name
        if not path.is_file() or sha256_file(path) != digest:
            return False
    return True


def relative_name(name: str, i: int) -> str:
    """The path of image i inside its set folder (the manifest's key)."""
    per_dir = TREE_SETS.get(name)
    if per_dir is None:
        return f"img-{i:04d}.jpg"
    return f"d{i // per_dir:02d}/img-{i:05d}.jpg"


def write_one(job: tuple) -> tuple:
    """Writes image i of a set (atomically) and returns (relative name, SHA-256)."""
    set_dir, name, width, height, i = job
    rel = relative_name(name, i)
    path = set_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    make_image(width, height, i).save(tmp, "JPEG", quality=QUALITY)
    os.replace(tmp, path)
    return rel, sha256_file(path)


def build_set(out: Path, name: str, width: int, height: int, count: int, jobs: int) -> None:
    set_dir = out / name
    params = parameters(width, height, count)
    if is_current(set_dir, params):
        print(f"{name}: up to date ({count} images)", file=sys.stderr)
        return

    print(f"{name}: writing {count} images of {width}x{height}", file=sys.stderr)
    manifest_path(set_dir).unlink(missing_ok=True)
    if set_dir.exists():
        shutil.rmtree(set_dir)
    set_dir.mkdir(parents=True)

    work = [(set_dir, name, width, height, i) for i in range(count)]
    if jobs > 1 and count > 1:
        with multiprocessing.Pool(min(jobs, count)) as pool:
            results = pool.map(write_one, work, chunksize=16)
    else:
        results = [write_one(job) for job in work]
    files = dict(results)

    manifest = {"parameters": params, "files": files}
    manifest_path(set_dir).write_text(json.dumps(manifest, indent=1) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out" / "corpus")
    ap.add_argument("--n-small", type=int, default=SETS["photo-0.8mp"][2], help="images in photo-0.8mp")
    ap.add_argument("--n-large", type=int, default=SETS["photo-12mp"][2], help="images in photo-12mp")
    ap.add_argument("--n-scan", type=int, default=SETS["photo-0.3mp"][2], help="images in photo-0.3mp (0: not made)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes that write images")
    args = ap.parse_args()

    counts = {"photo-0.8mp": args.n_small, "photo-12mp": args.n_large, "photo-0.3mp": args.n_scan}
    for name, (width, height, _) in SETS.items():
        if counts[name] > 0:
            build_set(args.out, name, width, height, counts[name], args.jobs)


if __name__ == "__main__":
    main()
