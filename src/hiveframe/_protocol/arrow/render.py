"""Arrow values as JSON and as text, and the Arrow type helpers the arrow modules share.

Pure functions, no I/O. The renderings are listed in :mod:`hiveframe._protocol.arrow`.
"""

from __future__ import annotations

import base64
import json
import math
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa

__all__ = [
    "ARROW_ERRORS",
    "column_to_text",
    "is_list_like",
    "is_text",
    "is_variable_list",
    "json_dumps",
    "list_parts",
    "null_mask",
    "value_text",
]

# pyarrow reports conversion failures as ArrowInvalid/ArrowTypeError (ValueError/TypeError
# subclasses), ArrowNotImplementedError, and OverflowError for ints beyond 64 bits.
ARROW_ERRORS = (pa.ArrowException, TypeError, ValueError, OverflowError)

_UNITS_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


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
        return pa.chunked_array(chunks, type=column.type if is_text(column.type) else pa.string())
    if is_text(column.type):
        return column
    return pa.array([value_text(value) for value in _json_ready(column).to_pylist()], pa.string())


def _needs_rendering(data_type: pa.DataType) -> bool:
    # Types whose Python values orjson would render wrongly or not at all (nanoseconds,
    # durations); everything else goes through to_pylist() and _json_default.
    if pa.types.is_timestamp(data_type) or pa.types.is_duration(data_type):
        return True
    if pa.types.is_dictionary(data_type):
        return _needs_rendering(data_type.value_type)
    if pa.types.is_struct(data_type):
        return any(_needs_rendering(field.type) for field in data_type)
    if is_list_like(data_type):
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
        return pa.StructArray.from_arrays(children, names=data_type.names, mask=null_mask(array))
    if not is_variable_list(data_type):
        array = array.cast(pa.list_(data_type.value_field))
    list_class = pa.LargeListArray if pa.types.is_large_list(array.type) else pa.ListArray
    offsets, values = list_parts(array)
    return list_class.from_arrays(offsets, _json_ready(values), mask=null_mask(array))


def _iso_duration(count: int, unit: str) -> str:
    per_second = _UNITS_PER_SECOND[unit]
    seconds, fraction = divmod(abs(count), per_second)
    digits = len(str(per_second)) - 1
    text = f"{seconds}.{fraction:0{digits}d}".rstrip("0") if fraction else str(seconds)
    return f"{'-' if count < 0 else ''}PT{text}S"


def value_text(value: Any) -> str | None:
    """One value as text: str as is, other scalars bare, containers as compact JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # JSON has no NaN; "nan" keeps the value where null would lose it
    if isinstance(value, (Decimal, bytes, bytearray, memoryview, datetime, date, time, timedelta)):
        rendered: str = _json_default(value)
        return rendered
    return json_dumps(value).decode()


def json_dumps(value: Any) -> bytes:
    """Compact JSON, values rendered as above: ints beyond 64 bits and deep nesting too."""
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


# -- Arrow type helpers ---------------------------------------------------------------------


def list_parts(array: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The offsets (from 0) and the values of a list array, honouring its slice."""
    offsets = array.offsets
    start, end = offsets[0].as_py(), offsets[-1].as_py()
    # As they are when they start at 0 and are not a slice (from_arrays() refuses a sliced
    # offsets array with a null mask): no pyarrow.compute, 100+ ms to import.
    if start == 0 and offsets.offset == 0:
        return offsets, array.values.slice(0, end)
    import pyarrow.compute as pc  # needed by few reads

    relative = pc.subtract(offsets, pa.scalar(start, offsets.type))
    return relative, array.values.slice(start, end - start)


def null_mask(array: pa.Array) -> pa.Array | None:
    """Which entries of ``array`` are null, or ``None`` when none is (no mask needed)."""
    return array.is_null() if array.null_count else None


def is_text(data_type: pa.DataType) -> bool:
    """Whether ``data_type`` is a string type (plain, large or view)."""
    return bool(
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_string_view(data_type)
    )


def is_variable_list(data_type: pa.DataType) -> bool:
    """Whether ``data_type`` is a list or a large list (not a fixed-size one)."""
    return bool(pa.types.is_list(data_type) or pa.types.is_large_list(data_type))


def is_list_like(data_type: pa.DataType) -> bool:
    """Whether ``data_type`` is a list of any kind, fixed-size included."""
    return is_variable_list(data_type) or bool(pa.types.is_fixed_size_list(data_type))
