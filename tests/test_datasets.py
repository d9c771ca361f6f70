"""Tests for redcli.datasets: the benchmark registry, search order, verification and loading."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from redcli.datasets import (
    BENCHMARKS,
    candidate_dirs,
    find_dataset,
    get_benchmark,
    load_benchmark,
    load_folder,
    verify_dataset,
)
from redcli.errors import DatasetError

SIZES = {"set5": 5, "set14": 14, "bsd100": 100, "set12": 12, "bsd68": 68}


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ambient data dir; the cache lives in the test's tmp folder."""
    monkeypatch.delenv("REDCLI_DATA_DIR", raising=False)
    monkeypatch.setenv("REDCLI_CACHE_DIR", str(tmp_path / "cache"))


def _copy_set(data_dir: Path, name: str, target: Path) -> Path:
    """Copy the real set ``name`` into ``target`` and return it."""
    shutil.copytree(data_dir / name, target)
    return target


def test_registry() -> None:
    assert {name: len(spec.files) for name, spec in BENCHMARKS.items()} == SIZES
    assert {name: spec.task for name, spec in BENCHMARKS.items()} == {
        "set5": "sr", "set14": "sr", "bsd100": "sr", "set12": "denoise", "bsd68": "denoise",
    }
    for spec in BENCHMARKS.values():
        names = [file for file, _ in spec.files]
        assert names == sorted(names)
        assert all(len(sha) == 64 and int(sha, 16) >= 0 for _, sha in spec.files)
    assert get_benchmark("set14").files[2][0] == "bridge.png"
    with pytest.raises(DatasetError, match="unknown benchmark set 'set6'.*set5"):
        get_benchmark("set6")


def test_registry_matches_shared_checksums(data_dir: Path) -> None:
    listed = {}
    for line in (data_dir / "SHA256SUMS").read_text().splitlines():
        sha, path = line.split()
        folder, file = Path(path).parts[-2:]
        listed.setdefault(folder, {})[file] = sha
    for name, spec in BENCHMARKS.items():
        assert dict(spec.files) == listed[name]


def test_search_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data_dir: Path) -> None:
    cache = _copy_set(data_dir, "set5", tmp_path / "cache" / "datasets" / "set5")
    assert find_dataset("set5") == cache
    env = _copy_set(data_dir, "set5", tmp_path / "env" / "set5")
    monkeypatch.setenv("REDCLI_DATA_DIR", str(tmp_path / "env"))
    assert find_dataset("set5") == env
    flat = _copy_set(data_dir, "set5", tmp_path / "flat")
    assert find_dataset("set5", flat) == flat
    nested = _copy_set(data_dir, "set5", tmp_path / "flat" / "set5")
    assert find_dataset("set5", tmp_path / "flat") == nested
    assert candidate_dirs("set5", "x") == [Path("x/set5"), Path("x"), env, cache]


def test_not_found_names_every_place(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data_dir: Path) -> None:
    partial = _copy_set(data_dir, "set5", tmp_path / "given")
    (partial / "head.png").unlink()
    monkeypatch.setenv("REDCLI_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(DatasetError) as caught:
        find_dataset("set5", partial)
    message = str(caught.value)
    assert "\n" not in message
    for place in [partial / "set5", partial, tmp_path / "env" / "set5", tmp_path / "cache" / "datasets" / "set5"]:
        assert str(place) in message
    assert "head.png missing" in message and "no such folder" in message


def test_verify_reports_altered_and_missing(tmp_path: Path, data_dir: Path) -> None:
    folder = _copy_set(data_dir, "set5", tmp_path / "set5")
    verify_dataset("set5", folder)
    with (folder / "bird.png").open("ab") as stream:
        stream.write(b"\0")
    with pytest.raises(DatasetError, match=r"set5.*bird\.png is altered"):
        verify_dataset("set5", folder)
    with pytest.raises(DatasetError, match=r"bird\.png is altered"):
        load_benchmark("set5", folder)
    (folder / "baby.png").unlink()
    with pytest.raises(DatasetError, match=r"baby\.png is missing"):
        verify_dataset("set5", folder)


def test_load_benchmark(data_dir: Path) -> None:
    loaded = load_benchmark("set5", data_dir)
    assert [stem for stem, _ in loaded] == ["baby", "bird", "butterfly", "head", "woman"]
    for _, image in loaded:
        assert image.dtype == np.float32 and image.ndim == 3 and image.shape[2] == 3
        assert 0.0 <= image.min() and image.max() <= 1.0
    assert loaded[0][1].shape == (512, 512, 3)


def test_load_folder(tmp_path: Path, data_dir: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(data_dir / "set14" / "bridge.png", folder / "b.png")
    shutil.copy(data_dir / "set5" / "bird.png", folder / "a.PNG")
    (folder / "notes.txt").write_text("not an image")
    loaded = load_folder(folder)
    assert [stem for stem, _ in loaded] == ["a", "b"]
    assert loaded[0][1].shape[2] == 3 and loaded[1][1].shape[2] == 1
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="holds no images"):
        load_folder(tmp_path / "empty")
    with pytest.raises(DatasetError, match="not a folder"):
        load_folder(tmp_path / "absent")
