"""An ingest endpoint that misbehaves on command, over real loopback HTTP, for sink tests.

A batch is known by the ``id`` of its first record, which stays the same across retries.
``script[first_id]`` lists the faults for that batch, one per attempt; once the list is used
up the batch is stored normally (by the wrapped :class:`~hiveframe.demo._ingest.IngestAPI`,
which honours ``Idempotency-Key``). Faults:

- ``503``, ``429``, ``422``, ... : that status (``retry_after`` adds a Retry-After header)
- ``"drop"``     : read the request, then drop the connection before any reply
- ``"reset"``    : send the headers of a 200, then reset the connection
- ``"lost_ack"`` : store the batch, then drop the connection: the client never hears back

The wrapper also records, per batch, the key of every attempt, the order batches arrive in,
and how many requests were being handled at once (``max_concurrent``).
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from typing import Any

import orjson

from hiveframe.demo import ABORT, Reply, Request
from hiveframe.demo._ingest import IngestAPI

JSON = {"Content-Type": "application/json"}


def first_id(request: Request) -> int:
    document = orjson.loads(request.body)
    records = document if isinstance(document, list) else next(iter(document.values()))
    return int(records[0]["id"])


class FaultyIngest:
    def __init__(
        self,
        ingest: IngestAPI | None = None,
        script: dict[int, list[Any]] | None = None,
        *,
        retry_after: str | None = None,
        max_delay_seconds: float = 0.0,
        seed: int = 7,
        rendezvous: int = 0,
    ) -> None:
        self.ingest = ingest if ingest is not None else IngestAPI()
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.retry_after = retry_after
        self.max_delay_seconds = max_delay_seconds
        self.attempts: dict[int, int] = defaultdict(int)
        self.keys: dict[int, list[str | None]] = defaultdict(list)
        self.arrivals: list[int] = []
        self.concurrent = 0
        self.max_concurrent = 0
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        # The first ``rendezvous`` requests wait for one another: they can only all get
        # through if the client has them in flight together (no timing involved).
        self._barrier = threading.Barrier(rendezvous, timeout=10) if rendezvous > 1 else None
        self._waiting = rendezvous

    def routes(self) -> dict[str, Any]:
        return {"/ingest": self}

    def __call__(self, request: Request) -> Reply:
        batch = first_id(request)
        with self._lock:
            attempt = self.attempts[batch]
            self.attempts[batch] += 1
            self.keys[batch].append(request.header("idempotency-key"))
            self.arrivals.append(batch)
            faults = self.script.get(batch, [])
            fault = faults[attempt] if attempt < len(faults) else None
            self.concurrent += 1
            self.max_concurrent = max(self.max_concurrent, self.concurrent)
            delay = self._random.uniform(0, self.max_delay_seconds)
            meet, self._waiting = self._waiting > 0 and self._barrier is not None, self._waiting - 1
        try:
            if meet:
                assert self._barrier is not None
                self._barrier.wait()
            if delay:
                time.sleep(delay)
            return self._reply(fault, request)
        finally:
            with self._lock:
                self.concurrent -= 1

    def _reply(self, fault: Any, request: Request) -> Reply:
        if fault is None:
            return self.ingest.handle(request)
        if isinstance(fault, int):
            headers = {**JSON, "Retry-After": self.retry_after} if self.retry_after else dict(JSON)
            return Reply(fault, headers, b'{"error": "injected fault"}')
        if fault == "drop":
            return Reply(body=ABORT)
        if fault == "reset":
            return Reply(200, {**JSON, "Content-Length": "100"}, iter([ABORT]))
        if fault == "lost_ack":
            self.ingest.handle(request)
            return Reply(body=ABORT)
        raise ValueError(fault)
