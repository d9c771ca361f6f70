"""Progress on stderr: a live rich bar on a terminal, one plain line per item otherwise."""

from __future__ import annotations

from types import TracebackType

from rich.progress import (
    BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn,
)

from redcli.cli.common import escape, stderr


class ItemProgress:
    """Files (or images) done out of a total, with an optional inner bar for tiles.

    On a terminal it draws two live bars (items with ETA, tiles of the current item);
    when stderr is not a terminal it prints one line per finished item instead; with
    ``quiet`` it prints nothing (callers still print errors themselves).
    """

    def __init__(self, total: int, *, label: str = "files", quiet: bool = False) -> None:
        self.total = total
        self.done = 0
        self.quiet = quiet
        self.live = stderr.is_terminal and not quiet
        self._progress: Progress | None = None
        self._items: TaskID | None = None
        self._inner: TaskID | None = None
        self._label = label

    def __enter__(self) -> "ItemProgress":
        if self.live:
            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TimeRemainingColumn(), console=stderr, transient=False,
            )
            self._progress.__enter__()
            self._items = self._progress.add_task(self._label, total=self.total)
            self._inner = self._progress.add_task("tiles", total=1, visible=False)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.__exit__(kind, exc, tb)

    def start(self, name: str) -> None:
        """An item begins (shown as the description of the tile bar)."""
        if self._progress is not None and self._inner is not None:
            self._progress.reset(self._inner, total=1, description=f"  {escape(name)}", visible=True)

    def inner(self, done: int, total: int) -> None:
        """Tiles (or any inner unit) of the current item: ``done`` out of ``total``."""
        if self._progress is not None and self._inner is not None:
            self._progress.update(self._inner, completed=done, total=total)

    def finish(self, line: str) -> None:
        """An item ended; ``line`` describes it for non-terminal output."""
        self.done += 1
        if self._progress is not None and self._items is not None:
            self._progress.advance(self._items)
        elif not self.quiet:
            stderr.print(f"[{self.done}/{self.total}] {escape(line)}")
