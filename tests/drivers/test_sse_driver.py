"""The SSE driver over real loopback HTTP: reconnects, resume, status and MIME rules, limits.

Waits run on the fake clock (``clock``): the recorded sleeps are the reconnect waits. The
idle-timeout tests use short real timeouts; they assert what happened, never how long.
"""

from __future__ import annotations

import itertools
import threading

import anyio
import orjson
import pytest

from hiveframe.connectors import HTTPSource, OAuth2ClientCredentials
from hiveframe.demo import LoopbackServer, Reply, Request
from hiveframe.demo._events import EventsAPI, make_event
from hiveframe.errors import (
    AuthenticationError,
    BlockedDestinationError,
    HTTPStatusError,
    ResponseDecodeError,
    RetryExhausted,
    SSEEventTooLarge,
    SSEProtocolError,
    SSEStreamClosedByServer,
)
from hiveframe.resilience import CircuitBreaker, RetryConfig
from hiveframe.streaming import ReconnectConfig

SSE = {"Content-Type": "text/event-stream"}


def sse_source(url: str, clock, **options) -> HTTPSource:
    return HTTPSource(url, stream_type="sse", clock=clock, **options)


def take(source: HTTPSource, n: int, **options) -> list:
    with source.stream(**options) as records:
        return list(itertools.islice(records, n))


def last_event_ids(server: LoopbackServer, path: str = "/stream") -> list[str | None]:
    return [request.header("last-event-id") for request in server.requests_to(path)]


class Script:
    """Answers each request to a path with the next reply of a list (the last one repeats)."""

    def __init__(self, *replies: Reply | bytes) -> None:
        self.replies = [r if isinstance(r, Reply) else Reply(200, dict(SSE), r) for r in replies]
        self.calls = 0

    def __call__(self, request: Request) -> Reply:
        reply = self.replies[min(self.calls, len(self.replies) - 1)]
        self.calls += 1
        return reply


# -- resume after drops: every event exactly once ---------------------------------------------


@pytest.mark.parametrize("drop", ["abort", "close"])
@pytest.mark.parametrize("partial", [False, True])
def test_a_server_dropping_every_k_events_loses_and_repeats_nothing(serve, clock, drop, partial):
    events = EventsAPI(initial=20, every_seconds=None, drop_every=3, drop=drop)
    events.partial_on_drop = partial  # half of event 4, 7, ... before each drop
    server = serve(events.routes())

    records = take(sse_source(server.url("/stream"), clock), 20)

    assert [r["id"] for r in records] == list(range(1, 21))
    assert records == [make_event(n) for n in range(1, 21)]
    sent = last_event_ids(server)
    if drop == "close":
        # Each reconnection resumed after the last event dispatched, never a partial one.
        assert sent == [None, "3", "6", "9", "12", "15", "18"]
    else:
        # A TCP reset may destroy bytes the client had not read yet: it then resumes from
        # an earlier event (and the server replays from there), never from a later one, and
        # possibly from the same event twice in a row.
        resumed = [int(value) for value in sent[1:]]
        assert sent[0] is None and resumed and resumed == sorted(resumed)
        assert all(n < 20 for n in resumed)  # only after an event the client had seen


def test_the_reconnect_waits_the_servers_retry(serve, clock):
    events = EventsAPI(initial=9, every_seconds=None, drop_every=3, drop="close", retry_ms=1500)
    server = serve(events.routes())
    take(sse_source(server.url("/stream"), clock), 9)
    assert clock.sleeps == [1.5, 1.5]  # before connections 2 and 3


def test_without_a_retry_field_the_initial_delay_applies(serve, clock):
    script = Script(b"id: 1\ndata: {}\n\n", b"id: 2\ndata: {}\n\n")
    server = serve({"/s": script})
    source = sse_source(server.url("/s"), clock, reconnect=ReconnectConfig(initial_delay_seconds=2))
    assert len(take(source, 2)) == 2
    assert clock.sleeps == [2.0]


