"""The batch writer: each Spark task pushes its partition through an ``HTTPSink``.

Every task builds its own sink from the options (auth, retries, breaker, rate limit, all
inside the task), sends its rows, and returns a :class:`DeliveryReport`. The driver's
:meth:`HTTPWriter.commit` adds the reports up into a :class:`WriteSummary`.

Delivery is the sink's: at-least-once, each batch acknowledged by a 2xx or failed. A failed
batch goes to the task's dead-letter file when ``dead_letter`` names a folder; without one,
the task raises :class:`~hiveframe.errors.DeliveryFailed` and Spark runs it again. Rows are
cut into batches in content order (:mod:`hiveframe.spark._order`), so the re-run cuts the
same rows into the same batches, in whatever order they arrive, and sends the same
idempotency keys (SHA-256 of method, URL and body): a server that honours them stores each
batch once. With ``delivery_journal`` (:mod:`hiveframe.spark._journal`) the re-run skips
what earlier attempts delivered, and the summary counts it.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
from pyspark.sql.datasource import DataSourceArrowWriter, WriterCommitMessage

from hiveframe._http.portal import run_sync
from hiveframe._validate import check_choice
from hiveframe.connectors._sink import SinkWriter
from hiveframe.connectors._sink_outcome import WriteResult
from hiveframe.errors import ConfigError
from hiveframe.spark._journal import TaskJournal, journal_folder, unreported_deliveries
from hiveframe.spark._options import parse_count
from hiveframe.spark._order import MEMORY_BYTES, ContentOrder
from hiveframe.spark._plan import task_runtime
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
    records_skipped
        Of ``records_delivered``, those not sent because an earlier attempt had delivered
        them (``delivery_journal``).
    dead_letter_path
        The task's dead-letter file, if it kept records there.
    journal_path
        The task attempt's delivery journal file, if it recorded deliveries.
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
    records_skipped: int = 0
    dead_letter_path: str | None = None
    journal_path: str | None = None

    @classmethod
    def of(
        cls,
        result: WriteResult,
        *,
        partition: int,
        attempt: int,
        journal: TaskJournal | None = None,
    ) -> DeliveryReport:
        """The report of a sink's ``WriteResult`` (and of the task's journal, if any)."""
        counts = {name: getattr(result, name) for name in _FROM_SINK}
        if journal is None:
            return cls(partition=partition, attempt=attempt, **counts)
        return cls(
            partition=partition,
            attempt=attempt,
            records_skipped=journal.records_skipped,
            journal_path=journal.path,
            **counts,
        )


_IDS = ("partition", "attempt")
_OWN = ("records_skipped", "journal_path")
_PATHS = ("dead_letter_path", "journal_path")
_FROM_SINK = tuple(f.name for f in fields(DeliveryReport) if f.name not in (*_IDS, *_OWN))
_TOTALS = tuple(f.name for f in fields(DeliveryReport) if f.name not in (*_IDS, *_PATHS))


@dataclass(frozen=True)
class WriteSummary:
    """A whole Spark write: the sum of its tasks' :class:`DeliveryReport` s.

    Only task attempts that finished report. An attempt that failed (or was killed when the
    job aborted) may have delivered batches first: they stay delivered (HTTP has no
    rollback), and only the ``delivery_journal`` knows them.

    Attributes
    ----------
    status
        ``"committed"``, or ``"aborted"`` when a task failed for good.
    tasks
        Reports received.
    records_sent, records_delivered, records_failed, records_dead_lettered
        Totals of the reports; ``records_delivered + records_failed == records_sent``.
    batches_sent, batches_failed, requests, retries
        Totals of the reports.
    records_skipped
        Of ``records_delivered``, those an earlier attempt had delivered (not sent again).
    unfinished_partitions
        Partitions without a report (an aborted write's failed or cancelled tasks).
    records_delivered_by_failed_attempts
        Records that attempts without a report had delivered, read from the
        ``delivery_journal``; None without one: unknown, so an aborted write delivered *at
        least* ``records_delivered`` records.
    dead_letter_paths
        The dead-letter files that hold failed batches.
    seconds
        Wall time from the write's start (planned on the driver) to its commit or abort.
    records_per_second
        ``records_delivered`` per second of ``seconds``: the write's throughput.
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
    records_skipped: int
    unfinished_partitions: int = 0
    records_delivered_by_failed_attempts: int | None = None
    dead_letter_paths: tuple[str, ...] = ()
    seconds: float = 0.0
    records_per_second: float = 0.0

    @classmethod
    def of(
        cls,
        messages: Sequence[Any],
        *,
        status: str = "committed",
        by_failed_attempts: int | None = None,
        seconds: float = 0.0,
    ) -> WriteSummary:
        """Add up the reports (``None`` stands for a partition whose task did not finish).

        ``by_failed_attempts`` is what the journal says attempts without a report delivered;
        ``seconds`` how long the write took.
        """
        reports = [m for m in messages if isinstance(m, DeliveryReport)]
        totals = {name: sum(getattr(r, name) for r in reports) for name in _TOTALS}
        paths = tuple(sorted(r.dead_letter_path for r in reports if r.dead_letter_path))
        return cls(
            status=status,
            tasks=len(reports),
            unfinished_partitions=len(messages) - len(reports),
            records_delivered_by_failed_attempts=by_failed_attempts,
            dead_letter_paths=paths,
            seconds=seconds,
            records_per_second=totals["records_delivered"] / seconds if seconds > 0 else 0.0,
            **totals,
        )

    def to_json(self) -> bytes:
        """The summary as a JSON document."""
        return orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2)


