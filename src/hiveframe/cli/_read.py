"""``hiveframe read URL``: an API into a Parquet/CSV/JSONL file or a preview."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from hiveframe._frame import DataFrame
from hiveframe._protocol.arrow.conform import concat_tables
from hiveframe._validate import NOT_GIVEN, check_output_path
from hiveframe.cli._common import add_secret_param, http_options, pairs, seconds, whole
from hiveframe.cli._progress import Progress
from hiveframe.errors import ConfigError

_WRITERS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "json", ".ndjson": "json"}


def add_parser(commands: Any) -> None:
    read = commands.add_parser("read", help="read an HTTP API into a file or a preview")
    read.set_defaults(run=run)
    read.add_argument("url")
    read.add_argument("-o", "--output", help="out.parquet, out.csv or out.jsonl")
    read.add_argument("--method", default="GET")
    read.add_argument("--pagination", help="offset, page, cursor, link or next_url")
    read.add_argument("--page-size", type=whole(1))
    read.add_argument(
        "--max-pages",
        type=_page_limit,
        default=NOT_GIVEN,
        metavar="N|none",
        help="stop after N pages; 'none' for no cap (default: fail past 100,000 pages)",
    )
    read.add_argument("--format", dest="response_format", help="json, jsonl, csv")
    read.add_argument("--data-path", help="'results.items' or a JSONPath")
    read.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    read.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'")
    add_secret_param(read)
    read.add_argument(
        "--bearer-env", metavar="VAR", help="bearer token from this environment variable"
    )
    read.add_argument("--timeout", type=seconds, default=30.0, help="seconds per request")
    read.add_argument("--rows", type=whole(0), default=20, help="rows shown without -o")
    read.add_argument("--quiet", action="store_true", help="no progress display")


def _page_limit(text: str) -> int | None:
    """argparse type of ``--max-pages``: a page count, or ``none`` to lift the default cap."""
    return None if text.strip().lower() == "none" else whole(1)(text)


def _source_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {
        "method": args.method,
        "pagination": args.pagination,
        "page_size": args.page_size,
        "max_pages": args.max_pages,
        "response_format": args.response_format,
        "data_path": args.data_path,
        "params": pairs(args.param, "=", "--param"),
        "timeout_seconds": args.timeout,
        **http_options(args),
    }
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


def output_writer(output: str) -> str:
    """The ``df.write`` method for ``-o``; the format and the path are checked before reading."""
    kind = _WRITERS.get(Path(output).suffix.lower())
    if kind is None:
        raise ConfigError("--output", output, "use a .parquet, .csv or .jsonl file name")
    check_output_path("--output", output)
    return kind


def run(args: argparse.Namespace) -> int:
    writer = output_writer(args.output) if args.output else None
    from hiveframe.connectors import HTTPSource

    source = HTTPSource(args.url, **_source_options(args))
    progress = Progress(enabled=None if not args.quiet else False)
    df = read_with_progress(source, progress)
    if writer is not None:
        getattr(df.write, writer)(args.output)
        print(f"wrote {df.count():,} records to {args.output}", file=sys.stderr)
    else:
        df.show(args.rows)
    return 0
