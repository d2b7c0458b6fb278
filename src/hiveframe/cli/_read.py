"""``hiveframe read URL``: an API into a file, onto stdout, or a preview (see DESCRIPTION)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hiveframe._protocol.decode import FORMATS
from hiveframe._protocol.pagination import OffsetPagination, PagePagination, PaginationConfig
from hiveframe._protocol.paginators import PAGINATORS
from hiveframe._validate import NOT_GIVEN, check_output_path
from hiveframe.cli import _load
from hiveframe.cli._common import (
    add_http_arguments,
    add_param,
    add_verbosity,
    configure_logging,
    http_options,
    pairs,
    seconds,
    whole,
)
from hiveframe.cli._progress import Progress
from hiveframe.errors import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe._frame import DataFrame
    from hiveframe.connectors import HTTPSource
    from hiveframe.connectors._run import ReadRun

_WRITERS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "json", ".ndjson": "json"}
_STDOUT = ("-", "/dev/stdout")
STDOUT_FORMATS = ("jsonl", "csv")
DESCRIPTION = """\
Where the records go: -o FILE (Parquet, CSV or JSON Lines by its suffix, written once every
record is read); -o -, or stdout when it is not a terminal, as JSON Lines or CSV (--format),
page by page as they arrive; else, on a terminal, a preview of the first --rows records, for
which the read fetches only the pages that hold them. --limit N stops the read after N
records and saves no incremental state."""


def add_parser(commands: Any) -> None:
    read = commands.add_parser(
        "read",
        help="read an HTTP API into a file, onto stdout, or a preview",
        description=DESCRIPTION,
    )
    read.set_defaults(run=run)
    read.add_argument("url", metavar="URL", help="the endpoint, http:// or https://")
    read.add_argument(
        "-o",
        "--output",
        metavar="FILE|-",
        help="a .parquet, .csv or .jsonl file, or '-' for stdout (default: a preview on a "
        "terminal, JSON Lines into a pipe)",
    )
    read.add_argument(
        "--format",
        dest="output_format",
        choices=STDOUT_FORMATS,
        help="what stdout gets (-o - or a pipe): jsonl (default) or csv",
    )
    read.add_argument(
        "--limit",
        type=whole(1),
        metavar="N",
        help="stop the read after N records (no incremental state is saved)",
    )
    read.add_argument(
        "--rows",
        type=whole(0),
        default=20,
        metavar="N",
        help="records the terminal preview shows and reads (default 20)",
    )
    add_source_arguments(read)


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that say what to read and how (``hiveframe read`` and ``explain``)."""
    parser.add_argument("--method", default="GET", help="request method (default GET)")
    parser.add_argument(
        "--pagination",
        choices=[config.style for config in PAGINATORS],
        help="how the API pages: %(choices)s (default: one request)",
    )
    parser.add_argument(
        "--page-size", type=whole(1), metavar="N", help="records per page to ask for"
    )
    parser.add_argument(
        "--total-path",
        metavar="FIELD",
        help="where offset or page responses give the total record count ('total'): the "
        "read stops there, and the progress bar shows it",
    )
    parser.add_argument(
        "--max-pages",
        type=_page_limit,
        default=NOT_GIVEN,
        metavar="N|none",
        help="stop after N pages; 'none' for no cap (default: fail past 100,000 pages)",
    )
    parser.add_argument(
        "--response-format",
        choices=[*FORMATS, "ndjson"],
        help="how responses are decoded: %(choices)s (default: from Content-Type)",
    )
    parser.add_argument("--data-path", help="where the records are: 'results.items' or a JSONPath")
    add_param(parser)
    parser.add_argument("--timeout", type=seconds, default=30.0, help="seconds per request")
    add_http_arguments(parser)
    add_verbosity(parser)
    _load.add_arguments(parser)


def _page_limit(text: str) -> int | None:
    """argparse type of ``--max-pages``: a page count, or ``none`` to lift the default cap."""
    return None if text.strip().lower() == "none" else whole(1)(text)


def _source_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {
        "method": args.method,
        "pagination": _pagination(args),
        "page_size": args.page_size,
        "max_pages": args.max_pages,
        "response_format": args.response_format,
        "data_path": args.data_path,
        "params": pairs(args.param, "=", "--param"),
        "timeout_seconds": args.timeout,
        **http_options(args),
    }
    return options


def _pagination(args: argparse.Namespace) -> str | PaginationConfig | None:
    style: str | None = args.pagination
    if args.total_path is None:
        return style
    if style == "offset":
        return OffsetPagination(total_path=args.total_path)
    if style == "page":
        return PagePagination(total_path=args.total_path)
    raise ConfigError("--total-path", args.total_path, "needs --pagination offset or page")


