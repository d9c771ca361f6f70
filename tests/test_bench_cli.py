"""``redcli bench``: options, JSON/CSV/PNG outputs, --check exit codes, --speed and --train-speed records."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from redcli.cli.app import app
from redcli.train_speed import trainable_precisions
from test_bench import write_folder
from zoo import BLIND, manifest_item, write_weights

RECORD_KEYS = {"dataset", "task", "scale", "sigma", "model", "ensemble", "psnr", "ssim", "images"}


def invoke(*args: str) -> object:
    return CliRunner().invoke(app, ["bench", *args])


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "imgs", colour=True, count=2)


def register_blind(folder: Path, monkeypatch: pytest.MonkeyPatch, metrics: list[dict]) -> Path:
    """The tiny blind denoiser as a registered model with ``metrics``, via a manifest in ``folder``.

    Each call needs its own folder: manifests are cached per path.
    """
    folder.mkdir(parents=True)
    weights = folder / f"{BLIND.name}.safetensors"
    item = manifest_item(BLIND, write_weights(weights, BLIND), metrics)
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps({"models": [item]}), encoding="utf-8")
    monkeypatch.setenv("REDCLI_MANIFEST", str(manifest))
    monkeypatch.setenv("REDCLI_CACHE_DIR", str(folder / "cache"))
    return weights


def test_needs_a_dataset_or_speed() -> None:
    result = invoke()
    assert result.exit_code == 2 and "--dataset" in result.stderr and "--train-speed" in result.stderr


def test_bad_lists_and_task_are_usage_errors(folder: Path) -> None:
    assert invoke("-d", str(folder), "--model", "bicubic", "--scale", "2,x").exit_code == 2
    assert invoke("-d", str(folder), "--model", "bicubic", "--task", "deblur").exit_code == 2


def test_missing_dataset_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDCLI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("REDCLI_DATA_DIR", raising=False)
    result = invoke("-d", "set5", "--model", "bicubic", "--data-dir", str(tmp_path / "nowhere"))
    assert result.exit_code == 1 and "looked in" in result.stderr and str(tmp_path / "nowhere") in result.stderr


def test_json_is_alone_on_stdout_and_tables_go_to_stderr(folder: Path, tmp_path: Path) -> None:
    second = write_folder(tmp_path / "more", colour=False, count=1)
    result = invoke("-d", f"{folder},{second}", "-d", str(folder), "--model", "bicubic", "--scale", "2,4", "--json")
    assert result.exit_code == 0, result.stderr
    records = json.loads(result.stdout)["results"]
    assert [(r["dataset"], r["scale"]) for r in records] == [
        (str(folder), 2), (str(folder), 4), (str(second), 2), (str(second), 4)]  # repeated folder runs once
    assert all(RECORD_KEYS <= set(r) and r["sigma"] is None and r["images"] in (1, 2) for r in records)
    assert "PSNR / SSIM" in result.stderr


def test_tables_on_stdout_without_json(folder: Path) -> None:
    result = invoke("-d", str(folder), "--model", "bicubic", "--scale", "3", "-q")
    assert result.exit_code == 0
    assert "PSNR / SSIM" in result.stdout and "×3" in result.stdout and result.stderr == ""


def test_per_image_csv_and_saved_images(folder: Path, tmp_path: Path) -> None:
    table, saved = tmp_path / "scores.csv", tmp_path / "out"
    result = invoke("-d", str(folder), "--model", "bicubic", "--scale", "2", "--per-image", str(table),
                    "--save-images", str(saved), "-q")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    assert [(r["image"], r["scale"], r["sigma"]) for r in rows] == [("img0", "2", ""), ("img1", "2", "")]
    assert float(rows[0]["psnr"]) == float(rows[0]["baseline_psnr"])
    assert sorted(p.name for p in (saved / "imgs").iterdir()) == ["img0_x2.png", "img1_x2.png"]


def test_check_passes_and_fails_against_recorded_numbers(folder: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    weights = register_blind(tmp_path / "plain", monkeypatch, [])
    measured = json.loads(invoke("-d", str(folder), "-m", str(weights), "--sigma", "30", "--json", "-q").stdout)
    psnr = measured["results"][0]["psnr"]
    record = {"dataset": str(folder), "task": "denoise", "scale": None, "sigma": 30.0, "ensemble": False, "ssim": 0.5}

    register_blind(tmp_path / "close", monkeypatch, [{**record, "psnr": psnr + 0.04}])
    ok = invoke("-d", str(folder), "-m", BLIND.name, "--sigma", "30", "--check")
    assert ok.exit_code == 0, ok.stderr
    assert "ok" in ok.stdout

    register_blind(tmp_path / "higher", monkeypatch, [{**record, "psnr": psnr + 0.5}])
    low = invoke("-d", str(folder), "-m", BLIND.name, "--sigma", "30", "--check", "--tolerance", "0.1")
    assert low.exit_code == 1 and "below the recorded" in low.stderr and "BELOW" in low.stdout

    nothing = invoke("-d", str(folder), "-m", BLIND.name, "--sigma", "50", "--check")
    assert nothing.exit_code == 1 and "nothing to check" in nothing.stderr


def test_speed_json_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = register_blind(tmp_path / "zoo", monkeypatch, [])
    result = invoke("--speed", "-m", str(weights), "--device", "cpu", "--tile", "16", "--size", "32", "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert [(r["kind"], r["size"], r["tile"]) for r in document["speed"]] == [
        ("throughput", 16, 16), ("memory", 16, 16), ("memory", 32, 16)]
    assert document["matmul"][0]["precision"] == "fp32" and document["model"] == BLIND.name
    assert "speed" in result.stderr  # the table, on stderr with --json


def test_train_speed_times_the_models_architecture_per_precision(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    weights = register_blind(tmp_path / "zoo", monkeypatch, [])
    result = invoke("--train-speed", "-m", str(weights), "--device", "cpu", "--json")
    assert result.exit_code == 0, result.stderr
    records = json.loads(result.stdout)["train_speed"]
    assert [r["precision"] for r in records] == list(trainable_precisions(torch.device("cpu")))
    assert {(r["arch"], r["batch"], r["patch"], r["device"]) for r in records} == {(BLIND.arch.label, 16, 50, "cpu")}
    assert records[0]["speedup"] == 1.0 and all(r["patches_per_s"] > 0 for r in records)
    assert "training speed" in result.stderr  # the table, on stderr with --json
    fp32_only = json.loads(invoke("--train-speed", "-m", str(weights), "--device", "cpu", "--precision", "fp32",
                                  "--json").stdout)["train_speed"]
    assert [r["precision"] for r in fp32_only] == ["fp32"]


@pytest.mark.parametrize("args", [["--precision", "fp16"], ["--model", "bicubic"]])
def test_train_speed_usage_errors(args: list[str]) -> None:
    result = invoke("--train-speed", "--device", "cpu", *args)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
