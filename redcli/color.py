"""MATLAB-compatible colour conversion between RGB and YCbCr (ITU-R BT.601, studio range).

These match MATLAB's ``rgb2ycbcr`` / ``ycbcr2rgb`` applied to *double* images, the convention of
the super-resolution literature (SRCNN, VDSR, RED-Net): with R, G, B in [0, 1],

    Y  = (16  +  65.481 R + 128.553 G +  24.966 B) / 255     in [16/255, 235/255]
    Cb = (128 -  37.797 R -  74.203 G + 112.000 B) / 255     in [16/255, 240/255]
    Cr = (128 + 112.000 R -  93.786 G -  18.214 B) / 255     in [16/255, 240/255]

Arithmetic is float64; results come back in the input's floating dtype (float32 in, float32 out;
integer input gives float64). Arrays are HWC with C = 3; any leading shape works as long as the
last axis holds the three channels.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

_RGB_TO_YCBCR = np.array(
    [
        [65.481, 128.553, 24.966],
        [-37.797, -74.203, 112.0],
        [112.0, -93.786, -18.214],
    ],
    dtype=np.float64,
)
_OFFSET = np.array([16.0, 128.0, 128.0], dtype=np.float64)
_YCBCR_TO_RGB = np.linalg.inv(_RGB_TO_YCBCR)


def _float_dtype(array: NDArray) -> np.dtype:
    """The dtype results are returned in: the input's float dtype, float64 for anything else."""
    return array.dtype if np.issubdtype(array.dtype, np.floating) else np.dtype(np.float64)


def _check_three_channels(array: NDArray, what: str) -> None:
    """Raise ``ValueError`` unless the last axis has exactly three channels."""
    if array.ndim < 1 or array.shape[-1] != 3:
        raise ValueError(f"{what} needs 3 channels on the last axis, got shape {array.shape}")


def rgb_to_ycbcr(rgb: NDArray) -> NDArray:
    """RGB in [0, 1], shape (..., 3) -> YCbCr, same shape; Y in [16/255, 235/255], Cb/Cr in [16/255, 240/255]."""
    _check_three_channels(rgb, "rgb_to_ycbcr")
    x = np.asarray(rgb, dtype=np.float64)
    ycbcr = (x @ _RGB_TO_YCBCR.T + _OFFSET) / 255.0
    return ycbcr.astype(_float_dtype(rgb), copy=False)


def ycbcr_to_rgb(ycbcr: NDArray) -> NDArray:
    """YCbCr (studio range, /255), shape (..., 3) -> RGB, same shape; nominally [0, 1], not clipped."""
    _check_three_channels(ycbcr, "ycbcr_to_rgb")
    x = np.asarray(ycbcr, dtype=np.float64)
    rgb = (x * 255.0 - _OFFSET) @ _YCBCR_TO_RGB.T
    return rgb.astype(_float_dtype(ycbcr), copy=False)


def rgb_to_y(rgb: NDArray) -> NDArray:
    """RGB in [0, 1], shape (H, W, 3) -> luma Y, shape (H, W), in [16/255, 235/255]."""
    _check_three_channels(rgb, "rgb_to_y")
    x = np.asarray(rgb, dtype=np.float64)
    y = (x @ _RGB_TO_YCBCR[0] + _OFFSET[0]) / 255.0
    return y.astype(_float_dtype(rgb), copy=False)
