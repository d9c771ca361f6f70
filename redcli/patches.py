"""Training data for RED-Net: images decoded once, random patch pairs drawn at every step.

The paper's recipe: grey images for denoising, the luminance (Y) channel for super-resolution,
50×50 patches, Gaussian noise added to the clean patch, SR inputs made by bicubic down- then
up-sampling. Here:

- Every image under the training folders (recursively) is decoded once and kept in memory as
  a uint8 HW plane: grey files as they are, colour files as their BT.601 luma
  (:func:`redcli.color.rgb_to_y`, the conversion inference uses), rounded to 8 bits; alpha is
  dropped and 16-bit files are rounded to 8 bits.
- SR inputs are made ONCE per image and scale with :func:`redcli.degrade.sr_input` (MATLAB
  bicubic down, then up, on the whole image) and stored as float16: rounding the upsampled
  input to 8 bits would add up to 0.5 grey levels of error, float16 keeps it within 0.07 on [0, 1]
  while halving the memory of float32 (the 291 images at ×2,3,4 take about 200 MB).
- A patch is drawn uniformly over all patch positions of all images (so large images give more
  patches, as a dense grid would), with one of the 8 flips/rotations; input and target are cut
  at the same place. Denoising inputs get fresh noise for every patch (not clipped, like the
  benchmarks): one of the fixed levels, or a level drawn uniformly from a range (blind model).
- Draws are a pure function of ``(seed, rank, step, stream)`` (:func:`step_rng`): no generator state
  has to be saved to resume a run exactly, and every data-parallel rank draws different patches.
- A few images are held out of the training folders for validation (chosen by the seed), with
  fixed degradations, centre-cropped to a bounded size so that validating stays fast.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from redcli.color import rgb_to_y
from redcli.datasets import BENCHMARKS, sha256_file
from redcli.degrade import add_gaussian_noise, sr_input
from redcli.errors import DatasetError, UsageError
from redcli.images import read_image
from redcli.metrics import psnr, quantize
from redcli.resize import modcrop

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
VAL_LEVELS_IN_RANGE = 4  # validation noise levels spread over a blind range

# First words of the seed sequences, so that the streams never overlap.
_STREAM_PATCHES, _STREAM_SPLIT, _STREAM_VAL_NOISE = 0, 1, 2


@dataclass(frozen=True)
class Degradation:
    """What corrupts a clean patch: noise (fixed levels or a range, 8-bit units) or SR scales."""

    task: str
    sigmas: tuple[float, ...] = ()
    sigma_range: tuple[float, float] | None = None
    scales: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.task == "denoise":
            if bool(self.sigmas) == (self.sigma_range is not None):
                raise UsageError("denoising needs either fixed noise levels (--sigma) or a range (--sigma-range)")
            if self.scales:
                raise UsageError("--scales applies to --task sr only")
            levels = self.sigmas or self.sigma_range or ()
            if any(not 0 <= s <= 255 for s in levels):
                raise UsageError(f"noise levels must lie in 0..255, got {', '.join(f'{s:g}' for s in levels)}")
            if self.sigma_range is not None and self.sigma_range[0] > self.sigma_range[1]:
                raise UsageError(f"--sigma-range must be LO,HI with LO <= HI, got {self.sigma_range}")
        elif self.task == "sr":
            if self.sigmas or self.sigma_range is not None:
                raise UsageError("--sigma/--sigma-range apply to --task denoise only")
            if not self.scales or any(s < 2 for s in self.scales):
                raise UsageError("super-resolution needs --scales, integers >= 2 (e.g. --scales 2,3,4)")
        else:
            raise UsageError(f"unknown task {self.task!r} (expected denoise or sr)")

    @property
    def covered_sigmas(self) -> tuple[float, float] | None:
        """(lowest, highest) noise level trained on, for the weights metadata; None for SR."""
        if self.task != "denoise":
            return None
        return self.sigma_range or (min(self.sigmas), max(self.sigmas))

    def draw_sigma(self, rng: np.random.Generator) -> float:
        """One noise level for one patch: a fixed level at random, or uniform in the range."""
        if self.sigma_range is not None:
            return float(rng.uniform(*self.sigma_range))
        return self.sigmas[int(rng.integers(len(self.sigmas)))]

    def val_levels(self) -> tuple[float, ...]:
        """The levels (σ or scales) validation images cycle through.

        A blind range is represented by the centres of its quarters (0..75 gives 9.4, 28.1, 46.9,
        65.6), never by σ = 0 (whose PSNR can be infinite).
        """
        if self.task == "sr":
            return tuple(float(s) for s in self.scales)
        if self.sigma_range is not None:
            lo, hi = self.sigma_range
            return tuple(lo + (hi - lo) * (j + 0.5) / VAL_LEVELS_IN_RANGE for j in range(VAL_LEVELS_IN_RANGE))
        return self.sigmas


def step_rng(seed: int, rank: int, step: int, stream: int = 0) -> np.random.Generator:
    """The generator every random choice of training step ``step`` on ``rank`` comes from.

    ``stream`` (an integer >= 0) selects another sequence of patches for the same seed: a
    fine-tune uses one derived from its starting weights, so it does not replay the patches of
    the run that made them (0, the default, is the sequence of a run from scratch)."""
    return np.random.default_rng([seed, _STREAM_PATCHES, rank, step] + ([stream] if stream else []))


# --- files -----------------------------------------------------------------------------------


def find_images(folders: Sequence[Path]) -> list[Path]:
    """Image files (png, jpg, bmp, tif, webp) under each folder, recursively, sorted per folder.

    :class:`DatasetError` when a folder is missing or holds no image.
    """
    files: list[Path] = []
    for folder in folders:
        if not Path(folder).is_dir():
            raise DatasetError(f"{folder}: no such training folder")
        found = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not found:
            raise DatasetError(f"{folder}: no image files (png, jpg, bmp, tif, webp) in this folder")
        files.extend(found)
    return files


def reject_benchmark_images(files: Sequence[Path]) -> None:
    """:class:`DatasetError` when a file is byte-identical to an image of a benchmark test set."""
    known = {sha: f"{spec.name}/{name}" for spec in BENCHMARKS.values() for name, sha in spec.files}
    for path in files:
        match = known.get(sha256_file(path))
        if match is not None:
            raise DatasetError(f"{path} is the benchmark test image {match}: never train on a test set")


def fingerprint(files: Sequence[Path]) -> str:
    """sha256 over the names and sizes of ``files`` (in order): changes when the data set changes."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.name}\0{path.stat().st_size}\n".encode())
    return digest.hexdigest()


