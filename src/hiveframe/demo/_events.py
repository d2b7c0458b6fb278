"""The demo API's event endpoints: one growing event log, polled or streamed.

- ``GET /events``: the log as a pollable collection. A bare JSON array of the events with
  ``id > since`` (``since=``, default 0), from ``offset=`` on, at most ``limit=`` (100). It
  answers ``ETag`` and ``Last-Modified``, and ``304 Not Modified`` to a matching
  ``If-None-Match`` (or, without one, a recent enough ``If-Modified-Since``).
- ``GET /stream``: the same log as Server-Sent Events (``text/event-stream``). Each event is
  ``id: <n>``, ``event: <type>``, ``data: <JSON record>``; the stream opens with
  ``retry: <ms>``, resumes after the ``Last-Event-ID`` it is sent, and writes a ``:``
  comment when nothing happened for ``heartbeat_seconds``.

New events appear every ``every_seconds`` (none when ``None``) and on :meth:`append`. Knobs
for tests make the stream misbehave the way real ones do: drop the connection every *K*
events (a TCP reset or a clean close, optionally after half an event), and
:meth:`disconnect` drops every open stream, as a server restart would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import orjson

from hiveframe.demo._api import _int
from hiveframe.demo._server import ABORT, Handler, Reply, Request

_EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)
_TYPES = ("order.created", "order.paid", "order.shipped", "order.refunded")
_JSON = {"Content-Type": "application/json"}
_MAX_LIMIT = 1000


def make_event(n: int) -> dict[str, Any]:
    """The log's event number ``n`` (ids start at 1)."""
    return {
        "id": n,
        "type": _TYPES[n % len(_TYPES)],
        "order": f"order-{(n * 7919) % 10_000:04d}",
        "amount": round(5 + (n * 37 % 10_000) / 100, 2),
        "created_at": _created(n).isoformat().replace("+00:00", "Z"),
    }


def _created(n: int) -> datetime:
    return _EPOCH + timedelta(seconds=n)


class EventsAPI:
    """An event log served at ``/events`` (polling) and ``/stream`` (SSE); thread-safe.

    Parameters
    ----------
    initial
        Events in the log at start.
    every_seconds
        A new event every this many seconds of real time; ``None`` grows only by
        :meth:`append`.
    retry_ms
        The ``retry:`` sent at the start of each stream.
    heartbeat_seconds
        Idle time after which the stream writes a comment line.
    drop_every
        Drop each stream connection after this many events.
    drop
        ``"abort"`` (a TCP reset) or ``"close"`` (the response ends cleanly).
    partial_on_drop
        Before dropping, send the first half of the next event (never dispatched).

    Attributes
    ----------
    not_modified
        Polls answered ``304 Not Modified``.

    Example
    -------
    >>> from hiveframe.demo import LoopbackServer
    >>> events = EventsAPI(initial=5, every_seconds=None)
    >>> with LoopbackServer(events.routes()) as server:
    ...     url = server.url("/stream")
    """

    def __init__(
        self,
        *,
        initial: int = 20,
        every_seconds: float | None = 0.2,
        retry_ms: int = 1000,
        heartbeat_seconds: float = 15.0,
        drop_every: int | None = None,
        drop: str = "abort",
        partial_on_drop: bool = False,
    ) -> None:
        self.initial = initial
        self.every_seconds = every_seconds
        self.retry_ms = retry_ms
        self.heartbeat_seconds = heartbeat_seconds
        self.drop_every = drop_every
        self.drop = drop
        self.partial_on_drop = partial_on_drop
        self.not_modified = 0
        self._appended = 0
        self._generation = 0
        self._started = time.monotonic()
        self._changed = threading.Condition()

    def routes(self) -> dict[str, Handler]:
        return {"/events": self.poll, "/stream": self.stream}

    # -- the log ---------------------------------------------------------------------------

    @property
    def count(self) -> int:
        """Events in the log now."""
        with self._changed:
            return self._count()

    def append(self, n: int = 1) -> None:
        """Add ``n`` events to the log."""
        with self._changed:
            self._appended += n
            self._changed.notify_all()

    def disconnect(self) -> None:
        """Drop every open stream (each gets a TCP reset), as a server restart would."""
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def _count(self) -> int:
        grown = 0
        if self.every_seconds is not None:
            grown = int((time.monotonic() - self._started) / self.every_seconds)
        return self.initial + self._appended + grown

    def _wait(self, generation: int, after: int, timeout: float) -> None:
        # Wait until an event after ``after`` exists, a disconnect, or ``timeout``.
        if self.every_seconds is not None:
            due = self._started + (after + 1 - self.initial - self._appended) * self.every_seconds
            timeout = min(timeout, max(due - time.monotonic(), 0.001))
        self._changed.wait_for(
            lambda: self._generation != generation or self._count() > after, timeout
        )

    # -- polling ---------------------------------------------------------------------------

    def poll(self, request: Request) -> Reply:
        """``GET /events``: events after ``since``, with validators and 304s."""
        try:
            since, offset = _int(request, "since", 0), _int(request, "offset", 0)
            limit = min(_int(request, "limit", 100, low=1), _MAX_LIMIT)
        except ValueError:
            return Reply(400, dict(_JSON), b'{"error": "since, offset and limit are integers"}')
        first = since + offset + 1
        last = min(self.count, first + limit - 1)
        etag = f'"{since}.{offset}.{limit}.{last}"'
        modified = format_datetime(_created(max(last, 0)), usegmt=True)
        headers = {**_JSON, "ETag": etag, "Last-Modified": modified, "Cache-Control": "no-cache"}
        if _not_modified(request, etag, last):
            with self._changed:
                self.not_modified += 1
            return Reply(304, {"ETag": etag, "Last-Modified": modified})
        events = [make_event(n) for n in range(first, last + 1)]
        return Reply(200, headers, orjson.dumps(events))

    # -- server-sent events ----------------------------------------------------------------

    def stream(self, request: Request) -> Reply:
        """``GET /stream``: the log as Server-Sent Events, from after ``Last-Event-ID``."""
        last_id = request.header("last-event-id") or ""
        after = int(last_id) if last_id.isdigit() else 0
        headers = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        return Reply(200, headers, self._feed(after))

    def _feed(self, after: int) -> Iterator[bytes]:
        with self._changed:
            generation = self._generation
        yield f"retry: {self.retry_ms}\n\n".encode()
        sent = 0
        while True:
            with self._changed:
                if self._generation != generation:
                    yield ABORT
                    return
                if self._count() <= after:
                    self._wait(generation, after, self.heartbeat_seconds)
                    ready = self._count() > after and self._generation == generation
                else:
                    ready = True
            if not ready:
                yield b": heartbeat\n\n"
                continue
            after += 1
            sent += 1
            yield _sse_event(after)
            if self.drop_every is not None and sent % self.drop_every == 0:
                yield from self._drop(after + 1)
                return

    def _drop(self, upcoming: int) -> Iterator[bytes]:
        if self.partial_on_drop:
            yield _sse_event(upcoming)[:-2]  # the event without its final blank line
        if self.drop == "abort":
            yield ABORT


def _sse_event(n: int) -> bytes:
    event = make_event(n)
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (n, event["type"].encode(), orjson.dumps(event))


def _not_modified(request: Request, etag: str, last: int) -> bool:
    match = request.header("if-none-match")
    if match is not None:
        return any(tag.strip() in (etag, "*") for tag in match.split(","))
    since = request.header("if-modified-since")
    if since is None:
        return False
    try:
        return _created(last) <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
