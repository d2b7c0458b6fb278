"""What a streaming source hands its consumer: records, each group with the position after it.

A source emits records in *units* (one server-sent event, one page of a poll). A unit's
position is where the source stands once its records are delivered; it is plain JSON, the
thing a checkpoint saves. Positions are exact only between units, so consumers commit
positions at unit boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Emission", "SourceStats"]


@dataclass(frozen=True, slots=True)
class Emission:
    """One unit of a stream: its records (possibly none) and the position after them.

    Examples
    --------
    >>> Emission([{"id": 1}], {"kind": "sse", "last_event_id": "1"}).records
    [{'id': 1}]
    """

    records: list[Any]
    position: dict[str, Any]


@dataclass
class SourceStats:
    """Counters a streaming source keeps while it runs (read by stream metrics).

    Attributes
    ----------
    polls
        Polls made (polling sources).
    not_modified
        Polls answered ``304 Not Modified``: nothing parsed.
    connections
        Event streams opened (SSE sources).
    reconnects
        Reconnection waits started (SSE sources).
    errors
        Failures the source recovered from (a failed poll, a dropped connection).
    last_error
        The latest such failure, as text.
    """

    polls: int = 0
    not_modified: int = 0
    connections: int = 0
    reconnects: int = 0
    errors: int = 0
    last_error: str | None = None

    def error(self, exc: BaseException) -> None:
        """Count a failure the source recovered from."""
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
