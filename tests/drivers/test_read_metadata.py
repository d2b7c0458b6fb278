"""Metadata columns over real loopback HTTP: status, page, redacted URL and arrival time."""

from __future__ import annotations

import asyncio
import datetime as dt

import orjson
import pyarrow as pa
import pytest

from hiveframe._http.reader import PageReader, ReadPlan
from hiveframe._http.session import Session, SessionConfig
from hiveframe._protocol.metadata import metadata_option, metadata_schema
from hiveframe._protocol.pagination import OffsetPagination
from hiveframe._protocol.paginators import start_paginator
from hiveframe.connectors import HTTPSource
from hiveframe.demo import Reply, Request
from hiveframe.errors import ConfigError

JSON = {"Content-Type": "application/json"}


def collection(request: Request) -> Reply:
    offset = int(request.query["offset"])
    records = [{"id": i} for i in range(offset, min(offset + 10, 25))]
    return Reply(200 if offset else 203, dict(JSON), orjson.dumps(records))


def read(server, clock, names, *, params=None, secret_params=frozenset()):
    pagination = OffsetPagination(page_size=10)
    plan = ReadPlan(
        url=server.url("/c"),
        params=params or {},
        pagination=pagination,
        include_metadata=metadata_option(names),
    )

    async def go():
        config = SessionConfig(secret_params=secret_params)
        async with Session(config, auth=None, credential_url=plan.url, clock=clock) as session:
            reader = PageReader(plan, session)
            return [t async for t in reader.pages(start_paginator(pagination))]

    return pa.concat_tables(asyncio.run(go()))


def test_every_record_says_where_it_came_from(serve, clock):
    server = serve({"/c": collection})
    table = read(server, clock, True, params={"api_key": "k-123456", "q": "x"})

    assert table.column_names == ["id", "_http_status", "_page", "_url", "_fetched_at"]
    rows = table.to_pylist()
    assert [r["id"] for r in rows] == list(range(25))
    assert [r["_page"] for r in rows] == [0] * 10 + [1] * 10 + [2] * 5
    assert {r["_http_status"] for r in rows[:10]} == {203}
    assert rows[10]["_url"] == server.url("/c?api_key=***&q=x&offset=10&limit=10")
    assert "k-123456" not in str(table.column("_url").to_pylist())
    arrived = dt.datetime.fromtimestamp(clock.time(), dt.timezone.utc)
    assert {r["_fetched_at"] for r in rows} == {arrived}


def test_only_the_columns_asked_for_in_that_order(serve, clock):
    server = serve({"/c": collection})
    table = read(server, clock, ["_page", "_http_status"])
    assert table.column_names == ["id", "_page", "_http_status"]
    assert table.schema.field("_page").type == pa.int32()


def test_a_record_field_of_the_same_name_is_refused(serve, clock):
    def clashing(request: Request) -> Reply:
        return Reply(200, dict(JSON), b'[{"id": 1, "_page": "mine"}]')

    server = serve({"/c": clashing})
    with pytest.raises(ConfigError) as info:
        read(server, clock, ["_page"])
    assert info.value.option == "include_metadata"


@pytest.mark.parametrize("value", ["_page", ["_status"], 7])
def test_bad_names_are_refused(value):
    with pytest.raises(ConfigError) as info:
        metadata_option(value)
    assert info.value.option == "include_metadata"


def test_a_fixed_schema_gets_the_columns_after_its_fields():
    schema = metadata_schema(pa.schema([("id", pa.int64())]), ("_url",))
    assert schema is not None and schema.names == ["id", "_url"]
    assert metadata_schema(None, ("_url",)) is None


def test_a_source_adds_the_columns_asked_for(serve):
    server = serve({"/c": collection})
    source = HTTPSource(
        server.url("/c"),
        pagination="offset",
        page_size=10,
        include_metadata=("_page", "_http_status"),
    )
    table = source.read().to_arrow()
    assert table.column_names == ["id", "_page", "_http_status"]
    assert table.column("_page").to_pylist() == [0] * 10 + [1] * 10 + [2] * 5
    single = HTTPSource(server.url("/c?offset=0"), include_metadata=True).read()
    assert single.columns[-1] == "_fetched_at" and single.count() == 10


def test_a_fixed_schema_keeps_the_metadata_columns(serve):
    server = serve({"/c": collection})
    schema = pa.schema([("id", pa.int32())])
    source = HTTPSource(
        server.url("/c"), pagination="offset", page_size=10, schema=schema, include_metadata=True
    )
    df = source.read()
    assert df.schema == metadata_schema(schema, metadata_option(True))
    assert df.count() == 25
    batches = list(source.iter_batches())
    assert {batch.schema for batch in batches} == {df.schema}
