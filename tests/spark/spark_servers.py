"""Loopback endpoints for the Spark tests, recording what the executors sent."""

from __future__ import annotations

import threading
import time
from typing import Any

import orjson

from hiveframe.demo import Reply, Request
from hiveframe.demo._api import DemoAPI


class OffsetPages:
    """The demo's ``{"items": [...], "total": N}`` offset endpoint, counting what it serves.

    Counts requests in flight. With ``meet=n``, the n requests after the first (the
    driver's) wait for one another: they get through only if n requests are in flight at
    once (no timing involved): n partitions fetching at once with ``concurrency=1``, or one
    partition fetching n pages at once.
    """

    def __init__(self, size: int, *, token: str | None = None, meet: int = 0) -> None:
        self.api = DemoAPI(size, lambda: "")
        self.token = token
        self.offsets: list[int] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._meet = meet
        self._barrier = threading.Barrier(meet, timeout=60) if meet > 1 else None

    def __call__(self, request: Request) -> Reply:
        if self.token is not None and request.header("authorization") != f"Bearer {self.token}":
            return Reply(401, {"Content-Type": "application/json"}, b'{"error": "no"}')
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.offsets.append(int(request.query.get("offset", "0")))
            barrier = self._barrier if 2 <= len(self.offsets) <= self._meet + 1 else None
        try:
            if barrier is not None:
                barrier.wait()
            return self.api.offset_envelope(request)
        finally:
            with self._lock:
                self.in_flight -= 1


class IdempotentIngest:
    """A POST endpoint that stores each batch once per ``Idempotency-Key``.

    ``reject_first`` answers 400 the first time it sees a batch holding that record id, so a
    Spark task fails (no dead letter) and Spark runs it again.
    """

    def __init__(self, *, reject_first: int | None = None) -> None:
        self.reject_first = reject_first
        self.stored: list[dict[str, Any]] = []
        self.keys_sent: list[str] = []
        self.rejected_keys: list[str] = []
        self._accepted: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        key = request.header("idempotency-key") or ""
        records = orjson.loads(request.body)
        with self._lock:
            self.keys_sent.append(key)
            ids = {r["id"] for r in records}
            if self.reject_first in ids and not self.rejected_keys:
                self.rejected_keys.append(key)
                return Reply(400, {"Content-Type": "application/json"}, b'{"error": "once"}')
            if key not in self._accepted:
                self._accepted.add(key)
                self.stored.extend(records)
        return Reply(200, {"Content-Type": "application/json"}, b'{"ok": true}')

    @property
    def stored_ids(self) -> list[int]:
        with self._lock:
            return [r["id"] for r in self.stored]


class SparkIngest:
    """A POST endpoint storing JSON-array batches, with one fault for the batch holding an id.

    Parameters
    ----------
    honour_keys
        Store a batch once per ``Idempotency-Key``; False stores every request (a plain
        server that ignores keys).
    fault
        What the batch holding ``fault_id`` gets: ``"refuse_once"`` (400 the first time,
        nothing stored), ``"commit_then_500"`` (stored, then 500, the first time: a lost
        acknowledgment) or ``"refuse"`` (400 every time).
    hold_until
        Answer the fault only once every one of these ids is stored (so that the other
        partitions' tasks have finished their requests first).
    """

    def __init__(
        self,
        *,
        honour_keys: bool,
        fault: str | None = None,
        fault_id: int | None = None,
        hold_until: set[int] | None = None,
    ) -> None:
        self.honour_keys = honour_keys
        self.fault = fault
        self.fault_id = fault_id
        self.hold_until = hold_until or set()
        self.stored: list[dict[str, Any]] = []
        self.keys_sent: list[str] = []
        self.fault_records: list[int] = []  # ids of the faulted batch, the first time
        self._keys: set[str] = set()
        self._changed = threading.Condition()

    def __call__(self, request: Request) -> Reply:
        key = request.header("idempotency-key") or ""
        records = orjson.loads(request.body)
        ids = [r["id"] for r in records]
        with self._changed:
            self.keys_sent.append(key)
            faulted = self.fault_id in ids and (self.fault == "refuse" or not self.fault_records)
            if faulted:
                self.fault_records = ids
                held = self._changed.wait_for(self._others_stored, timeout=60)
                assert held, "the other partitions' records never arrived"
            if faulted and self.fault != "commit_then_500":
                return Reply(400, {"Content-Type": "application/json"}, b'{"error": "no"}')
            if not (self.honour_keys and key in self._keys):
                self._keys.add(key)
                self.stored.extend(records)
                self._changed.notify_all()
        if faulted:
            return Reply(500, {"Content-Type": "application/json"}, b'{"error": "lost"}')
        return Reply(200, {"Content-Type": "application/json"}, b'{"ok": true}')

    def _others_stored(self) -> bool:
        return self.hold_until <= {r["id"] for r in self.stored}


