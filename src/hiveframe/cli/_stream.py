"""``hiveframe stream URL``: follow a polled endpoint or an SSE feed into a file or an API.

Records go to ``-o out.jsonl`` (appended as JSON Lines, flushed and fsync-ed batch by batch),
to ``--to URL`` (an HTTP sink), or to stdout. The position is checkpointed after each
delivered batch, by default in ``.hiveframe/checkpoints/`` under a name derived from the
source and the target, so running the same command again resumes where it stopped.

Ctrl-C and SIGTERM (how containers stop a program) stop cleanly: what was read is delivered
and the checkpoint saved, for at most ``--shutdown-timeout`` seconds, then the stream stops
at once; a second signal ends the process at once (see :mod:`hiveframe.cli._signals`). The
exit code is then 130 (Ctrl-C) or 143 (SIGTERM).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Any, TextIO

import orjson

from hiveframe._protocol.checkpoint import append_durably
from hiveframe._validate import check_output_path
from hiveframe.cli._common import (
    add_http_arguments,
    add_param,
    add_verbosity,
    configure_logging,
    http_options,
    pairs,
    proxy_option,
    seconds,
    whole,
)
from hiveframe.cli._signals import exit_code

DEFAULT_CHECKPOINT_DIR = Path(".hiveframe") / "checkpoints"
DEFAULT_SHUTDOWN_SECONDS = 10.0  # Docker's wait between SIGTERM and SIGKILL


def add_parser(commands: Any) -> None:
    stream = commands.add_parser(
        "stream", help="follow a polled endpoint or an SSE feed into a file or an API"
    )
    stream.set_defaults(run=run)
    stream.add_argument(
        "url", metavar="URL", help="the endpoint to poll, or the event stream (--sse)"
    )
    target = stream.add_mutually_exclusive_group()
    target.add_argument("-o", "--output", help="append records to this .jsonl file")
    target.add_argument("--to", metavar="URL", help="POST records to this URL (HTTP sink)")
    stream.add_argument("--sse", action="store_true", help="the URL is a Server-Sent Events feed")
    stream.add_argument("--interval", type=seconds, default=5.0, help="seconds between polls")
    stream.add_argument("--since-param", help="query parameter carrying the cursor")
    stream.add_argument("--since-field", help="record field whose largest value is the cursor")
    stream.add_argument("--dedupe-key", help="record field identifying a record")
    stream.add_argument("--data-path", help="where the records are in each document")
    add_param(stream)
    add_http_arguments(stream)
    stream.add_argument("--batch-size", type=whole(1), default=100, help="records per delivery")
    stream.add_argument("--limit", type=whole(1), help="stop after this many records")
    stream.add_argument(
        "--checkpoint-dir",
        type=Path,
        default=DEFAULT_CHECKPOINT_DIR,
        metavar="DIR",
        help=f"where checkpoints are kept (default {DEFAULT_CHECKPOINT_DIR})",
    )
    stream.add_argument("--no-checkpoint", action="store_true", help="start over every time")
    stream.add_argument("--name", help="checkpoint name (default: from URL and target)")
    stream.add_argument(
        "--shutdown-timeout",
        type=seconds,
        default=DEFAULT_SHUTDOWN_SECONDS,
        metavar="SECONDS",
        help="after Ctrl-C or SIGTERM, the longest wait to deliver what was read (default 10)",
    )
    add_verbosity(stream, progress=False)


def _source(args: argparse.Namespace) -> Any:
    from hiveframe.connectors import HTTPSource

    options: dict[str, Any] = {
        "params": pairs(args.param, "=", "--param"),
        "data_path": args.data_path,
        **http_options(args),
    }
    if args.sse:
        return HTTPSource(args.url, stream_type="sse", **options)
    return HTTPSource(
        args.url,
        poll_interval_seconds=args.interval,
        since_param=args.since_param,
        since_field=args.since_field,
        dedupe_key=args.dedupe_key,
        **options,
    )


class _JsonLinesFile:
    """Appends each batch as JSON Lines and makes it durable before acknowledging it."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __call__(self, records: list[Any]) -> None:
        append_durably(Path(self.path), b"".join(orjson.dumps(r) + b"\n" for r in records))


def _stdout(out: TextIO) -> Any:
    def write(records: list[Any]) -> None:
        out.write("".join(orjson.dumps(record).decode() + "\n" for record in records))
        out.flush()

    return write


def _target(args: argparse.Namespace) -> Any:
    if args.to:
        from hiveframe.connectors import HTTPSink

        return HTTPSink(args.to, secret_params=args.secret_param, **proxy_option(args))
    if args.output:
        return _JsonLinesFile(str(check_output_path("--output", args.output, appending=True)))
    return _stdout(sys.stdout)


def _name(args: argparse.Namespace) -> str:
    if args.name:
        return str(args.name)
    key = "\n".join([args.url, "sse" if args.sse else "poll", args.to or args.output or "-"])
    return "stream-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def run(args: argparse.Namespace) -> int:
    from hiveframe.streaming import StreamConfig, StreamProcessor

    configure_logging(args)
    folder = None if args.no_checkpoint else args.checkpoint_dir
    processor = StreamProcessor(StreamConfig(checkpoint_dir=folder, batch_size=args.batch_size))
    stream = processor.from_source(_source(args), name=_name(args))
    if args.limit is not None:
        stream = stream.limit(args.limit)
    query = stream.to(_target(args))
    if folder is not None:
        print(f"checkpoint: {folder / (query.name + '.json')}", file=sys.stderr)
    query.start()
    code = 0
    try:
        while not query.await_termination(0.25):
            pass
    except KeyboardInterrupt as interrupt:  # Ctrl-C or SIGTERM
        print("stopping: delivering what was read, saving the checkpoint...", file=sys.stderr)
        query.stop(graceful=True, timeout=args.shutdown_timeout)
        query.await_termination(0)
        code = exit_code(interrupt)
    metrics = query.metrics
    print(
        f"{query.status.value}: {metrics.records_out:,} records delivered, "
        f"position {orjson.dumps(query.position).decode()}",
        file=sys.stderr,
    )
    return code
