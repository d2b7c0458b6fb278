"""SSE parsing conformance cases, as data.

``WPT_CASES`` holds every parsing case of docs/reliability.md test 25: the web-platform-tests
``eventsource/format-*`` and ``event-data`` tests, with the exact bytes their server helpers
send. ``EXTRA_CASES`` adds seams and edge cases the wpt suite does not spell out.

A case may span several connections: between two, the test calls
``SSEDecoder.reset_connection()`` as a reconnecting driver would (the wpt tests that check
``lastEventId`` after a reconnect need this). Each connection ends with ``close()``.

wpt server helpers reproduced here:

- ``resources/message.py``: sends ``message`` + ``newline`` (default ``"\\n\\n"``,
  ``newline=none`` for nothing) + one extra ``"\\n"``; see `message`.
- ``resources/last-event-id.py``: without ``Last-Event-ID`` sends
  ``"id: <idvalue>\\nretry: 200\\ndata: hello\\n\\n"`` (idvalue defaults to ``…``); with it,
  echoes ``"data: <Last-Event-ID>\\n\\n"``.
- ``resources/last-event-id2.py``: three fixed streams for ``format-field-id-3``.
- ``resources/message2.py``: the ``event-data`` stream.
"""

from __future__ import annotations

from typing import NamedTuple


class SSECase(NamedTuple):
    """One conformance case.

    ``events`` are ``(type, data, lastEventId)`` tuples in dispatch order; ``retry_ms`` and
    ``last_event_id`` are the decoder's state after the last connection is closed.
    """

    name: str
    connections: tuple[bytes, ...]
    events: tuple[tuple[str, str, str], ...]
    retry_ms: int | None = None
    last_event_id: str = ""


def message(text: str, newline: str = "\n\n") -> bytes:
    """The body wpt ``resources/message.py`` sends for ``?message=text&newline=...``."""
    return (text + newline + "\n").encode("utf-8")


def _hello(idvalue: bytes) -> bytes:
    # wpt resources/last-event-id.py, first request (no Last-Event-ID header)
    return b"id: " + idvalue + b"\nretry: 200\ndata: hello\n\n"


def _echo(last_event_id: str) -> bytes:
    # wpt resources/last-event-id.py, reconnect: echoes the Last-Event-ID it received
    return b"data: " + last_event_id.encode("utf-8") + b"\n\n"


_LONG = "x" * 2048  # format-comments: "cannot make the string too long"

