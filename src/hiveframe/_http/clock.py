"""Time for the drivers: one object that tells time and sleeps, so tests can replace it.

The sans-I/O policies take a ``clock`` callable; the drivers take a :class:`Clock` and pass
its ``monotonic`` on. A fake clock whose ``sleep`` only records and advances makes backoff,
Retry-After and polling tests run in milliseconds.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """What the drivers need of time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps (for waits and deadlines)."""

    def time(self) -> float:
        """Wall-clock epoch seconds (for HTTP dates such as Retry-After)."""

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


SYSTEM_CLOCK = SystemClock()
