"""Exceptions raised inside test servers' handlers, kept for the test that caused them.

A :class:`~hiveframe.demo.LoopbackServer` runs each handler in a thread of its own; when a
handler raises, the standard library's server prints a traceback and drops the connection,
and the client under test sees a dropped connection, which it retries. A broken test
server could then pass for a flaky network. ``conftest.py`` wraps the routes of every
loopback server the suite builds with :meth:`HandlerErrors.wrap_routes`, and fails the
running test at teardown if one of its handlers raised, either when called or while its
reply body was being sent.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace

from hiveframe.demo import Reply, Request

Handler = Callable[[Request], Reply]


@dataclass(frozen=True)
class HandlerError:
    path: str
    error: BaseException
    traceback: str

    def __str__(self) -> str:
        return f"handler for {self.path} raised:\n{self.traceback}"


class HandlerErrors:
    """A thread-safe record of what test-server handlers raised."""

    def __init__(self) -> None:
        self._errors: list[HandlerError] = []
        self._lock = threading.Lock()

    def mark(self) -> int:
        """A position in the record; :meth:`since` returns what was recorded after it."""
        with self._lock:
            return len(self._errors)

    def since(self, mark: int) -> list[HandlerError]:
        with self._lock:
            return self._errors[mark:]

    def take(self, mark: int) -> list[HandlerError]:
        """Remove and return what was recorded after ``mark`` (for tests that expect it)."""
        with self._lock:
            taken = self._errors[mark:]
            del self._errors[mark:]
            return taken

    def wrap_routes(self, routes: Mapping[str, Handler]) -> dict[str, Handler]:
        return {path: self.wrap(path, handler) for path, handler in routes.items()}

    def wrap(self, path: str, handler: Handler) -> Handler:
        def guarded(request: Request) -> Reply:
            try:
                reply = handler(request)
            except Exception as exc:
                self._record(path, exc)
                raise
            body = reply.body
            if isinstance(body, (bytes, bytearray, memoryview)):
                return reply
            # A copy: handlers may hand out one Reply many times, with a list as its body.
            return replace(reply, body=self._guarded_body(path, body))

        guarded.__wrapped__ = handler  # type: ignore[attr-defined]
        return guarded

    def _guarded_body(self, path: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        # Chunks pass through as the same objects: the server compares them with ABORT by
        # identity. GeneratorExit (the client went away) is not an error of the handler.
        try:
            yield from chunks
        except Exception as exc:
            self._record(path, exc)
            raise

    def _record(self, path: str, exc: Exception) -> None:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        with self._lock:
            self._errors.append(HandlerError(path, exc, text))


HANDLER_ERRORS = HandlerErrors()
"""The one record of the test session (``conftest.py`` wraps every server's routes with it)."""
