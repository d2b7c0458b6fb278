"""Fixtures: real HTTP servers on 127.0.0.1, started per test or per session.

Every loopback server the suite builds has its handlers wrapped: an exception raised in a
handler (in a server thread, where it would only look like a dropped connection to the
client) fails the test during which it happened. Tests that start Spark get a longer
timeout than the suite's default (``timeout`` in pyproject.toml).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from cli_process import ServedDemo, demo_served
from clocks import FakeClock
from handler_errors import HANDLER_ERRORS
from hiveframe.demo import DemoServer, LoopbackServer
from hiveframe.demo._server import Handler
from scripted_server import Script, ScriptedServer

ServerFactory = Callable[[Mapping[str, Handler]], LoopbackServer]

pytest_plugins = ["pytester"]  # tests/test_suite_guards.py runs a small suite of its own

SPARK_TIMEOUT_SECONDS = 600  # a first SparkSession on a busy 2-core machine is slow
_TESTS = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    # docs/spark.md passes a token by reference (auth_token_env="DEMO_API_TOKEN"). Spark's
    # Python workers take their environment from the JVM when it starts, whichever test
    # starts it first, so the variable is set before any test runs.
    os.environ.setdefault("DEMO_API_TOKEN", "demo-token")
    # HiveFrame honours proxy variables by default; the suite talks to 127.0.0.1 only, and
    # tests/drivers/test_proxy.py sets them where it needs them.
    for name in ("http_proxy", "https_proxy", "no_proxy"):
        os.environ.pop(name, None)
        os.environ.pop(name.upper(), None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath)).resolve()
        starts_spark = _TESTS / "spark" in path.parents or item.name.endswith("[spark.md]")
        if starts_spark and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(SPARK_TIMEOUT_SECONDS))


@pytest.fixture(scope="session", autouse=True)
def _handlers_are_watched() -> Iterator[None]:
    """Wrap the routes of every LoopbackServer (and DemoServer) built during the session."""
    original = LoopbackServer.__init__

    def watched_init(self: LoopbackServer, routes: Mapping[str, Handler], **options: Any) -> None:
        original(self, HANDLER_ERRORS.wrap_routes(routes), **options)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LoopbackServer, "__init__", watched_init)
        yield


@pytest.fixture(autouse=True)
def _handler_errors_fail_the_test(_handlers_are_watched: None) -> Iterator[None]:
    mark = HANDLER_ERRORS.mark()
    yield
    errors = HANDLER_ERRORS.since(mark)
    if errors:
        pytest.fail(
            f"{len(errors)} exception(s) in test-server handlers:\n"
            + "\n".join(str(e) for e in errors),
            pytrace=False,
        )


@pytest.fixture(scope="session")
def demo() -> Iterator[DemoServer]:
    """The demo API with 250 records: pages of 100 end with a partial page of 50."""
    with DemoServer(records=250) as server:
        yield server


@pytest.fixture(scope="session")
def served_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedDemo]:
    """``hiveframe demo --serve --port 0 --records 250`` in a subprocess, for the session:
    the docs run against the command a user starts. It must stop on SIGTERM with exit code
    143 and no traceback."""
    stderr = tmp_path_factory.mktemp("served-demo") / "stderr.txt"
    with demo_served(records=250, stderr=stderr) as server:
        yield server


@pytest.fixture
def fresh_demo() -> Iterator[DemoServer]:
    """A demo API of its own, for tests that count the requests it receives."""
    with DemoServer(records=250) as server:
        yield server


@pytest.fixture
def scripted() -> Iterator[Callable[[Script], ScriptedServer]]:
    """Start a server that answers each connection with ``script`` (raw bytes); closed when
    the test ends."""
    servers: list[ScriptedServer] = []

    def start(script: Script) -> ScriptedServer:
        servers.append(ScriptedServer(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


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
