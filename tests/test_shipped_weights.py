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
from redcli.registry import load_registry
from redcli.restore import RestoreOptions, restore

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
DENOISERS = [e for e in load_registry() if e.meta.task == "denoise"]
UPSCALERS = [e for e in load_registry() if e.meta.task == "sr"]

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


@pytest.mark.parametrize("entry", DENOISERS, ids=lambda e: e.name)
def test_denoiser_restores_real_noise_on_set12_crops(entry, data_dir: Path) -> None:
    """On 96×96 crops of three Set12 images at σ 25 (a per-level model: at its own σ), the model
    gains well over the noisy input.

    An identity or broken model gains about 0 dB; a textured crop (01) gains least.
    """
    model, meta = load_model(WEIGHTS / entry.file)
    sigma = 25.0 if meta.covers(25.0) else meta.sigma_range[1]
    gains = []
    for name in ("01.png", "05.png", "08.png"):
        clean = read_image(data_dir / "set12" / name).pixels[64:160, 64:160]
        rng = np.random.default_rng(noise_seed(name, sigma))
        noisy = add_gaussian_noise(clean, sigma, rng).astype(np.float32)
        restored = restore(noisy, model, RestoreOptions(tile=0, device="cpu"))
        gains.append(score_denoise(clean, restored)[0] - score_denoise(clean, noisy)[0])
    assert min(gains) > 3.0 and np.mean(gains) > 5.0, gains


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


@pytest.mark.parametrize("entry", UPSCALERS, ids=lambda e: e.name)
def test_upscaler_beats_bicubic_on_set5_crops(entry, data_dir: Path) -> None:
    """On 96×96 crops of three Set5 images, at every scale the model covers, it beats bicubic.

    The network starts from bicubic (residual output), so a broken model scores at or below it.
    The smooth crop (head) gains least: 0.2 dB at ×3 for the shipped model; butterfly about 5 dB.
    """
    model, meta = load_model(WEIGHTS / entry.file)
    for scale in meta.scales:
        gains = []
        for name in ("baby.png", "butterfly.png", "head.png"):
            hr = read_image(data_dir / "set5" / name).pixels[96:192, 96:192]
            lr = bicubic_lr(hr, scale).astype(np.float32)
            restored = restore(lr, model, RestoreOptions(scale=scale, tile=0, device="cpu"))
            bicubic = np.clip(bicubic_up(lr, scale), 0.0, 1.0)
            gains.append(score_sr(hr, restored, scale)[0] - score_sr(hr, bicubic, scale)[0])
        assert min(gains) > 0.1 and np.mean(gains) > 1.0, (scale, gains)


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
