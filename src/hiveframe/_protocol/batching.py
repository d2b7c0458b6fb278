"""Sink batching, sans-I/O: rows in, request bodies out, and the books of what became of them.

The HTTP sink's driver (:mod:`hiveframe.connectors._sink`) does the sending; everything it
decides without a socket lives here, so it is tested without a server:

- :class:`RowReader` pulls records from the caller's input (Arrow batches and tables, or
  dicts) and encodes each row once as compact JSON, a bounded number of rows at a time, with
  the faithful renderings of :func:`~hiveframe._protocol.arrow.json_rows.batch_to_json_lines`.
- :class:`Batcher` cuts encoded rows into request batches of at most ``batch_size`` records
  and ``max_batch_bytes`` body bytes, builds each body by joining the row bytes
  (:class:`BodyFormat`), gives it its idempotency key, and halves a batch the server refused
  with 413 (RFC 9110 §15.5.14).
- :class:`DeliveryLedger` keeps the counts (``delivered + failed == sent``) and the commit
  watermark: how many records, from the first, are safe (delivered, or kept in a dead-letter
  file), the position a stream may checkpoint.

Idempotency keys (draft-ietf-httpapi-idempotency-key-header) are by default a SHA-256 of the
method, the URL and the body: the same batch gets the same key on every retry *and* when a
restarted job sends it again, so a server that honours keys stores it once.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
import pyarrow as pa

from hiveframe._protocol.arrow.render import json_dumps

ENCODE_ROWS: Final = 1024
"""Rows encoded per step: bounds the memory a huge table or batch takes while it is sent.

