"""Paginated reads over real loopback HTTP, in every pagination style."""

from __future__ import annotations

import threading
from dataclasses import replace

import orjson
import pytest

from hiveframe._protocol.pagination import DEFAULT_MAX_PAGES
from hiveframe.connectors import (
    CursorPagination,
    HTTPSource,
    OffsetPagination,
    PagePagination,
)
from hiveframe.demo import DemoServer, Reply, Request
from hiveframe.errors import (
    PaginationError,
    PaginationLimitReached,
    PaginationLoopError,
    PaginationWarning,
)
from waiting import WAIT

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


# -- the edges: reads that must end, lose no page and not waste quota ----------------------------


def json_reply(document, headers: dict[str, str] | None = None) -> Reply:
    return Reply(
        body=orjson.dumps(document), headers={"Content-Type": "application/json", **(headers or {})}
    )


def endless_cursor(request: Request) -> Reply:
    n = int(request.query.get("cursor", "0"))
    return json_reply({"data": [{"id": n}], "next_cursor": str(n + 1)})


def endless_offset(request: Request) -> Reply:
    offset, limit = int(request.query["offset"]), int(request.query["limit"])
    return json_reply([{"id": offset + i} for i in range(limit)])


def test_the_default_page_cap_is_generous_and_documented():
    source = HTTPSource("https://api.example.com/x", pagination="cursor")
    assert (source.plan.max_pages, source.plan.page_cap) == (None, DEFAULT_MAX_PAGES)
    assert DEFAULT_MAX_PAGES == 100_000
    lifted = HTTPSource("https://api.example.com/x", pagination="cursor", max_pages=None)
    assert (lifted.plan.max_pages, lifted.plan.page_cap) == (None, None)
    assert "max_pages=None" in repr(lifted)
    assert "max_pages" not in repr(source)


@pytest.mark.parametrize(
    ("route", "options"),
    [
        (endless_cursor, {"pagination": "cursor", "data_path": "data"}),
        (endless_offset, {"pagination": "offset", "page_size": 3, "concurrency": 4}),
        (endless_offset, {"pagination": "offset", "page_size": 3, "concurrency": 1}),
    ],
    ids=["cursor", "offset-prefetched", "offset-sequential"],
)
def test_a_read_that_would_never_end_stops_at_the_default_cap_with_an_error(serve, route, options):
    # docs/reliability.md test 41 (and test 10): an API that pages forever. The default cap
    # is 100,000 pages; the same plan field is lowered here so the test reads 25 pages.
    server = serve({"/endless": route})
    source = HTTPSource(server.url("/endless"), params={"api_key": "hunter2"}, **options)
    source.spec = replace(source.spec, plan=replace(source.plan, page_cap=25))

    with pytest.raises(PaginationLimitReached) as info:
        source.read()

    assert (info.value.limit, info.value.page) == (25, 25)
    assert "default cap of 25 pages" in str(info.value)
    assert "max_pages=None" in str(info.value)
    assert info.value.url is not None and "/endless" in info.value.url
    assert "hunter2" not in str(info.value) and "api_key=***" in str(info.value)
    assert len(server.requests) == 25  # never a request past the cap


def test_an_explicit_max_pages_reads_that_many_pages_without_an_error(serve):
    # docs/reliability.md test 10: the user asked for N pages; the read returns them.
    server = serve({"/endless": endless_cursor})
    source = HTTPSource(server.url("/endless"), pagination="cursor", data_path="data", max_pages=5)
    assert ids(source.read()) == [0, 1, 2, 3, 4]
    assert len(server.requests) == 5


def test_max_pages_none_lifts_the_cap(serve):
    def finite(request: Request) -> Reply:
        n = int(request.query.get("cursor", "0"))
        return json_reply({"data": [{"id": n}], "next_cursor": str(n + 1) if n < 40 else None})

    server = serve({"/finite": finite})
    capped = HTTPSource(server.url("/finite"), pagination="cursor", data_path="data")
    capped.spec = replace(capped.spec, plan=replace(capped.plan, page_cap=25))
    with pytest.raises(PaginationLimitReached):
        capped.read()

    lifted = HTTPSource(
        server.url("/finite"), pagination="cursor", data_path="data", max_pages=None
    )
    assert lifted.plan.page_cap is None
    assert ids(lifted.read()) == list(range(41))


