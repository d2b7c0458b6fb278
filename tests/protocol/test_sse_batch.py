"""The decoder's batch path (a run of common events matched in one scan) equals its line loop.

``SSEDecoder.feed_batch`` takes runs of ``id: ...\\ndata: ...\\n\\n`` or ``data: ...\\n\\n``
events in one regex scan and everything else through the WHATWG line loop. Fed one byte at a
time no chunk holds a whole event, so only the line loop runs: that is the reference every
other chunking must match, here on streams made to trip the scan (comments, ``retry:``,
``event:``, multi-line data, CR and CRLF line ends, a BOM, empty and NUL ids, blank lines in
a row, a field name that only starts like ``data``), split at every byte offset.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from hiveframe._protocol.sse import EventBatch, SSEDecoder


def _run(id_: int, count: int, *, with_id: bool = True) -> bytes:
    return b"".join(
        (b"id: %d\n" % n if with_id else b"") + b'data: {"n":%d}\n\n' % n
        for n in range(id_, id_ + count)
    )


STREAMS = {
    "ids": _run(1, 6),
    "data only": _run(1, 5, with_id=False),
    "ids then data only": _run(1, 3) + _run(4, 3, with_id=False),
    "comment between": _run(1, 3) + b": keep-alive\n\n" + _run(4, 3),
    "retry between": _run(1, 3) + b"retry: 1500\n\n" + _run(4, 3),
    "event type": _run(1, 2) + b"event: tick\ndata: t\n\n" + _run(3, 2),
    "multi-line data": _run(1, 2) + b"data: a\ndata: b\n\n" + _run(3, 2),
    "crlf": _run(1, 2).replace(b"\n", b"\r\n") + _run(3, 2),
    "cr": _run(1, 2) + _run(3, 2).replace(b"\n", b"\r"),
    "bom": b"\xef\xbb\xbf" + _run(1, 4),
    "empty id": _run(1, 2) + b"id:\ndata: x\n\n" + _run(3, 2, with_id=False),
    "nul id ignored": _run(1, 2) + b"id: 9\x009\ndata: y\n\n" + _run(3, 2, with_id=False),
    "blank lines in a row": _run(1, 2) + b"\n\n\n" + _run(3, 2),
    "id without data": _run(1, 2) + b"id: 77\n\n" + _run(3, 2, with_id=False),
    "no space after colon": b"id:1\ndata:{}\n\nid:2\ndata:  two spaces\n\n" + _run(3, 2),
    "name only like data": _run(1, 2) + b"datax: no\ndata : no\ndata\n\n" + _run(3, 2),
    "unfinished at the end": _run(1, 3) + b"id: 99\ndata: cut",
    "non-ascii": _run(1, 2) + "data: é…😀\n\n".encode() + _run(3, 2),
    "invalid utf-8": _run(1, 2) + b"data: \xff\xfe\n\n" + _run(3, 2),
    "no spaces at all": _run(1, 4).replace(b": ", b":"),
    "data only, no spaces": _run(1, 4, with_id=False).replace(b": ", b":"),
    "a second space kept": _run(1, 2).replace(b"data: ", b"data:  ") + _run(3, 2),
    "empty values": b"id:\ndata:\n\nid: \ndata: \n\n" + _run(1, 2),
    "colon in a value": b"id: a:b\ndata: c: d\n\nid:e: f\ndata::g\n\n" + _run(1, 2),
    "data then id": b"data: x\nid: 1\n\n" + _run(2, 3),
    "ids of every third event": _run(1, 2) + _run(3, 1, with_id=False) + _run(4, 2),
    # Names that sort before, between and after the run's own; a value holding a field's
    # name; a run whose first event alone is not of its shape, or whose last alone is.
    "names inside values": b"id: 1\ndata: a data: b\n\nid: id: 2\ndata: data: c\n\n" + _run(3, 2),
    "first event off the shape": b"id: 1\ndatum: x\n\n" + _run(2, 3),
    "last event off the shape": _run(1, 3) + b"idx: 4\ndata: y\n\n",
    "names sorting among the run's": _run(1, 2)
    + b"id: 3\ndata!: x\n\nid:: 4\ndata: y\n\nid: 5\ndatA: z\n\nid: 6\ndata:\x7f\n\n"
    + _run(7, 2),
    "ids sorting among the run's": _run(1, 2)
    + b"ic: 3\ndata: x\n\nie: 4\ndata: y\n\n"
    + _run(5, 2),
}


Event = tuple[str, str, str, int | None]  # data, type, id, retry
Decoded = tuple[list[Event], str, int | None]  # events, last_event_id, retry_ms


def _columns(batches: Iterable[EventBatch]) -> list[Event]:
    return [
        event
        for batch in batches
        for event in zip(batch.data, batch.event, batch.id, batch.retry, strict=True)
    ]


def _decode(chunks: Iterable[bytes]) -> Decoded:
    decoder = SSEDecoder()
    events = _columns(decoder.feed_batch(chunk) for chunk in chunks)
    decoder.close()
    return events, decoder.last_event_id, decoder.retry_ms


def _byte_by_byte(body: bytes) -> Decoded:
    return _decode(body[i : i + 1] for i in range(len(body)))


@pytest.mark.parametrize("name", STREAMS)
def test_every_split_gives_what_the_line_loop_gives(name: str) -> None:
    body = STREAMS[name]
    expected = _byte_by_byte(body)
    assert expected[0], "the stream has events"
    assert _decode([body]) == expected, "in one chunk"
    for offset in range(len(body) + 1):
        assert _decode([body[:offset], body[offset:]]) == expected, f"split at {offset}"


@pytest.mark.parametrize("name", ["ids then data only", "comment between", "crlf", "bom"])
@pytest.mark.parametrize("size", [2, 3, 7, 16, 41])
def test_fixed_chunks_give_what_the_line_loop_gives(name: str, size: int) -> None:
    body = STREAMS[name]
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    assert _decode(chunks) == _byte_by_byte(body)


@pytest.mark.parametrize("name", ["ids", "crlf", "cr", "multi-line data", "non-ascii"])
def test_a_chunk_over_the_slice_size_gives_what_the_line_loop_gives(name: str) -> None:
    # A chunk over a quarter of max_event_bytes (at least 1 KiB) is read in slices cut after
    # a line end where the slice has one: CRLF pairs, multi-byte characters and a line
    # longer than a slice fall across the cuts.
    long_line = b"data: " + "é".encode() * 700 + b"\r\n\r\n"
    body = (STREAMS[name] + long_line) * 12

    def decode(chunks: Iterable[bytes]) -> Decoded:
        decoder = SSEDecoder(max_event_bytes=4096)
        events = _columns(decoder.feed_batch(chunk) for chunk in chunks)
        decoder.close()
        return events, decoder.last_event_id, decoder.retry_ms

    expected = decode(body[i : i + 1] for i in range(len(body)))
    assert decode([body]) == expected
    assert decode([body[:2500], body[2500:]]) == expected


def test_a_run_of_common_events_is_matched_in_one_scan() -> None:
    decoder = SSEDecoder()
    batch = EventBatch()
    assert decoder._match_run(_run(1, 50).decode(), batch)
    assert batch.id == [str(n) for n in range(1, 51)]
    assert decoder.last_event_id == "50"
    assert not decoder._match_run(STREAMS["comment between"].decode(), EventBatch())


def test_runs_without_spaces_are_taken_at_once_and_mixed_runs_left_to_the_line_loop() -> None:
    batch = EventBatch()
    assert SSEDecoder()._match_run(STREAMS["no spaces at all"].decode(), batch)
    assert batch.data == ['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}']
    assert SSEDecoder()._match_run(STREAMS["data only, no spaces"].decode(), EventBatch())
    spaced = EventBatch()
    assert SSEDecoder()._match_run(_run(1, 2).replace(b"data: ", b"data:  ").decode(), spaced)
    assert spaced.data == [' {"n":1}', ' {"n":2}']
    mixed = _run(1, 2) + _run(3, 2).replace(b": ", b":")
    assert not SSEDecoder()._match_run(mixed.decode(), EventBatch())


def test_a_partial_event_cut_by_the_end_of_the_stream_leaks_no_id() -> None:
    decoder = SSEDecoder()
    decoder.feed_batch(_run(1, 3) + b"id: 99\ndata: cut")
    decoder.close()
    assert decoder.last_event_id == "3"
    decoder.reset_connection()
    batch = decoder.feed_batch(_run(4, 2, with_id=False))
    assert batch.id == ["3", "3"]  # events without an id keep the last dispatched one


def test_events_equal_the_batch_columns() -> None:
    body = STREAMS["event type"] + b"retry: 5\n\n" + _run(9, 1)
    events = SSEDecoder().feed(body)
    batch = SSEDecoder().feed_batch(body)
    assert [(e.data, e.event, e.id, e.retry) for e in events] == _columns([batch])
    assert events[-1].retry == 5
