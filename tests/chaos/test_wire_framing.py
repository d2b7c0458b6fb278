"""Seeded chaos at the byte level: every way HTTP/1.1 can frame a page, cut every way it can break.

Beside the chaos suite (``test_chaos.py``, which draws faults per request), this one draws
how each answer is framed and written: ``Content-Length``, chunks of random sizes (with
extensions and trailers), or a body ended by the close; interim ``100``/``103`` answers
first; the bytes split into random pieces with pauses between. Some answers break: cut
mid-head or mid-body then closed (FIN) or reset, garbage instead of HTTP, bytes past the
declared end, a silence longer than the read timeout. The oracle, per seed: with retries,
exactly the collection's records, in order; without, those records or a transport error
naming the page, never a short, long or wrong read, never a hang.

    HIVEFRAME_WIRE_SEEDS=2000 .venv/bin/python -m pytest tests/chaos/test_wire_framing.py
"""

from __future__ import annotations

import os
import random
import socket
import struct
import time

import orjson
import pytest

from hiveframe.connectors import HTTPSource
from hiveframe.errors import DeadlineExceeded, ReadError, TimeoutException
from hiveframe.resilience import RetryConfig
from scripted_server import Connection, ScriptedServer

SEEDS = int(os.environ.get("HIVEFRAME_WIRE_SEEDS", "40"))
PAGE = 10
FAULTS = ("cut_head", "cut_body", "reset", "garbage", "extra", "stall")
STALL_SECONDS = 0.6
TIMEOUT_SECONDS = 0.25


def _frame(body: bytes, rng: random.Random) -> tuple[bytes, bool]:
    """One answer's bytes, framed at random; ``True`` when it ends with the connection."""
    head = [b"HTTP/1.1 200 OK", b"Content-Type: application/json"]
    style = rng.choice(("length", "chunked", "close"))
    if style == "length":
        data = b"\r\n".join([*head, b"Content-Length: %d" % len(body), b"", body])
        return data, False
    if style == "close":
        return b"\r\n".join([b"HTTP/1.0 200 OK", head[1], b"", body]), True
    pieces, at = [], 0
    while at < len(body):
        piece = body[at : at + rng.randint(1, max(1, len(body) // 3))]
        extension = b";x=1" if rng.random() < 0.2 else b""
        pieces.append(b"%x%b\r\n%b\r\n" % (len(piece), extension, piece))
        at += len(piece)
    trailer = b"X-Trailer: 1\r\n" if rng.random() < 0.3 else b""
    framed = b"\r\n".join([*head, b"Transfer-Encoding: chunked", b"", b""])
    return framed + b"".join(pieces) + b"0\r\n" + trailer + b"\r\n", False


def _interim(rng: random.Random) -> bytes:
    choices = (
        b"",
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n",
    )
    return rng.choice(choices)


def _send_in_pieces(conn: Connection, data: bytes, rng: random.Random) -> None:
    at = 0
    while at < len(data):
        size = rng.choice((1, 7, 64, 512, len(data)))
        conn.send(data[at : at + size])
        at += size
        if rng.random() < 0.05:
            time.sleep(0.001)


def _reset(conn: Connection) -> None:
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class Schedule:
    """A seed's answers: the collection, and for each request in turn, a fault or none."""

    def __init__(self, seed: int, *, faults_per_page: int) -> None:
        rng = random.Random(seed)
        self.seed = seed
        self.total = rng.choice((0, 5, PAGE, 23, 40))
        self.faults = {
            offset: rng.sample(FAULTS, rng.randint(0, faults_per_page))
            for offset in range(0, self.total + PAGE, PAGE)
        }
        self.attempts: dict[int, int] = {}

    def page(self, offset: int) -> bytes:
        records = [
            {"id": i, "name": f"r{i}"} for i in range(offset, min(offset + PAGE, self.total))
        ]
        return orjson.dumps({"items": records, "total": self.total})

    def __call__(self, conn: Connection) -> None:
        while (head := conn.request()) is not None:
            query = head.split(b" ")[1].partition(b"?")[2].decode()
            offset = int(dict(p.split("=") for p in query.split("&"))["offset"])
            attempt = self.attempts.get(offset, 0)
            self.attempts[offset] = attempt + 1
            faults = self.faults.get(offset, [])
            fault = faults[attempt] if attempt < len(faults) else None
            # Each answer draws from its own generator: connections run in threads of their
            # own, and a seed must replay the same bytes whatever their order.
            rng = random.Random(f"{self.seed}/{offset}/{attempt}")
            data, closes = _frame(self.page(offset), rng)
            data = _interim(rng) + data
            if fault == "cut_head":
                _send_in_pieces(conn, data[: rng.randint(1, data.index(b"\r\n\r\n") + 3)], rng)
                return
            if fault in ("cut_body", "reset"):
                _send_in_pieces(conn, data[: len(data) - rng.randint(1, 20)], rng)
                if fault == "reset" or closes:  # a cut body that ends with a FIN looks whole
                    _reset(conn)
                return
            if fault == "garbage":
                conn.send(b"HTTP/1.1 OK what\r\n\r\n" + data)
                return
            if fault == "stall":
                conn.send(data[: len(data) // 2])
                time.sleep(STALL_SECONDS)
                return
            if fault == "extra" and not closes:  # after a body ended by the close, it is body
                data += b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]"
            _send_in_pieces(conn, data, rng)
            if closes or fault == "extra":
                return


def _source(server: ScriptedServer, retry: RetryConfig | None) -> HTTPSource:
    return HTTPSource(
        server.url("/items"),
        pagination="offset",
        page_size=PAGE,
        data_path="items",
        timeout_seconds=TIMEOUT_SECONDS,
        retry=retry,
        concurrency=2,
    )


@pytest.mark.parametrize("seed", range(SEEDS))
def test_with_retries_every_record_arrives_once(scripted, seed):
    schedule = Schedule(seed, faults_per_page=2)
    server = scripted(schedule)
    retry = RetryConfig(max_attempts=3, initial_delay_seconds=0.001, jitter=False)
    ids = _source(server, retry).read().to_arrow()
    got = ids.column("id").to_pylist() if ids.num_rows else []
    assert got == list(range(schedule.total)), f"seed {seed}: {schedule.faults}"


@pytest.mark.parametrize("seed", range(SEEDS))
def test_without_retries_every_record_or_a_transport_error(scripted, seed):
    schedule = Schedule(seed + 10_000, faults_per_page=1)
    server = scripted(schedule)
    try:
        table = _source(server, None).read().to_arrow()
    except (ReadError, TimeoutException, DeadlineExceeded) as exc:
        assert exc.page is not None, f"seed {seed}: {exc!r}"
        return
    got = table.column("id").to_pylist() if table.num_rows else []
    assert got == list(range(schedule.total)), f"seed {seed}: {schedule.faults}"
