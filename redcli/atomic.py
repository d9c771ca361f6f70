"""Atomic file output: write to a temporary file beside the target, then rename.

An interrupted write (Ctrl-C, crash, full disk) never leaves a half-written file at the
target path: either the old state or the complete new file is there.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

TEMP_PREFIX = ".redcli-"
TEMP_SUFFIX = ".part"


@contextlib.contextmanager
def atomic_output(target: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path in ``target``'s folder; on success rename it onto ``target``.

    The temporary file keeps ``target``'s extension (``.redcli-XXXX.part.png``) so that
    writers choosing a format from the suffix still work. On any exception the temporary
    file is removed and the exception propagates. With ``overwrite=False`` an existing
    target raises :class:`FileExistsError` at rename time (the new data is discarded).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX + target.suffix, dir=target.parent)
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
        # mkstemp makes 0600, and a writer may replace the file (safetensors does): set the usual permissions last
        os.chmod(temp, 0o666 & ~_current_umask())
        with open(temp, "rb+") as handle:
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(temp, target)
        else:
            os.link(temp, target)  # fails with FileExistsError instead of clobbering
            temp.unlink()
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _current_umask() -> int:
    """The process umask, read without changing it where Linux allows (writer threads run concurrently)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def is_temporary(path: str | os.PathLike[str]) -> bool:
    """True for a leftover temporary file made by :func:`atomic_output`."""
    name = Path(path).name
    return name.startswith(TEMP_PREFIX) and TEMP_SUFFIX in name
