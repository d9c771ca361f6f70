"""hub: cache, sources in order, verified/atomic/locked/resumable downloads, safetensors files."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from http_server import FileServer
from redcli import hub
from redcli.errors import ChecksumError, DownloadError, ModelError, OfflineError, UsageError
from redcli.registry import Architecture, ModelEntry, WeightsMeta, parse_manifest
from zoo import BLIND, SR_MULTI, TINY, make_zoo, random_state

FAST = hub.DownloadPolicy(timeout=0.5, retries=2, backoff=0.01, chunk_size=1024)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache and no manifest override, offline unset, fast downloads."""
    for name in ("REDCLI_MANIFEST", "REDCLI_OFFLINE", "REDCLI_WEIGHTS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REDCLI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(hub, "DEFAULT_POLICY", FAST)
    return tmp_path


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes], dict[str, ModelEntry]]:
    """A manifest in one folder, its weights in a separate "server" folder."""
    root = tmp_path_factory.mktemp("zoo")
    manifest, files = make_zoo(root / "manifest", root / "served", (BLIND, SR_MULTI))
    entries = {entry.name: entry for entry in parse_manifest(manifest.read_text())}
    return manifest, files, entries


@pytest.fixture
def blind(zoo: tuple[Path, dict[str, bytes], dict[str, ModelEntry]]) -> ModelEntry:
    return zoo[2][BLIND.name]


@pytest.fixture
def served(zoo: tuple[Path, dict[str, bytes], dict[str, ModelEntry]]) -> dict[str, bytes]:
    return zoo[1]


def cache_files(env: Path) -> list[str]:
    """Names in the weights cache, lock files aside (they are empty and harmless)."""
    folder = env / "cache" / "weights"
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(hub.LOCK_SUFFIX)) if folder.is_dir() else []


