"""Tests for redcli.color: MATLAB rgb2ycbcr / ycbcr2rgb golden values and round trips."""

from __future__ import annotations

import numpy as np
import pytest

from redcli.color import rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb

# MATLAB: rgb2ycbcr(reshape([r g b], 1, 1, 3)) * 255 for double input
GOLDEN = [
    ((0.0, 0.0, 0.0), (16.0, 128.0, 128.0)),
    ((1.0, 1.0, 1.0), (235.0, 128.0, 128.0)),
    ((1.0, 0.0, 0.0), (81.481, 90.203, 240.0)),
    ((0.0, 1.0, 0.0), (144.553, 53.797, 34.214)),
    ((0.0, 0.0, 1.0), (40.966, 240.0, 109.786)),
    ((0.5, 0.5, 0.5), (125.5, 128.0, 128.0)),
]


@pytest.mark.parametrize(("rgb", "ycbcr255"), GOLDEN)
def test_rgb_to_ycbcr_golden(rgb: tuple[float, ...], ycbcr255: tuple[float, ...]) -> None:
    out = rgb_to_ycbcr(np.array(rgb, dtype=np.float64).reshape(1, 1, 3))
    np.testing.assert_allclose(out[0, 0] * 255.0, ycbcr255, atol=1e-10)
    np.testing.assert_allclose(rgb_to_y(np.array(rgb).reshape(1, 1, 3))[0, 0] * 255, ycbcr255[0], atol=1e-10)


@pytest.mark.parametrize(("rgb", "ycbcr255"), GOLDEN)
def test_ycbcr_to_rgb_golden(rgb: tuple[float, ...], ycbcr255: tuple[float, ...]) -> None:
    out = ycbcr_to_rgb(np.array(ycbcr255, dtype=np.float64).reshape(1, 1, 3) / 255.0)
    np.testing.assert_allclose(out[0, 0], rgb, atol=1e-12)


def test_round_trip_and_ranges() -> None:
    rgb = np.random.default_rng(0).random((17, 13, 3))
    ycbcr = rgb_to_ycbcr(rgb)
    assert ycbcr.shape == rgb.shape
    assert ycbcr[..., 0].min() >= 16 / 255 and ycbcr[..., 0].max() <= 235 / 255
    assert ycbcr[..., 1:].min() >= 16 / 255 and ycbcr[..., 1:].max() <= 240 / 255
    np.testing.assert_allclose(ycbcr_to_rgb(ycbcr), rgb, atol=1e-12)
    np.testing.assert_allclose(rgb_to_y(rgb), ycbcr[..., 0], rtol=0, atol=1e-15)


def test_float32_round_trip_keeps_dtype() -> None:
    rgb = np.random.default_rng(1).random((8, 9, 3)).astype(np.float32)
    ycbcr = rgb_to_ycbcr(rgb)
    assert ycbcr.dtype == np.float32
    assert rgb_to_y(rgb).dtype == np.float32 and rgb_to_y(rgb).shape == (8, 9)
    back = ycbcr_to_rgb(ycbcr)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, rgb, atol=1e-6)


def test_ycbcr_to_rgb_is_not_clipped() -> None:
    out = ycbcr_to_rgb(np.array([[[1.0, 0.5, 0.5]]]))
    assert out.max() > 1.0


def test_integer_input_gives_float64() -> None:
    assert rgb_to_ycbcr(np.zeros((2, 2, 3), dtype=np.uint8)).dtype == np.float64


@pytest.mark.parametrize("shape", [(4, 4), (4, 4, 1), (4, 4, 4)])
def test_needs_three_channels(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="3 channels"):
        rgb_to_ycbcr(np.zeros(shape))
    with pytest.raises(ValueError, match="3 channels"):
        rgb_to_y(np.zeros(shape))
