"""``pagination="auto"``: what a first page shows (pure: headers and documents in, configs
and evidence out), and the paginator that runs what it found."""

from __future__ import annotations

import pytest

from hiveframe._protocol.auto_pagination import detect_pagination
from hiveframe._protocol.pagination import (
    AutoPagination,
    CursorPagination,
    LinkPagination,
    NextUrlPagination,
    OffsetPagination,
    PagePagination,
)
from hiveframe._protocol.paginators import (
    Page,
    PageRequest,
    pagination_from_options,
    resume_paginator,
    start_paginator,
)
from hiveframe.errors import ConfigError, PaginationLoopError

LINK = '<https://api.test/items?page=2>; rel="next", <https://api.test/items?page=9>; rel="last"'


def test_a_link_header_with_rel_next():
    found = detect_pagination({"Link": LINK}, [{"id": 1}], 1)
    assert isinstance(found.config, LinkPagination)
    assert found.evidence == "Link header rel=next present"


def test_a_link_header_wins_over_a_next_field_which_is_listed_as_ignored():
    document = {"data": [{"id": 1}], "next": "https://api.test/other?page=2"}
    found = detect_pagination({"link": LINK}, document, 1)
    assert isinstance(found.config, LinkPagination)
    assert found.ignored == ("field next at $.next",)


def test_a_last_page_link_header_without_rel_next_is_still_link_pagination():
    header = (
        '<https://api.test/items?page=1>; rel="first", <https://api.test/items?page=1>; rel=last'
    )
    found = detect_pagination({"Link": header}, [], 0)
    assert isinstance(found.config, LinkPagination)
    assert found.evidence == "Link header with rel=first/last and no rel=next (a last page)"


def test_a_link_header_without_paging_relations_is_no_evidence():
    found = detect_pagination({"Link": '</style.css>; rel="preload"'}, [{"id": 1}], 1)
    assert found.config is None


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ({"results": [], "next": "https://api.test/r?page=2"}, "next"),
        ({"results": [], "next_url": "/r?page=2"}, "next_url"),
        ({"results": [], "links": {"next": "?page=2"}}, "links.next"),
        ({"results": [], "links": {"next": {"href": "/r?page=2"}}}, "links.next.href"),
        ({"results": [], "paging": {"next_page": None}}, "paging.next_page"),
        ({"results": [], "_links": {"next": {"href": "/r?page=2"}}}, "_links.next.href"),
    ],
)
def test_next_url_fields(document, path):
    found = detect_pagination({}, document, 0)
    assert isinstance(found.config, NextUrlPagination)
    assert found.config.next_url_path == path


def test_a_null_next_field_is_a_last_page():
    found = detect_pagination({}, {"data": [{"id": 1}], "next": None}, 1)
    assert isinstance(found.config, NextUrlPagination)
    assert found.evidence == "field next at $.next is null (a last page)"


def test_a_next_field_that_is_no_url_is_not_a_next_url():
    found = detect_pagination({}, {"data": [{"id": 1}], "next": True}, 1)
    assert found.config is None


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ({"data": [], "next_cursor": "c2"}, "next_cursor"),
        ({"data": [], "meta": {"next_cursor": "c2"}}, "meta.next_cursor"),
        ({"data": [], "pagination": {"next_token": 7}}, "pagination.next_token"),
        ({"data": [], "response_metadata": {"next_cursor": ""}}, "response_metadata.next_cursor"),
        ({"data": [], "cursor": "c1", "next_cursor": "c2"}, "next_cursor"),  # the next one
    ],
)
def test_cursor_fields(document, path):
    found = detect_pagination({}, document, 0, AutoPagination(cursor_param="after"))
    assert isinstance(found.config, CursorPagination)
    assert (found.config.cursor_path, found.config.cursor_param) == (path, "after")
    assert found.evidence == f"field {path.rpartition('.')[2]} at $.{path}"


def test_a_next_url_wins_over_a_cursor():
    document = {"data": [], "next_cursor": "c2", "next": "/data?cursor=c2"}
    found = detect_pagination({}, document, 0)
    assert isinstance(found.config, NextUrlPagination)
    assert found.ignored == ("field next_cursor at $.next_cursor",)


def test_cursors_that_disagree_are_ambiguous_and_read_one_page():
    document = {"data": [], "next_cursor": "a", "meta": {"next_cursor": "b"}}
    found = detect_pagination({}, document, 0)
    assert found.config is None
    assert found.evidence.startswith("ambiguous: field next_cursor at $.next_cursor and ")


def test_an_offset_envelope_with_a_total():
    document = {"items": [{}] * 25, "offset": 0, "limit": 25, "total": 60}
    found = detect_pagination({}, document, 25)
    assert found.config == OffsetPagination(page_size=25, total_path="total")
    assert found.evidence == "offset envelope: fields offset and limit at $, total at $.total"


