"""Pagination state machines, driven with plain Page objects (sans-I/O: no server needed)."""

from __future__ import annotations

import doctest
import json
from dataclasses import dataclass
from typing import Any

import pytest

import hiveframe._protocol.link_header as link_header_module
import hiveframe._protocol.pagination as pagination_module
import hiveframe._protocol.paginators as paginators_module
from hiveframe._protocol.link_header import find_next_link, parse_link_header
from hiveframe._protocol.pagination import (
    DEFAULT_PAGE_SIZE,
    CursorPagination,
    LinkPagination,
    NextUrlPagination,
    OffsetPagination,
    PagePagination,
    PaginationConfig,
)
from hiveframe._protocol.paginators import (
    PAGINATORS,
    Page,
    PageRequest,
    Paginator,
    config_class,
    pagination_from_options,
    resume_paginator,
    start_paginator,
)
from hiveframe.errors import ConfigError, PaginationError, PaginationLoopError

BASE = "https://api.test/v1/items"


def page(
    paginator: Paginator,
    request: PageRequest,
    *,
    index: int = 0,
    count: int = 10,
    document: Any = None,
    headers: dict[str, str] | None = None,
    url: str | None = None,
    key: object = None,
) -> Page:
    return Page(
        index=index,
        request=request,
        url=url or request.url or BASE,
        headers=headers or {},
        document=document if document is not None else {},
        record_count=count,
        key=key,
    )


def run(paginator: Paginator, answers: list[dict[str, Any]]) -> list[PageRequest]:
    """Drive a paginator over canned answers; return every request it made."""
    requests = [paginator.first()]
    for index, answer in enumerate(answers):
        nxt = paginator.advance(page(paginator, requests[-1], index=index, **answer))
        if nxt is None:
            return requests
        requests.append(nxt)
    raise AssertionError("the paginator did not stop")


# -- offset -----------------------------------------------------------------------------------


def test_offset_pages_until_a_partial_last_page():
    paginator = start_paginator(OffsetPagination(page_size=100))
    requests = run(paginator, [{"count": 100}, {"count": 100}, {"count": 50}])
    assert [dict(r.params) for r in requests] == [
        {"offset": "0", "limit": "100"},
        {"offset": "100", "limit": "100"},
        {"offset": "200", "limit": "100"},
    ]
    assert paginator.exhausted


def test_offset_stops_on_an_empty_first_page():
    paginator = start_paginator(OffsetPagination(page_size=100))
    assert len(run(paginator, [{"count": 0}])) == 1


def test_offset_stops_on_an_exactly_full_last_page_by_the_empty_page_after_it():
    requests = run(start_paginator(OffsetPagination(page_size=10)), [{"count": 10}, {"count": 0}])
    assert len(requests) == 2


def test_offset_custom_names_skip_take_and_start():
    config = OffsetPagination(offset_param="skip", limit_param="take", page_size=25, start=5)
    requests = run(start_paginator(config), [{"count": 25}, {"count": 3}])
    assert [dict(r.params) for r in requests] == [
        {"skip": "5", "take": "25"},
        {"skip": "30", "take": "25"},
    ]


def test_offset_default_page_size_is_sent():
    assert start_paginator(OffsetPagination()).first().params == {
        "offset": "0",
        "limit": str(DEFAULT_PAGE_SIZE),
    }


def test_offset_stops_when_the_reported_total_is_reached():
    paginator = start_paginator(OffsetPagination(page_size=10, total_path="meta.total"))
    answers = [{"count": 10, "document": {"meta": {"total": 20}}}] * 2
    assert len(run(paginator, answers)) == 2


def test_offset_total_may_be_a_numeric_string_and_may_be_missing():
    paginator = start_paginator(OffsetPagination(page_size=10, total_path="total"))
    answers = [{"count": 10, "document": {}}, {"count": 10, "document": {"total": "20"}}]
    assert len(run(paginator, answers)) == 2


def test_offset_total_that_is_not_a_count_is_an_error():
    paginator = start_paginator(OffsetPagination(page_size=10, total_path="total"))
    bad = page(paginator, paginator.first(), document={"total": {"n": 1}})
    with pytest.raises(PaginationError, match="total_path"):
        paginator.advance(bad)


