"""Every content coding HiveFrame asks for (gzip, deflate, br, zstd) is decoded under the caps.

Bodies travel over loopback HTTP from a real server; the bound on what one raw chunk may
inflate to is measured with tracemalloc on the sans-I/O reader.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
import tracemalloc
import zlib
from collections.abc import Callable, Iterator

import brotli
import orjson
import pytest

from hiveframe._protocol.content import PIECE_BYTES, BodyReader
from hiveframe.connectors import HTTPSource
from hiveframe.demo import Reply, Request
from hiveframe.errors import HTTPError, ResponseTooLarge

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

MIB = 1024 * 1024
CODINGS = ["gzip", "deflate", "br", "zstd"]
JSON = {"Content-Type": "application/json"}
WAIT = 20.0  # a hang guard, never a pause
OLD_BROTLI = "types.SimpleNamespace(Decompressor=type('Decompressor', (), {}))"  # brotli < 1.2


def compressor(coding: str) -> tuple[Callable[[bytes], bytes], Callable[[], bytes]]:
    """``(compress, finish)`` of a streaming encoder for ``coding``."""
    if coding in ("gzip", "deflate"):
        wbits = zlib.MAX_WBITS | 16 if coding == "gzip" else zlib.MAX_WBITS
        z = zlib.compressobj(6, zlib.DEFLATED, wbits)
        return z.compress, z.flush
    if coding == "br":
        b = brotli.Compressor(quality=5)
        return b.process, b.finish
    c = zstd.ZstdCompressor(level=3)
    return c.compress, c.flush


def encode(data: bytes, header: str) -> bytes:
    """``data`` with the codings of a Content-Encoding header applied, in its order."""
    for coding in header.split(", "):
        compress, finish = compressor(coding)
        data = compress(data) + finish()
    return data


def bomb(coding: str, inflated: int) -> bytes:
    """A body of ``inflated`` zero bytes, compressed a mebibyte at a time."""
    compress, finish = compressor(coding)
    block = b"\0" * MIB
    return b"".join([*(compress(block) for _ in range(inflated // MIB)), finish()])


def padded_json(size: int) -> bytes:
    """A JSON array of one record, padded with spaces to exactly ``size`` bytes."""
    head, tail = b'[{"id": 1}', b"]"
    return head + b" " * (size - len(head) - len(tail)) + tail


def reply(body: bytes, coding: str) -> Callable[[Request], Reply]:
    return lambda request: Reply(200, {**JSON, "Content-Encoding": coding}, body)


# --------------------------------------------------------------------------- negotiation


def test_requests_accept_every_installed_coding(serve):
    server = serve({"/g": reply(encode(b'[{"id": 1}]', "gzip"), "gzip")})
    HTTPSource(server.url("/g")).read()
    assert server.requests[0].header("accept-encoding") == "gzip, deflate, br, zstd"


@pytest.mark.parametrize(
    ("blocked", "accept"),
    [
        ("sys.modules['brotli'] = None", "gzip, deflate, zstd"),
        (f"sys.modules['brotli'] = {OLD_BROTLI}", "gzip, deflate, zstd"),
        (
            "sys.modules['backports.zstd'] = sys.modules['compression.zstd'] = None",
            "gzip, deflate, br",
        ),
    ],
    ids=["no-brotli", "brotli-before-1.2", "no-zstd"],
)
def test_only_codings_that_can_be_decoded_are_asked_for(blocked, accept):
    """A missing or too old library drops its coding from Accept-Encoding, and says so."""
    missing = "br" if "brotli" in blocked else "zstd"
    code = (
        f"import sys, types; {blocked}\n"
        "from hiveframe._protocol.content import ACCEPT_ENCODING, BodyReader\n"
        "print(ACCEPT_ENCODING)\n"
        "try:\n"
        f"    BodyReader({missing!r}, max_body_bytes=1, max_decompressed_bytes=1)\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    assert out[0] == accept
    assert out[1].startswith(f"UnsupportedEncoding unsupported Content-Encoding {missing!r}")
    assert "pip install 'hiveframe[http]'" in out[1]


# --------------------------------------------------------------------------- decoding


@pytest.mark.parametrize("coding", [*CODINGS, "x-gzip", "zstd, br", "gzip, zstd"])
def test_each_coding_and_chain_is_decoded(serve, coding):
    records = [{"id": i, "name": f"item-{i}"} for i in range(500)]
    wire = coding.replace("x-gzip", "gzip")
    server = serve({"/r": reply(encode(orjson.dumps(records), wire), coding)})
    assert HTTPSource(server.url("/r"), retry=None).read().to_pylist() == records


def test_zstd_frames_one_after_another_are_one_body(serve):
    body = encode(b'[{"id": 1},', "zstd") + encode(b' {"id": 2}]', "zstd")
    server = serve({"/z": reply(body, "zstd")})
    assert HTTPSource(server.url("/z"), retry=None).read().to_pylist() == [{"id": 1}, {"id": 2}]


@pytest.mark.parametrize("coding", CODINGS)
def test_a_corrupt_body_is_an_http_error(serve, coding):
    server = serve({"/c": reply(b"\xff" * 64, coding)})
    with pytest.raises(HTTPError, match=f"response body is not valid {coding} data"):
        HTTPSource(server.url("/c"), retry=None).read()


def test_zstd_windows_above_8_mib_are_refused(serve):
    """RFC 9659 caps the zstd coding's window at 8 MiB: a bigger one is a memory bomb."""
    options = {zstd.CompressionParameter.window_log: 24}
    big = zstd.ZstdCompressor(options=options)
    body = big.compress(b'[{"id": 1}]') + big.flush()
    assert body[5] >> 3 == 24 - 10  # the frame's window descriptor: 2 ** 24 bytes
    server = serve({"/w": reply(body, "zstd")})
    with pytest.raises(HTTPError, match="not valid zstd data"):
        HTTPSource(server.url("/w"), retry=None).read()


