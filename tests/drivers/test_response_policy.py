"""Response policy rules over real loopback HTTP: a 200 that says error, answers to ignore,
rate limits and expired credentials announced in the body.

Waits run on the fake clock (``clock`` fixture).
"""

from __future__ import annotations

import asyncio

import orjson
import pytest

from hiveframe._http.reader import PageReader, ReadPlan
from hiveframe._http.session import Session, SessionConfig
from hiveframe._protocol.pagination import OffsetPagination
from hiveframe._protocol.paginators import start_paginator
from hiveframe._protocol.response_policy import ResponsePolicy, ResponseRule
from hiveframe.connectors import HTTPSource, OAuth2ClientCredentials
from hiveframe.demo import Reply, Request
from hiveframe.errors import ResponseRuleError, RetryExhausted
from hiveframe.resilience import RateLimiter, RetryConfig

JSON = {"Content-Type": "application/json"}
ERROR = b'{"status": "error", "message": "backend unavailable"}'
API_ERROR = ResponseRule("retry", status=200, body_path="status", equals="error", name="api-error")


def replies(*answers: tuple[int, bytes]):
    """A handler answering with ``answers`` in turn, then the last one for ever."""
    queue = list(answers)

    def handler(request: Request) -> Reply:
        status, body = queue.pop(0) if len(queue) > 1 else queue[0]
        return Reply(status, dict(JSON), body)

    return handler


def request(server, clock, policy: ResponsePolicy, *, retry: RetryConfig | None = None):
    config = SessionConfig(retry=retry or RetryConfig(jitter=False), response_policy=policy)

    async def go():
        url = server.url("/r")
        async with Session(config, auth=None, credential_url=url, clock=clock) as session:
            return await session.request("GET", url)

    return asyncio.run(go())


def test_a_200_saying_error_is_retried_then_fails_naming_the_rule(serve, clock):
    server = serve({"/r": replies((200, ERROR))})
    retry = RetryConfig(max_attempts=3, jitter=False)
    with pytest.raises(RetryExhausted) as info:
        request(server, clock, ResponsePolicy(API_ERROR), retry=retry)

    assert len(server.requests) == 3
    assert clock.sleeps == [0.5, 1.0]  # the retry policy's backoff
    assert "matched the response rule 'api-error'" in str(info.value)
    assert "gave up after 3 attempts" in str(info.value)
    cause = info.value.__cause__
    assert isinstance(cause, ResponseRuleError)
    assert (cause.rule, cause.action, cause.status) == ("api-error", "retry", 200)
    assert "backend unavailable" in cause.body_excerpt


def test_a_200_saying_error_once_is_retried_and_the_next_answer_taken(serve, clock):
    server = serve({"/r": replies((200, ERROR), (200, b'{"status": "ok"}'))})
    response = request(server, clock, ResponsePolicy(API_ERROR))
    assert response.json() == {"status": "ok"} and response.action is None
    assert len(server.requests) == 2


def test_fail_fails_at_once(serve, clock):
    rule = ResponseRule("fail", status=200, body=lambda doc: doc.get("status") == "error")
    server = serve({"/r": replies((200, ERROR))})
    with pytest.raises(ResponseRuleError) as info:
        request(server, clock, ResponsePolicy(rule))
    assert info.value.action == "fail" and info.value.rule == rule.name
    assert len(server.requests) == 1 and clock.sleeps == []


def test_success_accepts_an_error_status(serve, clock):
    server = serve({"/r": replies((409, b'{"error": "already stored"}'))})
    response = request(server, clock, ResponsePolicy(ResponseRule("success", status=409)))
    assert (response.status_code, response.action) == (409, "success")


def test_a_rule_before_the_built_in_behaviour_and_the_built_in_behaviour_after_it(serve, clock):
    server = serve({"/r": replies((503, b"{}"), (503, b"{}"), (200, b"[]"))})
    request(server, clock, ResponsePolicy(ResponseRule("fail", status=404)))
    assert len(server.requests) == 3  # a 503 is still retried as before
    server = serve({"/r": replies((503, b"{}"))})
    with pytest.raises(ResponseRuleError):
        request(server, clock, ResponsePolicy(ResponseRule("fail", status=503)))
    assert len(server.requests) == 1  # the rule comes first: not retried


class PauseLog(RateLimiter):
    """A limiter that notes every pause it is asked for (seconds from then)."""

    def __init__(self, clock) -> None:
        super().__init__(clock=clock.monotonic)
        self.clock = clock
        self.pauses: list[float] = []

    def pause_until(self, until: float) -> None:
        self.pauses.append(until - self.clock.monotonic())
        super().pause_until(until)


