"""Estimate the standard deviation of additive white Gaussian noise in an image.

Used by ``redcli denoise --sigma auto``. The estimator is the robust median of the
finest diagonal Haar wavelet coefficients (Donoho & Johnstone): for white noise of
standard deviation s those coefficients have standard deviation s, and image structure
(edges, texture) is sparse there, so ``median(|HH|) / 0.6745`` ignores most of it.
Real photographs with strong fine texture read a few levels high.
"""

from __future__ import annotations

import numpy as np

MAD_TO_SIGMA = 1.0 / 0.6744897501960817  # 1 / Phi^-1(3/4)


def estimate_sigma(grey: np.ndarray) -> float:
    """Noise standard deviation in 8-bit units (0..255) of a grey image.

    ``grey`` is HW (or HW1) float in [0, 1]; images smaller than 2×2 give 0.
    """
    plane = np.asarray(grey, dtype=np.float64).reshape(grey.shape[0], grey.shape[1]) * 255.0
    height, width = (plane.shape[0] // 2) * 2, (plane.shape[1] // 2) * 2
    if height == 0 or width == 0:
        return 0.0
    blocks = plane[:height, :width]
    diagonal = (blocks[0::2, 0::2] - blocks[0::2, 1::2] - blocks[1::2, 0::2] + blocks[1::2, 1::2]) / 2.0
    return float(np.median(np.abs(diagonal)) * MAD_TO_SIGMA)
