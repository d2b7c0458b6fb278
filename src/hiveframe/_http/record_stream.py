"""Record and record-batch iterators over a streaming source, without a stream processor.

``HTTPSource.astream()`` returns an :class:`AsyncRecordStream` and ``HTTPSource.stream()`` a
:class:`RecordStream`. Both hand out one record at a time and keep :attr:`position`: the
source's position after the last record handed out. Between units (events, pages) it is the
unit's own position; inside one it is a partial position (the position before the unit and
the records of it handed out), so a stream left in the middle of a page resumes at the next
record. Save it and pass it back as ``position=`` to resume.

Both take units from the source a group at a time (the events of one network read, or one
page), so the async steps, and for the sync iterator the hops to the I/O thread, are paid
once per group rather than once per record. A group keeps its records in one list and makes a
unit's position only when one is asked for (:class:`UnitGroup`), so a record costs a step of
a generator and nothing more.

``HTTPSource.stream_batches(size)`` (:class:`BatchStream`, :class:`AsyncBatchStream`) hands
the same records out as Arrow record batches of ``size`` records, each the table
``records_to_table`` builds from them (as a page of a read is), with the same exact
:attr:`position` after each batch. An SSE source's events of JSON objects go to pyarrow's
JSON reader as text, so their records never become Python objects (see :class:`_Batches`).
"""

from __future__ import annotations

import copy
from bisect import bisect_left
from collections import deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
    Mapping,
    Sequence,
)
from operator import length_hint
from typing import Any, overload

import pyarrow as pa

from hiveframe._http.portal import iterate_sync
from hiveframe._protocol.arrow.infer import conform_inferred, records_to_table
from hiveframe._protocol.columnar import Shapes, decode_objects
from hiveframe._protocol.units import Resume, SourceStats, StreamKind, Unit, partial_position

GroupFactory = Callable[[SourceStats], AsyncIterator[Sequence[Unit]]]

# Records are handed out from slices of a network read's units, each decoded just before its
# records are handed out: a consumer that drops its records then holds fewer than Python's
# garbage collector counts before it runs (700 new objects), so reading many events costs
# next to no collections; decoding a whole read at once made the records outlive several,
# and the long-lived ones grow into full collections (about a fifth of a read's CPU).
HANDOUT_UNITS = 64


