"""The DataFrame: an immutable ``pyarrow.Table`` with conversions, a preview and writers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from hiveframe._protocol.arrow import (
    column_to_text,
    concat_tables,
    records_to_table,
)
from hiveframe.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

    from hiveframe._writer import DataFrameWriter

__all__ = ["DataFrame"]

_REPR_FIELDS = 20
_CONTROL_ESCAPES = {code: f"\\x{code:02x}" for code in range(32)} | {9: "\\t", 10: "\\n", 13: "\\r"}


class ArrowStreamExportable(Protocol):
    """Anything exposing the Arrow PyCapsule stream interface (Polars, pandas, DuckDB)."""

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...


class DataFrame:
    """A table of rows read from an API: an immutable ``pyarrow.Table`` underneath.

    Methods return new frames and never copy data they do not change. The frame exports
    the Arrow PyCapsule stream interface, so ``polars.DataFrame(df)``,
    ``pandas.DataFrame.from_arrow(df)`` and DuckDB read it without copies.

    Parameters
    ----------
    data
        A ``pyarrow.Table``, ``RecordBatch`` or ``RecordBatchReader``, another
        ``DataFrame``, an iterable of record batches, or any object exposing
        ``__arrow_c_stream__`` / ``__arrow_c_array__`` (a Polars or pandas frame).

    Raises
    ------
    TypeError
        ``data`` is none of these (use :meth:`from_pylist` for records).

    Example
    -------
    >>> df = DataFrame(pa.table({"id": [1, 2], "name": ["ada", "bob"]}))
    >>> df.count(), df.columns
    (2, ['id', 'name'])
    """

    __slots__ = ("_table",)

    def __init__(
        self,
        data: pa.Table | pa.RecordBatch | ArrowStreamExportable | Iterable[pa.RecordBatch],
    ) -> None:
        self._table = _as_table(data)

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_arrow(
        cls,
        data: pa.Table | pa.RecordBatch | ArrowStreamExportable | Iterable[pa.RecordBatch],
    ) -> DataFrame:
        """Wrap Arrow data: a table, batches, a reader or a PyCapsule exporter.

        Parameters
        ----------
        data
            As for :class:`DataFrame`.

        Returns
        -------
        DataFrame

        Example
        -------
        >>> DataFrame.from_arrow(pa.record_batch({"id": [1]})).to_pylist()
        [{'id': 1}]
        """
        return cls(data)

    @classmethod
    def from_pylist(cls, records: Sequence[Any], schema: pa.Schema | None = None) -> DataFrame:
        """Build a frame from decoded JSON records, however messy.

        Parameters
        ----------
        records
            Dicts (a non-dict ``x`` becomes ``{"value": x}``). Fields that change type
            between records are kept as text rather than lost; see
            ``hiveframe._protocol.arrow.records_to_table``.
        schema
            The exact schema wanted: missing fields null, extra fields dropped.

        Returns
        -------
        DataFrame

        Raises
        ------
        SchemaDriftError
            A value cannot be converted to its field's type in ``schema``.

        Example
        -------
        >>> DataFrame.from_pylist([{"id": 1}, {"id": 2, "tag": "x"}]).to_pylist()
        [{'id': 1, 'tag': None}, {'id': 2, 'tag': 'x'}]
        """
        return cls(records_to_table(records, schema))

    @classmethod
    def from_batches(
        cls, batches: Iterable[pa.RecordBatch], schema: pa.Schema | None = None
    ) -> DataFrame:
        """Build a frame from record batches, unifying schemas that differ.

        Parameters
        ----------
        batches
            Record batches, e.g. one per page. Batches whose schemas differ are combined
            as ``hiveframe._protocol.arrow.concat_tables`` does: fields unioned, types
            promoted, irreconcilable types kept as text.
        schema
            The exact schema wanted. With no batches the frame has this schema, or no
            columns without it.

        Returns
        -------
        DataFrame

        Raises
        ------
        SchemaDriftError
            A value cannot be converted to ``schema``; ``page`` is the batch's 1-based
            position.
        TypeError
            An item is not a ``pyarrow.RecordBatch``.

        Example
        -------
        >>> pages = [pa.record_batch({"id": [1]}), pa.record_batch({"id": [2.5]})]
        >>> DataFrame.from_batches(pages).to_pylist()
        [{'id': 1.0}, {'id': 2.5}]
        """
        tables = []
        for batch in batches:
            if not isinstance(batch, pa.RecordBatch):
                kind = type(batch).__name__
                raise TypeError(
                    f"from_batches() expects pyarrow.RecordBatch items, got {kind}; "
                    "use DataFrame.from_pylist() for records"
                )
            tables.append(pa.Table.from_batches([batch]))
        return cls(concat_tables(tables, schema))

    # ------------------------------------------------------------------ Arrow interchange

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """Export the rows as an ``arrow_array_stream`` PyCapsule, without copying.

        ``requested_schema`` (a schema capsule) is honoured where Arrow can cast. Polars
        reads a frame with ``pl.DataFrame(df)``; ``pl.from_arrow(df)`` would give a struct
        Series, as it does for any capsule exporter.

        Example
        -------
        >>> import polars as pl
        >>> pl.DataFrame(DataFrame(pa.table({"id": [1]}))).shape
        (1, 1)
        """
        return self._table.__arrow_c_stream__(requested_schema)

    def to_arrow(self) -> pa.Table:
        """Return the underlying ``pyarrow.Table`` (no copy).

        Returns
        -------
        pyarrow.Table

        Example
        -------
        >>> DataFrame(pa.table({"id": [1]})).to_arrow().num_rows
        1
        """
        return self._table

    def to_polars(self) -> pl.DataFrame:
        """Convert to a Polars DataFrame, zero-copy where the types allow.

        Returns
        -------
        polars.DataFrame

        Raises
        ------
        ImportError
            Polars is not installed (``pip install 'hiveframe[polars]'``).

        Example
        -------
        >>> DataFrame(pa.table({"id": [1]})).to_polars().columns
        ['id']
        """
        try:
            import polars as pl
        except ImportError as exc:
            raise ImportError(_missing_extra("to_polars", "polars")) from exc
        return pl.DataFrame(self._table)

    def to_pandas(self, **options: Any) -> pd.DataFrame:
        """Convert to a pandas DataFrame.

        Parameters
        ----------
        **options
            Passed to ``pyarrow.Table.to_pandas`` (e.g. ``types_mapper=pd.ArrowDtype``).

        Returns
        -------
        pandas.DataFrame

        Raises
        ------
        ImportError
            pandas is not installed (``pip install 'hiveframe[pandas]'``).

        Example
        -------
        >>> DataFrame(pa.table({"id": [1]})).to_pandas()["id"].tolist()
        [1]
        """
        try:
            import pandas  # noqa: F401 - pyarrow needs it; checked here to name the extra
        except ImportError as exc:
            raise ImportError(_missing_extra("to_pandas", "pandas")) from exc
        return self._table.to_pandas(**options)

    def to_pylist(self) -> list[dict[str, Any]]:
        """Return the rows as a list of dicts.

        Returns
        -------
        list of dict

        Example
        -------
        >>> DataFrame(pa.table({"id": [1, 2]})).to_pylist()
        [{'id': 1}, {'id': 2}]
        """
        rows: list[dict[str, Any]] = self._table.to_pylist()
        return rows

    # ------------------------------------------------------------------ inspection

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema (field names, types, nullability)."""
        return self._table.schema

    @property
    def columns(self) -> list[str]:
        """The column names, in order."""
        return list(self._table.column_names)

    def count(self) -> int:
        """Return the number of rows.

        Returns
        -------
        int

        Example
        -------
        >>> DataFrame(pa.table({"id": [1, 2]})).count()
        2
        """
        return int(self._table.num_rows)

    def __len__(self) -> int:
        return self.count()

    def __repr__(self) -> str:
        fields = [f"  {field.name}: {field.type}" for field in self.schema][:_REPR_FIELDS]
        hidden = len(self.schema) - len(fields)
        if hidden:
            fields.append(f"  ... and {hidden} more columns")
        head = f"DataFrame[{self.count()} rows x {len(self.schema)} columns]"
        return "\n".join([head, *fields])

    def show(self, n: int = 20, *, max_width: int = 40) -> None:
        """Print the first ``n`` rows as an aligned text table.

        Nested values are shown as compact JSON, nulls as ``null``, control characters
        escaped; a footer says how many rows were shown.

        Parameters
        ----------
        n
            How many rows to show.
        max_width
            Cells and names longer than this are cut, ending in ``...``.

        Raises
        ------
        ConfigError
            ``n`` is negative or ``max_width`` below 4.

        Example
        -------
        >>> DataFrame(pa.table({"id": [1, 2], "name": ["ada", None]})).show()
        +----+------+
        | id | name |
        +----+------+
        |  1 | ada  |
        |  2 | null |
        +----+------+
        [showing 2 of 2 rows]
        """
        _check_count("n", n)
        if isinstance(max_width, bool) or not isinstance(max_width, int) or max_width < 4:
            raise ConfigError("max_width", max_width, "must be an int of at least 4")
        print(_render(self._table, n, max_width))

    # ------------------------------------------------------------------ transformations

    def select(self, *columns: str) -> DataFrame:
        """Keep only the named columns, in the order given.

        Parameters
        ----------
        *columns
            Column names.

        Returns
        -------
        DataFrame

        Raises
        ------
        ConfigError
            A name is not a column; the error lists the columns there are.

        Example
        -------
        >>> DataFrame(pa.table({"a": [1], "b": [2]})).select("b").columns
        ['b']
        """
        available = self.columns
        for name in columns:
            if name not in available:
                shown = ", ".join(repr(column) for column in available) or "none"
                reason = f"no such column; the columns are: {shown}"
                raise ConfigError("select", name, reason)
        return DataFrame(self._table.select(list(columns)))

    def limit(self, n: int) -> DataFrame:
        """Keep the first ``n`` rows (no copy).

        Parameters
        ----------
        n
            How many rows to keep; more than there are keeps them all.

        Returns
        -------
        DataFrame

        Raises
        ------
        ConfigError
            ``n`` is negative or not an int.

        Example
        -------
        >>> DataFrame(pa.table({"id": [1, 2, 3]})).limit(2).count()
        2
        """
        _check_count("limit", n)
        return DataFrame(self._table.slice(0, n))

    @property
    def write(self) -> DataFrameWriter:
        """Writers: ``df.write.parquet(path)``, ``.csv(path)``, ``.json(path)``, ``.http(sink)``."""
        from hiveframe._writer import DataFrameWriter

        return DataFrameWriter(self)


