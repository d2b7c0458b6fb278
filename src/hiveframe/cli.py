"""The ``hiveframe`` command: ``read`` an API into a file or a preview, run the ``demo``."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa

from hiveframe._frame import DataFrame
from hiveframe._protocol.arrow import concat_tables
from hiveframe.errors import HiveFrameError

_WRITERS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "json", ".ndjson": "json"}


class Progress:
    """Pages, records and rate on one self-rewriting stderr line; silent when not a terminal."""

    def __init__(self, stream: TextIO = sys.stderr, *, enabled: bool | None = None) -> None:
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self.pages = 0
        self.records = 0
        self.started = time.monotonic()
        self._last_draw = 0.0

    def update(self, records: int) -> None:
        self.pages += 1
        self.records += records
        now = time.monotonic()
        if self.enabled and now - self._last_draw >= 0.1:
            self._last_draw = now
            self._draw("\r")

    def done(self) -> None:
        if self.enabled:
            self._draw("\r")
            self.stream.write("\n")

    def _draw(self, prefix: str) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.records / elapsed
        self.stream.write(
            f"{prefix}{self.pages} pages, {self.records:,} records, {rate:,.0f} records/s"
        )
        self.stream.flush()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hiveframe", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    read = commands.add_parser("read", help="read an HTTP API into a file or a preview")
    read.add_argument("url")
    read.add_argument("-o", "--output", help="out.parquet, out.csv or out.jsonl")
    read.add_argument("--method", default="GET")
    read.add_argument("--pagination", help="offset, page, cursor, link or next_url")
    read.add_argument("--page-size", type=int)
    read.add_argument("--max-pages", type=int)
    read.add_argument("--format", dest="response_format", help="json, jsonl, csv")
    read.add_argument("--data-path", help="'results.items' or a JSONPath")
    read.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    read.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'")
    read.add_argument(
        "--bearer-env", metavar="VAR", help="bearer token from this environment variable"
    )
    read.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    read.add_argument("--rows", type=int, default=20, help="rows shown without -o")
    read.add_argument("--quiet", action="store_true", help="no progress display")
    demo = commands.add_parser("demo", help="run HiveFrame end to end on the embedded demo API")
    demo.add_argument("--records", type=int, default=2500)
    return parser


def _pairs(items: Sequence[str], sep: str, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, found, value = item.partition(sep)
        if not found or not name.strip():
            raise SystemExit(f"hiveframe: {option} {item!r}: expected NAME{sep}VALUE")
        out[name.strip()] = value.strip()
    return out


def _source_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {
        "method": args.method,
        "pagination": args.pagination,
        "page_size": args.page_size,
        "max_pages": args.max_pages,
        "response_format": args.response_format,
        "data_path": args.data_path,
        "params": _pairs(args.param, "=", "--param"),
        "headers": _pairs(args.header, ":", "--header"),
        "timeout_seconds": args.timeout,
    }
    if args.bearer_env:
        token = os.environ.get(args.bearer_env)
        if not token:
            raise SystemExit(f"hiveframe: --bearer-env: ${args.bearer_env} is not set")
        options["auth"] = {"type": "bearer", "token": token}
    return options


def read_with_progress(source: Any, progress: Progress) -> DataFrame:
    """Read every page of ``source``, reporting each to ``progress``."""
    from hiveframe._http.portal import iterate_sync

    tables: list[pa.Table] = []
    pages: Iterator[pa.Table] = iterate_sync(source._apages)
    for table in pages:
        tables.append(table)
        progress.update(table.num_rows)
    progress.done()
    return DataFrame(concat_tables(tables, schema=source.schema))


def write_output(df: DataFrame, output: str) -> None:
    kind = _WRITERS.get(Path(output).suffix.lower())
    if kind is None:
        raise SystemExit(f"hiveframe: -o {output!r}: use a .parquet, .csv or .jsonl file name")
    getattr(df.write, kind)(output)


def _read(args: argparse.Namespace) -> int:
    from hiveframe.connectors import HTTPSource

    source = HTTPSource(args.url, **_source_options(args))
    progress = Progress(enabled=None if not args.quiet else False)
    df = read_with_progress(source, progress)
    if args.output:
        write_output(df, args.output)
        print(f"wrote {df.count():,} records to {args.output}", file=sys.stderr)
    else:
        df.show(args.rows)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from hiveframe.connectors import HTTPSource
    from hiveframe.demo import DemoServer

    with DemoServer(records=args.records) as demo:
        print(f"demo API on {demo.base_url} with {args.records:,} records\n")
        source = HTTPSource(demo.url("/data"), pagination="offset", page_size=250)
        started = time.perf_counter()
        df = read_with_progress(source, Progress())
        seconds = time.perf_counter() - started
        print(f"offset pagination: {df.count():,} records in {seconds:.2f}s")
        df.show(5)
        styles = [
            ("page", HTTPSource(demo.url("/pages"), pagination="page", data_path="data")),
            ("cursor", HTTPSource(demo.url("/cursor"), pagination="cursor", data_path="data")),
            ("link", HTTPSource(demo.url("/link"), pagination="link")),
            (
                "next_url",
                HTTPSource(demo.url("/next"), pagination="next_url", data_path="$.results[*]"),
            ),
            ("jsonl", HTTPSource(demo.url("/items.jsonl"), params={"limit": 500})),
            ("csv", HTTPSource(demo.url("/items.csv"), params={"limit": 500})),
        ]
        for name, style_source in styles:
            print(f"{name:>9}: {style_source.read().count():,} records")
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "items.parquet"
            df.write.parquet(out)
            print(f"\nwrote {df.count():,} records to Parquet ({out.stat().st_size:,} bytes)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hiveframe`` command."""
    args = _parser().parse_args(argv)
    try:
        return _read(args) if args.command == "read" else _demo(args)
    except HiveFrameError as exc:
        print(f"hiveframe: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
