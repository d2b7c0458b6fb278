"""Secrets set to canary strings never show: not in repr, str, logs or tracebacks."""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
import traceback
from typing import Any
from urllib.parse import quote, quote_plus, urlencode

import orjson
import pytest

from hiveframe.connectors import HTTPSink, HTTPSource
from hiveframe.demo import LoopbackServer, Reply, Request
from hiveframe.errors import (
    ConfigError,
    DeliveryFailed,
    HiveFrameError,
    HTTPStatusError,
    RetryExhausted,
)
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


# -- servers that echo every secret they receive -------------------------------------------
#
# docs/reliability.md test 36 (secret canaries) and test 46 (credential query parameters):
# a server that copies the request's headers and query into its error bodies and into the
# URL it redirects to must not make HiveFrame show a secret it knows, anywhere.

TOKEN = "cnry-bearer-0a1b2c"
PASSWORD = "cnry-basic-pw-3d4e"
HEADER_KEY = "cnry-header-key-5f6a"
QUERY_KEY = "cnry/query+key-7b8c"  # travels percent-encoded
SIG, CODE, APPID = "cnry-sig-9d0e", "cnry-code-1f2a", "cnry-appid-3b4c"
PIN = "cnry-pin-5d6e"  # a parameter only the user knows is a credential
URL_KEY = "cnry-url-apikey-ef01"
SIGNING = "cnry-signing-7f8a"  # a header only the user knows is a credential
COOKIE = "cnry-cookie-2b3c"
CLIENT_SECRET = "cnry-client-secret-9b0c"
OAUTH_TOKENS = ("cnry-oauth-first-ab12", "cnry-oauth-refreshed-cd34")

CANARIES = [
    TOKEN,
    PASSWORD,
    base64.b64encode(f"user:{PASSWORD}".encode()).decode(),
    HEADER_KEY,
    QUERY_KEY,
    quote(QUERY_KEY, safe=""),
    quote_plus(QUERY_KEY, safe="/"),  # as it travels in a query
    SIG,
    CODE,
    APPID,
    PIN,
    URL_KEY,
    SIGNING,
    COOKIE,
    CLIENT_SECRET,
    base64.b64encode(f"app:{CLIENT_SECRET}".encode()).decode(),
    *OAUTH_TOKENS,
]
# Sent with every request, so a server has them to echo: parameters through the URL.
URL_CREDENTIALS = f"?sig={SIG}&code={CODE}&appid={APPID}&pin={PIN}&api-key={URL_KEY}&q=1"
PLUMBING = {"host", "user-agent", "accept-encoding", "content-length", "accept", "connection"}


def credentials(base_url: str) -> dict[str, dict[str, Any]]:
    """Each way of giving HiveFrame a credential, as source/sink options."""
    return {
        "bearer": {"auth": {"type": "bearer", "token": TOKEN}},
        "basic": {"auth": {"type": "basic", "username": "user", "password": PASSWORD}},
        "api-key-header": {"auth": {"type": "api_key", "name": "X-Custom", "value": HEADER_KEY}},
        "api-key-query": {
            "auth": {"type": "api_key", "name": "key", "value": QUERY_KEY, "in": "query"}
        },
        "secret-headers": {
            "headers": {"X-Signing": SIGNING, "Cookie": f"sid={COOKIE}"},
            "secret_headers": ["x-signing"],
        },
        "oauth2": {
            "auth": {
                "type": "oauth2",
                "token_url": f"{base_url}/token",
                "client_id": "app",
                "client_secret": CLIENT_SECRET,
                "allow_insecure_token_url": True,
            }
        },
    }


def sent(request: Request) -> str:
    """What a request carried that may hold a secret, the query first (an excerpt is short)."""
    headers = [f"{k}: {v}" for k, v in request.headers.items() if k not in PLUMBING]
    return "\n".join([request.target, *headers])


def echo(status: int):
    return lambda request: Reply(status, {"Content-Type": "text/plain"}, sent(request).encode())


