"""The polling driver: read the endpoint every ``interval_seconds``, emit only what is new.

Each poll is a paginated read through :class:`~hiveframe._http.reader.PageReader` (retries,
breaker and auth included). :class:`~hiveframe._protocol.poll.PollState` decides what the
poll sends (the cursor parameter, ``If-None-Match``/``If-Modified-Since`` on its first page)
and which records are new; a ``304 Not Modified`` ends the poll before any parsing. A poll
that fails after the session's own retries does not end the stream: the driver waits a
backoff from the source's :class:`~hiveframe.resilience.RetryConfig` (at least the poll
interval) and polls again. Only errors that another poll cannot fix are raised: a refused
credential, a status the retry policy does not retry, a ``data_path`` that is not there.

Polls start at a fixed rate on the injected clock: poll *n* starts ``interval_seconds``
after poll *n - 1* started, or at once if that one took longer.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from typing import Any

from hiveframe._http.clock import Clock
from hiveframe._http.reader import FetchedPage, PageReader, ReadPlan
from hiveframe._http.session import Session
from hiveframe._protocol.paginators import (
    PageRequest,
    Paginator,
    resume_paginator,
    start_paginator,
)
from hiveframe._protocol.poll import PollState, PollStream
from hiveframe._protocol.units import Resume, SourceStats, Unit
from hiveframe.errors import (
    AuthenticationError,
    BlockedDestinationError,
    ConfigError,
    DataPathError,
    HiveFrameError,
    HTTPStatusError,
)

logger = logging.getLogger("hiveframe.poll")

_PERMANENT = (ConfigError, AuthenticationError, BlockedDestinationError, DataPathError)


class PollReader(PageReader):
    """Polls one endpoint for as long as its consumer wants.

    Parameters
    ----------
    plan
        What one poll reads (URL, pagination, decoding).
    config
        The polling options.
    session
        An open session.
    clock
        Where the waits between polls sleep.
    stats
        Counters updated poll by poll.
    """

    def __init__(
        self,
        plan: ReadPlan,
        config: PollStream,
        session: Session,
        *,
        clock: Clock,
        stats: SourceStats,
    ) -> None:
        super().__init__(plan, session)
        self.config = config
        self.clock = clock
        self.stats = stats

    async def units(self, position: Mapping[str, Any] | None) -> AsyncGenerator[Unit, None]:
        """One unit per page of every poll (none for a 304), with the position after it.

        A partial ``position`` (a page cut short by its consumer) polls that page again and
        drops the records already delivered.

        Raises
        ------
        HiveFrameError
            Only errors another poll cannot fix (see the module docstring).
        """
        resume = Resume(position)
        state = PollState(self.config, resume.position)
        retry = self.session.config.retry
        failures = 0
        async with self.session:
            while True:
                started = self.clock.monotonic()
                self.stats.polls += 1
                try:
                    async with aclosing(self._poll(state)) as units:
                        async for unit in units:
                            yield resume.trim(unit)
                except HiveFrameError as exc:
                    self.session.report(exc, self.plan.url)  # shown in a log line, or raised
                    if not _transient(exc, self.session):
                        raise
                    if resume.skip:  # the cut page did not come: poll it again, not page 0
                        state = PollState(self.config, resume.position)
                    else:
                        state.abandon_poll()
                    self.stats.error(exc)
                    failures += 1
                    backoff = retry.backoff_bound(failures)
                    logger.warning("poll of %s failed (%s); next in %.3fs", self._url, exc, backoff)
                else:
                    failures, backoff = 0, 0.0
                elapsed = self.clock.monotonic() - started
                wait = max(self.config.interval_seconds - elapsed, backoff)
                if wait > 0:
                    await self.clock.sleep(wait)

    async def unit_groups(
        self, position: Mapping[str, Any] | None
    ) -> AsyncGenerator[list[Unit], None]:
        """:meth:`units`, a page at a time (the same shape as the SSE reader's groups)."""
        async with aclosing(self.units(position)) as units:
            async for unit in units:
                yield [unit]

    async def _poll(self, state: PollState) -> AsyncGenerator[Unit, None]:
        paginator, request, index = self._start(state)
        current_url = self.plan.url
        while request is not None:
            headers = state.conditional_headers() if index == 0 else {}
            request = _with_cursor(request, state)
            fetched = await self._fetch_fresh(request, index, current_url, headers)
            if fetched is None:
                self.stats.not_modified += 1
                state.finish_poll()
                return
            if index == 0:
                state.note_validators(fetched.page.headers)
            state.note_document(fetched.page.document)
            fresh = state.admit(fetched.table.to_pylist())
            index += 1
            request = paginator.advance(fetched.page) if paginator is not None else None
            if request is None or not self._within_limit(index):
                request = None
                state.finish_poll()
            else:
                assert paginator is not None
                state.note_page(paginator.position(), index)
            current_url = fetched.page.url
            yield Unit(fresh, state.position())

    def _start(self, state: PollState) -> tuple[Paginator | None, PageRequest | None, int]:
        # A fresh poll, or the rest of the one a saved position stopped in.
        pagination = self.plan.pagination
        if pagination is None:
            return None, PageRequest(), 0
        if state.page is not None:
            paginator = resume_paginator(pagination, state.page["next"])
            return paginator, paginator.first(), int(state.page["index"])
        paginator = start_paginator(pagination)
        return paginator, paginator.first(), 0

    async def _fetch_fresh(
        self, request: PageRequest, index: int, current_url: str, headers: Mapping[str, str]
    ) -> FetchedPage | None:
        # fetch(), except that a 304 Not Modified is answered before anything is decoded.
        response = await self.request_page(request, index, current_url=current_url, headers=headers)
        if response.status_code == 304:
            return None
        return self.decode(response, request, index)

    @property
    def _url(self) -> str:
        return self.session.redact(self.plan.url)


def _with_cursor(request: PageRequest, state: PollState) -> PageRequest:
    # The cursor goes on requests built from the source URL; a next link carries its own query.
    cursor = state.params()
    if request.url is not None or not cursor:
        return request
    return PageRequest(params={**request.params, **cursor})


def _transient(exc: HiveFrameError, session: Session) -> bool:
    if isinstance(exc, _PERMANENT):
        return False
    if isinstance(exc, HTTPStatusError):
        return session.config.retry.is_retriable_status(exc.status)
    return True