def test_offset_advances_by_what_arrived_when_a_server_sends_more_than_asked():
    paginator = start_paginator(OffsetPagination(page_size=10))
    nxt = paginator.advance(page(paginator, paginator.first(), count=15))
    assert nxt is not None
    assert nxt.params["offset"] == "15"


def test_offset_is_prefetchable_and_is_last_is_pure():
    paginator = start_paginator(OffsetPagination(page_size=100))
    assert paginator.prefetchable
    requests = [paginator.request_at(i) for i in range(4)]
    assert [r.params["offset"] for r in requests] == ["0", "100", "200", "300"]
    pages = [
        page(paginator, r, index=i, count=c)
        for i, (r, c) in enumerate(zip(requests, [100, 100, 40, 0], strict=True))
    ]
    assert [paginator.is_last(p) for p in pages] == [False, False, True, True]
    assert paginator.position()["next"]["params"]["offset"] == "0"  # is_last changed nothing


def test_request_at_a_negative_index_is_refused():
    with pytest.raises(PaginationError):
        start_paginator(OffsetPagination()).request_at(-1)


@pytest.mark.parametrize(
    ("config", "total"),
    [(OffsetPagination(page_size=10), None), (PagePagination(page_size=10, total_path="n"), 50)],
)
def test_a_page_with_the_records_of_the_page_before_is_a_loop(config, total):
    # docs/reliability.md test 42: an API that ignores the offset or page number sends the
    # same full page again; even a total that would end the read does not hide it.
    paginator = start_paginator(config)
    answer = {"count": 10, "document": {"n": total}, "key": b"same records"}
    with pytest.raises(PaginationLoopError) as info:
        run(paginator, [answer, answer])
    assert info.value.page == 1
    assert "sent the records of the page before" in str(info.value)
    assert "page=1" in str(info.value)


def test_pages_with_different_records_and_empty_pages_are_not_loops():
    paginator = start_paginator(OffsetPagination(page_size=10))
    answers = [{"count": 10, "key": b"a"}, {"count": 10, "key": b"b"}]
    answers += [{"count": 10, "key": b"a"}, {"count": 0, "key": b"none"}]
    assert len(run(paginator, answers)) == 4  # only the page right before counts


@pytest.mark.parametrize(
    ("config", "document", "unit", "where"),
    [
        (OffsetPagination(page_size=10, total_path="t"), {"t": 40}, "40 records", "offset=10"),
        (PagePagination(page_size=10, total_pages_path="p"), {"p": 4}, "4 pages", "page=2"),
        (PagePagination(page_size=10, total_path="t"), {"t": 35}, "4 pages", "page=2"),
    ],
)
def test_an_empty_page_before_the_reported_total_ends_the_read_with_a_shortfall(
    config, document, unit, where
):
    # docs/reliability.md test 43: offset and page styles end on an empty page, and say so
    # when the API's own total promised more.
    paginator = start_paginator(config)
    answers = [{"count": 10, "document": document}, {"count": 0, "document": document}]
    assert len(run(paginator, answers)) == 2
    assert paginator.shortfall is not None
    assert f"the API reports {unit} but the page at {where} is empty" in paginator.shortfall


@pytest.mark.parametrize(
    "answers",
    [
        [{"count": 10}, {"count": 0}],  # no total reported
        [{"count": 10, "document": {"total": 10}}],  # the total reached
        [{"count": 10, "document": {"total": 20}}, {"count": 5, "document": {"total": 20}}],
    ],
)
def test_no_shortfall_without_a_total_or_when_the_read_is_complete(answers):
    paginator = start_paginator(OffsetPagination(page_size=10, total_path="total"))
    run(paginator, answers)
    assert paginator.shortfall is None


def test_the_read_ahead_window_slow_starts_and_doubles_up_to_concurrency():
    # docs/reliability.md test 49: 1, 1, 2, 2, 2, 2, 4 (x8), 8 ... pages in flight.
    paginator = start_paginator(OffsetPagination(page_size=10))
    windows = [paginator.window(i, 8) for i in range(32)]
    assert windows == [1, 1] + [2] * 4 + [4] * 8 + [8] * 18
    assert [paginator.window(i, 3) for i in range(8)] == [1, 1, 2, 2, 2, 2, 3, 3]


