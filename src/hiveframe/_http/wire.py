"""A lean HTTP/1.1 client: keep-alive connections on asyncio, responses parsed by llhttp.

:class:`~hiveframe._http.transport.Transport` sends every request that goes straight to its
server (``http`` or ``https``, no proxy) through this module, and the rest through aiohttp.
Per request it does what the session above it needs and nothing more: write the request in
one piece, parse the head and body with ``httptools`` (llhttp, the parser Node.js and
uvicorn use), hand the body on as it arrives, and keep the connection for the next request.
Redirects, retries, decompression, cookies and size caps are the session's. The reason for a
second client is measured (docs/design.md, "The wire"): aiohttp's client costs about four
times as much CPU per request, and importing it a sixth of a second per process.

Every failure is one of :mod:`hiveframe.errors`' transport errors, naming the request
(``where``): :class:`~hiveframe.errors.NameResolutionError` and
:class:`~hiveframe.errors.ConnectError` before the request is sent,
:class:`~hiveframe.errors.TimeoutException` when the server stays silent past the read
timeout, :class:`~hiveframe.errors.ReadError` when the connection breaks or the response is
not HTTP. A connection is reused only after a response that ended cleanly and allowed it.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

import httptools
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from hiveframe._http.proxy import Proxies
from hiveframe.errors import (
    ConnectError,
    NameResolutionError,
    ReadError,
    TimeoutException,
    TransportError,
)

USER_AGENT = "hiveframe"
# A connection idle longer than this is closed rather than reused (aiohttp's default too):
# servers drop idle keep-alive connections, often after 5-60 s.
KEEPALIVE_SECONDS = 15.0
# A connection idle this long may meet its server's keep-alive timeout as a request goes out
# on it (the shortest in common servers are 1-5 s); see Wire.open.
IDLE_RACE_SECONDS = 1.0
# The close of that race comes within a round trip of the request; one that comes later is
# the server failing as it worked on the request (the retry policy's to judge).
RACE_REPLY_SECONDS = 1.0
# Body bytes held for a slow reader before the connection stops reading from the socket.
HIGH_WATER = 256 * 1024
# Bytes received while the response head is still incomplete: past this, the server is not
# sending a head a client should keep (aiohttp caps each header line at 8 KiB).
MAX_HEAD_BYTES = 1024 * 1024
SMALL_BODY = 64 * 1024  # a request body up to this size is copied after the head, one write
_NO_BODY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "TRACE"})
_FORBIDDEN = frozenset("\r\n\0")

# Builds the keyword arguments that name a request in an error (url redacted, page, batch);
# called only when an error is raised, so the hot path never redacts.
Where = Callable[[], dict[str, Any]]
Key = tuple[str, str, int]  # scheme, host, port


class IdleConnectionClosed(ReadError):
    """A request went out on a kept-alive connection that had been idle a while, and the
    server closed it before answering: most likely its keep-alive timeout ran out as the
    request left, before the request arrived. The session sends such a request again, once,
    when sending it twice is harmless."""


@dataclass(frozen=True)
class TransportConfig:
    """Connection settings: timeouts per network wait, TLS, pool size, proxies."""

    read_timeout_seconds: float | None
    connect_timeout_seconds: float
    verify: bool | str = True
    max_connections: int = 16
    proxies: Proxies = field(default_factory=Proxies)


class WireResponse:
    """A response whose head arrived; its body streams in through :meth:`chunks`."""

    __slots__ = ("_connection", "_exchange", "headers", "status", "url")

    def __init__(
        self,
        connection: _Connection,
        exchange: int,
        status: int,
        headers: CIMultiDictProxy[str],
        url: str,
    ) -> None:
        self._connection = connection
        self._exchange = exchange
        self.status = status
        self.headers = headers
        self.url = url

    def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives on the wire (still content-encoded)."""
        return self._connection.body()

    def close(self) -> None:
        """Drop the connection (the body is not read to its end)."""
        self._connection.finish(self._exchange, reuse=False)

    def release(self) -> None:
        """Give the connection back for the next request (the body was read)."""
        self._connection.finish(self._exchange, reuse=True)


