"""One schema for the batches of a read (hiveframe._protocol.arrow.conform.RunningSchema)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from hiveframe._protocol.arrow.conform import RunningSchema, concat_tables
from hiveframe._protocol.arrow.infer import records_to_table


def conformed(*pages: list[dict[str, object]]) -> list[pa.Table]:
    running = RunningSchema()
    return [running.conform(records_to_table(records)) for records in pages]


def test_pages_with_the_first_schema_pass_through_as_they_are():
    first = records_to_table([{"id": 1, "name": "a"}])
    running = RunningSchema()
    assert running.conform(first) is first
    second = records_to_table([{"id": 2, "name": "b"}])
    assert running.conform(second) is second
    assert running.schema == first.schema


@pytest.mark.parametrize(
    ("later", "values"),
    [
        ({"id": 2}, [None]),  # a missing field is null
        ({"id": 2, "v": 7}, ["7"]),  # a number where the schema has text: rendered
        ({"id": 2, "v": {"a": [1]}}, ['{"a":[1]}']),  # an object: compact JSON text
        ({"id": 2, "v": [1, 2]}, ["[1,2]"]),
        ({"id": 2, "v": True}, ["true"]),
    ],
)
def test_a_page_that_fits_the_first_schema_is_converted_to_it(later, values):
    first, second = conformed([{"id": 1, "v": "text"}], [later])
    assert second.schema == first.schema
    assert second.column("v").to_pylist() == values


def test_an_int_where_the_schema_has_a_float_is_cast():
    first, second = conformed([{"price": 1.5}], [{"price": 2}])
    assert second.schema == first.schema
    assert second.column("price").to_pylist() == [2.0]


@pytest.mark.parametrize(
    ("pages", "types"),
    [
        # int64, then text: the field becomes text from that page on
        ([[{"v": 1}], [{"v": "two"}], [{"v": 3}]], [pa.int64(), pa.string(), pa.string()]),
        # int64, then a float: the field becomes float64
        ([[{"v": 1}], [{"v": 2.5}], [{"v": 3}]], [pa.int64(), pa.float64(), pa.float64()]),
        # a field null on the first page takes the type that arrives
        ([[{"v": None}], [{"v": "x"}]], [pa.null(), pa.string()]),
        # int64, then an object: text
        ([[{"v": 1}], [{"v": {"a": 1}}]], [pa.int64(), pa.string()]),
    ],
)
def test_a_page_that_cannot_fit_widens_the_schema_and_later_pages_keep_it(pages, types):
    tables = conformed(*pages)
    assert [t.schema.field("v").type for t in tables] == types
    for table, records in zip(tables, pages, strict=True):
        assert table.num_rows == len(records)


def test_a_new_field_is_appended_and_stays():
    first, second, third = conformed(
        [{"id": 1}], [{"id": 2, "tag": "x"}], [{"id": 3, "extra": 1.5}]
    )
    assert [t.schema.names for t in (first, second, third)] == [
        ["id"],
        ["id", "tag"],
        ["id", "tag", "extra"],
    ]
    assert third.to_pylist() == [{"id": 3, "tag": None, "extra": 1.5}]


def test_a_struct_gains_a_sub_field_and_keeps_its_other_ones():
    first, second = conformed([{"s": {"a": 1}}], [{"s": {"b": "x"}}])
    assert second.schema.field("s").type == pa.struct([("a", pa.int64()), ("b", pa.string())])
    assert second.column("s").to_pylist() == [{"a": None, "b": "x"}]
    assert first.schema.field("s").type == pa.struct([("a", pa.int64())])


def test_the_batches_joined_give_what_concat_tables_gives_for_the_pages():
    pages = [
        [{"id": 1, "v": 1, "s": {"a": 1}}],
        [{"id": 2, "v": "two", "tag": "x"}],
        [{"id": 3, "v": {"a": 1}, "s": {"b": 2.5}}],
        [{"id": 4.5, "v": None}],
    ]
    tables = [records_to_table(records) for records in pages]
    assert concat_tables(conformed(*pages)).equals(concat_tables(tables))


def test_a_converted_page_has_no_empty_batches():
    for table in conformed([{"id": 1}], [{"id": 2, "tag": "x"}], [{"id": 3}]):
        assert [batch.num_rows for batch in table.to_batches()] == [1]
