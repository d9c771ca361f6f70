"""RED-Net (Mao, Shen & Yang, 2016) as a PyTorch module: the network only, no I/O.

Layout, for ``depth = 2 * half`` layers of 3×3 kernels (stride 1, padding 1, so every
feature map has the input's height and width):

* encoder: ``half`` ``Conv2d`` layers, each followed by a ReLU; the first takes
  ``channels`` inputs, all produce ``width`` maps;
* decoder: ``half`` ``ConvTranspose2d`` layers, each followed by a ReLU except the last,
  which is linear and produces ``channels`` maps;
* symmetric skips (:func:`skip_pairs`): the rectified output of conv ``i`` is added to the
  raw output of its mirrored deconv, and the sum goes through that deconv's ReLU;
* residual learning: the network input is added to the last deconv's output.

Mirroring is defined on the chain of feature maps ``x, c1 … c_half, d1 … d_half``, which
is a palindrome around ``c_half``: the input ``x`` mirrors the output ``d_half`` (the
residual connection) and, in general, ``c_i`` mirrors ``d_(half - i)``. Skips leave every
second conv, ``i = 2, 4, …, < half``; for RED30 that is conv 2 → deconv 13, conv 4 →
deconv 11, …, conv 14 → deconv 1, as in ports of the authors' released Caffe prototxt.
Depth 10 (the paper's RED10) has no skips, only the residual connection.

Initialisation: the paper does not state one. Weights use Caffe's ``"xavier"`` filler
(uniform in ``±sqrt(3 / fan_in)``, with ``fan_in`` counted as Caffe counts it: the
weight's element count over its first dimension), biases are zero. Building a model
never touches the network or the disk, and works under ``torch.device("meta")``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from redcli.registry import Architecture

NO_SKIP_DEPTH = 10  # the paper's RED10: convolution and deconvolution only


def skip_pairs(arch: Architecture) -> tuple[tuple[int, int], ...]:
    """The symmetric skips as ``(conv, deconv)`` pairs of 1-based layer indices.

    ``(i, half - i)`` for ``i = 2, 4, …`` below ``half = depth // 2``; empty for depth 10.
    """
    half = arch.depth // 2
    if arch.depth == NO_SKIP_DEPTH:
        return ()
    return tuple((conv, half - conv) for conv in range(2, half, 2))


def _xavier_(layer: nn.Conv2d | nn.ConvTranspose2d) -> None:
    """Caffe's ``"xavier"`` filler on ``layer.weight`` and zero ``layer.bias``, in place."""
    fan_in = layer.weight.numel() // layer.weight.shape[0]
    bound = math.sqrt(3.0 / fan_in)
    nn.init.uniform_(layer.weight, -bound, bound)
    assert layer.bias is not None  # every RED-Net layer has a bias
    nn.init.zeros_(layer.bias)


class REDNet(nn.Module):
    """RED-Net restoring an NCHW float tensor (values nominally in [0, 1]) to the same shape.

    ``depth`` must be even and >= 4, ``channels`` 1 (grey or Y) or 3 (RGB); invalid
    combinations raise :class:`redcli.errors.ModelError` (via :class:`Architecture`).
    """

    def __init__(self, depth: int = 30, width: int = 64, channels: int = 1) -> None:
        super().__init__()
        self._arch = Architecture(depth, width, channels)
        half = depth // 2
        self.convs = nn.ModuleList(
            nn.Conv2d(channels if i == 0 else width, width, 3, padding=1) for i in range(half)
        )
        self.deconvs = nn.ModuleList(
            nn.ConvTranspose2d(width, channels if i == half - 1 else width, 3, padding=1) for i in range(half)
        )
        for layer in (*self.convs, *self.deconvs):
            _xavier_(layer)
        self._skip_to = dict(skip_pairs(self._arch))  # conv index -> deconv index (1-based)

    @property
    def arch(self) -> Architecture:
        """The architecture this module was built with."""
        return self._arch

    def forward(self, x: Tensor) -> Tensor:
        """``x``: N×channels×H×W float -> same shape: ``x`` plus the predicted residual."""
        saved: dict[int, Tensor] = {}  # deconv index -> conv feature waiting for it
        h = x
        for index, conv in enumerate(self.convs, start=1):
            h = torch.relu_(conv(h))
            if index in self._skip_to:
                saved[self._skip_to[index]] = h
        last = len(self.deconvs)
        for index, deconv in enumerate(self.deconvs, start=1):
            h = deconv(h)
            if index in saved:
                h = h + saved.pop(index)
            if index < last:
                h = torch.relu_(h)
        return x + h


def zero_residual_(model: REDNet) -> REDNet:
    """Zero the last deconvolution in place, so the untrained network is the identity map.

    The predicted residual starts at exactly 0 instead of the large random output that 30
    Xavier-initialised layers give, so training starts from "output = input" and spends
    no steps undoing the initial noise. Gradients still reach every layer (the last
    layer's input is non-zero). Returns ``model`` for chaining.
    """
    last = model.deconvs[-1]
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return model

