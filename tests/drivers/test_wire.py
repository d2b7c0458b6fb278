"""The wire (``hiveframe._http.wire``) against servers that send exactly the bytes a test writes.

Each server here is a real socket on 127.0.0.1 that answers every request on a connection
with the next answer of its script, so a test can send what well-behaved servers rarely
do: a body ended by closing the connection, interim 1xx answers, bytes after the response,
something that is not HTTP at all, a body bigger than what the wire buffers. Every read
ends with the data or a typed error, and a connection is reused only when that is safe.
"""

from __future__ import annotations

import contextlib

import orjson
import pytest

from hiveframe.connectors import HTTPSource
from hiveframe.errors import ReadError
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
