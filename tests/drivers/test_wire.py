"""The wire (``hiveframe._http.wire``) against servers that send exactly the bytes a test writes.

Each server here is a real socket on 127.0.0.1 that answers every request on a connection
with the next answer of its script, so a test can send what well-behaved servers rarely
do: a body ended by closing the connection, interim 1xx answers, bytes after the response,
something that is not HTTP at all, a body bigger than what the wire buffers. Every read
ends with the data or a typed error, and a connection is reused only when that is safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import struct
import threading
import time
from collections.abc import AsyncIterator

import orjson
import pyarrow as pa
import pytest
from yarl import URL

from hiveframe._http.wire import RACE_REPLY_SECONDS, IdleConnectionClosed, TransportConfig, Wire
from hiveframe.connectors import HTTPSink, HTTPSource, PollStream
from hiveframe.errors import DeliveryFailed, ReadError
from hiveframe.resilience import RetryConfig
from scripted_server import Connection, ScriptedServer


def page(offset: int, total: int = 25, size: int = 10) -> bytes:
    records = [{"id": i} for i in range(offset, min(offset + size, total))]
    return orjson.dumps({"items": records, "total": total})


def offset_of(head: bytes) -> int:
    query = head.split(b" ")[1].partition(b"?")[2].decode()
    fields = dict(part.split("=") for part in query.split("&") if part)
    return int(fields.get("offset", 0))


def answer(body: bytes, *extra: bytes) -> bytes:
    lines = [b"HTTP/1.1 200 OK", b"Content-Type: application/json", *extra]
    return b"\r\n".join([*lines, b"Content-Length: %d" % len(body), b"", body])


def read(server: ScriptedServer, **options: object) -> list[int]:
    options.setdefault("retry", None)
    source = HTTPSource(
        server.url("/items"),
        pagination="offset",
        page_size=10,
        data_path="items",
        concurrency=1,
        **options,  # type: ignore[arg-type]
    )
    return source.read().to_arrow().column("id").to_pylist()


def keep_alive(conn: Connection) -> None:
    while (head := conn.request()) is not None:
        conn.send(answer(page(offset_of(head))))


def test_pages_share_one_kept_alive_connection(scripted):
    server = scripted(keep_alive)
    assert read(server) == list(range(25))
    assert server.connections == 1 and len(server.heads) == 3


def test_the_request_names_its_host_and_sends_no_body_for_a_get(scripted):
    server = scripted(keep_alive)
    read(server)
    lines = server.heads[0].split(b"\r\n")
    assert lines[0].startswith(b"GET /items?") and lines[0].endswith(b" HTTP/1.1")
    fields = {name.lower(): value for name, _, value in (line.partition(b": ") for line in lines)}
    assert fields[b"host"] == b"127.0.0.1:%d" % server.port
    assert fields[b"user-agent"] == b"hiveframe" and fields[b"accept"] == b"*/*"
    assert b"content-length" not in fields and b"transfer-encoding" not in fields


def test_a_body_ended_by_closing_the_connection_is_read_whole(scripted):
    # HTTP/1.0 style: no Content-Length, no chunks; the body is all bytes until the close.
    def script(conn: Connection) -> None:
        head = conn.request()
        assert head is not None
        conn.send(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n")
        conn.send(page(offset_of(head)))

    server = scripted(script)
    assert read(server) == list(range(25))
    assert server.connections == 3  # such a connection ends with its response


def test_interim_answers_before_the_response_are_skipped(scripted):
    def script(conn: Connection) -> None:
        while (head := conn.request()) is not None:
            conn.send(
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
            )
            conn.send(answer(page(offset_of(head))))

    server = scripted(script)
    assert read(server) == list(range(25))
    assert server.connections == 1


def test_a_connection_close_answer_is_not_reused(scripted):
    def script(conn: Connection) -> None:
        head = conn.request()
        assert head is not None
        conn.send(answer(page(offset_of(head)), b"Connection: close"))

    server = scripted(script)
    assert read(server) == list(range(25))
    assert server.connections == 3


def test_bytes_after_the_response_end_its_connection(scripted):
    # A server that sends more than it declared: the page is the declared bytes, and what
    # follows could be taken for the next page's answer, so the connection is dropped.
    def script(conn: Connection) -> None:
        while (head := conn.request()) is not None:
            conn.send(answer(page(offset_of(head))) + answer(page(999)))

    server = scripted(script)
    retry = RetryConfig(max_attempts=3, initial_delay_seconds=0.01)
    assert read(server, retry=retry) == list(range(25))
    assert server.connections == 3


@pytest.mark.parametrize(
    "reply",
    [
        b"HELLO WORLD\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
    ],
    ids=["not-http", "two-lengths", "bad-chunk-size", "bad-status"],
)
def test_a_response_that_is_not_http_is_a_read_error(scripted, reply):
    def script(conn: Connection) -> None:
        if conn.request() is not None:
            conn.send(reply)
            conn.request()  # hold the connection open: the client must not wait for more

    server = scripted(script)
    with pytest.raises(ReadError, match="not a valid HTTP response") as info:
        read(server)
    assert info.value.page == 0 and "Traceback" not in str(info.value)


@pytest.mark.parametrize(
    "reply",
    [
        b"",  # closed before any answer
        b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n",  # closed inside the head
        b'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{"items": [',  # inside the body
        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"ite\r\n',  # chunks
    ],
    ids=["no-answer", "mid-head", "mid-body", "mid-chunks"],
)
def test_a_connection_closed_early_is_a_read_error(scripted, reply):
    def script(conn: Connection) -> None:
        if conn.request() is not None:
            conn.send(reply)

    server = scripted(script)
    with pytest.raises(ReadError, match="closed the connection") as info:
        read(server)
    assert info.value.page == 0


def test_a_body_larger_than_the_wire_buffers_arrives_whole(scripted):
    # 4 MB in one page: reading pauses and resumes as the body is consumed.
    records = [{"id": i, "text": "x" * 400} for i in range(10_000)]
    body = orjson.dumps({"items": records})

    def script(conn: Connection) -> None:
        while conn.request() is not None:
            conn.send(answer(body))

    server = scripted(script)
    source = HTTPSource(server.url("/big"), data_path="items", retry=None)
    assert source.read().to_arrow().column("id").to_pylist() == list(range(10_000))


def test_an_async_read_on_a_uvloop_loop(scripted):
    # Servers built on uvicorn run their handlers on uvloop, whose transports are not
    # asyncio's classes.
    uvloop = pytest.importorskip("uvloop")
    server = scripted(keep_alive)
    source = HTTPSource(
        server.url("/items"), pagination="offset", page_size=10, data_path="items", concurrency=1
    )

    async def read_async() -> list[int]:
        frame = await source.aread()
        return frame.to_arrow().column("id").to_pylist()

    assert uvloop.run(read_async()) == list(range(25))
    assert server.connections == 1


def test_a_head_that_never_ends_is_a_read_error(scripted):
    # Header lines for ever: the wire stops at its cap on the head, not at the timeout.
    def script(conn: Connection) -> None:
        if conn.request() is not None:
            conn.send(b"HTTP/1.1 200 OK\r\n")
            line = b"X-Filler: " + b"y" * 1000 + b"\r\n"
            with contextlib.suppress(OSError):
                for _ in range(5_000):
                    conn.send(line)

    server = scripted(script)
    with pytest.raises(ReadError, match="head is over"):
        read(server, timeout_seconds=30)


# -- a kept-alive connection the server closes as the next request goes out ------------------

SERVER_KEEP_ALIVE = 0.5  # the scripted servers' keep-alive timeout below
IDLE = 1.1  # what the clients below wait between requests: past the wire's IDLE_RACE_SECONDS


def closes_idle(how: str = "close", *, fresh_too: bool = False):
    """Answers each request on a connection until one comes after ``SERVER_KEEP_ALIVE`` of
    quiet: that one it ends unanswered (FIN, or RST with ``"reset"``), as a server whose
    keep-alive timer fires just as the request arrives. ``fresh_too``: every connection but
    the first ends unanswered at once."""

    def script(conn: Connection) -> None:
        answered: float | None = None
        while (head := conn.request()) is not None:
            late = answered is not None and time.monotonic() - answered >= SERVER_KEEP_ALIVE
            if late or (fresh_too and server.connections > 1):
                if how == "reset":
                    linger = struct.pack("ii", 1, 0)
                    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                return
            conn.send(ingested() if b" /ingest" in head else answer(page(offset_of(head))))
            answered = time.monotonic()

    server = ScriptedServer(script)
    return server


def ingested() -> bytes:
    return b"HTTP/1.1 204 No Content\r\n\r\n"


async def slow_batches(batches: int) -> AsyncIterator[pa.RecordBatch]:
    for number in range(batches):
        if number:
            await asyncio.sleep(IDLE)
        yield pa.record_batch({"id": range(number * 10, number * 10 + 10)})


@pytest.mark.parametrize("how", ["close", "reset"])
def test_a_poll_on_a_connection_its_server_timed_out_goes_again_once(how, caplog):
    # A source polling every second against a server that drops connections idle half a
    # second: no poll fails (and waits its backoff), no retry is spent (there are none).
    server = closes_idle(how)
    try:
        source = HTTPSource(
            server.url("/items"),
            stream=PollStream(interval_seconds=IDLE),
            data_path="items",
            retry=None,
        )
        with source.stream() as records:
            ids = [record["id"] for record in itertools.islice(records, 20)]
    finally:
        server.close()
    assert ids == [*range(10), *range(10)]
    assert len(server.heads) == 3 and server.connections == 2
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_sink_post_with_an_idempotency_key_goes_again_once():
    server = closes_idle()
    try:
        sink = HTTPSink(server.url("/ingest"), batch_size=10, retry=None)
        result = asyncio.run(sink.awrite(slow_batches(2)))
    finally:
        server.close()
    assert result.records_sent == 20
    assert len(server.heads) == 3 and server.connections == 2


def test_the_connections_idle_as_long_are_dropped_with_the_one_found_closed():
    async def scenario(url: URL) -> None:
        wire = Wire(TransportConfig(read_timeout_seconds=5.0, connect_timeout_seconds=5.0))
        try:
            first = await wire.open("GET", url, headers={}, body=None, where=dict)
            second = await wire.open("GET", url, headers={}, body=None, where=dict)
            for response in (first, second):  # both connections are kept, then idle
                assert [chunk async for chunk in response.chunks()]
                response.release()
            await asyncio.sleep(IDLE)
            with pytest.raises(IdleConnectionClosed, match=r"on a connection idle \d+\.\ds"):
                await wire.open("GET", url, headers={}, body=None, where=dict)
            third = await wire.open("GET", url, headers={}, body=None, where=dict)
            assert third.status == 200
            third.close()
        finally:
            await wire.aclose()

    server = closes_idle()
    try:
        asyncio.run(scenario(URL(server.url("/items"))))
    finally:
        server.close()
    # The second connection was found closed; the first, idle as long, was not tried.
    assert len(server.heads) == 4 and server.connections == 3


def test_a_sink_post_without_an_idempotency_key_is_not_sent_again():
    # Without a key, the server might have taken the batch before it closed: it is not sent
    # twice, and the write says which records were not delivered.
    server = closes_idle()
    try:
        sink = HTTPSink(server.url("/ingest"), batch_size=10, retry=None, idempotency_header=None)
        with pytest.raises(DeliveryFailed, match="keep-alive timeout") as info:
            asyncio.run(sink.awrite(slow_batches(2)))
    finally:
        server.close()
    assert "10 records not delivered" in str(info.value)
    assert len(server.heads) == 2 and server.connections == 1


@pytest.mark.parametrize(
    ("method", "retry", "resent"),
    [
        ("POST", RetryConfig(max_attempts=1, retry_non_idempotent=True), True),
        ("PATCH", RetryConfig(max_attempts=1, retry_methods={"GET", "PATCH"}), True),
        ("PUT", RetryConfig(max_attempts=1, retry_methods={"GET"}), False),
    ],
    ids=["post-declared-safe", "patch-in-retry-methods", "put-left-out"],
)
def test_what_goes_again_is_what_the_retry_policy_holds_safe(method, retry, resent):
    # Keyless batches: the policy's own rules say which requests may reach a server twice.
    server = closes_idle()
    try:
        sink = HTTPSink(
            server.url("/ingest"),
            method=method,
            batch_size=10,
            retry=retry,
            idempotency_header=None,
        )
        if resent:
            assert asyncio.run(sink.awrite(slow_batches(2))).records_sent == 20
        else:
            with pytest.raises(DeliveryFailed, match="keep-alive timeout"):
                asyncio.run(sink.awrite(slow_batches(2)))
    finally:
        server.close()
    assert len(server.heads) == (3 if resent else 2)


def test_a_request_goes_again_once_at_most():
    # The new connection ends unanswered too: that failure is the write's.
    server = closes_idle(fresh_too=True)
    try:
        sink = HTTPSink(server.url("/ingest"), batch_size=10, retry=None)
        with pytest.raises(DeliveryFailed, match="10 records not delivered"):
            asyncio.run(sink.awrite(slow_batches(2)))
    finally:
        server.close()
    assert len(server.heads) == 3 and server.connections == 2


def test_a_connection_reused_at_once_and_closed_unanswered_is_the_retry_policys(scripted):
    # Closed as the next page's request comes, not after a quiet spell: a server failure.
    def script(conn: Connection) -> None:
        head = conn.request()
        if head is not None:
            conn.send(answer(page(offset_of(head))))
            conn.request()

    server = scripted(script)
    with pytest.raises(ReadError, match="before the response") as info:
        read(server)
    assert info.value.page == 1
    assert len(server.heads) == 2 and server.connections == 1
    retry = RetryConfig(max_attempts=2, initial_delay_seconds=0.01)
    assert read(server, retry=retry) == list(range(25))


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_connection_whose_close_was_read_is_not_reused(scripted, loop):
    # The server closed a pooled connection (its FIN was read: the transport is closing)
    # while the loop still had connection_lost queued. A request written on it then would
    # never leave, yet fail as if the server had dropped it: it goes on a new connection.
    run = asyncio.run if loop == "asyncio" else pytest.importorskip("uvloop").run
    answer_now, closed = threading.Event(), threading.Event()

    def script(conn: Connection) -> None:
        head = conn.request()
        if head is None:
            return
        conn.send(answer(b"[]"))
        if head.startswith(b"GET /idle"):  # closed as soon as the other's answer leaves
            answer_now.wait(5)
            time.sleep(0.05)
            conn.sock.close()
            closed.set()
        elif conn.request() is not None:
            answer_now.wait(5)
            conn.send(answer(b"[]", b"Connection: close"))

    def busy() -> None:
        # The loop is busy while the answer and the other connection's FIN arrive: it reads
        # both in one turn, the answer first.
        answer_now.set()
        closed.wait(5)
        time.sleep(0.05)

    async def scenario(url: URL) -> int:
        wire = Wire(TransportConfig(read_timeout_seconds=5.0, connect_timeout_seconds=5.0))
        try:
            idle = await wire.open("GET", url.with_path("/idle"), headers={}, body=None, where=dict)
            other = await wire.open("GET", url, headers={}, body=None, where=dict)
            for response in (idle, other):
                assert [chunk async for chunk in response.chunks()]
                response.release()
            asyncio.get_running_loop().call_soon(busy)
            last = await wire.open("GET", url, headers={}, body=None, where=dict)  # on other
            assert [chunk async for chunk in last.chunks()]
            last.release()  # not kept (Connection: close): the idle one is all that is left
            fresh = await wire.open("GET", url, headers={}, body=None, where=dict)
            fresh.close()
            return fresh.status
        finally:
            await wire.aclose()

    server = scripted(script)
    assert run(scenario(URL(server.url("/items")))) == 200
    assert server.connections == 3


def test_a_close_that_comes_long_after_the_request_is_not_the_keep_alive_timeout():
    # Idle past the threshold, but the server held the request a while before it closed
    # unanswered: it failed as it worked on the request (a crash, a proxy's limit), which
    # the keep-alive timeout does not explain. The retry policy judges it: not sent again.
    def script(conn: Connection) -> None:
        answered = False
        while (head := conn.request()) is not None:
            if answered:
                time.sleep(RACE_REPLY_SECONDS + 0.3)
                return
            conn.send(answer(page(offset_of(head))))
            answered = True

    async def scenario(url: URL) -> None:
        wire = Wire(TransportConfig(read_timeout_seconds=5.0, connect_timeout_seconds=5.0))
        try:
            first = await wire.open("GET", url, headers={}, body=None, where=dict)
            assert [chunk async for chunk in first.chunks()]
            first.release()
            await asyncio.sleep(IDLE)
            with pytest.raises(ReadError, match="before the response") as info:
                await wire.open("GET", url, headers={}, body=None, where=dict)
            assert not isinstance(info.value, IdleConnectionClosed)
        finally:
            await wire.aclose()

    server = ScriptedServer(script)
    try:
        asyncio.run(scenario(URL(server.url("/items"))))
    finally:
        server.close()
