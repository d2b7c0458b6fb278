"""Reads under injected faults over real loopback HTTP: nothing lost, nothing doubled.

Waits run on a fake clock (``clock`` fixture): the recorded sleeps are the measured waits.
"""

from __future__ import annotations

import socket
import threading
import time

import orjson
import pytest

from clocks import TaskClock
from faults import JSON, FaultyCollection
from hiveframe.connectors import HTTPSource
from hiveframe.demo import LoopbackServer, Reply, Request
from hiveframe.errors import (
    AuthenticationError,
    CircuitOpenError,
    DeadlineExceeded,
    HTTPStatusError,
    ReadError,
    ResponseDecodeError,
    RetryAfterTooLong,
    RetryExhausted,
    TimeoutException,
)
from hiveframe.resilience import CircuitBreaker, RateLimiter, RetryConfig
from waiting import eventually

FAST = RetryConfig(max_attempts=4, initial_delay_seconds=0.01, max_delay_seconds=0.05)


def read_ids(server, clock, **options) -> list[int]:
    options.setdefault("concurrency", 1)  # exact request counts; see the concurrent variant
    source = HTTPSource(server.url("/c"), pagination="offset", page_size=10, clock=clock, **options)
    return source.read().to_arrow().column("id").to_pylist()


def test_transient_faults_on_every_page_lose_and_double_nothing(serve, clock):
    script = {
        0: [503, 503],
        10: [429],
        20: ["reset"],
        30: [502, "short"],
        40: [504],
        50: [500, 503, 408],
    }
    collection = FaultyCollection(55, script, retry_after="1")
    server = serve({"/c": collection})

    ids = read_ids(server, clock, retry=RetryConfig(max_attempts=4, jitter=False))

    assert ids == list(range(1, 56))  # same count, same ids, in order, no duplicates
    assert len(server.requests) == 6 + sum(len(f) for f in script.values())
    faults = [fault for offset in sorted(script) for fault in script[offset]]
    assert len(clock.sleeps) == len(faults)
    for fault, wait in zip(faults, clock.sleeps, strict=True):
        assert wait >= (1.0 if isinstance(fault, int) else 0.5)  # Retry-After: 1 honoured


def test_transient_faults_with_pages_in_flight_lose_and_double_nothing(serve, clock):
    script = {0: [503], 10: ["reset"], 20: [429], 30: ["short", 502], 40: [500], 60: [503]}
    server = serve({"/c": FaultyCollection(75, script, retry_after="1")})
    ids = read_ids(server, clock, concurrency=4, retry=RetryConfig(jitter=False))
    assert ids == list(range(1, 76))


def test_retry_after_seconds_is_the_floor_of_the_wait(serve, clock):
    server = serve({"/c": FaultyCollection(5, {0: [503, 503, 503]}, retry_after="2")})
    assert read_ids(server, clock, retry=RetryConfig(max_attempts=4)) == [1, 2, 3, 4, 5]
    assert len(clock.sleeps) == 3
    assert all(2.0 <= wait <= 2.0 + 0.5 * 2**i for i, wait in enumerate(clock.sleeps))


def test_retry_after_http_date(serve, clock):
    from email.utils import formatdate

    clock.wall_offset = float(int(clock.time())) - clock.now  # whole seconds, like HTTP dates
    when = formatdate(clock.time() + 3, usegmt=True)
    server = serve({"/c": FaultyCollection(5, {0: [429]}, retry_after=when)})
    assert read_ids(server, clock, retry=RetryConfig(jitter=False)) == [1, 2, 3, 4, 5]
    assert clock.sleeps == [pytest.approx(3.0)]


def test_retry_after_above_the_cap_fails_at_once(serve, clock):
    server = serve({"/c": FaultyCollection(5, {0: [503]}, retry_after="86400")})
    with pytest.raises(RetryAfterTooLong) as info:
        read_ids(server, clock, retry=RetryConfig(max_retry_after_seconds=60))
    assert info.value.seconds == 86400
    assert clock.sleeps == []


