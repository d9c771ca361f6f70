"""Tile geometry and a tiled runner for size-preserving image networks.

An image is cut into *cores*: ``tile × tile`` blocks that partition it exactly (the last
row and column of blocks may be smaller). Each core is computed from a *window* around it,
``overlap`` pixels larger on every side where the image allows. All windows have the same
size, ``min(tile + 2 * overlap, dim)`` per axis: near the image border a window slides
inwards instead of shrinking, so windows can be stacked into batches. A core stays at least
``overlap`` pixels away from every window edge that is not an image edge, hence a network
whose receptive radius is at most ``overlap`` (RED-Net: its depth) gives tiled output equal
to whole-image output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import torch
from torch import Tensor

TileFn = Callable[[Tensor], Tensor]
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Tile:
    """One window of the input and the core of the output it is responsible for.

    All coordinates are half-open pixel ranges in image coordinates: the window is
    ``[y0, y1) × [x0, x1)``, the core ``[core_y0, core_y1) × [core_x0, core_x1)``, inside it.
    """

    y0: int
    x0: int
    y1: int
    x1: int
    core_y0: int
    core_x0: int
    core_y1: int
    core_x1: int

    @property
    def window(self) -> tuple[slice, slice]:
        """(rows, columns) of the window in the image."""
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    @property
    def window_size(self) -> tuple[int, int]:
        """(height, width) of the window; the same for every tile of a plan."""
        return self.y1 - self.y0, self.x1 - self.x0

    @property
    def core(self) -> tuple[slice, slice]:
        """(rows, columns) of the core in the image."""
        return slice(self.core_y0, self.core_y1), slice(self.core_x0, self.core_x1)

    @property
    def core_in_window(self) -> tuple[slice, slice]:
        """(rows, columns) of the core relative to the window's top-left corner."""
        return (slice(self.core_y0 - self.y0, self.core_y1 - self.y0),
                slice(self.core_x0 - self.x0, self.core_x1 - self.x0))


class _Span(NamedTuple):
    """A window ``[start, stop)`` and its core ``[core_start, core_stop)`` on one axis."""

    start: int
    stop: int
    core_start: int
    core_stop: int


def _plan_axis(size: int, tile: int, overlap: int) -> list[_Span]:
    """Cores of ``tile`` pixels partitioning ``[0, size)``, each in a window of equal length."""
    if tile <= 0 or tile >= size:
        return [_Span(0, size, 0, size)]
    length = min(tile + 2 * overlap, size)
    spans = []
    for core_start in range(0, size, tile):
        start = min(max(core_start - overlap, 0), size - length)
        spans.append(_Span(start, start + length, core_start, min(core_start + tile, size)))
    return spans


def plan_tiles(height: int, width: int, tile: int, overlap: int) -> list[Tile]:
    """Tiles covering a ``height × width`` image, row by row; ``tile <= 0`` means one window.

    Cores partition the image; windows all have the same size and lie inside the image.
    """
    if height < 1 or width < 1:
        raise ValueError(f"cannot tile an image of size {height}x{width}")
    if overlap < 0:
        raise ValueError(f"tile overlap must be >= 0, got {overlap}")
    return [
        Tile(row.start, col.start, row.stop, col.stop, row.core_start, col.core_start, row.core_stop, col.core_stop)
        for row in _plan_axis(height, tile, overlap)
        for col in _plan_axis(width, tile, overlap)
    ]


def run_tiled(x: Tensor, fn: TileFn, *, tile: int, overlap: int, batch_size: int,
              on_tile: Progress | None = None) -> Tensor:
    """Apply ``fn`` to ``x`` window by window and assemble the cores.

    ``x`` is 1×C×H×W; ``fn`` maps an N×C×h×w batch of windows (N <= ``batch_size``, all on
    ``x``'s device) to N×C'×h×w. The result, 1×C'×H×W with ``fn``'s dtype, is assembled on
    ``x``'s device: keep ``x`` on the CPU and let ``fn`` move each batch to the accelerator
    and back, and accelerator memory stays bounded by the batch, whatever the image size.
    ``on_tile(done, total)`` is called after each batch with the number of tiles done.
    """
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"run_tiled needs a 1xCxHxW tensor, got shape {tuple(x.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    height, width = x.shape[-2:]
    tiles = plan_tiles(height, width, tile, overlap)
    out: Tensor | None = None
    for first in range(0, len(tiles), batch_size):
        group = tiles[first:first + batch_size]
        batch = torch.cat([x[(..., *t.window)] for t in group])
        result = fn(batch).to(x.device)
        if result.shape[0] != batch.shape[0] or result.shape[-2:] != batch.shape[-2:]:
            raise ValueError(f"tile function changed the batch shape {tuple(batch.shape)} to {tuple(result.shape)}")
        if out is None:
            out = result.new_empty((1, result.shape[1], height, width))
        for t, window in zip(group, result):
            out[(0, slice(None), *t.core)] = window[(slice(None), *t.core_in_window)]
        if on_tile is not None:
            on_tile(first + len(group), len(tiles))
    assert out is not None  # plan_tiles never returns an empty plan
    return out
