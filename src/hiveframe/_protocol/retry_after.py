"""Parse the ``Retry-After`` response header (RFC 9110 §10.2.3).

``Retry-After = HTTP-date / delay-seconds``. HTTP-date has one preferred form (IMF-fixdate)
and two obsolete ones recipients must still accept (RFC 850 and asctime, RFC 9110 §5.6.7).
"""

from __future__ import annotations

import re
from datetime import timezone

# delay-seconds is 1*DIGIT; a decimal fraction is tolerated because some servers send one.
# ASCII digits only: ``\d`` would also accept other scripts' digits.
_DELAY_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")
# Longer than any sensible header; keeps the date parser away from megabyte junk.
_MAX_LENGTH = 64


def parse_retry_after(value: str, *, now: float) -> float | None:
    """Seconds to wait according to a ``Retry-After`` value.

    Parameters
    ----------
    value
        The header's value: delay-seconds (``"120"``, also ``"1.5"``) or an HTTP-date
        (``"Sun, 06 Nov 1994 08:49:37 GMT"``, or the obsolete RFC 850 and asctime forms).
    now
        The current wall-clock time as a Unix timestamp (``time.time()``), to turn a date
        into a delay.

    Returns
    -------
    float or None
        Seconds from ``now``, ``0.0`` for a date in the past, or None when the value is
        neither form (``"soon"``, ``"-1"``, empty): the caller falls back to its backoff.

    Example
    -------
    >>> parse_retry_after("120", now=0.0)
    120.0
    >>> parse_retry_after("Thu, 01 Jan 1970 00:01:00 GMT", now=30.0)
    30.0
    >>> parse_retry_after("soon", now=0.0) is None
    True
    """
    text = value.strip()
    if not text or len(text) > _MAX_LENGTH:
        return None
    if _DELAY_SECONDS.fullmatch(text):
        return float(text)
    # Imported for a date only (most servers send seconds): the email package is a start-up
    # cost every read would pay.
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        # asctime has no zone and "-0000" means "zone unknown"; HTTP-dates are always GMT.
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now)
