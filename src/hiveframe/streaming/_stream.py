"""Stream: a pipeline from a streaming source through transforms and batches into a sink."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from hiveframe._protocol.units import UnitSource
from hiveframe._validate import NOT_GIVEN, _NotGiven, optional_seconds, require_int
from hiveframe.errors import ConfigError
from hiveframe.streaming._config import StreamConfig, StreamMetrics, StreamStatus, check_batching
from hiveframe.streaming._runner import Runner, Step
from hiveframe.streaming._sinks import BatchSink, FunctionSink, OpenableSink, sink_for


class Stream:
    """Records of a streaming source on their way to a sink.

    Made by :meth:`StreamProcessor.from_source`. ``map``, ``filter``, ``flat_map``,
    ``batch`` and ``limit`` return a new stream; ``to`` or ``foreach`` attaches the sink and
    registers the stream with its processor, which starts it. A running stream reports
    :attr:`status`, :attr:`metrics` and :attr:`exception`.

    Parameters
    ----------
    config
        The processor's settings: checkpoint folder, queue bound, default batching.
    register
        Called with the stream that ``to`` or ``foreach`` made (the processor keeps it, or
        refuses a name it has already).
    source
        The streaming source.

    Examples
    --------
    >>> processor = StreamProcessor(StreamConfig(checkpoint_dir="checkpoints"))  # doctest: +SKIP
    >>> orders = (
    ...     processor.from_source(source, name="orders")
    ...     .filter(lambda r: r["type"] == "order.paid")
    ...     .map(lambda r: {"id": r["id"], "amount": r["amount"]})
    ...     .batch(size=500, interval_seconds=2)
    ...     .to(sink)
    ... )  # doctest: +SKIP
    >>> orders.start()  # doctest: +SKIP
    """

    def __init__(
        self,
        config: StreamConfig,
        register: Callable[[Stream], None],
        source: UnitSource,
        *,
        name: str,
        steps: tuple[Step, ...] = (),
        batching: tuple[int, float | None] | None = None,
        limit: int | None = None,
    ) -> None:
        self._config = config
        self._register = register
        self._source = source
        self._name = name
        self._steps = steps
        self._batching = batching
        self._limit = limit
        self._runner: Runner | None = None

    def __repr__(self) -> str:
        status = self.status.value if self._runner is not None else "no sink yet"
        return f"Stream(name={self._name!r}, source={self._source!r}, {status})"

    @property
    def name(self) -> str:
        """The stream's name: its checkpoint is ``<checkpoint_dir>/<name>.json``."""
        return self._name

    # -- building ----------------------------------------------------------------------------

    def map(self, fn: Callable[[Any], Any]) -> Stream:
        """Replace each record with ``fn(record)``."""
        return self._with_step("map", fn)

    def filter(self, fn: Callable[[Any], Any]) -> Stream:
        """Keep the records for which ``fn(record)`` is true."""
        return self._with_step("filter", fn)

    def flat_map(self, fn: Callable[[Any], Iterable[Any]]) -> Stream:
        """Replace each record with the records of ``fn(record)`` (none, one or many)."""
        return self._with_step("flat_map", fn)

    def batch(
        self, size: int | None = None, interval_seconds: float | _NotGiven | None = NOT_GIVEN
    ) -> Stream:
        """Hand records to the sink ``size`` at a time, or after ``interval_seconds``.

        Batches are cut between source units (a server-sent event, a polled page), so a
        batch can pass ``size`` by up to one unit; that keeps every checkpoint exact.

        Parameters
        ----------
        size
            Records per batch (the processor's ``batch_size`` if not given).
        interval_seconds
            Longest wait for a batch to fill; ``None`` waits for ``size``. For exactly-once
            delivery across a crash (not only a stop), batch by size: the same records
            then form the same batches again, and a sink that sends idempotency keys lets
            the server drop the repeat.

        Raises
        ------
        ConfigError
            A value is out of range.
        """
        config = self._config
        chosen = config.batch_size if size is None else size
        interval = (
            config.batch_interval_seconds
            if isinstance(interval_seconds, _NotGiven)
            else interval_seconds
        )
        check_batching(chosen, interval)
        return self._derive(batching=(chosen, interval))

    def limit(self, n: int) -> Stream:
        """Stop (completed) once ``n`` records went to the sink.

        If the ``n``-th record is not the last of its unit (a polled page, an SSE event
        with several records), the checkpoint holds a partial position: a restart reads
        that unit again and goes on with the record after the ``n``-th, so none comes
        twice and none is skipped. The source records are counted after the transforms:
        records that ``filter`` dropped before the ``n``-th are not read again; a record
        that ``flat_map`` turned into more records than were left to deliver is.
        """
        return self._derive(limit=require_int("limit", n, minimum=1))

    def to(self, sink: OpenableSink | Callable[[list[Any]], Any]) -> Stream:
        """Send the batches to ``sink`` and register the stream with its processor.

        Parameters
        ----------
        sink
            An :class:`~hiveframe.connectors.HTTPSink` (the stream keeps one writer open
            and a batch counts as acknowledged once every record of it is delivered or
            dead-lettered), or a function called with each batch (a list of records),
            sync or async; returning is acknowledging, raising fails the stream.

        Returns
        -------
        Stream
            The stream to start, stop and watch.

        Raises
        ------
        ConfigError
            ``sink`` is neither, or the stream already has a sink.
        """
        return self._attach(sink_for(sink))

    def foreach(self, fn: Callable[[Any], Any]) -> Stream:
        """Call ``fn(record)`` for each record (sync or async); like :meth:`to`."""
        if not callable(fn):
            raise ConfigError("foreach", fn, "a function taking one record")
        return self._attach(lambda: FunctionSink(fn, per_record=True))

    # -- running -----------------------------------------------------------------------------

    def start(self) -> Stream:
        """Run the stream in the background, from its checkpoint if there is one.

        Starting a running stream does nothing; starting a terminated one runs it again.

        Raises
        ------
        ConfigError
            The stream has no sink yet.
        """
        self._require_runner().start()
        return self

    def stop(self, graceful: bool = True, timeout: float | None = None) -> None:
        """Stop the stream and wait until it has.

        Parameters
        ----------
        graceful
            Stop reading the source, deliver what was read and save the position. With
            ``False``, stop at once: what was read after the last acknowledged batch is
            read again on restart.
        timeout
            Longest wait for a graceful stop before stopping at once (seconds >= 0, or
            ``None`` to wait as long as it takes).
        """
        wait = optional_seconds("timeout", timeout, positive=False)
        if self._runner is not None:
            self._runner.stop(graceful=graceful, timeout=wait)

    def await_termination(self, timeout: float | None = None) -> bool:
        """Wait until the stream ends, at most ``timeout`` seconds (>= 0; ``None``: no
        limit); return whether it has.

        Raises
        ------
        ConfigError
            ``timeout`` is negative, NaN or infinite.
        Exception
            What failed the stream (also in :attr:`exception`), like Spark's
            ``awaitTermination``.
        """
        wait = optional_seconds("timeout", timeout, positive=False)
        runner = self._require_runner()
        ended = runner.wait(wait)
        if ended and runner.exception is not None:
            raise runner.exception
        return ended

    @property
    def status(self) -> StreamStatus:
        """:class:`StreamStatus` of the stream."""
        return self._runner.status if self._runner is not None else StreamStatus.CREATED

    @property
    def metrics(self) -> StreamMetrics:
        """A :class:`StreamMetrics` snapshot of the current (or last) run."""
        return self._runner.metrics() if self._runner is not None else StreamMetrics()

    @property
    def exception(self) -> BaseException | None:
        """What failed the stream, or ``None``."""
        return self._runner.exception if self._runner is not None else None

    @property
    def position(self) -> dict[str, Any] | None:
        """The source position after the last acknowledged batch (what the checkpoint holds)."""
        return self._runner.position if self._runner is not None else None

    # -- internals ---------------------------------------------------------------------------

    def _with_step(self, kind: str, fn: Callable[[Any], Any]) -> Stream:
        if not callable(fn):
            raise ConfigError(kind, fn, "a function taking one record")
        return self._derive(steps=(*self._steps, (kind, fn)))

    def _derive(self, **changes: Any) -> Stream:
        if self._runner is not None:
            raise ConfigError("stream", self._name, "has a sink already; build before to()")
        options: dict[str, Any] = {
            "name": self._name,
            "steps": self._steps,
            "batching": self._batching,
            "limit": self._limit,
            **changes,
        }
        return Stream(self._config, self._register, self._source, **options)

    def _attach(self, make_sink: Callable[[], BatchSink]) -> Stream:
        stream = self._derive()
        config = self._config
        size, interval = stream._batching or (config.batch_size, config.batch_interval_seconds)
        stream._runner = Runner(
            name=stream._name,
            source=stream._source,
            steps=stream._steps,
            batch_size=size,
            interval=interval,
            limit=stream._limit,
            make_sink=make_sink,
            config=config,
        )
        self._register(stream)
        return stream

    def _require_runner(self) -> Runner:
        if self._runner is None:
            raise ConfigError(
                "stream", self._name, "has no sink: call .to(sink) or .foreach(fn) first"
            )
        return self._runner
