"""The noise estimator used by ``--sigma auto``."""

from __future__ import annotations

import numpy as np
import pytest

from redcli.noise_level import estimate_sigma


@pytest.mark.parametrize("sigma", [5.0, 15.0, 30.0, 50.0])
def test_estimates_white_noise_on_a_smooth_image(sigma: float) -> None:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:256, 0:256] / 256.0
    clean = 0.3 + 0.4 * x * y
    noisy = clean + rng.normal(0, sigma / 255.0, clean.shape)
    assert estimate_sigma(noisy) == pytest.approx(sigma, rel=0.06)


def test_clean_edges_read_near_zero_and_tiny_images_are_zero() -> None:
    steps = np.zeros((64, 64))
    steps[:, 32:] = 1.0
    assert estimate_sigma(steps) < 0.5
    assert estimate_sigma(np.zeros((1, 5))) == 0.0
