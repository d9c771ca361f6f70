"""PSNR and SSIM as the super-resolution / denoising literature computes them.

Conventions (those of the SRCNN / VDSR / DnCNN evaluation code, which RED-Net's numbers follow):

- images are compared as 8-bit values: outputs are clipped to [0, 1], scaled by 255 and rounded
  (:func:`quantize`); all arithmetic is float64 on values in 0..255, peak L = 255;
- SR is scored on 8-bit luma: the quantized RGB goes through MATLAB's ``rgb2ycbcr`` *on uint8*,
  which rounds Y again to an integer in 16..235 (:func:`luma255`); grey images are scored on their
  grey values directly (MATLAB's evaluation scripts skip ``rgb2ycbcr`` for one-channel images;
  treating Set14's grey ``bridge`` as R=G=B colour would raise its bicubic PSNR by ~1.3 dB);
  ``scale`` pixels are shaved from every border. This is the variant that reproduces the published
  bicubic baselines (Set5 / Set14, x2-x4) to 0.01 dB and 0.0003 SSIM; keeping Y unrounded instead
  gives +0.03 dB on Set5 x2, rounding Y of the unclipped float output gives -0.01 dB / -0.0009
  SSIM on Set14 (see ``tests/test_protocol_bicubic.py``);
- denoising is scored on the grey image (or Y for colour), without a border crop;
- SSIM is Wang et al.'s: 11x11 Gaussian window with sigma 1.5 (normalised), K = (0.01, 0.03),
  statistics over 'valid' windows only (the window never leaves the image), mean of the SSIM map.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from redcli.color import rgb_to_y

PEAK = 255.0
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K = (0.01, 0.03)


def quantize(img01: NDArray) -> NDArray[np.float64]:
    """Image of any shape, nominally in [0, 1] -> float64 8-bit values 0..255.

    Clip to [0, 1], scale by 255, round half up (MATLAB's ``uint8(x * 255)`` on non-negative values).
    """
    return np.floor(np.clip(np.asarray(img01, dtype=np.float64), 0.0, 1.0) * PEAK + 0.5)


def _shave(img: NDArray[np.float64], border: int) -> NDArray[np.float64]:
    """Drop ``border`` pixels from each side of an (H, W) image."""
    if border < 0:
        raise ValueError(f"border must be >= 0, got {border}")
    if border == 0:
        return img
    return img[border:-border, border:-border]


def _pair(reference: NDArray, test: NDArray, border: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Validate two (H, W) images of equal shape; return both as float64 with the border shaved."""
    ref = np.asarray(reference, dtype=np.float64)
    tst = np.asarray(test, dtype=np.float64)
    if ref.ndim != 2 or ref.shape != tst.shape:
        raise ValueError(f"need two HW images of the same shape, got {ref.shape} and {tst.shape}")
    ref, tst = _shave(ref, border), _shave(tst, border)
    if ref.size == 0:
        raise ValueError(f"nothing left of a {reference.shape} image after a {border} px border crop")
    return ref, tst


def psnr(reference: NDArray, test: NDArray, *, border: int = 0) -> float:
    """PSNR in dB of two (H, W) images in 0..255 after shaving ``border`` px; ``inf`` when identical."""
    ref, tst = _pair(reference, test, border)
    mse = float(np.mean((ref - tst) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(PEAK**2 / mse)


def gaussian_window_1d(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> NDArray[np.float64]:
    """Normalised 1-D Gaussian, shape (size,); its outer product is MATLAB's ``fspecial('gaussian')``."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def _filter_valid(img: NDArray[np.float64], g: NDArray[np.float64]) -> NDArray[np.float64]:
    """Separable 'valid' filtering of an (H, W) image with the symmetric 1-D kernel ``g`` on both axes."""
    n = g.size
    h, w = img.shape
    rows = sum(g[k] * img[k : h - n + 1 + k] for k in range(n))
    return sum(g[k] * rows[:, k : w - n + 1 + k] for k in range(n))


def ssim_map(reference: NDArray, test: NDArray) -> NDArray[np.float64]:
    """Per-window SSIM of two (H, W) images in 0..255, shape (H - 10, W - 10), values in [-1, 1]."""
    ref, tst = _pair(reference, test, 0)
    if min(ref.shape) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW}, got {ref.shape}")
    g = gaussian_window_1d()
    c1 = (SSIM_K[0] * PEAK) ** 2
    c2 = (SSIM_K[1] * PEAK) ** 2
    mu1, mu2 = _filter_valid(ref, g), _filter_valid(tst, g)
    var1 = _filter_valid(ref * ref, g) - mu1 * mu1
    var2 = _filter_valid(tst * tst, g) - mu2 * mu2
    cov = _filter_valid(ref * tst, g) - mu1 * mu2
    numerator = (2.0 * mu1 * mu2 + c1) * (2.0 * cov + c2)
    denominator = (mu1 * mu1 + mu2 * mu2 + c1) * (var1 + var2 + c2)
    return numerator / denominator


def ssim(reference: NDArray, test: NDArray, *, border: int = 0) -> float:
    """Mean SSIM of two (H, W) images in 0..255 after shaving ``border`` px; 1.0 when identical."""
    ref, tst = _pair(reference, test, border)
    return float(np.mean(ssim_map(ref, tst)))


def luma255(img01: NDArray) -> NDArray[np.float64]:
    """(H, W, C) or (H, W) image in [0, 1] -> 8-bit luma (H, W), float64 integer values 0..255.

    C = 1 or HW: the quantized grey values; C = 3: MATLAB ``rgb2ycbcr`` of the quantized (uint8)
    RGB, Y rounded to an integer in 16..235.
    """
    q = quantize(img01)
    if q.ndim == 3 and q.shape[2] == 3:
        return quantize(rgb_to_y(q / PEAK))
    if q.ndim == 3 and q.shape[2] == 1:
        return q[:, :, 0]
    if q.ndim == 2:
        return q
    raise ValueError(f"need an HW, HW1 or HW3 image, got shape {q.shape}")


def score_sr(hr_rgb01: NDArray, out_rgb01: NDArray, scale: int) -> tuple[float, float]:
    """(PSNR dB, SSIM) of an SR output against its HR, both (H, W, C) in [0, 1]: 8-bit luma, ``scale`` px shaved."""
    ref, tst = luma255(hr_rgb01), luma255(out_rgb01)
    return psnr(ref, tst, border=scale), ssim(ref, tst, border=scale)


def score_denoise(clean01: NDArray, out01: NDArray) -> tuple[float, float]:
    """(PSNR dB, SSIM) of a denoised image against the clean one, both (H, W, C) in [0, 1]: 8-bit luma, no crop."""
    ref, tst = luma255(clean01), luma255(out01)
    return psnr(ref, tst), ssim(ref, tst)