def serve(server: FileServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDCLI_WEIGHTS_URL", server.url)


# --- places and sources ----------------------------------------------------------------------


def test_cache_dir_follows_env(env: Path) -> None:
    assert hub.cache_dir() == env / "cache" / "weights"


def test_weights_url_default_and_override(env: Path, blind: ModelEntry, monkeypatch: pytest.MonkeyPatch) -> None:
    assert hub.weights_url(blind) == f"{hub.DEFAULT_WEIGHTS_URL}/{blind.file}"
    monkeypatch.setenv("REDCLI_WEIGHTS_URL", "https://mirror.example/w/")
    assert hub.weights_url(blind) == f"https://mirror.example/w/{blind.file}"
    monkeypatch.setenv("REDCLI_WEIGHTS_URL", "ftp://mirror.example/w")
    with pytest.raises(UsageError, match="REDCLI_WEIGHTS_URL"):
        hub.weights_url(blind)


def test_explicit_path_is_used_as_is(env: Path, tmp_path: Path) -> None:
    path = tmp_path / "mine.safetensors"
    hub.save_weights(path, random_state(TINY), BLIND)
    assert hub.resolve_weights(str(path)) == (path, BLIND)
    with pytest.raises(ModelError, match="missing.safetensors: no such weights file"):
        hub.resolve_weights(str(tmp_path / "missing.safetensors"))


def test_local_weights_folder_needs_no_network(env: Path, zoo, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest, files, entries = zoo
    local = env / "local"
    local.mkdir()
    (local / "manifest.json").write_bytes(manifest.read_bytes())
    (local / entries[BLIND.name].file).write_bytes(files[entries[BLIND.name].file])
    monkeypatch.setenv("REDCLI_MANIFEST", str(local / "manifest.json"))
    monkeypatch.setenv("REDCLI_OFFLINE", "1")
    path, meta = hub.resolve_weights(BLIND.name)
    assert path == local / entries[BLIND.name].file and meta.name == BLIND.name
    assert hub.location(entries[BLIND.name]) == "local"


def test_corrupt_cache_file_is_replaced(env: Path, blind: ModelEntry, served, monkeypatch) -> None:
    target = hub.cached_path(blind)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"x" * blind.size)
    with FileServer(served) as server:
        serve(server, monkeypatch)
        path = hub.fetch(blind)
    assert path == target and target.read_bytes() == served[blind.file]


def test_cached_file_is_used_offline(env: Path, blind: ModelEntry, served, monkeypatch) -> None:
    with FileServer(served) as server:
        serve(server, monkeypatch)
        hub.download(blind)
    monkeypatch.setenv("REDCLI_OFFLINE", "1")
    assert hub.fetch(blind) == hub.cached_path(blind)


def test_offline_names_model_and_places(env: Path, blind: ModelEntry, monkeypatch) -> None:
    monkeypatch.setenv("REDCLI_OFFLINE", "1")
    with pytest.raises(OfflineError) as info:
        hub.fetch(blind)
    message = str(info.value)
    assert BLIND.name in message and str(hub.cached_path(blind)) in message and "REDCLI_OFFLINE" in message
    assert cache_files(env) == []


def test_file_url_works_even_offline(env: Path, blind: ModelEntry, zoo, monkeypatch) -> None:
    served_dir = Path(zoo[0]).parent.parent / "served"
    monkeypatch.setenv("REDCLI_WEIGHTS_URL", served_dir.as_uri())
    monkeypatch.setenv("REDCLI_OFFLINE", "1")
    assert hub.download(blind).read_bytes() == zoo[1][blind.file]


# --- downloads -------------------------------------------------------------------------------


def test_download_streams_verifies_and_reports(env: Path, blind: ModelEntry, served, monkeypatch) -> None:
    seen: list[tuple[str, int, int]] = []
    with FileServer(served) as server:
        serve(server, monkeypatch)
        path = hub.download(blind, progress=lambda *args: seen.append(args))
        assert hub.download(blind) == path  # second call: already there, no request
    assert len(server.requests) == 1
    assert path.read_bytes() == served[blind.file]
    assert cache_files(env) == [blind.file]
    assert seen[-1] == (blind.file, blind.size, blind.size) and len(seen) > 1


def test_wrong_bytes_leave_nothing(env: Path, blind: ModelEntry, served, monkeypatch) -> None:
    with FileServer(served) as server:
        server.behaviour.corrupt = True
        serve(server, monkeypatch)
        with pytest.raises(ChecksumError) as info:
            hub.download(blind)
    assert BLIND.name in str(info.value) and server.url in str(info.value)
    assert cache_files(env) == []


def test_404_fails_at_once(env: Path, blind: ModelEntry, monkeypatch) -> None:
    with FileServer({}) as server:
        serve(server, monkeypatch)
        with pytest.raises(DownloadError, match="HTTP 404") as info:
            hub.download(blind)
    assert f"{server.url}/{blind.file}" in str(info.value) and BLIND.name in str(info.value)
    assert len(server.requests) == 1
    assert cache_files(env) == []


def test_503_then_200_retries(env: Path, blind: ModelEntry, served, monkeypatch) -> None:
    with FileServer(served) as server:
        server.behaviour.fail_first = 1
        serve(server, monkeypatch)
        path = hub.download(blind)
    assert len(server.requests) == 2 and path.read_bytes() == served[blind.file]


def test_stall_times_out(env: Path, blind: ModelEntry, served, monkeypatch) -> None:
    with FileServer(served) as server:
        server.behaviour.stall = 3.0
        serve(server, monkeypatch)
        policy = hub.DownloadPolicy(timeout=0.3, retries=1, backoff=0.01)
        with pytest.raises(DownloadError, match="timed out") as info:
            hub.download(blind, policy=policy)
    assert "2 attempts" in str(info.value) and len(server.requests) == 2
    assert blind.file not in cache_files(env)


def test_truncated_body_keeps_partial_then_resumes(env: Path, blind: ModelEntry, served, monkeypatch) -> None:
    half = blind.size // 2
    with FileServer(served) as server:
        server.behaviour.truncate_at = half
        serve(server, monkeypatch)
        with pytest.raises(DownloadError, match=BLIND.name):
            hub.download(blind, policy=hub.DownloadPolicy(timeout=0.5, retries=0, backoff=0.01, chunk_size=256))
        assert cache_files(env) == [blind.file + hub.PARTIAL_SUFFIX]  # no final file, resumable bytes
        kept = (hub.cache_dir() / (blind.file + hub.PARTIAL_SUFFIX)).stat().st_size
        assert 0 < kept <= half  # what arrived, less any bytes the HTTP client had not yet handed over
        server.behaviour.truncate_at = None
        path = hub.download(blind)
    assert server.requests[-1].range == f"bytes={kept}-"
    assert path.read_bytes() == served[blind.file] and cache_files(env) == [blind.file]


def write_partial(entry: ModelEntry, content: bytes) -> Path:
    """Leave an interrupted download of ``entry`` in the cache holding ``content``."""
    partial = hub.cached_path(entry).with_name(entry.file + hub.PARTIAL_SUFFIX)
    partial.parent.mkdir(parents=True)
    partial.write_bytes(content)
    return partial


def test_resume_sends_range(env: Path, blind: ModelEntry, served, monkeypatch) -> None:
    data = served[blind.file]
    partial = write_partial(blind, data[:1000])
    with FileServer(served) as server:
        serve(server, monkeypatch)
        path = hub.download(blind)
    assert [seen.range for seen in server.requests] == ["bytes=1000-"]
    assert path.read_bytes() == data and not partial.exists()


def test_server_without_ranges_restarts(env: Path, blind: ModelEntry, served, monkeypatch) -> None:
    data = served[blind.file]
    write_partial(blind, b"junk" * 100)
    with FileServer(served) as server:
        server.behaviour.ranges = False
        serve(server, monkeypatch)
        path = hub.download(blind)
    assert server.requests[0].range == "bytes=400-" and path.read_bytes() == data


def test_corrupt_partial_is_deleted(env: Path, blind: ModelEntry, served, monkeypatch) -> None:
    data = served[blind.file]
    write_partial(blind, b"\0" * 1000)
    with FileServer(served) as server:
        serve(server, monkeypatch)
        with pytest.raises(ChecksumError):
            hub.download(blind)
        assert cache_files(env) == []
        assert hub.download(blind).read_bytes() == data  # the next run starts afresh


def test_two_concurrent_downloads_end_with_one_good_file(env: Path, blind: ModelEntry, served, monkeypatch) -> None:
    results: list[Path | BaseException] = []

    def run() -> None:
        try:
            results.append(hub.download(blind))
        except BaseException as exc:  # noqa: BLE001 (reported by the assertion below)
            results.append(exc)

    with FileServer(served) as server:
        server.behaviour.delay = 0.2  # both threads are waiting on the lock or the server at once
        serve(server, monkeypatch)
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert results == [hub.cached_path(blind)] * 2
    assert len(server.requests) == 1
    assert hub.cached_path(blind).read_bytes() == served[blind.file] and cache_files(env) == [blind.file]


# --- safetensors files -----------------------------------------------------------------------


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    state = random_state(TINY, 3)
    noisy = {name: tensor.to(torch.float64) for name, tensor in state.items()}
    path = tmp_path / "w.safetensors"
    hub.save_weights(path, noisy, BLIND)
    model, meta = hub.load_model(path)
    assert meta == BLIND and not model.training
    for name, tensor in model.state_dict().items():
        assert tensor.dtype == torch.float32 and torch.equal(tensor, state[name])
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]  # no temporary left


