"""A paginated collection that injects faults on command, served over real loopback HTTP.

``script[offset]`` lists the faults for the page at that offset, one per attempt; once the
list is used up the page is served normally. Faults:

- ``503``, ``429``, ... : that status (``retry_after`` adds a Retry-After header)
- ``"reset"``     : headers and half the body, then a TCP reset
- ``"short"``     : Content-Length larger than the body, then a TCP reset
- ``"short_fin"`` : Content-Length of the whole page, but only the page without its last
  record (itself valid JSON), then a clean close (FIN, not a reset): a client that took
  it for the page would lose a record
- ``"chunked_reset"`` : a chunked body cut after half the page by a TCP reset
- ``"stall"``     : sleeps ``stall_seconds`` before answering
- ``"truncated"`` : 200 with a syntactically cut JSON body (length consistent)
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

import orjson

from hiveframe.demo import ABORT, Reply, Request

JSON = {"Content-Type": "application/json"}


class FaultyCollection:
    def __init__(
        self,
        size: int,
        script: dict[int, list[Any]] | None = None,
        *,
        retry_after: str | None = None,
        stall_seconds: float = 1.0,
    ) -> None:
        self.records = [{"id": i + 1, "payload": f"record-{i + 1}"} for i in range(size)]
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.retry_after = retry_after
        self.stall_seconds = stall_seconds
        self.attempts: dict[int, int] = defaultdict(int)
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        offset = int(request.query.get("offset", 0))
        limit = int(request.query.get("limit", 10))
        with self._lock:
            attempt = self.attempts[offset]
            self.attempts[offset] += 1
            faults = self.script.get(offset, [])
            fault = faults[attempt] if attempt < len(faults) else None
        body = orjson.dumps(self.records[offset : offset + limit])
        return self._reply(fault, body)

    def _reply(self, fault: Any, body: bytes) -> Reply:
        if fault is None:
            return Reply(200, dict(JSON), body)
        if isinstance(fault, int):
            headers = {**JSON, "Retry-After": self.retry_after} if self.retry_after else dict(JSON)
            return Reply(fault, headers, b'{"error": "injected fault"}')
        if fault == "reset":
            return Reply(
                200,
                {**JSON, "Content-Length": str(len(body))},
                iter([body[: len(body) // 2], ABORT]),
            )
        if fault == "short":
            return Reply(200, {**JSON, "Content-Length": str(len(body) + 500)}, iter([body, ABORT]))
        if fault == "short_fin":
            records = orjson.loads(body)
            assert len(records) > 1, "short_fin needs a page of two records or more"
            cut = orjson.dumps(records[:-1])
            # "Connection: close" makes the server close the socket after the reply: a FIN.
            headers = {**JSON, "Content-Length": str(len(body)), "Connection": "close"}
            return Reply(200, headers, iter([cut]))
        if fault == "drop":
            return Reply(200, dict(JSON), ABORT)
        if fault == "chunked_reset":
            return Reply(200, dict(JSON), iter([body[: len(body) // 2], ABORT]))
        if fault == "stall":
            time.sleep(self.stall_seconds)
            return Reply(200, dict(JSON), body)
        if fault == "truncated":
            return Reply(200, dict(JSON), body[: len(body) // 2])
        raise ValueError(fault)
