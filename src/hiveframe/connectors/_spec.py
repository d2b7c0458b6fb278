"""Sources and sinks as data: the specs every runner builds its sessions from.

``HTTPSource`` and ``HTTPSink`` check their options once and keep them as a
:class:`SourceSpec` or a :class:`SinkSpec`: frozen, picklable and comparable. Every runner
(a read, a stream, a write, a Spark task, the command line) takes a spec and opens its own
:class:`~hiveframe._http.session.Session` with :meth:`Endpoint.session`, the one place a
session is built.

What a spec holds, and what it does not (the rule for live objects):

- data only: validated options, and the auth object, which is configuration with its
  secrets held as :class:`~hiveframe._secrets.Secret` (an OAuth2 token cache belongs to its
  process: it is never pickled, nor compared);
- of a circuit breaker and a rate limiter, their *settings*. The objects themselves are
  live (locks, counters, a token bucket shared by every request of a source, and by several
  sources and sinks when the user shares one), as is the clock: the front that built the
  spec keeps them in a :class:`Runtime` and hands it to ``session()``. A runner without one
  (a Spark task, another process) gets a fresh breaker and limiter built from the settings.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, TypedDict, TypeVar

import pyarrow as pa

from hiveframe._http.auth import Auth
from hiveframe._http.clock import SYSTEM_CLOCK, Clock
from hiveframe._http.proxy import ProxyOption
from hiveframe._http.reader import ReadPlan
from hiveframe._http.session import Session, SessionConfig
from hiveframe._protocol.response_policy import ResponsePolicy
from hiveframe._secrets import redact_url
from hiveframe._validate import NOT_GIVEN, _NotGiven, check_names
from hiveframe.errors import ConfigError
from hiveframe.resilience import CircuitBreaker, RateLimiter, RetryConfig
from hiveframe.resilience._options import (
    breaker_from_option,
    rate_limiter_from_option,
    retry_from_option,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from hiveframe._http.poll import PollReader
    from hiveframe._http.sse import SSEReader
    from hiveframe._protocol.incremental import Incremental
    from hiveframe._protocol.poll import PollStream
    from hiveframe._protocol.reconnect import SSEStream
    from hiveframe._protocol.units import SourceStats, StreamKind, Unit
    from hiveframe.connectors._fanout import Fanout
    from hiveframe.connectors._sink_options import SinkOptions

__all__ = [
    "Endpoint",
    "Front",
    "Runtime",
    "SessionSettings",
    "SinkSpec",
    "SourceSpec",
    "session_config",
]


@dataclass(frozen=True)
class Runtime:
    """The live objects a spec runs with in this process: the clock, and the circuit breaker
    and rate limiter that its sessions (and other sources' and sinks', if shared) share.

    Examples
    --------
    >>> Runtime.of(rate_limit=5).rate_settings()
    (5.0, 1)
    """

    clock: Clock = SYSTEM_CLOCK
    circuit_breaker: CircuitBreaker | None = None
    rate_limiter: RateLimiter | None = None

    @classmethod
    def of(
        cls,
        *,
        clock: Clock = SYSTEM_CLOCK,
        circuit_breaker: object = None,
        rate_limit: float | RateLimiter | None = None,
    ) -> Runtime:
        """The ``clock=``, ``circuit_breaker=`` and ``rate_limit=`` options, checked.

        Raises
        ------
        ConfigError
            Naming ``circuit_breaker`` or ``rate_limit``.
        """
        return cls(
            clock, breaker_from_option(circuit_breaker), rate_limiter_from_option(rate_limit)
        )

    def breaker_settings(self) -> Mapping[str, Any] | None:
        """The breaker's settings, for the breakers built where this runtime is not."""
        breaker = self.circuit_breaker
        return breaker.options() if breaker is not None else None

    def rate_settings(self) -> tuple[float, int] | None:
        """``(requests per second, burst)`` of the limiter, for the limiters built where this
        runtime is not. None without a rate of its own (a limiter that only follows the
        server's quota headers has nothing to share out: every session follows them)."""
        limiter = self.rate_limiter
        if limiter is None or limiter.rate is None:
            return None
        return limiter.rate, limiter.burst


