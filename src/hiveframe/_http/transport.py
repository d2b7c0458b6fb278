"""The wire: one HTTP exchange over a pooled aiohttp client, nothing more.

No redirects, no retries, no decompression, no cookies: those are HiveFrame's decisions, made
in :mod:`hiveframe._http.session`. This module opens a request, hands back the status, the
headers and the raw body chunks, and maps the engine's exceptions onto
:mod:`hiveframe.errors`. It is the only module that imports aiohttp.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import warnings
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from hiveframe._http.proxy import Proxies
from hiveframe.errors import (
    ConnectError,
    InsecureTLSWarning,
    NameResolutionError,
    ReadError,
    TimeoutException,
    TransportError,
)

USER_AGENT = "hiveframe"
_CHUNK = 64 * 1024

# Builds the keyword arguments that name a request in an error (url redacted, page, batch);
# called only when an error is raised, so the hot path never redacts.
Where = Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class TransportConfig:
    """Connection settings: timeouts per network wait, TLS, pool size, proxies."""

    read_timeout_seconds: float | None
    connect_timeout_seconds: float
    verify: bool | str = True
    max_connections: int = 16
    proxies: Proxies = field(default_factory=Proxies)


def build_url(url: str, params: Mapping[str, str] | None) -> URL:
    """``url`` with ``params`` set in its query (a parameter of the same name is replaced)."""
    target = URL(url)
    return target.update_query(params) if params else target


class RawResponse:
    """An open response: status and headers read, body not yet."""

    def __init__(self, response: aiohttp.ClientResponse, *, where: Where) -> None:
        self._response = response
        self._where = where
        self.status: int = response.status
        self.headers: CIMultiDictProxy[str] = response.headers
        self.url = str(response.url)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives on the wire (still content-encoded)."""
        try:
            async for chunk in self._response.content.iter_chunked(_CHUNK):
                yield chunk
        except Exception as exc:
            raise map_error(exc, **self._where()) from exc

    def close(self) -> None:
        self._response.close()

    def release(self) -> None:
        self._response.release()


class Transport:
    """A pool of keep-alive connections, for use inside one event loop."""

    def __init__(self, config: TransportConfig) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Transport:
        c = self.config
        if c.verify is False:
            warnings.warn(
                "verify=False: TLS certificates are not checked; anyone on the path can read "
                "and change this traffic",
                InsecureTLSWarning,
                stacklevel=2,
            )
        connector = aiohttp.TCPConnector(
            limit=c.max_connections, ssl=_ssl(c.verify), enable_cleanup_closed=False
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None,
                sock_connect=c.connect_timeout_seconds,
                sock_read=c.read_timeout_seconds,
            ),
            auto_decompress=False,
            # Proxies are chosen per request (proxy.py); trust_env would also read ~/.netrc.
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),  # cookies never ride along on their own
            headers={"User-Agent": USER_AGENT},
            skip_auto_headers=("Accept-Encoding",),
        )
        # aiohttp resends an idempotent request on its own when a kept-alive connection drops
        # before the response head. That resend would pass the retry budget, the rate limiter
        # and the breaker unseen (and send a PUT twice), so the session's retry policy is the
        # only one. There is no public switch for it (aiohttp 3.14).
        self._session._retry_connection = False
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def open(
        self,
        method: str,
        url: URL,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        where: Where,
    ) -> RawResponse:
        """Send the request (through its proxy, if any) and read the response head.
        ``where()`` names it in errors."""
        assert self._session is not None, "Transport used outside 'async with'"
        try:
            response = await self._session.request(
                method,
                url,
                headers=dict(headers),
                data=body,
                allow_redirects=False,
                proxy=self.config.proxies.proxy_for(str(url)),
            )
        except Exception as exc:
            raise map_error(exc, **where()) from exc
        return RawResponse(response, where=where)


def _ssl(verify: bool | str) -> ssl.SSLContext | bool:
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return bool(verify)


def map_error(exc: BaseException, **where: Any) -> BaseException:
    """The HiveFrame error for an engine exception; anything unrecognised passes through."""
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    error: TransportError
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        error = resolution_error(exc.host, exc.os_error, **where)
    elif isinstance(exc, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)):
        error = ConnectError(f"could not connect ({detail})", **where)
    elif isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        error = TimeoutException(f"timed out waiting for the server ({detail})", **where)
    elif isinstance(exc, (aiohttp.ClientError, ConnectionError)):
        error = ReadError(f"connection failed mid-request ({detail})", **where)
    else:
        return exc
    return error


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