@pytest.mark.parametrize(
    ("pagination", "data_path", "param"),
    [
        (OffsetPagination(page_size=3), None, "offset=3"),
        (PagePagination(page_size=3), None, "page=2"),
        (OffsetPagination(page_size=3), "items", "offset=3"),  # the envelope changes each time
    ],
    ids=["offset", "page", "offset-envelope"],
)
@pytest.mark.parametrize("concurrency", [1, 8])
def test_an_api_that_ignores_the_offset_is_caught_at_the_second_identical_page(
    serve, pagination, data_path, param, concurrency
):
    # docs/reliability.md test 42: the same full page, whatever offset or page is asked for.
    served = []

    def stuck(request: Request) -> Reply:
        served.append(request.target)
        page = [{"id": 1}, {"id": 2}, {"id": 3}]
        return json_reply({"items": page, "served": len(served)} if data_path else page)

    server = serve({"/stuck": stuck})
    source = HTTPSource(
        server.url("/stuck"),
        pagination=pagination,
        data_path=data_path,
        concurrency=concurrency,
        params={"api_key": "hunter2"},
    )

    with pytest.raises(PaginationLoopError) as info:
        source.read()

    assert info.value.page == 1
    assert f"{param} sent the records of the page before" in str(info.value)
    assert param in (info.value.url or "")
    assert "hunter2" not in str(info.value) and "api_key=***" in str(info.value)
    assert len(server.requests) == 2  # the slow start: nothing fetched ahead yet


@pytest.mark.parametrize("repeat", [True, False], ids=["same-records", "same-ends"])
def test_a_page_fetched_ahead_is_compared_with_the_one_before_by_its_records(serve, repeat):
    # Page 6 (decoded in the worker, with pages fetched ahead) holds page 5's records, or
    # records that only share their first and last ids: a loop, or a page like any other.
    def pages(request: Request) -> Reply:
        number = int(request.query["offset"]) // 3
        if number >= 9:
            return json_reply({"items": []})
        first = 15 if number == 6 else number * 3
        middle = first + 1 if repeat or number != 6 else 999
        return json_reply({"items": [{"id": first}, {"id": middle}, {"id": first + 2}]})

    server = serve({"/pages": pages})
    source = HTTPSource(
        server.url("/pages"), pagination=OffsetPagination(page_size=3), data_path="items"
    )
    if repeat:
        with pytest.raises(PaginationLoopError, match="offset=18 sent the records") as info:
            source.read()
        assert info.value.page == 6
    else:
        assert ids(source.read())[15:21] == [15, 16, 17, 15, 999, 17]


MIDDLE = {"": ([1, 2], "a"), "a": ([], "b"), "b": ([3, 4], None)}


def middle_cursor(request: Request) -> Reply:
    records, nxt = MIDDLE[request.query.get("cursor", "")]
    return json_reply({"data": [{"id": i} for i in records], "next_cursor": nxt})


def middle_link(request: Request) -> Reply:
    records, nxt = MIDDLE[request.query.get("p", "")]
    link = {"Link": f'</middle?p={nxt}>; rel="next"'} if nxt else {}
    return json_reply([{"id": i} for i in records], link)


def middle_next_url(request: Request) -> Reply:
    records, nxt = MIDDLE[request.query.get("p", "")]
    return json_reply(
        {"results": [{"id": i} for i in records], "next": f"?p={nxt}" if nxt else None}
    )


@pytest.mark.parametrize(
    ("route", "options"),
    [
        (middle_cursor, {"pagination": "cursor", "data_path": "data"}),
        (middle_link, {"pagination": "link"}),
        (middle_next_url, {"pagination": "next_url", "data_path": "results"}),
    ],
    ids=["cursor", "link", "next_url"],
)
def test_an_empty_page_in_the_middle_is_followed_not_taken_for_the_end(serve, route, options):
    # docs/reliability.md test 43: [1, 2] -> [] with a next token -> [3, 4].
    server = serve({"/middle": route})
    source = HTTPSource(server.url("/middle"), **options)
    assert ids(source.read()) == [1, 2, 3, 4]
    assert [b.num_rows for b in source.iter_batches()] == [2, 2]
    assert len(server.requests) == 6


