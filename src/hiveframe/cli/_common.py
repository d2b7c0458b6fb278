"""Options every HTTP subcommand shares: headers, query parameters, a bearer token; and the
argparse types that check numbers with HiveFrame's own checks, so ``--timeout nan`` is a
usage error (exit 2) before anything runs."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from typing import Any

from hiveframe._validate import require_int, require_seconds
from hiveframe.errors import ConfigError


def seconds(text: str) -> float:
    """argparse type: a finite number of seconds above 0."""
    try:
        return require_seconds("seconds", float(text), positive=True)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(f"{exc.reason}, not {text!r}") from None
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {text!r}") from None


def whole(minimum: int) -> Callable[[str], int]:
    """argparse type: an integer of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            return require_int("number", int(text), minimum=minimum)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(f"{exc.reason}, not {text!r}") from None
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None

    return parse


def pairs(items: Sequence[str], sep: str, option: str) -> dict[str, str]:
    """``["a=1", "b=2"]`` as a dict; a malformed item is a usage error naming the option."""
    out: dict[str, str] = {}
    for item in items:
        name, found, value = item.partition(sep)
        if not found or not name.strip():
            raise ConfigError(option, item, f"expected NAME{sep}VALUE")
        out[name.strip()] = value.strip()
    return out


def add_secret_param(parser: argparse.ArgumentParser) -> None:
    """``--secret-param NAME``, repeatable: more query parameters that carry credentials."""
    parser.add_argument(
        "--secret-param",
        action="append",
        default=[],
        metavar="NAME",
        help="a query parameter that carries a credential, beyond key, api_key, token, sig...",
    )


def http_options(args: argparse.Namespace) -> dict[str, Any]:
    """``headers=``, ``secret_params=`` and, with ``--bearer-env``, ``auth=``: the token comes
    from the environment, never from the command line (which shell history and ``ps`` show)."""
    options: dict[str, Any] = {
        "headers": pairs(args.header, ":", "--header"),
        "secret_params": args.secret_param,
    }
    if args.bearer_env:
        token = os.environ.get(args.bearer_env)
        if not token:
            reason = "names an environment variable that is not set (or is empty)"
            raise ConfigError("--bearer-env", args.bearer_env, reason)
        options["auth"] = {"type": "bearer", "token": token}
    return options
