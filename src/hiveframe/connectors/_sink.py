"""HTTPSink: push a table or a stream into an HTTP API, batch by batch, nothing lost or doubled.

The sink cuts records into request batches (:mod:`hiveframe._protocol.batching`) and sends
them through one :class:`~hiveframe._http.session.Session` (auth, retries, breaker, rate
limit), ``max_in_flight`` at a time. Every batch settles once: *delivered* after a success
status, or *failed*: kept in the dead-letter file when there is one, otherwise reported by
:class:`~hiveframe.errors.DeliveryFailed` at the end of the write (Vector's "reject, keep
going"; RELIABILITY.md §8.C). Records are never dropped silently.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from os import PathLike
from typing import Any, Protocol

import anyio
import orjson
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from hiveframe._frame import DataFrame
from hiveframe._http.auth import Auth, auth_from_option
from hiveframe._http.clock import SYSTEM_CLOCK, Clock
from hiveframe._http.portal import run_sync
from hiveframe._http.proxy import proxy_repr
from hiveframe._http.session import Session
from hiveframe._protocol.batching import (
    DeliveryLedger,
    Encoder,
    KeyFunction,
    RequestBatch,
    RowReader,
    input_items,
)
from hiveframe._protocol.item_results import (
    ItemFailure,
    ItemResults,
    item_failures,
    item_results_from_option,
)
from hiveframe._protocol.response_policy import (
    ResponsePolicy,
    ResponseRule,
    response_policy_from_option,
)
from hiveframe._validate import (
    NOT_GIVEN,
    _NotGiven,
    check_http_url,
    check_method,
    require_bool,
    require_int,
)
from hiveframe.connectors._sink_options import (
    SINK_METHODS,
    BodyFormatName,
    SinkOptions,
    body_format_option,
    dead_letter_option,
    idempotency_header_option,
    key_function,
    request_headers,
    success_statuses_option,
)
from hiveframe.connectors._sink_outcome import (
    DeadLetterFile,
    Failure,
    WriteResult,
    delivery_failed,
    difference,
    failure_from,
)
from hiveframe.connectors._spec import Front, Runtime, SinkSpec, session_config
from hiveframe.errors import HiveFrameError
from hiveframe.resilience import CircuitBreaker, RateLimiter, RetryConfig

logger = logging.getLogger("hiveframe.sink")

SinkInput = Any  # DataFrame | pa.Table | pa.RecordBatch | Iterable[RecordBatch | dict] | ...


class HTTPSink(Front[SinkSpec]):
    """Send records to an HTTP API in batches: concurrent, retried, accounted for.

    Parameters
    ----------
    url
        The endpoint, with scheme. Redirects are not followed: a 3xx answer fails the batch
        (a 301/302/303 would turn the POST into a GET and lose the body).
    method
        ``"POST"`` (default), ``"PUT"`` or ``"PATCH"``.
    batch_size
        Records per request, at most.
    max_batch_bytes
        Body bytes per request, at most (1 MiB). A single record larger than this is sent
        alone.
    body_format
        ``"json"`` (a JSON array, the default) or ``"ndjson"`` (one record per line).
    envelope
        Wrap the array in an object under this key: ``{"records": [...]}``.
    encoder
        ``encoder(records) -> bytes`` building the body from the records (decoded JSON
        values), in place of ``body_format`` and ``envelope``.
    headers
        Headers on every request. ``Content-Type`` defaults to the format's.
    auth, retry, circuit_breaker, rate_limit, timeout_seconds, verify, proxy
        As for :class:`~hiveframe.connectors.HTTPSource`.
    secret_headers, secret_params
        More header and query-parameter names to treat as credentials, as for
        :class:`~hiveframe.connectors.HTTPSource`.
    max_in_flight
        Requests on the wire at once (unordered; default 8), or batches prepared ahead
        (ordered).
    ordered
        Keep batch order: batch *n + 1* reaches the server only after batch *n* settled.
    idempotency_header
        Header carrying each batch's idempotency key; ``None`` sends no key, and then
        POST and PATCH are retried only when the connection failed before sending.
    idempotency_key
        ``idempotency_key(batch_index, body) -> str`` replacing the default key, a SHA-256
        of method, URL and body (the same on every retry and on a re-run).
    dead_letter
        A JSON Lines file where failed batches are appended (one line per batch, with its
        records, status, response excerpt and key). Without it, a write that could not
        deliver every record raises :class:`~hiveframe.errors.DeliveryFailed`.
    success_statuses
        Statuses that acknowledge a batch; by default any 2xx.
    response_policy
        A :class:`~hiveframe.connectors.ResponsePolicy` (or a list of
        :class:`~hiveframe.connectors.ResponseRule`): what answers mean beyond their status.
        A batch a rule accepts (``success``, ``ignore``) is delivered; one a rule refuses
        (``fail``, or ``retry`` to no end) is not, whatever its status.
    item_results
        An :class:`~hiveframe.connectors.ItemResults`: where an accepted answer (a 200, a 207)
        says which records of the batch failed. Those alone are sent again as a batch of
        their own (``ItemResults.retry``), or dead-lettered one by one with their own error;
        the others count as delivered.
    clock
        Where time comes from; tests pass a fake clock.

    Raises
    ------
    ConfigError
        An option has a bad value; the error names it.

    Example
    -------
    >>> sink = HTTPSink("https://api.example.com/ingest", batch_size=500, max_in_flight=8)
    >>> result = sink.write([{"id": 1}, {"id": 2}])  # doctest: +SKIP
    >>> result.records_delivered  # doctest: +SKIP
    2
    """

    def __init__(  # noqa: PLR0913 - the sink's public options, each with its default
        self,
        url: str,
        *,
        method: str = "POST",
        batch_size: int = 100,
        max_batch_bytes: int = 1024 * 1024,
        body_format: BodyFormatName = "json",
        envelope: str | None = None,
        encoder: Encoder | None = None,
        headers: Mapping[str, str] | None = None,
        auth: Auth | Mapping[str, Any] | None = None,
        retry: RetryConfig | _NotGiven | None = NOT_GIVEN,
        circuit_breaker: CircuitBreaker | None = None,
        rate_limit: float | RateLimiter | None = None,
        timeout_seconds: float | None = 30.0,
        max_in_flight: int = 8,
        ordered: bool = False,
        idempotency_header: str | None = "Idempotency-Key",
        idempotency_key: KeyFunction | None = None,
        dead_letter: str | PathLike[str] | None = None,
        success_statuses: Iterable[int] | None = None,
        verify: bool | str = True,
        proxy: str | _NotGiven | None = NOT_GIVEN,
        secret_headers: Iterable[str] = (),
        secret_params: Iterable[str] = (),
        response_policy: ResponsePolicy | Iterable[ResponseRule] | None = None,
        item_results: ItemResults | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        url = check_http_url(url, "url")
        method = check_method(method, SINK_METHODS)
        header = idempotency_header_option(idempotency_header)
        fmt = body_format_option(body_format, envelope, encoder)
        options = SinkOptions(
            url=url,
            method=method,
            batch_size=require_int("batch_size", batch_size, minimum=1),
            max_batch_bytes=require_int("max_batch_bytes", max_batch_bytes, minimum=1),
            body_format=fmt,
            request_headers=request_headers(headers, fmt, header),
            max_in_flight=require_int("max_in_flight", max_in_flight, minimum=1),
            ordered=require_bool("ordered", ordered),
            idempotency_header=header,
            key_function=key_function(idempotency_key, header, method, url),
            dead_letter=dead_letter_option(dead_letter),
            success_statuses=success_statuses_option(success_statuses),
            item_results=item_results_from_option(item_results),
        )
        checked_auth = auth_from_option(auth)
        config = session_config(
            retry,
            secret_headers,
            secret_params,
            timeout_seconds=timeout_seconds,
            verify=verify,
            proxy=proxy,
            max_redirects=0,  # see hiveframe.connectors._sink_outcome.failure_from
            max_connections=options.max_in_flight,
            response_policy=response_policy_from_option(response_policy),
        )
        self.runtime = Runtime.of(
            clock=clock, circuit_breaker=circuit_breaker, rate_limit=rate_limit
        )
        self.spec = SinkSpec(
            options=options,
            auth=checked_auth,
            session_config=config,
            breaker=self.runtime.breaker_settings(),
            rate_limit=self.runtime.rate_settings(),
        )

    @property
    def options(self) -> SinkOptions:
        """Where and how batches are sent (``spec.options``)."""
        return self.spec.options

    def __repr__(self) -> str:
        o = self.options
        parts = [
            f"url={self.redacted_url!r}",
            f"method={o.method!r}",
            f"batch_size={o.batch_size}",
            f"max_in_flight={o.max_in_flight}",
        ]
        if o.ordered:
            parts.append("ordered=True")
        if o.dead_letter is not None:
            parts.append(f"dead_letter={str(o.dead_letter)!r}")
        if self.auth is not None:
            parts.append(f"auth={self.auth!r}")
        parts += proxy_repr(self.session_config.proxy)
        return f"HTTPSink({', '.join(parts)})"

    def open(self) -> SinkWriter:
        """A writer holding one session open, for many writes (a stream's micro-batches).

        Returns
        -------
        SinkWriter
            An async context manager; see :meth:`SinkWriter.write`.

        Example
        -------
        >>> async def push(sink, tables):  # doctest: +SKIP
        ...     async with sink.open() as writer:
        ...         for table in tables:
        ...             await writer.write(table)
        ...     return writer.result
        """
        return SinkWriter(self.spec, runtime=self.runtime)

    def write(self, data: SinkInput) -> WriteResult:
        """Send every record of ``data``; return once each is delivered or dead-lettered.

        Parameters
        ----------
        data
            A :class:`~hiveframe.DataFrame`, a ``pyarrow.Table``, ``RecordBatch`` or
            ``RecordBatchReader``, an iterable of record batches, an iterable of records
            (dicts), or any object exporting ``__arrow_c_stream__`` (Polars, pandas).
            Iterables are consumed lazily, so memory stays bounded.

        Returns
        -------
        WriteResult

        Raises
        ------
        DeliveryFailed
            Some records were not delivered and there is no dead-letter file. Raised after
            every other batch was tried; it names how many records and which batches.
        TypeError
            ``data`` is not one of the inputs above.

        Example
        -------
        >>> HTTPSink("https://api.example.com/ingest").write(df)  # doctest: +SKIP
        WriteResult(records_sent=250, batches_sent=3, ...)
        """
        return run_sync(functools.partial(self.awrite, data))

    async def awrite(self, data: SinkInput) -> WriteResult:
        """Async :meth:`write`. Async iterables of batches or records are accepted too."""
        async with self.open() as writer:
            return await writer.write(data)


class DeliveryJournal(Protocol):
    """What earlier runs of a write delivered, and a record of what this one delivers.

    The Spark writer's ``delivery_journal`` (:mod:`hiveframe.spark._journal`): a re-run of
    a task skips the requests an earlier attempt had delivered, so a server that ignores
    idempotency keys does not store them twice. Both methods are called on the sink's event
    loop for every request (a batch, or half of one after a 413).
    """

    def delivered_before(self, batch: RequestBatch) -> bool:
        """True if an earlier run delivered ``batch``: it is not sent again."""
        ...

    def record(self, batch: RequestBatch) -> None:
        """``batch`` was just acknowledged."""
        ...


class SinkWriter:
    """An open sink: one session, many writes, cumulative accounting.

    Writes through one writer run one after another (a second ``write`` waits for the first),
    and batch numbers, idempotency keys and :attr:`committed_records` run on across them.

    Parameters
    ----------
    spec
        The sink: its options, auth and transport settings.
    runtime
        The clock, breaker and rate limiter to send with (the sink's own: ``sink.open()``);
        by default the system clock and a breaker and limiter built from ``spec``.
    journal
        Requests delivered by earlier runs, skipped (and counted as delivered); every
        acknowledged request is recorded in it. Needs idempotency keys.

    Example
    -------
    >>> async def main(sink, table):  # doctest: +SKIP
    ...     async with sink.open() as writer:
    ...         first = await writer.write(table)
    ...         await writer.write([{"id": 9}])
    ...     return writer.result.records_delivered
    """

    def __init__(
        self,
        spec: SinkSpec,
        *,
        runtime: Runtime | None = None,
        journal: DeliveryJournal | None = None,
    ) -> None:
        self._spec = spec
        self._runtime = runtime if runtime is not None else Runtime()
        self._clock = self._runtime.clock
        self._options = spec.options
        self._journal = journal
        self._session: Session | None = None
        self._lock: anyio.Lock | None = None
        self._batcher = self._options.batcher()
        self._ledger = DeliveryLedger()
        self._dead_letter = DeadLetterFile.at(self._options.dead_letter)
        self._elapsed = 0.0
        self._fatal: Exception | None = None
        self._failures: list[tuple[RequestBatch, Failure, bool]] = []  # (batch, why, kept)

    async def __aenter__(self) -> SinkWriter:
        if self._session is not None:
            raise RuntimeError("a SinkWriter opens once; call sink.open() for another")
        session = self._spec.session(self._runtime)
        await session.__aenter__()
        self._session, self._lock = session, anyio.Lock()
        return self

    async def __aexit__(self, *exc: object) -> None:
        # The session stays referenced: its request and retry counts are part of `result`.
        if self._session is not None and self._lock is not None:
            self._lock = None
            await self._session.__aexit__(*exc)

    @property
    def result(self) -> WriteResult:
        """Everything this writer did so far, across its writes."""
        return self._snapshot()

    @property
    def committed_records(self) -> int:
        """Records, from the first given to this writer, all delivered or dead-lettered.

        A safe checkpoint position: it stops before any batch that failed and was not kept.
        """
        return self._ledger.committed_records

    async def write(self, data: SinkInput) -> WriteResult:
        """Send every record of ``data``; return when each is delivered or dead-lettered.

        Parameters
        ----------
        data
            As for :meth:`HTTPSink.write`, or an async iterable of batches or records.

        Returns
        -------
        WriteResult
            This call's share (:attr:`result` has the running totals).

        Raises
        ------
        DeliveryFailed
            Some records of this call were neither delivered nor kept in a dead-letter file.
        TypeError
            ``data`` is not a supported input.
        """
        items = input_items(data.to_arrow() if isinstance(data, DataFrame) else data)
        if self._session is None or self._lock is None:
            raise RuntimeError("use the SinkWriter inside 'async with sink.open() as writer'")
        async with self._lock:
            before, failures_before = self._snapshot(), len(self._failures)
            started = self._clock.monotonic()
            try:
                await self._pump(self._session, items)
            finally:
                self._elapsed += self._clock.monotonic() - started
            call = difference(self._snapshot(), before)
            self._log(call)
            error = delivery_failed(call, self._failures[failures_before:])
            if error is not None:
                raise error
        return call

    # -- the pipeline: one producer, ``workers`` senders, a bounded queue between ----------------

    async def _pump(self, session: Session, items: Iterator[Any] | AsyncIterator[Any]) -> None:
        self._fatal = None
        options = self._options
        send, receive = anyio.create_memory_object_stream[RequestBatch](options.max_in_flight)
        workers = 1 if options.ordered else options.max_in_flight
        async with anyio.create_task_group() as group:
            for _ in range(workers):
                group.start_soon(self._work, session, receive.clone())
            receive.close()
            await self._produce(items, send)
        if self._fatal is not None:
            raise self._fatal

    async def _produce(
        self, items: Iterator[Any] | AsyncIterator[Any], send: ObjectSendStream[RequestBatch]
    ) -> None:
        async with send:
            try:
                if isinstance(items, AsyncIterator):
                    async for item in items:
                        await self._feed(iter([item]), send)
                else:
                    await self._feed(items, send)
            except Exception as exc:  # bad input, encoder or key: what came before still goes
                self._fatal = exc
            try:
                await self._dispatch(self._batcher.flush(), send)
            except Exception as exc:
                self._fatal = self._fatal or exc

    async def _feed(self, items: Iterator[Any], send: ObjectSendStream[RequestBatch]) -> None:
        reader = RowReader(items)
        # Reading the input and encoding run in a worker thread: the event loop keeps the
        # requests moving, and an input that blocks (a file, a sync HTTP read) blocks no one.
        while (batches := await anyio.to_thread.run_sync(self._next_batches, reader)) is not None:
            await self._dispatch(batches, send)

    def _next_batches(self, reader: RowReader) -> list[RequestBatch] | None:
        rows = reader.next_rows()
        return None if rows is None else self._batcher.add(rows)

    async def _dispatch(
        self, batches: list[RequestBatch], send: ObjectSendStream[RequestBatch]
    ) -> None:
        for batch in batches:
            self._ledger.sent(batch)
            await send.send(batch)  # waits while max_in_flight batches are queued

    async def _work(self, session: Session, receive: ObjectReceiveStream[RequestBatch]) -> None:
        async with receive:
            async for batch in receive:
                delivered, kept = await self._deliver(session, batch)
                self._ledger.settle_batch(batch.index, delivered=delivered, kept=kept)

    async def _deliver(
        self, session: Session, batch: RequestBatch, resends: int = 0
    ) -> tuple[bool, bool]:
        """Send one batch (halving it on 413, sending refused items again); return (all
        delivered, all failures kept). ``resends``: how often these items were sent again."""
        if self._journal is not None and self._journal.delivered_before(batch):
            self._ledger.settle_records(batch.count, delivered=True)
            return True, True
        failure = await self._send(session, batch)
        if failure is None:
            self._ledger.settle_records(batch.count, delivered=True)
            if self._journal is not None:
                self._journal.record(batch)
            return True, True
        if isinstance(failure, list):
            return await self._deliver_items(session, batch, failure, resends)
        if failure.status == 413 and batch.count > 1:
            self._ledger.splits += 1
            delivered = kept = True
            for half in self._batcher.split(batch):  # one after the other: order is kept
                half_delivered, half_kept = await self._deliver(session, half)
                delivered, kept = delivered and half_delivered, kept and half_kept
            return delivered, kept
        kept = self._reject(batch, failure)
        self._ledger.settle_records(batch.count, delivered=False, kept=kept)
        return False, kept

    async def _deliver_items(
        self, session: Session, batch: RequestBatch, refused: list[ItemFailure], resends: int
    ) -> tuple[bool, bool]:
        # The server took the batch but refused some of its records: the rest is delivered,
        # the refused ones go again as a batch of their own while the retry policy allows,
        # else each to the dead-letter file (or the final report) with its own error.
        results, retry = self._options.item_results, session.config.retry
        assert results is not None
        self._ledger.settle_records(batch.count - len(refused), delivered=True)
        again = [f.position for f in refused if results.retries(f.status)]
        if resends + 1 >= retry.max_attempts:
            again = []
        kept = True
        for item in refused:
            if item.position not in again:
                status = item.status if isinstance(item.status, int) else None
                one = self._batcher.subset(batch, [item.position])
                kept_one = self._reject(one, Failure(status, "", item.message))
                self._ledger.settle_records(1, delivered=False, kept=kept_one)
                kept = kept and kept_one
        delivered = len(again) == len(refused)
        if again:
            await self._clock.sleep(retry.backoff_bound(resends + 1))
            resent = self._batcher.subset(batch, again)
            resent_delivered, resent_kept = await self._deliver(session, resent, resends + 1)
            delivered, kept = delivered and resent_delivered, kept and resent_kept
        return delivered, kept

    async def _send(
        self, session: Session, batch: RequestBatch
    ) -> Failure | list[ItemFailure] | None:
        """Send a batch: ``None`` when it was delivered, the records the server refused in an
        answer that took the rest, or why it was not delivered."""
        options = self._options
        headers = dict(options.request_headers)
        if batch.key is not None and options.idempotency_header is not None:
            headers[options.idempotency_header] = batch.key
        try:
            response = await session.request(
                options.method,
                options.url,
                headers=headers,
                content=batch.body,
                batch=batch.index,
                idempotency_key=batch.key is not None,
            )
        except HiveFrameError as exc:
            return failure_from(exc)
        except Exception as exc:  # not an HTTP outcome: keep the batch, report after the write
            self._fatal = self._fatal or exc
            return Failure(None, "", f"{type(exc).__name__}: {exc}")
        status = response.status_code
        if response.action is None and status not in options.success_statuses:
            excerpt = session.excerpt(response.content)
            return Failure(status, excerpt, f"status {status} is not a success status")
        if options.item_results is None or response.action == "ignore":
            return None
        try:
            document = orjson.loads(response.content)
            refused = item_failures(options.item_results, document, batch.count)
        except (orjson.JSONDecodeError, ValueError) as exc:
            reason = f"the item report is unreadable ({exc}): the batch is not taken as delivered"
            return Failure(status, session.excerpt(response.content), reason)
        return refused or None

    def _reject(self, batch: RequestBatch, failure: Failure) -> bool:
        kept = False
        if self._dead_letter is not None:
            kept = self._dead_letter.keep(
                batch,
                failure,
                method=self._options.method,
                url=self._spec.redacted_url,
                now=self._clock.time(),
            )
        self._failures.append((batch, failure, kept))
        # One line per batch at INFO; the write's summary line is the WARNING (see _log).
        logger.info(
            "batch %d (records %d-%d) failed%s: %s",
            batch.index,
            batch.first_record,
            batch.first_record + batch.count - 1,
            " and was dead-lettered" if kept else "",
            failure.error,
        )
        return kept

    # -- accounting -----------------------------------------------------------------------------

    def _snapshot(self) -> WriteResult:
        ledger, session = self._ledger, self._session
        kept = ledger.records_kept
        return WriteResult(
            records_sent=ledger.records_sent,
            batches_sent=ledger.batches_sent,
            records_delivered=ledger.records_delivered,
            batches_delivered=ledger.batches_delivered,
            records_failed=ledger.records_failed,
            batches_failed=ledger.batches_failed,
            records_dead_lettered=kept,
            requests=session.requests_sent if session is not None else 0,
            retries=session.retries if session is not None else 0,
            splits=ledger.splits,
            elapsed_seconds=self._elapsed,
            dead_letter_path=str(self._options.dead_letter) if kept else None,
            failed_batches=tuple(ledger.failed_batches),
        )

    def _log(self, call: WriteResult) -> None:
        logger.log(
            logging.WARNING if call.records_failed else logging.INFO,
            "%s %s: %d of %d records delivered in %d batches (%d failed, %d retries) in %.3fs",
            self._options.method,
            self._spec.redacted_url,
            call.records_delivered,
            call.records_sent,
            call.batches_sent,
            call.records_failed,
            call.retries,
            call.elapsed_seconds,
        )
