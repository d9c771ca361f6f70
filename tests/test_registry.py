"""registry: the schema of every registered model, the manifest override, default model choice."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from redcli import hub
from redcli.errors import ModelError
from redcli.registry import (
    Architecture, BenchRecord, ModelEntry, WeightsMeta, get_entry, load_registry, parse_manifest, pick_denoiser,
    pick_upscaler,
)
from zoo import ALL, BLIND, SIGMA25, SR_MULTI, SR_X2, make_zoo, manifest_item

REPO_WEIGHTS = Path(__file__).resolve().parents[1] / "weights"


def check_entry(entry: ModelEntry, folder: Path) -> None:
    """Build the model, count its parameters, check the file's size, sha256 and header."""
    from redcli.model import REDNet

    arch = entry.meta.arch
    model = REDNet(arch.depth, arch.width, arch.channels)
    assert model.arch == arch
    assert sum(p.numel() for p in model.parameters()) == arch.num_params == entry.num_params, entry.name
    path = folder / entry.file
    assert path.is_file(), f"{entry.name}: {path} is missing"
    assert path.stat().st_size == entry.size and hub.sha256_of(path) == entry.sha256, f"{entry.name}: {path} altered"
    meta = hub.read_meta(path)
    assert (meta.arch, meta.task, meta.sigma_range, meta.scales, meta.name) == (
        arch, entry.meta.task, entry.meta.sigma_range, entry.meta.scales, entry.name)


def check_registry(entries: tuple[ModelEntry, ...], folder: Path) -> None:
    names = [entry.name for entry in entries]
    assert len(names) == len(set(names)), "model names must be unique"
    for entry in entries:
        check_entry(entry, folder)


@pytest.fixture
def no_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDCLI_MANIFEST", raising=False)


@pytest.fixture(scope="module")
def zoo_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("zoo")
    return make_zoo(folder, folder)[0]


@pytest.fixture
def zoo(zoo_manifest: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REDCLI_MANIFEST", str(zoo_manifest))
    return zoo_manifest


def test_shipped_models_match_their_files(no_override: None) -> None:
    check_registry(load_registry(), REPO_WEIGHTS)


def test_test_made_models_match_their_files(zoo: Path) -> None:
    assert [entry.name for entry in load_registry()] == [meta.name for meta in ALL]
    check_registry(load_registry(), zoo.parent)


def test_shipped_manifest_is_the_checkout_copy(no_override: None) -> None:
    packaged = Path(__file__).resolve().parents[1] / "redcli" / "data" / "manifest.json"
    assert json.loads(packaged.read_text()) == json.loads((REPO_WEIGHTS / "manifest.json").read_text())


@pytest.mark.parametrize("arch", [Architecture(4, 4, 1), Architecture(10, 8, 3), Architecture(30, 64, 1)])
def test_num_params_formula(arch: Architecture) -> None:
    from redcli.model import REDNet

    assert sum(p.numel() for p in REDNet(arch.depth, arch.width, arch.channels).parameters()) == arch.num_params


def test_manifest_override_is_read_per_path(zoo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_entry(BLIND.name).meta.sigma_range == (0.0, 75.0)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"models": []}))
    monkeypatch.setenv("REDCLI_MANIFEST", str(other))
    assert load_registry() == ()
    with pytest.raises(ModelError, match=r"unknown model 'tiny-denoise-blind' \(known: none shipped yet\)"):
        get_entry(BLIND.name)


def test_unknown_name_lists_known_ones(zoo: Path) -> None:
    with pytest.raises(ModelError, match="known: tiny-denoise-blind, tiny-denoise-s25"):
        get_entry("red99")


def test_bad_manifests_name_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "missing.json"
    monkeypatch.setenv("REDCLI_MANIFEST", str(missing))
    with pytest.raises(ModelError, match=f"{missing}: cannot read"):
        load_registry()
    broken = tmp_path / "broken.json"
    broken.write_text('{"models": [{"name": "x"}]}')
    monkeypatch.setenv("REDCLI_MANIFEST", str(broken))
    with pytest.raises(ModelError, match=f"weights manifest {broken} is malformed"):
        load_registry()


