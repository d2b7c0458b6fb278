"""Every body that can grow is bounded: on the wire, decompressed, and in its encodings."""

from __future__ import annotations

import gzip
import random
import zlib

import pytest

from hiveframe._protocol.content import BodyReader
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


# -- exactly at the cap, and one byte over (docs/reliability.md test 37) --------------------

CAP = 4096
JSON = {"Content-Type": "application/json"}


def padded_page(size: int) -> bytes:
    """A JSON array holding one record, padded with spaces to exactly ``size`` bytes."""
    page = b'[{"id": 1}]'
    return page + b" " * (size - len(page))


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
@pytest.mark.parametrize(("over", "fits"), [(0, True), (1, False)])
def test_max_body_bytes_holds_to_the_byte(serve, framing, over, fits):
    body = padded_page(CAP + over)

    def handler(request):
        if framing == "chunked":  # counted as the chunks arrive
            return Reply(200, JSON, iter(pieces(body, 1000)))
        if fits:
            return Reply(200, JSON, body)
        # Judged from the header, before reading: only the head of the body is sent, so a
        # client that read on would see a short body (a ReadError), not ResponseTooLarge.
        headers = {**JSON, "Content-Length": str(len(body)), "Connection": "close"}
        return Reply(200, headers, iter([body[:100]]))

    server = serve({"/b": handler})
    source = HTTPSource(server.url("/b"), max_body_bytes=CAP, retry=None)
    if fits:
        assert source.read().to_pylist() == [{"id": 1}]
    else:
        with pytest.raises(ResponseTooLarge) as info:
            source.read()
        assert (info.value.limit, info.value.decompressed) == (CAP, False)
    assert len(server.requests) == 1


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
@pytest.mark.parametrize("piece", [7, 100_000])  # many small network chunks, or one
@pytest.mark.parametrize(("over", "fits"), [(0, True), (1, False)])
def test_the_decompressed_cap_holds_to_the_byte(serve, coding, piece, over, fits):
    inflated = padded_page(CAP + over)
    compressed = gzip.compress(inflated) if coding == "gzip" else zlib.compress(inflated)
    assert len(compressed) < CAP // 4  # only the decompressed size is at the cap
    headers = {**JSON, "Content-Encoding": coding}
    server = serve({"/z": lambda r: Reply(200, headers, iter(pieces(compressed, piece)))})
    source = HTTPSource(server.url("/z"), max_body_bytes=CAP, retry=None)
    if fits:
        assert source.read().to_pylist() == [{"id": 1}]
    else:
        with pytest.raises(ResponseTooLarge) as info:
            source.read()
        assert (info.value.limit, info.value.decompressed) == (CAP, True)


def incompressible_page(size: int) -> bytes:
    """A page of exactly ``size`` bytes that gzip cannot make smaller."""
    noise = random.Random(size).randbytes(size).hex().encode()
    page = b'[{"id": 1, "noise": "' + noise
    return page[: size - 3] + b'"}]'


@pytest.mark.parametrize(("over", "fits"), [(0, True), (1, False)])
def test_the_wire_cap_holds_to_the_byte_for_a_compressed_body(serve, over, fits):
    # Stored (level 0) gzip is larger than what it holds: the wire cap trips while the
    # decompressed body is still under the cap, so the two caps are tested apart.
    inflated = incompressible_page(CAP - 100)
    compressed = gzip.compress(inflated, compresslevel=0)
    overhead = len(compressed) - len(inflated)
    inflated = incompressible_page(CAP - overhead + over)
    compressed = gzip.compress(inflated, compresslevel=0)
    assert len(compressed) == CAP + over and len(inflated) < CAP
    headers = {**JSON, "Content-Encoding": "gzip"}
    server = serve({"/w": lambda r: Reply(200, headers, iter(pieces(compressed, 1000)))})
    source = HTTPSource(server.url("/w"), max_body_bytes=CAP, retry=None)
    if fits:
        assert source.read().to_pylist()[0]["id"] == 1
    else:
        with pytest.raises(ResponseTooLarge) as info:
            source.read()
        assert (info.value.limit, info.value.decompressed) == (CAP, False)


@pytest.mark.parametrize("cap", ["wire", "decompressed"])
@pytest.mark.parametrize(("over", "fits"), [(0, True), (1, False)])
def test_body_reader_caps_hold_to_the_byte_each_on_its_own(cap, over, fits):
    # Sans-I/O, each cap with the other far away, in pieces that do not line up.
    body = padded_page(CAP + over)
    if cap == "wire":
        reader = BodyReader(None, max_body_bytes=CAP, max_decompressed_bytes=10 * CAP)
        data = body
    else:
        reader = BodyReader("deflate", max_body_bytes=10 * CAP, max_decompressed_bytes=CAP)
        data = zlib.compress(body)
    if fits:
        for piece in pieces(data, 3):
            reader.feed(piece)
        assert reader.finish() == body
    else:
        with pytest.raises(ResponseTooLarge) as info:
            for piece in pieces(data, 3):
                reader.feed(piece)
            reader.finish()
        assert info.value.decompressed is (cap == "decompressed")