class SessionSettings(TypedDict, total=False):
    """The transport settings of a source or sink (see :class:`SessionConfig`)."""

    timeout_seconds: float | None
    connect_timeout_seconds: float
    max_body_bytes: int
    max_decompressed_bytes: int
    max_redirects: int
    max_connections: int
    verify: bool | str
    proxy: ProxyOption
    block_private_networks: bool
    response_policy: ResponsePolicy


def session_config(
    retry: RetryConfig | _NotGiven | None = NOT_GIVEN,
    secret_headers: Iterable[str] = (),
    secret_params: Iterable[str] = (),
    **settings: Unpack[SessionSettings],
) -> SessionConfig:
    """A source's or a sink's transport options as the :class:`SessionConfig` of its spec
    (without breaker and rate limiter: those are the :class:`Runtime`'s).

    Raises
    ------
    ConfigError
        Naming the option that is out of range.
    """
    return SessionConfig(
        retry=retry_from_option(retry),
        secret_headers=check_names("secret_headers", secret_headers),
        secret_params=check_names("secret_params", secret_params),
        **settings,
    )


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """How to reach a source or a sink: what every one of its sessions is built from.

    Parameters
    ----------
    auth
        The credentials, for the origin of :attr:`url` only.
    session_config
        Transport settings, without circuit breaker and rate limiter.
    breaker
        Keyword arguments of the :class:`CircuitBreaker` a session gets when its runtime
        has none (``CircuitBreaker.options()``), or None.
    rate_limit
        ``(requests per second, burst)`` of the :class:`RateLimiter` a session gets when
        its runtime has none, or None.
    """

    auth: Auth | None = None
    session_config: SessionConfig = field(default_factory=SessionConfig)
    breaker: Mapping[str, Any] | None = None
    rate_limit: tuple[float, int] | None = None

    @property
    def url(self) -> str:
        """The URL the user configured; credentials go to its origin only."""
        raise NotImplementedError

    @property
    def redacted_url(self) -> str:
        """The URL with credentials masked, for logs, errors and checkpoints."""
        return redact_url(self.url, self.session_config.secret_params)

    def session(self, runtime: Runtime | None = None) -> Session:
        """A new session (not open yet), with ``runtime``'s clock, breaker and limiter.

        Without a runtime, or where it has no breaker or limiter, the session gets its own,
        built from this spec's settings, and the system clock.
        """
        live = runtime if runtime is not None else Runtime()
        breaker, limiter = live.circuit_breaker, live.rate_limiter
        if breaker is None and self.breaker is not None:
            breaker = CircuitBreaker(**self.breaker, clock=live.clock.monotonic)
        if limiter is None and self.rate_limit is not None:
            rate, burst = self.rate_limit
            limiter = RateLimiter(rate, burst=burst, clock=live.clock.monotonic)
        config = replace(self.session_config, circuit_breaker=breaker, rate_limiter=limiter)
        return Session(config, auth=self.auth, credential_url=self.url, clock=live.clock)


