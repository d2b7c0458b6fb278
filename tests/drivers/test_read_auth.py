"""Every auth mode over real loopback HTTP, including token expiry and cross-origin redirects."""

from __future__ import annotations

import base64
import time
from urllib.parse import parse_qsl, urlsplit

import orjson
import pytest

from hiveframe._http.session import Session
from hiveframe.connectors import HTTPSink, HTTPSource, OAuth2ClientCredentials
from hiveframe.demo import Reply, Request
from hiveframe.demo._ingest import IngestAPI
from hiveframe.errors import AuthenticationError, SSEProtocolError, TokenResponseError
from hiveframe.resilience import RetryConfig

RECORDS = [{"id": i} for i in range(1, 7)]


def page_of(request: Request) -> Reply:
    offset, limit = int(request.query.get("offset", 0)), int(request.query.get("limit", 100))
    return Reply(
        body=orjson.dumps(RECORDS[offset : offset + limit]),
        headers={"Content-Type": "application/json"},
    )


def guarded(check):
    def handler(request: Request) -> Reply:
        if not check(request):
            return Reply(401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, b"{}")
        return page_of(request)

    return handler


def test_bearer(serve):
    server = serve({"/d": guarded(lambda r: r.header("authorization") == "Bearer tok-1")})
    df = HTTPSource(server.url("/d"), auth={"type": "bearer", "token": "tok-1"}).read()
    assert df.count() == 6


def test_basic(serve):
    expected = "Basic " + base64.b64encode(b"user:p\xc3\xa4ss").decode()
    server = serve({"/d": guarded(lambda r: r.header("authorization") == expected)})
    auth = {"type": "basic", "username": "user", "password": "päss"}
    assert HTTPSource(server.url("/d"), auth=auth).read().count() == 6


def test_api_key_header_and_query_parameter(serve):
    server = serve(
        {
            "/h": guarded(lambda r: r.header("x-api-key") == "k1"),
            "/q": guarded(lambda r: r.query.get("api_key") == "k2"),
        }
    )
    assert HTTPSource(server.url("/h"), headers={"X-API-Key": "k1"}).read().count() == 6
    query_auth = {"type": "api_key", "name": "api_key", "value": "k2", "in": "query"}
    assert HTTPSource(server.url("/q"), auth=query_auth).read().count() == 6


def test_wrong_credentials_fail_once_without_retries(serve):
    server = serve({"/d": guarded(lambda r: False)})
    with pytest.raises(AuthenticationError) as info:
        HTTPSource(server.url("/d"), auth={"type": "bearer", "token": "nope"}).read()
    assert info.value.status == 401
    assert len(server.requests) == 1
    assert "nope" not in str(info.value)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TokenServer:
    """Issues tok-1, tok-2, ... and accepts only the newest; records each token request."""

    def __init__(self, clock: FakeClock, expires_in: int = 120) -> None:
        self.clock = clock
        self.expires_in = expires_in
        self.issued: list[str] = []
        self.forms: list[dict[str, str]] = []
        self.auth_headers: list[str | None] = []

    def token(self, request: Request) -> Reply:
        self.forms.append(dict(parse_qsl(request.body.decode())))
        self.auth_headers.append(request.header("authorization"))
        self.issued.append(f"tok-{len(self.issued) + 1}")
        body = {
            "access_token": self.issued[-1],
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }
        return Reply(
            body=orjson.dumps(body),
            headers={"Content-Type": "application/json", "Cache-Control": "no-store"},
        )

    def valid(self, request: Request) -> bool:
        return bool(self.issued) and request.header("authorization") == f"Bearer {self.issued[-1]}"


def oauth_source(server, tokens: TokenServer, path: str = "/d", **options) -> HTTPSource:
    auth = OAuth2ClientCredentials(
        server.url("/token"),
        "client-1",
        "s3cret",
        scope="read",
        clock=tokens.clock,
        allow_insecure_token_url=True,
    )
    return HTTPSource(server.url(path), auth=auth, **options)


def test_oauth2_token_is_cached_across_pages(serve):
    tokens = TokenServer(FakeClock())
    server = serve({"/token": tokens.token, "/d": guarded(tokens.valid)})
    df = oauth_source(server, tokens, pagination="offset", page_size=2).read()
    assert df.count() == 6
    assert tokens.issued == ["tok-1"]
    assert tokens.forms == [{"grant_type": "client_credentials", "scope": "read"}]
    expected = "Basic " + base64.b64encode(b"client-1:s3cret").decode()
    assert tokens.auth_headers == [expected]


