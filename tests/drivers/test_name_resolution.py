"""A host name that does not resolve is not retried; a resolver that did not answer, once.

Beside docs/reliability.md test 4 (status classification): a failure before any status is
classified too. ``nonexistent.invalid`` never resolves (RFC 6761 reserves ``.invalid``), so
no network is needed: the resolver says so at once, or, on a machine where no DNS server
answers, the test is skipped. Retries wait on the fake clock, so ``clock.sleeps`` counts
them. The temporary failure (``EAI_AGAIN``) is made by the system resolver's own function,
answering for one made-up name; the HTTP request then goes to a real loopback server.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

import aiohttp.resolver
import pytest

from faults import FaultyCollection
from hiveframe.connectors import HTTPSource
from hiveframe.errors import ConnectError, NameResolutionError

INVALID = "nonexistent.invalid"
FLAKY = "flaky.invalid"


@pytest.fixture(scope="module")
def resolver_answers() -> None:
    """Skip unless the resolver says, within 10 s, that ``nonexistent.invalid`` does not exist."""
    answers: list[int] = []

    def look_up() -> None:
        try:
            socket.getaddrinfo(INVALID, 80)
        except socket.gaierror as exc:
            answers.append(exc.errno)

    lookup = threading.Thread(target=look_up, daemon=True)
    lookup.start()
    lookup.join(10)
    if not answers:
        pytest.skip("no resolver answers here for a name that does not exist")


def test_a_name_that_does_not_resolve_fails_without_retries(clock, resolver_answers):
    source = HTTPSource(f"http://{INVALID}/items", clock=clock)
    with pytest.raises(NameResolutionError) as info:
        source.read()
    error = info.value
    assert isinstance(error, ConnectError) and error.host == INVALID
    assert f"could not resolve host {INVALID!r}" in str(error)
    assert len(clock.sleeps) == (1 if error.temporary else 0)  # no DNS server: one retry


def test_the_command_line_says_so_in_one_line(resolver_answers):
    command = [sys.executable, "-m", "hiveframe.cli", "read", f"http://{INVALID}/items"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 1
    assert run.stderr.startswith(f"hiveframe: error: could not resolve host {INVALID!r}")
    assert "Traceback" not in run.stderr and "gave up after" not in run.stderr


@pytest.fixture
def flaky_dns(monkeypatch):
    """``flaky.invalid`` fails with ``EAI_AGAIN`` the first ``failures[0]`` times it is looked
    up, then resolves to 127.0.0.1; every other name resolves as usual."""
    if aiohttp.resolver.DefaultResolver is not aiohttp.resolver.ThreadedResolver:
        pytest.skip("aiohttp resolves names with aiodns here, not the system resolver")
    real = socket.getaddrinfo
    failures = [0]
    lookups: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != FLAKY:
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        if len(lookups) <= failures[0]:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real("127.0.0.1", port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return failures, lookups


@pytest.fixture
def api(serve):
    return serve({"/items": FaultyCollection(5)})


def test_a_resolver_that_did_not_answer_gets_one_more_try(flaky_dns, api, clock):
    failures, lookups = flaky_dns
    failures[0] = 1
    url = api.url("/items").replace("127.0.0.1", FLAKY)
    assert HTTPSource(url, clock=clock).read().count() == 5
    assert len(lookups) == 2 and len(clock.sleeps) == 1


def test_a_resolver_that_does_not_answer_twice_fails(flaky_dns, api, clock):
    failures, lookups = flaky_dns
    failures[0] = 5
    url = api.url("/items").replace("127.0.0.1", FLAKY)
    with pytest.raises(NameResolutionError) as info:
        HTTPSource(url, clock=clock).read()
    assert info.value.temporary and info.value.host == FLAKY
    assert len(lookups) == 2 and len(clock.sleeps) == 1  # not the policy's 5 attempts
