"""A circuit breaker: fail fast while a service is down, probe it, close when it is back.

The state machine (resilience4j's, with pybreaker's lessons)::

    CLOSED --(failure_threshold consecutive failures, or failure rate >= threshold
              over the last window_size calls once minimum_calls are recorded)--> OPEN
    OPEN --(recovery_timeout_seconds passed)--> HALF_OPEN
    HALF_OPEN --(success_threshold probes succeed)--> CLOSED (window reset)
    HALF_OPEN --(a probe fails)--> OPEN (a new retry_at)
    HALF_OPEN --(a probe still running max_half_open_seconds after it began)--> OPEN

Transitions that depend on time are evaluated lazily, on the injected monotonic clock,
whenever the breaker is asked something. A lock guards the state only: it is never held
while the user's call runs, and nothing awaits under it, so the breaker never serializes
calls (pybreaker#3). Each permit remembers the *epoch* (the state period) it was issued in;
an outcome that arrives after the state moved on (a probe that hung past its deadline, a slow
call that ends after the breaker opened) is counted in the totals but moves no state.
"""

from __future__ import annotations

import concurrent.futures
import functools
import inspect
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, ParamSpec, TypeVar, overload

from hiveframe._validate import require_int, require_seconds
from hiveframe.errors import CircuitOpenError, ConfigError
from hiveframe.resilience._retry import Clock

logger = logging.getLogger("hiveframe.resilience")

P = ParamSpec("P")
T = TypeVar("T")
State = Literal["closed", "open", "half_open"]
_Outcome = Literal["success", "failure", "release"]


@dataclass(frozen=True)
class BreakerStats:
    """A snapshot of a :class:`CircuitBreaker`'s counters.

    Attributes
    ----------
    consecutive_failures
        Failures since the last success (while closed).
    successes, failures, rejected
        Totals since creation or :meth:`CircuitBreaker.reset`: calls that succeeded, calls
        that failed, calls refused with :class:`~hiveframe.errors.CircuitOpenError`.
    opened_count
        How many times the breaker opened.
    failure_rate, window_calls
        Failed share of the sliding window (None until it holds ``minimum_calls`` outcomes),
        and how many outcomes it holds.
    """

    state: State
    consecutive_failures: int
    successes: int
    failures: int
    rejected: int
    opened_count: int
    failure_rate: float | None
    window_calls: int


@dataclass(frozen=True)
class _Settings:
    failure_threshold: int
    failure_rate_threshold: float | None
    window_size: int
    minimum_calls: int
    recovery_timeout_seconds: float
    half_open_max_calls: int
    success_threshold: int
    max_half_open_seconds: float
    name: str

    def __post_init__(self) -> None:
        for option in _COUNT_OPTIONS:
            require_int(option, getattr(self, option), minimum=1)
        for option in ("recovery_timeout_seconds", "max_half_open_seconds"):
            seconds = require_seconds(option, getattr(self, option), positive=True)
            object.__setattr__(self, option, seconds)  # frozen: store the checked float
        if self.minimum_calls > self.window_size:
            raise ConfigError("minimum_calls", self.minimum_calls, "must be <= window_size")
        if self.success_threshold > self.half_open_max_calls:
            reason = "must be <= half_open_max_calls, or the breaker could never close"
            raise ConfigError("success_threshold", self.success_threshold, reason)
        rate = self.failure_rate_threshold
        if rate is not None and (
            isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1
        ):
            reason = "must be a fraction in (0, 1], e.g. 0.5 for 50%"
            raise ConfigError("failure_rate_threshold", rate, reason)
        if not isinstance(self.name, str):
            raise ConfigError("name", self.name, "must be a string")


_COUNT_OPTIONS = (
    "failure_threshold",
    "window_size",
    "minimum_calls",
    "half_open_max_calls",
    "success_threshold",
)


