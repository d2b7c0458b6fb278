"""WHATWG EventSource parsing conformance (docs/reliability.md tests 25 and 26).

Every case in ``sse_cases.py`` is fed to `SSEDecoder` in one chunk, split in two at every
byte offset, byte by byte, and in 1,536- and 7-byte chunks; the events, the final
``retry_ms`` and ``last_event_id`` must be the same every time. Splitting at every offset
puts a chunk seam inside every CRLF and every multi-byte UTF-8 sequence. Each case also
runs at the tightest ``max_event_bytes`` it passes with, where the decoder checks every
line, and must trip one byte below it whatever the chunking.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

from hiveframe._protocol.sse import ServerSentEvent, SSEDecoder
from hiveframe.errors import SSEEventTooLarge


def _load_cases() -> ModuleType:
    # tests/ has no __init__.py: load the data module by path, whatever the import mode.
    name = "hiveframe_conformance_sse_cases"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("sse_cases.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


cases = _load_cases()
if TYPE_CHECKING:  # mypy finds the sibling module by name; at run time it is loaded by path
    from sse_cases import SSECase
else:
    SSECase = cases.SSECase

Chunker = Callable[[bytes], Iterator[bytes]]


def _fixed(size: int) -> Chunker:
    def chunker(body: bytes) -> Iterator[bytes]:
        for start in range(0, len(body), size):
            yield body[start : start + size]

    return chunker


def _whole(body: bytes) -> Iterator[bytes]:
    yield body


def _split_at(offset: int) -> Chunker:
    def chunker(body: bytes) -> Iterator[bytes]:
        yield body[:offset]
        yield body[offset:]

    return chunker


def run(
    case: SSECase, chunker: Chunker, max_event_bytes: int = 1 << 20
) -> tuple[list[ServerSentEvent], SSEDecoder]:
    """Feed every connection of ``case`` as a reconnecting driver would."""
    decoder = SSEDecoder(max_event_bytes=max_event_bytes)
    events: list[ServerSentEvent] = []
    for number, body in enumerate(case.connections):
        if number:
            decoder.reset_connection()
        for chunk in chunker(body):
            events.extend(decoder.feed(chunk))
        decoder.close()
    return events, decoder


def check(case: SSECase, chunker: Chunker, how: str, max_event_bytes: int = 1 << 20) -> None:
    events, decoder = run(case, chunker, max_event_bytes)
    got = [(e.event, e.data, e.id) for e in events]
    assert got == list(case.events), f"{case.name}: events differ when fed {how}"
    assert decoder.retry_ms == case.retry_ms, f"{case.name}: retry_ms when fed {how}"
    assert decoder.last_event_id == case.last_event_id, f"{case.name}: lastEventId, {how}"


def _ids(case: SSECase) -> str:
    return str(case.name)


@pytest.mark.parametrize("case", cases.ALL_CASES, ids=_ids)
def test_case_in_one_chunk(case: SSECase) -> None:
    check(case, _whole, "in one chunk")


@pytest.mark.parametrize("case", cases.ALL_CASES, ids=_ids)
def test_case_split_at_every_offset(case: SSECase) -> None:
    longest = max(len(body) for body in case.connections)
    for offset in range(longest + 1):
        check(case, _split_at(offset), f"split at byte {offset}")


def _split_twice(first: int, second: int) -> Chunker:
    def chunker(body: bytes) -> Iterator[bytes]:
        yield body[:first]
        yield body[first:second]
        yield body[second:]

    return chunker


@pytest.mark.parametrize(
    "case", [c for c in cases.ALL_CASES if max(map(len, c.connections)) <= 80], ids=_ids
)
def test_short_case_split_in_three_at_every_pair_of_offsets(case: SSECase) -> None:
    longest = max(len(body) for body in case.connections)
    for first in range(longest + 1):
        for second in range(first, longest + 1):
            check(case, _split_twice(first, second), f"split at bytes {first} and {second}")


@pytest.mark.parametrize("case", cases.ALL_CASES, ids=_ids)
def test_case_byte_by_byte(case: SSECase) -> None:
    check(case, _fixed(1), "byte by byte")


@pytest.mark.parametrize("size", [7, 1536])
@pytest.mark.parametrize("case", cases.ALL_CASES, ids=_ids)
def test_case_in_fixed_chunks(case: SSECase, size: int) -> None:
    check(case, _fixed(size), f"in {size}-byte chunks")


def _trips(case: SSECase, chunker: Chunker, limit: int) -> bool:
    try:
        run(case, chunker, limit)
    except SSEEventTooLarge:
        return True
    return False


def _tightest_cap(case: SSECase) -> int:
    # The smallest max_event_bytes the case passes with (tripping is monotone in it).
    low, high = 1, max(len(body) for body in case.connections) * 3 + 1
    while low < high:
        middle = (low + high) // 2
        if _trips(case, _whole, middle):
            low = middle + 1
        else:
            high = middle
    return low


@pytest.mark.parametrize("case", cases.ALL_CASES, ids=_ids)
def test_case_at_its_tightest_size_cap(case: SSECase) -> None:
    # At a cap just large enough, chunks no longer fit the unchecked fast path, so this
    # runs the line-by-line checked path; one byte less must trip whatever the seams.
    cap = _tightest_cap(case)
    longest = max(len(body) for body in case.connections)
    for offset in range(longest + 1):
        check(case, _split_at(offset), f"split at {offset}, cap {cap}", max_event_bytes=cap)
        if cap > 1:
            assert _trips(case, _split_at(offset), cap - 1), f"{case.name}: cap {cap - 1}"
    check(case, _fixed(1), f"byte by byte, cap {cap}", max_event_bytes=cap)


def test_every_parsing_row_of_the_wpt_table_is_covered() -> None:
    # docs/reliability.md test 25: the wpt parsing cases this suite must hold.
    required = {
        "format-bom",
        "format-bom-2",
        "format-comments",
        "format-data-before-final-empty-line",
        "format-field-data",
        "format-field-event",
        "format-field-event-empty",
        "format-field-id",
        "format-field-id-2",
        "format-field-id-3 persists",
        "format-field-id-3 changes and persists",
        "format-field-id-3 resets",
        "format-field-id-null",
        "format-field-parsing",
        "format-field-retry",
        "format-field-retry-bogus",
        "format-field-retry-empty",
        "format-field-unknown",
        "format-leading-space",
        "format-newlines",
        "format-null-character",
        "format-utf-8",
        "event-data",
    }
    assert required <= {case.name for case in cases.WPT_CASES}


def test_case_names_are_unique() -> None:
    names = [case.name for case in cases.ALL_CASES]
    assert len(names) == len(set(names))
