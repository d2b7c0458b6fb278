"""The DataFrame: an immutable ``pyarrow.Table`` with conversions, a preview and writers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from hiveframe._protocol.arrow.conform import concat_tables
from hiveframe._protocol.arrow.infer import records_to_table
from hiveframe._protocol.arrow.render import column_to_text
from hiveframe._writer import DataFrameWriter
from hiveframe.errors import ColumnNotFoundError, ConfigError, MissingExtraError

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
    import pyarrow.compute as pc

__all__ = ["DataFrame"]

_PREVIEW_ROWS = 5  # rows in repr() and the notebook table
_PREVIEW_COLUMNS = 12  # columns in repr() and the notebook table
_PREVIEW_WIDTH = 24  # characters a preview cell or type keeps
_ITER_ROWS = 1024  # rows turned into dicts at a time by iteration
_CONTROL_ESCAPES = {code: f"\\x{code:02x}" for code in range(32)} | {9: "\\t", 10: "\\n", 13: "\\r"}


class ArrowStreamExportable(Protocol):
    """Anything exposing the Arrow PyCapsule stream interface (Polars, pandas, DuckDB)."""

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...


class DataFrame:
    """A table of rows read from an API: an immutable ``pyarrow.Table`` underneath.

    Methods return new frames and never copy data they do not change; each delegates to
    Arrow. The frame exports the Arrow PyCapsule stream interface, so ``polars.DataFrame(df)``,
    ``polars.from_dataframe(df)``, ``pandas.DataFrame.from_arrow(df)`` (pandas 3) and DuckDB
    read it without copies. ``pandas.DataFrame(df)`` builds from the rows (the frame iterates
    as dicts); ``polars.from_arrow(df)`` gives a struct Series, as it does for every capsule
    exporter that is not pyarrow's own (see :meth:`__arrow_c_stream__`).

    ``len(df)`` counts rows, ``df["name"]`` is a column (``pyarrow.ChunkedArray``),
    ``"name" in df`` asks for a column, and ``for row in df`` gives each row as a dict.

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
            ``hiveframe._protocol.arrow.infer.records_to_table``.
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
            as ``hiveframe._protocol.arrow.conform.concat_tables`` does: fields unioned, types
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

        ``requested_schema`` (a schema capsule) is honoured where Arrow can cast.

        Polars reads a frame with ``pl.DataFrame(df)`` or ``pl.from_dataframe(df)``.
        ``pl.from_arrow(df)`` cannot give a DataFrame: Polars turns every capsule exporter
        that is not a pyarrow object into a Series of structs (unpack it with
        ``.struct.unnest()``, or call ``pl.from_arrow(df.to_arrow())``).

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
        MissingExtraError
            Polars is not installed (``pip install 'hiveframe[polars]'``).

        Example
        -------
        >>> DataFrame(pa.table({"id": [1]})).to_polars().columns
        ['id']
        """
        try:
            import polars as pl
        except ModuleNotFoundError as exc:
            raise MissingExtraError("to_polars()", extra="polars", missing=exc.name) from None
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
        MissingExtraError
            pandas is not installed (``pip install 'hiveframe[pandas]'``).

        Example
        -------
        >>> DataFrame(pa.table({"id": [1]})).to_pandas()["id"].tolist()
        [1]
        """
        try:
            import pandas  # noqa: F401 - pyarrow needs it; checked here to name the extra
        except ModuleNotFoundError as exc:
            raise MissingExtraError("to_pandas()", extra="pandas", missing=exc.name) from None
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

    def to_dicts(self) -> list[dict[str, Any]]:
        """Return the rows as a list of dicts (Polars' name for :meth:`to_pylist`).

        Returns
        -------
        list of dict

        Example
        -------
        >>> DataFrame(pa.table({"id": [1, 2]})).to_dicts()
        [{'id': 1}, {'id': 2}]
        """
        return self.to_pylist()

    def iter_batches(self, max_rows: int | None = None) -> Iterator[pa.RecordBatch]:
        """Yield the rows as record batches, without copying.

        Parameters
        ----------
        max_rows
            The most rows a batch holds; ``None`` keeps the table's own chunks.

        Returns
        -------
        Iterator[pyarrow.RecordBatch]

        Raises
        ------
        ConfigError
            ``max_rows`` is not an int of at least 1.

        Example
        -------
        >>> [b.num_rows for b in DataFrame(pa.table({"id": [1, 2, 3]})).iter_batches(2)]
        [2, 1]
        """
        if max_rows is not None:
            _check_count("max_rows", max_rows, least=1)
        return iter(self._table.to_batches(max_chunksize=max_rows))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Yield each row as a dict, converting a slice of rows at a time."""
        for batch in self._table.to_batches(max_chunksize=_ITER_ROWS):
            yield from batch.to_pylist()

    def __getitem__(self, name: str) -> pa.ChunkedArray:
        """Return the column ``name`` (no copy).

        Raises
        ------
        ColumnNotFoundError
            ``name`` is not a column (also a ``KeyError``).

        Example
        -------
        >>> DataFrame(pa.table({"id": [1, 2]}))["id"].to_pylist()
        [1, 2]
        """
        self._check_columns("column", [name])
        return self._table.column(name)

    def __contains__(self, name: object) -> bool:
        """Whether ``name`` is a column, as for ``"id" in df``."""
        return name in self._table.column_names

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
        """The shape, then the first rows under each column's name and type."""
        preview = self._preview()
        lines = [f"DataFrame[{self._shape()}]"]
        if preview.num_columns:
            lines += _box(preview, _PREVIEW_WIDTH, types=True)
        hidden = self._hidden(preview)
        if hidden:
            lines.append(f"[{hidden} not shown]")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """The repr as an HTML table, for notebooks; every name and value escaped."""
        preview = self._preview()
        head = f"DataFrame: {self._shape()}"
        hidden = self._hidden(preview)
        if hidden:
            head += f"; {hidden} not shown"
        names = "".join(f"<th>{_html(name)}</th>" for name in preview.column_names)
        types = "".join(
            f"<td><i>{_html(_clip(str(field.type), _PREVIEW_WIDTH))}</i></td>"
            for field in preview.schema
        )
        rows = "".join(
            "<tr>" + "".join(f"<td>{_html(cell)}</td>" for cell in row) + "</tr>"
            for row in zip(*_cells(preview, _PREVIEW_WIDTH), strict=True)
        )
        return (
            f"<div><p>{head}</p><table><thead><tr>{names}</tr><tr>{types}</tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )

    def _preview(self) -> pa.Table:
        columns = min(self._table.num_columns, _PREVIEW_COLUMNS)
        return self._table.slice(0, _PREVIEW_ROWS).select(range(columns))

    def _hidden(self, preview: pa.Table) -> str:
        parts = []
        if preview.num_columns and preview.num_rows < self.count():
            parts.append(_count(self.count() - preview.num_rows, "more row"))
        if preview.num_columns < self._table.num_columns:
            parts.append(_count(self._table.num_columns - preview.num_columns, "more column"))
        return " and ".join(parts)

    def _shape(self) -> str:
        return f"{_count(self.count(), 'row')} x {_count(self._table.num_columns, 'column')}"

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
        _check_count("max_width", max_width, least=4)
        head = self._table.slice(0, n)
        shown = min(n, self.count())  # a table without columns does not clamp its slice
        lines = _box(head, max_width, types=False) if head.num_columns else ["(no columns)"]
        print("\n".join([*lines, f"[showing {shown} of {_count(self.count(), 'row')}]"]))

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
        ColumnNotFoundError
            A name is not a column; the error lists the columns there are.

        Example
        -------
        >>> DataFrame(pa.table({"a": [1], "b": [2]})).select("b").columns
        ['b']
        """
        self._check_columns("select", columns)
        return DataFrame(self._table.select(list(columns)))

    def drop(self, *columns: str) -> DataFrame:
        """Leave out the named columns (no copy).

        Parameters
        ----------
        *columns
            Column names; naming one twice is the same as once.

        Returns
        -------
        DataFrame

        Raises
        ------
        ColumnNotFoundError
            A name is not a column; the error lists the columns there are.

        Example
        -------
        >>> DataFrame(pa.table({"a": [1], "b": [2], "c": [3]})).drop("a", "c").columns
        ['b']
        """
        self._check_columns("drop", columns)
        return DataFrame(self._table.drop_columns(list(dict.fromkeys(columns))))

    def rename(self, mapping: Mapping[str, str]) -> DataFrame:
        """Rename columns (no copy); columns not in ``mapping`` keep their names.

        Parameters
        ----------
        mapping
            Old name to new name. Names may be swapped (``{"a": "b", "b": "a"}``).

        Returns
        -------
        DataFrame

        Raises
        ------
        ColumnNotFoundError
            A key is not a column.
        ConfigError
            A new name is not a string, or two columns would end up with one name.

        Example
        -------
        >>> DataFrame(pa.table({"a": [1], "b": [2]})).rename({"a": "id"}).columns
        ['id', 'b']
        """
        if not isinstance(mapping, Mapping):
            raise ConfigError("rename", mapping, "must be a mapping of old to new column names")
        self._check_columns("rename", list(mapping))
        for new in mapping.values():
            if not isinstance(new, str):
                raise ConfigError("rename", new, "a new column name must be a string")
        names = [mapping.get(name, name) for name in self.columns]
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise ConfigError("rename", dict(mapping), f"two columns would be named {name!r}")
            seen.add(name)
        return DataFrame(self._table.rename_columns(names))

    def filter(
        self, condition: pc.Expression | pa.Array | pa.ChunkedArray | Iterable[bool | None]
    ) -> DataFrame:
        """Keep the rows where ``condition`` is true; a null condition drops the row.

        Parameters
        ----------
        condition
            A ``pyarrow.compute`` expression (``pc.field("price") > 10``), or a boolean
            mask with one value per row: a pyarrow array, a NumPy array, a list of bools,
            or anything ``pyarrow.array`` takes.

        Returns
        -------
        DataFrame

        Raises
        ------
        ConfigError
            A mask that is not boolean or whose length is not the number of rows.
        pyarrow.ArrowInvalid
            The expression names a column that is not there (Arrow's error says which).

        Example
        -------
        >>> import pyarrow.compute as pc
        >>> df = DataFrame(pa.table({"id": [1, 2, 3]}))
        >>> df.filter(pc.field("id") >= 2).to_pylist()
        [{'id': 2}, {'id': 3}]
        >>> df.filter([True, False, None]).to_pylist()
        [{'id': 1}]
        """
        import pyarrow.compute as pc

        if isinstance(condition, pc.Expression):
            return DataFrame(self._table.filter(condition))
        mask = (
            condition if isinstance(condition, (pa.Array, pa.ChunkedArray)) else pa.array(condition)
        )
        if not pa.types.is_boolean(mask.type):
            raise ConfigError("filter", condition, f"a mask must be boolean, not {mask.type}")
        if len(mask) != self.count():
            reason = f"a mask needs one value per row: it has {len(mask)}, the frame {self.count()}"
            raise ConfigError("filter", condition, reason)
        return DataFrame(self._table.filter(mask))

    def sort(self, by: str | Sequence[str], descending: bool | Sequence[bool] = False) -> DataFrame:
        """Sort the rows by one or more columns; stable, nulls last.

        Parameters
        ----------
        by
            A column name, or several: rows equal on the first are ordered by the next.
        descending
            One flag for every column in ``by``, or one per column.

        Returns
        -------
        DataFrame

        Raises
        ------
        ColumnNotFoundError
            A name in ``by`` is not a column.
        ConfigError
            ``by`` is empty, or ``descending`` is not a bool or has not one flag per column.

        Example
        -------
        >>> df = DataFrame(pa.table({"k": ["b", "a", "b"], "n": [1, 2, 3]}))
        >>> df.sort(["k", "n"], descending=[False, True]).to_pylist()
        [{'k': 'a', 'n': 2}, {'k': 'b', 'n': 3}, {'k': 'b', 'n': 1}]
        """
        names = list(by) if isinstance(by, Sequence) and not isinstance(by, str) else [by]
        if not names:
            raise ConfigError("sort", by, "name at least one column to sort by")
        self._check_columns("sort", names)
        flags = [descending] * len(names) if isinstance(descending, bool) else descending
        if (
            not isinstance(flags, Sequence)
            or len(flags) != len(names)
            or not all(isinstance(flag, bool) for flag in flags)
        ):
            raise ConfigError("descending", descending, "must be a bool or one bool per column")
        keys = [
            (name, "descending" if flag else "ascending")
            for name, flag in zip(names, flags, strict=True)
        ]
        return DataFrame(self._table.sort_by(keys))

    def head(self, n: int = 5) -> DataFrame:
        """Keep the first ``n`` rows (no copy); :meth:`limit` with a default.

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
        >>> DataFrame(pa.table({"id": list(range(10))})).head().count()
        5
        """
        return self._first("head", n)

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
        return self._first("limit", n)

    def _first(self, option: str, n: int) -> DataFrame:
        _check_count(option, n)
        return DataFrame(self._table.slice(0, n))

    def _check_columns(self, option: str, names: Iterable[object]) -> None:
        available = self._table.column_names
        for name in names:
            if name not in available:
                raise ColumnNotFoundError(option, name, available)

    @property
    def write(self) -> DataFrameWriter:
        """Writers: ``df.write.parquet(path)``, ``.csv(path)``, ``.json(path)``, ``.http(sink)``."""
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


def _check_count(option: str, n: int, *, least: int = 0) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < least:
        raise ConfigError(option, n, f"must be an int >= {least}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _cells(table: pa.Table, max_width: int) -> list[list[str]]:
    """Each column's values as display text: nulls as ``null``, escaped, clipped."""
    return [
        [_clip("null" if value is None else value, max_width) for value in column]
        for column in (column_to_text(column).to_pylist() for column in table.columns)
    ]


def _box(table: pa.Table, max_width: int, *, types: bool) -> list[str]:
    """``table`` as the lines of an aligned text table; ``types`` adds a row of types."""
    heads = [[_clip(name, max_width) for name in table.column_names]]
    if types:
        heads.append([_clip(str(field.type), max_width) for field in table.schema])
    cells = _cells(table, max_width)
    right = [_is_number(field.type) for field in table.schema]
    widths = [
        max([*(len(head[i]) for head in heads), *map(len, column)])
        for i, column in enumerate(cells)
    ]
    rule = "+" + "+".join("-" * (width + 2) for width in widths) + "+"
    header = [_render_row(head, widths, [False] * len(widths)) for head in heads]
    body = [_render_row(row, widths, right) for row in zip(*cells, strict=True)]
    return [rule, *header, rule, *body, rule]


def _html(text: str) -> str:
    import html  # only notebooks render HTML: not loaded with the frame

    return html.escape(text, quote=True)


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