def split_files(files: Sequence[Path], *, fraction: float, count: int | None,
                seed: int) -> tuple[list[Path], list[Path]]:
    """(training, validation) files: ``count`` (else ``round(fraction * n)``, at least 1 when
    ``fraction > 0``) images held out at random by ``seed``; both lists keep the input order."""
    n_val = count if count is not None else max(round(fraction * len(files)), 1 if fraction > 0 else 0)
    if n_val < 0 or n_val >= len(files):
        raise UsageError(f"cannot hold out {n_val} of {len(files)} images for validation: "
                         "none would be left to train on")
    held = set(np.random.default_rng([seed, _STREAM_SPLIT]).permutation(len(files))[:n_val].tolist())
    return ([p for i, p in enumerate(files) if i not in held], [p for i, p in enumerate(files) if i in held])


def read_luma(path: Path) -> np.ndarray:
    """The grey level of an image file as uint8 HW: grey as stored, colour as BT.601 Y (16..235)."""
    pixels = read_image(path).pixels  # HWC float32 [0, 1]
    plane = pixels[..., 0] if pixels.shape[2] <= 2 else rgb_to_y(pixels[..., :3])
    return np.clip(np.rint(plane * 255.0), 0, 255).astype(np.uint8)


def _read_all(files: Sequence[Path], workers: int) -> list[np.ndarray]:
    """:func:`read_luma` of every file, in order, decoded by a pool of threads."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(read_luma, files))


def _sr_inputs(planes: Sequence[np.ndarray], scale: int, workers: int) -> list[np.ndarray]:
    """Bicubic down-then-up inputs (float16 HW, ``modcrop(plane, scale)``'s shape) of uint8 planes."""
    def one(plane: np.ndarray) -> np.ndarray:
        return np.asarray(sr_input(plane.astype(np.float32) / 255.0, scale), dtype=np.float16)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(one, planes))


