"""``hiveframe demo``: HiveFrame end to end on the embedded demo API, no internet needed."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from hiveframe.cli._progress import Progress
from hiveframe.cli._read import read_with_progress


def add_parser(commands: Any) -> None:
    demo = commands.add_parser("demo", help="run HiveFrame end to end on the embedded demo API")
    demo.set_defaults(run=run)
    demo.add_argument("--records", type=int, default=2500)


def run(args: argparse.Namespace) -> int:
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
