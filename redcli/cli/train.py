"""``redcli train``: train a RED-Net on folders of images (also under ``torchrun``).

A thin layer over :func:`redcli.train.train`: options become a :class:`TrainConfig`,
progress is a rich bar on stderr (plain lines when stderr is not a terminal), the final
summary goes to stdout with ``--json``. Under torchrun only rank 0 prints.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from redcli.cli.app import app
from redcli.cli.common import EXIT_INTERRUPTED, emit_json, error_boundary, escape, info_line, stderr, warning_line
from redcli.cli.options import DeviceOption, JsonOption, QuietOption, TrainPrecisionOption
from redcli.errors import UsageError

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from redcli.train import TrainProgress, TrainResult

EXIT_TERMINATED = 143  # 128 + SIGTERM
PLAIN_LINE_EVERY_S = 30.0

EPILOG = (
    "Examples:\n\n"
    "  redcli train --task denoise --sigma-range 0,75 --data train400 bsd200_train --depth 30 --out runs/blind\n\n"
    "  redcli train --task sr --scales 2,3,4 --data t91 bsd200_train --out runs/sr\n\n"
    "  redcli train --task denoise --sigma 30 --data train400 --steps 2000 --batch 16 --out runs/s30\n\n"
    "  redcli train --task sr --scales 2,3,4 --data t91 bsd200_train --out runs/sr --resume --steps 200000\n\n"
    "  redcli train --task denoise --sigma 50 --init red30-denoise-blind --data train400 bsd200_train --out runs/s50\n\n"
    "  torchrun --nproc_per_node=8 -m redcli train --task sr --scales 2,3,4 --data t91 --out runs/sr8\n\n"
    "Files in --out: checkpoint.pt (full state, for --resume), model.safetensors (final weights) and "
    "best.safetensors (best validation PSNR) for `redcli denoise/upscale --model PATH`, metrics.jsonl, "
    "config.json. Ctrl-C (or SIGTERM) saves a checkpoint and stops; --resume continues exactly."
)

@app.command(epilog=EPILOG)
@error_boundary
def train(
    task: Annotated[str, typer.Option("--task", "-t", help="denoise (grey) or sr (luma Y, pre-upsampled).",
                                      show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder (checkpoint, weights, logs).",
                                      show_default=False)],
    folders: Annotated[Optional[list[Path]], typer.Argument(
        help="Training folders (searched recursively); `--data A B` puts B here too.", show_default=False)] = None,
    data: Annotated[Optional[list[Path]], typer.Option(
        "--data", "-d", help="Training folder(s). Colour images train on their Y channel, grey as they are. "
        "Never use the benchmark test sets.", show_default=False)] = None,
    sigma: Annotated[Optional[str], typer.Option(
        "--sigma", help="denoise: fixed noise level(s) in 0..255, e.g. 30 or 10,30,50,70 (one per patch).",
        show_default=False)] = None,
    sigma_range: Annotated[Optional[str], typer.Option(
        "--sigma-range", help="denoise: LO,HI — a level uniform in the range for each patch (blind model).",
        show_default=False)] = None,
    scales: Annotated[Optional[str], typer.Option(
        "--scales", help="sr: scale(s) to train on, e.g. 2 or 2,3,4 (one per patch).", show_default=False)] = None,
    depth: Annotated[int, typer.Option("--depth", help="Layers (even, >= 4): 10, 20 or 30 in the paper.")] = 30,
    width: Annotated[int, typer.Option("--width", help="Feature maps per layer (paper text 64, released 128).")] = 64,
    patch: Annotated[int, typer.Option("--patch", help="Training patch size in pixels.")] = 50,
    batch: Annotated[int, typer.Option("--batch", "-b", help="Patches per step, over all processes.")] = 64,
    steps: Annotated[int, typer.Option("--steps", help="Optimiser steps in total (may grow on --resume).")] = 100_000,
    lr: Annotated[float, typer.Option("--lr", help="Adam learning rate.")] = 1e-4,
    schedule: Annotated[str, typer.Option(
        "--schedule", help="Learning-rate schedule: constant, cosine (to 0 at --steps) or step.")] = "constant",
    milestones: Annotated[Optional[str], typer.Option(
        "--milestones", help="step schedule: steps at which the rate is multiplied by --gamma, e.g. 60000,90000.",
        show_default=False)] = None,
    gamma: Annotated[float, typer.Option("--gamma", help="step schedule: rate multiplier at each milestone.")] = 0.1,
    clip: Annotated[Optional[float], typer.Option("--clip", help="Clip the gradient's L2 norm to this value.",
                                                  show_default=False)] = None,
    ema: Annotated[Optional[float], typer.Option(
        "--ema", help="Keep an exponential moving average of the weights with this decay (e.g. 0.999); "
        "it is validated and exported.", show_default=False)] = None,
    seed: Annotated[int, typer.Option(
        "--seed", help="Seed of initialisation, validation split and patches. Keep the earlier run's seed when "
        "continuing with --init, or the held-out images change (the patches differ anyway: they follow the "
        "--init weights).")] = 0,
    val_fraction: Annotated[float, typer.Option("--val-fraction", help="Share of the images held out.")] = 0.05,
    val_count: Annotated[Optional[int], typer.Option("--val-count", help="Hold out exactly this many images.",
                                                     show_default=False)] = None,
    val_crop: Annotated[int, typer.Option("--val-crop", help="Validate on centre crops of at most this size.")] = 128,
    val_every: Annotated[int, typer.Option("--val-every", help="Validate every N steps (0: never).")] = 1000,
    ckpt_every: Annotated[int, typer.Option("--ckpt-every", help="Save a checkpoint every N steps.")] = 1000,
    log_every: Annotated[int, typer.Option("--log-every", help="Log the mean loss every N steps.")] = 50,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its checkpoint.")] = False,
    device: DeviceOption = "auto",
    precision: TrainPrecisionOption = "auto",
    compile_model: Annotated[bool, typer.Option("--compile", help="torch.compile the model (faster on GPUs).")] = False,
    zero_init: Annotated[bool, typer.Option(
        "--zero-init/--xavier-init", help="Zero the last layer so training starts from the identity map, or keep "
        "Xavier everywhere (the paper's Caffe filler; large initial outputs).")] = True,
    init: Annotated[Optional[str], typer.Option(
        "--init", help="Fine-tune: start from these weights (a model name from `redcli models list` or a "
        ".safetensors file) instead of a fresh initialisation; --depth/--width must match them.",
        show_default=False)] = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Train a RED-Net on your images: Adam 1e-4, MSE, 50×50 patches (the paper's recipe) by default."""
    from redcli.distributed import dist_info
    from redcli.train import TrainConfig, train as run_training

    folders_all = tuple(data or ()) + tuple(folders or ())
    config = TrainConfig(
        task=task, data=folders_all, out=out, sigmas=_numbers(sigma, "--sigma"),
        sigma_range=_pair(sigma_range), scales=_numbers(scales, "--scales", int),
        depth=depth, width=width, patch=patch, batch=batch, steps=steps, lr=lr, schedule=schedule,
        milestones=_numbers(milestones, "--milestones", int), gamma=gamma, clip=clip, ema=ema,
        seed=seed, val_fraction=val_fraction, val_count=val_count, val_crop=val_crop, val_every=val_every,
        ckpt_every=ckpt_every, log_every=log_every, device=device, precision=precision, compile=compile_model,
        zero_init_residual=zero_init, init=init, resume=resume,
    )
    main = dist_info().is_main
    info_line(f"reading training images from {', '.join(str(p) for p in folders_all)} ...", quiet=quiet or not main)
    with TrainDisplay(config.steps, quiet=quiet or not main) as display:
        result = run_training(config, progress=display)
    if main:
        _summary(result, quiet)
        if json_output:
            emit_json(result.to_json())
    if result.stopped_by is not None:
        raise typer.Exit(EXIT_INTERRUPTED if result.stopped_by == "SIGINT" else EXIT_TERMINATED)


