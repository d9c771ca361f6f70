"""A real HTTP file server on 127.0.0.1 that misbehaves on request, for download tests.

Not a test module: ``with FileServer({"a.bin": data}) as server: server.url`` serves the
given bytes; set fields of ``server.behaviour`` to make it truncate, corrupt, fail, stall,
answer 404 or ignore Range requests. ``server.requests`` records what clients asked for.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass
class Behaviour:
    """How the server answers (all off by default: a well-behaved server with Range support)."""

    status: int | None = None  # answer every request with this status and no body (e.g. 404)
    fail_first: int = 0  # answer the first N requests with 503
    truncate_at: int | None = None  # announce the full length, close after this many body bytes
    corrupt: bool = False  # flip the bits of the first byte
    stall: float = 0.0  # seconds to wait after the headers, before the body
    delay: float = 0.0  # seconds to wait before answering at all
    ranges: bool = True  # honour "Range: bytes=N-"


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    path: str
    range: str | None


@dataclass
class FileServer:
    """Serves ``files`` (name -> bytes) at ``url`` from a background thread."""

    files: dict[str, bytes]
    behaviour: Behaviour = field(default_factory=Behaviour)
    requests: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "FileServer":
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()  # ends stalls early
        self._httpd.shutdown()
        self._httpd.server_close()

    def wait(self, seconds: float) -> None:
        """Sleep, but return at once when the server stops."""
        self._stop.wait(seconds)

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        """Serve one GET according to :attr:`behaviour`."""
        rule = self.behaviour
        self.requests.append(Seen(handler.path, handler.headers.get("Range")))
        self.wait(rule.delay)
        data = self.files.get(handler.path.lstrip("/"))
        status = rule.status or (503 if len(self.requests) <= rule.fail_first else 200 if data is not None else 404)
        if status != 200:
            handler.send_response(status)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        body = bytes([data[0] ^ 0xFF]) + data[1:] if rule.corrupt else data
        start = _range_start(handler.headers.get("Range")) if rule.ranges else None
        if start is not None:
            handler.send_response(206)
            handler.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            body = body[start:]
        else:
            handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Accept-Ranges", "bytes" if rule.ranges else "none")
        handler.end_headers()
        self.wait(rule.stall)
        handler.wfile.write(body if rule.truncate_at is None else body[: rule.truncate_at])
        handler.wfile.flush()
        if rule.truncate_at is not None:
            handler.close_connection = True


def _range_start(header: str | None) -> int | None:
    """N from ``bytes=N-``, else None."""
    if not header or not header.startswith("bytes=") or not header.endswith("-"):
        return None
    return int(header[len("bytes="):-1])


def _handler_for(server: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            try:
                server.answer(self)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            """Keep test output quiet."""

    return Handler