def _as_table(data: Any) -> pa.Table:
    if isinstance(data, DataFrame):
        return data.to_arrow()
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    if hasattr(data, "__arrow_c_stream__") or hasattr(data, "__arrow_c_array__"):
        return pa.table(data)
    if isinstance(data, Iterable) and not isinstance(data, (str, bytes, dict)):
        return DataFrame.from_batches(data).to_arrow()
    raise TypeError(
        f"DataFrame() cannot wrap {type(data).__name__}: pass Arrow data or an object with "
        "__arrow_c_stream__; use DataFrame.from_pylist() for records"
    )


def _missing_extra(method: str, extra: str) -> str:
    return f"{method}() needs {extra}: pip install 'hiveframe[{extra}]'"


def _check_count(option: str, n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ConfigError(option, n, "must be an int >= 0")


def _render(table: pa.Table, n: int, max_width: int) -> str:
    head = table.slice(0, n)
    total = table.num_rows
    shown = min(n, total)  # a table without columns does not clamp its slice
    footer = f"[showing {shown} of {total} row{'' if total == 1 else 's'}]"
    if not head.num_columns:
        return f"(no columns)\n{footer}"
    names = [_clip(name, max_width) for name in head.column_names]
    cells = [
        [_clip("null" if value is None else value, max_width) for value in column]
        for column in (column_to_text(column).to_pylist() for column in head.columns)
    ]
    right = [_is_number(field.type) for field in head.schema]
    widths = [
        max([len(name), *map(len, column)]) for name, column in zip(names, cells, strict=True)
    ]
    rule = "+" + "+".join("-" * (width + 2) for width in widths) + "+"
    body = [_render_row(row, widths, right) for row in zip(*cells, strict=True)]
    header = _render_row(names, widths, [False] * len(names))
    return "\n".join([rule, header, rule, *body, rule, footer])


def _render_row(cells: Sequence[str], widths: list[int], right: list[bool]) -> str:
    padded = [
        cell.rjust(width) if align_right else cell.ljust(width)
        for cell, width, align_right in zip(cells, widths, right, strict=True)
    ]
    return "| " + " | ".join(padded) + " |"


def _clip(text: str, max_width: int) -> str:
    text = text.translate(_CONTROL_ESCAPES)
    return text if len(text) <= max_width else text[: max_width - 3] + "..."


def _is_number(data_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(data_type)
        or pa.types.is_floating(data_type)
        or pa.types.is_decimal(data_type)
    )
