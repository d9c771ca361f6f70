"""Device, precision, thread and tile-size choices for inference.

Everything here answers "what can this machine do?" and raises
:class:`redcli.errors.DeviceError` (exit code 2) with one line saying why a request cannot
be met. Only :func:`configure_cpu_threads` changes process state (torch's thread count).
"""

from __future__ import annotations

import os
import re
from contextlib import AbstractContextManager, nullcontext

import torch

from redcli.errors import DeviceError
from redcli.model import skip_pairs
from redcli.registry import Architecture

DEVICE_NAMES = "auto, cpu, cuda, cuda:N or mps"
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
CPU_ACTIVATION_BUDGET = 1 << 30  # bytes of feature maps a CPU window may use
CUDA_FREE_FRACTION = 0.5  # share of the GPU's free memory a batch of windows may use
MIN_TILE, MAX_TILE = 64, 2048
TILE_STEP = 32  # auto tiles are multiples of this
MAX_AUTO_BATCH = 16
TRANSIENT_MAPS = 3  # maps alive besides the skips: a layer's input, its output, a sum


def _cuda_unavailable(name: str) -> str | None:
    """Why CUDA device ``name`` ("cuda" or "cuda:N") cannot be used, or None if it can."""
    if torch.version.cuda is None and getattr(torch.version, "hip", None) is None:
        return f"device {name!r} is not available: this build of torch is CPU-only"
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        return f"device {name!r} is not available: torch finds no CUDA GPU (check the driver and CUDA_VISIBLE_DEVICES)"
    index = int(name.partition(":")[2] or 0)
    if index >= count:
        return f"device {name!r} is not available: torch sees {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}"
    return None


def _mps_unavailable() -> str | None:
    """Why the Apple MPS device cannot be used, or None if it can."""
    if torch.backends.mps.is_available():
        return None
    if not torch.backends.mps.is_built():
        return "device 'mps' is not available: this build of torch has no MPS support"
    return "device 'mps' is not available: MPS needs macOS 12.3 or later on Apple silicon"


def resolve_device(name: str) -> torch.device:
    """The torch device for ``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``."""
    key = name.strip().lower()
    if key == "auto":
        if _cuda_unavailable("cuda") is None:
            return torch.device("cuda")
        return torch.device("mps" if _mps_unavailable() is None else "cpu")
    if key == "cpu":
        return torch.device("cpu")
    if key == "mps" or re.fullmatch(r"cuda(:\d+)?", key):
        reason = _mps_unavailable() if key == "mps" else _cuda_unavailable(key)
        if reason is not None:
            raise DeviceError(reason)
        return torch.device(key)
    raise DeviceError(f"unknown device {name!r} (expected {DEVICE_NAMES})")


def resolve_precision(name: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for precision ``name`` on ``device``; None means plain float32.

    ``auto`` is float32 on CPU and MPS, bfloat16 on CUDA GPUs that support it, else float16.
    ``fp16`` and ``bf16`` are CUDA-only.
    """
    key = name.strip().lower()
    if key not in PRECISIONS:
        raise DeviceError(f"unknown precision {name!r} (expected {', '.join(PRECISIONS)})")
    if key == "fp32" or (key == "auto" and device.type != "cuda"):
        return None
    if device.type != "cuda":
        raise DeviceError(f"precision {key} is CUDA-only; use fp32 (or auto) on {device.type}")
    bf16 = torch.cuda.is_bf16_supported()
    if key == "auto":
        return torch.bfloat16 if bf16 else torch.float16
    if key == "bf16" and not bf16:
        raise DeviceError(f"precision bf16 is not supported by {torch.cuda.get_device_name(device)}; use fp16")
    return torch.bfloat16 if key == "bf16" else torch.float16


def cpu_supports_bf16() -> bool:
    """Whether this CPU has native bf16 arithmetic (AVX512-BF16 or AMX) for oneDNN's bf16 convolutions.

    Without it PyTorch emulates bf16 on the CPU, slower than float32.
    """
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work (kernels run asynchronously on CUDA and MPS); a no-op on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def autocast_context(device: torch.device, dtype: torch.dtype | None) -> AbstractContextManager[object]:
    """``torch.autocast`` to ``dtype`` on CUDA; a no-op context for ``None`` or other devices."""
    if dtype is None or device.type != "cuda":
        return nullcontext()
    return torch.autocast("cuda", dtype=dtype)


def configure_cpu_threads() -> int:
    """Set torch's intra-op threads to ``$OMP_NUM_THREADS`` if set, else to the usable CPUs; returns it."""
    requested = os.environ.get("OMP_NUM_THREADS", "").strip()
    if requested.isdigit() and int(requested) > 0:
        threads = int(requested)
    elif hasattr(os, "sched_getaffinity"):
        threads = len(os.sched_getaffinity(0))
    else:
        threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    return threads


def activation_bytes(arch: Architecture, pixels: int, images: int, dtype: torch.dtype | None) -> int:
    """Estimated peak feature-map memory of a RED-Net forward pass, in bytes.

    ``images`` one-``arch.channels`` images of ``pixels`` pixels each; ``dtype`` the
    autocast dtype (None: float32). At the peak the skip features still waiting for their
    deconv and a few transient maps are alive, each ``arch.width`` maps deep. On a CPU
    (RED30/w64, 512×512, channels-last) the measured peak was about 9 such maps.
    """
    value_bytes = 4 if dtype is None else torch.finfo(dtype).bits // 8
    live_maps = len(skip_pairs(arch)) + TRANSIENT_MAPS
    return images * pixels * arch.width * value_bytes * live_maps


def _memory_budget(device: torch.device) -> int:
    """Bytes of feature maps one batch of windows may use on ``device``."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free * CUDA_FREE_FRACTION)
    return CPU_ACTIVATION_BUDGET


def auto_tile(device: torch.device, arch: Architecture, *, images: int = 1, dtype: torch.dtype | None = None) -> int:
    """Core size (pixels) of tiles for ``arch`` on ``device``, in [64, 2048], a multiple of 32.

    The largest tile whose window (tile + 2 × depth overlap) fits the memory budget for
    ``images`` one-``arch.channels`` images at once: half the free GPU memory on CUDA,
    1 GiB elsewhere. Larger is faster everywhere, since the cost is proportional to the
    total window area: measured on the 2-core CPU this was written on (RED30/w64, 512×512
    grey image, fp32): tile 128: 8.5 s, 192: 8.0 s, 256: 5.7 s, 384: 10.7 s (four 444-pixel
    windows), whole image: 3.6 s; about 14 µs per window pixel whatever the size. RED30/w64
    gets 576 on a CPU.
    """
    per_pixel = activation_bytes(arch, 1, images, dtype)
    window = int((_memory_budget(device) / per_pixel) ** 0.5)
    tile = (window - 2 * arch.receptive_radius) // TILE_STEP * TILE_STEP
    return max(MIN_TILE, min(MAX_TILE, tile))


def auto_batch(device: torch.device, arch: Architecture, window_pixels: int, *, images: int = 1,
               dtype: torch.dtype | None = None) -> int:
    """Windows per batch: 1 on CPU and MPS; on CUDA as many as fit the budget, at most 16."""
    if device.type != "cuda":
        return 1
    fitting = _memory_budget(device) // activation_bytes(arch, window_pixels, images, dtype)
    return max(1, min(MAX_AUTO_BATCH, fitting))
