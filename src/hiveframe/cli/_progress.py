"""Progress on stderr: a tqdm bar of records, with the rate and, once the total is known, the
percentage and the time left; pages or batches, retries and rate-limit waits beside it.

Silent when stderr is not a terminal (a pipe, a log file, CI), and then tqdm is not even
imported. Log lines (``--verbose``) go through :meth:`Progress.log_handler`, which prints
them above the bar instead of through it.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

# Counts are exact ({n:,}), rates scaled (12.3k records/s); the bar appears with the total.
_COUNTER = "{n:,}{unit} [{elapsed}, {rate_fmt}{postfix}]"
_BAR = (
    "{percentage:3.0f}%|{bar}| {n:,}/{total:,}{unit} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"
)


class Progress:
    """One progress bar of ``unit`` on ``stream``; silent when it is not a terminal.

    Parameters
    ----------
    stream
        Where the bar goes (stderr).
    enabled
        ``None``: when ``stream`` is a terminal; ``False`` for ``--quiet``.
    unit
        What is counted (``"records"``).
    """

    def __init__(
        self, stream: TextIO = sys.stderr, *, enabled: bool | None = None, unit: str = "records"
    ) -> None:
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self._bar: Any = None
        if self.enabled:
            from tqdm import tqdm

            self._bar = tqdm(
                file=stream,
                unit=f" {unit}",
                unit_scale=True,
                bar_format=_COUNTER,
                dynamic_ncols=True,
                smoothing=0.1,  # the rate over the last pages, not the last one
                mininterval=0.1,
            )

    def show(self, done: int, *, total: int | None = None, **counts: int) -> None:
        """Redraw with ``done`` units of ``total`` (if known) and ``counts`` beside them
        (``pages=3, retries=1``); a count of 0 other than the first is left out."""
        bar = self._bar
        if bar is None:
            return
        if total is not None and total != bar.total:
            bar.total, bar.bar_format = max(total, done), _BAR
        shown = [
            f"{name.replace('_', ' ')} {value:,}"
            for position, (name, value) in enumerate(counts.items())
            if value or position == 0
        ]
        bar.set_postfix_str(", ".join(shown), refresh=False)
        bar.update(done - bar.n)

    def done(self) -> None:
        """Draw the last state and leave the bar on its line."""
        if self._bar is not None:
            self._bar.close()

    def log_handler(self) -> logging.Handler:
        """A handler that writes log records to ``stream`` without breaking the bar."""
        if self._bar is None:
            return logging.StreamHandler(self.stream)
        return _AboveTheBar(self.stream)


class _AboveTheBar(logging.Handler):
    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        try:
            tqdm.write(self.format(record), file=self.stream)
        except Exception:
            self.handleError(record)
