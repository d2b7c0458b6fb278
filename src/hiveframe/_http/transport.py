"""The wire: one HTTP exchange over pooled keep-alive connections, nothing more.

No redirects, no retries, no decompression, no cookies: those are HiveFrame's decisions, made
in :mod:`hiveframe._http.session`. This module opens a request, hands back the status, the
headers and the raw body chunks, with every failure one of :mod:`hiveframe.errors`'
transport errors. A request that goes straight to its server takes the lean HTTP/1.1 client
(:mod:`hiveframe._http.wire`); one that goes through a proxy takes aiohttp's
(:mod:`hiveframe._http.proxied`), loaded then and not before.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Protocol

from multidict import CIMultiDictProxy
from yarl import URL

from hiveframe._http.wire import TransportConfig, Where, Wire, resolution_error
from hiveframe.errors import InsecureTLSWarning

if TYPE_CHECKING:
    from hiveframe._http.proxied import ProxiedClient

__all__ = ["RawResponse", "Transport", "TransportConfig", "Where", "build_url", "resolution_error"]


def build_url(url: str, params: Mapping[str, str] | None) -> URL:
    """``url`` with ``params`` set in its query (a parameter of the same name is replaced)."""
    target = URL(url)
    return target.update_query(params) if params else target


class RawResponse(Protocol):
    """An open response: status and headers read, body not yet."""

    status: int
    headers: CIMultiDictProxy[str]
    url: str

    def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives on the wire (still content-encoded)."""
        ...

    def close(self) -> None:
        """Drop the connection (the body is not read to its end)."""
        ...

    def release(self) -> None:
        """Give the connection back (the body was read)."""
        ...


class Transport:
    """Keep-alive connections for one source or sink, for use inside one event loop."""

    def __init__(self, config: TransportConfig) -> None:
        self.config = config
        self._wire: Wire | None = None
        self._proxied: ProxiedClient | None = None

    async def __aenter__(self) -> Transport:
        c = self.config
        if c.verify is False:
            warnings.warn(
                "verify=False: TLS certificates are not checked; anyone on the path can read "
                "and change this traffic",
                InsecureTLSWarning,
                stacklevel=2,
            )
        self._wire = Wire(c)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._wire is not None:
            await self._wire.aclose()
        if self._proxied is not None:
            await self._proxied.aclose()

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
        assert self._wire is not None, "Transport used outside 'async with'"
        proxy = self.config.proxies.proxy_for(str(url))
        if proxy is None:
            return await self._wire.open(method, url, headers=headers, body=body, where=where)
        return await self._proxy_client().open(
            method, url, proxy=proxy, headers=headers, body=body, where=where
        )

    def _proxy_client(self) -> ProxiedClient:
        if self._proxied is None:
            from hiveframe._http.proxied import ProxiedClient

            self._proxied = ProxiedClient(self.config)
        return self._proxied
