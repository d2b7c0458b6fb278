"""Options every HTTP subcommand shares: headers, query parameters, a bearer token."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any


def pairs(items: Sequence[str], sep: str, option: str) -> dict[str, str]:
    """``["a=1", "b=2"]`` as a dict; a malformed item ends the command naming the option."""
    out: dict[str, str] = {}
    for item in items:
        name, found, value = item.partition(sep)
        if not found or not name.strip():
            raise SystemExit(f"hiveframe: {option} {item!r}: expected NAME{sep}VALUE")
        out[name.strip()] = value.strip()
    return out


def http_options(args: argparse.Namespace) -> dict[str, Any]:
    """``headers=`` and, with ``--bearer-env``, ``auth=``: the token comes from the
    environment, never from the command line (which shell history and ``ps`` show)."""
    options: dict[str, Any] = {"headers": pairs(args.header, ":", "--header")}
    if args.bearer_env:
        token = os.environ.get(args.bearer_env)
        if not token:
            raise SystemExit(f"hiveframe: --bearer-env: ${args.bearer_env} is not set")
        options["auth"] = {"type": "bearer", "token": token}
    return options
