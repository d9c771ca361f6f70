"""Restore one image with a RED-Net: colour policy, SR pre-upsampling, tiling, ensemble, device.

:func:`restore` is pure: no file I/O, no global state, the caller's image is not modified.
Colour policy, for an HWC image in [0, 1] with C = 1 (grey), 2 (grey + alpha), 3 (RGB) or
4 (RGBA):

* alpha is set aside and never goes through the net: kept as is when denoising, bicubic
  upscaled with the rest of the image for super-resolution;
* grey through a 1-channel model, RGB through a 3-channel model: directly;
* grey through a 3-channel model: as R = G = B, the output channels averaged back;
* RGB through a 1-channel model with ``color="y"``: converted to YCbCr (MATLAB
  ``rgb2ycbcr``, BT.601 studio range), the net restores Y, Cb and Cr are kept (denoising)
  or bicubic-upscaled (SR), then converted back; with ``color="rgb"``: each channel is
  restored as a grey image (the three go through the net as one batch).

Super-resolution is pre-upsampling: the image is first resized by ``scale`` with MATLAB's
bicubic ``imresize``, then restored by the net at scale 1. As in the SRCNN/VDSR protocol on
doubles, the upsampled image is not clipped before the net (bicubic overshoots slightly near
edges); only the final output is clipped to [0, 1].
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from torch import Tensor, nn

from redcli.color import rgb_to_ycbcr, ycbcr_to_rgb
from redcli.devices import auto_batch, auto_tile, autocast_context, resolve_device, resolve_precision
from redcli.ensemble import with_ensemble
from redcli.errors import UsageError
from redcli.model import REDNet
from redcli.resize import imresize
from redcli.tiling import Progress, TileFn, plan_tiles, run_tiled

COLOR_MODES = ("y", "rgb")


@dataclass(frozen=True)
class RestoreOptions:
    """How to run the net; invalid values raise :class:`UsageError`.

    ``tile``: core size in pixels, None = chosen for the device (:func:`auto_tile`), 0 = the
    whole image at once. ``overlap``: context pixels around each tile, None = the model
    depth, which makes tiled output equal whole-image output. ``batch_size``: windows per
    forward pass, None = chosen for the device. ``device``/``precision``: see
    :mod:`redcli.devices`.
    """

    scale: int = 1
    color: str = "y"
    tile: int | None = None
    overlap: int | None = None
    ensemble: bool = False
    device: str = "auto"
    precision: str = "auto"
    batch_size: int | None = None

    def __post_init__(self) -> None:
        if self.scale < 1:
            raise UsageError(f"scale must be a whole number >= 1, got {self.scale}")
        if self.color not in COLOR_MODES:
            raise UsageError(f"unknown colour mode {self.color!r} (expected {' or '.join(COLOR_MODES)})")
        for label, value, low in (("tile", self.tile, 0), ("overlap", self.overlap, 0),
                                  ("batch size", self.batch_size, 1)):
            if value is not None and value < low:
                raise UsageError(f"{label} must be >= {low}, got {value}")


def _split_alpha(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """HWC -> (colour HW×1|3, alpha HW×1 or None) for C in 1..4."""
    if image.shape[2] in (2, 4):
        return image[..., :-1], image[..., -1:]
    return image, None


def _uses_y(colour: np.ndarray, model_channels: int, color: str) -> bool:
    """True when an RGB image goes through a 1-channel model as its Y channel."""
    return colour.shape[2] == 3 and model_channels == 1 and color == "y"


def _grey_on_colour_model(colour: np.ndarray, model_channels: int) -> bool:
    """True when a grey image goes through a 3-channel model as R = G = B."""
    return colour.shape[2] == 1 and model_channels == 3


def _to_planes(colour: np.ndarray, model_channels: int, color: str) -> np.ndarray:
    """The planes to restore, C×H×W float32: Y only, grey as RGB, or the channels as they are."""
    if _uses_y(colour, model_channels, color):
        planes = rgb_to_ycbcr(colour)[..., :1]
    elif _grey_on_colour_model(colour, model_channels):
        planes = np.repeat(colour, 3, axis=2)
    else:
        planes = colour
    return np.ascontiguousarray(planes.transpose(2, 0, 1), dtype=np.float32)


def model_planes(image: np.ndarray, model_channels: int, color: str) -> np.ndarray:
    """The planes a ``model_channels``-channel model restores for ``image`` under ``color``.

    ``image`` is HWC float in [0, 1] with C in 1..4 (alpha is left out); returns C×H×W float32:
    the grey plane, Y (``color='y'`` on RGB with a grey model), or the R, G, B channels.
    """
    colour, _ = _split_alpha(image)
    return _to_planes(colour, model_channels, color)


def _from_planes(restored: np.ndarray, colour: np.ndarray, model_channels: int, color: str) -> np.ndarray:
    """Undo :func:`_to_planes`: restored C×H×W planes -> HWC colour like ``colour`` (unclipped)."""
    planes = restored.transpose(1, 2, 0)
    if _uses_y(colour, model_channels, color):
        ycbcr = rgb_to_ycbcr(colour)
        return ycbcr_to_rgb(np.concatenate([planes, ycbcr[..., 1:]], axis=2))
    if _grey_on_colour_model(colour, model_channels):
        return planes.mean(axis=2, keepdims=True)
    return planes


def _network_fn(model: REDNet, device: torch.device, dtype: torch.dtype | None, ensemble: bool) -> TileFn:
    """Batch of windows (N×C×h×w, any device) -> float32 restored windows on ``device``.

    A 1-channel model restores C > 1 planes as N·C grey images. The batch is moved to
    ``device`` in channels-last layout and run under autocast to ``dtype`` (CUDA only).
    """

    def run_model(batch: Tensor) -> Tensor:
        n, c, h, w = batch.shape
        inputs = batch.reshape(n * c, 1, h, w) if model.arch.channels == 1 else batch
        return model(inputs.contiguous(memory_format=torch.channels_last)).reshape(n, c, h, w)

    net = with_ensemble(run_model) if ensemble else run_model

    def on_device(batch: Tensor) -> Tensor:
        with autocast_context(device, dtype):
            return net(batch.to(device)).float()

    return on_device


@contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    """Put ``model`` in eval mode for the block, then back in the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _run_net(planes: Tensor, model: REDNet, options: RestoreOptions, on_tile: Progress | None) -> Tensor:
    """Planes 1×C×H×W float32 on the CPU -> restored 1×C×H×W float32 on the CPU, tiled on the device."""
    device = resolve_device(options.device)
    dtype = resolve_precision(options.precision, device)
    arch = model.arch
    images = planes.shape[1] // arch.channels  # model inputs per window
    tile = options.tile if options.tile is not None else auto_tile(device, arch, images=images, dtype=dtype)
    overlap = options.overlap if options.overlap is not None else arch.receptive_radius
    window_h, window_w = plan_tiles(planes.shape[-2], planes.shape[-1], tile, overlap)[0].window_size
    batch_size = options.batch_size or auto_batch(device, arch, window_h * window_w, images=images, dtype=dtype)
    model.to(device, memory_format=torch.channels_last)  # type: ignore[call-overload]  # untyped keyword
    with _evaluating(model), torch.inference_mode():
        fn = _network_fn(model, device, dtype, options.ensemble)
        return run_tiled(planes, fn, tile=tile, overlap=overlap, batch_size=batch_size, on_tile=on_tile)


def restore(image: np.ndarray, model: REDNet, options: RestoreOptions,
            on_tile: Progress | None = None) -> np.ndarray:
    """Restore ``image`` (HWC float in [0, 1], C in 1..4) with ``model``.

    Returns HWC float32 clipped to [0, 1], of size ``H*scale × W*scale`` with the input's
    channels. The model is moved to the chosen device (in place, as ``nn.Module.to`` does,
    so a batch of images pays the transfer once); its train/eval mode is left as it was.
    ``on_tile(done, total)`` reports tile progress. :class:`redcli.errors.DeviceError` if
    the device or precision is not available.
    """
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"restore needs an HWC image with 1 to 4 channels, got shape {image.shape}")
    source = image.astype(np.float32, copy=False)
    if options.scale > 1:
        source = imresize(source, scale=options.scale)
    colour, alpha = _split_alpha(source)
    channels = model.arch.channels
    planes = torch.from_numpy(_to_planes(colour, channels, options.color))[None]
    restored = _run_net(planes, model, options, on_tile)[0].numpy()
    result = _from_planes(restored, colour, channels, options.color)
    if alpha is not None:
        result = np.concatenate([result, alpha], axis=2)
    return np.clip(result, 0.0, 1.0).astype(np.float32, copy=False)