@pytest.mark.parametrize("concurrency", [1, 2, 8, 32])
def test_pages_requested_past_the_end_stay_within_the_stated_bound(concurrency):
    # The driver keeps pages [k, k + window(k)) in flight once k pages came back full, so a
    # read of n pages requests max(k + window(k)) over k < n pages: n plus the waste below.
    paginator = start_paginator(PagePagination(page_size=10))
    for n in range(1, 300):
        requested = max(k + paginator.window(k, concurrency) for k in range(n))
        waste = min(2 ** (n + 1).bit_length() // 4, concurrency) - 1
        assert requested == n + waste
        assert waste <= (n - 1) // 2
        assert (n <= 2 and waste == 0) or (n <= 6 and waste <= 1) or n > 6


def test_a_reported_total_opens_the_window_to_the_pages_it_leaves():
    paginator = start_paginator(OffsetPagination(page_size=10, total_path="total"))
    first = page(paginator, paginator.first(), count=10, document={"total": 45})
    paginator.advance(first)
    assert [paginator.window(i, 8) for i in range(1, 5)] == [4, 3, 2, 1]  # offsets 10..40
    assert paginator.window(1, 2) == 2


# -- page number ------------------------------------------------------------------------------


def test_page_numbers_with_per_page_until_a_partial_page():
    config = PagePagination(size_param="per_page", page_size=50)
    requests = run(start_paginator(config), [{"count": 50}, {"count": 7}])
    assert [dict(r.params) for r in requests] == [
        {"page": "1", "per_page": "50"},
        {"page": "2", "per_page": "50"},
    ]


def test_page_zero_based_and_fixed_page_size_without_a_size_param():
    config = PagePagination(size_param=None, page_size=20, start=0)
    requests = run(start_paginator(config), [{"count": 20}, {"count": 19}])
    assert [dict(r.params) for r in requests] == [{"page": "0"}, {"page": "1"}]


def test_page_with_unknown_size_stops_only_on_an_empty_page():
    paginator = start_paginator(PagePagination(size_param=None))
    assert paginator.first().params == {"page": "1"}
    assert len(run(paginator, [{"count": 3}, {"count": 1}, {"count": 0}])) == 3


def test_page_stops_at_total_pages():
    paginator = start_paginator(PagePagination(total_pages_path="total_pages", page_size=10))
    answers = [{"count": 10, "document": {"total_pages": 3}}] * 3
    assert [r.params["page"] for r in run(paginator, answers)] == ["1", "2", "3"]


def test_page_stops_when_a_record_total_is_covered():
    paginator = start_paginator(PagePagination(total_path="total", page_size=10))
    answers = [{"count": 10, "document": {"total": 30}}] * 3
    assert len(run(paginator, answers)) == 3


def test_page_request_at_counts_pages():
    paginator = start_paginator(PagePagination(start=1))
    assert paginator.request_at(4).params["page"] == "5"


# -- cursor -----------------------------------------------------------------------------------


def test_cursor_from_a_dotted_path_until_it_is_null():
    paginator = start_paginator(CursorPagination(cursor_path="meta.next"))
    answers = [
        {"document": {"meta": {"next": "c2"}}},
        {"document": {"meta": {"next": "c3"}}},
        {"document": {"meta": {"next": None}}},
    ]
    requests = run(paginator, answers)
    assert [dict(r.params) for r in requests] == [{}, {"cursor": "c2"}, {"cursor": "c3"}]


@pytest.mark.parametrize("document", [{}, {"next_cursor": ""}, {"next_cursor": "  "}])
def test_cursor_missing_or_empty_stops(document):
    paginator = start_paginator(CursorPagination())
    assert paginator.advance(page(paginator, paginator.first(), document=document)) is None


def test_cursor_does_not_stop_on_a_short_page():
    paginator = start_paginator(CursorPagination(size_param="limit", page_size=100))
    nxt = paginator.advance(
        page(paginator, paginator.first(), count=3, document={"next_cursor": "c2"})
    )
    assert nxt == PageRequest(params={"cursor": "c2", "limit": "100"})


def test_cursor_follows_an_empty_page_that_has_a_cursor():
    # docs/reliability.md test 43: [1, 2] -> [] with a cursor -> [3, 4] loses nothing.
    paginator = start_paginator(CursorPagination())
    answers = [
        {"count": 2, "document": {"next_cursor": "a"}},
        {"count": 0, "document": {"next_cursor": "b"}},
        {"count": 2, "document": {"next_cursor": None}},
    ]
    requests = run(paginator, answers)
    assert [dict(r.params) for r in requests] == [{}, {"cursor": "a"}, {"cursor": "b"}]


def test_an_empty_page_whose_cursor_is_its_own_ends_the_read():
    paginator = start_paginator(CursorPagination())
    answers = [
        {"count": 2, "document": {"next_cursor": "a"}},
        {"count": 0, "document": {"next_cursor": "a"}},  # "poll again from here"
    ]
    assert len(run(paginator, answers)) == 2


@pytest.mark.parametrize(
    ("config", "answer"),
    [
        (CursorPagination(max_empty_pages=2), lambda i: {"document": {"next_cursor": f"c{i}"}}),
        (
            LinkPagination(max_empty_pages=2),
            lambda i: {"headers": {"Link": f'</v1/items?p={i}>; rel="next"'}},
        ),
        (NextUrlPagination(max_empty_pages=2), lambda i: {"document": {"next": f"?p={i}"}}),
    ],
    ids=["cursor", "link", "next_url"],
)
def test_more_empty_pages_in_a_row_than_max_empty_pages_is_an_error(config, answer):
    # docs/reliability.md test 43: a bounded run of empty pages, then a clear error.
    paginator = start_paginator(config)
    counts = [5, 0, 0, 5, 0, 0, 0]  # a full page resets the run; the third empty one fails
    requests = [paginator.first()]
    with pytest.raises(PaginationError) as info:
        for index, count in enumerate(counts):
            fetched = page(paginator, requests[-1], index=index, count=count, **answer(index))
            requests.append(paginator.advance(fetched))
    assert info.value.page == 6
    assert "3 empty pages in a row" in str(info.value)
    assert "max_empty_pages=2" in str(info.value)
    assert not isinstance(info.value, PaginationLoopError)


def test_max_empty_pages_zero_refuses_any_empty_page_that_points_onward():
    paginator = start_paginator(CursorPagination(max_empty_pages=0))
    empty = page(paginator, paginator.first(), count=0, document={"next_cursor": "b"})
    with pytest.raises(PaginationError, match="1 empty page in a row"):
        paginator.advance(empty)


def test_cursor_from_a_header_in_any_case():
    paginator = start_paginator(CursorPagination(cursor_header="X-Next-Cursor"))
    for headers in ({"x-next-cursor": "abc"}, {"X-NEXT-CURSOR": "abc"}):
        nxt = paginator.advance(page(paginator, paginator.first(), headers=headers))
        assert nxt == PageRequest(params={"cursor": "abc"})
        paginator = start_paginator(CursorPagination(cursor_header="X-Next-Cursor"))


def test_cursor_may_be_an_integer():
    paginator = start_paginator(CursorPagination(cursor_param="since_id"))
    nxt = paginator.advance(page(paginator, paginator.first(), document={"next_cursor": 42}))
    assert nxt == PageRequest(params={"since_id": "42"})


def test_cursor_that_is_an_object_is_an_error():
    paginator = start_paginator(CursorPagination())
    with pytest.raises(PaginationError, match="cursor_path"):
        paginator.advance(page(paginator, paginator.first(), document={"next_cursor": {}}))


def test_cursor_path_on_a_response_that_is_not_json_is_an_error():
    paginator = start_paginator(CursorPagination())
    not_json = Page(
        index=0, request=paginator.first(), url=BASE, headers={}, document=None, record_count=5
    )
    with pytest.raises(PaginationError, match="needs a JSON response"):
        paginator.advance(not_json)


def test_a_repeated_cursor_raises_a_loop_error_naming_the_page():
    paginator = start_paginator(CursorPagination())
    answers = [
        {"document": {"next_cursor": "c2"}},
        {"document": {"next_cursor": "c3"}},
        {"document": {"next_cursor": "c2"}},
    ]
    with pytest.raises(PaginationLoopError) as info:
        run(paginator, answers)
    assert info.value.page == 2
    assert "c2" in info.value.repeated


def test_a_cursor_pointing_at_itself_is_a_loop():
    paginator = start_paginator(CursorPagination())
    first = paginator.advance(page(paginator, paginator.first(), document={"next_cursor": "x"}))
    assert first is not None
    with pytest.raises(PaginationLoopError):
        paginator.advance(page(paginator, first, index=1, document={"next_cursor": "x"}))


def test_a_repeated_cursor_shaped_like_a_url_is_redacted():
    secret = "https://api.test/items?cursor=2&api_key=hunter2"
    paginator = start_paginator(CursorPagination())
    answers = [{"document": {"next_cursor": secret}}] * 2
    with pytest.raises(PaginationLoopError) as info:
        run(paginator, answers)
    assert "hunter2" not in str(info.value)


def test_cursor_is_not_prefetchable():
    paginator = start_paginator(CursorPagination())
    assert not paginator.prefetchable
    with pytest.raises(TypeError):
        paginator.request_at(1)
    with pytest.raises(TypeError):
        paginator.is_last(page(paginator, paginator.first()))


# -- Link header ------------------------------------------------------------------------------


def test_link_follows_rel_next_and_resolves_relative_urls():
    paginator = start_paginator(LinkPagination())
    first = paginator.first()
    assert first == PageRequest()
    headers = {"link": '</v1/items?page=2>; rel="next", </v1/items?page=9>; rel="last"'}
    nxt = paginator.advance(page(paginator, first, headers=headers, url=BASE + "?page=1"))
    assert nxt == PageRequest(url="https://api.test/v1/items?page=2")


def test_link_stops_without_a_next_rel():
    paginator = start_paginator(LinkPagination())
    headers = {"Link": '<https://api.test/v1/items?page=1>; rel="prev first"'}
    assert paginator.advance(page(paginator, paginator.first(), headers=headers)) is None
    paginator = start_paginator(LinkPagination())
    assert paginator.advance(page(paginator, paginator.first())) is None


def test_link_sends_a_page_size_on_the_first_request():
    config = LinkPagination(size_param="per_page", page_size=30)
    assert start_paginator(config).first().params == {"per_page": "30"}


def test_a_repeated_next_link_is_a_loop():
    paginator = start_paginator(LinkPagination())
    one, two = BASE + "?page=1", BASE + "?page=2"
    nxt = paginator.advance(
        page(paginator, paginator.first(), url=one, headers={"link": f"<{two}>; rel=next"})
    )
    assert nxt is not None
    with pytest.raises(PaginationLoopError) as info:
        paginator.advance(page(paginator, nxt, index=1, headers={"link": f"<{one}>; rel=next"}))
    assert info.value.page == 1
    assert "page=1" in info.value.repeated


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('<https://a.test/2>; rel="next"', "https://a.test/2"),
        ("<https://a.test/2>;rel=next", "https://a.test/2"),
        ('<https://a.test/1>; rel="prev next"', "https://a.test/1"),
        ('<https://a.test/1>; REL="Next"', "https://a.test/1"),
        ('<https://a.test/p>; rel="prev", <https://a.test/n>; rel="next"', "https://a.test/n"),
        (
            '  <https://a.test/n> ;  rel = "next" ,<https://a.test/l>; rel="last"  ',
            "https://a.test/n",
        ),
        ('<https://a.test/a>; title="a, b; c"; rel="next"', "https://a.test/a"),
        (
            '<https://a.test/a>; title="say \\"next\\", please", <https://a.test/b>; rel=next',
            "https://a.test/b",
        ),
        ("<https://a.test/x?a=1,2;b=3>; rel=next", "https://a.test/x?a=1,2;b=3"),
        ('<https://a.test/1>; rel="next"; rel="prev"', "https://a.test/1"),
        ('<https://a.test/1>; rel="prev"; rel="next"', None),
        ('junk, <https://a.test/2>; rel="next"', "https://a.test/2"),
        ('<https://a.test/2; rel="next"', None),
        ("", None),
    ],
)
def test_link_header_edge_cases(header, expected):
    assert find_next_link(header) == expected


