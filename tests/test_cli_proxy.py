"""``hiveframe`` through a real loopback proxy: the environment's HTTP_PROXY and NO_PROXY,
``--proxy URL|none``, and proxy credentials that reach the proxy and are never printed."""

from __future__ import annotations

import base64

from cli_process import hiveframe, one_line
from hiveframe.demo._ingest import IngestAPI
from proxy_server import ProxyServer

PASSWORD = "pr0xy-pa55"
TOKEN = base64.b64encode(f"me:{PASSWORD}".encode()).decode()


def test_read_goes_through_http_proxy_unless_no_proxy_names_the_host(fresh_demo):
    url = fresh_demo.url("/data")
    with ProxyServer() as proxy:
        through = hiveframe("read", url, HTTP_PROXY=proxy.url())
        direct = hiveframe("read", url, HTTP_PROXY=proxy.url(), NO_PROXY="localhost,127.0.0.1")
        ignored = hiveframe("read", url, "--proxy", "none", http_proxy=proxy.url())
    assert through.returncode == direct.returncode == ignored.returncode == 0
    assert through.stdout == direct.stdout == ignored.stdout != ""
    assert [(r.method, r.target) for r in proxy.requests] == [("GET", url)]
    assert len(fresh_demo.requests) == 3


def test_proxy_credentials_reach_the_proxy_alone_and_are_never_printed(fresh_demo, serve):
    ingest = IngestAPI()
    ingest.server = serve(ingest.routes())
    with ProxyServer(credentials=("me", PASSWORD)) as proxy:
        proxy_url = proxy.url(f"me:{PASSWORD}")
        read = hiveframe("read", fresh_demo.url("/data"), "--proxy", proxy_url, "-v")
        write = hiveframe(
            "write",
            "-",
            ingest.server.url("/ingest"),
            "-v",
            stdin=read.stdout.encode(),
            HTTPS_PROXY="http://127.0.0.1:9",
            HTTP_PROXY=proxy_url,
        )
    assert read.returncode == 0 and write.returncode == 0, read.stderr + write.stderr
    assert len(ingest.records) == 100
    assert [r.method for r in proxy.requests] == ["GET", "POST"]
    assert {r.headers["proxy-authorization"] for r in proxy.requests} == {f"Basic {TOKEN}"}
    seen = [*fresh_demo.requests, *ingest.server.requests]
    assert all("proxy-authorization" not in r.headers for r in seen)
    for result in (read, write):
        assert "proxies for" in result.stderr and "***@127.0.0.1" in result.stderr
        assert PASSWORD not in result.stderr and TOKEN not in result.stderr


def test_a_refused_proxy_login_is_one_line_without_the_password(fresh_demo):
    with ProxyServer(credentials=("me", "another-one")) as proxy:
        result = hiveframe("read", fresh_demo.url("/data"), "--proxy", proxy.url(f"me:{PASSWORD}"))
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "407" in line and PASSWORD not in line
    assert fresh_demo.requests == []


def test_a_proxy_that_is_not_http_is_a_usage_error(fresh_demo):
    result = hiveframe("read", fresh_demo.url("/data"), "--proxy", f"socks5://me:{PASSWORD}@h:1")
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith("hiveframe: error: proxy='socks5://***@h:1': ") and PASSWORD not in line
    assert fresh_demo.requests == []