def test_oauth2_token_expiring_mid_read_is_fetched_again(serve):
    clock = FakeClock()
    tokens = TokenServer(clock, expires_in=120)

    def resource(request: Request) -> Reply:
        if not tokens.valid(request):
            return Reply(401, body=b"{}")
        if request.query.get("offset") == "2":
            clock.now += 100  # within the 60 s skew of expiry: the next page needs a new token
        return page_of(request)

    server = serve({"/token": tokens.token, "/d": resource})
    df = oauth_source(server, tokens, pagination="offset", page_size=2, concurrency=1).read()

    assert df.to_pylist() == RECORDS
    assert tokens.issued == ["tok-1", "tok-2"]
    sent = [r.header("authorization") for r in server.requests_to("/d")]
    assert sent == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2", "Bearer tok-2"]


def test_oauth2_revoked_token_is_refreshed_once_on_401(serve):
    tokens = TokenServer(FakeClock())
    revoked = {"tok-1"}

    def resource(request: Request) -> Reply:
        token = (request.header("authorization") or "").removeprefix("Bearer ")
        if token in revoked or not tokens.valid(request):
            return Reply(401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, b"{}")
        return page_of(request)

    server = serve({"/token": tokens.token, "/d": resource})
    assert oauth_source(server, tokens).read().count() == 6
    assert tokens.issued == ["tok-1", "tok-2"]
    assert len(server.requests_to("/d")) == 2


def test_oauth2_forever_401_stops_after_one_refresh(serve):
    tokens = TokenServer(FakeClock())
    server = serve({"/token": tokens.token, "/d": guarded(lambda r: False)})
    with pytest.raises(AuthenticationError):
        oauth_source(server, tokens).read()
    assert len(server.requests_to("/d")) == 2
    assert len(tokens.issued) == 2


@pytest.mark.parametrize("path", ["/d", "/events"])
@pytest.mark.parametrize("refused", ["the first token", "every token"])
def test_a_401_refreshes_the_token_once_for_a_page_and_an_event_stream_alike(
    serve, clock, monkeypatch, path, refused
):
    # One code path (Session._refresh, called by Session._authorized) decides for both a
    # page request and an SSE connection; the token endpoint counts the refreshes.
    tokens = TokenServer(FakeClock())
    decided: list[tuple[str, bool]] = []
    refresh = Session._refresh

    def spy(session, call, hop):
        refreshed = refresh(session, call, hop)
        decided.append((urlsplit(hop.url).path, refreshed))
        return refreshed

    monkeypatch.setattr(Session, "_refresh", spy)

    def accepted(request: Request) -> bool:
        first = request.header("authorization") == "Bearer tok-1"
        return tokens.valid(request) and not first and refused == "the first token"

    def events(request: Request) -> Reply:
        if not accepted(request):
            return Reply(401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, b"{}")
        return Reply(200, {"Content-Type": "text/event-stream"}, b'data: {"id": 1}\n\n')

    server = serve({"/token": tokens.token, "/d": guarded(accepted), "/events": events})
    streams = {"stream_type": "sse"} if path == "/events" else {}
    source = oauth_source(server, tokens, path, clock=clock, **streams)

    def read() -> int:
        if path == "/d":
            return source.read().count()
        with source.stream() as records:
            return len([next(records)])

    if refused == "the first token":
        assert read() >= 1
        assert decided == [(path, True)]
    else:
        with pytest.raises((AuthenticationError, SSEProtocolError)) as info:
            read()
        error = info.value if path == "/d" else info.value.__cause__
        assert isinstance(error, AuthenticationError)
        assert error.status == 401
        assert decided == [(path, True), (path, False)]
    assert tokens.issued == ["tok-1", "tok-2"]
    assert len(server.requests_to(path)) == 2


def test_oauth2_client_secret_post_puts_credentials_in_the_body_only(serve):
    tokens = TokenServer(FakeClock())
    server = serve({"/token": tokens.token, "/d": guarded(tokens.valid)})
    auth = {
        "type": "oauth2",
        "token_url": server.url("/token"),
        "client_id": "c",
        "client_secret": "s",
        "auth_method": "client_secret_post",
        "allow_insecure_token_url": True,
    }
    HTTPSource(server.url("/d"), auth=auth).read()
    assert tokens.forms == [
        {"grant_type": "client_credentials", "client_id": "c", "client_secret": "s"}
    ]
    assert tokens.auth_headers == [None]
    assert "?" not in server.requests_to("/token")[0].target


