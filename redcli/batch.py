"""Batch plumbing for ``denoise``/``upscale``: which files, where outputs go, and a pipeline.

* :func:`expand_inputs` turns files, folders and glob patterns (``**`` included, expanded
  here so quoted globs work on every shell) into a de-duplicated list of :class:`InputFile`.
* :func:`plan_output` decides each output path without ever pointing at an input.
* :func:`run_pipeline` decodes upcoming files and encodes finished ones in background
  threads while the caller's ``process`` step (the model) runs, and turns per-file
  failures into :class:`JobResult` records so one bad file never stops a batch.
"""

from __future__ import annotations

import glob
import os
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence, TypeVar

from redcli.atomic import is_temporary
from redcli.errors import RedcliError

GLOB_CHARS = frozenset("*?[")

Loaded = TypeVar("Loaded")
Processed = TypeVar("Processed")


@dataclass(frozen=True)
class InputFile:
    """One input: its path and the relative path its output keeps under ``--output``."""

    path: Path
    relative: Path


@dataclass(frozen=True)
class Expansion:
    """Result of :func:`expand_inputs`: the files found and the specs that matched nothing."""

    files: tuple[InputFile, ...]
    unmatched: tuple[str, ...]


def _is_glob(spec: str) -> bool:
    return any(ch in spec for ch in GLOB_CHARS)


def _glob_root(spec: str) -> Path:
    """The leading part of a pattern without wildcards: outputs keep the layout below it."""
    parts = Path(spec).parts
    fixed = [p for p in parts[: next((i for i, p in enumerate(parts) if _is_glob(p)), len(parts))]]
    return Path(*fixed) if fixed else Path(".")


def _scan_folder(folder: Path, recursive: bool, suffixes: frozenset[str], exclude: Path | None) -> list[InputFile]:
    walker = folder.rglob("*") if recursive else folder.glob("*")
    found = []
    for path in sorted(walker):
        if not path.is_file() or path.suffix.lower() not in suffixes or is_temporary(path):
            continue
        if exclude is not None and exclude in path.resolve().parents:
            continue  # never feed our own outputs back in
        found.append(InputFile(path, path.relative_to(folder)))
    return found


def expand_inputs(specs: Sequence[str], *, recursive: bool, suffixes: frozenset[str],
                  exclude_dir: Path | None = None) -> Expansion:
    """Expand INPUT arguments into files, in order, each real file once.

    A file is taken whatever its suffix (a non-image then fails with a clear message);
    folders contribute files with a supported ``suffixes`` entry (lower-case, with dot),
    descending only when ``recursive``; patterns are expanded with ``**`` support.
    Files under ``exclude_dir`` (the output folder) are skipped when scanning.
    """
    exclude = exclude_dir.resolve() if exclude_dir is not None else None
    files: list[InputFile] = []
    unmatched: list[str] = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            matched = _scan_folder(path, recursive, suffixes, exclude)
        elif path.exists() or not _is_glob(spec):
            matched = [InputFile(path, Path(path.name))]  # a missing file fails later, by name
        else:
            root = _glob_root(spec)
            matched = []
            for hit in sorted(glob.glob(spec, recursive=True)):
                hit_path = Path(hit)
                if hit_path.is_dir():
                    matched += _scan_folder(hit_path, recursive, suffixes, exclude)
                elif hit_path.suffix.lower() in suffixes and not is_temporary(hit_path):
                    matched.append(InputFile(hit_path, hit_path.relative_to(root)))
        if not matched:
            unmatched.append(spec)
        files += matched
    seen: set[Path] = set()
    unique = []
    for item in files:
        key = item.path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return Expansion(tuple(unique), tuple(unmatched))


@dataclass(frozen=True)
class OutputPolicy:
    """Where outputs go: a folder (layout kept) or beside the input with a suffix.

    ``extension`` is the output file extension with its dot, or None to keep the input's.
    """

    output_dir: Path | None
    suffix: str
    extension: str | None


