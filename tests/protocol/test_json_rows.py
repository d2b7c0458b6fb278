"""Arrow batches as JSON rows, column by column (hiveframe._protocol.arrow.json_rows).

The column-wise encoder must give, byte for byte, what encoding each row's Python dict with
orjson gives (the sink's request bodies and idempotency keys depend on it): every test here
compares the two on a corpus of tables.
"""

from __future__ import annotations

import datetime as dt
import doctest
import random
from collections.abc import Iterator
from decimal import Decimal

import pyarrow as pa
import pytest

from hiveframe._protocol.arrow import json_rows
from hiveframe._protocol.arrow.json_rows import batch_to_json_lines
from hiveframe.demo import make_record
from json_reference import row_by_row

UTC = dt.timezone.utc

STRINGS = [
    "",
    "plain",
    'q"uote',
    "back\\slash",
    "new\nline",
    "tab\t",
    "cr\r",
    "bs\b",
    "ff\f",
    "nul\x00",
    "\x1f",
    "\x7f",
    "é",
    "日本語",
    "emoji 😀",
    "\u2028\u2029",
    "/slash",
    ",",
    "null",
    None,
]
FLOATS = [
    0.0,
    -0.0,
    1.0,
    0.1,
    1e15,
    1e16,
    1e-5,
    1e-7,
    1.5e300,
    5e-324,
    float("nan"),
    float("inf"),
    float("-inf"),
    123456789.123,
    2.0**53,
    None,
]


def integer_batches() -> Iterator[pa.RecordBatch]:
    for bits in (8, 16, 32, 64):
        low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        signed, unsigned = pa.type_for_alias(f"int{bits}"), pa.type_for_alias(f"uint{bits}")
        yield pa.record_batch({"i": pa.array([low, high, 0, -1, None], signed)})
        yield pa.record_batch({"u": pa.array([0, 2**bits - 1, None], unsigned)})


def temporal_batches() -> Iterator[pa.RecordBatch]:
    for unit in ("s", "ms", "us", "ns"):
        for zone in (None, "UTC", "Europe/Paris", "+05:30"):
            values = pa.array([0, 1_700_000_000, -1, None], pa.timestamp(unit, zone))
            yield pa.record_batch({"ts": values})
        yield pa.record_batch({"du": pa.array([0, 1_500, -1, None], pa.duration(unit))})
    yield pa.record_batch({"d": pa.array([19_000, -719_162, None], pa.date32())})
    yield pa.record_batch({"d": pa.array([0, None], pa.date64())})
    yield pa.record_batch({"t": pa.array([3_723_000_004, None], pa.time64("us"))})
    yield pa.record_batch({"t": pa.array([3_723, None], pa.time32("s"))})


def nested_batches() -> Iterator[pa.RecordBatch]:
    yield pa.record_batch({"tags": pa.array([["a", "b"], [], None, ['x"y', None]])})
    yield pa.record_batch({"tags": pa.array([["a"], [], None], pa.large_list(pa.string()))})
    yield pa.record_batch({"fixed": pa.array([[1, 2], None, [3, None]], pa.list_(pa.int64(), 2))})
    moments = pa.list_(pa.timestamp("ms", "UTC"), 2)
    when = dt.datetime(2024, 1, 1, tzinfo=UTC)
    yield pa.record_batch({"fixed": pa.array([[when, when], None], moments)})
    yield pa.record_batch({"nested": pa.array([[[1], [2, 3]], None, [[], None]])})
    objects = [
        {"w": 1, "h": {"x": "y", "z": [1.5, None]}},
        None,
        {"w": None, "h": None},
        {"w": 3, "h": {"x": None, "z": []}},
    ]
    yield pa.record_batch({"s": pa.array(objects)})
    yield pa.record_batch({"ls": pa.array([[{"a": 1}, None, {"a": None}], None, []])})
    entries = pa.map_(pa.string(), pa.int64())
    yield pa.record_batch({"m": pa.array([[("k", 1), ("j", None)], None, []], entries)})
    yield pa.record_batch({"empty": pa.array([{}, None, {}], pa.struct([]))})
    union = pa.UnionArray.from_sparse(
        pa.array([0, 1, 0], pa.int8()), [pa.array([1, 2, 3]), pa.array(["a", "b", "c"])]
    )
    yield pa.record_batch({"u": union})