@pytest.mark.parametrize("field, value, problem", [
    ("file", "../escape.safetensors", "plain file name"),
    ("file", ".hidden", "plain file name"),
    ("sha256", "ABC", "64 lowercase hex"),
])
def test_entries_are_validated(field: str, value: str, problem: str) -> None:
    item = manifest_item(BLIND, b"data") | {field: value}
    with pytest.raises(ModelError, match=problem):
        parse_manifest(json.dumps({"models": [item]}))


def test_weights_meta_round_trips_through_metadata() -> None:
    meta = WeightsMeta(Architecture(10, 8, 3), "sr", scales=(2, 4), name="x", extra={"psnr": "33.1"})
    assert WeightsMeta.from_metadata(meta.to_metadata(), "f") == meta
    assert WeightsMeta.from_metadata(BLIND.to_metadata(), "f") == BLIND


def test_breadth_counts_levels_and_only_a_sigma_range_is_blind() -> None:
    assert [(meta.breadth, meta.blind) for meta in (BLIND, SIGMA25, SR_MULTI, SR_X2)] == [
        (75.0, True), (0.0, False), (3, False), (1, False)]


def entries_for(*metas: WeightsMeta) -> tuple[ModelEntry, ...]:
    return parse_manifest(json.dumps({"models": [manifest_item(meta, meta.name.encode()) for meta in metas]}))


def test_pick_denoiser_prefers_the_exact_level_else_blind() -> None:
    entries = entries_for(SIGMA25, BLIND, SR_MULTI)
    assert pick_denoiser(25.0, entries).name == SIGMA25.name
    assert pick_denoiser(30.0, entries).name == BLIND.name
    assert pick_denoiser(None, entries).name == BLIND.name
    with pytest.raises(ModelError, match="no denoising model"):
        pick_denoiser(25.0, entries_for(SR_MULTI))


def test_pick_upscaler_prefers_the_exact_scale_else_multi() -> None:
    entries = entries_for(SR_MULTI, SR_X2, BLIND)
    assert pick_upscaler(2, entries).name == SR_X2.name
    assert pick_upscaler(3, entries).name == SR_MULTI.name
    with pytest.raises(ModelError, match="×3"):
        pick_upscaler(3, entries_for(SR_X2))


def test_headline_is_the_first_result_without_ensemble() -> None:
    plain = BenchRecord("set5", "sr", 2, None, False, 37.0, 0.95)
    ensembled = BenchRecord("set5", "sr", 2, None, True, 37.2, 0.96)
    entry = entries_for(SR_X2)[0]
    assert entry.headline is None
    assert replace(entry, metrics=(ensembled, plain)).headline == plain
    assert replace(entry, metrics=(ensembled,)).headline == ensembled


def test_headline_of_a_per_level_model_is_at_its_own_level() -> None:
    elsewhere = BenchRecord("set12", "denoise", None, 10.0, False, 30.0, 0.8)
    own = BenchRecord("set12", "denoise", None, 25.0, False, 29.0, 0.8)
    per_level, blind, x2, multi = entries_for(SIGMA25, BLIND, SR_X2, SR_MULTI)
    assert replace(per_level, metrics=(elsewhere, own)).headline == own
    assert replace(per_level, metrics=(elsewhere,)).headline == elsewhere
    assert replace(blind, metrics=(elsewhere, own)).headline == elsewhere
    other_scale = BenchRecord("set5", "sr", 3, None, False, 33.0, 0.9)
    assert not x2.meta.covers(other_scale.level) and multi.meta.covers(other_scale.level)
    assert blind.meta.covers(own.level) and not per_level.meta.covers(elsewhere.level)
