"""A tiny test-made model zoo: RED-Net weights files and a manifest that lists them.

Not a test module. The models are RED4 with 4 feature maps, so files are a few kilobytes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterable

from redcli.registry import Architecture, WeightsMeta

TINY = Architecture(depth=4, width=4, channels=1)
BLIND = WeightsMeta(TINY, "denoise", (0.0, 75.0), name="tiny-denoise-blind")
SIGMA25 = WeightsMeta(TINY, "denoise", (25.0, 25.0), name="tiny-denoise-s25")
SR_MULTI = WeightsMeta(TINY, "sr", scales=(2, 3, 4), name="tiny-sr-multi")
SR_X2 = WeightsMeta(Architecture(depth=6, width=4, channels=3), "sr", scales=(2,), name="tiny-sr-x2")
ALL = (BLIND, SIGMA25, SR_MULTI, SR_X2)

BLIND_METRICS = (
    {"dataset": "bsd68", "task": "denoise", "scale": None, "sigma": 30.0, "ensemble": True, "psnr": 28.5, "ssim": 0.8},
    {"dataset": "bsd68", "task": "denoise", "scale": None, "sigma": 30.0, "ensemble": False, "psnr": 28.4, "ssim": 0.79},
)


def random_state(arch: Architecture, seed: int = 0) -> dict[str, Any]:
    """A freshly initialised RED-Net's state dict (deterministic for a seed)."""
    import torch

    from redcli.model import REDNet

    torch.manual_seed(seed)
    return REDNet(arch.depth, arch.width, arch.channels).state_dict()


def write_weights(path: Path, meta: WeightsMeta, seed: int = 0) -> bytes:
    """Save random weights for ``meta`` at ``path``; returns the file's bytes."""
    from redcli.hub import save_weights

    save_weights(path, random_state(meta.arch, seed), meta)
    return path.read_bytes()


def manifest_item(meta: WeightsMeta, data: bytes, metrics: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    """The manifest record of one weights file."""
    arch = meta.arch
    return {
        "name": meta.name, "file": f"{meta.name}.safetensors", "task": meta.task,
        "arch": {"depth": arch.depth, "width": arch.width, "channels": arch.channels},
        "sigma_range": list(meta.sigma_range) if meta.sigma_range else None, "scales": list(meta.scales),
        "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "num_params": arch.num_params,
        "metrics": list(metrics), "license": "CC0-1.0", "recipe": "tests/zoo.py", "description": f"test {meta.name}",
    }


def make_zoo(manifest_dir: Path, weights_dir: Path, metas: Iterable[WeightsMeta] = ALL) -> tuple[Path, dict[str, bytes]]:
    """Write weights into ``weights_dir`` and a manifest listing them into ``manifest_dir``.

    Returns the manifest's path and the files' contents by file name (to serve them).
    """
    weights_dir.mkdir(parents=True, exist_ok=True)
    manifest_dir.mkdir(parents=True, exist_ok=True)
    files, items = {}, []
    for seed, meta in enumerate(metas):
        name = f"{meta.name}.safetensors"
        files[name] = write_weights(weights_dir / name, meta, seed)
        items.append(manifest_item(meta, files[name], BLIND_METRICS if meta is BLIND else ()))
    manifest = manifest_dir / "manifest.json"
    manifest.write_text(json.dumps({"models": items}, indent=1), encoding="utf-8")
    return manifest, files
