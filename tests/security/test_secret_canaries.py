"""Secrets set to canary strings never show: not in repr, str, logs or tracebacks."""

from __future__ import annotations

import logging
import traceback

import pytest

from hiveframe.connectors import HTTPSource
from hiveframe.demo import Reply
from hiveframe.errors import HiveFrameError
from hiveframe.resilience import RetryConfig

CANARY = "canary-5e1f"

FAILURES = {
    "/401": lambda r: Reply(401, {}, b"no"),
    "/500": lambda r: Reply(500, {}, b"boom"),
    "/bad": lambda r: Reply(200, {"Content-Type": "application/json"}, b"{not json"),
}


@pytest.mark.parametrize("path", sorted(FAILURES))
@pytest.mark.parametrize(
    "options",
    [
        {"auth": {"type": "bearer", "token": CANARY}},
        {"auth": {"type": "basic", "username": "u", "password": CANARY}},
        {"auth": {"type": "api_key", "name": "key", "value": CANARY, "in": "query"}},
        {"headers": {"X-API-Key": CANARY}},
        {"params": {"access_token": CANARY}},
    ],
    ids=["bearer", "basic", "query-key", "header-key", "param"],
)
def test_failing_reads_never_show_a_secret(serve, clock, caplog, path, options):
    server = serve(FAILURES)
    source = HTTPSource(server.url(path), retry=RetryConfig(max_attempts=2), clock=clock, **options)
    caplog.set_level(logging.DEBUG, logger="hiveframe")

    with pytest.raises(HiveFrameError) as info:
        source.read()

    shown = [
        repr(source),
        str(info.value),
        repr(info.value),
        caplog.text,
        "".join(traceback.format_exception(info.value)),
    ]
    assert not [text for text in shown if CANARY in text]
    assert caplog.records  # the requests were logged, redacted


def test_url_query_credentials_are_redacted_in_logs(serve, caplog):
    server = serve({"/ok": lambda r: Reply(200, {"Content-Type": "application/json"}, b"[]")})
    caplog.set_level(logging.INFO, logger="hiveframe")
    HTTPSource(server.url(f"/ok?api_key={CANARY}&page=1")).read()
    assert "api_key=***" in caplog.text
    assert CANARY not in caplog.text
