"""Tile plans and the tiled runner."""

from __future__ import annotations

import pytest
import torch

from redcli.tiling import Tile, plan_tiles, run_tiled

SIZES = [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 40, 53, 64]
PLANS = [(tile, overlap) for tile in (0, 1, 4, 8, 16, 100) for overlap in (0, 3, 6)]


def _check_plan(height: int, width: int, tile: int, overlap: int, plan: list[Tile]) -> None:
    covered = torch.zeros(height, width, dtype=torch.int64)
    sizes = {t.window_size for t in plan}
    assert len(sizes) == 1, "windows must all have the same size"
    expected_h = height if tile <= 0 or tile >= height else min(tile + 2 * overlap, height)
    expected_w = width if tile <= 0 or tile >= width else min(tile + 2 * overlap, width)
    assert sizes == {(expected_h, expected_w)}
    for t in plan:
        assert 0 <= t.y0 <= t.core_y0 < t.core_y1 <= t.y1 <= height
        assert 0 <= t.x0 <= t.core_x0 < t.core_x1 <= t.x1 <= width
        if tile > 0:
            assert t.core_y1 - t.core_y0 <= tile and t.core_x1 - t.core_x0 <= tile
        for lo_edge, lo_core, hi_core, hi_edge, size in ((t.y0, t.core_y0, t.core_y1, t.y1, height),
                                                        (t.x0, t.core_x0, t.core_x1, t.x1, width)):
            assert lo_edge == 0 or lo_core - lo_edge >= overlap
            assert hi_edge == size or hi_edge - hi_core >= overlap
        covered[t.core] += 1
    assert bool((covered == 1).all()), "cores must partition the image"


def test_plan_invariants_over_many_sizes() -> None:
    for height in SIZES:
        for width in SIZES:
            for tile, overlap in PLANS:
                _check_plan(height, width, tile, overlap, plan_tiles(height, width, tile, overlap))


def test_core_in_window_points_at_the_core() -> None:
    image = torch.arange(20 * 30).reshape(20, 30)
    for t in plan_tiles(20, 30, 8, 3):
        torch.testing.assert_close(image[t.window][t.core_in_window], image[t.core])


def test_tile_zero_or_larger_than_the_image_is_one_window() -> None:
    assert plan_tiles(5, 9, 0, 4) == [Tile(0, 0, 5, 9, 0, 0, 5, 9)]
    assert plan_tiles(5, 9, 9, 4) == [Tile(0, 0, 5, 9, 0, 0, 5, 9)]
    assert len(plan_tiles(5, 9, 4, 0)) == 2 * 3


def test_plan_rejects_empty_images_and_negative_overlap() -> None:
    with pytest.raises(ValueError):
        plan_tiles(0, 5, 4, 1)
    with pytest.raises(ValueError):
        plan_tiles(5, 5, 4, -1)


def _box_blur(radius: int):
    """A size-preserving fn with receptive radius ``radius`` and zero padding, like a conv net."""

    def fn(batch: torch.Tensor) -> torch.Tensor:
        kernel = torch.ones(batch.shape[1], 1, 2 * radius + 1, 2 * radius + 1, dtype=batch.dtype)
        return torch.nn.functional.conv2d(batch, kernel, padding=radius, groups=batch.shape[1])

    return fn


@pytest.mark.parametrize("height,width,tile", [(37, 53, 8), (1, 40, 8), (40, 1, 16), (5, 6, 16), (16, 16, 16)])
def test_run_tiled_equals_whole_with_enough_overlap(height: int, width: int, tile: int) -> None:
    x = torch.rand(1, 2, height, width, dtype=torch.float64)
    fn = _box_blur(3)
    for batch_size in (1, 3, 100):
        tiled = run_tiled(x, fn, tile=tile, overlap=3, batch_size=batch_size)
        torch.testing.assert_close(tiled, fn(x), rtol=0, atol=1e-12)


def test_run_tiled_without_enough_overlap_differs() -> None:
    x = torch.rand(1, 1, 30, 30, dtype=torch.float64)
    fn = _box_blur(3)
    assert not torch.allclose(run_tiled(x, fn, tile=8, overlap=1, batch_size=4), fn(x))


def test_run_tiled_batches_reports_progress_and_allows_new_channel_count() -> None:
    calls: list[int] = []
    progress: list[tuple[int, int]] = []

    def fn(batch: torch.Tensor) -> torch.Tensor:
        calls.append(batch.shape[0])
        return batch.repeat(1, 3, 1, 1).half()

    x = torch.rand(1, 1, 20, 20)
    out = run_tiled(x, fn, tile=8, overlap=2, batch_size=4, on_tile=lambda d, t: progress.append((d, t)))
    assert calls == [4, 4, 1]
    assert progress == [(4, 9), (8, 9), (9, 9)]
    assert out.shape == (1, 3, 20, 20) and out.dtype == torch.float16
    torch.testing.assert_close(out[:, 2:3].float(), x.half().float())


def test_run_tiled_rejects_bad_input_and_shape_changing_fn() -> None:
    with pytest.raises(ValueError):
        run_tiled(torch.rand(2, 1, 8, 8), lambda b: b, tile=4, overlap=1, batch_size=1)
    with pytest.raises(ValueError):
        run_tiled(torch.rand(1, 1, 8, 8), lambda b: b, tile=4, overlap=1, batch_size=0)
    with pytest.raises(ValueError):
        run_tiled(torch.rand(1, 1, 8, 8), lambda b: b[..., 1:], tile=4, overlap=1, batch_size=1)
