"""Page bodies to Arrow tables, JSON pages many at a time through pyarrow's JSON reader. Sans-I/O.

:func:`decode_pages` gives every page exactly what decoding it alone gives
(:func:`~hiveframe._protocol.decode.decode_body`, then :func:`page_table`): the same
document, table, digest and error. Only the way a JSON page's table is built differs:
``records_to_table`` hands the decoded records to ``pa.array``, which visits every Python
value while holding the GIL; here the pages' bytes go to pyarrow's JSON reader, which
builds the columns natively and releases the GIL, so a worker thread decoding pages leaves
the event loop its core. The reader's fixed cost per call (it starts a thread) is paid once
per batch of pages rather than per page.

How a batch is read
-------------------
Page *k*'s body becomes the line ``{"p<k>":[<body>]}`` and the lines are read as one
NDJSON document: each page has a column of its own, so its types are inferred from its
own values, as ``records_to_table`` infers them page by page. The dotted ``data_path``
leads through the page's value to the records. Each body is decoded with orjson first (the
document the paginators read, and every error exactly as before), so only valid JSON, no
deeper than :data:`MAX_DEPTH`, reaches the reader: it crashes the process on a stack
overflow rather than failing on deep nesting.

When the two could differ, the page's table is ``records_to_table``'s after all
------------------------------------------------------------------------------
* the body's format is not ``json``, its records are not all objects, or none, or its
  ``data_path`` is JSONPath or indexes a list;
* the reader refused the batch (a value whose type differs from the field's earlier ones,
  a key given twice): the page it names is left out and the others read again;
* a type ``pa.array`` would not infer: an empty object (``records_to_table`` makes it
  text), or a float column holding a magnitude of 2**53 or more (``pa.array`` refuses an
  int that large among floats and the field becomes text; the reader would round it, as
  it rounds integers beyond 64 bits), or ``-0.0`` (the reader reads ``-0`` among floats
  as ``-0.0``, ``pa.array`` as ``0.0``);
* the reader's array for the page is not valid Arrow (it loses a list's null elements
  that come before the first element with a type: ``[[null], ["a"]]``);
* the reader's record count differs from orjson's.

The reader infers ``timestamp[s]`` from ISO 8601 strings, which ``pa.array`` keeps as
strings (``"2024-05-01T12:00:00+02:00"`` would become 10:00 without a zone): a field of the
records that became timestamps takes its strings from the decoded records instead; a
timestamp deeper inside a record sends the page to ``records_to_table``.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from hiveframe._protocol.arrow import _list_parts, conform_inferred, records_to_table, table_digest
from hiveframe._protocol.data_path import DataPath
from hiveframe._protocol.decode import DecodedPage, decode_body

__all__ = ["MAX_DEPTH", "PageBody", "PageTable", "decode_pages", "page_table"]

MAX_DEPTH = 64
"""Deepest nesting sent to pyarrow's JSON reader; deeper pages take ``records_to_table``."""

_EXACT_FLOAT = 2.0**53  # floats at or beyond this may be rounded integers
_NEGATIVE_ZERO = -(2**63)  # -0.0 seen as an int64: the reader's "-0" among floats
_MAX_BLOCK = 2**31 - 2  # the reader's block size is an int32 and holds the whole batch
_REFUSED_ROW = re.compile(r"\bin row (\d+)")
_REREADS = 3  # batch reads before the pages left take records_to_table
_STRUCTURE = b'[]{}"'
_NOT_STRUCTURE = bytes(byte for byte in range(256) if byte not in _STRUCTURE)


@dataclass(frozen=True)
class PageBody:
    """One response body to decode, and what :func:`decode_body` needs to go with it."""

    content: bytes
    fmt: str
    url: str | None = None  # redacted, shown in errors


@dataclass(frozen=True)
class PageTable:
    """One decoded page: the document for paginators, the table, its digest if asked for."""

    document: Any
    table: pa.Table
    digest: bytes | None = None


def page_table(decoded: DecodedPage, schema: pa.Schema | None) -> pa.Table:
    """A decoded page's table: its records (or its CSV table) in ``schema`` if one is given."""
    if decoded.table is not None:
        table = decoded.table
        return table.select(schema.names).cast(schema) if schema else table
    return records_to_table(decoded.records, schema=schema)


