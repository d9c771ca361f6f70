"""Train RED-Net: the paper's recipe by default, resumable bit for bit, data-parallel under torchrun.

    config = TrainConfig(task="denoise", data=(Path("train400"),), out=Path("runs/blind"), sigma_range=(0, 75))
    result = train(config, progress=lambda p: print(p.step, p.loss))

Recipe (paper §2.3): Adam with learning rate 1e-4, mean squared error on [0, 1] values, 50×50
grey / Y patches with the 8 flips/rotations (:mod:`redcli.patches`). Options: a cosine or
step learning-rate schedule, gradient-norm clipping, an exponential moving average (EMA) of
the weights (used for validation and export; its decay ramps up as ``min(ema, (1+t)/(10+t))``),
bf16 autocast and channels-last on CUDA (and on CPUs with native bf16, when asked for),
``torch.compile``. Fine-tuning: ``init`` starts a new run from existing weights of the same
architecture (e.g. a per-level denoiser from the blind one) and draws its patches from a stream of
its own (derived from those weights), so that continuing a model with the same seed does not
replay the patches it was trained on.

Files written in ``config.out`` (by rank 0 only):

- ``checkpoint.pt``: the full state (every ``ckpt_every`` steps, at the end, on SIGINT/SIGTERM);
- ``model.safetensors``: the final weights, ``best.safetensors``: those with the best validation
  PSNR — both :func:`redcli.hub.save_weights` files whose metadata state the task, the noise
  range or scales, validation PSNR, steps and recipe (``redcli denoise --model PATH`` reads them);
- ``metrics.jsonl``: one JSON record per log interval, validation, checkpoint, start and end;
- ``config.json``: the run's configuration.

Exact resume: every random choice of step ``t`` comes from a generator seeded by
``(seed, rank, t, patch_stream)``, and the checkpoint holds model, optimiser, scheduler, EMA and the global
RNG states, so N steps + resume + N steps equals 2N steps (bit for bit on the CPU; GPU kernels
may differ in the last bits, and a different number of data-parallel processes draws other
patches). Resuming may change only :data:`RESUMABLE_FIELDS`. SIGINT or SIGTERM stops the run
after the current step with a checkpoint; a second SIGINT interrupts at once, without one.

Data parallel: under ``torchrun`` (RANK/WORLD_SIZE set) each rank draws ``batch / world_size``
different patches (its rank is part of the seed), gradients are averaged by
DistributedDataParallel, and a stop signal on any rank stops all of them at the same step.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import hashlib
import json
import math
import signal
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Callable, TextIO

import torch
import torch.nn.functional as F
from torch import nn

from redcli import __version__
from redcli.atomic import atomic_output
from redcli.checkpoint import capture_rng, load_checkpoint, restore_rng, save_checkpoint
from redcli.devices import configure_cpu_threads, cpu_supports_bf16, resolve_device, resolve_precision
from redcli.distributed import DistInfo, any_rank, dist_info, process_group
from redcli.errors import TrainingError, UsageError
from redcli.hub import load_named_or_path, save_weights
from redcli.model import REDNet, zero_residual_
from redcli.patches import Degradation, PatchSampler, TrainingData, load_training_data, step_rng, val_psnr
from redcli.rate import RecentRate
from redcli.registry import Architecture, WeightsMeta

SCHEDULES = ("constant", "cosine", "step")
CHECKPOINT, MODEL, BEST = "checkpoint.pt", "model.safetensors", "best.safetensors"
METRICS, CONFIG = "metrics.jsonl", "config.json"
RESUMABLE_FIELDS = frozenset({"steps", "val_every", "ckpt_every", "log_every", "device", "precision", "compile",
                              "resume"})
"""Config fields a resumed run may change (the rest must match the checkpoint)."""
DERIVED_FIELDS = frozenset({"patch_stream"})
"""Config fields a run settles when it starts; a resumed run takes them from its checkpoint."""


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Noise levels are in 8-bit units; ``batch`` is global (split over ranks)."""

    task: str  # "denoise" | "sr"
    data: tuple[Path, ...]  # folders of training images (searched recursively)
    out: Path  # run folder: checkpoint, weights, logs
    sigmas: tuple[float, ...] = ()  # denoise: fixed levels, one drawn per patch
    sigma_range: tuple[float, float] | None = None  # denoise: uniform range (blind model)
    scales: tuple[int, ...] = ()  # sr: one drawn per patch
    depth: int = 30
    width: int = 64
    patch: int = 50
    batch: int = 64
    steps: int = 100_000
    lr: float = 1e-4
    schedule: str = "constant"  # constant | cosine (to 0 at `steps`) | step (× gamma at each milestone)
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    clip: float | None = None  # max L2 norm of the gradient
    ema: float | None = None  # EMA decay, e.g. 0.999
    seed: int = 0
    val_fraction: float = 0.05  # share of the images held out for validation
    val_count: int | None = None  # or exactly this many
    val_crop: int = 128  # validation images are centre-cropped to at most this size
    val_every: int = 1000  # 0: never validate
    ckpt_every: int = 1000
    log_every: int = 50
    device: str = "auto"
    precision: str = "auto"  # auto = bf16 autocast on CUDA GPUs that have it, fp32 elsewhere; bf16 also on CPUs with it
    compile: bool = False
    zero_init_residual: bool = True  # start as the identity map (see model.zero_residual_)
    init: str | None = None  # start from these weights (registered name or .safetensors path): fine-tuning
    resume: bool = False
    patch_stream: int | None = None  # None: derived when the run starts (see with_patch_stream)

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", tuple(Path(p) for p in self.data))
        object.__setattr__(self, "out", Path(self.out))
        _ = self.degradation  # raises UsageError for a bad task, noise levels or scales
        positive = {"width": self.width, "patch": self.patch, "batch": self.batch, "steps": self.steps,
                    "val_crop": self.val_crop, "ckpt_every": self.ckpt_every, "log_every": self.log_every}
        bad = [f"{name} must be >= 1, got {value}" for name, value in positive.items() if value < 1]
        if self.depth < 4 or self.depth % 2:
            bad.append(f"depth must be an even number >= 4, got {self.depth}")
        if not self.data:
            bad.append("no training folders given")
        if self.patch_stream is not None and self.patch_stream < 0:
            bad.append(f"patch_stream must be >= 0, got {self.patch_stream}")
        if not self.lr > 0:
            bad.append(f"lr must be > 0, got {self.lr}")
        if self.schedule not in SCHEDULES:
            bad.append(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.schedule == "step" and (not self.milestones or list(self.milestones) != sorted(set(self.milestones))):
            bad.append("the step schedule needs increasing milestones (e.g. 50000,80000)")
        if self.clip is not None and not self.clip > 0:
            bad.append(f"clip must be > 0, got {self.clip}")
        if self.ema is not None and not 0 < self.ema < 1:
            bad.append(f"ema decay must lie in (0, 1), got {self.ema}")
        if not 0 <= self.val_fraction < 1 or (self.val_count is not None and self.val_count < 0) or self.val_every < 0:
            bad.append("val_fraction must lie in [0, 1), val_count and val_every must be >= 0")
        if bad:
            raise UsageError("; ".join(bad))

    @property
    def degradation(self) -> Degradation:
        """The corruption the model learns to undo."""
        return Degradation(self.task, tuple(self.sigmas), self.sigma_range, tuple(self.scales))

    @property
    def arch(self) -> Architecture:
        """The network trained: RED-Net ``depth``/``width`` on one channel (grey or Y)."""
        return Architecture(self.depth, self.width, 1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values; folders as absolute paths."""
        values = dataclasses.asdict(self)
        values["data"] = [str(p.resolve()) for p in self.data]
        values["out"] = str(self.out.resolve())
        return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


@dataclass(frozen=True)
class TrainProgress:
    """What the progress callback sees (rank 0 only). PSNR in dB, ``patches_per_s`` over all ranks."""

    event: str  # "start" | "log" | "val" | "checkpoint"
    step: int  # optimiser steps done
    steps: int  # target
    loss: float | None  # mean training loss since the previous "log" event
    lr: float
    patches_per_s: float  # over about the last 5 minutes (validation and checkpoints included)
    eta_s: float | None
    val_psnr: float | None  # latest validation
    best_psnr: float | None


@dataclass(frozen=True)
class TrainResult:
    """How a run (or this session of it) ended, and where its files are."""

    out: Path
    step: int
    steps: int
    stopped_by: str | None  # "SIGINT" / "SIGTERM" (or "peer": another rank's) when interrupted; checkpoint saved
    loss: float | None
    val_psnr: float | None
    best_psnr: float | None
    best_step: int | None
    input_psnr: float | None  # validation PSNR of the degraded inputs, for reference
    patches_per_s: float  # mean over this session
    elapsed_s: float  # over all sessions of the run
    train_images: int
    val_images: int
    skipped_images: int  # training images smaller than one patch, left out
    model_path: Path
    best_path: Path | None
    checkpoint_path: Path

    def to_json(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(self).items()}


ProgressCallback = Callable[[TrainProgress], None]


# --- schedule, EMA, signals ------------------------------------------------------------------


def lr_factor(config: TrainConfig) -> Callable[[int], float]:
    """Multiplier of ``config.lr`` after ``t`` steps, for :class:`torch.optim.lr_scheduler.LambdaLR`."""
    if config.schedule == "cosine":
        return lambda t: 0.5 * (1.0 + math.cos(math.pi * min(t, config.steps) / config.steps))
    if config.schedule == "step":
        return lambda t: config.gamma ** sum(t >= m for m in config.milestones)
    return lambda t: 1.0


def memory_format(device: torch.device, autocast: torch.dtype | None) -> torch.memory_format:
    """Channels-last where it pays for training: on CUDA, and in bf16 on the CPU (fp32 there gains nothing)."""
    return torch.channels_last if device.type == "cuda" or autocast is not None else torch.contiguous_format


def optimizer_step(net: nn.Module, optimizer: torch.optim.Optimizer, batch: tuple[Any, Any], device: torch.device,
                   autocast: torch.dtype | None, clip: float | None = None) -> torch.Tensor:
    """One MSE step of ``net`` on a numpy (inputs, targets) batch, each float32 N×C×P×P in [0, 1].

    The forward pass runs under ``autocast`` (None: fp32); loss, gradients and the update stay fp32.
    ``clip``: the largest L2 norm of the gradient. Returns the loss, a 0-d tensor on ``device``.
    """
    memory = memory_format(device, autocast)
    inputs, targets = (torch.from_numpy(a).to(device).contiguous(memory_format=memory) for a in batch)
    with torch.autocast(device.type, dtype=autocast or torch.float32, enabled=autocast is not None):
        outputs = net(inputs)
    loss = F.mse_loss(outputs.float(), targets)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip is not None:
        nn.utils.clip_grad_norm_(net.parameters(), clip)
    optimizer.step()
    return loss


class EMA:
    """Exponential moving average of a model's weights, in a frozen copy (``self.model``)."""

    def __init__(self, model: REDNet, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Blend in ``model`` after ``step`` steps (decay ramps up as ``(1+t)/(10+t)``)."""
        decay = min(self.decay, (1 + step) / (10 + step))
        for average, value in zip(self.model.parameters(), model.parameters(), strict=True):
            average.lerp_(value.detach(), 1.0 - decay)


class StopFlag:
    """SIGINT/SIGTERM set :attr:`signal` instead of killing the run; a second SIGINT interrupts at once.

    Handlers are installed only in the main thread and restored on exit.
    """

    def __init__(self) -> None:
        self.signal: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "StopFlag":
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    def _handle(self, number: int, frame: FrameType | None) -> None:
        if self.signal is not None and number == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = signal.Signals(number).name


# --- the run ---------------------------------------------------------------------------------


class _Prefetch:
    """Draws the patches of step ``t + 1`` in a thread while step ``t`` trains (draws depend on ``t`` only)."""

    def __init__(self, sampler: PatchSampler, seed: int, stream: int, rank: int, count: int) -> None:
        self._args = (sampler, seed, stream, rank, count)
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._next: tuple[int, Future[tuple[Any, Any]]] | None = None

    def _submit(self, step: int) -> Future[tuple[Any, Any]]:
        sampler, seed, stream, rank, count = self._args
        return self._pool.submit(lambda: sampler.draw(step_rng(seed, rank, step, stream), count))

    def get(self, step: int) -> tuple[Any, Any]:
        """(inputs, targets) float32 numpy arrays (N, 1, P, P) of ``step``."""
        future = self._next[1] if self._next and self._next[0] == step else self._submit(step)
        self._next = (step + 1, self._submit(step + 1))
        return future.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class _State:
    """Mutable bookkeeping of a run."""

    step: int = 0
    best_psnr: float | None = None
    best_step: int | None = None
    val_psnr: float | None = None
    loss: float | None = None
    elapsed_before: float = 0.0  # seconds spent in earlier sessions


class _Trainer:
    """Holds the model, optimiser and files of one run; :meth:`run` is the loop."""

    def __init__(self, config: TrainConfig, data: TrainingData, info: DistInfo, device: torch.device,
                 autocast: torch.dtype | None, model: REDNet, checkpoint: dict[str, Any] | None) -> None:
        """``model``: the starting network (its weights are replaced by the checkpoint's, if any)."""
        self.config, self.data, self.info, self.device, self.autocast = config, data, info, device, autocast
        self.state = _State()
        self.model = model.to(device, memory_format=memory_format(device, autocast))
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_factor(config))
        self.ema = EMA(self.model, config.ema) if config.ema else None
        if checkpoint is not None:
            self._restore(checkpoint)
        self.net: nn.Module = self.model
        if info.enabled:
            from torch.nn.parallel import DistributedDataParallel

            self.net = DistributedDataParallel(self.model, device_ids=[device] if device.type == "cuda" else None)
        if config.compile:
            self.net = torch.compile(self.net)
        self.per_rank = config.batch // info.world_size
        self.out = config.out
        self._progress: ProgressCallback | None = None
        self._log = _MetricsLog(None)
        self._start_step, self._started = self.state.step, time.monotonic()

    # -- state --

    def _restore(self, checkpoint: dict[str, Any]) -> None:
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        # --resume may grow --steps, which stretches a cosine: take the current rate from this run's schedule,
        # not the checkpoint's (a finished cosine would otherwise spend its first resumed step at rate 0)
        current_lr = self.config.lr * lr_factor(self.config)(self.scheduler.last_epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = current_lr
        if self.ema is not None:
            self.ema.model.load_state_dict(checkpoint["ema"])
        restore_rng(checkpoint["rng"])
        self.state = _State(checkpoint["step"], checkpoint["best_psnr"], checkpoint["best_step"],
                            checkpoint["val_psnr"], checkpoint["loss"], checkpoint["elapsed_s"])

    def _save_checkpoint(self, elapsed: float) -> None:
        state = self.state
        save_checkpoint(self.out / CHECKPOINT, {
            "step": state.step, "config": self.config.to_dict(), "fingerprint": self.data.fingerprint,
            "world_size": self.info.world_size, "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "ema": self.ema.model.state_dict() if self.ema else None, "rng": capture_rng(),
            "best_psnr": state.best_psnr, "best_step": state.best_step, "val_psnr": state.val_psnr,
            "loss": state.loss, "elapsed_s": elapsed,
        })

    def _export(self, name: str, psnr: float | None) -> None:
        """Write the weights used for inference (EMA if enabled) as safetensors with metadata."""
        config = self.config
        extra = {"steps": str(self.state.step), "recipe": recipe(config),
                 "data": ",".join(p.name for p in config.data), "trained_by": f"redcli {__version__}"}
        if psnr is not None:
            extra["val_psnr"] = f"{psnr:.4f}"
        meta = WeightsMeta(config.arch, config.task, config.degradation.covered_sigmas,
                           tuple(sorted(config.scales)), extra=extra)
        save_weights(self.out / name, self.inference_model.state_dict(), meta)

    @property
    def inference_model(self) -> REDNet:
        return self.ema.model if self.ema else self.model

    # -- steps --

    def _train_step(self, batch: tuple[Any, Any]) -> torch.Tensor:
        """One optimiser step on a (inputs, targets) numpy batch; returns the loss (a 0-d tensor)."""
        loss = optimizer_step(self.net, self.optimizer, batch, self.device, self.autocast, self.config.clip)
        self.scheduler.step()
        self.state.step += 1
        if self.ema is not None:
            self.ema.update(self.model, self.state.step)
        return loss.detach()

    @torch.no_grad()
    def validate(self) -> float:
        """Mean PSNR (dB) of the inference model on the validation images (fp32, whole crops)."""
        model = self.inference_model
        was_training = model.training
        model.eval()
        outputs = []
        for image in self.data.val:
            x = torch.from_numpy(image.input)[None, None].to(self.device)
            outputs.append(model(x)[0, 0].float().cpu().numpy())
        model.train(was_training)
        return val_psnr(self.data.val, outputs)

    # -- loop --

    def run(self, stop: StopFlag, progress: ProgressCallback | None, log: "_MetricsLog") -> TrainResult:
        """Train until ``config.steps`` or a stop signal; checkpoint and export on the way out."""
        config, state = self.config, self.state
        self._progress, self._log = progress, log
        self._start_step, self._started = state.step, time.monotonic()
        self._recent = RecentRate(state.step)
        prefetch = _Prefetch(self.data.sampler, config.seed, config.patch_stream or 0, self.info.rank,
                             self.per_rank)
        meter = _LossMeter(self.device)
        self._report("start", input_psnr=self.data.input_psnr, device=str(self.device),
                     world_size=self.info.world_size, train_images=len(self.data.sampler.targets),
                     val_images=len(self.data.val), skipped_images=self.data.skipped)
        if self.info.is_main and config.init is not None and state.step == 0 and config.val_every and self.data.val:
            self._validate_and_keep_best()  # the starting point a fine-tune has to beat (and best.safetensors until it does)
            self._report("val", psnr=state.val_psnr, best_psnr=state.best_psnr)
        stopped_by = None
        try:
            while state.step < config.steps:
                meter.add(self._train_step(prefetch.get(state.step)))
                if not self._after_step(meter, stop):
                    stopped_by = stop.signal or "peer"
                    break
        finally:
            prefetch.close()
        if self.info.is_main:
            self._export(MODEL, state.val_psnr)
            log.write({"event": "stop" if stopped_by else "end", "step": state.step, "signal": stopped_by,
                       "elapsed_s": round(self._elapsed(), 2)})
        best = self.out / BEST
        return TrainResult(
            out=self.out, step=state.step, steps=config.steps, stopped_by=stopped_by, loss=state.loss,
            val_psnr=state.val_psnr, best_psnr=state.best_psnr, best_step=state.best_step,
            input_psnr=self.data.input_psnr, patches_per_s=self._rate() * config.batch, elapsed_s=self._elapsed(),
            train_images=len(self.data.sampler.targets), val_images=len(self.data.val),
            skipped_images=self.data.skipped, model_path=self.out / MODEL,
            best_path=best if best.is_file() else None, checkpoint_path=self.out / CHECKPOINT,
        )

    def _after_step(self, meter: "_LossMeter", stop: StopFlag) -> bool:
        """Log, validate, check for a stop request (on every rank), checkpoint; False to stop."""
        config, state, main = self.config, self.state, self.info.is_main
        step, last = state.step, state.step == config.steps
        checkpointing = step % config.ckpt_every == 0 or last
        if step % config.log_every == 0 or checkpointing:
            self._log_loss(meter)
        if main and config.val_every and self.data.val and (step % config.val_every == 0 or last):
            self._validate_and_keep_best()
            self._report("val", psnr=state.val_psnr, best_psnr=state.best_psnr)
        stopping = any_rank(stop.signal is not None, self.info, self.device)
        if stopping and meter.count:
            self._log_loss(meter)
        if main and (checkpointing or stopping):
            self._save_checkpoint(self._elapsed())
            self._report("checkpoint")
        return not stopping

    def _log_loss(self, meter: "_LossMeter") -> None:
        """Record the mean loss since the last call; :class:`TrainingError` if it is not finite
        (checked before every checkpoint, so no checkpoint holds a diverged model)."""
        loss = meter.take()
        if not math.isfinite(loss):
            raise TrainingError(f"the training loss became {loss} by step {self.state.step}: training diverged "
                                "(start again with a lower --lr or with --clip; the last checkpoint predates this)")
        self.state.loss = loss
        self._report("log", loss=loss)

    def _elapsed(self) -> float:
        """Seconds spent on the run, earlier sessions included."""
        return self.state.elapsed_before + time.monotonic() - self._started

    def _rate(self) -> float:
        """Steps per second in this session."""
        return (self.state.step - self._start_step) / max(time.monotonic() - self._started, 1e-9)

    def _report(self, event: str, **record: Any) -> None:
        """On rank 0: one record in metrics.jsonl and one call of the progress callback."""
        if not self.info.is_main:
            return
        state = self.state
        rate = self._recent.update(state.step)  # steps/s now, not since a slow start
        info = TrainProgress(event, state.step, self.config.steps, state.loss, self.optimizer.param_groups[0]["lr"],
                             rate * self.config.batch, (self.config.steps - state.step) / rate if rate > 0 else None,
                             state.val_psnr, state.best_psnr)
        self._log.write({"event": event, "step": state.step, **record, "lr": info.lr,
                         "patches_per_s": round(info.patches_per_s, 2)})
        if self._progress is not None:
            self._progress(info)

    def _validate_and_keep_best(self) -> None:
        state = self.state
        state.val_psnr = self.validate()
        if state.best_psnr is None or state.val_psnr > state.best_psnr:
            state.best_psnr, state.best_step = state.val_psnr, state.step
            self._export(BEST, state.val_psnr)


class _LossMeter:
    """Sums step losses on the device; reading the mean (:meth:`take`) is the only synchronisation."""

    def __init__(self, device: torch.device) -> None:
        self.total = torch.zeros((), device=device)
        self.count = 0

    def add(self, loss: torch.Tensor) -> None:
        self.total += loss
        self.count += 1

    def take(self) -> float:
        """Mean loss since the previous call; resets."""
        mean = float(self.total) / max(self.count, 1)
        self.total.zero_()
        self.count = 0
        return mean


class _MetricsLog:
    """Appends one JSON object per line to ``path`` (flushed each time); writes nothing for None."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.handle: TextIO | None = None

    def __enter__(self) -> "_MetricsLog":
        if self.path is not None:
            self.handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed by __exit__)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            self.handle.close()

    def write(self, record: dict[str, Any]) -> None:
        if self.handle is not None:
            self.handle.write(json.dumps({"time": round(time.time(), 3), **record}, default=str) + "\n")
            self.handle.flush()


def initial_model(config: TrainConfig) -> REDNet:
    """The network a new run starts from: ``config.init``'s weights (fine-tuning), else a fresh
    initialisation (Xavier, last layer zeroed with ``zero_init_residual``). The weights given to
    ``init`` must have the run's architecture; a :class:`UsageError` says which options would match."""
    torch.manual_seed(config.seed)
    if config.init is None:
        model = REDNet(config.depth, config.width, 1)
        if config.zero_init_residual:
            zero_residual_(model)
        return model
    model, meta, _ = load_named_or_path(config.init)
    if meta.arch != config.arch:
        raise UsageError(f"--init {config.init} is a {meta.arch.label} RED-Net but this run trains a "
                         f"{config.arch.label} one: pass --depth {meta.arch.depth} --width {meta.arch.width}"
                         + (" (and a 1-channel model)" if meta.arch.channels != 1 else ""))
    return model.train()


def with_patch_stream(config: TrainConfig, checkpoint: dict[str, Any] | None, model: nn.Module) -> TrainConfig:
    """``config`` with its patch stream settled (one given explicitly is kept): a resumed run's
    from its checkpoint, a fine-tune's from the starting weights ``model`` (an integer in
    [1, 2**32) from their sha256), 0 for a run from scratch."""
    if config.patch_stream is not None:
        return config
    if checkpoint is not None:
        stream = checkpoint["config"].get("patch_stream") or 0
    elif config.init is not None:
        digest = hashlib.sha256()
        for name, tensor in sorted(model.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        stream = int.from_bytes(digest.digest()[:4], "big") or 1
    else:
        stream = 0
    return dataclasses.replace(config, patch_stream=stream)


def recipe(config: TrainConfig) -> str:
    """One line describing how a model was trained (stored in its weights metadata)."""
    levels = config.degradation
    what = (f"sigma {levels.sigma_range[0]:g}-{levels.sigma_range[1]:g} uniform" if levels.sigma_range
            else f"sigma {','.join(f'{s:g}' for s in levels.sigmas)}" if levels.sigmas
            else f"scales {','.join(str(s) for s in config.scales)}")
    parts = [f"RED{config.depth} w{config.width}", what, f"Adam lr {config.lr:g} {config.schedule}", "MSE",
             f"{config.patch}x{config.patch} patches, batch {config.batch}", f"{config.steps} steps",
             f"seed {config.seed}"]
    if config.init is not None:
        parts.append(f"initialised from {Path(config.init).name}")
    elif config.zero_init_residual:
        parts.append("zero-init last layer")
    if config.clip is not None:
        parts.append(f"clip {config.clip:g}")
    if config.ema is not None:
        parts.append(f"ema {config.ema:g}")
    return "; ".join(parts)


# --- entry point -----------------------------------------------------------------------------


def train(config: TrainConfig, progress: ProgressCallback | None = None) -> TrainResult:
    """Run (or resume, with ``config.resume``) a training run; see the module docstring.

    Returns when ``config.steps`` are done or after SIGINT/SIGTERM (``result.stopped_by``; a
    checkpoint and ``model.safetensors`` are written first). Raises :class:`TrainingError` for
    a missing or incompatible checkpoint, :class:`UsageError` for impossible settings.
    """
    info = dist_info()
    if config.batch % info.world_size:
        raise UsageError(f"--batch {config.batch} is not divisible by the {info.world_size} data-parallel processes")
    device = _device(config, info)
    autocast = training_autocast(config.precision, device)
    if not config.resume:
        _check_fresh(config.out)
    checkpoint = _resume_checkpoint(config) if config.resume else None
    model = initial_model(config) if checkpoint is None else REDNet(config.depth, config.width, 1)
    config = with_patch_stream(config, checkpoint, model)
    data = load_training_data(config.data, config.degradation, patch=config.patch,
                              val_fraction=config.val_fraction, val_count=config.val_count,
                              val_crop=config.val_crop, seed=config.seed)
    if checkpoint is not None and checkpoint["fingerprint"] != data.fingerprint:
        raise TrainingError(f"{config.out / CHECKPOINT}: the training folders changed since the checkpoint "
                            "(other files or sizes); resuming would not continue the same run")
    if info.is_main:
        config.out.mkdir(parents=True, exist_ok=True)
        with atomic_output(config.out / CONFIG) as temp:
            temp.write_text(json.dumps(config.to_dict(), indent=2) + "\n", encoding="utf-8")
    with _MetricsLog(config.out / METRICS if info.is_main else None) as log, process_group(info, device), \
            StopFlag() as stop:
        trainer = _Trainer(config, data, info, device, autocast, model, checkpoint)
        try:
            return trainer.run(stop, progress, log)
        finally:
            del trainer
            gc.collect()  # free DistributedDataParallel (it has reference cycles) before its process group


def _device(config: TrainConfig, info: DistInfo) -> torch.device:
    """The device of this process: ``cuda:LOCAL_RANK`` for a data-parallel run on GPUs."""
    device = resolve_device(config.device)
    if device.type == "cuda" and info.enabled and config.device in ("auto", "cuda"):
        device = torch.device("cuda", info.local_rank)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    else:
        configure_cpu_threads()
    return device


def training_autocast(precision: str, device: torch.device) -> torch.dtype | None:
    """The training step's autocast dtype: None (fp32) unless bf16 applies.

    bf16 when asked for, or for ``auto`` on CUDA GPUs that support it. On a CPU with native bf16
    (AVX512-BF16 or AMX) ``--precision bf16`` trains 2–5 times as fast as fp32 (with channels-last;
    ``redcli bench --train-speed`` measures the ratio); ``auto`` stays fp32 on the CPU. Weights,
    optimiser state, loss and validation stay fp32 either way. :class:`UsageError` for a precision
    the device cannot train in.
    """
    key = precision.strip().lower()
    if device.type == "cpu" and key == "bf16":
        if not cpu_supports_bf16():
            raise UsageError("training precision bf16 on the CPU needs native bf16 instructions (AVX512-BF16 "
                             "or AMX), which this CPU lacks; use fp32")
        return torch.bfloat16
    dtype = resolve_precision(precision, device)
    if dtype is None or (dtype == torch.float16 and key == "auto"):
        return None  # auto on a GPU without bf16: fp16 would need loss scaling, train in fp32
    if dtype == torch.bfloat16 and device.type == "cuda":
        return dtype
    raise UsageError(f"training precision {precision!r} is not supported on {device}: "
                     "use bf16 (CUDA, or a CPU with native bf16) or fp32")


def _check_fresh(out: Path) -> None:
    """A new run must not overwrite another one's checkpoint."""
    if (out / CHECKPOINT).exists():
        raise TrainingError(f"{out} already holds a training run ({CHECKPOINT}); pass --resume to continue it "
                            "or choose another --out")


def _resume_checkpoint(config: TrainConfig) -> dict[str, Any]:
    """The run's checkpoint, after checking that only :data:`RESUMABLE_FIELDS` changed."""
    checkpoint = load_checkpoint(config.out / CHECKPOINT)
    saved, current = checkpoint["config"], config.to_dict()
    changed = sorted(k for k in current.keys() | saved.keys()
                     if k not in RESUMABLE_FIELDS and saved.get(k) != current.get(k)
                     and not (k in DERIVED_FIELDS and current.get(k) is None))
    if changed:
        details = ", ".join(f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in changed[:4])
        raise TrainingError(f"{config.out / CHECKPOINT}: cannot resume with different settings ({details}); "
                            f"only {', '.join(sorted(RESUMABLE_FIELDS - {'resume'}))} may change")
    if checkpoint["step"] > config.steps:
        raise TrainingError(f"{config.out / CHECKPOINT} is at step {checkpoint['step']}, beyond --steps {config.steps}")
    return checkpoint