def test_parse_link_header_keeps_params_unquoted_and_lowercased():
    links = parse_link_header('</a>; Rel="next"; title="x\\"y", </b>; anchor="#c"')
    assert links == [("/a", {"rel": "next", "title": 'x"y'}), ("/b", {"anchor": "#c"})]


def test_several_link_headers_joined_by_commas_are_all_read():
    # The session joins repeated headers with ", " (joined_headers), as RFC 9110 5.3 allows.
    joined = '<https://a.test/p>; rel="prev", <https://a.test/n>; rel="next"'
    paginator = start_paginator(LinkPagination())
    nxt = paginator.advance(page(paginator, paginator.first(), headers={"link": joined}))
    assert nxt == PageRequest(url="https://a.test/n")


# -- next URL in the document -----------------------------------------------------------------


def test_next_url_absolute_and_relative_until_null():
    paginator = start_paginator(NextUrlPagination(next_url_path="links.next"))
    answers = [
        {"document": {"links": {"next": "https://api.test/v1/items?page=2"}}},
        {"document": {"links": {"next": "items?page=3"}}, "url": BASE + "?page=2"},
        {"document": {"links": {"next": None}}, "url": BASE + "?page=3"},
    ]
    requests = run(paginator, answers)
    assert [r.url for r in requests] == [
        None,
        "https://api.test/v1/items?page=2",
        "https://api.test/v1/items?page=3",
    ]


