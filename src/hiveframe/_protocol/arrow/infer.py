"""Decoded JSON records to an Arrow table, never losing a value (the rules are listed in
:mod:`hiveframe._protocol.arrow`). Pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from hiveframe._protocol.arrow.conform import conform_tables
from hiveframe._protocol.arrow.render import ARROW_ERRORS, is_list_like, value_text

__all__ = ["VALUE_COLUMN", "conform_inferred", "records_to_table"]

VALUE_COLUMN = "value"
"""The column that holds records which are not JSON objects."""


def records_to_table(
    records: Sequence[Any], schema: pa.Schema | None = None, *, page: int | None = None
) -> pa.Table:
    """Turn decoded JSON records into an Arrow table, never losing a value.

    Parameters
    ----------
    records
        Decoded JSON values, usually dicts. A record that is not a mapping becomes
        ``{"value": record}``.
    schema
        The exact schema wanted. Without it the schema is inferred (see the module
        docstring for how conflicting values are kept as text).
    page
        The page the records came from, reported by :class:`SchemaDriftError`.

    Returns
    -------
    pyarrow.Table
        One row per record. No records give a table with no columns (or an empty table
        of ``schema``); records with no fields give rows with no columns.

    Raises
    ------
    SchemaDriftError
        With ``schema``, when a value cannot be converted to its field's type, or a
        non-nullable field is null or missing.

    Example
    -------
    >>> records_to_table([{"id": 1}, {"id": "b7"}]).column("id").to_pylist()
    ['1', 'b7']
    """
    # Records are nearly always dicts: one C-level check then spares a call per record.
    rows = records if set(map(type, records)) <= {dict} else list(map(_as_row, records))
    return conform_inferred(_infer_table(list(rows)), schema, page=page)


def conform_inferred(
    table: pa.Table, schema: pa.Schema | None, *, page: int | None = None
) -> pa.Table:
    """A table inferred from records, in ``schema``: what :func:`records_to_table` returns.

    ``table`` is what :func:`records_to_table` gives the records without a schema (the
    columnar decoder builds such tables from the bytes); ``None`` leaves it as it is.
    """
    if schema is None:
        return table
    return conform_tables([table], schema, pages=[page])


def _as_row(record: Any) -> dict[Any, Any]:
    if isinstance(record, dict):
        return record
    if isinstance(record, Mapping):
        return dict(record)
    return {VALUE_COLUMN: record}


def _infer_table(rows: list[dict[Any, Any]]) -> pa.Table:
    if not rows:
        return pa.table({})
    try:
        # Fast path: one pass, keys unioned in first-seen order, types inferred by Arrow.
        struct = pa.array(rows)
        if not any(_has_empty_struct(field.type) for field in struct.type):
            return pa.Table.from_struct_array(struct)
    except ARROW_ERRORS:
        pass
    keys = list(dict.fromkeys(key for row in rows for key in row))
    columns = [_infer_column([row.get(key) for row in rows]) for key in keys]
    return pa.Table.from_arrays(columns, names=[str(key) for key in keys])


def _infer_column(values: list[Any]) -> pa.Array:
    try:
        array = pa.array(values)
        if not _has_empty_struct(array.type):
            return array
    except ARROW_ERRORS:
        pass
    present = [value for value in values if value is not None]
    if all(isinstance(value, Mapping) for value in present):
        return _infer_struct(values)
    if all(isinstance(value, (list, tuple)) for value in present):
        return _infer_list(values)
    return pa.array([value_text(value) for value in values], pa.string())


def _infer_struct(values: list[Any]) -> pa.Array:
    keys = list(dict.fromkeys(key for value in values if value is not None for key in value))
    if not keys:
        return pa.array([value_text(value) for value in values], pa.string())
    children = [
        _infer_column([None if value is None else value.get(key) for value in values])
        for key in keys
    ]
    mask = pa.array([value is None for value in values], pa.bool_())
    return pa.StructArray.from_arrays(children, names=[str(key) for key in keys], mask=mask)


def _infer_list(values: list[Any]) -> pa.Array:
    offsets = [0]
    flat: list[Any] = []
    for value in values:
        if value is not None:
            flat.extend(value)
        offsets.append(len(flat))
    mask = pa.array([value is None for value in values], pa.bool_())
    offset_type = pa.int32() if len(flat) < 2**31 else pa.int64()
    list_class = pa.ListArray if offset_type == pa.int32() else pa.LargeListArray
    return list_class.from_arrays(pa.array(offsets, offset_type), _infer_column(flat), mask=mask)


def _has_empty_struct(data_type: pa.DataType) -> bool:
    if pa.types.is_struct(data_type):
        return data_type.num_fields == 0 or any(_has_empty_struct(f.type) for f in data_type)
    if is_list_like(data_type):
        return _has_empty_struct(data_type.value_type)
    return False