def test_save_refuses_tensors_that_do_not_fit(tmp_path: Path) -> None:
    state = random_state(TINY)
    with pytest.raises(ModelError, match="does not fit"):
        hub.save_weights(tmp_path / "w.safetensors", state, WeightsMeta(Architecture(6, 4, 1), "sr", scales=(2,)))
    assert list(tmp_path.iterdir()) == []


def test_load_rejects_a_file_that_is_not_safetensors(tmp_path: Path) -> None:
    path = tmp_path / "model.pth"
    torch.save(random_state(TINY), path)  # a pickle: must never be unpickled
    with pytest.raises(ModelError, match=f"{path}: not a safetensors"):
        hub.load_model(path)


def test_load_rejects_safetensors_without_rednet_metadata(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file(random_state(TINY), str(path))
    with pytest.raises(ModelError, match=f"{path}: not a redcli RED-Net"):
        hub.load_model(path)


def test_load_rejects_mismatching_shapes(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "liar.safetensors"
    save_file(random_state(Architecture(4, 8, 1)), str(path), metadata=BLIND.to_metadata())
    with pytest.raises(ModelError, match=f"{path}: tensors do not fit a RED4/w4/1ch RED-Net"):
        hub.load_model(path)


def test_load_named_or_path(env: Path, zoo, served, monkeypatch) -> None:
    monkeypatch.setenv("REDCLI_MANIFEST", str(zoo[0]))
    with FileServer(served) as server:
        serve(server, monkeypatch)
        model, meta, source = hub.load_named_or_path(BLIND.name)
    assert (meta, source, model.arch) == (BLIND, BLIND.name, TINY)
