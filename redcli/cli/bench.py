"""``redcli bench``: quality on benchmark sets (PSNR/SSIM against the paper) and speed.

Tables are human output: on stdout, or on stderr with ``--json`` (stdout then carries one
JSON document and nothing else). Progress goes to stderr.
"""

from __future__ import annotations

import contextlib
import csv
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Iterable, Optional

import typer

from redcli.cli.app import app
from redcli.cli.common import (
    EXIT_FAILED, emit_json, error_boundary, error_line, escape, info_line, stderr, warning_line,
)
from redcli.cli.options import (
    DataDirOption, DeviceOption, EnsembleOption, JsonOption, ModelOption, PrecisionOption, QuietOption, TileOption,
    parse_tile,
)
from redcli.errors import ImageWriteError, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    import numpy as np

    from redcli.bench import CheckOutcome, ImageEvent, ImageScore, QualityResult, SpeedReport
    from redcli.paper import PaperScore
    from redcli.train_speed import TrainSpeedRecord

PER_IMAGE_COLUMNS = ("dataset", "image", "model", "ensemble", "scale", "sigma", "psnr", "ssim",
                     "baseline_psnr", "baseline_ssim")

DatasetOption = Annotated[
    Optional[list[str]],
    typer.Option("--dataset", "-d", help="set5, set14, bsd100 (SR), set12, bsd68 (denoising) or a folder of "
                 "images; repeat the option or separate names with commas.", show_default=False),
]


BENCH_HELP = (
    "Benchmark quality (PSNR/SSIM beside the paper's numbers) or speed.\n\n"
    "SR sets run ×2, ×3, ×4 on Y with a border of `scale` pixels; denoising sets add Gaussian noise with a "
    "fixed seed per image and score the grey image (colour folders: their luma). With no --model the "
    "registry's model for each scale or σ is used; `--model bicubic` is the SR baseline. --speed times the "
    "model per tile size and precision (with --tile N: that tile only) against the device's matmul peak; "
    "--train-speed times the training step in fp32 and in bf16 where the device trains in it (CUDA, or a CPU "
    "with native bf16), with the speed-up over fp32 measured in the same run.\n\n"
    "Exit status: 0 ok, 1 a --check failed (or an error), 2 usage error."
)


@app.command(help=BENCH_HELP, epilog="Examples:\n\n  redcli bench --dataset bsd100\n\n"
             "  redcli bench --dataset set5,set14 --model bicubic\n\n"
             "  redcli bench --dataset set12 --sigma 10,30,50,70 --ensemble --json\n\n"
             "  redcli bench --speed\n\n"
             "  redcli bench --train-speed --device cpu")
