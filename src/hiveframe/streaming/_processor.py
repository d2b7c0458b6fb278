"""StreamProcessor: builds streams from sources and runs them with checkpoints."""

from __future__ import annotations

import time

from hiveframe._protocol.checkpoint import check_stream_name
from hiveframe._protocol.units import UnitSource
from hiveframe._validate import optional_seconds
from hiveframe.errors import ConfigError
from hiveframe.streaming._config import StreamConfig, StreamMetrics, StreamStatus
from hiveframe.streaming._stream import Stream


class StreamProcessor:
    """Runs streams from HTTP sources into sinks, with checkpoints and backpressure.

    Parameters
    ----------
    config
        Checkpoint folder, queue bound and default batching; ``StreamConfig()`` if omitted.

    Examples
    --------
    >>> from hiveframe.connectors import HTTPSource
    >>> stream = StreamProcessor(StreamConfig(checkpoint_dir="checkpoints"))
    >>> source = HTTPSource(url="https://api.example.com/events", poll_interval_seconds=5)
    >>> query = stream.from_source(source).foreach(print)
    >>> stream.start()  # doctest: +SKIP
    >>> stream.await_termination(timeout=60)  # doctest: +SKIP
    """

    def __init__(self, config: StreamConfig | None = None) -> None:
        if config is not None and not isinstance(config, StreamConfig):
            raise ConfigError("config", config, "a StreamConfig")
        self.config = config if config is not None else StreamConfig()
        self._created = 0
        self._streams: list[Stream] = []

    def __repr__(self) -> str:
        names = ", ".join(stream.name for stream in self._streams)
        return f"StreamProcessor(streams=[{names}], status={self.status.value!r})"

    def from_source(self, source: UnitSource, *, name: str | None = None) -> Stream:
        """Start a stream from a polling or SSE source.

        Parameters
        ----------
        source
            An :class:`~hiveframe.connectors.HTTPSource` with ``poll_interval_seconds`` or
            ``stream_type="sse"``.
        name
            The stream's name, which names its checkpoint file; ``stream-0``, ``stream-1``...
            in the order streams are made if not given. Keep names stable across restarts.

        Returns
        -------
        Stream
            Chain transforms on it, then ``.to(sink)`` or ``.foreach(fn)``.

        Raises
        ------
        ConfigError
            The source does not stream, or ``name`` is not usable as a file name.
        """
        if getattr(source, "stream_kind", None) is None or not hasattr(source, "aunits"):
            raise ConfigError(
                "source",
                source,
                "a streaming source: HTTPSource(..., poll_interval_seconds=...) or "
                "HTTPSource(..., stream_type='sse')",
            )
        chosen = check_stream_name(name if name is not None else f"stream-{self._created}")
        self._created += 1
        return Stream(self.config, self._register, source, name=chosen)

    @property
    def streams(self) -> tuple[Stream, ...]:
        """The streams with a sink, in the order they got it."""
        return tuple(self._streams)

    def start(self) -> StreamProcessor:
        """Start every stream with a sink (each from its checkpoint)."""
        for stream in self._streams:
            stream.start()
        return self

    def stop(self, graceful: bool = True, timeout: float | None = None) -> None:
        """Stop every stream (see :meth:`Stream.stop`) and wait until they have."""
        for stream in self._streams:
            stream.stop(graceful=graceful, timeout=timeout)

    def await_termination(self, timeout: float | None = None) -> bool:
        """Wait until every stream ended; return whether they all have.

        Raises
        ------
        Exception
            What failed a stream, like Spark's ``awaitTermination``.
        """
        wait = optional_seconds("timeout", timeout, positive=False)
        deadline = None if wait is None else time.monotonic() + wait
        for stream in self._streams:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not stream.await_termination(left):
                return False
        return True

    @property
    def status(self) -> StreamStatus:
        """Failed if a stream failed, running while one runs, else how they ended."""
        states = [stream.status for stream in self._streams]
        for state in (StreamStatus.FAILED, StreamStatus.RUNNING, StreamStatus.STOPPING):
            if state in states:
                return state
        if not states or StreamStatus.CREATED in states:
            return StreamStatus.CREATED
        if all(state is StreamStatus.COMPLETED for state in states):
            return StreamStatus.COMPLETED
        return StreamStatus.STOPPED

    @property
    def metrics(self) -> StreamMetrics:
        """Metrics summed over the streams (:attr:`Stream.metrics` has each one's)."""
        return StreamMetrics.combine(stream.metrics for stream in self._streams)

    @property
    def exception(self) -> BaseException | None:
        """What failed the first failed stream, or ``None``."""
        return next((s.exception for s in self._streams if s.exception is not None), None)

    def _register(self, stream: Stream) -> None:
        if any(other.name == stream.name for other in self._streams):
            raise ConfigError(
                "name", stream.name, "another stream of this processor has it (and its checkpoint)"
            )
        self._streams.append(stream)
