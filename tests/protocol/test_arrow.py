"""Records -> Arrow, page concatenation and Arrow -> JSON (hiveframe._protocol.arrow)."""

from __future__ import annotations

import base64
import datetime as dt
import doctest
import types
from decimal import Decimal

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hiveframe._protocol.arrow import conform, infer, render
from hiveframe._protocol.arrow.conform import concat_tables
from hiveframe._protocol.arrow.infer import records_to_table
from hiveframe._protocol.arrow.json_rows import batch_to_json_lines
from hiveframe._protocol.arrow.render import column_to_text
from hiveframe.errors import SchemaDriftError

UTC = dt.timezone.utc


def column(table: pa.Table, name: str) -> list[object]:
    return table.column(name).to_pylist()


# --------------------------------------------------------------------------- records, no schema


def test_clean_records_keep_their_types_and_values():
    records = [{"id": 1, "name": "ada", "score": 1.5, "ok": True}, {"id": 2, "name": None}]
    table = records_to_table(records)
    assert table.schema == pa.schema(
        [("id", pa.int64()), ("name", pa.string()), ("score", pa.float64()), ("ok", pa.bool_())]
    )
    assert table.to_pylist() == [
        {"id": 1, "name": "ada", "score": 1.5, "ok": True},
        {"id": 2, "name": None, "score": None, "ok": None},
    ]


def test_fields_are_unioned_in_first_seen_order():
    table = records_to_table([{"b": 1}, {"a": 2, "b": 3}, {"c": 4}])
    assert table.column_names == ["b", "a", "c"]
    assert column(table, "a") == [None, 2, None]


def test_no_records_give_an_empty_table_without_columns():
    table = records_to_table([])
    assert (table.num_rows, table.num_columns) == (0, 0)


def test_records_without_fields_keep_their_rows():
    table = records_to_table([{}, {}])
    assert (table.num_rows, table.num_columns) == (2, 0)


def test_a_record_that_is_not_an_object_goes_to_the_value_column():
    table = records_to_table([{"a": 1}, 5, "x", [1]])
    assert table.column_names == ["a", "value"]
    assert column(table, "value") == [None, "5", "x", "[1]"]
    assert column(records_to_table([1, 2]), "value") == [1, 2]


def test_mappings_that_are_not_dicts_are_records():
    table = records_to_table([types.MappingProxyType({"a": 1})])
    assert table.to_pylist() == [{"a": 1}]


def test_int_and_string_in_one_field_become_text():
    table = records_to_table([{"a": 1}, {"a": "x"}, {"a": None}, {}])
    assert table.schema.field("a").type == pa.string()
    assert column(table, "a") == ["1", "x", None, None]


def test_bool_and_int_in_one_field_become_text():
    assert column(records_to_table([{"a": True}, {"a": 1}]), "a") == ["true", "1"]


def test_int_and_float_promote_to_float64():
    table = records_to_table([{"a": 1}, {"a": 2.5}])
    assert table.schema.field("a").type == pa.float64()
    assert column(table, "a") == [1.0, 2.5]


def test_object_against_scalar_becomes_json_text():
    table = records_to_table([{"a": {"b": 1, "c": [True, None]}}, {"a": 5}, {"a": "s"}])
    assert column(table, "a") == ['{"b":1,"c":[true,null]}', "5", "s"]


def test_list_against_scalar_becomes_json_text():
    assert column(records_to_table([{"a": [1, 2]}, {"a": 3}]), "a") == ["[1,2]", "3"]


def test_drift_inside_an_object_turns_only_that_sub_field_to_text():
    table = records_to_table([{"a": {"b": 1, "n": 1}}, {"a": {"b": "x", "n": 2}}, {"a": None}])
    assert table.schema.field("a").type == pa.struct([("b", pa.string()), ("n", pa.int64())])
    assert column(table, "a") == [{"b": "1", "n": 1}, {"b": "x", "n": 2}, None]


def test_sub_fields_are_unioned_inside_objects():
    table = records_to_table([{"a": {"b": 1}}, {"a": {"c": "x"}}])
    assert column(table, "a") == [{"b": 1, "c": None}, {"b": None, "c": "x"}]


def test_mixed_list_elements_become_text_elements():
    table = records_to_table([{"a": [1, "x", None]}, {"a": [2.5]}, {"a": None}, {"a": []}])
    assert table.schema.field("a").type == pa.list_(pa.string())
    assert column(table, "a") == [["1", "x", None], ["2.5"], None, []]


