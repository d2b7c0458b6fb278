"""Options every HTTP subcommand shares: headers, credentials from environment variables, a
proxy, how much to say; and the argparse types that check numbers with HiveFrame's own
checks, so ``--timeout nan`` is a usage error (exit 2) before anything runs.

Secrets never come from the command line, which shell history and ``ps`` show: each auth
flag names environment variables (``--bearer-env TOKEN_VAR``, ``--basic-env USER:PASS``...).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
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


def add_param(parser: argparse.ArgumentParser) -> None:
    """``--param NAME=VALUE``, repeatable: query parameters sent with every request."""
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a query parameter sent with every request (repeatable)",
    )


def add_http_arguments(parser: argparse.ArgumentParser) -> None:
    """Headers, credential names, auth from environment variables and the proxy."""
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a header sent with every request (repeatable)",
    )
    parser.add_argument(
        "--secret-param",
        action="append",
        default=[],
        metavar="NAME",
        help="a query parameter that carries a credential, beyond key, api_key, token, sig...",
    )
    auth = parser.add_argument_group(
        "auth (secrets come from environment variables, never from the command line)"
    ).add_mutually_exclusive_group()
    auth.add_argument("--bearer-env", metavar="VAR", help="bearer token from this variable")
    auth.add_argument(
        "--basic-env", metavar="USER_VAR:PASS_VAR", help="basic auth: user name and password"
    )
    auth.add_argument("--api-key-env", metavar="HEADER:VAR", help="an API key sent in this header")
    auth.add_argument(
        "--api-key-query-env", metavar="PARAM:VAR", help="an API key sent as this query parameter"
    )
    auth.add_argument(
        "--oauth-secret-env",
        metavar="VAR",
        help="OAuth2 client credentials: the client secret (with --oauth-token-url, "
        "--oauth-client-id)",
    )
    oauth = parser.add_argument_group("OAuth2 client credentials")
    oauth.add_argument("--oauth-token-url", metavar="URL", help="the token endpoint (https)")
    oauth.add_argument("--oauth-client-id", metavar="ID", help="the client id")
    oauth.add_argument("--oauth-scope", metavar="SCOPE", help="the scope to ask for")
    parser.add_argument(
        "--proxy",
        metavar="URL|none",
        help="send every request through this http:// proxy; 'none' for no proxy (default: "
        "HTTPS_PROXY, HTTP_PROXY and NO_PROXY; proxy credentials belong there, not here)",
    )


def http_options(args: argparse.Namespace) -> dict[str, Any]:
    """``headers=``, ``secret_params=``, ``auth=`` (secrets read from the environment
    variables the flags name) and ``proxy=`` (when ``--proxy`` is given)."""
    options: dict[str, Any] = {
        "headers": pairs(args.header, ":", "--header"),
        "secret_params": args.secret_param,
    }
    auth = _auth(args)
    if auth is not None:
        options["auth"] = auth
    return {**options, **proxy_option(args)}


def proxy_option(args: argparse.Namespace) -> dict[str, Any]:
    """``proxy=`` when ``--proxy`` is given (``none``: no proxy); else nothing, so the
    environment's variables apply."""
    if args.proxy is None:
        return {}
    return {"proxy": None if args.proxy.strip().lower() == "none" else args.proxy}


def _auth(args: argparse.Namespace) -> dict[str, Any] | None:
    if args.bearer_env:
        return {"type": "bearer", "token": _env("--bearer-env", args.bearer_env)}
    if args.basic_env:
        user_var, password = _env_pair("--basic-env", args.basic_env, "USER_VAR:PASS_VAR")
        return {"type": "basic", "username": _env("--basic-env", user_var), "password": password}
    if args.api_key_env or args.api_key_query_env:
        flag = "--api-key-env" if args.api_key_env else "--api-key-query-env"
        name, value = _env_pair(flag, args.api_key_env or args.api_key_query_env, "NAME:VAR")
        where = "header" if args.api_key_env else "query"
        return {"type": "api_key", "name": name, "value": value, "in": where}
    return _oauth(args)


def _oauth(args: argparse.Namespace) -> dict[str, Any] | None:
    given = {
        flag: value
        for flag, value in (
            ("--oauth-token-url", args.oauth_token_url),
            ("--oauth-client-id", args.oauth_client_id),
            ("--oauth-scope", args.oauth_scope),
        )
        if value is not None
    }
    if args.oauth_secret_env is None:
        if given:
            flag, value = next(iter(given.items()))
            raise ConfigError(flag, value, "needs --oauth-secret-env")
        return None
    for flag in ("--oauth-token-url", "--oauth-client-id"):
        if flag not in given:
            raise ConfigError("--oauth-secret-env", args.oauth_secret_env, f"needs {flag}")
    return {
        "type": "oauth2",
        "token_url": args.oauth_token_url,
        "client_id": args.oauth_client_id,
        "client_secret": _env("--oauth-secret-env", args.oauth_secret_env),
        "scope": args.oauth_scope,
    }


def _env(flag: str, variable: str) -> str:
    """The value of the environment variable ``variable``; unset or empty is a usage error."""
    value = os.environ.get(variable)
    if not value:
        reason = "names an environment variable that is not set (or is empty)"
        raise ConfigError(flag, variable, reason)
    return value


def _env_pair(flag: str, text: str, form: str) -> tuple[str, str]:
    """``FIRST:VAR``: the first part as written, and the value of the variable ``VAR``."""
    first, found, variable = text.partition(":")
    if not found or not first.strip() or not variable.strip():
        raise ConfigError(flag, text, f"expected {form}")
    return first.strip(), _env(flag, variable.strip())


def add_verbosity(parser: argparse.ArgumentParser, *, progress: bool = True) -> None:
    """``-v``/``--verbose`` (a log line per request on stderr) and, for commands with a
    progress display, ``-q``/``--quiet``."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log each request (URL with credentials masked, status, time) and retry on stderr",
    )
    if progress:
        parser.add_argument("-q", "--quiet", action="store_true", help="no progress display")


def configure_logging(args: argparse.Namespace, handler: logging.Handler | None = None) -> None:
    """With ``--verbose``, HiveFrame's log records go to stderr (through ``handler`` if given,
    such as one that keeps a progress bar intact), one line each."""
    if not args.verbose:
        return
    handler = handler or logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("hiveframe: %(message)s"))
    logger = logging.getLogger("hiveframe")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
