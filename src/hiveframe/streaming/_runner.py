"""A running stream: read the source, transform, batch, deliver, checkpoint.

Each running stream owns a daemon thread with its own event loop and three tasks:

- the **producer** takes units (an event, a poll page) from the source, applies the
  transforms and puts each unit whole into the queue, waiting while the queue holds
  ``queue_max`` records (backpressure: the source is not read, TCP and polling slow down);
- the **consumer** takes units into the current batch and hands the batch to the sink when it
  reaches the batch size or its interval ran out. Batches are cut between units only, so
  once the sink acknowledged a batch the position of its last unit is exact, and it is saved
  (atomically) before the next batch goes out. A restart resumes from there: nothing the
  sink acknowledged is read again, nothing it did not is skipped. The one unit that can be
  cut is the last, by ``limit()``: it carries a partial position (the position before it
  and the records of it delivered), which resumes at the next record;
- the **ticker** (with a batch interval) wakes the consumer when a batch's time is up.

A graceful stop stops reading the source, lets the queue drain into the sink and saves the
final position. A hard stop cancels everything; the saved position is then the last
acknowledged batch, and what was read after it is read again on restart.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import threading
from collections import deque
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from hiveframe._protocol.checkpoint import Checkpoint, checkpoint_path
from hiveframe._protocol.units import (
    SourceStats,
    StreamKind,
    Unit,
    UnitSource,
    partial_position,
)
from hiveframe.errors import ConfigError, SSEStreamClosedByServer
from hiveframe.streaming._config import StreamConfig, StreamMetrics, StreamStatus
from hiveframe.streaming._sinks import BatchSink

logger = logging.getLogger("hiveframe.stream")

Step = tuple[str, Callable[[Any], Any]]
_END = object()  # the producer is done
_TICK = object()  # a batch interval may have run out
_CURRENT: contextvars.ContextVar[Runner | None] = contextvars.ContextVar("stream", default=None)


@dataclass(frozen=True, slots=True)
class _Queued:
    """A unit in the queue: its records after the transforms."""

    records: list[Any]
    position: dict[str, Any]  # after the records (partial when limit() cut the unit)
    received_at: float


class _Budget:
    """Records admitted to the queue; the producer waits while it is full."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._freed: anyio.Event | None = None  # made in the loop: events belong to one

    async def take(self, n: int) -> None:
        # A unit larger than the whole budget still goes, alone, into an empty queue.
        while self.used and self.used + n > self.limit:
            self._freed = anyio.Event()
            await self._freed.wait()
        self.used += n

    def give(self, n: int) -> None:
        self.used -= n
        if self._freed is not None:
            self._freed.set()