def test_oauth2_token_endpoint_errors(serve):
    def refuse(request: Request) -> Reply:
        return Reply(400, {"Content-Type": "application/json"}, b'{"error":"invalid_client"}')

    def no_token(request: Request) -> Reply:
        return Reply(200, {"Content-Type": "application/json"}, b'{"token_type":"Bearer"}')

    server = serve({"/refuse": refuse, "/none": no_token, "/d": page_of})
    for path, error, code in [
        ("/refuse", AuthenticationError, "invalid_client"),
        ("/none", TokenResponseError, None),
    ]:
        auth = OAuth2ClientCredentials(
            server.url(path), "c", "very-secret", allow_insecure_token_url=True
        )
        with pytest.raises(error) as info:
            HTTPSource(server.url("/d"), auth=auth).read()
        assert info.value.error == code
        assert "very-secret" not in str(info.value)
    assert len(server.requests_to("/refuse")) == 1  # invalid_client is not retried
    assert server.requests_to("/d") == []


def test_oauth2_concurrent_requests_on_a_cold_cache_share_one_token_fetch(serve):
    # docs/reliability.md test 31: 100 batches, up to 16 in flight, all start without a
    # token. The token endpoint is slow, so a client without single-flight would ask many
    # times while the first answer is on its way.
    tokens = TokenServer(FakeClock())
    ingest = IngestAPI()

    def slow_token(request: Request) -> Reply:
        time.sleep(0.2)  # the token endpoint is slow on purpose
        return tokens.token(request)

    def resource(request: Request) -> Reply:
        if not tokens.valid(request):
            return Reply(401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, b"{}")
        return ingest.handle(request)

    server = serve({"/token": slow_token, "/ingest": resource})
    auth = OAuth2ClientCredentials(
        server.url("/token"), "c", "s", clock=tokens.clock, allow_insecure_token_url=True
    )
    sink = HTTPSink(server.url("/ingest"), auth=auth, batch_size=1, max_in_flight=16)
    result = sink.write([{"id": i} for i in range(100)])

    assert result.records_delivered == 100
    assert tokens.issued == ["tok-1"]
    sent = [r.header("authorization") for r in server.requests_to("/ingest")]
    assert len(sent) == 100 and set(sent) == {"Bearer tok-1"}


def test_oauth2_token_endpoint_5xx_is_retried_and_other_token_types_are_refused(serve, clock):
    # docs/reliability.md test 34
    tokens = TokenServer(FakeClock())
    unavailable = {"left": 1}

    def flaky(request: Request) -> Reply:
        if unavailable["left"]:
            unavailable["left"] -= 1
            return Reply(503, {"Content-Type": "application/json"}, b"{}")
        return tokens.token(request)

    def mac(request: Request) -> Reply:
        body = b'{"access_token": "m-1", "token_type": "mac", "expires_in": 60}'
        return Reply(200, {"Content-Type": "application/json"}, body)

    server = serve({"/token": flaky, "/mac": mac, "/d": guarded(tokens.valid)})
    retry = RetryConfig(jitter=False)
    for path in ("/token", "/mac"):
        auth = OAuth2ClientCredentials(
            server.url(path), "c", "s", clock=tokens.clock, allow_insecure_token_url=True
        )
        source = HTTPSource(server.url("/d"), auth=auth, retry=retry, clock=clock)
        if path == "/token":
            assert source.read().count() == 6
        else:
            with pytest.raises(TokenResponseError, match="token_type 'mac' is not supported"):
                source.read()
    assert len(server.requests_to("/token")) == 2  # the 503, then the token
    assert tokens.issued == ["tok-1"]
    assert len(server.requests_to("/mac")) == 1  # refused, not retried
    assert [r.header("authorization") for r in server.requests_to("/d")] == ["Bearer tok-1"]


def test_client_secret_basic_encodes_per_rfc6749():
    from hiveframe._protocol.oauth import client_secret_basic

    header = client_secret_basic("1PpG/Q 1", "z/tZ9VwFZqApmIQ+ZH1I5pLk/uB4ud:X2/8bL+wfFTt1rFw=")
    assert header == (
        "Basic MVBwRyUyRlErMTp6JTJGdFo5VndGWnFBcG1JUSUyQlpIMUk1cExrJTJGdUI0dWQl"
        "M0FYMiUyRjhiTCUyQndmRlR0MXJGdyUzRA=="
    )
    raw = client_secret_basic("a b", "c+d", encoding="raw")
    assert raw == "Basic " + base64.b64encode(b"a b:c+d").decode()
