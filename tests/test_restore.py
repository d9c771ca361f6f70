"""restore(): tiled equals whole, colour/alpha policy, SR size, device and option errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from redcli.color import rgb_to_ycbcr
from redcli.errors import DeviceError, UsageError
from redcli.model import REDNet
from redcli.resize import imresize
from redcli.restore import RestoreOptions, restore

FP32 = RestoreOptions(device="cpu", precision="fp32")


def _model(channels: int = 1, seed: int = 0) -> REDNet:
    torch.manual_seed(seed)
    model = REDNet(6, 4, channels)
    with torch.no_grad():
        model.get_parameter("deconvs.2.weight").mul_(0.1)  # a small but visible residual: little clipping
    return model


def _image(height: int, width: int, channels: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.1, 0.9, (height, width, channels)).astype(np.float32)


def _options(**changes: object) -> RestoreOptions:
    return dataclasses.replace(FP32, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("height,width,tile", [(37, 53, 8), (37, 53, 16), (5, 7, 16), (1, 40, 8), (40, 1, 8)])
def test_tiled_equals_whole(height: int, width: int, tile: int) -> None:
    model = _model()
    image = _image(height, width, 1)
    whole = restore(image, model, _options(tile=0))
    for batch_size in (1, 4):
        tiled = restore(image, model, _options(tile=tile, batch_size=batch_size))
        np.testing.assert_allclose(tiled, whole, rtol=0, atol=1e-5)
    assert not np.allclose(whole, image, atol=1e-3)


def test_tiled_ensemble_equals_whole_ensemble_on_colour() -> None:
    model = _model()
    image = _image(19, 26, 3)
    whole = restore(image, model, _options(tile=0, ensemble=True, color="rgb"))
    tiled = restore(image, model, _options(tile=8, ensemble=True, color="rgb", batch_size=3))
    np.testing.assert_allclose(tiled, whole, rtol=0, atol=1e-5)
    assert not np.allclose(whole, restore(image, model, _options(tile=0, color="rgb")), atol=1e-6)


def test_grey_keeps_one_channel_and_is_float32_in_range() -> None:
    out = restore(_image(9, 11, 1), _model(), FP32)
    assert out.shape == (9, 11, 1) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_alpha_is_untouched_when_denoising() -> None:
    for channels in (2, 4):
        image = _image(10, 12, channels)
        out = restore(image, _model(), FP32)
        assert out.shape == image.shape
        np.testing.assert_array_equal(out[..., -1], image[..., -1])


def test_y_mode_restores_luma_and_keeps_chroma() -> None:
    image = _image(10, 12, 3)
    out = restore(image, _model(), _options(color="y"))
    before, after = rgb_to_ycbcr(image.astype(np.float64)), rgb_to_ycbcr(out.astype(np.float64))
    np.testing.assert_allclose(after[..., 1:], before[..., 1:], atol=1e-5)
    assert not np.allclose(after[..., 0], before[..., 0], atol=1e-3)
    grey_y = restore(before[..., :1].astype(np.float32), _model(), FP32)
    np.testing.assert_allclose(after[..., :1], grey_y, atol=1e-5)


def test_rgb_mode_restores_each_channel_as_grey() -> None:
    image = _image(10, 12, 3)
    out = restore(image, _model(), _options(color="rgb"))
    for c in range(3):
        single = restore(image[..., c:c + 1], _model(), FP32)
        np.testing.assert_allclose(out[..., c:c + 1], single, atol=1e-6)


def test_three_channel_model_takes_rgb_directly_and_grey_as_rgb() -> None:
    model = _model(channels=3)
    image = _image(8, 9, 3)
    out = restore(image, model, FP32)
    assert out.shape == (8, 9, 3)
    with torch.inference_mode():
        x = torch.from_numpy(image.transpose(2, 0, 1).copy())[None]
        direct = model.eval()(x)[0].numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(out, np.clip(direct, 0, 1), atol=1e-6)
    grey = restore(image[..., :1], model, FP32)
    assert grey.shape == (8, 9, 1)


def test_super_resolution_size_alpha_and_chroma_are_bicubic() -> None:
    image = _image(7, 10, 4)
    out = restore(image, _model(), _options(scale=3))
    assert out.shape == (21, 30, 4)
    upscaled = imresize(image, scale=3)  # not clipped: the net sees bicubic overshoot as is
    np.testing.assert_allclose(out[..., 3], np.clip(upscaled[..., 3], 0.0, 1.0), atol=1e-6)
    chroma = rgb_to_ycbcr(out[..., :3].astype(np.float64))[..., 1:]
    expected = rgb_to_ycbcr(upscaled[..., :3].astype(np.float64))[..., 1:]
    inside = np.all((out[..., :3] > 0) & (out[..., :3] < 1), axis=2)  # not clipped
    assert inside.mean() > 0.5
    np.testing.assert_allclose(chroma[inside], expected[inside], atol=1e-5)


def test_restore_leaves_the_model_mode_and_the_input_alone() -> None:
    model = _model().train()
    image = _image(6, 6, 3)
    copy = image.copy()
    progress: list[tuple[int, int]] = []
    restore(image, model, _options(tile=4, batch_size=2), on_tile=lambda d, t: progress.append((d, t)))
    assert model.training
    np.testing.assert_array_equal(image, copy)
    assert progress == [(2, 4), (4, 4)]


def test_device_and_precision_errors() -> None:
    with pytest.raises(DeviceError, match="CUDA-only"):
        restore(_image(4, 4, 1), _model(), RestoreOptions(device="cpu", precision="fp16"))
    with pytest.raises(DeviceError, match="unknown device"):
        restore(_image(4, 4, 1), _model(), RestoreOptions(device="quantum"))


@pytest.mark.parametrize("changes", [{"scale": 0}, {"color": "lab"}, {"tile": -1}, {"overlap": -2},
                                     {"batch_size": 0}])
def test_invalid_options_are_usage_errors(changes: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        RestoreOptions(**changes)  # type: ignore[arg-type]


def test_bad_image_shape() -> None:
    with pytest.raises(ValueError):
        restore(np.zeros((4, 4), np.float32), _model(), FP32)
    with pytest.raises(ValueError):
        restore(np.zeros((4, 4, 5), np.float32), _model(), FP32)
