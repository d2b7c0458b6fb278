"""One benchmark workload by one client, run in a fresh process so peak RSS is its own.

    python benchmarks/workloads.py <workload> <client> <base_url> [records] [latency_ms]

Prints one JSON line: records, seconds, cpu_seconds, peak_rss_mb. Every client of a workload
builds the same result: an Arrow table of the records (reads), the server's verified count
(writes), parsed events (SSE).
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import resource
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pyarrow as pa

PAGE = 100
IN_FLIGHT = 8


def _items_params(offset: int, records: int, latency: int) -> dict[str, Any]:
    return {"offset": offset, "limit": PAGE, "total": records, "latency_ms": latency}


# -- reads: an Arrow table of every record ---------------------------------------------------


def read_hiveframe(base: str, records: int, latency: int, style: str = "offset") -> int:
    from hiveframe.connectors import HTTPSource, OffsetPagination, PagePagination

    common = {"params": {"total": records, "latency_ms": latency}, "data_path": "items"}
    if style == "offset":
        source = HTTPSource(
            f"{base}/items",
            page_size=PAGE,
            **common,
            pagination=OffsetPagination(total_path="total"),
        )
    elif style == "page":
        source = HTTPSource(
            f"{base}/pages",
            page_size=PAGE,
            **common,
            pagination=PagePagination(total_path="total"),
        )
    elif style == "cursor":
        source = HTTPSource(f"{base}/cursor", pagination="cursor", page_size=PAGE, **common)
    else:
        source = HTTPSource(
            f"{base}/link",
            pagination="link",
            page_size=PAGE,
            params={"total": records, "latency_ms": latency},
        )
    return int(source.read().to_arrow().num_rows)


def read_hiveframe_page(base: str, records: int, latency: int) -> int:
    return read_hiveframe(base, records, latency, "page")


def read_hiveframe_cursor(base: str, records: int, latency: int) -> int:
    return read_hiveframe(base, records, latency, "cursor")


def read_hiveframe_link(base: str, records: int, latency: int) -> int:
    return read_hiveframe(base, records, latency, "link")


def _page_params(number: int, records: int, latency: int) -> dict[str, Any]:
    return {"page": number, "page_size": PAGE, "total": records, "latency_ms": latency}


def read_requests(base: str, records: int, latency: int, style: str = "offset") -> int:
    import requests

    rows: list[dict[str, Any]] = []
    with requests.Session() as session:
        for offset in range(0, records, PAGE):
            if style == "page":
                url, params = f"{base}/pages", _page_params(offset // PAGE + 1, records, latency)
            else:
                url, params = f"{base}/items", _items_params(offset, records, latency)
            response = session.get(url, params=params)
            response.raise_for_status()
            rows.extend(response.json()["items"])
    return int(pa.Table.from_pylist(rows).num_rows)


def read_requests_page(base: str, records: int, latency: int) -> int:
    return read_requests(base, records, latency, "page")


def read_httpx(base: str, records: int, latency: int) -> int:
    import httpx

    rows: list[dict[str, Any]] = []
    with httpx.Client() as client:
        for offset in range(0, records, PAGE):
            response = client.get(f"{base}/items", params=_items_params(offset, records, latency))
            response.raise_for_status()
            rows.extend(response.json()["items"])
    return int(pa.Table.from_pylist(rows).num_rows)


def read_aiohttp(base: str, records: int, latency: int, style: str = "offset") -> int:
    """The hand-written loop: aiohttp, eight pages at a time, orjson, ``from_pylist``."""
    import aiohttp

    def request(i: int) -> tuple[str, dict[str, Any]]:
        if style == "page":
            return f"{base}/pages", _page_params(i + 1, records, latency)
        return f"{base}/items", _items_params(i * PAGE, records, latency)

    async def main() -> list[dict[str, Any]]:
        count = -(-records // PAGE)
        pages: list[list[dict[str, Any]]] = [[] for _ in range(count)]
        connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def fetch(i: int) -> None:
                url, params = request(i)
                async with session.get(url, params=params) as response:
                    response.raise_for_status()
                    pages[i] = orjson.loads(await response.read())["items"]

            for start in range(0, count, IN_FLIGHT):
                await asyncio.gather(
                    *(fetch(i) for i in range(start, min(start + IN_FLIGHT, count)))
                )
        return [row for page in pages for row in page]

    return int(pa.Table.from_pylist(asyncio.run(main())).num_rows)


def read_aiohttp_page(base: str, records: int, latency: int) -> int:
    return read_aiohttp(base, records, latency, "page")


def read_aiohttp_cursor(base: str, records: int, latency: int) -> int:
    """The same loop for a cursor API: one page at a time, each naming the next."""
    import aiohttp

    async def main() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": PAGE, "total": records, "latency_ms": latency}
        async with aiohttp.ClientSession() as session:
            while True:
                async with session.get(f"{base}/cursor", params=params) as response:
                    response.raise_for_status()
                    body = orjson.loads(await response.read())
                rows.extend(body["items"])
                if body["next_cursor"] is None:
                    return rows
                params["cursor"] = body["next_cursor"]

    return int(pa.Table.from_pylist(asyncio.run(main())).num_rows)


def read_aiohttp_link(base: str, records: int, latency: int) -> int:
    """The same loop for an API with RFC 8288 ``Link`` headers, one page at a time."""
    import aiohttp

    async def main() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        url: Any = f"{base}/link?per_page={PAGE}&total={records}&latency_ms={latency}"
        async with aiohttp.ClientSession() as session:
            while url is not None:
                async with session.get(url) as response:
                    response.raise_for_status()
                    rows.extend(orjson.loads(await response.read()))
                    nxt = response.links.get("next")
                url = None if nxt is None else response.url.join(nxt["url"])
        return rows

    return int(pa.Table.from_pylist(asyncio.run(main())).num_rows)


def read_dlt(base: str, records: int, latency: int, style: str = "offset") -> int:
    from dlt.sources.helpers.rest_client import RESTClient
    from dlt.sources.helpers.rest_client.paginators import OffsetPaginator, PageNumberPaginator

    params: dict[str, Any] = {"total": records, "latency_ms": latency}
    if style == "page":
        # dlt's page-number paginator reads a page count: /pages reports it as total_pages.
        paginator: Any = PageNumberPaginator(base_page=1, total_path="total_pages")
        path, params["page_size"] = "/pages", PAGE
    else:
        paginator, path = OffsetPaginator(limit=PAGE, total_path="total"), "/items"
    client = RESTClient(base_url=base, paginator=paginator, data_selector="items")
    rows: list[dict[str, Any]] = []
    for page in client.paginate(path, params=params):
        rows.extend(page)
    return int(pa.Table.from_pylist(rows).num_rows)


def read_dlt_page(base: str, records: int, latency: int) -> int:
    return read_dlt(base, records, latency, "page")


def read_hiveframe_batches(base: str, records: int, latency: int) -> int:
    """Stream every record through iter_batches without keeping them (bounded memory)."""
    return sum(batch.num_rows for batch in _thousands(base, records, latency).iter_batches())


def read_hiveframe_whole(base: str, records: int, latency: int) -> int:
    """read() of the collection iter_batches streams (pages of 1,000), for their ratio."""
    return int(_thousands(base, records, latency).read().to_arrow().num_rows)


def _thousands(base: str, records: int, latency: int) -> Any:
    from hiveframe.connectors import HTTPSource, OffsetPagination

    return HTTPSource(
        f"{base}/items",
        page_size=1000,
        data_path="items",
        pagination=OffsetPagination(total_path="total"),
        params={"total": records, "latency_ms": latency},
    )


# -- writes: records delivered, as the server counts them --------------------------------------


def _write_table(records: int) -> pa.Table:
    from hiveframe.demo import make_record

    return pa.Table.from_pylist([make_record(i) for i in range(records)])


def _verified(base: str, records: int) -> int:
    import httpx

    stats = httpx.get(f"{base}/ingest/stats").json()
    if stats["distinct"] != records or stats["records"] != records:
        raise SystemExit(f"server received {stats}, expected {records} distinct records")
    return records


def write_hiveframe(base: str, records: int, latency: int) -> int:
    from hiveframe.connectors import HTTPSink

    table = _write_table(records)
    with _measured():
        HTTPSink(f"{base}/ingest?latency_ms={latency}", batch_size=PAGE).write(table)
    return _verified(base, records)


def write_requests(base: str, records: int, latency: int) -> int:
    import requests

    rows = _write_table(records).to_pylist()
    with _measured(), requests.Session() as session:
        for start in range(0, records, PAGE):
            session.post(
                f"{base}/ingest?latency_ms={latency}", json=rows[start : start + PAGE]
            ).raise_for_status()
    return _verified(base, records)


def write_httpx(base: str, records: int, latency: int) -> int:
    import httpx

    rows = _write_table(records).to_pylist()
    with _measured(), httpx.Client() as client:
        for start in range(0, records, PAGE):
            client.post(
                f"{base}/ingest?latency_ms={latency}", json=rows[start : start + PAGE]
            ).raise_for_status()
    return _verified(base, records)


def write_aiohttp(base: str, records: int, latency: int) -> int:
    """The hand-written loop, handed the records as dicts (the conversion is not timed)."""
    return _write_aiohttp(base, records, latency, convert_timed=False)


def write_aiohttp_table(base: str, records: int, latency: int) -> int:
    """The same loop starting from the Arrow table, as HiveFrame does: ``to_pylist()`` timed."""
    return _write_aiohttp(base, records, latency, convert_timed=True)


def _write_aiohttp(base: str, records: int, latency: int, *, convert_timed: bool) -> int:
    import aiohttp

    table = _write_table(records)
    rows = [] if convert_timed else table.to_pylist()

    async def main() -> None:
        connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def post(start: int) -> None:
                body = orjson.dumps(rows[start : start + PAGE])
                async with session.post(
                    f"{base}/ingest?latency_ms={latency}",
                    data=body,
                    headers={"Content-Type": "application/json"},
                ) as r:
                    r.raise_for_status()

            starts = list(range(0, records, PAGE))
            for i in range(0, len(starts), IN_FLIGHT):
                await asyncio.gather(*(post(s) for s in starts[i : i + IN_FLIGHT]))

    with _measured():
        if convert_timed:
            rows = table.to_pylist()
        asyncio.run(main())
    return _verified(base, records)


# -- SSE: events parsed to records -------------------------------------------------------------


def sse_hiveframe(base: str, records: int, latency: int) -> int:
    from hiveframe.connectors import HTTPSource

    source = HTTPSource(f"{base}/sse?n={records}", stream_type="sse", reconnect=None)

    async def consume() -> int:
        count = 0
        async with source.astream() as events:
            async for _event in events:
                count += 1
        return count

    return asyncio.run(consume())


def sse_hiveframe_sync(base: str, records: int, latency: int) -> int:
    from hiveframe.connectors import HTTPSource

    source = HTTPSource(f"{base}/sse?n={records}", stream_type="sse", reconnect=None)
    with source.stream() as events:
        return sum(1 for _event in events)


SSE_BATCH = 1000  # events per Arrow record batch in the micro-batch workload


async def _count_rows(batches: Any) -> int:
    count = 0
    async with batches:
        async for batch in batches:
            count += batch.num_rows
    return count


def sse_hiveframe_batches(base: str, records: int, latency: int) -> int:
    from hiveframe.connectors import HTTPSource

    source = HTTPSource(f"{base}/sse?n={records}", stream_type="sse", reconnect=None)
    return asyncio.run(_count_rows(source.astream_batches(SSE_BATCH)))


def sse_aiohttp(base: str, records: int, latency: int) -> int:
    """The hand-written loop: raw bytes split into events, orjson per data line, a
    RecordBatch per SSE_BATCH events."""
    import aiohttp

    async def main() -> int:
        count, rows, rest = 0, [], b""
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{base}/sse?n={records}") as response,
        ):
            async for chunk in response.content.iter_any():
                *events, rest = (rest + chunk).split(b"\n\n")
                for event in events:
                    for line in event.split(b"\n"):
                        if line.startswith(b"data: "):
                            rows.append(orjson.loads(line[6:]))
                    if len(rows) == SSE_BATCH:
                        count += pa.RecordBatch.from_pylist(rows).num_rows
                        rows = []
        if rows:
            count += pa.RecordBatch.from_pylist(rows).num_rows
        return count

    return asyncio.run(main())


def sse_httpx_sse(base: str, records: int, latency: int) -> int:
    import httpx
    from httpx_sse import connect_sse

    count = 0
    with (
        httpx.Client(timeout=None) as client,
        connect_sse(client, "GET", f"{base}/sse?n={records}") as source,
    ):
        for event in source.iter_sse():
            orjson.loads(event.data)
            count += 1
    return count


def sse_sseclient(base: str, records: int, latency: int) -> int:
    import requests
    import sseclient

    count = 0
    response = requests.get(
        f"{base}/sse?n={records}", stream=True, headers={"Accept": "text/event-stream"}
    )
    for event in sseclient.SSEClient(response).events():
        orjson.loads(event.data)
        count += 1
    return count


# -- polling: polls/s of a feed with one new record per poll ----------------------------------


def poll_hiveframe(base: str, records: int, latency: int) -> int:
    from hiveframe.connectors import HTTPSource

    source = HTTPSource(
        f"{base}/poll", poll_interval_seconds=1e-6, since_param="since", since_field="id"
    )
    with source.stream() as feed:
        return sum(1 for _record in itertools.islice(feed, records))


def poll_requests(base: str, records: int, latency: int) -> int:
    import requests

    since, count = 0, 0
    with requests.Session() as session:
        while count < records:
            response = session.get(f"{base}/poll", params={"since": since})
            response.raise_for_status()
            for record in response.json():
                since = max(since, record["id"])
                count += 1
    return count


# -- harness -----------------------------------------------------------------------------------

_MEASURED: dict[str, float] = {}


@contextmanager
def _measured() -> Iterator[None]:
    """Measure only the delivery in write workloads, not building the input table: wall
    seconds, and the client's CPU seconds (every thread of the process)."""
    started, cpu = time.perf_counter(), time.process_time()
    yield
    _MEASURED["seconds"] = time.perf_counter() - started
    _MEASURED["cpu_seconds"] = time.process_time() - cpu


