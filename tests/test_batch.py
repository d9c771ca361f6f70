"""Input expansion, output planning and the threaded pipeline (no model involved)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from redcli.batch import InputFile, Job, OutputPolicy, expand_inputs, plan_output, run_pipeline
from redcli.errors import ImageReadError

SUFFIXES = frozenset({".png", ".jpg"})


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    for name in ("a.png", "b.jpg", "notes.txt", "sub/c.png", "sub/deep/d.png", "out/old.png", ".redcli-x.part.png"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    return tmp_path


def names(expansion) -> list[str]:
    return [str(item.relative) for item in expansion.files]


def test_folder_is_flat_unless_recursive(tree: Path) -> None:
    assert names(expand_inputs([str(tree)], recursive=False, suffixes=SUFFIXES)) == ["a.png", "b.jpg"]
    deep = expand_inputs([str(tree)], recursive=True, suffixes=SUFFIXES, exclude_dir=tree / "out")
    assert names(deep) == ["a.png", "b.jpg", "sub/c.png", "sub/deep/d.png"]  # output folder and temp files skipped


def test_globs_are_expanded_with_double_star_and_keep_layout(tree: Path) -> None:
    found = expand_inputs([f"{tree}/sub/**/*.png"], recursive=False, suffixes=SUFFIXES)
    assert names(found) == ["c.png", "deep/d.png"]


def test_duplicates_once_and_unmatched_reported(tree: Path) -> None:
    found = expand_inputs([str(tree / "a.png"), f"{tree}/*.png", str(tree / "a.png"), f"{tree}/*.gif"],
                          recursive=False, suffixes=SUFFIXES)
    assert [item.path.name for item in found.files] == ["a.png"]
    assert found.unmatched == (f"{tree}/*.gif",)


def test_explicit_file_is_taken_whatever_its_suffix(tree: Path) -> None:
    found = expand_inputs([str(tree / "notes.txt"), str(tree / "missing.png")], recursive=False, suffixes=SUFFIXES)
    assert [item.path.name for item in found.files] == ["notes.txt", "missing.png"]  # fail later, by name


def test_output_planning(tmp_path: Path) -> None:
    item = InputFile(tmp_path / "in" / "sub" / "c.png", Path("sub/c.png"))
    assert plan_output(item, OutputPolicy(None, "_x2", None)) == tmp_path / "in" / "sub" / "c_x2.png"
    assert plan_output(item, OutputPolicy(tmp_path / "out", "", ".tif")) == tmp_path / "out" / "sub" / "c.tif"


def test_pipeline_keeps_order_isolates_failures_and_overlaps_io(tmp_path: Path) -> None:
    jobs = [Job(InputFile(Path(f"f{i}"), Path(f"f{i}")), tmp_path / f"o{i}") for i in range(6)]
    threads: set[str] = set()
    saved: list[str] = []

    def load(job: Job) -> int:
        threads.add(threading.current_thread().name)
        if job.source.path.name == "f2":
            raise ImageReadError("f2: not an image")
        return int(job.source.path.name[1:])

    def process(job: Job, value: int) -> tuple[int, dict]:
        if value == 4:
            raise RuntimeError("out of memory")
        return value * 10, {"value": value}

    def save(job: Job, value: int) -> None:
        saved.append(job.output.name)

    results = list(run_pipeline(jobs, load, process, save))
    assert [r.job.source.path.name for r in results] == [f"f{i}" for i in range(6)]
    assert [r.status for r in results] == ["ok", "ok", "failed", "ok", "failed", "ok"]
    assert results[2].error == "f2: not an image"
    assert "f4" in results[4].error and "out of memory" in results[4].error
    assert sorted(saved) == ["o0", "o1", "o3", "o5"]
    assert threads and all(name.startswith("redcli-io") for name in threads)  # decoding off the main thread


def test_atomic_outputs_get_normal_permissions(tmp_path: Path) -> None:
    import os

    from redcli.atomic import atomic_output

    with atomic_output(tmp_path / "x.bin") as temp:
        temp.write_bytes(b"data")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "x.bin").stat().st_mode & 0o777 == 0o666 & ~mask


def test_atomic_outputs_get_normal_permissions_even_when_the_writer_replaces_the_file(tmp_path: Path) -> None:
    """Some writers (safetensors' save_file) create the file anew, with their own mode: the
    permissions are set after the writer is done."""
    import os

    from redcli.atomic import atomic_output

    with atomic_output(tmp_path / "x.bin") as temp:
        temp.unlink()
        descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(descriptor, b"data")
        os.close(descriptor)
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "x.bin").stat().st_mode & 0o777 == 0o666 & ~mask
