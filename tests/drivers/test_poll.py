"""The polling driver over real loopback HTTP: only new records, 304s, backoff, resume.

Poll spacing and backoff run on the fake clock (``clock``); ``clock.on_sleep`` changes the
server's collection "while" time passes between polls.
"""

from __future__ import annotations

import itertools

import orjson
import pytest

from hiveframe._http.reader import PageReader
from hiveframe.connectors import HTTPSource
from hiveframe.demo import Reply, Request
from hiveframe.demo._events import EventsAPI
from hiveframe.errors import HTTPStatusError
from hiveframe.resilience import RetryConfig

JSON = {"Content-Type": "application/json"}


def poll_source(url: str, clock, **options) -> HTTPSource:
    options.setdefault("poll_interval_seconds", 10)
    return HTTPSource(url, clock=clock, **options)


def take(source: HTTPSource, n: int, **options) -> tuple[list, object]:
    with source.stream(**options) as records:
        return list(itertools.islice(records, n)), records


def grow(events: EventsAPI, clock, steps: list[int]) -> None:
    """Between polls, add ``steps[i]`` events to the log (then none)."""
    script = iter(steps)
    clock.on_sleep = lambda seconds: events.append(next(script, 0))


class Enough(Exception):
    """Raised by a test to end an endless stream."""


def ids(records: list) -> list[int]:
    return [record["id"] for record in records]


def test_a_changing_collection_emits_each_new_record_once(serve, clock):
    events = EventsAPI(initial=5, every_seconds=None)
    server = serve(events.routes())
    grow(events, clock, [3, 0, 4, 1])
    source = poll_source(server.url("/events"), clock, since_param="since", since_field="id")

    records, stream = take(source, 13)

    assert ids(records) == list(range(1, 14))
    sent = [request.query.get("since") for request in server.requests_to("/events")]
    assert sent == [None, "5", "8", "8", "12"]
    assert clock.sleeps == [10, 10, 10, 10]  # fixed-rate polls on the clock
    assert stream.position["cursor"] == 13


def test_an_unchanged_collection_answers_304_and_costs_no_parsing(serve, clock, monkeypatch):
    decoded: list[int] = []
    original = PageReader.decode

    def counting(self, response, request, index):
        decoded.append(response.status_code)
        return original(self, response, request, index)

    monkeypatch.setattr(PageReader, "decode", counting)
    events = EventsAPI(initial=5, every_seconds=None)
    server = serve(events.routes())
    grow(events, clock, [0, 0, 2])
    source = poll_source(server.url("/events"), clock, dedupe_key="id")

    records, stream = take(source, 7)

    assert ids(records) == list(range(1, 8))
    assert events.not_modified == stream.stats.not_modified == 2
    assert decoded == [200, 200]  # the two 304s were never decoded
    conditional = [r.header("if-none-match") for r in server.requests_to("/events")]
    assert conditional == [None, '"0.0.100.5"', '"0.0.100.5"', '"0.0.100.5"']


def test_etag_then_overlapping_windows_with_dedupe(serve, clock):
    # docs/reliability.md test 12: 304, then windows 1-50 and 40-90; ids 1-90 once each.
    windows = iter([(range(1, 51), '"a"'), (None, '"a"'), (range(40, 91), '"b"')])

    def handler(request: Request) -> Reply:
        window, etag = next(windows)
        if request.header("if-none-match") == etag:
            return Reply(304, {"ETag": etag})
        return Reply(200, {**JSON, "ETag": etag}, orjson.dumps([{"id": i} for i in window]))

    server = serve({"/w": handler})
    records, stream = take(poll_source(server.url("/w"), clock, dedupe_key="id"), 90)

    assert ids(records) == list(range(1, 91))
    assert [r.header("if-none-match") for r in server.requests] == [None, '"a"', '"a"']
    assert clock.sleeps == [10, 10]
    assert stream.stats.not_modified == 1


def test_last_modified_is_sent_back_as_if_modified_since(serve, clock):
    stamp = "Thu, 01 Jan 2026 00:00:00 GMT"
    bodies = iter([b'[{"id": 1}]', None, b'[{"id": 1}, {"id": 2}]'])

    def handler(request: Request) -> Reply:
        body = next(bodies)
        if body is None and request.header("if-modified-since") == stamp:
            return Reply(304, {"Last-Modified": stamp})
        return Reply(200, {**JSON, "Last-Modified": stamp}, body or b"[]")

    server = serve({"/lm": handler})
    records, _ = take(poll_source(server.url("/lm"), clock, dedupe_key="id"), 2)
    assert ids(records) == [1, 2]
    assert [r.header("if-modified-since") for r in server.requests] == [None, stamp, stamp]


def test_conditional_requests_can_be_turned_off(serve, clock):
    events = EventsAPI(initial=3, every_seconds=None)
    server = serve(events.routes())
    grow(events, clock, [0, 1])
    source = poll_source(server.url("/events"), clock, dedupe_key="id", conditional_requests=False)
    take(source, 4)
    assert len(server.requests) >= 2  # polls after the first, which would carry the ETag
    assert all(r.header("if-none-match") is None for r in server.requests)
    assert events.not_modified == 0


