"""Quality and speed benchmarks, returning dataclasses (no printing).

Quality (:func:`run_quality`) follows the literature's protocols (``DESIGN.md``):

* super-resolution: the HR image is mod-cropped, shrunk with MATLAB bicubic, then restored
  at ``×scale`` (bicubic pre-upsampling, then the net); PSNR/SSIM on Y with a border of
  ``scale`` pixels, on 8-bit outputs. The ``bicubic`` model is the baseline itself.
* denoising: on the grey image (colour images are reduced to full-range luma first, as the
  paper's grey evaluation does), N(0, σ/255) noise with a fixed seed per image and σ,
  not clipped unless asked; PSNR/SSIM on the whole 8-bit grey image.

Every result carries the matching baseline (bicubic for SR, the noisy input for denoising)
and the paper's number where one exists (:mod:`redcli.paper`). :func:`check_results`
compares results with the numbers recorded in the registry.

Speed (:func:`run_speed`) times ``restore`` for a few tile sizes and precisions, measures
the device's dense matmul rate in the same run, and the peak memory of two image sizes at
one tile size (memory grows with the tile, not with the image).
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from redcli import datasets
from redcli.degrade import add_gaussian_noise, bicubic_lr, bicubic_up, noise_seed
from redcli.devices import configure_cpu_threads, resolve_device, resolve_precision, synchronize
from redcli.errors import ModelError, UsageError
from redcli.hub import load_named_or_path
from redcli.metrics import score_denoise, score_sr
from redcli.model import REDNet
from redcli.paper import PaperScore, bicubic_baseline, paper_score
from redcli.registry import Architecture, WeightsMeta, get_entry, pick_denoiser, pick_upscaler
from redcli.resize import modcrop
from redcli.restore import RestoreOptions, restore

SR_SCALES = (2, 3, 4)
NOISE_SIGMAS = (10.0, 30.0, 50.0, 70.0)
BICUBIC = "bicubic"
LUMA_WEIGHTS = (0.298936021293775, 0.587043074451121, 0.114020904255103)  # MATLAB rgb2gray


# --------------------------------------------------------------------------- quality


@dataclass(frozen=True)
class BenchOptions:
    """How to run the network and build the degraded inputs (not what to measure).

    ``task`` is only needed for a folder of images benchmarked without a model that says
    its task; ``data_dir`` is where the known sets are looked for first.
    """

    device: str = "auto"
    precision: str = "auto"
    tile: int | None = None
    clip_noise: bool = False
    data_dir: Path | None = None
    task: str | None = None


@dataclass(frozen=True)
class ImageScore:
    """One image at one setting: the model's and the baseline's PSNR (dB) / SSIM."""

    dataset: str
    image: str
    scale: int | None
    sigma: float | None
    psnr: float
    ssim: float
    baseline_psnr: float
    baseline_ssim: float


@dataclass(frozen=True)
class ImageEvent:
    """Reported after each image: its score, the restored image (HWC float32 [0, 1]) and progress."""

    score: ImageScore
    output: np.ndarray
    done: int
    total: int


@dataclass(frozen=True)
class QualityResult:
    """The mean over a set at one scale or σ; ``reference`` is the published number, if any."""

    dataset: str
    task: str
    scale: int | None
    sigma: float | None
    model: str
    ensemble: bool
    psnr: float
    ssim: float
    images: int
    baseline_psnr: float
    baseline_ssim: float
    reference: PaperScore | None = None
    per_image: tuple[ImageScore, ...] = field(default=(), repr=False)

    def to_json(self) -> dict[str, Any]:
        """The JSON record: every key always present, ``None`` where not applicable."""
        ref = self.reference
        return {
            "dataset": self.dataset, "task": self.task, "scale": self.scale, "sigma": self.sigma,
            "model": self.model, "ensemble": self.ensemble, "psnr": round(self.psnr, 4),
            "ssim": round(self.ssim, 5), "images": self.images,
            "baseline_psnr": round(self.baseline_psnr, 4), "baseline_ssim": round(self.baseline_ssim, 5),
            "paper_psnr": ref.psnr if ref else None, "paper_ssim": ref.ssim if ref else None,
            "paper_source": ref.source if ref else None,
        }


@dataclass(frozen=True)
class _Runner:
    """The model for one setting: a loaded net, or ``net=None`` for the bicubic baseline."""

    name: str
    task: str
    net: REDNet | None = None
    meta: WeightsMeta | None = None


@dataclass(frozen=True)
class _BenchSet:
    """A set's name as given, its task, its images and whether it is one of the known sets."""

    name: str
    task: str | None
    images: list[tuple[str, np.ndarray]]
    known: bool


