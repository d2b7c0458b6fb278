"""What a streaming source hands its consumer: *units*, records with the position after them.

A source delivers records in units (one server-sent event, one page of a poll). A unit's
position is where the source stands once its records are delivered; it is plain JSON, the
thing a checkpoint saves. Units come in *groups* (the events of one network read; a page is a
group of one), so a consumer that wants few async steps takes a group at a time; every unit
of a group keeps its own position.

A consumer that stops inside a unit (a limit that cuts a page) saves a *partial position*
(:func:`partial_position`): the position before the unit plus ``"skip": k``, the records of
the unit already delivered. A source resuming from it restarts at the position before the
unit, reads the unit again and drops its first ``k`` records (:class:`Resume`), so the next
record is the first one not delivered. That is exact as long as the server answers the same
request with the same records in the same order (a page of an ordered collection, the events
after a ``Last-Event-ID``); an SSE event without an id has no position of its own, so one cut
after it is resumed from the last id and records may come twice, never be skipped.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from hiveframe.errors import ConfigError

__all__ = ["SKIP", "Resume", "SourceStats", "StreamKind", "Unit", "UnitSource", "partial_position"]

SKIP = "skip"
"""The key of a partial position: records of the next unit already delivered."""


StreamKind = Literal["poll", "sse"]
"""How a source streams: by polling, or as Server-Sent Events."""


@dataclass(frozen=True, slots=True)
class Unit:
    """One unit of a stream: its records (possibly none) and the position after them.

    Examples
    --------
    >>> Unit([{"id": 1}], {"kind": "sse", "last_event_id": "1"}).records
    [{'id': 1}]
    """

    records: list[Any]
    position: dict[str, Any]


def partial_position(
    start: Mapping[str, Any] | None, records: int, *, kind: StreamKind
) -> dict[str, Any]:
    """The position after the first ``records`` records of the unit that follows ``start``.

    Parameters
    ----------
    start
        The position before the unit (the previous unit's, or where the stream started;
        ``None`` for the very beginning). It may itself be partial: the counts add up.
    records
        Records of the unit delivered, 1 or more and fewer than the unit holds.
    kind
        The source's kind (``"poll"``, ``"sse"``), for a ``start`` of ``None``.

    Examples
    --------
    >>> partial_position({"kind": "sse", "last_event_id": "7"}, 2, kind="sse")
    {'kind': 'sse', 'last_event_id': '7', 'skip': 2}
    >>> partial_position(None, 50, kind="poll")
    {'kind': 'poll', 'skip': 50}
    """
    position: dict[str, Any] = dict(start) if start is not None else {"kind": kind}
    position[SKIP] = position.get(SKIP, 0) + records
    return position


class Resume:
    """Where a source restarts for a position, and the records it then drops.

    Parameters
    ----------
    position
        A unit's position, a partial position (:func:`partial_position`) or ``None``.

    Attributes
    ----------
    position
        The position the source restarts from (without ``"skip"``), or ``None``.
    skip
        Records still to drop from what the source emits from there.

    Raises
    ------
    ConfigError
        ``option="position"`` when ``"skip"`` is not a whole number of at least 1.

    Examples
    --------
    >>> resume = Resume({"kind": "poll", "cursor": 5, "skip": 2})
    >>> resume.position, resume.skip
    ({'kind': 'poll', 'cursor': 5}, 2)
    >>> resume.trim(Unit([1, 2, 3], {"kind": "poll", "cursor": 8})).records
    [3]
    """

    __slots__ = ("position", "skip")

    def __init__(self, position: Mapping[str, Any] | None) -> None:
        self.position: dict[str, Any] | None = dict(position) if position is not None else None
        self.skip = 0
        if self.position is None or SKIP not in self.position:
            return
        skip = self.position.pop(SKIP)
        if isinstance(skip, bool) or not isinstance(skip, int) or skip < 1:
            raise ConfigError(
                "position", dict(position or {}), "'skip' must be a whole number >= 1"
            )
        self.skip = skip

    def trim(self, unit: Unit) -> Unit:
        """``unit`` without the records still to drop."""
        if not self.skip:
            return unit
        dropped = min(self.skip, len(unit.records))
        self.skip -= dropped
        return Unit(unit.records[dropped:], unit.position)


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


class UnitSource(Protocol):
    """A streaming source, as stream runners see it (``HTTPSource``, or its ``SourceSpec``).

    The stream processor, Spark's stream reader and the command line read a source through
    these three members only.
    """

    @property
    def stream_kind(self) -> StreamKind | None:
        """``"poll"``, ``"sse"``, or ``None`` for a source that does not stream."""

    @property
    def redacted_url(self) -> str:
        """The URL with credentials masked (names the source in checkpoints and logs)."""

    def aunits(
        self, position: Mapping[str, Any] | None = None, stats: SourceStats | None = None
    ) -> AsyncGenerator[Unit, None]:
        """The stream's units from ``position`` on, updating ``stats``; see ``HTTPSource``."""