def test_drift_inside_objects_inside_lists():
    table = records_to_table([{"a": [{"x": 1}]}, {"a": [{"x": "y"}, {"x": {"z": 1}}]}])
    assert column(table, "a") == [[{"x": "1"}], [{"x": "y"}, {"x": '{"z":1}'}]]


def test_ints_beyond_int64_are_kept_exactly_as_text():
    huge = 2**70
    table = records_to_table([{"a": huge}, {"a": 3}, {"a": -(2**64)}])
    assert column(table, "a") == [str(huge), "3", str(-(2**64))]


def test_int64_bounds_stay_integers():
    values = [2**63 - 1, -(2**63)]
    table = records_to_table([{"a": value} for value in values])
    assert table.schema.field("a").type == pa.int64()
    assert column(table, "a") == values


def test_huge_ints_inside_text_fallback_objects_are_exact():
    table = records_to_table([{"a": {"b": 2**70}}, {"a": 1}])
    assert column(table, "a") == [f'{{"b":{2**70}}}', "1"]


def test_an_always_empty_object_becomes_text_and_stays_writable(tmp_path):
    table = records_to_table([{"a": {}, "n": 1}, {"a": None, "n": 2}, {"a": {"e": {}}, "n": 3}])
    assert column(table, "a") == [{"e": None}, None, {"e": "{}"}]
    only_empty = records_to_table([{"a": {}}, {"a": None}])
    assert column(only_empty, "a") == ["{}", None]
    pq.write_table(table, tmp_path / "t.parquet")  # an empty struct would make this fail
    assert pq.read_table(tmp_path / "t.parquet").equals(table)


def test_text_keeps_non_ascii_characters():
    table = records_to_table([{"a": "é"}, {"a": {"k": "日本"}}])
    assert column(table, "a") == ["é", '{"k":"日本"}']


def test_python_values_in_records_are_rendered_when_they_conflict():
    when = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    table = records_to_table([{"a": when}, {"a": Decimal("1E-10")}, {"a": b"\x00\x01"}])
    assert column(table, "a") == ["2024-01-02T03:04:05+00:00", "0.0000000001", "AAE="]


def test_messy_page_loses_no_value():
    records = [
        {"id": 1, "v": 1, "o": {"k": [1, 2]}},
        {"id": 2, "v": "two", "o": {"k": "scalar"}, "new": True},
        {"id": 3, "v": [3], "o": None},
        "bare",
    ]
    rows = records_to_table(records).to_pylist()
    assert [row["id"] for row in rows] == [1, 2, 3, None]
    assert [row["v"] for row in rows] == ["1", "two", "[3]", None]
    assert [row["o"] for row in rows] == [{"k": "[1,2]"}, {"k": "scalar"}, None, None]
    assert [row["new"] for row in rows] == [None, True, None, None]
    assert rows[3]["value"] == "bare"


# --------------------------------------------------------------------------- records, schema

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


def test_schema_gives_exactly_that_schema():
    table = records_to_table([{"extra": 1, "id": 7}], SCHEMA)
    assert table.schema == SCHEMA
    assert table.to_pylist() == [
        {"id": 7, "at": None, "price": None, "note": None, "obj": None, "tags": None}
    ]


def test_schema_converts_values_safely():
    record = {
        "id": "12",
        "at": "2024-05-01T14:00:00+02:00",
        "price": "12345678901234567890.0000000001",
        "note": {"any": [1]},
        "obj": {"x": 3.0, "dropped": 1},
        "tags": [1, "2"],
    }
    row = records_to_table([record], SCHEMA).to_pylist()[0]
    assert row["id"] == 12
    assert row["at"] == dt.datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert row["price"] == Decimal("12345678901234567890.0000000001")
    assert row["note"] == '{"any":[1]}'
    assert row["obj"] == {"x": 3}
    assert row["tags"] == [1, 2]


def test_schema_with_no_records_gives_an_empty_table_of_that_schema():
    table = records_to_table([], SCHEMA)
    assert table.schema == SCHEMA and table.num_rows == 0


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"id": 1.5}, "id"),  # never truncated to 1
        ({"id": "x"}, "id"),
        ({"id": 2**40}, "id"),  # beyond int32
        ({"obj": {"x": "bad"}}, "obj.x"),
        ({"obj": 5}, "obj"),
        ({"tags": [1, "x"]}, "tags[]"),
        ({"tags": 5}, "tags"),
        ({"at": "yesterday"}, "at"),
    ],
)
def test_schema_refuses_values_it_cannot_convert(record, field):
    with pytest.raises(SchemaDriftError) as caught:
        records_to_table([{"id": 1}, record], SCHEMA)
    assert caught.value.field == field
    assert caught.value.page is None


