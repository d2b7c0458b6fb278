"""``pagination="auto"`` over real loopback HTTP: each style the demo API serves, explicit
settings winning, and the hostile cases (a Link header and a next field at once, a null next
field, a total that lies, a cursor that repeats, empty pages in the middle)."""

from __future__ import annotations

import threading

import orjson
import pytest

from hiveframe.connectors import HTTPSource
from hiveframe.demo import Reply, Request
from hiveframe.errors import PaginationLoopError, PaginationWarning

JSON = {"Content-Type": "application/json"}


def _json(document, headers=None):
    return Reply(200, {**JSON, **(headers or {})}, orjson.dumps(document))


@pytest.mark.parametrize(
    ("path", "data_path", "style", "reason"),
    [
        ("/items", "items", "offset", "total_reached"),
        ("/pages", "data", "page", "total_reached"),
        ("/cursor", "data", "cursor", "no_next_cursor"),
        ("/link", None, "link", "no_next_link"),
        ("/next", "results", "next_url", "no_next_link"),
    ],
)
def test_auto_reads_every_style_of_the_demo(demo, caplog, path, data_path, style, reason):
    source = HTTPSource(demo.url(path), pagination="auto", data_path=data_path)
    with caplog.at_level("INFO", logger="hiveframe.pagination"):
        df = source.read()
    assert df.count() == 250
    assert df.to_pylist()[-1]["id"] == 250
    assert source.last_read is not None and source.last_read.stop_reason == reason
    chosen = [m for m in caplog.messages if m.startswith("pagination='auto' chose")]
    assert len(chosen) == 1 and chosen[0].startswith(f"pagination='auto' chose {style}: ")


def test_nothing_found_reads_one_page_and_says_so(fresh_demo, caplog):
    source = HTTPSource(fresh_demo.url("/data"), pagination="auto")
    with caplog.at_level("INFO", logger="hiveframe.pagination"):
        assert source.read().count() == 100
    assert len(fresh_demo.requests) == 1
    assert source.last_read is not None and source.last_read.stop_reason == "single_page"
    assert any(
        m.startswith("pagination='auto' chose none: no Link header") for m in caplog.messages
    )


def test_explicit_settings_win_over_what_auto_would_find(serve):
    # The responses carry a Link header; the user said offset: offsets are sent, the link
    # is never followed.
    def items(request: Request) -> Reply:
        offset = int(request.query["offset"])
        rows = [{"id": i} for i in range(offset, min(offset + 2, 5))]
        return _json(rows, {"Link": '</decoy>; rel="next"'})

    def decoy(request: Request) -> Reply:
        raise AssertionError("the Link header was followed")

    server = serve({"/items": items, "/decoy": decoy})
    source = HTTPSource(server.url("/items"), pagination="offset", page_size=2)
    assert source.read().count() == 5


def test_a_link_header_wins_over_a_next_field(serve):
    # Both name a next page; they disagree. The Link header is followed, the field is not.
    def pages(request: Request) -> Reply:
        page = int(request.query.get("page", "1"))
        headers = {"Link": f'</pages?page={page + 1}>; rel="next"'} if page < 3 else {}
        return _json({"data": [{"page": page}], "next": "/decoy"}, headers)

    def decoy(request: Request) -> Reply:
        raise AssertionError("the next field was followed")

    server = serve({"/pages": pages, "/decoy": decoy})
    source = HTTPSource(server.url("/pages"), pagination="auto", data_path="data")
    assert [r["page"] for r in source.read().to_pylist()] == [1, 2, 3]
    assert source.last_read is not None and source.last_read.stop_reason == "no_next_link"


def test_a_next_field_that_is_null_on_the_last_page(serve):
    def pages(request: Request) -> Reply:
        page = int(request.query.get("page", "1"))
        nxt = f"/pages?page={page + 1}" if page < 3 else None
        return _json({"data": [{"page": page}], "meta": {"next_url": nxt}})

    server = serve({"/pages": pages})
    source = HTTPSource(server.url("/pages"), pagination="auto", data_path="data")
    assert source.read().count() == 3
    assert source.last_read is not None and source.last_read.stop_reason == "no_next_link"


def test_a_total_that_lies_warns_as_an_explicit_total_does(serve):
    # The envelope reports 1000 records; the collection ends at 25 (an empty page after it).
    def items(request: Request) -> Reply:
        offset, limit = int(request.query.get("offset", "0")), 10
        rows = [{"id": i} for i in range(offset, min(offset + limit, 20))]
        return _json({"items": rows, "offset": offset, "limit": limit, "total": 1000})

    server = serve({"/items": items})
    source = HTTPSource(server.url("/items"), pagination="auto", data_path="items")
    with pytest.warns(PaginationWarning, match="the API reports 1000 records"):
        assert source.read().count() == 20
    assert source.last_read is not None and source.last_read.stop_reason == "empty_page"


def test_a_cursor_that_repeats_is_a_loop(serve):
    def items(request: Request) -> Reply:
        return _json({"data": [{"id": 1}], "meta": {"next_cursor": "same"}})

    server = serve({"/items": items})
    source = HTTPSource(server.url("/items"), pagination="auto", data_path="data")
    with pytest.raises(PaginationLoopError, match="same"):
        source.read()


def test_empty_pages_in_the_middle_are_followed(serve):
    # Pages 2 and 3 are empty but point onward: a cursor API may do that while more remain.
    rows = {"": [1, 2], "c2": [], "c3": [], "c4": [3]}
    onward = {"": "c2", "c2": "c3", "c3": "c4", "c4": None}

    def items(request: Request) -> Reply:
        cursor = request.query.get("cursor", "")
        data = [{"id": i} for i in rows[cursor]]
        return _json({"data": data, "paging": {"next_cursor": onward[cursor]}})

    server = serve({"/items": items})
    source = HTTPSource(server.url("/items"), pagination="auto", data_path="data")
    assert [r["id"] for r in source.read().to_pylist()] == [1, 2, 3]
    assert len(server.requests) == 4


def test_an_empty_first_page_with_a_null_cursor_ends_the_read(serve):
    server = serve({"/items": lambda request: _json({"data": [], "next_cursor": None})})
    source = HTTPSource(server.url("/items"), pagination="auto", data_path="data")
    assert source.read().count() == 0
    assert source.last_read is not None and source.last_read.stop_reason == "no_next_cursor"


def test_detected_offset_pages_are_fetched_concurrently_and_the_first_only_once(serve):
    # The page at offset 10 answers only once the page at offset 20 was asked for: a read
    # that fetched one page after another would get a 503 there (and fail: no retries).
    asked_for_last = threading.Event()

    def items(request: Request) -> Reply:
        offset = int(request.query.get("offset", "0"))
        if offset == 20:
            asked_for_last.set()
        if offset == 10 and not asked_for_last.wait(timeout=10):
            return Reply(503, {}, b"")
        rows = [{"id": i} for i in range(offset, min(offset + 10, 25))]
        return _json({"items": rows, "offset": offset, "limit": 10, "total": 25})

    server = serve({"/items": items})
    source = HTTPSource(server.url("/items"), pagination="auto", data_path="items", retry=None)
    assert [r["id"] for r in source.read().to_pylist()] == list(range(25))
    assert server.requests[0].target == "/items"
    assert sorted(r.target for r in server.requests[1:]) == [
        "/items?offset=10&limit=10",
        "/items?offset=20&limit=10",
    ]
    assert source.last_read is not None and source.last_read.stop_reason == "total_reached"