ROW_ORDERS = ("content", "arrival")
"""``row_order``: cut batches from rows sorted by content (default), or as they arrive."""

_ORDERED = (
    "ordered=true sends the rows in order: set row_order='arrival' to keep the partition's "
    "order (make it deterministic, e.g. with sortWithinPartitions, or a retried task sends "
    "other batches) or row_order='content'"
)


class HTTPWriter(DataSourceArrowWriter):
    """Spark's batch writer: one ``HTTPSink`` per task.

    Built on the driver, so every option is checked before any task starts; then pickled to
    the tasks and to the commit.

    Parameters
    ----------
    options
        The write's options (secrets masked in ``repr``).
    tasks_at_once
        How many tasks Spark runs at once (``defaultParallelism``): each task sends at
        most ``rate_limit / tasks_at_once`` requests per second, so the write as a whole
        keeps to ``rate_limit``.

    Raises
    ------
    hiveframe.errors.ConfigError
        A bad option, named: the sink's, or the writer's own (``row_order``,
        ``row_order_memory_bytes``, ``delivery_journal``).
    """

    def __init__(self, options: OptionsRef, *, tasks_at_once: int) -> None:
        self.options = options
        self.tasks_at_once = tasks_at_once
        self.started = time.time()  # wall clock: the commit runs in another process
        sink = options.sink()
        order = options.get("row_order")
        if order is None and sink.options.ordered:
            raise ConfigError("row_order", None, _ORDERED)
        self.row_order = check_choice("row_order", order or "content", ROW_ORDERS)
        memory = options.get("row_order_memory_bytes")
        self.memory_bytes = (
            MEMORY_BYTES if memory is None else parse_count("row_order_memory_bytes", memory)
        )
        self.journal = _journal(options.get("delivery_journal"), sink.options.idempotency_header)
        self.write_id = uuid.uuid4().hex[:16]

    def write(self, iterator: Iterator[pa.RecordBatch]) -> DeliveryReport:
        """Send this task's rows; report what became of them.

        Raises
        ------
        hiveframe.errors.DeliveryFailed
            Records were neither delivered nor dead-lettered; Spark may run the task again.
        """
        partition, attempt, task_id = _task()
        spec = self.options.sink(dead_letter=self._dead_letter_file(partition, attempt)).spec
        # This task's share of the write's rate limit, starting empty, staggered.
        runtime = task_runtime(spec.rate_limit, partition, self.tasks_at_once)
        with ExitStack() as stack:
            journal = None
            if self.journal is not None:
                journal = TaskJournal(
                    self.journal, partition=partition, write_id=self.write_id, task_id=task_id
                )
                stack.enter_context(journal)
            rows: Iterable[Any] = iterator
            if self.row_order == "content":
                order = stack.enter_context(ContentOrder(memory_bytes=self.memory_bytes))
                rows = order.rows(iterator)
            writer = SinkWriter(spec, runtime=runtime, journal=journal)
            result = run_sync(functools.partial(_send, writer, rows))
        return DeliveryReport.of(result, partition=partition, attempt=attempt, journal=journal)

    def commit(self, messages: Sequence[WriterCommitMessage | None]) -> None:
        """Add up the tasks' reports on the driver; log them (and save them, if asked)."""
        summary = self._summary(messages, "committed")
        level = logging.WARNING if summary.records_failed else logging.INFO
        logger.log(level, "hiveframe.http write: %s", _describe(summary))
        self._save(summary)

    def abort(self, messages: Sequence[WriterCommitMessage | None]) -> None:
        """The job failed: log what was delivered (it stays delivered), as far as known."""
        summary = self._summary(messages, "aborted")
        logger.warning("hiveframe.http write aborted: %s", _describe(summary))
        self._save(summary)

    def _summary(self, messages: Sequence[WriterCommitMessage | None], status: str) -> WriteSummary:
        by_failed = None
        if self.journal is not None:
            reported = {
                m.journal_path for m in messages if isinstance(m, DeliveryReport) and m.journal_path
            }
            by_failed = unreported_deliveries(self.journal, self.write_id, reported)
        seconds = time.time() - self.started
        return WriteSummary.of(
            messages, status=status, by_failed_attempts=by_failed, seconds=seconds
        )

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