def test_permanent_failure_stops_after_exactly_max_attempts(serve, clock):
    server = serve({"/c": FaultyCollection(5, {0: [503] * 10})})
    with pytest.raises(RetryExhausted) as info:
        read_ids(server, clock, retry=RetryConfig(max_attempts=3))
    assert info.value.attempts == 3
    assert len(server.requests) == 3
    cause = info.value.__cause__
    assert isinstance(cause, HTTPStatusError)
    assert (cause.status, cause.page) == (503, 0)
    assert "injected fault" in cause.body_excerpt
    assert "503" in str(info.value) and "3 attempts" in str(info.value)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, HTTPStatusError),
        (404, HTTPStatusError),
        (422, HTTPStatusError),
        (501, HTTPStatusError),
        (401, AuthenticationError),
        (403, AuthenticationError),
    ],
)
def test_client_errors_are_not_retried(serve, clock, status, error):
    server = serve({"/c": FaultyCollection(5, {0: [status]})})
    with pytest.raises(error) as info:
        read_ids(server, clock)
    assert info.value.status == status
    assert len(server.requests) == 1
    assert clock.sleeps == []


def test_post_is_not_retried_unless_the_caller_says_it_is_safe(serve, clock):
    server = serve({"/c": FaultyCollection(5, {0: [503, 503]})})
    with pytest.raises(HTTPStatusError):
        read_ids(server, clock, method="POST", body={"q": 1})
    assert len(server.requests) == 1
    safe = RetryConfig(retry_non_idempotent=True)
    assert read_ids(server, clock, method="POST", body={"q": 1}, retry=safe) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("fault", ["short_fin", "short", "reset", "chunked_reset"])
def test_a_page_cut_short_is_fetched_again_and_never_taken(serve, clock, fault):
    # docs/reliability.md test 8. "short_fin" sends a valid JSON page without its last
    # record, declares the whole page's length and closes cleanly (FIN): taken for the
    # page, it would lose record 20.
    collection = FaultyCollection(25, {10: [fault]})
    server = serve({"/c": collection})
    assert read_ids(server, clock, retry=RetryConfig(jitter=False)) == list(range(1, 26))
    assert collection.attempts == {0: 1, 10: 2, 20: 1}
    assert len(clock.sleeps) == 1


@pytest.mark.parametrize("fault", ["short_fin", "chunked_reset"])
def test_a_page_cut_short_without_retries_is_a_read_error(serve, clock, fault):
    server = serve({"/c": FaultyCollection(25, {10: [fault]})})
    with pytest.raises(ReadError) as info:
        read_ids(server, clock, retry=None)
    assert info.value.page == 1


def test_a_connection_dropped_before_the_reply_is_retried_only_by_the_retry_policy(serve, clock):
    # docs/reliability.md test 3. Page 1 goes over a kept-alive connection that the server
    # drops before answering; the HTTP library must not resend the GET on its own (that
    # resend would pass the retry budget, the rate limiter and the breaker unseen).
    collection = FaultyCollection(25, {10: ["drop", "drop"]})
    server = serve({"/c": collection})
    with pytest.raises(ReadError) as info:
        read_ids(server, clock, retry=None)
    assert info.value.page == 1
    assert collection.attempts == {0: 1, 10: 1}
    collection = FaultyCollection(25, {10: ["drop", "drop"]})
    server = serve({"/c": collection})
    assert read_ids(server, clock, retry=FAST) == list(range(1, 26))
    assert collection.attempts == {0: 1, 10: 3, 20: 1}


def test_cursor_pagination_with_faults_goes_on_from_the_retried_page(serve, clock):
    # docs/reliability.md test 9: 5 pages of 100; the third fails twice with a 503.
    failures = {"c2": 2}

    def api(request: Request) -> Reply:
        cursor = request.query.get("cursor", "c0")
        if failures.get(cursor, 0):
            failures[cursor] -= 1
            return Reply(503, dict(JSON), b'{"error": "busy"}')
        n = int(cursor[1:])
        page = {
            "data": [{"id": n * 100 + i + 1} for i in range(100)],
            "next_cursor": f"c{n + 1}" if n < 4 else None,
        }
        return Reply(200, dict(JSON), orjson.dumps(page))

    server = serve({"/c": api})
    source = HTTPSource(
        server.url("/c"), pagination="cursor", data_path="data", clock=clock, retry=FAST
    )
    assert source.read().to_arrow().column("id").to_pylist() == list(range(1, 501))
    sent = [r.query.get("cursor") for r in server.requests]
    assert sent == [None, "c1", "c2", "c2", "c2", "c3", "c4"]  # exactly 7 requests