def test_a_run_of_empty_pages_longer_than_max_empty_pages_fails_naming_the_run(serve):
    # docs/reliability.md test 43: empty pages that keep pointing onward do not spin forever.
    def hollow(request: Request) -> Reply:
        n = int(request.query.get("cursor", "0"))
        return json_reply({"data": [{"id": 0}] if n == 0 else [], "next_cursor": str(n + 1)})

    server = serve({"/hollow": hollow})
    source = HTTPSource(server.url("/hollow"), pagination="cursor", data_path="data")

    with pytest.raises(PaginationError) as info:
        source.read()

    assert "11 empty pages in a row" in str(info.value)
    assert "max_empty_pages=10" in str(info.value)
    assert info.value.page == 11
    assert "cursor=11" in (info.value.url or "")
    assert len(server.requests) == 12

    shorter = CursorPagination(cursor_path="next_cursor", max_empty_pages=2)
    with pytest.raises(PaginationError, match="3 empty pages in a row"):
        HTTPSource(server.url("/hollow"), pagination=shorter, data_path="data").read()


@pytest.mark.parametrize("concurrency", [1, 8])
def test_an_empty_page_before_the_reported_total_ends_the_read_with_a_warning(serve, concurrency):
    # docs/reliability.md test 43: offset and page styles end on an empty page; the API's
    # own total said 50 records, so the read says what it did not get.
    records = [{"id": i} for i in range(1, 21)]

    def short_of_total(request: Request) -> Reply:
        offset, limit = int(request.query["offset"]), int(request.query["limit"])
        return json_reply({"total": 50, "items": records[offset : offset + limit]})

    server = serve({"/short": short_of_total})
    config = OffsetPagination(page_size=10, total_path="total")
    source = HTTPSource(
        server.url("/short"),
        pagination=config,
        data_path="items",
        concurrency=concurrency,
        params={"token": "hunter2"},
    )

    with pytest.warns(PaginationWarning) as caught:
        df = source.read()

    assert ids(df) == list(range(1, 21))
    [warning] = [w.message for w in caught]
    assert isinstance(warning, PaginationWarning)
    assert warning.page == 2
    assert "the API reports 50 records but the page at offset=20 is empty" in str(warning)
    assert "offset=20" in (warning.url or "") and "hunter2" not in str(warning)


def test_an_empty_last_page_without_a_total_ends_the_read_quietly(serve):
    records = [{"id": i} for i in range(1, 21)]
    server = serve({"/full": lambda r: json_reply(records[int(r.query["offset"]) :][:10])})
    source = HTTPSource(server.url("/full"), pagination="offset", page_size=10, concurrency=1)
    assert ids(source.read()) == list(range(1, 21))  # warnings are errors in this suite
    assert len(server.requests) == 3


class Collection:
    """``pages`` pages of 10 records at ``/c`` (offset style), the last one short.

    The reply to the last page waits until the request for page ``last_seen`` arrived, so
    every request the reader sends ahead reaches the server before the read can end and
    the count is exact. Pages from ``hold_from`` on wait until the request for page
    ``index + concurrency - 1`` (at most ``last_seen``) arrived: ``concurrency`` requests in
    flight at once, shown by the server's own counter, not by timing.
    """

    def __init__(
        self, pages: int, *, last_seen: int = 0, hold_from: int | None = None, concurrency: int = 8
    ) -> None:
        self.records = [{"id": i} for i in range(10 * (pages - 1) + 5)]
        self.pages = pages
        self.last_seen = last_seen
        self.hold_from = hold_from
        self.concurrency = concurrency
        self.seen = -1
        self.in_flight = 0
        self.most_in_flight = 0
        self._changed = threading.Condition()

    def __call__(self, request: Request) -> Reply:
        offset, limit = int(request.query["offset"]), int(request.query["limit"])
        index = offset // limit
        with self._changed:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.seen = max(self.seen, index)
            self._changed.notify_all()
            wanted = self._wait_for(index)
            arrived = self._changed.wait_for(lambda: self.seen >= wanted, timeout=WAIT)
            self.in_flight -= 1
        assert arrived, f"page {index}: the request for page {wanted} never came"
        return json_reply({"total": len(self.records), "items": self.records[offset:][:limit]})

    def _wait_for(self, index: int) -> int:
        if index == self.pages - 1:
            return self.last_seen
        if self.hold_from is not None and self.hold_from <= index < self.pages:
            return min(index + self.concurrency - 1, self.last_seen)
        return index