def _numbers(text: str | None, option: str, kind: type = float) -> tuple[Any, ...]:
    """``"10,30,50"`` -> (10.0, 30.0, 50.0), or ints with ``kind=int``; None -> (); else a usage error."""
    if text is None:
        return ()
    try:
        return tuple(kind(v) for v in text.split(","))
    except ValueError:
        what = "whole numbers" if kind is int else "numbers"
        raise UsageError(f"{option} takes comma-separated {what}, got {text!r}") from None


def _pair(text: str | None) -> tuple[float, float] | None:
    """``"0,75"`` -> (0.0, 75.0) for --sigma-range."""
    if text is None:
        return None
    values = _numbers(text, "--sigma-range")
    if len(values) != 2:
        raise UsageError(f"--sigma-range takes LO,HI, got {text!r}")
    return values[0], values[1]


def _summary(result: "TrainResult", quiet: bool) -> None:
    """The closing lines on stderr."""
    if result.stopped_by:
        info_line(f"stopped by {result.stopped_by} at step {result.step}/{result.steps}; checkpoint saved in "
                  f"{result.checkpoint_path} (continue with --resume)")
    best = f", best {result.best_psnr:.2f} dB at step {result.best_step}" if result.best_psnr is not None else ""
    val = f"validation {result.val_psnr:.2f} dB{best} (inputs {result.input_psnr:.2f} dB); " \
        if result.val_psnr is not None and result.input_psnr is not None else ""
    info_line(f"step {result.step}/{result.steps}: {val}{result.patches_per_s:.1f} patches/s; "
              f"weights: {result.model_path}", quiet=quiet)
    if result.skipped_images:
        warning_line(f"{result.skipped_images} training images smaller than one patch were left out")