@error_boundary
def bench(
    dataset: DatasetOption = None,
    model: ModelOption = None,
    scale: Annotated[str, typer.Option("--scale", help="SR scales, comma-separated.")] = "2,3,4",
    sigma: Annotated[str, typer.Option("--sigma", help="Noise levels σ (8-bit units), comma-separated.")]
    = "10,30,50,70",
    task: Annotated[Optional[str], typer.Option("--task", help="For a folder: sr or denoise (default: the "
                                                "model's task).")] = None,
    ensemble: EnsembleOption = False,
    clip_noise: Annotated[bool, typer.Option("--clip-noise", help="Clip noisy inputs to [0, 1] (the paper's "
                                             "protocol does not).")] = False,
    data_dir: DataDirOption = None,
    per_image: Annotated[Optional[Path], typer.Option("--per-image", help="Write per-image scores to this CSV "
                                                      "file.")] = None,
    save_images: Annotated[Optional[Path], typer.Option("--save-images", help="Save restored images as PNG "
                                                        "under this folder.")] = None,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if a PSNR falls below the model's recorded "
                                        "number by more than --tolerance.")] = False,
    tolerance: Annotated[float, typer.Option("--tolerance", min=0, help="dB allowed below the recorded PSNR "
                                             "with --check.")] = 0.05,
    speed: Annotated[bool, typer.Option("--speed", help="Measure throughput, FLOP efficiency and peak memory "
                                        "instead of (or besides) quality.")] = False,
    train_speed: Annotated[bool, typer.Option("--train-speed", help="Time the training step (batch 16, 50×50 "
                                              "patches, the --model's architecture or RED30/w64) per precision, "
                                              "with the speed-up over fp32.")] = False,
    size: Annotated[Optional[int], typer.Option("--size", min=16, help="--speed: side of the large image for "
                                                "the memory rows (default 1024 on CPU, 4096 on CUDA).")] = None,
    tile: TileOption = "auto",
    device: DeviceOption = "auto",
    precision: PrecisionOption = "auto",
    json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Benchmark quality or speed (help text: :data:`BENCH_HELP`)."""
    names = _split_names(dataset or [])
    if not names and not speed and not train_speed:
        raise UsageError("give --dataset NAME (set5, set14, bsd100, set12, bsd68 or a folder), --speed or "
                         "--train-speed")
    if task is not None and task not in ("sr", "denoise"):
        raise UsageError(f"--task must be sr or denoise, got {task!r}")
    console = _table_console(json, quiet)
    document: dict[str, Any] = {}
    failed = False
    if names:
        results = _run_quality(names, model, _parse_list(scale, int, "--scale"), _parse_list(sigma, float, "--sigma"),
                               ensemble=ensemble, tile=tile, device=device, precision=precision, task=task,
                               clip_noise=clip_noise, data_dir=data_dir, save_dir=save_images, quiet=quiet)
        outcomes = _checked(results, tolerance) if check else None
        if console is not None:
            _print_quality(console, results, outcomes)
        if per_image is not None:
            _write_per_image(per_image, results)
        document["results"] = [r.to_json() for r in results]
        failed = outcomes is not None and _report_check(outcomes, tolerance)
    if speed:
        report = _run_speed(model, tile=tile, device=device, precision=precision, size=size, quiet=quiet)
        if console is not None:
            _print_speed(console, report)
        document.update(report.to_json())
    if train_speed:
        records = _run_train_speed(model, device=device, precision=precision, quiet=quiet)
        if console is not None:
            _print_train_speed(console, records)
        document["train_speed"] = [r.to_json() for r in records]
    if json:
        emit_json(document)
    raise typer.Exit(EXIT_FAILED if failed else 0)


# --------------------------------------------------------------------------- options


def _split_names(values: Iterable[str]) -> list[str]:
    """``-d a,b -d c`` -> ``[a, b, c]`` (order kept, duplicates dropped)."""
    names = [part.strip() for value in values for part in value.split(",") if part.strip()]
    return list(dict.fromkeys(names))


def _parse_list(text: str, kind: type, option: str) -> list[Any]:
    """``"2,3"`` -> ``[2, 3]`` as ``kind``; a usage error naming ``option`` otherwise."""
    try:
        values = [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"{option} must be a comma-separated list of numbers, got {text!r}") from None
    if not values:
        raise UsageError(f"{option} needs at least one value")
    return values


def _table_console(json: bool, quiet: bool) -> "Console | None":
    """Where tables go: stdout normally, stderr with --json, nowhere with --json --quiet."""
    if not json:
        from rich.console import Console

        return Console(highlight=False)
    return None if quiet else stderr


# --------------------------------------------------------------------------- quality


def _run_quality(names: list[str], model: str | None, scales: list[int], sigmas: list[float], *, ensemble: bool,
                 tile: str, device: str, precision: str, task: str | None, clip_noise: bool,
                 data_dir: Path | None, save_dir: Path | None, quiet: bool) -> list["QualityResult"]:
    """Every dataset in turn, with a progress bar per dataset."""
    from redcli.bench import BenchOptions, run_quality

    options = BenchOptions(device=device, precision=precision, tile=parse_tile(tile), clip_noise=clip_noise,
                           data_dir=data_dir, task=task)
    results = []
    for name in names:
        with _ImageProgress(name, quiet, save_dir) as progress:
            results += run_quality(name, model, scales=scales, sigmas=sigmas, ensemble=ensemble,
                                   options=options, on_image=progress)
    return results


class _ImageProgress:
    """Per-image callback: advances a progress bar (opened at the first image, when the total
    is known) and saves the restored image when asked."""

    def __init__(self, dataset: str, quiet: bool, save_dir: Path | None) -> None:
        self.dataset, self.quiet, self.save_dir = dataset, quiet, save_dir
        self._stack = contextlib.ExitStack()
        self._bar: Any = None

    def __enter__(self) -> "_ImageProgress":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stack.__exit__(*exc_info)

    def __call__(self, event: "ImageEvent") -> None:
        from redcli.cli.progress import ItemProgress

        if self._bar is None:
            bar = ItemProgress(event.total, label=escape(self.dataset), quiet=self.quiet)
            self._bar = self._stack.enter_context(bar)
        score = event.score
        if self.save_dir is not None:
            _save_output(self.save_dir, score, event.output)
        self._bar.finish(f"{score.dataset} {score.image} {_level(score.scale, score.sigma)}: "
                         f"{score.psnr:.2f} dB / {score.ssim:.4f}")


def _level(scale: int | None, sigma: float | None) -> str:
    return f"×{scale}" if scale is not None else f"σ {sigma:g}"


def _save_output(folder: Path, score: "ImageScore", pixels: "np.ndarray") -> None:
    """``<folder>/<dataset>/<image>_x<scale>.png`` or ``..._s<sigma>.png``, 8-bit."""
    from redcli.images import ImageFile, write_image

    tag = f"x{score.scale}" if score.scale is not None else f"s{score.sigma:g}"
    target = folder / Path(score.dataset).name / f"{score.image}_{tag}.png"
    mode = "L" if pixels.shape[2] == 1 else "RGB"
    write_image(target, ImageFile(pixels=pixels, bit_depth=8, mode=mode, format="PNG"), format="png")


def _write_per_image(path: Path, results: list["QualityResult"]) -> None:
    """One CSV row per image and setting."""
    from redcli.atomic import atomic_output

    try:
        with atomic_output(path) as temp, open(temp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(PER_IMAGE_COLUMNS)
            for result in results:
                for s in result.per_image:
                    writer.writerow([s.dataset, s.image, result.model, result.ensemble, s.scale or "",
                                     "" if s.sigma is None else f"{s.sigma:g}", f"{s.psnr:.4f}", f"{s.ssim:.5f}",
                                     f"{s.baseline_psnr:.4f}", f"{s.baseline_ssim:.5f}"])
    except OSError as exc:
        raise ImageWriteError(f"{path}: cannot write the per-image CSV ({exc.strerror or exc})") from None


def _print_quality(console: "Console", results: list["QualityResult"],
                   outcomes: list["CheckOutcome"] | None) -> None:
    """One table per dataset."""
    checks = {id(o.result): o for o in outcomes} if outcomes is not None else None
    for name in dict.fromkeys(r.dataset for r in results):
        rows = [r for r in results if r.dataset == name]
        console.print(_quality_table(rows, checks))


def _pair(psnr: float, ssim: float) -> str:
    return f"{psnr:.2f} / {ssim:.4f}"


def _published(score: "PaperScore | None") -> str:
    return "—" if score is None else _pair(score.psnr, score.ssim)


def _quality_table(rows: list["QualityResult"], checks: dict[int, "CheckOutcome"] | None) -> Any:
    from rich.table import Table

    first = rows[0]
    sr = first.task == "sr"
    sources = sorted({r.reference.source for r in rows if r.reference})
    caption = f"source: {', '.join(sources)}" if sources else None
    if sources and not sr:
        caption = f"{caption} — other test sets, for orientation only"
    models = sorted({r.model for r in rows})
    table = Table(title=f"{first.dataset} — {'super-resolution (Y)' if sr else 'denoising (grey)'} — "
                  f"{', '.join(models)}{' ×8 ensemble' if first.ensemble else ''} — {first.images} images",
                  caption=caption, title_justify="left")
    for header in ("scale" if sr else "σ", "PSNR / SSIM", "bicubic" if sr else "noisy input", "published", "Δ dB"):
        table.add_column(header, justify="right")
    if checks is not None:
        table.add_column("recorded", justify="right")
        table.add_column("check")
    for r in rows:
        ref = r.reference
        cells = [f"×{r.scale}" if sr else f"{r.sigma:g}", _pair(r.psnr, r.ssim),
                 _pair(r.baseline_psnr, r.baseline_ssim), _published(ref),
                 f"{round(r.psnr - ref.psnr, 2) + 0.0:+.2f}" if ref else "—"]
        if checks is not None:
            cells += _check_cells(checks[id(r)])
        table.add_row(*cells)
    return table


def _check_cells(outcome: "CheckOutcome") -> list[str]:
    verdict = {None: "[dim]none recorded[/]", True: "[green]ok[/]", False: "[bold red]BELOW[/]"}[outcome.passed]
    return [_published(outcome.expected), verdict]


# --------------------------------------------------------------------------- --check


def _checked(results: list["QualityResult"], tolerance: float) -> list["CheckOutcome"]:
    from redcli.bench import check_results

    return check_results(results, tolerance)


def _report_check(outcomes: list["CheckOutcome"], tolerance: float) -> bool:
    """Print what fell below (and what could not be checked); True when the check failed."""
    for outcome in outcomes:
        r = outcome.result
        where = f"{r.dataset} {_level(r.scale, r.sigma)}{' ensemble' if r.ensemble else ''} ({r.model})"
        if outcome.passed is None:
            warning_line(f"{where}: no recorded number to check against")
        elif not outcome.passed:
            error_line(f"{where}: {r.psnr:.2f} dB is {outcome.shortfall:.2f} dB below the recorded "
                       f"{outcome.expected.psnr:.2f} dB ({outcome.expected.source}; tolerance {tolerance:g} dB)")
    if all(o.passed is None for o in outcomes):
        error_line("--check: nothing to check; the model has no recorded numbers for these settings")
        return True
    return any(o.passed is False for o in outcomes)


# --------------------------------------------------------------------------- speed


def _run_speed(model: str | None, *, tile: str, device: str, precision: str, size: int | None,
               quiet: bool) -> "SpeedReport":
    from redcli.bench import SpeedOptions, run_speed

    tile_value = parse_tile(tile)
    defaults = SpeedOptions()
    options = SpeedOptions(
        device=device, tiles=defaults.tiles if tile_value is None else (tile_value,),
        precisions=None if precision == "auto" else (precision,), memory_size=size,
        memory_tile=defaults.memory_tile if tile_value is None else tile_value,
    )
    return run_speed(model, options, on_step=lambda text: info_line(f"bench: {text}", quiet=quiet))


def _print_speed(console: "Console", report: "SpeedReport") -> None:
    from rich.table import Table

    peaks = ", ".join(f"{p.precision} {p.tflops:.2f} TFLOP/s" for p in report.peaks)
    table = Table(title=f"speed — {report.model} ({report.note}) — {report.flops_per_pixel / 1e6:.2f} MFLOP/pixel",
                  caption=f"matmul peak on {report.records[0].device}: {peaks}. Peak memory: growth during "
                  "restore (RSS high-water mark in a fresh process on CPU; torch peak allocation on CUDA).",
                  title_justify="left")
    for header in ("kind", "image", "tile", "precision", "Mpixel/s", "of matmul peak", "peak memory"):
        table.add_column(header, justify="right")
    for r in report.records:
        memory = "—" if r.peak_mem_mb is None else f"{r.peak_mem_mb:.0f} MiB"
        table.add_row(r.kind, f"{r.size}²", str(r.tile), r.precision, f"{r.mpix_per_s:.3f}",
                      f"{r.flop_fraction:.0%}", memory)
    console.print(table)


def _run_train_speed(model: str | None, *, device: str, precision: str, quiet: bool) -> "list[TrainSpeedRecord]":
    """fp32 and every precision the device trains in (``--precision P``: fp32 and P)."""
    from redcli.hub import load_named_or_path
    from redcli.registry import Architecture
    from redcli.train_speed import run_train_speed

    if model is not None and model.lower() == "bicubic":
        raise UsageError("bicubic is not trained; pass a model name or weights file, or no --model for RED30/w64")
    arch = Architecture(30, 64, 1) if model is None else load_named_or_path(model)[1].arch
    precisions = None if precision == "auto" else tuple(dict.fromkeys(("fp32", precision)))
    return run_train_speed(arch, device=device, precisions=precisions,
                           on_step=lambda text: info_line(f"bench: {text}", quiet=quiet))


def _print_train_speed(console: "Console", records: "list[TrainSpeedRecord]") -> None:
    from rich.table import Table

    first = records[0]
    table = Table(title=f"training speed — {first.arch}, batch {first.batch}, {first.patch}×{first.patch} patches, "
                  f"on {first.device}", caption=f"best of {first.steps} steps after warm-up, each precision "
                  "in this run; weights, optimiser and loss stay fp32.", title_justify="left")
    for header in ("precision", "patches/s", "× fp32"):
        table.add_column(header, justify="right")
    for r in records:
        table.add_row(r.precision, f"{r.patches_per_s:.1f}", f"{r.speedup:.2f}")
    console.print(table)
