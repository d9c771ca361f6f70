"""The training loop: learning, exact resume, export, interruption, data-parallel under torchrun.

Everything trains tiny RED-Nets (depth 4, width 8) on tiny synthetic folders, on the CPU.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from redcli.atomic import is_temporary
from redcli.checkpoint import load_checkpoint
from redcli.cli.app import app
from redcli.devices import cpu_supports_bf16
from redcli.errors import DeviceError, TrainingError, UsageError
from redcli.hub import load_model
from redcli.train import TrainConfig, TrainProgress, initial_model, train

needs_cpu_bf16 = pytest.mark.skipif(not cpu_supports_bf16(), reason="this CPU has no native bf16 (AVX512-BF16 or AMX)")

TINY = ["--depth", "4", "--width", "8", "--patch", "16", "--batch", "4", "--val-count", "1", "--val-crop", "32",
        "--device", "cpu"]


def smooth_image(seed: int, size: int = 40) -> np.ndarray:
    """A smooth uint8 test picture: a tilted plane plus a low-frequency wave."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    fx, fy, phase = rng.uniform(0.5, 1.5, 3)
    img = 0.5 + 0.2 * (x - y) * rng.choice([-1, 1]) + 0.2 * np.sin(2 * np.pi * (fx * x + fy * y) + phase)
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


