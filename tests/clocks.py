"""A fake clock for the drivers: tests of waits run in microseconds, not seconds."""

from __future__ import annotations

from collections.abc import Callable

import anyio


class FakeClock:
    """A clock whose ``sleep`` records the wait and advances time instead of waiting.

    ``on_sleep`` runs at each sleep, so a test can change the world "while" time passes.
    """

    def __init__(self, start: float = 1_000.0, wall: float = 1_800_000_000.0) -> None:
        self.now = start
        self.wall_offset = wall - start
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[float], None] | None = None

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now + self.wall_offset

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(seconds)
        await anyio.sleep(0)
