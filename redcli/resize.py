"""MATLAB-compatible bicubic ``imresize`` and ``modcrop``.

``imresize`` reproduces MATLAB's ``imresize(img, scale)`` / ``imresize(img, [h w])`` with the default
``'bicubic'`` method, the numerics every SR benchmark relies on:

- cubic convolution kernel with a = -0.5 (Keys), support [-2, 2];
- antialiasing when shrinking: the kernel is stretched by 1/scale (and scaled by ``scale``), so
  each output pixel averages over about 4/scale input pixels;
- output pixel ``x`` (1-based) samples input coordinate ``u = x/scale + 0.5 (1 - 1/scale)``;
  weights come from ``ceil(width) + 2`` taps starting at ``floor(u - width/2)``, are normalised
  to sum to 1, and out-of-range taps are mirrored (symmetric padding, edge pixel repeated),
  after which taps whose weight is zero for every output pixel are dropped;
- output size ``ceil(in * scale)`` when a scale is given, else the requested shape (the per-axis
  scale is then ``out / in``);
- the axis with the smaller scale is resized first (rows first on a tie).

Arithmetic is float64. Float input returns its own dtype (float32 in, float32 out); integer input
(e.g. uint8 0..255) returns float64 in the same value range, neither rounded nor clipped (MATLAB
would round and saturate to uint8).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

_KERNEL_WIDTH = 4.0


def cubic(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Keys cubic convolution kernel with a = -0.5, any shape; zero outside |x| <= 2, 1 at x = 0."""
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1.0)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1.0) & (ax <= 2.0))
    return near + far


def contributions(
    in_length: int, out_length: int, scale: float
) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """MATLAB's per-axis resampling taps.

    Returns ``(weights, indices)``, both of shape (out_length, taps): output pixel ``i`` is
    ``sum_k weights[i, k] * input[indices[i, k]]``. Indices are 0-based in ``[0, in_length)``
    (mirrored at the borders); each row of weights sums to 1.
    """
    antialias = scale < 1.0
    width = _KERNEL_WIDTH / scale if antialias else _KERNEL_WIDTH
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2.0)
    taps = math.ceil(width) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    distance = u[:, None] - indices
    weights = scale * cubic(scale * distance) if antialias else cubic(distance)
    weights = weights / weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    indices_0 = mirror[np.mod(indices.astype(np.intp) - 1, 2 * in_length)]
    keep = np.any(weights != 0.0, axis=0)
    return weights[:, keep], indices_0[:, keep]


def _resize_axis(
    img: NDArray[np.float64], axis: int, out_length: int, scale: float
) -> NDArray[np.float64]:
    """Resample float64 ``img`` along ``axis`` to ``out_length`` samples with MATLAB's taps."""
    weights, indices = contributions(img.shape[axis], out_length, scale)
    moved = np.moveaxis(img, axis, 0)
    expand = (slice(None),) + (None,) * (moved.ndim - 1)
    out = np.zeros((out_length,) + moved.shape[1:], dtype=np.float64)
    for k in range(weights.shape[1]):
        out += weights[:, k][expand] * moved[indices[:, k]]
    return np.moveaxis(out, 0, axis)


def _plan(
    in_shape: tuple[int, int],
    scale: float | None,
    output_shape: tuple[int, int] | None,
) -> tuple[tuple[float, float], tuple[int, int]]:
    """Per-axis (scales, output sizes) for a (H, W) input, as MATLAB derives them."""
    if (scale is None) == (output_shape is None):
        raise ValueError("imresize needs exactly one of scale or output_shape")
    if scale is not None:
        if not scale > 0:
            raise ValueError(f"imresize scale must be positive, got {scale}")
        sizes = (math.ceil(in_shape[0] * scale), math.ceil(in_shape[1] * scale))
        return (float(scale), float(scale)), sizes
    out_h, out_w = (int(n) for n in output_shape)  # type: ignore[union-attr]
    if out_h < 1 or out_w < 1:
        raise ValueError(f"imresize output_shape must be positive, got {output_shape}")
    return (out_h / in_shape[0], out_w / in_shape[1]), (out_h, out_w)


def imresize(
    img: NDArray,
    scale: float | None = None,
    output_shape: tuple[int, int] | None = None,
) -> NDArray:
    """MATLAB bicubic ``imresize`` of an (H, W) or (H, W, C) image.

    Give either ``scale`` (output ``ceil(H*scale) x ceil(W*scale)``) or ``output_shape`` (H', W').
    Values are not clipped (bicubic overshoots near edges). Float input keeps its dtype; integer
    input returns float64 in its own range.
    """
    if img.ndim not in (2, 3):
        raise ValueError(f"imresize needs an HW or HWC array, got shape {img.shape}")
    out_dtype = img.dtype if np.issubdtype(img.dtype, np.floating) else np.dtype(np.float64)
    scales, sizes = _plan((img.shape[0], img.shape[1]), scale, output_shape)
    out = np.asarray(img, dtype=np.float64)
    for axis in sorted((0, 1), key=lambda a: scales[a]):
        out = _resize_axis(out, axis, sizes[axis], scales[axis])
    return out.astype(out_dtype, copy=False)


def modcrop(img: NDArray, scale: int) -> NDArray:
    """Crop an (H, W, ...) image to ``H - H % scale`` x ``W - W % scale`` (keeps the top-left)."""
    if scale < 1:
        raise ValueError(f"modcrop scale must be >= 1, got {scale}")
    h, w = img.shape[0], img.shape[1]
    return img[: h - h % scale, : w - w % scale]
