"""The proxy variables are read as the standard library reads them (without importing it)."""

from __future__ import annotations

import urllib.request

import pytest

from hiveframe._http.proxy import environment_proxies

ENVIRONMENTS = [
    {},
    {"HTTP_PROXY": "http://upper:1", "http_proxy": "http://lower:2"},
    {"HTTPS_PROXY": "http://upper:1", "https_proxy": ""},  # an empty lower-case one unsets
    {"Https_Proxy": "http://mixed:1", "NO_PROXY": "example.com"},
    {"HTTP_PROXY": "http://client-header:1", "REQUEST_METHOD": "GET"},  # CGI
    {"HTTP_PROXY": "http://upper:1", "http_proxy": "http://lower:2", "REQUEST_METHOD": "GET"},
    {"no_proxy": "", "NO_PROXY": "a.b", "ftp_proxy": "http://ftp:1", "HTTP_PROXY": ""},
]


@pytest.mark.parametrize("variables", ENVIRONMENTS)
def test_the_environment_reads_as_urllib_reads_it(variables, monkeypatch):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert environment_proxies() == urllib.request.getproxies_environment()