@pytest.fixture(autouse=True)
def one_thread(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Tiny models gain nothing from threads, and busy-waiting threads stall on a shared CPU."""
    threads = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("images")
    for i in range(4):
        Image.fromarray(smooth_image(i)).save(root / f"{i}.png")
    return root


def tiny(out: Path, folder: Path, **overrides: Any) -> TrainConfig:
    settings: dict[str, Any] = dict(task="denoise", data=(folder,), out=out, sigmas=(25.0,), depth=4, width=8,
                                    patch=16, batch=4, steps=12, lr=1e-3, val_count=1, val_crop=32, val_every=4,
                                    ckpt_every=4, log_every=3, device="cpu")
    return TrainConfig(**{**settings, **overrides})


def test_a_tiny_model_learns_to_denoise(tmp_path: Path, folder: Path) -> None:
    events: list[TrainProgress] = []
    result = train(tiny(tmp_path, folder, steps=300, batch=8, log_every=25, val_every=300, ckpt_every=300),
                   progress=events.append)
    losses = [e.loss for e in events if e.event == "log"]
    assert losses[-1] < losses[0] / 5  # from about (25/255)^2 = 0.0096
    assert result.val_psnr is not None and result.input_psnr is not None
    assert result.val_psnr > result.input_psnr + 4
    # every progress report after the start carries the current pace and, before the end, an ETA
    assert all(e.patches_per_s > 0 for e in events if e.event == "log")
    assert all(e.eta_s is not None and e.eta_s > 0 for e in events if e.event == "log" and e.step < 300)
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["event"] for r in records][:2] == ["start", "log"] and records[-1]["event"] == "end"


@pytest.mark.parametrize("degradation", [dict(sigmas=(), sigma_range=(0.0, 50.0)),
                                         dict(task="sr", sigmas=(), scales=(2, 3)),
                                         pytest.param(dict(precision="bf16"), marks=needs_cpu_bf16, id="bf16")])
def test_resume_continues_exactly(tmp_path: Path, folder: Path, degradation: dict[str, Any]) -> None:
    settings = dict(schedule="cosine", ema=0.9, clip=0.5, **degradation)
    train(tiny(tmp_path / "straight", folder, **settings))

    def stop_at_six(progress: TrainProgress) -> None:
        if progress.event == "log" and progress.step == 6:
            os.kill(os.getpid(), signal.SIGTERM)

    split = tiny(tmp_path / "split", folder, **settings)
    first = train(split, progress=stop_at_six)
    assert (first.stopped_by, first.step) == ("SIGTERM", 6)
    assert load_checkpoint(split.out / "checkpoint.pt")["step"] == 6
    assert train(replace(split, resume=True)).step == 12

    straight, resumed = (load_checkpoint(p / "checkpoint.pt") for p in (tmp_path / "straight", split.out))
    for part in ("model", "ema"):
        assert all(torch.equal(straight[part][k], resumed[part][k]) for k in straight[part])
    for index, moments in straight["optimizer"]["state"].items():
        assert all(torch.equal(v, resumed["optimizer"]["state"][index][k]) for k, v in moments.items())
    assert straight["scheduler"]["last_epoch"] == resumed["scheduler"]["last_epoch"] == 12
    assert straight["best_psnr"] == resumed["best_psnr"]


@needs_cpu_bf16
def test_bf16_on_the_cpu_trains_in_bf16_and_learns_as_well(tmp_path: Path, folder: Path) -> None:
    settings = dict(steps=300, batch=8, log_every=25, val_every=300, ckpt_every=300)
    fp32 = train(tiny(tmp_path / "fp32", folder, **settings))
    bf16 = train(tiny(tmp_path / "bf16", folder, precision="bf16", **settings))
    assert bf16.val_psnr is not None and fp32.val_psnr is not None and bf16.input_psnr is not None
    assert bf16.val_psnr > bf16.input_psnr + 4 and abs(bf16.val_psnr - fp32.val_psnr) < 0.5
    weights = {name: load_model(result.model_path)[0].state_dict() for name, result in (("fp32", fp32), ("bf16", bf16))}
    assert all(v.dtype == torch.float32 for v in weights["bf16"].values())  # master weights and export stay fp32
    assert not all(torch.equal(v, weights["bf16"][k]) for k, v in weights["fp32"].items())  # autocast took effect


def test_bf16_on_a_cpu_without_it_is_a_usage_error(tmp_path: Path, folder: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("redcli.train.cpu_supports_bf16", lambda: False)
    with pytest.raises(UsageError, match="bf16 on the CPU needs native bf16 instructions"):
        train(tiny(tmp_path / "run", folder, precision="bf16"))
    with pytest.raises(DeviceError, match="fp16 is CUDA-only"):
        train(tiny(tmp_path / "run", folder, precision="fp16"))
    assert not (tmp_path / "run").exists()


def test_export_loads_as_a_model_with_its_metadata(tmp_path: Path, folder: Path) -> None:
    result = train(tiny(tmp_path, folder, sigmas=(), sigma_range=(0.0, 50.0), ema=0.9))
    model, meta = load_model(result.model_path)
    assert (meta.task, meta.sigma_range, meta.arch.depth, meta.arch.width) == ("denoise", (0.0, 50.0), 4, 8)
    assert meta.extra["steps"] == "12" and "Adam lr 0.001" in meta.extra["recipe"]
    assert float(meta.extra["val_psnr"]) == pytest.approx(result.val_psnr, abs=1e-4)
    ema = load_checkpoint(result.checkpoint_path)["ema"]
    assert all(torch.equal(v, ema[k]) for k, v in model.state_dict().items())  # the EMA weights are exported
    assert result.best_path is not None and load_model(result.best_path)[1].extra["val_psnr"]


def test_fine_tuning_starts_from_the_given_weights(tmp_path: Path, folder: Path) -> None:
    base = train(tiny(tmp_path / "base", folder, sigmas=(), sigma_range=(0.0, 50.0), steps=40, lr=2e-3))
    config = tiny(tmp_path / "tuned", folder, init=str(base.model_path), steps=4, val_every=1)
    start = initial_model(config).state_dict()
    weights = load_model(base.model_path)[0].state_dict()
    assert all(torch.equal(start[k], weights[k]) for k in weights)  # not re-initialised, last layer not zeroed
    fresh = initial_model(tiny(tmp_path / "fresh", folder)).state_dict()
    assert not all(torch.equal(start[k], fresh[k]) for k in fresh)

    events: list[TrainProgress] = []
    tuned = train(config, progress=events.append)
    vals = [(e.step, e.val_psnr) for e in events if e.event == "val"]
    assert [step for step, _ in vals] == [0, 1, 2, 3, 4]  # the starting point is validated too
    assert tuned.input_psnr is not None and vals[0][1] > tuned.input_psnr + 1  # the base model already denoises
    assert tuned.best_psnr == max(psnr for _, psnr in vals)
    meta = load_model(tuned.model_path)[1]
    assert (meta.sigma_range, meta.extra["steps"]) == ((25.0, 25.0), "4")
    assert "initialised from model.safetensors" in meta.extra["recipe"]
    assert train(replace(config, resume=True, steps=6)).step == 6  # resume takes the checkpoint, not --init again


def test_a_fine_tune_draws_patches_of_its_own(tmp_path: Path, folder: Path) -> None:
    """Continuing a model with the same seed must not replay the patches it was trained on: the
    stream comes from the starting weights, and a resumed run keeps it."""
    base = train(tiny(tmp_path / "base", folder, steps=4))
    tuned = tiny(tmp_path / "tuned", folder, init=str(base.model_path), steps=4)
    train(tuned)
    streams = [json.loads((tmp_path / run / "config.json").read_text())["patch_stream"] for run in ("base", "tuned")]
    assert streams[0] == 0 and streams[1] > 0
    train(replace(tuned, resume=True, steps=6))
    assert json.loads((tuned.out / "config.json").read_text())["patch_stream"] == streams[1]
    with pytest.raises(TrainingError, match="patch_stream"):
        train(replace(tuned, resume=True, steps=8, patch_stream=streams[1] + 1))


def test_resuming_with_more_steps_stretches_the_cosine(tmp_path: Path, folder: Path) -> None:
    """A finished cosine run (rate 0) resumed with a larger --steps continues at the stretched schedule's rate."""
    config = tiny(tmp_path / "run", folder, steps=4, schedule="cosine", log_every=1)
    train(config)
    events: list[TrainProgress] = []
    train(replace(config, resume=True, steps=8), progress=events.append)
    rates = {e.step: e.lr for e in events if e.event in ("start", "log")}
    assert sorted(rates) == [4, 5, 6, 7, 8]
    for step, rate in rates.items():
        assert rate == pytest.approx(config.lr * 0.5 * (1 + math.cos(math.pi * step / 8)), abs=1e-12)


def test_fine_tuning_needs_the_same_architecture(tmp_path: Path, folder: Path) -> None:
    base = train(tiny(tmp_path / "base", folder, steps=2))
    with pytest.raises(UsageError, match="--init .* is a RED4/w8/1ch RED-Net .*pass --depth 4 --width 8"):
        train(tiny(tmp_path / "wider", folder, init=str(base.model_path), width=16))
    result = CliRunner().invoke(app, ["train", "--task", "denoise", "--sigma", "25", "--data", str(folder), *TINY,
                                      "--init", "no-such-model", "--out", str(tmp_path / "run")])
    assert result.exit_code != 0 and "no-such-model" in result.output
    assert "Traceback" not in result.output


def test_runs_are_not_overwritten_and_resume_checks_settings(tmp_path: Path, folder: Path) -> None:
    config = tiny(tmp_path / "run", folder, steps=4)
    train(config)
    with pytest.raises(TrainingError, match="already holds a training run"):
        train(config)
    with pytest.raises(TrainingError, match="different settings.*lr"):
        train(replace(config, resume=True, lr=0.1))
    with pytest.raises(TrainingError, match="no checkpoint"):
        train(replace(config, out=tmp_path / "other", resume=True))
    assert train(replace(config, resume=True, steps=6)).step == 6
    with pytest.raises(UsageError, match="milestones"):
        tiny(tmp_path, folder, schedule="step")


def test_divergence_stops_before_a_checkpoint_is_written(tmp_path: Path, folder: Path) -> None:
    with pytest.raises(TrainingError, match="diverged"):
        train(tiny(tmp_path, folder, lr=1e9, steps=6, log_every=3))
    assert not (tmp_path / "checkpoint.pt").exists()


def test_cli_trains_with_several_folders_and_reports_json(tmp_path: Path, folder: Path) -> None:
    second = tmp_path / "more"
    second.mkdir()
    Image.fromarray(smooth_image(9)).save(second / "9.png")
    args = ["train", "--task", "denoise", "--sigma", "15,25", "--data", str(folder), str(second), *TINY,
            "--steps", "4", "--val-every", "2", "--ckpt-every", "2", "--out", str(tmp_path / "run"), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["train_images"] + summary["val_images"] == 5 and summary["step"] == 4
    assert load_model(summary["model_path"])[1].sigma_range == (15.0, 25.0)
    assert "torchrun" in CliRunner().invoke(app, ["train", "--help"]).output


@pytest.mark.parametrize("args", [["--task", "sr"], ["--task", "denoise", "--sigma-range", "5"],
                                  ["--task", "denoise", "--sigma", "a"], ["--sigma", "5"],
                                  ["--task", "sr", "--scales", "2.5"],
                                  ["--task", "sr", "--scales", "2", "--sigma", "5"]])
def test_cli_usage_errors_exit_2(tmp_path: Path, folder: Path, args: list[str]) -> None:
    result = CliRunner().invoke(app, ["train", "--data", str(folder), "--out", str(tmp_path), *args])
    assert result.exit_code == 2, result.output


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "redcli", "train", "--task", "denoise", "--sigma", "25", *TINY, *args]


@pytest.mark.parametrize(("signal_number", "exit_code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_saves_a_usable_checkpoint_and_no_partial_file(tmp_path: Path, folder: Path, signal_number: int,
                                                                exit_code: int) -> None:
    out = tmp_path / "run"
    process = subprocess.Popen(command("--data", str(folder), "--steps", "100000", "--ckpt-every", "3",
                                       "--val-every", "0", "--out", str(out)),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not (out / "checkpoint.pt").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal_number)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == exit_code, stderr
    assert f"stopped by {signal.Signals(signal_number).name}" in stderr
    step = load_checkpoint(out / "checkpoint.pt")["step"]
    assert 3 <= step < 100000
    assert load_model(out / "model.safetensors")[1].extra["steps"] == str(step)
    assert not [p for p in out.iterdir() if is_temporary(p)]


def test_torchrun_two_processes_on_the_cpu(tmp_path: Path, folder: Path) -> None:
    out = tmp_path / "ddp"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    args = command("--data", str(folder), "--steps", "6", "--ckpt-every", "3", "--val-every", "3", "--out", str(out),
                   "--json")[1:]
    done = subprocess.run(launcher + args, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(done.stdout.strip().splitlines()) == 1  # only rank 0 reports
    checkpoint = load_checkpoint(out / "checkpoint.pt")
    assert (checkpoint["step"], checkpoint["world_size"]) == (6, 2)
    events = [json.loads(line)["event"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert events.count("start") == 1 and events.count("end") == 1
    assert load_model(out / "model.safetensors")[0].arch.depth == 4


def test_exported_model_drives_the_denoise_command(tmp_path: Path, folder: Path) -> None:
    """`redcli train` output is directly usable as `redcli denoise --model PATH` (architecture from metadata)."""
    from typer.testing import CliRunner

    from redcli.cli.app import app

    train(tiny(tmp_path / "run", folder, steps=8))
    weights = tmp_path / "run" / "model.safetensors"
    result = CliRunner().invoke(app, ["denoise", str(folder / "0.png"), "-o", str(tmp_path / "out"),
                                      "--model", str(weights), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["status"] == "ok" and record["model"] == str(weights)
    restored = np.asarray(Image.open(tmp_path / "out" / "0.png"))
    assert restored.shape == smooth_image(0).shape and not np.array_equal(restored, smooth_image(0))
