"""HTTPSource: read a REST API into a DataFrame page by page, or stream it (polling, SSE)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from hiveframe._frame import DataFrame
from hiveframe._http.auth import Auth, auth_from_option
from hiveframe._http.clock import SYSTEM_CLOCK
from hiveframe._http.portal import run_sync
from hiveframe._http.proxy import proxy_repr
from hiveframe._http.reader import Parser, ReadPlan
from hiveframe._protocol.data_path import DataPath
from hiveframe._protocol.decode import validate_response_format
from hiveframe._protocol.drift import DRIFT_POLICIES
from hiveframe._protocol.metadata import metadata_option
from hiveframe._protocol.pagination import DEFAULT_MAX_PAGES, PaginationConfig
from hiveframe._protocol.paginators import pagination_from_options
from hiveframe._protocol.response_policy import response_policy_from_option
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
from hiveframe.connectors._run import ReadRun, ReadStats, iter_batches, read_then_commit
from hiveframe.connectors._source_options import (
    FLAT_STREAM_OPTIONS,
    DriftPolicy,
    PaginationStyle,
    ResponseFormat,
    SourceOptions,
    check_keywords,
)
from hiveframe.connectors._spec import Front, Runtime, SourceSpec, session_config
from hiveframe.errors import ConfigError
from hiveframe.resilience import CircuitBreaker, RateLimiter, RetryConfig

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from hiveframe._http.record_stream import (
        AsyncBatchStream,
        AsyncRecordStream,
        BatchStream,
        RecordStream,
    )
    from hiveframe._protocol.incremental import Incremental
    from hiveframe._protocol.units import SourceStats, StreamKind, Unit
    from hiveframe.connectors._explain import Explanation
    from hiveframe.connectors._fanout import Fanout, Parent
    from hiveframe.connectors._stream_options import StreamMode

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "QUERY"})
_MAX_BODY_BYTES = 100 * 1024 * 1024


class HTTPSource(Front[SourceSpec]):
    """Read records from an HTTP API, as one request or page after page, or as a stream.

    ``read()`` takes what the API holds now. A source with ``stream=PollStream(...)`` or
    ``stream=SSEStream(...)`` also streams: ``stream()``/``astream()`` yield records as they
    come, and a :class:`~hiveframe.streaming.StreamProcessor` runs it into a sink with
    checkpoints.

    The source checks its options once and keeps them as :attr:`spec`, a frozen, picklable
    :class:`~hiveframe.connectors._spec.SourceSpec`; each read or stream opens its own
    session from it, with the live circuit breaker, rate limiter and clock of
    :attr:`runtime`. The options from ``connect_timeout_seconds`` on in the list below are
    keyword options (``**options``), typed by ``SourceOptions``.

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
        ``"next_url"``, ``"auto"`` (the first page decides, and the choice is logged: see
        :class:`AutoPagination`), or a pagination config object
        (:class:`OffsetPagination`, ...) for APIs with other parameter or field names.
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
    deadline_seconds
        Deadline of a whole read, retries and waits included; ``None`` (default) for none.
        Raises :class:`~hiveframe.errors.DeadlineExceeded` naming the page it stopped at.
    stream
        How the source streams: :class:`PollStream` (read the endpoint again every
        ``interval_seconds``, emitting what is new: cursor, dedupe, conditional requests)
        or :class:`SSEStream` (Server-Sent Events, WHATWG EventSource semantics, with
        reconnects that send ``Last-Event-ID``). ``None`` (default): the source does not
        stream. For an SSE source, ``idle_timeout_seconds`` replaces ``timeout_seconds`` as
        the bound on every wait for the server.
    incremental
        An :class:`Incremental` cursor: each batch read asks only for the records at or
        after the value the previous run saved in ``incremental.state``, drops those it
        delivered before, and saves the new value once the caller has the records.
    parent
        Read this source once per record of a parent source: the ``HTTPSource`` (or a
        :class:`Parent` with options) whose record fields fill the ``{parent.<field>}``
        placeholders of ``url`` (and ``params`` values). Each child record gets the parent
        fields as columns (``_parent_<field>``); ``concurrency`` children are read at once.
    connect_timeout_seconds
        Bound on opening a connection (10 s; at most ``timeout_seconds``).
    max_body_bytes
        Cap on a response body, on the wire and decoded (100 MiB).
    verify
        ``True`` (default), ``False``, or the path of a CA bundle.
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
    secret_headers, secret_params
        More header names, and query-parameter names, to treat as credentials (compared
        without case, ``-`` or ``_``). Their values, like every other secret the source
        knows, are also scrubbed from error messages and logs wherever they appear.
    response_policy
        A :class:`~hiveframe.connectors.ResponsePolicy` (or a list of
        :class:`~hiveframe.connectors.ResponseRule`): what answers mean beyond their status
        (a ``200`` whose body says ``{"status": "error"}``, a ``404`` to ignore), rule by
        rule; answers no rule matches keep the built-in behaviour.
    include_metadata
        Metadata columns to add to every record, after its fields: ``True`` for all, or
        some of ``"_http_status"``, ``"_page"``, ``"_url"`` (credentials masked) and
        ``"_fetched_at"`` (when the response arrived, UTC).
    clock
        Where time comes from; tests pass a fake clock whose ``sleep`` does not wait.
    poll_interval_seconds, stream_type, since_param, since_field, since_path, dedupe_key, \
