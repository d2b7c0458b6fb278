"""Pagination: the configs users pass, and the sans-I/O state machines that run them.

A config (:class:`OffsetPagination`, :class:`PagePagination`, :class:`CursorPagination`,
:class:`LinkPagination`, :class:`NextUrlPagination`) is frozen and validated when built. A
read asks it for a fresh :class:`Paginator`; the driver fetches ``paginator.first()``, wraps
the response in a :class:`Page` and calls ``paginator.advance(page)`` for the next request,
until that returns ``None``. No I/O happens here.

Stop rules, checked by ``advance`` in this order:

1. an empty page (``record_count == 0``), every style;
2. offset and page styles: a short page (fewer records than the page size, when the size
   is known), or the reported total reached (``total_path``/``total_pages_path``);
3. cursor, link and next-URL styles: no next cursor or URL (absent, ``null`` or ``""``).
   These styles never stop on a short page: cursor APIs often return fewer records than
   asked while more remain. A cursor or URL already seen in this read raises
   :class:`~hiveframe.errors.PaginationLoopError`.

A short page also ends a read when the server caps the page below ``page_size``, so choose
a ``page_size`` the API accepts. ``max_pages`` belongs to the driver, not here.

Offset and page paginators are ``prefetchable``: ``request_at(i)`` computes page *i*'s
request up front and the pure ``is_last(page)`` tells the concurrent driver which fetched
page ended the read. Call ``advance`` on each page as it is committed so that
``position()`` follows. ``position()`` is plain JSON; ``config.resume_paginator(position)``
rebuilds a paginator whose ``first()`` is the saved next request.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar
from urllib.parse import urljoin

from hiveframe._protocol.decode import MissingSegment, split_dotted_path, walk_dotted
from hiveframe._protocol.secrets import redact_url
from hiveframe.errors import ConfigError, PaginationError, PaginationLoopError

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "PAGINATION_STYLES",
    "CursorPagination",
    "LinkPagination",
    "NextUrlPagination",
    "OffsetPagination",
    "Page",
    "PagePagination",
    "PageRequest",
    "PaginationConfig",
    "Paginator",
    "find_next_link",
    "make_paginator",
    "pagination_from_options",
    "parse_link_header",
]

DEFAULT_PAGE_SIZE = 100
"""The page size sent when a style sends one and the user gave none."""

PAGINATION_STYLES = ("offset", "page", "cursor", "link", "next_url")
_POSITION_VERSION = 1
_MAX_SHOWN = 80


@dataclass(frozen=True)
class PageRequest:
    """What to fetch next.

    Parameters
    ----------
    url
        ``None`` for the source's own URL, else an absolute URL to fetch instead (a next link).
    params
        Query parameters to set, overriding the user's parameters of the same name.
    """

    url: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """One fetched and decoded page, as the driver hands it to :meth:`Paginator.advance`.

    Parameters
    ----------
    index
        The 0-based page number within this read.
    request
        The :class:`PageRequest` this page answered.
    url
        The absolute URL actually requested, query included (relative links resolve to it).
    headers
        The response headers; looked up case-insensitively (``httpx.Headers`` or a dict).
    document
        The parsed JSON document, or ``None`` when the response was not JSON.
    record_count
        How many records the page held.
    """

    index: int
    request: PageRequest
    url: str
    headers: Mapping[str, str]
    document: Any
    record_count: int


# -- configs ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PaginationConfig(ABC):
    """Base of the pagination configs; use one of its subclasses."""

    style: ClassVar[str]
    _size_optional: ClassVar[bool] = False  # whether page_size may be set with no size param

    page_size: int | None = None

    def __post_init__(self) -> None:
        _check_page_size(self.page_size)
        if self.page_size is not None and self._size_param is None and not self._size_optional:
            raise ConfigError(
                "page_size", self.page_size, "set size_param to the query parameter that sends it"
            )

    @property
    def _size_param(self) -> str | None:
        return getattr(self, "size_param", None)

    @property
    def effective_page_size(self) -> int | None:
        """The page size in use: ``page_size``, else :data:`DEFAULT_PAGE_SIZE` if one is sent."""
        if self.page_size is not None:
            return self.page_size
        return DEFAULT_PAGE_SIZE if self._size_param is not None else None

    def _size_params(self) -> dict[str, str]:
        size = self.effective_page_size
        name = self._size_param
        return {name: str(size)} if name is not None and size is not None else {}

    def start_paginator(self) -> Paginator:
        """A fresh paginator for one read, starting at the first page."""
        return self._paginator(self._initial_request())

    def resume_paginator(self, position: Mapping[str, Any]) -> Paginator:
        """A paginator that continues from ``position`` (from :meth:`Paginator.position`).

        Its ``first()`` is the saved next request: verbatim for cursor, link and next-URL
        styles; for offset and page styles, the saved offset or page number with this
        config's parameters. Cursors and URLs seen before the save are not remembered.

        Raises
        ------
        ConfigError
            ``option="position"`` when the position was not saved by this style.
        """
        return self._paginator(_saved_request(position, self.style))

    @abstractmethod
    def _initial_request(self) -> PageRequest: ...

    @abstractmethod
    def _paginator(self, first: PageRequest | None) -> Paginator: ...


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
    >>> p = OffsetPagination(offset_param="skip", limit_param="take", page_size=50)
    >>> p.start_paginator().request_at(2).params
    {'skip': '100', 'take': '50'}
    """

    style: ClassVar[str] = "offset"

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
    def _size_param(self) -> str | None:
        return self.limit_param

    def _initial_request(self) -> PageRequest:
        return PageRequest(params={self.offset_param: str(self.start), **self._size_params()})

    def _paginator(self, first: PageRequest | None) -> Paginator:
        return _OffsetPaginator(self, _saved_number(first, self.offset_param))


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
    >>> PagePagination(size_param="per_page").start_paginator().first().params
    {'page': '1', 'per_page': '100'}
    """

    style: ClassVar[str] = "page"
    _size_optional: ClassVar[bool] = True

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

    def _initial_request(self) -> PageRequest:
        return PageRequest(params={self.page_param: str(self.start), **self._size_params()})

    def _paginator(self, first: PageRequest | None) -> Paginator:
        return _PagePaginator(self, _saved_number(first, self.page_param))


@dataclass(frozen=True, kw_only=True)
class CursorPagination(PaginationConfig):
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

    Examples
    --------
    >>> p = CursorPagination(cursor_path="meta.next").start_paginator()
    >>> page = Page(index=0, request=p.first(), url="https://api.test/items",
    ...             headers={}, document={"meta": {"next": "c2"}}, record_count=10)
    >>> p.advance(page)
    PageRequest(url=None, params={'cursor': 'c2'})
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

    def _initial_request(self) -> PageRequest:
        return PageRequest(params=self._size_params())

    def _paginator(self, first: PageRequest | None) -> Paginator:
        return _CursorPaginator(self, first)


@dataclass(frozen=True, kw_only=True)
class LinkPagination(PaginationConfig):
    """Follow the RFC 8288 ``Link`` header's ``rel="next"`` URL.

    Parameters
    ----------
    size_param, page_size
        Optional page-size parameter for the first request; later URLs come from the server
        as they are.

    Examples
    --------
    >>> LinkPagination(size_param="per_page", page_size=50).start_paginator().first().params
    {'per_page': '50'}
    """

    style: ClassVar[str] = "link"

    size_param: str | None = None

    def __post_init__(self) -> None:
        _check_name("size_param", self.size_param, optional=True)
        super().__post_init__()

    def _initial_request(self) -> PageRequest:
        return PageRequest(params=self._size_params())

    def _paginator(self, first: PageRequest | None) -> Paginator:
        return _LinkPaginator(first)


@dataclass(frozen=True, kw_only=True)
class NextUrlPagination(PaginationConfig):
    """Follow a next-page URL (absolute or relative) found in the JSON document.

    Parameters
    ----------
    next_url_path
        Dotted path to the next URL.
    size_param, page_size
        Optional page-size parameter for the first request.

    Examples
    --------
    >>> p = NextUrlPagination(next_url_path="links.next").start_paginator()
    >>> page = Page(index=0, request=p.first(), url="https://api.test/v1/items?page=1",
    ...             headers={}, document={"links": {"next": "?page=2"}}, record_count=10)
    >>> p.advance(page).url
    'https://api.test/v1/items?page=2'
    """

    style: ClassVar[str] = "next_url"

    next_url_path: str = "next"
    size_param: str | None = None

    def __post_init__(self) -> None:
        _check_path("next_url_path", self.next_url_path, optional=False)
        _check_name("size_param", self.size_param, optional=True)
        super().__post_init__()

    def _initial_request(self) -> PageRequest:
        return PageRequest(params=self._size_params())

    def _paginator(self, first: PageRequest | None) -> Paginator:
        return _NextUrlPaginator(self, first)


def make_paginator(
    config: PaginationConfig, position: Mapping[str, Any] | None = None
) -> Paginator:
    """A paginator for one read: fresh, or resumed from a saved :meth:`Paginator.position`.

    Same as ``config.start_paginator()`` / ``config.resume_paginator(position)``.
    """
    return config.start_paginator() if position is None else config.resume_paginator(position)


def pagination_from_options(
    pagination: str | PaginationConfig | None, page_size: int | None
) -> PaginationConfig | None:
    """Turn the ``pagination``/``page_size`` options into a config (``None``: one request).

    The strings use conventional parameter names: ``"offset"`` (``offset``/``limit``),
    ``"page"`` (``page``/``page_size``), ``"cursor"`` (``cursor`` from ``next_cursor``),
    ``"link"`` and ``"next_url"`` (``next``). With a ``page_size``, the cursor and next-URL
    styles send it as ``limit`` and the link style as ``per_page``. A ``page_size`` given
    with a config object overrides the config's.

    Raises
    ------
    ConfigError
        ``option="pagination"`` for an unknown style; ``option="page_size"`` for a size that
        is not a positive int, or one given without pagination.

    Examples
    --------
    >>> pagination_from_options("link", 50)
    LinkPagination(page_size=50, size_param='per_page')
    """
    _check_page_size(page_size)
    if pagination is None:
        if page_size is not None:
            raise ConfigError("page_size", page_size, "has no effect without pagination=...")
        return None
    if isinstance(pagination, PaginationConfig):
        return pagination if page_size is None else replace(pagination, page_size=page_size)
    style = pagination.strip().lower() if isinstance(pagination, str) else None
    if style not in PAGINATION_STYLES:
        raise ConfigError(
            "pagination",
            pagination,
            "expected one of 'offset', 'page', 'cursor', 'link', 'next_url' "
            "or a pagination config object",
        )
    return _config_for_style(style, page_size)


def _config_for_style(style: str, page_size: int | None) -> PaginationConfig:
    if style == "offset":
        return OffsetPagination(page_size=page_size)
    if style == "page":
        return PagePagination(page_size=page_size)
    sized = page_size is not None
    if style == "cursor":
        return CursorPagination(page_size=page_size, size_param="limit" if sized else None)
    if style == "link":
        return LinkPagination(page_size=page_size, size_param="per_page" if sized else None)
    return NextUrlPagination(page_size=page_size, size_param="limit" if sized else None)


def _check_page_size(value: object) -> None:
    if value is not None and (type(value) is not int or value <= 0):
        raise ConfigError("page_size", value, "expected a positive int")


def _check_start(value: object) -> None:
    if type(value) is not int or value < 0:
        raise ConfigError("start", value, "expected an int >= 0")


def _check_name(option: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(option, value, "expected a non-empty name")


def _check_path(option: str, value: object, *, optional: bool = True) -> None:
    if value is not None or not optional:
        split_dotted_path(value, option)


# -- paginators ------------------------------------------------------------------------------


class Paginator(ABC):
    """The state of one paginated read. Build it with ``config.start_paginator()``.

    Attributes
    ----------
    prefetchable
        Whether :meth:`request_at` and :meth:`is_last` work (offset and page styles).
    """

    style: ClassVar[str]
    prefetchable: ClassVar[bool] = False

    def __init__(self, first: PageRequest | None) -> None:
        self._first = first
        self._next = first

    @property
    def exhausted(self) -> bool:
        """True once ``advance`` has returned ``None`` (or when resumed from a finished read)."""
        return self._next is None

    def first(self) -> PageRequest:
        """The first request of this read (the saved next request after a resume)."""
        if self._first is None:
            raise PaginationError("this read already ended; there is no page to start from")
        return self._first

    def advance(self, page: Page) -> PageRequest | None:
        """The request after ``page``, or ``None`` when the read is complete.

        Raises
        ------
        PaginationLoopError
            The page's next cursor or URL was already seen in this read.
        PaginationError
            The document cannot say where to go (a cursor that is not a string, a
            ``*_path`` on a response that is not JSON).
        """
        self._next = self._after(page)
        return self._next

    @abstractmethod
    def _after(self, page: Page) -> PageRequest | None: ...

    def request_at(self, index: int) -> PageRequest:
        """Page ``index``'s request, computed up front (prefetchable styles only)."""
        raise TypeError(f"{self.style} pagination cannot compute page requests up front")

    def is_last(self, page: Page) -> bool:
        """Whether ``page`` ends the read; pure (prefetchable styles only)."""
        raise TypeError(f"{self.style} pagination decides the last page only by advancing")

    def position(self) -> dict[str, Any]:
        """Where to resume, as JSON: the next request, or ``"next": None`` when complete."""
        upcoming = self._next
        saved = None if upcoming is None else {"url": upcoming.url, "params": dict(upcoming.params)}
        return {"version": _POSITION_VERSION, "style": self.style, "next": saved}


