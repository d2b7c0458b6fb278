"""``hiveframe write FILE URL``: a Parquet, CSV or JSON Lines file into an HTTP API."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from hiveframe.cli._common import add_secret_param, http_options, seconds, whole
from hiveframe.cli._progress import Progress
from hiveframe.errors import ConfigError, DeliveryFailed, HiveFrameError

if TYPE_CHECKING:
    from hiveframe.connectors import HTTPSink, WriteResult

_FORMATS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_FORMATS[".json"] = "json"
_MIN_CHUNK_RECORDS = 10_000


def add_parser(commands: Any) -> None:
    write = commands.add_parser(
        "write", help="send a Parquet, CSV or JSON Lines file to an HTTP API in batches"
    )
    write.set_defaults(run=run)
    write.add_argument("file", help="a .parquet, .csv, .jsonl/.ndjson or .json (array) file")
    write.add_argument("url")
    write.add_argument("--method", default="POST", help="POST (default), PUT or PATCH")
    write.add_argument("--batch-size", type=whole(1), default=100, help="records per request")
    write.add_argument("--max-batch-bytes", type=whole(1), default=1024 * 1024)
    write.add_argument("--format", dest="body_format", default="json", help="json or ndjson")
    write.add_argument("--envelope", metavar="KEY", help="send {KEY: [records]}")
    write.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'")
    add_secret_param(write)
    write.add_argument(
        "--bearer-env", metavar="VAR", help="bearer token from this environment variable"
    )
    write.add_argument("--dead-letter", metavar="PATH", help="JSON Lines file for failed batches")
    write.add_argument("--max-in-flight", type=whole(1), default=4, help="concurrent requests")
    write.add_argument("--ordered", action="store_true", help="keep batch order (one at a time)")
    write.add_argument(
        "--no-idempotency-key", action="store_true", help="send no Idempotency-Key header"
    )
    write.add_argument("--timeout", type=seconds, default=30.0, help="seconds per request")
    write.add_argument("--quiet", action="store_true", help="no progress display")


class WriteProgress(Progress):
    """Batches, records delivered and rate on one self-rewriting stderr line."""

    failed = 0

    def show(self, result: WriteResult) -> None:
        self.pages, self.records, self.failed = (
            result.batches_sent,
            result.records_delivered,
            result.records_failed,
        )
        now = time.monotonic()
        if self.enabled and now - self._last_draw >= 0.1:
            self._last_draw = now
            self._draw("\r")

    def _draw(self, prefix: str) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        failed = f", {self.failed:,} failed" if self.failed else ""
        self.stream.write(
            f"{prefix}{self.pages:,} batches, {self.records:,} records delivered{failed}, "
            f"{self.records / elapsed:,.0f} records/s"
        )
        self.stream.flush()


def sink_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {
        "method": args.method,
        "batch_size": args.batch_size,
        "max_batch_bytes": args.max_batch_bytes,
        "body_format": args.body_format,
        "envelope": args.envelope,
        "dead_letter": args.dead_letter,
        "max_in_flight": args.max_in_flight,
        "ordered": args.ordered,
        "timeout_seconds": args.timeout,
    }
    if args.no_idempotency_key:
        options["idempotency_header"] = None
    options.update(http_options(args))
    return options


def read_chunks(path: Path, records: int) -> Iterator[Any]:
    """The file's records, about ``records`` at a time: Arrow batches, or lists of dicts."""
    kind = _FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ConfigError("file", str(path), "use a .parquet, .csv, .jsonl or .json file")
    if not path.is_file():
        raise ConfigError("file", str(path), "no such file")
    return _chunks(path, kind, records)


def _chunks(path: Path, kind: str, records: int) -> Iterator[Any]:
    if kind in ("parquet", "csv"):
        yield from _arrow_batches(path, kind, records)
    elif kind == "jsonl":
        yield from _json_lines(path, records)
    else:
        document = _loads(path.read_bytes(), f"{path}")
        if not isinstance(document, list):
            raise HiveFrameError(f"{path}: expected a JSON array of records")
        for start in range(0, len(document), records):
            yield document[start : start + records]


def _arrow_batches(path: Path, kind: str, records: int) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    try:
        if kind == "parquet":
            yield from pq.ParquetFile(path).iter_batches(batch_size=records)
        else:
            yield from pacsv.open_csv(path)
    except pa.ArrowException as exc:  # a damaged or mislabelled file, not a HiveFrame bug
        raise HiveFrameError(f"{path}: not a readable {kind} file ({exc})") from None


def _json_lines(path: Path, records: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                chunk.append(_loads(line, f"{path}:{number}"))
            if len(chunk) >= records:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def _loads(data: bytes, where: str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise HiveFrameError(f"{where}: not JSON ({exc})") from None


async def send_file(sink: HTTPSink, chunks: Iterator[Any], progress: WriteProgress) -> WriteResult:
    """Send every chunk through one open writer; raise DeliveryFailed once, at the end."""
    import anyio

    lost: list[DeliveryFailed] = []
    async with sink.open() as writer:
        while (chunk := await anyio.to_thread.run_sync(next, chunks, None)) is not None:
            try:
                await writer.write(chunk)
            except DeliveryFailed as exc:  # keep going: the other records still go out
                lost.append(exc)
            progress.show(writer.result)
    progress.done()
    if len(lost) == 1:
        raise lost[0]
    if lost:
        not_delivered = sum(exc.not_delivered for exc in lost)
        batches = [index for exc in lost for index in exc.batches]
        message = f"{len(batches)} batches failed; the first chunk's error: {lost[0]}"
        raise DeliveryFailed(message, not_delivered=not_delivered, batches=batches)
    return writer.result


def run(args: argparse.Namespace) -> int:
    from hiveframe._http.portal import run_sync
    from hiveframe.connectors import HTTPSink

    sink = HTTPSink(args.url, **sink_options(args))
    chunk = max(_MIN_CHUNK_RECORDS, args.batch_size * args.max_in_flight * 8)
    chunks = read_chunks(Path(args.file), chunk)
    progress = WriteProgress(enabled=None if not args.quiet else False)
    result = run_sync(lambda: send_file(sink, chunks, progress))
    print(
        f"wrote {result.records_delivered:,} of {result.records_sent:,} records in "
        f"{result.batches_sent:,} batches to {sink.redacted_url} "
        f"({result.retries:,} retries, {result.elapsed_seconds:.2f}s)",
        file=sys.stderr,
    )
    if result.records_failed:
        print(
            f"hiveframe: {result.records_failed:,} records failed; kept in {args.dead_letter}",
            file=sys.stderr,
        )
        return 1
    return 0