WPT_CASES: tuple[SSECase, ...] = (
    SSECase(
        "format-bom",
        (message("\ufeffdata:1\n\n\ufeffdata:2\n\ndata:3"),),
        (("message", "1", ""), ("message", "3", "")),
    ),
    SSECase(
        "format-bom-2",
        (message("\ufeff\ufeffdata:1\n\ndata:2\n\ndata:3"),),
        (("message", "2", ""), ("message", "3", "")),
    ),
    SSECase(
        "format-comments",
        (
            message(
                f"data:1\r:\0\n:\r\ndata:2\n:{_LONG}\rdata:3\n:data:fail\r:{_LONG}\ndata:4\n",
                newline="",
            ),
        ),
        (("message", "1\n2\n3\n4", ""),),
    ),
    SSECase(
        # The stream ends inside the second event: test2 is never dispatched and its
        # id never becomes lastEventId; after the reconnect test1 comes again with "".
        "format-data-before-final-empty-line",
        (
            message("retry:1000\ndata:test1\n\nid:test\ndata:test2", newline=""),
            message("retry:1000\ndata:test1\n\nid:test\ndata:test2", newline=""),
        ),
        (("message", "test1", ""), ("message", "test1", "")),
        retry_ms=1000,
    ),
    SSECase(
        "format-field-data",
        (message("data:\n\ndata\ndata\n\ndata:test"),),
        (("message", "", ""), ("message", "\n", ""), ("message", "test", "")),
    ),
    SSECase(
        "format-field-event",
        (message("event:test\ndata:x\n\ndata:x"),),
        (("test", "x", ""), ("message", "x", "")),
    ),
    SSECase(
        "format-field-event-empty",
        (message("event: \ndata:data"),),
        (("message", "data", ""),),
    ),
    SSECase(
        "format-field-id",
        (_hello("…".encode()), _echo("…")),
        (("message", "hello", "…"), ("message", "…", "…")),
        retry_ms=200,
        last_event_id="…",
    ),
    SSECase(
        "format-field-id-2",
        (_hello("…".encode()), _echo("…"), _echo("…")),
        (("message", "hello", "…"), ("message", "…", "…"), ("message", "…", "…")),
        retry_ms=200,
        last_event_id="…",
    ),
    SSECase(
        "format-field-id-3 persists",
        (b"id: 1\ndata: 1\n\ndata:2\n\n",),
        (("message", "1", "1"), ("message", "2", "1")),
        last_event_id="1",
    ),
    SSECase(
        "format-field-id-3 changes and persists",
        (b"id: 1\ndata: 1\n\nid: 2\ndata:2\n\ndata:3\n\n",),
        (("message", "1", "1"), ("message", "2", "2"), ("message", "3", "2")),
        last_event_id="2",
    ),
    SSECase(
        "format-field-id-3 resets",
        (b"id: 1\ndata: 1\n\nid:\ndata:2\n\ndata:3\n\n",),
        (("message", "1", "1"), ("message", "2", ""), ("message", "3", "")),
    ),
    SSECase(
        # The id holds U+0000, so it is ignored: no Last-Event-ID is sent on reconnect
        # and the server says hello again (current test; the old .htm expected "\0\0").
        "format-field-id-null",
        (_hello(b"\0\0"), _hello(b"\0\0")),
        (("message", "hello", ""), ("message", "hello", "")),
        retry_ms=200,
    ),
    SSECase(
        "format-field-parsing",
        (
            message(
                "data:\0\ndata:  2\rData:1\ndata\0:2\ndata:1\r\0data:4\nda-ta:3\rdata_5\n"
                "data:3\rdata:\r\n data:32\ndata:4\n",
                newline="",
            ),
        ),
        (("message", "\0\n 2\n1\n3\n\n4", ""),),
    ),
    SSECase(
        "format-field-retry",
        (message("retry:02000\ndata:x"),),
        (("message", "x", ""),),
        retry_ms=2000,
    ),
    SSECase(
        "format-field-retry-bogus",
        (message("retry:2000\nretry:1000x\ndata:x"),),
        (("message", "x", ""),),
        retry_ms=2000,
    ),
    SSECase(
        "format-field-retry-empty",
        (message("retry\ndata:test"),),
        (("message", "test", ""),),
    ),
    SSECase(
        "format-field-unknown",
        (
            message(
                "data:test\n data\ndata\nfoobar:xxx\njustsometext\n:thisisacommentyay\ndata:test"
            ),
        ),
        (("message", "test\n\ntest", ""),),
    ),
    SSECase(
        "format-leading-space",
        (message("data:\ttest\rdata: \ndata:test"),),
        (("message", "\ttest\n\ntest", ""),),
    ),
    SSECase(
        # Ends in "\r\n\r" with nothing after: the final lone CR is a line end and
        # dispatches the event.
        "format-newlines",
        (b"data:test\r\ndata\ndata:test\r\n\r",),
        (("message", "test\n\ntest", ""),),
    ),
    SSECase(
        "format-null-character",
        (message("data:\0\n\n"),),
        (("message", "\0", ""),),
    ),
    SSECase(
        # Served as text/event-stream;charset=windows-1252: the charset is ignored.
        "format-utf-8",
        (b"data:ok\xe2\x80\xa6\n\n\n",),
        (("message", "ok\u2026", ""),),
    ),
    SSECase(
        "event-data",
        (b"data:msg\ndata:msg\n\ndata\n\ndata:end\n\n",),
        (("message", "msg\nmsg", ""), ("message", "", ""), ("message", "end", "")),
    ),
)

