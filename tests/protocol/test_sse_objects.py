"""Events' JSON data read by pyarrow's JSON reader against decoding event by event.

``decode_objects`` builds the table of many JSON texts (server-sent events' data), each
meant to be one object, from their bytes; an SSE batch stream uses it instead of decoding
each event with orjson and building the table from the records. Whenever it gives a table,
that table must be the one ``records_to_table`` builds from what ``json_documents`` (the
per-record path) makes of the texts, and every text must have been one object there; where
it cannot tell, it gives ``None``. Checked on the record lists of the decode tests' corpus
(each record one text), on the values the reader reads otherwise, and on texts made to pass
for one object each when they are not.
"""

from __future__ import annotations

import random
from typing import Any

import orjson
import pyarrow as pa
import pytest
from test_columnar import DOCUMENTS

from arrow_bytes import ipc_bytes
from hiveframe._protocol import columnar
from hiveframe._protocol.arrow.infer import records_to_table
from hiveframe._protocol.columnar import Shapes, decode_objects
from hiveframe._protocol.decode import json_documents


def expected(texts: list[str]) -> tuple[list[Any], list[int] | None] | Exception:
    try:
        return json_documents(texts)
    except Exception as exc:
        return exc


def check(texts: list[str]) -> bool:
    """Whether the reader gave the table (checked equal to the per-record path's)."""
    table = decode_objects(texts, shapes=Shapes())
    if table is None:
        return False
    decoded = expected(texts)
    assert not isinstance(decoded, Exception), (texts, decoded)
    records, ends = decoded
    assert ends in (None, list(range(1, len(texts) + 1))), texts  # one record per text
    assert all(type(record) is dict for record in records), texts
    alone = records_to_table(records)
    assert table.schema.equals(alone.schema, check_metadata=True), (texts, table.schema)
    assert table.equals(alone), texts
    assert ipc_bytes(table) == ipc_bytes(alone), texts  # -0.0, chunks, null slots
    return True


def _record_lists() -> list[list[dict[str, Any]]]:
    lists = []
    for body in DOCUMENTS:
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            lists.append(value)
    return lists


RECORD_LISTS = _record_lists()


def test_the_corpus_has_record_lists():
    assert len(RECORD_LISTS) > 80


def test_every_record_list_of_the_corpus_reads_the_same_event_by_event():
    read = sum(check([orjson.dumps(r).decode() for r in records]) for records in RECORD_LISTS)
    assert read > 50  # the reader's path is taken, not only the fallback


def test_record_lists_pretty_printed_over_several_lines_read_the_same():
    indented = [
        [orjson.dumps(r, option=orjson.OPT_INDENT_2).decode() for r in records]
        for records in RECORD_LISTS
    ]
    assert sum(map(check, indented)) > 50


def test_records_joined_across_the_corpus_read_the_same():
    # Types of one field meet from different lists: drift, int against float, null...
    rng = random.Random(7)
    every = [orjson.dumps(r).decode() for records in RECORD_LISTS for r in records]
    for _ in range(200):
        check(rng.sample(every, rng.randint(1, 12)))


@pytest.mark.parametrize(
    "texts",
    [
        # Values the reader reads otherwise than orjson then pa.array
        ['{"at": "2024-05-01T12:00:00+02:00"}', '{"at": "2024-05-01"}', '{"at": null}'],
        ['{"a": {"at": "2024-05-01T12:00:00Z"}}'],
        ['{"a": [" 2024-05-01", "2024-05-01 10:00"]}'],
        ['{"a": 9007199254740993}', '{"a": 1.5}'],
        ['{"a": 9223372036854775808}'],
        ['{"a": 18446744073709551615}', '{"a": 1}'],
        ['{"a": -9223372036854775809}'],
        ['{"a": 123456789012345678901234567890}'],
        ['{"a": 1e300}', '{"a": -1e16}'],
        ['{"a": -0.0}', '{"a": 0.0}', '{"a": -0}'],
        ['{"a": {}}', '{"a": {"b": {}}}'],
        ['{"a": 1, "a": 2}'],
        ['{"a": 1}', '{"a": "x"}', '{"a": true}'],
        ['{"a": NaN}'],
        ['{"a": Infinity}'],
        ['{"a": "\\u0001x", "b": "2024-05-01"}'],
        ['{"a": "x\x01y"}'],
        ['{"\\u00e9\\ud83d\\ude00": "\\u0000\\n\\"\\\\"}'],
        ['{"a": "\\ud800"}'],
        ['{"a": "\ufffd"}', '{"a": "é…😀"}'],
        ['{"a": ' + "[" * 70 + "]" * 70 + "}"],
        ["{}", "{}"],
        ["{}", '{"a": 1}'],
        ['{"c": true, "a": [null, []]}'],  # the reader builds an invalid list array
        ['{"a": [null, {"b": 1}]}', '{"a": [[], null]}'],
        # Texts that are not one object each, made to read as one row per line
        ['{"a":1}}', '{"p0":{"b":2}'],
        ['{"a":1}, "q": {"b":2}'],
        ['{"a":1}, "p0": {"b":2}'],
        ['{"a":1}} {"p0":{"b":2}', '{"c":3}'],
        ['{"a":[{}', '{"b":2}]}'],
        ['{"a":1} {"b":2}', "{}"],
        ['{"a":1', "}"],
        ['{"a":"', '"}'],
        ['{"a":1}', ""],
        ['{"a":1}', " "],
        ["[]", '{"a":1}'],
        ['[{"a":1}]', '{"a":2}'],
        ['[{"a":1},{"a":2}]'],
        ["null", '{"a":1}'],
        ['"text"'],
        ["1"],
        ['{"a":1}\n'],
        ['\n{"a":1}'],
        ['{"a":\n1}'],
        ['{"a":1}\r'],
        ['{"a": 1}/'],
        ['\ufeff{"a": 1}'],
        ['{"a": 1}\x00'],
    ],
)
def test_texts_the_reader_could_get_wrong_read_the_same_or_not_at_all(texts):
    check(texts)
    check(['{"a": 2}', *texts, '{"b": "z"}'])


