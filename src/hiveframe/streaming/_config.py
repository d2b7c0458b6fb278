"""Stream processor settings, stream states and metrics."""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from hiveframe._http.clock import SYSTEM_CLOCK, Clock
from hiveframe._validate import require_int, require_seconds
from hiveframe.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class StreamConfig:
    """How a :class:`StreamProcessor` runs its streams.

    Parameters
    ----------
    checkpoint_dir
        Folder where each stream saves its source's position (``<name>.json``) after the sink
        acknowledged the records it covers, and resumes from on start. With ``None`` the
        position lives in memory only: starting the same stream again resumes, a new
        processor begins where the source begins.
    queue_max
        Records held between source and sink (transformed, not yet in a batch). When it is
        full the source is not read: a slow sink slows the source and memory stays bounded
        by ``queue_max`` plus one batch.
    batch_size
        Records per sink call when a stream does not call :meth:`Stream.batch`.
    batch_interval_seconds
        Longest time a record waits for its batch to fill (``None``: wait for the size).
    clock
        Where time comes from (batch intervals, lag); tests pass a fake clock.

    Raises
    ------
    ConfigError
        A value is out of range; the error names the option.

    Examples
    --------
    >>> StreamConfig(checkpoint_dir="/tmp/hiveframe-checkpoints", queue_max=1000).batch_size
    1000
    """

    checkpoint_dir: str | os.PathLike[str] | None = None
    queue_max: int = 10_000
    batch_size: int = 1000
    batch_interval_seconds: float | None = 1.0
    clock: Clock = SYSTEM_CLOCK

    def __post_init__(self) -> None:
        if self.checkpoint_dir is not None and not isinstance(
            self.checkpoint_dir, str | os.PathLike
        ):
            raise ConfigError("checkpoint_dir", self.checkpoint_dir, "a folder path, or None")
        folder = None if self.checkpoint_dir is None else Path(self.checkpoint_dir)
        if folder is not None and folder.exists() and not folder.is_dir():
            raise ConfigError("checkpoint_dir", str(folder), "is a file, not a folder")
        require_int("queue_max", self.queue_max, minimum=1)
        check_batching(self.batch_size, self.batch_interval_seconds)


def check_batching(size: Any, interval_seconds: Any) -> None:
    """Check a batch size and interval (shared by :class:`StreamConfig` and ``batch()``)."""
    require_int("batch_size", size, minimum=1)
    if interval_seconds is not None:
        require_seconds("batch_interval_seconds", interval_seconds, positive=True)


class StreamStatus(str, enum.Enum):
    """Where a stream is in its life.

    ``CREATED`` → ``RUNNING`` → ``STOPPING`` (a graceful stop drains what was read) →
    ``STOPPED``; or ``COMPLETED`` when the source or ``limit()`` ended it, or ``FAILED``
    (see :attr:`Stream.exception`).
    """

    CREATED = "created"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def terminated(self) -> bool:
        """Whether the stream has ended (stopped, completed or failed)."""
        return self in (StreamStatus.STOPPED, StreamStatus.COMPLETED, StreamStatus.FAILED)


@dataclass(frozen=True)
class StreamMetrics:
    """A snapshot of a stream's counters (for this run; checkpoints keep lifetime totals).

    Attributes
    ----------
    records_in
        Records the source emitted.
    records_out
        Records the sink acknowledged.
    batches
        Batches the sink acknowledged.
    queued
        Records read but not yet acknowledged (queue and current batch).
    queue_peak
        The largest ``queued`` seen: bounded by ``queue_max`` plus one batch.
    lag_seconds
        Age of the oldest record not yet acknowledged (0 when there is none).
    errors
        Failures the source recovered from, plus the one that failed the stream if any.
    reconnects, polls, not_modified
        Source counters: SSE reconnections; polls and ``304 Not Modified`` answers.
    checkpoints
        Checkpoints written.
    last_error
        The latest failure, as text.
    """

    records_in: int = 0
    records_out: int = 0
    batches: int = 0
    queued: int = 0
    queue_peak: int = 0
    lag_seconds: float = 0.0
    errors: int = 0
    reconnects: int = 0
    polls: int = 0
    not_modified: int = 0
    checkpoints: int = 0
    last_error: str | None = None

    @classmethod
    def combine(cls, parts: Iterable[StreamMetrics]) -> StreamMetrics:
        """Totals over several streams (peaks and lag: the largest)."""
        items = list(parts)
        if not items:
            return cls()
        values: dict[str, Any] = {}
        for spec in fields(cls):
            column = [getattr(m, spec.name) for m in items]
            if spec.name in ("queue_peak", "lag_seconds"):
                values[spec.name] = max(column)
            elif spec.name == "last_error":
                values[spec.name] = next((e for e in reversed(column) if e), None)
            else:
                values[spec.name] = sum(column)
        return cls(**values)
