"""Checks shared by the config objects: each names the option and the bad value."""

from __future__ import annotations

import enum
import math
import os
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import orjson

from hiveframe._secrets import is_secret_name, redact_url
from hiveframe.errors import ConfigError

HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP field name (RFC 9110 §5.1)
_BAD_HEADER_VALUE = re.compile(r"[\r\n\x00]")


class _NotGiven(enum.Enum):
    """Marks an option the user did not pass, where ``None`` has a meaning of its own."""

    NOT_GIVEN = "NOT_GIVEN"

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = _NotGiven.NOT_GIVEN


def check_http_url(url: Any, option: str) -> str:
    """An absolute ``http``/``https`` URL with a host."""
    if not isinstance(url, str):
        raise ConfigError(option, url, "a URL string such as 'https://api.example.com/data'")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises ValueError for a port that is not a number in 0-65535
    except ValueError as exc:
        raise ConfigError(option, redact_url(url), f"not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ConfigError(
            option, redact_url(url), "needs a scheme: 'https://...' (or 'http://...')"
        )
    if not host:
        raise ConfigError(option, redact_url(url), "has no host")
    if any(character.isspace() for character in host):
        raise ConfigError(option, redact_url(url), "has a space in its host")
    return url


def check_str_mapping(value: Mapping[str, Any] | None, option: str) -> Mapping[str, Any]:
    """A mapping with string keys (values are checked by the caller)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ConfigError(option, type(value).__name__, "a dict with string keys")
    return value


def require_int(option: str, value: object, *, minimum: int) -> int:
    """Return ``value`` if it is an ``int`` (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(option, value, f"must be an integer >= {minimum}")
    if value < minimum:
        raise ConfigError(option, value, f"must be >= {minimum}")
    return value


def optional_int(option: str, value: object, *, minimum: int) -> int | None:
    """None (no limit), or what :func:`require_int` accepts."""
    return None if value is None else require_int(option, value, minimum=minimum)


def require_seconds(option: str, value: object, *, positive: bool = False) -> float:
    """Return ``value`` as a float if it is a finite number, >= 0 (> 0 if ``positive``)."""
    bound = "> 0" if positive else ">= 0"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(option, value, f"must be a number of seconds {bound}")
    number = float(value)
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        raise ConfigError(option, value, f"must be a finite number of seconds {bound}")
    return number


def optional_seconds(option: str, value: object, *, positive: bool = True) -> float | None:
    """None (no limit), or what :func:`require_seconds` accepts; infinity is spelled None."""
    if value is None:
        return None
    try:
        return require_seconds(option, value, positive=positive)
    except ConfigError as exc:
        raise ConfigError(option, value, f"{exc.reason}, or None for no limit") from None


def require_multiplier(option: str, value: object) -> float:
    """A backoff multiplier: a finite number >= 1, as a float."""
    reason = "must be a finite number >= 1 (waits never shrink)"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(option, value, reason)
    if not (math.isfinite(value) and value >= 1):
        raise ConfigError(option, value, reason)
    return float(value)


def require_bool(option: str, value: object) -> bool:
    """``True`` or ``False``, nothing merely truthy."""
    if not isinstance(value, bool):
        raise ConfigError(option, value, "must be True or False")
    return value


def check_names(option: str, value: object) -> frozenset[str]:
    """A collection of non-empty names (hosts, headers), not a single string."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ConfigError(option, value, "a list of names, such as ['api.example.com']")
    names = list(value)
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(option, value, f"{name!r} is not a name")
    return frozenset(names)


def check_headers(option: str, value: Mapping[str, Any] | None) -> dict[str, str]:
    """Request headers: field names, and str values that cannot end the header early."""
    headers = dict(check_str_mapping(value, option))
    for name, text in headers.items():
        shown = f"{option}[{name!r}]"
        if not HEADER_NAME.match(name):
            raise ConfigError(option, name, "is not an HTTP header name")
        if not isinstance(text, str):
            raise ConfigError(shown, type(text).__name__, "a str value")
        if _BAD_HEADER_VALUE.search(text):
            reason = "contains a line break or NUL"
            raise ConfigError(shown, text, reason, secret=is_secret_name(name))
    return headers


def check_json(option: str, value: Any) -> Any:
    """A value the request encoder (orjson) can send as a JSON body."""
    try:
        orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        raise ConfigError(option, value, f"cannot be sent as JSON ({exc})") from None
    return value


def check_verify(value: object) -> bool | str:
    """The ``verify`` option: True, False, or a CA bundle (a PEM file) that loads."""
    if isinstance(value, bool):
        return value
    if not isinstance(value, (str, os.PathLike)):
        raise ConfigError("verify", value, "True, False, or the path of a CA bundle file")
    path = os.fspath(value)
    if not isinstance(path, str) or not Path(path).is_file():
        raise ConfigError("verify", value, "is not a CA bundle file")
    import ssl

    try:
        ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError("verify", value, f"is not a usable CA bundle ({exc})") from None
    return path


def check_output_path(option: str, value: object, *, appending: bool = False) -> Path:
    """A file HiveFrame may create (or, ``appending``, add to): its folder exists and is
    writable, and it is not a folder itself. Checked before any work is done."""
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise ConfigError(option, value, "a file path")
    target = Path(value)
    folder = target.parent
    if target.is_dir():
        raise ConfigError(option, str(value), "is a folder; name a file in it")
    if not folder.is_dir():
        raise ConfigError(option, str(value), f"its folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(option, str(value), f"its folder {str(folder)!r} is not writable")
    if appending and target.exists() and not os.access(target, os.W_OK):
        raise ConfigError(option, str(value), "is not writable")
    return target


def check_method(value: Any, allowed: Collection[str]) -> str:
    """An HTTP method among ``allowed`` (any case), upper-cased."""
    method = value.upper() if isinstance(value, str) else ""
    if method not in allowed:
        raise ConfigError("method", value, f"one of {', '.join(sorted(allowed))}")
    return method


def check_choice(option: str, value: Any, choices: Sequence[str]) -> str:
    """One of ``choices``, exactly."""
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(option, value, f"one of {', '.join(map(repr, choices))}")
    return value
