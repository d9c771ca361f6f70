"""Weights files: where they live, how they are fetched and verified, how they are read and written.

A registered model is looked for, in order, in the cache (re-verified by sha256), in the
folder of weights beside the manifest (``weights/`` of a source checkout, or the folder of
``$REDCLI_MANIFEST``), then downloaded from ``$REDCLI_WEIGHTS_URL`` (http, https or file;
default :data:`DEFAULT_WEIGHTS_URL`). ``REDCLI_OFFLINE=1`` forbids the network (a ``file://``
base URL still works). A path given explicitly is used as it is.

A download streams into ``<file>.partial`` in the cache while holding ``<file>.lock``,
resumes that partial file with an HTTP Range request, retries transient failures with
exponential backoff, checks size and sha256, then renames the file into place: the cache
never holds a half-written or unverified weights file under its final name.

The library never prints: pass a :data:`Progress` callback to watch bytes arrive. Only
:func:`load_model`, :func:`save_weights` and :func:`load_named_or_path` import torch;
requests is imported only to download.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping
from urllib.parse import urlparse
from urllib.request import url2pathname

from redcli.atomic import atomic_output
from redcli.errors import ChecksumError, DownloadError, ModelError, OfflineError, UsageError
from redcli.paths import cache_root
from redcli.registry import ModelEntry, WeightsMeta, get_entry, load_registry, manifest_override

try:  # POSIX advisory locks; without them (Windows) concurrent downloads are not serialised
    import fcntl
except ImportError:  # pragma: no cover - not reached on Linux/macOS
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from redcli.model import REDNet

DEFAULT_WEIGHTS_URL = "https://github.com/redcli/redcli/releases/download/weights-v1"
"""Where the project publishes its weights files: the assets of the ``weights-v1`` GitHub release."""

WEIGHTS_URL_ENV = "REDCLI_WEIGHTS_URL"
OFFLINE_ENV = "REDCLI_OFFLINE"
PARTIAL_SUFFIX = ".partial"
LOCK_SUFFIX = ".lock"
URL_SCHEMES = ("http", "https", "file")

Progress = Callable[[str, int, int], None]
"""``progress(file_name, bytes_done, bytes_total)``, called as a download advances."""


@dataclass(frozen=True)
class DownloadPolicy:
    """How patient a download is."""

    timeout: float = 30.0  # seconds to connect, and at most between two received chunks
    retries: int = 3  # further attempts after a transient failure (5xx, timeout, cut connection)
    backoff: float = 1.0  # seconds before the first retry; doubles for each next one
    chunk_size: int = 1 << 16


DEFAULT_POLICY = DownloadPolicy()


@dataclass(frozen=True)
class CacheCheck:
    """One cached weights file re-hashed: ``ok`` when its size and sha256 match the registry."""

    entry: ModelEntry
    path: Path
    ok: bool


class _Retry(Exception):
    """A transient failure: another attempt may succeed, resuming from the bytes kept."""


class _Restart(_Retry):
    """The bytes kept cannot be resumed: discard them, then try again."""


class _Fatal(Exception):
    """A permanent failure (404, unreadable file): no retry."""


# --- where files are -------------------------------------------------------------------------


def cache_dir() -> Path:
    """Folder of cached weights files: ``<cache root>/weights`` (``$REDCLI_CACHE_DIR`` or platformdirs)."""
    return cache_root() / "weights"


def cached_path(entry: ModelEntry) -> Path:
    """Where ``entry``'s file lives in the cache (whether or not it is there)."""
    return cache_dir() / entry.file


def local_weights_dir() -> Path | None:
    """Folder of weights files shipped beside the manifest: the ``$REDCLI_MANIFEST`` folder, or a checkout's ``weights/``."""
    override = manifest_override()
    if override is not None:
        return override.parent
    import redcli

    checkout = Path(redcli.__file__).resolve().parents[1] / "weights"
    return checkout if checkout.is_dir() else None


def location(entry: ModelEntry) -> str | None:
    """``"cache"`` or ``"local"`` where a copy of ``entry`` exists (not re-hashed), else None."""
    if cached_path(entry).is_file():
        return "cache"
    local = local_weights_dir()
    return "local" if local is not None and (local / entry.file).is_file() else None


def weights_url(entry: ModelEntry) -> str:
    """Download URL of ``entry``: ``$REDCLI_WEIGHTS_URL`` (else the release URL) plus the file name."""
    base = os.environ.get(WEIGHTS_URL_ENV) or DEFAULT_WEIGHTS_URL
    if urlparse(base).scheme not in URL_SCHEMES:
        raise UsageError(f"{WEIGHTS_URL_ENV} must be an http, https or file URL, got {base!r}")
    return f"{base.rstrip('/')}/{entry.file}"