class Runner:
    """Runs one stream in a thread of its own; controlled from any thread."""

    def __init__(
        self,
        *,
        name: str,
        source: UnitSource,
        steps: tuple[Step, ...],
        batch_size: int,
        interval: float | None,
        limit: int | None,
        make_sink: Callable[[], BatchSink],
        config: StreamConfig,
    ) -> None:
        assert source.stream_kind is not None, "StreamProcessor.from_source checks it"
        self.name = name
        self.source = source
        self.kind: StreamKind = source.stream_kind
        self.steps = steps
        self.batch_size = batch_size
        self.interval = interval
        self.limit = limit
        self.make_sink = make_sink
        self.clock = config.clock
        self.queue_max = config.queue_max
        directory = config.checkpoint_dir
        self.path: Path | None = checkpoint_path(directory, name) if directory else None
        self.status = StreamStatus.CREATED
        self.exception: BaseException | None = None
        self.position: dict[str, Any] | None = None  # the last acknowledged position
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._done.set()
        self._reset()

    def _reset(self) -> None:
        self._ready = threading.Event()
        self._token: Any = None
        self._stop_requested = False
        self._stopping = False
        self._wait_scope: anyio.CancelScope | None = None
        self._task_group: TaskGroup | None = None
        self._source_error: Exception | None = None
        self._sink_error: Exception | None = None
        self._stats = SourceStats()
        self._budget = _Budget(self.queue_max)
        self._queue_times: deque[float] = deque()
        self._batch_len = 0
        self._batch_since: float | None = None
        self._counts = dict.fromkeys(("in", "out", "batches", "peak", "checkpoints", "passed"), 0)
        self._unit_start: dict[str, Any] | None = None  # the position before the next unit
        self._base = (0, 0)  # records_out and batches before this run, from the checkpoint
        self._saved: dict[str, Any] | None = None
        self._deadline = math.inf
        self._tick_wanted: anyio.Event | None = None

    # -- control, from any thread ----------------------------------------------------------

    def start(self) -> None:
        if not self._done.is_set():
            return
        self._reset()
        self.exception = None
        self.status = StreamStatus.RUNNING
        self._done.clear()
        self._thread = threading.Thread(
            target=self._main, name=f"hiveframe-stream-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self, *, graceful: bool, timeout: float | None) -> None:
        if self._done.is_set():
            return
        self._ready.wait()
        if _CURRENT.get() is self:  # from the stream's own sink or callback: do not wait
            if threading.current_thread() is self._thread:
                self._request_stop(graceful)
            else:
                self._call(self._request_stop, graceful)
            return
        self._call(self._request_stop, graceful)
        if not self.wait(timeout) and graceful:
            self._call(self._request_stop, False)
            self.wait(None)

    def wait(self, timeout: float | None) -> bool:
        return self._done.wait(timeout)

    def metrics(self) -> StreamMetrics:
        counts, stats = self._counts, self._stats
        queued = self._budget.used + self._batch_len
        oldest = self._batch_since
        if oldest is None and self._queue_times:
            try:
                oldest = self._queue_times[0]
            except IndexError:  # emptied by the stream's thread meanwhile
                oldest = None
        failed = 1 if self.status is StreamStatus.FAILED else 0
        return StreamMetrics(
            records_in=counts["in"],
            records_out=counts["out"],
            batches=counts["batches"],
            queued=queued,
            queue_peak=counts["peak"],
            lag_seconds=max(0.0, self.clock.monotonic() - oldest) if oldest is not None else 0.0,
            errors=stats.errors + failed,
            reconnects=stats.reconnects,
            polls=stats.polls,
            not_modified=stats.not_modified,
            checkpoints=counts["checkpoints"],
            last_error=repr(self.exception) if failed else stats.last_error,
        )

    def _call(self, fn: Callable[[bool], None], graceful: bool) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has just finished
            anyio.from_thread.run_sync(fn, graceful, token=self._token)

    # -- the stream's thread ---------------------------------------------------------------

    def _main(self) -> None:
        try:
            anyio.run(self._run)
        finally:
            self._ready.set()  # even if the loop never started: stop() must not wait for it
            self._done.set()

    async def _run(self) -> None:
        _CURRENT.set(self)
        self._token = anyio.lowlevel.current_token()
        self._ready.set()
        try:
            await self._pipeline()
        except Exception as exc:
            self.exception = exc
            self.status = StreamStatus.FAILED
            logger.error("stream %r failed: %s", self.name, exc)
            return
        stopped = self._stop_requested
        self.status = StreamStatus.STOPPED if stopped else StreamStatus.COMPLETED
        logger.info("stream %r %s at %s", self.name, self.status.value, self.position)

    def _request_stop(self, graceful: bool) -> None:
        self._stop_requested = self._stopping = True
        if self.status is StreamStatus.RUNNING:
            self.status = StreamStatus.STOPPING
        if not graceful and self._task_group is not None:
            self._task_group.cancel_scope.cancel()
        elif self._wait_scope is not None:
            self._wait_scope.cancel()

    async def _pipeline(self) -> None:
        position = await self._load()
        if self._stopping:
            return
        send, receive = anyio.create_memory_object_stream[Any](math.inf)
        self._tick_wanted = anyio.Event()
        with send, receive:
            async with self.make_sink() as sink, anyio.create_task_group() as group:
                self._task_group = group
                group.start_soon(self._produce, send, position)
                if self.interval is not None:
                    group.start_soon(self._tick, send)
                try:
                    await self._consume(receive, sink)
                except Exception as exc:  # kept whole, not wrapped in an exception group
                    self._sink_error = exc
                group.cancel_scope.cancel()  # the producer (on a sink error) and the ticker
        self._task_group = None
        error = self._sink_error or self._source_error
        if error is not None and not isinstance(error, SSEStreamClosedByServer):
            raise error

    # -- producer ----------------------------------------------------------------------------

    async def _produce(
        self, send: MemoryObjectSendStream[Any], position: dict[str, Any] | None
    ) -> None:
        self._unit_start = position
        try:
            units = self.source.aunits(position, self._stats)
            async with aclosing(units):
                while not self._stopping:
                    with anyio.CancelScope() as scope:
                        self._wait_scope = scope
                        unit = await anext(units, None)
                    self._wait_scope = None
                    if scope.cancelled_caught or unit is None:
                        break
                    await self._enqueue(unit, send)
        except Exception as exc:
            self._source_error = exc
        finally:
            send.send_nowait(_END)

    async def _enqueue(self, unit: Unit, send: MemoryObjectSendStream[Any]) -> None:
        received_at = self.clock.monotonic()
        self._counts["in"] += len(unit.records)
        records, position = self._transform(unit)
        self._counts["passed"] += len(records)
        await self._budget.take(len(records))
        self._queue_times.append(received_at)
        self._counts["peak"] = max(self._counts["peak"], self._budget.used + self._batch_len)
        send.send_nowait(_Queued(records, position, received_at))

    def _transform(self, unit: Unit) -> tuple[list[Any], dict[str, Any]]:
        # The unit's records after the steps, and the position once they are delivered.
        start, self._unit_start = self._unit_start, unit.position
        if self.limit is None:
            return _apply(self.steps, unit.records), unit.position
        room = self.limit - self._counts["passed"]
        records, used = _apply_within(self.steps, unit.records, room)
        if len(records) == room:
            self._stopping = True
        if used == len(unit.records):
            return records, unit.position
        return records, partial_position(start, used, kind=self.kind)

    # -- consumer ----------------------------------------------------------------------------

    async def _consume(self, receive: MemoryObjectReceiveStream[Any], sink: BatchSink) -> None:
        batch: list[Any] = []
        commit = self._saved
        deadline: float | None = None
        while True:
            item = await receive.receive()
            if item is _END:
                break
            if item is not _TICK:
                self._budget.give(len(item.records))
                self._queue_times.popleft()
                if not batch and item.records:
                    self._batch_since = item.received_at
                batch.extend(item.records)
                self._batch_len = len(batch)
                commit = item.position
                if deadline is None and self.interval is not None:
                    deadline = self.clock.monotonic() + self.interval
                    self._want_tick(deadline)
                if len(batch) >= self.batch_size:
                    deadline = None
            due = deadline is not None and self.clock.monotonic() >= deadline
            if len(batch) >= self.batch_size or due:
                await self._flush(sink, batch, commit)
                batch, deadline = [], None
        await self._flush(sink, batch, commit)

    async def _flush(
        self, sink: BatchSink, batch: list[Any], commit: dict[str, Any] | None
    ) -> None:
        if batch:
            await sink.deliver(batch)
            self._counts["out"] += len(batch)
            self._counts["batches"] += 1
        self._batch_len, self._batch_since = 0, None
        if commit is not None and commit is not self._saved:
            await self._save(commit)

    async def _tick(self, send: MemoryObjectSendStream[Any]) -> None:
        while True:
            assert self._tick_wanted is not None
            await self._tick_wanted.wait()
            self._tick_wanted = anyio.Event()
            delay = self._deadline - self.clock.monotonic()
            if delay > 0:
                await self.clock.sleep(delay)
            send.send_nowait(_TICK)

    def _want_tick(self, deadline: float) -> None:
        self._deadline = deadline
        if self._tick_wanted is not None:
            self._tick_wanted.set()

    # -- checkpoints -------------------------------------------------------------------------

    async def _load(self) -> dict[str, Any] | None:
        if self.path is None:
            return self.position
        saved = await anyio.to_thread.run_sync(Checkpoint.load, self.path)
        if saved is None:
            return None
        if (saved.kind, saved.source) != (self.kind, self._source_name()):
            raise ConfigError(
                "checkpoint_dir",
                str(self.path),
                f"holds the position of {saved.kind} source {saved.source}, not of this "
                "stream's source; give the stream another name= or use another folder",
            )
        self._base = (saved.records_out, saved.batches)
        self.position = self._saved = saved.position
        logger.info("stream %r resumes from %s", self.name, saved.position)
        return saved.position

    async def _save(self, position: dict[str, Any]) -> None:
        self._saved = self.position = position
        if self.path is None:
            return
        checkpoint = Checkpoint(
            stream=self.name,
            kind=self.kind,
            source=self._source_name(),
            position=position,
            records_out=self._base[0] + self._counts["out"],
            batches=self._base[1] + self._counts["batches"],
            saved_at=self.clock.time(),
        )
        await anyio.to_thread.run_sync(checkpoint.save, self.path)
        self._counts["checkpoints"] += 1

    def _source_name(self) -> str:
        return self.source.redacted_url


def _apply_within(steps: tuple[Step, ...], records: list[Any], room: int) -> tuple[list[Any], int]:
    """At most ``room`` records out of the steps, and how many source records they used up.

    A source record counts as used up once all it turned into is taken (a record ``filter``
    dropped, too); one whose ``flat_map`` output does not fit whole is not, and is read again
    after a restart.
    """
    if len(records) < room and all(kind != "flat_map" for kind, _ in steps):
        return _apply(steps, records), len(records)  # cannot fill the room: all at once
    taken: list[Any] = []
    for used, record in enumerate(records):
        produced = _apply(steps, [record])
        if len(taken) + len(produced) > room:
            taken.extend(produced[: room - len(taken)])
            return taken, used
        taken.extend(produced)
        if len(taken) == room:
            return taken, used + 1
    return taken, len(records)


def _apply(steps: tuple[Step, ...], records: list[Any]) -> list[Any]:
    for kind, fn in steps:
        if kind == "map":
            records = [fn(record) for record in records]
        elif kind == "filter":
            records = [record for record in records if fn(record)]
        else:  # flat_map
            records = [out for record in records for out in fn(record)]
    return records