def test_schema_errors_name_the_page_when_told():
    with pytest.raises(SchemaDriftError) as caught:
        records_to_table([{"id": "x"}], SCHEMA, page=4)
    assert (caught.value.field, caught.value.page) == ("id", 4)
    assert "on page 4" in str(caught.value)


def test_schema_refuses_nulls_in_non_nullable_fields():
    schema = pa.schema([pa.field("id", pa.int64(), nullable=False)])
    assert records_to_table([{"id": 1}], schema).to_pylist() == [{"id": 1}]
    with pytest.raises(SchemaDriftError, match="non-nullable"):
        records_to_table([{"id": 1}, {}], schema)


# --------------------------------------------------------------------------- concat_tables


def test_concat_of_nothing_is_empty():
    assert concat_tables([]).num_columns == 0
    assert concat_tables([], SCHEMA).schema == SCHEMA


def test_concat_of_equal_schemas_keeps_chunks():
    pages = [pa.table({"a": [1, 2]}), pa.table({"a": [3]})]
    table = concat_tables(pages)
    assert column(table, "a") == [1, 2, 3]
    assert table.column("a").num_chunks == 2


def test_concat_unions_fields_in_first_seen_order():
    pages = [pa.table({"b": [1], "a": [1]}), pa.table({"c": ["x"], "a": [2]})]
    table = concat_tables(pages)
    assert table.column_names == ["b", "a", "c"]
    assert table.to_pylist() == [{"b": 1, "a": 1, "c": None}, {"b": None, "a": 2, "c": "x"}]


def test_concat_promotes_int_and_float_and_null():
    pages = [pa.table({"a": [1], "n": pa.nulls(1)}), pa.table({"a": [2.5], "n": ["x"]})]
    table = concat_tables(pages)
    assert table.schema == pa.schema([("a", pa.float64()), ("n", pa.string())])


def test_concat_type_change_between_pages_becomes_text():
    pages = [pa.table({"a": [1, None]}), pa.table({"a": ["x"]}), pa.table({"a": [True]})]
    table = concat_tables(pages)
    assert table.schema.field("a").type == pa.string()
    assert column(table, "a") == ["1", None, "x", "true"]


def test_concat_drift_inside_a_struct_changes_only_that_sub_field():
    first = records_to_table([{"s": {"b": 1, "keep": 1.5}}])
    second = records_to_table([{"s": {"b": "x", "new": [1]}}])
    table = concat_tables([first, second])
    assert table.schema.field("s").type == pa.struct(
        [("b", pa.string()), ("keep", pa.float64()), ("new", pa.list_(pa.int64()))]
    )
    assert column(table, "s") == [
        {"b": "1", "keep": 1.5, "new": None},
        {"b": "x", "keep": None, "new": [1]},
    ]


def test_concat_drift_inside_lists():
    pages = [pa.table({"a": [[1, 2], None]}), pa.table({"a": [["x"]]})]
    table = concat_tables(pages)
    assert column(table, "a") == [["1", "2"], None, ["x"]]


def test_concat_struct_against_scalar_becomes_json_text():
    pages = [pa.table({"a": [{"b": 1}]}), pa.table({"a": [7]})]
    assert column(concat_tables(pages), "a") == ['{"b":1}', "7"]


def test_concat_timestamp_against_string_renders_iso_text():
    when = pa.array([dt.datetime(2024, 1, 1, tzinfo=UTC)], pa.timestamp("s", tz="UTC"))
    table = concat_tables([pa.table({"a": when}), pa.table({"a": ["soon"]})])
    assert column(table, "a") == ["2024-01-01T00:00:00+00:00", "soon"]


def test_concat_keeps_values_arrow_promises_but_cannot_cast():
    # Arrow unifies int64 with uint64 as int64, then fails on the biggest uint64.
    pages = [pa.table({"a": [1]}), pa.table({"a": pa.array([2**64 - 1], pa.uint64())})]
    assert column(concat_tables(pages), "a") == ["1", str(2**64 - 1)]


def test_concat_of_sliced_pages():
    page = pa.table({"s": [{"b": 1}, None, {"b": 3}], "l": [[1], None, [2, 3]]}).slice(1)
    other = pa.table({"s": [{"b": "x"}], "l": [["y"]]})
    table = concat_tables([page, other])
    assert table.to_pylist() == [
        {"s": None, "l": None},
        {"s": {"b": "3"}, "l": ["2", "3"]},
        {"s": {"b": "x"}, "l": ["y"]},
    ]


