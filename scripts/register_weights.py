"""Add (or replace) a shipped model in ``weights/manifest.json`` from a trained file and its benchmarks.

    python scripts/register_weights.py weights/red30-denoise-blind.safetensors \
        --name red30-denoise-blind --bench bench_set12.json bench_bsd68.json \
        --recipe "..." --description "..."

The weights file must already be in ``weights/`` (its metadata name is set to ``--name``); its size,
sha256, architecture and levels are read from the file itself, the metrics from ``redcli bench
--json`` outputs (only the records of this model are kept, each with its noisy or bicubic input's
score, rounded to 0.01 dB / 0.0001). A record counts as this model's when it names the model, or
names a weights file holding the same tensors (``redcli bench --model runs/x/best.safetensors`` run
before the file was copied into ``weights/`` and renamed). A model registered again keeps its
description unless a new one is given; new weights (another sha256) must come with their own
``--recipe`` and ``--bench`` numbers, so no entry is ever left without them.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
from pathlib import Path

from redcli.hub import load_model, read_meta, save_weights

MANIFEST = Path(__file__).resolve().parents[1] / "weights" / "manifest.json"
METRIC_KEYS = ("dataset", "task", "scale", "sigma", "ensemble", "psnr", "ssim", "baseline_psnr", "baseline_ssim")


def same_tensors(first: Path, second: Path) -> bool:
    """Whether two safetensors files hold the same tensor names with equal values (metadata aside)."""
    import torch
    from safetensors.torch import load_file

    a, b = load_file(str(first)), load_file(str(second))
    return a.keys() == b.keys() and all(torch.equal(a[name], b[name]) for name in a)


def bench_metrics(paths: list[Path], model: str, weights: Path) -> list[dict]:
    """The benchmark records of ``model`` in every given ``redcli bench --json`` output, rounded.

    A record is ``model``'s when its ``model`` field is that name or the path (relative to the
    working directory) of a weights file with the same tensors as ``weights``.
    """
    verdicts: dict[str, bool] = {model: True}

    def is_this_model(benched: str) -> bool:
        if benched not in verdicts:
            path = Path(benched)
            verdicts[benched] = path.suffix == ".safetensors" and path.is_file() and same_tensors(path, weights)
        return verdicts[benched]

    records = []
    for path in paths:
        for result in json.loads(path.read_text())["results"]:
            if not is_this_model(result["model"]):
                continue
            record = {key: result[key] for key in METRIC_KEYS}
            for score in ("", "baseline_"):
                record[score + "psnr"], record[score + "ssim"] = (round(result[score + "psnr"], 2),
                                                                  round(result[score + "ssim"], 4))
            records.append(record)
    return records


def described(entry: dict, registered: dict | None) -> dict:
    """``entry`` with what it leaves empty taken from the model already ``registered`` under its name.

    The description carries over; the recipe and the benchmark records carry over only for the
    same file (same sha256). Raises ValueError when the entry would be left without any of them.
    """
    same_file = registered is not None and registered["sha256"] == entry["sha256"]
    entry = dict(entry)
    if not entry["description"] and registered is not None:
        entry["description"] = registered["description"]
    for key, option in (("recipe", "--recipe"), ("metrics", "--bench")):
        if not entry[key] and same_file:
            entry[key] = registered[key]
        if not entry[key]:
            raise ValueError(f"{entry['name']}: {option} is required for new weights (the model card and "
                             "`redcli bench --check` read it from the manifest)")
    if not entry["description"]:
        raise ValueError(f"{entry['name']}: --description is required for a new model")
    return entry


def placed(models: list[dict], entry: dict) -> list[dict]:
    """``models`` with ``entry`` replacing the model of its name or added, in the manifest's order:
    tasks as they first appear, then within a task the widest range of levels first (blind,
    multi-scale), then by lowest level (``-s10`` before ``-s30``, ``-x2`` before ``-x4``)."""
    models = [m for m in models if m["name"] != entry["name"]] + [entry]
    tasks = list(dict.fromkeys(m["task"] for m in models))

    def order(m: dict) -> tuple[int, float, float]:
        levels = m["scales"] or m["sigma_range"] or [0]
        return tasks.index(m["task"]), min(levels) - max(levels), min(levels)

    return sorted(models, key=order)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--bench", type=Path, nargs="*", default=[])
    parser.add_argument("--recipe", default="")
    parser.add_argument("--description", default="")
    parser.add_argument("--license", default="MIT")
    args = parser.parse_args()

    meta = read_meta(args.weights)
    if meta.name != args.name:  # the file names itself, so `--model PATH` reports the same name
        model, _ = load_model(args.weights)
        meta = dataclasses.replace(meta, name=args.name)
        save_weights(args.weights, model.state_dict(), meta)
    data = args.weights.read_bytes()
    entry = {
        "name": args.name, "file": args.weights.name, "task": meta.task,
        "arch": {"depth": meta.arch.depth, "width": meta.arch.width, "channels": meta.arch.channels},
        "sigma_range": list(meta.sigma_range) if meta.sigma_range else None, "scales": list(meta.scales),
        "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "num_params": meta.arch.num_params,
        "metrics": bench_metrics(args.bench, args.name, args.weights), "recipe": args.recipe, "license": args.license,
        "description": args.description,
    }
    manifest = json.loads(MANIFEST.read_text())
    registered = next((m for m in manifest["models"] if m["name"] == args.name), None)
    try:
        entry = described(entry, registered)
    except ValueError as error:
        parser.error(str(error))
    manifest["models"] = placed(manifest["models"], entry)
    MANIFEST.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    print(f"registered {args.name}: {len(entry['metrics'])} benchmark records, sha256 {entry['sha256'][:12]}…")


if __name__ == "__main__":
    main()
