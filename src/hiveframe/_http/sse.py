"""The Server-Sent Events driver: connect, decode, reconnect with ``Last-Event-ID``.

It feeds the sans-I/O :class:`~hiveframe._protocol.sse.SSEDecoder` with the body of one
:meth:`Session.stream <hiveframe._http.session.Session.stream>` after another and asks
:mod:`hiveframe._protocol.reconnect` what each response head means and how long to wait
before the next connection. It follows WHATWG HTML §9.2.3 with the documented divergences
of RELIABILITY.md §4.2 (retriable statuses retried under ``RetryConfig`` unless strict).

Each event becomes a :class:`~hiveframe._protocol.units.Unit`: its records (``data``
decoded as JSON, or as text) and the position after it, ``{"kind": "sse",
"last_event_id": ..., "retry_ms": ...}``. Resuming from a position sends its id as
``Last-Event-ID``, so a server that honours it replays nothing that was delivered.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Mapping
from contextlib import AbstractAsyncContextManager, aclosing
from typing import Any

from hiveframe._http.clock import Clock
from hiveframe._http.reader import ReadPlan
from hiveframe._http.session import EXCERPT_BYTES, Session
from hiveframe._http.streamed import StreamedResponse
from hiveframe._protocol.decode import json_documents, json_records
from hiveframe._protocol.reconnect import ReconnectState, SSEStream, Verdict, judge_response
from hiveframe._protocol.sse import ServerSentEvent, SSEDecoder
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

KIND = "sse"


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
    ) -> AsyncGenerator[list[Unit], None]:
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
                                    events = decoder.feed(chunk)
                                    if events:
                                        # Each event is one unit (its position is exact); the
                                        # events of one network read are decoded in one pass.
                                        state.event()
                                        group = [
                                            Unit(records, _position(event))
                                            for event, records in zip(
                                                events, self._records(events), strict=True
                                            )
                                        ]
                                        yield (
                                            [resume.trim(u) for u in group]
                                            if resume.skip
                                            else group
                                        )
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

    def _records(self, events: list[ServerSentEvent]) -> list[list[Any]]:
        """Each event's records, in order."""
        if self.config.data_format == "text":
            decoded = [[{"data": event.data}] for event in events]
        elif self.plan.data_path is None:
            decoded = json_documents([event.data for event in events], url=self._url)
        else:
            path = self.plan.data_path
            decoded = [json_records(e.data.encode(), path, url=self._url) for e in events]
        if not self.config.include_event_metadata:
            return decoded
        return [
            [{**r, "_event": e.event, "_event_id": e.id} if isinstance(r, dict) else r for r in rs]
            for e, rs in zip(events, decoded, strict=True)
        ]

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


def _position(event: ServerSentEvent) -> dict[str, Any]:
    return {"kind": KIND, "last_event_id": event.id, "retry_ms": event.retry}


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
