"""Running ``hiveframe`` as a user does: a subprocess, fed and read through pipes or a
pseudo-terminal; and ``hiveframe demo --serve`` running while tests use it."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson

from waiting import WAIT

COMMAND = [sys.executable, "-m", "hiveframe.cli"]


def console_script() -> list[str]:
    """The ``hiveframe`` console script installed next to this Python, as a user runs it
    (``python -m hiveframe.cli`` where there is none)."""
    script = Path(sys.executable).with_name("hiveframe")
    return [str(script)] if script.exists() else COMMAND


def hiveframe(
    *args: str, code: str | None = None, stdin: bytes | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the command (or ``code`` with the arguments in ``sys.argv``) in a subprocess, with
    ``env`` added to the environment and ``stdin`` as its input (none by default)."""
    start = [sys.executable, "-c", code, *args] if code is not None else [*COMMAND, *args]
    done = subprocess.run(
        start,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        timeout=120,
        check=False,
        env={**os.environ, **env},
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def one_line(stderr: str) -> str:
    """The one line ``stderr`` holds, without a traceback."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def in_terminal(*args: str, columns: int = 120) -> tuple[int, str]:
    """Run the command with stdout and stderr on a pseudo-terminal ``columns`` wide; its exit
    code and everything it wrote there."""
    main, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    child = subprocess.Popen(
        [*COMMAND, *args], stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal
    )
    os.close(terminal)
    shown = bytearray()
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the terminal's other end is closed, the command has ended
            break
        if not data:
            break
        shown += data
    os.close(main)
    return child.wait(timeout=120), shown.decode(errors="replace")


def pipeline(first: list[str], second: list[str]) -> tuple[int, subprocess.CompletedProcess[str]]:
    """``hiveframe FIRST... | SECOND...``: the first command's exit code, the second's result."""
    with subprocess.Popen(
        [*COMMAND, *first], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE
    ) as upstream:
        downstream = subprocess.run(
            second, stdin=upstream.stdout, capture_output=True, text=True, timeout=120, check=False
        )
    return upstream.returncode, downstream


@dataclass(frozen=True)
class ServedDemo:
    """The demo API served by another process: where it is, and what its ``/ingest``
    endpoint received, asked over HTTP as any client would."""

    base_url: str

    def url(self, path: str) -> str:
        return self.base_url + path

    def ingest_counts(self) -> dict[str, int]:
        """What ``/ingest`` has stored: ``batches``, ``records``, and ``duplicates`` (batches
        answered from an earlier one with the same ``Idempotency-Key``)."""
        with urllib.request.urlopen(self.url("/ingest"), timeout=WAIT) as response:
            counts: dict[str, int] = orjson.loads(response.read())
            return counts

    def last_ingest_body(self) -> bytes:
        """The body of the last request that sent records to ``/ingest``, as it came."""
        with urllib.request.urlopen(self.url("/ingest/last"), timeout=WAIT) as response:
            assert response.status == 200, "nothing was sent to /ingest yet"
            body: bytes = response.read()
            return body


@contextmanager
def demo_served(*, records: int, stderr: Path) -> Iterator[ServedDemo]:
    """``hiveframe demo --serve --port 0`` in a subprocess, from the moment its first line
    names the URL it listens on until SIGTERM, which it must answer by exiting with 143 and
    no traceback on ``stderr`` (a file, so that nothing the server says can block it)."""
    with stderr.open("w") as errors:
        process = subprocess.Popen(
            [*console_script(), "demo", "--serve", "--port", "0", "--records", str(records)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # printed once the server listens
        base = re.match(r"demo API on (http://127\.0\.0\.1:\d+) ", first)
        assert base is not None, first + stderr.read_text()
        yield ServedDemo(base.group(1))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=WAIT)
    said = stderr.read_text()
    assert "Traceback" not in said, said
    assert process.returncode == 128 + signal.SIGTERM, said
    assert out.endswith("demo API stopped\n"), out
