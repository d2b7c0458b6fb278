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


_WORKERS = max(1, min(4, os.cpu_count() or 1))


@cache
def _worker() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(_WORKERS, thread_name_prefix="hiveframe-decode")


class BatchDecoder:
    """Decodes one read's pages in the worker threads, those waiting together in one batch.

    Parameters
    ----------
    decode
        Decodes a batch (``decode_pages`` with the read's options bound).
    batches
        How many batches may be decoding at once.
    """

    def __init__(self, decode: Decode, *, batches: int = _WORKERS) -> None:
        self._decode = decode
        self._batches = batches
        self._waiting: list[_Waiting] = []
        self._running: dict[asyncio.Future[list[PageTable | Exception]], list[_Waiting]] = {}

    async def decode(self, body: PageBody) -> PageTable:
        """The page decoded; raises what decoding it raises."""
        done: asyncio.Future[PageTable] = asyncio.get_running_loop().create_future()
        self._waiting.append((body, done))
        if len(self._running) < self._batches:
            self._start()
        try:
            return await done
        finally:
            for work, batch in list(self._running.items()):
                if all(waiting.done() for _, waiting in batch):
                    work.cancel()  # nobody waits for it: its result is dropped, quietly

    def _start(self) -> None:
        batch = [(body, done) for body, done in self._waiting if not done.done()]
        self._waiting = []
        if not batch:
            return
        work = asyncio.get_running_loop().run_in_executor(
            _worker(), self._decode, [body for body, _ in batch]
        )
        self._running[work] = batch
        work.add_done_callback(self._finish)

    def _finish(self, work: asyncio.Future[list[PageTable | Exception]]) -> None:
        batch = self._running.pop(work)
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
        if self._waiting:
            self._start()
