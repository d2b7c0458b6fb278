"""Planning a batch read into Spark partitions. Pure: no I/O, no pyspark objects but the base.

A read can be split when its paginator computes page *i*'s request up front (offset and
page-number styles, ``paginator.prefetchable``) **and** the number of pages is known before
reading: from ``max_pages``, or from a total in the first page (``total_path``,
``total_pages_path``). The pages ``[0, n)`` are then cut into contiguous ranges, one per
partition. Every other read (cursor, link, next URL, a single request, or numbered pages
without a known end) is one partition that follows the paginator from the first page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from pyspark.sql.datasource import InputPartition

from hiveframe._protocol.pagination import (
    OffsetPagination,
    Page,
    PagePagination,
    PaginationConfig,
)
from hiveframe._validate import optional_int

_MAX_PROBE = 2**40  # pages: beyond any real API; a total that never ends the read is none

MAX_PARTITIONS = 200
"""Partitions of a planned read when ``num_partitions`` is not given (one per page below)."""


@dataclass(frozen=True)
class PageRange(InputPartition):
    """Pages ``[start, stop)`` of a read, fetched by one Spark task.

    ``stop=None`` means: from page ``start``, follow the paginator to the end (one task).
    Plain data, so it pickles small and holds nothing secret.
    """

    index: int
    start: int
    stop: int | None


SEQUENTIAL = PageRange(index=0, start=0, stop=None)


def is_plannable(pagination: PaginationConfig | None) -> bool:
    """Whether pages can be requested out of order (offset and page styles)."""
    return pagination is not None and pagination.start_paginator().prefetchable


def needs_first_page(pagination: PaginationConfig | None, max_pages: int | None) -> bool:
    """Whether the plan needs the first page: a numbered style with a total in the body."""
    if not is_plannable(pagination) or max_pages is not None:
        return False
    return _total_paths(pagination) != (None, None)


def page_count(
    pagination: PaginationConfig | None, max_pages: int | None, first: Page | None
) -> int | None:
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

    Returns
    -------
    int or None
        The page count, or None when the read must follow the paginator.
    """
    if pagination is None or not is_plannable(pagination):
        return None
    if first is None:
        return max_pages
    paginator = pagination.start_paginator()
    if paginator.is_last(first):
        return 1
    full = first.record_count

    def is_last(index: int) -> bool:
        request = paginator.request_at(index)
        return paginator.is_last(replace(first, index=index, request=request, record_count=full))

    last = _first_true(is_last, 1, max_pages - 1 if max_pages else _MAX_PROBE)
    if last is None:
        return max_pages
    return last + 1 if max_pages is None else min(last + 1, max_pages)


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


def split(pages: int | None, num_partitions: int | None) -> list[PageRange]:
    """Cut pages ``[0, pages)`` into at most ``num_partitions`` contiguous ranges.

    Raises
    ------
    ConfigError
        ``num_partitions`` is below 1.
    """
    optional_int("num_partitions", num_partitions, minimum=1)
    if pages is None:
        return [SEQUENTIAL]
    count = max(1, min(pages, num_partitions or MAX_PARTITIONS))
    bounds = [round(i * pages / count) for i in range(count + 1)]
    return [PageRange(index=i, start=bounds[i], stop=bounds[i + 1]) for i in range(count)]


def _total_paths(pagination: PaginationConfig | None) -> tuple[str | None, str | None]:
    if isinstance(pagination, OffsetPagination):
        return pagination.total_path, None
    if isinstance(pagination, PagePagination):
        return pagination.total_path, pagination.total_pages_path
    return None, None
