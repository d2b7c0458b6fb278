"""The sans-I/O state machines behind the pagination configs of :mod:`.pagination`.

A read asks its config for a fresh :class:`Paginator`; the driver fetches
``paginator.first()``, wraps the response in a :class:`Page` and calls
``paginator.advance(page)`` for the next request, until that returns ``None``. The stop rules
are listed in :mod:`hiveframe._protocol.pagination`. No I/O happens here.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urljoin

from hiveframe._protocol.data_path import MissingSegment, split_dotted_path, walk_dotted
from hiveframe._protocol.link_header import find_next_link
from hiveframe._protocol.secrets import redact_url
from hiveframe.errors import PaginationError, PaginationLoopError

if TYPE_CHECKING:
    from hiveframe._protocol.pagination import (
        CursorPagination,
        NextUrlPagination,
        OffsetPagination,
        PagePagination,
    )

DEFAULT_PAGE_SIZE = 100
"""The page size sent when a style sends one and the user gave none."""

POSITION_VERSION = 1
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
        return {"version": POSITION_VERSION, "style": self.style, "next": saved}


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
