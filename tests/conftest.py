"""Fixtures: real HTTP servers on 127.0.0.1, started per test or per session."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import pytest

from clocks import FakeClock
from hiveframe.demo import DemoServer, LoopbackServer
from hiveframe.demo._server import Handler

ServerFactory = Callable[[Mapping[str, Handler]], LoopbackServer]


@pytest.fixture(scope="session")
def demo() -> Iterator[DemoServer]:
    """The demo API with 250 records: pages of 100 end with a partial page of 50."""
    with DemoServer(records=250) as server:
        yield server


@pytest.fixture
def fresh_demo() -> Iterator[DemoServer]:
    """A demo API of its own, for tests that count the requests it receives."""
    with DemoServer(records=250) as server:
        yield server


@pytest.fixture
def serve() -> Iterator[ServerFactory]:
    """Start a loopback server for the given routes; stopped when the test ends."""
    servers: list[LoopbackServer] = []

    def start(routes: Mapping[str, Handler]) -> LoopbackServer:
        server = LoopbackServer(routes).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
