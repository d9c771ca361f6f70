"""The ``redcli`` command: one Typer app with a module per command group.

Importing this module must stay cheap (no torch): command modules import heavy
libraries inside their functions, so ``redcli --help`` answers instantly.
"""

from __future__ import annotations

import typer

from redcli import __version__

app = typer.Typer(
    name="redcli",
    help=(
        "Restore photos with RED-Net: denoise and upscale whole folders, reproduce the "
        "paper's benchmarks, train your own models.\n\n"
        "Examples:\n\n"
        "  redcli denoise photos/*.png --sigma 30 -o out/\n\n"
        "  redcli upscale img.jpg --scale 2\n\n"
        "  redcli bench --dataset set5 --model bicubic\n\n"
        "  redcli models list"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"redcli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Restore photos with RED-Net."""


def _register() -> None:
    """Attach every command group (each module defines its commands on import)."""
    from redcli.cli import commands  # noqa: F401  (import registers the commands)


_register()


def main() -> None:
    """Console-script entry point."""
    app()
