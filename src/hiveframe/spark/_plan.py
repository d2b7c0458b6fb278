"""Planning a batch read into Spark partitions. Pure: no I/O, no pyspark objects but the base.

A read can be split when its paginator computes page *i*'s request up front (offset and
page-number styles, ``paginator.prefetchable``) **and** the number of pages is known before
reading: from ``max_pages``, or from a total in the first page (``total_path``,
``total_pages_path``). The pages ``[0, n)`` are then cut into contiguous ranges (by default
:data:`TASKS_PER_SLOT` per task Spark runs at once), each fetched by one task with the
read's ``concurrency``. Every other read (cursor, link, next URL, a single request, or
numbered pages without a known end) is one partition that follows the paginator from the
first page, unless ``partition_by`` lists query parameters: then each set of parameters is
a partition, a whole paginated read of its own.

The page the driver fetched to plan (the first) travels to the task that reads it, so no
page is fetched twice; and the read's ``rate_limit`` is shared by the tasks that run at
once (:func:`task_share`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NamedTuple

from pyspark.sql.datasource import InputPartition

from hiveframe._protocol.pagination import OffsetPagination, PagePagination, PaginationConfig
from hiveframe._protocol.paginators import Page, start_paginator
from hiveframe._validate import check_str_mapping, optional_int
from hiveframe.connectors._spec import Runtime
from hiveframe.errors import ConfigError
from hiveframe.resilience import RateLimiter

if TYPE_CHECKING:
    from hiveframe.spark._state import TaskCursor

_MAX_PROBE = 2**40  # pages: beyond any real API; a total that never ends the read is none

TASKS_PER_SLOT = 2
"""Partitions of a planned read per task Spark runs at once (``defaultParallelism``), when
neither ``num_partitions`` nor ``pages_per_partition`` is given and there is no rate limit."""

DEFAULT_PARALLELISM = 2
"""Tasks at once assumed when the session did not say (a class registered without
:func:`hiveframe.spark.register`); Spark's own floor for ``defaultParallelism``."""

SHIP_BYTES = 1 << 20
"""The largest first page (body bytes) the driver hands to the task that reads it; a larger
one is fetched again by that task rather than carried in Spark's plan."""

Params = tuple[tuple[str, str], ...]
"""Query parameters of one ``partition_by`` partition, as sorted pairs (hashable, small)."""


