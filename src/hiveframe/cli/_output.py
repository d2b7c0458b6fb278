"""Records on stdout, as they arrive: JSON Lines or CSV, written and flushed batch by batch.

``hiveframe read URL -o -`` (or into a pipe) never holds the whole read: each page goes out
as soon as it is read, so ``| head`` stops the read early and ``| jq`` starts at once. The
batches share one schema as :meth:`HTTPSource.iter_batches` widens it; for CSV, whose
header is written first, a field that first appears later is an error (JSON Lines has no
header and takes it).
"""

from __future__ import annotations

from typing import BinaryIO, Protocol

import pyarrow as pa

from hiveframe._writer import csv_batch, csv_schema
from hiveframe.errors import HiveFrameError


class BatchWriter(Protocol):
    def write(self, table: pa.Table) -> None: ...


def stdout_writer(fmt: str, out: BinaryIO) -> BatchWriter:
    """The writer of ``--format`` (``jsonl`` or ``csv``, ``_read.STDOUT_FORMATS``) onto
    ``out``."""
    return _CsvLines(out) if fmt == "csv" else _JsonLines(out)


class _JsonLines:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out

    def write(self, table: pa.Table) -> None:
        # pyarrow.compute, which the encoder needs, costs ~100 ms to import: not at start-up.
        from hiveframe._protocol.arrow.json_rows import batch_to_json_lines

        for batch in table.to_batches():
            lines = batch_to_json_lines(batch)
            if lines:
                self.out.write(b"\n".join(lines) + b"\n")
        self.out.flush()


class _CsvLines:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.header: list[str] | None = None
        self.started = False  # the header is written

    def write(self, table: pa.Table) -> None:
        import pyarrow.csv as pacsv

        if self.header is None:
            self.header = table.column_names
        elif table.column_names != self.header:
            new = [name for name in table.column_names if name not in self.header]
            raise HiveFrameError(
                f"field {new[0]!r} first appears after the CSV header was written: use "
                "--format jsonl, or -o FILE.csv (written once every record is read)"
            )
        schema = csv_schema(table.schema)
        for batch in table.to_batches():
            options = pacsv.WriteOptions(include_header=not self.started)
            pacsv.write_csv(csv_batch(batch, schema), self.out, write_options=options)
            self.started = True
        self.out.flush()