Measured (benchmarks/run, write 100k records at 5 ms): 1024 delivers 20% faster than 8192;
smaller steps start the first request sooner and keep the encoder's working set in cache.
"""

Encoder = Callable[[list[Any]], bytes]
KeyFunction = Callable[[int, bytes], str]

_CONTENT_TYPES: Final = {"json": "application/json", "ndjson": "application/x-ndjson"}


# -- body formats -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BodyFormat:
    """How a batch of encoded rows becomes one request body.

    ``kind="json"`` sends a JSON array (``[r1,r2]``), or an object ``{"<envelope>": [r1,r2]}``
    when ``envelope`` is set; ``"ndjson"`` sends one row per line, each ending in a newline.
    An ``encoder`` replaces both: it receives the records (as decoded JSON values) and returns
    the body.

    Example
    -------
    >>> BodyFormat("json", envelope="records").encode([b'{"id":1}', b'{"id":2}'])
    b'{"records":[{"id":1},{"id":2}]}'
    """

    kind: str = "json"
    envelope: str | None = None
    encoder: Encoder | None = None

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES[self.kind]

    @property
    def _frame(self) -> tuple[bytes, bytes, bytes]:
        # (prefix, separator, suffix) of the body
        if self.kind == "ndjson":
            return b"", b"\n", b"\n"
        if self.envelope is not None:
            return b"{" + orjson.dumps(self.envelope) + b":[", b",", b"]}"
        return b"[", b",", b"]"

    def size(self, count: int, row_bytes: int) -> int:
        """The body size of ``count`` rows that take ``row_bytes`` bytes together.

        Exact for the built-in formats; for an ``encoder`` it is the size of the JSON array
        of the same rows (the :class:`Batcher` checks the real body afterwards).
        """
        prefix, separator, suffix = self._frame if self.encoder is None else (b"[", b",", b"]")
        return len(prefix) + len(suffix) + row_bytes + max(count - 1, 0) * len(separator)

    def encode(self, rows: Sequence[bytes]) -> bytes:
        """The request body for ``rows`` (compact JSON objects, one per record)."""
        if self.encoder is not None:
            body = self.encoder([orjson.loads(row) for row in rows])
            if not isinstance(body, (bytes, bytearray)):
                kind = type(body).__name__
                raise TypeError(f"encoder= must return bytes, it returned {kind}")
            return bytes(body)
        prefix, separator, suffix = self._frame
        return prefix + separator.join(rows) + suffix


def default_idempotency_key(method: str, url: str, body: bytes) -> str:
    """The default ``Idempotency-Key``: SHA-256 (hex) of the method, the URL and the body.

    Deterministic, so a retry and a re-run of the same batch carry the same key. The flip
    side: two identical batches sent on purpose to the same URL also share it, and a server
    that honours keys stores only the first (pass ``idempotency_key=`` to mix in a run id).

    Example
    -------
    >>> default_idempotency_key("POST", "https://api.example.com/ingest", b"[]")[:12]
    '47ae766f45e1'
    """
    digest = hashlib.sha256()
    for part in (method.upper().encode(), url.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))  # length-prefixed: no ambiguous joins
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True)
class ContentKey:
    """The default key function, ``key(batch_index, body)``: :func:`default_idempotency_key`.

    A class rather than a closure, so a sink's options pickle (Spark ships them to executors).

    Example
    -------
    >>> ContentKey("POST", "https://api.example.com/ingest")(0, b"[]")[:12]
    '47ae766f45e1'
    """

    method: str
    url: str

    def __call__(self, index: int, body: bytes) -> str:
        return default_idempotency_key(self.method, self.url, body)


# -- rows in ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EncodedRows:
    """Records already encoded, one compact JSON object each: an input item sent as it is.

    The Spark writer encodes a partition's rows to put them in content order
    (:mod:`hiveframe.spark._order`); handing the sink the encoded rows spares a second
    encoding.
    """

    rows: Sequence[bytes]


class RowReader:
    """Encode the records of an input, at most ``limit`` rows per :meth:`next_rows` call.

    Items may be ``pyarrow.RecordBatch`` or ``pyarrow.Table`` objects, records
    (mappings), or :class:`EncodedRows`, mixed freely. A large batch is sliced (without
    copying) so that only ``limit`` rows are encoded at a time.

    Example
    -------
    >>> reader = RowReader(iter([{"id": 1}, pa.record_batch({"id": [2, 3]})]), limit=2)
    >>> reader.next_rows(), reader.next_rows(), reader.next_rows()
    ([b'{"id":1}', b'{"id":2}'], [b'{"id":3}'], None)
    """

    def __init__(self, items: Iterator[Any], *, limit: int = ENCODE_ROWS) -> None:
        self._items = items
        self._limit = limit
        self._pending: deque[pa.RecordBatch] = deque()
        self.items_read = 0

    def next_rows(self) -> list[bytes] | None:
        """The next rows as JSON bytes, or None when the input is used up.

        Raises
        ------
        TypeError
            An item is neither Arrow data nor a record.
        """
        rows: list[bytes] = []
        while len(rows) < self._limit:
            if self._pending:
                rows.extend(self._take(self._limit - len(rows)))
                continue
            item = next(self._items, _END)
            if item is _END:
                break
            self.items_read += 1
            if isinstance(item, Mapping):
                rows.append(json_dumps(item))
            elif isinstance(item, pa.RecordBatch):
                self._pending.append(item)
            elif isinstance(item, pa.Table):
                self._pending.extend(item.to_batches())
            elif isinstance(item, EncodedRows):
                rows.extend(item.rows)
            else:
                raise TypeError(
                    f"item {self.items_read} of the input is a {type(item).__name__}: a sink "
                    "writes records (dicts) or Arrow record batches and tables"
                )
        return rows or None

    def _take(self, wanted: int) -> list[bytes]:
        # pyarrow.compute, which the encoder needs, costs ~100 ms to import: not at start-up
        # (a sink of dicts never loads it).
        from hiveframe._protocol.arrow.json_rows import batch_to_json_lines

        batch = self._pending.popleft()
        if batch.num_rows > wanted:
            self._pending.appendleft(batch.slice(wanted))
            batch = batch.slice(0, wanted)
        return batch_to_json_lines(batch)


_END: Final = object()


def input_items(data: Any) -> Iterator[Any] | AsyncIterator[Any]:
    """The items of a write's input, lazily: record batches, tables or records.

    Parameters
    ----------
    data
        A ``pyarrow.Table``, ``RecordBatch`` or ``RecordBatchReader``, an object exporting
        ``__arrow_c_stream__``, or a (sync or async) iterable of batches, tables or records.

    Returns
    -------
    Iterator or AsyncIterator
        Items for :class:`RowReader` (async ones are fed to it one by one).

    Raises
    ------
    TypeError
        ``data`` is none of these (a single dict, a string, None...).

    Example
    -------
    >>> next(input_items(pa.table({"id": [1]}))).num_rows
    1
    """
    items: Iterator[Any]
    if isinstance(data, pa.Table):
        items = iter(data.to_batches())
    elif isinstance(data, pa.RecordBatch):
        items = iter([data])
    elif isinstance(data, pa.RecordBatchReader):
        items = iter(data)
    elif isinstance(data, (str, bytes, Mapping)) or data is None:
        raise TypeError(_input_error(data))
    elif hasattr(data, "__arrow_c_stream__"):
        items = iter(pa.RecordBatchReader.from_stream(data))
    elif hasattr(data, "__aiter__"):
        aitems: AsyncIterator[Any] = data.__aiter__()
        return aitems
    elif isinstance(data, Iterable):
        items = iter(data)
    else:
        raise TypeError(_input_error(data))
    return items


def _input_error(data: Any) -> str:
    hint = " (wrap one record in a list)" if isinstance(data, Mapping) else ""
    return (
        f"a sink cannot write a {type(data).__name__}{hint}: pass a DataFrame, Arrow data, "
        "or an iterable of record batches or of records (dicts)"
    )


# -- rows -> request batches --------------------------------------------------------------------


@dataclass(frozen=True)
class RequestBatch:
    """One request's worth of records.

    Attributes
    ----------
    index
        The batch's number in its writer, from 0. The halves of a batch split after a 413
        keep their parent's index.
    first_record
        Position of the batch's first record among all records given to the writer.
    rows
        The records, each a compact JSON object.
    body
        The request body.
    key
        The idempotency key, or None when keys are off.
    """

    index: int
    first_record: int
    rows: tuple[bytes, ...]
    body: bytes
    key: str | None

    @property
    def count(self) -> int:
        return len(self.rows)


class Batcher:
    """Cut encoded rows into request batches by record count and body bytes.

    A batch closes when it holds ``batch_size`` records or when the next row would take its
    body over ``max_batch_bytes``. A single row larger than ``max_batch_bytes`` goes alone in
    a batch of its own (as in Vector): the server decides, and a 413 dead-letters it. With an
    ``encoder`` the real body is checked too, and halved until it fits.

    Parameters
    ----------
    batch_size, max_batch_bytes
        The limits.
    body_format
        How rows are framed into a body.
    key
        ``key(batch_index, body) -> str``, or None for no idempotency keys.

    Example
    -------
    >>> batcher = Batcher(batch_size=2, max_batch_bytes=1024, body_format=BodyFormat())
    >>> [b.body for b in batcher.add([b"1", b"2", b"3"])], [b.body for b in batcher.flush()]
    ([b'[1,2]'], [b'[3]'])
    """

    def __init__(
        self,
        *,
        batch_size: int,
        max_batch_bytes: int,
        body_format: BodyFormat,
        key: KeyFunction | None = None,
    ) -> None:
        self.batch_size = batch_size
        self.max_batch_bytes = max_batch_bytes
        self.body_format = body_format
        self._key = key
        self._rows: list[bytes] = []
        self._row_bytes = 0
        self.next_index = 0
        self.next_record = 0

    def add(self, rows: Sequence[bytes]) -> list[RequestBatch]:
        """Take rows in order; return the batches that are now full."""
        out: list[RequestBatch] = []
        start = 0
        while start < len(rows):
            # The rows that would fill the open batch, all at once when their bytes fit
            # (body sizes only grow with rows, so row by row would take them all too).
            chunk = rows[start : start + self.batch_size - len(self._rows)]
            chunk_bytes = sum(map(len, chunk))
            if not self._fits(len(chunk), chunk_bytes):
                chunk = chunk[:1]
                chunk_bytes = len(chunk[0])
                if self._rows and not self._fits(1, chunk_bytes):
                    out.extend(self._cut())
            self._rows.extend(chunk)
            self._row_bytes += chunk_bytes
            start += len(chunk)
            if len(self._rows) >= self.batch_size:
                out.extend(self._cut())
        return out

    def flush(self) -> list[RequestBatch]:
        """Close the partial batch, if any (at the end of a write)."""
        return self._cut() if self._rows else []

    def split(self, batch: RequestBatch) -> tuple[RequestBatch, RequestBatch]:
        """The two halves of a batch of two or more records, for a 413 answer.

        Raises
        ------
        ValueError
            The batch holds a single record.
        """
        if batch.count < 2:
            raise ValueError("a batch of one record cannot be split")
        middle = batch.count // 2
        first = self._build(batch.index, batch.first_record, batch.rows[:middle])
        second = self._build(batch.index, batch.first_record + middle, batch.rows[middle:])
        return first, second

    def subset(self, batch: RequestBatch, positions: Sequence[int]) -> RequestBatch:
        """The records of ``batch`` at ``positions`` (in order), as a batch of their own: the
        ones the server refused, to send again or dead-letter one by one.

        Its idempotency key is derived from the batch's and the positions, so it is the same
        on every run and differs from the batch's (a server that honours keys would
        otherwise take it for the batch it has already answered).
        """
        rows = tuple(batch.rows[p] for p in positions)
        key = None
        if batch.key is not None:
            which = ",".join(map(str, positions)).encode()
            key = hashlib.sha256(batch.key.encode() + b"|" + which).hexdigest()
        first = batch.first_record + positions[0]
        return RequestBatch(batch.index, first, rows, self.body_format.encode(rows), key)

    def _fits(self, count: int, row_bytes: int) -> bool:
        # Whether ``count`` more rows of ``row_bytes`` bytes fit in the open batch.
        size = self.body_format.size(len(self._rows) + count, self._row_bytes + row_bytes)
        return size <= self.max_batch_bytes

    def _cut(self) -> list[RequestBatch]:
        rows, self._rows, self._row_bytes = tuple(self._rows), [], 0
        pieces = self._fitted(rows)
        batches = []
        for piece in pieces:
            batches.append(self._build(self.next_index, self.next_record, piece))
            self.next_index += 1
            self.next_record += len(piece)
        return batches

    def _fitted(self, rows: tuple[bytes, ...]) -> list[tuple[bytes, ...]]:
        # Only an encoder's body can outgrow the estimate; halve it until each piece fits.
        if self.body_format.encoder is None or len(rows) < 2:
            return [rows]
        if len(self.body_format.encode(rows)) <= self.max_batch_bytes:
            return [rows]
        middle = len(rows) // 2
        return self._fitted(rows[:middle]) + self._fitted(rows[middle:])

    def _build(self, index: int, first_record: int, rows: tuple[bytes, ...]) -> RequestBatch:
        body = self.body_format.encode(rows)
        key = self._key(index, body) if self._key is not None else None
        return RequestBatch(index, first_record, rows, body, key)


# -- the books ----------------------------------------------------------------------------------


@dataclass
class DeliveryLedger:
    """Counts of one writer's records and batches, and its commit watermark.

    A batch is *sent* when it is cut from the input, and *settles* once: delivered (every
    record acknowledged) or failed (some record was not; it may be *kept* in a dead-letter
    file). Records settle piece by piece, since a 413 splits a batch. At any quiet moment
    ``records_delivered + records_failed == records_sent`` and the same for batches.

    ``committed_records`` is the watermark: every record before that position is delivered
    or kept. It never passes a batch that failed and was not kept.

    Example
    -------
    >>> ledger = DeliveryLedger()
    >>> ledger.sent(RequestBatch(0, 0, (b"{}",) * 3, b"", None))
    >>> ledger.settle_records(3, delivered=True)
    >>> ledger.settle_batch(0, delivered=True, kept=False)
    >>> ledger.records_delivered, ledger.committed_records
    (3, 3)
    """

    records_sent: int = 0
    batches_sent: int = 0
    records_delivered: int = 0
    batches_delivered: int = 0
    records_failed: int = 0
    records_kept: int = 0
    batches_failed: int = 0
    splits: int = 0
    failed_batches: list[int] = field(default_factory=list)
    lost_batches: list[int] = field(default_factory=list)  # failed and not kept anywhere
    committed_records: int = 0
    _ends: dict[int, int] = field(default_factory=dict)  # batch index -> first record after it
    _safe: dict[int, bool] = field(default_factory=dict)  # settled, not yet committed
    _next_commit: int = 0
    _stalled: bool = False

    def sent(self, batch: RequestBatch) -> None:
        """A batch was cut from the input and is on its way."""
        self.records_sent += batch.count
        self.batches_sent += 1
        self._ends[batch.index] = batch.first_record + batch.count

    def settle_records(self, count: int, *, delivered: bool, kept: bool = False) -> None:
        """Some records of a batch were acknowledged, or failed (and perhaps were kept)."""
        if delivered:
            self.records_delivered += count
        else:
            self.records_failed += count
            self.records_kept += count if kept else 0

    def settle_batch(self, index: int, *, delivered: bool, kept: bool) -> None:
        """Batch ``index`` is done: all delivered, or not (``kept``: the rest is kept)."""
        if delivered:
            self.batches_delivered += 1
        else:
            self.batches_failed += 1
            self.failed_batches.append(index)
            if not kept:
                self.lost_batches.append(index)
        self._safe[index] = delivered or kept
        self._advance()

    def _advance(self) -> None:
        while not self._stalled and self._next_commit in self._safe:
            if not self._safe.pop(self._next_commit):
                self._stalled = True
                return
            self.committed_records = self._ends.pop(self._next_commit)
            self._next_commit += 1