class Permit:
    """Leave to make one call through a :class:`CircuitBreaker`; settle it once.

    Call exactly one of :meth:`success`, :meth:`failure` or :meth:`release` when the call
    ends; later calls are ignored. Obtain permits from :meth:`CircuitBreaker.acquire`.

    Example
    -------
    >>> breaker = CircuitBreaker()
    >>> permit = breaker.acquire()
    >>> permit.success()
    >>> permit.settled
    True
    """

    __slots__ = ("_breaker", "_epoch", "_probe", "_settled")

    def __init__(self, breaker: CircuitBreaker, epoch: int, probe: int | None) -> None:
        self._breaker = breaker
        self._settled = False
        self._epoch = epoch
        self._probe = probe  # the half-open probe id, None for a call made while closed

    @property
    def settled(self) -> bool:
        """Whether an outcome was already reported."""
        return self._settled

    def success(self) -> None:
        """The call worked: it counts toward closing (half-open) or staying closed."""
        self._breaker._settle(self, "success")

    def failure(self) -> None:
        """The call failed in a way that says the service is unhealthy."""
        self._breaker._settle(self, "failure")

    def release(self) -> None:
        """Neutral end (cancelled, or an answer that says nothing of the service's health).

        Counts nothing; a half-open probe slot becomes free for the next caller.
        """
        self._breaker._settle(self, "release")


