"""Fetch and decode pages: the read side of the pipeline, shared by every reader.

:class:`ReadPlan` is the validated, picklable description of what to read (built by
``HTTPSource``, shipped to Spark executors as is). :class:`PageReader` runs it inside one
:class:`~hiveframe._http.session.Session`: one page at a time (:meth:`PageReader.fetch`) for
callers that plan pages themselves (Spark partitions, polling streams), or the whole
paginated read (:meth:`PageReader.pages`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import orjson
import pyarrow as pa

from hiveframe._http.session import Response, Session
from hiveframe._protocol.arrow import records_to_table
from hiveframe._protocol.decode import DataPath, DecodedPage, decode_body, resolve_format
from hiveframe._protocol.origin import credentials_may_follow, origin_of
from hiveframe._protocol.pagination import Page, PageRequest, PaginationConfig, Paginator
from hiveframe._protocol.secrets import redact_url
from hiveframe.errors import BlockedDestinationError, ResponseDecodeError

Parser = Callable[[Response], Iterable[Any]]


@dataclass(frozen=True)
class ReadPlan:
    """What to read and how to turn it into records; validated by ``HTTPSource``."""

    url: str
    method: str = "GET"
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    pagination: PaginationConfig | None = None
    max_pages: int | None = None
    response_format: str | None = None
    data_path: DataPath | None = None
    parser: Parser | None = None
    schema: pa.Schema | None = None
    allowed_hosts: frozenset[str] = frozenset()


@dataclass(frozen=True)
class FetchedPage:
    """One decoded page: its records as a table, and what the paginator needs to go on."""

    table: pa.Table
    page: Page


class PageReader:
    """Reads the pages of ``plan`` through ``session``."""

    def __init__(self, plan: ReadPlan, session: Session) -> None:
        self.plan = plan
        self.session = session

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
        url, params = self._target(request, current_url or self.plan.url)
        response = await self.session.request(
            self.plan.method,
            url,
            params=params,
            headers={**self.plan.headers, **(headers or {})},
            json=self.plan.body,
            page=index,
            deadline=deadline,
        )
        return self.decode(response, request, index)

    def decode(self, response: Response, request: PageRequest, index: int) -> FetchedPage:
        """Turn one response into a page; decode errors name the page."""
        try:
            decoded = self._decode(response)
            table = self._table(decoded)
        except ResponseDecodeError as exc:
            exc.page = index
            raise
        page = Page(
            index=index,
            request=request,
            url=response.url,
            headers=response.headers,
            document=decoded.document,
            record_count=table.num_rows,
        )
        return FetchedPage(table, page)

    async def pages(
        self, paginator: Paginator | None, *, deadline: float | None = None
    ) -> AsyncIterator[pa.Table]:
        """Every page of the read in order, empty ones skipped, up to ``max_pages``."""
        request: PageRequest | None = paginator.first() if paginator else PageRequest()
        index, current_url, limit = 0, self.plan.url, self.plan.max_pages
        while request is not None and (limit is None or index < limit):
            fetched = await self.fetch(request, index, current_url=current_url, deadline=deadline)
            if fetched.table.num_rows:
                yield fetched.table
            if paginator is None:
                return
            current_url = fetched.page.url
            request = paginator.advance(fetched.page)
            index += 1

    def _target(self, request: PageRequest, current_url: str) -> tuple[str, dict[str, str]]:
        if request.url is None:
            return self.plan.url, {**self.plan.params, **request.params}
        url = urljoin(current_url, request.url)
        host = (urlsplit(url).hostname or "").lower()
        if not credentials_may_follow(self.plan.url, url) and host not in self.plan.allowed_hosts:
            raise BlockedDestinationError(
                f"next page is on another host ({origin_of(url).host!r}); add it to "
                "allowed_hosts to follow it (credentials are never sent there)",
                url=redact_url(url),
            )
        return url, dict(request.params)

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

    def _table(self, decoded: DecodedPage) -> pa.Table:
        schema = self.plan.schema
        if decoded.table is not None:
            table = decoded.table
            return table.select(schema.names).cast(schema) if schema else table
        return records_to_table(decoded.records, schema=schema)


def _document_or_none(response: Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