class _NumberedPaginator(Paginator):
    # Page i asks for number base + i * step; the page's own number comes from its request,
    # so is_last is a pure function of the page.
    prefetchable = True

    def __init__(
        self, config: OffsetPagination | PagePagination, number_param: str, base: int | None
    ) -> None:
        self._number_param = number_param
        self._base = base
        self._page_size = config.effective_page_size
        self._size_params = config._size_params()
        super().__init__(None if base is None else self._request(base))

    def _request(self, number: int) -> PageRequest:
        return PageRequest(params={self._number_param: str(number), **self._size_params})

    def _number(self, page: Page) -> int:
        return int(page.request.params[self._number_param])

    def request_at(self, index: int) -> PageRequest:
        if index < 0 or self._base is None:
            raise PaginationError(f"no page {index} in this read")
        return self._request(self._base + index * self._step)

    @property
    @abstractmethod
    def _step(self) -> int: ...

    def is_last(self, page: Page) -> bool:
        size = self._page_size
        if page.record_count == 0 or (size is not None and page.record_count < size):
            return True
        return self._total_reached(page)

    def _after(self, page: Page) -> PageRequest | None:
        return None if self.is_last(page) else self._request(self._next_number(page))

    @abstractmethod
    def _next_number(self, page: Page) -> int: ...

    @abstractmethod
    def _total_reached(self, page: Page) -> bool: ...


