"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real datasets folder: ``$REDCLI_DATA_DIR`` or ``../shared/datasets`` beside the checkout; skips if absent."""
    env = os.environ.get("REDCLI_DATA_DIR")
    folder = Path(env) if env else Path(__file__).parents[1].parent / "shared" / "datasets"
    if not folder.is_dir():
        pytest.skip(f"datasets folder {folder} not found")
    return folder
