"""The columnar decoder against decoding page by page: the same document, table and error.

``decode_pages`` builds JSON pages' tables with pyarrow's JSON reader, several pages per
call; decoding a page alone (``decode_body`` then ``page_table``) builds them from the
decoded records. Both run here on every body and record list the decode tests use
(harvested from their source, so a case added there is checked here too), on each of those
wrapped in an envelope for ``data_path``, and on seeded random pages, alone and in batches:
each page must get the same document, the same table (schema, values, and bytes through
its key, and the same Arrow IPC bytes) and the same error.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import random
import string
import types
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from arrow_bytes import ipc_bytes
from hiveframe._protocol import columnar
from hiveframe._protocol.arrow.conform import TableKey
from hiveframe._protocol.columnar import PageBody, PageTable, decode_pages, page_table
from hiveframe._protocol.data_path import DataPath, MissingSegment, walk_dotted
from hiveframe._protocol.decode import decode_body
from hiveframe._protocol.pagination import (
    CursorPagination,
    LinkPagination,
    NextUrlPagination,
    OffsetPagination,
    PagePagination,
)

URL = "https://api.test/items?page=3"
TESTS = Path(__file__).resolve().parent.parent
CORPUS_FILES = [
    "protocol/test_decode.py",
    "protocol/test_arrow.py",
    "protocol/test_running_schema.py",
    "drivers/test_read_formats.py",
    "test_frame.py",
]
# Document paths a paginator could read in the corpus: scalars, missing keys, nulls...
SCALAR_PATHS = ("total", "next", "id", "a", "at", "results.total", "data.next", "meta.next", "a.b")
# ... and paths that index arrays or end on arrays or objects (such pages decode alone)
DEEP_PATHS = ("0", "0.id", "results.items", "results", "data", "a", "items.1.id")
NAMES = {"dt": dt, "Decimal": Decimal, "types": types, "UTC": dt.timezone.utc, "pa": pa}
SCHEMA = pa.schema(
    [
        ("id", pa.int32()),
        ("at", pa.timestamp("us", tz="UTC")),
        ("price", pa.decimal128(38, 10)),
        ("note", pa.string()),
        ("obj", pa.struct([("x", pa.int64())])),
        ("tags", pa.list_(pa.int64())),
    ]
)


# -- the two paths ----------------------------------------------------------------------------


def decode_alone(body: PageBody, data_path: DataPath | None, schema: pa.Schema | None) -> Any:
    try:
        decoded = decode_body(body.content, fmt=body.fmt, data_path=data_path, url=body.url)
        table = page_table(decoded, schema)
        return PageTable(decoded.document, table, TableKey(table))
    except Exception as exc:
        return exc


def lookup(document: Any, path: str) -> Any:
    """What a paginator finds at ``path``: ``_lookup`` (a missing segment is None)."""
    found = walk_dotted(document, tuple(path.split(".")))
    return None if isinstance(found, MissingSegment) else found


def assert_same(
    batched: PageTable | Exception,
    alone: PageTable | Exception,
    what: str,
    document_paths: Sequence[str] = (),
) -> None:
    if isinstance(alone, Exception):
        assert type(batched) is type(alone), what
        assert str(batched) == str(alone), what
        assert getattr(batched, "kind", None) == getattr(alone, "kind", None), what
        return
    assert isinstance(batched, PageTable), (what, batched)
    for path in document_paths:  # what the paginator reads; the rest it never sees
        found, expected = lookup(batched.document, path), lookup(alone.document, path)
        assert found == expected, (what, path)
        assert type(found) is type(expected), (what, path)  # 1 and 1.0 are other cursors
    assert batched.table.schema.equals(alone.table.schema, check_metadata=True), (
        what,
        batched.table.schema,
        alone.table.schema,
    )
    assert batched.table.equals(alone.table), what
    assert batched.key == alone.key, what
    assert ipc_bytes(batched.table) == ipc_bytes(alone.table), what  # -0.0, null slots, chunks


class Spy:
    """Counts the pages whose tables came from pyarrow's JSON reader."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pages = 0
        real = columnar._columnar_pages

        def counted(*args: Any) -> dict[int, Any]:
            pages = real(*args)
            self.pages += len(pages)
            return pages

        monkeypatch.setattr(columnar, "_columnar_pages", counted)


