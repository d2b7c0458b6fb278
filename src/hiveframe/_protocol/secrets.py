"""Secrets as a type, and the redaction of URLs and headers shown in logs and errors."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "***"

# Header and query-parameter names that carry credentials. Matched case-insensitively
# against the whole name; users add their own through the source/sink options.
_SECRET_NAME = re.compile(
    r"(authorization|proxy-authorization|cookie|set-cookie|"
    r"auth|x-auth|.*(api[-_]?key|apikey|token|secret|password|passwd|signature|session).*)",
    re.IGNORECASE,
)


class Secret:
    """A string that never shows itself in ``repr``, ``str`` or f-strings.

    ``reveal()`` is the one way to read it, used where it goes on the wire.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        # Pickling keeps the value (Spark ships configs to executors); repr never does.
        return (Secret, (self._value,))


def is_secret_name(name: str, extra: Iterable[str] = ()) -> bool:
    """Whether a header or query-parameter name carries a credential."""
    lowered = name.lower()
    return bool(_SECRET_NAME.fullmatch(name)) or lowered in {e.lower() for e in extra}


def redact_url(url: str, secret_params: Iterable[str] = ()) -> str:
    """The URL with user-info and credential query parameters replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    if not parts.netloc:
        # No "scheme://": "user:pass@host/..." parses as a scheme and a path. Mask it anyway.
        head, at, rest = url.partition("@")
        if at and "/" not in head:
            return redact_url(f"//{REDACTED}@{rest}", secret_params)[2:]
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    query = parts.query
    if query:
        extra = tuple(secret_params)
        pairs = [
            (k, REDACTED if is_secret_name(k, extra) else v)
            for k, v in parse_qsl(query, keep_blank_values=True)
        ]
        query = urlencode(pairs, safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