class TrainDisplay:
    """Progress callback: a live bar on a terminal, a line per validation (and every 30 s) otherwise."""

    def __init__(self, total: int, *, quiet: bool) -> None:
        self.total = total
        self.quiet = quiet
        self.live = stderr.is_terminal and not quiet
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._last_line = 0.0

    def __enter__(self) -> "TrainDisplay":
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), TextColumn("{task.fields[stats]}"), console=stderr)
            self._progress.__enter__()
            self._task = self._progress.add_task("train", total=self.total, stats="")
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.__exit__(kind, exc, tb)

    def __call__(self, progress: "TrainProgress") -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=progress.step, stats=_stats(progress))
        elif not self.quiet:
            line = self._plain_line(progress)
            if line is not None:
                stderr.print(escape(line))

    def _plain_line(self, progress: "TrainProgress") -> str | None:
        """The line to print for ``progress`` without a terminal, or None (at most one log line per 30 s)."""
        if progress.event == "start":
            return f"training from step {progress.step} to {progress.steps}"
        if progress.event == "val" or (progress.event == "log"
                                       and time.monotonic() - self._last_line >= PLAIN_LINE_EVERY_S):
            self._last_line = time.monotonic()
            return f"step {progress.step}/{progress.steps} {_stats(progress)}"
        return None


def _stats(progress: "TrainProgress") -> str:
    """``loss 1.2e-03 · val 31.20 dB (best 31.25) · 812 patches/s · ETA 1:02:03``."""
    parts = []
    if progress.loss is not None:
        parts.append(f"loss {progress.loss:.3e}")
    if progress.val_psnr is not None:
        parts.append(f"val {progress.val_psnr:.2f} dB (best {progress.best_psnr:.2f})")
    if progress.patches_per_s > 0:  # none yet when the starting point of a fine-tune is validated
        parts.append(f"{progress.patches_per_s:.0f} patches/s")
    if progress.eta_s is not None and progress.step < progress.steps:
        minutes, seconds = divmod(int(progress.eta_s), 60)
        parts.append(f"ETA {minutes // 60}:{minutes % 60:02d}:{seconds:02d}")
    return " · ".join(parts)
