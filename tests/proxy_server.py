"""A real HTTP proxy on 127.0.0.1 for the tests: CONNECT tunnels and plain forwarding.

It records the head of every request it receives (method, target, headers), and, given
``credentials``, answers 407 to a request without the matching ``Proxy-Authorization``. A
forwarded request reaches the server without the ``Proxy-*`` headers, as from a proxy that
behaves, and every connection carries one request (``Connection: close`` both ways), so each
request the client sends is one the proxy records.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

_HOP_BY_HOP = ("proxy-authorization", "proxy-connection", "connection", "keep-alive")


@dataclass(frozen=True)
class ProxiedRequest:
    method: str
    target: str  # "host:port" for CONNECT, an absolute URL otherwise
    headers: dict[str, str]  # lower-case names


class ProxyServer:
    """``with ProxyServer() as proxy:`` serves on ``proxy.url`` until the block ends."""

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.requests: list[ProxiedRequest] = []
        self._expected = None
        if credentials is not None:
            token = base64.b64encode(":".join(credentials).encode()).decode()
            self._expected = f"Basic {token}"
        self._loop = asyncio.new_event_loop()
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}"

    def __enter__(self) -> ProxyServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    async def _shutdown(self) -> None:
        self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        line, *fields = head.rstrip("\r\n").split("\r\n")
        method, target, _ = line.split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (f.partition(":") for f in fields)}
        self.requests.append(ProxiedRequest(method, target, headers))
        if self._expected is not None and headers.get("proxy-authorization") != self._expected:
            writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n")
            writer.write(b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n')
            writer.write(b"Connection: close\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            return
        url = urlsplit(target)
        up_reader, up_writer = await asyncio.open_connection(url.hostname, url.port or 80)
        kept = [f for f in fields if f.partition(":")[0].strip().lower() not in _HOP_BY_HOP]
        origin_form = url.path + (f"?{url.query}" if url.query else "")
        request = [f"{method} {origin_form} HTTP/1.1", *kept, "Connection: close", "", ""]
        up_writer.write("\r\n".join(request).encode("latin-1"))
        body = asyncio.ensure_future(_pipe(reader, up_writer))  # a POST's body, as it comes
        response = await up_reader.readuntil(b"\r\n\r\n")
        status, _, rest = response.partition(b"\r\n")
        writer.write(status + b"\r\nConnection: close\r\n" + rest)
        await asyncio.gather(body, _pipe(up_reader, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()
