"""Formats, data paths, custom parsers and messy JSON, over real loopback HTTP."""

from __future__ import annotations

import orjson
import pyarrow as pa
import pytest

from hiveframe.connectors import HTTPSource
from hiveframe.demo import Reply, Request
from hiveframe.errors import DataPathError, ResponseDecodeError


def json_reply(document) -> Reply:
    return Reply(body=orjson.dumps(document), headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("path", "response_format"),
    [
        ("/items.jsonl", None),
        ("/items.jsonl", "ndjson"),
        ("/items.jsonl", "jsonl"),
        ("/items.csv", None),
        ("/items.csv", "csv"),
        ("/data", None),
        ("/data", "json"),
    ],
)
def test_formats_explicit_and_detected(demo, path, response_format):
    source = HTTPSource(demo.url(path), params={"limit": 40}, response_format=response_format)
    df = source.read()
    assert df.count() == 40
    assert df.to_arrow().column("id").to_pylist() == list(range(1, 41))


def test_csv_columns_are_typed(demo):
    df = HTTPSource(demo.url("/items.csv"), params={"limit": 5}).read()
    assert df.schema.field("id").type == pa.int64()
    assert df.schema.field("price").type == pa.float64()


@pytest.mark.parametrize("data_path", ["results.items", "$.results.items[*]", "$.results.items"])
def test_data_path_in_both_syntaxes(demo, data_path):
    df = HTTPSource(demo.url("/nested"), params={"limit": 30}, data_path=data_path).read()
    assert df.count() == 30
    assert set(df.columns) >= {"id", "name", "tags", "dimensions"}


def test_missing_data_path_lists_the_keys_that_were_there(demo):
    source = HTTPSource(demo.url("/nested"), data_path="results.rows")
    with pytest.raises(DataPathError) as info:
        source.read()
    assert info.value.missing == "rows"
    assert "items" in info.value.available
    assert "'items'" in str(info.value)


def test_nested_objects_become_structs_and_arrays_lists(demo):
    df = HTTPSource(demo.url("/data"), params={"limit": 3}).read()
    assert pa.types.is_struct(df.schema.field("dimensions").type)
    assert pa.types.is_list(df.schema.field("tags").type)


def test_a_field_whose_type_changes_across_pages_loses_nothing(serve):
    pages = {
        "0": [{"id": 1, "code": 7}, {"id": 2}],
        "2": [{"id": 3, "code": "A-9", "extra": True}, {"id": 4, "code": None}],
        "4": [],
    }

    def drift(request: Request) -> Reply:
        # Pages fetched ahead past the end are empty, as a real API's would be.
        return json_reply(pages.get(request.query["offset"], []))

    server = serve({"/drift": drift})
    df = HTTPSource(server.url("/drift"), pagination="offset", page_size=2).read()

    rows = df.to_pylist()
    assert [r["code"] for r in rows] == ["7", None, "A-9", None]
    assert [r["extra"] for r in rows] == [None, None, True, None]


def test_strict_schema_drift_stops_at_the_page_that_changed_a_type(serve):
    from hiveframe.errors import SchemaDriftError

    pages = {"0": [{"id": 1, "price": 12}], "1": [{"id": 2, "price": "12.5", "tag": "x"}]}
    server = serve({"/p": lambda r: json_reply(pages.get(r.query["offset"], []))})
    options = {"pagination": "offset", "page_size": 1, "concurrency": 1}

    promoted = HTTPSource(server.url("/p"), **options).read().to_pylist()
    assert [r["price"] for r in promoted] == ["12", "12.5"]  # no value lost
    assert [r["tag"] for r in promoted] == [None, "x"]  # no column dropped

    with pytest.raises(SchemaDriftError) as info:
        HTTPSource(server.url("/p"), schema_drift="strict", **options).read()
    assert (info.value.field, info.value.page) == ("price", 1)


def test_schema_fixes_the_types(demo):
    schema = pa.schema([("id", pa.int32()), ("name", pa.string())])
    df = HTTPSource(demo.url("/data"), params={"limit": 5}, schema=schema).read()
    assert df.schema == schema


def test_custom_parser_receives_the_response(demo):
    def parse(response):
        assert response.status_code == 200
        return [{"id": item["id"] * 10} for item in response.json()]

    df = HTTPSource(demo.url("/data"), params={"limit": 3}, parser=parse).read()
    assert df.to_pylist() == [{"id": 10}, {"id": 20}, {"id": 30}]


def test_a_failing_parser_is_a_decode_error_naming_it(demo):
    def parse(response):
        raise KeyError("items")

    with pytest.raises(ResponseDecodeError) as info:
        HTTPSource(demo.url("/data"), parser=parse).read()
    assert info.value.kind == "parser"
    assert isinstance(info.value.__cause__, KeyError)


def test_iter_batches_streams_a_large_read_page_by_page():
    from hiveframe.demo import DemoServer

    with DemoServer(records=20_000) as big:
        source = HTTPSource(big.url("/data"), pagination="offset", page_size=1000, concurrency=4)
        batches = source.iter_batches()
        first = next(batches)
        assert first.num_rows == 1000
        assert len(big.requests) <= 1 + 4  # read ahead of the consumer by a bounded window
        total = first.num_rows + sum(batch.num_rows for batch in batches)
    assert total == 20_000
    # 20 full pages; with no total in the response only an empty 21st page says "the end",
    # and up to 3 more pages may have been in flight past it.
    assert 21 <= len(big.requests) <= 24


def test_stopping_iteration_early_cancels_pages_in_flight():
    from hiveframe.demo import DemoServer

    with DemoServer(records=50_000) as big:
        source = HTTPSource(big.url("/data"), pagination="offset", page_size=100, concurrency=8)
        batches = source.iter_batches()
        assert next(batches).num_rows == 100
        batches.close()  # stop after the first page
        assert 1 <= len(big.requests) <= 1 + 8


def test_aread_for_asyncio_users(demo):
    import asyncio

    source = HTTPSource(demo.url("/data"), pagination="offset", page_size=100)
    df = asyncio.run(source.aread())
    assert df.count() == 250


def test_sync_read_works_inside_a_running_event_loop(demo):
    # A notebook runs cells inside an event loop; read() must not need one of its own.
    import asyncio

    source = HTTPSource(demo.url("/data"), params={"limit": 5})

    async def cell():
        return source.read().count()

    assert asyncio.run(cell()) == 5
