"""Bad options fail at construction with a ConfigError naming the option and the value."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from typing import Any

import pytest

from hiveframe import DataFrame
from hiveframe.connectors import (
    CursorPagination,
    HTTPSink,
    HTTPSource,
    OAuth2ClientCredentials,
    OffsetPagination,
    PagePagination,
)
from hiveframe.errors import ConfigError
from hiveframe.resilience import CircuitBreaker, RateLimiter, RetryConfig
from hiveframe.streaming import ReconnectConfig, Stream, StreamConfig, StreamProcessor

URL = "https://api.example.com/data"


@pytest.mark.parametrize(
    ("options", "option", "shown"),
    [
        ({"pagination": "bogus"}, "pagination", "'bogus'"),
        ({"pagination": "offset", "page_size": -5}, "page_size", "-5"),
        ({"page_size": 0, "pagination": "page"}, "page_size", "0"),
        ({"max_pages": 0}, "max_pages", "0"),
        ({"auth": {"type": "bearer"}}, "auth.token", "***"),
        ({"auth": {"type": "bearer", "token": ""}}, "auth.token", "***"),
        ({"auth": {"type": "magic"}}, "auth.type", "'magic'"),
        ({"auth": {"type": "basic", "password": "x"}}, "auth.username", "None"),
        (
            {"auth": {"type": "oauth2", "token_url": "https://a/t", "client_id": "c"}},
            "auth.client_secret",
            "***",
        ),
        (
            {
                "auth": {
                    "type": "oauth2",
                    "token_url": "http://a/t",
                    "client_id": "c",
                    "client_secret": "s",
                }
            },
            "auth.token_url",
            "'http://a/t'",
        ),
        ({"response_format": "xml"}, "response_format", "'xml'"),
        ({"data_path": "$.[[["}, "data_path", "'$.[[['"),
        ({"method": "FETCH"}, "method", "'FETCH'"),
        ({"timeout_seconds": -1}, "timeout_seconds", "-1"),
        ({"retry": 3}, "retry", "3"),
        ({"parser": "not callable"}, "parser", "'not callable'"),
        ({"schema_drift": "loose"}, "schema_drift", "'loose'"),
    ],
)
def test_bad_option_is_named_with_its_value(options, option, shown):
    with pytest.raises(ConfigError) as info:
        HTTPSource(URL, **options)
    assert info.value.option == option
    assert str(info.value).startswith(f"{option}={shown}")


@pytest.mark.parametrize(
    "url",
    [
        "api.example.com/data",
        "ftp://x/y",
        "https://",
        42,
        # these failed the first read with a raw ValueError (docs/reliability.md, bad input)
        "http://127.0.0.1:99999/data",
        "http://127.0.0.1:port/data",
        "https://api example.com/data",
    ],
)
def test_url_without_scheme_or_host(url):
    with pytest.raises(ConfigError) as info:
        HTTPSource(url)
    assert info.value.option == "url"


def test_config_error_is_also_a_value_error():
    with pytest.raises(ValueError):
        HTTPSource(URL, pagination="bogus")


def test_a_secret_in_a_bad_url_is_not_shown():
    with pytest.raises(ConfigError) as info:
        HTTPSource("user:hunter2@api.example.com/data?token=hunter3")
    assert "hunter2" not in str(info.value)


# -- every numeric option: NaN, infinities, negatives, zero where meaningless, bools, text -----
# Promise: docs/reliability.md, bad input. Each refused value used to pass construction and
# then fail the first read (timeout_seconds=nan), fail every read (deadline_seconds=nan,
# max_body_bytes=-1) or be used as is (connect_timeout_seconds=nan).

NOT_NUMBERS = (math.nan, math.inf, -math.inf, -1, True, "1")


def _source(option: str, **context: Any) -> Callable[[Any], object]:
    return lambda value: HTTPSource(URL, **context, **{option: value})


def _stream() -> Stream:
    return StreamProcessor().from_source(HTTPSource(URL, poll_interval_seconds=5))


def _oauth2(**options: Any) -> OAuth2ClientCredentials:
    return OAuth2ClientCredentials("https://auth.example.com/token", "id", "secret", **options)


# (what, the option the error names, build with the value, 0 is valid, only integers are)
NUMERIC: list[tuple[str, str, Callable[[Any], object], bool, bool]] = [
    ("source", "page_size", _source("page_size", pagination="offset"), False, True),
    ("source", "max_pages", _source("max_pages"), False, True),
    ("source", "timeout_seconds", _source("timeout_seconds"), False, False),
    ("source", "connect_timeout_seconds", _source("connect_timeout_seconds"), False, False),
    ("source", "deadline_seconds", _source("deadline_seconds"), False, False),
    ("source", "max_body_bytes", _source("max_body_bytes"), False, True),
    ("source", "concurrency", _source("concurrency"), False, True),
    ("source", "rate_limit", _source("rate_limit"), False, False),
    ("source", "poll_interval_seconds", _source("poll_interval_seconds"), False, False),
    ("poll", "dedupe_window", _source("dedupe_window", poll_interval_seconds=5), False, True),
    (
        "sse",
        "idle_timeout_seconds",
        _source("idle_timeout_seconds", stream_type="sse"),
        False,
        False,
    ),
    ("sse", "max_event_bytes", _source("max_event_bytes", stream_type="sse"), False, True),
    ("sink", "batch_size", lambda v: HTTPSink(URL, batch_size=v), False, True),
    ("sink", "max_batch_bytes", lambda v: HTTPSink(URL, max_batch_bytes=v), False, True),
    ("sink", "max_in_flight", lambda v: HTTPSink(URL, max_in_flight=v), False, True),
    ("sink", "timeout_seconds", lambda v: HTTPSink(URL, timeout_seconds=v), False, False),
    ("sink", "rate_limit", lambda v: HTTPSink(URL, rate_limit=v), False, False),
    ("oauth2", "auth.skew_seconds", lambda v: _oauth2(skew_seconds=v), True, False),
    ("oauth2", "auth.default_ttl_seconds", lambda v: _oauth2(default_ttl_seconds=v), False, False),
    ("offset", "page_size", lambda v: OffsetPagination(page_size=v), False, True),
    ("offset", "start", lambda v: OffsetPagination(start=v), True, True),
    ("page", "start", lambda v: PagePagination(start=v), True, True),
    ("cursor", "page_size", lambda v: CursorPagination(size_param="n", page_size=v), False, True),
    ("retry", "max_attempts", lambda v: RetryConfig(max_attempts=v), False, True),
    ("retry", "initial_delay_seconds", lambda v: RetryConfig(initial_delay_seconds=v), True, False),
    ("retry", "multiplier", lambda v: RetryConfig(multiplier=v), False, False),
    ("retry", "max_delay_seconds", lambda v: RetryConfig(max_delay_seconds=v), True, False),
    (
        "retry",
        "max_retry_after_seconds",
        lambda v: RetryConfig(max_retry_after_seconds=v),
        True,
        False,
    ),
    (
        "retry",
        "total_timeout_seconds",
        lambda v: RetryConfig(total_timeout_seconds=v),
        False,
        False,
    ),
    ("breaker", "failure_threshold", lambda v: CircuitBreaker(failure_threshold=v), False, True),
    (
        "breaker",
        "failure_rate_threshold",
        lambda v: CircuitBreaker(failure_rate_threshold=v),
        False,
        False,
    ),
    ("breaker", "window_size", lambda v: CircuitBreaker(window_size=v), False, True),
    ("breaker", "minimum_calls", lambda v: CircuitBreaker(minimum_calls=v), False, True),
    (
        "breaker",
        "recovery_timeout_seconds",
        lambda v: CircuitBreaker(recovery_timeout_seconds=v),
        False,
        False,
    ),
    (
        "breaker",
        "half_open_max_calls",
        lambda v: CircuitBreaker(half_open_max_calls=v),
        False,
        True,
    ),
    ("breaker", "success_threshold", lambda v: CircuitBreaker(success_threshold=v), False, True),
    (
        "breaker",
        "max_half_open_seconds",
        lambda v: CircuitBreaker(max_half_open_seconds=v),
        False,
        False,
    ),
    ("limiter", "rate_limit", RateLimiter, False, False),
    ("limiter", "burst", lambda v: RateLimiter(5, burst=v), False, True),
    (
        "reconnect",
        "initial_delay_seconds",
        lambda v: ReconnectConfig(initial_delay_seconds=v),
        True,
        False,
    ),
    ("reconnect", "multiplier", lambda v: ReconnectConfig(multiplier=v), False, False),
    ("reconnect", "max_delay_seconds", lambda v: ReconnectConfig(max_delay_seconds=v), True, False),
    ("reconnect", "max_reconnects", lambda v: ReconnectConfig(max_reconnects=v), True, True),
    ("stream_config", "queue_max", lambda v: StreamConfig(queue_max=v), False, True),
    ("stream_config", "batch_size", lambda v: StreamConfig(batch_size=v), False, True),
    (
        "stream_config",
        "batch_interval_seconds",
        lambda v: StreamConfig(batch_interval_seconds=v),
        False,
        False,
    ),
    ("stream", "batch_size", lambda v: _stream().batch(size=v), False, True),
    (
        "stream",
        "batch_interval_seconds",
        lambda v: _stream().batch(interval_seconds=v),
        False,
        False,
    ),
    ("stream", "limit", lambda v: _stream().limit(v), False, True),
    ("stream", "timeout", lambda v: _stream().await_termination(v), True, False),
    ("stream", "timeout", lambda v: _stream().stop(timeout=v), True, False),
    ("processor", "timeout", lambda v: StreamProcessor().await_termination(v), True, False),
    ("frame", "limit", lambda v: DataFrame.from_pylist([{"a": 1}]).limit(v), True, True),
]


def _numeric_cases() -> list[Any]:
    cases = []
    for what, option, build, zero_ok, whole in NUMERIC:
        bad = [*NOT_NUMBERS, *(() if zero_ok else (0,)), *((1.5,) if whole else ())]
        for value in bad:
            cases.append(pytest.param(build, option, value, id=f"{what}.{option}={value!r}"))
    return cases


@pytest.mark.parametrize(("build", "option", "value"), _numeric_cases())
def test_a_bad_number_fails_at_construction_naming_option_and_value(build, option, value):
    with pytest.raises(ConfigError) as info:
        build(value)
    assert info.value.option == option
    assert repr(info.value.value) == repr(value)
    assert str(info.value).startswith(f"{option}={value!r}: ")


# -- options of other types ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "option"),
    [
        pytest.param(lambda: HTTPSource(URL, verify=1), "verify", id="verify=1"),
        pytest.param(lambda: HTTPSource(URL, verify="/no/ca.pem"), "verify", id="verify-missing"),
        pytest.param(lambda: HTTPSink(URL, verify="/"), "verify", id="verify-folder"),
        pytest.param(
            lambda: HTTPSource(URL, block_private_networks="no"),
            "block_private_networks",
            id="block_private_networks='no'",
        ),
        pytest.param(
            lambda: HTTPSource(URL, allowed_hosts="cdn.example.com"),
            "allowed_hosts",
            id="allowed_hosts-a-string",
        ),
        pytest.param(
            lambda: HTTPSink(URL, secret_headers="X-Key"), "secret_headers", id="secret_headers-str"
        ),
        pytest.param(
            lambda: HTTPSource(URL, headers={"X-Id": 7}), "headers['X-Id']", id="header-int"
        ),
        pytest.param(
            lambda: HTTPSource(URL, headers={"X-Id": "a\r\nX-Evil: 1"}),
            "headers['X-Id']",
            id="header-line-break",
        ),
        pytest.param(lambda: HTTPSink(URL, headers={"Bad Name": "x"}), "headers", id="header-name"),
        pytest.param(lambda: HTTPSource(URL, method="POST", body={1, 2}), "body", id="body-set"),
        pytest.param(lambda: HTTPSink(URL, ordered=1), "ordered", id="ordered=1"),
        pytest.param(lambda: _oauth2(scope=["a", "b"]), "auth.scope", id="scope-list"),
        pytest.param(
            lambda: OAuth2ClientCredentials("https://auth.example.com:99999/token", "id", "s"),
            "auth.token_url",
            id="token_url-port",
        ),
        pytest.param(
            lambda: _oauth2(allow_insecure_token_url="yes"),
            "auth.allow_insecure_token_url",
            id="allow_insecure_token_url='yes'",
        ),
        pytest.param(
            lambda: CircuitBreaker(is_failure="ConnectError"), "is_failure", id="is_failure-str"
        ),
        pytest.param(lambda: RetryConfig(jitter="full"), "jitter", id="jitter='full'"),
        pytest.param(
            lambda: HTTPSource(URL, stream_type="sse", strict_sse=1),
            "strict_sse",
            id="strict_sse=1",
        ),
    ],
)
def test_a_value_of_the_wrong_type_fails_at_construction(build, option):
    with pytest.raises(ConfigError) as info:
        build()
    assert info.value.option == option


def test_a_secret_header_with_a_line_break_is_not_shown():
    with pytest.raises(ConfigError) as info:
        HTTPSource(URL, headers={"Authorization": "Bearer hunter2\nX: y"})
    assert "hunter2" not in str(info.value)


def test_a_ca_bundle_that_is_not_pem_is_refused(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate")
    with pytest.raises(ConfigError) as info:
        HTTPSource(URL, verify=str(bundle))
    assert info.value.option == "verify"


# -- output paths: checked before anything is written ---------------------------------------

WRITERS = ("parquet", "csv", "json")


@pytest.mark.parametrize("fmt", WRITERS)
def test_a_writer_refuses_a_missing_folder_before_writing(tmp_path, fmt):
    target = tmp_path / "missing" / f"out.{fmt}"
    with pytest.raises(ConfigError) as info:
        getattr(DataFrame.from_pylist([{"a": 1}]).write, fmt)(target)
    assert info.value.option == "path"
    assert "does not exist" in str(info.value)
    assert not target.parent.exists()


@pytest.mark.parametrize("fmt", WRITERS)
def test_a_writer_refuses_a_folder_as_its_file(tmp_path, fmt):
    with pytest.raises(ConfigError) as info:
        getattr(DataFrame.from_pylist([{"a": 1}]).write, fmt)(tmp_path)
    assert info.value.option == "path"
    assert "is a folder" in str(info.value)


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="root writes anywhere; POSIX modes"
)
def test_a_writer_refuses_a_folder_it_cannot_write(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o555)
    with pytest.raises(ConfigError) as info:
        DataFrame.from_pylist([{"a": 1}]).write.parquet(folder / "out.parquet")
    assert "not writable" in str(info.value)


def test_the_dead_letter_file_is_checked_when_the_sink_is_built(tmp_path):
    with pytest.raises(ConfigError) as info:
        HTTPSink(URL, dead_letter=tmp_path / "missing" / "dead.jsonl")
    assert info.value.option == "dead_letter"
    with pytest.raises(ConfigError) as info:
        HTTPSink(URL, dead_letter=tmp_path)
    assert info.value.option == "dead_letter"


def test_good_values_still_pass():
    source = HTTPSource(
        URL,
        timeout_seconds=None,
        deadline_seconds=120,
        connect_timeout_seconds=0.5,
        max_body_bytes=1,
        allowed_hosts=["cdn.example.com"],
        headers={"X-Id": "7"},
    )
    assert source.session_config.timeout_seconds is None
    assert source.session_config.connect_timeout_seconds == 0.5
    assert source.deadline_seconds == 120.0
    assert RetryConfig(initial_delay_seconds=0, total_timeout_seconds=None).max_attempts == 5
    assert ReconnectConfig(max_reconnects=0).max_reconnects == 0
