"""``hiveframe explain URL``: what ``hiveframe read`` would ask for, and why (see DESCRIPTION)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hiveframe.cli._common import configure_logging
from hiveframe.cli._read import add_source_arguments, source_from

DESCRIPTION = """\
Takes the options of hiveframe read, fetches the first page (nothing with --offline) and
prints the first request (credentials masked), the format, where the records are, the
pagination with the evidence for it (what --pagination auto finds), the page size, a reported
total, the next request, when the read stops and what an incremental read saves. Nothing is
written, and no state file changes."""


def add_parser(commands: Any) -> None:
    explain = commands.add_parser(
        "explain",
        help="show what a read asks for and how it pages, with the evidence",
        description=DESCRIPTION,
    )
    explain.set_defaults(run=run)
    explain.add_argument("url", metavar="URL", help="the endpoint, http:// or https://")
    explain.add_argument(
        "--offline", action="store_true", help="send nothing: explain from the options alone"
    )
    explain.add_argument(
        "--format",
        dest="explain_format",
        choices=("text", "json"),
        default="text",
        help="text (default) or json",
    )
    add_source_arguments(explain)


def run(args: argparse.Namespace) -> int:
    configure_logging(args)
    source = source_from(args, saves_state=False)
    explanation = source.explain(offline=args.offline)
    if args.explain_format == "json":
        import orjson

        sys.stdout.buffer.write(orjson.dumps(explanation.to_dict(), option=orjson.OPT_INDENT_2))
        sys.stdout.buffer.write(b"\n")
    else:
        print(explanation)
    return 0
