"""Retry decisions: which requests may be retried, how long to wait, when to give up.

Sans-I/O: :meth:`RetryState.next_delay` returns a number of seconds and the caller sleeps.
The backoff is exponential with "full jitter" (AWS Architecture Blog, "Exponential Backoff
And Jitter", 2015): the wait before retry *n* is uniform in ``[0, min(cap, base * mult**(n-1))]``.
A server's ``Retry-After`` (RFC 9110 §10.2.3) is a floor that jitter may only add to.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Final

from hiveframe._validate import require_bool, require_int, require_multiplier, require_seconds
from hiveframe.errors import ConfigError, RetryAfterTooLong

Clock = Callable[[], float]

DEFAULT_RETRY_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
DEFAULT_RETRY_METHODS: Final = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})

# Used when no RNG is injected. ``random.Random`` methods are safe to share between threads.
_SHARED_RNG: Final = random.Random()


def _status_set(option: str, value: object) -> frozenset[int]:
    statuses = _as_frozenset(option, value)
    for status in statuses:
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise ConfigError(option, value, f"{status!r} is not an HTTP status (100-599)")
    return frozenset(statuses)


def _method_set(option: str, value: object) -> frozenset[str]:
    methods = _as_frozenset(option, value)
    if not all(isinstance(m, str) and m.strip() for m in methods):
        raise ConfigError(option, value, "must hold HTTP method names such as 'GET'")
    return frozenset(m.strip().upper() for m in methods)


def _as_frozenset(option: str, value: object) -> frozenset[Any]:
    reason = "must be a set (for example frozenset({...}))"
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ConfigError(option, value, reason)
    try:
        return frozenset(value)
    except TypeError:  # unhashable members
        raise ConfigError(option, value, reason) from None


# -- the policy ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RetryConfig:
    """How a logical request is retried: bounded in attempts **and** in total time.

    Parameters
    ----------
    max_attempts
        Total attempts, the first one included (``1`` = no retries).
    initial_delay_seconds, multiplier, max_delay_seconds
        The backoff bound before retry *n* is
        ``min(max_delay_seconds, initial_delay_seconds * multiplier ** (n - 1))``.
    jitter
        Full jitter: wait a uniform random time in ``[0, bound]``. ``False`` waits the bound.
    retry_statuses
        HTTP statuses worth retrying. 501 is deliberately absent: it will not change.
    respect_retry_after
        Wait at least what a ``Retry-After`` header asks for.
    max_retry_after_seconds
        A longer ``Retry-After`` raises :class:`~hiveframe.errors.RetryAfterTooLong` at once
        instead of sleeping: unbounded server-chosen waits are a denial-of-service vector.
    retry_methods
        Methods retried without further ado (idempotent per RFC 9110 §9.2.2).
    retry_non_idempotent
        Opt in to retrying every method, POST and PATCH included (duplicates become possible).
    total_timeout_seconds
        Bound on the time across attempts, waits included, from :meth:`start`. ``None`` means
        unbounded.

    Raises
    ------
    ConfigError
        A value is out of range; the error names the option.

    Example
    -------
    >>> policy = RetryConfig(max_attempts=3, jitter=False)
    >>> state = policy.start()
    >>> state.record_attempt()
    >>> state.next_delay()
    0.5
    >>> policy.allows_method("POST"), policy.allows_method("POST", idempotency_key=True)
    (False, True)
    """

    max_attempts: int = 5
    initial_delay_seconds: float = 0.5
    multiplier: float = 2.0
    max_delay_seconds: float = 30.0
    jitter: bool = True
    retry_statuses: AbstractSet[int] = DEFAULT_RETRY_STATUSES
    respect_retry_after: bool = True
    max_retry_after_seconds: float = 60.0
    retry_methods: AbstractSet[str] = DEFAULT_RETRY_METHODS
    retry_non_idempotent: bool = False
    total_timeout_seconds: float | None = 60.0

    def __post_init__(self) -> None:
        require_int("max_attempts", self.max_attempts, minimum=1)
        self._normalize("initial_delay_seconds", require_seconds)
        self._normalize("max_delay_seconds", require_seconds)
        self._normalize("max_retry_after_seconds", require_seconds)
        self._normalize("multiplier", require_multiplier)
        self._normalize("retry_statuses", _status_set)
        self._normalize("retry_methods", _method_set)
        for flag in ("jitter", "respect_retry_after", "retry_non_idempotent"):
            require_bool(flag, getattr(self, flag))
        if self.total_timeout_seconds is not None:
            self._normalize("total_timeout_seconds", _require_positive_seconds)

    def _normalize(self, option: str, check: Callable[[str, Any], object]) -> None:
        # Frozen: the one sanctioned write, storing the checked (canonical) form of a value.
        object.__setattr__(self, option, check(option, getattr(self, option)))

    def allows_method(self, method: str, *, idempotency_key: bool = False) -> bool:
        """Whether a request with this method may be retried at all.

        Parameters
        ----------
        method
            The HTTP method, any case.
        idempotency_key
            The request carries an ``Idempotency-Key``, so the server can drop duplicates.

        Returns
        -------
        bool
            True for ``retry_methods``, and for every method when ``retry_non_idempotent``
            is set or ``idempotency_key`` is true.
        """
        if idempotency_key or self.retry_non_idempotent:
            return True
        return method.strip().upper() in self.retry_methods

    def is_retriable_status(self, status: int) -> bool:
        """Whether an HTTP status is worth another attempt (it is in ``retry_statuses``)."""
        return status in self.retry_statuses

    def backoff_bound(self, retry: int) -> float:
        """The longest backoff wait before retry number ``retry`` (1 = the first retry)."""
        if self.initial_delay_seconds == 0:
            return 0.0
        try:
            grown = self.initial_delay_seconds * self.multiplier ** max(retry - 1, 0)
        except OverflowError:
            return self.max_delay_seconds
        return min(self.max_delay_seconds, grown)

    def start(
        self, *, clock: Clock = time.monotonic, rng: random.Random | None = None
    ) -> RetryState:
        """Begin one logical request; the total time budget starts now.

        Parameters
        ----------
        clock
            Monotonic seconds. Injected so tests run on a fake clock.
        rng
            Source of jitter; pass a seeded ``random.Random`` for reproducible waits.

        Returns
        -------
        RetryState
            The per-request counter that answers "retry, and after how long?".
        """
        return RetryState(self, clock=clock, rng=rng)


def _require_positive_seconds(option: str, value: object) -> float:
    return require_seconds(option, value, positive=True)


class RetryState:
    """The retry bookkeeping of one logical request. Create it with :meth:`RetryConfig.start`.

    Call :meth:`record_attempt` before each attempt and :meth:`next_delay` after each
    retriable failure; sleep for what it returns, or give up when it returns ``None``.

    Example
    -------
    >>> state = RetryConfig(max_attempts=2, jitter=False).start()
    >>> state.record_attempt()
    >>> state.next_delay(retry_after=3.0)
    3.0
    >>> state.record_attempt()
    >>> state.next_delay() is None
    True
    """

    __slots__ = ("_attempts", "_clock", "_deadline", "_rng", "config")

    def __init__(
        self,
        config: RetryConfig,
        *,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._rng = rng if rng is not None else _SHARED_RNG
        self._attempts = 0
        total = config.total_timeout_seconds
        self._deadline = None if total is None else clock() + total

    @property
    def attempts(self) -> int:
        """Attempts made so far."""
        return self._attempts

    def record_attempt(self) -> None:
        """Count an attempt; call it right before sending."""
        self._attempts += 1

    def deadline_remaining(self) -> float | None:
        """Seconds left in the total time budget (never negative), or None when unbounded."""
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - self._clock())

    def next_delay(self, *, retry_after: float | None = None) -> float | None:
        """Decide, after a retriable failure, how long to wait before the next attempt.

        Parameters
        ----------
        retry_after
            Seconds the server asked to wait (a parsed ``Retry-After``), if any.

        Returns
        -------
        float or None
            Seconds to wait, or None to give up: every attempt is used, or waiting would
            pass the total time budget. With a ``Retry-After`` the wait is at least
            ``max(retry_after, 0)``; jitter only adds to it. Jitter never spends past the
            budget, so only a required wait can make the budget give up.

        Raises
        ------
        RetryAfterTooLong
            ``retry_after`` is above ``max_retry_after_seconds`` (and Retry-After is
            respected): failing now beats sleeping for as long as the server likes.
        """
        if self._attempts >= self.config.max_attempts:
            return None
        floor, spread = self._wait_range(retry_after)
        remaining = self.deadline_remaining()
        if remaining is not None:
            if remaining <= 0 or floor > remaining:
                return None
            spread = min(spread, remaining - floor)
        return floor + self._rng.uniform(0.0, spread) if spread > 0 else floor

    def limit_reached(self) -> str:
        """The limit that made :meth:`next_delay` give up, as error messages name it.

        Example
        -------
        >>> state = RetryConfig(max_attempts=1).start()
        >>> state.record_attempt()
        >>> state.next_delay(), state.limit_reached()
        (None, 'max_attempts=1 reached')
        """
        if self._attempts >= self.config.max_attempts:
            return f"max_attempts={self.config.max_attempts} reached"
        return f"total_timeout_seconds={self.config.total_timeout_seconds:g} would be passed"

    def _wait_range(self, retry_after: float | None) -> tuple[float, float]:
        # (required wait, random extra on top of it)
        cfg = self.config
        bound = cfg.backoff_bound(max(self._attempts, 1))
        spread = bound if cfg.jitter else 0.0
        if retry_after is None or math.isnan(retry_after) or not cfg.respect_retry_after:
            return (0.0, spread) if cfg.jitter else (bound, 0.0)
        if retry_after > cfg.max_retry_after_seconds:
            raise RetryAfterTooLong(seconds=retry_after, limit=cfg.max_retry_after_seconds)
        return max(retry_after, 0.0), spread


DEFAULT_RETRY: Final = RetryConfig()
