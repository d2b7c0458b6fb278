"""The ``hiveframe`` command. Each subcommand lives in its own module.

A mistake ends in one line on stderr, never a traceback. Exit codes:

- ``0``: done;
- ``1``: the work failed (an HTTP error, undelivered records, a file that cannot be read or
  written, the ``http`` extra not installed, or a bug in HiveFrame);
- ``2``: a usage error, found before any work: an argument argparse refuses (``--timeout
  nan``), or an option or output path HiveFrame refuses (a ``ConfigError``);
- ``130``: stopped by Ctrl-C (SIGINT), ``143``: stopped by SIGTERM, which commands handle
  alike: ``stream`` delivers what it read and saves its checkpoint first (see ``_signals``).

A bug (an exception that is not HiveFrame's nor the system's) says so in one line; with the
environment variable ``HIVEFRAME_DEBUG=1`` every error shows its full traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from hiveframe import __version__
from hiveframe.cli._signals import exit_code, stop_on_signals
from hiveframe.errors import ConfigError, HiveFrameError

__all__ = ["DEBUG_ENV", "EXIT_FAILED", "EXIT_USAGE", "main"]

EXIT_FAILED = 1
EXIT_USAGE = 2
DEBUG_ENV = "HIVEFRAME_DEBUG"

# Each command's name and the module that adds its parser and runs it. A command names itself
# first on the line, so only its module loads (what ``demo`` or ``stream`` imports stays out of
# a ``read``); help, completion and a mistyped command build the whole parser.
_COMMANDS = {
    "read": "_read",
    "explain": "_explain",
    "write": "_write",
    "stream": "_stream",
    "run": "_pipeline",
    "demo": "_demo",
}


class _Parser(argparse.ArgumentParser):
    """argparse, with each error on one line that points to ``--help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _CommandParser(_Parser):
    """A subcommand's parser: an argument it does not know is its own error, named by the
    subcommand (``hiveframe read: error: ...``) with the closest option it has, rather
    than the top-level parser's."""

    def parse_known_args(self, *args: Any, **kwargs: Any) -> Any:
        namespace, extra = super().parse_known_args(*args, **kwargs)
        if extra:
            self.error(f"unrecognized arguments: {' '.join(extra)}{self._guess(extra[0])}")
        return namespace, extra

    def _guess(self, word: str) -> str:
        import difflib  # only a mistyped option needs it

        name = word.partition("=")[0]
        options = [o for action in self._actions for o in action.option_strings]
        close = (
            difflib.get_close_matches(name, options, n=1, cutoff=0.75)
            if name.startswith("-")
            else []
        )
        return f" (did you mean {close[0]}?)" if close else ""


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; or, given the name of one of ``_COMMANDS``, a parser of that command
    alone."""
    parser = _Parser(prog="hiveframe", description="Move data between HTTP APIs and tables.")
    parser.add_argument("--version", action="version", version=f"hiveframe {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_CommandParser)
    for name, module in _COMMANDS.items():
        if command in (None, name):
            importlib.import_module(f"hiveframe.cli.{module}").add_parser(commands)
    if command is None:
        from hiveframe.cli import _completion

        _completion.add_parser(commands, parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hiveframe`` command; returns the exit code."""
    words = sys.argv[1:] if argv is None else list(argv)
    command = words[0] if words and words[0] in _COMMANDS else None
    args = _parser(command).parse_args(words)
    try:
        with stop_on_signals(getattr(args, "shutdown_timeout", 0.0)):
            code: int = args.run(args)
        sys.stdout.flush()  # here, so that a closed stdout is caught below, not at exit
    except KeyboardInterrupt as interrupt:  # Ctrl-C or SIGTERM
        return exit_code(interrupt)
    except BrokenPipeError:  # stdout's reader went away (``| head``): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except Exception as exc:
        if os.environ.get(DEBUG_ENV):
            raise
        return _report(exc)
    return code


def _report(exc: Exception) -> int:
    """One line on stderr for ``exc``; the exit code it deserves."""
    code = EXIT_FAILED
    if isinstance(exc, ConfigError):
        message, code = f"error: {exc}", EXIT_USAGE
    elif isinstance(exc, HiveFrameError):
        message = f"error: {exc}"
    elif isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename is not None else ""
        message = f"error: {exc.strerror or exc}{where}"
    else:
        message = (
            f"internal error: {type(exc).__name__}: {exc} (a bug in HiveFrame: please report "
            f"it; {DEBUG_ENV}=1 shows the traceback)"
        )
    print(f"hiveframe: {message}", file=sys.stderr)
    return code
