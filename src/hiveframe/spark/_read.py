"""The batch reader: plans page ranges on the driver, fetches them on the executors.

:class:`HTTPReader` is pickled into the query plan. It holds a source reference (options or
a :class:`~hiveframe.spark._source.SourceSpec`), the Arrow schema the batches must have and
the partition count; sessions are opened inside :meth:`HTTPReader.read`, once per task.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pyarrow as pa
from pyspark.sql.datasource import DataSourceReader, InputPartition

from hiveframe._http.clock import SYSTEM_CLOCK
from hiveframe._http.portal import iterate_sync, run_sync
from hiveframe._http.reader import FetchedPage, PageReader
from hiveframe._protocol.pagination import PageRequest
from hiveframe.errors import PaginationLimitReached
from hiveframe.spark._plan import PageRange, needs_first_page, page_count, split
from hiveframe.spark._schema import conform_batch
from hiveframe.spark._source import OptionsRef, SourceSpec

SourceRef = OptionsRef | SourceSpec


def resolve(ref: SourceRef) -> SourceSpec:
    """The spec a reference stands for (options are parsed here, in this process)."""
    return ref.resolve() if isinstance(ref, OptionsRef) else ref


def fetch_first_page(spec: SourceSpec) -> FetchedPage:
    """Fetch page 0 (for the schema, or the total that sizes the plan)."""

    async def fetch() -> FetchedPage:
        pagination = spec.plan.pagination
        request = pagination.start_paginator().first() if pagination else PageRequest()
        async with spec.session() as session:
            return await PageReader(spec.plan, session).fetch(request, 0)

    return run_sync(fetch)


def count_pages(spec: SourceSpec, first: FetchedPage | None = None) -> int | None:
    """The read's page count if known up front; fetches the first page if it holds a total.

    Raises
    ------
    PaginationLimitReached
        The total promises more pages than the default page cap (no ``max_pages`` given),
        as a read one page after another would find out when it got there.
    """
    plan = spec.plan
    if first is None and needs_first_page(plan.pagination, plan.max_pages):
        first = fetch_first_page(spec)
    pages = page_count(plan.pagination, plan.max_pages, first.page if first else None)
    cap = plan.page_cap if plan.max_pages is None else None
    if pages is not None and cap is not None and pages > cap:
        raise PaginationLimitReached(cap, url=spec.session().redact(plan.url), page=cap)
    return pages


async def read_range(spec: SourceSpec, part: PageRange) -> AsyncIterator[pa.Table]:
    """The non-empty pages of one partition, decoded into the plan's schema."""
    clock = SYSTEM_CLOCK
    deadline = clock.monotonic() + spec.deadline_seconds if spec.deadline_seconds else None
    pagination = spec.plan.pagination
    async with spec.session() as session:
        reader = PageReader(spec.plan, session)
        if part.stop is None or pagination is None:
            paginator = pagination.start_paginator() if pagination else None
            async for table in reader.pages(paginator, deadline=deadline):
                yield table
            return
        paginator = pagination.start_paginator()
        for index in range(part.start, part.stop):
            fetched = await reader.fetch(paginator.request_at(index), index, deadline=deadline)
            if fetched.table.num_rows:
                yield fetched.table
            if paginator.is_last(fetched.page):
                return  # the read ends inside this range; later pages are past the end


class HTTPReader(DataSourceReader):
    """Spark's batch reader over HTTP pages.

    Parameters
    ----------
    source
        Where to read from; resolved in each process that uses it.
    schema
        The Arrow schema of the Spark schema; every page is decoded into it.
    num_partitions
        The most partitions a planned read uses (default: one per page, at most 200).
    pages
        ``(page count,)`` when the driver already learned it from the first page (while
        inferring the schema); None to find out when planning.
    """

    def __init__(
        self,
        source: SourceRef,
        schema: pa.Schema,
        *,
        num_partitions: int | None = None,
        pages: tuple[int | None] | None = None,
    ) -> None:
        self.source = source
        self.schema = schema
        self.num_partitions = num_partitions
        self.pages = pages

    def partitions(self) -> list[PageRange]:
        """Page ranges, planned on the driver (see :mod:`hiveframe.spark._plan`)."""
        if self.pages is not None:
            return split(self.pages[0], self.num_partitions)
        spec = resolve(self.source).with_schema(self.schema)
        return split(count_pages(spec), self.num_partitions)

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        """Fetch the partition's pages and yield them as Arrow record batches."""
        if not isinstance(partition, PageRange):
            raise TypeError(f"expected a PageRange partition, got {type(partition).__name__}")
        spec = resolve(self.source).with_schema(self.schema)
        part = partition
        for table in iterate_sync(lambda: read_range(spec, part)):
            for batch in table.to_batches():
                yield conform_batch(batch, self.schema)
