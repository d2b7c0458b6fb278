"""The sync API over the async driver.

HiveFrame's I/O is written once, async. A sync call runs it on an asyncio event loop in a
private thread, so it works the same from a script, from a thread pool, and from inside a
running event loop such as a notebook's. The calling thread only waits for results, so a
``KeyboardInterrupt`` (Ctrl-C, or SIGTERM in the CLI) lands in that wait, never in the middle
of the loop's own work; the loop then cancels what is still running and ends.

The portal is plain asyncio rather than anyio's blocking portal: anyio's asyncio backend costs
a one-page ``hiveframe read`` a tenth of its whole run to import, and the driver needs none of
it. Code run through the portal may still use anyio (sinks do): anyio runs on any asyncio loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


class _Portal:
    """An event loop in a thread of its own, running coroutine functions for other threads."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._stop: asyncio.Event | None = None
        started: Future[asyncio.AbstractEventLoop] = Future()
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._serve(started),), name="hiveframe-portal", daemon=True
        )
        self._thread.start()
        self._loop = started.result()

    async def _serve(self, started: Future[asyncio.AbstractEventLoop]) -> None:
        # asyncio.run then cancels any task still left, closes async generators, shuts the
        # default executor down and closes the loop, as it does for a script.
        self._stop = asyncio.Event()
        started.set_result(asyncio.get_running_loop())
        await self._stop.wait()

    def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``fn()`` on the loop; its result, or its exception, in the calling thread."""
        done: Future[T] = Future()
        self._loop.call_soon_threadsafe(self._start, fn, done)
        return done.result()

    def _start(self, fn: Callable[[], Awaitable[T]], done: Future[T]) -> None:
        task = self._loop.create_task(_settle(fn, done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        """Cancel the calls still running (one a ``KeyboardInterrupt`` left behind), let them
        finish, and end the loop and its thread."""
        self._loop.call_soon_threadsafe(self._cancel_and_stop)
        self._thread.join()

    def _cancel_and_stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        assert self._stop is not None, "set before the loop was handed out"
        self._stop.set()


async def _settle(fn: Callable[[], Awaitable[T]], done: Future[T]) -> None:
    # The outcome goes to the caller's future here, in the task, rather than through the
    # task's own result: whatever ``fn`` raises (even a BaseException) reaches the caller.
    try:
        result = await fn()
    except asyncio.CancelledError:
        done.cancel()
        raise
    except BaseException as exc:  # handed to the waiting thread, which raises it
        done.set_exception(exc)
    else:
        done.set_result(result)


@contextmanager
def _portal() -> Iterator[_Portal]:
    portal = _Portal()
    try:
        yield portal
    finally:
        portal.close()


def run_sync(fn: Callable[[], Awaitable[T]]) -> T:
    """Run the coroutine function ``fn`` to completion and return its result."""
    with _portal() as portal:
        return portal.call(fn)


def iterate_sync(make: Callable[[], AsyncIterator[T]]) -> Generator[T, None, None]:
    """Iterate an async iterator from sync code, one item per step (no read-ahead).

    Closing the sync generator (``break``, garbage collection) closes the async one, so
    connections are released. A ``KeyboardInterrupt`` (Ctrl-C, or SIGTERM in the CLI) that
    interrupts the wait for an item propagates as it is: the step still running is cancelled
    as the portal closes.
    """
    with _portal() as portal:
        iterator = make()

        async def step() -> tuple[bool, T | None]:
            try:
                return True, await iterator.__anext__()
            except StopAsyncIteration:
                return False, None

        async def close() -> None:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()

        stepping = False
        try:
            while True:
                stepping = True
                more, item = portal.call(step)
                stepping = False
                if not more:
                    return
                yield item  # type: ignore[misc]
        finally:
            if not stepping:  # closing an async generator that is running raises RuntimeError
                portal.call(close)
