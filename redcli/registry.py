"""Typed, frozen descriptions of RED-Net models and of every shipped weights file.

This module imports no torch: ``redcli models list`` and ``redcli --help`` stay fast.
The shipped models are data, in ``manifest.json`` (a copy of ``weights/manifest.json``
packaged inside ``redcli/data``), read by :func:`load_registry`. Setting ``REDCLI_MANIFEST``
to the path of another manifest replaces the shipped one (private model zoos, tests); the
weights files it lists are then looked for beside that manifest.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from redcli.errors import ModelError

FORMAT_NAME = "redcli-rednet"
FORMAT_VERSION = "1"
TASKS = ("denoise", "sr")
MANIFEST_ENV = "REDCLI_MANIFEST"


@dataclass(frozen=True)
class Architecture:
    """The RED-Net layout: ``depth/2`` convs, ``depth/2`` deconvs, ``width`` maps, ``channels`` in/out."""

    depth: int = 30
    width: int = 64
    channels: int = 1

    def __post_init__(self) -> None:
        if self.depth < 4 or self.depth % 2:
            raise ModelError(f"RED-Net depth must be an even number >= 4, got {self.depth}")
        if self.width < 1:
            raise ModelError(f"RED-Net width must be positive, got {self.width}")
        if self.channels not in (1, 3):
            raise ModelError(f"RED-Net channels must be 1 or 3, got {self.channels}")

    @property
    def num_params(self) -> int:
        """Number of learnable parameters, in closed form (3x3 kernels plus biases)."""
        half = self.depth // 2
        inner = (half - 1) * (self.width * self.width * 9 + self.width)
        first_conv = self.channels * self.width * 9 + self.width
        last_deconv = self.width * self.channels * 9 + self.channels
        return first_conv + inner + inner + last_deconv

    @property
    def receptive_radius(self) -> int:
        """Pixels of context on each side that one output pixel depends on (= depth)."""
        return self.depth

    @property
    def label(self) -> str:
        return f"RED{self.depth}/w{self.width}/{self.channels}ch"


@dataclass(frozen=True)
class WeightsMeta:
    """What a weights file says about itself; stored as safetensors string metadata.

    ``sigma_range`` is the noise range (8-bit units, 0..255) a denoiser was trained on; a
    single-level model has ``lo == hi``. ``scales`` are the SR factors an SR model was
    trained on; empty for denoisers.
    """

    arch: Architecture
    task: str
    sigma_range: tuple[float, float] | None = None
    scales: tuple[int, ...] = ()
    name: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ModelError(f"unknown task {self.task!r} (expected one of {', '.join(TASKS)})")
        if self.task == "denoise" and self.sigma_range is None:
            raise ModelError("a denoising model needs a sigma range")
        if self.task == "sr" and not self.scales:
            raise ModelError("a super-resolution model needs at least one scale")

    @property
    def levels(self) -> str:
        """Human-readable noise levels or scales, e.g. ``σ 0-75`` or ``×2,3,4``."""
        if self.task == "sr":
            return "×" + ",".join(str(s) for s in self.scales)
        lo, hi = self.sigma_range  # type: ignore[misc]
        return f"σ {lo:g}" if lo == hi else f"σ {lo:g}-{hi:g}"

    @property
    def breadth(self) -> float:
        """How many levels the model covers: its number of scales (SR), the width of its σ range
        (denoisers; 0 for a per-level model)."""
        if self.task == "sr":
            return len(self.scales)
        lo, hi = self.sigma_range  # type: ignore[misc]
        return hi - lo

    @property
    def blind(self) -> bool:
        """A denoiser trained for a range of σ rather than one level (the paper's single model)."""
        return self.task == "denoise" and self.breadth > 0

    def covers(self, level: float) -> bool:
        """Whether the model was trained for ``level``: a noise level in its σ range (denoisers)
        or one of its scales (SR)."""
        if self.task == "sr":
            return level in self.scales
        lo, hi = self.sigma_range  # type: ignore[misc]
        return lo <= level <= hi

    def to_metadata(self) -> dict[str, str]:
        """Flat ``str -> str`` mapping for the safetensors header."""
        data = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "arch": "rednet",
            "depth": str(self.arch.depth),
            "width": str(self.arch.width),
            "channels": str(self.arch.channels),
            "task": self.task,
            "name": self.name,
        }
        if self.sigma_range is not None:
            data["sigma_range"] = f"{self.sigma_range[0]:g},{self.sigma_range[1]:g}"
        if self.scales:
            data["scales"] = ",".join(str(s) for s in self.scales)
        data.update({f"x-{k}": str(v) for k, v in self.extra.items()})
        return data

    @classmethod
    def from_metadata(cls, data: Mapping[str, str] | None, source: str) -> "WeightsMeta":
        """Rebuild from a safetensors header; :class:`ModelError` naming ``source`` if it is not RED-Net."""
        if not data or data.get("format") != FORMAT_NAME or data.get("arch") != "rednet":
            raise ModelError(f"{source}: not a redcli RED-Net weights file (no RED-Net metadata)")
        try:
            arch = Architecture(int(data["depth"]), int(data["width"]), int(data["channels"]))
            sigma = None
            if "sigma_range" in data:
                lo, hi = (float(v) for v in data["sigma_range"].split(","))
                sigma = (lo, hi)
            scales = tuple(int(s) for s in data["scales"].split(",")) if data.get("scales") else ()
            extra = {k[2:]: v for k, v in data.items() if k.startswith("x-")}
            return cls(arch, data["task"], sigma, scales, data.get("name", ""), extra)
        except (KeyError, ValueError) as exc:
            raise ModelError(f"{source}: malformed RED-Net metadata ({exc})") from None


