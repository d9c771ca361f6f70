"""``redcli denoise`` and ``redcli upscale``: restore batches of image files.

Both commands share one flow (:func:`_run_batch`): expand inputs, plan outputs (never an
input, never clobbering unless ``--overwrite``), load the model once, then stream files
through the threaded pipeline with progress on stderr and JSON records on stdout.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from redcli.cli.app import app
from redcli.cli.common import EXIT_FAILED, emit_json, error_boundary, error_line, info_line, warning_line
from redcli.cli.options import (
    DeviceOption, EnsembleOption, JsonOption, ModelOption, PrecisionOption, QuietOption, TileOption, parse_tile,
)
from redcli.errors import UsageError

FORMAT_EXTENSIONS = {"same": None, "png": ".png", "jpg": ".jpg", "jpeg": ".jpg", "tiff": ".tif", "tif": ".tif",
                     "webp": ".webp", "bmp": ".bmp"}

InputsArgument = Annotated[
    list[str],
    typer.Argument(help="Image files, folders or glob patterns (quoted globs and ** work too).", show_default=False),
]
OutputOption = Annotated[
    Optional[Path],
    typer.Option("--output", "-o", help="Output folder (created if missing; folder layout is kept). "
                 "Default: beside each input, with --suffix."),
]
SuffixOption = Annotated[
    Optional[str],
    typer.Option("--suffix", help="Added to output names. Default: none with -o, else _denoised / _x<scale>."),
]
FormatOption = Annotated[
    str, typer.Option("--format", "-f", help="Output format: same (as the input), png, jpg, tiff, webp or bmp."),
]
QualityOption = Annotated[
    Optional[int], typer.Option("--quality", min=1, max=100, help="Quality for jpg/webp (default 95).")
]
RecursiveOption = Annotated[bool, typer.Option("--recursive", "-r", help="Descend into sub-folders of folder inputs.")]
OverwriteOption = Annotated[bool, typer.Option("--overwrite", help="Replace existing outputs (default: skip them).")]
ColorOption = Annotated[
    str,
    typer.Option("--color", help="Colour images with a grey model: rgb (each channel through the model; "
                 "default for denoise: it also removes chroma noise) or y (luminance only, chroma kept; "
                 "default for upscale, the paper's protocol)."),
]


@dataclass(frozen=True)
class BatchSettings:
    """Everything a batch run needs besides the per-task model choice."""

    inputs: list[str]
    output: Path | None
    suffix: str
    format: str
    quality: int | None
    recursive: bool
    overwrite: bool
    tile: str
    device: str
    precision: str
    ensemble: bool
    color: str
    json: bool
    quiet: bool


@app.command(epilog="Examples:\n\n  redcli denoise photos/*.png --sigma 30 -o out/\n\n"
             "  redcli denoise scans/ -r --sigma auto --format png\n\n"
             "  redcli denoise img.tif --model runs/blind/model.safetensors --json")
@error_boundary
def denoise(
    inputs: InputsArgument,
    sigma: Annotated[str, typer.Option("--sigma", "-s", help="Noise level in 8-bit units (e.g. 10, 30, 50, 70; "
                                       "picks the model trained for it, else the blind model), or auto "
                                       "(estimated per image, blind model).")] = "auto",
    output: OutputOption = None,
    suffix: SuffixOption = None,
    format: FormatOption = "same",
    quality: QualityOption = None,
    recursive: RecursiveOption = False,
    overwrite: OverwriteOption = False,
    model: ModelOption = None,
    ensemble: EnsembleOption = False,
    tile: TileOption = "auto",
    device: DeviceOption = "auto",
    precision: PrecisionOption = "auto",
    color: ColorOption = "rgb",
    json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Remove Gaussian-like noise from photos with RED-Net.

    Outputs keep the input's format, mode, bit depth, alpha, ICC profile and EXIF; existing
    outputs are skipped (--overwrite to replace); bad files are reported and skipped.
    Exit status: 0 all done, 1 some files failed, 2 usage error.
    """
    sigma_value = _parse_sigma(sigma)
    settings = _settings(locals(), default_suffix="_denoised")
    from redcli.registry import pick_denoiser

    chosen = model or (lambda: pick_denoiser(sigma_value).name)
    raise typer.Exit(_run_batch(settings, task="denoise", model=chosen, scale=1, sigma=sigma_value))


@app.command(epilog="Examples:\n\n  redcli upscale img.jpg --scale 2\n\n"
             "  redcli upscale 'shots/**/*.png' --scale 4 -o big/ --format png")
