"""REDNet: parameter count, skip pairing, residual output, shapes."""

from __future__ import annotations

import pytest
import torch

from redcli.errors import ModelError
from redcli.model import REDNet, skip_pairs
from redcli.registry import Architecture


@pytest.mark.parametrize("depth,width,channels", [(30, 64, 1), (30, 128, 3), (20, 64, 1), (10, 8, 3), (4, 5, 1)])
def test_parameter_count_matches_the_closed_form(depth: int, width: int, channels: int) -> None:
    with torch.device("meta"):
        model = REDNet(depth, width, channels)
    count = sum(p.numel() for p in model.parameters())
    assert count == Architecture(depth, width, channels).num_params
    assert model.arch == Architecture(depth, width, channels)


def test_red30_w64_grey_has_the_published_size() -> None:
    with torch.device("meta"):
        assert sum(p.numel() for p in REDNet().parameters()) == 1_035_201


def test_layout_is_half_convs_then_half_deconvs() -> None:
    model = REDNet(8, 6, 3)
    assert [type(m).__name__ for m in model.convs] == ["Conv2d"] * 4
    assert [type(m).__name__ for m in model.deconvs] == ["ConvTranspose2d"] * 4
    assert model.convs[0].in_channels == 3 and model.deconvs[-1].out_channels == 3
    assert all(m.kernel_size == (3, 3) and m.stride == (1, 1) and m.padding == (1, 1)
               for m in (*model.convs, *model.deconvs))


def test_skip_pairs_mirror_the_feature_chain() -> None:
    assert skip_pairs(Architecture(30)) == ((2, 13), (4, 11), (6, 9), (8, 7), (10, 5), (12, 3), (14, 1))
    assert skip_pairs(Architecture(20)) == ((2, 8), (4, 6), (6, 4), (8, 2))
    assert skip_pairs(Architecture(10)) == ()  # the paper's RED10
    assert skip_pairs(Architecture(6)) == ((2, 1),)
    assert skip_pairs(Architecture(4)) == ()


def test_invalid_architecture_is_a_model_error() -> None:
    with pytest.raises(ModelError):
        REDNet(7, 8, 1)
    with pytest.raises(ModelError):
        REDNet(6, 8, 2)


def _replay(model: REDNet, x: torch.Tensor, pairs: dict[int, int]) -> None:
    """Check, layer by layer, that each deconv's input is ReLU(previous raw deconv + its skip)."""
    conv_out: dict[int, torch.Tensor] = {}
    deconv_raw: dict[int, torch.Tensor] = {}
    deconv_in: dict[int, torch.Tensor] = {}
    for i, conv in enumerate(model.convs, start=1):
        conv.register_forward_hook(lambda _m, _i, out, i=i: conv_out.__setitem__(i, torch.relu(out.clone())))
    for j, deconv in enumerate(model.deconvs, start=1):
        deconv.register_forward_hook(lambda _m, _i, out, j=j: deconv_raw.__setitem__(j, out.clone()))
        deconv.register_forward_pre_hook(lambda _m, args, j=j: deconv_in.__setitem__(j, args[0].clone()))
    y = model(x)
    half = len(model.deconvs)
    torch.testing.assert_close(deconv_in[1], conv_out[half])
    skip_for = {deconv: conv for conv, deconv in pairs.items()}
    for j in range(1, half):
        expected = deconv_raw[j] + (conv_out[skip_for[j]] if j in skip_for else 0)
        torch.testing.assert_close(deconv_in[j + 1], torch.relu(expected))
    torch.testing.assert_close(y, x + deconv_raw[half])


@pytest.mark.parametrize("depth", [4, 6, 10, 12, 30])
def test_forward_follows_the_documented_skips_and_residual(depth: int) -> None:
    torch.manual_seed(0)
    model = REDNet(depth, 4, 1)
    with torch.no_grad():
        for layer in (*model.convs, *model.deconvs):
            layer.bias.uniform_(0.0, 0.3)  # keep ReLUs partly active so every path matters
        _replay(model, torch.rand(2, 1, 9, 7), dict(skip_pairs(model.arch)))


def test_red10_output_is_a_plain_chain_plus_input() -> None:
    torch.manual_seed(1)
    model = REDNet(10, 4, 1)
    x = torch.rand(1, 1, 8, 8)
    h = x
    for conv in model.convs:
        h = torch.relu(conv(h))
    for deconv in model.deconvs[:-1]:
        h = torch.relu(deconv(h))
    with torch.no_grad():
        torch.testing.assert_close(model(x), x + model.deconvs[-1](h))


@pytest.mark.parametrize("shape", [(1, 1, 13, 7), (2, 1, 1, 9), (1, 1, 5, 1)])
def test_output_shape_equals_input_shape_for_odd_sizes(shape: tuple[int, ...]) -> None:
    model = REDNet(6, 4, 1)
    with torch.no_grad():
        assert model(torch.rand(shape)).shape == shape


def test_three_channel_model_and_channels_last_input() -> None:
    model = REDNet(6, 4, 3).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    x = torch.rand(2, 3, 11, 6)
    with torch.no_grad():
        plain = model(x)
        torch.testing.assert_close(model(x.contiguous(memory_format=torch.channels_last)), plain)
    assert plain.shape == x.shape


@torch.no_grad()
def test_initialisation_is_caffe_xavier_with_zero_bias() -> None:
    torch.manual_seed(0)
    model = REDNet(6, 16, 1)
    inner = model.get_parameter("convs.1.weight")
    bound = (3.0 / (16 * 9)) ** 0.5
    assert bound * 0.9 < inner.abs().max() <= bound
    assert all(float(bias.abs().max()) == 0.0 for name, bias in model.named_parameters() if name.endswith("bias"))


def test_model_trains_backward_through_in_place_relus() -> None:
    model = REDNet(6, 4, 1)
    loss = model(torch.rand(2, 1, 8, 8)).square().mean()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
