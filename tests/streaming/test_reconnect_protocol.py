"""Reconnection decisions for SSE streams, without I/O (WHATWG §9.2.3).

docs/reliability.md tests 27 and 28.
"""

from __future__ import annotations

import pytest

from hiveframe._protocol.reconnect import (
    ReconnectConfig,
    ReconnectState,
    SSEStream,
    Verdict,
    judge_response,
)
from hiveframe.errors import ConfigError, RetryAfterTooLong
from hiveframe.resilience import RetryConfig

RETRY = RetryConfig(jitter=False)


@pytest.mark.parametrize(
    ("content_type", "verdict"),
    [
        ("text/event-stream", Verdict.OPEN),
        ("text/event-stream;", Verdict.OPEN),  # wpt format-mime-trailing-semicolon
        ("Text/Event-Stream; charset=windows-1252", Verdict.OPEN),  # charset ignored
        ("text/x-bogus", Verdict.FAILED),  # wpt format-mime-bogus
        ("text/plain", Verdict.FAILED),
        (None, Verdict.FAILED),
    ],
)
def test_a_200_opens_only_as_an_event_stream(content_type, verdict):
    assert judge_response(200, content_type, retry=RETRY, strict=False) is verdict


@pytest.mark.parametrize("status", [204])
@pytest.mark.parametrize("strict", [False, True])
def test_204_tells_the_client_to_stop(status, strict):
    assert judge_response(status, None, retry=RETRY, strict=strict) is Verdict.CLOSED


@pytest.mark.parametrize("status", [205, 210, 299, 400, 401, 403, 404, 410, 501])
def test_other_statuses_fail_without_reconnecting(status):
    # wpt request-status-error: 205, 210, 299, 404, 410 fail the connection.
    assert judge_response(status, "text/event-stream", retry=RETRY, strict=False) is Verdict.FAILED


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retriable_statuses_are_retried_unless_strict(status):
    assert judge_response(status, None, retry=RETRY, strict=False) is Verdict.RETRY
    assert judge_response(status, None, retry=RETRY, strict=True) is Verdict.FAILED


def test_the_retry_policy_decides_which_statuses_are_retriable():
    narrow = RetryConfig(retry_statuses=frozenset({503}))
    assert judge_response(503, None, retry=narrow, strict=False) is Verdict.RETRY
    assert judge_response(502, None, retry=narrow, strict=False) is Verdict.FAILED


def test_reconnection_time_is_the_servers_retry_then_the_default():
    config = ReconnectConfig(initial_delay_seconds=3)
    assert config.delay(retry_ms=None, failures=0) == 3.0
    assert config.delay(retry_ms=1500, failures=0) == 1.5
    assert config.delay(retry_ms=0, failures=5) == 0.0  # retry: 0 means at once


def test_repeated_failures_back_off_up_to_the_cap():
    config = ReconnectConfig(initial_delay_seconds=1, multiplier=2, max_delay_seconds=10)
    assert [config.delay(retry_ms=None, failures=n) for n in range(6)] == [1, 2, 4, 8, 10, 10]
    # A server retry above the cap is honoured: the server asked for it.
    assert config.delay(retry_ms=30_000, failures=3) == 30.0
    assert config.delay(retry_ms=1000, failures=10_000) == 10.0  # no overflow


def test_an_event_resets_the_failure_count():
    state = ReconnectState(ReconnectConfig(initial_delay_seconds=1), RETRY)
    assert [state.after_end(retry_ms=None) for _ in range(3)] == [1, 2, 4]
    state.event()
    assert state.after_end(retry_ms=None) == 1
    assert state.reconnects == 4


def test_max_reconnects_counts_attempts_in_a_row_without_an_event():
    state = ReconnectState(ReconnectConfig(initial_delay_seconds=1, max_reconnects=2), RETRY)
    assert state.after_end(retry_ms=None) == 1
    assert state.after_end(retry_ms=None) == 2
    assert state.after_end(retry_ms=None) is None
    state.event()
    assert state.after_end(retry_ms=None) == 1


def test_no_reconnect_config_never_reconnects():
    state = ReconnectState(None, RETRY)
    assert state.after_end(retry_ms=1000) is None
    assert state.after_status(retry_after=1.0) is None


def test_retriable_statuses_wait_under_the_retry_policy(clock):
    state = ReconnectState(ReconnectConfig(), RetryConfig(max_attempts=3, jitter=False))
    assert state.after_status(retry_after=2.0) == 2.0  # Retry-After is the floor
    assert state.after_status(retry_after=None) == 1.0  # 0.5 * 2 ** 1
    assert state.after_status(retry_after=None) is None  # 3 attempts used
    state.opened()  # a stream opened: a fresh budget for the next bad spell
    assert state.after_status(retry_after=None) == 0.5


def test_a_retry_after_above_the_cap_fails_at_once():
    state = ReconnectState(ReconnectConfig(), RetryConfig(max_retry_after_seconds=60))
    with pytest.raises(RetryAfterTooLong):
        state.after_status(retry_after=3600)


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"initial_delay_seconds": -1}, "initial_delay_seconds"),
        ({"multiplier": 0.5}, "multiplier"),
        ({"multiplier": True}, "multiplier"),
        ({"max_delay_seconds": float("nan")}, "max_delay_seconds"),
        ({"max_reconnects": -1}, "max_reconnects"),
        ({"max_reconnects": 2.5}, "max_reconnects"),
    ],
)
def test_bad_reconnect_options_are_named(options, option):
    with pytest.raises(ConfigError) as info:
        ReconnectConfig(**options)
    assert info.value.option == option


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"data_format": "xml"}, "response_format"),
        ({"idle_timeout_seconds": 0}, "idle_timeout_seconds"),
        ({"max_event_bytes": 0}, "max_event_bytes"),
        ({"reconnect": 5}, "reconnect"),
        ({"strict": "yes"}, "strict_sse"),  # named as HTTPSource spells it
        ({"include_event_metadata": 1}, "include_event_metadata"),
    ],
)
def test_bad_sse_options_are_named(options, option):
    with pytest.raises(ConfigError) as info:
        SSEStream(**options)
    assert info.value.option == option
