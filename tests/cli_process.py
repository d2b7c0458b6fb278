"""Running ``hiveframe`` as a user does: a subprocess, fed and read through pipes or a
pseudo-terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios

COMMAND = [sys.executable, "-m", "hiveframe.cli"]


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