# --------------------------------------------------------------------------- caps


@pytest.mark.parametrize("coding", CODINGS)
def test_exactly_at_the_cap_passes_and_one_byte_over_fails(serve, coding):
    cap = 4 * MIB
    server = serve(
        {
            "/at": reply(encode(padded_json(cap), coding), coding),
            "/over": reply(encode(padded_json(cap + 1), coding), coding),
        }
    )
    assert HTTPSource(server.url("/at"), max_body_bytes=cap, retry=None).read().count() == 1
    with pytest.raises(ResponseTooLarge) as info:
        HTTPSource(server.url("/over"), max_body_bytes=cap, retry=None).read()
    assert (info.value.limit, info.value.decompressed) == (cap, True)


@pytest.mark.parametrize("coding", CODINGS)
def test_a_bomb_stops_at_the_decompressed_cap(serve, coding):
    payload = bomb(coding, 64 * MIB)
    assert len(payload) < MIB
    server = serve({"/b": reply(payload, coding)})
    with pytest.raises(ResponseTooLarge) as info:
        HTTPSource(server.url("/b"), max_body_bytes=2 * MIB, retry=None).read()
    assert (info.value.limit, info.value.decompressed) == (2 * MIB, True)


@pytest.mark.parametrize("coding", [*CODINGS, "gzip, br"])
def test_one_raw_chunk_inflates_no_further_than_the_cap_and_a_piece(coding):
    cap = MIB
    *inner, outer = coding.split(", ")
    payload = bomb(outer, 64 * MIB) if not inner else encode(bomb(inner[0], 64 * MIB), outer)
    reader = BodyReader(coding, max_body_bytes=len(payload), max_decompressed_bytes=cap)
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLarge):
            reader.feed(payload)  # the whole bomb as one chunk off the wire
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The kept body (up to the cap) plus a few pieces in flight; the bomb is 64 MiB.
    assert peak < cap + 8 * PIECE_BYTES


# --------------------------------------------------------------------------- streams


@pytest.mark.parametrize("coding", ["br", "zstd"])
def test_an_encoded_event_stream_is_decoded_as_it_arrives(serve, clock, coding):
    """Event 1 reaches the reader while the server still holds back event 2."""
    got_first = threading.Event()
    if coding == "br":
        encoder = brotli.Compressor()

        def piece(data: bytes) -> bytes:
            return encoder.process(data) + encoder.flush()

        end = encoder.finish
    else:
        encoder = zstd.ZstdCompressor()

        def piece(data: bytes) -> bytes:
            return encoder.compress(data, zstd.ZstdCompressor.FLUSH_BLOCK)

        end = encoder.flush

    def events() -> Iterator[bytes]:
        yield piece(b"id: 1\ndata: {}\n\n")
        assert got_first.wait(WAIT), "the first event was not decoded before the second"
        yield piece(b"id: 2\ndata: {}\n\n")
        yield end()

    headers = {"Content-Type": "text/event-stream", "Content-Encoding": coding}
    server = serve({"/s": lambda request: Reply(200, headers, events())})
    source = HTTPSource(
        server.url("/s"),
        stream_type="sse",
        clock=clock,
        reconnect=None,
        include_event_metadata=True,
    )
    ids = []
    with source.stream() as records:
        for record in itertools.islice(records, 2):
            ids.append(record["_event_id"])
            got_first.set()
    assert ids == ["1", "2"]
