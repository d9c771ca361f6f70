"""Training data: file discovery, luma, split, patch pairs, validation pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from redcli import patches
from redcli.color import rgb_to_y
from redcli.degrade import sr_input
from redcli.errors import DatasetError, UsageError
from redcli.patches import (
    Degradation, build_sampler, build_val, dihedral, find_images, load_training_data, read_luma, split_files,
    step_rng,
)


def write_png(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def random_plane(seed: int, height: int, width: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)


def test_find_images_is_recursive_sorted_and_ignores_other_files(tmp_path: Path) -> None:
    write_png(tmp_path / "b.png", random_plane(0, 8, 8))
    write_png(tmp_path / "sub" / "a.PNG", random_plane(1, 8, 8))
    (tmp_path / "notes.txt").write_text("not an image")
    assert [p.relative_to(tmp_path).as_posix() for p in find_images([tmp_path])] == ["b.png", "sub/a.PNG"]
    with pytest.raises(DatasetError, match="no such training folder"):
        find_images([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no image files"):
        find_images([tmp_path / "empty"])


def test_read_luma_keeps_grey_and_takes_y_of_colour(tmp_path: Path) -> None:
    grey = random_plane(2, 6, 7)
    assert np.array_equal(read_luma(write_png(tmp_path / "g.png", grey)), grey)
    rgb = np.random.default_rng(3).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    expected = np.rint(rgb_to_y(rgb.astype(np.float32) / 255.0) * 255.0).astype(np.uint8)
    assert np.array_equal(read_luma(write_png(tmp_path / "c.png", rgb)), expected)
    rgba = np.dstack([rgb, np.full((6, 7), 9, np.uint8)])
    assert np.array_equal(read_luma(write_png(tmp_path / "a.png", rgba)), expected)


def test_split_is_deterministic_disjoint_and_keeps_a_training_image() -> None:
    files = [Path(f"{i:02d}.png") for i in range(40)]
    train, val = split_files(files, fraction=0.1, count=None, seed=5)
    assert len(val) == 4 and set(train).isdisjoint(val) and sorted(train + val) == files
    assert split_files(files, fraction=0.1, count=None, seed=5) == (train, val)
    assert split_files(files, fraction=0.1, count=None, seed=6)[1] != val
    assert len(split_files(files, fraction=0.0, count=3, seed=0)[1]) == 3
    assert len(split_files(files[:3], fraction=0.01, count=None, seed=0)[1]) == 1  # at least one
    assert split_files(files, fraction=0.0, count=None, seed=0) == (files, [])
    with pytest.raises(UsageError, match="none would be left"):
        split_files(files[:2], fraction=0.0, count=2, seed=0)


def test_degradation_checks_and_levels() -> None:
    blind = Degradation("denoise", sigma_range=(0.0, 80.0))
    assert blind.covered_sigmas == (0.0, 80.0)
    assert blind.val_levels() == (10.0, 30.0, 50.0, 70.0)
    rng = np.random.default_rng(0)
    draws = [blind.draw_sigma(rng) for _ in range(200)]
    assert 0 <= min(draws) < 10 and 70 < max(draws) <= 80
    assert Degradation("denoise", sigmas=(50.0, 10.0)).covered_sigmas == (10.0, 50.0)
    assert Degradation("sr", scales=(2, 4)).val_levels() == (2.0, 4.0)
    for bad in (dict(task="denoise"), dict(task="denoise", sigmas=(10.0,), sigma_range=(0.0, 5.0)),
                dict(task="denoise", sigmas=(300.0,)), dict(task="sr"), dict(task="sr", scales=(1,)),
                dict(task="sr", scales=(2,), sigmas=(5.0,)), dict(task="deblur")):
        with pytest.raises(UsageError):
            Degradation(**bad)  # type: ignore[arg-type]


def test_dihedral_gives_the_eight_distinct_transforms() -> None:
    square = np.arange(9).reshape(3, 3)
    assert len({dihedral(square, k).tobytes() for k in range(8)}) == 8
    assert np.array_equal(dihedral(square, 0), square)


def test_denoise_batches_depend_only_on_seed_rank_step_stream() -> None:
    sampler = build_sampler([random_plane(4, 20, 30), random_plane(5, 12, 12)],
                            Degradation("denoise", sigmas=(25.0,)), patch=8, workers=1)
    inputs, targets = sampler.draw(step_rng(1, 0, 7), 64)
    assert inputs.shape == targets.shape == (64, 1, 8, 8) and inputs.dtype == targets.dtype == np.float32
    again = sampler.draw(step_rng(1, 0, 7), 64)
    assert np.array_equal(inputs, again[0]) and np.array_equal(targets, again[1])
    assert not np.array_equal(targets, sampler.draw(step_rng(1, 1, 7), 64)[1])  # another rank
    assert not np.array_equal(targets, sampler.draw(step_rng(1, 0, 7, stream=3), 64)[1])  # another stream
    assert np.std(inputs - targets) * 255 == pytest.approx(25.0, rel=0.05)
    assert np.all(np.round(targets * 255) == targets * 255)  # clean patches are 8-bit values


def test_sr_pairs_are_cut_at_the_same_place(tmp_path: Path) -> None:
    plane = random_plane(6, 23, 25)
    sampler = build_sampler([plane], Degradation("sr", scales=(2, 3)), patch=6, workers=1)
    stored = {s: sampler.inputs[s][0] for s in (2, 3)}
    assert stored[2].dtype == np.float16 and stored[3].shape == (21, 24)
    np.testing.assert_allclose(stored[3], sr_input(plane.astype(np.float32) / 255, 3), atol=1e-3)
    inputs, targets = sampler.draw(step_rng(0, 0, 0), 12)
    for x, y in zip(inputs[:, 0], targets[:, 0], strict=True):
        clean = np.rint(y * 255)
        places = [(k, r, c) for k in range(8) for r in range(18) for c in range(20)
                  if np.array_equal(dihedral(plane[r:r + 6, c:c + 6], k), clean)]
        assert any(np.array_equal(dihedral(stored[s][r:r + 6, c:c + 6], k).astype(np.float32), x)
                   for k, r, c in places for s in (2, 3))


def test_images_smaller_than_a_patch_are_dropped() -> None:
    sampler = build_sampler([random_plane(7, 10, 10), random_plane(8, 40, 9)], Degradation("denoise", sigmas=(5.0,)),
                            patch=10, workers=1)
    assert len(sampler.targets) == 1
    with pytest.raises(DatasetError, match="at least 10"):
        build_sampler([random_plane(7, 10, 10)], Degradation("sr", scales=(3,)), patch=10, workers=1)


def test_validation_pairs_are_fixed_cropped_and_scored(tmp_path: Path) -> None:
    planes = [random_plane(9, 40, 50), random_plane(10, 30, 31)]
    files = [Path("a.png"), Path("b.png")]
    denoise = Degradation("denoise", sigma_range=(0.0, 40.0))
    first = build_val(files, planes, denoise, crop=24, seed=3)
    again = build_val(files, planes, denoise, crop=24, seed=3)
    assert [v.level for v in first] == [5.0, 15.0]
    assert first[0].input.shape == first[0].target.shape == (24, 24)
    assert np.array_equal(first[0].target, planes[0][8:32, 13:37])
    assert all(np.array_equal(a.input, b.input) for a, b in zip(first, again, strict=True))
    sr = build_val(files, planes, Degradation("sr", scales=(3,)), crop=100, seed=0)
    assert sr[1].input.shape == sr[1].target.shape == (30, 30) and sr[1].border == 3
    assert patches.val_psnr(first, [v.target / 255.0 for v in first]) == np.inf


def test_load_training_data_holds_out_images_and_refuses_test_sets(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(5):
        write_png(tmp_path / "data" / f"{i}.png", random_plane(i, 20, 20))
    data = load_training_data([tmp_path / "data"], Degradation("denoise", sigmas=(30.0,)), patch=8,
                              val_fraction=0.0, val_count=2, val_crop=16, seed=0, workers=2)
    assert len(data.sampler.targets) == 3 and len(data.val) == 2 and data.skipped == 0
    assert data.input_psnr == pytest.approx(18.6, abs=0.5)  # σ = 30 noise, quantized
    test_file = tmp_path / "data" / "3.png"
    fake = patches.BENCHMARKS["set12"]
    fake_sets = {"set12": type(fake)("set12", "denoise", (("07.png", patches.sha256_file(test_file)),))}
    monkeypatch.setattr(patches, "BENCHMARKS", fake_sets)
    with pytest.raises(DatasetError, match="benchmark test image set12/07.png"):
        load_training_data([tmp_path / "data"], Degradation("denoise", sigmas=(30.0,)), patch=8,
                           val_fraction=0.0, val_count=1, val_crop=16, seed=0)
