"""One batch read of a source: its pages, then, once the caller has them, its state saved.

Every batch read goes through a :class:`ReadRun`: ``read()``, ``iter_batches()``, the
``hiveframe read`` command and pipeline files. A run reads the source's pages (for a child
source, one read per parent value, ``concurrency`` of them at a time), lets an incremental
cursor drop what was delivered before, and keeps the new cursor pending until
:meth:`ReadRun.commit`, which the caller calls once the records are safe: ``read()`` before
it returns, ``iter_batches()`` when the loop has consumed the last batch (never after a
``break`` or an exception), the command line after writing its output file.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from contextlib import aclosing, closing, contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
import pyarrow as pa

from hiveframe._frame import DataFrame
from hiveframe._http.portal import iterate_sync, run_sync
from hiveframe._http.reader import PageReader, ReadPlan, ReadProgress
from hiveframe._http.session import Session
from hiveframe._protocol.arrow.conform import RunningSchema, concat_tables
from hiveframe._protocol.paginators import AutoPaginator, start_paginator
from hiveframe.connectors._spec import Runtime, SourceSpec
from hiveframe.errors import ChildReadError, ConfigError, HiveFrameError, ResponseDecodeError

if TYPE_CHECKING:  # parent/child and incremental reads load their modules when they run
    from hiveframe.connectors._fanout import ChildFailure, Fanout
    from hiveframe.connectors._incremental import CursorRun

__all__ = [
    "ParentRow",
    "ReadRun",
    "ReadStats",
    "plan_pages",
    "read_then_commit",
]

logger = logging.getLogger("hiveframe.read")
T = TypeVar("T")

ParentRow = tuple[dict[str, Any], list[tuple[str, Any, pa.DataType]]]
"""A distinct parent record: its template values, and the columns (name, value, Arrow type)
it adds to its children's records."""


@dataclass
class ReadStats:
    """What the latest batch read of an ``HTTPSource`` did: ``source.last_read``.

    Attributes
    ----------
    records
        Records delivered.
    dropped
        Records an incremental cursor dropped: delivered by an earlier run, before the
        value asked for, or at or after ``end_value``.
    older
        Of those, records before the value the API was asked from (it ignored it).
    children
        Child reads that succeeded (parent/child sources).
    failed_children
        Child reads that failed and were skipped or dead-lettered, each with its parent
        values, URL and error.
    stop_reason
        Why the read ended, once it has: ``"single_page"`` (no pagination),
        ``"no_next_link"``, ``"no_next_cursor"``, ``"empty_page"``, ``"short_page"``,
        ``"total_reached"``, ``"max_pages"``, ``"ignored"`` (a response rule said to
        ignore the last answer); for a parent/child read, why the parents' read ended.
        ``None`` while the read runs, after it failed, or when the caller stopped it early.
    """

    records: int = 0
    dropped: int = 0
    older: int = 0
    children: int = 0
    failed_children: list[ChildFailure] = field(default_factory=list)
    stop_reason: str | None = None


async def plan_pages(
    plan: ReadPlan,
    session: Session,
    deadline: float | None,
    progress: ReadProgress | None = None,
    stats: ReadStats | None = None,
) -> AsyncGenerator[pa.Table, None]:
    """Every non-empty page of one paginated read of ``plan``, as a table; ``progress``
    follows the read if given, and ``stats`` gets why it ended.

    With ``pagination="auto"`` the first page is fetched on its own, and the read goes on as
    a read of the style it shows (offset and page-number pages fetched concurrently).
    """
    paginator = start_paginator(plan.pagination) if plan.pagination else None
    reader = PageReader(plan, session, progress)
    first = None
    if isinstance(paginator, AutoPaginator):
        first = await reader.fetch(paginator.first(), 0, deadline=deadline)
        settled = None if first.ignored else paginator.settle(first.page)
        if settled is not None:
            config, page = settled
            plan = replace(plan, pagination=config)
            paginator, reader = start_paginator(config), PageReader(plan, session, progress)
            first = replace(first, page=page)
    async for table in reader.pages(paginator, deadline=deadline, first=first):
        yield table
    if stats is not None:
        stats.stop_reason = reader.stop_reason