OnImage = Callable[[ImageEvent], None]


def run_quality(dataset: str, model: str | None = None, *, scales: Sequence[int] = SR_SCALES,
                sigmas: Sequence[float] = NOISE_SIGMAS, ensemble: bool = False,
                options: BenchOptions = BenchOptions(), on_image: OnImage | None = None) -> list[QualityResult]:
    """Benchmark ``model`` on ``dataset`` at every scale (SR sets) or σ (denoising sets).

    ``dataset`` is a known set name (``set5``, ``set14``, ``bsd100``, ``set12``, ``bsd68``) or
    a folder of images. ``model`` is a registered name, a weights file, ``bicubic`` (SR
    baseline) or None for the registry's pick per scale / σ. Raises ``DatasetError`` for a
    missing or altered set, ``ModelError`` / ``UsageError`` for an unusable model.
    """
    bench_set = _open_set(dataset, options)
    if bench_set.task and options.task and options.task != bench_set.task:
        raise UsageError(f"{bench_set.name} is a {bench_set.task} set; --task {options.task} does not apply")
    loaded: dict[str, _Runner] = {}
    task = bench_set.task or options.task or _task_of(model, loaded)
    levels = _levels(task, scales, sigmas)
    total = len(levels) * len(bench_set.images)
    results = []
    for index, level in enumerate(levels):
        runner = _runner_for(model, task, level, loaded)
        counter = _Counter(index * len(bench_set.images), total, on_image)
        results.append(_run_level(bench_set, task, level, runner, ensemble, options, counter))
    return results


def _open_set(dataset: str, options: BenchOptions) -> _BenchSet:
    """A known set (verified) by name, else a folder of images by path (``./set5`` for a folder named like a set)."""
    name = dataset.strip()
    if name.lower() in datasets.BENCHMARKS:
        spec = datasets.BENCHMARKS[name.lower()]
        return _BenchSet(name.lower(), spec.task, datasets.load_benchmark(name.lower(), options.data_dir), True)
    return _BenchSet(name, None, datasets.load_folder(Path(name)), False)


def _levels(task: str, scales: Sequence[int], sigmas: Sequence[float]) -> list[int] | list[float]:
    """The settings to run: scales for SR, σ values for denoising."""
    if task == "sr":
        if not scales or any(int(s) != s or s < 2 for s in scales):
            raise UsageError(f"scales must be integers >= 2, got {list(scales)}")
        return [int(s) for s in scales]
    if not sigmas or any(not 0 < s <= 255 for s in sigmas):
        raise UsageError(f"σ values must be in (0, 255] (8-bit units), got {list(sigmas)}")
    return [float(s) for s in sigmas]


def _task_of(model: str | None, loaded: dict[str, _Runner]) -> str:
    """A folder's task when not given: the model's own task."""
    if model is None:
        raise UsageError("a folder of images needs --task sr|denoise or a --model that says its task")
    return _load(model, loaded).task


def _runner_for(model: str | None, task: str, level: float, loaded: dict[str, _Runner]) -> _Runner:
    """The model to use at one scale / σ: as given, or the registry's pick; checked against the task."""
    runner = _load(model if model is not None else _registry_pick(task, level), loaded)
    if runner.task != task:
        if runner.net is None:
            raise UsageError("bicubic is a super-resolution baseline; denoising sets need a denoising model")
        raise UsageError(f"{runner.name} is a {runner.task} model; this set needs a {task} model")
    return runner


def _registry_pick(task: str, level: float) -> str:
    """The shipped model for ``task`` at ``level``, or a :class:`ModelError` with what to pass instead."""
    try:
        return (pick_upscaler(int(level)) if task == "sr" else pick_denoiser(level)).name
    except ModelError as exc:
        hint = " (or --model bicubic for the bicubic baseline)" if task == "sr" else ""
        raise ModelError(f"{exc}{hint}") from None


