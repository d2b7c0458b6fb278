"""RFC 8288 ``Link`` headers: parsing, and finding the ``rel="next"`` target."""

from __future__ import annotations

import re

_ESCAPED = re.compile(r"\\(.)")


def parse_link_header(value: str) -> list[tuple[str, dict[str, str]]]:
    """Parse a ``Link`` header into ``(uri, params)`` pairs (RFC 8288 section 3).

    Commas and semicolons inside ``<...>`` or quoted strings do not split; parameter names
    are lower-cased, quoted values unquoted, and only the first of a repeated parameter
    counts (section 3.3). Link values without ``<uri>`` are skipped, not fatal. Several
    ``Link`` headers joined with commas (as a response's headers join repeated fields)
    parse as one.

    Examples
    --------
    >>> parse_link_header('<https://a.test/?p=2>; rel="next", </?p=1>; rel=prev')
    [('https://a.test/?p=2', {'rel': 'next'}), ('/?p=1', {'rel': 'prev'})]
    """
    links = []
    for link_value in _split_outside_quotes(value, ","):
        text = link_value.strip()
        end = text.find(">")
        if not text.startswith("<") or end < 0:
            continue
        params: dict[str, str] = {}
        for part in _split_outside_quotes(text[end + 1 :], ";"):
            name, _, raw = part.partition("=")
            if name.strip():
                params.setdefault(name.strip().lower(), _unquote(raw.strip()))
        links.append((text[1:end].strip(), params))
    return links


def find_next_link(value: str) -> str | None:
    """The URI of the first link whose ``rel`` holds ``next`` (``rel="prev next"`` counts)."""
    for uri, params in parse_link_header(value):
        if "next" in params.get("rel", "").lower().split():
            return uri
    return None


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts, start, quoted, angled, escaped = [], 0, False, False, False
    for i, char in enumerate(text):
        if escaped:
            escaped = False
        elif quoted:
            escaped = char == "\\"
            quoted = char != '"'
        elif angled:
            angled = char != ">"
        elif char in '<"':
            angled, quoted = char == "<", char == '"'
        elif char == separator:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _unquote(value: str) -> str:
    if not value.startswith('"'):
        return value
    inner = value[1:-1] if len(value) > 1 and value.endswith('"') else value[1:]
    return _ESCAPED.sub(r"\1", inner)
