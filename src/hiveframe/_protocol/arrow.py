"""Decoded JSON records to Arrow, and Arrow values back to JSON. Pure functions, no I/O.

Rules, shared by :func:`records_to_table` and :func:`concat_tables`:

* **Nothing is dropped without a schema.** Objects become struct columns, arrays list
  columns, a record that is not an object ``x`` becomes ``{"value": x}``. Fields keep the
  order in which they are first seen across records (and across pages).
* **Conflicts fall back to text at the deepest level that disagrees.** When Arrow cannot
  give one type to a set of values (int in one record and string in another, an object
  against a scalar, a list against a scalar, an int beyond 64 bits), those values become a
  string column: strings stay as they are and every other non-null value is written as
  compact JSON text (``1`` -> ``"1"``, ``{"b": 1}`` -> ``'{"b":1}'``). Inside an object
  only the sub-field that disagrees becomes text (``{"a": {"b": 1}}`` then
  ``{"a": {"b": "x"}}`` gives ``a: struct<b: string>``); inside a list only the
  elements do (``[1, "x"]`` gives ``list<string>``). An object that is always empty
  (``{}``) becomes text too, because Parquet and Polars cannot hold an empty struct.
  Int and float mix into float64, as Arrow does.
* **With a schema the result has exactly that schema.** Missing fields are null, extra
  fields are dropped, values are converted with Arrow's *safe* casts (``"12"`` -> 12,
  ``1.0`` -> 1, but never ``1.5`` -> 1); a value that cannot be converted raises
  :class:`~hiveframe.errors.SchemaDriftError` naming the field (``a.b`` inside objects,
  ``a[]`` for list elements). A string field accepts any value, rendered as above.

Arrow values rendered as JSON (:func:`batch_to_json_lines`, :func:`column_to_text`):
timestamps are ISO 8601 strings with as many fraction digits as the unit holds and, when
the Arrow type has a time zone, the offset in that zone (``2024-05-01T12:00:00.000000+00:00``);
a timestamp without a time zone is wall-clock time in an unknown zone (the Arrow
specification's meaning), so it is written without an offset. Dates and times are ISO 8601,
durations ISO 8601 seconds (``PT1.5S``), decimals strings with every digit of their scale
(``"12.5000000000"``), binary base64, maps lists of ``[key, value]`` pairs. NaN and
infinities become ``null`` in JSON documents.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa

from hiveframe.errors import SchemaDriftError

__all__ = [
    "VALUE_COLUMN",
    "RunningSchema",
    "batch_to_json_lines",
    "column_to_text",
    "concat_tables",
    "conform_inferred",
    "records_to_table",
    "table_digest",
]

VALUE_COLUMN = "value"
"""The column that holds records which are not JSON objects."""

# pyarrow reports conversion failures as ArrowInvalid/ArrowTypeError (ValueError/TypeError
# subclasses), ArrowNotImplementedError, and OverflowError for ints beyond 64 bits.
_ARROW_ERRORS = (pa.ArrowException, TypeError, ValueError, OverflowError)
_MAX_DETAIL = 300
_UNITS_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


# --------------------------------------------------------------------------- records -> Arrow


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
    return conform_inferred(
        _infer_table([_as_row(record) for record in records]), schema, page=page
    )


def conform_inferred(
    table: pa.Table, schema: pa.Schema | None, *, page: int | None = None
) -> pa.Table:
    """A table inferred from records, in ``schema``: what :func:`records_to_table` returns.

    ``table`` is what :func:`records_to_table` gives the records without a schema (the
    columnar decoder builds such tables from the bytes); ``None`` leaves it as it is.
    """
    if schema is None:
        return table
    return _conform_tables([table], schema, pages=[page])


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
    except _ARROW_ERRORS:
        pass
    keys = list(dict.fromkeys(key for row in rows for key in row))
    columns = [_infer_column([row.get(key) for row in rows]) for key in keys]
    return pa.Table.from_arrays(columns, names=[str(key) for key in keys])


def _infer_column(values: list[Any]) -> pa.Array:
    try:
        array = pa.array(values)
        if not _has_empty_struct(array.type):
            return array
    except _ARROW_ERRORS:
        pass
    present = [value for value in values if value is not None]
    if all(isinstance(value, Mapping) for value in present):
        return _infer_struct(values)
    if all(isinstance(value, (list, tuple)) for value in present):
        return _infer_list(values)
    return pa.array([_text(value) for value in values], pa.string())


def _infer_struct(values: list[Any]) -> pa.Array:
    keys = list(dict.fromkeys(key for value in values if value is not None for key in value))
    if not keys:
        return pa.array([_text(value) for value in values], pa.string())
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
    if _is_list_like(data_type):
        return _has_empty_struct(data_type.value_type)
    return False


# --------------------------------------------------------------------------- pages -> one table


def concat_tables(tables: Sequence[pa.Table], schema: pa.Schema | None = None) -> pa.Table:
    """Concatenate page tables whose schemas may differ, never dropping a column or value.

    Parameters
    ----------
    tables
        The pages, in order.
    schema
        The exact schema wanted; each page is converted to it as in
        :func:`records_to_table`.

    Returns
    -------
    pyarrow.Table
        Without ``schema``: the union of the pages' fields in first-seen order, a field
        missing from a page null there; types promoted by Arrow where it can (int and
        float give float64, a null column takes the other type); where pages disagree in a
        way Arrow cannot promote, the disagreeing (sub-)field becomes text as in
        :func:`records_to_table`. No tables give an empty table (of ``schema`` if given).

    Raises
    ------
    SchemaDriftError
        With ``schema``, when a page holds a value that cannot be converted. ``page`` is
        the 1-based position of that page in ``tables``.

    Example
    -------
    >>> pages = [pa.table({"id": [1]}), pa.table({"id": ["b7"], "tag": ["new"]})]
    >>> concat_tables(pages).to_pylist()
    [{'id': '1', 'tag': None}, {'id': 'b7', 'tag': 'new'}]
    """
    tables = list(tables)
    if schema is not None:
        if tables and all(table.schema.equals(schema) for table in tables):
            return pa.concat_tables(tables)
        return _conform_tables(tables, schema, pages=range(1, len(tables) + 1))
    if not tables:
        return pa.table({})
    if all(table.schema.equals(tables[0].schema) for table in tables[1:]):
        return pa.concat_tables(tables)
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except _ARROW_ERRORS:
        return _concat_lenient(tables)


class RunningSchema:
    """One schema for the batches of a read that hands out pages as they come.

    :func:`concat_tables` sees every page before it picks a type; a batch read cannot, since
    earlier batches are already out. So each page is conformed to the schema of the batches
    before it, the way :func:`concat_tables` joins pages: a missing field is null, a value
    where the schema has text becomes text (strings as they are, others as JSON), numbers
    are cast (an int where the schema has a float). Where a page cannot take that schema
    without losing a value (text in an integer field, an object in a number field, a new
    field), the schema *widens* as :func:`concat_tables` would widen it: new fields are
    appended, the field takes the type both kinds join into (float, or text). It never
    narrows, so later pages keep the wider type, and joining the batches with
    :func:`concat_tables` gives what ``read()`` gives.

    Widening rather than failing keeps the default promise that no value is lost and that
    a batch read succeeds wherever ``read()`` does; consumers that need one fixed schema
    pass ``schema=`` (every page is then converted to it) or refuse drift with
    ``schema_drift="strict"``.

    Attributes
    ----------
    schema
        The schema of the last batch handed out, ``None`` before the first.

    Example
    -------
    >>> running = RunningSchema()
    >>> running.conform(pa.table({"price": [1.5], "tag": ["a"]})).schema.names
    ['price', 'tag']
    >>> running.conform(pa.table({"price": [2]})).to_pylist()
    [{'price': 2.0, 'tag': None}]
    >>> running.conform(pa.table({"price": ["n/a"]})).to_pylist()
    [{'price': 'n/a', 'tag': None}]
    >>> running.schema.field("price").type
    DataType(string)
    """

    def __init__(self) -> None:
        self.schema: pa.Schema | None = None

    def conform(self, table: pa.Table) -> pa.Table:
        """``table`` in the running schema, widened first if the table needs it."""
        if self.schema is not None and not table.schema.equals(self.schema):
            joined = concat_tables([self.schema.empty_table(), table])
            batches = [batch for batch in joined.to_batches() if batch.num_rows]
            table = pa.Table.from_batches(batches, schema=joined.schema)
        self.schema = table.schema
        return table


def table_digest(table: pa.Table) -> bytes:
    """A digest of a table's schema and values: tables decoded from equal records match.

    Example
    -------
    >>> table_digest(pa.table({"id": [1]})) == table_digest(pa.table({"id": [1]}))
    True
    """
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.blake2b(sink.getvalue(), digest_size=16).digest()


def _concat_lenient(tables: list[pa.Table]) -> pa.Table:
    names = list(dict.fromkeys(name for table in tables for name in table.column_names))
    columns = [
        _lenient_column([_column_or_nulls(table, name) for table in tables]) for name in names
    ]
    return pa.Table.from_arrays(columns, names=names)


def _lenient_column(parts: list[pa.ChunkedArray]) -> pa.ChunkedArray:
    target = _unify_types([part.type for part in parts])
    chunks = [chunk for part in parts for chunk in part.chunks]
    try:
        return pa.chunked_array([_conform(chunk, target, "") for chunk in chunks], type=target)
    except _Mismatch:
        # A cast Arrow promised but could not do (uint64 beyond int64, say): keep as text.
        return pa.chunked_array([column_to_text(chunk) for chunk in chunks], type=pa.string())


def _unify_types(types: list[pa.DataType]) -> pa.DataType:
    try:
        schemas = [pa.schema([pa.field("f", data_type)]) for data_type in types]
        return pa.unify_schemas(schemas, promote_options="permissive").field(0).type
    except _ARROW_ERRORS:
        pass
    concrete = [data_type for data_type in types if not pa.types.is_null(data_type)]
    if all(pa.types.is_struct(data_type) for data_type in concrete):
        names = dict.fromkeys(field.name for data_type in concrete for field in data_type)
        fields = [
            (name, _unify_types([t.field(name).type for t in concrete if name in t.names]))
            for name in names
        ]
        return pa.struct(fields)
    if all(_is_list_like(data_type) for data_type in concrete):
        value_type = _unify_types([data_type.value_type for data_type in concrete])
        if any(pa.types.is_large_list(data_type) for data_type in concrete):
            return pa.large_list(value_type)
        return pa.list_(value_type)
    if any(pa.types.is_large_string(t) or pa.types.is_large_binary(t) for t in concrete):
        return pa.large_string()
    return pa.string()


# --------------------------------------------------------------------------- conform to a type


class _Mismatch(Exception):
    """A value that cannot take the target type; ``path`` names the (sub-)field."""

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(path, detail)
        self.path = path
        self.detail = detail


def _conform_tables(
    tables: list[pa.Table], schema: pa.Schema, pages: Iterable[int | None]
) -> pa.Table:
    pages = list(pages)
    columns = []
    for field in schema:
        chunks: list[pa.Array] = []
        for table, page in zip(tables, pages, strict=True):
            chunks.extend(_conform_part(_column_or_nulls(table, field.name), field, page))
        columns.append(pa.chunked_array(chunks, type=field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _conform_part(part: pa.ChunkedArray, field: pa.Field, page: int | None) -> list[pa.Array]:
    if not field.nullable and part.null_count:
        detail = "null or missing value in a non-nullable field"
        raise SchemaDriftError(field.name, page=page, detail=detail)
    try:
        return [_conform(chunk, field.type, field.name) for chunk in part.chunks]
    except _Mismatch as exc:
        raise SchemaDriftError(exc.path, page=page, detail=exc.detail) from exc.__cause__


def _column_or_nulls(table: pa.Table, name: str) -> pa.ChunkedArray:
    if name in table.column_names:
        return table.column(name)
    return pa.chunked_array([pa.nulls(table.num_rows)])


def _conform(array: pa.Array, target: pa.DataType, path: str) -> pa.Array:
    source = array.type
    if source == target:
        return array
    if _is_text(target) and not _is_text(source) and not pa.types.is_null(source):
        return column_to_text(array).cast(target)
    if pa.types.is_struct(target) and pa.types.is_struct(source):
        return _conform_struct(array, target, path)
    if _is_variable_list(target) and _is_list_like(source):
        return _conform_list(array, target, path)
    try:
        if pa.types.is_decimal(target) and (
            pa.types.is_integer(source) or pa.types.is_floating(source)
        ):
            # Through each number's shortest text: Arrow's numeric casts refuse int64 into
            # decimal(10, 2) by type and round binary floats (1.005 would become 1.00).
            array = array.cast(pa.string())
        return array.cast(target)
    except _ARROW_ERRORS as exc:
        detail = f"cannot convert {source} to {target}: {exc}"
        raise _Mismatch(path, _clip(detail)) from exc


def _conform_struct(array: pa.StructArray, target: pa.StructType, path: str) -> pa.Array:
    children = dict(zip(array.type.names, array.flatten(), strict=True))
    conformed = [
        _conform(children[field.name], field.type, f"{path}.{field.name}")
        if field.name in children
        else pa.nulls(len(array), field.type)
        for field in target
    ]
    return pa.StructArray.from_arrays(conformed, fields=list(target), mask=_null_mask(array))


def _conform_list(array: pa.Array, target: pa.DataType, path: str) -> pa.Array:
    if not _is_variable_list(array.type):
        array = array.cast(pa.list_(array.type.value_field))
    offsets, values = _list_parts(array)
    values = _conform(values, target.value_type, f"{path}[]")
    large = pa.types.is_large_list(target)
    offsets = offsets.cast(pa.int64() if large else pa.int32())
    list_class = pa.LargeListArray if large else pa.ListArray
    return list_class.from_arrays(offsets, values, type=target, mask=_null_mask(array))


def _list_parts(array: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The offsets (from 0) and the values of a list array, honouring its slice."""
    # from_arrays() refuses a sliced offsets array together with a null mask.
    offsets = array.offsets
    start, end = offsets[0].as_py(), offsets[-1].as_py()
    import pyarrow.compute as pc  # tens of ms at start-up, needed by few reads

    relative = pc.subtract(offsets, pa.scalar(start, offsets.type))
    return relative, array.values.slice(start, end - start)


