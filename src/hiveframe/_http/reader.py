"""Fetch and decode pages: the read side of the pipeline, shared by every reader.

:class:`ReadPlan` is the validated, picklable description of what to read (built by
``HTTPSource``, shipped to Spark executors as is). :class:`PageReader` runs it inside one
:class:`~hiveframe._http.session.Session`: one page at a time (:meth:`PageReader.fetch`) for
callers that plan pages themselves (polling streams), the whole paginated read
(:meth:`PageReader.pages`), or a range of its pages (:meth:`PageReader.page_range`, one
Spark partition's share), with the same concurrency.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import urljoin, urlsplit

import orjson
import pyarrow as pa

from hiveframe._http.offload import BatchDecoder
from hiveframe._http.response import Response
from hiveframe._http.session import Session
from hiveframe._protocol.arrow.conform import TableKey
from hiveframe._protocol.columnar import PageBody, PageTable, Shapes, decode_pages, page_table
from hiveframe._protocol.data_path import DataPath
from hiveframe._protocol.decode import DecodedPage, decode_body, resolve_format
from hiveframe._protocol.drift import DriftGuard
from hiveframe._protocol.metadata import metadata_schema, with_metadata
from hiveframe._protocol.origin import credentials_may_follow, origin_of
from hiveframe._protocol.pagination import DEFAULT_MAX_PAGES, PaginationConfig
from hiveframe._protocol.paginators import Page, PageRequest, Paginator
from hiveframe.errors import (
    BlockedDestinationError,
    PaginationError,
    PaginationLimitReached,
    PaginationWarning,
    ResponseDecodeError,
)

Parser = Callable[[Response], Iterable[Any]]
# Pages fetched ahead of the one being committed, per request in flight (``concurrency``):
# pages that arrived and wait for the decoder hold no request (docs/design.md, "Concurrent
# page fetch").
LOOKAHEAD = 4


@dataclass(frozen=True)
class ReadPlan:
    """What to read and how to turn it into records; validated by ``HTTPSource``.

    ``max_pages`` is the user's own limit: the read ends after that many pages, silently.
    Without one, ``page_cap`` applies: a read that reaches it while the API has more pages
    raises :class:`~hiveframe.errors.PaginationLimitReached` (``None``: no cap at all).
    ``include_metadata`` names the metadata columns appended to every page
    (:data:`~hiveframe._protocol.metadata.METADATA_COLUMNS`).
    """

    url: str
    method: str = "GET"
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    pagination: PaginationConfig | None = None
    max_pages: int | None = None
    page_cap: int | None = DEFAULT_MAX_PAGES
    response_format: str | None = None
    data_path: DataPath | None = None
    parser: Parser | None = None
    schema: pa.Schema | None = None
    allowed_hosts: frozenset[str] = frozenset()
    concurrency: int = 8
    schema_drift: str = "promote"
    include_metadata: tuple[str, ...] = ()

    @property
    def output_schema(self) -> pa.Schema | None:
        """The schema of what the read returns: ``schema`` with the metadata columns, if
        one was given."""
        return metadata_schema(self.schema, self.include_metadata)


@dataclass(frozen=True)
class FetchedPage:
    """One decoded page: its records as a table, and what the paginator needs to go on.

    ``ignored``: a rule of the response policy said to ignore the response; it has no
    records and the read ends there.
    """

    table: pa.Table
    page: Page
    ignored: bool = False


@dataclass
class ReadProgress:
    """How a read is going, updated as each page commits (before its records are handed
    out): what a progress display shows. One instance may follow several readers (the
    children of a fan-out); it then adds their pages up.

    Attributes
    ----------
    pages, records
        Pages committed (empty ones included) and their records.
    expected_records
        The collection's size as the latest page reported it (``total_path``), or ``None``.
    requests, retries, rate_limit_waits
        The session's counts so far: requests sent (redirects, retries and token requests
        included), retries, and waits for the rate limit.
    """

    pages: int = 0
    records: int = 0
    expected_records: int | None = None
    requests: int = 0
    retries: int = 0
    rate_limit_waits: int = 0


class PageReader:
    """Reads the pages of ``plan`` through ``session``; ``progress`` follows it if given.

    Attributes
    ----------
    stop_reason
        Why the last read (:meth:`pages`, :meth:`page_range`) ended, once it has: one of
        :data:`~hiveframe._protocol.paginators.STOP_REASONS`. ``None`` while it runs, after
        it failed, and when a range ended at its ``stop``.
    """

    def __init__(
        self, plan: ReadPlan, session: Session, progress: ReadProgress | None = None
    ) -> None:
        self.plan = plan
        self.session = session
        self.progress = progress
        self.stop_reason: str | None = None
        self._limit = plan.max_pages if plan.max_pages is not None else plan.page_cap
        self._requests = asyncio.Semaphore(plan.concurrency)  # pages fetched ahead, in flight
        self._keys = plan.pagination is not None and plan.pagination.compares_pages
        self._offload = BatchDecoder(
            partial(
                decode_pages,
                data_path=plan.data_path,
                schema=plan.schema,
                keys=self._keys,
                document_paths=plan.pagination.document_paths if plan.pagination else (),
                shapes=Shapes(),
            )
        )

    async def fetch(
        self,
        request: PageRequest,
        index: int,
        *,
        current_url: str | None = None,
        headers: Mapping[str, str] | None = None,
        deadline: float | None = None,
    ) -> FetchedPage:
        """Fetch and decode one page. ``headers`` adds per-request headers (conditional GETs)."""
        response = await self.request_page(
            request, index, current_url=current_url, headers=headers, deadline=deadline
        )
        return self.decode(response, request, index)

    async def request_page(
        self,
        request: PageRequest,
        index: int,
        *,
        current_url: str | None = None,
        headers: Mapping[str, str] | None = None,
        deadline: float | None = None,
    ) -> Response:
        """The response to one page's request, not decoded yet (:meth:`decode` does that)."""
        if request.url is None:  # the source's own URL
            url, params = self.plan.url, {**self.plan.params, **request.params}
        else:
            with self.session.reporting(page=index):  # a next link the origin policy refuses
                url = self._followed(request.url, current_url or self.plan.url)
            params = dict(request.params)
        return await self.session.request(
            self.plan.method,
            url,
            params=params,
            headers={**self.plan.headers, **headers} if headers else self.plan.headers,
            json=self.plan.body,
            page=index,
            deadline=deadline,
        )

    def decode(self, response: Response, request: PageRequest, index: int) -> FetchedPage:
        """Turn one response into a page; decode errors name the URL and the page."""
        if response.action == "ignore":
            page = Page(index, request, response.url, response.headers, None, 0)
            return FetchedPage(pa.table({}), page, ignored=True)
        with self.session.reporting(response.url, page=index):
            decoded = self._decode(response)
            table = page_table(decoded, self.plan.schema)
            key = TableKey(table) if self._keys else None
        return self._fetched(response, request, index, PageTable(decoded.document, table, key))

    async def _fetch_ahead(
        self, request: PageRequest, index: int, deadline: float | None, *, inline: bool
    ) -> FetchedPage:
        """:meth:`fetch` for a page fetched ahead: decoded in the worker thread, in a batch
        with the pages waiting there (see :mod:`~hiveframe._http.offload`); ``inline``
        (the read's first page) and pages for a custom ``parser`` decode here."""
        async with self._requests:
            response = await self.request_page(request, index, deadline=deadline)
        if inline or self.plan.parser is not None or response.action == "ignore":
            return self.decode(response, request, index)
        with self.session.reporting(response.url, page=index):
            fmt = resolve_format(self.plan.response_format, response.headers.get("content-type"))
            # No URL in the body: an error gets the redacted one here, from reporting(), so
            # pages that decode (all but a few) are never redacted.
            decoded = await self._offload.decode(PageBody(response.content, fmt))
        return self._fetched(response, request, index, decoded)

    def _fetched(
        self, response: Response, request: PageRequest, index: int, decoded: PageTable
    ) -> FetchedPage:
        page = Page(
            index=index,
            request=request,
            url=response.url,
            headers=response.headers,
            document=decoded.document,
            record_count=decoded.table.num_rows,
            key=decoded.key,
        )
        table = decoded.table
        if self.plan.include_metadata:
            table = with_metadata(
                table,
                self.plan.include_metadata,
                status=response.status_code,
                page=index,
                url=self.session.redact(response.url),
                fetched_at=response.fetched_at,
            )
        return FetchedPage(table, page)

    async def pages(
        self,
        paginator: Paginator | None,
        *,
        deadline: float | None = None,
        first: FetchedPage | None = None,
    ) -> AsyncIterator[pa.Table]:
        """Every page of the read in order, empty ones skipped, up to ``max_pages``.

        Paginators that know page N's request up front (offset, page number) are fetched
        with up to ``plan.concurrency`` pages in flight, after a slow start
        (:meth:`Paginator.window`); the others one after another. ``first`` is page 0 if it
        was fetched already (to plan the read): it is used, not fetched again.

        Raises
        ------
        PaginationLimitReached
            The read reached ``plan.page_cap`` (no ``max_pages`` given) and the API has more.
        PaginationError
            The paginator cannot go on; the error names the page and its redacted URL.
        """
        if paginator is not None and paginator.prefetchable and self.plan.concurrency > 1:
            pages = self._prefetched(paginator, deadline, first=first)
        else:
            pages = self._sequential(paginator, deadline, first=first)
        async for table in self._tables(pages, paginator):
            yield table

    async def page_range(
        self,
        paginator: Paginator,
        start: int,
        stop: int,
        *,
        known: bool,
        first: FetchedPage | None = None,
        deadline: float | None = None,
    ) -> AsyncIterator[pa.Table]:
        """Pages ``[start, stop)`` of a prefetchable read (one share of a planned read).

        Fetched and committed as :meth:`pages` does, with up to ``plan.concurrency`` pages
        in flight: all of them from page ``start`` on when the pages are ``known`` to exist
        (a total the API reported), else after a slow start from page ``start``. The range
        ends at ``stop`` or at the read's last page, whichever comes first. ``first`` is
        page ``start`` if it was fetched already.

        Raises
        ------
        PaginationError
            As for :meth:`pages`; also when the API moves differently from the plan (a page
            with more records than asked), since the ranges of a plan would then overlap.
        """
        pages = self._prefetched(
            paginator, deadline, start=start, stop=stop, known=known, first=first
        )
        async for table in self._tables(pages, paginator):
            yield table

    async def _tables(
        self, pages: AsyncIterator[FetchedPage], paginator: Paginator | None
    ) -> AsyncIterator[pa.Table]:
        guard = DriftGuard() if self.plan.schema_drift == "strict" else None
        with self.session.reporting():  # a next link or cursor may echo a secret
            async for fetched in pages:
                if guard is not None:
                    guard.check(fetched.table.schema, page=fetched.page.index)
                if self.progress is not None:
                    self._count(self.progress, fetched, paginator)
                if fetched.table.num_rows:
                    yield fetched.table

    def _count(
        self, progress: ReadProgress, fetched: FetchedPage, paginator: Paginator | None
    ) -> None:
        session = self.session
        progress.pages += 1
        progress.records += fetched.table.num_rows
        if paginator is not None and not fetched.ignored:
            with session.reporting(fetched.page.url, page=fetched.page.index):
                reported = paginator.records_reported(fetched.page)
            if reported is not None:
                progress.expected_records = reported
        progress.requests = session.requests_sent
        progress.retries = session.retries
        progress.rate_limit_waits = session.rate_limit_waits

    async def _sequential(
        self,
        paginator: Paginator | None,
        deadline: float | None,
        *,
        start: PageRequest | None = None,
        index: int = 0,
        current_url: str | None = None,
        first: FetchedPage | None = None,
    ) -> AsyncIterator[FetchedPage]:
        request: PageRequest | None = start or (paginator.first() if paginator else PageRequest())
        current_url = current_url or self.plan.url
        while request is not None:
            if not self._within_limit(index):
                self._stop_at_limit(index, current_url)
                return
            if first is not None:
                fetched, first = first, None
            else:
                fetched = await self.fetch(
                    request, index, current_url=current_url, deadline=deadline
                )
            yield fetched
            if paginator is None:
                self.stop_reason = "ignored" if fetched.ignored else "single_page"
                return
            current_url = fetched.page.url
            request = self._advance(paginator, fetched)
            index += 1

    async def _prefetched(
        self,
        paginator: Paginator,
        deadline: float | None,
        *,
        start: int = 0,
        stop: int | None = None,
        known: bool = False,
        first: FetchedPage | None = None,
    ) -> AsyncIterator[FetchedPage]:
        # Pages are fetched ahead, but committed strictly in order through advance(), which
        # applies every stop rule; pages fetched past the end are dropped. The window of
        # pages in flight slow-starts (the first page goes alone, so a one-page read costs
        # one request) and never reaches past a total the API reported, nor past ``stop``;
        # pages known to exist go ``concurrency`` at a time from the start.
        in_flight: dict[int, asyncio.Future[FetchedPage]] = {}
        index = start
        current_url = self.plan.url
        launched = start  # pages before it were launched (or given)
        if first is not None:
            in_flight[start] = asyncio.get_running_loop().create_future()
            in_flight[start].set_result(first)
            launched += 1
        bounds = [bound for bound in (stop, self._limit) if bound is not None]
        end = min(bounds) if bounds else None  # no page is launched from there on

        def launch(upto: int) -> None:
            nonlocal launched
            for i in range(launched, upto if end is None else min(upto, end)):
                request = paginator.first() if i == 0 else paginator.request_at(i)
                fetch = self._fetch_ahead(request, i, deadline, inline=i == start)
                in_flight[i] = asyncio.ensure_future(fetch)
                launched = i + 1

        try:
            while True:
                if not self._within_limit(index):
                    self._stop_at_limit(index, current_url)
                    return
                # Pages known to exist (a total): up to LOOKAHEAD times as many as requests in
                # flight, so requests go on while the decoder works, which then gets pages in
                # larger batches. Pages that may not exist: no more than requests in flight.
                concurrency = self.plan.concurrency
                horizon = LOOKAHEAD * concurrency
                ahead = (
                    horizon
                    if known
                    else paginator.window(index - start, concurrency, known_ahead=horizon)
                )
                launch(index + ahead)
                fetched = await in_flight.pop(index)
                yield fetched
                current_url = fetched.page.url
                nxt = self._advance(paginator, fetched)
                if nxt is None:
                    return
                index += 1
                if index == stop:
                    return
                if nxt != paginator.request_at(index):
                    # The API moved differently than planned (e.g. more records than asked).
                    if stop is not None:  # a range cannot follow it into the next range
                        with self.session.reporting(current_url, page=index - 1):
                            raise PaginationError(
                                "the API sent more records than page_size asks for, so the "
                                "page ranges of a planned read would overlap: set page_size "
                                "to the number of records the API sends per page"
                            )
                    # Drop the speculation and go on one page at a time from its answer.
                    rest = self._sequential(
                        paginator, deadline, start=nxt, index=index, current_url=current_url
                    )
                    async for page in rest:
                        yield page
                    return
        finally:
            for task in in_flight.values():
                task.cancel()
            await asyncio.gather(*in_flight.values(), return_exceptions=True)

    def _within_limit(self, index: int) -> bool:
        return self._limit is None or index < self._limit

    def _stop_at_limit(self, index: int, url: str) -> None:
        # Page ``index`` is beyond the limit and the page before pointed to it: the user's
        # max_pages ends the read as asked; the default cap must not truncate silently.
        if self.plan.max_pages is None and self.plan.page_cap is not None:
            raise PaginationLimitReached(
                self.plan.page_cap, url=self.session.redact(url), page=index
            )
        self.stop_reason = "max_pages"

    def _advance(self, paginator: Paginator, fetched: FetchedPage) -> PageRequest | None:
        """``paginator.advance(page)``; errors name the page and its URL, shortfalls warn.
        An ignored response ends the read without the paginator."""
        if fetched.ignored:
            self.stop_reason = "ignored"
            return None
        page = fetched.page
        with self.session.reporting(page.url, page=page.index):
            nxt = paginator.advance(page)
        if nxt is None:
            self.stop_reason = paginator.stop_reason
            if paginator.shortfall is not None:
                url = self.session.redact(page.url)
                warning = PaginationWarning(paginator.shortfall, url=url, page=page.index)
                warnings.warn(warning, stacklevel=2)
        return nxt

    def _followed(self, link: str, current_url: str) -> str:
        """A next link as an absolute URL, if the origin policy lets the read follow it."""
        url = urljoin(current_url, link)
        host = (urlsplit(url).hostname or "").lower()
        if not credentials_may_follow(self.plan.url, url) and host not in self.plan.allowed_hosts:
            raise BlockedDestinationError(
                f"next page is on another host ({origin_of(url).host!r}); add it to "
                "allowed_hosts to follow it (credentials are never sent there)",
                url=self.session.redact(url),
            )
        return url

    def _decode(self, response: Response) -> DecodedPage:
        plan = self.plan
        url = self.session.redact(response.url)
        if plan.parser is None:
            fmt = resolve_format(plan.response_format, response.headers.get("content-type"))
            return decode_body(response.content, fmt=fmt, data_path=plan.data_path, url=url)
        try:
            records = list(plan.parser(response))
        except Exception as exc:
            raise ResponseDecodeError(
                f"parser raised {type(exc).__name__}: {exc}", kind="parser", url=url
            ) from exc
        document = _document_or_none(response) if plan.pagination is not None else None
        return DecodedPage(document=document, records=records)


def _document_or_none(response: Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
