"""The shipped weights, for real: checksums, loading, and measured quality on real images.

These run the actual files in ``weights/`` (never a mock) on real benchmark images, on
small crops so CI stays fast; the full tables are `redcli bench --check`'s job.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from redcli.cli.app import app
from redcli.degrade import add_gaussian_noise, bicubic_lr, bicubic_up, noise_seed
from redcli.hub import load_model
from redcli.images import read_image, write_image
from redcli.metrics import quantize, score_denoise, score_sr
from redcli.registry import load_registry, pick_denoiser
from redcli.restore import RestoreOptions, restore

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
DENOISERS = [e for e in load_registry() if e.meta.task == "denoise"]
UPSCALERS = [e for e in load_registry() if e.meta.task == "sr"]
PER_LEVEL_DENOISERS = [e for e in DENOISERS if e.meta.sigma_range[0] == e.meta.sigma_range[1]]
PER_SCALE_UPSCALERS = [e for e in UPSCALERS if len(e.meta.scales) == 1]

pytestmark = pytest.mark.integration


def test_at_least_one_denoiser_ships() -> None:
    assert DENOISERS, "weights/manifest.json lists no denoising model"


@pytest.mark.parametrize("entry", load_registry(), ids=lambda e: e.name)
def test_file_matches_manifest_and_rebuilds(entry) -> None:
    data = (WEIGHTS / entry.file).read_bytes()
    assert len(data) == entry.size and hashlib.sha256(data).hexdigest() == entry.sha256
    model, meta = load_model(WEIGHTS / entry.file)
    assert sum(p.numel() for p in model.parameters()) == entry.num_params == meta.arch.num_params
    assert (meta.arch, meta.task, meta.sigma_range, meta.scales) == (
        entry.meta.arch, entry.meta.task, entry.meta.sigma_range, entry.meta.scales)


def set12_crops(sigma: float, size: int = 96, names: tuple[str, ...] = ("01.png", "05.png", "08.png"),
                data_dir: Path = Path()) -> list[tuple[np.ndarray, np.ndarray]]:
    """(clean, noisy) pairs: ``size``-square crops of Set12 images with the benchmark's seeded noise at ``sigma``."""
    pairs = []
    for name in names:
        clean = read_image(data_dir / "set12" / name).pixels[64:64 + size, 64:64 + size]
        rng = np.random.default_rng(noise_seed(name, sigma))
        pairs.append((clean, add_gaussian_noise(clean, sigma, rng).astype(np.float32)))
    return pairs