def _null_mask(array: pa.Array) -> pa.Array | None:
    return array.is_null() if array.null_count else None


def _is_text(data_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_string_view(data_type)
    )


def _is_variable_list(data_type: pa.DataType) -> bool:
    return bool(pa.types.is_list(data_type) or pa.types.is_large_list(data_type))


def _is_list_like(data_type: pa.DataType) -> bool:
    return _is_variable_list(data_type) or bool(pa.types.is_fixed_size_list(data_type))


# --------------------------------------------------------------------------- Arrow -> JSON


def batch_to_json_lines(batch: pa.RecordBatch) -> list[bytes]:
    """Encode each row of a record batch as one compact JSON object.

    Parameters
    ----------
    batch
        Any record batch; nested structs and lists become nested objects and arrays,
        nulls ``null``. Value renderings are listed in the module docstring.

    Returns
    -------
    list of bytes
        One UTF-8 JSON document per row, without a trailing newline.

    Example
    -------
    >>> batch_to_json_lines(pa.record_batch({"id": [1], "tags": [["a"]]}))
    [b'{"id":1,"tags":["a"]}']
    """
    ready = _json_ready_batch(batch)
    return [orjson.dumps(row, default=_json_default) for row in ready.to_pylist()]


def column_to_text(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Render a column as text: strings unchanged, other values as compact JSON text.

    Parameters
    ----------
    column
        An array or chunked array of any type.

    Returns
    -------
    pyarrow.Array or pyarrow.ChunkedArray
        A string column (a string column is returned as it is). Nulls stay null; scalars
        are rendered bare (``12.5``, ``true``, an ISO 8601 timestamp), objects and lists
        as JSON (``{"b":[1,2]}``).

    Example
    -------
    >>> column_to_text(pa.array([{"b": 1}, None])).to_pylist()
    ['{"b":1}', None]
    """
    if isinstance(column, pa.ChunkedArray):
        chunks = [column_to_text(chunk) for chunk in column.chunks]
        return pa.chunked_array(chunks, type=column.type if _is_text(column.type) else pa.string())
    if _is_text(column.type):
        return column
    return pa.array([_text(value) for value in _json_ready(column).to_pylist()], pa.string())


def _json_ready_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    if not any(_needs_rendering(field.type) for field in batch.schema):
        return batch
    columns = [_json_ready(column) for column in batch.columns]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _needs_rendering(data_type: pa.DataType) -> bool:
    # Types whose Python values orjson would render wrongly or not at all (nanoseconds,
    # durations); everything else goes through to_pylist() and _json_default.
    if pa.types.is_timestamp(data_type) or pa.types.is_duration(data_type):
        return True
    if pa.types.is_dictionary(data_type):
        return _needs_rendering(data_type.value_type)
    if pa.types.is_struct(data_type):
        return any(_needs_rendering(field.type) for field in data_type)
    if _is_list_like(data_type):
        return _needs_rendering(data_type.value_type)
    return False


def _json_ready(array: pa.Array) -> pa.Array:
    data_type = array.type
    if not _needs_rendering(data_type):
        return array
    if pa.types.is_timestamp(data_type):
        time_zone = "%Ez" if data_type.tz else ""
        import pyarrow.compute as pc

        return pc.strftime(array, format=f"%Y-%m-%dT%H:%M:%S{time_zone}")
    if pa.types.is_duration(data_type):
        counts = array.cast(pa.int64()).to_pylist()
        unit = data_type.unit
        return pa.array(
            [None if c is None else _iso_duration(c, unit) for c in counts], pa.string()
        )
    if pa.types.is_dictionary(data_type):
        return _json_ready(array.dictionary_decode())
    if pa.types.is_struct(data_type):
        children = [_json_ready(child) for child in array.flatten()]
        return pa.StructArray.from_arrays(children, names=data_type.names, mask=_null_mask(array))
    if not _is_variable_list(data_type):
        array = array.cast(pa.list_(data_type.value_field))
    list_class = pa.LargeListArray if pa.types.is_large_list(array.type) else pa.ListArray
    offsets, values = _list_parts(array)
    return list_class.from_arrays(offsets, _json_ready(values), mask=_null_mask(array))


def _iso_duration(count: int, unit: str) -> str:
    per_second = _UNITS_PER_SECOND[unit]
    seconds, fraction = divmod(abs(count), per_second)
    digits = len(str(per_second)) - 1
    text = f"{seconds}.{fraction:0{digits}d}".rstrip("0") if fraction else str(seconds)
    return f"{'-' if count < 0 else ''}PT{text}S"


def _text(value: Any) -> str | None:
    """One value as text: str as is, other scalars bare, containers as compact JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # JSON has no NaN; "nan" keeps the value where null would lose it
    if isinstance(value, (Decimal, bytes, bytearray, memoryview, datetime, date, time, timedelta)):
        rendered: str = _json_default(value)
        return rendered
    return _json_dumps(value).decode()


def _json_dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        # orjson refuses ints beyond 64 bits and nesting deeper than 254 levels.
        text = json.dumps(value, default=_json_default, separators=(",", ":"), ensure_ascii=False)
        return text.encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")  # every digit, never 1E-10
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()  # datetime subclasses such as pandas.Timestamp
    if isinstance(value, timedelta):
        micros = (value.days * 86_400 + value.seconds) * 10**6 + value.microseconds
        return _iso_duration(micros, "us")
    return str(value)


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."
