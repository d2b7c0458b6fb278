"""The sans-I/O state machines that run the pagination configs of :mod:`.pagination`.

A read gets a fresh :class:`Paginator` from :func:`start_paginator` (or
:func:`resume_paginator`); the driver fetches ``paginator.first()``, wraps the response in a
:class:`Page` and calls ``paginator.advance(page)`` for the next request, until that returns
``None``. The stop rules are listed in :mod:`hiveframe._protocol.pagination`. No I/O happens
here. :data:`PAGINATORS` is the one map from a config class to the paginator that runs it;
style names are looked up in it (:func:`config_class`).
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Final
from urllib.parse import urljoin

from hiveframe._protocol.data_path import MissingSegment, split_dotted_path, walk_dotted
from hiveframe._protocol.link_header import find_next_link
from hiveframe._protocol.pagination import (
    DEFAULT_PAGE_SIZE,
    AutoPagination,
    CursorPagination,
    LinkPagination,
    NextUrlPagination,
    OffsetPagination,
    PagePagination,
    PaginationConfig,
)
from hiveframe._secrets import redact_url
from hiveframe._validate import optional_int
from hiveframe.errors import ConfigError, PaginationError, PaginationLoopError

if TYPE_CHECKING:
    from hiveframe._protocol.auto_pagination import Detection

logger = logging.getLogger("hiveframe.pagination")

POSITION_VERSION = 1
_MAX_SHOWN = 80

STOP_REASONS: Final = (
    "single_page",  # no pagination: one request
    "no_next_link",  # link and next-URL styles: the response names no next page
    "no_next_cursor",  # cursor style: the response carries no next cursor
    "empty_page",  # an empty page (offset, page), or one naming itself (cursor, link, URL)
    "short_page",  # fewer records than the page size (offset, page)
    "total_reached",  # the total the API reported (offset, page)
    "max_pages",  # the user's max_pages
    "ignored",  # a response policy rule said to ignore the last response
)
"""Why a read ended, as :attr:`Paginator.stop_reason` and the readers report it."""


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
        The response headers; looked up case-insensitively (a response's headers or a
        dict).
    document
        The parsed JSON document, or ``None`` when the response was not JSON. A page the
        columnar decoder read from bytes has only the values at its config's
        ``document_paths`` (the only ones a paginator reads), in objects as in the body.
    record_count
        How many records the page held.
    key
        What the page's records are compared by (equal records, equal keys: a
        :class:`~hiveframe._protocol.arrow.conform.TableKey`), for the styles whose
        config has ``compares_pages``; ``None`` otherwise.
    """

    index: int
    request: PageRequest
    url: str
    headers: Mapping[str, str]
    document: Any
    record_count: int
    key: object = None


# -- paginators ------------------------------------------------------------------------------