def decode_pages(
    bodies: Sequence[PageBody],
    *,
    data_path: DataPath | None,
    schema: pa.Schema | None = None,
    digests: bool = False,
) -> list[PageTable | Exception]:
    """Decode pages together; each result is what decoding the page alone gives, or raises.

    Parameters
    ----------
    bodies
        The pages, in any order.
    data_path
        Where the records are (as for :func:`decode_body`).
    schema
        The read's schema, if any (as for :func:`page_table`).
    digests
        Whether to give each page's :func:`table_digest`.

    Returns
    -------
    list
        For each page, its :class:`PageTable`, or the exception decoding it alone raises
        (:class:`~hiveframe.errors.ResponseDecodeError`, :class:`SchemaDriftError`...).
    """
    decoded: dict[int, DecodedPage] = {}
    results: dict[int, PageTable | Exception] = {}
    for index, body in enumerate(bodies):
        try:
            decoded[index] = decode_body(
                body.content, fmt=body.fmt, data_path=data_path, url=body.url
            )
        except Exception as exc:  # each page's own error, raised where the page is awaited
            results[index] = exc
    segments = _segments(data_path)
    columnar = {}
    if segments is not None:
        candidates = {
            index: _without_bom(bodies[index].content)
            for index, page in decoded.items()
            if bodies[index].fmt == "json" and _all_objects(page.records)
        }
        columnar = _columnar_tables(
            {index: body for index, body in candidates.items() if _shallow(body)},
            segments,
            {index: decoded[index].records for index in candidates},
        )
    for index, page in decoded.items():
        try:
            inferred = columnar.get(index)
            if inferred is None:
                table = page_table(page, schema)
            else:
                table = conform_inferred(inferred, schema)
            digest = table_digest(table) if digests else None
            results[index] = PageTable(page.document, table, digest)
        except Exception as exc:
            results[index] = exc
    return [results[index] for index in range(len(bodies))]


def _segments(data_path: DataPath | None) -> tuple[str, ...] | None:
    # The path through objects to the records: () for none; None when it is JSONPath or
    # indexes a list, which the reader's columns do not follow here.
    if data_path is None:
        return ()
    segments = data_path.dotted
    if segments is None or any(segment.isdecimal() for segment in segments):
        return None
    return segments


def _all_objects(records: list[Any]) -> bool:
    return bool(records) and all(type(record) is dict for record in records)


def _without_bom(body: bytes) -> bytes:
    return body[len(codecs.BOM_UTF8) :] if body.startswith(codecs.BOM_UTF8) else body


def _shallow(body: bytes) -> bool:
    """Whether a valid JSON body nests at most :data:`MAX_DEPTH` deep (else: not sure).

    The brackets outside strings, with each innermost pair removed per round: a body as
    deep as *d* empties in *d* rounds. Escapes are dropped first (``\\\\`` then ``\\"``), so
    every quote left delimits a string; strings holding no bracket leave ``""`` behind.
    """
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = body.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in brackets:  # a string holds a bracket
        brackets = b"".join(brackets.split(b'"')[::2])
    for _ in range(MAX_DEPTH):
        if not brackets:
            return True
        inner = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if len(inner) == len(brackets):
            return False
        brackets = inner
    return not brackets


def _columnar_tables(
    bodies: dict[int, bytes], segments: tuple[str, ...], records: dict[int, list[Any]]
) -> dict[int, pa.Table]:
    """The records tables the JSON reader gives the pages, where they are ``pa.array``'s."""
    pending = dict(bodies)
    for _ in range(_REREADS):
        if not pending:
            return {}
        order = list(pending)
        unit = b"\n".join(b'{"p%d":[%b]}' % (index, pending[index]) for index in order)
        if len(unit) > _MAX_BLOCK:
            return {}
        try:
            read = _read_json(unit)
        except pa.ArrowInvalid as exc:
            refused = _REFUSED_ROW.search(str(exc))
            if refused is None or int(refused.group(1)) >= len(order):
                return {}
            del pending[order[int(refused.group(1))]]
            continue
        tables = {}
        for position, index in enumerate(order):
            column = read.column(f"p{index}")
            try:
                column.validate()
            except pa.ArrowInvalid:
                continue
            table = _records_table(column, position, segments)
            if table is None or table.num_rows != len(records[index]):
                continue
            table = _timestamps_as_text(table, records[index])
            if _as_inferred(table):
                tables[index] = _laid_out_as_inferred(table)
        return tables
    return {}


def _timestamps_as_text(table: pa.Table, records: list[Any]) -> pa.Table:
    # The reader turns ISO 8601 strings into timestamp[s]; pa.array keeps the strings, so
    # a field of records that became timestamps gets its strings back from the records.
    # Deeper inside a record they stay, and the page takes records_to_table.
    for position, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            text = pa.array([record.get(field.name) for record in records], pa.string())
            table = table.set_column(position, field.with_type(pa.string()), text)
    return table


def _read_json(unit: bytes, schema: pa.Schema | None = None) -> pa.Table:
    import pyarrow.json as pa_json  # loaded with the first batch, off the start-up path

    read_options = pa_json.ReadOptions(use_threads=False, block_size=len(unit) + 1)
    parse_options = pa_json.ParseOptions(explicit_schema=schema) if schema is not None else None
    return pa_json.read_json(
        pa.BufferReader(unit), read_options=read_options, parse_options=parse_options
    )


