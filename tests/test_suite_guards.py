"""The suite's own guards: they make a broken test fail instead of passing by accident.

- an exception in a test server's handler fails the test that caused it;
- every test has a time limit;
- the faults the servers inject are the faults their names promise (a clean close is a FIN,
  an abort is a reset).
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from faults import FaultyCollection
from handler_errors import HANDLER_ERRORS
from hiveframe.demo import Reply

TESTS = Path(__file__).resolve().parent


def test_handler_exceptions_are_recorded_whether_raised_by_the_call_or_the_body(serve):
    def broken(request):
        raise KeyError("no such page")

    def broken_body(request):
        def chunks():
            yield b'[{"id": 1}'
            raise ZeroDivisionError("mid-body")

        return Reply(200, {"Content-Type": "application/json"}, chunks())

    mark = HANDLER_ERRORS.mark()
    server = serve({"/raise": broken, "/body": broken_body})
    assert exchange(server.port, "/raise") == b""  # dropped before any response byte
    assert exchange(server.port, "/body").endswith(b'[{"id": 1}\r\n')  # dropped mid-body

    taken = HANDLER_ERRORS.take(mark)  # taken, so this test itself does not fail
    assert [(e.path, type(e.error)) for e in taken] == [
        ("/raise", KeyError),
        ("/body", ZeroDivisionError),
    ]
    assert "mid-body" in str(taken[1])


def test_a_test_whose_handler_raised_fails_at_teardown(pytester):
    for name in (
        "conftest.py",
        "handler_errors.py",
        "clocks.py",
        "cli_process.py",
        "waiting.py",
        "scripted_server.py",
    ):
        shutil.copy(TESTS / name, pytester.path / name)
    pytester.makepyfile(
        test_inner="""
        import urllib.request, urllib.error
        from hiveframe.demo import Reply

        def test_broken_server(serve):
            def handler(request):
                return {}["missing"]
            server = serve({"/x": handler})
            try:
                urllib.request.urlopen(server.url("/x"), timeout=10)
            except (urllib.error.URLError, ConnectionError):
                pass  # what a client sees: a dropped connection, nothing to assert on

        def test_healthy_server(serve):
            server = serve({"/x": lambda request: Reply(body=b"ok")})
            assert urllib.request.urlopen(server.url("/x"), timeout=10).read() == b"ok"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_broken_server*", "*KeyError*"])


def test_every_test_has_a_time_limit(request):
    assert request.config.pluginmanager.hasplugin("timeout")
    assert 0 < float(request.config.getini("timeout")) <= 120
    assert '"pytest-timeout' in (TESTS.parent / "pyproject.toml").read_text()  # the test extra
    assert request.node.get_closest_marker("timeout") is None  # the default applies here


def test_a_short_body_closed_cleanly_ends_with_fin_not_reset(serve):
    server = serve({"/c": FaultyCollection(10, {0: ["short_fin"], 10: ["short"]})})
    clean = read_raw(server.port, "/c?offset=0&limit=10")
    assert clean.endswith(b'record-9"}]')  # ...everything but the last record
    with pytest.raises(ConnectionResetError):
        read_raw(server.port, "/c?offset=10&limit=10")


def exchange(port: int, target: str) -> bytes:
    """Everything the server sends for one request until it closes the connection.

    Returns once the server closed cleanly (FIN: ``recv`` returns ``b""``); a reset raises
    ``ConnectionResetError``.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def read_raw(port: int, target: str) -> bytes:
    """The body of a response the server cut short, checked to be shorter than declared."""
    head, _, body = exchange(port, target).partition(b"\r\n\r\n")
    declared = int(
        next(
            line.split(b":")[1]
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
    )
    assert len(body) < declared  # the fault: fewer bytes than Content-Length
    return body
