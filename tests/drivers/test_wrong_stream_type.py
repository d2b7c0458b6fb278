"""An event stream answered to a read or a poll fails at once, saying to use SSE.

docs/reliability.md test 48. The demo's ``/stream`` is a Server-Sent Events feed that never
ends; read as a page it would wait for the timeout, and the retries and the next polls would
wait again, forever. The session sees ``Content-Type: text/event-stream`` before reading the
body and raises ``ConfigError(option="stream_type")`` naming SSE: one request, no retry.
"""

from __future__ import annotations

import itertools

import pytest

from hiveframe.connectors import HTTPSource
from hiveframe.demo._events import EventsAPI
from hiveframe.errors import ConfigError


@pytest.fixture
def feed(serve):
    return serve(EventsAPI(initial=5, every_seconds=None).routes())


def assert_names_sse(error: ConfigError, url: str) -> None:
    assert error.option == "stream_type"
    assert "stream_type='sse'" in str(error) and "--sse" in str(error)
    assert "text/event-stream" in str(error) and url in str(error)


def test_a_poll_answered_with_an_event_stream_fails_at_once(feed, clock):
    url = feed.url("/stream")
    source = HTTPSource(url, poll_interval_seconds=5, clock=clock)
    with pytest.raises(ConfigError) as info, source.stream() as records:
        list(itertools.islice(records, 1))
    assert_names_sse(info.value, url)
    assert len(feed.requests_to("/stream")) == 1  # not retried, not polled again
    assert clock.sleeps == []


@pytest.mark.parametrize("call", ["read", "iter_batches"])
def test_a_read_answered_with_an_event_stream_fails_at_once(feed, clock, call):
    url = feed.url("/stream")
    source = HTTPSource(url, clock=clock)
    with pytest.raises(ConfigError) as info:
        if call == "read":
            source.read()
        else:
            list(source.iter_batches())
    assert_names_sse(info.value, url)
    assert len(feed.requests_to("/stream")) == 1


def test_the_same_url_streams_with_stream_type_sse(feed, clock):
    source = HTTPSource(feed.url("/stream"), stream_type="sse", clock=clock)
    with source.stream() as records:
        assert [record["id"] for record in itertools.islice(records, 5)] == [1, 2, 3, 4, 5]