def test_a_repeated_next_url_is_a_loop_and_credentials_are_redacted():
    paginator = start_paginator(NextUrlPagination())
    one = BASE + "?page=1&api_key=hunter2"
    two = BASE + "?page=2&api_key=hunter2"
    nxt = paginator.advance(page(paginator, paginator.first(), url=one, document={"next": two}))
    assert nxt is not None
    with pytest.raises(PaginationLoopError) as info:
        paginator.advance(page(paginator, nxt, index=1, document={"next": one}))
    assert "hunter2" not in str(info.value)
    assert "page=1" in str(info.value)


def test_next_url_with_a_page_size_for_the_first_request():
    config = NextUrlPagination(size_param="limit", page_size=25)
    assert start_paginator(config).first().params == {"limit": "25"}


# -- position and resume ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "answers"),
    [
        (OffsetPagination(page_size=10), [{"count": 10}, {"count": 10}]),
        (PagePagination(page_size=10), [{"count": 10}, {"count": 10}]),
        (
            CursorPagination(),
            [{"document": {"next_cursor": "c2"}}, {"document": {"next_cursor": "c3"}}],
        ),
        (
            NextUrlPagination(),
            [
                {"document": {"next": BASE + "?p=2"}},
                {"document": {"next": BASE + "?p=3"}, "url": BASE + "?p=2"},
            ],
        ),
        (
            LinkPagination(),
            [
                {"headers": {"link": f"<{BASE}?p=2>; rel=next"}},
                {"headers": {"link": f"<{BASE}?p=3>; rel=next"}, "url": BASE + "?p=2"},
            ],
        ),
    ],
)
def test_position_round_trips_through_json_and_resumes_at_the_next_request(config, answers):
    paginator = start_paginator(config)
    request = paginator.first()
    for index, answer in enumerate(answers):
        request = paginator.advance(page(paginator, request, index=index, **answer))
    position = json.loads(json.dumps(paginator.position()))
    assert resume_paginator(config, position).first() == request


