"""The sync API over the async driver.

HiveFrame's I/O is written once, async. A sync call runs it on an event loop in a private
thread (an anyio blocking portal), so it works the same from a script, from a thread pool,
and from inside a running event loop such as a notebook's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from typing import TypeVar

# anyio loads its asyncio backend (with its socket and stream modules) when the first portal
# starts; loaded here instead, with the module, a process's first read() costs what the next
# ones do.
import anyio._backends._asyncio  # noqa: F401
from anyio.from_thread import start_blocking_portal

T = TypeVar("T")


def run_sync(fn: Callable[[], Awaitable[T]]) -> T:
    """Run the coroutine function ``fn`` to completion and return its result."""

    async def call() -> T:
        return await fn()

    with start_blocking_portal() as portal:
        return portal.call(call)


def iterate_sync(make: Callable[[], AsyncIterator[T]]) -> Generator[T, None, None]:
    """Iterate an async iterator from sync code, one item per step (no read-ahead).

    Closing the sync generator (``break``, garbage collection) closes the async one, so
    connections are released. A ``KeyboardInterrupt`` (Ctrl-C, or SIGTERM in the CLI) that
    interrupts the wait for an item propagates as it is: the step still running is cancelled
    as the portal closes.
    """
    with start_blocking_portal() as portal:
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
