"""Record iterators over a streaming source, for use without a stream processor.

``HTTPSource.astream()`` returns an :class:`AsyncRecordStream` and ``HTTPSource.stream()`` a
:class:`RecordStream`. Both hand out one record at a time and keep :attr:`position`: the
source's position after the last record handed out, once the unit (event, page) it came in
is used up. Save it and pass it back as ``position=`` to resume.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from hiveframe._http.portal import iterate_sync
from hiveframe._protocol.emission import Emission, SourceStats

EmissionFactory = Callable[[SourceStats], AsyncIterator[Emission]]


class AsyncRecordStream:
    """Records of a streaming source, for ``async for``.

    Attributes
    ----------
    position
        The source's position after the records handed out so far (plain JSON), or the
        position it started from. A unit's position is taken once its last record is out.
    stats
        The source's counters: polls, 304s, connections, reconnects, recovered errors.

    Examples
    --------
    >>> async def first_ten(source):  # doctest: +SKIP
    ...     async with source.astream() as records:
    ...         return [record async for record in records][:10]
    """

    def __init__(self, make: EmissionFactory, position: dict[str, Any] | None) -> None:
        self.position = position
        self.stats = SourceStats()
        self._make = make
        self._units: AsyncIterator[Emission] | None = None
        self._pending: deque[Any] = deque()
        self._next_position: dict[str, Any] | None = None

    def __aiter__(self) -> AsyncRecordStream:
        return self

    async def __anext__(self) -> Any:
        if self._units is None:
            self._units = self._make(self.stats)
        while not self._pending:
            unit = await self._units.__anext__()
            if unit.records:
                self._pending.extend(unit.records)
                self._next_position = unit.position
            else:
                self.position = unit.position
        record = self._pending.popleft()
        if not self._pending:
            self.position = self._next_position
        return record

    async def aclose(self) -> None:
        """Stop: close the connection or end polling."""
        aclose = getattr(self._units, "aclose", None)
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
        self._iterator: Iterator[Any] = iterate_sync(lambda: records)

    @property
    def position(self) -> dict[str, Any] | None:
        return self._records.position

    @property
    def stats(self) -> SourceStats:
        return self._records.stats

    def __iter__(self) -> RecordStream:
        return self

    def __next__(self) -> Any:
        return next(self._iterator)

    def close(self) -> None:
        """Stop: close the connection or end polling, and the helper thread."""
        close = getattr(self._iterator, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> RecordStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
