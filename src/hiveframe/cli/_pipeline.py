"""``hiveframe run pipeline.toml``: the sources, transforms and destinations of a pipeline file.

``--dry-run`` prints what a run would do (each source's first request, its pagination, the
state files read and written, each destination) without sending a request or writing a
file. A file HiveFrame refuses is a usage error (exit 2) naming the file, line and key.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(commands: Any) -> None:
    run_file = commands.add_parser(
        "run", help="run a pipeline file (TOML): sources, transforms, destinations"
    )
    run_file.set_defaults(run=run)
    run_file.add_argument("file", help="the pipeline file")
    run_file.add_argument(
        "--dry-run", action="store_true", help="print what a run would do; send nothing"
    )


def run(args: argparse.Namespace) -> int:
    from hiveframe.pipeline import load

    pipeline = load(args.file)
    if args.dry_run:
        print(pipeline.describe())
        return 0
    pipeline.run(sys.stderr)
    return 0