def _load(spec: str, loaded: dict[str, _Runner]) -> _Runner:
    """Load ``spec`` once per benchmark run (``bicubic`` needs no net)."""
    if spec not in loaded:
        if spec.lower() == BICUBIC:
            loaded[spec] = _Runner(BICUBIC, "sr")
        else:
            net, meta, source = load_named_or_path(spec)
            loaded[spec] = _Runner(meta.name or str(source), meta.task, net, meta)
    return loaded[spec]


class _Counter:
    """Counts images across the settings of one run and forwards events to the caller."""

    def __init__(self, done: int, total: int, on_image: OnImage | None) -> None:
        self.done, self.total, self.on_image = done, total, on_image

    def __call__(self, score: ImageScore, output: np.ndarray) -> None:
        self.done += 1
        if self.on_image is not None:
            self.on_image(ImageEvent(score, output, self.done, self.total))


def _run_level(bench_set: _BenchSet, task: str, level: float, runner: _Runner, ensemble: bool,
               options: BenchOptions, counter: _Counter) -> QualityResult:
    """Every image of the set at one scale or σ, averaged."""
    scale, sigma = (int(level), None) if task == "sr" else (None, float(level))
    use_ensemble = ensemble and runner.net is not None
    scores = []
    for stem, image in bench_set.images:
        values, output = (_score_sr_image(image, scale, runner, use_ensemble, options) if scale is not None
                          else _score_denoise_image(stem, image, level, runner, use_ensemble, options))
        score = ImageScore(bench_set.name, stem, scale, sigma, *values)
        scores.append(score)
        counter(score, output)
    return QualityResult(
        dataset=bench_set.name, task=task, scale=scale, sigma=sigma, model=runner.name, ensemble=use_ensemble,
        psnr=_mean(s.psnr for s in scores), ssim=_mean(s.ssim for s in scores), images=len(scores),
        baseline_psnr=_mean(s.baseline_psnr for s in scores), baseline_ssim=_mean(s.baseline_ssim for s in scores),
        reference=_reference(bench_set, task, level, runner) if bench_set.known else None,
        per_image=tuple(scores),
    )


def _restore_options(scale: int, ensemble: bool, options: BenchOptions) -> RestoreOptions:
    return RestoreOptions(scale=scale, color="y", tile=options.tile, ensemble=ensemble,
                          device=options.device, precision=options.precision)


def _score_sr_image(hr: np.ndarray, scale: int, runner: _Runner, ensemble: bool,
                    options: BenchOptions) -> tuple[tuple[float, float, float, float], np.ndarray]:
    """(psnr, ssim, bicubic psnr, bicubic ssim) and the restored image, for one HR image."""
    hr = modcrop(hr[..., :3] if hr.shape[2] >= 3 else hr[..., :1], scale)
    lr = bicubic_lr(hr, scale)
    baseline = bicubic_up(lr, scale)
    if runner.net is None:
        output = baseline
    else:
        output = restore(lr, runner.net, _restore_options(scale, ensemble, options))
    return (*score_sr(hr, output, scale), *score_sr(hr, baseline, scale)), output


def _score_denoise_image(stem: str, image: np.ndarray, sigma: float, runner: _Runner, ensemble: bool,
                         options: BenchOptions) -> tuple[tuple[float, float, float, float], np.ndarray]:
    """(psnr, ssim, noisy psnr, noisy ssim) and the restored image, for one clean image."""
    clean = to_grey(image)
    rng = np.random.default_rng(noise_seed(stem, sigma))
    noisy = add_gaussian_noise(clean, sigma, rng, clip=options.clip_noise)
    output = restore(noisy, runner.net, _restore_options(1, ensemble, options))
    return (*score_denoise(clean, output), *score_denoise(clean, noisy)), output


def to_grey(image: np.ndarray) -> np.ndarray:
    """HWC [0, 1] -> HW1 grey: the grey channel as is, colour as full-range luma (MATLAB ``rgb2gray``)."""
    if image.shape[2] < 3:
        return image[..., :1]
    grey = image[..., :3].astype(np.float64) @ np.asarray(LUMA_WEIGHTS)
    return grey[..., None].astype(np.float32)