@pytest.mark.parametrize(("pages", "requests"), [(1, 1), (2, 2), (3, 4), (5, 6), (20, 27)])
def test_reading_ahead_costs_at_most_one_extra_request_on_small_collections(serve, pages, requests):
    # docs/reliability.md test 49: the window slow-starts 1, 1, 2, 2, 2, 2, 4 ... 8; a read of
    # n pages requests n + min(2 ** floor(log2(n + 1)) / 2, concurrency) - 1 pages.
    collection = Collection(pages, last_seen=requests - 1)
    server = serve({"/c": collection})

    df = HTTPSource(server.url("/c"), pagination="offset", page_size=10, data_path="items").read()

    assert ids(df) == list(range(len(collection.records)))
    # At most: requests sent ahead are cancelled once an empty page shows the end, and on a
    # busy machine some are cancelled before the server has read them.
    assert len(server.requests) <= requests
    assert len(server.requests) >= min(requests, pages + 1)


@pytest.mark.parametrize("pages", [1, 3, 20])
def test_one_page_at_a_time_and_a_known_total_cost_no_request_past_the_end(serve, pages):
    # docs/reliability.md test 49: concurrency=1, or a total, means exactly the pages.
    for options in ({"concurrency": 1}, {"pagination": OffsetPagination(total_path="total")}):
        collection = Collection(pages, last_seen=pages - 1)
        server = serve({"/c": collection})
        source = HTTPSource(
            server.url("/c"), **{"pagination": "offset", **options}, page_size=10, data_path="items"
        )
        assert ids(source.read()) == list(range(len(collection.records)))
        assert len(server.requests) == pages


def test_a_known_total_opens_the_window_at_once(serve):
    collection = Collection(20, last_seen=19, hold_from=1)
    server = serve({"/c": collection})
    source = HTTPSource(
        server.url("/c"),
        pagination=OffsetPagination(total_path="total"),
        page_size=10,
        data_path="items",
    )
    assert ids(source.read()) == list(range(len(collection.records)))
    assert collection.most_in_flight == 8  # from page 1 on, never past page 19
    assert len(server.requests) == 20


def test_a_long_read_reaches_full_concurrency(serve):
    # docs/reliability.md test 49: from page 14 on the window is 8; the server sees 8
    # requests in flight at once, and never more.
    collection = Collection(40, last_seen=46, hold_from=14)
    server = serve({"/c": collection})

    df = HTTPSource(
        server.url("/c"), pagination="offset", page_size=10, concurrency=8, data_path="items"
    ).read()

    assert ids(df) == list(range(len(collection.records)))
    assert collection.most_in_flight == 8
    assert len(server.requests) == 40 + 7


def test_records_nested_past_the_ipc_writers_depth_read_with_offset_pagination(serve):
    # Offset pages are compared with the page before (to catch a server ignoring the
    # offset); that comparison once wrote each page as Arrow IPC, whose writer refuses
    # nesting past 64 levels, so such a read failed on its first full page.
    def deep(level: int) -> object:
        value: object = level
        for _ in range(70):
            value = {"v": value}
        return value

    def api(request: Request) -> Reply:
        offset = int(request.query.get("offset", 0))
        records = [{"id": i, "deep": deep(i)} for i in range(offset, min(offset + 2, 5))]
        return Reply(200, {"Content-Type": "application/json"}, orjson.dumps(records))

    server = serve({"/deep": api})
    source = HTTPSource(server.url("/deep"), pagination="offset", page_size=2)
    assert source.read().to_arrow().column("id").to_pylist() == [0, 1, 2, 3, 4]