def _journal(folder: str | None, idempotency_header: str | None) -> Path | None:
    if folder is None:
        return None
    if idempotency_header is None:
        reason = "finds requests by their idempotency keys: leave idempotency_header set"
        raise ConfigError("delivery_journal", folder, reason)
    return journal_folder(folder)


async def _send(writer: SinkWriter, rows: Iterable[Any]) -> WriteResult:
    async with writer:
        return await writer.write(rows)


def _task() -> tuple[int, int, int]:
    """The Spark partition, the attempt number, and the task attempt's id (unique in the app)."""
    from pyspark import TaskContext

    context = TaskContext.get()
    if context is None:  # called outside a Spark task (a unit test)
        return 0, 0, 0
    return context.partitionId(), context.attemptNumber(), context.taskAttemptId()


def _describe(summary: WriteSummary) -> str:
    text = (
        f"{summary.records_delivered} of {summary.records_sent} records delivered in "
        f"{summary.batches_sent} batches by {summary.tasks} tasks in {summary.seconds:.1f} s "
        f"({summary.records_per_second:,.0f} records/s; {summary.records_failed} failed, "
        f"{summary.records_dead_lettered} dead-lettered, {summary.retries} retries)"
    )
    if summary.records_skipped:
        text += (
            f"; {summary.records_skipped} of them had been delivered by an earlier attempt "
            "and were not sent again"
        )
    by_failed = summary.records_delivered_by_failed_attempts
    if by_failed:
        text += f"; task attempts that did not finish had delivered {by_failed} records"
    elif by_failed is None and summary.unfinished_partitions:
        text += (
            f"; {summary.unfinished_partitions} partitions did not finish and what their "
            "attempts delivered is not known (delivery_journal counts it): at least "
            f"{summary.records_delivered} records were delivered"
        )
    if summary.dead_letter_paths:
        text += f"; dead letters in {', '.join(summary.dead_letter_paths)}"
    return text
