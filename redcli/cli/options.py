"""Options shared by several commands, as ``Annotated`` aliases (one definition each)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

DeviceOption = Annotated[
    str,
    typer.Option(
        "--device", envvar="REDCLI_DEVICE",
        help="Where to run: auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps.",
    ),
]
PrecisionOption = Annotated[
    str,
    typer.Option(
        "--precision", envvar="REDCLI_PRECISION",
        help="auto (fp32 on CPU, bf16 on CUDA), fp32, fp16 or bf16. Half precision is CUDA-only.",
    ),
]
TrainPrecisionOption = Annotated[
    str,
    typer.Option(
        "--precision", envvar="REDCLI_PRECISION",
        help="auto (bf16 on CUDA GPUs that have it, else fp32), fp32 or bf16. bf16 also runs on CPUs with native "
        "bf16 (AVX512-BF16 or AMX), 2-5x as fast as fp32 there (redcli bench --train-speed); weights and validation stay fp32.",
    ),
]
TileOption = Annotated[
    str,
    typer.Option(
        "--tile", envvar="REDCLI_TILE",
        help="Tile size in pixels, or auto (from free GPU memory / a CPU cache-friendly size), or 0 for "
        "the whole image. Tiles overlap by the network depth, so the result is identical to untiled.",
    ),
]
EnsembleOption = Annotated[
    bool,
    typer.Option(
        "--ensemble", "-x",
        help="Average the 8 flips/rotations (×8 slower, usually +0.1-0.2 dB).",
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Write machine-readable JSON on stdout (messages stay on stderr).")
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or notices; errors only.")]
ModelOption = Annotated[
    Optional[str],
    typer.Option(
        "--model", "-m", envvar="REDCLI_MODEL",
        help="A registered model name (see `redcli models list`) or a path to a .safetensors file.",
    ),
]
DataDirOption = Annotated[
    Optional[Path],
    typer.Option(
        "--data-dir", envvar="REDCLI_DATA_DIR",
        help="Folder holding the benchmark sets (set5/, set14/, bsd100/, set12/, bsd68/).",
    ),
]


def parse_tile(value: str) -> int | None:
    """``auto`` -> None, an integer >= 0 -> that integer (0 = whole image); else a usage error."""
    from redcli.errors import UsageError

    if value.strip().lower() == "auto":
        return None
    try:
        tile = int(value)
    except ValueError:
        raise UsageError(f"--tile must be a number of pixels or 'auto', got {value!r}") from None
    if tile < 0:
        raise UsageError(f"--tile must be >= 0, got {tile}")
    return tile