def test_an_offset_envelope_in_meta_with_the_total_at_the_top():
    document = {"items": [{}] * 5, "total_count": 60, "meta": {"offset": 0, "limit": 5}}
    found = detect_pagination({}, document, 5)
    assert found.config == OffsetPagination(page_size=5, total_path="total_count")


def test_a_count_no_larger_than_the_page_is_not_taken_for_a_total():
    # count=25 on a full page of 25 may be the page's own count: taken for the total, it
    # would end the read after one page.
    document = {"items": [{}] * 25, "offset": 0, "limit": 25, "count": 25}
    assert detect_pagination({}, document, 25).config == OffsetPagination(page_size=25)
    document["count"] = 90
    found = detect_pagination({}, document, 25).config
    assert found == OffsetPagination(page_size=25, total_path="count")


def test_page_envelopes():
    sized = {"data": [], "meta": {"page": 1, "per_page": 25, "total": 80}}
    found = detect_pagination({}, sized, 0).config
    assert found == PagePagination(size_param="per_page", page_size=25, total_path="meta.total")
    counted = {"data": [], "page": 0, "total_pages": 4}
    found = detect_pagination({}, counted, 0).config
    assert found == PagePagination(size_param=None, start=0, total_pages_path="total_pages")


def test_nothing_found_says_where_it_looked():
    for document in ([{"id": 1}], {"id": 1}, None, {"page": "one"}):
        found = detect_pagination({}, document, 1)
        assert found.config is None and found.style == "none"
        assert found.evidence.startswith("no Link header, no next URL or cursor field")


def _page(index, request, document, records, url="https://api.test/items", headers=None):
    return Page(index, request, url, headers or {}, document, records, key=bytes([index]))


def test_the_auto_paginator_runs_what_the_first_page_shows():
    paginator = start_paginator(AutoPagination())
    first = paginator.first()
    assert first == PageRequest(params={})
    document = {"items": [{}] * 2, "offset": 0, "limit": 2, "total": 5}
    nxt = paginator.advance(_page(0, first, document, 2))
    assert nxt == PageRequest(params={"offset": "2", "limit": "2"})
    assert paginator.detection is not None and paginator.detection.style == "offset"
    document = {"items": [{}] * 2, "offset": 2, "limit": 2, "total": 5}
    assert paginator.advance(_page(1, nxt, document, 2)) is not None
    last = {"items": [{}], "offset": 4, "limit": 2, "total": 5}
    assert (
        paginator.advance(_page(2, PageRequest(params={"offset": "4", "limit": "2"}), last, 1))
        is None
    )
    assert paginator.stop_reason == "total_reached"


def test_the_auto_paginator_reads_one_page_when_nothing_is_found(caplog):
    paginator = start_paginator(AutoPagination())
    with caplog.at_level("INFO", logger="hiveframe.pagination"):
        assert paginator.advance(_page(0, paginator.first(), [{"id": 1}], 1)) is None
    assert paginator.stop_reason == "single_page"
    assert caplog.messages == [
        "pagination='auto' chose none: no Link header, no next URL or cursor field, no offset "
        "or page envelope (looked at the top level, meta, pagination, links, paging, _links, "
        "response_metadata)"
    ]


def test_a_repeated_cursor_under_auto_is_a_loop():
    paginator = start_paginator(AutoPagination())
    nxt = paginator.advance(_page(0, paginator.first(), {"data": [{}], "next_cursor": "a"}, 1))
    assert nxt == PageRequest(params={"cursor": "a"})
    with pytest.raises(PaginationLoopError):
        paginator.advance(_page(1, nxt, {"data": [{}], "next_cursor": "a"}, 1))


def test_an_auto_position_resumes_and_detects_again():
    paginator = start_paginator(AutoPagination())
    paginator.advance(_page(0, paginator.first(), {"data": [{}], "next_cursor": "b"}, 1))
    resumed = resume_paginator(AutoPagination(), paginator.position())
    assert resumed.first() == PageRequest(params={"cursor": "b"})
    assert (
        resumed.advance(_page(0, resumed.first(), {"data": [{}], "next_cursor": None}, 1)) is None
    )
    assert resumed.stop_reason == "no_next_cursor"


def test_auto_options_are_checked():
    assert pagination_from_options("AUTO", None) == AutoPagination()
    with pytest.raises(ConfigError, match="page_size=50: pagination='auto' cannot know"):
        pagination_from_options("auto", 50)
    with pytest.raises(ConfigError, match="cursor_param"):
        AutoPagination(cursor_param=" ")
    with pytest.raises(ConfigError, match="page_size"):
        AutoPagination(page_size=10)  # no size_param to send it with
    assert AutoPagination(size_param="limit", page_size=10).first_params() == {"limit": "10"}
