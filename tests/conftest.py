"""Fixtures: real HTTP servers on 127.0.0.1, started per test or per session."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import anyio
import pytest

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


class FakeClock:
    """A clock whose ``sleep`` records the wait and advances time instead of waiting.

    ``on_sleep`` runs at each sleep, so a test can change the world "while" time passes.
    """

    def __init__(self, start: float = 1_000.0, wall: float = 1_800_000_000.0) -> None:
        self.now = start
        self.wall_offset = wall - start
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[float], None] | None = None

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now + self.wall_offset

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(seconds)
        await anyio.sleep(0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
