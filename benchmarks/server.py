"""The benchmark server: real HTTP on 127.0.0.1, run in its own process.

aiohttp, so the server is not the bottleneck of the clients it measures. Every endpoint
takes ``latency_ms`` (a per-request delay); records are the demo API's (seven fields, with a
list and a nested object), rendered once and cached.

    python benchmarks/server.py --port 0     # prints "READY <port>" when listening

Endpoints: ``/items`` (offset/limit, ``{"items", "total"}``), ``/nested`` (the same at
``results.items``, for the cold start), ``/pages`` (page/page_size,
``{"items", "total", "total_pages"}``), ``/cursor`` (``{"items", "next_cursor"}``),
``/link`` (RFC 8288), ``/sse?n=`` (events of ~200 bytes of JSON), ``/poll?since=`` (one
new record per poll), ``/ingest`` (POST JSON arrays; counts records and distinct ids,
de-duplicates by Idempotency-Key) with ``/ingest/stats`` and ``/ingest/reset``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys

import orjson
from aiohttp import web

from hiveframe.demo import make_record

TOTAL = 1_000_000


@functools.lru_cache(maxsize=4096)
def _records(offset: int, limit: int, total: int) -> bytes:
    return b",".join(
        orjson.dumps(make_record(i)) for i in range(offset, min(offset + limit, total))
    )


def _int(request: web.Request, name: str, default: int) -> int:
    return int(request.query.get(name, default))


async def _delay(request: web.Request) -> None:
    latency = _int(request, "latency_ms", 0)
    if latency:
        await asyncio.sleep(latency / 1000)


def _json(body: bytes, **headers: str) -> web.Response:
    return web.Response(body=body, content_type="application/json", headers=headers)


async def items(request: web.Request) -> web.Response:
    await _delay(request)
    total = _int(request, "total", TOTAL)
    offset, limit = _int(request, "offset", 0), _int(request, "limit", 100)
    return _json(b'{"items":[' + _records(offset, limit, total) + b'],"total":%d}' % total)


async def nested(request: web.Request) -> web.Response:
    total = _int(request, "total", TOTAL)
    offset, limit = _int(request, "offset", 0), _int(request, "limit", 100)
    records = _records(offset, limit, total)
    return _json(b'{"results":{"items":[' + records + b'],"total":%d}}' % total)


async def pages(request: web.Request) -> web.Response:
    await _delay(request)
    total = _int(request, "total", TOTAL)
    page, size = _int(request, "page", 1), _int(request, "page_size", 100)
    body = _records((page - 1) * size, size, total)
    count = -(-total // size)
    return _json(b'{"items":[' + body + b'],"total":%d,"total_pages":%d}' % (total, count))


async def cursor(request: web.Request) -> web.Response:
    await _delay(request)
    total = _int(request, "total", TOTAL)
    offset, limit = int(request.query.get("cursor") or 0), _int(request, "limit", 100)
    nxt = b'"%d"' % (offset + limit) if offset + limit < total else b"null"
    return _json(b'{"items":[' + _records(offset, limit, total) + b'],"next_cursor":' + nxt + b"}")


async def link(request: web.Request) -> web.Response:
    await _delay(request)
    total = _int(request, "total", TOTAL)
    page, size = _int(request, "page", 1), _int(request, "per_page", 100)
    body = b"[" + _records((page - 1) * size, size, total) + b"]"
    headers = {}
    if page * size < total:
        latency = _int(request, "latency_ms", 0)
        nxt = f"/link?page={page + 1}&per_page={size}&total={total}&latency_ms={latency}"
        headers["Link"] = f'<{nxt}>; rel="next"'
    return _json(body, **headers)


_EVENT = (
    b'{"id":%d,"type":"update","user":"user-%05d","value":%d.25,"tags":["a","b"],'
    b'"meta":{"source":"bench","region":"eu-west","ok":true},"note":"%s"}'
)


async def sse(request: web.Request) -> web.StreamResponse:
    n = _int(request, "n", 200_000)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    pad = b"x" * 40
    chunk: list[bytes] = []
    for i in range(n):
        chunk.append(b"id: %d\ndata: %s\n\n" % (i, _EVENT % (i, i % 10_000, i, pad)))
        if len(chunk) == 512:
            await response.write(b"".join(chunk))
            chunk.clear()
    if chunk:
        await response.write(b"".join(chunk))
    await response.write_eof()
    return response


async def poll(request: web.Request) -> web.Response:
    """A feed that always has one record newer than ``since``: every poll finds one."""
    since = _int(request, "since", 0)
    return _json(b"[" + orjson.dumps(make_record(since)) + b"]")


class Ingest:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.records = 0
        self.ids: set[int] = set()
        self.keys: set[str] = set()
        self.requests = 0

    async def post(self, request: web.Request) -> web.Response:
        await _delay(request)
        body = await request.read()
        self.requests += 1
        key = request.headers.get("Idempotency-Key")
        if key is not None and key in self.keys:
            return _json(b'{"duplicate":true}')
        rows = orjson.loads(body)
        if key is not None:
            self.keys.add(key)
        self.records += len(rows)
        self.ids.update(row["id"] for row in rows)
        return _json(b'{"accepted":%d}' % len(rows))

    async def stats(self, request: web.Request) -> web.Response:
        body = {"records": self.records, "distinct": len(self.ids), "requests": self.requests}
        return _json(orjson.dumps(body))

    async def clear(self, request: web.Request) -> web.Response:
        self.reset()
        return _json(b"{}")


def make_app() -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    ingest = Ingest()
    app.router.add_get("/items", items)
    app.router.add_get("/nested", nested)
    app.router.add_get("/pages", pages)
    app.router.add_get("/cursor", cursor)
    app.router.add_get("/link", link)
    app.router.add_get("/sse", sse)
    app.router.add_get("/poll", poll)
    app.router.add_post("/ingest", ingest.post)
    app.router.add_get("/ingest/stats", ingest.stats)
    app.router.add_post("/ingest/reset", ingest.clear)
    return app


async def serve(port: int) -> None:
    runner = web.AppRunner(make_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"READY {bound}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    sys.exit(main())
