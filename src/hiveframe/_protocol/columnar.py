"""Page bodies to Arrow tables, JSON pages many at a time through pyarrow's JSON reader. Sans-I/O.

:func:`decode_pages` gives every page exactly what decoding it alone gives
(:func:`~hiveframe._protocol.decode.decode_body`, then :func:`page_table`): the same
table, key and error, and the document values its paginator reads. Decoding alone
parses the body into Python objects with orjson and hands the records to ``pa.array``,
both holding the GIL for every value; here the bodies' bytes go to pyarrow's JSON reader,
which builds the columns natively without the GIL, so a worker thread decoding pages
leaves the event loop its core. The reader's fixed cost per call (it starts a thread) is
paid once per batch of pages.

How a batch is read
-------------------
Page *k*'s body becomes the line ``{"p<k>":[<body>]}`` and the lines are read as one
NDJSON document: each page has a column of its own, so its types are inferred from its
own values, as ``records_to_table`` infers them page by page. The read must give one row
per page, each with only its own column, holding a list of one value: that value is the
body, which was therefore one valid JSON value (a body that closes its line early adds a
row or a column). The dotted ``data_path`` leads through the value to the records; the
document given is the values at the paginator's ``document_paths`` (the total, the
cursor, the next URL), in objects as in the body.

A page takes the path of decoding alone (orjson, then ``records_to_table``) whenever the
two could differ, which is also where every decode error comes from
---------------------------------------------------------------------------------------
* before the reader: a format other than ``json``; an empty body; bytes that are not
  UTF-8; ``NaN`` or ``Inf`` anywhere (the reader accepts NaN and infinities, JSON does
  not); nesting deeper than :data:`MAX_DEPTH` (the reader overflows the stack, and the
  process dies, where orjson fails cleanly at 1024 levels); a JSONPath ``data_path`` or one
  that indexes a list;
* the reader refused the batch (a value whose type differs from the field's earlier ones,
  a key given twice, invalid JSON): the page it names is left out and the others read
  again, up to three reads;
* the reader's array for the page is not valid Arrow (it loses a list's null elements
  that come before the first element with a type: ``[[null], ["a"]]``);
* the path to the records is missing or null, or it ends on something other than an
  object, an array of objects or null (errors, and records that are not objects);
* a type ``pa.array`` would not infer: an empty object (``records_to_table`` makes it
  text), a float of magnitude 2**53 or more (``pa.array`` refuses an int that large among
  floats and the field becomes text; the reader would round it, as it rounds integers
  beyond 64 bits), ``-0.0`` (the reader reads ``-0`` among floats as ``-0.0``,
  ``pa.array`` as ``0.0``);
* a document path that crosses an array or ends on an array or object.

The reader infers ``timestamp[s]`` from ISO 8601 strings, which ``pa.array`` keeps as
strings (``"2024-05-01T12:00:00+02:00"`` would become 10:00 without a zone): a batch with
such a field is read a second time with the schema of the first read, timestamps declared
strings. So that a read does not pay that twice per batch, the values of the keys it found
times in are marked from the next batch on (a byte no timestamp parses with, before each
string, taken off after the read; :class:`Shapes` keeps the keys).
"""

from __future__ import annotations

import array as array_module
import codecs
import math
import operator
import re
import struct
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from itertools import repeat
from typing import Any, Literal

import orjson
import pyarrow as pa

from hiveframe._protocol.arrow.conform import TableKey
from hiveframe._protocol.arrow.infer import conform_inferred, records_to_table
from hiveframe._protocol.arrow.render import list_parts, null_mask
from hiveframe._protocol.data_path import DataPath
from hiveframe._protocol.decode import DecodedPage, decode_body

__all__ = [
    "MAX_DEPTH",
    "PageBody",
    "PageTable",
    "Shapes",
    "decode_objects",
    "decode_pages",
    "page_table",
]

MAX_DEPTH = 64
"""Deepest nesting sent to pyarrow's JSON reader; deeper pages take ``records_to_table``."""

