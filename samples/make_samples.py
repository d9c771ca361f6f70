"""Render the bundled sample images (synthetic: no benchmark or third-party photo is used).

    python samples/make_samples.py   # writes samples/clean.png and samples/noisy_s25.png

The scene (sky gradient, sun, layered hills, striped field, a checker sign) has smooth
areas, hard edges and fine periodic detail, so denoising and upscaling both show.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

HEIGHT, WIDTH, SIGMA, SEED = 192, 288, 25.0, 2016


def render_scene(height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """HWC float64 RGB in [0, 1]."""
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    sky = np.stack([0.35 + 0.4 * y, 0.55 + 0.3 * y, 0.95 - 0.2 * y], axis=-1)
    image = sky.copy()
    sun = (x - 0.78) ** 2 + ((y - 0.22) * height / width) ** 2 < 0.006
    image[sun] = [1.0, 0.86, 0.35]
    for level, colour, freq in ((0.55, (0.30, 0.45, 0.30), 3.0), (0.68, (0.20, 0.38, 0.18), 5.0)):
        hill = y > level - 0.08 * np.sin(2 * np.pi * freq * x + level * 10)
        image[hill] = colour
    field = y > 0.8
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * (x * 40 + y * 12))
    image[field] = np.stack([0.55 + 0.25 * stripes, 0.45 + 0.2 * stripes, 0.15 + 0.05 * stripes], axis=-1)[field]
    sign = (np.abs(x - 0.2) < 0.08) & (np.abs(y - 0.45) < 0.1)
    checker = ((x * 80).astype(int) + (y * 60).astype(int)) % 2
    image[sign] = np.where(checker[..., None], 0.95, 0.1)[sign]
    return np.clip(image, 0.0, 1.0)


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)


def main() -> None:
    here = Path(__file__).parent
    clean = render_scene()
    noisy = clean + np.random.default_rng(SEED).normal(0.0, SIGMA / 255.0, clean.shape)
    Image.fromarray(to_uint8(clean)).save(here / "clean.png", optimize=True)
    Image.fromarray(to_uint8(noisy)).save(here / "noisy_s25.png", optimize=True)


if __name__ == "__main__":
    main()