def test_rate_limited_pauses_every_request_for_the_wait(serve, clock):
    limited = ResponseRule("rate_limited", status=200, body_path="error", equals="slow down")
    server = serve({"/r": replies((200, b'{"error": "slow down"}'), (200, b"[]"))})
    limiter = PauseLog(clock)
    config = SessionConfig(
        retry=RetryConfig(jitter=False, initial_delay_seconds=4),
        rate_limiter=limiter,
        response_policy=ResponsePolicy(limited),
    )

    async def go():
        url = server.url("/r")
        async with Session(config, auth=None, credential_url=url, clock=clock) as session:
            return await session.request("GET", url)

    assert asyncio.run(go()).json() == []
    assert clock.sleeps == [4.0]  # the backoff...
    assert limiter.pauses == [4.0]  # ...which holds back every request, as after a 429
    assert len(server.requests) == 2


def test_ignore_ends_a_read_with_the_records_before_it(serve, clock):
    def pages(request: Request) -> Reply:
        offset = int(request.query["offset"])
        if offset >= 20:
            return Reply(200, dict(JSON), b'{"error": "no more data for this day"}')
        return Reply(200, dict(JSON), orjson.dumps([{"id": offset + i} for i in range(10)]))

    server = serve({"/r": pages})
    policy = ResponsePolicy(
        ResponseRule("ignore", body_path="error", equals="no more data for this day")
    )
    pagination = OffsetPagination(page_size=10)
    plan = ReadPlan(url=server.url("/r"), pagination=pagination, concurrency=1)

    async def go():
        config = SessionConfig(response_policy=policy)
        async with Session(config, auth=None, credential_url=plan.url, clock=clock) as session:
            reader = PageReader(plan, session)
            tables = [t async for t in reader.pages(start_paginator(pagination))]
            return tables, reader.stop_reason

    tables, reason = asyncio.run(go())
    assert [t.num_rows for t in tables] == [10, 10]
    assert reason == "ignored"
    assert len(server.requests) == 3


def test_refresh_auth_refreshes_the_token_once_when_the_body_says_it_expired(serve, clock):
    issued: list[str] = []
    good_from = {"token": 2}  # the first token the API takes

    def token(request: Request) -> Reply:
        issued.append(f"tok-{len(issued) + 1}")
        body = {"access_token": issued[-1], "token_type": "Bearer", "expires_in": 3600}
        return Reply(200, dict(JSON), orjson.dumps(body))

    def api(request: Request) -> Reply:
        current = request.header("authorization") == f"Bearer {issued[-1]}"
        if current and len(issued) >= good_from["token"]:
            return Reply(200, dict(JSON), b"[]")
        return Reply(200, dict(JSON), b'{"error": "token_expired"}')

    server = serve({"/token": token, "/r": api})
    expired = ResponseRule("refresh_auth", body_path="error", equals="token_expired")
    auth = OAuth2ClientCredentials(
        server.url("/token"), "id", "secret", allow_insecure_token_url=True
    )
    config = SessionConfig(response_policy=ResponsePolicy(expired))

    async def go(path: str):
        url = server.url(path)
        async with Session(config, auth=auth, credential_url=url, clock=clock) as session:
            return await session.request("GET", url)

    assert asyncio.run(go("/r")).json() == []
    assert issued == ["tok-1", "tok-2"]
    good_from["token"] = 99  # from now on no token is good: one refresh, then the rule fails
    with pytest.raises(ResponseRuleError) as info:
        asyncio.run(go("/r"))
    assert info.value.action == "refresh_auth"
    assert issued == ["tok-1", "tok-2", "tok-3"]  # refreshed once, not more


# -- through HTTPSource ---------------------------------------------------------------------------


def test_a_source_retries_a_200_saying_error_then_fails_naming_the_rule(serve, clock):
    server = serve({"/r": replies((200, ERROR))})
    source = HTTPSource(
        server.url("/r"),
        response_policy=[API_ERROR],
        retry=RetryConfig(max_attempts=2, jitter=False),
        clock=clock,
    )
    with pytest.raises(RetryExhausted) as info:
        source.read()
    assert "response rule 'api-error'" in str(info.value)
    assert info.value.page == 0 and info.value.url == server.url("/r")
    assert len(server.requests) == 2


def test_a_source_ignores_what_a_rule_says_to_ignore(serve, clock):
    def items(request: Request) -> Reply:
        offset = int(request.query["offset"])
        if offset == 20:
            return Reply(404, dict(JSON), b'{"error": "no such page"}')
        return Reply(200, dict(JSON), orjson.dumps([{"id": offset + i} for i in range(10)]))

    server = serve({"/r": items})
    source = HTTPSource(
        server.url("/r"),
        pagination="offset",
        page_size=10,
        concurrency=1,
        response_policy=ResponsePolicy(ResponseRule("ignore", status=404)),
        clock=clock,
    )
    assert source.read().to_arrow().column("id").to_pylist() == list(range(20))
    assert len(server.requests) == 3
