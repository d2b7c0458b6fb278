"""Credentials never reach another origin: not on redirects, not on next links."""

from __future__ import annotations

import pytest

from hiveframe.connectors import HTTPSource
from hiveframe.demo import Reply, Request
from hiveframe.errors import BlockedDestinationError, HTTPStatusError

CANARY = "canary-7f3a9"


def records(request: Request) -> Reply:
    return Reply(body=b'[{"id": 1}]', headers={"Content-Type": "application/json"})


def redirect_to(url: str):
    def handler(request: Request) -> Reply:
        return Reply(302, {"Location": url})

    return handler


def everything_sent(request: Request) -> str:
    return request.target + " " + " ".join(f"{k}={v}" for k, v in request.headers.items())


@pytest.mark.parametrize(
    "options",
    [
        {"auth": {"type": "bearer", "token": CANARY}},
        {"auth": {"type": "basic", "username": "u", "password": CANARY}},
        {"headers": {"X-API-Key": CANARY}},
        {"headers": {"Cookie": f"session={CANARY}"}},
        {"params": {"api_key": CANARY}},
        {"auth": {"type": "api_key", "name": "key", "value": CANARY, "in": "query"}},
        # docs/reliability.md test 46: credential query parameters, by name or by option
        {"params": {"key": CANARY}},
        {"params": {"sig": CANARY}},
        {"params": {"code": CANARY}},
        {"params": {"appid": CANARY}},
        {"params": {"Client-Secret": CANARY}},
        {"params": {"X-Amz-Signature": CANARY}},
        {"params": {"pin": CANARY}, "secret_params": ["PIN"]},
    ],
)
def test_redirect_to_another_origin_carries_no_credentials(serve, options):
    """docs/reliability.md test 35: credentials never cross an origin."""
    other = serve({"/collect": records})
    home = serve({"/data": redirect_to(other.url(f"/collect?key={CANARY}&sig={CANARY}&x=1"))})

    # Both servers are on 127.0.0.1, a private network: following needs the opt-out.
    df = HTTPSource(home.url("/data"), block_private_networks=False, **options).read()

    assert df.count() == 1
    (arrived,) = other.requests
    assert CANARY not in everything_sent(arrived)
    assert arrived.query.get("x") == "1"  # the rest of the redirect target is kept


def test_same_origin_redirect_keeps_credentials(serve):
    home = serve({"/data": redirect_to("/v2/data"), "/v2/data": records})
    HTTPSource(home.url("/data"), auth={"type": "bearer", "token": CANARY}).read()
    assert home.requests_to("/v2/data")[0].header("authorization") == f"Bearer {CANARY}"


def test_next_link_to_another_host_is_refused_unless_allowed(serve):
    other = serve({"/p2": records})
    other_url = other.url("/p2").replace("127.0.0.1", "localhost")

    def first(request: Request) -> Reply:
        return Reply(
            body=b'[{"id": 0}]',
            headers={"Content-Type": "application/json", "Link": f'<{other_url}>; rel="next"'},
        )

    home = serve({"/data": first})
    bearer = {"type": "bearer", "token": CANARY}
    with pytest.raises(BlockedDestinationError):
        HTTPSource(home.url("/data"), pagination="link", auth=bearer).read()
    assert other.requests == []

    df = HTTPSource(
        home.url("/data"), pagination="link", auth=bearer, allowed_hosts=["localhost"]
    ).read()
    assert df.count() == 2
    assert CANARY not in everything_sent(other.requests[0])


def test_repr_and_errors_never_show_secrets(serve):
    home = serve({"/data": lambda r: Reply(500, body=b"boom")})
    source = HTTPSource(
        home.url(f"/data?token={CANARY}"),
        headers={"X-API-Key": CANARY},
        auth={
            "type": "oauth2",
            "token_url": "https://auth.example/token",
            "client_id": "c",
            "client_secret": CANARY,
        },
        retry=None,
    )
    assert CANARY not in repr(source)
    basic = HTTPSource(
        home.url("/data"), auth={"type": "basic", "username": "u", "password": CANARY}, retry=None
    )
    with pytest.raises(HTTPStatusError) as info:
        basic.read()
    assert (info.value.status, info.value.body_excerpt) == (500, "boom")
    assert CANARY not in repr(basic) and CANARY not in str(info.value)


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.5/internal",
        "http://[::1]:9/x",
        "http://localhost:9/x",
    ],
)
def test_a_redirect_into_a_private_network_is_refused_before_connecting(serve, target):
    home = serve({"/data": redirect_to(target)})
    with pytest.raises(BlockedDestinationError, match="block_private_networks"):
        HTTPSource(home.url("/data"), retry=None).read()
    assert len(home.requests) == 1


def test_a_redirect_to_another_local_port_is_refused_by_default(serve):
    other = serve({"/collect": records})
    home = serve({"/data": redirect_to(other.url("/collect"))})
    with pytest.raises(BlockedDestinationError):
        HTTPSource(home.url("/data"), auth={"type": "bearer", "token": CANARY}).read()
    assert other.requests == []