dedupe_window, conditional_requests, idle_timeout_seconds, max_event_bytes, reconnect, \
strict_sse, include_event_metadata
        The flat stream options, kept as shortcuts (deprecated: give ``stream=``).
        ``poll_interval_seconds=5, since_param=...`` is ``stream=PollStream(
        interval_seconds=5, since_param=...)`` (``conditional_requests`` is its
        ``conditional``); ``stream_type="sse", idle_timeout_seconds=...`` is
        ``stream=SSEStream(idle_timeout_seconds=...)`` (``strict_sse`` is its ``strict``,
        ``response_format`` its ``data_format``). Each belongs to one mode; one of another
        mode, or given beside ``stream=``, raises ``ConfigError`` naming it.

    For an SSE source given with the flat options, ``response_format`` is ``"json"`` (each
    event's ``data`` is a JSON document of records, found with ``data_path``) or ``"text"``
    (each event is one record ``{"data": ...}``): ``SSEStream(data_format=...)``.

    Example
    -------
    >>> source = HTTPSource("https://api.example.com/data", pagination="offset", page_size=100)
    >>> df = source.read()  # doctest: +SKIP
    """

    def __init__(  # noqa: PLR0913 - the public read options; the rest come as **options
        self,
        url: str,
        *,
        method: str = "GET",
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        pagination: PaginationStyle | PaginationConfig | None = None,
        page_size: int | None = None,
        max_pages: int | _NotGiven | None = NOT_GIVEN,
        response_format: ResponseFormat | None = None,
        data_path: str | None = None,
        parser: Parser | None = None,
        schema: pa.Schema | None = None,
        schema_drift: DriftPolicy = "promote",
        concurrency: int = 8,
        auth: Auth | Mapping[str, Any] | None = None,
        retry: RetryConfig | _NotGiven | None = NOT_GIVEN,
        circuit_breaker: CircuitBreaker | None = None,
        rate_limit: float | RateLimiter | None = None,
        timeout_seconds: float | None = 30.0,
        deadline_seconds: float | None = None,
        stream: StreamMode | None = None,
        incremental: Incremental | None = None,
        parent: HTTPSource | Parent | None = None,
        **options: Unpack[SourceOptions],
    ) -> None:
        check_keywords(options, "HTTPSource")
        if parser is not None and not callable(parser):
            raise ConfigError("parser", parser, "a callable parser(response) -> records")
        if schema is not None and not isinstance(schema, pa.Schema):
            raise ConfigError("schema", schema, "a pyarrow.Schema")
        mode = _stream_mode(
            stream,
            options,
            response_format=response_format,
            pagination=pagination,
            parser=parser,
            body=body,
        )
        if mode is not None and mode.kind == "sse":
            response_format = None  # "json"/"text" name how event data decodes (data_format)
        pages_given = max_pages is not NOT_GIVEN
        hosts = check_names("allowed_hosts", options.get("allowed_hosts", ()))
        plan = ReadPlan(
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
            allowed_hosts=frozenset(h.lower() for h in hosts),
            concurrency=require_int("concurrency", concurrency, minimum=1),
            schema_drift=check_choice("schema_drift", schema_drift, DRIFT_POLICIES),
            include_metadata=metadata_option(options.get("include_metadata")),
        )
        checked_auth = auth_from_option(auth)
        deadline = optional_seconds("deadline_seconds", deadline_seconds)
        body_cap = options.get("max_body_bytes", _MAX_BODY_BYTES)
        config = session_config(
            retry,
            options.get("secret_headers", ()),
            options.get("secret_params", ()),
            timeout_seconds=timeout_seconds,
            connect_timeout_seconds=options.get("connect_timeout_seconds", 10.0),
            max_body_bytes=body_cap,
            max_decompressed_bytes=body_cap,
            verify=options.get("verify", True),
            proxy=options.get("proxy", NOT_GIVEN),
            block_private_networks=options.get("block_private_networks", True),
            response_policy=response_policy_from_option(options.get("response_policy")),
        )
        self.runtime = Runtime.of(
            clock=options.get("clock", SYSTEM_CLOCK),
            circuit_breaker=circuit_breaker,
            rate_limit=rate_limit,
        )
        spec = SourceSpec(
            plan=plan,
            auth=checked_auth,
            session_config=config,
            breaker=self.runtime.breaker_settings(),
            rate_limit=self.runtime.rate_settings(),
            deadline_seconds=deadline,
            stream=mode,
        )
        kind, shown = spec.stream_kind, spec.redacted_url
        self.spec = replace(
            spec,
            incremental=_incremental(incremental, plan, kind),
            fanout=_fanout(parent, plan, kind, redacted_url=shown),
        )
        self.last_read: ReadStats | None = None  # what the latest batch read did

    @property
    def schema(self) -> pa.Schema | None:
        return self.spec.plan.schema

    @property
    def plan(self) -> ReadPlan:
        """What a read asks for and how it decodes it (``spec.plan``)."""
        return self.spec.plan

    @property
    def deadline_seconds(self) -> float | None:
        return self.spec.deadline_seconds

    @property
    def stream_kind(self) -> StreamKind | None:
        """``"poll"``, ``"sse"``, or ``None`` for a source that does not stream."""
        return self.spec.stream_kind

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
        stream = self.spec.stream
        if stream is not None and stream.kind == "poll":
            parts.append(f"poll_interval_seconds={stream.interval_seconds:g}")
        elif stream is not None:
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
        run = self._read_run()
        frame = await run.read()
        run.commit()
        return frame

    def read_then_commit(self) -> AbstractContextManager[DataFrame]:
        """Read every page; save the incremental state only when the ``with`` block ends
        without an error (after a sink acknowledged the records, a file was written...).

        ``read()`` saves it before it returns; this waits for the caller's own work.

        Examples
        --------
        >>> with source.read_then_commit() as df:  # doctest: +SKIP
        ...     df.write.http(sink)
        """
        return read_then_commit(self._read_run())

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

        With ``incremental=``, the state is saved when the loop has consumed the last batch,
        never after a ``break`` or an exception in the loop.

        Raises
        ------
        hiveframe.errors.HiveFrameError
            As :meth:`read` does, while iterating.
        """
        return iter_batches(self._read_run)

    def aiter_batches(self) -> AsyncIterator[pa.RecordBatch]:
        """Async :meth:`iter_batches`."""
        return self._read_run().batches()

    def explain(self, *, offline: bool = False) -> Explanation:
        """What a read asks for and does, with the evidence for each choice.

        Fetches the first page (nothing with ``offline=True``) and reports the first
        request (credentials masked), the format, where the records are, the pagination
        (what ``pagination="auto"`` finds, and why), the page size, a reported total, the
        next request, the stop rule and what is saved between runs. A child source
        (``parent=``) and an SSE stream are explained without fetching.

        Returns
        -------
        Explanation
            ``str()`` gives the text, ``to_dict()`` the same as data.

        Raises
        ------
        hiveframe.errors.HiveFrameError
            The first request failed as a read would fail.

        Examples
        --------
        >>> print(HTTPSource("https://api.example.com/items", pagination="auto").explain())
        ... # doctest: +SKIP
        """
        return run_sync(lambda: self.aexplain(offline=offline))

    async def aexplain(self, *, offline: bool = False) -> Explanation:
        """Async :meth:`explain`."""
        from hiveframe.connectors import _explain  # a read never loads it

        return await _explain.aexplain(self.spec, self.runtime, offline=offline)

    def _read_run(self) -> ReadRun:
        run = ReadRun(self.spec, self.runtime)
        self.last_read = run.stats
        return run

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
            The source does not stream (no ``stream=``), or ``position`` is not one of its
            positions.
        hiveframe.errors.HiveFrameError
            While iterating: what the source cannot recover from (see
            :class:`~hiveframe.errors.SSEStreamClosedByServer`,
            :class:`~hiveframe.errors.SSEProtocolError`, a refused credential...).

        Examples
        --------
        >>> source = HTTPSource("https://api.example.com/stream", stream=SSEStream())
        >>> with source.stream() as events:  # doctest: +SKIP
        ...     for event in events:
        ...         print(event)
        """
        from hiveframe._http.record_stream import RecordStream  # a batch read never loads it

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
        from hiveframe._http.record_stream import AsyncRecordStream  # a batch read never loads it

        kind = self.spec.require_stream_kind()
        start = dict(position) if position is not None else None
        return AsyncRecordStream(lambda stats: self.aunit_groups(start, stats), start, kind)

    def stream_batches(
        self, size: int = 1000, *, position: Mapping[str, Any] | None = None
    ) -> BatchStream:
        """Yield the records of :meth:`stream` as Arrow record batches of ``size`` records.

        Each batch is built in one call from the records of the events (or polled pages)
        it holds, exactly as a page of :meth:`read` is: the same types, a field whose
        values disagree kept as text, ``schema=`` applied (raising
        :class:`~hiveframe.errors.SchemaDriftError` where a value does not fit). A batch
        waits until it has ``size`` records; the last one, when the stream ends, may hold
        fewer. Its ``position`` attribute is the source's position after the batches
        handed out, exact even where a batch ends inside an event; pass it back as
        ``position=`` to resume with the next record.

        Parameters
        ----------
        size
            Records per batch (an integer >= 1).
        position
            Where to resume: a ``position`` saved from an earlier stream of this source.

        Returns
        -------
        BatchStream
            An iterator of ``pyarrow.RecordBatch``, usable as a context manager.

        Raises
        ------
        ConfigError
            ``size`` is not an integer >= 1, the source does not stream, or ``position``
            is not one of its positions.

        Examples
        --------
        >>> source = HTTPSource("https://api.example.com/stream", stream=SSEStream())
        >>> with source.stream_batches(500) as batches:  # doctest: +SKIP
        ...     for batch in batches:
        ...         print(batch.num_rows, batches.position)
        """
        from hiveframe._http.record_stream import BatchStream  # a batch read never loads it

        return BatchStream(self.astream(position=position), *self._batching(size))

    def astream_batches(
        self, size: int = 1000, *, position: Mapping[str, Any] | None = None
    ) -> AsyncBatchStream:
        """Async :meth:`stream_batches`: ``async for batch in source.astream_batches(): ...``."""
        from hiveframe._http.record_stream import AsyncBatchStream  # a batch read never loads it

        return AsyncBatchStream(self.astream(position=position), *self._batching(size))

    def _batching(self, size: int) -> tuple[int, pa.Schema | None]:
        return require_int("size", size, minimum=1), self.spec.plan.schema

    def aunits(
        self, position: Mapping[str, Any] | None = None, stats: SourceStats | None = None
    ) -> AsyncGenerator[Unit, None]:
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
        AsyncIterator[Unit]
            Units with ``records`` (possibly none, e.g. a page of duplicates) and
            ``position``.

        Examples
        --------
        >>> async def positions(source):  # doctest: +SKIP
        ...     async for unit in source.aunits():
        ...         print(len(unit.records), unit.position)
        """
        return self.spec.aunits(position, stats, self.runtime)

    def aunit_groups(
        self, position: Mapping[str, Any] | None = None, stats: SourceStats | None = None
    ) -> AsyncGenerator[Sequence[Unit], None]:
        """:meth:`aunits` in groups: the units of one network read (SSE) or one page.

        For consumers that want the fewest async steps per record; every unit in a group
        keeps its own exact position.
        """
        return self.spec.aunit_groups(position, stats, self.runtime)


# The stream, incremental and parent/child modules load only for a source that uses them: a
# plain batch read imports none of their option types (see tests/test_startup.py).


def _stream_mode(stream: object, flat: Mapping[str, Any], **used: object) -> StreamMode | None:
    if stream is None and FLAT_STREAM_OPTIONS.isdisjoint(flat):
        return None
    from hiveframe.connectors._stream_options import stream_option

    return stream_option(stream, flat, **used)


def _incremental(value: object, plan: ReadPlan, kind: StreamKind | None) -> Incremental | None:
    if value is None:
        return None
    from hiveframe.connectors._incremental import incremental_option

    return incremental_option(value, plan, kind)


def _fanout(
    value: object, plan: ReadPlan, kind: StreamKind | None, *, redacted_url: str
) -> Fanout | None:
    if value is None and "{parent." not in plan.url + "".join(plan.params.values()):
        return None  # no parent, and no placeholder one would fill
    from hiveframe.connectors._fanout import fanout_option

    return fanout_option(value, plan, kind, redacted_url=redacted_url)