class _OffsetPaginator(_NumberedPaginator):
    style = "offset"

    def __init__(self, config: OffsetPagination, base: int | None) -> None:
        self._config = config
        super().__init__(config, config.offset_param, base)

    @property
    def _step(self) -> int:
        return self._page_size or DEFAULT_PAGE_SIZE  # always set: limit_param is required

    def _next_number(self, page: Page) -> int:
        # By what arrived, not by page_size: a server that sends more than asked is not
        # re-read (only full pages get here, so this equals offset + page_size otherwise).
        return self._number(page) + page.record_count

    def _total_reached(self, page: Page) -> bool:
        total = _read_int(page, self._config.total_path, "total_path")
        done = self._number(page) - self._config.start + page.record_count
        return total is not None and done >= total


class _PagePaginator(_NumberedPaginator):
    style = "page"

    _step = 1

    def __init__(self, config: PagePagination, base: int | None) -> None:
        self._config = config
        super().__init__(config, config.page_param, base)

    def _next_number(self, page: Page) -> int:
        return self._number(page) + 1

    def _total_reached(self, page: Page) -> bool:
        pages = _read_int(page, self._config.total_pages_path, "total_pages_path")
        total = _read_int(page, self._config.total_path, "total_path")
        if pages is None and total is not None and self._page_size is not None:
            pages = math.ceil(total / self._page_size)
        return pages is not None and self._number(page) - self._config.start + 1 >= pages


