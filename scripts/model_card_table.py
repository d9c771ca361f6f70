"""Print the benchmark table of a model card (``weights/README.md``) from ``redcli bench --json`` outputs
or from what the registry records.

    python scripts/model_card_table.py bench_set12.json bench_bsd68.json --reference DnCNN-B
    python scripts/model_card_table.py s30_*.json --reference DnCNN-S --against red30-denoise-blind
    python scripts/model_card_table.py --registered red30-denoise-s30
    python scripts/model_card_table.py --own-levels sr
    python scripts/model_card_table.py --refresh weights/README.md

One Markdown row per result: set, level (σ or ×scale), ensemble, the model's PSNR / SSIM, the
noisy or bicubic input, the paper's number bench showed beside it, the difference, and a
published competitor from ``../shared/REFERENCE.md`` where it reports that set and level.
``--against NAME`` adds the PSNR the registry records for another model (e.g. the blind model a
per-level one was fine-tuned from) at the same set, level and ensemble, and the difference to it.
Rows are sorted by set, ensemble, then level, so the card reads the same whatever the order of runs.

``--registered NAME`` builds the table of a shipped model from its manifest records alone (each
keeps its input's score; the paper's number is looked up again), with the card's competitor and
comparison by default: DnCNN-B for the blind denoiser, DnCNN-S for a per-level one, VDSR for
upscalers, and the model of the same task covering the most levels for every other model of it.
``--own-levels TASK`` prints the card's table of every per-level (per-scale) model of a task at its
own level beside that widest model. ``--refresh weights/README.md`` rewrites all of those tables in
the card from the manifest (after ``scripts/register_weights.py``), finding each by its header line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from redcli.atomic import atomic_output
from redcli.errors import RedcliError
from redcli.paper import paper_score
from redcli.registry import TASKS, ModelEntry, get_entry, load_registry

# Published PSNR (dB) of other methods, as ../shared/REFERENCE.md lists them: name -> set -> level -> PSNR.
REFERENCES: dict[str, dict[str, dict[float, float]]] = {
    "DnCNN-B": {"bsd68": {15: 31.61, 25: 29.16, 50: 26.23}},
    "DnCNN-S": {"bsd68": {15: 31.73, 25: 29.23, 50: 26.23}},
    "VDSR": {"set5": {2: 37.53, 3: 33.67, 4: 31.35}, "bsd100": {2: 31.90, 3: 28.82, 4: 27.29}},
}
SET_ORDER = ("set12", "bsd68", "set5", "set14", "bsd100")


def score(psnr: float | None, ssim: float | None) -> str:
    return "—" if psnr is None else f"{psnr:.2f} / {ssim:.4f}"


def against_cells(result: dict, other: ModelEntry) -> list[str]:
    """``other``'s recorded PSNR for the setting of ``result`` and the difference to it ("—" if unrecorded)."""
    record = other.metric(result["dataset"], scale=result["scale"], sigma=result["sigma"], ensemble=result["ensemble"])
    if record is None:
        return ["—", "—"]
    return [f"{record.psnr:.2f}", f"{result['psnr'] - record.psnr:+.2f}"]


def table(header: list[str], body: list[list[str]]) -> list[str]:
    """A Markdown table's lines."""
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cells) + " |"

    return [line(header), "|" + "---|" * len(header), *map(line, body)]


def set_rank(dataset: str) -> tuple[int, str]:
    """Where a set's rows go: the known sets in ``SET_ORDER``, then any other by name."""
    return (SET_ORDER.index(dataset) if dataset in SET_ORDER else len(SET_ORDER)), dataset


def level_of(result: dict) -> float:
    return result["sigma"] if result["task"] == "denoise" else result["scale"]


def shown_level(result: dict) -> str:
    return f"{result['sigma']:g}" if result["task"] == "denoise" else f"×{result['scale']}"


def paper_cells(result: dict, reference: str, *, with_ssim: bool = True) -> list[str]:
    """The paper's PSNR (and SSIM), the difference to it, and the competitor's published PSNR."""
    paper = result.get("paper_psnr")
    published = REFERENCES.get(reference, {}).get(result["dataset"], {}).get(level_of(result))
    shown = score(paper, result.get("paper_ssim")) if with_ssim or paper is None else f"{paper:.2f}"
    return [shown, "—" if paper is None else f"{result['psnr'] - paper:+.2f}",
            "—" if published is None else f"{published:.2f}"]


def rows(results: list[dict], reference: str, against: ModelEntry | None = None) -> list[str]:
    """The table's lines (header included) for ``redcli bench --json`` result records."""
    level_name, input_name = ("σ", "noisy input") if results[0]["task"] == "denoise" else ("scale", "bicubic")
    extra = [] if against is None else [against.name, f"Δ {against.name}"]
    header = ["set", level_name, "ensemble", results[0]["model"], input_name, "paper", "Δ paper", reference, *extra]
    body = []
    for r in sorted(results, key=lambda r: (set_rank(r["dataset"]), r["ensemble"], level_of(r))):
        cells = [r["dataset"], shown_level(r), "×8" if r["ensemble"] else "no", f"**{score(r['psnr'], r['ssim'])}**",
                 score(r["baseline_psnr"], r["baseline_ssim"]), *paper_cells(r, reference)]
        body.append(cells + (against_cells(r, against) if against is not None else []))
    return table(header, body)


