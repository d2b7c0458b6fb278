"""SSE records handed out one by one and as Arrow record batches, against a loopback server.

The events of one network read travel as one group whose positions are made on demand, so
these tests check what that must not change: the position after *every* record is exact
(a stream left there and resumed delivers each record once), a batch cut inside an event
resumes at the next record, an event the server cuts short is never delivered, and
``stream_batches()`` gives exactly the tables ``records_to_table`` builds from the records
``stream()`` gives: the same types, the same drift to text, the same errors.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterable
from typing import Any

import orjson
import pyarrow as pa
import pytest

from hiveframe._protocol.arrow.infer import records_to_table
from hiveframe.connectors import HTTPSource
from hiveframe.demo import Reply, Request
from hiveframe.errors import ConfigError, ResponseDecodeError, SchemaDriftError

# Event n (ids 1..): an object, an array of records, an empty array, a value of another type.
DATA: list[Any] = [
    {"id": 1, "v": 1, "tags": ["a"]},
    [{"id": 2, "v": 2}, {"id": 3, "v": 2.5}],
    [],
    {"id": 4, "v": "four", "meta": {"ok": True}},
    [{"id": 5}, {"id": 6, "v": None}, {"id": 7, "v": 7}],
    {"id": 8, "v": 8, "tags": []},
    [],
    [{"id": 9, "v": [1, 2]}, {"id": 10}],
]
ALL_IDS = list(range(1, 11))


class Feed:
    """Replays the events after ``Last-Event-ID`` in small writes, then ends the response."""

    def __init__(self, data: list[Any], *, tail: bytes = b"") -> None:
        self.events = [
            b"id: %d\ndata: %s\n\n" % (n, orjson.dumps(d)) for n, d in enumerate(data, 1)
        ]
        self.tail = tail

    def __call__(self, request: Request) -> Reply:
        after = int(request.header("last-event-id") or 0)
        body = b"".join(self.events[after:]) + self.tail
        chunks = [body[i : i + 97] for i in range(0, len(body), 97)]  # events cross writes
        return Reply(200, {"Content-Type": "text/event-stream"}, chunks)


def source_of(server, **options) -> HTTPSource:
    return HTTPSource(server.url("/sse"), stream_type="sse", reconnect=None, **options)


@pytest.fixture
def feed(serve):
    return serve({"/sse": Feed(DATA)})


def records(source: HTTPSource) -> list[Any]:
    with source.stream() as stream:
        return list(stream)


def assert_resumes(source: HTTPSource, every: list[int], stops: Iterable[int]) -> None:
    """Stopping after each of ``stops`` records and resuming from the position then gives
    every id once, in order."""
    for taken in stops:
        with source.stream() as stream:
            first = [r["id"] for r in itertools.islice(stream, taken)]
            position = stream.position
        with source.stream(position=position) as stream:
            rest = [r["id"] for r in stream]
        assert first + rest == every, f"left after {taken} records at {position}"


def test_the_position_after_every_record_resumes_exactly(feed):
    source = source_of(feed)
    assert [r["id"] for r in records(source)] == ALL_IDS
    assert_resumes(source, ALL_IDS, range(len(ALL_IDS) + 1))


def test_positions_inside_and_after_events(feed):
    with source_of(feed).stream() as stream:
        seen = []
        for record in stream:
            seen.append((record["id"], stream.position))
    by_id = dict(seen)
    assert by_id[1] == {"kind": "sse", "last_event_id": "1", "retry_ms": None}
    assert by_id[2] == {"kind": "sse", "last_event_id": "1", "retry_ms": None, "skip": 1}
    assert by_id[3] == {"kind": "sse", "last_event_id": "2", "retry_ms": None}
    assert by_id[4] == {"kind": "sse", "last_event_id": "4", "retry_ms": None}  # past event 3
    assert stream.position == {"kind": "sse", "last_event_id": "8", "retry_ms": None}


def test_the_async_stream_hands_out_the_same_records_and_positions(feed):
    source = source_of(feed)

    async def consume() -> list[tuple[int, Any]]:
        got = []
        async with source.astream() as stream:
            async for record in stream:
                got.append((record["id"], stream.position))
        return got

    got = asyncio.run(consume())
    with source.stream() as sync_stream:
        expected = [(record["id"], sync_stream.position) for record in sync_stream]
    assert got == expected


@pytest.mark.parametrize("size", [1, 3, 4, 7, 1000])
def test_batches_are_the_tables_records_to_table_builds(feed, size):
    source = source_of(feed)
    every = records(source)
    with source.stream_batches(size) as batches:
        got = list(batches)
    assert [b.num_rows for b in got[:-1]] == [size] * (len(got) - 1)
    for number, batch in enumerate(got):
        expected = records_to_table(every[number * size : (number + 1) * size])
        assert pa.Table.from_batches([batch]).equals(expected), f"batch {number}"
    assert pa.Table.from_batches(got[:1]).column("v").type == (
        pa.string() if size >= 4 else pa.float64() if size == 3 else pa.int64()
    )


def test_async_batches_equal_the_sync_ones(feed):
    source = source_of(feed)
    with source.stream_batches(4) as batches:
        expected = list(batches)

    async def consume() -> list[pa.RecordBatch]:
        async with source.astream_batches(4) as batches:
            return [batch async for batch in batches]

    got = asyncio.run(consume())
    assert [b.to_pylist() for b in got] == [b.to_pylist() for b in expected]


def test_a_batch_cut_inside_an_event_resumes_at_the_next_record(feed):
    source = source_of(feed)
    with source.stream_batches(2) as batches:
        first = next(batches)
        position = batches.position
    assert first.column("id").to_pylist() == [1, 2]
    assert position == {"kind": "sse", "last_event_id": "1", "retry_ms": None, "skip": 1}
    with source.stream_batches(4, position=position) as batches:
        rest = [i for batch in batches for i in batch.column("id").to_pylist()]
    assert [1, 2, *rest] == ALL_IDS
    assert feed.requests_to("/sse")[-1].header("last-event-id") == "1"


def test_a_schema_is_applied_to_every_batch(serve):
    server = serve({"/sse": Feed([{"id": 1, "v": 1}, {"id": 2, "v": 2}, {"id": 3}])})
    schema = pa.schema([("id", pa.int64()), ("v", pa.float64())])
    with source_of(server, schema=schema).stream_batches(2) as batches:
        got = list(batches)
    assert [b.schema for b in got] == [schema, schema]
    assert [b.to_pylist() for b in got] == [
        [{"id": 1, "v": 1.0}, {"id": 2, "v": 2.0}],
        [{"id": 3, "v": None}],
    ]


def test_a_value_that_does_not_fit_the_schema_fails_as_a_page_would(serve):
    server = serve({"/sse": Feed([{"id": 1}, {"id": "one"}])})
    schema = pa.schema([("id", pa.int64())])
    with (
        pytest.raises(SchemaDriftError) as batch_error,
        source_of(server, schema=schema).stream_batches(2) as batches,
    ):
        list(batches)
    with pytest.raises(SchemaDriftError) as page_error:
        records_to_table(records(source_of(server)), schema=schema)
    assert str(batch_error.value) == str(page_error.value)


def test_an_event_that_is_not_json_fails_both_ways_alike(serve):
    feed = Feed([{"id": 1}])
    feed.events.append(b"id: 2\ndata: {not json\n\n")
    server = serve({"/sse": feed})
    with pytest.raises(ResponseDecodeError) as record_error:
        records(source_of(server))
    with pytest.raises(ResponseDecodeError) as batch_error, source_of(server).stream_batches() as b:
        list(b)
    assert str(batch_error.value) == str(record_error.value)
    assert "not valid JSON" in str(record_error.value)


def test_an_event_the_server_cuts_short_is_never_delivered(serve):
    server = serve({"/sse": Feed(DATA[:2], tail=b'id: 3\ndata: {"id": 99')})
    source = source_of(server)
    with source.stream() as stream:
        assert [r["id"] for r in stream] == [1, 2, 3]
        assert stream.position == {"kind": "sse", "last_event_id": "2", "retry_ms": None}
    with source.stream_batches(10) as batches:
        assert [b.column("id").to_pylist() for b in batches] == [[1, 2, 3]]
        assert batches.position == {"kind": "sse", "last_event_id": "2", "retry_ms": None}


def test_text_events_become_a_data_column(serve):
    server = serve({"/sse": Feed(["a", "b", "c"])})
    with source_of(server, response_format="text").stream_batches(2) as batches:
        got = [b.to_pylist() for b in batches]
    assert got == [[{"data": '"a"'}, {"data": '"b"'}], [{"data": '"c"'}]]


@pytest.mark.parametrize("size", [0, -1, "2", True, 1.5, None])
def test_a_bad_batch_size_is_refused_at_once_naming_it(feed, size):
    with pytest.raises(ConfigError) as info:
        source_of(feed).stream_batches(size)
    assert info.value.option == "size"
    with pytest.raises(ConfigError):
        source_of(feed).astream_batches(size)


def test_a_source_that_does_not_stream_has_no_batches(feed):
    with pytest.raises(ConfigError) as info:
        HTTPSource(feed.url("/sse")).stream_batches(10)
    assert info.value.option == "poll_interval_seconds"


def test_a_source_failing_with_records_waiting_resumes_before_them(serve):
    events = [b'id: %d\ndata: {"id": %d}\n\n' % (n, n) for n in range(1, 6)]

    def handler(request: Request) -> Reply:
        def body() -> Any:
            yield b"".join(events)  # one read: a batch of four, one record waiting
            time.sleep(0.2)
            yield b"id: 6\ndata: {not json\n\n"

        return Reply(200, {"Content-Type": "text/event-stream"}, body())

    source = source_of(serve({"/sse": handler}))
    handed = []
    with pytest.raises(ResponseDecodeError), source.stream_batches(4) as batches:
        for batch in batches:
            handed += batch.column("id").to_pylist()
    assert handed == [1, 2, 3, 4]
    assert batches.position == {"kind": "sse", "last_event_id": "4", "retry_ms": None}


def test_a_read_of_many_events_resumes_exactly_after_any_record(serve):
    # Each response is one write: a read holds many events, handed out a slice at a time.
    data: list[Any] = [{"id": n} if n % 7 else [{"id": n}, {"id": -n}] for n in range(1, 301)]
    events = Feed(data).events

    def handler(request: Request) -> Reply:
        after = int(request.header("last-event-id") or 0)
        return Reply(200, {"Content-Type": "text/event-stream"}, [b"".join(events[after:])])

    source = source_of(serve({"/sse": handler}))
    every = [r["id"] for r in records(source)]
    assert len(every) == 342
    assert_resumes(source, every, (1, 63, 64, 65, 70, 150, 341, 342))


def test_wide_integers_arrive_exact_wherever_the_reads_cut_them(serve):
    # Integers orjson would read as floats (20 digits, a minus and 19) beside ones it keeps,
    # at every offset from the wide-integer scan's stride, in events cut across writes.
    data = [
        {"id": n, "pad": "x" * (n % 13), "big": 2**64 + n, "neg": -(2**63) - n, "ok": 10**18 + n}
        for n in range(1, 80)
    ]
    body = b"".join(b"id: %d\ndata: %s\n\n" % (d["id"], json.dumps(d).encode()) for d in data)

    def handler(request: Request) -> Reply:
        after = int(request.header("last-event-id") or 0)
        rest = body[body.index(b"id: %d\n" % (after + 1)) :] if after < len(data) else b""
        return Reply(200, {"Content-Type": "text/event-stream"}, [rest[:101], rest[101:]])

    source = source_of(serve({"/sse": handler}))
    got = records(source)
    assert got == data
    assert {type(r[key]) for r in got for key in ("big", "neg", "ok")} == {int}
    assert_resumes(source, [d["id"] for d in data], (0, 1, 13, 64, 78, 79))
