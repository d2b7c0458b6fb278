"""The public streaming namespace and the streaming options of HTTPSource."""

from __future__ import annotations

import pytest

import hiveframe.streaming
from hiveframe.connectors import HTTPSource, SSEStream
from hiveframe.errors import ConfigError
from hiveframe.streaming import ReconnectConfig


def test_all_is_sorted_and_importable():
    names = hiveframe.streaming.__all__
    assert names == sorted(names)
    for name in names:
        assert hasattr(hiveframe.streaming, name), name


def test_polling_and_sse_sources_say_what_they_are():
    assert HTTPSource("https://api.test/e").stream_kind is None
    assert HTTPSource("https://api.test/e", poll_interval_seconds=5).stream_kind == "poll"
    assert HTTPSource("https://api.test/e", stream_type="poll", poll_interval_seconds=5)
    sse = HTTPSource("https://api.test/s?api_key=canary", stream_type="sse")
    assert sse.stream_kind == "sse"
    assert "canary" not in sse.redacted_url and "stream_type='sse'" in repr(sse)


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"stream_type": "websocket"}, "stream_type"),
        ({"stream_type": "sse", "poll_interval_seconds": 5}, "poll_interval_seconds"),
        ({"stream_type": "poll"}, "poll_interval_seconds"),
        ({"poll_interval_seconds": 0}, "poll_interval_seconds"),
        ({"dedupe_key": "id"}, "dedupe_key"),  # no streaming mode
        ({"stream_type": "sse", "dedupe_key": "id"}, "dedupe_key"),
        ({"stream_type": "sse", "pagination": "offset"}, "pagination"),
        ({"stream_type": "sse", "parser": lambda r: []}, "parser"),
        ({"stream_type": "sse", "body": {"q": 1}}, "body"),
        ({"stream_type": "sse", "response_format": "csv"}, "response_format"),
        ({"stream_type": "sse", "idle_timeout_seconds": -1}, "idle_timeout_seconds"),
        ({"stream_type": "sse", "max_event_bytes": 0}, "max_event_bytes"),
        ({"stream_type": "sse", "reconnect": "often"}, "reconnect"),
        ({"poll_interval_seconds": 5, "strict_sse": True}, "strict_sse"),
        ({"poll_interval_seconds": 5, "reconnect": None}, "reconnect"),
        ({"poll_interval_seconds": 5, "include_event_metadata": True}, "include_event_metadata"),
        ({"poll_interval_seconds": 5, "since_param": "since"}, "since_field"),
    ],
)
def test_streaming_options_are_checked_when_the_source_is_built(options, option):
    with pytest.raises(ConfigError) as info:
        HTTPSource("https://api.test/e", **options)
    assert info.value.option == option


def test_sse_options_are_accepted():
    source = HTTPSource(
        "https://api.test/s",
        stream_type="sse",
        response_format="text",
        idle_timeout_seconds=90,
        max_event_bytes=4096,
        reconnect=ReconnectConfig(max_reconnects=None),
        strict_sse=True,
        include_event_metadata=True,
    )
    sse = source.spec.stream
    assert isinstance(sse, SSEStream)
    assert (sse.data_format, sse.idle_timeout_seconds, sse.max_event_bytes) == ("text", 90, 4096)
    assert sse.reconnect == ReconnectConfig(max_reconnects=None) and sse.strict