@dataclass(frozen=True)
class ShippedPage:
    """A response the driver fetched while planning, carried to the task that reads it.

    The body as it arrived (decoded again in the task, into the task's schema), the headers
    a page may need (``Set-Cookie`` dropped) and the redacted URL.
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    content: bytes
    url: str


@dataclass(frozen=True)
class PageRange(InputPartition):
    """Pages ``[start, stop)`` of a read, fetched by one Spark task.

    ``stop=None`` means: from page ``start``, follow the paginator to the end (one task).
    ``known``: a total the API reported says pages ``[start, stop)`` exist, so they are
    fetched ``concurrency`` at a time from the first. ``params`` are the partition's own
    query parameters (``partition_by``); ``first`` is page ``start`` when the driver fetched
    it already; ``tasks_at_once`` is how many tasks of the read Spark runs at once, which
    share its rate limit; ``cursor`` is the incremental state the task starts from and
    where it reports (:mod:`hiveframe.spark._state`). Plain data, so it pickles small and
    holds nothing secret.
    """

    index: int
    start: int
    stop: int | None
    known: bool = False
    params: Params = ()
    first: ShippedPage | None = None
    tasks_at_once: int = 1
    cursor: TaskCursor | None = None


class PageCount(NamedTuple):
    """How many pages a read has, if that is known before reading them.

    ``pages`` is None when the read must follow the paginator. ``known``: a total the API
    reported says the pages exist (otherwise ``max_pages`` only allows them).
    """

    pages: int | None
    known: bool


@dataclass(frozen=True)
class Layout:
    """How the user asked the read to be split, and how many tasks Spark runs at once.

    Parameters
    ----------
    num_partitions
        The most partitions of a planned read.
    pages_per_partition
        Pages per partition of a planned read.
    partition_by
        One partition per set of query parameters (each a paginated read of its own).
    parallelism
        ``defaultParallelism`` of the session: the tasks Spark runs at once.

    Raises
    ------
    ConfigError
        Two ways of splitting at once, a count below 1, or a ``partition_by`` that is not
        a non-empty list of objects with string keys.
    """

    num_partitions: int | None = None
    pages_per_partition: int | None = None
    partition_by: tuple[Params, ...] | None = None
    parallelism: int = DEFAULT_PARALLELISM

    def __post_init__(self) -> None:
        optional_int("num_partitions", self.num_partitions, minimum=1)
        optional_int("pages_per_partition", self.pages_per_partition, minimum=1)
        if self.num_partitions is not None and self.pages_per_partition is not None:
            raise ConfigError(
                "pages_per_partition",
                self.pages_per_partition,
                "give either num_partitions or pages_per_partition, not both",
            )
        if self.partition_by is not None:
            given = "num_partitions" if self.num_partitions is not None else None
            given = "pages_per_partition" if self.pages_per_partition is not None else given
            if given is not None:
                reason = "partition_by makes one partition per set of parameters"
                raise ConfigError(given, getattr(self, given), reason)


def partition_params(value: Any) -> tuple[Params, ...]:
    """``partition_by`` as planned: a non-empty list of parameter objects (values as text).

    Values become text as ``HTTPSource``'s ``params`` do (``str(value)``).

    Raises
    ------
    ConfigError
        ``option="partition_by"``: not a non-empty list of objects with string keys.
    """
    entries = value if isinstance(value, list | tuple) else ()
    if not entries or not all(isinstance(entry, Mapping) for entry in entries):
        raise ConfigError(
            "partition_by", type(value).__name__, 'a non-empty list of objects: [{"since": ...}]'
        )
    return tuple(
        tuple(sorted((k, str(v)) for k, v in check_str_mapping(entry, "partition_by").items()))
        for entry in entries
    )


SEQUENTIAL = PageRange(index=0, start=0, stop=None)


def is_plannable(pagination: PaginationConfig | None) -> bool:
    """Whether pages can be requested out of order (offset and page styles)."""
    return pagination is not None and start_paginator(pagination).prefetchable


def needs_first_page(pagination: PaginationConfig | None, max_pages: int | None) -> bool:
    """Whether the plan needs the first page: a numbered style with a total in the body."""
    if not is_plannable(pagination) or max_pages is not None:
        return False
    return _total_paths(pagination) != (None, None)


def page_count(
    pagination: PaginationConfig | None, max_pages: int | None, first: Page | None
) -> PageCount:
    """How many pages the read has, if that is known before reading them.

    The paginator itself decides: page *i* is the last when ``paginator.is_last`` says so
    for a full page *i* carrying the first page's document (and so its total). That is the
    stop rule of a sequential read, so both agree on where the read ends.

    Parameters
    ----------
    pagination
        The read's pagination config.
    max_pages
        The user's page cap.
    first
        The first page, if it was fetched (for its total).
    """
    if pagination is None or not is_plannable(pagination):
        return PageCount(None, known=False)
    implied = None if first is None else _implied_pages(pagination, first)
    if implied is None:
        return PageCount(max_pages, known=False)
    return PageCount(implied if max_pages is None else min(implied, max_pages), known=True)


def _implied_pages(pagination: PaginationConfig, first: Page) -> int | None:
    """The pages the first page says the read has (a short page, or its total), if it says."""
    paginator = start_paginator(pagination)
    if paginator.is_last(first):
        return 1
    full = first.record_count

    def is_last(index: int) -> bool:
        request = paginator.request_at(index)
        return paginator.is_last(replace(first, index=index, request=request, record_count=full))

    last = _first_true(is_last, 1, _MAX_PROBE)
    return None if last is None else last + 1


def _first_true(predicate: Callable[[int], bool], low: int, high: int) -> int | None:
    """The least ``i`` in ``[low, high]`` with ``predicate(i)``, for a monotone predicate."""
    if high < low:
        return None
    probe = low
    while not predicate(probe):  # gallop, then bisect: O(log n) probes
        if probe >= high:
            return None
        low, probe = probe + 1, min(probe * 2, high)
    while low < probe:
        middle = (low + probe) // 2
        if predicate(middle):
            probe = middle
        else:
            low = middle + 1
    return probe


def plan(
    count: PageCount,
    layout: Layout,
    *,
    first: ShippedPage | None = None,
    rate_limited: bool = False,
) -> list[PageRange]:
    """The partitions of a read.

    With ``partition_by``: one per set of parameters. Else pages ``[0, pages)`` cut into
    contiguous ranges: ``num_partitions`` of them, or ``pages_per_partition`` pages each,
    or by default :data:`TASKS_PER_SLOT` per task Spark runs at once (one per task with a
    ``rate_limit``: more would only wait for the budget); never more than the pages. A read
    whose pages are not known up front is one partition. ``first`` goes to the partition
    that starts with it (the first).
    """
    slots = layout.parallelism
    if layout.partition_by is not None:
        at_once = min(len(layout.partition_by), slots)
        partitions = [
            PageRange(i, 0, None, params=params, tasks_at_once=at_once)
            for i, params in enumerate(layout.partition_by)
        ]
    elif count.pages is None:
        partitions = [SEQUENTIAL]
    else:
        partitions = _ranges(count.pages, layout, known=count.known, rate_limited=rate_limited)
    return [replace(partitions[0], first=first), *partitions[1:]]


def _ranges(pages: int, layout: Layout, *, known: bool, rate_limited: bool) -> list[PageRange]:
    slots = layout.parallelism
    if layout.pages_per_partition is not None:
        size = layout.pages_per_partition
        parts = -(-pages // size)
        bounds = [min(i * size, pages) for i in range(parts + 1)]
    else:
        wanted = layout.num_partitions or (slots if rate_limited else TASKS_PER_SLOT * slots)
        parts = min(pages, wanted)
        bounds = [round(i * pages / parts) for i in range(parts + 1)]
    at_once = min(parts, slots)
    return [
        PageRange(i, bounds[i], bounds[i + 1], known=known, tasks_at_once=at_once)
        for i in range(parts)
    ]


def task_share(rate: float, burst: int, tasks_at_once: int) -> tuple[float, int]:
    """One task's rate limit and burst: the read's (or write's), shared by the tasks at once."""
    return rate / tasks_at_once, max(1, burst // tasks_at_once)


def task_runtime(
    rate: tuple[float, int] | None,
    index: int,
    tasks_at_once: int,
    clock: Callable[[], float] = time.monotonic,
) -> Runtime:
    """A task's runtime: a limiter with its share of the rate (:func:`task_share`) whose
    bucket starts empty, its first request one interval after the task starts, plus
    ``index % tasks_at_once`` slots of the whole rate.

    A bucket that started full would let every task send at once as it starts, and a task
    that follows a finished one send right after the last request of the one before it:
    bursts the budget of the whole job does not have. Starting empty makes a task's
    requests follow on from those of the task before it on the same slot, and the stagger
    interleaves the tasks that start together. None: no rate limit (a plain runtime).
    """
    if rate is None:
        return Runtime()
    share, burst = task_share(*rate, tasks_at_once)
    limiter = RateLimiter(share, burst=burst, clock=clock)
    limiter.pause_for((1 + index % tasks_at_once / tasks_at_once) / share)
    return Runtime(rate_limiter=limiter)


def _total_paths(pagination: PaginationConfig | None) -> tuple[str | None, str | None]:
    if isinstance(pagination, OffsetPagination):
        return pagination.total_path, None
    if isinstance(pagination, PagePagination):
        return pagination.total_path, pagination.total_pages_path
    return None, None