def check(
    bodies: Sequence[PageBody],
    *,
    data_path: DataPath | None = None,
    schema: pa.Schema | None = None,
    batch: int = 1,
    document_paths: Sequence[str] = SCALAR_PATHS,
    shapes: columnar.Shapes | None = None,
) -> None:
    alone = [decode_alone(body, data_path, schema) for body in bodies]
    for start in range(0, len(bodies), batch):
        part = bodies[start : start + batch]
        results = decode_pages(
            part,
            data_path=data_path,
            schema=schema,
            keys=True,
            document_paths=document_paths,
            shapes=shapes,
        )
        assert len(results) == len(part)
        for offset, result in enumerate(results):
            what = repr(part[offset].content[:300])
            assert_same(result, alone[start + offset], what, document_paths)


# -- the decode tests' corpus -----------------------------------------------------------------


def _evaluated(node: ast.expr) -> Iterator[Any]:
    try:
        yield eval(compile(ast.Expression(node), "<corpus>", "eval"), dict(NAMES))
    except Exception:  # names local to a test: not a literal
        return


def _json(value: Any) -> bytes | None:
    try:
        return orjson.dumps(value, default=str)
    except (TypeError, orjson.JSONEncodeError):
        try:  # integers beyond 64 bits
            return json.dumps(value, default=str).encode()
        except (TypeError, ValueError):
            return None


def _encodes(node: ast.AST) -> bool:
    # f'...'.encode(): a body built from text
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "encode"
    )


def _corpus() -> tuple[list[bytes], list[bytes]]:
    """The bytes literals of the decode tests, and their list and dict literals as JSON."""
    raw: dict[bytes, None] = {}
    documents: dict[bytes, None] = {}
    for name in CORPUS_FILES:
        tree = ast.parse((TESTS / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Constant, ast.BinOp)) or _encodes(node):
                for value in _evaluated(node):
                    if isinstance(value, bytes):
                        raw[value] = None
            elif isinstance(node, (ast.List, ast.Dict)):
                for value in _evaluated(node):
                    body = _json(value)
                    if body is not None:
                        documents[body] = None
    return list(raw), list(documents)


RAW, DOCUMENTS = _corpus()


def test_the_corpus_is_the_decode_tests():
    assert len(RAW) > 40
    assert len(DOCUMENTS) > 150
    assert b'{"id": 1}\r\n\r\n  \n{"id": 2}\n{"id": 3}' in RAW
    assert orjson.dumps([{"a": 1}, {"a": 2.5}]) in DOCUMENTS


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
@pytest.mark.parametrize("batch", [1, 7])
def test_every_test_body_decodes_the_same(fmt, batch):
    check([PageBody(body, fmt, URL) for body in RAW], batch=batch)


@pytest.mark.parametrize("batch", [1, 5])
def test_every_test_record_list_decodes_the_same(monkeypatch, batch):
    spy = Spy(monkeypatch)
    check([PageBody(body, "json", URL) for body in DOCUMENTS], batch=batch)
    assert spy.pages > 50  # the reader's path is taken, not only the fallback


@pytest.mark.parametrize("path", ["results.items", "results", "$.results.items", "results.0"])
def test_every_test_record_list_in_an_envelope_decodes_the_same(monkeypatch, path):
    spy = Spy(monkeypatch)
    bodies = [
        PageBody(b'{"results": {"items": %b, "total": 9}, "at": "2024-01-01"}' % body, "json")
        for body in DOCUMENTS
    ]
    check(bodies, data_path=DataPath(path), batch=4)
    assert (spy.pages > 50) == (path == "results.items")  # the others decode alone


def test_document_paths_into_arrays_and_objects_decode_alone(monkeypatch):
    spy = Spy(monkeypatch)
    bodies = [
        PageBody(b'{"results": {"items": %b, "total": 9}, "a": {"b": 1}}' % body, "json")
        for body in DOCUMENTS
    ]
    check(bodies, data_path=DataPath("results.items"), batch=4, document_paths=DEEP_PATHS)
    assert spy.pages == 0


def test_every_test_record_list_in_a_schema_decodes_the_same():
    check([PageBody(body, "json", URL) for body in DOCUMENTS], schema=SCHEMA, batch=3)


