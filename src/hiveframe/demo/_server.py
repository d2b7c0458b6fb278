"""A small real HTTP/1.1 server on 127.0.0.1, built on the standard library.

It serves the embedded demo API and the test suite's fault-injecting servers: handlers are
plain functions from a :class:`Request` to a :class:`Reply`, each for a path or a path
pattern (``/parents/{id}/children``: a ``{name}`` segment stands for any one segment, still
percent-encoded in ``Request.path``). A reply body can be bytes or an
iterable of chunks (sent chunked, or raw when the reply sets ``Content-Length`` itself, which
lets a test declare more bytes than it sends). Yielding :data:`ABORT` from a body drops the
connection on the spot; a reply whose whole body *is* :data:`ABORT` drops it before any
response byte (the client sent its request and never hears back).

A client that hangs up (mid-request, mid-response, or on an idle keep-alive connection) is
not an error of the server's: the standard library would print a traceback for it
(``socketserver.BaseServer.handle_error``); this server stays quiet for those and reports
every other exception as the standard library does.
"""

from __future__ import annotations

import socket
import ssl
import struct
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

ABORT = b"\x00hiveframe-abort\x00"
"""Yield this from a reply body to drop the connection without finishing the response."""

_HANG_UPS = (BrokenPipeError, ConnectionAbortedError, ConnectionResetError)


@dataclass(frozen=True)
class Request:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    target: str  # path and query, as sent

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


@dataclass
class Reply:
    """What a handler answers. ``body`` may be bytes or an iterable of byte chunks."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""


Handler = Callable[[Request], Reply]


class LoopbackServer:
    """Serve ``routes`` (path -> handler) on 127.0.0.1 and a free port, in a background thread.

    Every request is appended to :attr:`requests`, so tests can count what reached the server.

    Example
    -------
    >>> with LoopbackServer({"/hi": lambda r: Reply(body=b"hi")}) as server:
    ...     url = server.url("/hi")
    """

    def __init__(
        self,
        routes: Mapping[str, Handler],
        *,
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.routes = dict(routes)
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", port), _RequestHandler)
        self._httpd.app = self
        self._scheme = "http"
        if ssl_context is not None:  # HTTPS, for TLS tests
            self._httpd.socket = ssl_context.wrap_socket(self._httpd.socket, server_side=True)
            self._scheme = "https"
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"{self._scheme}://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def handler(self, path: str) -> Handler | None:
        """The handler of ``path``: its own route, else the first pattern it fits."""
        exact = self.routes.get(path)
        if exact is not None:
            return exact
        segments = path.split("/")
        for pattern, handler in self.routes.items():
            parts = pattern.split("/")
            if "{" in pattern and len(parts) == len(segments):
                fits = zip(parts, segments, strict=True)
                if all(part == segment or (part[:1] == "{" and segment) for part, segment in fits):
                    return handler
        return None

    def requests_to(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def start(self) -> LoopbackServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: LoopbackServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Say nothing when the client hung up; print anything else's traceback."""
        if not isinstance(sys.exc_info()[1], _HANG_UPS):
            super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle's algorithm and
        # the client's delayed ACK add ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet; the request log is kept in memory."""

    def _handle(self) -> None:
        request = self._read_request()
        app = self.server.app
        app._record(request)
        handler = app.handler(request.path)
        reply = handler(request) if handler else Reply(404, body=b'{"error": "not found"}')
        try:
            self._send(reply, head=request.method == "HEAD")
        except _HANG_UPS:
            self.close_connection = True  # the client gave up (a timeout in a test)

    def _read_request(self) -> Request:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        return Request(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            target=self.path,
        )

    def _send(self, reply: Reply, *, head: bool) -> None:
        headers = dict(reply.headers)
        body = reply.body
        if body is ABORT:  # drop the connection after reading the request, before any reply
            self._abort()
            return
        self.send_response(reply.status)
        if isinstance(body, bytes):
            headers.setdefault("Content-Length", str(len(body)))
            self._write_headers(headers)
            if not head:
                self.wfile.write(body)
            return
        chunked = "Content-Length" not in headers
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
        self._write_headers(headers)
        self._stream(body, chunked=chunked)

    def _write_headers(self, headers: Mapping[str, str]) -> None:
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _stream(self, chunks: Iterable[bytes], *, chunked: bool) -> None:
        for chunk in chunks:
            if chunk is ABORT:
                self._abort()
                return
            if chunked and chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            elif chunk:
                self.wfile.write(chunk)
            self.wfile.flush()
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _abort(self) -> None:
        # SO_LINGER 0 turns close() into a TCP reset: the client sees a dropped connection.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()
