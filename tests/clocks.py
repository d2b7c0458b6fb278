"""A fake clock for the drivers: tests of waits run in microseconds, not seconds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextvars import ContextVar
from typing import NamedTuple

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


class Sleep(NamedTuple):
    task: str
    at: float  # the sleeper's time when it began to sleep
    seconds: float


class TaskClock:
    """A fake clock on which every asyncio task keeps its own time.

    :class:`FakeClock` moves one shared time on at every sleep, so while task A sleeps,
    every other task is already "later": it cannot show whether task B waited for a pause
    that A started. Here a sleep moves only the sleeper's time, as if every task really
    waited and the network took no time at all; a new task starts at the time of the task
    that created it. :attr:`sleeps` records every sleep in the order they happened.
    """

    def __init__(self, start: float = 1_000.0, wall: float = 1_800_000_000.0) -> None:
        self.start = start
        self.wall_offset = wall - start
        self.sleeps: list[Sleep] = []
        self._elapsed: ContextVar[float] = ContextVar(f"task_clock_{id(self)}", default=0.0)

    def monotonic(self) -> float:
        return self.start + self._elapsed.get()

    def time(self) -> float:
        return self.monotonic() + self.wall_offset

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(Sleep(current_task_name(), self.monotonic(), seconds))
        self._elapsed.set(self._elapsed.get() + seconds)  # this task's context only
        await anyio.sleep(0)


def current_task_name() -> str:
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running loop
        return "-"
    return task.get_name() if task is not None else "-"
