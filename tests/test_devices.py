"""Device and precision resolution, threads, tile and batch sizes (CUDA simulated where needed)."""

from __future__ import annotations

import contextlib

import pytest
import torch

from redcli import devices
from redcli.devices import (activation_bytes, auto_batch, auto_tile, autocast_context, configure_cpu_threads,
                            resolve_device, resolve_precision)
from redcli.errors import DeviceError, UsageError
from redcli.registry import Architecture

CPU = torch.device("cpu")
CUDA = torch.device("cuda")


@pytest.fixture
def fake_gpus(monkeypatch: pytest.MonkeyPatch):
    """Pretend this is a CUDA build with ``count`` GPUs, ``free`` bytes free, bf16 or not."""

    def install(count: int = 1, free: int = 8 << 30, bf16: bool = True) -> None:
        monkeypatch.setattr(torch.version, "cuda", "12.4")
        monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
        monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free, 2 * free))
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: bf16)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Fake GPU")

    return install


def test_cpu_and_auto_on_a_cpu_only_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.version, "cuda", None)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("cpu") == CPU
    assert resolve_device(" Auto ") == CPU


def test_cuda_on_a_cpu_only_build_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.version, "cuda", None)
    monkeypatch.setattr(torch.version, "hip", None, raising=False)
    with pytest.raises(DeviceError, match="'cuda' is not available: this build of torch is CPU-only"):
        resolve_device("cuda")


def test_cuda_index_beyond_the_gpus_seen(fake_gpus) -> None:
    fake_gpus(count=1)
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    assert resolve_device("auto") == CUDA
    with pytest.raises(DeviceError, match="sees 1 CUDA GPU"):
        resolve_device("cuda:1")


def test_cuda_build_without_a_gpu(fake_gpus) -> None:
    fake_gpus(count=0)
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        resolve_device("cuda")


def test_mps_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="'mps' is not available"):
        resolve_device("mps")


@pytest.mark.parametrize("name", ["gpu", "cuda:x", "tpu", ""])
def test_unknown_device_names(name: str) -> None:
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device(name)
    assert issubclass(DeviceError, UsageError)


def test_precision_on_cpu() -> None:
    assert resolve_precision("auto", CPU) is None
    assert resolve_precision("fp32", CPU) is None
    for name in ("fp16", "bf16"):
        with pytest.raises(DeviceError, match="CUDA-only"):
            resolve_precision(name, CPU)
    with pytest.raises(DeviceError, match="unknown precision"):
        resolve_precision("int8", CPU)


def test_precision_on_cuda(fake_gpus) -> None:
    fake_gpus(bf16=True)
    assert resolve_precision("auto", CUDA) is torch.bfloat16
    assert resolve_precision("fp16", CUDA) is torch.float16
    assert resolve_precision("fp32", CUDA) is None
    fake_gpus(bf16=False)
    assert resolve_precision("auto", CUDA) is torch.float16
    with pytest.raises(DeviceError, match="bf16 is not supported by Fake GPU"):
        resolve_precision("bf16", CUDA)


@pytest.mark.filterwarnings("ignore:CUDA is not available")
def test_autocast_only_on_cuda_with_a_dtype() -> None:
    assert isinstance(autocast_context(CPU, None), contextlib.nullcontext)
    assert isinstance(autocast_context(CPU, torch.bfloat16), contextlib.nullcontext)
    assert isinstance(autocast_context(CUDA, None), contextlib.nullcontext)
    assert isinstance(autocast_context(CUDA, torch.float16), torch.autocast)


def test_cpu_threads_follow_omp_num_threads_or_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        assert configure_cpu_threads() == 1 and torch.get_num_threads() == 1
        monkeypatch.delenv("OMP_NUM_THREADS")
        monkeypatch.setattr(devices.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
        assert configure_cpu_threads() == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_cpu_auto_tile_fits_the_budget_and_is_a_multiple_of_32() -> None:
    arch = Architecture(30, 64, 1)
    tile = auto_tile(CPU, arch)
    assert tile == 576
    window = tile + 2 * arch.depth
    assert activation_bytes(arch, window * window, 1, None) <= devices.CPU_ACTIVATION_BUDGET
    assert auto_tile(CPU, arch, images=3) < tile
    assert auto_tile(CPU, Architecture(30, 100_000, 1)) == devices.MIN_TILE


def test_cuda_tile_and_batch_follow_free_memory(fake_gpus) -> None:
    arch = Architecture(30, 64, 1)
    fake_gpus(free=1 << 30)
    small = auto_tile(CUDA, arch, dtype=torch.bfloat16)
    fake_gpus(free=80 << 30)
    assert auto_tile(CUDA, arch, dtype=torch.bfloat16) == devices.MAX_TILE
    fake_gpus(free=4 << 30)
    tile = auto_tile(CUDA, arch, dtype=torch.float32)
    assert devices.MIN_TILE <= small <= tile <= devices.MAX_TILE
    window = (tile + 2 * arch.depth) ** 2
    assert auto_batch(CUDA, arch, window) == 1
    assert auto_batch(CUDA, arch, 64 * 64) == devices.MAX_AUTO_BATCH
    assert auto_batch(CPU, arch, 64 * 64) == 1


def test_activation_estimate_scales_with_dtype_and_images() -> None:
    arch = Architecture(30, 64, 1)
    fp32 = activation_bytes(arch, 100, 1, None)
    assert activation_bytes(arch, 100, 1, torch.float16) * 2 == fp32
    assert activation_bytes(arch, 100, 3, None) == 3 * fp32
    assert fp32 == 100 * 64 * 4 * (7 + devices.TRANSIENT_MAPS)
