"""`redcli denoise` / `redcli upscale` end to end, over real files of every supported kind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms
from typer.testing import CliRunner

from redcli.cli.app import app
from redcli.images import read_image
from zoo import make_zoo

runner = CliRunner()


@pytest.fixture()
def zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A registry of tiny models, so the commands pick defaults exactly as with shipped ones."""
    manifest, _ = make_zoo(tmp_path / "zoo", tmp_path / "zoo")
    monkeypatch.setenv("REDCLI_MANIFEST", str(manifest))
    monkeypatch.setenv("REDCLI_CACHE_DIR", str(tmp_path / "cache"))
    return manifest


def _gradient(height: int, width: int, channels: int, maximum: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.linspace(0, maximum, width)[None, :, None] * np.ones((height, 1, channels))
    return np.clip(base + rng.normal(0, maximum / 12, base.shape), 0, maximum)


def make_inputs(folder: Path) -> dict[str, tuple[str, int]]:
    """Write one file per supported kind; returns name -> (expected mode family, bit depth)."""
    folder.mkdir(parents=True, exist_ok=True)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    rgb8 = _gradient(20, 27, 3, 255).astype(np.uint8)
    Image.fromarray(rgb8).save(folder / "rgb.png", icc_profile=srgb, dpi=(300, 300))
    Image.fromarray(_gradient(20, 27, 4, 255).astype(np.uint8), "RGBA").save(folder / "rgba.png")
    Image.fromarray(_gradient(21, 17, 1, 255)[..., 0].astype(np.uint8), "L").save(folder / "grey.png")
    Image.fromarray(_gradient(21, 17, 1, 65535)[..., 0].astype(np.uint16)).save(folder / "grey16.png")
    Image.fromarray(_gradient(20, 20, 2, 255).astype(np.uint8), "LA").save(folder / "greyalpha.png")
    Image.fromarray(rgb8).convert("P", palette=Image.Palette.ADAPTIVE).save(folder / "palette.png")
    Image.fromarray(rgb8).save(folder / "photo.jpg", quality=95)
    Image.fromarray(rgb8).save(folder / "lossless.webp", lossless=True)
    Image.fromarray(rgb8).save(folder / "bitmap.bmp")
    Image.fromarray(_gradient(19, 23, 1, 65535)[..., 0].astype(np.uint16)).save(folder / "grey16.tif")
    return {"rgb.png": (3, 8), "rgba.png": (4, 8), "grey.png": (1, 8), "grey16.png": (1, 16),
            "greyalpha.png": (2, 8), "palette.png": (3, 8), "photo.jpg": (3, 8), "lossless.webp": (3, 8),
            "bitmap.bmp": (3, 8), "grey16.tif": (1, 16)}


def make_broken(folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.png").write_text("not an image")
    good = folder / "whole.png"
    Image.fromarray(_gradient(40, 40, 3, 255).astype(np.uint8)).save(good)
    (folder / "truncated.png").write_bytes(good.read_bytes()[:200])
    good.unlink()
    frames = [Image.new("RGB", (8, 8), c) for c in ("red", "blue")]
    frames[0].save(folder / "anim.webp", save_all=True, append_images=frames[1:])
    return ["empty.png", "text.png", "truncated.png", "anim.webp"]


def test_denoise_every_kind_keeps_mode_depth_alpha_and_profile(zoo: Path, tmp_path: Path) -> None:
    kinds = make_inputs(tmp_path / "in")
    result = runner.invoke(app, ["denoise", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--sigma", "25"])
    assert result.exit_code == 0, result.output
    for name, (channels, depth) in kinds.items():
        source, output = read_image(tmp_path / "in" / name), read_image(tmp_path / "out" / name)
        assert output.pixels.shape == source.pixels.shape[:2] + (channels,), name
        assert output.bit_depth == depth, name
        assert not np.array_equal(output.pixels, source.pixels), f"{name} was not processed"
        if channels in (2, 4):  # alpha is carried untouched when denoising
            np.testing.assert_array_equal(output.pixels[..., -1], source.pixels[..., -1])
    rgb_in, rgb_out = read_image(tmp_path / "in" / "rgb.png"), read_image(tmp_path / "out" / "rgb.png")
    assert rgb_out.icc_profile == rgb_in.icc_profile and rgb_out.dpi == rgb_in.dpi


def test_upscale_multiplies_size_and_dpi_and_picks_the_per_scale_model(zoo: Path, tmp_path: Path) -> None:
    make_inputs(tmp_path / "in")
    result = runner.invoke(app, ["upscale", str(tmp_path / "in" / "rgb.png"), str(tmp_path / "in" / "rgba.png"),
                                 "--scale", "2", "--json"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["model"] for r in records} == {"tiny-sr-x2"} and {r["scale"] for r in records} == {2}
    out = read_image(tmp_path / "in" / "rgb_x2.png")
    assert out.pixels.shape == (40, 54, 3) and out.dpi == (600, 600)
    assert read_image(tmp_path / "in" / "rgba_x2.png").pixels.shape == (40, 54, 4)
    three = runner.invoke(app, ["upscale", str(tmp_path / "in" / "grey.png"), "--scale", "3", "--json"])
    assert json.loads(three.stdout)["model"] == "tiny-sr-multi"  # no ×3 model: the multi-scale one


def test_bad_files_fail_one_line_each_and_the_batch_goes_on(zoo: Path, tmp_path: Path) -> None:
    broken = make_broken(tmp_path / "in")
    Image.fromarray(_gradient(16, 16, 3, 255).astype(np.uint8)).save(tmp_path / "in" / "fine.png")
    result = runner.invoke(app, ["denoise", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--json"])
    assert result.exit_code == 1
    records = {Path(r["input"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert records["fine.png"]["status"] == "ok" and (tmp_path / "out" / "fine.png").exists()
    for name in broken:
        assert records[name]["status"] == "failed" and name in records[name]["error"]
        assert not (tmp_path / "out" / name).exists()
        assert sum(name in line for line in result.stderr.splitlines() if "error:" in line) == 1
    assert "Traceback" not in result.stderr
    assert "animated" in records["anim.webp"]["error"]


def test_existing_outputs_are_skipped_then_overwritten_on_request(zoo: Path, tmp_path: Path) -> None:
    make_inputs(tmp_path / "in")
    args = ["denoise", str(tmp_path / "in" / "grey.png"), "--json"]
    first = json.loads(runner.invoke(app, args).stdout)
    assert first["status"] == "ok" and first["output"].endswith("grey_denoised.png")
    output = Path(first["output"])
    output.write_bytes(b"keep me")
    assert json.loads(runner.invoke(app, args).stdout)["status"] == "skipped"
    assert output.read_bytes() == b"keep me"
    assert json.loads(runner.invoke(app, args + ["--overwrite"]).stdout)["status"] == "ok"
    assert read_image(output).pixels.shape == (21, 17, 1)


def test_an_output_never_replaces_an_input(zoo: Path, tmp_path: Path) -> None:
    make_inputs(tmp_path / "in")
    before = (tmp_path / "in" / "grey.png").read_bytes()
    result = runner.invoke(app, ["denoise", str(tmp_path / "in" / "grey.png"), "--suffix", "", "--overwrite"])
    assert result.exit_code == 1 and "would overwrite an input" in result.stderr
    assert (tmp_path / "in" / "grey.png").read_bytes() == before


def test_tiled_output_file_equals_whole_image_output(zoo: Path, tmp_path: Path) -> None:
    make_inputs(tmp_path / "in")
    source = str(tmp_path / "in" / "grey16.png")
    assert runner.invoke(app, ["denoise", source, "-o", str(tmp_path / "whole"), "--tile", "0"]).exit_code == 0
    assert runner.invoke(app, ["denoise", source, "-o", str(tmp_path / "tiled"), "--tile", "8"]).exit_code == 0
    whole = read_image(tmp_path / "whole" / "grey16.png").pixels
    tiled = read_image(tmp_path / "tiled" / "grey16.png").pixels
    # float results agree to ~1e-7; after 16-bit rounding a value on a .5 boundary may move one step
    assert np.abs(whole - tiled).max() <= 1.0 / 65535 + 1e-9
    assert np.mean(whole == tiled) > 0.98


def test_recursive_folders_keep_their_layout_and_formats_convert(zoo: Path, tmp_path: Path) -> None:
    make_inputs(tmp_path / "in" / "a" / "b")
    result = runner.invoke(app, ["denoise", str(tmp_path / "in"), "-r", "-o", str(tmp_path / "out"),
                                 "--format", "tiff", "--sigma", "auto", "--json"])
    assert result.exit_code == 1  # grey16.png and grey16.tif both want out/a/b/grey16.tif
    records = {Path(r["input"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert len(records) == 10 and "is also the output of" in records["grey16.tif"]["error"]
    assert all(r["status"] == "ok" and r["sigma"] is not None for n, r in records.items() if n != "grey16.tif")
    assert read_image(tmp_path / "out" / "a" / "b" / "grey16.tif").bit_depth == 16
    assert read_image(tmp_path / "out" / "a" / "b" / "photo.tif").format == "TIFF"


@pytest.mark.parametrize("args", [["denoise", "no-such-*.png"], ["denoise", "x.png", "--sigma", "loud"],
                                  ["upscale", "x.png", "--scale", "5"], ["denoise", "x.png", "--tile", "-3"],
                                  ["denoise", "x.png", "--device", "tpu"]])
def test_usage_errors_exit_2_without_traceback(zoo: Path, tmp_path: Path, args: list[str]) -> None:
    Image.new("L", (8, 8)).save(tmp_path / "x.png")
    result = subprocess.run([sys.executable, "-m", "redcli", *args], cwd=tmp_path, capture_output=True, text=True,
                            env=_env(zoo, tmp_path))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_json_goes_to_stdout_and_messages_to_stderr(zoo: Path, tmp_path: Path) -> None:
    Image.new("L", (8, 8), 100).save(tmp_path / "x.png")
    result = subprocess.run([sys.executable, "-m", "redcli", "denoise", "x.png", "--json"], cwd=tmp_path,
                            capture_output=True, text=True, env=_env(zoo, tmp_path))
    assert result.returncode == 0
    record = json.loads(result.stdout)
    assert set(record) >= {"input", "output", "status", "error", "seconds", "sigma", "model"}
    assert "done: 1 processed" in result.stderr


def _env(manifest: Path, tmp_path: Path) -> dict[str, str]:
    import os

    return {**os.environ, "REDCLI_MANIFEST": str(manifest), "REDCLI_CACHE_DIR": str(tmp_path / "cache")}


@pytest.mark.parametrize(("color", "expected"), [("rgb", 25.0), ("y", 25.0 * 0.574)])
def test_sigma_auto_reads_the_noise_on_the_planes_the_model_sees(zoo: Path, tmp_path: Path, color: str,
                                                                  expected: float) -> None:
    """The bundled sample has independent σ 25 noise in R, G and B: per channel that is 25, on the
    luminance about 0.574 × 25 (the BT.601 weights, scaled to Y's 219 levels)."""
    sample = Path(__file__).resolve().parents[1] / "samples" / "noisy_s25.png"
    result = runner.invoke(app, ["denoise", str(sample), "-o", str(tmp_path), "--color", color, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sigma"] == pytest.approx(expected, rel=0.1)
