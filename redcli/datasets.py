"""Benchmark sets: what each contains, where to find it, and loading it verified.

Five benchmark sets are registered (``redcli/data/benchmarks.json``, generated from
``../shared/datasets/SHA256SUMS``): ``set5``, ``set14``, ``bsd100`` (task ``sr``) and ``set12``,
``bsd68`` (task ``denoise``), each with its file names and sha256. A set is looked for, in order, in

1. an explicit ``data_dir``: ``data_dir/<name>``, then ``data_dir`` itself;
2. ``$REDCLI_DATA_DIR/<name>``;
3. the cache: ``<cache root>/datasets/<name>`` (``$REDCLI_CACHE_DIR`` or the platform cache dir).

The first folder holding every file of the set is used; its files must match their sha256.
Images are returned as float32 HWC arrays in [0, 1] (C = 1 for grey files such as Set14's
``bridge.png``), sorted by file name.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files as package_files
from pathlib import Path
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

from redcli.errors import DatasetError
from redcli.images import read_image
from redcli.paths import cache_root

DATA_DIR_ENV = "REDCLI_DATA_DIR"
IMAGE_SUFFIXES = frozenset({".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff", ".webp"})


@dataclass(frozen=True)
class BenchmarkSet:
    """One registered benchmark set.

    ``task`` is ``"sr"`` or ``"denoise"``; ``files`` is ((file name, sha256 hex), ...) sorted by name.
    """

    name: str
    task: str
    files: tuple[tuple[str, str], ...]


@cache
def _read_benchmarks() -> Mapping[str, BenchmarkSet]:
    """Every registered benchmark set by name (read-only), from the packaged ``benchmarks.json``."""
    raw = json.loads(package_files("redcli").joinpath("data/benchmarks.json").read_text(encoding="utf-8"))
    return MappingProxyType({
        name: BenchmarkSet(name=name, task=spec["task"], files=tuple(sorted(spec["files"].items())))
        for name, spec in raw.items()
    })


BENCHMARKS: Mapping[str, BenchmarkSet] = _read_benchmarks()
"""The registered sets: name -> :class:`BenchmarkSet` (read once at import)."""


def get_benchmark(name: str) -> BenchmarkSet:
    """The registered set called ``name``; ``DatasetError`` listing the known names otherwise."""
    sets = BENCHMARKS
    if name not in sets:
        raise DatasetError(f"unknown benchmark set '{name}'; known: {', '.join(sets)}")
    return sets[name]


def candidate_dirs(name: str, data_dir: Path | str | None = None) -> list[Path]:
    """The folders searched for set ``name``, in order (explicit dir, ``$REDCLI_DATA_DIR``, cache)."""
    places: list[Path] = []
    if data_dir is not None:
        places += [Path(data_dir) / name, Path(data_dir)]
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        places.append(Path(env).expanduser() / name)
    places.append(cache_root() / "datasets" / name)
    return places


def _first_missing(spec: BenchmarkSet, folder: Path) -> str | None:
    """Why ``folder`` cannot hold set ``spec`` (no folder, or its first missing file); None if complete."""
    if not folder.is_dir():
        return "no such folder"
    return next((f"{file} missing" for file, _ in spec.files if not (folder / file).is_file()), None)


def find_dataset(name: str, data_dir: Path | str | None = None) -> Path:
    """The first candidate folder holding every file of set ``name``; ``DatasetError`` naming each place looked."""
    spec = get_benchmark(name)
    tried: list[str] = []
    for folder in candidate_dirs(name, data_dir):
        problem = _first_missing(spec, folder)
        if problem is None:
            return folder
        tried.append(f"{folder} ({problem})")
    hint = "" if os.environ.get(DATA_DIR_ENV) else f"; set {DATA_DIR_ENV} or pass a data dir"
    raise DatasetError(f"benchmark set '{name}' not found; looked in: {'; '.join(tried)}{hint}")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_dataset(name: str, folder: Path | str) -> None:
    """Check that ``folder`` holds every file of set ``name`` with its registered sha256; ``DatasetError`` otherwise."""
    spec = get_benchmark(name)
    root = Path(folder)
    for file, expected in spec.files:
        path = root / file
        if not path.is_file():
            raise DatasetError(f"benchmark set '{name}': {path} is missing")
        actual = sha256_file(path)
        if actual != expected:
            raise DatasetError(
                f"benchmark set '{name}': {path} is altered (sha256 {actual[:12]}..., expected {expected[:12]}...)"
            )


def load_benchmark(name: str, data_dir: Path | str | None = None) -> list[tuple[str, NDArray[np.float32]]]:
    """Find, verify and read set ``name``: [(file stem, float32 HWC image in [0, 1]), ...] sorted by file name."""
    folder = find_dataset(name, data_dir)
    verify_dataset(name, folder)
    return [(Path(file).stem, read_image(folder / file).pixels) for file, _ in get_benchmark(name).files]


def load_folder(path: Path | str) -> list[tuple[str, NDArray[np.float32]]]:
    """Every image file directly in ``path`` (by suffix, no checksum), sorted by name.

    Returns [(file stem, float32 HWC image in [0, 1]), ...]; ``DatasetError`` if none or no folder.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder")
    images = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise DatasetError(f"{folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return [(p.stem, read_image(p).pixels) for p in images]