def redirect_echoing_to(url: str):
    """A redirect to ``url`` whose query copies the request's parameters and headers, under
    their own names and under innocent ones."""

    def handler(request: Request) -> Reply:
        copied = {**request.query}
        copied |= {f"h-{k}": v for k, v in request.headers.items() if k not in PLUMBING}
        copied |= {f"v{i}": v for i, v in enumerate(copied.values())}
        return Reply(302, {"Location": f"{url}?{urlencode(copied)}"})

    return handler


class TokenEndpoint:
    """Hands out the OAuth2 canary tokens in turn; the API refuses the first one (401)."""

    def __init__(self) -> None:
        self.issued = 0

    def __call__(self, request: Request) -> Reply:
        token = OAUTH_TOKENS[min(self.issued, len(OAUTH_TOKENS) - 1)]
        self.issued += 1
        body = {"access_token": token, "token_type": "Bearer", "expires_in": 3600}
        return Reply(200, {"Content-Type": "application/json"}, orjson.dumps(body))


def refusing_the_first_token(handler):
    def guarded(request: Request) -> Reply:
        if request.header("authorization") == f"Bearer {OAUTH_TOKENS[0]}":
            return echo(401)(request)
        return handler(request)

    return guarded


@pytest.fixture
def echo_servers(serve):
    """``home`` echoes (``/400``, ``/500``, ``/redirect`` to ``other``); ``other`` too."""
    other = serve({"/landing": echo(500)})
    routes = {
        "/400": echo(400),
        "/500": echo(500),
        "/redirect": redirect_echoing_to(other.url("/landing")),
    }
    home = serve(
        {"/token": TokenEndpoint(), **{p: refusing_the_first_token(h) for p, h in routes.items()}}
    )
    return home, other


def error_texts(error: BaseException) -> list[str]:
    texts = ["".join(traceback.format_exception(error))]
    seen: set[int] = set()
    stack = [error]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        texts += [str(current), repr(current)]
        stack += [e for e in (current.__cause__, current.__context__) if e is not None]
    return texts


def shown_canaries(texts: list[str]) -> list[str]:
    return sorted({canary for canary in CANARIES for text in texts if canary in text})


def echoed_canaries(server: LoopbackServer) -> list[str]:
    return shown_canaries([sent(request) for request in server.requests])


@pytest.mark.parametrize("path", ["/400", "/500", "/redirect"])
@pytest.mark.parametrize("way", sorted(credentials("")))
def test_a_failed_read_shows_no_secret_the_server_echoed(echo_servers, clock, caplog, path, way):
    home, other = echo_servers
    caplog.set_level(logging.DEBUG)
    source = HTTPSource(
        home.url(path + URL_CREDENTIALS),
        params={"key2": "x", "pin": PIN},
        secret_params=["PIN"],
        retry=RetryConfig(max_attempts=2, jitter=False),
        block_private_networks=False,
        clock=clock,
        **credentials(home.base_url)[way],
    )

    with pytest.raises(HiveFrameError) as info:
        source.read()

    assert echoed_canaries(home)  # the server did echo secrets back
    assert shown_canaries([*error_texts(info.value), caplog.text, repr(source)]) == []
    assert echoed_canaries(other) == []  # and the redirect took none along


def test_read_credentials_in_params_show_nowhere(echo_servers, clock, caplog):
    home, _ = echo_servers
    caplog.set_level(logging.DEBUG)
    source = HTTPSource(
        home.url("/500"),
        params={"key": QUERY_KEY, "sig": SIG, "code": CODE, "appid": APPID, "pin": PIN},
        secret_params=["pin"],
        retry=RetryConfig(max_attempts=2, jitter=False),
        clock=clock,
    )
    with pytest.raises(RetryExhausted) as info:
        source.read()
    assert len(echoed_canaries(home)) >= 5
    assert shown_canaries([*error_texts(info.value), caplog.text]) == []
    assert "pin=***" in str(info.value) and "sig=***" in str(info.value)