def test_each_poll_paginates_and_the_cursor_moves_after_the_last_page(serve, clock):
    events = EventsAPI(initial=25, every_seconds=None)
    server = serve(events.routes())
    grow(events, clock, [12])
    source = poll_source(
        server.url("/events"),
        clock,
        pagination="offset",
        page_size=10,
        since_param="since",
        since_field="id",
    )
    records, _ = take(source, 37)
    assert ids(records) == list(range(1, 38))
    sent = [(r.query.get("since"), r.query["offset"]) for r in server.requests_to("/events")]
    assert sent == [
        (None, "0"),
        (None, "10"),
        (None, "20"),
        ("25", "0"),
        ("25", "10"),
    ]


def test_a_restart_inside_a_poll_goes_on_with_the_next_page(serve, clock):
    # docs/reliability.md test 13: stopped after page 3 is consumed; the restart asks for page 4.
    events = EventsAPI(initial=50, every_seconds=None)
    server = serve(events.routes())
    source = poll_source(server.url("/events"), clock, pagination="offset", page_size=10)

    first, stream = take(source, 30)
    saved = stream.position
    assert saved["page"]["index"] == 3
    del server.requests[:]
    rest, _ = take(source, 20, position=saved)

    assert ids(first + rest) == list(range(1, 51))
    offsets = [r.query["offset"] for r in server.requests_to("/events")]
    assert offsets[:2] == ["30", "40"]


def test_a_saved_position_resumes_after_the_cursor_without_repeats(serve, clock):
    events = EventsAPI(initial=6, every_seconds=None)
    server = serve(events.routes())
    options = {"since_param": "since", "since_field": "id", "dedupe_key": "id"}
    first, stream = take(poll_source(server.url("/events"), clock, **options), 6)
    events.append(4)
    rest, _ = take(
        poll_source(server.url("/events"), clock, **options), 4, position=stream.position
    )
    assert ids(first + rest) == list(range(1, 11))
    assert server.requests_to("/events")[-1].query["since"] == "6"


def test_a_failed_poll_backs_off_and_the_stream_goes_on(serve, clock):
    events = EventsAPI(initial=2, every_seconds=None)
    answers = iter(["ok", 503, 503, "ok"])

    def flaky(request: Request) -> Reply:
        answer = next(answers, "ok")
        if answer == 503:
            return Reply(503, dict(JSON), b'{"error": "busy"}')
        return events.poll(request)

    server = serve({"/events": flaky})
    grow(events, clock, [0, 3])
    retry = RetryConfig(max_attempts=2, initial_delay_seconds=1, max_delay_seconds=30, jitter=False)
    source = poll_source(
        server.url("/events"), clock, since_param="since", since_field="id", retry=retry
    )
    records, stream = take(source, 5)
    assert ids(records) == list(range(1, 6))
    assert stream.stats.errors == 1
    # Poll 2 starts at 10 s, its two attempts 1 s apart; poll 3 starts at 20 s: the retry
    # policy's bound after one failed poll (1 s) is below the poll interval.
    assert clock.sleeps == [10, 1.0, 9.0]


def test_backoff_grows_past_the_interval_on_repeated_failures(serve, clock):
    def down(request: Request) -> Reply:
        return Reply(503, dict(JSON), b"{}")

    server = serve({"/d": down})
    retry = RetryConfig(max_attempts=1, initial_delay_seconds=4, max_delay_seconds=30, jitter=False)
    polls: list[float] = []

    def stop_after_five(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 5:
            raise Enough  # ends the test's iteration from inside the loop

    clock.on_sleep = stop_after_five
    with pytest.raises(Enough):
        take(poll_source(server.url("/d"), clock, poll_interval_seconds=5, retry=retry), 1)
    assert polls == [5, 8, 16, 30, 30]  # max(interval, 4 * 2 ** (n - 1)) capped at 30


def test_a_status_the_retry_policy_does_not_retry_fails_the_stream(serve, clock):
    server = serve({"/gone": lambda request: Reply(404, dict(JSON), b"{}")})
    with pytest.raises(HTTPStatusError) as info:
        take(poll_source(server.url("/gone"), clock), 1)
    assert info.value.status == 404
    assert clock.sleeps == []


def test_the_cursor_can_come_from_the_response(serve, clock):
    def feed(request: Request) -> Reply:
        after = int(request.query.get("after", 0))
        items = [{"n": i} for i in range(after + 1, min(after + 3, 7))]
        return Reply(200, JSON, orjson.dumps({"items": items, "next_after": after + len(items)}))

    server = serve({"/f": feed})
    source = poll_source(
        server.url("/f"), clock, data_path="items", since_param="after", since_path="next_after"
    )
    records, _ = take(source, 6)
    assert [r["n"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert [r.query.get("after") for r in server.requests] == [None, "2", "4"]