def is_offline() -> bool:
    """True when ``$REDCLI_OFFLINE`` forbids the network."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


# --- verification ----------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_valid(path: Path, entry: ModelEntry) -> bool:
    """True when ``path`` is a file with ``entry``'s size and sha256."""
    return path.is_file() and path.stat().st_size == entry.size and sha256_of(path) == entry.sha256


def verify_cache(entries: Iterable[ModelEntry] | None = None) -> list[CacheCheck]:
    """Re-hash the cached file of every entry (default: the registry) that has one."""
    chosen = load_registry() if entries is None else entries
    return [CacheCheck(entry, cached_path(entry), is_valid(cached_path(entry), entry))
            for entry in chosen if cached_path(entry).is_file()]


def remove_cached(entry: ModelEntry) -> list[Path]:
    """Delete ``entry``'s cached file and any partial download of it; returns what was removed.

    The lock file stays: removing it could let two downloads run at once.
    """
    target = cached_path(entry)
    if not target.parent.is_dir():
        return []
    removed = []
    with _locked(target):
        for path in (target, _partial(target)):
            if path.is_file():
                path.unlink()
                removed.append(path)
    return removed


# --- resolution ------------------------------------------------------------------------------


def find_local(entry: ModelEntry) -> Path | None:
    """A verified copy of ``entry`` already on disk: the cache first, then the local weights folder."""
    local = local_weights_dir()
    candidates = [cached_path(entry)] + ([local / entry.file] if local is not None else [])
    return next((path for path in candidates if is_valid(path, entry)), None)


def fetch(entry: ModelEntry, *, progress: Progress | None = None, policy: DownloadPolicy | None = None) -> Path:
    """A verified local file for ``entry``: an existing copy, else a download into the cache."""
    return find_local(entry) or download(entry, progress=progress, policy=policy)


def resolve_weights(name_or_path: str, *, progress: Progress | None = None,
                    policy: DownloadPolicy | None = None) -> tuple[Path, WeightsMeta]:
    """The local file and metadata for a registered model name or a path to a weights file."""
    path, meta, _ = _resolve(name_or_path, progress, policy)
    return path, meta


def load_named_or_path(name_or_path: str, *, progress: Progress | None = None) -> tuple["REDNet", WeightsMeta, str]:
    """Load a registered model or a weights file; also returns a short description of its source."""
    path, _, source = _resolve(name_or_path, progress, None)
    model, meta = load_model(path)
    return model, meta, source


def _resolve(name_or_path: str, progress: Progress | None,
             policy: DownloadPolicy | None) -> tuple[Path, WeightsMeta, str]:
    path = as_weights_path(name_or_path)
    if path is not None:
        return path, read_meta(path), str(path)
    entry = get_entry(name_or_path)
    return fetch(entry, progress=progress, policy=policy), entry.meta, entry.name


def as_weights_path(text: str) -> Path | None:
    """``text`` as a weights file path when it names a file or looks like one (separator, .safetensors), else None."""
    path = Path(text).expanduser()
    separators = [sep for sep in (os.sep, os.altsep) if sep]
    if path.is_file():
        return path
    if path.suffix == ".safetensors" or any(sep in text for sep in separators):
        raise ModelError(f"{text}: no such weights file")
    return None


# --- download --------------------------------------------------------------------------------


def download(entry: ModelEntry, *, progress: Progress | None = None, policy: DownloadPolicy | None = None) -> Path:
    """Put a verified copy of ``entry`` in the cache (a no-op when one is there) and return its path.

    Raises :class:`OfflineError` when the network is forbidden, :class:`ChecksumError` when the
    bytes received are not the registered file, :class:`DownloadError` for anything else
    (HTTP error, timeout, connection cut after the last retry). Each message names the model
    and the URL.
    """
    policy = policy or DEFAULT_POLICY
    target = cached_path(entry)
    if is_valid(target, entry):
        return target
    url = weights_url(entry)
    if is_offline() and urlparse(url).scheme != "file":
        raise OfflineError(_offline_message(entry, url))
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target):
        if is_valid(target, entry):  # another process finished it while we waited
            return target
        target.unlink(missing_ok=True)
        partial = _partial(target)
        try:
            _transfer_with_retries(entry, url, partial, progress, policy)
        except _Fatal as exc:
            raise DownloadError(f"cannot download model {entry.name!r} from {url}: {exc}") from None
        _check_download(entry, url, partial)
        os.replace(partial, target)
    return target


