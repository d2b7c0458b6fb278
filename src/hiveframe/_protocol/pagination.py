"""Pagination configs: the options of each style, as users pass them.

A config (:class:`OffsetPagination`, :class:`PagePagination`, :class:`CursorPagination`,
:class:`LinkPagination`, :class:`NextUrlPagination`) is plain data, frozen and validated when
built. The state machines that run them are in :mod:`hiveframe._protocol.paginators`
(``start_paginator(config)``): the driver fetches ``paginator.first()``, wraps the response
in a ``Page`` and calls ``paginator.advance(page)`` for the next request, until that returns
``None``. No I/O happens in either module.

Stop rules, checked by ``advance``:

1. offset and page styles: an empty page, a short page (fewer records than the page size,
   when the size is known), or the reported total reached (``total_path``/
   ``total_pages_path``). An empty page before that total sets ``paginator.shortfall`` (the
   driver warns). A full page holding the same records as the page before (the API ignores
   the offset or page number) raises :class:`~hiveframe.errors.PaginationLoopError`; so do
   two legitimately identical pages in a row, which a real collection almost never has.
2. cursor, link and next-URL styles: no next cursor or URL (absent, ``null`` or ``""``),
   or an empty page whose next cursor or URL is its own. These styles never stop on a short
   or an empty page that points onward: cursor APIs often return fewer records, even none,
   while more remain. More than ``max_empty_pages`` (default
   :data:`DEFAULT_MAX_EMPTY_PAGES`) empty pages in a row raise
   :class:`~hiveframe.errors.PaginationError`; a cursor or URL already seen in this read
   raises :class:`~hiveframe.errors.PaginationLoopError`.

A short page also ends a read when the server caps the page below ``page_size``, so choose
a ``page_size`` the API accepts. ``max_pages`` and the default cap of
:data:`DEFAULT_MAX_PAGES` pages belong to the driver, not here.

Offset and page paginators are ``prefetchable``: ``request_at(i)`` computes page *i*'s
request up front, the pure ``is_last(page)`` tells the concurrent driver which fetched
page ended the read, and ``window(i, concurrency)`` how many pages to have in flight (a
slow start, or what a reported total leaves). Call ``advance`` on each page as it is
committed so that ``position()`` and the checks above follow. ``position()`` is plain JSON;
``resume_paginator(config, position)`` rebuilds a paginator whose ``first()`` is the saved
next request.
"""

from __future__ import annotations

from abc import ABC
from dataclasses import dataclass
from typing import ClassVar

from hiveframe._protocol.data_path import split_dotted_path
from hiveframe._validate import optional_int, require_int
from hiveframe.errors import ConfigError

__all__ = [
    "DEFAULT_MAX_EMPTY_PAGES",
    "DEFAULT_MAX_PAGES",
    "DEFAULT_PAGE_SIZE",
    "AutoPagination",
    "CursorPagination",
    "LinkPagination",
    "NextUrlPagination",
    "OffsetPagination",
    "PagePagination",
    "PaginationConfig",
]


DEFAULT_PAGE_SIZE = 100
"""The page size sent when a style sends one and the user gave none."""

DEFAULT_MAX_PAGES = 100_000
"""The page cap of a read whose ``max_pages`` is not given; more pages raise
:class:`~hiveframe.errors.PaginationLimitReached`."""

DEFAULT_MAX_EMPTY_PAGES = 10
"""Empty pages in a row that cursor, link and next-URL reads follow before failing."""


@dataclass(frozen=True, kw_only=True)
class PaginationConfig(ABC):
    """Base of the pagination configs; use one of its subclasses."""

    style: ClassVar[str]
    _size_optional: ClassVar[bool] = False  # whether page_size may be set with no size param
    compares_pages: ClassVar[bool] = False  # whether pages carry a key (Page.key)

    page_size: int | None = None

    def __post_init__(self) -> None:
        optional_int("page_size", self.page_size, minimum=1)
        if self.page_size is not None and self.size_param_name is None and not self._size_optional:
            raise ConfigError(
                "page_size", self.page_size, "set size_param to the query parameter that sends it"
            )

    @property
    def size_param_name(self) -> str | None:
        """The query parameter that sends the page size, if this config sends one."""
        return getattr(self, "size_param", None)

    @property
    def document_paths(self) -> tuple[str, ...]:
        """The dotted paths its paginator reads in each page's document (the total...)."""
        names = ("total_path", "total_pages_path", "cursor_path", "next_url_path")
        return tuple(path for name in names if (path := getattr(self, name, None)) is not None)

    @property
    def effective_page_size(self) -> int | None:
        """The page size in use: ``page_size``, else :data:`DEFAULT_PAGE_SIZE` if one is sent."""
        if self.page_size is not None:
            return self.page_size
        return DEFAULT_PAGE_SIZE if self.size_param_name is not None else None

    def size_params(self) -> dict[str, str]:
        """The query parameter sending the page size, with its value (none if not sent)."""
        size = self.effective_page_size
        name = self.size_param_name
        return {name: str(size)} if name is not None and size is not None else {}

    def first_params(self) -> dict[str, str]:
        """The query parameters of a read's first page."""
        return self.size_params()