class Wire:
    """A pool of keep-alive connections to any number of servers, inside one event loop."""

    def __init__(self, config: TransportConfig) -> None:
        self._connect_timeout = config.connect_timeout_seconds
        self._read_timeout = config.read_timeout_seconds
        self._verify = config.verify
        self._slots = asyncio.Semaphore(config.max_connections)
        self._idle: dict[Key, deque[_Connection]] = {}
        self._open: set[_Connection] = set()

    async def open(
        self,
        method: str,
        url: URL,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        where: Where,
    ) -> WireResponse:
        """Send the request and read the response head (HTTP/1.1, keep-alive).

        Raises
        ------
        IdleConnectionClosed
            The request went out on a connection idle :data:`IDLE_RACE_SECONDS` or more,
            which the server closed before any byte of an answer, within
            :data:`RACE_REPLY_SECONDS` (the other pooled connections to the server idle as
            long are dropped too).
        """
        head = _request_head(method, url, headers, body)
        key: Key = (url.scheme, url.raw_host or "", url.port or 0)
        await self._slots.acquire()
        try:
            loop = asyncio.get_running_loop()
            now = loop.time()
            reused = self._reused(key, now)
            connection = reused or await self._connect(url, where)
            try:
                return await connection.exchange(head, body, url, key, method == "HEAD", where)
            except ReadError as exc:
                if reused is None or not reused.unanswered:
                    raise
                idle = now - reused.idle_since
                waited = loop.time() - now
                if idle < IDLE_RACE_SECONDS or waited > RACE_REPLY_SECONDS:
                    raise
                self._drop_idle(key, reused.idle_since)
                message = (
                    f"{exc.message} (on a connection idle {idle:.1f}s: the server's keep-alive "
                    "timeout may have closed it as the request went out)"
                )
                raise IdleConnectionClosed(message, **where()) from exc
        except BaseException:
            self._slots.release()
            raise

    async def aclose(self) -> None:
        """Close every connection, idle or in use."""
        for connection in list(self._open):
            connection.abort()
        self._idle.clear()

    def _drop_idle(self, key: Key, since: float) -> None:
        # Connections to the server idle since ``since`` or before: closed by now, likely.
        idle = self._idle.get(key)
        while idle and idle[0].idle_since <= since:
            idle.popleft().abort()

    def _reused(self, key: Key, now: float) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()  # the most recently used is the least likely dropped
            if connection.usable(now):
                return connection
            connection.abort()
        return None

    async def _connect(self, url: URL, where: Where) -> _Connection:
        loop = asyncio.get_running_loop()
        host, port = url.raw_host or "", url.port or 0
        tls = ssl_context(self._verify) if url.scheme == "https" else None
        try:
            async with time_limit(self._connect_timeout):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self),
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                )
        except socket.gaierror as exc:
            raise resolution_error(host, exc, **where()) from exc
        except TimeoutError as exc:
            raise ConnectError(
                f"could not connect (connection to {host}:{port} timed out after "
                f"{self._connect_timeout}s)",
                **where(),
            ) from exc
        except OSError as exc:
            raise ConnectError(f"could not connect ({error_detail(exc)})", **where()) from exc
        self._open.add(connection)
        return connection

    def _done(self, connection: _Connection, key: Key | None) -> None:
        # A connection's exchange ended: keep it for the key's next request, or forget it.
        self._slots.release()
        if key is None:
            self._open.discard(connection)
        else:
            self._idle.setdefault(key, deque()).append(connection)

    def _lost(self, connection: _Connection) -> None:
        self._open.discard(connection)


