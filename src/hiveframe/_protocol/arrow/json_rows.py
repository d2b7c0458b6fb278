"""Arrow record batches as compact JSON objects, one per row, built column by column.

Every column is rendered to JSON text as a whole by Arrow compute kernels (integers and
booleans cast to text, strings quoted and escaped, lists joined, objects assembled field by
field), so no Python dict, list or value is made per row, and the kernels release the GIL:
an encoder in a worker thread leaves the event loop free. Floats go through one
``orjson.dumps`` per column (their shortest round-trip rendering is orjson's own), and the
types Arrow cannot render as JSON (decimals, binary, dates and times, maps, unions,
extension types) through ``orjson.dumps`` per value, with the renderings of
:mod:`hiveframe._protocol.arrow.render`.

The bytes are exactly those of ``orjson.dumps(row, default=...)`` over ``batch.to_pylist()``
(the renderings listed in :mod:`hiveframe._protocol.arrow`); the tests compare both on a
corpus of tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from hiveframe._protocol.arrow.render import (
    _json_default,
    _json_ready,
    is_text,
    is_variable_list,
    list_parts,
    null_mask,
)

__all__ = ["batch_to_json_lines"]

# The characters orjson escapes (RFC 8259 §7): the quote, the backslash and the C0 controls;
# some with a two-character escape, the others as \u00XX (those are done per value).
_SHORT_ESCAPES: Final = (
    ("\\", "\\\\"),  # first: the backslashes the others add must not be doubled
    ('"', '\\"'),
    ("\n", "\\n"),
    ("\r", "\\r"),
    ("\t", "\\t"),
    ("\b", "\\b"),
    ("\f", "\\f"),
)
_ESCAPED: Final = frozenset(b'"\\') | frozenset(range(0x20))
# For bytes.translate(None, delete): what is left of a text once these are deleted.
_NOT_ESCAPED: Final = bytes(sorted(frozenset(range(256)) - _ESCAPED))
_SHORT_ESCAPED: Final = "".join(character for character, _ in _SHORT_ESCAPES).encode()
# 64-bit offsets: the text of a column may outgrow 2 GiB where its values did not.
_TEXT: Final = pa.large_string()
_NULL: Final = pa.scalar("null", _TEXT)
_EMPTY: Final = pa.scalar("", _TEXT)
_QUOTE: Final = pa.scalar('"', _TEXT)
_COMMA: Final = pa.scalar(",", _TEXT)


def batch_to_json_lines(batch: pa.RecordBatch) -> list[bytes]:
    """Encode each row of a record batch as one compact JSON object.

    Parameters
    ----------
    batch
        Any record batch; nested structs and lists become nested objects and arrays,
        nulls ``null``. Value renderings are listed in :mod:`hiveframe._protocol.arrow`.

    Returns
    -------
    list of bytes
        One UTF-8 JSON document per row, without a trailing newline.

    Example
    -------
    >>> batch_to_json_lines(pa.record_batch({"id": [1], "tags": [["a"]]}))
    [b'{"id":1,"tags":["a"]}']
    """
    if batch.num_rows == 0:
        return []
    rows = _object_text(batch.schema.names, batch.columns, batch.num_rows)
    rows_bytes: list[bytes] = rows.cast(pa.large_binary()).to_pylist()
    return rows_bytes


def _json_text(array: pa.Array) -> pa.Array:
    """Each value of ``array`` as JSON text (a large string array); a null stays null."""
    data_type = array.type
    if len(array) == 0:
        return pa.array([], _TEXT)
    if pa.types.is_integer(data_type) or pa.types.is_boolean(data_type):
        return pc.cast(array, _TEXT)
    if pa.types.is_null(data_type):
        return pa.nulls(len(array), _TEXT)
    if is_text(data_type) or pa.types.is_timestamp(data_type) or pa.types.is_duration(data_type):
        return _quoted(pc.cast(_json_ready(array), _TEXT))
    if pa.types.is_dictionary(data_type):
        return _json_text(array.dictionary_decode())
    if pa.types.is_float32(data_type) or pa.types.is_float64(data_type):
        return _python_text(array, one_call=True)
    if pa.types.is_struct(data_type) and len(set(data_type.names)) == data_type.num_fields:
        text = _object_text(data_type.names, array.flatten(), len(array))
        return _with_nulls(text, array)
    if is_variable_list(data_type) or pa.types.is_fixed_size_list(data_type):
        return _list_text(array)
    return _python_text(array, one_call=False)


def _object_text(names: Sequence[str], columns: Sequence[pa.Array], length: int) -> pa.Array:
    # A batch's to_pylist() builds a dict per row: a repeated column name keeps its first
    # place and its last value, so the same here. (A struct with repeated field names goes
    # to the per-value path, where pyarrow refuses it as before.)
    last = {name: i for i, name in enumerate(names)}
    if not last:
        return pa.repeat(pa.scalar("{}", _TEXT), length)
    # The names as arrays, not scalars: Arrow joins many arrays twice as fast.
    pieces: list[pa.Array] = []
    for n, (name, i) in enumerate(last.items()):
        key = orjson.dumps(name).decode()
        pieces.append(pa.repeat(pa.scalar(("{" if n == 0 else ",") + key + ":", _TEXT), length))
        pieces.append(pc.fill_null(_json_text(columns[i]), _NULL))
    pieces.append(pa.repeat(pa.scalar("}", _TEXT), length))
    return pc.binary_join_element_wise(*pieces, _EMPTY)


def _list_text(array: pa.Array) -> pa.Array:
    if not is_variable_list(array.type):
        array = array.cast(pa.list_(array.type.value_field))
    offsets, values = list_parts(array)
    items = pc.fill_null(_json_text(values), _NULL)
    list_class = pa.LargeListArray if pa.types.is_large_list(array.type) else pa.ListArray
    lists = list_class.from_arrays(offsets, items, mask=null_mask(array))
    joined = pc.binary_join(lists, _COMMA)
    return pc.binary_join_element_wise(pa.scalar("[", _TEXT), joined, pa.scalar("]", _TEXT), _EMPTY)


def _quoted(strings: pa.Array) -> pa.Array:
    escaped = _escaped_bytes(strings)
    if escaped:
        if escaped.translate(None, _SHORT_ESCAPED):
            return _python_text(strings, one_call=False)
        for character, escape in _SHORT_ESCAPES:
            strings = pc.replace_substring(strings, character, escape)
    return pc.binary_join_element_wise(_QUOTE, strings, _QUOTE, _EMPTY)


def _escaped_bytes(strings: pa.Array) -> bytes:
    # The bytes of a large string array's values that JSON escapes: one pass of
    # bytes.translate over its data, several times faster than a regex kernel. (The bytes
    # under a null count too: at worst the column takes the escaping path for nothing.)
    offsets_buffer, data_buffer = strings.buffers()[1:3]
    if data_buffer is None:
        return b""
    offsets = memoryview(offsets_buffer).cast("q")
    start, end = offsets[strings.offset], offsets[strings.offset + len(strings)]
    return memoryview(data_buffer)[start:end].tobytes().translate(None, _NOT_ESCAPED)


def _python_text(array: pa.Array, *, one_call: bool) -> pa.Array:
    # orjson on the Python values, as the row encoder does. ``one_call``: one document for
    # the whole column, cut at its commas by Arrow (only for values without a comma: numbers).
    values = _json_ready(array).to_pylist()
    if one_call:
        document = pa.array([orjson.dumps(values)[1:-1]], _TEXT)
        texts: pa.Array = pc.split_pattern(document, ",").values  # keeps the large type
        return texts
    return pa.array([orjson.dumps(value, default=_json_default) for value in values], _TEXT)


def _with_nulls(text: pa.Array, array: pa.Array) -> pa.Array:
    if not array.null_count:
        return text
    return pc.if_else(array.is_valid(), text, pa.scalar(None, _TEXT))
