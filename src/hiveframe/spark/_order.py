"""Content order: a Spark task's batches depend on its rows, not on the order they arrive in.

A task that fails is run again, perhaps on another executor, where a shuffle hands it the
same rows in another order. Cut in arrival order, the re-run's batches would hold other rows,
so their bodies and idempotency keys (a SHA-256 of the body) would differ from the first
attempt's, and a server that honours keys would store the rows of those batches twice.
Sorting a partition's rows by their encoding (the very bytes that go into the bodies) makes
the batches a function of the partition's *set* of rows: the same keys on every attempt.

Memory stays bounded by an external merge sort: rows are sorted in runs of at most
``memory_bytes``; a partition larger than that writes sorted runs to a temporary folder and
merges them. The first request goes out once the whole partition has been read.
"""

from __future__ import annotations

import heapq
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from types import TracebackType

import pyarrow as pa

from hiveframe._protocol.arrow.json_rows import batch_to_json_lines
from hiveframe._protocol.batching import ENCODE_ROWS, EncodedRows

MEMORY_BYTES = 64 * 1024 * 1024
"""Default bytes of rows a task sorts in memory before it spills a sorted run to disk."""

# What one held row costs beyond its text: the bytes object's header and the list's pointer.
_ROW_OVERHEAD = sys.getsizeof(b"") + 8


class ContentOrder:
    """Put a partition's rows in content order, spilling sorted runs past ``memory_bytes``.

    Use it as a context manager: leaving it removes the spilled runs.

    Parameters
    ----------
    memory_bytes
        Rows (encoded, with their overhead) held in memory at once, at most.
    folder
        Where spilled runs go; by default the temporary folder (``TMPDIR``).

    Example
    -------
    >>> with ContentOrder(memory_bytes=1024) as order:
    ...     [chunk.rows for chunk in order.rows([pa.record_batch({"id": [2, 1]})])]
    [[b'{"id":1}', b'{"id":2}']]
    """

    def __init__(self, *, memory_bytes: int = MEMORY_BYTES, folder: str | None = None) -> None:
        self.memory_bytes = memory_bytes
        self.spilled_runs = 0
        self._folder = folder
        self._spill_dir: Path | None = None

    def __enter__(self) -> ContentOrder:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._spill_dir is not None:
            shutil.rmtree(self._spill_dir, ignore_errors=True)

    def rows(self, batches: Iterable[pa.RecordBatch]) -> Iterator[EncodedRows]:
        """The rows of ``batches``, encoded, in content order, ``ENCODE_ROWS`` at a time.

        Every batch is read before the first rows come out.
        """
        run: list[bytes] = []
        held = 0
        runs: list[Path] = []
        for batch in batches:
            for start in range(0, batch.num_rows, ENCODE_ROWS):
                lines = batch_to_json_lines(batch.slice(start, ENCODE_ROWS))
                run.extend(lines)
                held += sum(map(len, lines)) + _ROW_OVERHEAD * len(lines)
                if held > self.memory_bytes:
                    runs.append(self._spill(run))
                    run, held = [], 0
        run.sort()
        ordered = heapq.merge(run, *map(_read_run, runs)) if runs else iter(run)
        while chunk := list(islice(ordered, ENCODE_ROWS)):
            yield EncodedRows(chunk)

    def _spill(self, run: list[bytes]) -> Path:
        if self._spill_dir is None:
            self._spill_dir = Path(tempfile.mkdtemp(prefix="hiveframe-order-", dir=self._folder))
        run.sort()
        path = self._spill_dir / f"run-{self.spilled_runs}"
        self.spilled_runs += 1
        # Compact JSON never holds a raw newline (JSON escapes it in strings): one row a line.
        with path.open("wb") as file:
            for row in run:
                file.write(row)
                file.write(b"\n")
        return path


def _read_run(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        for line in file:
            yield line[:-1]
