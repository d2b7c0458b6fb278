"""Ctrl-C and SIGTERM end every command cleanly, within a bound, without a traceback.

docs/reliability.md test 47. Each command runs in a process of its own against a loopback
server that the test holds up (a request waits on a gate), so a signal always lands while
the work is in progress: a write with requests in flight, a read waiting for a page, a
stream whose sink is stuck. Each must exit within its bound (``HARD_STOP_SECONDS`` after its
stop is due, when the last resort ends it saying "exiting now"), and the clean ways of
stopping must not need that last resort.
A Python script interrupted while it iterates pages gets its ``KeyboardInterrupt``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hiveframe.cli._signals import HARD_STOP_SECONDS
from hiveframe.demo import Reply, Request
from hiveframe.demo._events import EventsAPI
from hiveframe.demo._ingest import IngestAPI
from waiting import WAIT, eventually

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

SIGNALS = [signal.SIGINT, signal.SIGTERM]
SLACK = 3.0  # for starting and ending a process on a busy machine


class Gate:
    """A handler that answers the first ``free`` requests at once and holds up the rest."""

    def __init__(self, handler, free: int = 0) -> None:
        self.handler = handler
        self.free = free
        self.arrived = 0
        self.open = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        with self._lock:
            self.arrived += 1
            held = self.arrived > self.free
        if held:
            self.open.wait(WAIT * 3)
        return self.handler(request)


@pytest.fixture
def gated(serve) -> Iterator:
    """``gated(handler, free=..., path=..., routes=...)``: a server whose ``path`` is gated."""
    gates: list[Gate] = []

    def start(handler, *, free: int = 0, path: str = "/ingest", routes=None):
        gate = Gate(handler, free)
        gates.append(gate)
        return gate, serve({**(routes or {}), path: gate})

    yield start
    for gate in gates:
        gate.open.set()  # let held requests finish before the server stops


class Child:
    """``hiveframe ARGS`` in a process of its own, its stderr collected line by line."""

    def __init__(self, *args: str) -> None:
        command = [sys.executable, "-m", "hiveframe.cli", *args]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def signal(self, signum: int) -> float:
        """Send ``signum``; return when it was sent (monotonic)."""
        self.process.send_signal(signum)
        return time.monotonic()

    def wait(self, bound: float) -> tuple[int, float, str]:
        """Exit code, time it exited (monotonic) and stderr; fail if it runs past ``bound``."""
        try:
            code = self.process.wait(timeout=bound)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"still running {bound}s later; stderr: {self.lines}") from None
        finally:
            self._reader.join(WAIT)
            assert self.process.stderr is not None
            self.process.stderr.close()
        return code, time.monotonic(), "".join(self.lines)


def checkpoint_of(folder: Path) -> dict:
    (file,) = folder.glob("*.json")
    return json.loads(file.read_text())["position"]


def write_rows(path: Path, count: int) -> Path:
    path.write_text("".join(json.dumps({"id": i}) + "\n" for i in range(1, count + 1)))
    return path


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_write_in_progress_ends_promptly_and_quietly(gated, tmp_path, signum):
    gate, server = gated(IngestAPI().handle)  # no request ever gets an answer
    rows = write_rows(tmp_path / "rows.jsonl", 2000)
    child = Child("write", str(rows), server.url("/ingest"), "--batch-size", "10", "--quiet")
    eventually(lambda: gate.arrived >= 1)  # requests are in flight

    child.signal(signum)
    code, _, err = child.wait(HARD_STOP_SECONDS + SLACK)

    assert code == 128 + signum, err  # 130 for Ctrl-C, 143 for SIGTERM
    assert "Traceback" not in err and "exiting now" not in err  # stopped, not cut short


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_read_waiting_for_a_page_ends_promptly_and_quietly(gated, tmp_path, signum):
    events = EventsAPI(initial=10, every_seconds=None)
    gate, server = gated(events.poll, path="/events")
    child = Child("read", server.url("/events"), "-o", str(tmp_path / "out.parquet"), "--quiet")
    eventually(lambda: gate.arrived >= 1)

    child.signal(signum)
    code, _, err = child.wait(HARD_STOP_SECONDS + SLACK)

    assert code == 128 + signum, err
    assert "Traceback" not in err and "exiting now" not in err
    assert not (tmp_path / "out.parquet").exists()


def stuck_stream(gated, tmp_path, *options: str) -> tuple[IngestAPI, Child]:
    """A stream of 12 events into an HTTP sink that takes the first 2 batches of 4, then hangs."""
    events = EventsAPI(initial=12, every_seconds=None)
    ingest = IngestAPI()
    gate, server = gated(ingest.handle, free=2, routes=events.routes())
    child = Child(
        "stream", server.url("/stream"), "--sse", "--to", server.url("/ingest"),
        "--batch-size", "4", "--checkpoint-dir", str(tmp_path), *options,
    )  # fmt: skip
    eventually(lambda: gate.arrived >= 3 and child.said("checkpoint:"))  # the third is held
    eventually(lambda: checkpoint_of(tmp_path)["last_event_id"] == "8")
    return ingest, child


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_second_signal_ends_a_stream_whose_graceful_stop_hangs(gated, tmp_path, signum):
    ingest, child = stuck_stream(gated, tmp_path, "--shutdown-timeout", "120")
    child.signal(signum)
    eventually(lambda: child.said("stopping:"))  # the graceful stop waits for the sink

    child.signal(signum)
    code, _, err = child.wait(SLACK)  # not the 120 s the graceful stop could still take

    assert code == 128 + signum, err
    assert "exiting now" in err and "Traceback" not in err
    assert checkpoint_of(tmp_path)["last_event_id"] == "8"  # the last batch acknowledged
    assert [record["id"] for record in ingest.records] == list(range(1, 9))


def test_the_shutdown_timeout_bounds_a_graceful_stop(gated, tmp_path):
    _, child = stuck_stream(gated, tmp_path, "--shutdown-timeout", "1")
    sent = child.signal(signal.SIGTERM)
    code, ended, err = child.wait(1 + HARD_STOP_SECONDS + SLACK)

    assert code == 143, err
    assert ended - sent >= 1  # the graceful stop had its second, then the stream stopped
    assert "stopped: 8 records delivered" in err
    assert "Traceback" not in err and "exiting now" not in err
    assert checkpoint_of(tmp_path)["last_event_id"] == "8"


SCRIPT = """
import sys
from hiveframe.connectors import HTTPSource

try:
    for batch in HTTPSource(sys.argv[1]).iter_batches():
        pass
except KeyboardInterrupt:
    print("KeyboardInterrupt")
"""


def test_ctrl_c_in_a_script_that_iterates_pages_is_a_keyboard_interrupt(gated):
    # Not a RuntimeError from closing the page generator while it was still running.
    gate, server = gated(EventsAPI(initial=10, every_seconds=None).poll, path="/events")
    script = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, server.url("/events")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    eventually(lambda: gate.arrived >= 1)
    script.send_signal(signal.SIGINT)
    out, err = script.communicate(timeout=HARD_STOP_SECONDS + SLACK)
    assert (script.returncode, out) == (0, "KeyboardInterrupt\n"), err
    assert "Traceback" not in err
