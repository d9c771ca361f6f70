"""``redcli models``: list, inspect, download, verify, locate and remove weights files.

Nothing here imports torch: every command works from the registry and the files' sizes,
hashes and safetensors headers.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Annotated, Any, Iterator, Optional

import typer

from redcli.cli.app import app
from redcli.cli.common import EXIT_FAILED, emit_json, error_boundary, error_line, escape, info_line, stderr
from redcli.cli.options import JsonOption, QuietOption
from redcli.errors import RedcliError, UsageError

if TYPE_CHECKING:
    from redcli.hub import Progress
    from redcli.registry import BenchRecord, ModelEntry, WeightsMeta

models_app = typer.Typer(
    no_args_is_help=True,
    help="List, inspect, download, verify and remove pretrained weights.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(
    models_app, name="models",
    help="Pretrained weights: list, info, download, verify, path, rm. Cache: $REDCLI_CACHE_DIR/weights "
    "(default: the platform's user cache); $REDCLI_OFFLINE=1 never downloads.",
)

NO_MODELS = ("No pretrained models are shipped yet. Train one with `redcli train` and pass its file with "
             "--model PATH, or point REDCLI_MANIFEST at your own manifest.")

PIPE_WIDTH = 400

NameArgument = Annotated[Optional[str], typer.Argument(help="A registered model name.", show_default=False)]
AllOption = Annotated[bool, typer.Option("--all", help="Every registered model.")]


@models_app.command("list")
@error_boundary
def list_models(json: JsonOption = False) -> None:
    """Show every registered model: task, levels, size, whether it is on disk, headline PSNR."""
    from redcli import hub
    from redcli.registry import load_registry

    rows = [_summary(entry, hub.location(entry)) for entry in load_registry()]
    if json:
        emit_json({"models": rows})
    elif not rows:
        typer.echo(NO_MODELS)
    else:
        _print_table(rows)


@models_app.command("info", epilog="Examples:\n\n  redcli models info red30-denoise-blind\n\n"
                    "  redcli models info runs/blind/model.safetensors --json")
@error_boundary
def info(
    name: Annotated[str, typer.Argument(help="A registered model name, or a path to a weights file.")],
    json: JsonOption = False,
) -> None:
    """Everything known about a model: architecture, training levels, file, checksum, benchmark results."""
    from redcli import hub
    from redcli.registry import get_entry

    path = hub.as_weights_path(name)
    record = _file_record(str(path), hub.read_meta(path)) if path else _entry_record(get_entry(name))
    if json:
        emit_json(record)
    else:
        _print_record(record)


@models_app.command("download")
@error_boundary
def download(name: NameArgument = None, all_models: AllOption = False, quiet: QuietOption = False) -> None:
    """Fetch weights into the cache (verified by sha256; resumes an interrupted download)."""
    from redcli import hub

    failed = 0
    with download_progress(quiet=quiet) as progress:
        for entry in _select(name, all_models):
            try:
                path = hub.download(entry, progress=progress)
            except RedcliError as exc:
                if not all_models:
                    raise
                error_line(str(exc))
                failed += 1
            else:
                info_line(f"{entry.name}: {path}", quiet=quiet)
    if failed:
        raise typer.Exit(EXIT_FAILED)


@models_app.command("verify")
@error_boundary
def verify(json: JsonOption = False) -> None:
    """Re-hash every cached weights file; exit status 1 if any does not match the registry."""
    from redcli import hub

    checks = hub.verify_cache()
    if json:
        emit_json({"cache": str(hub.cache_dir()),
                   "files": [{"name": c.entry.name, "path": str(c.path), "ok": c.ok} for c in checks]})
    elif not checks:
        info_line(f"no registered weights in the cache ({hub.cache_dir()})")
    for check in checks:
        if not check.ok:
            error_line(f"{check.path}: does not match the registry's sha256 for {check.entry.name!r}; "
                       f"run `redcli models download {check.entry.name}` to replace it")
        elif not json:
            typer.echo(f"ok  {check.entry.name}  {check.path}")
    if any(not check.ok for check in checks):
        raise typer.Exit(EXIT_FAILED)


@models_app.command("path")
@error_boundary
def path(name: Annotated[str, typer.Argument(help="A registered model name.")], quiet: QuietOption = False) -> None:
    """Print the local path of a model's weights file, downloading it first if needed."""
    from redcli import hub
    from redcli.registry import get_entry

    entry = get_entry(name)
    with download_progress(quiet=quiet) as progress:
        typer.echo(str(hub.fetch(entry, progress=progress)))


@models_app.command("rm")
@error_boundary
def rm(name: NameArgument = None, all_models: AllOption = False) -> None:
    """Delete cached weights (and partial downloads); files in a checkout's weights/ are never touched."""
    from redcli import hub

    for entry in _select(name, all_models):
        removed = hub.remove_cached(entry)
        info_line(f"{entry.name}: removed {', '.join(str(p) for p in removed)}" if removed
                  else f"{entry.name}: not in the cache")


