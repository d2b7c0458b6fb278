"""The batch reader: plans page ranges on the driver, fetches them on the executors.

:class:`HTTPReader` is pickled into the query plan. It holds a source reference (options or
a :class:`~hiveframe.spark._source.SourceSpec`), the Arrow schema the batches must have and
the :class:`~hiveframe.spark._plan.Layout`; sessions are opened inside
:meth:`HTTPReader.read`, once per task. A task fetches its pages as a one-process read
does (``concurrency`` in flight, committed in order), with its share of the rate limit,
and hands each page to Spark as soon as it is committed.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Iterator
from contextlib import aclosing
from dataclasses import dataclass, replace

import pyarrow as pa
from pyspark import TaskContext
from pyspark.sql.datasource import DataSourceReader, InputPartition

from hiveframe._http.clock import SYSTEM_CLOCK
from hiveframe._http.portal import iterate_sync, run_sync
from hiveframe._http.reader import FetchedPage, PageReader
from hiveframe._http.response import Response, joined_headers
from hiveframe._http.session import Session
from hiveframe._protocol.paginators import PageRequest, start_paginator
from hiveframe.connectors._spec import Runtime
from hiveframe.errors import PaginationLimitReached
from hiveframe.spark._children import (
    ChildGroup,
    ParentSurvey,
    check_layout,
    plan_children,
    read_children,
    read_parents,
)
from hiveframe.spark._plan import (
    SHIP_BYTES,
    Layout,
    PageCount,
    PageRange,
    Params,
    ShippedPage,
    needs_first_page,
    page_count,
    plan,
    task_runtime,
)
from hiveframe.spark._schema import conform_batch
from hiveframe.spark._source import OptionsRef, SourceSpec
from hiveframe.spark._state import TaskCursor, cursor_spec, for_parents, new_read, saved_state

SourceRef = OptionsRef | SourceSpec


def resolve(ref: SourceRef) -> SourceSpec:
    """The spec a reference stands for (options are parsed here, in this process)."""
    return ref.resolve() if isinstance(ref, OptionsRef) else ref


def with_params(spec: SourceSpec, params: Params) -> SourceSpec:
    """The read of one ``partition_by`` partition: the source with its query parameters."""
    if not params:
        return spec
    return replace(spec, plan=replace(spec.plan, params={**spec.plan.params, **dict(params)}))


@dataclass(frozen=True)
class FirstPage:
    """Page 0 as the driver fetched it: decoded, and as it travels to the task reading it
    (None when larger than :data:`~hiveframe.spark._plan.SHIP_BYTES`)."""

    fetched: FetchedPage
    shipped: ShippedPage | None


@dataclass(frozen=True)
class Survey:
    """What planning learned before any task ran: the page count, and the first page; or
    a child source's parent records."""

    count: PageCount
    first: ShippedPage | None = None
    parents: ParentSurvey | None = None


def fetch_first_page(spec: SourceSpec) -> FirstPage:
    """Fetch page 0 (for the schema, or the total that sizes the plan)."""

    async def fetch() -> FirstPage:
        request = _first_request(spec)
        async with spec.session() as session:
            reader = PageReader(spec.plan, session)
            response = await reader.request_page(request, 0)
            return FirstPage(reader.decode(response, request, 0), _ship(response, session))

    return run_sync(fetch)


def survey(spec: SourceSpec, layout: Layout, first: FirstPage | None = None) -> Survey:
    """What the plan needs: the page count, fetching the first page if it holds a total.

    Raises
    ------
    PaginationLimitReached
        The total promises more pages than the default page cap (no ``max_pages`` given),
        as a read one page after another would find out when it got there.
    """
    if layout.partition_by is not None:  # each partition is a read of its own
        return Survey(PageCount(None, known=False), first.shipped if first else None)
    read = spec.plan
    if first is None and needs_first_page(read.pagination, read.max_pages):
        first = fetch_first_page(spec)
    count = page_count(read.pagination, read.max_pages, first.fetched.page if first else None)
    cap = read.page_cap if read.max_pages is None else None
    if count.pages is not None and cap is not None and count.pages > cap:
        raise PaginationLimitReached(cap, url=spec.session().redact(read.url), page=cap)
    return Survey(count, first.shipped if first else None)


async def read_range(
    spec: SourceSpec, part: PageRange, attempt: str
) -> AsyncGenerator[pa.Table, None]:
    """:func:`read_partition` with the task's share of the rate limit, through the
    partition's incremental cursor if it has one (the attempt's state is reported once the
    last page was handed out)."""
    runtime = task_runtime(spec.rate_limit, part.index, part.tasks_at_once)
    if part.cursor is None:
        async with aclosing(read_partition(spec, part, runtime)) as pages:
            async for table in pages:
                yield table
        return
    cursor = part.cursor.run(spec)
    assert cursor is not None
    spec = replace(spec, plan=cursor.plan(spec.plan))
    url = spec.redacted_url
    async with aclosing(read_partition(spec, part, runtime)) as pages:
        async for table in pages:
            admitted = cursor.admit(table, url)
            if admitted.num_rows:
                yield admitted
    part.cursor.report(part.index, attempt, cursor, 0)