def other_batches() -> Iterator[pa.RecordBatch]:
    yield pa.record_batch({"id": [1, 2], "name": ["a", None]})
    for text_type in (pa.string(), pa.large_string(), pa.string_view()):
        yield pa.record_batch({"s": pa.array(STRINGS, text_type)})
    yield pa.record_batch({"s": pa.array(STRINGS[:9])})  # two-character escapes only
    for float_type in (pa.float16(), pa.float32(), pa.float64()):
        values = [1.5, None] if float_type == pa.float16() else FLOATS
        yield pa.record_batch({"f": pa.array(values, float_type)})
    rng = random.Random(4)
    spread = [rng.uniform(-1, 1) * 10 ** rng.randint(-320, 300) for _ in range(2_000)]
    yield pa.record_batch({"f": pa.array(spread)})
    yield pa.record_batch({"f": pa.array([rng.random() for _ in range(2_000)], pa.float32())})
    yield pa.record_batch({"b": pa.array([True, False, None])})
    yield pa.record_batch({"n": pa.nulls(3)})
    decimals = [Decimal("1.50"), Decimal("-0.001"), None]
    yield pa.record_batch({"d": pa.array(decimals, pa.decimal128(10, 3))})
    wide = [Decimal("12345678901234567890123456789.5"), None]
    yield pa.record_batch({"d": pa.array(wide, pa.decimal256(40, 1))})
    yield pa.record_batch({"bin": pa.array([b"\x00\xff", b"", None])})
    yield pa.record_batch({"bin": pa.array([b"\x00\xff", None], pa.large_binary())})
    yield pa.record_batch({"dict": pa.array(["a", "b", None, "a"]).dictionary_encode()})
    moments = pa.array([dt.datetime(2024, 1, 1), dt.datetime(2025, 1, 1)], pa.timestamp("us"))
    yield pa.record_batch({"dict": pa.DictionaryArray.from_arrays(pa.array([0, 1, None]), moments)})
    yield pa.record_batch({'we"ird\nkey é': [1, None], "": ["empty", "key"]})
    yield pa.RecordBatch.from_pydict({}, schema=pa.schema([]))
    demo = pa.RecordBatch.from_pylist([make_record(i) for i in range(300)])
    yield demo
    yield demo.slice(7, 100)  # offsets that do not start at 0, in every column
    yield pa.record_batch({"ls": pa.array([[1, 2], [3], None, [4, 5, 6]])}).slice(1, 3)
    # sliced where the lists before are empty: the offsets start at 0 but are a slice
    yield pa.record_batch({"ls": pa.array([[], None, [1], None, [2]])}).slice(1, 4)


CORPUS = [*integer_batches(), *temporal_batches(), *nested_batches(), *other_batches()]


@pytest.mark.parametrize("batch", CORPUS, ids=lambda batch: str(batch.schema).split("\n")[0])
def test_column_wise_rows_equal_row_by_row_encoding(batch):
    assert batch_to_json_lines(batch) == row_by_row(batch)


RANDOM_SCHEMA = pa.schema(
    [
        ("i", pa.int32()),
        ("f", pa.float64()),
        ("s", pa.string()),
        ("b", pa.bool_()),
        ("l", pa.list_(pa.string())),
        ("ll", pa.large_list(pa.int64())),
        ("fx", pa.list_(pa.float32(), 2)),
        ("st", pa.struct([("x", pa.int64()), ("y", pa.list_(pa.struct([("z", pa.string())])))])),
        ("ts", pa.timestamp("ms", "UTC")),
        ("d", pa.dictionary(pa.int8(), pa.string())),
    ]
)
PIECES = ["", "a", 'q"', "\\", "\n", "\x01", "é", "😀", ",", " "]


