"""``redcli models``: list/info/download/verify/path/rm, driven through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from http_server import FileServer
from redcli import hub
from redcli.cli import common
from redcli.cli.app import app
from zoo import ALL, BLIND, SR_MULTI, make_zoo

runner = CliRunner()


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    root = tmp_path_factory.mktemp("zoo")
    return make_zoo(root / "manifest", root / "served")


@pytest.fixture
def env(tmp_path: Path, zoo: tuple[Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test zoo as registry, an empty cache, fast downloads, served by a local HTTP server."""
    monkeypatch.setenv("REDCLI_MANIFEST", str(zoo[0]))
    monkeypatch.setenv("REDCLI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("REDCLI_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "DEFAULT_POLICY", hub.DownloadPolicy(timeout=0.5, retries=1, backoff=0.01))
    monkeypatch.setattr(common.stderr, "soft_wrap", True)  # keep long error lines unfolded for matching
    return tmp_path / "cache" / "weights"


@pytest.fixture
def server(env: Path, zoo: tuple[Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch):
    with FileServer(zoo[1]) as running:
        monkeypatch.setenv("REDCLI_WEIGHTS_URL", running.url)
        yield running


def models(*args: str):
    return runner.invoke(app, ["models", *args])


def test_list_without_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "manifest.json"
    empty.write_text('{"models": []}')
    monkeypatch.setenv("REDCLI_MANIFEST", str(empty))
    result = models("list")
    assert result.exit_code == 0 and "No pretrained models are shipped yet" in result.stdout
    result = models("list", "--json")
    assert json.loads(result.stdout) == {"models": []}


def test_shipped_list_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDCLI_MANIFEST", raising=False)
    result = models("list", "--json")
    assert result.exit_code == 0 and "models" in json.loads(result.stdout)


def test_list_shows_models_and_cache_state(env: Path, server: FileServer) -> None:
    assert models("download", BLIND.name, "-q").exit_code == 0
    rows = {row["name"]: row for row in json.loads(models("list", "--json").stdout)["models"]}
    assert list(rows) == [meta.name for meta in ALL]
    assert rows[BLIND.name]["cached"] and rows[BLIND.name]["location"] == "cache"
    assert not rows[SR_MULTI.name]["cached"]
    assert rows[BLIND.name]["psnr"] == {"dataset": "bsd68", "psnr": 28.4, "setting": "σ 30"}
    assert rows[BLIND.name]["levels"] == "σ 0-75" and rows[SR_MULTI.name]["levels"] == "×2,3,4"
    table = models("list").stdout
    assert BLIND.name in table and "28.40 dB bsd68 σ 30" in table


def test_info_of_a_name_and_of_a_file(env: Path, zoo: tuple[Path, dict[str, bytes]]) -> None:
    record = json.loads(models("info", BLIND.name, "--json").stdout)
    assert record["name"] == BLIND.name and record["sigma_range"] == [0.0, 75.0]
    assert record["num_params"] == BLIND.arch.num_params and len(record["sha256"]) == 64
    assert [m["setting"] for m in record["metrics"]] == ["σ 30 ×8 ens.", "σ 30"]
    text = models("info", BLIND.name).stdout
    assert "sha256" in text and "28.50 / 0.8000" in text
    weights = zoo[0].parent.parent / "served" / f"{SR_MULTI.name}.safetensors"
    record = json.loads(models("info", str(weights), "--json").stdout)
    assert record["path"] == str(weights) and record["scales"] == [2, 3, 4]


def test_info_of_an_unknown_name(env: Path) -> None:
    result = models("info", "nope")
    assert result.exit_code == 1 and "unknown model 'nope'" in result.stderr


def test_download_path_verify_rm(env: Path, server: FileServer) -> None:
    result = models("path", BLIND.name, "-q")
    path = Path(result.stdout.strip())
    assert result.exit_code == 0 and path == env / f"{BLIND.name}.safetensors" and path.is_file()
    assert models("download", "--all", "-q").exit_code == 0
    assert sorted(p.name for p in env.glob("*.safetensors")) == sorted(f"{m.name}.safetensors" for m in ALL)

    result = models("verify")
    assert result.exit_code == 0 and result.stdout.count("ok  ") == len(ALL)
    path.write_bytes(b"tampered")
    result = models("verify", "--json")
    assert result.exit_code == 1 and str(path) in result.stderr
    assert [f["name"] for f in json.loads(result.stdout)["files"] if not f["ok"]] == [BLIND.name]

    assert models("rm", BLIND.name).exit_code == 0 and not path.exists()
    assert "not in the cache" in models("rm", BLIND.name).stderr
    assert models("rm", "--all").exit_code == 0 and not list(env.glob("*.safetensors"))


def test_download_failures_are_one_line(env: Path, server: FileServer) -> None:
    server.behaviour.status = 404
    result = models("download", BLIND.name)
    assert result.exit_code == 1
    assert result.stderr.count("redcli: error:") == 1 and "HTTP 404" in result.stderr and BLIND.name in result.stderr
    result = models("download", "--all")
    assert result.exit_code == 1 and result.stderr.count("redcli: error:") == len(ALL)


def test_offline_download_says_what_is_missing(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDCLI_OFFLINE", "1")
    result = models("path", BLIND.name)
    assert result.exit_code == 1 and "not available offline" in result.stderr and BLIND.name in result.stderr


def test_name_or_all(env: Path) -> None:
    assert models("download").exit_code == 2
    assert models("rm", BLIND.name, "--all").exit_code == 2


LIST_AND_REPORT_TORCH = """
import sys
from redcli.cli import common
from redcli.cli.app import app
try:
    app(["models", "list"])
except SystemExit:
    pass
sys.stderr.write("torch imported" if "torch" in sys.modules else "torch not imported")
"""


def test_list_does_not_import_torch(env: Path) -> None:
    result = subprocess.run([sys.executable, "-c", LIST_AND_REPORT_TORCH], capture_output=True, text=True,
                            env=dict(os.environ), timeout=60)
    assert BLIND.name in result.stdout
    assert result.stderr.endswith("torch not imported"), result.stderr