class _LoopGuard:
    """Cursors or URLs seen in this read; a second sighting is a loop."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def add(self, value: str | None) -> None:
        if value is not None:
            self._seen.add(value)

    def check(self, value: str, page: Page) -> None:
        if value in self._seen:
            raise PaginationLoopError(_shown(value), page=page.index)
        self._seen.add(value)


class _CursorPaginator(Paginator):
    style = "cursor"

    def __init__(self, config: CursorPagination, first: PageRequest | None) -> None:
        self._config = config
        self._guard = _LoopGuard()
        super().__init__(first)

    def _after(self, page: Page) -> PageRequest | None:
        if page.record_count == 0:
            return None
        cursor = self._cursor(page)
        if cursor is None:
            return None
        config = self._config
        self._guard.add(page.request.params.get(config.cursor_param))  # covers a resume
        self._guard.check(cursor, page)
        return PageRequest(params={config.cursor_param: cursor, **config._size_params()})

    def _cursor(self, page: Page) -> str | None:
        if self._config.cursor_header is not None:
            return _text(_header(page.headers, self._config.cursor_header), "cursor_header")
        return _text(_lookup(page, self._config.cursor_path, "cursor_path"), "cursor_path")


class _UrlPaginator(Paginator):
    # Link and next-URL styles: the server names the next URL; relative ones resolve
    # against the URL just requested (RFC 3986 section 5, RFC 8288 section 3.2).
    def __init__(self, first: PageRequest | None) -> None:
        self._guard = _LoopGuard()
        super().__init__(first)

    def _after(self, page: Page) -> PageRequest | None:
        if page.record_count == 0:
            return None
        link = self._next_link(page)
        if link is None:
            return None
        url = urljoin(page.url, link)
        self._guard.add(page.url)
        self._guard.check(url, page)
        return PageRequest(url=url)

    @abstractmethod
    def _next_link(self, page: Page) -> str | None: ...


class _LinkPaginator(_UrlPaginator):
    style = "link"

    def _next_link(self, page: Page) -> str | None:
        header = _header(page.headers, "link")
        return None if header is None else find_next_link(header)


class _NextUrlPaginator(_UrlPaginator):
    style = "next_url"

    def __init__(self, config: NextUrlPagination, first: PageRequest | None) -> None:
        self._path = config.next_url_path
        super().__init__(first)

    def _next_link(self, page: Page) -> str | None:
        return _text(_lookup(page, self._path, "next_url_path"), "next_url_path")


# -- reading pages ---------------------------------------------------------------------------


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    if value is None:  # a plain dict with other casing
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    return value


def _lookup(page: Page, path: str | None, option: str) -> Any:
    if path is None:
        return None
    if page.document is None:
        raise PaginationError(f"{option}={path!r} needs a JSON response; this page had none")
    found = walk_dotted(page.document, split_dotted_path(path, option))
    return None if isinstance(found, MissingSegment) else found


def _text(value: Any, option: str) -> str | None:
    """A cursor or URL as text; ``None`` (stop) for absent, null or blank."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise PaginationError(f"{option} points at a {type(value).__name__}, not a string")
    return value