def test_repeated_failures_back_off_then_give_up(serve, clock):
    script = Script(b"retry: 100\nid: 1\ndata: {}\n\n", b"retry: 100\n\n")  # then: no events
    server = serve({"/s": script})
    source = sse_source(server.url("/s"), clock, reconnect=ReconnectConfig(max_reconnects=4))
    with source.stream() as records:
        assert next(records) == {}
        with pytest.raises(RetryExhausted) as info:
            next(records)
    assert clock.sleeps == [0.1, 0.2, 0.4, 0.8]  # the server's retry, doubled per failure
    assert info.value.attempts == 4
    assert script.calls == 5


def test_reconnect_none_ends_the_stream_with_the_connection(serve, clock):
    server = serve({"/s": Script(b"data: {}\n\ndata: {}\n\n")})
    source = sse_source(server.url("/s"), clock, reconnect=None)
    with source.stream() as records:
        assert list(records) == [{}, {}]
    assert clock.sleeps == []


def test_a_server_restart_on_the_same_port_is_survived(clock):
    events = EventsAPI(initial=5, every_seconds=None, retry_ms=1000)
    old = LoopbackServer(events.routes()).start()
    port = old.port
    restarted = threading.Event()
    clock.on_sleep = lambda seconds: restarted.wait(10)  # the client waits for the new server
    servers = [old]
    try:
        source = sse_source(old.url("/stream"), clock)
        with source.stream() as records:
            before = list(itertools.islice(records, 5))
            events.disconnect()  # the old process dies with its connections...
            old.stop()
            new = LoopbackServer(events.routes(), port=port).start()  # ...and comes back
            servers.append(new)
            events.append(5)
            restarted.set()
            after = list(itertools.islice(records, 5))
    finally:
        for server in servers:
            server.stop()
    assert [r["id"] for r in before + after] == list(range(1, 11))
    assert last_event_ids(new) == ["5"]
    assert clock.sleeps[0] == 1.0


def test_resuming_from_a_saved_position_sends_its_id(serve, clock):
    server = serve(EventsAPI(initial=10, every_seconds=None).routes())
    source = sse_source(server.url("/stream"), clock)
    with source.stream() as records:
        first = list(itertools.islice(records, 4))
        saved = records.position
    assert saved == {"kind": "sse", "last_event_id": "4", "retry_ms": 1000}
    rest = take(source, 6, position=saved)
    assert [r["id"] for r in first + rest] == list(range(1, 11))
    assert last_event_ids(server) == [None, "4"]


def test_async_iteration(serve, clock):
    server = serve(EventsAPI(initial=3, every_seconds=None).routes())
    source = sse_source(server.url("/stream"), clock)

    async def main() -> list[int]:
        ids: list[int] = []
        async with source.astream() as records:
            async for record in records:
                ids.append(record["id"])
                if len(ids) == 3:
                    break
        return ids

    assert anyio.run(main) == [1, 2, 3]


# -- ids: what is sent back as Last-Event-ID --------------------------------------------------


def test_a_non_ascii_id_round_trips_as_utf8(serve, clock):
    # wpt format-field-id: the reconnect carries Last-Event-ID: … (UTF-8).
    def echo(request: Request) -> Reply:
        sent = request.header("last-event-id")
        if sent is None:
            return Reply(200, dict(SSE), "id: …\nretry: 0\ndata: first\n\n".encode())
        echoed = sent.encode("latin-1").decode("utf-8")  # http.server decodes as latin-1
        return Reply(200, dict(SSE), f"data: {echoed}\n\n".encode())

    server = serve({"/s": echo})
    source = sse_source(server.url("/s"), clock, response_format="text")
    assert take(source, 2) == [{"data": "first"}, {"data": "…"}]


def test_an_empty_id_resets_and_no_header_is_sent(serve, clock):
    # docs/reliability.md test 27, variant: "id:" (empty) before closing.
    script = Script(b"retry: 0\nid: 7\ndata: {}\n\nid\ndata: {}\n\n", b"data: {}\n\n")
    server = serve({"/s": script})
    take(sse_source(server.url("/s"), clock), 3)
    assert last_event_ids(server, "/s") == [None, None]


def test_an_id_with_null_is_ignored(serve, clock):
    script = Script(b"retry: 0\nid: 1\ndata: {}\n\nid: 2\x00\ndata: {}\n\n", b"data: {}\n\n")
    server = serve({"/s": script})
    take(sse_source(server.url("/s"), clock), 3)
    assert last_event_ids(server, "/s") == [None, "1"]


