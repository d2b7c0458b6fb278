"""Checks shared by the config objects: each names the option and the bad value."""

from __future__ import annotations

from collections.abc import Mapping
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
