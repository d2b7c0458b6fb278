"""Paginated reads over real loopback HTTP, in every pagination style."""

from __future__ import annotations

import orjson
import pytest

from hiveframe.connectors import (
    CursorPagination,
    HTTPSource,
    OffsetPagination,
    PagePagination,
)
from hiveframe.demo import DemoServer, Reply, Request
from hiveframe.errors import PaginationLoopError

ALL_IDS = list(range(1, 251))


def ids(df) -> list[int]:
    return df.to_arrow().column("id").to_pylist()


@pytest.mark.parametrize(
    ("path", "options"),
    [
        ("/data", {"pagination": "offset"}),
        ("/items", {"pagination": "offset", "data_path": "items"}),
        ("/pages", {"pagination": "page", "data_path": "data"}),
        ("/cursor", {"pagination": "cursor", "data_path": "data"}),
        ("/link", {"pagination": "link", "params": {"per_page": "100"}}),
        (
            "/next",
            {"pagination": "next_url", "data_path": "results", "params": {"page_size": "100"}},
        ),
    ],
)
@pytest.mark.parametrize("concurrency", [1, 4])
def test_every_style_reads_all_records_with_a_partial_last_page(
    fresh_demo, path, options, concurrency
):
    source = HTTPSource(fresh_demo.url(path), page_size=100, concurrency=concurrency, **options)

    df = source.read()

    assert ids(df) == ALL_IDS  # pages of 100, 100, 50: in order, none doubled
    sent = len(fresh_demo.requests_to(path))
    if concurrency == 1:
        assert sent == 3  # the short last page ends the read
    else:
        assert 3 <= sent <= 3 + concurrency - 1  # pages fetched ahead past the end: dropped


def test_offset_sends_offset_and_limit(fresh_demo):
    HTTPSource(fresh_demo.url("/data"), pagination="offset", page_size=100, concurrency=1).read()
    sent = [(r.query["offset"], r.query["limit"]) for r in fresh_demo.requests_to("/data")]
    assert sent == [("0", "100"), ("100", "100"), ("200", "100")]


def test_custom_parameter_names_skip_take(serve):
    records = [{"id": i} for i in range(1, 26)]

    def skip_take(request: Request) -> Reply:
        skip, take = int(request.query["skip"]), int(request.query["take"])
        return Reply(
            body=orjson.dumps(records[skip : skip + take]),
            headers={"Content-Type": "application/json"},
        )

    server = serve({"/rows": skip_take})
    config = OffsetPagination(offset_param="skip", limit_param="take", page_size=10)

    df = HTTPSource(server.url("/rows"), pagination=config, concurrency=1).read()

    assert df.count() == 25
    assert [r.query["skip"] for r in server.requests] == ["0", "10", "20"]


def test_per_page_and_total_pages(demo):
    config = PagePagination(size_param="page_size", total_pages_path="total_pages")
    df = HTTPSource(demo.url("/pages"), pagination=config, page_size=120, data_path="data").read()
    assert ids(df) == ALL_IDS


def test_max_pages_stops_early(demo):
    df = HTTPSource(demo.url("/data"), pagination="offset", page_size=100, max_pages=2).read()
    assert ids(df) == list(range(1, 201))


def test_empty_collection_gives_an_empty_frame():
    with DemoServer(records=0) as empty:
        for path, options in [("/data", {}), ("/cursor", {"data_path": "data"})]:
            style = "offset" if path == "/data" else "cursor"
            df = HTTPSource(empty.url(path), pagination=style, **options).read()
            assert df.count() == 0
            assert len(empty.requests_to(path)) == 1


def test_a_repeated_cursor_is_an_error_not_an_endless_loop(serve):
    def stuck(request: Request) -> Reply:
        body = {"data": [{"id": 1}], "next_cursor": "same"}
        return Reply(body=orjson.dumps(body), headers={"Content-Type": "application/json"})

    server = serve({"/stuck": stuck})
    source = HTTPSource(server.url("/stuck"), pagination=CursorPagination(), data_path="data")

    with pytest.raises(PaginationLoopError) as info:
        source.read()
    assert info.value.page == 1
    assert len(server.requests) == 2


def test_a_repeated_next_link_is_an_error(serve):
    def loop(request: Request) -> Reply:
        return Reply(
            body=b'[{"id": 1}]',
            headers={"Content-Type": "application/json", "Link": '</loop?p=2>; rel="next"'},
        )

    server = serve({"/loop": loop})
    with pytest.raises(PaginationLoopError):
        HTTPSource(server.url("/loop"), pagination="link").read()
    assert len(server.requests) == 2


def test_single_request_without_pagination(demo):
    df = HTTPSource(demo.url("/data"), params={"limit": 7}).read()
    assert ids(df) == list(range(1, 8))


def test_concurrent_fetch_keeps_page_order_when_pages_arrive_out_of_order(serve):
    import random
    import time

    records = [{"id": i} for i in range(1, 1001)]

    def jittery(request: Request) -> Reply:
        time.sleep(random.random() / 200)  # later pages often answer first
        offset, limit = int(request.query["offset"]), int(request.query["limit"])
        return Reply(
            body=orjson.dumps(records[offset : offset + limit]),
            headers={"Content-Type": "application/json"},
        )

    server = serve({"/j": jittery})
    df = HTTPSource(server.url("/j"), pagination="offset", page_size=10, concurrency=8).read()

    assert ids(df) == list(range(1, 1001))
    assert len(server.requests) <= 101 + 7


def test_concurrency_must_be_positive():
    from hiveframe.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        HTTPSource("https://api.example.com/x", concurrency=0)
    assert info.value.option == "concurrency"