class ReadRun:
    """One batch read of ``spec``; :meth:`commit` saves its cursors once it is consumed.

    Parameters
    ----------
    spec
        The source.
    runtime
        Its clock, breaker and rate limiter. A parent is read with the same clock, and a
        breaker and limiter of its own built from its settings.
    progress
        A :class:`~hiveframe._http.reader.ReadProgress` the read updates as each page
        commits (its children's pages too), for a progress display.
    parent_rows
        For a child source: the parent records already read (a Spark task's share of
        them), instead of reading the parent here.
    cursor
        The run of the incremental cursor, instead of one over the state file as it is now
        (a Spark task's, over the state its driver read).

    Raises
    ------
    ConfigError
        The source is an SSE stream (``option="stream_type"``), or its state file is not
        one this source can use.
    """

    def __init__(
        self,
        spec: SourceSpec,
        runtime: Runtime | None = None,
        progress: ReadProgress | None = None,
        *,
        parent_rows: list[ParentRow] | None = None,
        cursor: CursorRun | None = None,
    ) -> None:
        if spec.stream_kind == "sse":
            raise ConfigError(
                "stream_type", "sse", "an SSE source is read with stream(), or a StreamProcessor"
            )
        self.spec = spec
        self.runtime = runtime if runtime is not None else Runtime()
        self.stats = ReadStats()
        self.progress = progress  # pages, records, total, retries as they come (the CLI's bar)
        config = spec.incremental
        if cursor is None and config is not None:
            from hiveframe.connectors._incremental import CursorRun

            cursor = CursorRun(config, spec.redacted_url)
        self.cursor = cursor
        fanout = spec.fanout
        self.parents: ReadRun | None = None
        if fanout is not None and parent_rows is None:
            self.parents = ReadRun(fanout.parent, Runtime(clock=self.runtime.clock))
        self._given_rows = parent_rows
        self._finished = False

    async def pages(self) -> AsyncGenerator[pa.Table, None]:
        """The records of the read, page by page (child pages in parent order)."""
        seconds = self.spec.deadline_seconds
        deadline = self.runtime.clock.monotonic() + seconds if seconds else None
        async with self.spec.session(self.runtime) as session:
            if self.spec.fanout is None:
                pages = self._plain(session, deadline)
            else:
                pages = self._children(session, deadline)
            async with aclosing(pages):
                async for table in pages:
                    self.stats.records += table.num_rows
                    yield table
        if self.parents is not None:
            self.stats.stop_reason = self.parents.stats.stop_reason
        self._finished = True

    async def read(self) -> DataFrame:
        """Every page joined into one frame (not committed)."""
        tables = [table async for table in self.pages()]
        return DataFrame(concat_tables(tables, schema=self.spec.plan.output_schema))

    async def batches(self) -> AsyncGenerator[pa.RecordBatch, None]:
        """Record batches of one widening schema; commits once the last one was consumed."""
        async with aclosing(self.conformed()) as batches:
            async for batch in batches:
                yield batch
        self.commit()

    async def conformed(self) -> AsyncGenerator[pa.RecordBatch, None]:
        """The batches of :meth:`batches`, not committed."""
        running = RunningSchema()
        async with aclosing(self.pages()) as pages:
            async for table in pages:
                for batch in running.conform(table).to_batches():
                    yield batch

    def commit(self) -> None:
        """Save the cursors of the read (this source's, then its parent's).

        A parent's cursor is not saved when a child failed (skipped or dead-lettered): the
        next run asks for that parent again rather than lose its children.
        """
        if not self._finished:
            raise RuntimeError("a read is committed only after its last page")
        if self.cursor is not None:
            self.cursor.commit()
        if self.parents is None:
            return
        if not self.stats.failed_children:
            self.parents.commit()
        elif self.parents.cursor is not None:
            logger.warning(
                "%s: the parent's incremental state was not saved, since %d children "
                "failed: the next run reads those parents again",
                self.spec.redacted_url,
                len(self.stats.failed_children),
            )

    # -- a plain read -------------------------------------------------------------------------

    async def _plain(
        self, session: Session, deadline: float | None
    ) -> AsyncGenerator[pa.Table, None]:
        plan, cursor = self.spec.plan, self.cursor
        if cursor is not None:
            plan = cursor.plan(plan)
        url = session.redact(plan.url)
        read = plan_pages(plan, session, deadline, self.progress, self.stats)
        async with aclosing(read) as pages:
            async for table in pages:
                admitted = self._admit(table, url, None)
                if admitted.num_rows:
                    yield admitted

    def _admit(self, table: pa.Table, url: str, parent: Mapping[str, Any] | None) -> pa.Table:
        if self.cursor is None:
            return table
        admitted = self.cursor.admit(table, url, parent)
        self.stats.dropped = self.cursor.window.dropped
        self.stats.older = self.cursor.window.older
        return admitted

    # -- a fan-out ----------------------------------------------------------------------------

    async def parent_rows(self) -> AsyncGenerator[ParentRow, None]:
        """Each distinct parent record (values and columns), in the parents' order: read
        from the parent source, or those the run was given."""
        if self._given_rows is not None:
            for row in self._given_rows:
                yield row
            return
        fanout, parents = self.spec.fanout, self.parents
        assert fanout is not None and parents is not None
        seen: set[str] = set()
        parent_url = parents.spec.redacted_url
        async with aclosing(parents.pages()) as tables:
            async for table in tables:
                for values, extra in _parent_rows(table, fanout, parent_url):
                    key = orjson.dumps([values, extra], default=str).decode()
                    if key not in seen:
                        seen.add(key)
                        yield values, extra

    async def _children(
        self, session: Session, deadline: float | None
    ) -> AsyncGenerator[pa.Table, None]:
        # Up to ``concurrency`` children are read at once, each one page after another; their
        # records, and their failures, come out in parent order.
        window: deque[asyncio.Future[list[pa.Table] | _ChildFailed]] = deque()
        try:
            async with aclosing(self.parent_rows()) as rows:
                async for values, extra in rows:
                    child = self._child(session, deadline, values, extra)
                    window.append(asyncio.ensure_future(child))
                    while len(window) >= self.spec.plan.concurrency:
                        for done in self._settled(await window.popleft()):
                            yield done
            while window:
                for done in self._settled(await window.popleft()):
                    yield done
        finally:
            for task in window:
                task.cancel()
            await asyncio.gather(*window, return_exceptions=True)

    async def _child(
        self,
        session: Session,
        deadline: float | None,
        values: dict[str, Any],
        extra: list[tuple[str, Any, pa.DataType]],
    ) -> list[pa.Table] | _ChildFailed:
        fanout = self.spec.fanout
        assert fanout is not None
        try:
            plan = fanout.child_plan(self.spec.plan, values)
        except ValueError as exc:
            return self._failed(fanout, values, None, exc)
        url = session.redact(plan.url)
        if self.cursor is not None:
            plan = self.cursor.plan(plan, values)
        tables: list[pa.Table] = []
        try:
            async with aclosing(plan_pages(plan, session, deadline, self.progress)) as pages:
                async for table in pages:
                    admitted = self._admit(table, url, values)
                    if admitted.num_rows:
                        tables.append(_with_columns(admitted, extra))
        except ConfigError:
            raise
        except HiveFrameError as exc:
            if self.cursor is not None:
                self.cursor.forget(values)
            return self._failed(fanout, values, url, exc)
        self.stats.children += 1
        return tables

    @staticmethod
    def _failed(
        fanout: Fanout, values: dict[str, Any], url: str | None, exc: Exception
    ) -> _ChildFailed:
        if fanout.on_child_error == "raise":
            raise ChildReadError(str(exc), parent=values, url=url) from exc
        from hiveframe.connectors._fanout import ChildFailure

        return _ChildFailed(ChildFailure(parent=values, url=url, error=str(exc)), exc)

    def _settled(self, result: list[pa.Table] | _ChildFailed) -> list[pa.Table]:
        """A finished child's tables; a skipped child is listed (and dead-lettered) here, as
        the window hands it on, so failures keep the parents' order whatever finished first."""
        if not isinstance(result, _ChildFailed):
            return result
        fanout = self.spec.fanout
        assert fanout is not None
        self.stats.failed_children.append(result.failure)
        fanout.record_failure(result.failure, type(result.error).__name__)
        return []


