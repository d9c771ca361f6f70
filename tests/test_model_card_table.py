"""scripts/model_card_table.py: the model card's benchmark table from `redcli bench --json` outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from zoo import BLIND, SIGMA25, make_zoo

from redcli.registry import load_registry

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "model_card_table.py"


def record(dataset: str, sigma: float, psnr: float, *, ensemble: bool = False, paper: float | None = None,
           model: str = "m") -> dict:
    return {"dataset": dataset, "task": "denoise", "scale": None, "sigma": sigma, "model": model,
            "ensemble": ensemble, "psnr": psnr, "ssim": 0.5, "baseline_psnr": 20.0, "baseline_ssim": 0.25,
            "paper_psnr": paper, "paper_ssim": None if paper is None else 0.75}


def run(tmp_path: Path, *outputs: list[dict], reference: str = "DnCNN-B", options: tuple[str, ...] = (),
        manifest: Path | None = None) -> subprocess.CompletedProcess[str]:
    paths = []
    for i, results in enumerate(outputs):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps({"results": results}))
    env = {**os.environ, "REDCLI_MANIFEST": str(manifest)} if manifest else None
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, paths), "--reference", reference, *options],
                          capture_output=True, text=True, env=env)


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


def test_against_shows_the_recorded_psnr_of_another_model_and_the_difference(tmp_path: Path) -> None:
    manifest, _ = make_zoo(tmp_path / "zoo", tmp_path / "weights", [BLIND])  # records bsd68 σ 30: 28.4, ×8 28.5
    outputs = [record("bsd68", 30, 28.7), record("bsd68", 30, 28.55, ensemble=True), record("set12", 30, 28.0)]
    done = run(tmp_path, outputs, options=("--against", BLIND.name), manifest=manifest)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].endswith(f"| DnCNN-B | {BLIND.name} | Δ {BLIND.name} |") and lines[1] == "|" + "---|" * 10
    assert lines[2].startswith("| set12 |") and lines[2].endswith("| — | — |")
    assert lines[3].startswith("| bsd68 | 30 | no |") and lines[3].endswith("| 28.40 | +0.30 |")
    assert lines[4].startswith("| bsd68 | 30 | ×8 |") and lines[4].endswith("| 28.50 | +0.05 |")

    unknown = run(tmp_path, outputs, options=("--against", "nope"), manifest=manifest)
    assert unknown.returncode == 2 and "unknown model 'nope'" in unknown.stderr


def registered(name: str, *options: str, manifest: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDCLI_MANIFEST": str(manifest)} if manifest else None
    return subprocess.run([sys.executable, str(SCRIPT), "--registered", name, *options],
                          capture_output=True, text=True, env=env)


def test_registered_builds_the_table_from_the_manifest_with_the_cards_comparisons(tmp_path: Path) -> None:
    manifest, _ = make_zoo(tmp_path / "zoo", tmp_path / "weights", [BLIND, SIGMA25])
    zoo = json.loads(manifest.read_text())
    bsd68 = {"dataset": "bsd68", "task": "denoise", "scale": None}
    zoo["models"][1]["metrics"] = [
        {**bsd68, "sigma": 30.0, "ensemble": False, "psnr": 28.6, "ssim": 0.8, "baseline_psnr": 18.97,
         "baseline_ssim": 0.3347},
        {**bsd68, "sigma": 25.0, "ensemble": False, "psnr": 29.0, "ssim": 0.81},
        {**bsd68, "sigma": 25.0, "ensemble": True, "psnr": 29.1, "ssim": 0.82}]
    manifest.write_text(json.dumps(zoo))

    blind = registered(BLIND.name, manifest=manifest)  # the zoo's records keep no input score
    assert blind.returncode == 0, blind.stderr
    assert blind.stdout.splitlines()[0].endswith("| Δ paper | DnCNN-B |")  # blind: no model to compare with
    assert blind.stdout.splitlines()[2] == (  # RED4 is shown beside the paper's RED30 single model (Table 6)
        "| bsd68 | 30 | no | **28.40 / 0.7900** | — | 27.88 / 0.7980 | +0.52 | — |")

    level = registered(SIGMA25.name, manifest=manifest)
    assert level.returncode == 0, level.stderr
    assert level.stdout.splitlines()[0].endswith(f"| DnCNN-S | {BLIND.name} | Δ {BLIND.name} |")
    assert level.stdout.splitlines()[2:] == [  # a per-level model beside the paper's per-σ RED30 (Table 2)
        "| bsd68 | 25 | no | **29.00 / 0.8100** | — | — | — | 29.23 | — | — |",
        "| bsd68 | 30 | no | **28.60 / 0.8000** | 18.97 / 0.3347 | 27.95 / 0.8019 | +0.65 | — | 28.40 | +0.20 |",
        "| bsd68 | 25 | ×8 | **29.10 / 0.8200** | — | — | — | 29.23 | — | — |"]

    chosen = registered(SIGMA25.name, "--reference", "", manifest=manifest)
    assert chosen.stdout.splitlines()[0].endswith(f"| Δ paper |  | {BLIND.name} | Δ {BLIND.name} |")
    assert registered(SIGMA25.name, "a.json", manifest=manifest).returncode == 2  # one source only

    own = subprocess.run([sys.executable, str(SCRIPT), "--own-levels", "denoise"], capture_output=True, text=True,
                         env={**os.environ, "REDCLI_MANIFEST": str(manifest)})
    assert own.returncode == 0, own.stderr
    assert own.stdout.splitlines()[0].endswith(f"| ×8 ensemble | {BLIND.name} | Δ | paper | Δ paper | DnCNN-S |")
    assert own.stdout.splitlines()[2:] == [  # only σ 25 (its own level, its ensemble beside); no blind model row
        f"| bsd68 | 25 | {SIGMA25.name} | **29.00 / 0.8100** | 29.10 | — | — | — | — | 29.23 |"]
    assert "unknown model 'nope'" in registered("nope", manifest=manifest).stderr


def refresh(card: Path, manifest: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDCLI_MANIFEST": str(manifest)} if manifest else None
    return subprocess.run([sys.executable, str(SCRIPT), "--refresh", str(card)], capture_output=True, text=True,
                          env=env)


def test_refresh_rewrites_the_registry_tables_in_place_and_names_the_missing_ones(tmp_path: Path) -> None:
    manifest, _ = make_zoo(tmp_path / "zoo", tmp_path / "weights", [BLIND, SIGMA25])
    current = registered(BLIND.name, manifest=manifest).stdout.splitlines()
    stale = current[:2] + [current[2].replace("28.40", "27.00"), "| bsd68 | 99 | no | a dropped row |"]
    card = tmp_path / "README.md"
    card.write_text("# zoo\n\n" + "\n".join(stale) + "\n\nAfter the table.\n", encoding="utf-8")

    done = refresh(card, manifest)
    assert done.returncode == 0, done.stderr
    assert card.read_text(encoding="utf-8") == "# zoo\n\n" + "\n".join(current) + "\n\nAfter the table.\n"
    assert done.stderr.count("no table with the header") == 1  # the own-level one (SIGMA25 has no records)
    assert "| model | PSNR / SSIM | ×8 ensemble |" in done.stderr
    assert "no benchmark records" in registered(SIGMA25.name, manifest=manifest).stderr


def test_every_card_table_is_what_the_registry_records_say(tmp_path: Path) -> None:
    card = ROOT / "weights" / "README.md"
    assert all(record.baseline_psnr is not None for entry in load_registry() for record in entry.metrics)
    copy = tmp_path / "README.md"
    copy.write_text(card.read_text(encoding="utf-8"), encoding="utf-8")
    done = refresh(copy)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert copy.read_text(encoding="utf-8") == card.read_text(encoding="utf-8"), (
        "weights/README.md differs from the manifest: run scripts/model_card_table.py --refresh weights/README.md")
