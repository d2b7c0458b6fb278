"""The Server-Sent Events driver: connect, decode, reconnect with ``Last-Event-ID``.

It feeds the sans-I/O :class:`~hiveframe._protocol.sse.SSEDecoder` with the body of one
:meth:`Session.stream <hiveframe._http.session.Session.stream>` after another and asks
:mod:`hiveframe._protocol.reconnect` what each response head means and how long to wait
before the next connection. It follows WHATWG HTML §9.2.3 with the documented divergences
of RELIABILITY.md §4.2 (retriable statuses retried under ``RetryConfig`` unless strict).

Each event is a :class:`~hiveframe._protocol.units.Unit`: its records (``data`` decoded as
JSON, or as text) and the position after it, ``{"kind": "sse", "last_event_id": ...,
"retry_ms": ...}``. Resuming from a position sends its id as ``Last-Event-ID``, so a server
that honours it replays nothing that was delivered.

The events of one network read travel together as an :class:`EventGroup`: the records of all
of them in one list, decoded together, and the ids and retry times as columns. A unit, and
its position dict, is made only when a consumer asks for it; :meth:`EventGroup.position_after`
gives the exact position after any record of the read from the columns, so a consumer that
hands out records one by one (``source.stream()``) pays nothing per event for positions.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, aclosing
from typing import Any, Literal

from hiveframe._http.clock import Clock
from hiveframe._http.reader import ReadPlan
from hiveframe._http.record_stream import UnitGroup
from hiveframe._http.session import EXCERPT_BYTES, Session
from hiveframe._http.streamed import StreamedResponse
from hiveframe._protocol.decode import json_documents, json_records
from hiveframe._protocol.reconnect import ReconnectState, SSEStream, Verdict, judge_response
from hiveframe._protocol.sse import EventBatch, SSEDecoder
from hiveframe._protocol.units import Resume, SourceStats, Unit
from hiveframe.errors import (
    AuthenticationError,
    CircuitOpenError,
    ConfigError,
    HTTPError,
    HTTPStatusError,
    RetryExhausted,
    SSEProtocolError,
    SSEStreamClosedByServer,
    TransportError,
)

logger = logging.getLogger("hiveframe.sse")

KIND: Literal["sse"] = "sse"


class EventGroup(UnitGroup):
    """The events of one network read: their records in one list, decoded when first asked
    for, ids and retry times as columns, a unit (and its position) made only when asked for.

    Parameters
    ----------
    batch
        The events, as the decoder gave them.
    decode
        Gives the events' records and ``ends`` (see
        :class:`~hiveframe._http.record_stream.UnitGroup`).
    objects
        Whether each event's record is its data read as one JSON object, if it is one
        (JSON data, no ``data_path``, no metadata added): then the data are :attr:`texts`.

    Examples
    --------
    >>> batch = EventBatch(['{"a":1}', '{"a":2}'], ["message"] * 2, ["1", "2"], [None, None])
    >>> group = EventGroup(batch, lambda b: ([{"a": 1}, {"a": 2}], None), objects=True)
    >>> group[1]
    Unit(records=[{'a': 2}], position={'kind': 'sse', 'last_event_id': '2', 'retry_ms': None})
    >>> group.position_after(1, None)
    {'kind': 'sse', 'last_event_id': '1', 'retry_ms': None}
    """

    __slots__ = ("_batch", "_decode_batch", "ids", "retries")

    def __init__(
        self,
        batch: EventBatch,
        decode: Callable[[EventBatch], tuple[list[Any], list[int] | None]],
        *,
        objects: bool,
    ) -> None:
        super().__init__(None, None, KIND)
        self._batch = batch
        self._decode_batch = decode
        self.ids = batch.id
        self.retries = batch.retry
        if objects:
            self.texts = batch.data

    def _decode(self) -> tuple[list[Any], list[int] | None]:
        return self._decode_batch(self._batch)

    def slices(self, size: int) -> Iterator[UnitGroup]:
        if self.decoded or len(self) <= size:
            yield self
            return
        objects = self.texts is not None
        for part in self._batch.parts(size):  # each made when asked for, dropped after use
            yield EventGroup(part, self._decode_batch, objects=objects)

    def __len__(self) -> int:
        return len(self.ids)

    def unit_position(self, index: int) -> dict[str, Any]:
        return {"kind": KIND, "last_event_id": self.ids[index], "retry_ms": self.retries[index]}


class SSEReader:
    """Reads one event stream for as long as its consumer wants, across reconnections.

    Parameters
    ----------
    plan
        The source's URL, parameters, headers and ``data_path``.
    config
        The SSE options.
    session
        The session to read through, not yet open: the reader opens it for as long as it
        runs. The source builds it with the idle timeout as its read timeout.
    clock
        Where reconnect waits sleep.
    stats
        Counters updated as connections open, drop and reconnect.
    """

    def __init__(
        self,
        plan: ReadPlan,
        config: SSEStream,
        session: Session,
        *,
        clock: Clock,
        stats: SourceStats,
    ) -> None:
        self.plan = plan
        self.config = config
        self.session = session
        self.clock = clock
        self.stats = stats
        self._url = session.redact(plan.url)

    async def units(self, position: Mapping[str, Any] | None) -> AsyncGenerator[Unit, None]:
        """Every event from ``position`` on, one unit each; see :meth:`unit_groups`."""
        async with aclosing(self.unit_groups(position)) as groups:
            async for group in groups:
                for unit in group:
                    yield unit

    async def unit_groups(
        self, position: Mapping[str, Any] | None
    ) -> AsyncGenerator[UnitGroup, None]:
        """Every event from ``position`` on, as the units each network read completed.

        Ends only when reconnection is off or refused. Consumers that take a group at a time
        pay the cost of an async step once per read rather than once per event. A partial
        ``position`` (an event cut short by its consumer) resumes before that event and drops
        the records already delivered.

        Raises
        ------
        SSEStreamClosedByServer
            The server answered 204.
        SSEProtocolError
            A status other than 200 that is not retried, or not ``text/event-stream``.
        SSEEventTooLarge
            An event passed ``max_event_bytes``.
        RetryExhausted
            ``max_reconnects`` attempts in a row brought no event, or the retry policy
            gave up on a retriable status.
        ResponseDecodeError
            An event's ``data`` is not the JSON the source expects.
        """
        decoder = SSEDecoder(max_event_bytes=self.config.max_event_bytes)
        resume = Resume(position)
        saved_retry = _restore(decoder, resume.position)
        state = ReconnectState(
            self.config.reconnect, self.session.config.retry, clock=self.clock.monotonic
        )
        async with self.session:
            with self.session.reporting(self.plan.url):
                while True:
                    failure: HTTPError | CircuitOpenError | None = None
                    try:
                        # Inlined rather than a generator per connection: every async layer an
                        # event passes through costs about a microsecond.
                        async with self._open(decoder) as response:
                            await self._check(response)
                            self.stats.connections += 1
                            state.opened()
                            decoder.reset_connection()
                            try:
                                async for chunk in response.chunks:
                                    batch = decoder.feed_batch(chunk)
                                    if batch.data:
                                        state.event()
                                        group = self._group(batch)
                                        yield group.trimmed(resume) if resume.skip else group
                            finally:
                                decoder.close()  # a partial event at the end is discarded (§9.2.6)
                    except _RetriableStatus as exc:
                        delay = state.after_status(retry_after=exc.error.retry_after)
                        failure = exc.error
                    except (TransportError, CircuitOpenError) as exc:
                        delay = state.after_end(retry_ms=_retry_ms(decoder, saved_retry))
                        if isinstance(exc, CircuitOpenError) and delay is not None:
                            delay = max(delay, exc.retry_in)
                        failure = exc
                    else:
                        if self.config.reconnect is None:
                            return  # the stream ended and reconnection is off
                        delay = state.after_end(retry_ms=_retry_ms(decoder, saved_retry))
                    if failure is not None:
                        self.session.report(failure, self.plan.url)
                        self.stats.error(failure)
                    if delay is None:
                        raise self._gave_up(state, failure)
                    self.stats.reconnects += 1
                    logger.info("reconnecting to %s in %.3fs", self._url, delay)
                    await self.clock.sleep(delay)

    def _open(self, decoder: SSEDecoder) -> AbstractAsyncContextManager[StreamedResponse]:
        headers = {**self.plan.headers, "Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if decoder.last_event_id:
            headers["Last-Event-ID"] = decoder.last_event_id
        plan = self.plan
        return self.session.stream(plan.method, plan.url, params=plan.params, headers=headers)

    async def _check(self, response: StreamedResponse) -> None:
        content_type = response.headers.get("content-type")
        verdict = judge_response(
            response.status,
            content_type,
            retry=self.session.config.retry,
            strict=self.config.strict,
        )
        if verdict is Verdict.OPEN:
            return
        if verdict is Verdict.CLOSED:
            raise SSEStreamClosedByServer(
                "the server answered 204 No Content: it asks not to reconnect", url=self._url
            )
        excerpt = self.session.excerpt(await _body_start(response))
        url = self.session.redact(response.url)
        status_error: HTTPStatusError
        if response.status in (401, 403):
            status_error = AuthenticationError(
                "event stream credentials refused",
                status=response.status,
                url=url,
                body_excerpt=excerpt,
            )
        else:
            status_error = HTTPStatusError(
                "event stream request failed",
                status=response.status,
                url=url,
                body_excerpt=excerpt,
                retry_after=self.session.retry_after(response.headers),
            )
        if verdict is Verdict.RETRY:
            raise _RetriableStatus(status_error)
        if response.status == 200:
            raise SSEProtocolError(
                f"Content-Type {content_type!r} is not text/event-stream", url=url
            )
        raise SSEProtocolError(
            f"event stream answered status {response.status}", url=url
        ) from status_error

    def _group(self, batch: EventBatch) -> EventGroup:
        """The events of one read, their records decoded together when first asked for."""
        config = self.config
        objects = config.data_format == "json" and self.plan.data_path is None
        return EventGroup(
            batch, self._records, objects=objects and not config.include_event_metadata
        )

    def _records(self, batch: EventBatch) -> tuple[list[Any], list[int] | None]:
        """The records of a read's events, decoded together, and ``ends``."""
        ends: list[int] | None = None
        if self.config.data_format == "text":
            records: list[Any] = [{"data": data} for data in batch.data]
        elif self.plan.data_path is None:
            records, ends = json_documents(batch.data, url=self._url)
        else:
            path = self.plan.data_path
            records, ends = [], []
            for data in batch.data:
                records += json_records(data.encode(), path, url=self._url)
                ends.append(len(records))
        if self.config.include_event_metadata:
            records = _with_metadata(records, ends, batch)
        return records, ends

    def _gave_up(
        self, state: ReconnectState, failure: HTTPError | CircuitOpenError | None
    ) -> Exception:
        if failure is not None and self.config.reconnect is None:
            return failure
        what = "event stream brought no event"
        if failure is not None:
            what += f"; last error: {failure.message}"
        error = RetryExhausted(what, attempts=state.attempts, limit=state.limit or "")
        error.__cause__ = failure
        return error