@contextlib.contextmanager
def download_progress(*, quiet: bool = False) -> Iterator["Progress | None"]:
    """A :data:`redcli.hub.Progress` callback for the CLI: rich bars on a terminal, else one line per file."""
    if quiet:
        yield None
    elif stderr.is_terminal:
        yield from _live_bars()
    else:
        announced: set[str] = set()

        def announce(file: str, done: int, total: int) -> None:
            if file not in announced:
                announced.add(file)
                info_line(f"downloading {file} ({_human_size(total)})")

        yield announce


def _live_bars() -> Iterator["Progress"]:
    """One transient rich download bar per file, on stderr."""
    from rich.progress import BarColumn, DownloadColumn, TextColumn, TimeRemainingColumn, TransferSpeedColumn
    from rich.progress import Progress as Bars

    bars = Bars(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                    TimeRemainingColumn(), console=stderr, transient=True)
    tasks: dict[str, Any] = {}

    def update(file: str, done: int, total: int) -> None:
        if file not in tasks:
            tasks[file] = bars.add_task(escape(file), total=total)
        bars.update(tasks[file], completed=done)

    with bars:
        yield update


def _select(name: str | None, all_models: bool) -> tuple["ModelEntry", ...]:
    """The entries a command acts on: one by name, or all with ``--all`` (exactly one of the two)."""
    from redcli.registry import get_entry, load_registry

    if (name is None) == (not all_models):
        raise UsageError("give a model name or --all (not both)")
    if not all_models:
        return (get_entry(name),)  # type: ignore[arg-type]
    entries = load_registry()
    if not entries:
        info_line(NO_MODELS)
    return entries


def _summary(entry: "ModelEntry", where: str | None) -> dict[str, Any]:
    """One row of ``models list`` (also its JSON record)."""
    headline = entry.headline
    return {
        "name": entry.name, "task": entry.meta.task, "levels": entry.meta.levels,
        "arch": entry.meta.arch.label, "num_params": entry.num_params, "size": entry.size,
        "cached": where is not None, "location": where,
        "psnr": None if headline is None else {"dataset": headline.dataset, "psnr": headline.psnr,
                                                "setting": _setting(headline)},
    }


def _setting(record: "BenchRecord") -> str:
    """``×4`` or ``σ 30`` (plus `` ×8 ens.``) for one benchmark record."""
    level = f"×{record.scale}" if record.scale is not None else f"σ {record.sigma:g}" if record.sigma is not None else ""
    return level + (" ×8 ens." if record.ensemble else "")


def _print_table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "task", "levels", "arch", "size", "on disk", "PSNR")
    for row in rows:
        psnr = row["psnr"]
        table.add_row(row["name"], row["task"], row["levels"], row["arch"], _human_size(row["size"]),
                      row["location"] or "no",
                      "—" if psnr is None else f"{psnr['psnr']:.2f} dB {psnr['dataset']} {psnr['setting']}")
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = PIPE_WIDTH  # piped: never fold names into two lines
    console.print(table)


def _meta_record(meta: "WeightsMeta") -> dict[str, Any]:
    arch = meta.arch
    return {
        "task": meta.task, "levels": meta.levels,
        "sigma_range": list(meta.sigma_range) if meta.sigma_range is not None else None,
        "scales": list(meta.scales), "depth": arch.depth, "width": arch.width, "channels": arch.channels,
        "num_params": arch.num_params, "receptive_radius": arch.receptive_radius, "extra": dict(meta.extra),
    }


def _entry_record(entry: "ModelEntry") -> dict[str, Any]:
    """Everything the registry and the cache know about one entry."""
    from dataclasses import asdict

    from redcli import hub

    return {
        "name": entry.name, "description": entry.description, **_meta_record(entry.meta),
        "file": entry.file, "size": entry.size, "sha256": entry.sha256, "url": hub.weights_url(entry),
        "location": hub.location(entry), "cache_path": str(hub.cached_path(entry)),
        "license": entry.license, "recipe": entry.recipe,
        "metrics": [{**asdict(m), "setting": _setting(m)} for m in entry.metrics],
    }


def _file_record(path: str, meta: "WeightsMeta") -> dict[str, Any]:
    """What a weights file's own header says."""
    return {"name": meta.name, "path": path, **_meta_record(meta)}


def _print_record(record: dict[str, Any]) -> None:
    """Key: value lines, then a benchmark table when there are results."""
    for key, value in record.items():
        if key not in ("metrics", "extra"):
            typer.echo(f"{key:>16}: {'—' if value in (None, '', []) else value}")
    for key, value in record.get("extra", {}).items():
        typer.echo(f"{key:>16}: {value}")
    metrics = record.get("metrics") or []
    if metrics:
        typer.echo("\nbenchmarks (PSNR dB / SSIM):")
        for m in metrics:
            typer.echo(f"  {m['dataset']:<10} {m['setting']:<16} {m['psnr']:.2f} / {m['ssim']:.4f}")


def _human_size(size: int) -> str:
    """``2.3 kB``, ``16.8 MB``: decimal units, one decimal."""
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} B"
