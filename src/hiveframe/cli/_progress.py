"""A progress line on stderr: pages or batches, records and rate."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Pages, records and rate on one self-rewriting stderr line; silent when not a terminal."""

    def __init__(self, stream: TextIO = sys.stderr, *, enabled: bool | None = None) -> None:
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self.pages = 0
        self.records = 0
        self.started = time.monotonic()
        self._last_draw = 0.0

    def update(self, records: int) -> None:
        self.pages += 1
        self.records += records
        now = time.monotonic()
        if self.enabled and now - self._last_draw >= 0.1:
            self._last_draw = now
            self._draw("\r")

    def done(self) -> None:
        if self.enabled:
            self._draw("\r")
            self.stream.write("\n")

    def _draw(self, prefix: str) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.records / elapsed
        self.stream.write(
            f"{prefix}{self.pages} pages, {self.records:,} records, {rate:,.0f} records/s"
        )
        self.stream.flush()