def _offline_message(entry: ModelEntry, url: str) -> str:
    local = local_weights_dir()
    places = [str(cached_path(entry))] + ([str(local / entry.file)] if local is not None else [])
    return (f"model {entry.name!r} is not available offline ({OFFLINE_ENV}=1): no valid copy at "
            f"{' or '.join(places)}; download it from {url} (`redcli models download {entry.name}`) "
            "or unset the variable")


def _partial(target: Path) -> Path:
    return target.with_name(target.name + PARTIAL_SUFFIX)


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<target>.lock`` (blocks while another process holds it)."""
    with open(target.with_name(target.name + LOCK_SUFFIX), "ab") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def _transfer_with_retries(entry: ModelEntry, url: str, partial: Path, progress: Progress | None,
                           policy: DownloadPolicy) -> None:
    """Fill ``partial`` with ``entry.size`` bytes, retrying transient failures with backoff."""
    attempts = policy.retries + 1
    for attempt in range(attempts):
        try:
            _transfer(entry, url, partial, progress, policy)
            return
        except _Retry as exc:
            if isinstance(exc, _Restart):
                partial.unlink(missing_ok=True)
            if attempt + 1 == attempts:
                raise DownloadError(f"cannot download model {entry.name!r} from {url}: {exc} "
                                    f"(gave up after {attempts} attempts)") from None
            time.sleep(policy.backoff * 2**attempt)


def _transfer(entry: ModelEntry, url: str, partial: Path, progress: Progress | None, policy: DownloadPolicy) -> None:
    """One attempt: append to ``partial`` from where it stops (or rewrite it if the source cannot resume)."""
    offset = partial.stat().st_size if partial.is_file() else 0
    if offset >= entry.size:
        return  # complete already (or too long: the checksum decides)
    opener = _file_source if urlparse(url).scheme == "file" else _http_source
    with opener(url, offset, policy) as (start, chunks), open(partial, "ab" if start else "wb") as out:
        done = start
        for chunk in chunks:
            out.write(chunk)
            done += len(chunk)
            if progress is not None:
                progress(entry.file, min(done, entry.size), entry.size)
            if done > entry.size:
                break  # more bytes than registered: the checksum will reject the file
        out.flush()
        os.fsync(out.fileno())
    if done < entry.size:
        raise _Retry(f"the body ended after {done} of {entry.size} bytes")


def _check_download(entry: ModelEntry, url: str, partial: Path) -> None:
    """Reject (and delete) a completed partial file whose size or sha256 is not the registered one."""
    size = partial.stat().st_size
    digest = sha256_of(partial)
    if size != entry.size or digest != entry.sha256:
        partial.unlink()
        raise ChecksumError(f"model {entry.name!r} downloaded from {url} is not the registered file "
                            f"({size} bytes, sha256 {digest[:16]}…; expected {entry.size} bytes, "
                            f"sha256 {entry.sha256[:16]}…); nothing was kept")


@contextlib.contextmanager
def _file_source(url: str, offset: int, policy: DownloadPolicy) -> Iterator[tuple[int, Iterator[bytes]]]:
    """Read a ``file://`` URL from ``offset``."""
    path = Path(url2pathname(urlparse(url).path))
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise _Fatal(f"cannot read {path} ({exc.strerror})") from None
    with handle:
        handle.seek(offset)
        yield offset, iter(lambda: handle.read(policy.chunk_size), b"")


@contextlib.contextmanager
def _http_source(url: str, offset: int, policy: DownloadPolicy) -> Iterator[tuple[int, Iterator[bytes]]]:
    """GET ``url`` (with a Range request from ``offset`` when resuming); yields where the body starts."""
    import requests

    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        response = requests.get(url, headers=headers, stream=True, timeout=policy.timeout)
    except requests.RequestException as exc:
        raise _Retry(_describe(exc, policy)) from None
    with response:
        start = _body_start(response, offset)
        yield start, _guarded(response.iter_content(policy.chunk_size), policy)


def _body_start(response: Any, offset: int) -> int:
    """Byte position of the body's first byte, from the status; raises for errors."""
    status = response.status_code
    if status == 200:
        return 0
    if status == 206 and _content_range_start(response.headers.get("Content-Range", "")) == offset:
        return offset
    if status in (206, 416):
        raise _Restart(f"the server cannot resume from byte {offset} (HTTP {status})")
    reason = f"HTTP {status} {response.reason or ''}".strip()
    if status in (408, 429) or status >= 500:
        raise _Retry(reason)
    raise _Fatal(reason)