def registered_results(entry: ModelEntry) -> list[dict]:
    """``entry``'s manifest records as ``redcli bench --json`` result records, paper numbers included."""
    results = []
    for record in entry.metrics:
        paper = paper_score(record.dataset, record.task, record.level, entry.meta.arch.depth,  # type: ignore[arg-type]
                            blind=entry.meta.blind)
        results.append({**dataclasses.asdict(record), "model": entry.name,
                        "paper_psnr": paper.psnr if paper else None, "paper_ssim": paper.ssim if paper else None})
    return results


def card_comparisons(entry: ModelEntry) -> tuple[str, ModelEntry | None]:
    """The competitor column and the model to compare with that ``entry``'s card table uses."""
    if entry.meta.task == "sr":
        reference = "VDSR"
    else:
        reference = "DnCNN-B" if entry.meta.blind else "DnCNN-S"
    widest = max((e for e in load_registry() if e.meta.task == entry.meta.task), key=lambda e: e.meta.breadth)
    return reference, None if widest.meta.breadth == entry.meta.breadth else widest


def own_level_rows(task: str) -> list[str]:
    """The card's table of every per-level (per-scale) model of ``task`` at its own level beside
    the model covering the most levels: one row per set and level, the ensemble's PSNR alongside."""
    models = [e for e in load_registry() if e.meta.task == task]
    widest = max(models, key=lambda e: e.meta.breadth)
    body = []
    for entry in (e for e in models if e.meta.breadth < widest.meta.breadth):
        reference = card_comparisons(entry)[0]
        for r in registered_results(entry):
            if r["ensemble"] or not entry.meta.covers(level_of(r)):
                continue
            ensemble = entry.metric(r["dataset"], scale=r["scale"], sigma=r["sigma"], ensemble=True)
            cells = [r["dataset"], shown_level(r), entry.name, f"**{score(r['psnr'], r['ssim'])}**",
                     "—" if ensemble is None else f"{ensemble.psnr:.2f}", *against_cells(r, widest)]
            body.append((set_rank(r["dataset"]), level_of(r), cells + paper_cells(r, reference, with_ssim=False)))
    level_name = "σ" if task == "denoise" else "scale"
    header = ["set", level_name, "model", "PSNR / SSIM", "×8 ensemble", widest.name, "Δ", "paper", "Δ paper", reference]
    return table(header, [cells for *_, cells in sorted(body, key=lambda row: row[:2])])


def registered_tables() -> list[list[str]]:
    """Every table the card prints from the registry: one per model with records, then the own-level
    table of each task that has per-level (per-scale) models."""
    entries = load_registry()
    tables = []
    for entry in (e for e in entries if e.metrics):
        reference, against = card_comparisons(entry)
        tables.append(rows(registered_results(entry), reference, against))
    for task in TASKS:
        breadths = {e.meta.breadth for e in entries if e.meta.task == task}
        if len(breadths) > 1:
            tables.append(own_level_rows(task))
    return tables


def refreshed_card(card: str) -> tuple[str, list[str]]:
    """``card`` with each registry table replaced by its current rows (a table is found by its
    header line), and the headers of the tables it does not hold."""
    lines = card.split("\n")
    missing = []
    for new in registered_tables():
        if new[0] not in lines:
            missing.append(new[0])
            continue
        start = lines.index(new[0])
        end = start
        while end < len(lines) and lines[end].startswith("|"):
            end += 1
        lines[start:end] = new
    return "\n".join(lines), missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench", type=Path, nargs="*", help="redcli bench --json outputs of one model")
    parser.add_argument("--registered", metavar="NAME", help="a shipped model's recorded results instead")
    parser.add_argument("--own-levels", choices=TASKS, help="every per-level model of a task at its own level")
    parser.add_argument("--refresh", type=Path, metavar="CARD",
                        help="rewrite every registry table in CARD (weights/README.md) from the manifest")
    parser.add_argument("--reference", choices=["", *REFERENCES], help="competitor column")
    parser.add_argument("--against", metavar="NAME", help="registered model whose recorded PSNR to show beside")
    args = parser.parse_args()
    if [bool(args.bench), bool(args.registered), bool(args.own_levels), bool(args.refresh)].count(True) != 1:
        parser.error("give one of: bench outputs, --registered NAME, --own-levels TASK, --refresh CARD")
    try:
        if args.refresh:
            card, missing = refreshed_card(args.refresh.read_text(encoding="utf-8"))
            with atomic_output(args.refresh) as temporary:
                temporary.write_text(card, encoding="utf-8")
            for header in missing:
                print(f"{args.refresh}: no table with the header {header}; add it by hand", file=sys.stderr)
            return
        reference, against = args.reference or "", get_entry(args.against) if args.against else None
        if args.own_levels:
            if not any(e.meta.task == args.own_levels for e in load_registry()):
                parser.error(f"no {args.own_levels} model is registered")
            print("\n".join(own_level_rows(args.own_levels)))
            return
        if args.registered:
            entry = get_entry(args.registered)
            card_reference, card_against = card_comparisons(entry)
            reference = card_reference if args.reference is None else reference
            against = against or card_against
            results = registered_results(entry)
            if not results:
                parser.error(f"{entry.name} has no benchmark records in the manifest")
        else:
            results = [r for path in args.bench for r in json.loads(path.read_text())["results"]]
    except RedcliError as exc:
        parser.error(str(exc))
    if len({r["model"] for r in results}) != 1:
        parser.error("the outputs must all be of one model")
    print("\n".join(rows(results, reference, against)))


if __name__ == "__main__":
    main()