# -- statuses and media types -----------------------------------------------------------------


def test_204_stops_without_reconnecting(serve, clock):
    server = serve({"/s": Script(Reply(204))})
    with pytest.raises(SSEStreamClosedByServer):
        take(sse_source(server.url("/s"), clock), 1)
    assert len(server.requests) == 1 and clock.sleeps == []


def test_a_bogus_media_type_fails_without_reconnecting(serve, clock):
    server = serve({"/s": Script(Reply(200, {"Content-Type": "text/x-bogus"}, b"data: x\n\n"))})
    with pytest.raises(SSEProtocolError, match="text/x-bogus"):
        take(sse_source(server.url("/s"), clock), 1)
    assert len(server.requests) == 1


def test_a_trailing_semicolon_in_the_media_type_is_accepted(serve, clock):
    reply = Reply(200, {"Content-Type": "text/event-stream;"}, b"data: {}\n\n")
    server = serve({"/s": Script(reply)})
    assert take(sse_source(server.url("/s"), clock), 1) == [{}]


@pytest.mark.parametrize("status", [404, 410, 205])
def test_other_statuses_fail_with_the_status_chained(serve, clock, status):
    server = serve({"/s": Script(Reply(status, {}, b"gone"))})
    with pytest.raises(SSEProtocolError) as info:
        take(sse_source(server.url("/s"), clock), 1)
    assert isinstance(info.value.__cause__, HTTPStatusError)
    assert info.value.__cause__.status == status
    assert len(server.requests) == 1


def test_503_is_retried_under_the_retry_policy(serve, clock):
    busy = Reply(503, {"Retry-After": "2"}, b"busy")
    server = serve({"/s": Script(busy, busy, b"data: {}\n\n")})
    source = sse_source(server.url("/s"), clock, retry=RetryConfig(jitter=False))
    assert take(source, 1) == [{}]
    assert clock.sleeps == [2.0, 2.0]


def test_strict_sse_fails_on_503(serve, clock):
    server = serve({"/s": Script(Reply(503, {"Retry-After": "1"}, b"busy"))})
    with pytest.raises(SSEProtocolError):
        take(sse_source(server.url("/s"), clock, strict_sse=True), 1)
    assert len(server.requests) == 1


def test_503_until_the_retry_policy_gives_up(serve, clock):
    server = serve({"/s": Script(Reply(503, {}, b"busy"))})
    source = sse_source(server.url("/s"), clock, retry=RetryConfig(max_attempts=3, jitter=False))
    with pytest.raises(RetryExhausted) as info:
        take(source, 1)
    assert isinstance(info.value.__cause__, HTTPStatusError)
    assert len(server.requests) == 3


def test_an_open_circuit_breaker_delays_the_reconnect_until_it_half_opens(serve, clock):
    busy = Reply(503, {}, b"busy")
    server = serve({"/s": Script(busy, busy, b"data: {}\n\n")})
    breaker = CircuitBreaker(
        failure_threshold=2, recovery_timeout_seconds=30, clock=clock.monotonic
    )
    retry = RetryConfig(jitter=False)
    source = sse_source(server.url("/s"), clock, retry=retry, circuit_breaker=breaker)
    assert take(source, 1) == [{}]
    # Two 503s open the breaker; the third attempt fails fast without a request and the
    # reconnect waits until the breaker lets a trial call through.
    assert clock.sleeps == [0.5, 1.0, 29.0]
    assert len(server.requests) == 3
    assert breaker.state == "closed"


def test_the_request_asks_for_an_event_stream_uncached(serve, clock):
    # wpt request-accept, request-cache-control.
    server = serve({"/s": Script(b"data: {}\n\n")})
    take(sse_source(server.url("/s"), clock), 1)
    (request,) = server.requests
    assert request.header("accept") == "text/event-stream"
    assert request.header("cache-control") == "no-cache"


@pytest.mark.parametrize("status", [301, 302, 303, 307])
def test_redirects_are_followed(serve, clock, status):
    # wpt request-redirect.
    server = serve(
        {"/old": Script(Reply(status, {"Location": "/new"})), "/new": Script(b"data: {}\n\n")}
    )
    assert take(sse_source(server.url("/old"), clock), 1) == [{}]


