"""Quality and speed benchmarks (library): protocol, model choice, --check logic, speed records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from redcli.bench import (
    BICUBIC, BenchOptions, ImageEvent, QualityResult, SpeedOptions, check_results, flops_per_pixel, run_quality,
    run_speed, to_grey,
)
from redcli.errors import ModelError, UsageError
from redcli.paper import bicubic_baseline, paper_denoise, paper_sr
from redcli.registry import Architecture
from zoo import BLIND, SR_MULTI, TINY, manifest_item, write_weights

def write_folder(folder: Path, *, colour: bool, count: int = 2, size: int = 24) -> Path:
    """A few smooth synthetic PNG images (8-bit) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for index in range(count):
        grey = 0.5 + 0.4 * np.sin(6 * xx + index) * np.cos(4 * yy)
        pixels = np.stack([grey, grey[::-1], grey.T], axis=-1) if colour else grey
        Image.fromarray(np.round(pixels * 255).astype(np.uint8)).save(folder / f"img{index}.png")
    return folder


@pytest.fixture()
def zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny registry (blind denoiser with recorded numbers, multi-scale SR) via $REDCLI_MANIFEST."""
    items = []
    for meta, metrics in ((BLIND, [_record("folder", 30.0, 25.0)]), (SR_MULTI, [])):
        data = write_weights(tmp_path / f"{meta.name}.safetensors", meta)
        items.append(manifest_item(meta, data, metrics))
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"models": items}), encoding="utf-8")
    monkeypatch.setenv("REDCLI_MANIFEST", str(manifest))
    monkeypatch.setenv("REDCLI_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def _record(dataset: str, sigma: float, psnr: float) -> dict:
    return {"dataset": dataset, "task": "denoise", "scale": None, "sigma": sigma, "ensemble": False,
            "psnr": psnr, "ssim": 0.5}


# --- published numbers ----------------------------------------------------------------------


def test_paper_numbers_by_depth_and_set() -> None:
    assert (paper_sr("set5", 2).psnr, paper_sr("Set5", 2, depth=10).psnr) == (37.66, 37.43)
    assert paper_sr("bsd100", 4, depth=12).source == "paper RED30"  # unreported depth: RED30
    assert paper_sr("set5", 8) is None and paper_sr("urban100", 2) is None
    assert paper_denoise("set12", 30).psnr == 29.17
    assert paper_denoise("bsd68", 50, single_model=True).source == "paper RED30 single (BSD200)"
    assert paper_denoise("set12", 25) is None and paper_denoise("myfolder", 30) is None
    assert bicubic_baseline("set14", 4).ssim == 0.7027 and bicubic_baseline("bsd100", 2) is None


# --- FLOPs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", [Architecture(30, 64, 1), Architecture(4, 4, 1), Architecture(10, 8, 3)])
def test_flops_per_pixel_is_twice_the_kernel_weights(arch: Architecture) -> None:
    from redcli.model import REDNet

    weights = sum(p.numel() for p in REDNet(arch.depth, arch.width, arch.channels).parameters() if p.dim() == 4)
    assert flops_per_pixel(arch) == 2 * weights


def test_flops_per_pixel_red30_closed_form() -> None:
    assert flops_per_pixel(Architecture(30, 64, 1)) == 2 * 9 * (64 + 28 * 64 * 64 + 64)


# --- quality --------------------------------------------------------------------------------


def test_to_grey_uses_full_range_luma() -> None:
    rgb = np.zeros((1, 2, 3), np.float32)
    rgb[0, 0, 0] = 1.0  # pure red
    rgb[0, 1, :] = 0.5  # mid grey
    grey = to_grey(rgb)
    assert grey.shape == (1, 2, 1) and grey.dtype == np.float32
    assert grey[0, 0, 0] == pytest.approx(0.298936, abs=1e-5) and grey[0, 1, 0] == pytest.approx(0.5, abs=1e-6)
    assert np.array_equal(to_grey(np.dstack([grey, grey])), grey)  # grey + alpha: alpha dropped


def test_bicubic_baseline_on_a_folder(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "imgs", colour=True)
    events: list[ImageEvent] = []
    results = run_quality(str(folder), BICUBIC, scales=(2, 3), ensemble=True, on_image=events.append)
    assert [(r.task, r.scale, r.sigma, r.images, r.model) for r in results] == \
        [("sr", 2, None, 2, BICUBIC), ("sr", 3, None, 2, BICUBIC)]
    for result in results:
        assert result.psnr == result.baseline_psnr and result.ssim == result.baseline_ssim
        assert not result.ensemble and result.reference is None  # nothing to ensemble; no paper numbers for a folder
        assert set(result.to_json()) >= {"dataset", "task", "scale", "sigma", "model", "ensemble", "psnr", "ssim",
                                         "images", "baseline_psnr", "baseline_ssim", "paper_psnr"}
    assert [(e.done, e.total) for e in events] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert events[0].output.shape == (24, 24, 3)  # 24 is a multiple of 2 and 3: no mod-crop


def test_denoise_is_deterministic_and_scores_the_noisy_input(zoo: Path, tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "grey", colour=False)
    model = str(zoo / f"{BLIND.name}.safetensors")
    first = run_quality(str(folder), model, sigmas=(30,))
    again = run_quality(str(folder), model, sigmas=(30,))
    assert first == again  # fixed noise seed per image and σ
    result = first[0]
    assert (result.task, result.sigma, result.scale, result.model) == ("denoise", 30.0, None, BLIND.name)
    assert 15 < result.baseline_psnr < 25  # σ = 30 noise on [0, 1]: about 18.6 dB
    assert [s.image for s in result.per_image] == ["img0", "img1"]


def test_clip_noise_changes_the_input(zoo: Path, tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "grey", colour=False)
    model = str(zoo / f"{BLIND.name}.safetensors")
    plain, clipped = (run_quality(str(folder), model, sigmas=(70,), options=BenchOptions(clip_noise=clip))[0]
                      for clip in (False, True))
    assert plain.baseline_psnr == clipped.baseline_psnr  # the score clips to 8 bits anyway
    assert plain.psnr != clipped.psnr  # but the network sees a different input


def test_registry_pick_per_task(zoo: Path, tmp_path: Path) -> None:
    sr = run_quality(str(write_folder(tmp_path / "c", colour=True)), None, scales=(2,),
                     options=BenchOptions(task="sr"))
    assert sr[0].model == SR_MULTI.name
    noisy = run_quality(str(write_folder(tmp_path / "g", colour=False)), None, sigmas=(10,),
                        options=BenchOptions(task="denoise"))
    assert noisy[0].model == BLIND.name


def test_model_and_task_mismatches_are_usage_errors(zoo: Path, tmp_path: Path) -> None:
    folder = str(write_folder(tmp_path / "g", colour=False))
    with pytest.raises(UsageError, match="bicubic"):
        run_quality(folder, BICUBIC, options=BenchOptions(task="denoise"))
    with pytest.raises(UsageError, match="--task"):
        run_quality(folder, None)
    with pytest.raises(UsageError, match="needs a sr model"):
        run_quality(folder, str(zoo / f"{BLIND.name}.safetensors"), options=BenchOptions(task="sr"))
    with pytest.raises(UsageError, match="σ"):
        run_quality(folder, BLIND.name, sigmas=(0,))


def test_no_shipped_upscaler_suggests_bicubic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = tmp_path / "empty.json"
    manifest.write_text('{"models": []}', encoding="utf-8")
    monkeypatch.setenv("REDCLI_MANIFEST", str(manifest))
    with pytest.raises(ModelError, match="--model bicubic"):
        run_quality(str(write_folder(tmp_path / "c", colour=True)), None, options=BenchOptions(task="sr"))


# --- --check --------------------------------------------------------------------------------


def _result(model: str, dataset: str, psnr: float, *, scale: int | None = None,
            sigma: float | None = None) -> QualityResult:
    task = "sr" if scale else "denoise"
    return QualityResult(dataset, task, scale, sigma, model, False, psnr, 0.9, 1, 20.0, 0.5)


def test_check_against_registry_and_published_bicubic(zoo: Path) -> None:
    outcomes = check_results([
        _result(BLIND.name, "folder", 24.96, sigma=30.0),   # 0.04 below: within tolerance
        _result(BLIND.name, "folder", 24.90, sigma=30.0),   # 0.10 below: fails
        _result(BLIND.name, "folder", 30.0, sigma=50.0),    # nothing recorded
        _result(BICUBIC, "set5", 33.60, scale=2),           # published 33.66
        _result("somebody/else.safetensors", "set5", 1.0, scale=2),
    ], tolerance=0.05)
    assert [o.passed for o in outcomes] == [True, False, None, False, None]
    assert outcomes[1].shortfall == pytest.approx(0.10)
    assert outcomes[3].expected.source == "published bicubic"


# --- speed ----------------------------------------------------------------------------------


def test_speed_records_are_sane(zoo: Path) -> None:
    options = SpeedOptions(device="cpu", tiles=(16, 32), image_size=32, memory_size=48, memory_tile=16)
    report = run_speed(str(zoo / f"{BLIND.name}.safetensors"), options)
    assert report.flops_per_pixel == flops_per_pixel(TINY) and report.model == BLIND.name
    assert [(r.kind, r.tile, r.size) for r in report.records] == [
        ("throughput", 16, 32), ("throughput", 32, 32), ("memory", 16, 24), ("memory", 16, 48)]
    assert [p.precision for p in report.peaks] == ["fp32"] and report.peaks[0].tflops > 0
    for record in report.to_json()["speed"]:
        assert set(record) >= {"device", "model", "tile", "precision", "mpix_per_s", "flop_fraction", "peak_mem_mb"}
        assert record["device"] == "cpu" and record["mpix_per_s"] > 0 and 0 < record["flop_fraction"] < 1.5
    assert all(r.peak_mem_mb is not None and r.peak_mem_mb >= 0 for r in report.records if r.kind == "memory")


def test_speed_without_models_times_an_untrained_red30(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from redcli import bench

    manifest = tmp_path / "empty.json"
    manifest.write_text('{"models": []}', encoding="utf-8")
    monkeypatch.setenv("REDCLI_MANIFEST", str(manifest))
    net, name, note = bench._speed_model(None)
    assert net.arch == Architecture(30, 64, 1) and "untrained" in name and "architecture only" in note
    with pytest.raises(UsageError):
        bench._speed_model(BICUBIC)


# --- the published bicubic baselines (real datasets) ------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize(("dataset", "scales"), [("set5", (2, 3, 4)), ("set14", (2,))])
def test_bicubic_reproduces_the_published_baselines(dataset: str, scales: tuple[int, ...], data_dir: Path) -> None:
    results = run_quality(dataset, BICUBIC, scales=scales, options=BenchOptions(data_dir=data_dir))
    for result in results:
        published = bicubic_baseline(dataset, result.scale)
        assert result.reference == published
        assert result.psnr == pytest.approx(published.psnr, abs=0.02)
        assert result.ssim == pytest.approx(published.ssim, abs=0.001)