def test_schema_drift_between_pages_promote_and_strict():
    # docs/reliability.md test 11: page 2 turns price into a string and adds tag.
    page1 = records_to_table([{"id": 1, "price": 12}])
    page2 = records_to_table([{"id": 2, "price": "12.5", "tag": "new"}])
    promoted = concat_tables([page1, page2])
    assert promoted.to_pylist() == [
        {"id": 1, "price": "12", "tag": None},
        {"id": 2, "price": "12.5", "tag": "new"},
    ]
    strict = pa.schema([("id", pa.int64()), ("price", pa.int64()), ("tag", pa.string())])
    with pytest.raises(SchemaDriftError) as caught:
        concat_tables([page1, page2], strict)
    assert (caught.value.field, caught.value.page) == ("price", 2)


def test_concat_with_schema_converts_each_page():
    schema = pa.schema([("price", pa.decimal128(10, 2)), ("tag", pa.string())])
    pages = [pa.table({"price": [12], "x": [0]}), pa.table({"price": ["12.50"]})]
    table = concat_tables(pages, schema)
    assert table.schema == schema
    assert column(table, "price") == [Decimal("12.00"), Decimal("12.50")]
    assert column(table, "tag") == [None, None]


# --------------------------------------------------------------------------- Arrow -> JSON


def lines(batch: pa.RecordBatch) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in batch_to_json_lines(batch)]


def test_json_lines_are_compact_objects_one_per_row():
    batch = pa.record_batch({"id": [1, 2], "name": ["a", None]})
    assert batch_to_json_lines(batch) == [b'{"id":1,"name":"a"}', b'{"id":2,"name":null}']


def test_json_lines_of_an_empty_batch():
    assert batch_to_json_lines(pa.record_batch({"id": pa.array([], pa.int64())})) == []


@pytest.mark.parametrize(
    ("data_type", "value", "expected"),
    [
        (pa.timestamp("us", "UTC"), 1_700_000_000_123_456, "2023-11-14T22:13:20.123456+00:00"),
        (pa.timestamp("s", "Europe/Paris"), 1_700_000_000, "2023-11-14T23:13:20+01:00"),
        (pa.timestamp("s", "Europe/Paris"), 1_690_000_000, "2023-07-22T06:26:40+02:00"),
        (pa.timestamp("ms", "+05:30"), 0, "1970-01-01T05:30:00.000+05:30"),
        (pa.timestamp("ns", "UTC"), 1, "1970-01-01T00:00:00.000000001+00:00"),
        (pa.timestamp("us"), 0, "1970-01-01T00:00:00.000000"),  # naive: no offset
        (pa.date32(), 19_000, "2022-01-08"),
        (pa.time64("us"), 3_723_000_004, "01:02:03.000004"),
        (pa.duration("ms"), 1_500, "PT1.5S"),
        (pa.duration("ns"), -1, "-PT0.000000001S"),
        (pa.duration("s"), 90_061, "PT90061S"),
        (pa.binary(), b"\x00\xff", base64.b64encode(b"\x00\xff").decode()),
        (pa.uint64(), 2**64 - 1, 2**64 - 1),
        (pa.float64(), float("nan"), None),
        (pa.bool_(), True, True),
    ],
)
def test_json_renders_arrow_scalars(data_type, value, expected):
    batch = pa.record_batch({"v": pa.array([value, None], data_type)})
    assert lines(batch) == [{"v": expected}, {"v": None}]


def test_json_renders_decimals_exactly_as_strings():
    values = [
        Decimal("12345678901234567890123456.1234567890"),
        Decimal("0.0000000001"),
        Decimal("-1.5000000000"),
    ]
    batch = pa.record_batch({"d": pa.array(values, pa.decimal128(38, 10))})
    assert [row["d"] for row in lines(batch)] == [
        "12345678901234567890123456.1234567890",
        "0.0000000001",
        "-1.5000000000",
    ]


def test_json_renders_nested_values_and_nulls():
    when = pa.timestamp("ns", "UTC")
    struct = pa.struct([("at", when), ("tags", pa.list_(pa.string()))])
    data = pa.array(
        [{"at": 5, "tags": ["a", None]}, None, {"at": None, "tags": []}],
        pa.struct([("at", pa.int64()), ("tags", pa.list_(pa.string()))]),
    ).cast(struct)
    times = pa.array([[1, None], None, []], pa.list_(when))
    batch = pa.record_batch({"s": data, "times": times})
    assert lines(batch) == [
        {
            "s": {"at": "1970-01-01T00:00:00.000000005+00:00", "tags": ["a", None]},
            "times": ["1970-01-01T00:00:00.000000001+00:00", None],
        },
        {"s": None, "times": None},
        {"s": {"at": None, "tags": []}, "times": []},
    ]


