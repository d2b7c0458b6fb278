"""How a batch stream cuts SSE groups into record batches, and where it stands after each.

The events of each network read arrive as a group; a batch stream builds a batch from the
events' JSON texts with pyarrow's JSON reader where every event waiting is one object, and
from the decoded records otherwise. Whatever the mix, each batch must be the table
``records_to_table`` builds from the same records of the per-record stream, and the
position after it the per-record stream's position after the same record. The groups
here are made in memory, many splits of many event mixes; the HTTP tests are in
test_sse_batches.py.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson
import pyarrow as pa
import pytest

from hiveframe._http import record_stream
from hiveframe._http.record_stream import AsyncBatchStream, AsyncRecordStream
from hiveframe._http.sse import EventGroup
from hiveframe._protocol.arrow.infer import records_to_table
from hiveframe._protocol.decode import json_documents
from hiveframe._protocol.sse import EventBatch
from hiveframe._protocol.units import SourceStats
from hiveframe.errors import ResponseDecodeError

OBJECTS = [{"id": n, "v": n, "s": f"x{n}", "o": {"k": n % 3}} for n in range(40)]
OTHERS: list[Any] = [
    [{"id": 100, "v": 1}, {"id": 101, "v": 2}],  # an event of two records
    [],  # an event of none
    {"id": 102, "v": "drift"},  # v as text
    {"id": 103, "v": 1.5},
    {"id": 104},
    [{"id": 105}],
]


def group_of(texts: Sequence[str], first_id: int) -> EventGroup:
    ids = [str(first_id + n) for n in range(len(texts))]
    batch = EventBatch(list(texts), ["message"] * len(texts), ids, [None] * len(texts))
    return EventGroup(batch, lambda b: json_documents(b.data), objects=True)


def groups_of(events: Sequence[str], cuts: Sequence[int]) -> list[EventGroup]:
    bounds = [0, *sorted(cuts), len(events)]
    return [
        group_of(events[start:end], start + 1)
        for start, end in itertools.pairwise(bounds)
        if end > start
    ]


def source(events: Sequence[str], cuts: Sequence[int]) -> AsyncRecordStream:
    async def make(stats: SourceStats) -> AsyncIterator[EventGroup]:
        for group in groups_of(events, cuts):
            yield group

    return AsyncRecordStream(make, None, "sse")


def consumed(stream: AsyncRecordStream | AsyncBatchStream) -> tuple[list[Any], list[Any], Any]:
    """What a stream hands out, its position after each, and how it ends: its last
    position, or the error it raised and its position then."""

    async def run() -> tuple[list[Any], list[Any], Any]:
        items, positions = [], []
        try:
            async with stream:
                async for item in stream:
                    items.append(item)
                    positions.append(stream.position)
        except ResponseDecodeError as exc:
            return items, positions, (exc, stream.position)
        return items, positions, stream.position

    return asyncio.run(run())


def check(events: Sequence[str], cuts: Sequence[int], size: int) -> None:
    records, positions, end = consumed(source(events, cuts))
    batches, batch_positions, batch_end = consumed(
        AsyncBatchStream(source(events, cuts), size, None)
    )
    delivered = len(records)
    if isinstance(end, tuple):
        # The per-record stream fails at the read holding the bad event; batches may have
        # handed out records of that read before it: compare with the events before it.
        bad = next(n for n, event in enumerate(events) if _fails(event))
        kept = [c for c in cuts if c < bad]
        records, positions, _ = consumed(source(events[:bad], kept))
    handed = 0
    for batch, position in zip(batches, batch_positions, strict=True):
        expected = records_to_table(records[handed : handed + batch.num_rows])
        assert pa.Table.from_batches([batch]).equals(expected), (handed, events, cuts)
        handed += batch.num_rows
        assert position == positions[handed - 1], (handed, events, cuts)
    if isinstance(end, tuple):
        (error, _), (batch_error, position) = end, batch_end
        assert str(batch_error) == str(error)
        # Every full batch of the records the per-record stream delivered was handed out.
        assert delivered // size * size <= handed <= len(records)
        assert position == (positions[handed - 1] if handed else None)
    else:
        assert handed == len(records)
        assert batch_end == end


def _fails(event: str) -> bool:
    try:
        json_documents([event])
    except ResponseDecodeError:
        return True
    return False


def _texts(values: Sequence[Any]) -> list[str]:
    return [orjson.dumps(value).decode() for value in values]


@pytest.mark.parametrize("seed", range(12))
def test_random_mixes_and_splits_give_the_per_record_tables_and_positions(seed):
    rng = random.Random(seed)
    values = rng.sample(OBJECTS, 25) + rng.sample(OTHERS, rng.randint(0, 3))
    rng.shuffle(values)
    events = _texts(values)
    for _ in range(6):
        cuts = rng.sample(range(1, len(events)), rng.randint(0, 6))
        for size in (1, 2, 3, 5, 8, 1000):
            check(events, cuts, size)


@pytest.mark.parametrize("size", [1, 4, 7, 1000])
def test_objects_only_read_by_the_json_reader(monkeypatch, size):
    built = []
    real = record_stream.decode_objects

    def counted(texts: list[str], **options: Any) -> Any:
        table = real(texts, **options)
        built.append(table is not None)
        return table

    monkeypatch.setattr(record_stream, "decode_objects", counted)
    events = _texts(OBJECTS)
    check(events, [3, 9, 10, 30], size)
    assert built and all(built)  # every batch from the reader


def test_a_bad_event_fails_the_batch_holding_it_and_the_position_stays_before_it():
    events = _texts(OBJECTS[:10])
    events.insert(6, "{not json")
    for cuts in ([], [5], [7], [2, 6, 7]):
        for size in (1, 2, 4, 6, 1000):
            check(events, cuts, size)


def test_drift_in_every_batch_still_gives_the_per_record_tables():
    values: list[Any] = []
    for n in range(60):
        values.append({"id": n, "v": n if n % 2 else str(n)})
    check(_texts(values), [7, 19, 33], 4)


@pytest.mark.parametrize("slice_units", [1, 2, 3, 64])
def test_records_handed_out_a_slice_at_a_time_keep_every_position(monkeypatch, slice_units):
    # A read's events are decoded a slice at a time; the records, the position after each
    # and the end are those of the same events handed out as one group each.
    rng = random.Random(slice_units)
    values = OBJECTS + OTHERS
    rng.shuffle(values)
    events = _texts(values)
    alone = consumed(source(events, range(1, len(events))))  # one event per read
    monkeypatch.setattr(record_stream, "HANDOUT_UNITS", slice_units)
    for cuts in ([], [5, 17], [40]):
        assert consumed(source(events, cuts)) == alone
