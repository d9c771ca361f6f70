"""Registers every command group on the root app.

Kept separate from ``app.py`` so each command module can import ``app`` without cycles.
"""

from __future__ import annotations

import importlib

COMMAND_MODULES = ("redcli.cli.process", "redcli.cli.models", "redcli.cli.bench", "redcli.cli.train")

for _name in COMMAND_MODULES:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as exc:  # a command group not written yet
        if exc.name != _name:
            raise