def test_json_renders_sliced_nested_columns():
    times = pa.array([[0], None, [1_000_000]], pa.list_(pa.timestamp("us")))
    batch = pa.record_batch({"t": times}).slice(1)
    assert lines(batch) == [{"t": None}, {"t": ["1970-01-01T00:00:01.000000"]}]


def test_json_renders_dictionary_and_fixed_size_list_columns():
    labels = pa.array(["a", "b", "a"]).dictionary_encode()
    times = pa.array([[0], [1], [2]], pa.list_(pa.timestamp("s"), 1))
    assert lines(pa.record_batch({"l": labels, "t": times}))[2] == {
        "l": "a",
        "t": ["1970-01-01T00:00:02"],
    }


# --------------------------------------------------------------------------- column_to_text


def test_column_to_text_leaves_strings_alone():
    strings = pa.array(["a", None])
    assert column_to_text(strings) is strings


def test_column_to_text_renders_scalars_bare_and_containers_as_json():
    assert column_to_text(pa.array([1.5, None])).to_pylist() == ["1.5", None]
    assert column_to_text(pa.array([{"b": [1]}])).to_pylist() == ['{"b":[1]}']
    assert column_to_text(pa.array([float("inf")])).to_pylist() == ["inf"]
    decimals = pa.array([Decimal("0.10")], pa.decimal128(5, 2))
    assert column_to_text(decimals).to_pylist() == ["0.10"]


def test_column_to_text_of_chunked_arrays():
    chunked = pa.chunked_array([[1], [2, None]])
    text = column_to_text(chunked)
    assert text.type == pa.string()
    assert text.to_pylist() == ["1", "2", None]


@pytest.mark.parametrize("module", [infer, conform, render])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, extraglobs={"pa": pa})
    assert result.attempted > 0
    assert result.failed == 0


def test_numbers_convert_to_decimals_through_their_shortest_text():
    schema = pa.schema([("d", pa.decimal128(10, 2))])
    table = records_to_table([{"d": 12}, {"d": 0.1}, {"d": "3.5"}], schema)
    assert column(table, "d") == [Decimal("12.00"), Decimal("0.10"), Decimal("3.50")]
    with pytest.raises(SchemaDriftError, match="'d'"):
        records_to_table([{"d": 1.005}], schema)  # would need 3 decimal places
    with pytest.raises(SchemaDriftError):
        records_to_table([{"d": 10**12}], schema)  # beyond precision 10


# --------------------------------------------------------------------------- pages told apart

TableKey = conform.TableKey


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        ({"id": [1, 2], "x": ["a", "b"]}, {"id": [1, 2], "x": ["a", "b"]}, True),
        ({"id": [1, 2], "x": ["a", "b"]}, {"id": [1, 2], "x": ["a", "c"]}, False),  # same probe
        ({"id": [1, 2, 3]}, {"id": [1, 5, 3]}, False),  # first and last agree, not the middle
        ({"id": [1, 2]}, {"id": [2, 2]}, False),  # the probes differ
        ({"id": [1, 2]}, {"id": [1]}, False),
        ({"id": ["a", None]}, {"id": ["a", None]}, True),  # text, and a null as last value
        ({"id": [1.5, 2.5]}, {"id": [1.5, 2.5]}, True),  # no probe of floats: Arrow decides
        ({"id": [1.5, 2.5]}, {"id": [1.5, 3.5]}, False),
        ({"o": [{"a": 1}]}, {"o": [{"a": 2}]}, False),
        ({"id": [1]}, {"id": [1.0]}, False),  # 1 == 1.0 in Python, not in Arrow
        ({"id": [1]}, {"other": [1]}, False),
        ({}, {}, True),
    ],
)
def test_table_keys_are_equal_exactly_when_the_tables_are(left, right, equal):
    one, two = pa.table(left), pa.table(right)
    assert one.equals(two) is equal
    assert (TableKey(one) == TableKey(two)) is equal
    assert (TableKey(two) == TableKey(one)) is equal


def test_table_keys_ignore_chunks_and_slices():
    table = pa.table({"id": [0, 1, 2, 3], "s": ["a", "b", None, "d"]})
    chunked = pa.concat_tables([table.slice(0, 1), table.slice(1, 2), table.slice(3)])
    assert TableKey(table) == TableKey(chunked)
    sliced = pa.concat_tables([table, table]).slice(4)
    assert TableKey(sliced) == TableKey(table)
    assert TableKey(table.slice(1)) != TableKey(table.slice(0, 3))
    assert TableKey(table) != table  # only keys compare
