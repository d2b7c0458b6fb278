"""A server that sends exactly the bytes a test writes: real sockets on 127.0.0.1.

Each accepted connection runs the test's script in a thread of its own; the script reads
request heads and writes whatever bytes it likes, so tests can send what well-behaved
servers rarely do (bodies ended by a close, interim answers, bytes past the end, garbage).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

# One connection's handler: it gets the accepted socket and the request heads read so far.
Script = Callable[["Connection"], None]


class Connection:
    """One accepted connection, as a scripted server sees it."""

    def __init__(self, sock: socket.socket, heads: list[bytes]) -> None:
        self.sock = sock
        self._heads = heads
        self._pending = b""

    def request(self) -> bytes | None:
        """The next request head (up to the blank line), or ``None`` when the client closed."""
        while b"\r\n\r\n" not in self._pending:
            data = self.sock.recv(65536)
            if not data:
                return None
            self._pending += data
        head, _, self._pending = self._pending.partition(b"\r\n\r\n")
        self._heads.append(head)
        return head

    def body(self, head: bytes) -> bytes | None:
        """The body of the request whose head is ``head`` (``Content-Length`` bytes, none
        without it), or ``None`` when the client closed before sending it all."""
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(self._pending) < length:
            data = self.sock.recv(65536)
            if not data:
                return None
            self._pending += data
        body, self._pending = self._pending[:length], self._pending[length:]
        return body

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)


class ScriptedServer:
    """Accepts connections on 127.0.0.1 and runs ``script`` on each, in a thread of its own."""

    def __init__(self, script: Script) -> None:
        self._script = script
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.heads: list[bytes] = []
        self.connections = 0
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            thread = threading.Thread(target=self._run, args=(sock,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _run(self, sock: socket.socket) -> None:
        with sock, contextlib.suppress(OSError):  # the client went away
            self._script(Connection(sock, self.heads))

    def close(self) -> None:
        self._listener.close()
        for thread in self._threads:
            thread.join(5)