# --- training patches ------------------------------------------------------------------------


def dihedral(array: np.ndarray, k: int) -> np.ndarray:
    """The ``k``-th (0..7) flip/rotation of an HW array: ``k % 4`` quarter turns, then a mirror if ``k >= 4``."""
    turned = np.rot90(array, k % 4)
    return turned[:, ::-1] if k >= 4 else turned


@dataclass
class PatchSampler:
    """Clean planes (uint8 HW) and, for SR, their pre-upsampled inputs (float16 HW) per scale."""

    targets: list[np.ndarray]
    inputs: dict[int, list[np.ndarray]]
    degradation: Degradation
    patch: int
    weights: np.ndarray  # probability of drawing each image, proportional to its patch positions

    def draw(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
        """``count`` (input, target) patch pairs, each float32 (count, 1, patch, patch) in [0, 1]
        (noisy inputs may leave [0, 1])."""
        images = rng.choice(len(self.targets), size=count, p=self.weights)
        pairs = [self._one(rng, int(i)) for i in images]
        return (np.stack([p[0] for p in pairs])[:, None], np.stack([p[1] for p in pairs])[:, None])

    def _one(self, rng: np.random.Generator, index: int) -> tuple[np.ndarray, np.ndarray]:
        """One pair from image ``index``: a random position and transform, then the degradation."""
        scales = self.degradation.scales
        scale = scales[int(rng.integers(len(scales)))] if scales else 1
        source = self.inputs[scale][index] if scales else self.targets[index]
        height, width = source.shape
        y, x = int(rng.integers(height - self.patch + 1)), int(rng.integers(width - self.patch + 1))
        k = int(rng.integers(8))
        window = (slice(y, y + self.patch), slice(x, x + self.patch))
        target = dihedral(self.targets[index][window], k).astype(np.float32) / 255.0
        if scales:
            return dihedral(source[window], k).astype(np.float32), target
        return np.asarray(add_gaussian_noise(target, self.degradation.draw_sigma(rng), rng), np.float32), target


def build_sampler(planes: list[np.ndarray], degradation: Degradation, patch: int, workers: int) -> PatchSampler:
    """A sampler over ``planes`` (uint8 HW): makes the SR inputs, drops images smaller than a patch.

    :class:`DatasetError` when no image is large enough.
    """
    usable = [p for p in planes if min(_cropped_shape(p, degradation.scales)) >= patch]
    if not usable:
        raise DatasetError(f"no training image is at least {patch}×{patch} pixels (after cropping to the scale)")
    inputs = {s: _sr_inputs(usable, s, workers) for s in degradation.scales}
    positions = np.array([np.prod(np.subtract(_cropped_shape(p, degradation.scales), patch - 1)) for p in usable],
                         dtype=np.float64)
    return PatchSampler(usable, inputs, degradation, patch, positions / positions.sum())


def _cropped_shape(plane: np.ndarray, scales: tuple[int, ...]) -> tuple[int, int]:
    """The smallest (H, W) of ``plane`` mod-cropped to each scale (its own shape without scales)."""
    height, width = plane.shape
    return (min(height - height % s for s in scales or (1,)), min(width - width % s for s in scales or (1,)))


# --- validation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValImage:
    """One held-out pair with a fixed degradation, centre-cropped to at most ``crop``×``crop``."""

    name: str
    level: float  # the noise level σ (8-bit units) or the SR scale
    input: np.ndarray  # float32 HW, [0, 1] (noisy inputs may leave it)
    target: np.ndarray  # uint8 HW, same shape
    border: int  # pixels ignored at each edge by PSNR: the scale for SR, 0 for denoising


def build_val(files: Sequence[Path], planes: Sequence[np.ndarray], degradation: Degradation, *,
              crop: int, seed: int) -> list[ValImage]:
    """Validation pairs: image ``i`` gets level ``i mod n`` of :meth:`Degradation.val_levels`.

    SR inputs are made from the whole image, then cropped; denoising crops first, then adds noise
    drawn from a generator seeded by ``(seed, i)`` (the same pairs on every run with that seed).
    """
    levels = degradation.val_levels()
    images = []
    for index, (path, plane) in enumerate(zip(files, planes, strict=True)):
        level = levels[index % len(levels)]
        if degradation.task == "sr":
            degraded = sr_input(plane.astype(np.float32) / 255.0, int(level))
            target, degraded = _centre(modcrop(plane, int(level)), crop), _centre(np.asarray(degraded), crop)
            border = int(level)
        else:
            target = _centre(plane, crop)
            rng = np.random.default_rng([seed, _STREAM_VAL_NOISE, index])
            degraded, border = add_gaussian_noise(target.astype(np.float32) / 255.0, level, rng), 0
        images.append(ValImage(path.name, level, np.asarray(degraded, np.float32), target, border))
    return images


def _centre(array: np.ndarray, crop: int) -> np.ndarray:
    """The central ``min(H, crop)`` x ``min(W, crop)`` window of an HW array."""
    height, width = array.shape[:2]
    top, left = max(0, (height - crop) // 2), max(0, (width - crop) // 2)
    return array[top:top + crop, left:left + crop]


def val_psnr(images: Sequence[ValImage], outputs: Sequence[np.ndarray]) -> float:
    """Mean PSNR (dB) of ``outputs`` (HW float in [0, 1], one per image) quantized to 8 bits."""
    scores = [psnr(image.target.astype(np.float64), quantize(output), border=image.border)
              for image, output in zip(images, outputs, strict=True)]
    return float(np.mean(scores))


# --- everything a run needs ------------------------------------------------------------------


@dataclass
class TrainingData:
    """The in-memory training set, the validation pairs, and where they came from."""

    sampler: PatchSampler
    val: list[ValImage]
    train_files: list[Path]
    val_files: list[Path]
    skipped: int  # training images smaller than one patch, left out
    fingerprint: str  # of every file found, see :func:`fingerprint`

    @property
    def input_psnr(self) -> float | None:
        """Mean validation PSNR of the degraded inputs themselves (what the model has to beat)."""
        return val_psnr(self.val, [image.input for image in self.val]) if self.val else None


def load_training_data(folders: Sequence[Path], degradation: Degradation, *, patch: int, val_fraction: float,
                       val_count: int | None, val_crop: int, seed: int, workers: int | None = None) -> TrainingData:
    """Find, check, split, decode and prepare everything; ``workers`` threads decode (default: all cores).

    :class:`DatasetError` for missing or empty folders, a benchmark test image among the files, or
    no image as large as a patch; :class:`UsageError` when validation would take every image.
    """
    workers = workers or os.cpu_count() or 1
    files = find_images(folders)
    reject_benchmark_images(files)
    train_files, val_files = split_files(files, fraction=val_fraction, count=val_count, seed=seed)
    planes = _read_all(train_files, workers)
    sampler = build_sampler(planes, degradation, patch, workers)
    val = build_val(val_files, _read_all(val_files, workers), degradation, crop=val_crop, seed=seed)
    return TrainingData(sampler, val, train_files, val_files, len(planes) - len(sampler.targets), fingerprint(files))