def test_a_server_dripping_bytes_cannot_hold_an_attempt_past_its_timeout(serve, clock):
    # docs/reliability.md test 6: a byte every 0.1 s would never trip a per-read timeout;
    # timeout_seconds bounds the whole attempt. The drip would last 60 s.
    def drip(request: Request) -> Reply:
        def chunks():
            for _ in range(600):
                time.sleep(0.1)  # the server is slow on purpose
                yield b" "

        return Reply(200, {**JSON, "Content-Length": "600"}, chunks())

    server = serve({"/c": drip})
    started = time.monotonic()
    with pytest.raises(TimeoutException):
        HTTPSource(server.url("/c"), timeout_seconds=0.5, retry=None, clock=clock).read()
    assert time.monotonic() - started < 30  # far less than the drip's 60 s


def test_a_stall_longer_than_the_timeout_is_retried(serve, clock):
    server = serve({"/c": FaultyCollection(5, {0: ["stall"]}, stall_seconds=2)})
    assert read_ids(server, clock, timeout_seconds=0.2, retry=FAST) == [1, 2, 3, 4, 5]
    assert len(server.requests) == 2


def test_a_stall_without_retries_is_a_timeout_error(serve, clock):
    server = serve({"/c": FaultyCollection(5, {0: ["stall"]}, stall_seconds=2)})
    with pytest.raises(TimeoutException) as info:
        read_ids(server, clock, timeout_seconds=0.2, retry=None)
    assert info.value.page == 0


def test_deadline_for_the_whole_read(serve, clock):
    server = serve({"/c": FaultyCollection(30, {10: ["stall"]}, stall_seconds=2)})
    with pytest.raises(DeadlineExceeded) as info:
        read_ids(server, clock, deadline_seconds=0.3, retry=None)
    assert info.value.page == 1


def test_truncated_json_is_a_decode_error_naming_the_page(serve, clock):
    server = serve({"/c": FaultyCollection(25, {10: ["truncated"]})})
    with pytest.raises(ResponseDecodeError) as info:
        read_ids(server, clock)
    assert info.value.kind == "json"
    assert info.value.page == 1


def test_breaker_opens_fails_fast_half_opens_and_closes(serve, clock):
    healthy = {"ok": False}

    def api(request):
        if healthy["ok"]:
            return Reply(200, {"Content-Type": "application/json"}, b'[{"id": 1}]')
        return Reply(503, {}, b"down")

    server = serve({"/c": api})
    breaker = CircuitBreaker(
        failure_threshold=3, recovery_timeout_seconds=30, clock=clock.monotonic
    )
    source = HTTPSource(server.url("/c"), retry=None, circuit_breaker=breaker, clock=clock)
    for _ in range(3):
        with pytest.raises(HTTPStatusError):
            source.read()
    assert breaker.state == "open"

    for _ in range(5):
        with pytest.raises(CircuitOpenError):
            source.read()
    assert len(server.requests) == 3  # failing fast: the server saw none of those 5

    clock.advance(30)
    assert breaker.state == "half_open"
    healthy["ok"] = True
    assert source.read().count() == 1
    assert breaker.state == "closed"


def test_one_breaker_shared_by_two_sources(serve, clock):
    server = serve({"/a": lambda r: Reply(503), "/b": lambda r: Reply(503)})
    breaker = CircuitBreaker(failure_threshold=2, clock=clock.monotonic)
    a = HTTPSource(server.url("/a"), retry=None, circuit_breaker=breaker, clock=clock)
    b = HTTPSource(server.url("/b"), retry=None, circuit_breaker=breaker, clock=clock)
    for source in (a, b):
        with pytest.raises(HTTPStatusError):
            source.read()
    with pytest.raises(CircuitOpenError):
        a.read()
    assert len(server.requests) == 2


def test_rate_limit_spaces_requests(serve, clock):
    server = serve({"/c": FaultyCollection(50)})
    limiter = RateLimiter(10, clock=clock.monotonic)
    assert len(read_ids(server, clock, rate_limit=limiter)) == 50
    assert len(server.requests) == 6
    assert clock.sleeps == [pytest.approx(0.1)] * 5


def test_a_429_pauses_the_whole_source(serve, clock):
    server = serve({"/c": FaultyCollection(30, {10: [429]}, retry_after="2")})
    limiter = RateLimiter(1000, clock=clock.monotonic)
    retry = RetryConfig(jitter=False)
    assert len(read_ids(server, clock, rate_limit=limiter, retry=retry)) == 30
    assert sum(clock.sleeps) >= 2.0


