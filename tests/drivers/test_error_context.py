"""Errors name the request they concern (URL redacted, page, batch) and say truthfully which
retry limit stopped them, over real loopback HTTP."""

from __future__ import annotations

import gzip
import itertools
from typing import TypeVar

import orjson
import pytest

from faults import FaultyCollection
from hiveframe._protocol.content import UnsupportedEncoding
from hiveframe.connectors import HTTPSink, HTTPSource
from hiveframe.demo import Reply, Request
from hiveframe.errors import (
    BlockedDestinationError,
    CircuitOpenError,
    HTTPStatusError,
    ResponseDecodeError,
    ResponseTooLarge,
    RetryAfterTooLong,
    RetryExhausted,
    SSEEventTooLarge,
)
from hiveframe.resilience import CircuitBreaker, RetryConfig
from hiveframe.streaming import ReconnectConfig

JSON = {"Content-Type": "application/json"}
SSE = {"Content-Type": "text/event-stream"}
E = TypeVar("E", bound=Exception)
KEY = "hush-7d2e"
ZIPPED_KIB = gzip.compress(b"[" + b"0," * 511 + b"0]")  # 1 KiB of JSON, a few bytes zipped


def second_page_fails_with(reply: Reply):
    """Offset pages of 2 records: page 0 is fine, page 1 answers ``reply``, then the end."""

    def handler(request: Request) -> Reply:
        offset = int(request.query.get("offset", 0))
        if offset == 2:
            return reply
        records = [{"id": offset + 1}, {"id": offset + 2}] if offset == 0 else []
        return Reply(200, dict(JSON), orjson.dumps(records))

    return handler


def paged_source(url: str, **options) -> HTTPSource:
    return HTTPSource(
        f"{url}?api_key={KEY}",
        pagination="offset",
        page_size=2,
        concurrency=1,
        retry=None,
        **options,
    )


def assert_names_page_1(error: Exception, url: str) -> None:
    page_url = f"{url}?api_key=***&offset=2&limit=2"  # the request as sent, key redacted
    assert getattr(error, "url", None) == page_url
    assert getattr(error, "page", None) == 1
    assert f"url={page_url} | page=1" in str(error)
    assert KEY not in str(error)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(200, {"Content-Type": "application/xml"}, b"<a/>"), ResponseDecodeError),
        (Reply(200, dict(JSON), iter([b"[" + b"1," * 400, b"1]"])), ResponseTooLarge),
        (Reply(200, {**JSON, "Content-Length": "5000"}, b"[]"), ResponseTooLarge),
        (Reply(200, {**JSON, "Content-Encoding": "gzip"}, ZIPPED_KIB), ResponseTooLarge),
        (Reply(200, {**JSON, "Content-Encoding": "compress"}, b"[]"), UnsupportedEncoding),
    ],
    ids=["format", "too-large", "declared-too-large", "decompressed-too-large", "encoding"],
)
def test_body_errors_name_the_url_and_the_page(serve, reply, error):
    server = serve({"/items": second_page_fails_with(reply)})
    with pytest.raises(error) as info:
        paged_source(server.url("/items"), max_body_bytes=512).read()
    assert_names_page_1(info.value, server.url("/items"))


@pytest.mark.parametrize("body", [b'[{"id": 3}', b'[{"id": NaN}]', b'[{"id": 3}] x'])
def test_a_page_decoded_off_the_event_loop_names_its_url_and_page(serve, body):
    # Page 1 is fetched ahead and decoded in the worker thread: its error gets the URL,
    # redacted, from the reader, as a page decoded on the loop does.
    server = serve({"/items": second_page_fails_with(Reply(200, dict(JSON), body))})
    with pytest.raises(ResponseDecodeError) as info:
        HTTPSource(
            f"{server.url('/items')}?api_key={KEY}", pagination="offset", page_size=2, retry=None
        ).read()
    assert_names_page_1(info.value, server.url("/items"))


def test_retry_after_too_long_names_the_url_and_the_page(serve, clock):
    server = serve({"/c": FaultyCollection(6, {2: [503]}, retry_after="86400")})
    source = HTTPSource(
        server.url(f"/c?api_key={KEY}"),
        pagination="offset",
        page_size=2,
        concurrency=1,
        retry=RetryConfig(max_retry_after_seconds=60),
        clock=clock,
    )
    with pytest.raises(RetryAfterTooLong) as info:
        source.read()
    assert_names_page_1(info.value, server.url("/c"))


def test_an_open_circuit_names_the_url_and_the_page(serve, clock):
    server = serve({"/c": FaultyCollection(6)})
    breaker = CircuitBreaker(failure_threshold=1, clock=clock.monotonic)
    breaker.acquire().failure()  # opened by an earlier failure
    source = paged_source(server.url("/c"), circuit_breaker=breaker)
    with pytest.raises(CircuitOpenError) as info:
        source.read()
    assert info.value.page == 0 and f"url={server.url('/c')}?api_key=***" in str(info.value)
    assert server.requests == []


# -- retry exhaustion says which limit was hit and how many attempts were made ---------------


