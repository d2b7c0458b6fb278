"""Writers of a DataFrame: Parquet, CSV, JSON Lines and an HTTP API, reached as ``df.write``."""

from __future__ import annotations

import errno
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import pyarrow as pa

from hiveframe._protocol.arrow.render import column_to_text
from hiveframe._validate import check_choice, check_output_path

__all__ = ["DataFrameWriter", "Sink"]

WriteMode = Literal["overwrite", "error"]
_WRITE_MODES = ("overwrite", "error")
_WRITE_BATCH_ROWS = 10_000  # rows encoded at a time by the CSV and JSON writers

Result = TypeVar("Result")
Result_co = TypeVar("Result_co", covariant=True)


class Sink(Protocol[Result_co]):
    """Where ``df.write.http`` sends the rows: an :class:`~hiveframe.connectors.HTTPSink`,
    whose ``write`` returns a :class:`~hiveframe.connectors.WriteResult`."""

    def write(self, data: pa.Table, /) -> Result_co: ...


class _Tabular(Protocol):
    """A frame to write: anything that hands over its rows as a ``pyarrow.Table``."""

    def to_arrow(self) -> pa.Table: ...


class DataFrameWriter:
    """Write a :class:`DataFrame` to a file or an HTTP API. Reached as ``df.write``.

    Every writer writes to a temporary file beside ``path`` and renames it into place
    when done, so a failed write never leaves a half-written file. ``mode="overwrite"``
    (the default, as in pyarrow and Polars) replaces an existing file; ``mode="error"``
    raises ``FileExistsError`` instead. Parent directories must exist.

    Parameters
    ----------
    frame
        The frame to write.

    Example
    -------
    >>> df = DataFrame(pa.table({"id": [1]}))
    >>> df.write.json("out.jsonl")  # doctest: +SKIP
    """

    __slots__ = ("_table",)

    def __init__(self, frame: _Tabular) -> None:
        self._table = frame.to_arrow()

    def parquet(
        self, path: str | PathLike[str], *, mode: WriteMode = "overwrite", **options: Any
    ) -> None:
        """Write a Parquet file.

        Parameters
        ----------
        path
            The file to write.
        mode
            ``"overwrite"`` or ``"error"`` (if the file exists).
        **options
            Passed to ``pyarrow.parquet.write_table`` (``compression``,
            ``row_group_size``, ...).

        Raises
        ------
        ConfigError
            ``mode`` is not one of the two, ``path`` is a folder, or its folder is
            missing or not writable (checked before anything is written).
        FileExistsError
            ``mode="error"`` and the file exists.

        Example
        -------
        >>> df.write.parquet("rows.parquet", compression="zstd")  # doctest: +SKIP
        """
        import pyarrow.parquet as pq

        with _replacing(path, mode) as temporary:
            pq.write_table(self._table, str(temporary), **options)

    def csv(self, path: str | PathLike[str], *, mode: WriteMode = "overwrite") -> None:
        """Write a CSV file with a header row, batch by batch.

        Numbers, booleans, strings, dates and times are written by Arrow; timestamps,
        decimals, durations and binary as in the JSON writer (ISO 8601, every decimal
        digit, base64); structs and lists as compact JSON text.

        Parameters
        ----------
        path
            The file to write.
        mode
            ``"overwrite"`` or ``"error"`` (if the file exists).

        Raises
        ------
        ConfigError
            ``mode`` is not one of the two, ``path`` is a folder, or its folder is
            missing or not writable (checked before anything is written).
        FileExistsError
            ``mode="error"`` and the file exists.

        Example
        -------
        >>> df.write.csv("rows.csv")  # doctest: +SKIP
        """
        import pyarrow.csv as pacsv

        schema = csv_schema(self._table.schema)
        with _replacing(path, mode) as temporary, pacsv.CSVWriter(str(temporary), schema) as out:
            for batch in self._table.to_batches(max_chunksize=_WRITE_BATCH_ROWS):
                out.write_batch(csv_batch(batch, schema))

    def http(self, sink: Sink[Result]) -> Result:
        """Send the rows to an HTTP API through ``sink``, in batches.

        Parameters
        ----------
        sink
            A :class:`~hiveframe.connectors.HTTPSink`: URL, batching, retries, dead letter.

        Returns
        -------
        WriteResult
            Records and batches sent, delivered and failed, retries and elapsed time.

        Raises
        ------
        DeliveryFailed
            Some records were not delivered and the sink has no dead-letter file.

        Example
        -------
        >>> from hiveframe.connectors import HTTPSink
        >>> df.write.http(HTTPSink("https://api.example.com/ingest"))  # doctest: +SKIP
        WriteResult(records_sent=250, batches_sent=3, ...)
        """
        return sink.write(self._table)

    def json(self, path: str | PathLike[str], *, mode: WriteMode = "overwrite") -> None:
        """Write JSON Lines: one compact JSON object per row, batch by batch.

        Timestamps are ISO 8601 with the column's zone offset (no offset for columns
        without a zone), dates ISO 8601, decimals strings with every digit, binary base64,
        structs and lists nested JSON, nulls ``null``.

        Parameters
        ----------
        path
            The file to write.
        mode
            ``"overwrite"`` or ``"error"`` (if the file exists).

        Raises
        ------
        ConfigError
            ``mode`` is not one of the two, ``path`` is a folder, or its folder is
            missing or not writable (checked before anything is written).
        FileExistsError
            ``mode="error"`` and the file exists.

        Example
        -------
        >>> df.write.json("rows.jsonl")  # doctest: +SKIP
        """
        # pyarrow.compute, which the encoder needs, costs ~100 ms to import: not at start-up.
        from hiveframe._protocol.arrow.json_rows import batch_to_json_lines

        with _replacing(path, mode) as temporary, temporary.open("wb") as out:
            for batch in self._table.to_batches(max_chunksize=_WRITE_BATCH_ROWS):
                lines = batch_to_json_lines(batch)
                if lines:
                    out.write(b"\n".join(lines) + b"\n")


# ---------------------------------------------------------------------- helpers


@contextmanager
def _replacing(path: str | PathLike[str], mode: str) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; move it onto ``path`` if the block succeeds."""
    check_choice("mode", mode, _WRITE_MODES)
    target = check_output_path("path", path)
    if mode == "error" and target.exists():
        raise FileExistsError(errno.EEXIST, "already exists (mode='error')", str(target))
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        yield temporary
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)


def csv_schema(schema: pa.Schema) -> pa.Schema:
    """The schema a CSV writer is given for records of ``schema``: types Arrow's CSV writer
    renders well as they are, anything else (timestamps, decimals, structs...) as text."""
    return pa.schema([(field.name, _csv_type(field.type)) for field in schema])


def csv_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` in ``schema`` (from :func:`csv_schema`), its other columns rendered as text."""
    columns = [
        _csv_column(column, field.type) for column, field in zip(batch.columns, schema, strict=True)
    ]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _csv_type(data_type: pa.DataType) -> pa.DataType:
    # Types Arrow's CSV writer renders well; anything else is written as text.
    native = (
        pa.types.is_null(data_type)
        or pa.types.is_boolean(data_type)
        or pa.types.is_integer(data_type)
        or pa.types.is_floating(data_type)
        or pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_date(data_type)
        or pa.types.is_time(data_type)
    )
    return data_type if native else pa.large_string()


def _csv_column(column: pa.Array, data_type: pa.DataType) -> pa.Array:
    if column.type == data_type:
        return column
    return column_to_text(column).cast(data_type)
