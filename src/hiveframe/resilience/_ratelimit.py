"""A client-side rate limiter: a token bucket that hands out send times instead of sleeping.

It is the Generic Cell Rate Algorithm (GCRA), the token bucket written with one number, the
"theoretical arrival time" (TAT) of the next request: each reservation takes the slot at
``max(TAT, now)`` less the burst allowance and pushes TAT one interval on. Reservations
therefore queue up in the order they were made, and concurrent callers never rush a slot.
"""

from __future__ import annotations

import math
import threading
import time

from hiveframe._validate import require_int
from hiveframe.errors import ConfigError
from hiveframe.resilience._retry import Clock


class RateLimiter:
    """Space out the requests of one source or sink: ``rate`` per second, ``burst`` at once.

    Sans-I/O: :meth:`reserve` books a slot and returns how long the caller must wait before
    sending; the caller sleeps. Thread-safe and fair: concurrent reservations get
    successive slots. A server's ``429`` with ``Retry-After`` goes to :meth:`pause_for`,
    which holds back every later reservation, so concurrent requests stop piling on.

    Parameters
    ----------
    rate
        Requests per second, > 0 (``0.5`` = one request every two seconds).
    burst
        Requests that may go at once after an idle spell. ``1`` = strict spacing.
    clock
        Monotonic seconds. Injected so tests run on a fake clock.

    Raises
    ------
    ConfigError
        ``rate`` is not a positive number (``option="rate_limit"``), or ``burst`` < 1.

    Example
    -------
    >>> limiter = RateLimiter(10, clock=lambda: 0.0)
    >>> [round(limiter.reserve(), 2) for _ in range(3)]
    [0.0, 0.1, 0.2]
    """

    def __init__(self, rate: float, *, burst: int = 1, clock: Clock = time.monotonic) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)):
            raise ConfigError("rate_limit", rate, "must be a number of requests per second > 0")
        if not (math.isfinite(rate) and rate > 0):
            raise ConfigError("rate_limit", rate, "must be a finite number of requests/s > 0")
        self._rate = float(rate)
        self._burst = require_int("burst", burst, minimum=1)
        self._interval = 1.0 / self._rate
        self._allowance = (self._burst - 1) * self._interval  # how far ahead of TAT may go
        self._clock = clock
        self._lock = threading.Lock()
        self._tat = -math.inf
        self._paused_until = -math.inf

    @property
    def rate(self) -> float:
        """Requests per second."""
        return self._rate

    @property
    def burst(self) -> int:
        """Requests that may go at once after an idle spell."""
        return self._burst

    def reserve(self) -> float:
        """Book the next free slot.

        Returns
        -------
        float
            Seconds to wait before sending (``0.0`` when the request may go now). The slot
            is taken even if the caller then gives up.
        """
        now = self._clock()
        with self._lock:
            tat = max(self._tat, now)
            send_at = max(tat - self._allowance, now)
            self._tat = tat + self._interval
        return send_at - now

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
        return f"<RateLimiter rate={self._rate:g}/s burst={self._burst}>"
