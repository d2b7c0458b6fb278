"""Waiting for a background stream in tests: poll a condition, never assert on time."""

from __future__ import annotations

import time
from collections.abc import Callable

WAIT = 20.0


def eventually(predicate: Callable[[], bool], timeout: float = WAIT) -> None:
    """Return once ``predicate()`` is true; fail after ``timeout`` seconds (a hang guard)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true")
        time.sleep(0.005)