def denoised_psnr(model, pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[float]:
    return [score_denoise(clean, restore(noisy, model, RestoreOptions(tile=0, device="cpu")))[0]
            for clean, noisy in pairs]


@pytest.mark.parametrize("entry", DENOISERS, ids=lambda e: e.name)
def test_denoiser_restores_real_noise_on_set12_crops(entry, data_dir: Path) -> None:
    """On 96×96 crops of three Set12 images at σ 25 (a per-level model: at its own σ), the model
    more than halves the noise power on every crop (> 3 dB) and gains well over that on average.

    An identity or broken model gains about 0 dB; a textured crop (01) gains least (the blind model:
    1.2 dB at σ 10, 4.3 at σ 25), weak noise least of all (blind model mean: 4.0 dB at σ 10, 7.9 at 25).
    """
    model, meta = load_model(WEIGHTS / entry.file)
    sigma = 25.0 if meta.covers(25.0) else meta.sigma_range[1]
    pairs = set12_crops(sigma, data_dir=data_dir)
    gains = [psnr - score_denoise(clean, noisy)[0] for psnr, (clean, noisy) in zip(denoised_psnr(model, pairs), pairs)]
    assert min(gains) > 0.5 and np.mean(gains) > 3.0, gains


@pytest.mark.parametrize("entry", PER_LEVEL_DENOISERS, ids=lambda e: e.name)
def test_per_level_denoiser_beats_the_blind_one_at_its_level(entry, data_dir: Path) -> None:
    """A per-level model is shipped only if it is better than the blind model at its own σ: here on
    128×128 crops of six Set12 images (mean PSNR; the full sets are in the manifest)."""
    sigma = entry.meta.sigma_range[0]
    pairs = set12_crops(sigma, 128, ("01.png", "02.png", "04.png", "05.png", "08.png", "11.png"), data_dir)
    blind = pick_denoiser(None)
    per_level = np.mean(denoised_psnr(load_model(WEIGHTS / entry.file)[0], pairs))
    assert per_level > np.mean(denoised_psnr(load_model(WEIGHTS / blind.file)[0], pairs)), blind.name


def test_quick_start_denoise_of_the_bundled_sample(tmp_path: Path) -> None:
    """The README's first command: the default model and colour policy clean the bundled sample.

    The sample has independent noise in R, G and B (σ 25), so chroma noise is half of it: the
    default ``--color rgb`` must remove it (``y`` gains under 1 dB in RGB PSNR here).
    """
    sample = Path(__file__).resolve().parents[1] / "samples"
    result = CliRunner().invoke(app, ["denoise", str(sample / "noisy_s25.png"), "-o", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    clean = quantize(read_image(sample / "clean.png").pixels)

    def rgb_psnr(path: Path) -> float:
        error = np.mean((clean - quantize(read_image(path).pixels)) ** 2)
        return float(10 * np.log10(255.0**2 / error))

    assert rgb_psnr(Path(record["output"])) > rgb_psnr(sample / "noisy_s25.png") + 5.0


def test_at_least_one_upscaler_ships() -> None:
    assert UPSCALERS, "weights/manifest.json lists no super-resolution model"


def set5_crops(scale: int, size: int = 96, names: tuple[str, ...] = ("baby.png", "butterfly.png", "head.png"),
               data_dir: Path = Path(), start: int = 96) -> list[tuple[np.ndarray, np.ndarray]]:
    """(hr, lr) pairs: ``size``-square crops of Set5 images from (``start``, ``start``) and their
    MATLAB-bicubic ×``scale`` reductions."""
    pairs = []
    for name in names:
        hr = read_image(data_dir / "set5" / name).pixels[start:start + size, start:start + size]
        pairs.append((hr, bicubic_lr(hr, scale).astype(np.float32)))
    return pairs


def upscaled_psnr(model, pairs: list[tuple[np.ndarray, np.ndarray]], scale: int) -> list[float]:
    return [score_sr(hr, restore(lr, model, RestoreOptions(scale=scale, tile=0, device="cpu")), scale)[0]
            for hr, lr in pairs]


@pytest.mark.parametrize("entry", UPSCALERS, ids=lambda e: e.name)
def test_upscaler_beats_bicubic_on_set5_crops(entry, data_dir: Path) -> None:
    """On 96×96 crops of three Set5 images, at every scale the model covers, it beats bicubic.

    The network starts from bicubic (residual output), so a broken model scores at or below it.
    The smooth crop (head) gains least: 0.2 dB at ×3 for the shipped model; butterfly about 5 dB.
    """
    model, meta = load_model(WEIGHTS / entry.file)
    for scale in meta.scales:
        pairs = set5_crops(scale, data_dir=data_dir)
        bicubic = [score_sr(hr, np.clip(bicubic_up(lr, scale), 0.0, 1.0), scale)[0] for hr, lr in pairs]
        gains = np.subtract(upscaled_psnr(model, pairs, scale), bicubic)
        assert min(gains) > 0.1 and np.mean(gains) > 1.0, (scale, gains)


@pytest.mark.parametrize("entry", PER_SCALE_UPSCALERS, ids=lambda e: e.name)
def test_per_scale_upscaler_beats_the_multi_scale_one_at_its_scale(entry, data_dir: Path) -> None:
    """A per-scale model is shipped only if it is better than the multi-scale model at its own
    scale: here on 192×192 crops of the five Set5 images (mean PSNR; the full sets are in the manifest)."""
    (scale,) = entry.meta.scales
    pairs = set5_crops(scale, 192, ("baby.png", "bird.png", "butterfly.png", "head.png", "woman.png"), data_dir, 24)
    multi = max((e for e in UPSCALERS if scale in e.meta.scales), key=lambda e: len(e.meta.scales))
    per_scale = np.mean(upscaled_psnr(load_model(WEIGHTS / entry.file)[0], pairs, scale))
    assert per_scale > np.mean(upscaled_psnr(load_model(WEIGHTS / multi.file)[0], pairs, scale)), multi.name


def test_upscale_command_defaults_to_the_shipped_upscaler(tmp_path: Path, data_dir: Path) -> None:
    """``redcli upscale`` with no --model picks the shipped upscaler and beats bicubic on real pixels.

    The input is an 8-bit PNG of a ×3-downscaled Set5 crop (colour), so this runs the whole path:
    decoding, model choice, luminance restoration with bicubic chroma, encoding.
    """
    image = read_image(data_dir / "set5" / "butterfly.png")
    hr = image.pixels[48:192, 48:192]
    lr = np.clip(bicubic_lr(hr, 3), 0.0, 1.0).astype(np.float32)
    write_image(tmp_path / "small.png", image.with_pixels(lr))
    result = CliRunner().invoke(app, ["upscale", str(tmp_path / "small.png"), "--scale", "3",
                                      "-o", str(tmp_path / "out"), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["model"] in {e.name for e in UPSCALERS} and record["scale"] == 3
    restored = read_image(record["output"]).pixels
    assert restored.shape == hr.shape
    decoded = read_image(tmp_path / "small.png").pixels
    bicubic = np.clip(bicubic_up(decoded, 3), 0.0, 1.0)
    assert score_sr(hr, restored, 3)[0] > score_sr(hr, bicubic, 3)[0] + 2.0