def test_credentials_do_not_follow_a_redirect_to_another_origin(serve, clock):
    elsewhere = serve({"/s": Script(b"data: {}\n\n")})
    home = serve({"/s": Script(Reply(307, {"Location": elsewhere.url("/s")}))})
    bearer = {"type": "bearer", "token": "s3cret"}
    blocked = sse_source(home.url("/s"), clock, auth=bearer)
    with pytest.raises(BlockedDestinationError):  # both on 127.0.0.1: a private network
        take(blocked, 1)
    assert elsewhere.requests == []
    source = sse_source(home.url("/s"), clock, auth=bearer, block_private_networks=False)
    assert take(source, 1) == [{}]
    assert home.requests[0].header("authorization") == "Bearer s3cret"
    assert elsewhere.requests[0].header("authorization") is None


def test_401_is_an_authentication_failure(serve, clock):
    server = serve({"/s": Script(Reply(401, {}, b"who are you"))})
    with pytest.raises(SSEProtocolError) as info:
        take(sse_source(server.url("/s"), clock, auth={"type": "bearer", "token": "t"}), 1)
    assert isinstance(info.value.__cause__, AuthenticationError)
    assert info.value.__cause__.status == 401
    assert len(server.requests) == 1


def test_a_revoked_oauth2_token_is_fetched_again_once(serve, clock):
    issued: list[str] = []

    def token(request: Request) -> Reply:
        issued.append(f"tok-{len(issued) + 1}")
        body = orjson.dumps({"access_token": issued[-1], "token_type": "Bearer"})
        return Reply(200, {"Content-Type": "application/json"}, body)

    def stream(request: Request) -> Reply:
        if request.header("authorization") != "Bearer tok-2":
            return Reply(401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, b"{}")
        return Reply(200, dict(SSE), b"data: {}\n\n")

    server = serve({"/token": token, "/s": stream})
    auth = OAuth2ClientCredentials(
        server.url("/token"), "client", "secret", allow_insecure_token_url=True
    )
    assert take(sse_source(server.url("/s"), clock, auth=auth), 1) == [{}]
    assert issued == ["tok-1", "tok-2"]
    assert len(server.requests_to("/s")) == 2


# -- idle connections, heartbeats, sizes, decoding --------------------------------------------


def test_an_idle_connection_is_dropped_and_resumed(serve, clock):
    events = EventsAPI(initial=2, every_seconds=None, heartbeat_seconds=30)
    server = serve(events.routes())
    source = sse_source(server.url("/stream"), clock, idle_timeout_seconds=0.2)
    with source.stream() as records:
        first = list(itertools.islice(records, 2))
        clock.on_sleep = lambda seconds: events.append(2)  # while the client waits to reconnect
        rest = list(itertools.islice(records, 2))
    assert [r["id"] for r in first + rest] == [1, 2, 3, 4]
    assert last_event_ids(server) == [None, "2"]
    assert records.stats.reconnects == 1


def test_heartbeats_keep_a_quiet_connection_open(serve, clock):
    events = EventsAPI(initial=1, every_seconds=None, heartbeat_seconds=0.02)
    server = serve(events.routes())
    source = sse_source(server.url("/stream"), clock, idle_timeout_seconds=1.0)
    timer = threading.Timer(0.3, events.append)  # 0.3 s of comments only, then an event
    with source.stream() as records:
        assert next(records)["id"] == 1
        timer.start()
        assert next(records)["id"] == 2
    timer.join()
    assert len(server.requests) == 1 and clock.sleeps == []


def test_an_event_over_max_event_bytes_fails_the_stream(serve, clock):
    chunks = [b"data: "] + [b"x" * 65536] * 40  # 2.5 MiB without a line end
    server = serve({"/s": Script(Reply(200, dict(SSE), iter(chunks)))})
    with pytest.raises(SSEEventTooLarge):
        take(sse_source(server.url("/s"), clock, max_event_bytes=1 << 20), 1)
    assert len(server.requests) == 1


