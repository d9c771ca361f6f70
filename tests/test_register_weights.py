"""scripts/register_weights.py: where a model goes in the manifest and which benchmark records it keeps."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest

from zoo import BLIND, write_weights

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "register_weights.py"
spec = importlib.util.spec_from_file_location("register_weights", SCRIPT)
register_weights = importlib.util.module_from_spec(spec)
spec.loader.exec_module(register_weights)


def item(name: str, task: str, sigma_range: list[float] | None = None, scales: list[int] = ()) -> dict:
    return {"name": name, "task": task, "sigma_range": sigma_range, "scales": list(scales)}


def test_models_are_kept_in_task_then_range_then_level_order() -> None:
    models = [item("blind", "denoise", [0, 75]), item("s50", "denoise", [50, 50]), item("multi", "sr", scales=[2, 3, 4]),
              item("x4", "sr", scales=[4])]
    models = register_weights.placed(models, item("s30", "denoise", [30, 30]))
    models = register_weights.placed(models, item("x2", "sr", scales=[2]))
    assert [m["name"] for m in models] == ["blind", "s30", "s50", "multi", "x2", "x4"]


def test_a_model_registered_again_is_replaced_not_repeated() -> None:
    models = [item("blind", "denoise", [0, 75]), item("s50", "denoise", [50, 50])]
    again = {**item("s50", "denoise", [50, 50]), "sha256": "new"}
    models = register_weights.placed(models, again)
    assert [m["name"] for m in models] == ["blind", "s50"] and models[1]["sha256"] == "new"


def test_only_the_named_models_benchmark_records_are_kept_rounded_with_their_input_score(tmp_path: Path) -> None:
    def result(model: str, psnr: float) -> dict:
        return {"dataset": "set12", "task": "denoise", "scale": None, "sigma": 30.0, "ensemble": False,
                "psnr": psnr, "ssim": 0.812345, "model": model, "images": 12, "baseline_psnr": 18.8249,
                "baseline_ssim": 0.312249, "paper_psnr": 29.09}

    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps({"results": [result("s30", 28.6476), result("bicubic", 20.0)]}))
    assert register_weights.bench_metrics([bench], "s30", tmp_path / "s30.safetensors") == [
        {"dataset": "set12", "task": "denoise", "scale": None, "sigma": 30.0, "ensemble": False,
         "psnr": 28.65, "ssim": 0.8123, "baseline_psnr": 18.82, "baseline_ssim": 0.3122}]


def test_records_of_a_benched_file_count_when_it_holds_the_registered_tensors(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weights").mkdir()
    (tmp_path / "run").mkdir()
    registered = tmp_path / "weights" / "blind.safetensors"
    write_weights(registered, BLIND, seed=0)
    write_weights(tmp_path / "run" / "best.safetensors", dataclasses.replace(BLIND, name="run-best"), seed=0)
    write_weights(tmp_path / "run" / "other.safetensors", BLIND, seed=1)
    results = [{"dataset": "set12", "task": "denoise", "scale": None, "sigma": sigma, "ensemble": False, "psnr": psnr,
                "ssim": 0.8, "model": model, "baseline_psnr": 18.0, "baseline_ssim": 0.3}
               for model, sigma, psnr in (("run/best.safetensors", 30.0, 28.0), ("run/other.safetensors", 30.0, 27.0),
                                          ("blind", 50.0, 26.0), ("run/missing.safetensors", 70.0, 25.0))]
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps({"results": results}))
    kept = register_weights.bench_metrics([bench], "blind", registered)
    assert [(record["sigma"], record["psnr"]) for record in kept] == [(30.0, 28.0), (50.0, 26.0)]


def entry(sha256: str, recipe: str = "", metrics: list | None = None, description: str = "") -> dict:
    return {"name": "blind", "sha256": sha256, "recipe": recipe, "metrics": metrics or [], "description": description}


REGISTERED = entry("old", "3,500 steps", [{"psnr": 26.1}], "Grey RED30 for sigma 0-75")


def test_registering_the_same_file_again_keeps_its_recipe_numbers_and_description() -> None:
    assert register_weights.described(entry("old"), REGISTERED) == REGISTERED


def test_new_weights_keep_the_description_but_need_their_own_recipe_and_numbers() -> None:
    for incomplete in (entry("new"), entry("new", recipe="5,500 steps"), entry("new", metrics=[{"psnr": 26.3}])):
        with pytest.raises(ValueError, match="required for new weights"):
            register_weights.described(incomplete, REGISTERED)
    complete = register_weights.described(entry("new", "5,500 steps", [{"psnr": 26.3}]), REGISTERED)
    assert complete == entry("new", "5,500 steps", [{"psnr": 26.3}], "Grey RED30 for sigma 0-75")


def test_a_new_model_needs_a_description() -> None:
    with pytest.raises(ValueError, match="--description"):
        register_weights.described(entry("new", "1,000 steps", [{"psnr": 26.3}]), None)
