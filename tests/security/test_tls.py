"""TLS is verified by default; a CA bundle is honoured; turning verification off warns."""

from __future__ import annotations

import ssl

import pytest
import trustme

from hiveframe.connectors import HTTPSource
from hiveframe.demo import LoopbackServer, Reply
from hiveframe.errors import ConnectError, InsecureTLSWarning


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_server(ca):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    routes = {"/d": lambda r: Reply(200, {"Content-Type": "application/json"}, b'[{"id": 1}]')}
    with LoopbackServer(routes, ssl_context=context) as server:
        yield server


def test_an_unknown_certificate_authority_is_refused(tls_server):
    with pytest.raises(ConnectError, match=r"(?i)certificate"):
        HTTPSource(tls_server.url("/d"), retry=None).read()
    assert tls_server.requests == []


def test_a_ca_bundle_is_trusted(tls_server, ca, tmp_path):
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    assert HTTPSource(tls_server.url("/d"), verify=str(bundle)).read().count() == 1


def test_verify_false_works_and_warns(tls_server):
    source = HTTPSource(tls_server.url("/d"), verify=False)
    with pytest.warns(InsecureTLSWarning):
        assert source.read().count() == 1
