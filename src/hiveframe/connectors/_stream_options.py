"""The streaming options of ``HTTPSource``, checked together when the source is built.

A source streams by polling (``poll_interval_seconds=``) or as Server-Sent Events
(``stream_type="sse"``); each mode has options of its own, and an option of the other mode
(or of none) is refused with a :class:`~hiveframe.errors.ConfigError` naming it, rather than
ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hiveframe._protocol.poll import DEFAULT_DEDUPE_WINDOW, PollConfig
from hiveframe._protocol.reconnect import (
    DEFAULT_IDLE_TIMEOUT_SECONDS,
    ReconnectConfig,
    SSEConfig,
)
from hiveframe._protocol.sse import DEFAULT_MAX_EVENT_BYTES
from hiveframe._validate import NOT_GIVEN, _NotGiven
from hiveframe.errors import ConfigError

STREAM_TYPES = ("sse", "poll")
_POLL_ONLY: dict[str, Any] = {
    "since_param": None,
    "since_field": None,
    "since_path": None,
    "dedupe_key": None,
    "dedupe_window": DEFAULT_DEDUPE_WINDOW,
    "conditional_requests": True,
}
_SSE_ONLY: dict[str, Any] = {
    "idle_timeout_seconds": DEFAULT_IDLE_TIMEOUT_SECONDS,
    "max_event_bytes": DEFAULT_MAX_EVENT_BYTES,
    "reconnect": NOT_GIVEN,
    "strict_sse": False,
    "include_event_metadata": False,
}


@dataclass(frozen=True)
class StreamOptions:
    """How a source streams: ``kind`` is ``"poll"``, ``"sse"`` or ``None`` (it does not)."""

    kind: str | None = None
    poll: PollConfig | None = None
    sse: SSEConfig | None = None


def stream_options(
    *,
    stream_type: str | None,
    poll_interval_seconds: float | None,
    response_format: str | None,
    pagination: Any,
    parser: Any,
    body: Any,
    **options: Any,
) -> StreamOptions:
    """Check the streaming options of a source and build its configs.

    Raises
    ------
    ConfigError
        Naming the first option that is out of range or does not fit the mode.
    """
    kind = _kind(stream_type, poll_interval_seconds)
    _refuse_foreign(options, kind)
    if kind == "sse":
        for option, value in (("pagination", pagination), ("parser", parser), ("body", body)):
            if value is not None:
                raise ConfigError(option, value, "is not used by an SSE source (stream_type='sse')")
        reconnect = options.get("reconnect", NOT_GIVEN)
        sse = SSEConfig(
            data_format=response_format.strip().lower() if response_format else "json",
            include_event_metadata=options.get("include_event_metadata", False),
            idle_timeout_seconds=options.get("idle_timeout_seconds", DEFAULT_IDLE_TIMEOUT_SECONDS),
            max_event_bytes=options.get("max_event_bytes", DEFAULT_MAX_EVENT_BYTES),
            reconnect=ReconnectConfig() if isinstance(reconnect, _NotGiven) else reconnect,
            strict=options.get("strict_sse", False),
        )
        return StreamOptions("sse", sse=sse)
    if kind == "poll":
        assert poll_interval_seconds is not None
        poll = PollConfig(
            interval_seconds=poll_interval_seconds,
            since_param=options.get("since_param"),
            since_field=options.get("since_field"),
            since_path=options.get("since_path"),
            dedupe_key=options.get("dedupe_key"),
            dedupe_window=options.get("dedupe_window", DEFAULT_DEDUPE_WINDOW),
            conditional=options.get("conditional_requests", True),
        )
        return StreamOptions("poll", poll=poll)
    return StreamOptions()


def _kind(stream_type: str | None, poll_interval_seconds: float | None) -> str | None:
    if stream_type is not None and stream_type not in STREAM_TYPES:
        raise ConfigError("stream_type", stream_type, "'sse', 'poll', or None")
    if stream_type == "sse" and poll_interval_seconds is not None:
        raise ConfigError(
            "poll_interval_seconds", poll_interval_seconds, "an SSE source does not poll"
        )
    if stream_type == "poll" and poll_interval_seconds is None:
        raise ConfigError("poll_interval_seconds", None, "a polling source needs an interval")
    if stream_type is None and poll_interval_seconds is not None:
        return "poll"
    return stream_type


def _refuse_foreign(options: dict[str, Any], kind: str | None) -> None:
    foreign: dict[str, Any] = {"sse": _POLL_ONLY, "poll": _SSE_ONLY}.get(
        kind or "", {**_POLL_ONLY, **_SSE_ONLY}
    )
    mode = {"sse": "an SSE source", "poll": "a polling source"}.get(kind or "", "a source")
    for option, default in foreign.items():
        value = options.get(option, default)
        if value is not default and value != default:
            needs = "poll_interval_seconds=" if option in _POLL_ONLY else "stream_type='sse'"
            raise ConfigError(option, value, f"is not used by {mode}; it needs {needs}")
