"""Training checkpoints: everything needed to continue a run exactly, in one torch file.

A checkpoint is a dict of tensors, numbers, strings, lists, tuples and dicts only (numpy's
RNG key is stored as a list of ints), so it is read back with ``torch.load(weights_only=True)``
and no pickled code ever runs. It is written with ``torch.save`` through
:func:`redcli.atomic.atomic_output`: an interruption never leaves a partial file under the
final name. Checkpoints are redcli's own working files; weights meant to be shared are
exported as safetensors (:func:`redcli.hub.save_weights`).
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from redcli.atomic import atomic_output
from redcli.errors import TrainingError

FORMAT = "redcli-train-checkpoint"
VERSION = 1


def capture_rng() -> dict[str, Any]:
    """The state of the python, numpy (global), torch CPU and CUDA generators."""
    numpy_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {**numpy_state, "state": {"key": numpy_state["state"]["key"].tolist(),
                                            "pos": int(numpy_state["state"]["pos"])}},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Put back generators captured by :func:`capture_rng` (CUDA ones only when CUDA is in use)."""
    random.setstate(_as_tuples(state["python"]))
    numpy_state = dict(state["numpy"])
    numpy_state["state"] = {"key": np.asarray(numpy_state["state"]["key"], dtype=np.uint32),
                            "pos": numpy_state["state"]["pos"]}
    np.random.set_state(numpy_state)
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuples(value: Any) -> Any:
    """``random.setstate`` wants the nested tuples that ``getstate`` gave (a reload may give lists)."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Write ``state`` (plus the format tag) to ``path`` atomically."""
    with atomic_output(path) as temp:
        torch.save({"format": FORMAT, "version": VERSION, **state}, temp)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint onto the CPU; :class:`TrainingError` naming ``path`` when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise TrainingError(f"{path}: no checkpoint to resume from")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or foreign files
        raise TrainingError(f"{path}: cannot read the checkpoint ({type(exc).__name__}: {str(exc)[:200]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise TrainingError(f"{path}: not a redcli training checkpoint")
    if state.get("version") != VERSION:
        raise TrainingError(f"{path}: checkpoint version {state.get('version')} is not supported (expected {VERSION})")
    return state
