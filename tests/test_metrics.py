"""Tests for redcli.metrics: PSNR / SSIM golden values, the scikit-image cross-check, scoring helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from redcli.metrics import gaussian_window_1d, luma255, psnr, quantize, score_denoise, score_sr, ssim, ssim_map


def _pair(seed: int, shape: tuple[int, int] = (40, 33)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ref = np.round(rng.random(shape) * 255)
    test = np.clip(ref + rng.normal(0, 12, shape), 0, 255)
    return ref, test


def test_psnr_golden() -> None:
    ref = np.zeros((4, 4))
    assert psnr(ref, ref + 1) == pytest.approx(48.1308036086791, abs=1e-12)  # 20 log10 255
    test = ref.copy()
    test[1, 2] = 16  # MSE = 256 / 16
    assert psnr(ref, test) == pytest.approx(36.08960378211985, abs=1e-12)


def test_psnr_identical_is_inf_and_border_crop() -> None:
    ref, _ = _pair(0)
    assert psnr(ref, ref) == math.inf
    test = ref.copy()
    test[0, :] += 50
    test[:, -2:] += 50
    assert psnr(ref, test, border=2) == math.inf
    assert psnr(ref, test, border=1) < 100


def test_ssim_identical_is_one() -> None:
    ref, _ = _pair(1)
    assert ssim(ref, ref) == pytest.approx(1.0, abs=1e-12)


def test_ssim_constant_images_golden() -> None:
    # zero variances: SSIM = (2ab + C1) / (a^2 + b^2 + C1), C1 = (0.01 * 255)^2
    assert ssim(np.full((20, 20), 100.0), np.full((20, 20), 110.0)) == pytest.approx(0.9954764440915066, abs=1e-9)


def test_gaussian_window() -> None:
    g = gaussian_window_1d()
    assert g.shape == (11,)
    assert g.sum() == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_allclose(g, g[::-1])
    assert g[5] / g[6] == pytest.approx(math.exp(1 / (2 * 1.5**2)))


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_ssim_matches_skimage_on_the_valid_region(seed: int) -> None:
    # skimage filters the full image (reflect padding) then drops 5 px per side for the mean:
    # exactly the windows that lie inside the image, i.e. our 'valid' map.
    ref, test = _pair(seed)
    expected = structural_similarity(
        ref, test, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
    )
    assert ssim(ref, test) == pytest.approx(expected, abs=1e-10)
    assert ssim_map(ref, test).shape == (30, 23)


def test_ssim_border_crops_before_filtering() -> None:
    ref, test = _pair(5)
    assert ssim(ref, test, border=3) == pytest.approx(ssim(ref[3:-3, 3:-3], test[3:-3, 3:-3]), abs=1e-15)


def test_shape_errors() -> None:
    with pytest.raises(ValueError):
        psnr(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 4, 3)))
    with pytest.raises(ValueError):
        ssim(np.zeros((10, 30)), np.zeros((10, 30)))
    with pytest.raises(ValueError):
        psnr(np.zeros((4, 4)), np.zeros((4, 4)), border=2)


def test_quantize_clips_and_rounds_half_up() -> None:
    x = np.array([-0.1, 0.0, 0.5 / 255, 2.5 / 255, 128.5 / 255, 1.0, 1.3])
    np.testing.assert_array_equal(quantize(x), [0, 0, 1, 3, 129, 255, 255])
    assert quantize(x.astype(np.float32)).dtype == np.float64


def test_luma255_matches_matlab_uint8_rgb2ycbcr() -> None:
    # MATLAB: rgb2ycbcr(uint8(...)) rounds Y; red -> 81 (81.481), grey 128 -> 126 (125.93), white -> 235
    rgb = np.array([[[1.0, 0.0, 0.0], [128 / 255, 128 / 255, 128 / 255], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]])
    np.testing.assert_array_equal(luma255(rgb), [[81, 126, 235, 16]])
    grey = np.array([[[0.2], [0.7]]])
    np.testing.assert_array_equal(luma255(grey), quantize(grey[:, :, 0]))
    np.testing.assert_array_equal(luma255(grey[:, :, 0]), quantize(grey[:, :, 0]))
    with pytest.raises(ValueError):
        luma255(np.zeros((2, 2, 4)))


def test_score_sr_uses_luma_and_shaves_scale() -> None:
    rng = np.random.default_rng(6)
    hr = rng.random((30, 30, 3))
    out = hr.copy()
    out[:3] = 1.0 - out[:3]  # differences only inside the 3 px border
    assert score_sr(hr, out, 3) == (math.inf, pytest.approx(1.0))
    out = hr + 0.02
    p, s = score_sr(hr, out, 2)
    ref, test = luma255(hr), luma255(out)
    assert p == pytest.approx(psnr(ref, test, border=2)) and s == pytest.approx(ssim(ref, test, border=2))


def test_score_denoise_no_crop() -> None:
    clean = np.random.default_rng(8).random((25, 25, 1)).astype(np.float32)
    noisy = clean.copy()
    noisy[0, 0, 0] = 1.0 - noisy[0, 0, 0]
    p, s = score_denoise(clean, noisy)
    assert math.isfinite(p) and s < 1.0
    assert score_denoise(clean, clean) == (math.inf, pytest.approx(1.0))