@dataclass(frozen=True)
class _ChildFailed:
    """A child read that failed under ``on_child_error="skip"`` or ``"dead_letter"``."""

    failure: ChildFailure
    error: Exception


def _parent_rows(table: pa.Table, fanout: Fanout, url: str) -> Iterator[ParentRow]:
    """Each parent record's template values, and the columns it adds to its children."""
    missing = [name for name in fanout.needed if name not in table.column_names]
    if missing:
        fields = ", ".join(table.column_names[:50])
        message = f"the parent records have no {missing[0]!r} field; their fields: {fields}"
        raise ResponseDecodeError(message, kind="shape", url=url)
    columns = {name: table.column(name).to_pylist() for name in fanout.needed}
    types = {name: table.schema.field(name).type for name in fanout.needed}
    for index in range(table.num_rows):
        values = {name: columns[name][index] for name in fanout.fields}
        extra = [(column, columns[name][index], types[name]) for name, column in fanout.columns]
        yield values, extra


def _with_columns(table: pa.Table, extra: list[tuple[str, Any, pa.DataType]]) -> pa.Table:
    for column, value, kind in extra:
        if column in table.column_names:
            reason = (
                "the child records have a field of that name: name the parent's columns "
                "with Parent(source, fields={parent field: column name})"
            )
            raise ConfigError("parent.fields", column, reason)
        table = table.append_column(column, pa.array([value] * table.num_rows, type=kind))
    return table