def test_pretty_printed_and_byte_order_marked_bodies(monkeypatch):
    spy = Spy(monkeypatch)
    bodies = [
        PageBody(prefix + orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2), "json")
        for body in DOCUMENTS
        for prefix in (b"", b"\xef\xbb\xbf", b" \r\n\t")
    ]
    check(bodies, batch=6)
    assert spy.pages > 150


@pytest.mark.parametrize(
    ("config", "paths"),
    [
        (OffsetPagination(), ()),
        (OffsetPagination(total_path="meta.total"), ("meta.total",)),
        (PagePagination(page_size=10, total_path="n", total_pages_path="m.p"), ("n", "m.p")),
        (CursorPagination(cursor_path="meta.next"), ("meta.next",)),
        (CursorPagination(cursor_path=None, cursor_header="X-Next"), ()),
        (NextUrlPagination(next_url_path="links.next"), ("links.next",)),
        (LinkPagination(), ()),
    ],
)
def test_document_paths_are_the_paths_a_paginator_reads(config, paths):
    # A page decoded from bytes has a document holding only these.
    assert config.document_paths == paths


# -- what the reader would get wrong, and must not be trusted with ---------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'[{"at": "2024-05-01T12:00:00+02:00"}, {"at": "2024-05-01"}, {"at": null}]',
        b'[{"a": {"at": "2024-05-01T12:00:00Z"}}]',  # nested: records_to_table's
        b'[{"a": [" 2024-05-01", "2024-05-01 10:00"]}]',
        b'[{"a": 9007199254740993}, {"a": 1.5}]',  # pa.array refuses; the reader rounds
        b'[{"a": [9007199254740992, 0.5]}]',
        b'[{"a": 9223372036854775808}]',  # uint64 for pa.array, a float for the reader
        b'[{"a": 18446744073709551615}, {"a": 1}]',
        b'[{"a": -9223372036854775809}]',
        b'[{"a": 123456789012345678901234567890}]',
        b'[{"a": 1e300}, {"a": -1e16}]',
        b'[{"a": {}}, {"a": {"b": {}}}]',
        b'[{"a": 1, "a": 2}]',  # orjson keeps the last; the reader refuses
        b'[{"a": 1}, {"a": "x"}, {"a": true}]',
        b'[{"a": -0.0}, {"a": 0.0}, {"a": -0}]',
        b'[{"a": 5e-324}, {"a": 1.7976931348623157e308}, {"a": 0.1}]',
        b'[{"\\u00e9\\ud83d\\ude00": "\\u0000\\n\\"\\\\"}]',
        b'[{"a": "[{\\"x\\": [1]}]"}]',  # brackets in strings
        b'[{"a": "x:", "b": "y: ", "c": "\\":\\"", "d": ":"}]',  # ":" ends a string
        b'[{"a": "\\u0001x", "b": "2024-05-01"}]',  # the mark in the data
        b'[{"a" : "2024-05-01", "b" :"2024-05-01", "c":\n"2024-05-01"}]',  # spacing
        b'[{"a": ["2024-05-01", "2024-05-02"]}, {"a": []}]',  # times in arrays
        b'[{"a": "", "b": [{"c": "2024-05-01T00:00:00Z", "d": ""}]}]',
        b'[{"a": "x"}, {"b": 1}, {"a": ""}, {"a": null}, {"a" :  "2024-05-01"}, {"a": "y"}]',
        b'[{"o": {"s": "x", "t": null}}, {"o": null}, {"o": {"s": "\\u00e9", "t": "z"}}]',
        b'[{"l": [{"s": "a"}, {"s": null}]}, {"l": []}, {"l": null}, {"l": [{"s": "b"}]}]',
        b'[{"a": "x\x01y", "b": "\x01"}]',  # the mark's byte raw in a string
        b'[{"":1}]',
        b"[{}, {}]",
        b"[]",
        b"{}",
        b"null",
        b"[null]",
        b'[{"a": 1}, 2]',
        b'[{"a": NaN}]',
        b'[{"a": Infinity}]',
        b'[{"a": "\xff"}]',
        b'[{"a": "\\ud800"}]',
        b'{"a": 1} {"a": 2}',
        b'[{"a": 1}], "b": [2',
        b"[" * 70 + b"]" * 70,
        b'[{"a": ' + b"[" * 62 + b"]" * 62 + b"}]",
        b"[" * 1025 + b"]" * 1025,
    ],
)
def test_values_the_json_reader_reads_otherwise_decode_the_same(body):
    check([PageBody(body, "json")])
    check([PageBody(b'[{"a": 1}]', "json"), PageBody(body, "json")], batch=2)