async def read_partition(
    spec: SourceSpec, part: PageRange, runtime: Runtime
) -> AsyncGenerator[pa.Table, None]:
    """The non-empty pages of one partition, decoded into the plan's schema, in order
    (``runtime``: the task's rate limiter)."""
    clock = SYSTEM_CLOCK
    deadline = clock.monotonic() + spec.deadline_seconds if spec.deadline_seconds else None
    pagination = spec.plan.pagination
    paginator = start_paginator(pagination) if pagination else None
    async with spec.session(runtime) as session:
        reader = PageReader(spec.plan, session)
        first = None
        if part.first is not None:
            first = reader.decode(_unship(part.first), _first_request(spec), 0)
        if part.stop is None or paginator is None:
            pages = reader.pages(paginator, deadline=deadline, first=first)
        else:
            pages = reader.page_range(
                paginator, part.start, part.stop, known=part.known, first=first, deadline=deadline
            )
        async for table in pages:
            yield table


def _first_request(spec: SourceSpec) -> PageRequest:
    pagination = spec.plan.pagination
    return start_paginator(pagination).first() if pagination else PageRequest()


def _ship(response: Response, session: Session) -> ShippedPage | None:
    if len(response.content) > SHIP_BYTES:
        return None
    headers = tuple((k, v) for k, v in response.headers.items() if k.lower() != "set-cookie")
    url = session.redact(response.url)
    return ShippedPage(response.status_code, headers, response.content, url)


def _unship(page: ShippedPage) -> Response:
    return Response(page.status, joined_headers(dict(page.headers)), page.content, page.url)


class HTTPReader(DataSourceReader):
    """Spark's batch reader over HTTP pages.

    Parameters
    ----------
    source
        Where to read from; resolved in each process that uses it.
    schema
        The Arrow schema of the Spark schema; every page is decoded into it.
    layout
        How to split the read, and how many tasks Spark runs at once.
    survey
        What the driver learned from the first page (or the parents) while inferring the
        schema; None to find out when planning.
    run_folder
        Where the tasks of an incremental read report how far they got
        (:mod:`hiveframe.spark._state`); None for a read without a cursor.
    """

    def __init__(
        self,
        source: SourceRef,
        schema: pa.Schema,
        *,
        layout: Layout,
        survey: Survey | None = None,
        run_folder: str | None = None,
    ) -> None:
        self.source = source
        self.schema = schema
        self.layout = layout
        self.survey = survey
        self.run_folder = run_folder

    def partitions(self) -> list[PageRange] | list[ChildGroup]:
        """Page ranges or groups of parents, planned on the driver (see
        :mod:`hiveframe.spark._plan`, :mod:`hiveframe.spark._children`)."""
        spec = self._spec()
        limited = spec.rate_limit is not None
        if spec.fanout is not None:
            return self._child_groups(spec, limited)
        saved = saved_state(spec) if self._cursors(spec) else None
        planned = cursor_spec(spec, saved)
        found = self.survey or survey(planned, self.layout)
        parts = plan(found.count, self.layout, first=found.first, rate_limited=limited)
        if self.run_folder is None or not self._cursors(spec):
            return parts
        read_id = new_read(self.run_folder, len(parts), None)
        cursor = TaskCursor(saved, self.run_folder, read_id)
        return [replace(part, cursor=cursor) for part in parts]

    def _child_groups(self, spec: SourceSpec, limited: bool) -> list[ChildGroup]:
        check_layout(self.layout)
        found = self.survey.parents if self.survey is not None else None
        parents = found or read_parents(spec)
        groups = plan_children(parents, self.layout, rate_limited=limited)
        if self.run_folder is None or not self._cursors(spec):
            return [ChildGroup(i, rows, at_once) for i, rows, at_once in groups]
        saved = saved_state(spec) if spec.incremental is not None else None
        read_id = new_read(self.run_folder, len(groups), parents.parent_state)
        return [
            ChildGroup(
                i,
                rows,
                at_once,
                TaskCursor(for_parents(saved, (v for v, _ in rows)), self.run_folder, read_id),
            )
            for i, rows, at_once in groups
        ]

    def _spec(self) -> SourceSpec:
        """The source, decoding its pages into the read's schema (a child source's without
        the parent columns, which the fan-out adds)."""
        spec = resolve(self.source)
        if spec.fanout is None:
            return spec.with_schema(self.schema)
        added = {column for _, column in spec.fanout.columns}
        return spec.with_schema(pa.schema([f for f in self.schema if f.name not in added]))

    def _cursors(self, spec: SourceSpec) -> bool:
        parent = spec.fanout.parent if spec.fanout is not None else None
        return spec.incremental is not None or getattr(parent, "incremental", None) is not None

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        """Fetch the partition's pages and yield them as Arrow record batches as they come."""
        if not isinstance(partition, PageRange | ChildGroup):
            raise TypeError(f"expected a PageRange or ChildGroup, got {type(partition).__name__}")
        spec, part, attempt = self._spec(), partition, _attempt()
        if isinstance(part, PageRange):
            spec = with_params(spec, part.params)
        if isinstance(part, ChildGroup):
            tables = iterate_sync(lambda: read_children(spec, part, attempt))
        else:
            tables = iterate_sync(lambda: read_range(spec, part, attempt))
        for table in tables:
            for batch in table.to_batches():
                yield conform_batch(batch, self.schema)


def _attempt() -> str:
    """This task attempt's id, unique in the Spark application."""
    context = TaskContext.get()
    return str(context.taskAttemptId()) if context is not None else uuid.uuid4().hex
