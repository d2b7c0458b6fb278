"""HTTPSource: read a REST API into a DataFrame, page by page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import pyarrow as pa

from hiveframe._frame import DataFrame
from hiveframe._http.auth import Auth, auth_from_option
from hiveframe._http.clock import SYSTEM_CLOCK, Clock
from hiveframe._http.portal import iterate_sync, run_sync
from hiveframe._http.session import Response, Session, SessionConfig
from hiveframe._protocol.arrow import concat_tables, records_to_table
from hiveframe._protocol.decode import (
    DataPath,
    DecodedPage,
    decode_body,
    resolve_format,
    validate_response_format,
)
from hiveframe._protocol.origin import credentials_may_follow, origin_of
from hiveframe._protocol.pagination import (
    Page,
    PageRequest,
    PaginationConfig,
    pagination_from_options,
)
from hiveframe._protocol.secrets import redact_url
from hiveframe._validate import (
    check_http_url,
    check_optional_positive,
    check_str_mapping,
)
from hiveframe.errors import BlockedDestinationError, ConfigError, ResponseDecodeError
from hiveframe.resilience import (
    CircuitBreaker,
    RateLimiter,
    RetryConfig,
    rate_limiter_from_option,
    retry_from_option,
)
from hiveframe.resilience._retry import NOT_GIVEN, _NotGiven

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "QUERY"})

Parser = Callable[[Response], Iterable[Any]]


@dataclass(frozen=True)
class _PageTarget:
    url: str
    params: dict[str, str]


class HTTPSource:
    """Read records from an HTTP API, as one request or page after page.

    Parameters
    ----------
    url
        The endpoint, with scheme (``https://...``). May carry a query string.
    method
        ``"GET"`` (default) or another method for query-style APIs (with ``body``).
    params
        Query parameters sent with every page (the paginator's own parameters override them).
    headers
        Request headers. Headers whose names look like credentials (``Authorization``,
        ``X-API-Key``, ``*token*``, ``*secret*``...) or are listed in ``secret_headers`` are
        redacted in logs and never sent to another origin.
    body
        A JSON body for POST-style queries.
    pagination
        ``None`` (one request), ``"offset"``, ``"page"``, ``"cursor"``, ``"link"``,
        ``"next_url"``, or a pagination config object (:class:`OffsetPagination`, ...) for
        APIs with other parameter or field names.
    page_size
        Records per page, sent in the style's size parameter.
    max_pages
        Stop after this many pages.
    response_format
        ``"json"``, ``"jsonl"``/``"ndjson"``, ``"csv"``; by default from the Content-Type.
    data_path
        Where the records are in a JSON document: dotted (``"results.items"``) or JSONPath
        (``"$.results.items[*]"``). By default the top-level array.
    parser
        ``parser(response) -> iterable of records`` replacing the built-in decoding.
    schema
        A :class:`pyarrow.Schema` that fixes the column types.
    auth
        ``{"type": "bearer", "token": ...}``, ``{"type": "basic", "username", "password"}``,
        ``{"type": "api_key", "name", "value", "in": "header"|"query"}``,
        ``{"type": "oauth2", "token_url", "client_id", "client_secret", "scope"?}`` or an
        auth object from :mod:`hiveframe.connectors`.
    retry
        A :class:`~hiveframe.resilience.RetryConfig`; ``None`` turns retries off. By default
        5 attempts with exponential backoff and jitter.
    circuit_breaker
        A :class:`~hiveframe.resilience.CircuitBreaker`, possibly shared with other sources.
    rate_limit
        Requests per second (or a :class:`~hiveframe.resilience.RateLimiter`).
    timeout_seconds
        Deadline of one request attempt, from connecting to the last body byte; also the
        bound on each network wait. ``None`` for no deadline. Connecting alone is bounded by
        ``connect_timeout_seconds`` (10 s).
    allowed_hosts
        Hosts other than the URL's own that next links may point to. Credentials are never
        sent to them.
    deadline_seconds
        Deadline of a whole read, retries and waits included; ``None`` (default) for none.
        Raises :class:`~hiveframe.errors.DeadlineExceeded` naming the page it stopped at.
    secret_headers
        Extra header or parameter names to treat as credentials.
    clock
        Where time comes from; tests pass a fake clock whose ``sleep`` does not wait.

    Example
    -------
    >>> source = HTTPSource("https://api.example.com/data", pagination="offset", page_size=100)
    >>> df = source.read()  # doctest: +SKIP
    """

    def __init__(
        self,
        url: str,
        *,
        method: str = "GET",
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        pagination: str | PaginationConfig | None = None,
        page_size: int | None = None,
        max_pages: int | None = None,
        response_format: str | None = None,
        data_path: str | None = None,
        parser: Parser | None = None,
        schema: pa.Schema | None = None,
        auth: Auth | Mapping[str, Any] | None = None,
        retry: RetryConfig | _NotGiven | None = NOT_GIVEN,
        circuit_breaker: CircuitBreaker | None = None,
        rate_limit: float | RateLimiter | None = None,
        timeout_seconds: float | None = 30.0,
        connect_timeout_seconds: float = 10.0,
        deadline_seconds: float | None = None,
        max_body_bytes: int = 100 * 1024 * 1024,
        verify: bool | str = True,
        allowed_hosts: Iterable[str] = (),
        secret_headers: Iterable[str] = (),
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.url = check_http_url(url, "url")
        self.method = _check_method(method)
        self.params = {k: str(v) for k, v in check_str_mapping(params, "params").items()}
        self.headers = dict(check_str_mapping(headers, "headers"))
        self.body = body
        self.pagination = pagination_from_options(pagination, page_size)
        self.max_pages = check_optional_positive(max_pages, "max_pages")
        self.response_format = validate_response_format(response_format)
        self.data_path = DataPath(data_path) if data_path is not None else None
        if parser is not None and not callable(parser):
            raise ConfigError("parser", parser, "a callable parser(response) -> records")
        self.parser = parser
        if schema is not None and not isinstance(schema, pa.Schema):
            raise ConfigError("schema", schema, "a pyarrow.Schema")
        self.schema = schema
        self.auth = auth_from_option(auth)
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self.deadline_seconds = check_optional_positive(deadline_seconds, "deadline_seconds")
        self.clock = clock
        self.session_config = SessionConfig(
            timeout_seconds=check_optional_positive(timeout_seconds, "timeout_seconds"),
            connect_timeout_seconds=connect_timeout_seconds,
            max_body_bytes=max_body_bytes,
            max_decompressed_bytes=max_body_bytes,
            verify=verify,
            retry=retry_from_option(retry),
            circuit_breaker=_check_breaker(circuit_breaker),
            rate_limiter=rate_limiter_from_option(rate_limit),
            secret_headers=frozenset(h.lower() for h in secret_headers),
            secret_params=frozenset(secret_headers),
        )

    def __repr__(self) -> str:
        parts = [f"url={redact_url(self.url, self.session_config.secret_params)!r}"]
        if self.method != "GET":
            parts.append(f"method={self.method!r}")
        if self.pagination is not None:
            parts.append(f"pagination={self.pagination!r}")
        if self.max_pages is not None:
            parts.append(f"max_pages={self.max_pages}")
        if self.auth is not None:
            parts.append(f"auth={self.auth!r}")
        return f"HTTPSource({', '.join(parts)})"

    # -- public reads --------------------------------------------------------------------------

    def read(self) -> DataFrame:
        """Fetch every page and return one DataFrame.

        Raises
        ------
        hiveframe.errors.HTTPError
            A request failed for good (after the retries the policy allows).
        hiveframe.errors.ResponseDecodeError
            A response could not be decoded into records.
        """
        return run_sync(self.aread)

    async def aread(self) -> DataFrame:
        """Async :meth:`read`."""
        tables = [table async for table in self._apages()]
        return DataFrame(concat_tables(tables, schema=self.schema))

    def iter_batches(self) -> Iterator[pa.RecordBatch]:
        """Yield Arrow record batches page by page, keeping memory bounded by one page.

        Batches of different pages may differ in schema when the API's records do; pass
        ``schema=`` for one fixed schema.
        """
        return iterate_sync(self.aiter_batches)

    async def aiter_batches(self) -> AsyncIterator[pa.RecordBatch]:
        """Async :meth:`iter_batches`."""
        async for table in self._apages():
            for batch in table.to_batches():
                yield batch

    # -- the page loop -------------------------------------------------------------------------

    def _session(self) -> Session:
        return Session(
            self.session_config, auth=self.auth, credential_url=self.url, clock=self.clock
        )

    async def _apages(self) -> AsyncIterator[pa.Table]:
        paginator = self.pagination.start_paginator() if self.pagination else None
        deadline = self.clock.monotonic() + self.deadline_seconds if self.deadline_seconds else None
        async with self._session() as session:
            request: PageRequest | None = paginator.first() if paginator else PageRequest()
            index = 0
            current_url = self.url
            while request is not None and (self.max_pages is None or index < self.max_pages):
                target = self._target(request, current_url)
                response = await session.request(
                    self.method,
                    target.url,
                    params=target.params,
                    headers=self.headers,
                    json=self.body,
                    page=index,
                    deadline=deadline,
                )
                try:
                    decoded = self._decode(response, session, needs_document=bool(paginator))
                    table = self._table(decoded)
                except ResponseDecodeError as exc:
                    exc.page = index
                    raise
                if table.num_rows:
                    yield table
                if paginator is None:
                    return
                current_url = response.url
                page = Page(
                    index=index,
                    request=request,
                    url=response.url,
                    headers=response.headers,
                    document=decoded.document,
                    record_count=table.num_rows,
                )
                request = paginator.advance(page)
                index += 1

    def _target(self, request: PageRequest, current_url: str) -> _PageTarget:
        if request.url is None:
            return _PageTarget(self.url, {**self.params, **request.params})
        url = urljoin(current_url, request.url)
        if not credentials_may_follow(self.url, url) and not self._allowed(url):
            raise BlockedDestinationError(
                f"next page is on another host ({origin_of(url).host!r}); add it to "
                "allowed_hosts to follow it (credentials are never sent there)",
                url=redact_url(url),
            )
        return _PageTarget(url, dict(request.params))

    def _allowed(self, url: str) -> bool:
        return (urlsplit(url).hostname or "").lower() in self.allowed_hosts

    def _decode(self, response: Response, session: Session, *, needs_document: bool) -> DecodedPage:
        url = session.redact(response.url)
        if self.parser is None:
            fmt = resolve_format(self.response_format, response.headers.get("content-type"))
            return decode_body(response.content, fmt=fmt, data_path=self.data_path, url=url)
        try:
            records = list(self.parser(response))
        except Exception as exc:
            raise ResponseDecodeError(
                f"parser raised {type(exc).__name__}: {exc}", kind="parser", url=url
            ) from exc
        document = _document_or_none(response) if needs_document else None
        return DecodedPage(document=document, records=records)

    def _table(self, decoded: DecodedPage) -> pa.Table:
        if decoded.table is not None:
            table = decoded.table
            return table.select(self.schema.names).cast(self.schema) if self.schema else table
        return records_to_table(decoded.records, schema=self.schema)


def _document_or_none(response: Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _check_method(method: Any) -> str:
    if not isinstance(method, str) or method.upper() not in _METHODS:
        raise ConfigError("method", method, f"one of {', '.join(sorted(_METHODS))}")
    return method.upper()


def _check_breaker(breaker: Any) -> CircuitBreaker | None:
    if breaker is not None and not isinstance(breaker, CircuitBreaker):
        raise ConfigError("circuit_breaker", breaker, "a hiveframe.resilience.CircuitBreaker")
    return breaker