def test_nesting_beyond_max_depth_never_reaches_the_reader(monkeypatch):
    deep = b"[{" + b'"a":[' * columnar.MAX_DEPTH + b"]" * columnar.MAX_DEPTH + b"}]"
    assert not columnar._shallow(deep)
    assert columnar._shallow(b'[{"a": "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"}]')
    assert not columnar._shallow(b'["\\\\"' + b"[" * 80 + b"]" * 80 + b"]")
    spy = Spy(monkeypatch)
    check([PageBody(deep, "json")])
    assert spy.pages == 0


def test_a_page_the_reader_refuses_leaves_the_others_to_it(monkeypatch):
    spy = Spy(monkeypatch)
    good = b'[{"a": 1, "b": "x"}]'
    check([PageBody(good, "json"), PageBody(b'[{"a": 1}, {"a": "x"}]', "json")] * 2, batch=4)
    assert spy.pages == 2


@pytest.mark.parametrize(
    "strings",
    [
        ["\x01a", "\x01", "\x01bc", "\x01\u00e9"],  # every string marked: one subtraction
        ["\x01a", None, "\x01", None],  # nulls hold no mark
        ["a", "\x01b", "", "\x01"],  # strings left unmarked (spacing the mark missed)
        [],
    ],
)
@pytest.mark.parametrize("window", [slice(0, None), slice(1, None), slice(1, 3)])
def test_marks_come_off_every_string_of_a_sliced_array(strings, window):
    array = pa.array(strings, pa.string())
    # Offsets that start past 0 (a column of a batch) and an array offset past 0.
    shifted = pa.concat_arrays([pa.array(["\x01zz"] * 3), array]).slice(3)[window]
    unmarked = columnar._unmarked(shifted)
    unmarked.validate(full=True)
    expected = [None if text is None else text.removeprefix("\x01") for text in strings]
    assert unmarked.to_pylist() == expected[window]


@pytest.mark.parametrize(
    ("unit", "keys", "marked"),
    [
        (b'{"a":"x","b": "y"}', None, b'{"a":"\\u0001x","b": "\\u0001y"}'),
        (b'{"a":"x","b":"y z"}', None, b'{"a":"\\u0001x","b":"\\u0001y z"}'),
        (b'{"a":"x\\n"}', None, b'{"a":"\\u0001x\\n"}'),  # a backslash, but not the mark
        (b'{"a":"x","b": "y","ab":"z"}', [b'"b"'], b'{"a":"x","b": "\\u0001y","ab":"z"}'),
        (b'{"a":"x","b":"y","c":[{"b":"z"}]}', [b'"a"', b'"b"'], None),
        (b'{"a":"x","b":"y"}', [b'"c"'], b'{"a":"x","b":"y"}'),  # put nowhere, but put
    ],
)
def test_marks_go_before_the_values_of_the_keys_given(unit, keys, marked):
    if marked is None:  # every key given: every member string
        marked = columnar._marked(unit, None)[0]
    assert columnar._marked(unit, keys) == (marked, True)


@pytest.mark.parametrize("unit", [b'{"a":"\\u0001"}', b'{"a":"\x01"}', b'{"a":"x"}'])
def test_a_unit_holding_the_mark_or_no_key_to_mark_is_left_unmarked(unit):
    keys = [] if unit == b'{"a":"x"}' else None
    assert columnar._marked(unit, keys) == (unit, False)


@pytest.mark.parametrize(
    ("body", "shallow"),
    [
        (b'[{"a": "[", "b": "]"}]', True),  # brackets in strings, quotes not adjacent
        (b'["]", "["' + b", [" * 63 + b"]" * 63 + b"]", True),
        (b'["]", "["' + b", [" * 64 + b"]" * 64 + b"]", False),
        (b'["", "", ""' + b", [" * 63 + b"]" * 63 + b"]", True),
        (b'["", "", ""' + b", [" * 64 + b"]" * 64 + b"]", False),
    ],
)
def test_depth_is_counted_outside_strings(body, shallow):
    assert columnar._shallow(body) is shallow


