"""Tables joined and converted to a schema: pages into one table (:func:`concat_tables`), one
schema for the batches of a read (:class:`RunningSchema`), a table converted to the schema
the user gave (:func:`conform_tables`), and pages told apart (:class:`TableKey`). Pure
functions, no I/O; the rules are listed in :mod:`hiveframe._protocol.arrow`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pyarrow as pa

from hiveframe._protocol.arrow.render import (
    ARROW_ERRORS,
    column_to_text,
    is_list_like,
    is_text,
    is_variable_list,
    list_parts,
    null_mask,
)
from hiveframe.errors import SchemaDriftError

__all__ = ["RunningSchema", "TableKey", "concat_tables", "conform_tables"]

_MAX_DETAIL = 300


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
        return conform_tables(tables, schema, pages=range(1, len(tables) + 1))
    if not tables:
        return pa.table({})
    if all(table.schema.equals(tables[0].schema) for table in tables[1:]):
        return pa.concat_tables(tables)
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except ARROW_ERRORS:
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


class TableKey:
    """What two pages' tables are compared by to catch a server sending the same records
    again: equal when the tables hold equal records (names, types and values, compared by
    Arrow; how the columns are chunked or where nulls keep their slots does not count).

    Example
    -------
    >>> TableKey(pa.table({"id": [1]})) == TableKey(pa.table({"id": [1]}).slice(0))
    True
    """

    __slots__ = ("_probe", "table")
    __hash__ = None  # type: ignore[assignment]  # compared, never a key

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self._probe = _probe(table)

    def __eq__(self, other: object) -> bool:
        # The probes first: Table.equals gives up the GIL, and getting it back from a busy
        # decoding thread costs the event loop more than the comparison (about 30 µs of
        # CPU a page, measured). Pages of a collection nearly always differ in them.
        return (
            isinstance(other, TableKey)
            and self._probe == other._probe
            and self.table.equals(other.table)
        )


def _probe(table: pa.Table) -> tuple[object, ...]:
    """Values that equal tables share: the row count and, when the first column holds
    integers or text, its first and last values (as Python values, read holding the GIL)."""
    rows = table.num_rows
    if not rows or not table.num_columns:
        return (rows,)
    column = table.column(0)
    if not (pa.types.is_integer(column.type) or pa.types.is_string(column.type)):
        return (rows,)
    return (rows, column[0].as_py(), column[rows - 1].as_py())


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
    except ARROW_ERRORS:
        pass
    concrete = [data_type for data_type in types if not pa.types.is_null(data_type)]
    if all(pa.types.is_struct(data_type) for data_type in concrete):
        names = dict.fromkeys(field.name for data_type in concrete for field in data_type)
        fields = [
            (name, _unify_types([t.field(name).type for t in concrete if name in t.names]))
            for name in names
        ]
        return pa.struct(fields)
    if all(is_list_like(data_type) for data_type in concrete):
        value_type = _unify_types([data_type.value_type for data_type in concrete])
        if any(pa.types.is_large_list(data_type) for data_type in concrete):
            return pa.large_list(value_type)
        return pa.list_(value_type)
    if any(pa.types.is_large_string(t) or pa.types.is_large_binary(t) for t in concrete):
        return pa.large_string()
    return pa.string()


# -- conform to a type ----------------------------------------------------------------------


class _Mismatch(Exception):
    """A value that cannot take the target type; ``path`` names the (sub-)field."""

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(path, detail)
        self.path = path
        self.detail = detail


def conform_tables(
    tables: list[pa.Table], schema: pa.Schema, pages: Iterable[int | None]
) -> pa.Table:
    """``tables`` joined in ``schema`` exactly, each converted as the module docstring of
    :mod:`hiveframe._protocol.arrow` says; ``pages`` names each table's page for a
    :class:`~hiveframe.errors.SchemaDriftError`."""
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
    if is_text(target) and not is_text(source) and not pa.types.is_null(source):
        return column_to_text(array).cast(target)
    if pa.types.is_struct(target) and pa.types.is_struct(source):
        return _conform_struct(array, target, path)
    if is_variable_list(target) and is_list_like(source):
        return _conform_list(array, target, path)
    try:
        if pa.types.is_decimal(target) and (
            pa.types.is_integer(source) or pa.types.is_floating(source)
        ):
            # Through each number's shortest text: Arrow's numeric casts refuse int64 into
            # decimal(10, 2) by type and round binary floats (1.005 would become 1.00).
            array = array.cast(pa.string())
        return array.cast(target)
    except ARROW_ERRORS as exc:
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
    return pa.StructArray.from_arrays(conformed, fields=list(target), mask=null_mask(array))


def _conform_list(array: pa.Array, target: pa.DataType, path: str) -> pa.Array:
    if not is_variable_list(array.type):
        array = array.cast(pa.list_(array.type.value_field))
    offsets, values = list_parts(array)
    values = _conform(values, target.value_type, f"{path}[]")
    large = pa.types.is_large_list(target)
    offsets = offsets.cast(pa.int64() if large else pa.int32())
    list_class = pa.LargeListArray if large else pa.ListArray
    return list_class.from_arrays(offsets, values, type=target, mask=null_mask(array))


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."
