#!/usr/bin/env python3
"""Record the RGB pixels Pillow decodes, as MD5 digests, for the media decoder tests.

For every image it writes one row: path, width, height and the MD5 of
`Image.open(path).convert('RGB').tobytes()` (packed RGB8, rows top to bottom, no EXIF
orientation applied). `schoon-media` must reproduce these bytes exactly.

Usage (from the workspace root, with bench/.venv holding pillow==13.0.0):

    bench/.venv/bin/python bench/pillow_pixels.py \
        [--images /work/shared/pdq-conformance/images] \
        [--list testdata/pdq-conformance/expected.tsv] \
        [--out testdata/pdq-conformance/pillow-rgb.tsv]

`--list` is a TSV with a `path` column (relative to `--images`); without it every file under
`--images` is listed. A row whose file Pillow cannot open is written with width and height 0 and
the error in place of the digest, so the test sees the failure instead of a missing row.
"""

import argparse
import hashlib
import os
import sys

import PIL
from PIL import Image


def rows_from_list(list_path):
    with open(list_path, newline="", encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        col = header.index("path")
        for line in f:
            line = line.rstrip("\n")
            if line:
                yield line.split("\t")[col]


def rows_from_dir(images):
    for root, _dirs, files in os.walk(images):
        for name in files:
            yield os.path.relpath(os.path.join(root, name), images).replace(os.sep, "/")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", default="/work/shared/pdq-conformance/images")
    ap.add_argument("--list", default="testdata/pdq-conformance/expected.tsv")
    ap.add_argument("--out", default="testdata/pdq-conformance/pillow-rgb.tsv")
    args = ap.parse_args()

    if PIL.__version__ != "13.0.0":
        print(f"warning: Pillow {PIL.__version__}, the table is defined by 13.0.0", file=sys.stderr)

    paths = list(rows_from_list(args.list) if args.list else rows_from_dir(args.images))
    if not args.list:
        paths.sort()
    out = ["path\twidth\theight\trgb_md5"]
    for rel in paths:
        try:
            with Image.open(os.path.join(args.images, rel)) as im:
                rgb = im.convert("RGB")
                digest = hashlib.md5(rgb.tobytes()).hexdigest()
                out.append(f"{rel}\t{rgb.width}\t{rgb.height}\t{digest}")
        except Exception as e:  # noqa: BLE001 - the error is the recorded result
            out.append(f"{rel}\t0\t0\terror: {type(e).__name__}: {e}".replace("\n", " "))
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {len(out) - 1} rows to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