@pytest.mark.parametrize("piece", [5, 100_000])  # many small network reads, or one
@pytest.mark.parametrize(("over", "fits"), [(0, True), (1, False)])
def test_max_event_bytes_holds_to_the_byte(serve, clock, piece, over, fits):
    # docs/reliability.md test 30: an event counts its data buffer plus the line being read;
    # for one "data: ..." line that is the line itself, without its line end.
    limit = 1024
    line = b'data: {"id": 1, "pad": "' + b"x" * (limit + over - 26) + b'"}'
    assert len(line) == limit + over
    body = line + b"\n\n"
    chunks = [body[i : i + piece] for i in range(0, len(body), piece)]
    server = serve({"/s": Script(Reply(200, dict(SSE), iter(chunks)))})
    source = sse_source(server.url("/s"), clock, max_event_bytes=limit, reconnect=None)
    if fits:
        assert [r["id"] for r in take(source, 2)] == [1]
    else:
        with pytest.raises(SSEEventTooLarge):
            take(source, 2)
    assert len(server.requests) == 1


def test_an_event_one_byte_over_is_refused_before_its_line_end_arrives(serve, clock):
    # The server sends max_event_bytes + 1 bytes of one line and no line end; it ends the
    # stream only once the test is over. A client that waited for the line end would see
    # the stream end (and drop the partial event) instead of refusing it.
    limit = 1024
    release = threading.Event()

    def body():
        yield b"data: " + b"x" * (limit + 1 - 6)
        release.wait(timeout=10)

    server = serve({"/s": lambda request: Reply(200, dict(SSE), body())})
    source = sse_source(server.url("/s"), clock, max_event_bytes=limit, reconnect=None)
    try:
        with pytest.raises(SSEEventTooLarge):
            take(source, 1)
    finally:
        release.set()


def test_json_data_holds_records_and_data_path_finds_them(serve, clock):
    body = (
        b'data: {"items": [{"id": 1}, {"id": 2}]}\n\n'
        b'data: {"items": []}\n\n'
        b'data: {"items": [{"id": 3}]}\n\n'
    )
    server = serve({"/s": Script(body)})
    source = sse_source(server.url("/s"), clock, data_path="items", reconnect=None)
    assert [r["id"] for r in take(source, 5)] == [1, 2, 3]


def test_text_data_and_event_metadata(serve, clock):
    body = b"event: greeting\nid: a1\ndata: hello\ndata: world\n\ndata: bye\n\n"
    server = serve({"/s": Script(body)})
    source = sse_source(
        server.url("/s"),
        clock,
        response_format="text",
        include_event_metadata=True,
        reconnect=None,
    )
    assert take(source, 5) == [
        {"data": "hello\nworld", "_event": "greeting", "_event_id": "a1"},
        {"data": "bye", "_event": "message", "_event_id": "a1"},  # the id persists
    ]


def test_data_that_is_not_json_is_a_decode_error(serve, clock):
    server = serve({"/s": Script(b"data: not json\n\n")})
    with pytest.raises(ResponseDecodeError) as info:
        take(sse_source(server.url("/s"), clock), 1)
    assert info.value.kind == "json"


def test_a_gzip_encoded_stream_is_decoded_incrementally(serve, clock):
    import zlib

    compressor = zlib.compressobj(wbits=zlib.MAX_WBITS | 16)
    chunks = [
        compressor.compress(b"id: %d\ndata: {}\n\n" % i) + compressor.flush(zlib.Z_SYNC_FLUSH)
        for i in range(1, 4)
    ]
    chunks.append(compressor.flush())
    reply = Reply(200, {**SSE, "Content-Encoding": "gzip"}, iter(chunks))
    server = serve({"/s": Script(reply)})
    records = take(
        sse_source(server.url("/s"), clock, reconnect=None, include_event_metadata=True), 5
    )
    assert [r["_event_id"] for r in records] == ["1", "2", "3"]


def test_a_read_of_an_sse_source_is_refused(clock):
    from hiveframe.errors import ConfigError

    source = sse_source("https://api.test/stream", clock)
    with pytest.raises(ConfigError) as info:
        source.read()
    assert info.value.option == "stream_type"


def test_a_source_that_does_not_stream_says_how_to(clock):
    from hiveframe.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        HTTPSource("https://api.test/data").stream()
    assert info.value.option == "poll_interval_seconds"