class _Connection(asyncio.Protocol):
    """One keep-alive connection: at most one exchange at a time."""

    def __init__(self, wire: Wire) -> None:
        self._wire = wire
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._closed = False
        self.idle_since = 0.0  # loop time at which the last exchange ended
        # The current exchange (numbered, so a response handed out earlier cannot end a later
        # exchange on the same connection).
        self._exchange = 0
        self._key: Key | None = None
        self._where: Where = dict
        self._head_bodyless = False
        self._status = 0
        self._headers: list[tuple[str, str]] = []
        self._head: asyncio.Future[None] | None = None
        self._head_bytes = 0
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._complete = False
        self._keep_alive = False
        self._until_close = False
        self._error: TransportError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._active = False

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, though not always asyncio's class: uvloop's are its own.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if not self._active:  # bytes nobody asked for: the connection cannot be trusted
            self.abort()
            return
        if self._head is not None:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                message = f"the response head is over {MAX_HEAD_BYTES} bytes without ending"
                self._fail(ReadError(message, **self._where()))
                return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ReadError("the server switched protocols", **self._where()))
        except httptools.HttpParserError as exc:
            cause = exc.__context__ if isinstance(exc, httptools.HttpParserCallbackError) else exc
            message = f"not a valid HTTP response ({error_detail(cause)})"
            self._fail(ReadError(message, **self._where()))

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._wire._lost(self)
        if not self._active or self._complete:
            return
        if self._head is None and self._until_close and exc is None:
            self._complete = True  # a body that ends with the connection, as HTTP/1.0's
            self._wake()
            return
        what = "before the response" if self._head is not None else "mid-body"
        detail = f" ({error_detail(exc)})" if exc is not None else ""
        self._fail(ReadError(f"the server closed the connection {what}{detail}", **self._where()))

    def pause_writing(self) -> None:  # the request is written whole; nothing to pause
        pass

    def resume_writing(self) -> None:
        pass

    # -- llhttp's callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._complete:  # bytes past the end of the response: not reusable
            self.abort()
        self._headers = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append(
            (name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"))
        )

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # an interim answer (100 Continue, 103 Early Hints)
            return
        self._status = status
        self._keep_alive = self._parser.should_keep_alive()
        self._until_close = not any(
            name.lower() in ("content-length", "transfer-encoding") for name, _ in self._headers
        ) and status not in (204, 304)
        if self._head is not None:
            head, self._head = self._head, None
            if not head.done():
                head.set_result(None)
        if self._head_bodyless:  # llhttp cannot be told the request was a HEAD: it would
            self._complete = True  # wait for the declared body, so the connection ends here
            self._keep_alive = False

    def on_body(self, body: bytes) -> None:
        if self._complete:  # a HEAD's answer declares a body that never comes
            return
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > HIGH_WATER and not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._status == 0:  # the end of an interim answer
            return
        self._complete = True
        self._wake()

    # -- one exchange -------------------------------------------------------------------------

    async def exchange(
        self, head: bytes, body: bytes | None, url: URL, key: Key, bodyless: bool, where: Where
    ) -> WireResponse:
        """Send ``head`` and ``body`` and wait for the response head. ``bodyless``: the
        request was a ``HEAD``, whose answer declares a body that never comes."""
        assert self._transport is not None
        self._exchange += 1
        self._active, self._complete, self._error = True, False, None
        self._status, self._keep_alive, self._until_close = 0, False, False
        self._chunks.clear()
        self._buffered, self._paused = 0, False
        self._key, self._where = key, where
        self._head_bodyless = bodyless
        self._head, self._head_bytes = self._loop.create_future(), 0
        if body and len(body) > SMALL_BODY:
            self._transport.writelines((head, body))
        else:
            self._transport.write(head + body if body else head)
        try:
            await self._wait(self._head)
        except BaseException:
            self.abort()
            raise
        headers = CIMultiDictProxy(CIMultiDict(self._headers))
        return WireResponse(self, self._exchange, self._status, headers, str(url))

    async def body(self) -> AsyncIterator[bytes]:
        while True:
            if self._chunks:
                data = self._chunks.popleft() if len(self._chunks) == 1 else b"".join(self._chunks)
                self._chunks.clear()
                self._buffered = 0
                if self._paused and self._transport is not None:
                    self._paused = False
                    self._transport.resume_reading()
                yield data
            elif self._error is not None:
                raise self._error
            elif self._complete:
                return
            else:
                await self._wait(self._loop.create_future())

    def finish(self, exchange: int, *, reuse: bool) -> None:
        if not self._active or exchange != self._exchange:
            return
        self._active = False
        keep = (
            reuse
            and self._complete
            and self._keep_alive
            and self._error is None
            and not self._closed
            and not self._chunks
        )
        if keep:
            self.idle_since = self._loop.time()
            self._wire._done(self, self._key)
        else:
            self.abort()
            self._wire._done(self, None)

    def usable(self, now: float) -> bool:
        # A transport closing already read the server's FIN or reset (connection_lost is
        # still queued): a request written on it would never leave.
        transport = self._transport
        closing = transport is None or transport.is_closing()
        return not (self._closed or closing) and now - self.idle_since < KEEPALIVE_SECONDS

    @property
    def unanswered(self) -> bool:
        """The connection closed before any byte of an answer to its exchange came."""
        return self._closed and self._head_bytes == 0

    def abort(self) -> None:
        self._closed = True
        if self._transport is not None:
            self._transport.abort()

    # -- waiting ------------------------------------------------------------------------------

    async def _wait(self, future: asyncio.Future[None]) -> None:
        # One wait for the server, bounded by the read timeout (aiohttp's sock_read).
        if self._error is not None:
            raise self._error
        self._waiter = future
        timeout = self._wire._read_timeout
        timer = (
            self._loop.call_later(timeout, self._timed_out, future) if timeout is not None else None
        )
        try:
            await future
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def _timed_out(self, future: asyncio.Future[None]) -> None:
        if not future.done():
            seconds = self._wire._read_timeout
            self._error = TimeoutException(
                f"timed out waiting for the server (no data for {seconds}s)", **self._where()
            )
            future.set_exception(self._error)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: TransportError) -> None:
        if self._error is None:
            self._error = error
        for future in (self._head, self._waiter):
            if future is not None and not future.done():
                future.set_exception(error)
        self._head = None
        self.abort()