def _read_int(page: Page, path: str | None, option: str) -> int | None:
    value = _lookup(page, path, option)
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise PaginationError(f"{option}={path!r} is {_shown(repr(value))}, not a count")


def _shown(value: str) -> str:
    # Cursors and URLs go through redact_url (credentials in a URL), then get clipped.
    text = redact_url(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


# -- positions -------------------------------------------------------------------------------


def _saved_request(position: Mapping[str, Any], style: str) -> PageRequest | None:
    ok = isinstance(position, Mapping) and position.get("version") == _POSITION_VERSION
    if not ok or position.get("style") != style:
        found = position.get("style") if isinstance(position, Mapping) else type(position).__name__
        raise ConfigError(
            "position", found, f"expected a version-1 position saved by {style!r} pagination"
        )
    saved = position.get("next")
    if saved is None:
        return None
    if isinstance(saved, Mapping):
        url, params = saved.get("url"), saved.get("params", {})
        if (url is None or isinstance(url, str)) and _is_str_mapping(params):
            return PageRequest(url=url, params=dict(params))
    raise ConfigError("position", style, "the saved next request is malformed")


def _is_str_mapping(value: object) -> bool:
    return isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def _saved_number(request: PageRequest | None, param: str) -> int | None:
    if request is None:
        return None
    number = request.params.get(param, "")
    if not number.isdecimal():
        raise ConfigError("position", param, f"the saved request has no integer {param!r}")
    return int(number)


# -- RFC 8288 Link header --------------------------------------------------------------------

_ESCAPED = re.compile(r"\\(.)")


def parse_link_header(value: str) -> list[tuple[str, dict[str, str]]]:
    """Parse a ``Link`` header into ``(uri, params)`` pairs (RFC 8288 section 3).

    Commas and semicolons inside ``<...>`` or quoted strings do not split; parameter names
    are lower-cased, quoted values unquoted, and only the first of a repeated parameter
    counts (section 3.3). Link values without ``<uri>`` are skipped, not fatal. Several
    ``Link`` headers joined with commas (as ``httpx.Headers.get`` does) parse as one.

    Examples
    --------
    >>> parse_link_header('<https://a.test/?p=2>; rel="next", </?p=1>; rel=prev')
    [('https://a.test/?p=2', {'rel': 'next'}), ('/?p=1', {'rel': 'prev'})]
    """
    links = []
    for link_value in _split_outside_quotes(value, ","):
        text = link_value.strip()
        end = text.find(">")
        if not text.startswith("<") or end < 0:
            continue
        params: dict[str, str] = {}
        for part in _split_outside_quotes(text[end + 1 :], ";"):
            name, _, raw = part.partition("=")
            if name.strip():
                params.setdefault(name.strip().lower(), _unquote(raw.strip()))
        links.append((text[1:end].strip(), params))
    return links


def find_next_link(value: str) -> str | None:
    """The URI of the first link whose ``rel`` holds ``next`` (``rel="prev next"`` counts)."""
    for uri, params in parse_link_header(value):
        if "next" in params.get("rel", "").lower().split():
            return uri
    return None


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts, start, quoted, angled, escaped = [], 0, False, False, False
    for i, char in enumerate(text):
        if escaped:
            escaped = False
        elif quoted:
            escaped = char == "\\"
            quoted = char != '"'
        elif angled:
            angled = char != ">"
        elif char in '<"':
            angled, quoted = char == "<", char == '"'
        elif char == separator:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _unquote(value: str) -> str:
    if not value.startswith('"'):
        return value
    inner = value[1:-1] if len(value) > 1 and value.endswith('"') else value[1:]
    return _ESCAPED.sub(r"\1", inner)