def test_resumed_offset_counts_request_at_from_the_saved_offset():
    paginator = resume_paginator(
        OffsetPagination(page_size=10),
        {
            "version": 1,
            "style": "offset",
            "next": {"url": None, "params": {"offset": "30", "limit": "10"}},
        },
    )
    assert paginator.request_at(0).params["offset"] == "30"
    assert paginator.request_at(2).params["offset"] == "50"


def test_resumed_cursor_detects_a_loop_back_to_the_saved_cursor():
    config = CursorPagination()
    resumed = resume_paginator(
        config, {"version": 1, "style": "cursor", "next": {"url": None, "params": {"cursor": "c5"}}}
    )
    with pytest.raises(PaginationLoopError):
        resumed.advance(page(resumed, resumed.first(), document={"next_cursor": "c5"}))


def test_position_of_a_finished_read_resumes_to_nothing():
    config = OffsetPagination(page_size=10)
    paginator = start_paginator(config)
    assert paginator.advance(page(paginator, paginator.first(), count=3)) is None
    position = paginator.position()
    assert position["next"] is None
    resumed = resume_paginator(config, position)
    assert resumed.exhausted
    with pytest.raises(PaginationError):
        resumed.first()


@pytest.mark.parametrize(
    "position",
    [
        {"version": 1, "style": "cursor", "next": None},
        {"version": 2, "style": "offset", "next": None},
        {"version": 1, "style": "offset", "next": {"params": {"limit": "10"}}},
        {"version": 1, "style": "offset", "next": {"params": {"offset": 3}}},
        {"version": 1, "style": "offset", "next": "offset=3"},
        "not a position",
    ],
)
def test_a_position_from_elsewhere_is_a_config_error(position):
    with pytest.raises(ConfigError) as info:
        resume_paginator(OffsetPagination(), position)
    assert info.value.option == "position"