@dataclass(frozen=True, kw_only=True)
class OffsetPagination(PaginationConfig):
    """Offset and limit query parameters: ``?offset=200&limit=100``.

    Parameters
    ----------
    offset_param, limit_param
        The query parameter names (``skip``/``take`` and the like are fine).
    page_size
        Records per page, sent as ``limit_param``; :data:`DEFAULT_PAGE_SIZE` when ``None``.
    start
        The first offset.
    total_path
        Dotted path to the total record count in the document; reaching it ends the read.

    Raises
    ------
    ConfigError
        Naming the bad option.

    Examples
    --------
    >>> OffsetPagination(offset_param="skip", limit_param="take", page_size=50).first_params()
    {'skip': '0', 'take': '50'}
    """

    style: ClassVar[str] = "offset"
    compares_pages: ClassVar[bool] = True

    offset_param: str = "offset"
    limit_param: str = "limit"
    start: int = 0
    total_path: str | None = None

    def __post_init__(self) -> None:
        _check_name("offset_param", self.offset_param)
        _check_name("limit_param", self.limit_param)
        _check_start(self.start)
        _check_path("total_path", self.total_path)
        super().__post_init__()

    @property
    def size_param_name(self) -> str | None:
        return self.limit_param

    def first_params(self) -> dict[str, str]:
        return {self.offset_param: str(self.start), **self.size_params()}


@dataclass(frozen=True, kw_only=True)
class PagePagination(PaginationConfig):
    """Page-number query parameters: ``?page=3&page_size=100``.

    Parameters
    ----------
    page_param
        The page-number parameter.
    size_param
        The page-size parameter (``per_page``...), or ``None`` when the API's page size is
        fixed; then ``page_size`` may still tell HiveFrame that size (short pages, totals).
    page_size
        Records per page; :data:`DEFAULT_PAGE_SIZE` when ``None`` and ``size_param`` is set.
    start
        The first page number (1, or 0 for zero-based APIs).
    total_path
        Dotted path to the total record count (needs a known page size).
    total_pages_path
        Dotted path to the total page count.

    Examples
    --------
    >>> PagePagination(size_param="per_page").first_params()
    {'page': '1', 'per_page': '100'}
    """

    style: ClassVar[str] = "page"
    _size_optional: ClassVar[bool] = True
    compares_pages: ClassVar[bool] = True

    page_param: str = "page"
    size_param: str | None = "page_size"
    start: int = 1
    total_path: str | None = None
    total_pages_path: str | None = None

    def __post_init__(self) -> None:
        _check_name("page_param", self.page_param)
        _check_name("size_param", self.size_param, optional=True)
        _check_start(self.start)
        _check_path("total_path", self.total_path)
        _check_path("total_pages_path", self.total_pages_path)
        super().__post_init__()
        if self.total_path is not None and self.effective_page_size is None:
            raise ConfigError(
                "total_path", self.total_path, "needs page_size to count pages from records"
            )

    def first_params(self) -> dict[str, str]:
        return {self.page_param: str(self.start), **self.size_params()}


@dataclass(frozen=True, kw_only=True)
class _FollowingPagination(PaginationConfig):
    """Base of the styles where each response names the next page (cursor, link, next URL)."""

    max_empty_pages: int = DEFAULT_MAX_EMPTY_PAGES

    def __post_init__(self) -> None:
        require_int("max_empty_pages", self.max_empty_pages, minimum=0)
        super().__post_init__()


