"""``hiveframe read`` options for incremental and parent/child reads.

``--state PATH --cursor-field FIELD [--cursor-param NAME]`` makes the read incremental: it
asks only for what is new since the run that last saved ``PATH``, and saves the new cursor
once the output file is written (so it needs ``-o``). ``--parent URL`` reads the command's
URL, a template with ``{parent.<field>}``, once per record of ``URL``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hiveframe.cli._common import http_options, pairs, whole
from hiveframe.errors import ConfigError

_CURSOR_OPTIONS = (
    "cursor_field",
    "cursor_param",
    "cursor_body_field",
    "initial_value",
    "end_value",
    "end_param",
    "end_body_field",
    "cursor_type",
    "primary_key",
)
_PARENT_OPTIONS = (
    "parent_pagination",
    "parent_page_size",
    "parent_data_path",
    "parent_param",
    "parent_column",
    "child_dead_letter",
)


def add_arguments(read: argparse.ArgumentParser) -> None:
    """The incremental and parent/child options of ``hiveframe read``."""
    cursor = read.add_argument_group("incremental reads (the state moves on once -o is written)")
    cursor.add_argument("--state", metavar="PATH", help="the state file (JSON) between runs")
    cursor.add_argument(
        "--cursor-field", metavar="FIELD", help="the field that grows: updated_at, meta.updated_at"
    )
    cursor.add_argument("--cursor-param", metavar="NAME", help="query parameter asking from it")
    cursor.add_argument("--cursor-body-field", metavar="NAME", help="or: JSON body field")
    cursor.add_argument("--initial-value", metavar="VALUE", help="where the first run starts")
    cursor.add_argument("--end-value", metavar="VALUE", help="drop records from this value on")
    cursor.add_argument("--end-param", metavar="NAME", help="query parameter sending --end-value")
    cursor.add_argument("--end-body-field", metavar="NAME", help="or: JSON body field")
    cursor.add_argument("--cursor-type", metavar="TYPE", help="timestamp, number or string")
    cursor.add_argument(
        "--primary-key", action="append", default=[], metavar="FIELD", help="repeatable"
    )
    fan = read.add_argument_group("parent/child reads: URL has {parent.<field>} placeholders")
    fan.add_argument("--parent", metavar="URL", help="read URL once per record of this one")
    fan.add_argument("--parent-pagination", metavar="STYLE", help="how the parent API pages")
    fan.add_argument(
        "--parent-page-size", type=whole(1), metavar="N", help="parent records per page"
    )
    fan.add_argument("--parent-data-path", metavar="WHERE", help="where the parent's records are")
    fan.add_argument(
        "--parent-param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a query parameter of the parent's requests (repeatable)",
    )
    fan.add_argument(
        "--parent-column",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="parent fields to add as columns (default: _parent_<field> per placeholder)",
    )
    fan.add_argument("--on-child-error", default="raise", help="raise, skip or dead_letter")
    fan.add_argument("--child-dead-letter", metavar="PATH", help="JSON Lines of failed children")


def load_options(args: argparse.Namespace, *, saves_state: bool = True) -> dict[str, Any]:
    """``incremental=`` and ``parent=`` for ``HTTPSource``, from the arguments.

    ``saves_state=False`` for a command that only looks at the state (``explain``): it
    needs no output file.

    Raises
    ------
    ConfigError
        A cursor option without ``--state`` (or ``--state`` without ``-o``), or a parent
        option without ``--parent``; the error names the option.
    """
    options: dict[str, Any] = {}
    given = [name for name in _CURSOR_OPTIONS if getattr(args, name) not in (None, [])]
    if args.state is None and given:
        option = "--" + given[0].replace("_", "-")
        raise ConfigError(option, getattr(args, given[0]), "needs --state PATH")
    if args.state is not None:
        if saves_state and args.output is None and sys.stdout.isatty():
            reason = "needs -o FILE or -o -: a preview saves no state"
            raise ConfigError("--state", args.state, reason)
        if args.cursor_field is None:
            raise ConfigError("--cursor-field", None, "an incremental read (--state) needs it")
        from hiveframe.connectors import Incremental  # loaded only for a read that uses it

        kind = args.cursor_type
        options["incremental"] = Incremental(
            args.cursor_field,
            param=args.cursor_param,
            body_field=args.cursor_body_field,
            initial_value=_value(args.initial_value, kind),
            end_value=_value(args.end_value, kind),
            end_param=args.end_param,
            end_body_field=args.end_body_field,
            state=args.state,
            primary_key=args.primary_key or None,
            cursor_type=kind,
        )
    if args.parent is None:
        given = [name for name in _PARENT_OPTIONS if getattr(args, name) not in (None, [])]
        if given or args.on_child_error != "raise":
            option = given[0] if given else "on_child_error"
            raise ConfigError(
                "--" + option.replace("_", "-"), getattr(args, option), "needs --parent URL"
            )
        return options
    from hiveframe.connectors import HTTPSource, Parent

    parent = HTTPSource(
        args.parent,
        pagination=args.parent_pagination,
        page_size=args.parent_page_size,
        data_path=args.parent_data_path,
        params=pairs(args.parent_param, "=", "--parent-param"),
        timeout_seconds=args.timeout,
        **http_options(args),
    )
    columns = pairs(args.parent_column, "=", "--parent-column")
    options["parent"] = Parent(
        parent,
        fields=columns or None,
        on_child_error=args.on_child_error,
        dead_letter=args.child_dead_letter,
    )
    return options


def _value(text: str | None, kind: str | None) -> Any:
    """A cursor value from the command line: a number when it reads as one (unless the
    cursor is a string or a timestamp), else the text."""
    if text is None or kind in ("string", "timestamp"):
        return text
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            pass
    return text
