"""Checks shared by the config objects: each names the option and the bad value."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

from hiveframe._protocol.secrets import redact_url
from hiveframe.errors import ConfigError

N = TypeVar("N", int, float)


def check_http_url(url: Any, option: str) -> str:
    """An absolute ``http``/``https`` URL with a host."""
    if not isinstance(url, str):
        raise ConfigError(option, url, "a URL string such as 'https://api.example.com/data'")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise ConfigError(option, redact_url(url), f"not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ConfigError(
            option, redact_url(url), "needs a scheme: 'https://...' (or 'http://...')"
        )
    if not host:
        raise ConfigError(option, redact_url(url), "has no host")
    return url


def check_optional_positive(value: N | None, option: str) -> N | None:
    """None, or a number above zero (``True``/``False`` are not numbers here)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(option, value, "must be a number above 0, or None")
    return value


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


def require_seconds(option: str, value: object, *, positive: bool = False) -> float:
    """Return ``value`` as a float if it is a finite number, >= 0 (> 0 if ``positive``)."""
    bound = "> 0" if positive else ">= 0"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(option, value, f"must be a number of seconds {bound}")
    number = float(value)
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        raise ConfigError(option, value, f"must be a finite number of seconds {bound}")
    return number


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
