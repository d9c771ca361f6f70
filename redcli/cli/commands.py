"""Registers every command group on the root app.

Kept separate from ``app.py`` so each command module can import ``app`` without cycles.
Each module imports only typer and light modules at the top (no torch).
"""

from __future__ import annotations

from redcli.cli import bench, models, process, train  # noqa: F401  (importing registers the commands)