@pytest.mark.parametrize("path", ["/400", "/500", "/redirect"])
@pytest.mark.parametrize("way", sorted(credentials("")))
def test_a_failed_write_shows_no_secret_in_dead_letters_errors_or_logs(
    echo_servers, clock, caplog, tmp_path, path, way
):
    home, _ = echo_servers
    caplog.set_level(logging.DEBUG)
    options = {
        "retry": RetryConfig(max_attempts=2, jitter=False),
        "secret_params": ["pin"],
        "clock": clock,
        **credentials(home.base_url)[way],
    }
    dead_letter = tmp_path / "failed.jsonl"
    kept = HTTPSink(home.url(path + URL_CREDENTIALS), dead_letter=dead_letter, **options)
    assert kept.write([{"id": 1}]).records_dead_lettered == 1
    with pytest.raises(DeliveryFailed) as info:
        HTTPSink(home.url(path + URL_CREDENTIALS), **options).write([{"id": 2}])

    (line,) = [orjson.loads(text) for text in dead_letter.read_text().splitlines()]
    assert line["url"].endswith("pin=***&api-key=***&q=1")
    assert echoed_canaries(home)
    texts = [dead_letter.read_text(), *error_texts(info.value), caplog.text, repr(kept)]
    assert shown_canaries(texts) == []


@pytest.mark.parametrize("status", [403, 500])
def test_a_failed_event_stream_shows_no_secret_the_server_echoed(serve, clock, caplog, status):
    server = serve({"/events": echo(status)})
    caplog.set_level(logging.DEBUG)
    source = HTTPSource(
        server.url("/events" + URL_CREDENTIALS),
        stream_type="sse",
        secret_params=["pin"],
        auth={"type": "bearer", "token": TOKEN},
        retry=RetryConfig(max_attempts=2, jitter=False),
        clock=clock,
    )
    with pytest.raises(HiveFrameError) as info, source.stream() as records:
        next(records)
    assert echoed_canaries(server)
    assert shown_canaries([*error_texts(info.value), caplog.text]) == []
    cause = info.value.__cause__  # the answer stays in the chain, scrubbed
    assert isinstance(cause, HTTPStatusError) and cause.status == status
    assert "authorization: ***" in cause.body_excerpt


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hiveframe.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("path", ["/400", "/redirect"])
def test_the_command_line_shows_no_secret_on_stderr(echo_servers, tmp_path, path):
    home, _ = echo_servers
    params = [f"--param=key={QUERY_KEY}", f"--param=sig={SIG}", f"--param=pin={PIN}"]
    read = run_cli(
        "read",
        home.url(path + f"?appid={APPID}"),
        *params,
        "--secret-param=pin",
        "--bearer-env=HF_CANARY",
        "--quiet",
        env={"HF_CANARY": TOKEN},
    )
    records = tmp_path / "records.jsonl"
    records.write_text('{"id": 1}\n')
    dead_letter = tmp_path / "failed.jsonl"
    write = run_cli(
        "write",
        str(records),
        home.url(path + URL_CREDENTIALS),
        "--secret-param=pin",
        "--bearer-env=HF_CANARY",
        f"--dead-letter={dead_letter}",
        "--quiet",
        env={"HF_CANARY": TOKEN},
    )

    assert read.returncode == 1 and "error" in read.stderr
    assert write.returncode == 1 and dead_letter.exists()
    assert echoed_canaries(home)
    texts = [read.stderr, read.stdout, write.stderr, write.stdout, dead_letter.read_text()]
    assert shown_canaries(texts) == []


@pytest.mark.parametrize("option", ["secret_params", "secret_headers"])
def test_secret_names_must_be_a_list_of_names(option):
    with pytest.raises(ConfigError) as info:
        HTTPSource("https://api.example/data", **{option: "pin"})
    assert info.value.option == option
    with pytest.raises(ConfigError):
        HTTPSink("https://api.example/ingest", **{option: "pin"})
