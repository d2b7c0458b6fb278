"""Structured Streaming over polling and SSE sources; Spark's offsets are HiveFrame positions.

An offset is ``{"position": <the source's position>, "records": <records before it>}``: the
position a polling source (cursor, ETag, seen keys) or an SSE source (Last-Event-ID) reports
after a unit of records, plus a running count so that an offset moves whenever records
arrive (an SSE event without an id leaves the position unchanged). Spark writes offsets to
its checkpoint before a micro-batch runs, so a restarted query resumes the source where the
last micro-batch ended.

:class:`HTTPStreamReader` is a ``SimpleDataSourceStreamReader``: it runs in Spark's
long-lived Python worker on the driver, where one background stream (one SSE connection, or
one poll loop at its own interval) fills a bounded queue; each micro-batch takes what is
queued. When Spark must re-read a planned micro-batch after a restart
(:meth:`HTTPStreamReader.readBetweenOffsets`, on an executor), the source is opened again at
the batch's start position and read until it has given the batch's record count: the same
rows when the API replays by cursor or ``Last-Event-ID``, at least once otherwise.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from contextlib import aclosing
from typing import Any

import anyio
import pyarrow as pa
from pyspark.sql.datasource import SimpleDataSourceStreamReader

from hiveframe._http.portal import run_sync
from hiveframe._protocol.arrow.infer import records_to_table
from hiveframe._protocol.units import Unit, UnitSource
from hiveframe.errors import ConfigError
from hiveframe.spark._source import OptionsRef

logger = logging.getLogger("hiveframe.spark")

QUEUED_UNITS = 1000
"""Units (events, pages) a stream may queue ahead of Spark before the source waits."""

DEFAULT_REPLAY_TIMEOUT_SECONDS = 60.0


def initial_offset() -> dict[str, Any]:
    """Where a new query starts: the source's own start."""
    return {"position": None, "records": 0}


class HTTPStreamReader(SimpleDataSourceStreamReader):
    """Spark's stream reader for a polling or SSE ``HTTPSource``.

    Parameters
    ----------
    source
        The options; the ``HTTPSource`` is built in the process that reads.
    schema
        The Arrow schema of the stream's Spark schema.
    max_records_per_batch
        Records a micro-batch takes at most (whole units: it may take one unit more).
    replay_timeout_seconds
        How long a re-read of a micro-batch waits for the source to give its records
        (60 s by default).
    """

    def __init__(
        self,
        source: OptionsRef,
        schema: pa.Schema,
        *,
        max_records_per_batch: int | None = None,
        replay_timeout_seconds: float | None = None,
    ) -> None:
        self.source = source
        self.schema = schema
        self.max_records_per_batch = max_records_per_batch
        self.replay_timeout_seconds = replay_timeout_seconds or DEFAULT_REPLAY_TIMEOUT_SECONDS
        self._pump: _Pump | None = None  # the live stream; never pickled

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_pump": None}

    def initialOffset(self) -> dict[str, Any]:
        return initial_offset()

    def read(self, start: dict[str, Any]) -> tuple[Iterator[pa.RecordBatch], dict[str, Any]]:
        """What arrived since ``start``, and the offset after it (``start`` if nothing did).

        Raises
        ------
        hiveframe.errors.HiveFrameError
            The source failed for good (a refused credential, a status no retry fixes...).
        """
        pump = self._pump_at(start)
        units = pump.take(self.max_records_per_batch)
        records = [record for unit in units for record in unit.records]
        if not records:
            return iter(()), start  # nothing new; the stream stays ahead of ``start``
        end = {"position": units[-1].position, "records": start["records"] + len(records)}
        pump.expected = end
        return self._batches(records), end

    def readBetweenOffsets(self, start: dict[str, Any], end: dict[str, Any]) -> Iterator[Any]:
        """Read the micro-batch ``(start, end]`` again, from the source, at ``start``."""
        wanted = end["records"] - start["records"]
        if wanted <= 0:
            return iter(())
        source = self.source.http_source(self.schema)
        records = run_sync(lambda: _replay(source, start, end, wanted, self.replay_timeout_seconds))
        if len(records) < wanted:
            logger.warning(
                "re-read of a micro-batch got %d of its %d records in %.0fs; the API did not "
                "replay them from the saved position",
                len(records),
                wanted,
                self.replay_timeout_seconds,
            )
        return self._batches(records)

    def commit(self, end: dict[str, Any]) -> None:
        """Spark has processed everything up to ``end`` (its checkpoint holds ``end``)."""

    def stop(self) -> None:
        """Close the live stream (Spark ends the worker process when the query stops)."""
        if self._pump is not None:
            self._pump.close()
            self._pump = None

    def _pump_at(self, start: dict[str, Any]) -> _Pump:
        pump = self._pump
        if pump is None or pump.expected != start:
            if pump is not None:
                pump.close()  # Spark went back (or elsewhere): read again from ``start``
            pump = self._pump = _Pump(self.source.http_source(self.schema), start)
        return pump

    def _batches(self, records: list[Any]) -> Iterator[pa.RecordBatch]:
        return iter(records_to_table(records, schema=self.schema).to_batches())