# -- configs and options ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "option"),
    [
        (lambda: OffsetPagination(page_size=0), "page_size"),
        (lambda: OffsetPagination(page_size=-1), "page_size"),
        (lambda: OffsetPagination(page_size=True), "page_size"),
        (lambda: OffsetPagination(page_size=2.5), "page_size"),
        (lambda: OffsetPagination(offset_param=""), "offset_param"),
        (lambda: OffsetPagination(limit_param=None), "limit_param"),
        (lambda: OffsetPagination(start=-1), "start"),
        (lambda: OffsetPagination(total_path="a..b"), "total_path"),
        (lambda: PagePagination(page_param=" "), "page_param"),
        (lambda: PagePagination(size_param=None, total_path="total"), "total_path"),
        (lambda: PagePagination(total_pages_path=""), "total_pages_path"),
        (lambda: CursorPagination(cursor_path=None), "cursor_path"),
        (lambda: CursorPagination(page_size=10), "page_size"),
        (lambda: LinkPagination(page_size=10), "page_size"),
        (lambda: NextUrlPagination(next_url_path=None), "next_url_path"),
        (lambda: NextUrlPagination(size_param=""), "size_param"),
        (lambda: CursorPagination(max_empty_pages=-1), "max_empty_pages"),
        (lambda: LinkPagination(max_empty_pages=1.5), "max_empty_pages"),
        (lambda: NextUrlPagination(max_empty_pages=None), "max_empty_pages"),
    ],
)
def test_bad_config_values_fail_at_construction_naming_the_option(build, option):
    with pytest.raises(ConfigError) as info:
        build()
    assert info.value.option == option


def test_configs_are_frozen_and_keyword_only():
    config = OffsetPagination()
    with pytest.raises(AttributeError):
        config.page_size = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        OffsetPagination("skip")  # type: ignore[misc]


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        ("offset", OffsetPagination(page_size=50)),
        ("page", PagePagination(page_size=50)),
        ("cursor", CursorPagination(size_param="limit", page_size=50)),
        ("link", LinkPagination(size_param="per_page", page_size=50)),
        ("next_url", NextUrlPagination(size_param="limit", page_size=50)),
        (" Offset ", OffsetPagination(page_size=50)),
    ],
)
def test_pagination_strings_map_to_configs(style, expected):
    assert pagination_from_options(style, 50) == expected


def test_pagination_strings_without_a_page_size():
    assert pagination_from_options("cursor", None) == CursorPagination()
    assert pagination_from_options("link", None) == LinkPagination()


