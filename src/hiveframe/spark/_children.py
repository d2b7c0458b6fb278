"""Parent/child reads on Spark: the driver reads the parents, the tasks read the children.

Planning reads the parent source on the driver, as a one-process read does, into its distinct
records (template values and parent columns, :data:`~hiveframe.connectors._run.ParentRow`).
They are cut into contiguous groups, about :data:`~hiveframe.spark._plan.TASKS_PER_SLOT`
per task Spark runs at once (``num_partitions`` to choose), each a :class:`ChildGroup`
partition. A task reads its group's children with the one-process fan-out
(:class:`~hiveframe.connectors._run.ReadRun` given the parent rows): ``concurrency``
children at a time, records in parent order, the parent columns added, ``on_child_error``
applied. The parents are read once per ``load()`` (while inferring the schema) or once per
action (with a schema given).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, replace

import pyarrow as pa
from pyspark.sql.datasource import InputPartition

from hiveframe._http.portal import run_sync
from hiveframe._protocol.incremental import IncrementalState
from hiveframe.connectors._run import ParentRow, ReadRun
from hiveframe.connectors._spec import SourceSpec
from hiveframe.errors import ConfigError
from hiveframe.spark._plan import TASKS_PER_SLOT, Layout, task_runtime
from hiveframe.spark._state import TaskCursor

_INFER_FROM = 8  # children read on the driver, at most, to find a record to infer a schema


@dataclass(frozen=True)
class ParentSurvey:
    """The parent records as the driver read them, and the parent's cursor after reading
    them (an incremental parent; committed with the children's)."""

    rows: tuple[ParentRow, ...]
    parent_state: IncrementalState | None = None


@dataclass(frozen=True)
class ChildGroup(InputPartition):
    """The children of a contiguous group of parent records, read by one Spark task.

    ``tasks_at_once`` share the read's rate limit; ``cursor`` is the incremental state the
    task starts from and where it reports (None: no incremental cursor).
    """

    index: int
    parents: tuple[ParentRow, ...]
    tasks_at_once: int = 1
    cursor: TaskCursor | None = None


def check_layout(layout: Layout) -> None:
    """Refuse the ways of splitting a read that do not apply to a child source.

    Raises
    ------
    ConfigError
        ``pages_per_partition`` or ``partition_by`` given.
    """
    for option in ("pages_per_partition", "partition_by"):
        if getattr(layout, option) is not None:
            reason = "a child source is split by its parent records: use num_partitions"
            raise ConfigError(option, "given", reason)


def read_parents(spec: SourceSpec) -> ParentSurvey:
    """Read the parent source (on the driver): its distinct records, in order."""
    run = ReadRun(spec)

    async def rows() -> list[ParentRow]:
        async with aclosing(run.parent_rows()) as found:
            return [row async for row in found]

    read = tuple(run_sync(rows))
    parent = run.parents.cursor if run.parents is not None else None
    return ParentSurvey(read, None if parent is None else parent.window.state())


def first_child_table(spec: SourceSpec, survey: ParentSurvey) -> pa.Table | None:
    """The first page with records of the first children (for the schema), or None."""
    run = ReadRun(replace(spec, incremental=None), parent_rows=list(survey.rows[:_INFER_FROM]))

    async def first() -> pa.Table | None:
        async with aclosing(run.pages()) as pages:
            async for table in pages:
                return table
        return None

    return run_sync(first)


def plan_children(
    survey: ParentSurvey, layout: Layout, *, rate_limited: bool
) -> list[tuple[int, tuple[ParentRow, ...], int]]:
    """Contiguous groups of parent records: ``(index, rows, tasks at once)`` each.

    ``num_partitions`` groups, or :data:`TASKS_PER_SLOT` per task at once (one per task
    with a rate limit); never more than the parents, and one (empty) without parents.
    """
    slots = layout.parallelism
    wanted = layout.num_partitions or (slots if rate_limited else TASKS_PER_SLOT * slots)
    rows = survey.rows
    parts = max(1, min(len(rows), wanted))
    bounds = [round(i * len(rows) / parts) for i in range(parts + 1)]
    at_once = min(parts, slots)
    return [(i, rows[bounds[i] : bounds[i + 1]], at_once) for i in range(parts)]


async def read_children(
    spec: SourceSpec, group: ChildGroup, attempt: str
) -> AsyncGenerator[pa.Table, None]:
    """The records of the group's children, in parent order, with the task's share of the
    rate limit; with a cursor, the attempt's state is reported once the last page was handed
    out."""
    cursor = None if group.cursor is None else group.cursor.run(spec)
    runtime = task_runtime(spec.rate_limit, group.index, group.tasks_at_once)
    run = ReadRun(spec, runtime, parent_rows=list(group.parents), cursor=cursor)
    async with aclosing(run.pages()) as pages:
        async for table in pages:
            yield table
    if group.cursor is not None:
        group.cursor.report(group.index, attempt, cursor, len(run.stats.failed_children))
