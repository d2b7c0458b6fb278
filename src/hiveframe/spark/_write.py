"""The batch writer: each Spark task pushes its partition through an ``HTTPSink``.

Every task builds its own sink from the options (auth, retries, breaker, rate limit, all
inside the task), sends its Arrow batches, and returns a :class:`DeliveryReport`. The
driver's :meth:`HTTPWriter.commit` adds the reports up into a :class:`WriteSummary`.

Delivery is the sink's: at-least-once, each batch acknowledged by a 2xx or failed. A failed
batch goes to the task's dead-letter file when ``dead_letter`` names a folder; without one,
the task raises :class:`~hiveframe.errors.DeliveryFailed` and Spark runs it again. The
re-run cuts the same rows into the same batches, so it sends the same idempotency keys
(SHA-256 of method, URL and body) and a server that honours them stores each batch once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
from pyspark.sql.datasource import DataSourceArrowWriter, WriterCommitMessage

from hiveframe.spark._source import OptionsRef

logger = logging.getLogger("hiveframe.spark")


@dataclass(frozen=True)
class DeliveryReport(WriterCommitMessage):
    """What one task's sink did: the commit message a task sends to the driver.

    Attributes
    ----------
    partition, attempt
        The Spark partition and task attempt.
    records_sent, records_delivered, records_failed, records_dead_lettered
        As in :class:`~hiveframe.connectors.WriteResult`.
    batches_sent, batches_failed, requests, retries
        As in :class:`~hiveframe.connectors.WriteResult`.
    dead_letter_path
        The task's dead-letter file, if it kept records there.
    """

    partition: int
    attempt: int
    records_sent: int = 0
    records_delivered: int = 0
    records_failed: int = 0
    records_dead_lettered: int = 0
    batches_sent: int = 0
    batches_failed: int = 0
    requests: int = 0
    retries: int = 0
    dead_letter_path: str | None = None

    @classmethod
    def of(cls, result: Any, *, partition: int, attempt: int) -> DeliveryReport:
        """The report of a sink's ``WriteResult``."""
        counts = {f.name: getattr(result, f.name) for f in fields(cls) if f.name not in _IDS}
        return cls(partition=partition, attempt=attempt, **counts)


_IDS = ("partition", "attempt")
_TOTALS = tuple(f.name for f in fields(DeliveryReport) if f.name not in (*_IDS, "dead_letter_path"))


@dataclass(frozen=True)
class WriteSummary:
    """A whole Spark write: the sum of its tasks' :class:`DeliveryReport` s.

    Only tasks that finished report; a task attempt that failed sent batches that its
    re-run sends again, with the same idempotency keys.

    Attributes
    ----------
    status
        ``"committed"``, or ``"aborted"`` when a task failed for good (what the finished
        tasks delivered stays delivered: HTTP has no rollback).
    tasks
        Reports received.
    records_sent, records_delivered, records_failed, records_dead_lettered
        Totals; ``records_delivered + records_failed == records_sent``.
    batches_sent, batches_failed, requests, retries
        Totals.
    dead_letter_paths
        The dead-letter files that hold failed batches.
    """

    status: str
    tasks: int
    records_sent: int
    records_delivered: int
    records_failed: int
    records_dead_lettered: int
    batches_sent: int
    batches_failed: int
    requests: int
    retries: int
    dead_letter_paths: tuple[str, ...] = ()

    @classmethod
    def of(cls, messages: Iterable[Any], *, status: str = "committed") -> WriteSummary:
        """Add up the reports (``None`` stands for a task that failed; it is skipped)."""
        reports = [m for m in messages if isinstance(m, DeliveryReport)]
        totals = {name: sum(getattr(r, name) for r in reports) for name in _TOTALS}
        paths = tuple(sorted(r.dead_letter_path for r in reports if r.dead_letter_path))
        return cls(status=status, tasks=len(reports), dead_letter_paths=paths, **totals)

    def to_json(self) -> bytes:
        """The summary as a JSON document."""
        return orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2)


class HTTPWriter(DataSourceArrowWriter):
    """Spark's batch writer: one ``HTTPSink`` per task.

    Parameters
    ----------
    options
        The write's options (secrets masked in ``repr``).
    """

    def __init__(self, options: OptionsRef) -> None:
        self.options = options

    def write(self, iterator: Iterator[pa.RecordBatch]) -> DeliveryReport:
        """Send this task's rows; report what became of them.

        Raises
        ------
        hiveframe.errors.DeliveryFailed
            Records were neither delivered nor dead-lettered; Spark may run the task again.
        """
        partition, attempt = _task()
        dead_letter = self._dead_letter_file(partition, attempt)
        sink = self.options.sink(dead_letter=dead_letter)
        result = sink.write(iterator)
        return DeliveryReport.of(result, partition=partition, attempt=attempt)

    def commit(self, messages: Sequence[WriterCommitMessage | None]) -> None:
        """Add up the tasks' reports on the driver; log them (and save them, if asked)."""
        summary = WriteSummary.of(messages)
        level = logging.WARNING if summary.records_failed else logging.INFO
        logger.log(level, "hiveframe.http write: %s", _describe(summary))
        self._save(summary)

    def abort(self, messages: Sequence[WriterCommitMessage | None]) -> None:
        """The job failed: log what the finished tasks had delivered (it stays delivered)."""
        summary = WriteSummary.of(messages, status="aborted")
        logger.warning("hiveframe.http write aborted: %s", _describe(summary))
        self._save(summary)

    def _dead_letter_file(self, partition: int, attempt: int) -> Path | None:
        folder = self.options.get("dead_letter")
        if folder is None:
            return None
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        return path / f"part-{partition:05d}-attempt-{attempt}.jsonl"

    def _save(self, summary: WriteSummary) -> None:
        target = self.options.get("summary_path")
        if target is not None:
            Path(target).write_bytes(summary.to_json())


def _task() -> tuple[int, int]:
    from pyspark import TaskContext

    context = TaskContext.get()
    if context is None:  # called outside a Spark task (a unit test)
        return 0, 0
    return context.partitionId(), context.attemptNumber()


def _describe(summary: WriteSummary) -> str:
    text = (
        f"{summary.records_delivered} of {summary.records_sent} records delivered in "
        f"{summary.batches_sent} batches by {summary.tasks} tasks "
        f"({summary.records_failed} failed, {summary.records_dead_lettered} dead-lettered, "
        f"{summary.retries} retries)"
    )
    if summary.dead_letter_paths:
        text += f"; dead letters in {', '.join(summary.dead_letter_paths)}"
    return text