@error_boundary
def upscale(
    inputs: InputsArgument,
    scale: Annotated[int, typer.Option("--scale", "-s", min=2, max=4, help="Enlargement factor: 2, 3 or 4.")] = 2,
    output: OutputOption = None,
    suffix: SuffixOption = None,
    format: FormatOption = "same",
    quality: QualityOption = None,
    recursive: RecursiveOption = False,
    overwrite: OverwriteOption = False,
    model: ModelOption = None,
    ensemble: EnsembleOption = False,
    tile: TileOption = "auto",
    device: DeviceOption = "auto",
    precision: PrecisionOption = "auto",
    color: ColorOption = "y",
    json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Enlarge photos ×2, ×3 or ×4 with RED-Net (bicubic pre-upsampling, then the network restores detail).

    Colour images are restored on luminance; chroma and alpha are enlarged with bicubic; DPI
    is scaled so the printed size stays the same. Exit status: 0 / 1 (some failed) / 2 (usage).
    """
    settings = _settings(locals(), default_suffix=f"_x{scale}")
    from redcli.registry import pick_upscaler

    chosen = model or (lambda: pick_upscaler(scale).name)
    raise typer.Exit(_run_batch(settings, task="sr", model=chosen, scale=scale, sigma=None))


def _parse_sigma(text: str) -> float | None:
    """``auto`` -> None; a number in [0, 255] -> float; anything else is a usage error."""
    if text.strip().lower() == "auto":
        return None
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--sigma must be a number (e.g. 30) or 'auto', got {text!r}") from None
    if not 0 <= value <= 255:
        raise UsageError(f"--sigma must be between 0 and 255 (8-bit units), got {value:g}")
    return value


def _settings(options: dict[str, Any], *, default_suffix: str) -> BatchSettings:
    """Validate the options both commands share."""
    if options["format"].lower() not in FORMAT_EXTENSIONS:
        raise UsageError(f"--format must be one of {', '.join(sorted(FORMAT_EXTENSIONS))}, got {options['format']!r}")
    if options["color"] not in ("y", "rgb"):
        raise UsageError(f"--color must be y or rgb, got {options['color']!r}")
    parse_tile(options["tile"])
    suffix = options["suffix"]
    if suffix is None:
        suffix = "" if options["output"] is not None else default_suffix
    fields = {name: options[name] for name in BatchSettings.__dataclass_fields__ if name != "suffix"}
    return BatchSettings(suffix=suffix, **fields)


def _run_batch(settings: BatchSettings, *, task: str, model: str | Callable[[], str], scale: int,
               sigma: float | None) -> int:
    """Process every input; returns the exit code (0 all ok or skipped, 1 some failed).

    ``model`` is a name or path, or a function choosing the registry default; it is called
    only once inputs are known to exist, so "no inputs" is reported first (exit 2).
    """
    from redcli.batch import Job, JobResult, OutputPolicy, expand_inputs, plan_output, run_pipeline, same_file
    from redcli.cli.models import download_progress
    from redcli.cli.progress import ItemProgress
    from redcli.devices import resolve_device, resolve_precision
    from redcli.hub import load_named_or_path
    from redcli.images import SUPPORTED_SUFFIXES, read_image, write_image
    from redcli.restore import RestoreOptions

    started = time.perf_counter()
    expansion = expand_inputs(settings.inputs, recursive=settings.recursive,
                              suffixes=frozenset(SUPPORTED_SUFFIXES), exclude_dir=settings.output)
    if not expansion.files:
        raise UsageError(f"no input files matched: {' '.join(settings.inputs)}")
    failures = [f"{spec}: no such file, or no image matched" for spec in expansion.unmatched]
    for message in failures:
        error_line(message)

    policy = OutputPolicy(settings.output, settings.suffix, FORMAT_EXTENSIONS[settings.format.lower()])
    jobs, results = _plan_jobs([Job(item, plan_output(item, policy)) for item in expansion.files],
                               settings.overwrite, same_file)

    with download_progress(quiet=settings.quiet) as bar:
        net, meta, source = load_named_or_path(model if isinstance(model, str) else model(), progress=bar)
    info_line(f"model: {meta.name or source} ({meta.arch.label}, {meta.task} {meta.levels})", quiet=settings.quiet)
    if task != meta.task:
        raise UsageError(f"{source} is a {meta.task} model; this command needs a {task} model")
    _warn_out_of_range(meta, sigma, scale)
    resolve_precision(settings.precision, resolve_device(settings.device))  # fail fast, before any file
    options = RestoreOptions(scale=scale, color=settings.color, tile=parse_tile(settings.tile),
                             ensemble=settings.ensemble, device=settings.device, precision=settings.precision)
    record_base = {"model": meta.name or str(source), "task": task, "scale": scale if task == "sr" else None}

    with ItemProgress(len(jobs) + len(results), quiet=settings.quiet) as progress:
        for result in results:
            _report(result, record_base, settings, progress)

        def process(job: Job, image: Any) -> tuple[Any, dict]:
            from redcli.restore import restore

            progress.start(str(job.source.path))
            info = {"sigma": None}
            if task == "denoise":
                info["sigma"] = _sigma_for(image.pixels, sigma, net.arch.channels, settings.color)
            pixels = restore(image.pixels, net, options, on_tile=progress.inner)
            return image.with_pixels(pixels, dpi_scale=scale), info

        def save(job: Job, image: Any) -> None:
            write_image(job.output, image, format=None if settings.format == "same" else settings.format,
                        quality=settings.quality)

        for result in run_pipeline(jobs, lambda job: read_image(job.source.path), process, save):
            results.append(result)
            _report(result, record_base, settings, progress)

    counts = {status: sum(r.status == status for r in results) for status in ("ok", "skipped", "failed")}
    counts["failed"] += len(failures)
    info_line(f"done: {counts['ok']} processed, {counts['skipped']} skipped, {counts['failed']} failed "
              f"in {time.perf_counter() - started:.1f}s", quiet=settings.quiet)
    return EXIT_FAILED if counts["failed"] else 0


def _plan_jobs(jobs: list[Any], overwrite: bool, same_file: Any) -> tuple[list[Any], list[Any]]:
    """Split planned jobs into those to run and the pre-decided results (skipped, refused)."""
    from redcli.batch import JobResult

    to_run, decided, claimed = [], [], {}
    inputs = [job.source.path for job in jobs]
    for job in jobs:
        target = job.output.resolve()
        if any(same_file(job.output, path) for path in inputs):
            decided.append(JobResult(job, "failed", error=f"{job.source.path}: output {job.output} would overwrite "
                                     "an input; choose -o DIR or a --suffix"))
        elif target in claimed:
            decided.append(JobResult(job, "failed", error=f"{job.source.path}: output {job.output} is also the "
                                     f"output of {claimed[target]}; use --format same or -o"))
        elif job.output.exists() and not overwrite:
            claimed[target] = job.source.path
            decided.append(JobResult(job, "skipped", error=f"{job.output} exists (use --overwrite to replace)"))
        else:
            claimed[target] = job.source.path
            to_run.append(job)
    return to_run, decided


def _sigma_for(pixels: Any, sigma: float | None, model_channels: int, color: str) -> float:
    """The requested σ, or the median of its estimates on the planes the model will restore.

    Those planes (:func:`redcli.restore.model_planes`) are the grey plane, the luminance, or R, G
    and B; independent per-channel noise of σ reads only about 0.57 σ on the luminance.
    """
    if sigma is not None:
        return sigma
    from redcli.noise_level import estimate_sigma
    from redcli.restore import model_planes

    planes = model_planes(pixels, model_channels, color)
    return round(statistics.median(estimate_sigma(plane) for plane in planes), 1)


def _warn_out_of_range(meta: Any, sigma: float | None, scale: int) -> None:
    if meta.task == "denoise" and sigma is not None and not meta.covers(sigma):
        warning_line(f"model was trained for {meta.levels}; σ {sigma:g} is outside that range")
    if meta.task == "sr" and not meta.covers(scale):
        warning_line(f"model was trained for {meta.levels}; ×{scale} is outside that set")


def _report(result: Any, base: dict, settings: BatchSettings, progress: Any) -> None:
    """One result: an error line (always), a progress line, a JSON record (with --json)."""
    source = result.job.source.path
    if result.status == "failed":
        error_line(result.error)
    elif result.status == "skipped":
        warning_line(f"skipped: {result.error}")
    info = result.info or {}
    sigma_note = f", σ {info['sigma']:g}" if info.get("sigma") is not None else ""
    progress.finish(f"{result.status} {source} -> {result.job.output} ({result.seconds:.1f}s{sigma_note})")
    if settings.json:
        emit_json({"input": str(source), "output": str(result.job.output) if result.status != "failed" else None,
                   "status": result.status, "error": result.error if result.status != "ok" else None,
                   "seconds": round(result.seconds, 3), "sigma": info.get("sigma"), **base})
