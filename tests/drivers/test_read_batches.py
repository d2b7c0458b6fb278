"""iter_batches() over real loopback HTTP: one schema per read where the pages allow."""

from __future__ import annotations

import orjson
import pyarrow as pa
import pytest

from hiveframe._protocol.arrow.conform import concat_tables
from hiveframe.connectors import HTTPSource
from hiveframe.connectors._run import READ_AHEAD
from hiveframe.demo import Reply, Request
from hiveframe.errors import HTTPStatusError, SchemaDriftError


def pages_server(serve, pages: list[list[dict[str, object]]]):
    """An offset API whose page i (page_size=1) holds ``pages[i]``; past the end, []."""

    def handler(request: Request) -> Reply:
        offset = int(request.query["offset"])
        records = pages[offset] if offset < len(pages) else []
        return Reply(body=orjson.dumps(records), headers={"Content-Type": "application/json"})

    return serve({"/p": handler})


JSON = {"Content-Type": "application/json"}


def source(server, **options) -> HTTPSource:
    return HTTPSource(server.url("/p"), pagination="offset", page_size=1, **options)


CHANGES_KIND = [[{"id": 1, "v": 1}], [{"id": 2, "v": "two"}], [{"id": 3, "v": {"a": 1}}]]


def test_a_field_that_changes_kind_widens_the_schema_once_and_loses_nothing(serve):
    # int64, then text, then an object: the batch of the text page and every later one
    # have v as text; the object is rendered as JSON text, as read() renders it.
    server = pages_server(serve, CHANGES_KIND)
    batches = list(source(server).iter_batches())

    assert [b.schema.field("v").type for b in batches] == [pa.int64(), pa.string(), pa.string()]
    assert [b.to_pylist() for b in batches] == [
        [{"id": 1, "v": 1}],
        [{"id": 2, "v": "two"}],
        [{"id": 3, "v": '{"a":1}'}],
    ]
    joined = concat_tables([pa.Table.from_batches([b]) for b in batches])
    assert joined.equals(source(server).read().to_arrow())


def test_pages_that_fit_the_first_schema_share_it(serve):
    # text first: later numbers and objects become text; a missing field is null; a float
    # field takes an int.
    server = pages_server(
        serve,
        [
            [{"id": 1, "v": "a", "price": 1.5}],
            [{"id": 2, "v": 5, "price": 2}],
            [{"id": 3, "v": {"b": [2]}}],
        ],
    )
    batches = list(source(server).iter_batches())

    assert len({b.schema for b in batches}) == 1
    assert batches[0].schema == pa.schema(
        [("id", pa.int64()), ("v", pa.string()), ("price", pa.float64())]
    )
    assert [r for b in batches for r in b.to_pylist()] == [
        {"id": 1, "v": "a", "price": 1.5},
        {"id": 2, "v": "5", "price": 2.0},
        {"id": 3, "v": '{"b":[2]}', "price": None},
    ]


def test_a_new_field_is_appended_from_its_page_on(serve):
    server = pages_server(serve, [[{"id": 1}], [{"id": 2, "tag": "x"}], [{"id": 3}]])
    batches = list(source(server).iter_batches())
    assert [b.schema.names for b in batches] == [["id"], ["id", "tag"], ["id", "tag"]]
    assert batches[2].to_pylist() == [{"id": 3, "tag": None}]


def test_strict_drift_raises_in_iter_batches_as_in_read(serve):
    server = pages_server(serve, CHANGES_KIND)
    batches = source(server, schema_drift="strict").iter_batches()

    first = next(batches)
    assert first.to_pylist() == [{"id": 1, "v": 1}]
    with pytest.raises(SchemaDriftError) as info:
        next(batches)
    assert (info.value.field, info.value.page) == ("v", 1)


def test_a_schema_fixes_every_batch(serve):
    server = pages_server(serve, CHANGES_KIND)
    schema = pa.schema([("id", pa.int32()), ("v", pa.string())])
    batches = list(source(server, schema=schema).iter_batches())
    assert {b.schema for b in batches} == {schema}
    assert [b.column("v").to_pylist() for b in batches] == [["1"], ["two"], ['{"a":1}']]


def test_the_batches_before_a_failing_page_come_first_then_its_error(serve):
    # Batches are read ahead of the loop; the error of page 3 still comes after pages 0-2.
    def handler(request: Request) -> Reply:
        offset = int(request.query["offset"])
        if offset == 3:
            return Reply(500, {"Content-Type": "application/json"}, b"{}")
        return Reply(body=orjson.dumps([{"id": offset}]), headers=JSON)

    server = serve({"/p": handler})
    seen: list[int] = []
    with pytest.raises(HTTPStatusError) as info:
        for batch in source(server, retry=None, concurrency=1).iter_batches():
            seen += [row["id"] for row in batch.to_pylist()]
    assert seen == [0, 1, 2]
    assert info.value.page == 3


def test_a_break_stops_the_read_a_few_pages_ahead_at_most(serve):
    requests: list[int] = []

    def handler(request: Request) -> Reply:
        requests.append(int(request.query["offset"]))
        return Reply(body=orjson.dumps([{"id": len(requests)}]), headers=JSON)

    server = serve({"/p": handler})
    for _batch in source(server, concurrency=1, max_pages=50).iter_batches():
        break
    assert len(requests) <= 2 + READ_AHEAD  # the batch taken, those held ready, one in hand
