"""The ×8 geometric self-ensemble of the paper (Section 2.4): rotate, flip, restore, undo, average.

Transform ``k`` (0..7) of an NCHW tensor rotates the last two dims by ``k % 4`` quarter
turns counter-clockwise, after mirroring left-right when ``k >= 4``; ``k = 0`` is the
identity. Odd rotations swap height and width, so any size works, square or not.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

TRANSFORMS = range(8)

TensorFn = Callable[[Tensor], Tensor]


def _check(k: int) -> None:
    if k not in TRANSFORMS:
        raise ValueError(f"dihedral transform index must be in 0..7, got {k}")


def dihedral(x: Tensor, k: int) -> Tensor:
    """Transform ``k`` of ``x`` (…×H×W -> …×H×W, or …×W×H for odd ``k``)."""
    _check(k)
    mirrored = x.flip(-1) if k >= 4 else x
    return torch.rot90(mirrored, k % 4, dims=(-2, -1))


def inverse_dihedral(x: Tensor, k: int) -> Tensor:
    """Undo :func:`dihedral`: ``inverse_dihedral(dihedral(x, k), k)`` equals ``x`` exactly."""
    _check(k)
    unrotated = torch.rot90(x, -(k % 4), dims=(-2, -1))
    return unrotated.flip(-1) if k >= 4 else unrotated


def with_ensemble(fn: TensorFn) -> TensorFn:
    """``fn`` averaged over the 8 transforms: mean of ``inverse(fn(transform(x)))``.

    ``fn`` maps N×C×H×W to N×C'×H×W for any H, W; it is called 8 times, once per transform.
    """

    def ensembled(x: Tensor) -> Tensor:
        outputs = [inverse_dihedral(fn(dihedral(x, k)), k) for k in TRANSFORMS]
        return torch.stack(outputs).mean(dim=0)

    return ensembled