class UnitGroup(Sequence[Unit]):
    """The units of one network read (or one page) as columns: all their records in one
    list, and each unit's position made only when asked for.

    Parameters
    ----------
    records
        The records of every unit, in order; ``None`` for a group that decodes them when
        first asked for (:meth:`_decode`).
    ends
        ``ends[i]``: how many records units ``0..i`` hold together; ``None`` when every
        unit holds one record.
    kind
        The source's kind, for partial positions made from no position.

    Attributes
    ----------
    texts
        Unit *i*'s JSON text (an SSE event's data), where its one record is that text read
        as one JSON object, if it is one: a batch stream may build the records' table from
        the texts without decoding them (:func:`~hiveframe._protocol.columnar.decode_objects`).
        ``None`` where records are not their units' text.
    """

    __slots__ = ("_ends", "_records", "kind", "texts")

    def __init__(
        self, records: list[Any] | None, ends: Sequence[int] | None, kind: StreamKind
    ) -> None:
        self._records = records
        self._ends = ends
        self.kind = kind
        self.texts: Sequence[str] | None = None

    @property
    def records(self) -> list[Any]:
        """The records of every unit, in order (decoded now if they were not)."""
        if self._records is None:
            self._records, self._ends = self._decode()
        return self._records

    @property
    def ends(self) -> Sequence[int] | None:
        """``ends[i]``: how many records units ``0..i`` hold together, or ``None`` (one each)."""
        if self._records is None:
            self._records, self._ends = self._decode()
        return self._ends

    @property
    def decoded(self) -> bool:
        """Whether the records are decoded (else only :attr:`texts` holds them)."""
        return self._records is not None

    def _decode(self) -> tuple[list[Any], Sequence[int] | None]:
        """The records and ends of a group made without them."""
        raise NotImplementedError

    def slices(self, size: int) -> Iterator[UnitGroup]:
        """The group as consecutive groups of up to ``size`` units, each decoding its own
        records when asked for; itself where its records are already made."""
        yield self

    def unit_position(self, index: int) -> dict[str, Any]:
        """The position after unit ``index``."""
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    @overload
    def __getitem__(self, index: int) -> Unit: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Unit]: ...
    def __getitem__(self, index: int | slice) -> Unit | Sequence[Unit]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        index = range(len(self))[index]  # negative indexes, and IndexError
        first = self._end(index - 1) if index else 0
        return Unit(self.records[first : self._end(index)], self.unit_position(index))

    def __iter__(self) -> Iterator[Unit]:
        first = 0
        for index in range(len(self)):
            end = self._end(index)
            yield Unit(self.records[first:end], self.unit_position(index))
            first = end

    def position_after(self, count: int, before: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The exact position after the first ``count`` records of the group.

        ``before`` is the position before the group. After the last record of a unit it is
        that unit's position; inside a unit, the position before the unit with the records
        of it delivered (:func:`~hiveframe._protocol.units.partial_position`). Units without
        records after the ``count``-th record are not passed yet.
        """
        if count == 0:
            return dict(before) if before is not None else None
        index = count - 1 if self.ends is None else bisect_left(self.ends, count)
        if self._end(index) == count:
            return self.unit_position(index)
        start = self.unit_position(index - 1) if index else before
        done = count - (self._end(index - 1) if index else 0)
        return partial_position(start, done, kind=self.kind)

    def last_position(self, before: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The position after every unit of the group."""
        if len(self):
            return self.unit_position(len(self) - 1)
        return dict(before) if before is not None else None

    def trimmed(self, resume: Resume) -> UnitGroup:
        """The group without the records ``resume`` still drops (those of a cut unit)."""
        dropped = min(resume.skip, len(self.records))
        resume.skip -= dropped
        group = copy.copy(self)
        group._records = self.records[dropped:]
        ends = self.ends if self.ends is not None else range(1, len(self) + 1)
        group._ends = [max(end - dropped, 0) for end in ends]
        group.texts = None  # its first unit lost records: they are not its text any more
        return group

    def _end(self, index: int) -> int:
        return index + 1 if self.ends is None else self.ends[index]


class UnitList(UnitGroup):
    """A group of units that each carry their own position (a polled page)."""

    __slots__ = ("positions",)

    def __init__(self, units: Sequence[Unit], kind: StreamKind) -> None:
        records: list[Any] = []
        ends = []
        for unit in units:
            records += unit.records
            ends.append(len(records))
        super().__init__(records, ends, kind)
        self.positions = [unit.position for unit in units]

    def unit_position(self, index: int) -> dict[str, Any]:
        return self.positions[index]

    def __len__(self) -> int:
        return len(self.positions)


class _Handout:
    """The group whose records are being handed out, and the position after each of them."""

    __slots__ = ("_before", "_group", "_kind", "_left", "_total")

    def __init__(self, position: dict[str, Any] | None, kind: StreamKind) -> None:
        self._before = position  # the position before the group
        self._group: UnitGroup | None = None
        self._kind = kind
        self._left: Iterator[Any] = iter(())  # the group's records not yet handed out
        self._total = 0

    @property
    def position(self) -> dict[str, Any] | None:
        # Made when asked for, not per record: a read of 300 events costs no dict at all.
        # The records handed out are counted from what their iterator has left, so handing
        # one out costs the iterator's step and nothing more.
        if self._group is None:
            return self._before
        handed = self._total - length_hint(self._left)
        return self._group.position_after(handed, self._before)

    def slices(self, group: Sequence[Unit]) -> Iterator[UnitGroup]:
        """``group`` in the slices to hand out one after the other (see HANDOUT_UNITS)."""
        units = group if isinstance(group, UnitGroup) else UnitList(group, self._kind)
        return units.slices(HANDOUT_UNITS)

    def start(self, group: Sequence[Unit]) -> Iterator[Any]:
        """Hand out ``group`` next; returns an iterator of its records, to hand out."""
        units = group if isinstance(group, UnitGroup) else UnitList(group, self._kind)
        records = units.records  # decoded first: a group that fails is never started
        self._group = units
        self._total = len(records)
        self._left = iter(records)
        return self._left

    def finish(self) -> None:
        """Every record of the group is handed out: stand after all its units."""
        if self._group is not None:
            self._before = self._group.last_position(self._before)
            self._group = None


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
        self._groups: AsyncIterator[Sequence[Unit]] | None = None
        self._handout = _Handout(position, kind)
        # ``async for`` steps this generator itself: each record costs one C-level resume
        # of it, not a coroutine made by an ``async def __anext__``.
        self._records = self._each_record()

    @property
    def position(self) -> dict[str, Any] | None:
        return self._handout.position

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._records

    def __anext__(self) -> Any:
        return self._records.__anext__()

    async def _each_record(self) -> AsyncGenerator[Any, None]:
        handout = self._handout
        while True:
            try:
                group = await self.next_group()
            except StopAsyncIteration:
                return
            for part in handout.slices(group):
                for record in handout.start(part):
                    yield record
                handout.finish()

    async def next_group(self) -> Sequence[Unit]:
        """The source's next group of units (used by the sync iterator's I/O thread)."""
        if self._groups is None:
            self._groups = self._make(self.stats)
        return await self._groups.__anext__()

    async def aclose(self) -> None:
        """Stop: close the connection or end polling."""
        await self._records.aclose()
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
        self._source = records
        self._handout = _Handout(records.position, records.kind)
        self._groups: Generator[Sequence[Unit], None, None] = iterate_sync(
            lambda: _groups_of(records)
        )
        self._records = self._each_record()

    @property
    def position(self) -> dict[str, Any] | None:
        return self._handout.position

    @property
    def stats(self) -> SourceStats:
        return self._source.stats

    def __iter__(self) -> Iterator[Any]:
        return self._records

    def __next__(self) -> Any:
        return next(self._records)

    def _each_record(self) -> Generator[Any, None, None]:
        handout = self._handout
        for group in self._groups:
            for part in handout.slices(group):
                yield from handout.start(part)
                handout.finish()

    def close(self) -> None:
        """Stop: close the connection or end polling, and the helper thread."""
        self._records.close()
        self._groups.close()

    def __enter__(self) -> RecordStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _groups_of(records: AsyncRecordStream) -> AsyncIterator[Sequence[Unit]]:
    try:
        while True:
            try:
                yield await records.next_group()
            except StopAsyncIteration:
                return
    finally:
        await records.aclose()


class _Batches:
    """What both batch streams share: the records of a source's groups cut into record
    batches of ``size``, and the position after the last batch handed out.

    Groups wait in a queue until batches have taken all their records. Where every record
    waiting is an SSE event's JSON text (:attr:`UnitGroup.texts`), a batch is built from the
    texts by pyarrow's JSON reader (:func:`~hiveframe._protocol.columnar.decode_objects`),
    no Python object made per value; where the reader cannot show its table is the one
    ``records_to_table`` builds from the decoded records (an event that is not one object,
    drift, a value it reads otherwise), the queue is decoded and the batch built from the
    records, as every batch of other sources is. The position is set only when a batch is
    handed out, so a source failing with records waiting resumes before them.
    """

    # After the reader could not build a batch, this many batches are built from records
    # before it is tried again: a stream whose batches drift pays for few failed reads.
    _NATIVE_PAUSE = 7

    def __init__(self, records: AsyncRecordStream, size: int, schema: pa.Schema | None) -> None:
        self._source = records
        self._kind = records.kind
        self._size = size
        self._schema = schema
        self._queue: deque[UnitGroup] = deque()
        self._taken = 0  # records of the first queued group in batches handed out
        self._waiting = 0  # records queued after those
        self._mixed = 0  # queued groups whose records are not one per text
        self._before = records.position  # the position before the first queued group
        self._position = records.position  # the position after the last batch handed out
        self._shapes = Shapes()
        self._native_pause = 0

    @property
    def position(self) -> dict[str, Any] | None:
        return self._position

    @property
    def stats(self) -> SourceStats:
        return self._source.stats

    def _cut(self, group: Sequence[Unit]) -> Iterator[pa.RecordBatch]:
        """The full batches ``group`` completes."""
        self._enqueue(group if isinstance(group, UnitGroup) else UnitList(group, self._kind))
        while self._waiting >= self._size:
            batch = self._next_batch(final=False)
            if batch is None:
                break
            yield batch

    def _rest(self) -> Iterator[pa.RecordBatch]:
        """The batches of what is left at the end of the stream, the last one not full."""
        while self._waiting:
            batch = self._next_batch(final=True)
            if batch is None:
                break
            yield batch
        for group in self._queue:  # every record is handed out: stand after every unit
            self._before = group.last_position(self._before)
        self._queue.clear()
        self._position = self._before

    def _enqueue(self, group: UnitGroup) -> None:
        if _one_record_per_text(group):
            self._waiting += len(group)  # not decoded: its texts are its records
        else:
            self._waiting += len(group.records)
            self._mixed += 1
        self._queue.append(group)

    def _next_batch(self, *, final: bool) -> pa.RecordBatch | None:
        if not self._mixed:
            count = min(self._size, self._waiting)
            table = self._native(count)
            if table is not None:
                return self._hand_out(table, count)
        for group in self._queue:  # counted a record per text until now
            self._settle(group)
        count = min(self._size, self._waiting)
        if not count or (count < self._size and not final):
            return None
        return self._hand_out(records_to_table(self._records(count), self._schema), count)

    def _native(self, count: int) -> pa.Table | None:
        if self._native_pause:
            self._native_pause -= 1
            return None
        table = decode_objects(self._texts(count), shapes=self._shapes)
        if table is None:
            self._native_pause = self._NATIVE_PAUSE
            return None
        return conform_inferred(table, self._schema)

    def _settle(self, group: UnitGroup) -> None:
        # Decode a group counted a record per text; if its records are not (an event that
        # is an array, or not an object), count them instead.
        if _one_record_per_text(group):
            self._waiting += len(group.records) - len(group)
            self._mixed += not _one_record_per_text(group)

    def _texts(self, count: int) -> list[str]:
        texts: list[str] = []
        start = self._taken
        for group in self._queue:
            texts += (group.texts or ())[start : start + count - len(texts)]
            start = 0
            if len(texts) == count:
                break
        return texts

    def _records(self, count: int) -> list[Any]:
        records: list[Any] = []
        start = self._taken
        for group in self._queue:
            records += group.records[start : start + count - len(records)]
            start = 0
            if len(records) == count:
                break
        return records

    def _hand_out(self, table: pa.Table, count: int) -> pa.RecordBatch:
        """The batch of the next ``count`` records, built as ``table``; the queue and the
        position move past them."""
        self._waiting -= count
        taken = self._taken + count
        while taken > _length(self._queue[0]):
            group = self._queue.popleft()
            taken -= _length(group)
            self._before = group.last_position(self._before)
            self._mixed -= not _one_record_per_text(group)
        self._taken = taken
        head = self._queue[0]
        if head.decoded:
            self._position = head.position_after(taken, self._before)
        else:
            self._position = head.unit_position(taken - 1)
        # As a page of a read is built; its table is one chunk: one record batch.
        return table.combine_chunks().to_batches()[0]


def _one_record_per_text(group: UnitGroup) -> bool:
    if group.texts is None:
        return False
    if not group.decoded:
        return True
    ends = group.ends
    return ends is None or list(ends) == list(range(1, len(group) + 1))


def _length(group: UnitGroup) -> int:
    # Records in the group; one per unit until decoded, for a group of texts.
    return len(group.records) if group.decoded else len(group)


class AsyncBatchStream(_Batches):
    """A streaming source's records as Arrow record batches, for ``async for``.

    Attributes
    ----------
    position
        The source's position after the batches handed out so far (exact: inside an event
        or a page too), or the position it started from.
    stats
        As for :class:`AsyncRecordStream`.
    """

    def __init__(self, records: AsyncRecordStream, size: int, schema: pa.Schema | None) -> None:
        super().__init__(records, size, schema)
        self._batches = self._each_batch()

    def __aiter__(self) -> AsyncIterator[pa.RecordBatch]:
        return self._batches

    def __anext__(self) -> Awaitable[pa.RecordBatch]:
        return self._batches.__anext__()

    async def _each_batch(self) -> AsyncGenerator[pa.RecordBatch, None]:
        while True:
            try:
                group = await self._source.next_group()
            except StopAsyncIteration:
                break
            for batch in self._cut(group):
                yield batch
        for batch in self._rest():
            yield batch

    async def aclose(self) -> None:
        """Stop: close the connection or end polling."""
        await self._batches.aclose()
        await self._source.aclose()

    async def __aenter__(self) -> AsyncBatchStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class BatchStream(_Batches):
    """A streaming source's records as Arrow record batches, for a plain ``for`` loop.

    Attributes
    ----------
    position, stats
        As for :class:`AsyncBatchStream`.
    """

    def __init__(self, records: AsyncRecordStream, size: int, schema: pa.Schema | None) -> None:
        super().__init__(records, size, schema)
        self._groups = iterate_sync(lambda: _groups_of(records))
        self._batches = self._each_batch()

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self._batches

    def __next__(self) -> pa.RecordBatch:
        return next(self._batches)

    def _each_batch(self) -> Generator[pa.RecordBatch, None, None]:
        for group in self._groups:
            yield from self._cut(group)
        yield from self._rest()

    def close(self) -> None:
        """Stop: close the connection or end polling, and the helper thread."""
        self._batches.close()
        self._groups.close()

    def __enter__(self) -> BatchStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