class _Pump:
    """One stream of the source, run in a daemon thread of its own, filling a bounded queue.

    A daemon thread (not a blocking portal's pool thread) so that the Python worker can exit
    when Spark stops the query while the stream waits for the server.
    """

    def __init__(self, source: UnitSource, start: dict[str, Any]) -> None:
        self.expected = start
        self._queue: queue.Queue[Unit] = queue.Queue(QUEUED_UNITS)
        self._closed = threading.Event()
        self._done = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._main, args=(source, start["position"]), name="hiveframe-stream"
        )
        self._thread.daemon = True
        self._thread.start()

    def _main(self, source: UnitSource, position: Any) -> None:
        try:
            anyio.run(self._run, source, position)
        except BaseException as exc:  # handed to the reader by take()
            self._error = exc
        finally:
            self._done.set()

    async def _run(self, source: UnitSource, position: Any) -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(self._cancel_when_closed, group.cancel_scope)
            async with aclosing(source.aunits(position)) as units:
                async for unit in units:
                    await anyio.to_thread.run_sync(self._put, unit)
                    if self._closed.is_set():
                        break
            group.cancel_scope.cancel()

    async def _cancel_when_closed(self, scope: anyio.CancelScope) -> None:
        while not self._closed.is_set():
            await anyio.sleep(0.1)
        scope.cancel()

    def _put(self, unit: Unit) -> None:
        while not self._closed.is_set():  # a full queue holds the source back
            try:
                self._queue.put(unit, timeout=0.1)
                return
            except queue.Full:
                continue

    def take(self, limit: int | None) -> list[Unit]:
        """The queued units, up to about ``limit`` records; raises the stream's failure."""
        units: list[Unit] = []
        count = 0
        while limit is None or count < limit:
            try:
                unit = self._queue.get_nowait()
            except queue.Empty:
                break
            units.append(unit)
            count += len(unit.records)
        if not units and self._done.is_set() and self._error is not None:
            raise self._error
        return units

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)


async def _replay(
    source: UnitSource, start: dict[str, Any], end: dict[str, Any], wanted: int, timeout: float
) -> list[Any]:
    records: list[Any] = []
    with anyio.move_on_after(timeout):
        async with aclosing(source.aunits(start["position"])) as units:
            async for unit in units:
                records.extend(unit.records)
                if len(records) >= wanted or unit.position == end["position"]:
                    break
    return records[:wanted]


def first_event_schema(
    source: UnitSource, timeout: float = DEFAULT_REPLAY_TIMEOUT_SECONDS
) -> pa.Schema:
    """The Arrow schema of the first records an event stream sends (to infer a schema).

    Raises
    ------
    ConfigError
        ``option="schema"`` when no record arrived within ``timeout`` seconds.
    """

    async def first() -> list[Any]:
        with anyio.move_on_after(timeout):
            async with aclosing(source.aunits(None)) as units:
                async for unit in units:
                    if unit.records:
                        return list(unit.records)
        return []

    records = run_sync(first)
    if not records:
        raise ConfigError(
            "schema", None, f"no event arrived in {timeout:g}s to infer a schema from; pass one"
        )
    return records_to_table(records).schema
