"""Where a stream's batches go: an HTTP sink, a function of the batch, or of each record.

A sink *acknowledges* a batch by returning from :meth:`deliver`; only then does the stream
save the position the batch covers. Synchronous user functions run in a worker thread, so a
slow one never stalls the event loop that reads the source (it stalls the stream instead:
that is backpressure).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Protocol

import anyio.to_thread

from hiveframe.errors import ConfigError


class BatchSink(Protocol):
    """What a running stream writes to."""

    async def __aenter__(self) -> BatchSink: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def deliver(self, records: list[Any]) -> None:
        """Return once every record is acknowledged; raise otherwise."""


class OpenWriter(Protocol):
    """An open writer: ``HTTPSink.open()``'s :class:`~hiveframe.connectors._sink.SinkWriter`."""

    async def __aenter__(self) -> OpenWriter: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def write(self, data: Any) -> object:
        """Return once every record is delivered (or kept); raise otherwise."""


class OpenableSink(Protocol):
    """A sink a stream keeps open: an :class:`~hiveframe.connectors.HTTPSink`."""

    def open(self) -> OpenWriter: ...


class WriterSink:
    """An :class:`~hiveframe.connectors.HTTPSink` (anything with ``open()``), kept open.

    ``writer.write`` returns once each record is delivered or dead-lettered and raises
    :class:`~hiveframe.errors.DeliveryFailed` otherwise, which fails the stream before the
    position moves past the records.
    """

    def __init__(self, sink: OpenableSink) -> None:
        self.sink = sink
        self._opened: OpenWriter | None = None
        self._writer: OpenWriter | None = None

    async def __aenter__(self) -> WriterSink:
        self._opened = self.sink.open()
        self._writer = await self._opened.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._opened is not None:
            await self._opened.__aexit__(*exc)

    async def deliver(self, records: list[Any]) -> None:
        assert self._writer is not None, "delivered to inside 'async with' only"
        await self._writer.write(records)


class FunctionSink:
    """``fn(batch)`` (``per_record=False``) or ``fn(record)`` for each record, sync or async."""

    def __init__(self, fn: Callable[[Any], Any], *, per_record: bool) -> None:
        self.fn = fn
        self.per_record = per_record
        self.is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004 - an async __call__, not callable()
        )

    async def __aenter__(self) -> FunctionSink:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def deliver(self, records: list[Any]) -> None:
        if self.is_async:
            for item in records if self.per_record else [records]:
                await self.fn(item)
        else:
            # A hard stop does not wait for the function: its batch is not acknowledged.
            work = self._each if self.per_record else self.fn
            await anyio.to_thread.run_sync(work, records, abandon_on_cancel=True)

    def _each(self, records: list[Any]) -> None:
        for record in records:
            self.fn(record)


def sink_for(target: Any) -> Callable[[], BatchSink]:
    """A factory of fresh sinks (one per run) for ``Stream.to(target)``.

    Raises
    ------
    ConfigError
        ``option="sink"`` for anything that is neither a sink nor callable.
    """
    if hasattr(target, "open") and callable(target.open):
        return lambda: WriterSink(target)
    if callable(target):
        return lambda: FunctionSink(target, per_record=False)
    raise ConfigError("sink", target, "an HTTPSink, or a function taking a list of records")