def test_exhausted_attempts_are_named_with_the_limit(serve, clock):
    server = serve({"/c": FaultyCollection(6, {2: [503] * 5})})
    source = HTTPSource(
        server.url(f"/c?api_key={KEY}"),
        pagination="offset",
        page_size=2,
        concurrency=1,
        retry=RetryConfig(max_attempts=3, jitter=False),
        clock=clock,
    )
    with pytest.raises(RetryExhausted) as info:
        source.read()
    assert info.value.attempts == 3 and info.value.limit == "max_attempts=3 reached"
    assert str(info.value).startswith(
        'GET failed (status 503): \'{"error": "injected fault"}\'; '
        "gave up after 3 attempts (max_attempts=3 reached)"
    )
    assert_names_page_1(info.value, server.url("/c"))
    assert len(server.requests) == 1 + 3


def test_an_exhausted_time_budget_is_named_with_the_limit(serve, clock):
    server = serve({"/c": FaultyCollection(2, {0: [503] * 10})})
    policy = RetryConfig(
        max_attempts=10, initial_delay_seconds=1, jitter=False, total_timeout_seconds=2.5
    )
    with pytest.raises(RetryExhausted) as info:
        HTTPSource(server.url("/c"), retry=policy, clock=clock).read()
    assert clock.sleeps == [1.0]  # the next wait, 2 s, would pass the 2.5 s budget
    assert info.value.attempts == 2
    assert "gave up after 2 attempts (total_timeout_seconds=2.5 would be passed)" in str(info.value)


def test_a_status_that_is_not_retried_after_retries_is_raised_as_it_is(serve, clock):
    server = serve({"/c": FaultyCollection(2, {0: [503, 400]})})
    with pytest.raises(HTTPStatusError) as info:
        HTTPSource(server.url("/c"), retry=RetryConfig(jitter=False), clock=clock).read()
    assert info.value.status == 400  # no retry limit was reached: not RetryExhausted
    assert not isinstance(info.value, RetryExhausted) and len(server.requests) == 2


def test_a_sink_batch_that_exhausts_its_retries_names_the_batch(serve, clock, tmp_path):
    server = serve({"/in": lambda request: Reply(503, dict(JSON), b"{}")})
    sink = HTTPSink(
        server.url(f"/in?token={KEY}"),
        retry=RetryConfig(max_attempts=2, jitter=False),
        dead_letter=tmp_path / "dead.jsonl",
        clock=clock,
    )
    sink.write([{"id": 1}])
    line = orjson.loads((tmp_path / "dead.jsonl").read_text())
    assert "gave up after 2 attempts (max_attempts=2 reached)" in line["error"]
    assert f"url={server.url('/in')}?token=*** | batch=0" in line["error"]


# -- event streams -----------------------------------------------------------------------------


def sse_error(serve, clock, handler, error: type[E], **options) -> E:
    server = serve({"/s": handler})
    source = HTTPSource(server.url(f"/s?api_key={KEY}"), stream_type="sse", clock=clock, **options)
    with pytest.raises(error) as info, source.stream() as records:
        list(itertools.islice(records, 1))
    assert f"url={server.url('/s')}?api_key=***" in str(info.value)
    return info.value


def test_an_event_stream_that_exhausts_the_retry_policy_says_so(serve, clock):
    error = sse_error(
        serve,
        clock,
        lambda request: Reply(503, {}, b"busy"),
        RetryExhausted,
        retry=RetryConfig(max_attempts=3, jitter=False),
        reconnect=ReconnectConfig(max_reconnects=10),
    )
    assert error.attempts == 3 and error.limit == "the retry policy's max_attempts=3 reached"
    assert str(error).startswith(
        "event stream brought no event; last error: event stream request failed (status 503): "
        "'busy'; gave up after 3 attempts (the retry policy's max_attempts=3 reached)"
    )


def test_an_event_stream_that_exhausts_its_reconnects_counts_every_attempt(serve, clock):
    error = sse_error(
        serve,
        clock,
        lambda request: Reply(200, dict(SSE), b": nothing to say\n\n"),
        RetryExhausted,
        reconnect=ReconnectConfig(max_reconnects=2),
    )
    # the first connection and the 2 reconnections it allows
    assert error.attempts == 3 and error.limit == "max_reconnects=2 reached"
    assert str(error).startswith(
        "event stream brought no event; gave up after 3 attempts (max_reconnects=2 reached)"
    )


def test_an_oversized_event_names_the_stream(serve, clock):
    sse_error(
        serve,
        clock,
        lambda request: Reply(200, dict(SSE), b"data: " + b"x" * 2048 + b"\n\n"),
        SSEEventTooLarge,
        max_event_bytes=1024,
    )


def test_a_next_link_to_another_host_names_the_page_it_would_have_been(serve):
    def first(request: Request) -> Reply:
        link = f'<http://localhost:9/p2?key={KEY}>; rel="next"'
        return Reply(200, {**JSON, "Link": link}, b'[{"id": 1}]')

    server = serve({"/p1": first})
    with pytest.raises(BlockedDestinationError) as info:
        HTTPSource(server.url("/p1"), pagination="link").read()
    assert info.value.page == 1
    assert info.value.url == "http://localhost:9/p2?key=***" and KEY not in str(info.value)