@dataclass(frozen=True)
class BenchRecord:
    """One measured benchmark result (PSNR in dB, SSIM in [0, 1]), with the score of the degraded
    input bench measured beside it (the noisy image, or the bicubic upscale) where recorded."""

    dataset: str
    task: str
    scale: int | None
    sigma: float | None
    ensemble: bool
    psnr: float
    ssim: float
    baseline_psnr: float | None = None
    baseline_ssim: float | None = None

    @property
    def level(self) -> float | None:
        """The scale of an SR result, the noise level of a denoising one."""
        return self.scale if self.task == "sr" else self.sigma


@dataclass(frozen=True)
class ModelEntry:
    """One shipped weights file: where it is, how to check it, what it achieves."""

    name: str
    meta: WeightsMeta
    file: str
    size: int
    sha256: str
    num_params: int
    metrics: tuple[BenchRecord, ...] = ()
    recipe: str = ""
    license: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if not self.file or Path(self.file).name != self.file or self.file.startswith("."):
            raise ModelError(f"model {self.name!r}: file must be a plain file name, got {self.file!r}")
        if len(self.sha256) != 64 or not all(c in "0123456789abcdef" for c in self.sha256):
            raise ModelError(f"model {self.name!r}: sha256 must be 64 lowercase hex digits")

    @property
    def headline(self) -> BenchRecord | None:
        """The result to quote in one line: the first recorded without the ×8 ensemble at a level the
        model was trained for (a per-level model's own σ, a per-scale model's own scale), else the
        first without the ensemble, else the first."""
        plain = [record for record in self.metrics if not record.ensemble]
        own = [record for record in plain if record.level is not None and self.meta.covers(record.level)]
        return (own or plain or list(self.metrics) or [None])[0]

    def metric(self, dataset: str, *, scale: int | None = None, sigma: float | None = None,
               ensemble: bool = False) -> BenchRecord | None:
        """The recorded result for one benchmark setting, or None."""
        for record in self.metrics:
            if (record.dataset, record.scale, record.sigma, record.ensemble) == (dataset, scale, sigma, ensemble):
                return record
        return None


def _entry_from_json(item: Mapping[str, Any]) -> ModelEntry:
    arch = Architecture(**item["arch"])
    sigma = tuple(item["sigma_range"]) if item.get("sigma_range") is not None else None
    meta = WeightsMeta(arch, item["task"], sigma, tuple(item.get("scales", ())), item["name"])  # type: ignore[arg-type]
    metrics = tuple(BenchRecord(**m) for m in item.get("metrics", ()))
    return ModelEntry(
        name=item["name"], meta=meta, file=item["file"], size=int(item["size"]), sha256=item["sha256"],
        num_params=int(item["num_params"]), metrics=metrics, recipe=item.get("recipe", ""),
        license=item.get("license", ""), description=item.get("description", ""),
    )


def parse_manifest(text: str, source: str = "weights manifest") -> tuple[ModelEntry, ...]:
    """Parse the JSON manifest (``{"models": [...]}``) into entries; ``source`` names it in errors."""
    try:
        return tuple(_entry_from_json(item) for item in json.loads(text)["models"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{source} is malformed: {exc}") from None


def manifest_override() -> Path | None:
    """The manifest named by ``$REDCLI_MANIFEST``, or None to use the shipped one."""
    value = os.environ.get(MANIFEST_ENV)
    return Path(value).expanduser() if value else None


def load_registry() -> tuple[ModelEntry, ...]:
    """All registered models: from ``$REDCLI_MANIFEST`` if set, else the manifest packaged with redcli."""
    override = manifest_override()
    return _read_registry(str(override) if override else None)


@lru_cache(maxsize=8)
def _read_registry(path: str | None) -> tuple[ModelEntry, ...]:
    """Read and parse one manifest (None: the packaged one); cached per path."""
    if path is None:
        text = resources.files("redcli").joinpath("data/manifest.json").read_text(encoding="utf-8")
        return parse_manifest(text)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the weights manifest named by {MANIFEST_ENV} ({exc.strerror})") from None
    return parse_manifest(text, f"weights manifest {path}")


def get_entry(name: str) -> ModelEntry:
    """The registry entry called ``name``; :class:`ModelError` listing the known names otherwise."""
    for entry in load_registry():
        if entry.name == name:
            return entry
    known = ", ".join(e.name for e in load_registry()) or "none shipped yet"
    raise ModelError(f"unknown model {name!r} (known: {known})")


def pick_denoiser(sigma: float | None, entries: tuple[ModelEntry, ...] | None = None) -> ModelEntry:
    """The model trained for exactly ``sigma`` if one is shipped, else the widest-range (blind) one."""
    candidates = [e for e in (entries if entries is not None else load_registry()) if e.meta.task == "denoise"]
    if not candidates:
        raise ModelError("no denoising model is shipped yet; pass --model PATH to a weights file")
    if sigma is not None:
        for entry in candidates:
            if entry.meta.sigma_range == (sigma, sigma):
                return entry
    return max(candidates, key=lambda e: e.meta.breadth)


def pick_upscaler(scale: int, entries: tuple[ModelEntry, ...] | None = None) -> ModelEntry:
    """The model trained for exactly ``scale`` if one is shipped, else a multi-scale model covering it."""
    candidates = [e for e in (entries if entries is not None else load_registry()) if e.meta.task == "sr"]
    for entry in candidates:
        if entry.meta.scales == (scale,):
            return entry
    covering = [e for e in candidates if scale in e.meta.scales]
    if covering:
        return max(covering, key=lambda e: e.meta.breadth)
    raise ModelError(f"no shipped super-resolution model covers ×{scale}; pass --model PATH to a weights file")
