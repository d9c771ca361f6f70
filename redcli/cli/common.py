"""What every command shares: the stderr console, the error boundary, JSON output.

Progress, notices and errors go to stderr; only ``--json`` records go to stdout, so
``redcli ... --json | jq`` always sees clean JSON.
"""

from __future__ import annotations

import functools
import json
import sys
from typing import Any, Callable, TypeVar

import typer
from rich.console import Console

from redcli.errors import RedcliError

stderr = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def error_line(message: str) -> None:
    """Print one ``redcli: error: ...`` line on stderr (no markup interpretation)."""
    stderr.print(f"[bold red]redcli: error:[/] {escape(message)}")


def warning_line(message: str) -> None:
    """Print one ``redcli: warning: ...`` line on stderr."""
    stderr.print(f"[yellow]redcli: warning:[/] {escape(message)}")


def info_line(message: str, *, quiet: bool = False) -> None:
    """Print one informational line on stderr unless ``quiet``."""
    if not quiet:
        stderr.print(escape(message))


def escape(text: str) -> str:
    """Escape rich markup in user-controlled text (file names may contain brackets)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def emit_json(record: Any) -> None:
    """Write one JSON document on stdout, one line, and flush (for streaming consumers)."""
    sys.stdout.write(json.dumps(record, ensure_ascii=False, allow_nan=False, default=str) + "\n")
    sys.stdout.flush()


def error_boundary(command: F) -> F:
    """Turn :class:`RedcliError` into one stderr line plus its exit code, Ctrl-C into 130.

    Anything else is a bug and keeps its traceback.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except RedcliError as exc:
            error_line(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            error_line("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return wrapper  # type: ignore[return-value]