@pytest.mark.parametrize(
    "texts",
    [
        ['{"a":1}}', '{"p0":{"b":2}'],
        ['{"a":1}, "q": {"b":2}'],
        ['{"a":[{}', '{"b":2}]}'],
        ['{"a":1} {"b":2}', "{}"],
        ['{"a":1', "}"],
        ['{"a":1}', ""],
        ["[]", '{"a":1}'],
        ['[{"a":1},{"a":2}]'],
        ["null", '{"a":1}'],
    ],
)
def test_texts_that_are_not_one_object_each_are_left_to_decoding(texts):
    assert decode_objects(texts, shapes=Shapes()) is None


def test_nothing_to_read_gives_nothing():
    assert decode_objects([], shapes=Shapes()) is None


def test_a_shapes_cache_shared_by_batches_gives_each_its_own_table():
    shapes = Shapes()
    first = decode_objects(['{"a": 1, "t": "2024-05-01"}'], shapes=shapes)
    second = decode_objects(['{"a": "x", "t": "y"}'], shapes=shapes)
    assert first is not None and second is not None
    assert first.schema == pa.schema([("a", pa.int64()), ("t", pa.string())])
    assert second.to_pylist() == [{"a": "x", "t": "y"}]


def test_nesting_beyond_max_depth_never_reaches_the_reader(monkeypatch):
    reads = []
    real = columnar._read_json
    monkeypatch.setattr(columnar, "_read_json", lambda *a: reads.append(1) or real(*a))
    depth = columnar.MAX_DEPTH
    deep = '{"a":' + "[" * depth + "]" * depth + "}"
    assert decode_objects(['{"a": 1}', deep], shapes=Shapes()) is None
    assert not reads
    wide = '{"a": [' + ",".join(["[]"] * 80) + '], "b": "{{{{[[[["}'  # many openers, shallow
    assert check(['{"a": [[]], "b": "x"}', wide])
    assert reads


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(14 if depth < 3 else 10)
    if kind == 0:
        return rng.choice([0, 1, -1, 2**31, -(2**53), 2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1])
    if kind == 1:
        return rng.choice([0.5, -0.0, 0.0, 1e-300, 1e300, 2.0**53, -1.5, 3.0])
    if kind == 2:
        return rng.choice(["", "x", "é…😀", 'a\nb\t"q"\\', "\u0000", "\u0001x", "[{", "}]"])
    if kind == 3:
        return rng.choice(["2024-05-01", "2024-05-01T12:00:00Z", "2024-05-01 10:00", "12:00"])
    if kind in (4, 5):
        return rng.choice([None, True, False])
    if kind in (6, 7, 8, 9):
        return rng.randrange(-5, 100)
    if kind in (10, 11):
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {f"k{rng.randrange(4)}": _random_value(rng, depth + 1) for _ in range(rng.randrange(4))}


@pytest.mark.parametrize("seed", range(6))
def test_random_records_read_the_same(seed):
    # Each field of a batch draws from one or two random values: some batches drift, some
    # hold only values the reader takes; either way the reader's table is records_to_table's.
    rng = random.Random(seed)
    read = 0
    for _ in range(150):
        pools = {name: [_random_value(rng) for _ in range(rng.randrange(1, 3))] for name in "abcd"}
        records = [
            {name: rng.choice(pools[name]) for name in rng.sample("abcd", rng.randrange(1, 4))}
            for _ in range(rng.randrange(1, 9))
        ]
        read += check([orjson.dumps(r).decode() for r in records])
    assert read > 20