READ_AHEAD = 4
"""Batches ``iter_batches()`` holds ready beyond the one its caller has."""


def iter_batches(make_run: Callable[[], ReadRun]) -> Iterator[pa.RecordBatch]:
    """:meth:`ReadRun.batches` for sync code: committed once the caller consumed the last batch.

    A step of the caller's thread into the event loop's costs more than a page of 1,000
    records takes to decode, so each step takes every batch that is ready (the loop reads
    on, up to :data:`READ_AHEAD` batches ahead, while the caller works).
    """
    runs: list[ReadRun] = []

    def groups() -> AsyncIterator[list[pa.RecordBatch]]:
        runs.append(make_run())
        return ready_groups(runs[0].conformed(), READ_AHEAD)

    with closing(iterate_sync(groups)) as steps:
        for group in steps:
            yield from group
    runs[0].commit()


async def ready_groups(items: AsyncGenerator[T, None], ahead: int) -> AsyncGenerator[list[T], None]:
    """``items`` in lists of those ready at each step, at least one; a task of its own reads
    them, up to ``ahead`` items ahead of the consumer. An error comes after the items
    before it; closing the groups stops the task and closes ``items``."""
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(ahead)

    async def produce() -> None:
        try:
            async with aclosing(items):
                async for item in items:
                    await queue.put(("item", item))
        except Exception as exc:  # raised to the consumer once it has the items before
            await queue.put(("error", exc))
        else:
            await queue.put(("end", None))

    producer = asyncio.ensure_future(produce())
    try:
        while True:
            kind, value = await queue.get()
            group = []
            while kind == "item":
                group.append(value)
                if queue.empty():
                    break
                kind, value = queue.get_nowait()
            if group:
                yield group
            if kind == "error":
                raise value
            if kind == "end":
                return
    finally:
        producer.cancel()
        await asyncio.gather(producer, return_exceptions=True)


@contextmanager
def read_then_commit(run: ReadRun) -> Iterator[DataFrame]:
    """Read ``run`` whole; save its cursors only if the ``with`` block ends without error."""
    yield run_sync(run.read)
    run.commit()
