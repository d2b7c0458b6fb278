"""Requests through a proxy: aiohttp's client, loaded on the first proxied request.

Everything else goes through :mod:`hiveframe._http.wire`. Like the wire, this client sends
one request and hands back the status, the headers and the raw body chunks: no redirects,
no retries, no decompression, no cookies (those are the session's), and it maps aiohttp's
exceptions onto :mod:`hiveframe.errors`. It is the only module that imports aiohttp.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from hiveframe._http.wire import (
    USER_AGENT,
    TransportConfig,
    Where,
    error_detail,
    resolution_error,
    ssl_context,
)
from hiveframe.errors import ConnectError, ReadError, TimeoutException, TransportError

_CHUNK = 64 * 1024


class ProxiedResponse:
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


class ProxiedClient:
    """A pool of keep-alive connections to proxies, for use inside one event loop."""

    def __init__(self, config: TransportConfig) -> None:
        connector = aiohttp.TCPConnector(
            limit=config.max_connections,
            ssl=ssl_context(config.verify),
            enable_cleanup_closed=False,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None,
                sock_connect=config.connect_timeout_seconds,
                sock_read=config.read_timeout_seconds,
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

    async def aclose(self) -> None:
        await self._session.close()

    async def open(
        self,
        method: str,
        url: URL,
        *,
        proxy: str,
        headers: Mapping[str, str],
        body: bytes | None,
        where: Where,
    ) -> ProxiedResponse:
        """Send the request through ``proxy`` and read the response head."""
        try:
            response = await self._session.request(
                method,
                url,
                headers=dict(headers),
                data=body,
                allow_redirects=False,
                proxy=proxy,
            )
        except Exception as exc:
            raise map_error(exc, **where()) from exc
        return ProxiedResponse(response, where=where)


def map_error(exc: BaseException, **where: Any) -> BaseException:
    """The HiveFrame error for an aiohttp exception; anything unrecognised passes through."""
    detail = error_detail(exc)
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
