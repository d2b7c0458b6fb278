"""Proxies, through a real loopback proxy: ``proxy=``, HTTP(S)_PROXY and NO_PROXY per request
URL, CONNECT for HTTPS, and proxy credentials that go to the proxy alone and show nowhere.

The suite starts without proxy variables (tests/conftest.py); tests set them here."""

from __future__ import annotations

import base64
import logging
import ssl

import orjson
import pytest
import trustme

from hiveframe.connectors import HTTPSink, HTTPSource
from hiveframe.demo import LoopbackServer, Reply
from hiveframe.errors import ConfigError, HTTPError
from proxy_server import ProxyServer

PASSWORD = "pr0xy-s3cret"
ROWS = Reply(200, {"Content-Type": "application/json"}, b'[{"id": 1}, {"id": 2}]')


@pytest.fixture
def proxy():
    with ProxyServer() as server:
        yield server


def test_requests_go_through_the_proxy_option(serve, proxy, monkeypatch):
    server = serve({"/d": lambda r: ROWS})
    assert HTTPSource(server.url("/d"), proxy=proxy.url()).read().count() == 2
    assert [(r.method, r.target) for r in proxy.requests] == [("GET", server.url("/d"))]
    assert len(server.requests) == 1


def test_the_environment_is_honoured_and_no_proxy_bypasses_it(serve, proxy, monkeypatch):
    server = serve({"/d": lambda r: ROWS})
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    HTTPSource(server.url("/d")).read()
    assert len(proxy.requests) == 1
    monkeypatch.setenv("no_proxy", "example.com, 127.0.0.1")
    HTTPSource(server.url("/d")).read()
    assert len(proxy.requests) == 1  # the second read went straight to the server
    assert len(server.requests) == 2


def test_lower_case_variables_win_and_none_ignores_the_environment(serve, proxy, monkeypatch):
    server = serve({"/d": lambda r: ROWS})
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("http_proxy", proxy.url())
    HTTPSource(server.url("/d")).read()
    assert len(proxy.requests) == 1
    HTTPSource(server.url("/d"), proxy=None).read()
    assert len(proxy.requests) == 1
    assert len(server.requests) == 2


def test_proxy_credentials_go_to_the_proxy_alone(serve, monkeypatch, caplog):
    server = serve({"/d": lambda r: ROWS})
    with ProxyServer(credentials=("me", PASSWORD)) as proxy:
        url = proxy.url(f"me:{PASSWORD}")
        with caplog.at_level(logging.DEBUG, logger="hiveframe"):
            source = HTTPSource(server.url("/d"), proxy=url)
            assert source.read().count() == 2
    token = base64.b64encode(f"me:{PASSWORD}".encode()).decode()
    assert proxy.requests[0].headers["proxy-authorization"] == f"Basic {token}"
    assert "proxy-authorization" not in server.requests[0].headers
    assert PASSWORD not in repr(source) and "***@127.0.0.1" in repr(source)
    assert PASSWORD not in caplog.text and token not in caplog.text
    assert "***@127.0.0.1" in caplog.text  # the log says which proxy, masked


def test_a_refused_proxy_login_shows_no_credential(serve, monkeypatch, caplog):
    server = serve({"/d": lambda r: ROWS})
    with ProxyServer(credentials=("me", "the-right-one")) as proxy:
        source = HTTPSource(server.url("/d"), proxy=proxy.url(f"me:{PASSWORD}"), retry=None)
        with caplog.at_level(logging.DEBUG, logger="hiveframe"), pytest.raises(HTTPError) as info:
            source.read()
    assert "407" in str(info.value)
    assert PASSWORD not in str(info.value) and PASSWORD not in repr(info.value)
    assert PASSWORD not in caplog.text
    assert server.requests == []


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def test_https_goes_through_a_connect_tunnel(ca, tmp_path, monkeypatch):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    token = base64.b64encode(f"me:{PASSWORD}".encode()).decode()
    with (
        LoopbackServer({"/d": lambda r: ROWS}, ssl_context=context) as server,
        ProxyServer(credentials=("me", PASSWORD)) as proxy,
    ):
        monkeypatch.setenv("HTTPS_PROXY", proxy.url(f"me:{PASSWORD}"))
        assert HTTPSource(server.url("/d"), verify=str(bundle)).read().count() == 2
    connect = proxy.requests[0]
    assert (connect.method, connect.target) == ("CONNECT", f"127.0.0.1:{server.port}")
    assert connect.headers["proxy-authorization"] == f"Basic {token}"
    assert "proxy-authorization" not in server.requests[0].headers


def test_a_redirect_is_routed_by_its_own_url(serve, proxy, monkeypatch):
    # HiveFrame follows redirects itself, so each hop picks its proxy: here the API
    # redirects to a host NO_PROXY names, which is then reached directly.
    target = serve({"/d": lambda r: ROWS})
    moved = target.url("/d").replace("127.0.0.1", "localhost")
    start = serve({"/start": lambda r: Reply(302, {"Location": moved}, b"")})
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    monkeypatch.setenv("NO_PROXY", "localhost")
    source = HTTPSource(start.url("/start"), block_private_networks=False)
    assert source.read().count() == 2
    assert [r.target for r in proxy.requests] == [start.url("/start")]
    assert len(target.requests) == 1


def test_the_sink_goes_through_the_proxy(serve, proxy, monkeypatch):
    server = serve({"/ingest": lambda r: Reply(200, {}, b"{}")})
    sink = HTTPSink(server.url("/ingest"), proxy=proxy.url())
    assert sink.write([{"id": 1}, {"id": 2}]).records_delivered == 2
    assert [(r.method, r.target) for r in proxy.requests] == [("POST", server.url("/ingest"))]
    assert orjson.loads(server.requests[0].body) == [{"id": 1}, {"id": 2}]


@pytest.mark.parametrize(
    "proxy_url", [f"socks5://me:{PASSWORD}@127.0.0.1:1080", "http://", "http://host:0", 3128]
)
def test_a_proxy_that_is_not_an_http_url_is_refused_without_its_password(proxy_url):
    with pytest.raises(ConfigError) as info:
        HTTPSource("https://api.example.com/d", proxy=proxy_url)
    assert info.value.option == "proxy"
    assert PASSWORD not in str(info.value)


def test_a_bad_proxy_variable_is_named(serve, monkeypatch):
    server = serve({"/d": lambda r: ROWS})
    monkeypatch.setenv("HTTP_PROXY", f"socks5://me:{PASSWORD}@127.0.0.1:1080")
    with pytest.raises(ConfigError) as info:
        HTTPSource(server.url("/d")).read()
    assert info.value.option == "http_proxy"
    assert PASSWORD not in str(info.value)
    assert server.requests == []


def test_a_proxy_without_a_scheme_is_http():
    source = HTTPSource("https://api.example.com/d", proxy="proxy.internal:3128")
    assert source.session_config.proxy == "http://proxy.internal:3128"