class _RetriableStatus(Exception):
    """A 429/5xx answer, carried to the reconnect loop."""

    def __init__(self, error: HTTPStatusError) -> None:
        super().__init__(str(error))
        self.error = error


def _with_metadata(records: list[Any], ends: list[int] | None, batch: EventBatch) -> list[Any]:
    # Each object record gets its event's type and id; other records are left as they are.
    tagged: list[Any] = []
    start = 0
    for index, (event, event_id) in enumerate(zip(batch.event, batch.id, strict=True)):
        end = index + 1 if ends is None else ends[index]
        tagged += [
            {**r, "_event": event, "_event_id": event_id} if isinstance(r, dict) else r
            for r in records[start:end]
        ]
        start = end
    return tagged


def _restore(decoder: SSEDecoder, position: Mapping[str, Any] | None) -> int | None:
    # Returns the saved reconnection time; the decoder learns a new one from ``retry:``.
    if position is None:
        return None
    last_id, retry_ms = position.get("last_event_id", ""), position.get("retry_ms")
    valid_retry = retry_ms is None or (isinstance(retry_ms, int) and retry_ms >= 0)
    if position.get("kind") != KIND or not isinstance(last_id, str) or not valid_retry:
        raise ConfigError("position", dict(position), "not the position of an SSE source")
    decoder.last_event_id = last_id
    return retry_ms


def _retry_ms(decoder: SSEDecoder, saved: int | None) -> int | None:
    return decoder.retry_ms if decoder.retry_ms is not None else saved


async def _body_start(response: StreamedResponse) -> bytes:
    # Enough of an error body for Session.excerpt to show its start and know it was cut.
    kept = b""
    async for chunk in response.chunks:
        kept += chunk[: EXCERPT_BYTES + 1 - len(kept)]
        if len(kept) > EXCERPT_BYTES:
            break
    return kept
