"""Where redcli keeps files on the user's machine."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """The redcli cache folder: ``$REDCLI_CACHE_DIR`` if set, else the platform's user cache dir."""
    override = os.environ.get("REDCLI_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("redcli", appauthor=False))
