"""Server-Sent Events connections: what a response means and when to reconnect. Sans-I/O.

WHATWG HTML §9.2.3 (https://html.spec.whatwg.org/multipage/server-sent-events.html) says a
client *fails the connection* (no reconnection) on a status other than 200 or a
Content-Type whose essence is not ``text/event-stream``, and *re-establishes* it after a
network error or when an open stream ends: it waits the reconnection time (the last valid
``retry:``, else a few seconds), "may wait some more" after failed attempts, and sends the
last event ID in ``Last-Event-ID``.

HiveFrame diverges on purpose, as RELIABILITY.md §4.2 records, because a data pipeline
should ride out an overloaded server: 429 and 5xx statuses in the source's
:class:`~hiveframe.resilience.RetryConfig` are retried under that policy (``Retry-After``
honoured) unless ``strict=True`` asks for browser semantics. 204 stays terminal: servers
use it to say "stop". Every reconnect loop is capped by ``max_reconnects``: consecutive
attempts that delivered no event.

Nothing here opens a socket, sleeps or reads a clock of its own; the driver in
:mod:`hiveframe._http.sse` does, and asks these objects what to do.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

from hiveframe._protocol.content import is_event_stream
from hiveframe._protocol.sse import DEFAULT_MAX_EVENT_BYTES
from hiveframe._validate import require_bool, require_int, require_multiplier, require_seconds
from hiveframe.errors import ConfigError

__all__ = [
    "DEFAULT_IDLE_TIMEOUT_SECONDS",
    "SSE_FORMATS",
    "ReconnectConfig",
    "ReconnectState",
    "RetryBudget",
    "RetryPolicy",
    "SSEFormat",
    "SSEStream",
    "Verdict",
    "judge_response",
]

DEFAULT_IDLE_TIMEOUT_SECONDS = 60.0  # servers are told to send a comment every ~15 s
SSEFormat = Literal["json", "text"]
SSE_FORMATS: tuple[SSEFormat, ...] = ("json", "text")


@dataclass(frozen=True, kw_only=True)
class ReconnectConfig:
    """How an SSE stream reconnects after the connection drops or the server closes it.

    Parameters
    ----------
    initial_delay_seconds
        The reconnection time until the server sends a ``retry:`` field (the spec's "a few
        seconds").
    multiplier, max_delay_seconds
        Backoff on repeated failures: the *n*-th consecutive attempt that brought no event
        waits ``reconnection time * multiplier ** n``, at most ``max_delay_seconds`` (or the
        server's own ``retry:``, if that is longer).
    max_reconnects
        Consecutive reconnection attempts without an event before giving up with
        :class:`~hiveframe.errors.RetryExhausted`; ``None`` retries forever. Any event
        resets the count.

    Raises
    ------
    ConfigError
        A value is out of range; the error names the option.

    Examples
    --------
    >>> ReconnectConfig(max_reconnects=3).delay(retry_ms=1500, failures=0)
    1.5
    >>> ReconnectConfig().delay(retry_ms=None, failures=2)
    12.0
    """

    initial_delay_seconds: float = 3.0
    multiplier: float = 2.0
    max_delay_seconds: float = 60.0
    max_reconnects: int | None = 10

    def __post_init__(self) -> None:
        require_seconds("initial_delay_seconds", self.initial_delay_seconds)
        require_seconds("max_delay_seconds", self.max_delay_seconds)
        require_multiplier("multiplier", self.multiplier)
        if self.max_reconnects is not None:
            require_int("max_reconnects", self.max_reconnects, minimum=0)

    def delay(self, *, retry_ms: int | None, failures: int) -> float:
        """Seconds to wait before the next connection.

        Parameters
        ----------
        retry_ms
            The server's reconnection time (the last valid ``retry:``), or ``None``.
        failures
            Consecutive attempts so far that brought no event (0 after a stream that did).
        """
        base = self.initial_delay_seconds if retry_ms is None else retry_ms / 1000
        if failures <= 0 or base == 0:
            return base
        try:
            grown = base * self.multiplier**failures
        except OverflowError:
            grown = math.inf
        return min(grown, max(self.max_delay_seconds, base))


@dataclass(frozen=True, kw_only=True)
class SSEStream:
    """A source that streams Server-Sent Events: ``HTTPSource(url, stream=SSEStream(...))``.

    The flat ``HTTPSource`` options (``stream_type="sse"``, ``idle_timeout_seconds=``...)
    are shortcuts that build one.

    Parameters
    ----------
    data_format
        ``"json"`` (each event's ``data`` is a JSON document of records, found with the
        source's ``data_path``) or ``"text"`` (each event is one record ``{"data": ...}``);
        ``response_format`` as a flat option.
    include_event_metadata
        Add the event type and id to each record as ``_event`` and ``_event_id``.
    idle_timeout_seconds
        A connection that sends nothing, not even a comment, for this long is dropped and
        re-established.
    max_event_bytes
        Cap on one event's size (see :class:`~hiveframe._protocol.sse.SSEDecoder`).
    reconnect
        Reconnection policy, or ``None`` to end the stream when the connection ends.
    strict
        Browser semantics: every status other than 200 fails the stream (``strict_sse`` as
        a flat option).

    Raises
    ------
    ConfigError
        A value is out of range; the error names the option as the flat ``HTTPSource``
        option spells it.

    Examples
    --------
    >>> SSEStream(data_format="text", include_event_metadata=True).idle_timeout_seconds
    60.0
    """

    kind: ClassVar[Literal["sse"]] = "sse"
    data_format: SSEFormat = "json"
    include_event_metadata: bool = False
    idle_timeout_seconds: float = DEFAULT_IDLE_TIMEOUT_SECONDS
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    reconnect: ReconnectConfig | None = ReconnectConfig()
    strict: bool = False

    def __post_init__(self) -> None:
        if self.data_format not in SSE_FORMATS:
            raise ConfigError(
                "response_format", self.data_format, "for an SSE source: 'json' or 'text'"
            )
        require_seconds("idle_timeout_seconds", self.idle_timeout_seconds, positive=True)
        require_int("max_event_bytes", self.max_event_bytes, minimum=1)
        if self.reconnect is not None and not isinstance(self.reconnect, ReconnectConfig):
            raise ConfigError("reconnect", self.reconnect, "a ReconnectConfig, or None")
        require_bool("include_event_metadata", self.include_event_metadata)
        require_bool("strict_sse", self.strict)


class RetryBudget(Protocol):
    """The retries of one run of retriable statuses (a ``RetryState``)."""

    def record_attempt(self) -> None: ...

    def next_delay(self, *, retry_after: float | None = None) -> float | None: ...

    def limit_reached(self) -> str: ...


class RetryPolicy(Protocol):
    """What reconnecting asks of the source's retry policy, a
    :class:`~hiveframe.resilience.RetryConfig`: a protocol, as this module is below the
    policies (they know nothing of SSE; this knows nothing of how they decide)."""

    def is_retriable_status(self, status: int) -> bool: ...

    def start(self, *, clock: Callable[[], float]) -> RetryBudget: ...


class Verdict(enum.Enum):
    """What the head of an SSE response means."""

    OPEN = "open"  # 200 text/event-stream: read events
    RETRY = "retry"  # a retriable status: wait, then try again
    CLOSED = "closed"  # 204: the server says stop
    FAILED = "failed"  # any other status, or not an event stream


def judge_response(
    status: int, content_type: str | None, *, retry: RetryPolicy, strict: bool
) -> Verdict:
    """Classify an SSE response by its status and Content-Type (WHATWG §9.2.3).

    Parameters
    ----------
    status
        The HTTP status after redirects.
    content_type
        The Content-Type header; parameters are ignored and ``text/event-stream;`` is
        accepted (wpt ``format-mime-trailing-semicolon``).
    retry
        The source's policy: its ``retry_statuses`` are retried unless ``strict``.
    strict
        Fail on every status other than 200, as a browser does.

    Examples
    --------
    >>> from hiveframe.resilience import RetryConfig
    >>> judge_response(200, "text/event-stream; charset=utf-8", retry=RetryConfig(), strict=False)
    <Verdict.OPEN: 'open'>
    >>> judge_response(503, None, retry=RetryConfig(), strict=False)
    <Verdict.RETRY: 'retry'>
    >>> judge_response(204, None, retry=RetryConfig(), strict=False)
    <Verdict.CLOSED: 'closed'>
    """
    if status == 200:
        return Verdict.OPEN if is_event_stream(content_type) else Verdict.FAILED
    if status == 204:
        return Verdict.CLOSED
    if not strict and retry.is_retriable_status(status):
        return Verdict.RETRY
    return Verdict.FAILED


class ReconnectState:
    """The reconnect bookkeeping of one SSE stream.

    The driver reports what happened (:meth:`opened`, :meth:`event`) and asks how long to
    wait after a connection ended (:meth:`after_end`) or answered a retriable status
    (:meth:`after_status`); ``None`` means give up.

    Parameters
    ----------
    config
        The reconnection policy; ``None`` never reconnects.
    retry
        The policy for retriable statuses.
    clock
        Monotonic seconds, for ``retry``'s total time budget.

    Examples
    --------
    >>> from hiveframe.resilience import RetryConfig
    >>> state = ReconnectState(ReconnectConfig(max_reconnects=1), RetryConfig())
    >>> state.opened(); state.event()
    >>> state.after_end(retry_ms=2000)
    2.0
    >>> state.after_end(retry_ms=2000) is None  # a second attempt in a row without events
    True
    """

    def __init__(
        self,
        config: ReconnectConfig | None,
        retry: RetryPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.retry = retry
        self._clock = clock
        self.failures = 0  # consecutive reconnections without an event
        self.reconnects = 0
        self.attempts = 0  # connection attempts in a row that brought no event
        self.limit: str | None = None  # the limit that made it give up, for the error
        self._evented = False  # the current connection brought an event
        self._status_retries: RetryBudget | None = None

    def opened(self) -> None:
        """A 200 event stream is open: a later retriable status starts a fresh budget."""
        self._status_retries = None

    def event(self) -> None:
        """An event arrived: the stream is healthy again."""
        self.failures = 0
        self.attempts = 0
        self._evented = True

    def after_end(self, *, retry_ms: int | None) -> float | None:
        """The stream ended, dropped, went idle or could not connect: seconds to wait."""
        self._ended()
        if self.config is None or self._exhausted():
            return None
        delay = self.config.delay(retry_ms=retry_ms, failures=self.failures)
        self._count()
        return delay

    def after_status(self, *, retry_after: float | None) -> float | None:
        """A retriable status: seconds to wait under the retry policy, or ``None``.

        Raises
        ------
        RetryAfterTooLong
            The server asked for a wait above the policy's cap.
        """
        self._ended()
        if self.config is None or self._exhausted():
            return None
        if self._status_retries is None:
            self._status_retries = self.retry.start(clock=self._clock)
        self._status_retries.record_attempt()
        delay = self._status_retries.next_delay(retry_after=retry_after)
        if delay is None:
            self.limit = f"the retry policy's {self._status_retries.limit_reached()}"
        else:
            self._count()
        return delay

    def _ended(self) -> None:
        # One connection attempt is over; it counts against the stream unless it brought events.
        if not self._evented:
            self.attempts += 1
        self._evented = False

    def _exhausted(self) -> bool:
        limit = self.config.max_reconnects if self.config is not None else 0
        if limit is None or self.failures < limit:
            return False
        self.limit = f"max_reconnects={limit} reached"
        return True

    def _count(self) -> None:
        self.failures += 1
        self.reconnects += 1