def plan_output(item: InputFile, policy: OutputPolicy) -> Path:
    """The output path for ``item``: ``DIR/relative`` or ``input_dir/stem+suffix``, extension applied."""
    relative = item.relative if policy.output_dir is not None else Path(item.path.name)
    extension = policy.extension or item.path.suffix
    name = f"{relative.stem}{policy.suffix}{extension}"
    if policy.output_dir is not None:
        return policy.output_dir / relative.parent / name
    return item.path.parent / name


def same_file(a: Path, b: Path) -> bool:
    """True when two paths name the same file (existing or not)."""
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


@dataclass
class Job:
    """One unit of work: an input and its planned output."""

    source: InputFile
    output: Path


@dataclass
class JobResult:
    """What happened to one job. ``status`` is ``ok``, ``skipped`` or ``failed``."""

    job: Job
    status: str
    seconds: float = 0.0
    error: str | None = None
    info: dict | None = None


class _Failure:
    """A stage's per-file error message, carried through the pipeline as a value."""

    def __init__(self, message: str) -> None:
        self.message = message


def _guard(stage: Callable[..., Processed], job: Job, *args: object) -> "Processed | _Failure":
    """Run one stage; a per-file failure becomes a :class:`_Failure` (bugs in code stay loud)."""
    try:
        return stage(job, *args)
    except RedcliError as exc:
        return _Failure(str(exc))
    except (OSError, MemoryError, RuntimeError, ValueError) as exc:
        return _Failure(f"{job.source.path}: {type(exc).__name__}: {exc}")


def run_pipeline(
    jobs: Sequence[Job],
    load: Callable[[Job], Loaded],
    process: Callable[[Job, Loaded], tuple[Processed, dict]],
    save: Callable[[Job, Processed], None],
    *,
    prefetch: int = 2,
    io_threads: int = 2,
) -> Iterator[JobResult]:
    """Run ``load -> process -> save`` over ``jobs``, overlapping I/O with processing.

    ``load`` and ``save`` run in ``io_threads`` background threads, at most ``prefetch``
    files ahead and ``prefetch`` finished files waiting to be written, so memory stays
    bounded. ``process`` (the model) runs in the calling thread and returns the result
    and an ``info`` dict for the record. Results are yielded in input order.
    """
    if not jobs:
        return
    with ThreadPoolExecutor(max_workers=io_threads, thread_name_prefix="redcli-io") as pool:
        loads: deque[Future] = deque(pool.submit(_guard, load, job) for job in jobs[:prefetch])
        pending: deque[_Pending] = deque()
        for index, job in enumerate(jobs):
            started = time.perf_counter()
            loaded = loads.popleft().result()
            if index + prefetch < len(jobs):
                loads.append(pool.submit(_guard, load, jobs[index + prefetch]))
            outcome = loaded if isinstance(loaded, _Failure) else _guard(process, job, loaded)
            del loaded
            if isinstance(outcome, _Failure):
                pending.append(_Pending(job, started, {}, outcome))
            else:
                result, info = outcome
                pending.append(_Pending(job, started, info, pool.submit(_guard, save, job, result)))
                del result
            del outcome
            while len(pending) > prefetch or (pending and pending[0].ready()):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


@dataclass
class _Pending:
    """A job whose result is known (a failure) or awaited (its save in a thread)."""

    job: Job
    started: float
    info: dict
    outcome: "_Failure | Future"

    def ready(self) -> bool:
        return isinstance(self.outcome, _Failure) or self.outcome.done()

    def result(self) -> JobResult:
        outcome = self.outcome if isinstance(self.outcome, _Failure) else self.outcome.result()
        elapsed = time.perf_counter() - self.started
        if isinstance(outcome, _Failure):
            return JobResult(self.job, "failed", elapsed, outcome.message, self.info)
        return JobResult(self.job, "ok", elapsed, None, self.info)
