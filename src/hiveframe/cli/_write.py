"""``hiveframe write FILE URL``: a Parquet, CSV or JSON Lines file, or stdin (``-``), into
an HTTP API."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from hiveframe.cli._common import (
    add_http_arguments,
    add_verbosity,
    configure_logging,
    http_options,
    seconds,
    whole,
)
from hiveframe.cli._progress import Progress
from hiveframe.errors import ConfigError, DeliveryFailed, HiveFrameError

if TYPE_CHECKING:
    from hiveframe.connectors import HTTPSink, WriteResult

_FORMATS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_FORMATS[".json"] = "json"
INPUT_FORMATS = ("parquet", "csv", "jsonl", "json")
STDIN = "-"
_MIN_CHUNK_RECORDS = 10_000


def add_parser(commands: Any) -> None:
    write = commands.add_parser(
        "write", help="send a Parquet, CSV or JSON Lines file to an HTTP API in batches"
    )
    write.set_defaults(run=run)
    write.add_argument(
        "file", help="a .parquet, .csv, .jsonl/.ndjson or .json (array) file, or '-' for stdin"
    )
    write.add_argument(
        "url", metavar="URL", help="the endpoint that takes the records, http:// or https://"
    )
    write.add_argument(
        "--input-format",
        choices=INPUT_FORMATS,
        help="the input's format (default: from the file name; jsonl on stdin)",
    )
    write.add_argument("--method", default="POST", help="POST (default), PUT or PATCH")
    write.add_argument("--batch-size", type=whole(1), default=100, help="records per request")
    write.add_argument(
        "--max-batch-bytes",
        type=whole(1),
        default=1024 * 1024,
        metavar="BYTES",
        help="body bytes per request, at most (default 1 MiB)",
    )
    write.add_argument(
        "--format",
        dest="body_format",
        default="json",
        choices=("json", "ndjson"),
        help="request body: json (an array, default) or ndjson",
    )
    write.add_argument("--envelope", metavar="KEY", help="send {KEY: [records]}")
    add_http_arguments(write)
    write.add_argument("--dead-letter", metavar="PATH", help="JSON Lines file for failed batches")
    write.add_argument("--max-in-flight", type=whole(1), default=4, help="concurrent requests")
    write.add_argument("--ordered", action="store_true", help="keep batch order (one at a time)")
    write.add_argument(
        "--no-idempotency-key", action="store_true", help="send no Idempotency-Key header"
    )
    write.add_argument("--timeout", type=seconds, default=30.0, help="seconds per request")
    add_verbosity(write)


def show_result(progress: Progress, result: WriteResult, total: int | None) -> None:
    """The write so far on ``progress``: records delivered (of ``total``, when known)."""
    progress.show(
        result.records_delivered,
        total=total,
        batches=result.batches_sent,
        failed=result.records_failed,
        retries=result.retries,
    )


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


class Input:
    """The records to send: a file, or stdin (``-``), in ``--input-format`` or the format
    its name says; checked before anything is sent."""

    def __init__(self, name: str, input_format: str | None) -> None:
        self.name = "stdin" if name == STDIN else name
        self.path = None if name == STDIN else Path(name)
        kind = input_format
        if kind is None:
            kind = "jsonl" if self.path is None else _FORMATS.get(self.path.suffix.lower())
        if kind is None:
            reason = "use a .parquet, .csv, .jsonl or .json file, or --input-format"
            raise ConfigError("file", name, reason)
        if self.path is not None and not self.path.is_file():
            raise ConfigError("file", name, "no such file")
        self.kind = kind

    def total(self) -> int | None:
        """How many records there are, when known without reading them (a Parquet file)."""
        if self.kind != "parquet" or self.path is None:
            return None
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            return int(pq.ParquetFile(self.path).metadata.num_rows)
        except pa.ArrowException:  # a damaged file: reading it says so, in its own words
            return None

    def chunks(self, records: int) -> Iterator[Any]:
        """The records, about ``records`` at a time: Arrow batches, or lists of dicts."""
        with self._open() as stream:
            if self.kind in ("parquet", "csv"):
                yield from self._arrow_batches(stream, records)
            elif self.kind == "jsonl":
                yield from self._json_lines(stream, records)
            else:
                document = _loads(stream.read(), self.name)
                if not isinstance(document, list):
                    raise HiveFrameError(f"{self.name}: expected a JSON array of records")
                for start in range(0, len(document), records):
                    yield document[start : start + records]

    def _open(self) -> IO[bytes]:
        if self.path is None:
            return open(sys.stdin.fileno(), "rb", closefd=False)
        return self.path.open("rb")

    def _arrow_batches(self, stream: IO[bytes], records: int) -> Iterator[Any]:
        import pyarrow as pa
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        try:
            if self.kind == "parquet":  # its footer comes last: stdin is read whole first
                source = stream if stream.seekable() else pa.BufferReader(stream.read())
                yield from pq.ParquetFile(source).iter_batches(batch_size=records)
            else:
                yield from pacsv.open_csv(stream)
        except pa.ArrowException as exc:  # a damaged or mislabelled file, not a HiveFrame bug
            raise HiveFrameError(f"{self.name}: not a readable {self.kind} file ({exc})") from None

    def _json_lines(self, stream: IO[bytes], records: int) -> Iterator[list[Any]]:
        chunk: list[Any] = []
        for number, line in enumerate(stream, 1):
            if line.strip():
                chunk.append(_loads(line, f"{self.name}:{number}"))
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


async def send_file(
    sink: HTTPSink, chunks: Iterator[Any], progress: Progress, total: int | None = None
) -> WriteResult:
    """Send every chunk through one open writer; raise DeliveryFailed once, at the end."""
    import anyio

    lost: list[DeliveryFailed] = []
    async with sink.open() as writer:
        while (chunk := await anyio.to_thread.run_sync(next, chunks, None)) is not None:
            try:
                await writer.write(chunk)
            except DeliveryFailed as exc:  # keep going: the other records still go out
                lost.append(exc)
            show_result(progress, writer.result, total)
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
    source = Input(args.file, args.input_format)
    chunk = max(_MIN_CHUNK_RECORDS, args.batch_size * args.max_in_flight * 8)
    progress = Progress(enabled=False if args.quiet else None)
    configure_logging(args, progress.log_handler())
    chunks, total = source.chunks(chunk), source.total()
    result = run_sync(lambda: send_file(sink, chunks, progress, total))
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