class SendLog(RateLimiter):
    """A shared rate limiter that notes when each request it lets through goes out.

    ``sends`` holds ``(sleeps_so_far, sent_at)``: how many sleeps the clock had recorded when
    the request reserved its slot (to place it before or after a given sleep), and the time
    it was sent, on the reserving task's own time line.
    """

    def __init__(self, rate: float, *, burst: int, clock: TaskClock) -> None:
        super().__init__(rate, burst=burst, clock=clock.monotonic)
        self.task_clock = clock
        self.sends: list[tuple[int, float]] = []

    def reserve(self) -> float:
        now = self.task_clock.monotonic()
        wait = super().reserve()
        self.sends.append((len(self.task_clock.sleeps), now + wait))
        return wait


class BusyBesideA429:
    """75 records in pages of 10. The first request for offset 10 gets a 429 with
    ``Retry-After: 2``; the first requests for offsets 20, 30 and 40, in flight beside it,
    get a 503 without Retry-After, but only once the client has taken the 429 in (it sleeps
    the 2 s), so their retries are sent while the pause is on."""

    def __init__(self, clock: TaskClock) -> None:
        self.clock = clock
        self.collection = FaultyCollection(75)
        self.seen: set[int] = set()
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        offset = int(request.query["offset"])
        with self.lock:
            first = offset not in self.seen
            self.seen.add(offset)
        if first and offset == 10:
            return Reply(429, {**JSON, "Retry-After": "2"}, b'{"error": "slow down"}')
        if first and offset in (20, 30, 40):
            eventually(lambda: any(s.seconds == 2.0 for s in self.clock.sleeps), timeout=10)
            return Reply(503, dict(JSON), b'{"error": "busy"}')
        return self.collection(request)


def test_a_429_pauses_every_page_in_flight(serve):
    # docs/reliability.md test 20: with several pages in flight, a 429 with Retry-After
    # pauses the limiter they share; no request, the other pages' retries and the pages
    # launched next included, goes out before the pause ends. On a TaskClock, so a page's
    # own backoff (0.5 s) does not count as having waited out the other page's pause.
    clock = TaskClock()
    server = serve({"/c": BusyBesideA429(clock)})
    # A burst larger than the read's requests: nothing but a pause ever holds one back.
    limiter = SendLog(10, burst=100, clock=clock)
    source = HTTPSource(
        server.url("/c"),
        pagination="offset",
        page_size=10,
        concurrency=4,
        rate_limit=limiter,
        retry=RetryConfig(jitter=False),
        clock=clock,
    )

    assert source.read().to_arrow().column("id").to_pylist() == list(range(1, 76))

    taken_in = [i for i, s in enumerate(clock.sleeps) if s.seconds == 2.0]
    assert len(taken_in) == 1  # the 429's page slept its Retry-After once
    pause_ends = clock.sleeps[taken_in[0]].at + 2.0
    later = [sent_at for sleeps_so_far, sent_at in limiter.sends if sleeps_so_far > taken_in[0]]
    # its own retry, the retries of offsets 20-40, and offsets 50-70 at least
    assert len(later) >= 7
    assert min(later) >= pause_ends - 1e-9
    assert len(server.requests) >= 8 + 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_server_that_is_not_up_yet(clock):
    port = free_port()
    collection = FaultyCollection(25)
    started: list[LoopbackServer] = []

    def start_after_two_refusals(seconds: float) -> None:
        if len(clock.sleeps) == 2:
            started.append(LoopbackServer({"/c": collection}, port=port).start())

    clock.on_sleep = start_after_two_refusals
    source = HTTPSource(
        f"http://127.0.0.1:{port}/c",
        pagination="offset",
        page_size=10,
        clock=clock,
        retry=RetryConfig(max_attempts=5),
    )
    try:
        ids = source.read().to_arrow().column("id").to_pylist()
    finally:
        for server in started:
            server.stop()
    assert ids == list(range(1, 26))


def test_errors_name_the_url_redacted(serve, clock):
    server = serve({"/c": FaultyCollection(5, {0: [500] * 5})})
    source = HTTPSource(
        server.url("/c?api_key=hush-123"), retry=RetryConfig(max_attempts=2), clock=clock
    )
    with pytest.raises(RetryExhausted) as info:
        source.read()
    message = str(info.value) + str(info.value.__cause__)
    assert "api_key=***" in message and "hush-123" not in message
    assert orjson.loads(orjson.dumps(info.value.attempts)) == 2