def test_no_pagination_is_a_single_request():
    assert pagination_from_options(None, None) is None


def test_page_size_overrides_a_config_object():
    config = PagePagination(size_param="per_page", page_size=10)
    result = pagination_from_options(config, 200)
    assert isinstance(result, PaginationConfig)
    assert result == PagePagination(size_param="per_page", page_size=200)
    assert pagination_from_options(config, None) is config


@pytest.mark.parametrize("value", ["bogus", "", 3, object()])
def test_unknown_pagination_is_named(value):
    with pytest.raises(ConfigError) as info:
        pagination_from_options(value, None)  # type: ignore[arg-type]
    assert info.value.option == "pagination"
    assert "'offset', 'page', 'cursor', 'link', 'next_url'" in info.value.reason


def test_every_style_has_one_config_class_and_one_paginator():
    styles = [config.style for config in PAGINATORS]
    assert styles == ["offset", "page", "cursor", "link", "next_url", "auto"]
    for config, runner in PAGINATORS.items():
        assert config_class(f" {config.style.upper()} ") is config
        assert runner.style == config.style
    assert config_class("bogus") is None


def test_a_config_subclass_runs_with_its_base_styles_paginator():
    @dataclass(frozen=True, kw_only=True)
    class Skip(OffsetPagination):
        offset_param: str = "skip"

    assert start_paginator(Skip(page_size=5)).request_at(1).params == {
        "skip": "5",
        "limit": "5",
    }


@pytest.mark.parametrize("size", [0, -5, "100", 1.0, True])
def test_bad_page_size_is_named(size):
    with pytest.raises(ConfigError) as info:
        pagination_from_options("offset", size)  # type: ignore[arg-type]
    assert info.value.option == "page_size"


def test_page_size_without_pagination_is_refused():
    with pytest.raises(ConfigError) as info:
        pagination_from_options(None, 100)
    assert info.value.option == "page_size"


def test_page_size_on_a_link_config_without_size_param_is_refused():
    with pytest.raises(ConfigError) as info:
        pagination_from_options(LinkPagination(), 100)
    assert info.value.option == "page_size"


@pytest.mark.parametrize("module", [pagination_module, paginators_module, link_header_module])
def test_docstring_examples_run(module):
    results = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert results.attempted > 0
    assert results.failed == 0


# -- why a read stopped -------------------------------------------------------------------------

LINK_NEXT = {"Link": '<https://api.test/v1/items?page=2>; rel="next"'}


@pytest.mark.parametrize(
    ("config", "answers", "reason"),
    [
        (OffsetPagination(page_size=10), [{"count": 10}, {"count": 0}], "empty_page"),
        (OffsetPagination(page_size=10), [{"count": 10}, {"count": 4}], "short_page"),
        (
            OffsetPagination(page_size=10, total_path="total"),
            [{"count": 10, "document": {"total": 20}}, {"count": 10, "document": {"total": 20}}],
            "total_reached",
        ),
        (
            PagePagination(page_size=10, total_pages_path="pages"),
            [{"count": 10, "document": {"pages": 1}}],
            "total_reached",
        ),
        (PagePagination(page_size=10), [{"count": 0}], "empty_page"),
        (CursorPagination(), [{"document": {"next_cursor": "c2"}}, {}], "no_next_cursor"),
        (
            CursorPagination(),
            [{"document": {"next_cursor": "c2"}}, {"count": 0, "document": {"next_cursor": "c2"}}],
            "empty_page",
        ),
        (LinkPagination(), [{"headers": LINK_NEXT}, {}], "no_next_link"),
        (NextUrlPagination(), [{"document": {"next": "?page=2"}}, {}], "no_next_link"),
        (
            NextUrlPagination(),
            [
                {"document": {"next": "?page=2"}},
                {"count": 0, "url": BASE + "?page=2", "document": {"next": "?page=2"}},
            ],
            "empty_page",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_the_advance_that_ends_a_read_says_why(config, answers, reason):
    paginator = start_paginator(config)
    assert paginator.stop_reason is None
    run(paginator, answers)
    assert paginator.stop_reason == reason
    assert reason in paginators_module.STOP_REASONS