TRUST_CASES = [
    0.0,
    -0.0,
    1.5,
    -1.5,
    2.0**49 - 1,
    2.0**49,
    -(2.0**49),
    2.0**53 - 1,
    2.0**53,
    -(2.0**53),
    1e300,
    5e-324,
    -5e-324,
    -1e-310,
    float("inf"),
]


def _trusted_floats(values: Sequence[float | None]) -> bool:
    return all(abs(v) < 2.0**53 and str(v) != "-0.0" for v in values if v is not None)


@pytest.mark.parametrize("value", TRUST_CASES)
@pytest.mark.parametrize("among", [[], [1.0, None, 2.5], [-3.0, None]])
def test_floats_are_trusted_exactly_when_none_may_be_rounded_or_negative_zero(value, among):
    values = [*among, value, *among]
    expected = _trusted_floats(values)
    sliced = pa.array([9.0, *values], pa.float64()).slice(1)
    assert columnar._trusted(sliced) is expected
    assert columnar._trusted(pa.array(values, pa.float64())) is expected
    nested = pa.array([{"a": [value]}, None, {"a": among}])
    assert columnar._trusted(nested) is _trusted_floats([value, *among])


@pytest.mark.parametrize("marks", ["every member string", "learned keys"])
def test_batches_of_one_read_decode_the_same_whatever_keys_they_mark(monkeypatch, marks):
    # The batches of a read share what the decoder learned (Shapes): here the whole corpus
    # is one read, twice over, so later batches mark the keys earlier ones found times in.
    spy = Spy(monkeypatch)
    shapes = columnar.Shapes()
    if marks == "every member string":
        shapes.timed = None
    bodies = [PageBody(body, "json", URL) for body in DOCUMENTS]
    enveloped = [
        PageBody(b'{"results": {"items": %b, "total": 9}, "at": "2024-01-01"}' % body, "json")
        for body in DOCUMENTS
    ]
    for _ in range(2):
        check(bodies, batch=5, shapes=shapes)
        check(enveloped, data_path=DataPath("results.items"), batch=3, shapes=shapes)
    assert spy.pages > 200
    assert shapes.timed is None or len(shapes.timed) <= columnar.Shapes._MOST_TIMED


def stamped(key: str, value: str = "2024-05-01T12:00:00Z", spacing: str = "") -> PageBody:
    return PageBody(
        b'[{"id": 1, "%b":%b"%b", "n": "x"}]' % (key.encode(), spacing.encode(), value.encode()),
        "json",
    )


def test_the_keys_read_as_times_are_learned_and_marked_from_the_next_batch_on():
    shapes = columnar.Shapes()
    assert shapes.timed == []  # nothing marked: the first times cost a second read
    check([stamped("at"), stamped("n", "plain")], batch=2, shapes=shapes)
    assert shapes.timed == [b'"at"']
    check([stamped("at"), stamped("at", "not a time")], batch=2, shapes=shapes)  # a cache hit
    assert shapes.timed == [b'"at"']
    check([stamped("at"), stamped("b")], batch=2, shapes=shapes)  # a new key drifts in
    assert shapes.timed == [b'"at"', b'"b"']
    check([stamped("at", spacing=" ")], shapes=shapes)  # "at": " is marked too
    assert shapes.timed == [b'"at"', b'"b"']
    check([stamped("at", spacing="\n")], shapes=shapes)  # a spacing the marks miss
    assert shapes.timed is None  # learning cannot help: every member string from now on
    check([stamped("at"), stamped("c")], batch=2, shapes=shapes)
    assert shapes.timed is None


def test_many_keys_read_as_times_mark_every_member_string():
    shapes = columnar.Shapes()
    body = b'[{"a": "2024-05-01", "b": "2024-05-01", "c": "2024-05-01", "d": "2024-05-01"}]'
    check([PageBody(body, "json")], shapes=shapes)
    assert shapes.timed is None
    check([PageBody(body, "json")], shapes=shapes)


# -- seeded random pages ----------------------------------------------------------------------

KEYS = ["id", "name", "at", "n", "x", "tags", "meta", "é", "a b", ""]
STRINGS = [
    "",
    "x",
    "2024-05-01T12:00:00+02:00",
    "2024-05-01",
    "2024-05-01 10:11",
    "12345678901234567890123",
    "NaN",
    "Infinity",
    "日本語",
    "😀",
    '"quoted" \\ back',
    "line\nbreak\t\u0000",
    "[{]}",
    "\ufeff",
]


