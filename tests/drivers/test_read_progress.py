"""``ReadProgress``: what a progress display reads as a read goes, page by page, over loopback."""

from __future__ import annotations

from typing import Any

import anyio
import orjson

from hiveframe._http.clock import SYSTEM_CLOCK
from hiveframe._http.reader import PageReader, ReadPlan, ReadProgress
from hiveframe._http.session import Session, SessionConfig
from hiveframe._protocol.data_path import DataPath
from hiveframe._protocol.pagination import OffsetPagination, PagePagination, PaginationConfig
from hiveframe._protocol.paginators import start_paginator
from hiveframe.demo import Reply
from hiveframe.resilience import RateLimiter, RetryConfig

RECORDS = [{"id": i} for i in range(25)]


def collection(failures: dict[str, list[int]] | None = None):
    """Offset or page-number pages of RECORDS at ``items``, with ``total``; a page's list in
    ``failures`` holds statuses it answers first."""
    waiting = {key: list(statuses) for key, statuses in (failures or {}).items()}

    def handler(request):
        size = int(request.query.get("limit") or request.query["page_size"])
        start = (
            int(request.query["offset"])
            if "offset" in request.query
            else ((int(request.query["page"]) - 1) * size)
        )
        statuses = waiting.get(str(start), [])
        if statuses:
            return Reply(statuses.pop(0), {}, b"busy")
        document = {"items": RECORDS[start : start + size], "total": len(RECORDS)}
        return Reply(200, {"Content-Type": "application/json"}, orjson.dumps(document))

    return handler


def follow(url: str, pagination: PaginationConfig, clock=SYSTEM_CLOCK, **config: Any):
    """Read every page; the progress, and a snapshot of it as each page was handed out."""
    plan = ReadPlan(url=url, pagination=pagination, data_path=DataPath("items"), concurrency=1)
    progress, seen = ReadProgress(), []

    async def read() -> None:
        session = Session(SessionConfig(**config), auth=None, credential_url=url, clock=clock)
        async with session:
            reader = PageReader(plan, session, progress)
            async for table in reader.pages(start_paginator(pagination)):
                seen.append((table.num_rows, progress.pages, progress.records))
                assert progress.expected_records == len(RECORDS)  # from the first page on

    anyio.run(read)
    return progress, seen


def test_offset_pages_are_counted_before_their_records_are_handed_out(serve):
    server = serve({"/items": collection()})
    progress, seen = follow(
        server.url("/items"), OffsetPagination(page_size=10, total_path="total")
    )
    assert seen == [(10, 1, 10), (10, 2, 20), (5, 3, 25)]
    assert (progress.requests, progress.retries, progress.rate_limit_waits) == (3, 0, 0)


def test_page_numbers_report_the_total_records_too(serve):
    server = serve({"/items": collection()})
    pagination = PagePagination(page_size=10, total_path="total")
    progress, seen = follow(server.url("/items"), pagination)
    assert [snapshot[2] for snapshot in seen] == [10, 20, 25]
    assert progress.pages == 3


def test_retries_and_rate_limit_waits_are_counted(serve, clock):
    server = serve({"/items": collection({"10": [503, 503]})})
    pagination = OffsetPagination(page_size=10, total_path="total")
    progress, _ = follow(
        server.url("/items"),
        pagination,
        clock=clock,
        retry=RetryConfig(jitter=False),
        rate_limiter=RateLimiter(10, clock=clock.monotonic),
    )
    assert (progress.requests, progress.retries) == (5, 2)
    # page 1's first attempt and page 2 come 0 s after a request; the backoff spaces retries
    assert progress.rate_limit_waits == 2