_EXACT_FLOAT = 2.0**53  # floats at or beyond this may be rounded integers
_NEGATIVE_ZERO = -(2**63)  # -0.0 seen as an int64: the reader's "-0" among floats
# The byte of a float64 holding its sign and the exponent's seven high bits: below 0x43 (sign
# cleared), the exponent is at most 1071 and the magnitude below 2**49; -0.0 has 0x80 there.
_TOP_BYTE = 7 if sys.byteorder == "little" else 0
_TOP_FROM_2_49 = 0x43
_TOP_OF_NEGATIVE_ZERO = 0x80
_WITHOUT_SIGN = bytes(byte & 0x7F for byte in range(256))
_MAX_BLOCK = 2**31 - 2  # the reader's block size is an int32 and holds the whole batch
_REFUSED_ROW = re.compile(r"\bin row (\d+)")
_REREADS = 3  # batch reads before the pages left take records_to_table
_STRUCTURE = b'[]{}"'
_MARK = "\x01"  # put before every string that is an object member, so none reads as a time
_MARK_ESCAPE = b"\\u0001"
_MARK_BYTE = _MARK.encode()
_ANY_KEY = [b'"']  # as a key to mark the values of: any key's closing quote
_NOT_STRUCTURE = bytes(byte for byte in range(256) if byte not in _STRUCTURE)
_OFFSET = struct.Struct("=i")  # an int32 offset of a string array, native order


@dataclass(frozen=True)
class PageBody:
    """One response body to decode, and what :func:`decode_body` needs to go with it."""

    content: bytes
    fmt: str
    url: str | None = None  # redacted, shown in errors


