"""The ``hiveframe`` command. Each subcommand lives in its own module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from hiveframe.cli import _demo, _read, _stream, _write
from hiveframe.errors import HiveFrameError

__all__ = ["main"]

_COMMANDS = (_read, _write, _stream, _demo)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hiveframe", description="Move data between HTTP APIs and tables."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for command in _COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hiveframe`` command."""
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except HiveFrameError as exc:
        print(f"hiveframe: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code
