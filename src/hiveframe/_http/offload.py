"""Decoding off the event loop: pages fetched ahead are decoded in a worker thread, in batches.

While the event loop sends requests and reads responses, a worker thread decodes the
responses that have arrived, all those waiting at once in one batch
(:func:`~hiveframe._protocol.columnar.decode_pages`, whose JSON reader releases the GIL).
The thread starts with the first batch, so a read of one page never starts it; it is
shared by every read in the process and ends with the interpreter.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache

from hiveframe._protocol.columnar import PageBody, PageTable

__all__ = ["BatchDecoder"]

Decode = Callable[[Sequence[PageBody]], list[PageTable | Exception]]
_Waiting = tuple[PageBody, "asyncio.Future[PageTable]"]


@cache
def _worker() -> ThreadPoolExecutor:
    # Each read decodes one batch at a time, so a thread per read; a few reads at once
    # (Spark tasks, threads of a program) share them.
    return ThreadPoolExecutor(min(4, os.cpu_count() or 1), thread_name_prefix="hiveframe-decode")


class BatchDecoder:
    """Decodes one read's pages in a worker thread, those waiting together in one batch.

    One batch at a time: while it decodes, the pages that arrive wait and make the next
    batch (measured on two cores, a second batch in flight was no faster). A batch starts
    once the pages the event loop has ready have joined it, so responses that arrive
    together decode together.

    Parameters
    ----------
    decode
        Decodes a batch (``decode_pages`` with the read's options bound).
    """

    def __init__(self, decode: Decode) -> None:
        self._decode = decode
        self._waiting: list[_Waiting] = []
        self._batch: list[_Waiting] = []  # being decoded
        self._work: asyncio.Future[list[PageTable | Exception]] | None = None
        self._starting = False

    async def decode(self, body: PageBody) -> PageTable:
        """The page decoded; raises what decoding it raises."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[PageTable] = loop.create_future()
        self._waiting.append((body, done))
        if self._work is None and not self._starting:
            self._starting = True
            loop.call_soon(self._start)  # after the tasks the loop has ready, not before
        try:
            return await done
        finally:
            if self._work is not None and all(waiting.done() for _, waiting in self._batch):
                self._work.cancel()  # nobody waits for it: its result is dropped, quietly

    def _start(self) -> None:
        self._starting = False
        if self._work is not None:
            return  # its end starts the next batch
        self._batch = [(body, done) for body, done in self._waiting if not done.done()]
        self._waiting = []
        if self._batch:
            bodies = [body for body, _ in self._batch]
            work = asyncio.get_running_loop().run_in_executor(_worker(), self._decode, bodies)
            work.add_done_callback(self._finish)
            self._work = work

    def _finish(self, work: asyncio.Future[list[PageTable | Exception]]) -> None:
        batch, self._batch, self._work = self._batch, [], None
        if not work.cancelled():
            error = work.exception()
            results: Sequence[PageTable | BaseException] = (
                [error] * len(batch) if error is not None else work.result()
            )
            for (_, done), result in zip(batch, results, strict=True):
                if done.done():  # its reader stopped waiting
                    continue
                if isinstance(result, BaseException):
                    done.set_exception(result)
                else:
                    done.set_result(result)
        self._start()