class Paginator(ABC):
    """The state of one paginated read. Build it with :func:`start_paginator`.

    Attributes
    ----------
    prefetchable
        Whether :meth:`request_at`, :meth:`is_last` and :meth:`window` work (offset and page
        styles).
    shortfall
        Set by the ``advance`` that ended the read on an empty page when a total the API
        reported says more records remain: what was promised and what arrived. The driver
        warns with it (:class:`~hiveframe.errors.PaginationWarning`).
    stop_reason
        Set by the ``advance`` that ended the read: why it ended, one of
        :data:`STOP_REASONS` (``"no_next_cursor"``, ``"short_page"``...).
    """

    style: ClassVar[str]
    prefetchable: ClassVar[bool] = False

    def __init__(self, config: PaginationConfig, first: PageRequest | None) -> None:
        self._first = first
        self._next = first
        self.shortfall: str | None = None
        self.stop_reason: str | None = None

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
            The page's next cursor or URL was already seen in this read, or (offset and page
            styles) the page holds the same records as the page before.
        PaginationError
            The document cannot say where to go (a cursor that is not a string, a
            ``*_path`` on a response that is not JSON), or more than ``max_empty_pages``
            empty pages in a row point onward. ``page`` names the page.
        """
        self._next = self._after(page)
        return self._next

    @abstractmethod
    def _after(self, page: Page) -> PageRequest | None: ...

    def records_reported(self, page: Page) -> int | None:
        """How many records the whole collection holds, as ``page`` reports it
        (``total_path``); ``None`` when it does not say. Pure: for progress displays."""
        return None

    def request_at(self, index: int) -> PageRequest:
        """Page ``index``'s request, computed up front (prefetchable styles only)."""
        raise TypeError(f"{self.style} pagination cannot compute page requests up front")

    def is_last(self, page: Page) -> bool:
        """Whether ``page`` ends the read; pure (prefetchable styles only)."""
        raise TypeError(f"{self.style} pagination decides the last page only by advancing")

    def window(self, index: int, concurrency: int, *, known_ahead: int | None = None) -> int:
        """How many pages, from page ``index`` on, to fetch ahead (prefetchable styles only).

        ``index`` is also the number of pages that came back full so far (a page that is not
        full ends the read). With a total from the last page: the pages it leaves, up to
        ``known_ahead`` (default ``concurrency``): pages known to exist. Without one, a slow
        start: ``2 ** floor(log2(index / 2 + 1))`` (1, 1,
        2, 2, 2, 2, 4 ... from page 0), up to ``concurrency``; so a read of *n* pages requests
        at most ``min(2 ** floor(log2(n + 1)) / 2, concurrency) - 1`` pages past its end:
        none for 1-2 pages, one for 3-6, at most ``(n - 1) // 2``.
        """
        raise TypeError(f"{self.style} pagination cannot compute page requests up front")

    def position(self) -> dict[str, Any]:
        """Where to resume, as JSON: the next request, or ``"next": None`` when complete."""
        upcoming = self._next
        saved = None if upcoming is None else {"url": upcoming.url, "params": dict(upcoming.params)}
        return {"version": POSITION_VERSION, "style": self.style, "next": saved}