def _reference(bench_set: _BenchSet, task: str, level: float, runner: _Runner) -> PaperScore | None:
    """The published number to show beside a result: bicubic's for the baseline, else the paper's."""
    if runner.net is None:
        return bicubic_baseline(bench_set.name, int(level))
    depth = runner.meta.arch.depth if runner.meta else 30
    return paper_score(bench_set.name, task, level, depth, blind=runner.meta is not None and runner.meta.blind)


def _mean(values: Any) -> float:
    return float(np.mean(list(values)))


# --------------------------------------------------------------------------- --check


@dataclass(frozen=True)
class CheckOutcome:
    """A result against its recorded number: ``passed`` is None when nothing is recorded."""

    result: QualityResult
    expected: PaperScore | None
    passed: bool | None

    @property
    def shortfall(self) -> float | None:
        """dB below the recorded PSNR (negative when better), or None."""
        return None if self.expected is None else self.expected.psnr - self.result.psnr


def recorded_score(result: QualityResult) -> PaperScore | None:
    """The number recorded for this model and setting: registry metrics, or the published bicubic."""
    if result.model == BICUBIC:
        return bicubic_baseline(result.dataset, result.scale) if result.scale else None
    try:
        entry = get_entry(result.model)
    except ModelError:
        return None
    record = entry.metric(result.dataset, scale=result.scale, sigma=result.sigma, ensemble=result.ensemble)
    return None if record is None else PaperScore(record.psnr, record.ssim, f"registry {entry.name}")


def check_results(results: Sequence[QualityResult], tolerance: float = 0.05) -> list[CheckOutcome]:
    """Each result against its recorded PSNR: it passes unless more than ``tolerance`` dB below."""
    outcomes = []
    for result in results:
        expected = recorded_score(result)
        passed = None if expected is None else result.psnr >= expected.psnr - tolerance
        outcomes.append(CheckOutcome(result, expected, passed))
    return outcomes


# --------------------------------------------------------------------------- speed


@dataclass(frozen=True)
class SpeedOptions:
    """What to time. ``None`` fields take device-dependent defaults (see :func:`speed_plan`)."""

    device: str = "auto"
    tiles: tuple[int, ...] = (128, 256, 512)
    precisions: tuple[str, ...] | None = None
    image_size: int | None = None
    memory_size: int | None = None
    memory_tile: int = 256
    repeats: int | None = None


@dataclass(frozen=True)
class SpeedRecord:
    """One timed configuration.

    ``peak_mem_mb`` is the memory ``restore`` needed above what was in use before it: the
    RSS high-water mark growth in a fresh process on CPU, torch's peak allocation on CUDA.
    It is measured for the ``memory`` rows (and for every row on CUDA), else None.
    """

    device: str
    model: str
    tile: int
    precision: str
    size: int
    mpix_per_s: float
    flop_fraction: float
    peak_mem_mb: float | None
    kind: str  # "throughput" | "memory"

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        record.update(mpix_per_s=_significant(self.mpix_per_s), flop_fraction=_significant(self.flop_fraction),
                      peak_mem_mb=None if self.peak_mem_mb is None else round(self.peak_mem_mb, 1))
        return record


def _significant(value: float, digits: int = 4) -> float:
    """``value`` rounded to ``digits`` significant digits (tiny test models give tiny fractions)."""
    return float(f"{value:.{digits}g}")


@dataclass(frozen=True)
class MatmulPeak:
    """Dense matmul throughput of the device at one precision, in TFLOP/s."""

    device: str
    precision: str
    tflops: float


@dataclass(frozen=True)
class SpeedReport:
    """Everything :func:`run_speed` measured; ``note`` says what the model is."""

    model: str
    note: str
    flops_per_pixel: int
    records: tuple[SpeedRecord, ...]
    peaks: tuple[MatmulPeak, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "speed": [r.to_json() for r in self.records],
            "matmul": [{**asdict(p), "tflops": _significant(p.tflops)} for p in self.peaks],
            "model": self.model, "note": self.note, "flops_per_pixel": self.flops_per_pixel,
        }


@dataclass(frozen=True)
class SpeedPlan:
    """Concrete settings for one device after defaults are applied."""

    precisions: tuple[str, ...]
    image_size: int
    memory_sizes: tuple[int, int]
    repeats: int
    matmul_n: int