class CircuitBreaker:
    """Fail fast while a service keeps failing; shared by every caller of that service.

    Parameters
    ----------
    failure_threshold
        Consecutive failures that open the breaker (when ``failure_rate_threshold`` is None).
    failure_rate_threshold
        Failure-rate mode: open when the failed share of the last ``window_size`` calls
        reaches this fraction (0.5 = 50%), once ``minimum_calls`` are recorded. In this mode
        ``failure_threshold`` is not used.
    window_size, minimum_calls
        The count-based sliding window of the failure-rate mode.
    recovery_timeout_seconds
        Time spent OPEN before trial calls are let through (HALF_OPEN).
    half_open_max_calls
        Trial permits in HALF_OPEN; further callers are rejected. A released permit frees
        its slot.
    success_threshold
        Successful trial calls needed to close. At most ``half_open_max_calls``.
    max_half_open_seconds
        A trial call still running this long after it started reopens the breaker, so a
        hung probe cannot wedge it; its late outcome is ignored.
    name
        Shown in :class:`~hiveframe.errors.CircuitOpenError` and in logs.
    is_failure
        Which exceptions count as failures in :meth:`guard`, :meth:`call`, :meth:`acall`
        and the decorator. Default: every ``Exception``. Exceptions it rejects, and
        cancellations (``asyncio.CancelledError``, ``KeyboardInterrupt``), release the
        permit without counting.
    clock
        Monotonic seconds; wall-clock jumps cannot affect it.

    Raises
    ------
    ConfigError
        A setting is out of range; the error names it.

    Example
    -------
    >>> breaker = CircuitBreaker(failure_threshold=3, recovery_timeout_seconds=10, name="api")
    >>> @breaker
    ... def fetch() -> str:
    ...     return "ok"
    >>> fetch(), breaker.state
    ('ok', 'closed')
    >>> with breaker.guard() as permit:
    ...     permit.release()  # e.g. a 404: says nothing about the service's health
    """

    def __init__(  # noqa: PLR0913 - the breaker's public settings, each with its default
        self,
        *,
        failure_threshold: int = 5,
        failure_rate_threshold: float | None = None,
        window_size: int = 20,
        minimum_calls: int = 10,
        recovery_timeout_seconds: float = 30.0,
        half_open_max_calls: int = 1,
        success_threshold: int = 1,
        max_half_open_seconds: float = 60.0,
        name: str = "default",
        is_failure: Callable[[BaseException], bool] | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self._settings = _Settings(
            failure_threshold=failure_threshold,
            failure_rate_threshold=failure_rate_threshold,
            window_size=window_size,
            minimum_calls=minimum_calls,
            recovery_timeout_seconds=recovery_timeout_seconds,
            half_open_max_calls=half_open_max_calls,
            success_threshold=success_threshold,
            max_half_open_seconds=max_half_open_seconds,
            name=name,
        )
        if is_failure is not None and not callable(is_failure):
            raise ConfigError("is_failure", is_failure, "a callable is_failure(exc) -> bool")
        self._is_failure = is_failure
        self._clock = clock
        self._lock = threading.Lock()
        self._probe_ids = itertools.count()
        self._window: deque[bool] = deque(maxlen=window_size)  # True = a failure
        self._events: list[tuple[State, State]] = []
        self._state: State = "closed"
        self._epoch = 0  # bumped on every transition; permits from older epochs are stale
        self._opened_at = 0.0
        self._consecutive = 0
        self._window_failures = 0
        self._probes: dict[int, float] = {}  # in-flight half-open probe id -> start time
        self._probe_successes = 0
        self._successes = self._failures = self._rejected = self._opened_count = 0

    @property
    def name(self) -> str:
        """The breaker's name."""
        return self._settings.name

    @property
    def state(self) -> State:
        """``"closed"``, ``"open"`` or ``"half_open"``, after any transition that is due."""
        with self._lock:
            self._advance(self._clock())
            state = self._state
            events = self._drain_events()
        self._log(events)
        return state

    @property
    def stats(self) -> BreakerStats:
        """A consistent snapshot of the state and counters."""
        with self._lock:
            self._advance(self._clock())
            snapshot = BreakerStats(
                state=self._state,
                consecutive_failures=self._consecutive,
                successes=self._successes,
                failures=self._failures,
                rejected=self._rejected,
                opened_count=self._opened_count,
                failure_rate=self._failure_rate(),
                window_calls=len(self._window),
            )
            events = self._drain_events()
        self._log(events)
        return snapshot

    def options(self) -> dict[str, Any]:
        """The keyword arguments that build a new breaker like this one, without its state.

        A breaker holds a lock and live counters, so it does not travel between processes;
        its options do (Spark builds one breaker per task from them).

        Example
        -------
        >>> CircuitBreaker(**CircuitBreaker(failure_threshold=3).options()).stats.state
        'closed'
        """
        settings = self._settings
        options: dict[str, Any] = {f: getattr(settings, f) for f in settings.__dataclass_fields__}
        if self._is_failure is not None:
            options["is_failure"] = self._is_failure
        return options

    def reset(self) -> None:
        """Close the breaker and zero every counter. Outstanding permits become stale."""
        with self._lock:
            self._to_closed()
            self._successes = self._failures = self._rejected = self._opened_count = 0
            events = self._drain_events()
        self._log(events)

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.name!r} {self.state}>"

    # -- permits --------------------------------------------------------------------------------

    def acquire(self) -> Permit:
        """Ask leave to make one call.

        Returns
        -------
        Permit
            Settle it with ``success()``, ``failure()`` or ``release()`` when the call ends.

        Raises
        ------
        CircuitOpenError
            The breaker is open, or half-open with every trial permit taken. ``retry_at``
            (monotonic) is when the breaker is due to let a call through: the end of the
            recovery timeout, or in half-open the latest time the running probe can
            hold its slot.
        """
        now = self._clock()
        with self._lock:
            self._advance(now)
            outcome = self._admit(now)
            events = self._drain_events()
        self._log(events)
        if isinstance(outcome, CircuitOpenError):
            raise outcome
        return outcome

    def _admit(self, now: float) -> Permit | CircuitOpenError:
        if self._state == "closed":
            return Permit(self, self._epoch, None)
        taken = len(self._probes) + self._probe_successes
        if self._state == "half_open" and taken < self._settings.half_open_max_calls:
            probe = next(self._probe_ids)
            self._probes[probe] = now
            return Permit(self, self._epoch, probe)
        self._rejected += 1
        retry_at = self._retry_at()
        return CircuitOpenError(self.name, retry_at=retry_at, retry_in=max(0.0, retry_at - now))

    def _retry_at(self) -> float:
        if self._state == "open":
            return self._opened_at + self._settings.recovery_timeout_seconds
        return min(self._probes.values()) + self._settings.max_half_open_seconds

    def _settle(self, permit: Permit, outcome: _Outcome) -> None:
        now = self._clock()
        with self._lock:
            if permit._settled:
                return
            permit._settled = True
            self._advance(now)
            self._successes += outcome == "success"
            self._failures += outcome == "failure"
            if permit._epoch == self._epoch:
                self._record(permit, outcome, now)
            events = self._drain_events()
        self._log(events)

    def _record(self, permit: Permit, outcome: _Outcome, now: float) -> None:
        if permit._probe is not None:
            self._record_probe(permit._probe, outcome, now)
        elif outcome != "release":
            self._record_closed(failed=outcome == "failure", now=now)

    def _record_probe(self, probe: int, outcome: _Outcome, now: float) -> None:
        self._probes.pop(probe, None)
        if outcome == "failure":
            self._to_open(at=now)
        elif outcome == "success":
            self._probe_successes += 1
            if self._probe_successes >= self._settings.success_threshold:
                self._to_closed()

    def _record_closed(self, *, failed: bool, now: float) -> None:
        self._consecutive = self._consecutive + 1 if failed else 0
        if len(self._window) == self._window.maxlen:
            self._window_failures -= self._window[0]
        self._window.append(failed)
        self._window_failures += failed
        if self._should_open():
            self._to_open(at=now)

    def _should_open(self) -> bool:
        threshold = self._settings.failure_rate_threshold
        if threshold is None:
            return self._consecutive >= self._settings.failure_threshold
        rate = self._failure_rate()
        return rate is not None and rate >= threshold

    def _failure_rate(self) -> float | None:
        if len(self._window) < self._settings.minimum_calls:
            return None
        return self._window_failures / len(self._window)

    # -- transitions (lock held) ----------------------------------------------------------------

    def _advance(self, now: float) -> None:
        # At most open -> half_open, or half_open -> open -> half_open: entering a state
        # clears the probes, so the loop ends.
        while True:
            due = self._retry_at() if self._state == "open" or self._probes else None
            if due is None or now < due:
                return
            if self._state == "open":
                self._enter("half_open")
            else:
                self._to_open(at=due)  # a hung probe: reopen at its deadline (resilience4j#903)

    def _to_open(self, *, at: float) -> None:
        self._enter("open")
        self._opened_at = at
        self._opened_count += 1

    def _to_closed(self) -> None:
        self._enter("closed")
        self._consecutive = 0
        self._window.clear()
        self._window_failures = 0

    def _enter(self, state: State) -> None:
        if state != self._state:
            self._events.append((self._state, state))
        self._state = state
        self._epoch += 1
        self._probes = {}
        self._probe_successes = 0

    def _drain_events(self) -> list[tuple[State, State]]:
        events, self._events = self._events, []
        return events

    def _log(self, events: list[tuple[State, State]]) -> None:
        # Outside the lock: a logging handler may be slow, or even call through this breaker.
        for old, new in events:
            level = logging.WARNING if new == "open" else logging.INFO
            logger.log(level, "circuit %r: %s -> %s", self.name, old, new)

    # -- wrapping calls -------------------------------------------------------------------------

    @contextmanager
    def guard(self) -> Iterator[Permit]:
        """Run a block under a permit.

        A clean exit counts as success and an exception as failure, unless the block
        settled the permit itself, the exception is a cancellation, or ``is_failure``
        rejects it (then the permit is released).

        Raises
        ------
        CircuitOpenError
            Before the block runs, when no permit is available.
        """
        permit = self.acquire()
        try:
            yield permit
        except BaseException as exc:
            self._settle_after(permit, exc)
            raise
        permit.success()

    def _settle_after(self, permit: Permit, exc: BaseException) -> None:
        outcome: _Outcome = "release"
        try:
            if isinstance(exc, Exception) and not isinstance(
                exc, concurrent.futures.CancelledError
            ):
                counted = self._is_failure is None or self._is_failure(exc)
                outcome = "failure" if counted else "release"
        finally:
            self._settle(permit, outcome)

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn(*args, **kwargs)`` under a permit (see :meth:`guard`)."""
        with self.guard():
            return fn(*args, **kwargs)

    async def acall(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``fn(*args, **kwargs)`` under a permit (see :meth:`guard`)."""
        with self.guard():
            return await fn(*args, **kwargs)

    @overload
    def __call__(
        self, fn: Callable[P, Coroutine[Any, Any, T]]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...

    @overload
    def __call__(self, fn: Callable[P, T]) -> Callable[P, T]: ...

    def __call__(self, fn: Callable[P, Any]) -> Callable[P, Any]:
        """Decorate a function (sync or ``async def``) so every call goes through the breaker."""
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                return await self.acall(fn, *args, **kwargs)

            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            return self.call(fn, *args, **kwargs)

        return wrapper
