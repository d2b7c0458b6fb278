"""The demo API's ingest endpoint: receives what an HTTP sink writes, and remembers it.

``POST`` (or ``PUT``/``PATCH``) ``/ingest`` takes a JSON array of records, an envelope
object holding one array (``{"records": [...]}``) or NDJSON (by ``Content-Type``), stores
the batch and answers ``200 {"received": n, "records": total}``. A request whose
``Idempotency-Key`` was already stored is answered as the first time and not stored again
(draft-ietf-httpapi-idempotency-key-header), so retries never double a batch.

Query parameters make it misbehave on purpose, for docs and tests:

- ``status=422``: answer that status and store nothing;
- ``max_records=N`` / ``max_bytes=N``: answer 413 to larger batches;
- ``require=FIELD``: refuse the records whose ``FIELD`` is missing, false or empty, store
  the others and answer ``207`` with ``"errors": [{"index": i, "message": ...}]`` (the
  refused records' positions in the batch), as bulk APIs report item-level failures.

``GET /ingest`` answers the counts: ``{"batches": .., "records": .., "duplicates": ..}``;
``GET /ingest/last`` the body of the last request that sent records (stored, refused or
malformed alike), as it came, with its ``Content-Type`` (``204`` before the first), to see
exactly what a sink sends.
"""

from __future__ import annotations

import threading
from typing import Any

import orjson

from hiveframe.demo._server import Handler, Reply, Request

JSON = {"Content-Type": "application/json"}


class IngestAPI:
    """Receives records written by an HTTP sink; thread-safe.

    Parameters
    ----------
    max_records, max_bytes
        Answer 413 to batches above these (as if every request had the query parameter).

    Attributes
    ----------
    batches
        The stored batches, in the order they were stored; each a list of records.
    batch_keys
        The ``Idempotency-Key`` of each stored batch (None when it had none).
    duplicates
        Requests answered from an earlier stored key.
    last_body
        The body of the last request that sent records, with its ``Content-Type``.

    Example
    -------
    >>> from hiveframe.demo import LoopbackServer
    >>> ingest = IngestAPI()
    >>> with LoopbackServer(ingest.routes()) as server:
    ...     url = server.url("/ingest")
    """

    def __init__(self, *, max_records: int | None = None, max_bytes: int | None = None) -> None:
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.batches: list[list[Any]] = []
        self.batch_keys: list[str | None] = []
        self.duplicates = 0
        self.last_body: tuple[bytes, str | None] | None = None
        self._answers: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def routes(self) -> dict[str, Handler]:
        return {"/ingest": self.handle, "/ingest/last": self.handle_last}

    @property
    def records(self) -> list[Any]:
        """Every stored record, batch after batch."""
        with self._lock:
            return [record for batch in self.batches for record in batch]

    def reset(self) -> None:
        """Forget everything received."""
        with self._lock:
            self.batches.clear()
            self.batch_keys.clear()
            self._answers.clear()
            self.duplicates = 0
            self.last_body = None

    def handle(self, request: Request) -> Reply:
        """Answer one request to ``/ingest``."""
        if request.method == "GET":
            return _json(200, self._counts())
        if request.method not in ("POST", "PUT", "PATCH"):
            return _json(405, {"error": f"{request.method} is not allowed here"})
        with self._lock:
            self.last_body = (request.body, request.header("content-type"))
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        try:
            records = _records(request)
        except ValueError as exc:
            return _json(400, {"error": str(exc)})
        required = request.query.get("require")
        refused = [i for i, r in enumerate(records) if required and not _has(r, required)]
        kept = [r for i, r in enumerate(records) if i not in refused]
        errors = [{"index": i, "message": f"{required} is required"} for i in refused]
        return self._store(kept, request.header("idempotency-key"), errors)

    def handle_last(self, request: Request) -> Reply:
        """Answer ``GET /ingest/last``: the last body sent to ``/ingest``, as it came."""
        if request.method not in ("GET", "HEAD"):
            return _json(405, {"error": f"{request.method} is not allowed here"})
        with self._lock:
            last = self.last_body
        if last is None:
            return Reply(204)
        body, content_type = last
        return Reply(200, {"Content-Type": content_type or "application/octet-stream"}, body)

    def _refusal(self, request: Request) -> Reply | None:
        try:
            status = int(request.query.get("status", 0))
            max_records = int(request.query.get("max_records", 0)) or self.max_records
            max_bytes = int(request.query.get("max_bytes", 0)) or self.max_bytes
        except ValueError:
            return _json(400, {"error": "status, max_records and max_bytes are integers"})
        if status:
            return _json(status, {"error": f"status {status} was asked for"})
        if max_bytes is not None and len(request.body) > max_bytes:
            return _json(413, {"error": f"body over {max_bytes} bytes"})
        if max_records is not None and _count(request) > max_records:
            return _json(413, {"error": f"more than {max_records} records"})
        return None

    def _store(self, records: list[Any], key: str | None, errors: list[Any]) -> Reply:
        status = 207 if errors else 200
        with self._lock:
            if key is not None and key in self._answers:
                self.duplicates += 1
                return Reply(status, dict(JSON), self._answers[key])
            self.batches.append(records)
            self.batch_keys.append(key)
            total = sum(len(batch) for batch in self.batches)
            report: dict[str, Any] = {"received": len(records), "records": total}
            if errors:
                report["errors"] = errors
            answer = orjson.dumps(report)
            if key is not None:
                self._answers[key] = answer
        return Reply(status, dict(JSON), answer)

    def _counts(self) -> dict[str, int]:
        with self._lock:
            return {
                "batches": len(self.batches),
                "records": sum(len(batch) for batch in self.batches),
                "duplicates": self.duplicates,
            }


def _records(request: Request) -> list[Any]:
    content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
    try:
        if content_type in ("application/x-ndjson", "application/jsonl", "application/ndjson"):
            return [orjson.loads(line) for line in request.body.splitlines() if line.strip()]
        document = orjson.loads(request.body)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        arrays = [value for value in document.values() if isinstance(value, list)]
        if len(arrays) == 1:
            return arrays[0]
    raise ValueError("expected a JSON array of records, or an object holding one array")


def _has(record: Any, field: str) -> bool:
    return isinstance(record, dict) and bool(record.get(field))


def _count(request: Request) -> int:
    try:
        return len(_records(request))
    except ValueError:
        return 0


def _json(status: int, document: Any) -> Reply:
    return Reply(status, dict(JSON), orjson.dumps(document))