@dataclass(frozen=True)
class PageTable:
    """One decoded page: the document for paginators, the table, its key if asked for."""

    document: Any
    table: pa.Table
    key: TableKey | None = None


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
    keys: bool = False,
    document_paths: Sequence[str] = (),
    shapes: Shapes | None = None,
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
    keys
        Whether to give each page's :class:`TableKey`.
    document_paths
        The dotted paths the paginator reads in documents: a page decoded from bytes has
        a document holding only those; one decoded alone has the whole document.
    shapes
        What earlier batches of the read worked out (a new one if not given).

    Returns
    -------
    list
        For each page, its :class:`PageTable`, or the exception decoding it alone raises
        (:class:`~hiveframe.errors.ResponseDecodeError`, :class:`SchemaDriftError`...).
    """
    results: dict[int, PageTable | Exception] = {}
    segments = _segments(data_path)
    if segments is not None:
        plain = {i: _plain(body.content) for i, body in enumerate(bodies) if body.fmt == "json"}
        candidates = {index: body for index, body in plain.items() if body is not None}
        paths = [tuple(path.split(".")) for path in document_paths]
        columnar = _columnar_pages(candidates, segments, paths, shapes or Shapes())
        for index, (table, document) in columnar.items():
            results[index] = _finished(document, partial(conform_inferred, table, schema), keys)
    for index, body in enumerate(bodies):
        if index not in results:
            results[index] = _decoded_alone(body, data_path, schema, keys)
    return [results[index] for index in range(len(bodies))]


def _decoded_alone(
    body: PageBody, data_path: DataPath | None, schema: pa.Schema | None, keys: bool
) -> PageTable | Exception:
    try:
        decoded = decode_body(body.content, fmt=body.fmt, data_path=data_path, url=body.url)
    except Exception as exc:  # each page's own error, raised where the page is awaited
        return exc
    return _finished(decoded.document, partial(page_table, decoded, schema), keys)


def _finished(document: Any, build: Callable[[], pa.Table], keys: bool) -> PageTable | Exception:
    try:
        table = build()
        return PageTable(document, table, TableKey(table) if keys else None)
    except Exception as exc:
        return exc


def _segments(data_path: DataPath | None) -> tuple[str, ...] | None:
    # The path through objects to the records: () for none; None when it is JSONPath or
    # indexes a list, which the reader's columns do not follow here.
    if data_path is None:
        return ()
    segments = data_path.dotted
    if segments is None or any(segment.isdecimal() for segment in segments):
        return None
    return segments


def _plain(content: bytes) -> bytes | None:
    """The body without its byte order mark, if the reader may read it (else ``None``)."""
    body = content[len(codecs.BOM_UTF8) :] if content.startswith(codecs.BOM_UTF8) else content
    if not body or body.isspace():
        return None
    if (b"N" in body and b"NaN" in body) or (b"I" in body and b"Inf" in body):
        return None  # the one-byte searches are the fast ones
    if not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return body if _shallow(body) else None


def _shallow(body: bytes) -> bool:
    """Whether a body nests at most :data:`MAX_DEPTH` deep (``False``: too deep, or unsure).

    The brackets outside strings, with each innermost pair removed per round: a body as
    deep as *d* empties in *d* rounds. Escapes are dropped first (``\\\\`` then ``\\"``), so
    every quote left delimits a string (the odd ones open, the even ones close); strings
    holding no bracket leave ``""`` behind. Where the body is not valid JSON the answer
    only matters up to the first error, where the reader stops: the brackets before it are
    counted as the reader sees them.
    """
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    structure = body.translate(None, _NOT_STRUCTURE)
    if structure.count(b'""') * 2 == structure.count(b'"'):
        # Every quote is one of an adjacent pair, so (pairs being taken from the left, as
        # strings are) each string is one pair: none holds a bracket.
        brackets = structure.translate(None, b'"')
    else:
        brackets = b"".join(structure.split(b'"')[::2])
    for _ in range(MAX_DEPTH):
        if not brackets:
            return True
        inner = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if len(inner) == len(brackets):
            return False
        brackets = inner
    return not brackets


def _columnar_pages(
    bodies: dict[int, bytes],
    segments: tuple[str, ...],
    paths: list[tuple[str, ...]],
    shapes: Shapes,
) -> dict[int, tuple[pa.Table, dict[str, Any]]]:
    """The tables and documents the JSON reader gives the pages, where it gives the right ones."""
    pending = dict(bodies)
    for _ in range(_REREADS):
        if not pending:
            return {}
        order = list(pending)
        lines = b"\n".join(b'{"p%d":[%b]}' % (i, pending[i]) for i in order)
        unit, marks = _marked(lines, shapes.timed)
        if len(unit) > _MAX_BLOCK:
            return {}
        try:
            read = _read_unit(unit, shapes)
        except pa.ArrowInvalid as exc:
            refused = _REFUSED_ROW.search(str(exc))
            if refused is None or int(refused.group(1)) >= len(order):
                return {}
            del pending[order[int(refused.group(1))]]
            continue
        if read.column_names != [f"p{index}" for index in order]:
            return {}  # a body added a column: which one is unknown
        pages = {}
        for row, index in enumerate(order):
            column = read.column(row)
            page = _page(
                column,
                row,
                rows=len(order),
                segments=segments,
                paths=paths,
                shapes=shapes,
                marks=marks,
            )
            if page is not None:
                pages[index] = page
        return pages
    return {}


def _marked(unit: bytes, keys: Sequence[bytes] | None) -> tuple[bytes, bool]:
    """``unit`` with the mark before the strings that are the values of ``keys`` (names as
    JSON text; ``None``: before every string that is an object member), and whether it was
    put: only where no string of the unit holds the mark, escaped or (where the reader
    would accept it) raw."""
    # One-byte searches first (memchr): most units hold no backslash, and many no space.
    if keys is not None and not keys:
        return unit, False
    if _MARK_BYTE in unit or (b"\\" in unit and _MARK_ESCAPE in unit):
        return unit, False
    spaced = b" " in unit
    for key in _ANY_KEY if keys is None else keys:  # a key's closing quote, then its value's
        unit = unit.replace(key + b':"', key + b':"' + _MARK_ESCAPE)
        if spaced:
            unit = unit.replace(key + b': "', key + b': "' + _MARK_ESCAPE)
    return unit, True


def _read_unit(unit: bytes, shapes: Shapes) -> pa.Table:
    """The reader's table of ``unit``, read again with timestamps as text if it found any.

    Raises
    ------
    pyarrow.ArrowInvalid
        The reader refused the unit.
    """
    read = _read_json(unit)
    if shapes.has_timestamp(read.schema.types):
        shapes.learn_timestamps(read.schema.types)
        read = _read_json(unit, _timestamps_as_text(read.schema))
    return read


def _read_json(unit: bytes, schema: pa.Schema | None = None) -> pa.Table:
    import pyarrow.json as pa_json  # loaded with the first batch, off the start-up path

    # open_json rather than read_json: one block either way (so the schema is inferred
    # from every page), but read_json starts a thread per call.
    read_options = pa_json.ReadOptions(use_threads=False, block_size=len(unit) + 1)
    parse_options = pa_json.ParseOptions(explicit_schema=schema) if schema is not None else None
    reader = pa_json.open_json(
        pa.BufferReader(unit), read_options=read_options, parse_options=parse_options
    )
    return reader.read_all()


def _page(
    column: pa.ChunkedArray,
    row: int,
    *,
    rows: int,
    segments: tuple[str, ...],
    paths: list[tuple[str, ...]],
    shapes: Shapes,
    marks: bool,
) -> tuple[pa.Table, dict[str, Any]] | None:
    # Row ``row`` of the page's column must hold [body], the other rows null.
    if column.num_chunks != 1 or column.null_count != rows - 1:
        return None
    array = column.chunk(0)
    try:
        array.validate()
    except pa.ArrowInvalid:
        return None
    line = array[row]
    if not line.is_valid or len(line.values) != 1:
        return None
    body = line.values[0]
    document = _document(body, paths, marks=marks)
    table = _records(body, segments)
    if document is None or table is None:
        return None
    built = _as_inferred(table, shapes, marks=marks)
    return None if built is None else (built, document)


def _as_inferred(table: pa.Table, shapes: Shapes, *, marks: bool) -> pa.Table | None:
    """The reader's table of records as ``records_to_table`` infers it, or ``None`` where
    the two could differ (a type ``pa.array`` does not infer, a float that may be a
    rounded integer or ``-0``)."""
    shape = shapes.of(table.schema)
    if not shape.inferable:
        return None
    if not all(_trusted(chunk) for i in shape.floats for chunk in table.column(i).chunks):
        return None
    for i in shape.marked if marks else ():
        column = table.column(i)
        chunks = [_as_built(chunk, marks=True) for chunk in column.chunks]
        table = table.set_column(i, table.field(i), pa.chunked_array(chunks, column.type))
    for i, objects in shape.objects:
        column = table.column(i)
        if any(_nulls_in_objects(chunk, objects) for chunk in column.chunks):
            chunks = [_as_built(chunk, marks=False) for chunk in column.chunks]
            table = table.set_column(i, table.field(i), pa.chunked_array(chunks, column.type))
    return table


def decode_objects(documents: Sequence[str], *, shapes: Shapes) -> pa.Table | None:
    """The table ``records_to_table`` builds from ``documents``, each read as one JSON object
    (the data of server-sent events), or ``None`` where the reader cannot show it is that
    table: a document that is not one object, a value of a type other documents' values of
    the field disagree with, anything :func:`decode_pages` sends to decoding alone. Then
    decode the documents one by one, which also raises the error a bad one deserves.

    Document *i* becomes the line ``{"p0":<document i>}``. Each line is at least one row:
    the reader refuses a raw line end inside a string, so the ``}`` that ends a line closes
    a value, and the ``{`` that starts the next line is valid only where a row has ended.
    So when the reader gives exactly one row per document, each line was one object, and
    one whose only member is ``p0`` (any other member makes a column, ``p0`` twice is
    refused): every document was one JSON value, and an object where the column holds no
    null and no other type.
    """
    count = len(documents)
    if not count:
        return None
    unit = ('{"p0":' + '}\n{"p0":'.join(documents) + "}").encode()
    if (b"N" in unit and b"NaN" in unit) or (b"I" in unit and b"Inf" in unit):
        return None
    if len(unit) > _MAX_BLOCK or not (_few_openers(documents) or _shallow(unit)):
        return None
    try:
        read = _read_unit(unit, shapes)
    except pa.ArrowInvalid:
        return None
    if read.column_names != ["p0"] or read.num_rows != count:
        return None
    try:  # the reader can build invalid arrays (see decode_pages): such a read is not used
        for chunk in read.column(0).chunks:
            chunk.validate()
        objects = read.column(0).combine_chunks()
    except (pa.ArrowInvalid, pa.ArrowIndexError):
        return None
    if not pa.types.is_struct(objects.type) or objects.null_count or not objects.type.num_fields:
        return None
    return _as_inferred(pa.Table.from_struct_array(objects), shapes, marks=False)


def _few_openers(documents: Sequence[str]) -> bool:
    """Whether no document holds more ``{`` and ``[`` than its line may nest (a bound on
    its depth that C counts settle, cheaper than :func:`_shallow` over the whole unit)."""
    braces = map(str.count, documents, repeat("{"))
    brackets = map(str.count, documents, repeat("["))
    most: int = max(map(operator.add, braces, brackets))
    return most < MAX_DEPTH  # the line adds one level


def _records(body: pa.Scalar, segments: tuple[str, ...]) -> pa.Table | None:
    # The records at ``segments`` in the body, if they are an array of objects, or null.
    value = body
    for segment in segments:
        if not (value.is_valid and _has_field(value.type, segment)):
            return None  # a missing path: decoding alone names it
        value = value[segment]
    if not value.is_valid:
        return pa.table({})  # null: no records
    if not pa.types.is_list(value.type):
        return None  # one object is one record, rarely a page fetched ahead
    records = value.values
    if pa.types.is_null(records.type) and not len(records):
        return pa.table({})
    if not pa.types.is_struct(records.type) or records.null_count:
        return None
    return pa.Table.from_struct_array(records)


def _has_field(data_type: pa.DataType, name: str) -> bool:
    return bool(pa.types.is_struct(data_type)) and data_type.get_field_index(name) >= 0


def _document(
    body: pa.Scalar, paths: list[tuple[str, ...]], *, marks: bool
) -> dict[str, Any] | None:
    """The values at ``paths`` in the body, in objects as in the body.

    A path that meets a missing key, null or a scalar is absent, as for ``walk_dotted``;
    ``None`` (not sure) when it indexes an array or ends on an array, an object or a float
    the reader may have rounded.
    """
    document: dict[str, Any] = {}
    for path in paths:
        node = body
        for segment in path:
            if not (node.is_valid and _has_field(node.type, segment)):
                if node.is_valid and pa.types.is_list(node.type) and segment.isdecimal():
                    return None  # walk_dotted indexes arrays
                break
            node = node[segment]
        else:
            found = node.as_py() if node.is_valid else None
            if not _scalar(node.type) or not _exact(found):
                return None
            if marks and isinstance(found, str):
                found = found.removeprefix(_MARK)
            parent = document
            for segment in path[:-1]:
                parent = parent.setdefault(segment, {})
            parent[path[-1]] = found
    return document


def _exact(value: Any) -> bool:
    # A float the reader read as orjson does: not possibly a rounded integer, not -0.0.
    if not isinstance(value, float):
        return True
    return abs(value) < _EXACT_FLOAT and not (value == 0 and math.copysign(1.0, value) < 0)


def _scalar(data_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_int64(data_type)
        or pa.types.is_float64(data_type)
        or pa.types.is_boolean(data_type)
        or pa.types.is_string(data_type)
        or pa.types.is_null(data_type)
    )


class _Shape:
    """What the records' schema says, worked out once per schema in a batch."""

    def __init__(self, schema: pa.Schema) -> None:
        self.inferable = all(_inferable(field.type) for field in schema)
        self.floats = [i for i, field in enumerate(schema) if _has_float(field.type)]
        self.objects = [
            (i, objects) for i, field in enumerate(schema) if (objects := _objects_in(field.type))
        ]
        self.marked = [i for i, field in enumerate(schema) if _has_member_text(field.type)]


class Shapes:
    """What the decoder works out once per type, for the batches of one read.

    A read's pages mostly share their types, so each batch would otherwise walk the same
    types again. Types are compared with ``==`` (hashing one costs more); a few are kept.
    Not thread-safe: a read decodes one batch at a time.
    """

    _KEEP = 8
    _MOST_TIMED = 3  # keys marked one by one; beyond, every member string is

    def __init__(self) -> None:
        self._shapes: list[tuple[pa.Schema, _Shape]] = []
        self._untimed: list[pa.DataType] = []  # types known to hold no timestamp
        # The keys (as JSON text) of the fields the reader took for timestamps in this
        # read: only their string values are marked. ``None``: every member string is.
        self.timed: list[bytes] | None = []

    def of(self, schema: pa.Schema) -> _Shape:
        """The shape of a page's records."""
        for known, shape in self._shapes:
            if known.equals(schema):
                return shape
        shape = _Shape(schema)
        self._shapes = [(schema, shape), *self._shapes[: self._KEEP - 1]]
        return shape

    def has_timestamp(self, types: list[pa.DataType]) -> bool:
        """Whether any of a batch's column types holds a timestamp."""
        for data_type in types:
            if not any(data_type == known for known in self._untimed):
                if _has_type(data_type, pa.types.is_timestamp):
                    return True
                self._untimed = [data_type, *self._untimed[: self._KEEP - 1]]
        return False

    def learn_timestamps(self, types: list[pa.DataType]) -> None:
        """Mark the values of the keys the reader took for timestamps in a batch from the
        next batch on. Where that cannot help (keys already marked: another spacing, an
        escaped name; times in arrays) or the keys are many, mark every member string."""
        if self.timed is None:
            return
        found = {orjson.dumps(name) for data_type in types for name in _timed_names(data_type)}
        new = sorted(found.difference(self.timed))
        too_many = len(self.timed) + len(new) > self._MOST_TIMED
        self.timed = None if not new or too_many else [*self.timed, *new]


def _inferable(data_type: pa.DataType) -> bool:
    """Whether ``pa.array`` infers the type too (it never makes an empty struct)."""
    if pa.types.is_struct(data_type):
        return data_type.num_fields > 0 and all(_inferable(field.type) for field in data_type)
    if pa.types.is_list(data_type):
        return _inferable(data_type.value_type)
    return _scalar(data_type)


def _has_float(data_type: pa.DataType) -> bool:
    return _has_type(data_type, pa.types.is_float64)


def _trusted(array: pa.Array) -> bool:
    """Whether no float in the array may have been an integer the reader rounded, or ``-0``.

    Read from the values buffer, null slots included (the reader writes zeros there; any
    other value can only send the page to ``records_to_table``): no ``pyarrow.compute``,
    whose import costs a first read more than a hundred milliseconds.
    """
    data_type = array.type
    if pa.types.is_float64(data_type):
        if array.null_count == len(array):
            return True
        values = memoryview(array.buffers()[1])[8 * array.offset : 8 * (array.offset + len(array))]
        top = bytes(values[_TOP_BYTE::8])  # each value's sign and the high bits of its exponent
        if max(top.translate(_WITHOUT_SIGN)) < _TOP_FROM_2_49 and _TOP_OF_NEGATIVE_ZERO not in top:
            return True  # all below 2**49, and no -0.0 (nor a negative below 2**-1007)
        span = slice(array.offset, array.offset + len(array))
        floats = _fixed(array.buffers()[1], "d")[span]
        low, high = min(floats), max(floats)
        if max(-low, high) >= _EXACT_FLOAT:
            return False
        return low > 0 or _NEGATIVE_ZERO not in _fixed(array.buffers()[1], "q")[span]
    if pa.types.is_struct(data_type):
        return all(_trusted(child) for child in array.flatten() if _has_float(child.type))
    if pa.types.is_list(data_type):
        return _trusted(array.flatten())
    return True


def _fixed(buffer: pa.Buffer, code: Literal["d", "q", "i"]) -> memoryview[Any]:
    """A buffer's values as ``code`` (``struct`` format: "d", "q", "i"), native order as
    Arrow's own."""
    view = memoryview(buffer)
    size = struct.calcsize(code)
    values: memoryview[Any] = view[: len(view) // size * size].cast(code)
    return values


def _has_type(data_type: pa.DataType, test: Any) -> bool:
    if test(data_type):
        return True
    return any(_has_type(child, test) for child in _children(data_type))


def _children(data_type: pa.DataType) -> Iterator[pa.DataType]:
    if pa.types.is_struct(data_type):
        yield from (field.type for field in data_type)
    elif pa.types.is_list(data_type):
        yield data_type.value_type


def _has_member_text(data_type: pa.DataType) -> bool:
    # Whether the type holds strings that are object members (which carry the mark); an
    # array's own string elements do not.
    if pa.types.is_string(data_type):
        return True
    if pa.types.is_struct(data_type):
        return any(_has_member_text(field.type) for field in data_type)
    if pa.types.is_list(data_type):
        return _has_type(data_type.value_type, pa.types.is_struct) and _has_member_text(
            data_type.value_type
        )
    return False


@dataclass(frozen=True)
class _Objects:
    """Where a type holds objects, worked out once per shape: an object's fields that hold
    objects themselves (each with its own), or the values of a list of them."""

    fields: tuple[tuple[int, _Objects], ...] = ()
    values: _Objects | None = None


def _objects_in(data_type: pa.DataType) -> _Objects | None:
    if pa.types.is_struct(data_type):
        inner = ((i, _objects_in(field.type)) for i, field in enumerate(data_type))
        return _Objects(fields=tuple((i, found) for i, found in inner if found is not None))
    if pa.types.is_list(data_type):
        values = _objects_in(data_type.value_type)
        return None if values is None else _Objects(values=values)
    return None


def _nulls_in_objects(array: pa.Array, objects: _Objects) -> bool:
    if objects.values is not None:
        return _nulls_in_objects(list_parts(array)[1], objects.values)
    if array.null_count:
        return True
    return any(_nulls_in_objects(array.field(i), inner) for i, inner in objects.fields)


def _as_built(
    array: pa.Array, *, marks: bool, member: bool = True, under: pa.Array | None = None
) -> pa.Array:
    """``array`` as ``pa.array`` builds it from the records: the mark off strings that are
    object members (``marks``), and valid empty values in the fields of a null object where
    the reader has nulls (equal tables, but not the same IPC bytes).
    ``under`` is where an enclosing object is null. ``pyarrow.compute`` is loaded only for
    null objects."""
    data_type = array.type
    if pa.types.is_null(data_type):
        return array
    if pa.types.is_string(data_type) and marks and member:
        array = _unmarked(array)
    if not (pa.types.is_struct(data_type) or pa.types.is_list(data_type)):
        if under is None:
            return array
        return _compute().if_else(under, pa.scalar(_empty(data_type), data_type), array)
    nulls = null_mask(array)
    kept = nulls if nulls is None or under is None else _compute().and_not(nulls, under)
    if pa.types.is_struct(data_type):
        inner = nulls if under is None else under if nulls is None else _compute().or_(under, nulls)
        children = [
            _as_built(array.field(index), marks=marks, under=inner)
            for index in range(data_type.num_fields)
        ]
        return pa.StructArray.from_arrays(children, fields=list(data_type), mask=kept)
    offsets, values = list_parts(array)  # a null list holds no values: [] in its place
    values = _as_built(values, marks=marks, member=False)
    return pa.ListArray.from_arrays(offsets, values, type=data_type, mask=kept)


def _compute() -> Any:
    import pyarrow.compute as pc  # like pyarrow.json, loaded by the worker, not at start-up

    return pc


def _unmarked(array: pa.Array) -> pa.Array:
    """A string array without the marks of its strings: a batch read with marks holds the
    byte nowhere else, so each string holds one at its start or none."""
    first, count = array.offset, len(array)
    validity, offsets, data = array.buffers()
    span = memoryview(offsets)[4 * first : 4 * (first + count + 1)]  # int32 offsets
    start, end = _OFFSET.unpack_from(span)[0], _OFFSET.unpack_from(span, 4 * count)[0]
    text = data.slice(start, end - start).to_pybytes() if data is not None else b""
    if _MARK_BYTE not in text:  # values of keys left unmarked
        return array
    if not array.null_count and text.count(_MARK_BYTE) == count:  # every string marked
        shifted = _less_one_each(span, start, count)
    else:
        ends = _fixed(offsets, "i")[first : first + count + 1]
        kept, removed = array_module.array("i"), 0
        for index in range(count):
            at = ends[index] - start
            kept.append(at - removed)
            removed += ends[index + 1] - start > at and text[at] == _MARK_BYTE[0]
        kept.append(ends[count] - start - removed)
        shifted = kept.tobytes()
    # Offsets of zeros before the slice keep ``validity`` (which counts from the array's
    # offset) in place.
    new_offsets = pa.py_buffer(bytes(4 * first) + shifted)
    buffers = [validity, new_offsets, pa.py_buffer(text.replace(_MARK_BYTE, b""))]
    return pa.Array.from_buffers(
        pa.string(), count, buffers, null_count=array.null_count, offset=first
    )


def _less_one_each(offsets: memoryview, start: int, count: int) -> bytes:
    """The int32 ``offsets`` of ``count`` strings that each lose their first byte, counted
    from 0: offset *i* less ``start + i``, in one subtraction of the offsets read as one
    integer (each offset is at least ``start + i``, so no lane borrows from the next)."""
    ones, steps = _lanes(count + 1)
    packed = int.from_bytes(offsets, sys.byteorder) - (start * ones + steps)
    return packed.to_bytes(len(offsets), sys.byteorder)


@lru_cache(maxsize=8)
def _lanes(count: int) -> tuple[int, int]:
    # ``count`` int32 lanes as one integer: all ones, and 0, 1, 2, ... (native order).
    ones = array_module.array("i", [1]) * count
    return int.from_bytes(ones, sys.byteorder), int.from_bytes(
        array_module.array("i", range(count)), sys.byteorder
    )


def _empty(data_type: pa.DataType) -> Any:
    """The value ``pa.array`` puts in a scalar field under a null object."""
    if pa.types.is_string(data_type):
        return ""
    return False if pa.types.is_boolean(data_type) else 0


def _timed_names(data_type: pa.DataType) -> Iterator[str]:
    # The names of the object fields, at any depth, that hold a timestamp themselves.
    if pa.types.is_struct(data_type):
        for field in data_type:
            if pa.types.is_timestamp(field.type):
                yield field.name
            else:
                yield from _timed_names(field.type)
    elif pa.types.is_list(data_type):
        yield from _timed_names(data_type.value_type)


def _timestamps_as_text(schema: pa.Schema) -> pa.Schema:
    return pa.schema([field.with_type(_timestamp_as_text(field.type)) for field in schema])


def _timestamp_as_text(data_type: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(data_type):
        return pa.string()
    if pa.types.is_struct(data_type):
        return pa.struct([field.with_type(_timestamp_as_text(field.type)) for field in data_type])
    if pa.types.is_list(data_type):
        return pa.list_(data_type.value_field.with_type(_timestamp_as_text(data_type.value_type)))
    return data_type
