"""The sync portal: results and errors come back as they are, iteration reads nothing ahead,
closing stops the async side, and a KeyboardInterrupt in the wait cancels the work."""

from __future__ import annotations

import asyncio
import signal
import sys
import threading

import pytest

from hiveframe._http.portal import iterate_sync, run_sync


class Broken(Exception):
    pass


def portal_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "hiveframe-portal"]


def test_run_sync_returns_the_result_and_raises_the_error():
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    async def fail() -> None:
        raise Broken("as raised")

    assert run_sync(answer) == 42
    with pytest.raises(Broken, match="as raised"):
        run_sync(fail)
    assert portal_threads() == []


def test_run_sync_works_inside_a_running_event_loop():
    async def inner() -> int:
        return threading.get_ident()

    async def cell() -> int:
        return run_sync(inner)  # a notebook's cell: the loop of this thread is busy running it

    assert asyncio.run(cell()) != threading.get_ident()


def test_iterate_sync_reads_nothing_ahead_and_closing_closes_the_async_side():
    made: list[int] = []
    closed = []

    async def numbers():
        try:
            for n in range(10):
                made.append(n)
                yield n
        finally:
            closed.append(True)

    steps = iterate_sync(numbers)
    assert next(steps) == 0
    assert next(steps) == 1
    assert made == [0, 1]
    steps.close()
    assert closed == [True]
    assert portal_threads() == []


def test_iterate_sync_ends_with_the_async_iterator_and_its_error():
    async def two_then_fail():
        yield 1
        yield 2
        raise Broken("after two")

    got = []
    with pytest.raises(Broken, match="after two"):
        for item in iterate_sync(two_then_fail):
            got.append(item)
    assert got == [1, 2]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_keyboard_interrupt_in_the_wait_cancels_the_step_and_ends_the_loop():
    main = threading.main_thread().ident
    assert main == threading.get_ident(), "signals reach the main thread only"
    cancelled = []

    async def stuck():
        try:
            yield 1
            signal.pthread_kill(main, signal.SIGINT)  # the main thread waits for item 2
            await asyncio.Event().wait()
            yield 2
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    steps = iterate_sync(stuck)
    assert next(steps) == 1
    with pytest.raises(KeyboardInterrupt):
        next(steps)
    assert cancelled == [True]
    assert portal_threads() == []
