"""The 8 dihedral transforms and the self-ensemble, alone and composed with tiling."""

from __future__ import annotations

import pytest
import torch

from redcli.ensemble import dihedral, inverse_dihedral, with_ensemble
from redcli.model import REDNet
from redcli.tiling import run_tiled


def test_transforms_are_exact_inverses_on_non_square_tensors() -> None:
    x = torch.arange(2 * 3 * 4 * 7, dtype=torch.float32).reshape(2, 3, 4, 7)
    for k in range(8):
        y = dihedral(x, k)
        assert y.shape == ((2, 3, 7, 4) if k % 2 else (2, 3, 4, 7))
        assert torch.equal(inverse_dihedral(y, k), x)


def test_transforms_are_the_eight_distinct_symmetries() -> None:
    x = torch.arange(9.0).reshape(1, 1, 3, 3)
    images = {tuple(dihedral(x, k).flatten().tolist()) for k in range(8)}
    assert len(images) == 8
    assert torch.equal(dihedral(x, 0), x)
    assert torch.equal(dihedral(x, 4), x.flip(-1))


def test_bad_transform_index() -> None:
    with pytest.raises(ValueError):
        dihedral(torch.zeros(1, 1, 2, 2), 8)


def test_ensemble_of_an_equivariant_fn_is_the_fn() -> None:
    def fn(batch: torch.Tensor) -> torch.Tensor:  # pointwise, hence equivariant
        return torch.sigmoid(batch * 3.0) + batch.square()

    x = torch.rand(2, 1, 5, 9)
    torch.testing.assert_close(with_ensemble(fn)(x), fn(x))


def test_ensemble_averages_orientation_dependent_fns() -> None:
    def shift_right(batch: torch.Tensor) -> torch.Tensor:
        return torch.roll(batch, 1, dims=-1)

    x = torch.rand(1, 1, 6, 6)
    expected = sum(inverse_dihedral(shift_right(dihedral(x, k)), k) for k in range(8)) / 8
    torch.testing.assert_close(with_ensemble(shift_right)(x), expected)


@pytest.mark.parametrize("height,width", [(23, 31), (1, 40), (40, 1)])
def test_ensemble_commutes_with_tiling_on_a_red_net(height: int, width: int) -> None:
    torch.manual_seed(0)
    model = REDNet(6, 4, 1).eval()
    x = torch.rand(1, 1, height, width)
    with torch.inference_mode():
        whole = with_ensemble(model)(x)
        tiled_of_ensemble = run_tiled(x, with_ensemble(model), tile=8, overlap=6, batch_size=3)
        ensemble_of_tiled = with_ensemble(lambda b: run_tiled(b, model, tile=8, overlap=6, batch_size=3))(x)
    torch.testing.assert_close(tiled_of_ensemble, whole, rtol=0, atol=1e-5)
    torch.testing.assert_close(ensemble_of_tiled, whole, rtol=0, atol=1e-5)
