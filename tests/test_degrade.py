"""Tests for redcli.degrade: bicubic LR / network input and seeded Gaussian noise."""

from __future__ import annotations

import numpy as np
import pytest

from redcli.color import rgb_to_y
from redcli.degrade import add_gaussian_noise, bicubic_lr, bicubic_up, noise_seed, sr_input
from redcli.resize import imresize


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_sr_shapes_and_dtype(scale: int) -> None:
    hr = np.random.default_rng(0).random((37, 26, 3)).astype(np.float32)
    lr = bicubic_lr(hr, scale)
    assert lr.shape == (37 // scale, 26 // scale, 3) and lr.dtype == np.float32
    up = sr_input(hr, scale)
    assert up.shape == (37 // scale * scale, 26 // scale * scale, 3) and up.dtype == np.float32
    np.testing.assert_array_equal(up, bicubic_up(lr, scale))


def test_bicubic_lr_is_imresize_of_modcrop_and_unrounded() -> None:
    hr = np.random.default_rng(1).random((13, 14))
    lr = bicubic_lr(hr, 3)
    np.testing.assert_array_equal(lr, imresize(hr[:12, :12], 1 / 3))
    assert not np.allclose(lr * 255, np.round(lr * 255))


def test_lr_from_rgb_equals_lr_from_y() -> None:
    hr = np.random.default_rng(2).random((24, 18, 3))
    np.testing.assert_allclose(rgb_to_y(sr_input(hr, 2)), sr_input(rgb_to_y(hr), 2), atol=1e-12)


def test_gaussian_noise_statistics_and_reproducibility() -> None:
    img = np.full((200, 200, 1), 0.5, dtype=np.float32)
    noisy = add_gaussian_noise(img, 25, np.random.default_rng(3))
    assert noisy.dtype == np.float32 and noisy.shape == img.shape
    noise = (noisy.astype(np.float64) - 0.5) * 255
    assert abs(noise.mean()) < 0.5 and noise.std() == pytest.approx(25, rel=0.02)
    np.testing.assert_array_equal(noisy, add_gaussian_noise(img, 25, np.random.default_rng(3)))


def test_gaussian_noise_clip() -> None:
    img = np.full((50, 50), 0.95)
    assert add_gaussian_noise(img, 50, np.random.default_rng(4)).max() > 1.0
    clipped = add_gaussian_noise(img, 50, np.random.default_rng(4), clip=True)
    assert clipped.min() >= 0.0 and clipped.max() <= 1.0
    np.testing.assert_array_equal(add_gaussian_noise(img, 0, np.random.default_rng(4)), img)
    with pytest.raises(ValueError):
        add_gaussian_noise(img, -1, np.random.default_rng(4))


def test_noise_seed_is_stable() -> None:
    assert noise_seed("01", 25) == noise_seed("01", 25.0) == 1155801298  # zlib.crc32(b"01:25.0")
    assert noise_seed("01", 25) != noise_seed("01", 50)
    assert noise_seed("01", 25) != noise_seed("02", 25)
    assert 0 <= noise_seed("test001", 70) < 2**32
