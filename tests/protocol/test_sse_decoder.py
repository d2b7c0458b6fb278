"""Unit tests of the sans-I/O SSE decoder: seams, size caps, connection state, API.

The wpt parsing cases live in ``tests/conformance``. On speed: the 2 MiB single-event
tests below check correctness and the structure that keeps decoding linear (a partial line
is kept as pieces and joined once); they are deliberately not timed. The benchmark
measures throughput.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
from collections.abc import Iterable, Iterator

import pytest

from hiveframe._protocol.sse import (
    DEFAULT_MAX_EVENT_BYTES,
    ServerSentEvent,
    SSEDecoder,
    iter_events,
)
from hiveframe.errors import ConfigError, SSEEventTooLarge

MIB = 1 << 20


def chunked(body: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def feed_all(decoder: SSEDecoder, chunks: Iterable[bytes]) -> list[ServerSentEvent]:
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return events


# -- the event type ------------------------------------------------------------------


def test_decoded_events_equal_constructed_ones() -> None:
    (event,) = SSEDecoder().feed(b"retry: 5\nid: 1\nevent: e\ndata: d\n\n")
    expected = ServerSentEvent(data="d", event="e", id="1", retry=5)
    assert event == expected
    assert hash(event) == hash(expected)
    assert repr(event) == repr(expected)
    # The decoder builds events through a mutable twin whose __class__ it reassigns;
    # what comes out must be indistinguishable from a constructed event.
    assert type(event) is ServerSentEvent
    assert not hasattr(event, "__dict__")
    assert dataclasses.asdict(event) == {"data": "d", "event": "e", "id": "1", "retry": 5}
    assert pickle.loads(pickle.dumps(event)) == expected
    assert copy.copy(event) == expected


def test_events_are_frozen() -> None:
    (event,) = SSEDecoder().feed(b"data: d\n\n")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.data = "other"  # type: ignore[misc]
    assert dataclasses.replace(event, data="x").data == "x"


def test_event_defaults() -> None:
    assert ServerSentEvent("x") == ServerSentEvent(data="x", event="message", id="", retry=None)


# -- chunk seams -----------------------------------------------------------------------


def test_trailing_cr_then_lf_in_next_chunk_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    # Had the LF been read as a second (empty) line, "a" would dispatch alone here.
    assert decoder.feed(b"\ndata: b\r") == []
    assert [e.data for e in decoder.feed(b"\n\r")] == ["a\nb"]
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"data: c\n\n") == [ServerSentEvent("c")]


def test_trailing_cr_dispatches_without_waiting_for_the_next_chunk() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r\n\r") == [ServerSentEvent("a")]
    assert decoder.feed(b"\ndata: b\r\r") == [ServerSentEvent("b")]


def test_lone_cr_chunks_each_end_a_line() -> None:
    decoder = SSEDecoder()
    events = feed_all(decoder, [b"data: a", b"\r", b"\r", b"data: b", b"\r", b"\n", b"\r"])
    assert [e.data for e in events] == ["a", "b"]


def test_lf_is_swallowed_only_right_after_a_cr() -> None:
    decoder = SSEDecoder()
    events = feed_all(decoder, [b"data: a\r", b"", b"\n", b"\n"])
    assert [e.data for e in events] == ["a"]


@pytest.mark.parametrize("text", ["…", "😀", "ü", "☃…😀"])
def test_multibyte_sequences_split_anywhere(text: str) -> None:
    body = f"id: {text}\nevent: {text}\ndata: {text}\n\n".encode()
    expected = [ServerSentEvent(data=text, event=text, id=text)]
    for first in range(len(body) + 1):
        for second in range(first, min(first + 5, len(body)) + 1):
            chunks = [body[:first], body[first:second], body[second:]]
            assert feed_all(SSEDecoder(), chunks) == expected, (first, second)


def test_bom_split_across_chunks_is_stripped_once() -> None:
    decoder = SSEDecoder()
    events = feed_all(
        decoder, [b"\xef", b"", b"\xbb", b"\xbfdata: 1\n\n", b"\xef\xbb\xbfdata: 2\n\n"]
    )
    assert [e.data for e in events] == ["1"]


# -- one big event, fed in pieces ------------------------------------------------------


def _big_event(size: int) -> tuple[bytes, str]:
    payload = "0123456789abcdef…" * (size // 19)  # 19 bytes of UTF-8 per repeat
    return f"data: {payload}\n\n".encode(), payload


@pytest.mark.parametrize("size", [1536, 4096, 65536, 3 * MIB])
def test_two_mib_single_line_event_in_chunks(size: int) -> None:
    body, payload = _big_event(2 * MIB)
    assert len(body) > 2 * MIB - 64
    decoder = SSEDecoder(max_event_bytes=4 * MIB)
    assert feed_all(decoder, chunked(body, size)) == [ServerSentEvent(payload)]


def test_two_mib_event_of_many_lines_in_chunks() -> None:
    line = "x" * 100
    count = 2 * MIB // 107
    body = f"data: {line}\n".encode() * count + b"\n"
    decoder = SSEDecoder(max_event_bytes=4 * MIB)
    assert feed_all(decoder, chunked(body, 1536)) == [ServerSentEvent("\n".join([line] * count))]


def test_partial_line_is_kept_as_pieces_not_rejoined() -> None:
    # The structure behind O(n) decoding: each chunk without a line end is appended as
    # one piece; nothing already buffered is copied or rescanned until the line ends.
    decoder = SSEDecoder(max_event_bytes=4 * MIB)
    body, payload = _big_event(2 * MIB)
    chunks = list(chunked(body[:-2], 1536))
    for count, chunk in enumerate(chunks, start=1):
        assert decoder.feed(chunk) == []
        assert len(decoder._tail) == count
    assert decoder._buffered_bytes == len(body) - 2
    assert decoder.feed(b"\n\n") == [ServerSentEvent(payload)]
    assert decoder._buffered_bytes == 0


def test_whole_body_in_one_feed_is_sliced_and_decoded() -> None:
    body = b"".join(f"id: {i}\ndata: {'x' * 190}\n\n".encode() for i in range(30_000))
    assert len(body) > 4 * DEFAULT_MAX_EVENT_BYTES
    decoder = SSEDecoder()
    events = decoder.feed(body)
    assert len(events) == 30_000
    assert events[-1].id == "29999"
    assert decoder.last_event_id == "29999"


# -- size cap ----------------------------------------------------------------------------


def test_endless_line_raises_before_limit_plus_one_chunk() -> None:
    limit, chunk = MIB, 64 * 1024
    decoder = SSEDecoder(max_event_bytes=limit)
    fed = 0
    with pytest.raises(SSEEventTooLarge, match=f"max_event_bytes={limit}"):
        for piece in chunked(b"data: " + b"x" * (5 * MIB), chunk):
            decoder.feed(piece)
            fed += len(piece)
            assert decoder._buffered_bytes <= limit
    assert fed <= limit
    assert fed + chunk > limit  # it did not give up early either
    assert decoder._buffered_bytes == 0  # the partial event is dropped


def test_many_data_lines_past_the_limit_raise() -> None:
    decoder = SSEDecoder(max_event_bytes=MIB)
    body = b"data: " + b"y" * 1000 + b"\n"
    with pytest.raises(SSEEventTooLarge):
        for _ in range(2 * MIB // len(body)):
            decoder.feed(body)
            assert decoder._buffered_bytes <= MIB


def test_complete_oversized_event_raises_in_one_chunk_too() -> None:
    decoder = SSEDecoder(max_event_bytes=1000)
    with pytest.raises(SSEEventTooLarge):
        decoder.feed(b"data: " + b"z" * 2000 + b"\n\n")


def test_oversized_comment_line_raises() -> None:
    with pytest.raises(SSEEventTooLarge):
        SSEDecoder(max_event_bytes=100).feed(b":" + b"c" * 200 + b"\n")


def test_events_within_the_limit_pass() -> None:
    limit = 100
    # data buffer = value + LF = 100 bytes; the line "data:" + value = 104 bytes
    line = b"data:" + b"v" * 99
    decoder = SSEDecoder(max_event_bytes=len(line))
    assert decoder.feed(line + b"\n\n") == [ServerSentEvent("v" * 99)]
    assert SSEDecoder(max_event_bytes=limit).feed(b"data: 1\n\n" * 1000)[-1].data == "1"


@pytest.mark.parametrize("piece", [1, 7, 1 << 20])
def test_a_partial_line_is_held_up_to_the_cap_and_refused_one_byte_over(piece: int) -> None:
    # docs/reliability.md test 30: the cap holds before the line end arrives, so a line
    # that never ends cannot make the decoder hold more than max_event_bytes.
    limit = 64
    at_limit = b"data: " + b"x" * (limit - 6)
    decoder = SSEDecoder(max_event_bytes=limit)
    assert feed_all(decoder, chunked(at_limit, piece)) == []
    assert decoder._buffered_bytes == limit
    assert decoder.feed(b"\n\n") == [ServerSentEvent("x" * (limit - 6))]

    decoder = SSEDecoder(max_event_bytes=limit)
    with pytest.raises(SSEEventTooLarge):
        feed_all(decoder, chunked(at_limit + b"x", piece))  # no line end yet


def _raises(limit: int, chunks: Iterable[bytes]) -> bool:
    decoder = SSEDecoder(max_event_bytes=limit)
    try:
        feed_all(decoder, chunks)
    except SSEEventTooLarge:
        return True
    return False


@pytest.mark.parametrize(
    ("body", "trips"),
    [
        # the data buffer (values + LF) plus the line being read, against a cap of 28
        (b"data: 0123456789\ndata: 01234567890\n\n", False),  # 11 + 17 = 28
        (b"data: 0123456789\ndata: 012345678901\n\n", True),  # 11 + 18 = 29
        (b"data: 0123456789012345678901\n\n", False),  # a line of 28
        (b"data: 01234567890123456789012\n\n", True),  # a line of 29
        (b":" + b"c" * 27 + b"\ndata: 1\n\n", False),
        (b":" + b"c" * 28 + b"\ndata: 1\n\n", True),
        (b"data:1\n" * 12 + b"\n", False),  # 22 + 6 = 28
        (b"data:1\n" * 13 + b"\n", True),  # 24 + 6 = 30
        (b"id: 1\nevent: 0123456789\ndata: 0123456789\n\n\n", False),
        # invalid UTF-8 counts as the U+FFFD it becomes: 3 bytes each, plus the LF
        (b"data: " + b"\xff" * 9 + b"\n\n", False),  # 27 + 1 = 28
        (b"data: " + b"\xff" * 10 + b"\n\n", True),  # 30 + 1 = 31
    ],
)
def test_whether_the_cap_trips_does_not_depend_on_chunking(body: bytes, trips: bool) -> None:
    limit = 28
    assert _raises(limit, [body]) == trips
    for offset in range(len(body) + 1):
        assert _raises(limit, [body[:offset], body[offset:]]) == trips, offset
    assert _raises(limit, chunked(body, 1)) == trips


def test_failed_feed_rolls_back_last_event_id() -> None:
    # Events completed earlier in a chunk that raises are lost with the exception, so
    # last_event_id must not move past them: a resume then asks for them again.
    decoder = SSEDecoder(max_event_bytes=50)
    decoder.feed(b"id: 1\ndata: a\n\n")
    with pytest.raises(SSEEventTooLarge):
        decoder.feed(b"id: 2\ndata: b\n\nid: 3\ndata: " + b"x" * 100 + b"\n\n")
    assert decoder.last_event_id == "1"
    decoder.reset_connection()
    assert decoder.feed(b"data: c\n\n") == [ServerSentEvent("c", id="1")]


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "1024", None])
def test_max_event_bytes_is_validated(bad: object) -> None:
    with pytest.raises(ConfigError, match="max_event_bytes"):
        SSEDecoder(max_event_bytes=bad)  # type: ignore[arg-type]


def test_max_event_bytes_default() -> None:
    assert SSEDecoder().max_event_bytes == DEFAULT_MAX_EVENT_BYTES == MIB


# -- stream and connection state -------------------------------------------------------


def test_close_discards_the_partial_event_and_its_id() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 1\ndata: a\n\nid: 2\nevent: e\ndata: partial\n") == [
        ServerSentEvent("a", id="1")
    ]
    decoder.close()
    assert decoder.last_event_id == "1"
    assert decoder.feed(b"data: b\n\n") == [ServerSentEvent("b", id="1")]


def test_close_discards_a_pending_line() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a\n\ndata: b\n\nretry: 7")
    decoder.close()
    assert decoder.retry_ms is None
    assert decoder._buffered_bytes == 0


def test_reset_connection_keeps_resume_state() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"retry: 1500\nid: 7\ndata: a\n\nid: 8\ndata: half")
    decoder.reset_connection()
    assert decoder.last_event_id == "7"
    assert decoder.retry_ms == 1500
    events = decoder.feed(b"\xef\xbb\xbfdata: b\n\n")
    assert events == [ServerSentEvent("b", id="7", retry=1500)]


def test_reset_connection_forgets_a_pending_cr() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a\r")
    decoder.reset_connection()
    # On the new stream a leading LF is a line end of its own (an empty line).
    assert decoder.feed(b"data: b\n") == []
    assert decoder.feed(b"\n") == [ServerSentEvent("b")]


def test_last_event_id_can_be_restored_from_a_checkpoint() -> None:
    decoder = SSEDecoder()
    decoder.last_event_id = "42"
    assert decoder.feed(b"data: a\n\n") == [ServerSentEvent("a", id="42")]
    with pytest.raises(ConfigError):
        decoder.last_event_id = "4\x002"


def test_events_carry_the_retry_in_effect_when_dispatched() -> None:
    events = SSEDecoder().feed(b"data: a\n\nretry: 10\ndata: b\n\nretry: x\ndata: c\n\n")
    assert [e.retry for e in events] == [None, 10, 10]


def test_retry_with_absurdly_many_digits_is_ignored() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"retry: 5\n\nretry: " + b"9" * 5000 + b"\n\n")
    assert decoder.retry_ms == 5


def test_empty_chunks_are_harmless() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"") == []
    assert feed_all(decoder, [b"", b"data: a", b"", b"\n", b"", b"\n", b""]) == [
        ServerSentEvent("a")
    ]


# -- iter_events -----------------------------------------------------------------------


def test_iter_events_streams_and_drops_the_partial_tail() -> None:
    chunks = iter([b"data: a\n\nda", b"ta: b\r", b"\n\r\ndata: c"])
    assert [e.data for e in iter_events(chunks)] == ["a", "b"]


def test_iter_events_yields_as_chunks_arrive() -> None:
    def source() -> Iterator[bytes]:
        yield b"data: first\n\n"
        raise AssertionError("read past the first event")

    assert next(iter_events(source())) == ServerSentEvent("first")


def test_iter_events_enforces_the_cap() -> None:
    with pytest.raises(SSEEventTooLarge):
        list(iter_events([b"data: " + b"x" * 100], max_event_bytes=50))
