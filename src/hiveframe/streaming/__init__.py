"""Streaming: run polling and Server-Sent Events sources into sinks, with checkpoints.

Needs the ``http`` extra: ``pip install 'hiveframe[http]'``.

Example
-------
>>> from hiveframe.connectors import HTTPSource
>>> from hiveframe.streaming import StreamConfig, StreamProcessor
>>> stream = StreamProcessor(StreamConfig(checkpoint_dir="checkpoints"))
>>> source = HTTPSource(url="https://api.example.com/stream", stream_type="sse")
>>> events = stream.from_source(source).batch(size=100).foreach(print)
>>> stream.start()  # doctest: +SKIP
"""

from __future__ import annotations

from hiveframe._protocol.reconnect import ReconnectConfig
from hiveframe.streaming._config import StreamConfig, StreamMetrics, StreamStatus
from hiveframe.streaming._processor import StreamProcessor
from hiveframe.streaming._stream import Stream

__all__ = [
    "ReconnectConfig",
    "Stream",
    "StreamConfig",
    "StreamMetrics",
    "StreamProcessor",
    "StreamStatus",
]