def source_from(args: argparse.Namespace, *, saves_state: bool = True) -> HTTPSource:
    """The ``HTTPSource`` the arguments of :func:`add_source_arguments` describe.

    Raises
    ------
    ConfigError
        An option HiveFrame refuses, named as on the command line where it has one.
    """
    from hiveframe.connectors import HTTPSource

    options = _load.load_options(args, saves_state=saves_state)
    return HTTPSource(args.url, **_source_options(args), **options)


def read_run(source: HTTPSource) -> ReadRun:
    """A batch read of ``source`` that keeps its progress (pages, total, retries)."""
    from hiveframe._http.reader import ReadProgress
    from hiveframe.connectors._run import ReadRun

    return ReadRun(source.spec, source.runtime, ReadProgress())


def read_pages(run: ReadRun, progress: Progress, limit: int | None = None) -> Iterator[pa.Table]:
    """The pages of ``run`` (from :func:`read_run`) as they arrive, cut after ``limit``
    records; each one shown on ``progress``. Reaching the limit stops the read: no page
    after it is asked for."""
    from hiveframe._http.portal import iterate_sync

    assert run.progress is not None, "a ReadRun from read_run()"
    counts, records = run.progress, 0
    read = iterate_sync(run.pages)
    try:
        for table in read:
            page = table if limit is None else table.slice(0, limit - records)
            records += page.num_rows
            expected = [n for n in (limit, counts.expected_records) if n is not None]
            progress.show(
                records,
                total=min(expected, default=None),
                pages=counts.pages,
                retries=counts.retries,
                rate_limit_waits=counts.rate_limit_waits,
            )
            yield page
            if records == limit:
                return
    finally:
        read.close()  # stops the read where it is, and its requests in flight
        progress.done()


def read_with_progress(run: ReadRun, progress: Progress, limit: int | None = None) -> DataFrame:
    """The first ``limit`` records of ``run`` (all by default) as one frame (not committed)."""
    from hiveframe._frame import DataFrame
    from hiveframe._protocol.arrow.conform import concat_tables

    tables = list(read_pages(run, progress, limit))
    return DataFrame(concat_tables(tables, schema=run.spec.plan.output_schema))


def output_writer(output: str) -> str:
    """The ``df.write`` method for ``-o``; the format and the path are checked before reading."""
    kind = _WRITERS.get(Path(output).suffix.lower())
    if kind is None:
        raise ConfigError("--output", output, "use a .parquet, .csv or .jsonl file name")
    check_output_path("--output", output)
    return kind


def run(args: argparse.Namespace) -> int:
    to_stdout = args.output in _STDOUT or (args.output is None and not sys.stdout.isatty())
    if args.output_format is not None and not to_stdout:
        reason = "is the format of stdout (-o - or a pipe); a file's name says its format"
        raise ConfigError("--format", args.output_format, reason)
    writer = output_writer(args.output) if args.output and not to_stdout else None
    source = source_from(args)
    progress = Progress(enabled=False if args.quiet else None)
    configure_logging(args, progress.log_handler())
    run = read_run(source)
    if to_stdout:
        return _to_stdout(run, progress, args)
    if writer is None:  # the preview reads only the records it shows
        rows = min(args.rows, args.limit or args.rows)
        read_with_progress(run, progress, rows).show(rows)
        print(f"(a preview reads only {rows} records: -o FILE or -o - for all)", file=sys.stderr)
        return 0
    df = read_with_progress(run, progress, args.limit)
    getattr(df.write, writer)(args.output)
    stopped = run.stats.stop_reason or "--limit"  # a read that ended by itself says why
    print(f"wrote {df.count():,} records to {args.output} (stopped: {stopped})", file=sys.stderr)
    _commit(run, args)  # the output is written: an incremental cursor may move on
    return 0


def _to_stdout(run: ReadRun, progress: Progress, args: argparse.Namespace) -> int:
    from hiveframe._protocol.arrow.conform import RunningSchema
    from hiveframe.cli._output import stdout_writer

    out = stdout_writer(args.output_format or "jsonl", sys.stdout.buffer)
    running = RunningSchema()  # one schema, widened as pages need, as iter_batches() does
    for page in read_pages(run, progress, args.limit):
        out.write(running.conform(page))
    _commit(run, args)
    return 0


def _commit(run: ReadRun, args: argparse.Namespace) -> None:
    """Save the incremental state of a read that delivered every record (not a --limit)."""
    if args.limit is None:
        run.commit()
    if args.state is not None:
        saved = "not saved (--limit ends a read early)" if args.limit else "saved"
        print(f"state {saved} in {args.state}", file=sys.stderr)