def random_record(rng: random.Random) -> dict[str, object]:
    def maybe(value: object) -> object:
        return None if rng.random() < 0.2 else value

    def text() -> object:
        return maybe("".join(rng.choice(PIECES) for _ in range(rng.randint(0, 4))))

    floats = [rng.random() * 10 ** rng.randint(-30, 30), float("nan"), -0.0, 1e16]
    inner = [maybe({"z": text()}) for _ in range(rng.randint(0, 2))]
    return {
        "i": maybe(rng.randint(-(2**31), 2**31 - 1)),
        "f": maybe(rng.choice(floats)),
        "s": text(),
        "b": maybe(rng.random() < 0.5),
        "l": maybe([text() for _ in range(rng.randint(0, 3))]),
        "ll": maybe([maybe(rng.randint(-5, 5)) for _ in range(rng.randint(0, 3))]),
        "fx": maybe([maybe(rng.random()) for _ in range(2)]),
        "st": maybe({"x": maybe(rng.randint(0, 9)), "y": maybe(inner)}),
        "ts": maybe(rng.randint(-(10**12), 10**13)),
        "d": maybe(rng.choice(["a", "b", "c\n"])),
    }


@pytest.mark.parametrize("seed", range(4))
def test_random_nested_slices_equal_row_by_row_encoding(seed):
    # Nulls at every level and slices at every offset: the encoder reads offsets and
    # validity the way to_pylist() does.
    rng = random.Random(seed)
    for _ in range(40):
        records = [random_record(rng) for _ in range(rng.randint(1, 40))]
        batch = pa.Table.from_pylist(records, schema=RANDOM_SCHEMA).combine_chunks()
        whole = batch.to_batches()[0]
        start = rng.randint(0, whole.num_rows - 1)
        piece = whole.slice(start, rng.randint(0, whole.num_rows - start))
        assert batch_to_json_lines(piece) == row_by_row(piece)


def test_bytes_under_a_null_string_are_not_written():
    # Arrow allows any bytes in a null slot; a quote there must not leak into the row.
    data = pa.py_buffer(b'ab"\x01c')
    offsets = pa.py_buffer(pa.array([0, 2, 4, 5], pa.int32()).buffers()[1])
    validity = pa.py_buffer(bytes([0b101]))
    strings = pa.StringArray.from_buffers(3, offsets, data, validity)
    batch = pa.record_batch({"s": strings})
    assert batch_to_json_lines(batch) == [b'{"s":"ab"}', b'{"s":null}', b'{"s":"c"}']
    assert batch_to_json_lines(batch) == row_by_row(batch)


def test_a_repeated_name_keeps_its_first_place_and_its_last_value():
    batch = pa.RecordBatch.from_arrays(
        [pa.array([1]), pa.array(["a"]), pa.array([3])], names=["x", "y", "x"]
    )
    assert batch_to_json_lines(batch) == [b'{"x":3,"y":"a"}'] == row_by_row(batch)


def test_a_struct_with_a_repeated_field_name_is_refused_as_by_pyarrow():
    inner = pa.StructArray.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])
    nested = pa.record_batch({"s": inner})
    with pytest.raises(ValueError, match="duplicate field names"):
        row_by_row(nested)
    with pytest.raises(ValueError, match="duplicate field names"):
        batch_to_json_lines(nested)


def test_a_batch_without_columns_gives_empty_objects():
    batch = pa.RecordBatch.from_struct_array(pa.array([{}, {}], pa.struct([])))
    assert batch_to_json_lines(batch) == [b"{}", b"{}"] == row_by_row(batch)


def test_an_empty_batch_gives_no_rows():
    assert batch_to_json_lines(pa.record_batch({"id": pa.array([], pa.int64())})) == []


def test_nan_and_infinities_become_null_as_orjson_writes_them():
    batch = pa.record_batch({"f": [float("nan"), float("inf"), 1.0]})
    assert batch_to_json_lines(batch) == [b'{"f":null}', b'{"f":null}', b'{"f":1.0}']


def test_docstring_examples_run():
    result = doctest.testmod(json_rows, extraglobs={"pa": pa})
    assert result.attempted > 0
    assert result.failed == 0
