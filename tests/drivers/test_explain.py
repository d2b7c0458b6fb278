"""``source.explain()`` over real loopback HTTP: the full text for each pagination style
(golden, with the port normalised), offline explaining that sends nothing, and no secret
shown even by a server that echoes credentials back."""

from __future__ import annotations

import re

import orjson
import pytest

from hiveframe.connectors import HTTPSource, Incremental, OffsetPagination, PollStream, SSEStream
from hiveframe.demo import Reply, Request

CAP = "fails past 100,000 pages (the default cap)"
NO_STATE = "checkpoint: nothing (no incremental=): every read starts at the first page"


def _text(explanation: object) -> str:
    return re.sub(r"127\.0\.0\.1:\d+", "HOST", str(explanation))


GOLDEN = {
    "offset": (
        "/items",
        {"pagination": OffsetPagination(total_path="total"), "data_path": "items"},
        f"""\
request: GET http://HOST/items?offset=0&limit=100
response: 200, 100 records
format: json (Content-Type: application/json)
data_path: items (given: 100 records there)
pagination: offset (given; query parameters offset, limit)
page size: 100 (sent as limit)
total: 250 records (reported)
next request: GET http://HOST/items?offset=100&limit=100
stops: an empty page, a page of fewer than 100 records or the reported total; {CAP}
{NO_STATE}""",
    ),
    "page": (
        "/pages",
        {"pagination": "page", "page_size": 50, "data_path": "data"},
        f"""\
request: GET http://HOST/pages?page=1&page_size=50
response: 200, 50 records
format: json (Content-Type: application/json)
data_path: data (given: 50 records there)
pagination: page (given; query parameters page, page_size)
page size: 50 (sent as page_size)
next request: GET http://HOST/pages?page=2&page_size=50
stops: an empty page, a page of fewer than 50 records; {CAP}
{NO_STATE}""",
    ),
    "cursor": (
        "/cursor",
        {"pagination": "cursor", "data_path": "data", "max_pages": 3},
        f"""\
request: GET http://HOST/cursor
response: 200, 100 records
format: json (Content-Type: application/json)
data_path: data (given: 100 records there)
pagination: cursor (given; field next_cursor at $.next_cursor present)
page size: the API's (100 records on the first page)
next request: GET http://HOST/cursor?cursor=bzoxMDA
stops: a page without a next cursor at $.next_cursor (absent, null or empty); at most 3 pages \
(max_pages)
{NO_STATE}""",
    ),
    "link": (
        "/link",
        {"pagination": "link", "page_size": 200},
        f"""\
request: GET http://HOST/link?per_page=200
response: 200, 200 records
format: json (Content-Type: application/json)
data_path: none (the document is an array of 200 records)
pagination: link (given; Link header rel=next present)
page size: 200 (sent as per_page)
next request: GET http://HOST/link?page=2&per_page=200
stops: a response without a Link header rel=next; {CAP}
{NO_STATE}""",
    ),
    "next_url": (
        "/next",
        {"pagination": "next_url", "data_path": "results", "params": {"page_size": "250"}},
        f"""\
request: GET http://HOST/next?page_size=250
response: 200, 250 records
format: json (Content-Type: application/json)
data_path: results (given: 250 records there)
pagination: next_url (given; field next at $.next absent or null (a last page))
page size: the API's (250 records on the first page)
stops: after this page (no_next_link); a page without a next URL at $.next; {CAP}
{NO_STATE}""",
    ),
    "none": (
        "/cursor",
        {},
        f"""\
request: GET http://HOST/cursor
response: 200, 1 record
format: json (Content-Type: application/json)
data_path: none (the document is one object, read as one record; arrays of objects in it: \
data (100))
pagination: none (pagination not set)
page size: the API's
stops: after one request
{NO_STATE}
note: records may be at data_path='data'
note: the first page looks paginated (field next_cursor at $.next_cursor): pagination='auto' \
would read it as cursor""",
    ),
    "auto": (
        "/items",
        {"pagination": "auto", "data_path": "items"},
        f"""\
request: GET http://HOST/items
response: 200, 100 records
format: json (Content-Type: application/json)
data_path: items (given: 100 records there)
pagination: auto -> offset (offset envelope: fields offset and limit at $, total at $.total)
page size: 100 (sent as limit)
total: 250 records (reported)
next request: GET http://HOST/items?offset=100&limit=100
stops: an empty page, a page of fewer than 100 records or the reported total; {CAP}
{NO_STATE}""",
    ),
}


@pytest.mark.parametrize("style", list(GOLDEN))
def test_the_explanation_of_each_pagination_style(fresh_demo, style):
    path, options, golden = GOLDEN[style]
    explanation = HTTPSource(fresh_demo.url(path), **options).explain()
    assert _text(explanation) == golden
    assert len(fresh_demo.requests) == 1  # the first page only
    assert orjson.loads(orjson.dumps(explanation.to_dict()))["fetched"] is True


