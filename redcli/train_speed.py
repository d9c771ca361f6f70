"""Training throughput: the real training step timed at each precision, in one run.

    records = run_train_speed(Architecture(30, 64, 1), device="cpu")
    for r in records:
        print(r.precision, r.patches_per_s, r.speedup)

Each precision times :func:`redcli.train.optimizer_step` (the step ``redcli train`` runs) on
random patches with a fresh model and Adam, after warm-up steps, so the ratios compare like with
like on the same machine at the same moment. Precisions that the device cannot train in are left
out (:func:`trainable_precisions`): on the CPU bf16 needs native bf16 instructions.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np
import torch

from redcli.devices import configure_cpu_threads, resolve_device, synchronize
from redcli.errors import UsageError
from redcli.model import REDNet
from redcli.registry import Architecture
from redcli.train import memory_format, optimizer_step, training_autocast


@dataclass(frozen=True)
class TrainSpeedRecord:
    """Throughput of one precision; ``speedup`` is relative to the first precision timed (fp32)."""

    device: str
    arch: str
    precision: str
    batch: int
    patch: int
    steps: int
    patches_per_s: float
    speedup: float

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "patches_per_s": round(self.patches_per_s, 2), "speedup": round(self.speedup, 2)}


def trainable_precisions(device: torch.device) -> tuple[str, ...]:
    """fp32, then bf16 where :func:`redcli.train.training_autocast` accepts it on this device."""
    try:
        training_autocast("bf16", device)
    except UsageError:
        return ("fp32",)
    return ("fp32", "bf16")


def run_train_speed(arch: Architecture = Architecture(30, 64, 1), *, device: str = "auto",
                    precisions: tuple[str, ...] | None = None, batch: int = 16, patch: int = 50, steps: int = 4,
                    warmup: int = 2, on_step: Callable[[str], None] | None = None) -> list[TrainSpeedRecord]:
    """Time ``steps`` training steps (after ``warmup``) of ``arch`` per precision; best step counts.

    ``precisions`` default to :func:`trainable_precisions`; one the device cannot train in is a
    :class:`UsageError`. Batches are ``batch`` float32 ``patch``² patches in [0, 1].
    """
    if min(batch, patch, steps) < 1 or warmup < 0:
        raise UsageError("batch, patch and steps must be >= 1 and warmup >= 0")
    configure_cpu_threads()
    target = resolve_device(device)
    chosen = precisions or trainable_precisions(target)
    autocasts = {p: training_autocast(p, target) for p in chosen}  # raises for a precision it cannot train in
    rng = np.random.default_rng(0)
    inputs, targets = (rng.random((batch, arch.channels, patch, patch), dtype=np.float32) for _ in range(2))
    records: list[TrainSpeedRecord] = []
    for precision, autocast in autocasts.items():
        if on_step is not None:
            on_step(f"timing {steps} training steps in {precision} ({arch.label}, batch {batch}, {patch}×{patch})")
        seconds = _best_step_seconds(arch, target, autocast, (inputs, targets), steps, warmup)
        rate = batch / seconds
        records.append(TrainSpeedRecord(str(target), arch.label, precision, batch, patch, steps, rate,
                                        rate / records[0].patches_per_s if records else 1.0))
    return records


def _best_step_seconds(arch: Architecture, device: torch.device, autocast: torch.dtype | None,
                       batch: tuple[np.ndarray, np.ndarray], steps: int, warmup: int) -> float:
    """The fastest of ``steps`` timed training steps of a fresh model, after ``warmup`` untimed ones."""
    torch.manual_seed(0)
    model = REDNet(arch.depth, arch.width, arch.channels).to(device, memory_format=memory_format(device, autocast))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    times = []
    for index in range(warmup + steps):
        synchronize(device)
        start = time.perf_counter()
        optimizer_step(model, optimizer, batch, device, autocast)
        synchronize(device)
        if index >= warmup:
            times.append(time.perf_counter() - start)
    return min(times)