class TimedPages:
    """The demo's offset endpoint, noting when each request arrived (monotonic seconds).

    With ``throttle``: the first request for that offset is answered ``429`` with
    ``Retry-After: 1``, once ``running`` requests below offset ``boundary`` have arrived (so
    that the task reading the other range is at work by then, whatever the timing).
    """

    def __init__(
        self, size: int, *, throttle: int | None = None, boundary: int = 0, running: int = 0
    ) -> None:
        self.api = DemoAPI(size, lambda: "")
        self.arrivals: list[tuple[float, int]] = []  # (arrival, offset)
        self.throttled_at: float | None = None
        self._throttle = throttle
        self._boundary = boundary
        self._running = running
        self._changed = threading.Condition()

    def __call__(self, request: Request) -> Reply:
        offset = int(request.query.get("offset", "0"))
        with self._changed:
            self.arrivals.append((time.monotonic(), offset))
            self._changed.notify_all()
            if offset == self._throttle and self.throttled_at is None:
                assert self._changed.wait_for(self._other_range_running, timeout=60)
                self.throttled_at = time.monotonic()
                headers = {"Content-Type": "application/json", "Retry-After": "1"}
                return Reply(429, headers, b'{"error": "slow down"}')
        return self.api.offset_envelope(request)

    def _other_range_running(self) -> bool:
        below = sum(1 for _, offset in self.arrivals if offset < self._boundary)
        return below >= self._running

    def offsets(self) -> list[int]:
        with self._changed:
            return sorted(offset for _, offset in self.arrivals)


class MonthlyCursor:
    """A cursor API whose only way to split a read is a filter: ``?month=2024-01``.

    Each month holds ``per_month`` records (ids run on across months); ``cursor`` pages
    through one month, ``limit`` records at a time (10 by default).
    """

    MONTHS = ("2024-01", "2024-02", "2024-03")

    def __init__(self, per_month: int) -> None:
        self.records = {
            month: [
                {"id": m * per_month + i + 1, "month": month, "name": f"item-{m}-{i}"}
                for i in range(per_month)
            ]
            for m, month in enumerate(self.MONTHS)
        }
        self.requests: list[tuple[str, int]] = []  # (month, cursor)
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        month = request.query["month"]
        cursor = int(request.query.get("cursor") or 0)
        limit = int(request.query.get("limit", "10"))
        with self._lock:
            self.requests.append((month, cursor))
        rows = self.records[month][cursor : cursor + limit]
        more = cursor + limit < len(self.records[month])
        document = {"data": rows, "next_cursor": str(cursor + limit) if more else None}
        return Reply(200, {"Content-Type": "application/json"}, orjson.dumps(document))


class TimedIngest:
    """A POST endpoint storing JSON-array batches, noting when each request arrived."""

    def __init__(self) -> None:
        self.stored: list[dict[str, Any]] = []
        self.arrivals: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        records = orjson.loads(request.body)
        with self._lock:
            self.arrivals.append(time.monotonic())
            self.stored.extend(records)
        return Reply(200, {"Content-Type": "application/json"}, b'{"ok": true}')
