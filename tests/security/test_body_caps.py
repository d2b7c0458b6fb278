"""Every body that can grow is bounded: on the wire, decompressed, and in its encodings."""

from __future__ import annotations

import gzip
import zlib

import pytest

from hiveframe.connectors import HTTPSource
from hiveframe.demo import Reply
from hiveframe.errors import HTTPError, ResponseTooLarge

MIB = 1024 * 1024


def gzip_bomb(inflated: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = b"\0" * MIB
    parts = [compressor.compress(block) for _ in range(inflated // MIB)]
    return b"".join(parts) + compressor.flush()


def test_gzip_bomb_stops_at_the_decompressed_cap(serve):
    bomb = gzip_bomb(256 * MIB)  # ~250 KiB on the wire
    server = serve(
        {
            "/b": lambda r: Reply(
                200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, bomb
            )
        }
    )
    source = HTTPSource(server.url("/b"), max_body_bytes=8 * MIB, retry=None)
    with pytest.raises(ResponseTooLarge) as info:
        source.read()
    assert info.value.decompressed is True
    assert info.value.limit == 8 * MIB


def test_gzip_body_within_the_cap_is_decoded(serve):
    body = gzip.compress(b'[{"id": 1}, {"id": 2}]')
    server = serve(
        {
            "/g": lambda r: Reply(
                200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, body
            )
        }
    )
    assert HTTPSource(server.url("/g")).read().count() == 2
    assert server.requests[0].header("accept-encoding") == "gzip, deflate, br, zstd"


def test_a_long_content_encoding_chain_is_refused(serve):
    body = b'[{"id": 1}]'
    for _ in range(6):
        body = gzip.compress(body)
    headers = {"Content-Type": "application/json", "Content-Encoding": ", ".join(["gzip"] * 6)}
    server = serve({"/c": lambda r: Reply(200, headers, body)})
    with pytest.raises(HTTPError, match="chain"):
        HTTPSource(server.url("/c"), retry=None).read()


def test_declared_length_above_the_cap_is_refused_before_reading(serve):
    def huge(request):
        return Reply(
            200,
            {"Content-Type": "application/json", "Content-Length": str(10 * 1024 * MIB)},
            iter([b"[" + b" " * 100]),
        )

    server = serve({"/h": huge})
    with pytest.raises(ResponseTooLarge) as info:
        HTTPSource(server.url("/h"), max_body_bytes=MIB, retry=None).read()
    assert info.value.decompressed is False


def test_an_endless_body_stops_at_the_wire_cap(serve):
    def endless(request):
        def chunks():
            while True:
                yield b" " * 65536

        return Reply(200, {"Content-Type": "application/json"}, chunks())

    server = serve({"/e": endless})
    with pytest.raises(ResponseTooLarge):
        HTTPSource(server.url("/e"), max_body_bytes=2 * MIB, retry=None).read()