def _number(rng: random.Random) -> Any:
    choice = rng.randrange(9)
    if choice == 0:
        return rng.choice([2**53 - 1, 2**53, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, -(2**63)])
    if choice == 1:
        return rng.choice([2**64, -(2**63) - 1, 10**30])
    if choice == 2:
        return rng.choice([0.0, -0.0, 5e-324, 1e300, 2.0**53, 1.0, -1e16, 0.1])
    if choice == 3:
        return rng.uniform(-1e6, 1e6)
    if choice == 4:
        return float(rng.randrange(-1000, 1000))
    if choice == 5:
        return rng.getrandbits(64) * rng.choice([1e-300, 1e-20, 1e-10, 1.0, 1e10])
    return rng.randrange(-(10**6), 10**6)


def _string(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return rng.choice(STRINGS)
    return "".join(rng.choice(string.printable + "éß中") for _ in range(rng.randrange(12)))


def _value(rng: random.Random, kind: str, depth: int) -> Any:
    if rng.random() < 0.1:
        return None
    if kind == "int":
        return rng.randrange(-100, 100)
    if kind == "number":
        return _number(rng)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "str":
        return _string(rng)
    if kind == "list":
        element = _kind(rng, depth + 1)
        return [_value(rng, element, depth + 1) for _ in range(rng.randrange(4))]
    if kind == "object":
        return _record(rng, {key: _kind(rng, depth + 1) for key in rng.sample(KEYS, 3)}, depth + 1)
    return None


def _kind(rng: random.Random, depth: int) -> str:
    kinds = ["int", "number", "bool", "str", "null"]
    if depth < 3:
        kinds += ["list", "object"]
    return rng.choice(kinds)


def _record(rng: random.Random, fields: dict[str, str], depth: int) -> dict[str, Any]:
    record = {}
    for key, kind in fields.items():
        if rng.random() < 0.15:
            continue  # absent
        drifted = _kind(rng, depth) if rng.random() < 0.03 else kind
        record[key] = _value(rng, drifted, depth)
    return record


def _page(rng: random.Random, fields: dict[str, str]) -> Any:
    records = [_record(rng, fields, 0) for _ in range(rng.randrange(1, 12))]
    if rng.random() < 0.05:
        return records[0]
    return records


def _body(rng: random.Random, document: Any) -> bytes:
    body = _json(document)
    assert body is not None
    if rng.random() < 0.2 and b"\n" not in body:
        body = json.dumps(document, indent=rng.choice([None, 1]), ensure_ascii=False).encode()
    return body


@pytest.mark.parametrize("seed", range(8))
def test_seeded_random_pages_decode_the_same(monkeypatch, seed):
    rng = random.Random(seed)
    spy = Spy(monkeypatch)
    bodies, wrapped = [], []
    for _ in range(60):
        fields = {key: _kind(rng, 0) for key in rng.sample(KEYS, rng.randrange(1, 7))}
        for _ in range(rng.randrange(1, 4)):  # pages of one collection share its fields
            page = _page(rng, fields)
            bodies.append(PageBody(_body(rng, page), "json"))
            envelope = {"data": {"items": page, "next": rng.choice([None, "c2"])}}
            wrapped.append(PageBody(_body(rng, envelope), "json"))
    check(bodies, batch=rng.randrange(1, 9))
    check(wrapped, data_path=DataPath("data.items"), batch=rng.randrange(1, 9))
    assert spy.pages > len(bodies) // 10  # messy on purpose: most pages are not


@pytest.mark.parametrize("marks", ["every member string", "learned keys"])
@pytest.mark.parametrize("seed", range(4))
def test_seeded_random_pages_of_one_read_decode_the_same(monkeypatch, seed, marks):
    rng = random.Random(seed)
    spy = Spy(monkeypatch)
    shapes = columnar.Shapes()
    if marks == "every member string":
        shapes.timed = None
    bodies = []
    for _ in range(60):
        fields = {key: _kind(rng, 0) for key in rng.sample(KEYS, rng.randrange(1, 7))}
        bodies += [PageBody(_body(rng, _page(rng, fields)), "json") for _ in range(3)]
    for _ in range(2):
        check(bodies, batch=rng.randrange(2, 9), shapes=shapes)
    assert spy.pages > len(bodies) // 10
