"""Metadata columns of a read: where each record came from (``include_metadata=``).

Sans-I/O: the reader hands over what it knows of a page (status, page number, redacted URL,
when the response arrived) and :func:`with_metadata` appends those columns to the page's
table, after the record fields.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

import pyarrow as pa

from hiveframe.errors import ConfigError

METADATA_COLUMNS: Final[Mapping[str, pa.DataType]] = MappingProxyType(
    {
        "_http_status": pa.int16(),  # the response's status
        "_page": pa.int32(),  # the page's 0-based number in its read
        "_url": pa.string(),  # the URL that answered, credentials masked
        "_fetched_at": pa.timestamp("us", tz="UTC"),  # when the response arrived
    }
)
"""The metadata columns a read can add, and their Arrow types."""


def metadata_option(value: object) -> tuple[str, ...]:
    """The ``include_metadata=`` option as column names, in the order given.

    ``True`` is all of :data:`METADATA_COLUMNS`; ``False`` and ``None`` none.

    Raises
    ------
    ConfigError
        A name that is not a metadata column, or a value that is not names.
    """
    if value is None or value is False:
        return ()
    if value is True:
        return tuple(METADATA_COLUMNS)
    reason = f"True, or some of {', '.join(map(repr, METADATA_COLUMNS))}"
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ConfigError("include_metadata", value, reason)
    names = tuple(dict.fromkeys(value))
    for name in names:
        if name not in METADATA_COLUMNS:
            raise ConfigError("include_metadata", name, reason)
    return names


def metadata_schema(schema: pa.Schema | None, names: tuple[str, ...]) -> pa.Schema | None:
    """``schema`` (a user's fixed schema) with the metadata columns after its fields."""
    if schema is None or not names:
        return schema
    return pa.schema([*schema, *(pa.field(name, METADATA_COLUMNS[name]) for name in names)])


def with_metadata(
    table: pa.Table,
    names: tuple[str, ...],
    *,
    status: int,
    page: int,
    url: str,
    fetched_at: float,
) -> pa.Table:
    """``table`` with the metadata columns ``names`` appended, one value for every row.

    Raises
    ------
    ConfigError
        The records already have a field of a metadata column's name.

    Example
    -------
    >>> page = with_metadata(pa.table({"id": [1, 2]}), ("_page", "_http_status"),
    ...                      status=200, page=3, url="https://api.test/x", fetched_at=0.0)
    >>> page.to_pylist()
    [{'id': 1, '_page': 3, '_http_status': 200}, {'id': 2, '_page': 3, '_http_status': 200}]
    """
    micros = math.floor(fetched_at * 1_000_000)
    values: dict[str, object] = {
        "_http_status": status,
        "_page": page,
        "_url": url,
        "_fetched_at": micros,
    }
    for name in names:
        if name in table.column_names:
            reason = "the records have a field of that name already; leave it out"
            raise ConfigError("include_metadata", name, reason)
        kind = METADATA_COLUMNS[name]
        column = pa.array(
            [values[name]] * table.num_rows, pa.int64() if name == "_fetched_at" else kind
        )
        table = table.append_column(pa.field(name, kind), column.cast(kind))
    return table
