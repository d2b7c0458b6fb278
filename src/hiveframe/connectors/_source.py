"""HTTPSource: read a REST API into a DataFrame page by page, or stream it (polling, SSE)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

import pyarrow as pa

from hiveframe._frame import DataFrame
from hiveframe._http.auth import Auth, auth_from_option
from hiveframe._http.clock import SYSTEM_CLOCK, Clock
from hiveframe._http.poll import PollReader
from hiveframe._http.portal import iterate_sync, run_sync
from hiveframe._http.proxy import proxy_repr
from hiveframe._http.reader import PageReader, Parser, ReadPlan
from hiveframe._http.record_stream import AsyncRecordStream, RecordStream
from hiveframe._http.session import Session, SessionConfig
from hiveframe._http.sse import SSEReader
from hiveframe._protocol.arrow.conform import RunningSchema, concat_tables
from hiveframe._protocol.data_path import DataPath
from hiveframe._protocol.decode import validate_response_format
from hiveframe._protocol.drift import DRIFT_POLICIES
from hiveframe._protocol.emission import Emission, SourceStats
from hiveframe._protocol.pagination import DEFAULT_MAX_PAGES, PaginationConfig
from hiveframe._protocol.paginators import pagination_from_options, start_paginator
from hiveframe._protocol.poll import DEFAULT_DEDUPE_WINDOW
from hiveframe._protocol.reconnect import DEFAULT_IDLE_TIMEOUT_SECONDS, ReconnectConfig
from hiveframe._protocol.sse import DEFAULT_MAX_EVENT_BYTES
from hiveframe._secrets import redact_url
from hiveframe._validate import (
    NOT_GIVEN,
    _NotGiven,
    check_choice,
    check_headers,
    check_http_url,
    check_json,
    check_method,
    check_names,
    check_str_mapping,
    optional_int,
    optional_seconds,
    require_int,
)
from hiveframe.connectors._stream_options import stream_options
from hiveframe.errors import ConfigError
from hiveframe.resilience import CircuitBreaker, RateLimiter, RetryConfig
from hiveframe.resilience._options import (
    breaker_from_option,
    rate_limiter_from_option,
    retry_from_option,
)

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "QUERY"})


class HTTPSource:
    """Read records from an HTTP API, as one request or page after page, or as a stream.

    ``read()`` takes what the API holds now. A source with ``poll_interval_seconds`` or
    ``stream_type="sse"`` also streams: ``stream()``/``astream()`` yield records as they
    come, and a :class:`~hiveframe.streaming.StreamProcessor` runs it into a sink with
    checkpoints.

    Parameters
    ----------
    url
        The endpoint, with scheme (``https://...``). May carry a query string.
    method
        ``"GET"`` (default) or another method for query-style APIs (with ``body``).
    params
        Query parameters sent with every page (the paginator's own parameters override them).
        Parameters whose names look like credentials (``key``, ``api_key``, ``sig``,
        ``code``, ``appid``, ``*token*``, ``*secret*``, ``password``...) or are listed in
        ``secret_params`` are redacted in logs and errors and never sent to another origin.
    headers
        Request headers. Headers whose names look like credentials (``Authorization``,
        ``Cookie``, ``X-API-Key``, ``*token*``, ``*secret*``...) or are listed in
        ``secret_headers`` are redacted in logs and never sent to another origin.
    body
        A JSON body for POST-style queries.
    pagination
        ``None`` (one request), ``"offset"``, ``"page"``, ``"cursor"``, ``"link"``,
        ``"next_url"``, or a pagination config object (:class:`OffsetPagination`, ...) for
        APIs with other parameter or field names.
    page_size
        Records per page, sent in the style's size parameter.
    max_pages
        Read at most this many pages and stop there, without an error. When not given, a
        read stops at 100,000 pages (``DEFAULT_MAX_PAGES``) and raises
        :class:`~hiveframe.errors.PaginationLimitReached` if the API has more, so an API
        that pages forever cannot run a read forever and none is cut short silently.
        ``None`` lifts that cap.
    response_format
        ``"json"``, ``"jsonl"``/``"ndjson"``, ``"csv"``; by default from the Content-Type.
    data_path
        Where the records are in a JSON document: dotted (``"results.items"``) or JSONPath
        (``"$.results.items[*]"``). By default the top-level array.
    parser
        ``parser(response) -> iterable of records`` replacing the built-in decoding.
    schema
        A :class:`pyarrow.Schema` that fixes the column types.
    schema_drift
        What a field that changes type between pages does: ``"promote"`` (default) keeps
        every value, turning the field into text; ``"strict"`` raises
        :class:`~hiveframe.errors.SchemaDriftError` naming the field and the page (0-based).
        Numbers stay numbers either way, and a new field is never drift.
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
    concurrency
        Pages in flight at once when pages can be requested up front (offset and page
        number pagination); they are still returned in order. ``1`` fetches one by one.
    block_private_networks
        Refuse a redirect to another host that resolves to a loopback, private or
        link-local address (default ``True``): a public API cannot steer a read into your
        own network. Redirects within the URL's own origin are always followed.
    proxy
        The HTTP proxy every request goes through (``"http://proxy.internal:3128"``,
        credentials allowed: ``"http://user:pass@proxy:3128"``); HTTPS requests tunnel
        through it with ``CONNECT``. Not given: ``HTTPS_PROXY``/``HTTP_PROXY`` and
        ``NO_PROXY`` from the environment (lower-case names too), per request URL.
        ``None``: no proxy, whatever the environment says. Proxy credentials are masked
        in ``repr``, logs and errors and go to the proxy alone.
    allowed_hosts
        Hosts other than the URL's own that next links may point to. Credentials are never
        sent to them.
    deadline_seconds
        Deadline of a whole read, retries and waits included; ``None`` (default) for none.
        Raises :class:`~hiveframe.errors.DeadlineExceeded` naming the page it stopped at.
    secret_headers, secret_params
        More header names, and query-parameter names, to treat as credentials (compared
        without case, ``-`` or ``_``). Their values, like every other secret the source
        knows, are also scrubbed from error messages and logs wherever they appear.
    poll_interval_seconds
        Stream by polling: read the endpoint again this many seconds after the previous
        poll started. Each poll may paginate; failed polls back off with ``retry``'s
        delays instead of ending the stream.
    stream_type
        ``"sse"`` to stream Server-Sent Events (WHATWG EventSource semantics);
        ``"poll"`` is implied by ``poll_interval_seconds``.
    since_param, since_field, since_path
        Polling with an incremental cursor: the query parameter ``since_param`` carries the
        largest ``since_field`` value seen so far (or the value at the dotted
        ``since_path`` in the last response), so each poll asks only for what is newer.
    dedupe_key
        Polling: drop records whose value of this field was already emitted (the most
        recent ``dedupe_window`` keys, 10,000 by default, are remembered).
    conditional_requests
        Polling: send the previous poll's ``ETag``/``Last-Modified`` as ``If-None-Match``/
        ``If-Modified-Since``; a ``304 Not Modified`` costs no parsing. On by default.
    idle_timeout_seconds
        SSE: reconnect when the server sends nothing, not even a comment, for this long
        (60 s). It replaces ``timeout_seconds`` as the bound on every wait for the server.
    max_event_bytes
        SSE: the largest event accepted (1 MiB); a larger one raises
        :class:`~hiveframe.errors.SSEEventTooLarge`.
    reconnect
        SSE: a :class:`~hiveframe.streaming.ReconnectConfig` (by default: the server's
        ``retry:`` or 3 s, doubling on repeated failures up to 60 s, giving up after 10
        attempts in a row without an event); ``None`` ends the stream when the connection
        does. Reconnections send ``Last-Event-ID``.
    strict_sse
        SSE: browser semantics, every status other than 200 fails the stream. By default
        the statuses ``retry`` retries (429, 5xx) are retried under it; 204 always stops
        the stream (:class:`~hiveframe.errors.SSEStreamClosedByServer`).
    include_event_metadata
        SSE: add the event type and id to each record as ``_event`` and ``_event_id``.
    clock
        Where time comes from; tests pass a fake clock whose ``sleep`` does not wait.

    For an SSE source, ``response_format`` is ``"json"`` (each event's ``data`` is a JSON
    document of records, found with ``data_path``) or ``"text"`` (each event is one record
    ``{"data": ...}``).

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
        max_pages: int | _NotGiven | None = NOT_GIVEN,
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
        proxy: str | _NotGiven | None = NOT_GIVEN,
        block_private_networks: bool = True,
        allowed_hosts: Iterable[str] = (),
        concurrency: int = 8,
        schema_drift: str = "promote",
        secret_headers: Iterable[str] = (),
        secret_params: Iterable[str] = (),
        poll_interval_seconds: float | None = None,
        stream_type: str | None = None,
        since_param: str | None = None,
        since_field: str | None = None,
        since_path: str | None = None,
        dedupe_key: str | None = None,
        dedupe_window: int = DEFAULT_DEDUPE_WINDOW,
        conditional_requests: bool = True,
        idle_timeout_seconds: float = DEFAULT_IDLE_TIMEOUT_SECONDS,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        reconnect: ReconnectConfig | _NotGiven | None = NOT_GIVEN,
        strict_sse: bool = False,
        include_event_metadata: bool = False,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if parser is not None and not callable(parser):
            raise ConfigError("parser", parser, "a callable parser(response) -> records")
        if schema is not None and not isinstance(schema, pa.Schema):
            raise ConfigError("schema", schema, "a pyarrow.Schema")
        self.streaming = stream_options(
            stream_type=stream_type,
            poll_interval_seconds=poll_interval_seconds,
            response_format=response_format,
            pagination=pagination,
            parser=parser,
            body=body,
            since_param=since_param,
            since_field=since_field,
            since_path=since_path,
            dedupe_key=dedupe_key,
            dedupe_window=dedupe_window,
            conditional_requests=conditional_requests,
            idle_timeout_seconds=idle_timeout_seconds,
            max_event_bytes=max_event_bytes,
            reconnect=reconnect,
            strict_sse=strict_sse,
            include_event_metadata=include_event_metadata,
        )
        if self.streaming.kind == "sse":
            response_format = None  # "json"/"text" name how event data decodes (SSEConfig)
        pages_given = max_pages is not NOT_GIVEN
        self.plan = ReadPlan(
            url=check_http_url(url, "url"),
            method=check_method(method, _METHODS),
            params={k: str(v) for k, v in check_str_mapping(params, "params").items()},
            headers=check_headers("headers", headers),
            body=check_json("body", body),
            pagination=pagination_from_options(pagination, page_size),
            max_pages=optional_int("max_pages", max_pages, minimum=1) if pages_given else None,
            page_cap=None if pages_given else DEFAULT_MAX_PAGES,
            response_format=validate_response_format(response_format),
            data_path=DataPath(data_path) if data_path is not None else None,
            parser=parser,
            schema=schema,
            allowed_hosts=frozenset(h.lower() for h in check_names("allowed_hosts", allowed_hosts)),
            concurrency=require_int("concurrency", concurrency, minimum=1),
            schema_drift=check_choice("schema_drift", schema_drift, DRIFT_POLICIES),
        )
        self.auth = auth_from_option(auth)
        self.deadline_seconds = optional_seconds("deadline_seconds", deadline_seconds)
        self.clock = clock
        self.session_config = SessionConfig(
            timeout_seconds=timeout_seconds,
            connect_timeout_seconds=connect_timeout_seconds,
            max_body_bytes=max_body_bytes,
            max_decompressed_bytes=max_body_bytes,
            verify=verify,
            proxy=proxy,
            block_private_networks=block_private_networks,
            retry=retry_from_option(retry),
            circuit_breaker=breaker_from_option(circuit_breaker),
            rate_limiter=rate_limiter_from_option(rate_limit),
            secret_headers=check_names("secret_headers", secret_headers),
            secret_params=check_names("secret_params", secret_params),
        )

    @property
    def url(self) -> str:
        return self.plan.url

    @property
    def schema(self) -> pa.Schema | None:
        return self.plan.schema

    @property
    def stream_kind(self) -> str | None:
        """``"poll"``, ``"sse"``, or ``None`` for a source that does not stream."""
        return self.streaming.kind

    @property
    def redacted_url(self) -> str:
        """The URL with credentials masked, for logs, errors and checkpoints."""
        return redact_url(self.plan.url, self.session_config.secret_params)

    def __repr__(self) -> str:
        plan = self.plan
        parts = [f"url={self.redacted_url!r}"]
        if plan.method != "GET":
            parts.append(f"method={plan.method!r}")
        if plan.pagination is not None:
            parts.append(f"pagination={plan.pagination!r}")
        if plan.max_pages is not None or plan.page_cap is None:
            parts.append(f"max_pages={plan.max_pages}")
        if self.auth is not None:
            parts.append(f"auth={self.auth!r}")
        parts += proxy_repr(self.session_config.proxy)
        if self.streaming.poll is not None:
            parts.append(f"poll_interval_seconds={self.streaming.poll.interval_seconds:g}")
        if self.streaming.kind == "sse":
            parts.append("stream_type='sse'")
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
        hiveframe.errors.PaginationError
            Pagination cannot go on: a loop (:class:`~hiveframe.errors.PaginationLoopError`),
            the default page cap (:class:`~hiveframe.errors.PaginationLimitReached`), more
            than ``max_empty_pages`` empty pages in a row. It names the page and its URL.

        Warns
        -----
        hiveframe.errors.PaginationWarning
            An offset or page-number read ended on an empty page before the total the API
            reported.
        """
        return run_sync(self.aread)

    async def aread(self) -> DataFrame:
        """Async :meth:`read`."""
        tables = [table async for table in self._apages()]
        return DataFrame(concat_tables(tables, schema=self.schema))

    def iter_batches(self) -> Iterator[pa.RecordBatch]:
        """Yield Arrow record batches page by page, keeping memory bounded by one page.

        The batches share one schema as long as the pages allow: each page is converted to
        the schema of the batches before it as :meth:`read` would join them (a missing
        field is null, a value where that schema has text becomes text, an int where it has
        a float becomes a float). A page that cannot fit without losing a value (text in an
        integer field, a new field) *widens* the schema from that batch on (the field
        becomes text or float, the new field is appended), so nothing is lost and the
        batches joined give what :meth:`read` returns. Widening rather than failing keeps
        ``iter_batches()`` working wherever ``read()`` does; for one fixed schema pass
        ``schema=``, and to fail on a field that changes kind pass ``schema_drift="strict"``
        (:class:`~hiveframe.errors.SchemaDriftError`, as for :meth:`read`).

        Raises
        ------
        hiveframe.errors.HiveFrameError
            As :meth:`read` does, while iterating.
        """
        return iterate_sync(self.aiter_batches)

    async def aiter_batches(self) -> AsyncIterator[pa.RecordBatch]:
        """Async :meth:`iter_batches`."""
        running = RunningSchema()
        async for table in self._apages():
            for batch in running.conform(table).to_batches():
                yield batch

    # -- streaming -----------------------------------------------------------------------------

    def stream(self, *, position: Mapping[str, Any] | None = None) -> RecordStream:
        """Yield records as they come: new records of each poll, or each server-sent event.

        The iterator runs until it is closed (``break``, ``close()``, the end of a
        ``with`` block) or the source fails for good. Its ``position`` attribute is the
        source's position after the records handed out so far; pass it back as
        ``position=`` to resume there. For checkpoints, batching and sinks use a
        :class:`~hiveframe.streaming.StreamProcessor`.

        Parameters
        ----------
        position
            Where to resume: a ``position`` saved from an earlier stream of this source.

        Returns
        -------
        RecordStream
            An iterator of records (dicts), usable as a context manager.

        Raises
        ------
        ConfigError
            The source has neither ``poll_interval_seconds`` nor ``stream_type="sse"``,
            or ``position`` is not one of its positions.
        hiveframe.errors.HiveFrameError
            While iterating: what the source cannot recover from (see
            :class:`~hiveframe.errors.SSEStreamClosedByServer`,
            :class:`~hiveframe.errors.SSEProtocolError`, a refused credential...).

        Examples
        --------
        >>> source = HTTPSource("https://api.example.com/stream", stream_type="sse")
        >>> with source.stream() as events:  # doctest: +SKIP
        ...     for event in events:
        ...         print(event)
        """
        return RecordStream(self.astream(position=position))

    def astream(self, *, position: Mapping[str, Any] | None = None) -> AsyncRecordStream:
        """Async :meth:`stream`: ``async for record in source.astream(): ...``.

        Examples
        --------
        >>> async def watch(source):  # doctest: +SKIP
        ...     async with source.astream() as events:
        ...         async for event in events:
        ...             print(event)
        """
        kind = self._require_streaming()
        start = dict(position) if position is not None else None
        return AsyncRecordStream(lambda stats: self.aemission_groups(start, stats), start, kind)

    def aemissions(
        self, position: Mapping[str, Any] | None = None, stats: SourceStats | None = None
    ) -> AsyncGenerator[Emission, None]:
        """The stream as units (an event, a polled page), each with the position after it.

        What stream processors consume: a position is exact only between units, so they
        checkpoint there.

        Parameters
        ----------
        position
            Where to resume (a unit's ``position``), or ``None`` to start afresh.
        stats
            Counters to update (polls, 304s, connections, reconnects, recovered errors).

        Returns
        -------
        AsyncIterator[Emission]
            Units with ``records`` (possibly none, e.g. a page of duplicates) and
            ``position``.

        Examples
        --------
        >>> async def positions(source):  # doctest: +SKIP
        ...     async for unit in source.aemissions():
        ...         print(len(unit.records), unit.position)
        """
        return self._reader(stats).emissions(position)

    def aemission_groups(
        self, position: Mapping[str, Any] | None = None, stats: SourceStats | None = None
    ) -> AsyncGenerator[list[Emission], None]:
        """:meth:`aemissions` in groups: the units of one network read (SSE) or one page.

        For consumers that want the fewest async steps per record; every unit in a group
        keeps its own exact position.
        """
        return self._reader(stats).groups(position)

    def _reader(self, stats: SourceStats | None) -> SSEReader | PollReader:
        kind = self._require_streaming()
        counters = stats if stats is not None else SourceStats()
        session = self._stream_session()  # the reader opens and closes it
        if kind == "sse":
            assert self.streaming.sse is not None
            return SSEReader(
                self.plan, self.streaming.sse, session, clock=self.clock, stats=counters
            )
        assert self.streaming.poll is not None
        return PollReader(self.plan, self.streaming.poll, session, clock=self.clock, stats=counters)

    def _require_streaming(self) -> str:
        if self.streaming.kind is None:
            raise ConfigError(
                "poll_interval_seconds",
                None,
                "this source does not stream: set poll_interval_seconds= or stream_type='sse'",
            )
        return self.streaming.kind

    def _stream_session(self) -> Session:
        config = self.session_config
        sse = self.streaming.sse
        if sse is not None:
            # Each wait for bytes of an event stream (its head, then every chunk) is bounded
            # by the idle timeout, which the transport enforces as its read timeout.
            config = replace(config, timeout_seconds=sse.idle_timeout_seconds)
        return Session(config, auth=self.auth, credential_url=self.plan.url, clock=self.clock)

    # -- the page loop -------------------------------------------------------------------------

    def session(self) -> Session:
        """A new transport session with this source's auth, policies and clock."""
        return Session(
            self.session_config, auth=self.auth, credential_url=self.plan.url, clock=self.clock
        )

    async def _apages(self) -> AsyncIterator[pa.Table]:
        if self.streaming.kind == "sse":
            raise ConfigError(
                "stream_type", "sse", "an SSE source is read with stream(), or a StreamProcessor"
            )
        pagination = self.plan.pagination
        paginator = start_paginator(pagination) if pagination else None
        deadline = self.clock.monotonic() + self.deadline_seconds if self.deadline_seconds else None
        async with self.session() as session:
            async for table in PageReader(self.plan, session).pages(paginator, deadline=deadline):
                yield table