class _NumberedPaginator(Paginator):
    # Page i asks for number base + i * step; the page's own number comes from its request,
    # so is_last is a pure function of the page. A reported total counts units (records for
    # offsets, pages for page numbers); number - start units come before a page.
    prefetchable = True
    _unit: ClassVar[str]

    def __init__(
        self,
        config: OffsetPagination | PagePagination,
        number_param: str,
        first: PageRequest | None,
    ) -> None:
        self.number_param = number_param  # the query parameter numbering the pages
        self._base = base = _saved_number(first, number_param)
        self._start = config.start
        self._page_size = config.effective_page_size
        self._size_params = config.size_params()
        self._key: object = None  # of the page before
        self._total: int | None = None  # as the page before reported it
        super().__init__(config, None if base is None else self._request(base))

    def _request(self, number: int) -> PageRequest:
        return PageRequest(params={self.number_param: str(number), **self._size_params})

    def _number(self, page: Page) -> int:
        return int(page.request.params[self.number_param])

    def request_at(self, index: int) -> PageRequest:
        if index < 0 or self._base is None:
            raise PaginationError(f"no page {index} in this read")
        return self._request(self._base + index * self._step)

    @property
    @abstractmethod
    def _step(self) -> int: ...

    def is_last(self, page: Page) -> bool:
        return self._end_reason(page, self._reported(page)) is not None

    def _end_reason(self, page: Page, total: int | None) -> str | None:
        # ``total``: what the page reports (``_reported``), read once per page by the caller.
        size = self._page_size
        if page.record_count == 0:
            return "empty_page"
        if total is not None and self._number(page) - self._start + self._units(page) >= total:
            return "total_reached"
        if size is not None and page.record_count < size:
            return "short_page"
        return None

    def window(self, index: int, concurrency: int, *, known_ahead: int | None = None) -> int:
        if self._total is not None and self._base is not None:
            before = self._base + index * self._step - self._start
            left = -(-(self._total - before) // self._step)
            bound = concurrency if known_ahead is None else known_ahead
            return max(1, min(bound, left))  # page index itself is always fetched
        return min(concurrency, 1 << ((index + 2).bit_length() - 2))

    def _after(self, page: Page) -> PageRequest | None:
        before, self._key = self._key, page.key
        if page.record_count and page.key is not None and page.key == before:
            number = f"{self.number_param}={self._number(page)}"
            raise PaginationLoopError(
                f"{number} sent the records of the page before", page=page.index
            )
        self._total = self._reported(page)
        self.stop_reason = self._end_reason(page, self._total)
        if self.stop_reason is None:
            return self._request(self._next_number(page))
        if page.record_count == 0:
            self.shortfall = self._shortfall(page)
        return None

    def _shortfall(self, page: Page) -> str | None:
        number, total = self._number(page), self._total
        if total is None or number - self._start >= total:
            return None
        return (
            f"the API reports {total} {self._unit} but the page at "
            f"{self.number_param}={number} is empty; the read ends there"
        )

    @abstractmethod
    def _next_number(self, page: Page) -> int: ...

    @abstractmethod
    def _reported(self, page: Page) -> int | None:
        """The total the page reports, in units, if it reports one."""

    @abstractmethod
    def _units(self, page: Page) -> int: ...


class _OffsetPaginator(_NumberedPaginator):
    style = "offset"
    _unit = "records"

    def __init__(self, config: OffsetPagination, first: PageRequest | None) -> None:
        self._config = config
        super().__init__(config, config.offset_param, first)

    @property
    def _step(self) -> int:
        return self._page_size or DEFAULT_PAGE_SIZE  # always set: limit_param is required

    def _next_number(self, page: Page) -> int:
        # By what arrived, not by page_size: a server that sends more than asked is not
        # re-read (only full pages get here, so this equals offset + page_size otherwise).
        return self._number(page) + page.record_count

    def _reported(self, page: Page) -> int | None:
        return _read_int(page, self._config.total_path, "total_path")

    records_reported = _reported

    def _units(self, page: Page) -> int:
        return page.record_count


class _PagePaginator(_NumberedPaginator):
    style = "page"
    _unit = "pages"

    _step = 1

    def __init__(self, config: PagePagination, first: PageRequest | None) -> None:
        self._config = config
        super().__init__(config, config.page_param, first)

    def _next_number(self, page: Page) -> int:
        return self._number(page) + 1

    def _reported(self, page: Page) -> int | None:
        pages = _read_int(page, self._config.total_pages_path, "total_pages_path")
        total = self.records_reported(page)
        if pages is None and total is not None and self._page_size is not None:
            pages = math.ceil(total / self._page_size)
        return pages

    def records_reported(self, page: Page) -> int | None:
        return _read_int(page, self._config.total_path, "total_path")

    def _units(self, page: Page) -> int:
        return 1


class _Onward:
    """Whether to follow a cursor or URL: one seen before in this read is a loop, and more
    than ``max_empty_pages`` empty pages in a row pointing onward are an error."""

    def __init__(self, max_empty_pages: int) -> None:
        self._seen: set[str] = set()
        self._max_empty = max_empty_pages
        self._empty_run = 0

    def follows(self, current: str | None, pointer: str, page: Page) -> bool:
        """Whether to follow ``pointer`` from ``page``, fetched with ``current``.

        False (the read ends) for an empty page that points at itself: nothing is left.
        """
        if page.record_count == 0 and pointer == current:
            return False
        if current is not None:
            self._seen.add(current)  # the first page of a resumed read was not seen yet
        if pointer in self._seen:
            raise PaginationLoopError(_shown(pointer), page=page.index)
        self._seen.add(pointer)
        self._empty_run = 0 if page.record_count else self._empty_run + 1
        if self._empty_run > self._max_empty:
            run = f"{self._empty_run} empty page{'s' if self._empty_run > 1 else ''}"
            raise PaginationError(
                f"{run} in a row, each pointing to another (max_empty_pages="
                f"{self._max_empty}); stopping",
                page=page.index,
            )
        return True


class _CursorPaginator(Paginator):
    style = "cursor"

    def __init__(self, config: CursorPagination, first: PageRequest | None) -> None:
        self._config = config
        self._onward = _Onward(config.max_empty_pages)
        super().__init__(config, first)

    def _after(self, page: Page) -> PageRequest | None:
        cursor = self._cursor(page)
        config = self._config
        sent = page.request.params.get(config.cursor_param)
        if cursor is None:
            self.stop_reason = "no_next_cursor"
            return None
        if not self._onward.follows(sent, cursor, page):
            self.stop_reason = "empty_page"
            return None
        return PageRequest(params={config.cursor_param: cursor, **config.size_params()})

    def _cursor(self, page: Page) -> str | None:
        if self._config.cursor_header is not None:
            return _text(_header(page.headers, self._config.cursor_header), "cursor_header")
        return _text(_lookup(page, self._config.cursor_path, "cursor_path"), "cursor_path")


class _UrlPaginator(Paginator):
    # Link and next-URL styles: the server names the next URL; relative ones resolve
    # against the URL just requested (RFC 3986 section 5, RFC 8288 section 3.2).
    def __init__(
        self, config: LinkPagination | NextUrlPagination, first: PageRequest | None
    ) -> None:
        self._onward = _Onward(config.max_empty_pages)
        super().__init__(config, first)

    def _after(self, page: Page) -> PageRequest | None:
        link = self._next_link(page)
        if link is None:
            self.stop_reason = "no_next_link"
            return None
        url = urljoin(page.url, link)
        if not self._onward.follows(page.url, url, page):
            self.stop_reason = "empty_page"
            return None
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
        super().__init__(config, first)

    def _next_link(self, page: Page) -> str | None:
        return _text(_lookup(page, self._path, "next_url_path"), "next_url_path")


class AutoPaginator(Paginator):
    """Runs :class:`AutoPagination`: detects the style on the first page it advances past
    (for a resumed read, the first page after the resume), logs the choice, then hands every
    page to that style's paginator.

    A reader may instead :meth:`settle` on the first page and read on with the detected
    style's own paginator and decoding (offset and page-number pages then go concurrently).

    Attributes
    ----------
    detection
        What the first page showed (:class:`Detection`), once it was looked at.
    """

    style = "auto"

    def __init__(self, config: AutoPagination, first: PageRequest | None) -> None:
        self._config = config
        self._inner: Paginator | None = None
        self.detection: Detection | None = None
        super().__init__(config, first)

    def detect(self, page: Page) -> Detection:
        """What ``page`` shows (pure; the first page is the one that decides)."""
        # Loaded by the reads that ask for detection, not by every read.
        from hiveframe._protocol.auto_pagination import detect_pagination

        return detect_pagination(page.headers, page.document, page.record_count, self._config)

    def settle(self, page: Page) -> tuple[PaginationConfig, Page] | None:
        """The config ``page`` (the first) shows, and ``page`` as that style's first page;
        ``None`` when it shows none (this paginator then ends the read on it). The choice
        is logged once, here or in :meth:`advance`."""
        config = self._detected(page).config
        return None if config is None else (config, _as_numbered(start_paginator(config), page))

    def _detected(self, page: Page) -> Detection:
        if self.detection is None:
            self.detection = found = self.detect(page)
            logger.info("pagination='auto' chose %s: %s", found.style, found.evidence)
        return self.detection

    def _after(self, page: Page) -> PageRequest | None:
        inner = self._inner
        if inner is None:
            found = self._detected(page)
            if found.config is None:
                self.stop_reason = "single_page"
                return None
            inner = self._inner = start_paginator(found.config)
            page = _as_numbered(inner, page)
        nxt = inner.advance(page)
        self.stop_reason, self.shortfall = inner.stop_reason, inner.shortfall
        return nxt

    def records_reported(self, page: Page) -> int | None:
        if self._inner is not None:
            return self._inner.records_reported(page)
        config = self.detect(page).config
        return None if config is None else start_paginator(config).records_reported(page)


def _as_numbered(paginator: Paginator, page: Page) -> Page:
    """The first page of a detected offset or page-number read, as if it had been asked for
    with the numbers (it went out without them, and the paginator counts from them)."""
    if (
        isinstance(paginator, _NumberedPaginator)
        and paginator.number_param not in page.request.params
    ):
        return replace(page, request=paginator.first())
    return page


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
    found = walk_dotted(page.document, _segments(path, option))
    return None if isinstance(found, MissingSegment) else found


@lru_cache(maxsize=64)
def _segments(path: str, option: str) -> tuple[str, ...]:
    # A config's paths (validated when it was built) are split once, not once per page.
    return split_dotted_path(path, option)


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


# -- configs and positions -------------------------------------------------------------------

PAGINATORS: Final[Mapping[type[PaginationConfig], type[Paginator]]] = MappingProxyType(
    {
        OffsetPagination: _OffsetPaginator,
        PagePagination: _PagePaginator,
        CursorPagination: _CursorPaginator,
        LinkPagination: _LinkPaginator,
        NextUrlPagination: _NextUrlPaginator,
        AutoPagination: AutoPaginator,
    }
)
"""Which paginator runs which pagination config; its keys are the styles there are."""

# With a page_size given by style name, the parameter that sends it (offset and page styles
# have their own; the others send none by default).
_SIZE_PARAMS_BY_STYLE = {"cursor": "limit", "link": "per_page", "next_url": "limit"}


def start_paginator(config: PaginationConfig) -> Paginator:
    """A fresh paginator for one read of ``config``, starting at the first page.

    Examples
    --------
    >>> start_paginator(OffsetPagination(page_size=50)).request_at(2).params
    {'offset': '100', 'limit': '50'}
    """
    return _runner(config)(config, PageRequest(params=config.first_params()))


def resume_paginator(config: PaginationConfig, position: Mapping[str, Any]) -> Paginator:
    """A paginator that continues from ``position`` (from :meth:`Paginator.position`).

    Its ``first()`` is the saved next request: verbatim for cursor, link and next-URL
    styles; for offset and page styles, the saved offset or page number with this
    config's parameters. Cursors and URLs seen before the save are not remembered.

    Raises
    ------
    ConfigError
        ``option="position"`` when the position was not saved by this style.
    """
    return _runner(config)(config, _saved_request(position, config.style))


def config_class(style: str) -> type[PaginationConfig] | None:
    """The config class of a style name (``"offset"``, ``"next_url"``...; any case and
    surrounding space), or ``None`` for a name that is no style."""
    wanted = style.strip().lower()
    return next((config for config in PAGINATORS if config.style == wanted), None)


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
    LinkPagination(page_size=50, max_empty_pages=10, size_param='per_page')
    """
    optional_int("page_size", page_size, minimum=1)
    if pagination is None:
        if page_size is not None:
            raise ConfigError("page_size", page_size, "has no effect without pagination=...")
        return None
    if isinstance(pagination, PaginationConfig):
        return pagination if page_size is None else replace(pagination, page_size=page_size)
    config = config_class(pagination) if isinstance(pagination, str) else None
    if config is AutoPagination and page_size is not None:
        reason = (
            "pagination='auto' cannot know the parameter that sends it: pass "
            "AutoPagination(size_param=..., page_size=...) or name the style"
        )
        raise ConfigError("page_size", page_size, reason)
    if config is None:
        styles = ", ".join(repr(kind.style) for kind in PAGINATORS)
        raise ConfigError(
            "pagination", pagination, f"expected one of {styles} or a pagination config object"
        )
    options: dict[str, Any] = {"page_size": page_size}
    if page_size is not None and config.style in _SIZE_PARAMS_BY_STYLE:
        options["size_param"] = _SIZE_PARAMS_BY_STYLE[config.style]
    return config(**options)


def _runner(config: PaginationConfig) -> type[Paginator]:
    return next(PAGINATORS[kind] for kind in type(config).__mro__ if kind in PAGINATORS)


def _saved_request(position: Mapping[str, Any], style: str) -> PageRequest | None:
    ok = isinstance(position, Mapping) and position.get("version") == POSITION_VERSION
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