@dataclass(frozen=True, kw_only=True)
class CursorPagination(_FollowingPagination):
    """An opaque cursor from each response, sent back as a query parameter.

    Parameters
    ----------
    cursor_param
        The query parameter that carries the cursor.
    cursor_path
        Dotted path to the next cursor in the JSON document.
    cursor_header
        A response header holding the next cursor instead; it wins over ``cursor_path``.
    size_param, page_size
        Optional page-size parameter and value (:data:`DEFAULT_PAGE_SIZE` if only the
        parameter is set).
    max_empty_pages
        Empty pages in a row that still carry a cursor and are followed; one more raises
        :class:`~hiveframe.errors.PaginationError`. An empty page whose cursor is the one
        it was fetched with ends the read.

    Examples
    --------
    >>> CursorPagination(cursor_path="meta.next", size_param="limit").first_params()
    {'limit': '100'}
    """

    style: ClassVar[str] = "cursor"

    cursor_param: str = "cursor"
    cursor_path: str | None = "next_cursor"
    cursor_header: str | None = None
    size_param: str | None = None

    def __post_init__(self) -> None:
        _check_name("cursor_param", self.cursor_param)
        _check_name("cursor_header", self.cursor_header, optional=True)
        _check_name("size_param", self.size_param, optional=True)
        _check_path("cursor_path", self.cursor_path)
        if self.cursor_path is None and self.cursor_header is None:
            raise ConfigError("cursor_path", None, "set cursor_path or cursor_header")
        super().__post_init__()


@dataclass(frozen=True, kw_only=True)
class LinkPagination(_FollowingPagination):
    """Follow the RFC 8288 ``Link`` header's ``rel="next"`` URL.

    Parameters
    ----------
    size_param, page_size
        Optional page-size parameter for the first request; later URLs come from the server
        as they are.
    max_empty_pages
        Empty pages in a row with a next link that are followed, as in
        :class:`CursorPagination`.

    Examples
    --------
    >>> LinkPagination(size_param="per_page", page_size=50).first_params()
    {'per_page': '50'}
    """

    style: ClassVar[str] = "link"

    size_param: str | None = None

    def __post_init__(self) -> None:
        _check_name("size_param", self.size_param, optional=True)
        super().__post_init__()


@dataclass(frozen=True, kw_only=True)
class NextUrlPagination(_FollowingPagination):
    """Follow a next-page URL (absolute or relative) found in the JSON document.

    Parameters
    ----------
    next_url_path
        Dotted path to the next URL.
    size_param, page_size
        Optional page-size parameter for the first request.
    max_empty_pages
        Empty pages in a row with a next URL that are followed, as in
        :class:`CursorPagination`.

    Examples
    --------
    >>> NextUrlPagination(next_url_path="links.next").first_params()
    {}
    """

    style: ClassVar[str] = "next_url"

    next_url_path: str = "next"
    size_param: str | None = None

    def __post_init__(self) -> None:
        _check_path("next_url_path", self.next_url_path, optional=False)
        _check_name("size_param", self.size_param, optional=True)
        super().__post_init__()


@dataclass(frozen=True, kw_only=True)
class AutoPagination(_FollowingPagination):
    """Find the style on the first page: what ``pagination="auto"`` means.

    The first request goes out without pagination parameters (only ``size_param``, if
    set); its response decides, in this order (see
    :mod:`hiveframe._protocol.auto_pagination`): a ``Link`` header with ``rel="next"``
    (or other paging relations), a next-page URL field, a cursor field, an offset or a
    page-number envelope. Nothing found, or two signals that disagree, means one page.
    The choice and its evidence are logged (``hiveframe.pagination``, INFO) and shown by
    ``source.explain()``. Batch reads go on as reads of the style found (offset and
    page-number pages concurrently); polling streams take pages one by one.

    Parameters
    ----------
    cursor_param
        The query parameter that sends a detected cursor back.
    size_param, page_size
        An optional page-size parameter for the first request; a detected offset or page
        envelope keeps sending ``page_size`` under its own size parameter.
    max_empty_pages
        As for :class:`CursorPagination`, for a detected cursor, link or next-URL style.

    Examples
    --------
    >>> AutoPagination(size_param="limit", page_size=50).first_params()
    {'limit': '50'}
    """

    style: ClassVar[str] = "auto"
    compares_pages: ClassVar[bool] = True  # in case the pages turn out to be numbered

    cursor_param: str = "cursor"
    size_param: str | None = None

    def __post_init__(self) -> None:
        _check_name("cursor_param", self.cursor_param)
        _check_name("size_param", self.size_param, optional=True)
        super().__post_init__()


def _check_start(value: object) -> None:
    require_int("start", value, minimum=0)


def _check_name(option: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(option, value, "expected a non-empty name")


def _check_path(option: str, value: object, *, optional: bool = True) -> None:
    if value is not None or not optional:
        split_dotted_path(value, option)
