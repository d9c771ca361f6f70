"""Data-parallel training under ``torchrun``: which process this is, and the process group.

torchrun starts one worker per device and sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR`` and ``MASTER_PORT`` in each one's environment. Without them the run is a
single process. The group uses NCCL on GPUs and gloo on the CPU. :func:`dist_info` imports
no torch, so the CLI can ask "am I the main process?" cheaply.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, Mapping

from redcli.errors import TrainingError

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class DistInfo:
    """This process's place among the data-parallel workers."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """True when more than one process trains together."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone logs, validates and writes files."""
        return self.rank == 0


def dist_info(env: Mapping[str, str] | None = None) -> DistInfo:
    """Read the torchrun variables (default: ``os.environ``); a single process without them."""
    env = os.environ if env is None else env
    try:
        info = DistInfo(int(env.get("RANK", "0")), int(env.get("WORLD_SIZE", "1")), int(env.get("LOCAL_RANK", "0")))
    except ValueError:
        raise TrainingError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (as torchrun sets them)") from None
    if info.world_size < 1 or not 0 <= info.rank < info.world_size:
        raise TrainingError(f"inconsistent torchrun environment: RANK={info.rank}, WORLD_SIZE={info.world_size}")
    return info


@contextlib.contextmanager
def process_group(info: DistInfo, device: "torch.device") -> Iterator[None]:
    """Join the workers' process group for the duration (a no-op for a single process)."""
    if not info.enabled:
        yield
        return
    import torch.distributed as dist

    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=info.rank, world_size=info.world_size,
                            device_id=device if device.type == "cuda" else None)
    try:
        yield
        dist.barrier()
    finally:
        dist.destroy_process_group()


def any_rank(flag: bool, info: DistInfo, device: "torch.device") -> bool:
    """True on every rank when ``flag`` is true on at least one (so that all stop at the same step)."""
    if not info.enabled:
        return flag
    import torch
    import torch.distributed as dist

    value = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())