@dataclass(frozen=True, kw_only=True)
class SourceSpec(Endpoint):
    """Everything an ``HTTPSource`` is, with no live client inside.

    Parameters
    ----------
    plan
        What to read and how to decode it.
    deadline_seconds
        Deadline of one whole read.
    stream
        How the source streams (:class:`PollStream`, :class:`SSEStream`), or None.
    incremental
        The batch reads' cursor (:class:`~hiveframe.connectors.Incremental`), or None.
    fanout
        The parent of a child source (its spec, fields and child-error policy), or None.
    auth, session_config, breaker, rate_limit
        As for :class:`Endpoint`.
    """

    plan: ReadPlan
    deadline_seconds: float | None = None
    stream: PollStream | SSEStream | None = None
    incremental: Incremental | None = None
    fanout: Fanout | None = None

    @property
    def url(self) -> str:
        return self.plan.url

    @property
    def stream_kind(self) -> StreamKind | None:
        """``"poll"``, ``"sse"``, or ``None`` for a source that does not stream."""
        return None if self.stream is None else self.stream.kind

    def require_stream_kind(self) -> StreamKind:
        """:attr:`stream_kind`, of a source that streams.

        Raises
        ------
        ConfigError
            ``option="poll_interval_seconds"``: the source does not stream.
        """
        kind = self.stream_kind
        if kind is None:
            raise ConfigError(
                "poll_interval_seconds",
                None,
                "this source does not stream: set stream=PollStream(...) or SSEStream()",
            )
        return kind

    def with_schema(self, schema: pa.Schema | None) -> SourceSpec:
        """The same source, decoding every page into ``schema``."""
        return replace(self, plan=replace(self.plan, schema=schema))

    def aunits(
        self,
        position: Mapping[str, Any] | None = None,
        stats: SourceStats | None = None,
        runtime: Runtime | None = None,
    ) -> AsyncGenerator[Unit, None]:
        """The stream's units (events, polled pages), each with the position after it.

        Raises
        ------
        ConfigError
            The source does not stream.
        """
        return self._reader(stats, runtime).units(position)

    def aunit_groups(
        self,
        position: Mapping[str, Any] | None = None,
        stats: SourceStats | None = None,
        runtime: Runtime | None = None,
    ) -> AsyncGenerator[Sequence[Unit], None]:
        """:meth:`aunits` in groups: the units of one network read (SSE) or one page."""
        return self._reader(stats, runtime).unit_groups(position)

    def _reader(self, stats: SourceStats | None, runtime: Runtime | None) -> SSEReader | PollReader:
        from hiveframe._http.poll import PollReader  # a batch read never loads the stream readers
        from hiveframe._http.sse import SSEReader
        from hiveframe._protocol.units import SourceStats

        self.require_stream_kind()
        stream = self.stream
        assert stream is not None
        live = runtime if runtime is not None else Runtime()
        counters = stats if stats is not None else SourceStats()
        if stream.kind == "poll":
            session = self.session(live)  # the reader opens and closes it
            return PollReader(self.plan, stream, session, clock=live.clock, stats=counters)
        # Each wait for bytes of an event stream (its head, then every chunk) is bounded by
        # the idle timeout, which the transport enforces as its read timeout.
        idle = replace(self.session_config, timeout_seconds=stream.idle_timeout_seconds)
        session = replace(self, session_config=idle).session(live)
        return SSEReader(self.plan, stream, session, clock=live.clock, stats=counters)


@dataclass(frozen=True, kw_only=True)
class SinkSpec(Endpoint):
    """Everything an ``HTTPSink`` is, with no live client inside.

    Parameters
    ----------
    options
        Where and how batches are sent.
    auth, session_config, breaker, rate_limit
        As for :class:`Endpoint`.
    """

    options: SinkOptions

    @property
    def url(self) -> str:
        return self.options.url


SpecT = TypeVar("SpecT", bound=Endpoint)


class Front(Generic[SpecT]):
    """What ``HTTPSource`` and ``HTTPSink`` are around their spec: the :attr:`spec`, the
    :attr:`runtime` it runs with, and views of both."""

    spec: SpecT
    """The checked options, as data (frozen, picklable)."""
    runtime: Runtime
    """The live clock, circuit breaker and rate limiter every session of this front shares."""

    @property
    def url(self) -> str:
        return self.spec.url

    @property
    def redacted_url(self) -> str:
        """The URL with credentials masked, for logs, errors and checkpoints."""
        return self.spec.redacted_url

    @property
    def auth(self) -> Auth | None:
        return self.spec.auth

    @property
    def session_config(self) -> SessionConfig:
        """Transport settings (``spec.session_config``; breaker and limiter: :attr:`runtime`)."""
        return self.spec.session_config

    @property
    def clock(self) -> Clock:
        return self.runtime.clock

    def session(self) -> Session:
        """A new session (not open yet) with this front's auth, settings and runtime."""
        return self.spec.session(self.runtime)