EXTRA_CASES: tuple[SSECase, ...] = (
    SSECase(
        "crlf-everywhere",
        (b"event: a\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n",),
        (("a", "1", ""), ("message", "2", "")),
    ),
    SSECase(
        "lone-cr-line-ends",
        (b"data: 1\r\rdata: 2\r\r\r\rdata: 3\r\r",),
        (("message", "1", ""), ("message", "2", ""), ("message", "3", "")),
    ),
    SSECase(
        # A CR then LF is one line end, never a line end plus an empty line (which
        # would dispatch the half-read event early and split it in two).
        "crlf-is-one-line-end",
        (b"data: a\r\ndata: b\r\n\r\n",),
        (("message", "a\nb", ""),),
    ),
    SSECase(
        "mixed-line-ends",
        (b"data: a\ndata: b\rdata: c\r\n\n\r\r\ndata: d\n\r",),
        (("message", "a\nb\nc", ""), ("message", "d", "")),
    ),
    SSECase(
        # Only CR and LF end lines: not VT, FF, FS-RS, NEL (U+0085), U+2028 or U+2029
        # (httpx-sse issue #34).
        "no-other-line-breaks",
        ("data: a\x0bb\x0cc\x1cd\x1de\x1ef\x85g\u2028h\u2029i\n\n".encode(),),
        (("message", "a\x0bb\x0cc\x1cd\x1de\x1ef\x85g\u2028h\u2029i", ""),),
    ),
    SSECase(
        "multibyte-utf-8",
        ("id: ☃\nevent: ünïcødé\ndata: …😀 ok\n\n".encode(),),
        (("ünïcødé", "…😀 ok", "☃"),),
        last_event_id="☃",
    ),
    SSECase(
        # Invalid UTF-8 becomes U+FFFD, exactly as when decoding the whole stream.
        "invalid-utf-8",
        (b"data: \xff\xe2\x80\ndata: \xe2\x28\xa1\n\n",),
        (("message", "\ufffd\ufffd\n\ufffd(\ufffd", ""),),
    ),
    SSECase(
        "bom-only-at-stream-start",
        (b"data: 1\n\n\xef\xbb\xbfdata: 2\n\n",),
        (("message", "1", ""),),
    ),
    SSECase(
        # A BOM is stripped again at the start of each new connection.
        "bom-per-connection",
        (b"\xef\xbb\xbfdata: 1\n\n", b"\xef\xbb\xbfdata: 2\n\n"),
        (("message", "1", ""), ("message", "2", "")),
    ),
    SSECase(
        "truncated-bom-is-data",
        (b"\xef\xbbdata: 1\n\ndata: 2\n\n",),
        (("message", "2", ""),),
    ),
    SSECase(
        "colon-splits-on-first-only",
        (b"data:a:b: c\ndata::\nevent:x:y\n\n",),
        (("x:y", "a:b: c\n:", ""),),
    ),
    SSECase(
        "exactly-one-space-removed",
        (b"data:  two\ndata:\t tab\nid:  7\n\n",),
        (("message", " two\n\t tab", " 7"),),
        last_event_id=" 7",
    ),
    SSECase(
        "field-names-exact",
        (b"data : x\nDATA: x\n data: x\ndata\x00: x\ndata: ok\n\n",),
        (("message", "ok", ""),),
    ),
    SSECase(
        "event-type-resets-after-dispatch",
        (b"event: a\ndata: 1\n\ndata: 2\n\nevent: b\n\ndata: 3\n\n",),
        (("a", "1", ""), ("message", "2", ""), ("message", "3", "")),
    ),
    SSECase(
        # An id in a block without data still sets lastEventId at the blank line.
        "id-without-data",
        (b"id: 5\n\ndata: x\n\n",),
        (("message", "x", "5"),),
        last_event_id="5",
    ),
    SSECase(
        # The id of a partial event is discarded at end of stream; the previous one stays.
        "partial-event-id-discarded",
        (b"id: 1\ndata: a\n\nid: 2\ndata: b\n", b"data: c\n\n"),
        (("message", "a", "1"), ("message", "c", "1")),
        last_event_id="1",
    ),
    SSECase(
        "id-persists-across-connections",
        (b"id: 9\ndata: a\n\n", b"data: b\n\n"),
        (("message", "a", "9"), ("message", "b", "9")),
        last_event_id="9",
    ),
    SSECase(
        # retry applies when its line is read, even inside a discarded partial event.
        "retry-kept-from-partial-event",
        (b"retry: 300\ndata: a\n\nretry: 400\ndata: b",),
        (("message", "a", ""),),
        retry_ms=400,
    ),
    SSECase(
        "retry-rejects-non-ascii-digits",
        ("retry: 100\nretry: -5\nretry: 1.5\nretry: ١٢\nretry:  7\nretry: 0x10\n".encode(),),
        (),
        retry_ms=100,
    ),
    SSECase(
        "retry-zero-and-leading-zeros",
        (b"retry: 0000\ndata: a\n\n",),
        (("message", "a", ""),),
        retry_ms=0,
    ),
    SSECase(
        "partial-line-at-eof-is-not-a-line",
        (b"data: a\n\nretry: 5\nid: 3\ndata: b\n\nretry: 9",),
        (("message", "a", ""), ("message", "b", "3")),
        retry_ms=5,
        last_event_id="3",
    ),
    SSECase(
        "comments-and-keepalives",
        (b":\n: ping\n:\r\n\r\n:x\rdata: a\n:mid\ndata: b\n\n",),
        (("message", "a\nb", ""),),
    ),
    SSECase(
        "empty-stream",
        (b"",),
        (),
    ),
    SSECase(
        "only-blank-lines",
        (b"\n\r\n\r\n\n",),
        (),
    ),
)

ALL_CASES: tuple[SSECase, ...] = WPT_CASES + EXTRA_CASES
