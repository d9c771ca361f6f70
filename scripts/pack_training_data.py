"""Pack training folders as the 8-bit grey planes `redcli train` reads from them, for a machine
the datasets do not reach (a GPU machine that receives only the working tree, at most 64 MiB).

    python scripts/pack_training_data.py ../shared/datasets/train400 ../shared/datasets/bsd200_train \
        ../shared/datasets/t91 --out .device_data

Each image becomes ``OUT/<folder name>/<stem>.png``: a grey PNG of exactly the plane training
would hold in memory (:func:`redcli.patches.read_luma`: grey as stored, colour as BT.601 Y,
rounded to 8 bits), checked by reading it back. Training on the packed folders is therefore the
same as training on the originals: the same planes in the same order (names differ at most in
their suffix, so they sort alike), hence the same validation split for a given seed.
A colour image shrinks to a third; bsd200_train (50 MB) packs to about 18 MB.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from redcli.atomic import atomic_output
from redcli.patches import find_images, read_luma


def pack_folder(folder: Path, out: Path) -> int:
    """Write every training image of ``folder`` as a grey PNG under ``out / folder.name``; returns the bytes written.

    Raises ValueError when two images would get the same packed name (``a.png`` and ``a.bmp``),
    or when a packed file does not read back as the plane it was made from.
    """
    files = find_images([folder])
    stems = [path.relative_to(folder).with_suffix(".png") for path in files]
    if len(set(stems)) != len(stems):
        raise ValueError(f"{folder}: two images share a name once their suffix is .png")
    written = 0
    for path, stem in zip(files, stems):
        plane = read_luma(path)
        buffer = io.BytesIO()
        Image.fromarray(plane, mode="L").save(buffer, format="PNG", optimize=True)
        target = out / folder.name / stem
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(target) as temporary:
            temporary.write_bytes(buffer.getvalue())
        if not np.array_equal(read_luma(target), plane):
            raise ValueError(f"{target}: does not read back as the plane of {path}")
        written += len(buffer.getvalue())
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", type=Path, nargs="+", help="training folders (their names are kept)")
    parser.add_argument("--out", type=Path, required=True, help="where the packed folders go, e.g. .device_data")
    args = parser.parse_args()
    if len({folder.name for folder in args.folders}) != len(args.folders):
        parser.error("two folders share a name: they would be packed into the same place")
    total = 0
    for folder in args.folders:
        size = pack_folder(folder, args.out)
        total += size
        print(f"{folder} -> {args.out / folder.name}: {size / 2**20:.1f} MiB", file=sys.stderr)
    print(f"packed {total / 2**20:.1f} MiB in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
