"""A read keeps to the quota the server advertises in its headers, over real loopback HTTP.

The strict server counts requests in fixed windows on the real clock and answers 429 to any
request beyond its budget; a read with eight pages in flight must never get one. The wait
cap is shown on the fake clock: a quota that resets in hours fails the read at once.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter

import orjson
import pytest

from hiveframe.connectors import HTTPSource, OffsetPagination
from hiveframe.demo import Reply, Request
from hiveframe.errors import RateLimitWaitTooLong
from hiveframe.resilience import RateLimiter

JSON = {"Content-Type": "application/json"}


class StrictQuota:
    """``budget`` requests per ``window`` seconds (fixed windows from the first request),
    advertised as ``RateLimit``/``RateLimit-Policy``; a 429 for every request beyond it."""

    def __init__(self, records: int, *, budget: int, window: float) -> None:
        self.records = [{"id": i} for i in range(1, records + 1)]
        self.budget = budget
        self.window = window
        self.per_window: Counter[int] = Counter()
        self.rejected = 0
        self._origin: float | None = None
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        now = time.monotonic()
        with self._lock:
            if self._origin is None:
                self._origin = now
            index = int((now - self._origin) // self.window)
            self.per_window[index] += 1
            used = self.per_window[index]
            refused = used > self.budget
            self.rejected += refused
        end = self._origin + (index + 1) * self.window
        headers = {
            **JSON,
            "RateLimit-Policy": f'"default";q={self.budget};w={self.window:g}',
            "RateLimit": f'"default";r={max(0, self.budget - used)};t={math.ceil(end - now)}',
        }
        if refused:
            return Reply(429, headers, b'{"error": "quota exceeded"}')
        offset, limit = int(request.query["offset"]), int(request.query["limit"])
        page = {"items": self.records[offset : offset + limit], "total": len(self.records)}
        return Reply(200, headers, orjson.dumps(page))


def test_eight_pages_in_flight_stay_within_the_advertised_quota(serve):
    quota = StrictQuota(200, budget=12, window=2)
    server = serve({"/items": quota})
    df = HTTPSource(
        server.url("/items"),
        pagination=OffsetPagination(total_path="total", page_size=10),
        data_path="items",
        concurrency=8,
        retry=None,  # a single 429 would fail the read
    ).read()

    assert df.to_arrow().column("id").to_pylist() == list(range(1, 201))
    assert quota.rejected == 0
    assert len(server.requests) == 20  # the total is reported: no page past it is asked for
    # 20 requests, 12 a window: the read waits for one reset, and does not crawl
    assert 2 <= len(quota.per_window) <= 3


def test_a_quota_that_resets_in_hours_fails_at_once_instead_of_sleeping(serve, clock):
    def used_up(request: Request) -> Reply:
        reset = int(clock.time()) + 3 * 3600  # GitHub style: a Unix time
        headers = {**JSON, "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
        offset = int(request.query["offset"])
        return Reply(200, headers, orjson.dumps([{"id": offset + i} for i in range(10)]))

    server = serve({"/c": used_up})
    source = HTTPSource(server.url("/c"), pagination="offset", page_size=10, clock=clock)
    with pytest.raises(RateLimitWaitTooLong) as info:
        source.read()

    assert len(server.requests) == 1
    assert clock.sleeps == []
    error = info.value
    assert error.seconds == pytest.approx(3 * 3600, abs=1) and error.limit == 300
    assert error.page == 1 and error.url is not None and "offset=10" in error.url
    assert "max_wait_seconds=300" in str(error)


def test_a_longer_max_wait_waits_for_the_reset(serve, clock):
    def used_up_until_reset(request: Request) -> Reply:
        offset = int(request.query["offset"])
        headers = dict(JSON)
        if offset == 0:  # delta-seconds this time
            headers |= {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "900"}
        size = 10 if offset == 0 else 5
        return Reply(200, headers, orjson.dumps([{"id": offset + i} for i in range(size)]))

    server = serve({"/c": used_up_until_reset})
    limiter = RateLimiter(clock=clock.monotonic, max_wait_seconds=3600)
    source = HTTPSource(
        server.url("/c"), pagination="offset", page_size=10, clock=clock, rate_limit=limiter
    )
    assert source.read().count() == 15
    assert clock.sleeps == [900.0]
    assert len(server.requests) == 2