# Each client's libraries are imported before the clock starts: start-up is measured apart.
_IMPORTS = {
    # hiveframe.connectors loads its names on first use: the modules a read, a write or a
    # stream loads are imported here, as aiohttp is for the aiohttp loop.
    "hiveframe": [
        "hiveframe.connectors",
        "hiveframe.connectors._source",
        "hiveframe.connectors._sink",
        "hiveframe._http.reader",
        "hiveframe._http.transport",
        "anyio._backends._asyncio",
    ],
    "requests": ["requests"],
    "httpx": ["httpx"],
    "aiohttp": ["aiohttp"],
    "dlt": ["dlt.sources.helpers.rest_client"],
    "httpx_sse": ["httpx", "httpx_sse"],
    "sseclient": ["requests", "sseclient"],
}


def main() -> None:
    workload, client, base = sys.argv[1:4]
    records = int(sys.argv[4]) if len(sys.argv) > 4 else 100_000
    latency = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    fn: Callable[[str, int, int], int] = globals()[f"{workload}_{client}"]
    for module in _IMPORTS.get(client.split("_")[0] if client != "httpx_sse" else client, []):
        importlib.import_module(module)
    started, cpu = time.perf_counter(), time.process_time()
    count = fn(base, records, latency)
    seconds = _MEASURED.get("seconds", time.perf_counter() - started)
    cpu_seconds = _MEASURED.get("cpu_seconds", time.process_time() - cpu)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "records": count,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "peak_rss_mb": peak_kb / 1024,
    }
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
