"""Record iterators over a streaming source, for use without a stream processor.

``HTTPSource.astream()`` returns an :class:`AsyncRecordStream` and ``HTTPSource.stream()`` a
:class:`RecordStream`. Both hand out one record at a time and keep :attr:`position`: the
source's position after the last record handed out. Between units (events, pages) it is the
unit's own position; inside one it is a partial position (the position before the unit and
the records of it handed out), so a stream left in the middle of a page resumes at the next
record. Save it and pass it back as ``position=`` to resume.

Both take units from the source a group at a time (the events of one network read, or one
page), so the async steps, and for the sync iterator the hops to the I/O thread, are paid
once per group rather than once per record.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from hiveframe._http.portal import iterate_sync
from hiveframe._protocol.units import SourceStats, StreamKind, Unit, partial_position

GroupFactory = Callable[[SourceStats], AsyncIterator[list[Unit]]]

_NO_RECORD = object()


class _Units:
    """Records of received units, in order, and the position after each record handed out."""

    def __init__(self, position: dict[str, Any] | None, kind: StreamKind) -> None:
        self._position = position  # before the unit being handed out, after it once used up
        self._kind = kind
        self._units: deque[Unit] = deque()
        self._records: list[Any] = []  # the records of the unit being handed out
        self._next = 0
        self._after: dict[str, Any] | None = None  # that unit's position

    @property
    def position(self) -> dict[str, Any] | None:
        # Built when asked for, not per record: a page of 100 costs one dict, not 99.
        if 0 < self._next < len(self._records):
            return partial_position(self._position, self._next, kind=self._kind)
        return self._position

    def add(self, group: list[Unit]) -> None:
        self._units.extend(group)

    def take(self) -> Any:
        """The next record, or ``_NO_RECORD`` when none is buffered."""
        while self._next >= len(self._records):
            if not self._units:
                return _NO_RECORD
            unit = self._units.popleft()
            if not unit.records:
                self._position = unit.position
                continue
            self._records, self._next, self._after = unit.records, 0, unit.position
        record = self._records[self._next]
        self._next += 1
        if self._next == len(self._records):
            self._position = self._after
        return record


class AsyncRecordStream:
    """Records of a streaming source, for ``async for``.

    Attributes
    ----------
    position
        The source's position after the records handed out so far (plain JSON), or the
        position it started from; exact after every record, inside a unit too.
    stats
        The source's counters: polls, 304s, connections, reconnects, recovered errors.
    kind
        The source's kind, ``"poll"`` or ``"sse"``.

    Examples
    --------
    >>> async def first_ten(source):  # doctest: +SKIP
    ...     async with source.astream() as records:
    ...         return [record async for record in records][:10]
    """

    def __init__(
        self, make: GroupFactory, position: dict[str, Any] | None, kind: StreamKind
    ) -> None:
        self.stats = SourceStats()
        self.kind = kind
        self._make = make
        self._groups: AsyncIterator[list[Unit]] | None = None
        self._units = _Units(position, kind)

    @property
    def position(self) -> dict[str, Any] | None:
        return self._units.position

    def __aiter__(self) -> AsyncRecordStream:
        return self

    async def __anext__(self) -> Any:
        record = self._units.take()
        while record is _NO_RECORD:
            if self._groups is None:
                self._groups = self._make(self.stats)
            self._units.add(await self._groups.__anext__())
            record = self._units.take()
        return record

    async def next_group(self) -> list[Unit]:
        """The source's next group of units (used by the sync iterator's I/O thread)."""
        if self._groups is None:
            self._groups = self._make(self.stats)
        return await self._groups.__anext__()

    async def aclose(self) -> None:
        """Stop: close the connection or end polling."""
        aclose = getattr(self._groups, "aclose", None)
        if aclose is not None:
            await aclose()

    async def __aenter__(self) -> AsyncRecordStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class RecordStream:
    """Records of a streaming source, for a plain ``for`` loop (I/O runs in a helper thread).

    Attributes
    ----------
    position
        As for :class:`AsyncRecordStream`.
    stats
        As for :class:`AsyncRecordStream`.

    Examples
    --------
    >>> with source.stream() as records:  # doctest: +SKIP
    ...     for record in records:
    ...         print(record)
    """

    def __init__(self, records: AsyncRecordStream) -> None:
        self._records = records
        self._units = _Units(records.position, records.kind)
        self._groups: Iterator[list[Unit]] = iterate_sync(lambda: _groups_of(records))

    @property
    def position(self) -> dict[str, Any] | None:
        return self._units.position

    @property
    def stats(self) -> SourceStats:
        return self._records.stats

    def __iter__(self) -> RecordStream:
        return self

    def __next__(self) -> Any:
        record = self._units.take()
        while record is _NO_RECORD:
            self._units.add(next(self._groups))
            record = self._units.take()
        return record

    def close(self) -> None:
        """Stop: close the connection or end polling, and the helper thread."""
        close = getattr(self._groups, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> RecordStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _groups_of(records: AsyncRecordStream) -> AsyncIterator[list[Unit]]:
    try:
        while True:
            try:
                yield await records.next_group()
            except StopAsyncIteration:
                return
    finally:
        await records.aclose()
