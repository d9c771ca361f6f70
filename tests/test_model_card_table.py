"""scripts/model_card_table.py: the model card's benchmark table from `redcli bench --json` outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "model_card_table.py"


def record(dataset: str, sigma: float, psnr: float, *, ensemble: bool = False, paper: float | None = None,
           model: str = "m") -> dict:
    return {"dataset": dataset, "task": "denoise", "scale": None, "sigma": sigma, "model": model,
            "ensemble": ensemble, "psnr": psnr, "ssim": 0.5, "baseline_psnr": 20.0, "baseline_ssim": 0.25,
            "paper_psnr": paper, "paper_ssim": None if paper is None else 0.75}


def run(tmp_path: Path, *outputs: list[dict], reference: str = "DnCNN-B") -> subprocess.CompletedProcess[str]:
    paths = []
    for i, results in enumerate(outputs):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps({"results": results}))
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, paths), "--reference", reference],
                          capture_output=True, text=True)


def test_rows_are_sorted_and_compared_with_the_paper_and_the_reference(tmp_path: Path) -> None:
    done = run(tmp_path, [record("bsd68", 50, 25.5, paper=25.69), record("set12", 50, 26.0, ensemble=True)],
               [record("bsd68", 25, 28.3), record("set12", 30, 28.0, paper=29.09)])
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "| set | σ | ensemble | m | noisy input | paper | Δ paper | DnCNN-B |"
    assert [line.split(" | ")[:3] for line in lines[2:]] == [
        ["| set12", "30", "no"], ["| set12", "50", "×8"], ["| bsd68", "25", "no"], ["| bsd68", "50", "no"]]
    assert lines[2].endswith("| **28.00 / 0.5000** | 20.00 / 0.2500 | 29.09 / 0.7500 | -1.09 | — |")
    assert lines[4].endswith("| — | — | 29.16 |") and lines[5].endswith("| -0.19 | 26.23 |")


def test_outputs_of_different_models_are_refused(tmp_path: Path) -> None:
    done = run(tmp_path, [record("set12", 30, 28.0)], [record("set12", 50, 26.0, model="other")])
    assert done.returncode == 2 and "one model" in done.stderr