ARCH_ONLY_NOTE = "architecture only — timing does not depend on weights"
OnStep = Callable[[str], None]


def flops_per_pixel(arch: Architecture) -> int:
    """FLOPs per output pixel of one forward pass: 2 × Σ k·k·c_in·c_out over the 3×3 layers.

    Biases, ReLUs and the skip additions are ignored (under 0.1 %).
    """
    layers = [(arch.channels, arch.width)] + [(arch.width, arch.width)] * (arch.depth - 2) \
        + [(arch.width, arch.channels)]
    return 2 * sum(3 * 3 * c_in * c_out for c_in, c_out in layers)


def speed_plan(device: torch.device, options: SpeedOptions) -> SpeedPlan:
    """Defaults: CPU times fp32 on 512² and measures memory at 512²/1024²; CUDA times
    fp32/bf16/fp16 on 2048² and measures memory at 2048²/4096²."""
    cuda = device.type == "cuda"
    memory = options.memory_size or (4096 if cuda else 1024)
    precisions = options.precisions or (("fp32", "bf16", "fp16") if cuda else ("fp32",))
    return SpeedPlan(
        precisions=precisions, image_size=options.image_size or (2048 if cuda else max(options.tiles)),
        memory_sizes=(max(memory // 2, 1), memory), repeats=options.repeats or (3 if cuda else 1),
        matmul_n=8192 if cuda else 2048,
    )


def run_speed(model: str | None = None, options: SpeedOptions = SpeedOptions(),
              on_step: OnStep | None = None) -> SpeedReport:
    """Time ``restore`` per tile and precision, the matmul peak, and peak memory at two sizes."""
    configure_cpu_threads()
    device = resolve_device(options.device)
    net, name, note = _speed_model(model)
    plan = speed_plan(device, options)
    step = on_step or (lambda _text: None)
    fpp = flops_per_pixel(net.arch)
    peaks = {p: _matmul_peak(device, p, plan.matmul_n, step) for p in plan.precisions}
    timing = _Timing(net, name, device, fpp, plan.repeats)
    records = [timing.throughput(tile, precision, plan.image_size, peaks[precision], step)
               for precision in plan.precisions for tile in options.tiles]
    records += [timing.memory(model, options.memory_tile, plan.precisions[0], size, peaks[plan.precisions[0]], step)
                for size in plan.memory_sizes]
    return SpeedReport(name, note, fpp, tuple(records), tuple(peaks.values()))


def _speed_model(spec: str | None) -> tuple[REDNet, str, str]:
    """The net to time, its label and a note: the given model, the default denoiser, or an untrained RED30."""
    if spec is not None and spec.lower() == BICUBIC:
        raise UsageError("bicubic has no network to time; pass a model name or weights file")
    if spec is None:
        try:
            spec = pick_denoiser(None).name
        except ModelError:
            return _untrained(), "RED30/w64 (untrained)", ARCH_ONLY_NOTE
    net, meta, source = load_named_or_path(spec)
    return net, meta.name or str(source), f"{meta.arch.label}, {meta.task} {meta.levels}"


def _untrained(arch: Architecture = Architecture(30, 64, 1)) -> REDNet:
    return REDNet(arch.depth, arch.width, arch.channels).eval()


class _Timing:
    """Runs the timed configurations of one model on one device."""

    def __init__(self, net: REDNet, name: str, device: torch.device, fpp: int, repeats: int) -> None:
        self.net, self.name, self.device, self.fpp, self.repeats = net, name, device, fpp, repeats

    def throughput(self, tile: int, precision: str, size: int, peak: MatmulPeak, step: OnStep) -> SpeedRecord:
        """Best of ``repeats`` after one warm-up, on a ``size``² image."""
        step(f"timing tile {tile} {precision} on {size}×{size}")
        image = _test_image(size, self.net.arch.channels)
        options = _speed_restore_options(self.device, tile, precision)
        warm = min(size, tile or size)
        _timed_restore(self.net, image[:warm, :warm], options)
        runs = [_timed_restore(self.net, image, options) for _ in range(self.repeats)]
        seconds = min(r[0] for r in runs)
        peak_mb = max(r[1] for r in runs) if self.device.type == "cuda" else None
        return self._record(tile, precision, size, seconds, peak, peak_mb, "throughput")

    def memory(self, spec: str | None, tile: int, precision: str, size: int, peak: MatmulPeak,
               step: OnStep) -> SpeedRecord:
        """One run on a ``size``² image; on CPU in a fresh process so its peak RSS is its own."""
        step(f"peak memory at tile {tile} on {size}×{size}")
        if self.device.type == "cuda":
            seconds, peak_mb = _timed_restore(self.net, _test_image(size, self.net.arch.channels),
                                              _speed_restore_options(self.device, tile, precision))
        else:
            probe = _MemoryProbe(spec, str(self.device), tile, precision, size)
            with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
                seconds, peak_mb = pool.submit(_run_memory_probe, probe).result()
        return self._record(tile, precision, size, seconds, peak, peak_mb, "memory")

    def _record(self, tile: int, precision: str, size: int, seconds: float, peak: MatmulPeak,
                peak_mb: float | None, kind: str) -> SpeedRecord:
        pixels_per_s = size * size / seconds
        return SpeedRecord(
            device=str(self.device), model=self.name, tile=tile, precision=precision, size=size,
            mpix_per_s=pixels_per_s / 1e6, flop_fraction=pixels_per_s * self.fpp / (peak.tflops * 1e12),
            peak_mem_mb=peak_mb, kind=kind,
        )


@dataclass(frozen=True)
class _MemoryProbe:
    """What a fresh process needs to rebuild the model and run one memory measurement."""

    model: str | None
    device: str
    tile: int
    precision: str
    size: int


def _run_memory_probe(probe: _MemoryProbe) -> tuple[float, float | None]:
    """In a fresh process: (seconds, MiB of peak RSS growth) of one ``restore``."""
    configure_cpu_threads()
    net = _speed_model(probe.model)[0]
    options = _speed_restore_options(torch.device(probe.device), probe.tile, probe.precision)
    return _timed_restore(net, _test_image(probe.size, net.arch.channels), options)


def _test_image(size: int, channels: int) -> np.ndarray:
    """A ``size``² float32 image in [0, 1]; content does not matter for timing."""
    return np.random.default_rng(0).random((size, size, channels), dtype=np.float32)


def _speed_restore_options(device: torch.device, tile: int, precision: str) -> RestoreOptions:
    return RestoreOptions(scale=1, tile=tile, device=str(device), precision=precision)


def _timed_restore(net: REDNet, image: np.ndarray, options: RestoreOptions) -> tuple[float, float | None]:
    """Seconds for one ``restore`` and the memory it needed on top of the current use (MiB)."""
    device = torch.device(options.device)
    cuda = device.type == "cuda"
    if cuda:
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
    else:
        before = _max_rss_mib()
    start = time.perf_counter()
    restore(image, net, options)
    seconds = time.perf_counter() - start
    if cuda:
        return seconds, (torch.cuda.max_memory_allocated(device) - before) / 2**20
    after = _max_rss_mib()
    return seconds, None if after is None or before is None else after - before


def _max_rss_mib() -> float | None:
    """This process's peak resident memory so far (MiB), or None where unsupported.

    Linux: ``VmHWM`` of ``/proc/self/status``. Not ``ru_maxrss``, which survives ``exec``: a
    spawned child would start at its parent's peak. Elsewhere ``ru_maxrss``.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        pass
    try:
        import resource
    except ImportError:
        return None
    unit = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit / 2**20


def _matmul_peak(device: torch.device, precision: str, n: int, step: OnStep) -> MatmulPeak:
    """Best-of-several dense ``n×n`` matmul rate at ``precision`` (fp32 on CUDA in the convolutions' TF32 mode)."""
    step(f"matmul peak {precision}")
    dtype = resolve_precision(precision, device) or torch.float32
    a, b = (torch.rand(n, n, device=device, dtype=dtype) for _ in range(2))
    saved = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32
    try:
        best = min(_timed_matmul(a, b) for _ in range(6))
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved
    return MatmulPeak(str(device), precision, 2 * n**3 / best / 1e12)


def _timed_matmul(a: torch.Tensor, b: torch.Tensor) -> float:
    synchronize(a.device)
    start = time.perf_counter()
    torch.matmul(a, b)
    synchronize(a.device)
    return time.perf_counter() - start

