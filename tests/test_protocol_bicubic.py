"""The numeric protocol end to end: the bicubic baseline reproduces the published Set5 / Set14 numbers.

HR -> modcrop -> LR = imresize(1/s) (float, unrounded, from RGB) -> imresize(s) -> score_sr
(8-bit RGB, MATLAB uint8 rgb2ycbcr luma, grey images scored as grey, s px shaved).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

from redcli.datasets import load_benchmark
from redcli.degrade import sr_input
from redcli.metrics import score_sr
from redcli.resize import modcrop

# ../shared/REFERENCE.md, "Published baselines that check the protocol"
PUBLISHED = {
    ("set5", 2): (33.66, 0.9299),
    ("set5", 3): (30.39, 0.8682),
    ("set5", 4): (28.42, 0.8104),
    ("set14", 2): (30.24, 0.8688),
    ("set14", 3): (27.55, 0.7742),
    ("set14", 4): (26.00, 0.7027),
}


@cache
def _images(name: str, data_dir: Path) -> tuple[np.ndarray, ...]:
    return tuple(image for _, image in load_benchmark(name, data_dir))


@pytest.mark.integration
@pytest.mark.parametrize(("name", "scale"), list(PUBLISHED))
def test_bicubic_baseline_reproduces_published(name: str, scale: int, data_dir: Path) -> None:
    scores = [score_sr(modcrop(hr, scale), sr_input(hr, scale), scale) for hr in _images(name, data_dir)]
    mean_psnr, mean_ssim = np.mean(scores, axis=0)
    want_psnr, want_ssim = PUBLISHED[(name, scale)]
    assert abs(mean_psnr - want_psnr) <= 0.02, f"{name} x{scale}: PSNR {mean_psnr:.3f}, published {want_psnr}"
    assert abs(mean_ssim - want_ssim) <= 0.001, f"{name} x{scale}: SSIM {mean_ssim:.4f}, published {want_ssim}"
