"""scripts/pack_training_data.py: packed folders train exactly like the originals."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from redcli.patches import Degradation, find_images, load_training_data, read_luma

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "pack_training_data.py"
spec = importlib.util.spec_from_file_location("pack_training_data", SCRIPT)
pack_training_data = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pack_training_data)


def make_folder(folder: Path, suffix: str, count: int, colour: bool) -> Path:
    """``count`` random images (RGB or grey) named 1, 10, 2, ... to check that the order survives."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(len(folder.name))
    for index in range(count):
        shape = (40 + index, 36, 3) if colour else (40, 36 + index)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / f"{index * 5 + 1}{suffix}")
    return folder


def test_packed_folders_hold_the_same_planes_in_the_same_order(tmp_path: Path) -> None:
    colour = make_folder(tmp_path / "src" / "colour", ".bmp", 5, colour=True)
    grey = make_folder(tmp_path / "src" / "grey", ".png", 4, colour=False)
    out = tmp_path / "packed"
    for folder in (colour, grey):
        assert pack_training_data.pack_folder(folder, out) > 0
    originals, packed = find_images([colour, grey]), find_images([out / "colour", out / "grey"])
    assert [p.stem for p in packed] == [p.stem for p in originals]
    for original, copy in zip(originals, packed):
        assert copy.suffix == ".png" and Image.open(copy).mode == "L"
        assert np.array_equal(read_luma(copy), read_luma(original))


def test_training_on_packed_folders_holds_out_the_same_images(tmp_path: Path) -> None:
    colour = make_folder(tmp_path / "src" / "colour", ".bmp", 7, colour=True)
    pack_training_data.pack_folder(colour, tmp_path / "packed")

    def load(folder: Path):
        return load_training_data([folder], Degradation(task="denoise", sigmas=(25.0,)), patch=16,
                                  val_fraction=0.0, val_count=2, val_crop=32, seed=3, workers=1)

    original, packed = load(colour), load(tmp_path / "packed" / "colour")
    assert [p.stem for p in packed.val_files] == [p.stem for p in original.val_files]
    for a, b in zip(original.val, packed.val):
        assert np.array_equal(a.target, b.target) and np.array_equal(a.input, b.input)
    assert all(np.array_equal(a, b) for a, b in zip(original.sampler.targets, packed.sampler.targets))


def test_a_folder_whose_names_would_collide_is_refused(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "mixed", ".png", 1, colour=False)
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(folder / "1.bmp")
    with pytest.raises(ValueError, match="share a name"):
        pack_training_data.pack_folder(folder, tmp_path / "packed")