def test_auto_with_both_a_link_header_and_a_next_field_says_which_won(serve):
    def pages(request: Request) -> Reply:
        body = orjson.dumps({"data": [{"id": 1}], "next": "/elsewhere"})
        headers = {"Content-Type": "application/json", "Link": '</pages?page=2>; rel="next"'}
        return Reply(200, headers, body)

    server = serve({"/pages": pages})
    explanation = HTTPSource(server.url("/pages"), pagination="auto", data_path="data").explain()
    assert explanation.pagination.value == "auto -> link"
    assert explanation.pagination.evidence == (
        "Link header rel=next present; also found, not used: field next at $.next"
    )


def test_offline_sends_nothing(fresh_demo):
    source = HTTPSource(fresh_demo.url("/cursor"), pagination="auto", data_path="data")
    explanation = source.explain(offline=True)
    assert len(fresh_demo.requests) == 0
    assert _text(explanation) == (
        f"""\
request: GET http://HOST/cursor
response: not fetched (offline)
format: auto (from the response's Content-Type)
data_path: data (given)
pagination: auto (detected on the first page)
page size: the API's
stops: as the style found on the first page; one page if none is found; {CAP}
{NO_STATE}"""
    )
    assert explanation.to_dict()["fetched"] is False


def test_an_incremental_read_says_what_it_saves_and_changes_nothing(fresh_demo, tmp_path):
    state = tmp_path / "state.json"
    cursor = Incremental(
        "updated_at", param="since", initial_value="2026-01-01T00:00:00Z", state=state
    )
    explanation = HTTPSource(fresh_demo.url("/data"), incremental=cursor).explain(offline=True)
    assert explanation.url.endswith("/data?since=2026-01-01T00:00:00Z")
    assert explanation.checkpoint == (
        f"the largest updated_at read, saved to {state} once the records are delivered; "
        "this run reads from '2026-01-01T00:00:00Z'"
    )
    assert not state.exists()


SECRETS = ("tok-SECRET-1234", "key-SECRET-5678", "pw-SECRET-9012", "hdr-SECRET-3456")


def test_no_secret_shows_even_when_the_server_echoes_them(serve):
    # The server puts every credential it gets into its body, its next link and a header.
    def echo(request: Request) -> Reply:
        seen = f"{request.header('authorization')} {request.query.get('api_key')}"
        document = {
            "data": [{"seen": seen}],
            "next": f"/echo?api_key={request.query.get('api_key')}&page=2&auth={seen}",
        }
        headers = {"Content-Type": "application/json", "X-Echo": seen}
        return Reply(200, headers, orjson.dumps(document))

    server = serve({"/echo": echo})
    source = HTTPSource(
        server.url("/echo") + f"?api_key={SECRETS[1]}",
        auth={"type": "bearer", "token": SECRETS[0]},
        headers={"X-Session-Key": SECRETS[3]},
        body={"password": SECRETS[2], "q": "x"},
        method="POST",
        pagination="auto",
        data_path="data",
    )
    explanation = source.explain()
    shown = str(explanation) + orjson.dumps(explanation.to_dict()).decode() + repr(explanation)
    for secret in SECRETS:
        assert secret not in shown
    assert explanation.headers == {
        "X-Session-Key": "***",
        "Authorization": "***",
        "Content-Type": "application/json",
    }
    assert explanation.body == {"password": "***", "q": "x"}
    assert explanation.next_request is not None and "api_key=***" in explanation.next_request


def test_an_api_key_in_the_query_shows_masked(fresh_demo):
    source = HTTPSource(
        fresh_demo.url("/data"),
        auth={"type": "api_key", "name": "key", "value": "k-SECRET-1", "in": "query"},
    )
    explanation = source.explain(offline=True)
    assert explanation.url.endswith("/data?key=***")
    assert "k-SECRET-1" not in str(explanation)
    assert explanation.auth == "APIKeyAuth(name='key', location='query', value='***')"


def test_a_polling_stream_fetches_its_first_page_and_says_what_it_checkpoints(fresh_demo):
    source = HTTPSource(fresh_demo.url("/events"), stream=PollStream(interval_seconds=5))
    explanation = source.explain()
    assert explanation.fetched and len(fresh_demo.requests) == 1
    assert explanation.checkpoint == (
        "a stream position (next page, since value, ETag), saved by a StreamProcessor"
    )


def test_an_event_stream_is_explained_without_opening_it(fresh_demo):
    explanation = HTTPSource(fresh_demo.url("/stream"), stream=SSEStream()).explain()
    assert fresh_demo.requests == []
    assert explanation.not_fetched == "an event stream is not opened to explain it"
    assert explanation.headers == {"Accept": "text/event-stream"}
    assert explanation.format.value == "sse"
    assert explanation.checkpoint == "the last event id (Last-Event-ID), saved by a StreamProcessor"


def test_a_child_source_is_explained_without_fetching(fresh_demo):
    parents = HTTPSource(fresh_demo.url("/parents") + "?token=p-SECRET-77")
    child = HTTPSource(fresh_demo.url("/parents/{parent.id}/children"), parent=parents)
    explanation = child.explain()
    assert fresh_demo.requests == []
    assert explanation.not_fetched is not None
    assert explanation.not_fetched.startswith("the URL is filled from each record of http://")
    assert "token=***" in explanation.not_fetched
    assert "p-SECRET-77" not in str(explanation)
