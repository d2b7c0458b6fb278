"""A client-side rate limiter: a token bucket that hands out send times instead of sleeping.

It is the Generic Cell Rate Algorithm (GCRA), the token bucket written with one number, the
"theoretical arrival time" (TAT) of the next request: each reservation takes the slot at
``max(TAT, now)`` less the burst allowance and pushes TAT one interval on. Reservations
therefore queue up in the order they were made, and concurrent callers never rush a slot.

On top of its own rate the limiter keeps to the quota the server reports in its responses
(``RateLimit``, ``RateLimit-Remaining``, ``X-RateLimit-Remaining``... read by
:mod:`hiveframe._protocol.ratelimit_headers`; the rules are in :mod:`._quota`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping

from hiveframe._protocol.ratelimit_headers import parse_quota
from hiveframe._validate import optional_seconds, require_int
from hiveframe.errors import ConfigError, RateLimitWaitTooLong
from hiveframe.resilience._quota import QuotaWindow, observe, place
from hiveframe.resilience._retry import Clock

DEFAULT_MAX_WAIT_SECONDS = 300.0
"""The longest a request waits for its slot unless ``max_wait_seconds`` says otherwise."""


class RateLimiter:
    """Space out the requests of one source or sink: ``rate`` per second, ``burst`` at once,
    and never more than the server's quota allows.

    Sans-I/O: :meth:`reserve` books a slot and returns how long the caller must wait before
    sending; the caller sleeps, sends, and hands the response's headers to :meth:`observe`.
    Thread-safe and fair: concurrent reservations get successive slots. A server's ``429``
    with ``Retry-After`` goes to :meth:`pause_for`, which holds back every later reservation,
    so concurrent requests stop piling on.

    The quota a response reports (``RateLimit``/``RateLimit-Policy``, ``RateLimit-Limit``/
    ``-Remaining``/``-Reset``, ``X-RateLimit-*``) is kept to: requests still unanswered are
    taken as counted, half of what remains may go at once and the rest is spread until the
    reset, and once nothing remains the next request waits for the reset. Every session
    follows those headers; a limiter of its own is built when none is given.

    Parameters
    ----------
    rate
        Requests per second, > 0 (``0.5`` = one request every two seconds); ``None`` for no
        rate of its own, only the server's quota (and pauses).
    burst
        Requests that may go at once after an idle spell. ``1`` = strict spacing.
    clock
        Monotonic seconds. Injected so tests run on a fake clock.
    max_wait_seconds
        The longest one request may wait for its slot (300 s). A longer wait (a quota that
        resets in an hour, a rate too slow for the requests queued) raises
        :class:`~hiveframe.errors.RateLimitWaitTooLong` at once instead of sleeping.
        ``None`` waits as long as it takes.

    Raises
    ------
    ConfigError
        ``rate`` is not a positive number (``option="rate_limit"``), ``burst`` < 1, or
        ``max_wait_seconds`` is not a positive number of seconds.

    Example
    -------
    >>> limiter = RateLimiter(10, clock=lambda: 0.0)
    >>> [round(limiter.reserve(), 2) for _ in range(3)]
    [0.0, 0.1, 0.2]
    """

    def __init__(
        self,
        rate: float | None = None,
        *,
        burst: int = 1,
        clock: Clock = time.monotonic,
        max_wait_seconds: float | None = DEFAULT_MAX_WAIT_SECONDS,
    ) -> None:
        if rate is not None:
            if isinstance(rate, bool) or not isinstance(rate, (int, float)):
                reason = "must be a number of requests per second > 0"
                raise ConfigError("rate_limit", rate, reason)
            if not (math.isfinite(rate) and rate > 0):
                raise ConfigError("rate_limit", rate, "must be a finite number of requests/s > 0")
        self._rate = None if rate is None else float(rate)
        self._burst = require_int("burst", burst, minimum=1)
        self._max_wait = optional_seconds("max_wait_seconds", max_wait_seconds)
        self._interval = 0.0 if self._rate is None else 1.0 / self._rate
        self._allowance = (self._burst - 1) * self._interval  # how far ahead of TAT may go
        self._clock = clock
        self._lock = threading.Lock()
        self._tat = -math.inf
        self._paused_until = -math.inf
        self._quota: QuotaWindow | None = None
        self._in_flight = 0

    @property
    def rate(self) -> float | None:
        """Requests per second, or ``None`` when only the server's quota limits."""
        return self._rate

    @property
    def max_wait_seconds(self) -> float | None:
        """The longest one request may wait for its slot."""
        return self._max_wait

    @property
    def burst(self) -> int:
        """Requests that may go at once after an idle spell."""
        return self._burst

    def reserve(self) -> float:
        """Book the next free slot, counting the request as in flight until :meth:`observe`.

        Returns
        -------
        float
            Seconds to wait before sending (``0.0`` when the request may go now). The slot
            is taken even if the caller then gives up (it still calls :meth:`observe`).

        Raises
        ------
        RateLimitWaitTooLong
            The wait would be longer than ``max_wait_seconds``; no slot is taken.
        """
        now = self._clock()
        with self._lock:
            tat = max(self._tat, now)
            send_at, quota = place(self._quota, max(tat - self._allowance, now))
            wait = send_at - now
            if self._max_wait is not None and wait > self._max_wait:
                quota_bound = self._quota is not None and send_at >= self._quota.reset
                raise RateLimitWaitTooLong(
                    seconds=wait,
                    limit=self._max_wait,
                    why="the server's quota is used up until then"
                    if quota_bound
                    else "the requests ahead of it take that long at this rate",
                )
            self._quota = quota
            self._tat = max(tat, send_at) + self._interval
            self._in_flight += 1
        return wait

    def observe(
        self,
        headers: Mapping[str, str] | None,
        *,
        wall_time: float | None = None,
        round_trip: float = 0.0,
    ) -> None:
        """A reserved request ended: fold in the quota its response reports, if any.

        Call it once per :meth:`reserve`, with the response's headers, or ``None`` when the
        request failed without a response (or its answer is not about this quota).

        Parameters
        ----------
        headers
            The response's headers (``RateLimit``, ``X-RateLimit-Remaining``...).
        wall_time
            Unix time now, to read a reset given as a Unix time; ``time.time()`` by default.
        round_trip
            Seconds from sending the request to its answer: the reset it reports was
            computed up to that long ago.
        """
        found = None
        if headers is not None:
            found = parse_quota(headers, now=time.time() if wall_time is None else wall_time)
        now = self._clock()
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            if found is not None:
                self._quota = observe(
                    self._quota,
                    found,
                    now=now,
                    in_flight=self._in_flight,
                    round_trip=round_trip,
                )

    def pause_until(self, until: float) -> None:
        """Hold back every later reservation until ``until`` (on this limiter's clock).

        After the pause requests resume at ``rate``, without a burst: the server just said
        it was overwhelmed. Reservations already handed out keep their times; see
        :meth:`pause_remaining`.

        Raises
        ------
        ValueError
            ``until`` is not finite.
        """
        if not math.isfinite(until):
            raise ValueError(f"pause_until() needs a finite time, got {until!r}")
        now = self._clock()
        if until <= now:
            return
        with self._lock:
            self._paused_until = max(self._paused_until, until)
            # The first slot after the pause is ``until``; the burst allowance restarts empty.
            self._tat = max(self._tat, until + self._allowance)

    def pause_for(self, seconds: float) -> None:
        """Hold back every later reservation for ``seconds`` from now (e.g. a ``Retry-After``).

        Raises
        ------
        ValueError
            ``seconds`` is not finite.
        """
        self.pause_until(self._clock() + seconds)

    def pause_remaining(self) -> float:
        """Seconds until the current pause ends (``0.0`` when there is none).

        A caller that reserved before a pause began can check this after its wait.
        """
        with self._lock:
            paused_until = self._paused_until
        return max(0.0, paused_until - self._clock())

    def __repr__(self) -> str:
        if self._rate is None:
            return "<RateLimiter server quota only>"
        return f"<RateLimiter rate={self._rate:g}/s burst={self._burst}>"
