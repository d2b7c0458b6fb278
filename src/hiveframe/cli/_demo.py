"""``hiveframe demo``: HiveFrame end to end on the embedded demo API, no internet needed.

``hiveframe demo --serve`` runs the demo API alone, listing each endpoint's URL, until Ctrl-C
or SIGTERM.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path
from typing import Any

from hiveframe.cli._common import whole
from hiveframe.cli._progress import Progress
from hiveframe.cli._read import read_run, read_with_progress
from hiveframe.errors import ConfigError


def add_parser(commands: Any) -> None:
    demo = commands.add_parser("demo", help="run HiveFrame end to end on the embedded demo API")
    demo.set_defaults(run=run)
    demo.add_argument(
        "--records", type=whole(1), default=2500, help="records the demo API serves (2500)"
    )
    demo.add_argument(
        "--serve",
        action="store_true",
        help="only serve the demo API on 127.0.0.1, listing its endpoints, until Ctrl-C",
    )
    demo.add_argument(
        "--port", type=_port, help="with --serve: the port to listen on (default: a free one)"
    )


def _port(text: str) -> int:
    port = whole(0)(text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535, not {text!r}")
    return port


def run(args: argparse.Namespace) -> int:
    if args.serve:
        return serve(args.records, args.port or 0)
    if args.port is not None:
        raise ConfigError("--port", args.port, "only with --serve")
    from hiveframe.connectors import HTTPSource
    from hiveframe.demo import DemoServer

    with DemoServer(records=args.records) as demo:
        print(f"demo API on {demo.base_url} with {args.records:,} records\n")
        source = HTTPSource(demo.url("/data"), pagination="offset", page_size=250)
        started = time.perf_counter()
        df = read_with_progress(read_run(source), Progress())
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
        show_writing(demo, df)
        show_streaming(demo)
    return 0


def serve(records: int, port: int) -> int:
    """Serve the demo API until Ctrl-C or SIGTERM; the first line gives its base URL (with
    the port it got, for ``--port 0``).

    ``main`` turns SIGTERM into a ``KeyboardInterrupt``, as Ctrl-C (``cli._signals``), and
    exits as every command stopped by a signal does: 130 after Ctrl-C, 143 after SIGTERM.
    """
    from hiveframe.demo import ENDPOINTS, DemoServer

    try:
        with DemoServer(records=records, port=port) as demo:
            width = max(len(demo.url(path)) for path in ENDPOINTS)
            lines = [f"demo API on {demo.base_url} with {records:,} records; Ctrl-C stops it"]
            lines += [f"  {demo.url(path):<{width}}  {about}" for path, about in ENDPOINTS.items()]
            print("\n".join(lines), flush=True)
            while True:
                time.sleep(3600)  # until Ctrl-C or SIGTERM raises KeyboardInterrupt
    except KeyboardInterrupt:
        print("demo API stopped", flush=True)
        raise


def show_writing(demo: Any, df: Any) -> None:
    """The frame pushed into the demo's ingest endpoint, and what the server stored."""
    from hiveframe.connectors import HTTPSink

    result = df.write.http(HTTPSink(demo.url("/ingest"), batch_size=250))
    stored = len(demo.ingest.records)
    print(
        f"POSTed {result.records_delivered:,} records in {result.batches_delivered} batches "
        f"to /ingest in {result.elapsed_seconds:.2f}s; the server stored {stored:,}"
    )


def show_streaming(demo: Any) -> None:
    """A few server-sent events of ``/stream``, then a stream processor polling ``/events``."""
    from hiveframe.connectors import HTTPSource
    from hiveframe.streaming import StreamConfig, StreamProcessor

    print("\nstreaming the demo's event log (a new event every 0.2 s):")
    feed = HTTPSource(demo.url("/stream"), stream_type="sse", include_event_metadata=True)
    with feed.stream() as events:
        for event in itertools.islice(events, 5):
            print(
                f"  sse  id={event['_event_id']:>3}  {event['_event']:<15} "
                f"{event['order']}  {event['amount']:>8.2f}"
            )
    polled = HTTPSource(
        demo.url("/events"), poll_interval_seconds=0.5, since_param="since", since_field="id"
    )
    with tempfile.TemporaryDirectory() as folder:
        config = StreamConfig(checkpoint_dir=folder, batch_interval_seconds=0.1)
        batches: list[int] = []
        stream = StreamProcessor(config).from_source(polled, name="events")
        query = stream.to(lambda batch: batches.append(len(batch)))
        query.start()
        deadline = time.monotonic() + 10
        while query.metrics.polls < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        query.stop()
        metrics, position = query.metrics, query.position or {}
        print(
            f"  poll {metrics.polls} polls, 0.5 s apart: {metrics.records_out} new events in "
            f"batches of {batches}; checkpoint saved at since={position.get('cursor')}"
        )
