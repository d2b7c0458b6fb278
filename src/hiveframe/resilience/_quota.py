"""The server's request quota as a client tracks it: how many requests may still go out in
the current window, and when each of them may go.

Pure values and functions, no lock and no clock: :class:`~hiveframe.resilience.RateLimiter`
holds a :class:`QuotaWindow`, asks :func:`place` for each request's send time and folds each
response's :class:`~hiveframe._protocol.ratelimit_headers.Quota` in with :func:`observe`.

The rules, chosen so that a client never sends more than the server allows:

- A response's ``remaining`` counts what the server had received when it answered. Requests
  still unanswered may have been counted or not, so they are taken as counted: the estimate
  is ``remaining`` less the requests in flight, and every request sent lowers it by one.
- Within one window the estimate only goes down (answers arrive out of order; the lowest is
  the most recent), and the reset is the earliest one reported (each is at or after the
  server's, since a reset counts from when the server answered). A reset later than the
  window's by more than :data:`RESET_TOLERANCE` starts a new window; so does any answer
  once the window's reset has passed. An answer with an earlier reset comes from the window
  before the one requests are being placed in (they wait for a reset already) and changes
  nothing.
- Resets come in whole seconds and answers take time to arrive, so the server's window may
  end up to ``margin`` (one second plus twice the longest round trip seen) before the reset
  the client computed. A request sent in that last stretch may be counted in either window:
  it counts in both.
- When no request is left the next one waits for the reset, and the window after it is
  assumed to hold ``limit`` requests (the policy's ``q``, or at least one more than the
  largest ``remaining`` seen) for ``length`` seconds (the policy's ``w``, else the longest
  reset seen) until an answer from it says otherwise.
- Half of a window's budget may go at once; the other half is spread evenly over the time
  left until the reset, so a client slows down before the quota runs out instead of stopping
  dead at zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from hiveframe._protocol.ratelimit_headers import Quota

RESET_TOLERANCE = 1.0
"""Seconds two resets may differ by and still be one window (resets come in whole seconds)."""

_MIN_WINDOW = 1.0


@dataclass(frozen=True)
class QuotaWindow:
    """What the client knows of the server's current quota window (monotonic times).

    Attributes
    ----------
    remaining
        Requests that may still be sent before ``reset``.
    reset
        When the window ends and the quota is full again.
    limit
        Requests in a full window.
    length
        A window's length in seconds (as reported, or guessed from the resets seen).
    next_slot
        The earliest time the next spread request may go.
    carried
        Requests placed within ``margin`` of the reset, counted in the next window too.
    margin
        How long before ``reset`` the server's window may already have ended.
    """

    remaining: int
    reset: float
    limit: int
    length: float
    next_slot: float = -math.inf
    carried: int = 0
    margin: float = RESET_TOLERANCE

    def following(self, at: float) -> QuotaWindow:
        """The window that is current at ``at`` (after this one's reset), with a full budget
        less what was carried into it."""
        passed = math.floor((at - self.reset) / self.length) + 1
        carried = self.carried if passed == 1 else 0
        return replace(
            self,
            remaining=max(0, self.limit - carried),
            reset=self.reset + passed * self.length,
            next_slot=at,
            carried=0,
        )


def place(window: QuotaWindow | None, at: float) -> tuple[float, QuotaWindow | None]:
    """When a request that could go at ``at`` may go under ``window``, and the window after it.

    Examples
    --------
    >>> window = QuotaWindow(remaining=1, reset=10.0, limit=4, length=10.0)
    >>> send_at, window = place(window, 0.0)
    >>> send_at, window.remaining
    (0.0, 0)
    >>> send_at, window = place(window, 0.0)  # none left: at the reset, in the next window
    >>> send_at, window.remaining, window.reset
    (10.0, 3, 20.0)
    """
    if window is None:
        return at, None
    if at >= window.reset:
        window = window.following(at)
    if window.remaining <= 0:
        at = window.reset
        window = window.following(at)
    next_slot = window.next_slot
    if window.remaining <= window.limit // 2:  # the spread half of the budget
        at = max(at, next_slot)
        next_slot = at + max(0.0, window.reset - at) / window.remaining
    carried = window.carried + (at >= window.reset - window.margin)
    return at, replace(window, remaining=window.remaining - 1, next_slot=next_slot, carried=carried)


def observe(
    window: QuotaWindow | None,
    quota: Quota,
    *,
    now: float,
    in_flight: int,
    round_trip: float = 0.0,
) -> QuotaWindow:
    """``window`` updated with what one answer reported, ``in_flight`` requests still out.

    ``round_trip`` is how long the answer took to come back (it widens ``margin``).

    Examples
    --------
    >>> window = observe(None, Quota(remaining=5, reset_seconds=10, limit=10), now=0.0,
    ...                  in_flight=2)
    >>> window.remaining, window.reset, window.limit
    (3, 10.0, 10)
    """
    estimate = max(0, quota.remaining - in_flight)
    reset = now + quota.reset_seconds
    seen_limit = quota.remaining + 1 if window is None else max(window.limit, quota.remaining + 1)
    limit = max(1, quota.limit if quota.limit is not None else seen_limit)
    guessed = max(_MIN_WINDOW, quota.reset_seconds, window.length if window else 0.0)
    length = quota.window_seconds or guessed
    margin = max(window.margin if window else 0.0, RESET_TOLERANCE + 2 * round_trip)
    if window is None or now >= window.reset or reset > window.reset + RESET_TOLERANCE:
        next_slot = window.next_slot if window is not None else -math.inf
        return QuotaWindow(estimate, reset, limit, length, next_slot, margin=margin)
    if reset < window.reset - RESET_TOLERANCE:
        return window  # from a window before the one requests are placed in now
    return replace(
        window,
        remaining=min(window.remaining, estimate),
        reset=min(window.reset, reset),
        limit=limit,
        length=length,
        margin=margin,
    )
