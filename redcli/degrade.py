"""The degradations shared by benchmarks and training: bicubic down/up-sampling and Gaussian noise.

Super-resolution (pre-upsampling, as SRCNN / VDSR / RED-Net):

    hr  = modcrop(hr, s)                 # ground truth, H and W multiples of s
    lr  = imresize(hr, 1 / s)            # MATLAB bicubic with antialiasing, float, NOT rounded
    up  = imresize(lr, s)                # same size as hr: the network input

The LR is computed from the whole RGB image and kept in floating point (no 8-bit rounding); since
``imresize`` is linear with weights summing to one and YCbCr is affine, this equals taking Y (and
Cb, Cr) first and resizing each. With identity restoration, this LR scored by
:func:`redcli.metrics.score_sr` reproduces the published bicubic baselines (rounding the LR to
8 bits would cost about 0.01 dB on Set14).

Denoising: ``noisy = clean + N(0, (sigma/255)^2)`` per pixel and channel, not clipped unless asked
(the RED-Net / DnCNN test code does not clip), drawn from a ``numpy.random.Generator`` seeded per
image with :func:`noise_seed` so every run and platform sees the same noise.
"""

from __future__ import annotations

import zlib

import numpy as np
from numpy.typing import NDArray

from redcli.resize import imresize, modcrop


def bicubic_lr(hr: NDArray, scale: int) -> NDArray:
    """HR (H, W[, C]) in [0, 1] -> LR of shape (H // scale, W // scale[, C]), float, unrounded, may overshoot [0, 1]."""
    return imresize(modcrop(hr, scale), 1.0 / scale)


def bicubic_up(lr: NDArray, scale: int) -> NDArray:
    """LR (h, w[, C]) -> bicubic upscale (h * scale, w * scale[, C]), float, not clipped."""
    return imresize(lr, float(scale))


def sr_input(hr: NDArray, scale: int) -> NDArray:
    """The network input for SR benchmarks: ``bicubic_up(bicubic_lr(hr, s), s)``, shape of ``modcrop(hr, s)``."""
    return bicubic_up(bicubic_lr(hr, scale), scale)


def add_gaussian_noise(
    img01: NDArray, sigma: float, rng: np.random.Generator, clip: bool = False
) -> NDArray:
    """Image in [0, 1] (any shape) plus i.i.d. N(0, (sigma/255)^2) noise; ``sigma`` in 8-bit units 0..255.

    Noise is drawn in float64 (``rng.standard_normal``); the result has the input's float dtype
    (float64 for integer input) and is clipped to [0, 1] only when ``clip`` is true.
    """
    if sigma < 0:
        raise ValueError(f"noise sigma must be >= 0, got {sigma}")
    x = np.asarray(img01, dtype=np.float64)
    noisy = x + rng.standard_normal(x.shape) * (sigma / 255.0)
    if clip:
        noisy = np.clip(noisy, 0.0, 1.0)
    out_dtype = img01.dtype if np.issubdtype(img01.dtype, np.floating) else np.dtype(np.float64)
    return noisy.astype(out_dtype, copy=False)


def noise_seed(image_name: str, sigma: float) -> int:
    """Stable seed in [0, 2**32) for an image name and noise level (CRC-32 of ``"name:sigma"``; 30 and 30.0 agree)."""
    return zlib.crc32(f"{image_name}:{float(sigma)!r}".encode("utf-8"))
