"""What a response says about the server's request quota, without I/O.

Three families of headers are read, the first one present wins:

1. ``RateLimit`` (IETF draft-ietf-httpapi-ratelimit-headers, structured fields). The current
   form names policies: ``RateLimit: "default";r=0;t=10`` (``r`` requests remaining, ``t``
   seconds until the quota resets) with ``RateLimit-Policy: "default";q=100;w=60`` (``q``
   requests per window of ``w`` seconds). Policy names may be bare tokens too. The older
   form is a dictionary: ``RateLimit: limit=100, remaining=0, reset=10``.
2. ``RateLimit-Limit``, ``RateLimit-Remaining``, ``RateLimit-Reset`` (the draft's first
   versions), with ``RateLimit-Policy: 100;w=60``.
3. ``X-RateLimit-Limit``, ``X-RateLimit-Remaining``, ``X-RateLimit-Reset`` (GitHub,
   Twitter/X, Shopify and many others; ``X-Rate-Limit-*`` too).

A reset of :data:`EPOCH_THRESHOLD` (10**9) or more is a Unix time (GitHub's
``X-RateLimit-Reset: 1767225600``): no API means a wait of 31 years. Below that it is
seconds from now (``RateLimit-Reset: 30``). Several policies at once (a per-second burst and a
daily quota) are reduced to the one that binds: the fewest requests remaining, and of those
the latest reset.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

EPOCH_THRESHOLD = 1_000_000_000
"""A ``Reset`` at least this large is a Unix time in seconds; a smaller one, seconds from now."""

_X_PREFIXES = ("x-ratelimit-", "x-rate-limit-")


@dataclass(frozen=True)
class Quota:
    """The server's quota as one response reports it.

    Attributes
    ----------
    remaining
        Requests the server will still accept before ``reset_seconds`` have passed.
    reset_seconds
        Seconds from now until the quota is full again (never negative).
    limit
        Requests per window, when the response says.
    window_seconds
        The window's length, when the response says (a policy's ``w``).
    """

    remaining: int
    reset_seconds: float
    limit: int | None = None
    window_seconds: float | None = None


def parse_quota(headers: Mapping[str, str], *, now: float) -> Quota | None:
    """The quota ``headers`` report, or ``None`` when they report none (or nothing usable).

    Parameters
    ----------
    headers
        Response headers; names are compared without case. Repeated fields may be given
        joined with ``", "``.
    now
        The wall-clock time (Unix seconds), to turn a reset given as a Unix time into seconds.

    Examples
    --------
    >>> parse_quota({"RateLimit": '"default";r=0;t=10',
    ...              "RateLimit-Policy": '"default";q=100;w=60'}, now=0)
    Quota(remaining=0, reset_seconds=10.0, limit=100, window_seconds=60.0)
    >>> parse_quota({"X-RateLimit-Remaining": "7", "X-RateLimit-Reset": "1800000030"},
    ...             now=1_800_000_000)
    Quota(remaining=7, reset_seconds=30.0, limit=None, window_seconds=None)
    """
    fields = _lower(headers)
    if "ratelimit" in fields:
        found = _structured(fields["ratelimit"], fields.get("ratelimit-policy"), now)
        if found is not None:
            return found
    for prefix in ("ratelimit-", *_X_PREFIXES):
        if prefix + "remaining" in fields:
            found = _separate(fields, prefix, now)
            if found is not None:
                return found
    return None


def reset_seconds(value: float, *, now: float) -> float:
    """Seconds until a reset given either as seconds from now or as a Unix time (by size).

    >>> reset_seconds(30, now=1_800_000_000), reset_seconds(1_800_000_030, now=1_800_000_000)
    (30.0, 30.0)
    """
    seconds = value - now if value >= EPOCH_THRESHOLD else value
    return max(0.0, float(seconds))


# -- the header families ------------------------------------------------------------------------


def _structured(value: str, policy_field: str | None, now: float) -> Quota | None:
    members = _members(value)
    if any(name == "remaining" for name, _, _ in members):  # limit=100, remaining=0, reset=10
        entries = {name: item for name, item, _ in members}
        return _quota(
            entries.get("remaining"), entries.get("reset"), entries.get("limit"), None, now
        )
    policies = {name: params for name, _, params in _members(policy_field or "")}
    quotas = []
    for name, _, params in members:
        policy = policies.get(name, {})
        found = _quota(params.get("r"), params.get("t"), policy.get("q"), policy.get("w"), now)
        if found is not None:
            quotas.append(found)
    return _binding(quotas)


def _separate(fields: Mapping[str, str], prefix: str, now: float) -> Quota | None:
    window = None
    if prefix == "ratelimit-" and "ratelimit-policy" in fields:
        policies = _members(fields["ratelimit-policy"])
        window = policies[0][2].get("w") if policies else None
    return _quota(
        _first_item(fields[prefix + "remaining"]),
        _first_item(fields.get(prefix + "reset")),
        _first_item(fields.get(prefix + "limit")),
        window,
        now,
    )


def _quota(
    remaining: str | None,
    reset: str | None,
    limit: str | None,
    window: str | None,
    now: float,
) -> Quota | None:
    left, when = _count(remaining), _number(reset)
    length = _number(window)
    if left is None:
        return None
    if when is None:  # no reset: the quota fills again within a window at the latest
        if length is None:
            return None
        when = length
    return Quota(
        remaining=left,
        reset_seconds=reset_seconds(when, now=now),
        limit=_count(limit),
        window_seconds=length if length is not None and length > 0 else None,
    )


def _binding(quotas: Iterable[Quota]) -> Quota | None:
    ordered = sorted(quotas, key=lambda q: (q.remaining, -q.reset_seconds))
    return ordered[0] if ordered else None


# -- structured fields (RFC 9651), read leniently -----------------------------------------------


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        fields[key] = f"{fields[key]}, {value}" if key in fields else value
    return fields


def _members(text: str) -> list[tuple[str, str | None, dict[str, str]]]:
    """List or dictionary members as ``(name, value, parameters)``.

    ``"default";r=0`` and ``default;r=0`` are the item ``default`` (no value) with parameter
    ``r``; ``remaining=0`` is the dictionary member ``remaining`` with value ``0``; ``100;w=60``
    is the item ``100``.
    """
    members: list[tuple[str, str | None, dict[str, str]]] = []
    for member in _split(text, ","):
        head, *rest = _split(member, ";")
        name, has_value, item = head.partition("=")
        params = {}
        for param in rest:
            key, _, raw = param.partition("=")
            params[key.strip().lower()] = _unquote(raw)
        if has_value:
            members.append((name.strip().lower(), _unquote(item), params))
        elif head.strip():
            members.append((_unquote(head), None, params))
    return members


def _split(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part.strip()] or [""]


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return text


def _first_item(value: str | None) -> str | None:
    """The first member's value of a list such as ``10, 10;w=1`` (the draft's RateLimit-Limit)."""
    if value is None:
        return None
    members = _members(value)
    return members[0][0] if members else None


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if number >= 0 and number != float("inf") else None


def _count(text: str | None) -> int | None:
    number = _number(text)
    return int(number) if number is not None else None