def _request_head(method: str, url: URL, headers: Mapping[str, str], body: bytes | None) -> bytes:
    """The request line and header fields, as bytes; refuses a field that would split it."""
    fields = {
        "host": ("Host", url.host_port_subcomponent or ""),
        "user-agent": ("User-Agent", USER_AGENT),
        "accept": ("Accept", "*/*"),
    }
    for name, value in headers.items():
        fields[name.lower()] = (name, value)
    if body is not None or method not in _NO_BODY_METHODS:
        fields["content-length"] = ("Content-Length", str(len(body or b"")))
    lines = [f"{method} {url.raw_path_qs or '/'} HTTP/1.1"]
    for name, value in fields.values():
        if not _FORBIDDEN.isdisjoint(name) or not _FORBIDDEN.isdisjoint(value):
            raise ValueError(f"header {name!r} holds a line break or NUL, which HTTP forbids")
        lines.append(f"{name}: {value}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("utf-8")


@lru_cache(maxsize=8)
def ssl_context(verify: bool | str) -> ssl.SSLContext:
    """The TLS context for ``verify`` (a CA file, or whether to check certificates), built
    on the first https connection, not at import: loading the CA bundle takes tens of
    milliseconds that a plain-http read never needs."""
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def time_limit(seconds: float | None) -> AbstractAsyncContextManager[Any]:
    """A block that raises the builtin ``TimeoutError`` after ``seconds`` (``None``: never).

    ``asyncio.timeout`` (3.11+) costs half of anyio's cancel scope, paid once per request;
    the wire never runs on another event loop than asyncio's.
    """
    if sys.version_info >= (3, 11):
        return asyncio.timeout(seconds)
    return _anyio_limit(seconds)


@asynccontextmanager
async def _anyio_limit(seconds: float | None) -> AsyncIterator[None]:
    import anyio  # Python 3.10

    with anyio.fail_after(seconds):
        yield


def error_detail(exc: BaseException | None) -> str:
    """``exc`` as an error message quotes it: its type, and its text if it has one."""
    if exc is None:
        return "no detail"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def resolution_error(host: str, cause: OSError, **where: Any) -> NameResolutionError:
    """The error for ``host`` not resolving; ``cause`` is the resolver's ``socket.gaierror``.

    Examples
    --------
    >>> error = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    >>> resolution_error("api.invalid", error).temporary
    False
    """
    temporary = cause.errno == socket.EAI_AGAIN
    why = "the DNS server did not answer" if temporary else "no such name"
    return NameResolutionError(
        f"could not resolve host {host!r}: {why} ({cause.strerror or cause})",
        host=host,
        temporary=temporary,
        **where,
    )
