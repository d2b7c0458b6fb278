"""How an ``HTTPSource`` streams: ``stream=PollStream(...)`` or ``stream=SSEStream(...)``, or
the flat options that are shortcuts for them, checked together when the source is built.

A source streams by polling (:class:`PollStream`, or ``poll_interval_seconds=``) or as
Server-Sent Events (:class:`SSEStream`, or ``stream_type="sse"``). Each flat option belongs to
one mode and builds that mode's object; one of the other mode (or of none, or given beside
``stream=``) is refused with a :class:`~hiveframe.errors.ConfigError` naming it, rather than
ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, fields
from typing import Any

from hiveframe._protocol.poll import PollStream
from hiveframe._protocol.reconnect import SSEStream
from hiveframe._protocol.units import StreamKind
from hiveframe.connectors._source_options import FLAT_STREAM_OPTIONS
from hiveframe.errors import ConfigError

__all__ = ["StreamMode", "stream_option"]

StreamMode = PollStream | SSEStream
"""What ``HTTPSource(stream=...)`` takes."""


# Each flat option of a mode, and the field of the mode's object it sets.
_POLL_FIELDS = {
    "since_param": "since_param",
    "since_field": "since_field",
    "since_path": "since_path",
    "dedupe_key": "dedupe_key",
    "dedupe_window": "dedupe_window",
    "conditional_requests": "conditional",
}
_SSE_FIELDS = {
    "idle_timeout_seconds": "idle_timeout_seconds",
    "max_event_bytes": "max_event_bytes",
    "reconnect": "reconnect",
    "strict_sse": "strict",
    "include_event_metadata": "include_event_metadata",
}


def _defaults() -> dict[str, Any]:
    found: dict[str, Any] = {"poll_interval_seconds": None, "stream_type": None}
    for cls, names in ((PollStream, _POLL_FIELDS), (SSEStream, _SSE_FIELDS)):
        default = {f.name: f.default for f in fields(cls) if f.default is not MISSING}
        found.update({flat: default[name] for flat, name in names.items()})
    return found


_DEFAULTS = _defaults()


def stream_option(
    stream: object,
    flat: Mapping[str, Any],
    *,
    response_format: object,
    pagination: object,
    parser: object,
    body: object,
) -> StreamMode | None:
    """How the source streams, from ``stream=`` or from the flat options in ``flat``.

    ``flat`` may hold other options too: only the flat stream options are read. A flat
    option given with its default value counts as not given.

    Raises
    ------
    ConfigError
        Naming the first option that is out of range or does not fit the mode.
    """
    given = {
        name: value
        for name, value in flat.items()
        if name in FLAT_STREAM_OPTIONS and value != _DEFAULTS[name]
    }
    if stream is None:
        chosen = _from_flat(given, response_format)
    elif isinstance(stream, (PollStream, SSEStream)):
        for option, value in given.items():
            reason = f"is part of stream={type(stream).__name__}(...): set it there"
            raise ConfigError(option, value, reason)
        if isinstance(stream, SSEStream) and response_format is not None:
            reason = "an SSE stream decodes its events as SSEStream(data_format=...)"
            raise ConfigError("response_format", response_format, reason)
        chosen = stream
    else:
        raise ConfigError("stream", stream, "a PollStream or an SSEStream, or None")
    if isinstance(chosen, SSEStream):
        for option, value in (("pagination", pagination), ("parser", parser), ("body", body)):
            if value is not None:
                raise ConfigError(option, value, "is not used by an SSE source (stream_type='sse')")
    return chosen


def _from_flat(given: Mapping[str, Any], response_format: object) -> StreamMode | None:
    kind = _kind(given.get("stream_type"), given.get("poll_interval_seconds"))
    own = {"poll": _POLL_FIELDS, "sse": _SSE_FIELDS}.get(kind or "", {})
    mode = {"sse": "an SSE source", "poll": "a polling source"}.get(kind or "", "a source")
    for option, value in given.items():
        if option in _POLL_FIELDS.keys() | _SSE_FIELDS.keys() and option not in own:
            needs = "poll_interval_seconds=" if option in _POLL_FIELDS else "stream_type='sse'"
            raise ConfigError(option, value, f"is not used by {mode}; it needs {needs}")
    settings = {own[option]: value for option, value in given.items() if option in own}
    if kind == "sse":
        if isinstance(response_format, str):
            response_format = response_format.strip().lower()
        settings["data_format"] = "json" if response_format is None else response_format
        return SSEStream(**settings)
    if kind == "poll":
        return PollStream(interval_seconds=given["poll_interval_seconds"], **settings)
    return None


def _kind(stream_type: object, poll_interval_seconds: object) -> StreamKind | None:
    if stream_type is not None and stream_type not in ("sse", "poll"):
        raise ConfigError("stream_type", stream_type, "'sse', 'poll', or None")
    if stream_type == "sse" and poll_interval_seconds is not None:
        raise ConfigError(
            "poll_interval_seconds", poll_interval_seconds, "an SSE source does not poll"
        )
    if stream_type == "poll" and poll_interval_seconds is None:
        raise ConfigError("poll_interval_seconds", None, "a polling source needs an interval")
    if stream_type is None:
        return None if poll_interval_seconds is None else "poll"
    return "sse" if stream_type == "sse" else "poll"