def _content_range_start(header: str) -> int | None:
    """First byte of a ``Content-Range: bytes START-END/TOTAL`` header, or None if malformed."""
    unit, _, spec = header.partition(" ")
    first = spec.partition("-")[0]
    return int(first) if unit == "bytes" and first.isdigit() else None


def _guarded(chunks: Iterator[bytes], policy: DownloadPolicy) -> Iterator[bytes]:
    """Re-raise network errors met while reading the body as retryable failures."""
    import requests

    try:
        yield from chunks
    except requests.RequestException as exc:
        raise _Retry(_describe(exc, policy)) from None


def _describe(exc: Exception, policy: DownloadPolicy) -> str:
    """A short reason for a requests failure."""
    import requests

    if isinstance(exc, requests.Timeout) or "timed out" in str(exc).lower():
        return f"timed out (no data for {policy.timeout:g} s)"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection broke during the transfer"
    return f"connection failed ({type(exc).__name__})"


# --- safetensors files -----------------------------------------------------------------------


def read_meta(path: str | os.PathLike[str]) -> WeightsMeta:
    """The RED-Net metadata of a weights file, read from its header only (no torch)."""
    metadata, _ = _read_header(Path(path))
    return WeightsMeta.from_metadata(metadata, str(path))


def load_model(path: str | os.PathLike[str]) -> tuple["REDNet", WeightsMeta]:
    """Build the RED-Net a safetensors file describes and load its weights (never unpickles).

    :class:`ModelError` naming the file when it is not safetensors, has no RED-Net metadata,
    or holds tensors that do not fit the architecture its metadata states.
    """
    path = Path(path)
    metadata, shapes = _read_header(path)
    meta = WeightsMeta.from_metadata(metadata, str(path))
    from safetensors.torch import load_file

    from redcli.model import REDNet

    model = REDNet(meta.arch.depth, meta.arch.width, meta.arch.channels)
    _check_shapes(_shapes(model.state_dict()), shapes, f"{path}: tensors do not fit a {meta.arch.label} RED-Net")
    tensors = load_file(str(path))
    bad = sorted(name for name, tensor in tensors.items() if not tensor.float().isfinite().all())
    if bad:
        raise ModelError(f"{path}: tensor {bad[0]} holds NaN or infinite values")
    model.load_state_dict({name: tensor.float() for name, tensor in tensors.items()})
    return model.eval(), meta


def save_weights(path: str | os.PathLike[str], state_dict: Mapping[str, Any], meta: WeightsMeta) -> None:
    """Write ``state_dict`` as float32 safetensors with ``meta`` in the header, atomically.

    :class:`ModelError` when the tensors do not fit ``meta.arch`` (nothing is written then).
    """
    import torch
    from safetensors.torch import save_file

    from redcli.model import REDNet

    tensors = {name: tensor.detach().to("cpu", torch.float32).contiguous() for name, tensor in state_dict.items()}
    with torch.device("meta"):
        expected = REDNet(meta.arch.depth, meta.arch.width, meta.arch.channels).state_dict()
    _check_shapes(_shapes(expected), _shapes(tensors), f"{path}: state dict does not fit a {meta.arch.label} RED-Net")
    with atomic_output(path) as temp:
        save_file(tensors, str(temp), metadata=meta.to_metadata())


def _read_header(path: Path) -> tuple[dict[str, str] | None, dict[str, tuple[int, ...]]]:
    """Metadata and tensor shapes from a safetensors header; :class:`ModelError` if unreadable."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            shapes = {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}
            return handle.metadata(), shapes
    except FileNotFoundError:
        raise ModelError(f"{path}: no such weights file") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except SafetensorError as exc:
        raise ModelError(f"{path}: not a safetensors weights file ({exc})") from None


def _shapes(tensors: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    return {name: tuple(tensor.shape) for name, tensor in tensors.items()}


def _check_shapes(expected: Mapping[str, tuple[int, ...]], found: Mapping[str, tuple[int, ...]], context: str) -> None:
    """:class:`ModelError` (``context`` plus the first differences) unless names and shapes agree."""
    problems = [f"missing {name}" for name in sorted(expected.keys() - found.keys())]
    problems += [f"unexpected {name}" for name in sorted(found.keys() - expected.keys())]
    problems += [f"{name} is {list(found[name])}, expected {list(expected[name])}"
                 for name in sorted(expected.keys() & found.keys()) if found[name] != expected[name]]
    if problems:
        more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise ModelError(f"{context} ({'; '.join(problems[:3])}{more})")