def _records_table(column: pa.ChunkedArray, row: int, segments: tuple[str, ...]) -> pa.Table | None:
    # Row ``row`` of the page's column holds [body]; follow the path to the records.
    value: pa.Array = column.chunk(0)[row].values
    for segment in segments:
        if not pa.types.is_struct(value.type) or value.type.get_field_index(segment) < 0:
            return None
        value = pc.struct_field(value, [value.type.get_field_index(segment)])
    if pa.types.is_struct(value.type):
        records = value
    elif pa.types.is_list(value.type) and pa.types.is_struct(value.type.value_type):
        records = value.flatten()
    else:
        return None
    if records.null_count:
        return None
    return pa.Table.from_struct_array(records)


def _as_inferred(table: pa.Table) -> bool:
    """Whether ``pa.array`` over the records would give this table's types and values."""
    if any(not _inferable(field.type) for field in table.schema):
        return False
    return all(
        _trusted(chunk)
        for field, column in zip(table.schema, table.columns, strict=True)
        if _checked(field.type)
        for chunk in column.chunks
    )


def _inferable(data_type: pa.DataType) -> bool:
    if pa.types.is_struct(data_type):
        return data_type.num_fields > 0 and all(_inferable(field.type) for field in data_type)
    if pa.types.is_list(data_type):
        return _inferable(data_type.value_type)
    return bool(
        pa.types.is_int64(data_type)
        or pa.types.is_float64(data_type)
        or pa.types.is_boolean(data_type)
        or pa.types.is_string(data_type)
        or pa.types.is_null(data_type)
    )


def _checked(data_type: pa.DataType) -> bool:
    return _has_type(data_type, pa.types.is_float64)


def _trusted(array: pa.Array) -> bool:
    data_type = array.type
    if pa.types.is_float64(data_type):
        low, high = (value.as_py() for value in pc.min_max(array).values())
        if low is None:
            return True
        if max(-low, high) >= _EXACT_FLOAT:
            return False
        return low > 0 or not pc.any(pc.equal(array.view(pa.int64()), _NEGATIVE_ZERO)).as_py()
    if pa.types.is_struct(data_type):
        return all(_trusted(child) for child in array.flatten() if _checked(child.type))
    return _trusted(array.flatten())


def _has_type(data_type: pa.DataType, test: Any) -> bool:
    if test(data_type):
        return True
    return any(_has_type(child, test) for child in _children(data_type))


def _children(data_type: pa.DataType) -> Iterator[pa.DataType]:
    if pa.types.is_struct(data_type):
        yield from (field.type for field in data_type)
    elif pa.types.is_list(data_type):
        yield data_type.value_type


def _laid_out_as_inferred(table: pa.Table) -> pa.Table:
    """The table with ``pa.array``'s layout, so that its digest is the same.

    Under a null object ``pa.array`` gives the object's fields valid empty values (0, "",
    [], objects of those), the JSON reader nulls: equal tables, different IPC bytes.
    """
    for position, column in enumerate(table.columns):
        if _has_object(column.type) and any(_nulls_in_objects(c) for c in column.chunks):
            chunks = [_valid_under_null_objects(chunk) for chunk in column.chunks]
            table = table.set_column(position, table.field(position), pa.chunked_array(chunks))
    return table


def _has_object(data_type: pa.DataType) -> bool:
    return _has_type(data_type, pa.types.is_struct)


def _nulls_in_objects(array: pa.Array) -> bool:
    if pa.types.is_struct(array.type):
        if array.null_count:
            return True
        return any(
            _nulls_in_objects(array.field(index))
            for index, field in enumerate(array.type)
            if _has_object(field.type)
        )
    if pa.types.is_list(array.type) and _has_object(array.type.value_type):
        return _nulls_in_objects(_list_parts(array)[1])
    return False


def _valid_under_null_objects(array: pa.Array, under: pa.Array | None = None) -> pa.Array:
    # ``under``: where an enclosing object is null, so this value is pa.array's empty one.
    data_type = array.type
    if pa.types.is_null(data_type):
        return array
    if not (pa.types.is_struct(data_type) or pa.types.is_list(data_type)):
        if under is None:
            return array
        return pc.if_else(under, pa.scalar(_empty(data_type), data_type), array)
    nulls = array.is_null() if array.null_count else None
    kept = nulls if nulls is None or under is None else pc.and_not(nulls, under)
    if pa.types.is_struct(data_type):
        inner = nulls if under is None else under if nulls is None else pc.or_(under, nulls)
        children = [
            _valid_under_null_objects(array.field(index), inner)
            for index in range(data_type.num_fields)
        ]
        return pa.StructArray.from_arrays(children, fields=list(data_type), mask=kept)
    offsets, values = _list_parts(array)  # a null list holds no values: [] in its place
    return pa.ListArray.from_arrays(
        offsets, _valid_under_null_objects(values), type=data_type, mask=kept
    )


def _empty(data_type: pa.DataType) -> Any:
    """The value ``pa.array`` puts in a scalar field under a null object."""
    if pa.types.is_string(data_type):
        return ""
    return False if pa.types.is_boolean(data_type) else 0
