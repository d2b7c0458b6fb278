"""What became of a sink's records: the write's result, failures, and the dead-letter file."""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from hiveframe._protocol.batching import RequestBatch
from hiveframe._protocol.checkpoint import append_durably
from hiveframe.errors import (
    DeliveryFailed,
    HiveFrameError,
    HTTPStatusError,
    RetryExhausted,
    TooManyRedirects,
)

logger = logging.getLogger("hiveframe.sink")


@dataclass(frozen=True)
class WriteResult:
    """What a write did. ``records_delivered + records_failed == records_sent`` always.

    Attributes
    ----------
    records_sent, batches_sent
        Records given to the sink and the batches they were cut into (before 413 splits).
    records_delivered, batches_delivered
        Acknowledged with a success status. A batch counts once all its records are.
    records_failed, batches_failed
        Not delivered: rejected (4xx), retries exhausted, circuit open... A batch counts
        when any of its records failed.
    records_dead_lettered
        Failed records kept in the dead-letter file (at most ``records_failed``).
    requests, retries
        HTTP requests made (retries and 413 halves included) and retries among them.
    splits
        Batches halved after a 413.
    elapsed_seconds
        Time spent writing, on the sink's clock.
    dead_letter_path
        The dead-letter file, if records were written to it.
    failed_batches
        Indices of the failed batches, in the order they failed.

    Example
    -------
    >>> result = WriteResult(records_sent=250, batches_sent=3, records_delivered=250,
    ...                      batches_delivered=3)
    >>> result.ok
    True
    """

    records_sent: int = 0
    batches_sent: int = 0
    records_delivered: int = 0
    batches_delivered: int = 0
    records_failed: int = 0
    batches_failed: int = 0
    records_dead_lettered: int = 0
    requests: int = 0
    retries: int = 0
    splits: int = 0
    elapsed_seconds: float = 0.0
    dead_letter_path: str | None = None
    failed_batches: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        """Every record was delivered."""
        return self.records_failed == 0


_COUNTS = tuple(f.name for f in fields(WriteResult))[:-2]  # all but the path and the indices


def difference(after: WriteResult, before: WriteResult) -> WriteResult:
    """What happened between two snapshots of a writer's totals."""
    counts: dict[str, Any] = {
        name: getattr(after, name) - getattr(before, name) for name in _COUNTS
    }
    kept = counts["records_dead_lettered"]
    return WriteResult(
        **counts,
        dead_letter_path=after.dead_letter_path if kept else None,
        failed_batches=after.failed_batches[len(before.failed_batches) :],
    )


@dataclass(frozen=True)
class Failure:
    """Why a batch was not delivered: the status (if the server answered) and a summary."""

    status: int | None
    excerpt: str
    error: str


def failure_from(exc: HiveFrameError) -> Failure:
    """The failure an error from :meth:`Session.request` stands for."""
    cause = exc.__cause__ if isinstance(exc, RetryExhausted) else exc
    if isinstance(cause, HTTPStatusError):
        return Failure(cause.status, cause.body_excerpt, str(exc))
    if isinstance(exc, TooManyRedirects):
        # The session follows no redirect for a sink: a 301/302/303 would turn the POST into
        # a GET without the body (RFC 9110 §15.4), and a 2xx to that would be a silent drop.
        reason = "the server answered with a redirect; a sink sends only to its configured URL"
        return Failure(None, "", f"{reason} | url={exc.url}")
    return Failure(None, "", str(exc))


def delivery_failed(
    call: WriteResult, failures: list[tuple[RequestBatch, Failure, bool]]
) -> DeliveryFailed | None:
    """The error for a write that left records neither delivered nor kept, if it did.

    ``failures`` are the write's failed batches (or 413 halves) with whether each was kept.
    """
    lost = call.records_failed - call.records_dead_lettered
    unkept = [(batch, failure) for batch, failure, kept in failures if not kept]
    if lost == 0 or not unkept:
        return None
    batches = sorted({batch.index for batch, _ in unkept})
    batch, failure = min(unkept, key=lambda pair: pair[0].first_record)
    last = batch.first_record + batch.count - 1
    message = (
        f"{len(batches)} of {call.batches_sent} batches failed; first: batch "
        f"{batch.index} (records {batch.first_record}-{last}): {failure.error}"
    )
    return DeliveryFailed(message, not_delivered=lost, batches=batches)


class DeadLetterFile:
    """A JSON Lines file of failed batches, appended to, one line per batch.

    Each line holds ``batch``, ``first_record``, ``record_count``, ``status`` (null when no
    response came), ``error``, ``response_excerpt``, ``idempotency_key``, ``method``,
    ``url`` (redacted), ``failed_at`` (ISO 8601, UTC) and ``records`` (the batch's records
    as sent).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def at(cls, path: Path | None) -> DeadLetterFile | None:
        return None if path is None else cls(path)

    def keep(
        self, batch: RequestBatch, failure: Failure, *, method: str, url: str, now: float
    ) -> bool:
        """Append the batch; return whether it is now safely in the file."""
        meta = {
            "batch": batch.index,
            "first_record": batch.first_record,
            "record_count": batch.count,
            "status": failure.status,
            "error": failure.error,
            "response_excerpt": failure.excerpt,
            "idempotency_key": batch.key,
            "method": method,
            "url": url,
            "failed_at": datetime.fromtimestamp(now, timezone.utc).isoformat(),
        }
        # The records are spliced in as the bytes that were sent: nothing is re-encoded.
        line = orjson.dumps(meta)[:-1] + b',"records":[' + b",".join(batch.rows) + b"]}\n"
        try:
            append_durably(self.path, line)
        except OSError as exc:
            logger.error("could not write batch %d to %s: %s", batch.index, self.path, exc)
            return False
        return True
