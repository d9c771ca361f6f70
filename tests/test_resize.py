"""Tests for redcli.resize: MATLAB bicubic imresize against hand values and a slow reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from redcli.resize import contributions, cubic, imresize, modcrop

# imresize([1 2 3 4], [1 8]) worked by hand from MATLAB's algorithm (taps mirrored at the borders)
RAMP_X2 = np.array([0.90625, 1.1796875, 1.7265625, 2.25, 2.75, 3.2734375, 3.8203125, 4.09375])


def _reference_kernel(x: float) -> float:
    """Keys cubic, a = -0.5, one value at a time."""
    x = abs(x)
    if x <= 1:
        return 1.5 * x**3 - 2.5 * x**2 + 1
    if x <= 2:
        return -0.5 * x**3 + 2.5 * x**2 - 4 * x + 2
    return 0.0


def _reflect(index: int, n: int) -> int:
    """1-based symmetric (edge-repeating) reflection of ``index`` into 1..n by repeated folding."""
    while index < 1 or index > n:
        index = 1 - index if index < 1 else 2 * n + 1 - index
    return index


def _reference_resize_1d(signal: np.ndarray, out_length: int, scale: float) -> np.ndarray:
    """Slow transcription of MATLAB's resampling along axis 0, one output sample at a time."""
    n = signal.shape[0]
    width = 4.0 / scale if scale < 1 else 4.0
    out = []
    for x in range(1, out_length + 1):
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        taps = range(left, left + math.ceil(width) + 2)
        if scale < 1:
            weights = [scale * _reference_kernel(scale * (u - j)) for j in taps]
        else:
            weights = [_reference_kernel(u - j) for j in taps]
        total = sum(weights)
        out.append(sum(w / total * signal[_reflect(j, n) - 1] for w, j in zip(weights, taps)))
    return np.array(out)


def _reference_imresize(img: np.ndarray, out_shape: tuple[int, int], scales: tuple[float, float]) -> np.ndarray:
    """Rows then columns with the slow 1-D reference (the order only changes rounding)."""
    rows = _reference_resize_1d(img, out_shape[0], scales[0])
    cols = _reference_resize_1d(np.swapaxes(rows, 0, 1), out_shape[1], scales[1])
    return np.swapaxes(cols, 0, 1)


def test_cubic_kernel_values() -> None:
    x = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, -0.5])
    expected = [1.0, 0.8671875, 0.5625, 0.2265625, 0.0, -0.0703125, -0.0625, -0.0234375, 0.0, 0.0, 0.5625]
    np.testing.assert_allclose(cubic(x), expected, atol=1e-15)


def test_ramp_x2_golden() -> None:
    ramp = np.tile(np.arange(1.0, 5.0), (4, 1))
    out = imresize(ramp, 2)
    assert out.shape == (8, 8)
    np.testing.assert_allclose(out, np.tile(RAMP_X2, (8, 1)), atol=1e-12)
    np.testing.assert_allclose(imresize(ramp.T, 2), np.tile(RAMP_X2, (8, 1)).T, atol=1e-12)


def test_2d_ramp_x2_golden() -> None:
    img = np.arange(1.0, 17.0).reshape(4, 4)
    expected = 4.0 * (RAMP_X2[:, None] - 1.0) + RAMP_X2[None, :]
    np.testing.assert_allclose(imresize(img, 2), expected, atol=1e-12)


@pytest.mark.parametrize("scale", [2, 3, 4, 1 / 2, 1 / 3, 1 / 4, 1.5, 0.37, 1])
def test_matches_slow_reference(scale: float) -> None:
    img = np.random.default_rng(7).random((13, 11, 2))
    out = imresize(img, scale)
    shape = (math.ceil(13 * scale), math.ceil(11 * scale))
    assert out.shape == shape + (2,)
    for c in range(2):
        ref = _reference_imresize(img[:, :, c], shape, (scale, scale))
        np.testing.assert_allclose(out[:, :, c], ref, rtol=0, atol=1e-10)


def test_output_shape_uses_per_axis_scales() -> None:
    img = np.random.default_rng(3).random((10, 12))
    out = imresize(img, output_shape=(7, 25))
    assert out.shape == (7, 25)
    np.testing.assert_allclose(out, _reference_imresize(img, (7, 25), (7 / 10, 25 / 12)), atol=1e-10)


@pytest.mark.parametrize("scale", [2, 3, 4, 1 / 2, 1 / 3, 1 / 4])
@pytest.mark.parametrize("shape", [(48, 36), (50, 37, 3)])
def test_output_shapes(scale: float, shape: tuple[int, ...]) -> None:
    out = imresize(np.zeros(shape, dtype=np.float32), scale)
    assert out.shape == (math.ceil(shape[0] * scale), math.ceil(shape[1] * scale)) + shape[2:]


@pytest.mark.parametrize("scale", [3, 1 / 3, 1.5, 0.37])
def test_constant_stays_constant(scale: float) -> None:
    out = imresize(np.full((9, 14, 3), 0.3), scale)
    np.testing.assert_allclose(out, 0.3, atol=1e-14)


def test_identity_at_scale_one() -> None:
    img = np.random.default_rng(5).random((6, 7, 3))
    np.testing.assert_allclose(imresize(img, 1), img, atol=1e-15)


def test_contribution_rows_sum_to_one_and_indices_in_range() -> None:
    for in_length, out_length, scale in [(5, 10, 2.0), (20, 5, 0.25), (3, 1, 1 / 3)]:
        weights, indices = contributions(in_length, out_length, scale)
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-14)
        assert indices.min() >= 0 and indices.max() < in_length
        assert np.all(np.any(weights != 0, axis=0))


def test_dtypes() -> None:
    img8 = (np.random.default_rng(2).random((8, 8, 3)) * 255).astype(np.uint8)
    out8 = imresize(img8, 0.5)
    assert out8.dtype == np.float64
    np.testing.assert_allclose(out8, imresize(img8.astype(np.float64), 0.5))
    assert imresize(img8.astype(np.float32) / 255, 2).dtype == np.float32


def test_argument_errors() -> None:
    img = np.zeros((4, 4))
    with pytest.raises(ValueError):
        imresize(img)
    with pytest.raises(ValueError):
        imresize(img, 2, output_shape=(8, 8))
    with pytest.raises(ValueError):
        imresize(img, 0)
    with pytest.raises(ValueError):
        imresize(np.zeros(4), 2)


def test_modcrop() -> None:
    img = np.zeros((13, 10, 3))
    assert modcrop(img, 3).shape == (12, 9, 3)
    assert modcrop(img[:, :, 0], 4).shape == (12, 8)
    assert modcrop(img, 1).shape == img.shape
    np.testing.assert_array_equal(modcrop(np.arange(25).reshape(5, 5), 2), np.arange(25).reshape(5, 5)[:4, :4])
