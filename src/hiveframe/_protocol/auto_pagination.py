"""``pagination="auto"``: which pagination style a first page shows, and the evidence.

:func:`detect_pagination` looks at one response (its headers and its JSON document) and
returns a :class:`Detection`: the config to run the rest of the read with, or ``None``
(one page), and the evidence in words. Pure: no I/O, nothing remembered.

What counts, in this order (the first that matches wins; the others are listed as
:attr:`Detection.ignored`):

1. a ``Link`` header (RFC 8288) with a paging relation: ``rel="next"``, or only ``prev``,
   ``first`` or ``last`` (a last page). The header is HTTP's own way of saying where the
   next page is, so it wins over any field of the body;
2. a next-page URL field: ``next``, ``next_url``, ``next_page`` or ``next_page_url``
   holding a URL (``http(s)://...``, ``/...`` or ``?...``), an object with an ``href``,
   or ``null`` (a last page);
3. a cursor field: ``next_cursor``, ``next_token``, ``next_page_token`` or ``cursor``
   holding text, a number or ``null``; the cursor goes back as
   ``AutoPagination.cursor_param`` (``cursor``);
4. an offset envelope: integer ``offset`` and ``limit`` fields;
5. a page envelope: an integer ``page`` with a page size (``per_page``, ``page_size``,
   ``limit``) or a page count (``total_pages``, ``page_count``).

Fields are looked for at the top level of a JSON object, then in the envelopes ``meta``,
``pagination``, ``links``, ``paging``, ``_links`` (HAL: ``_links.next.href``) and
``response_metadata`` (Slack's ``next_cursor``). A total (``total``, ``total_count``, then
``count``) next to an offset or page envelope, or at the top level, becomes ``total_path``;
``count`` only when it is more than the page's records (on a full page it may be the page's
own count, and taking it for the total would end the read early). A signal found in two
places with different values is ambiguous: one page, and the evidence says why. Offset and
page envelopes are sent back under their field names (``?offset=100&limit=100``,
``?page=2&per_page=25``): the common convention, and what the evidence shows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from hiveframe._protocol.link_header import parse_link_header
from hiveframe._protocol.pagination import (
    AutoPagination,
    CursorPagination,
    LinkPagination,
    NextUrlPagination,
    OffsetPagination,
    PagePagination,
    PaginationConfig,
)

__all__ = ["ENVELOPES", "Detection", "detect_pagination", "link_evidence"]

ENVELOPES = ("meta", "pagination", "links", "paging", "_links", "response_metadata")
"""The objects, besides the top level, where paging fields are looked for."""

_PAGING_RELS = frozenset({"next", "prev", "previous", "first", "last"})
_NEXT_URL_FIELDS = ("next", "next_url", "next_page", "next_page_url")
_CURSOR_FIELDS = ("next_cursor", "next_token", "next_page_token", "cursor")
_TOTAL_FIELDS = ("total", "total_count", "count")
_SIZE_FIELDS = ("per_page", "page_size", "limit")
_PAGE_COUNT_FIELDS = ("total_pages", "page_count")


@dataclass(frozen=True)
class Detection:
    """What a first page says about its pagination.

    Attributes
    ----------
    config
        The config to read on with, or ``None``: one page.
    evidence
        Why, in words: ``"Link header rel=next present"``, ``"field next_cursor at
        $.meta.next_cursor"``...
    ignored
        Other signals the page had, which lost to the one chosen.
    """

    config: PaginationConfig | None
    evidence: str
    ignored: tuple[str, ...] = ()

    @property
    def style(self) -> str:
        """The style chosen, or ``"none"``."""
        return self.config.style if self.config is not None else "none"


@dataclass(frozen=True)
class _Signal:
    kind: str  # "next_url", "cursor", "offset", "page"
    path: str  # dotted
    value: Any
    config: PaginationConfig
    evidence: str


def detect_pagination(
    headers: Mapping[str, str],
    document: Any,
    record_count: int,
    options: AutoPagination | None = None,
) -> Detection:
    """The pagination a first page shows (see the module docstring for the rules).

    Parameters
    ----------
    headers
        The response headers (any casing).
    document
        The parsed JSON document, or ``None`` for a response that is not JSON.
    record_count
        The records the page held.
    options
        The ``AutoPagination`` being detected for (cursor parameter, page size, empty pages).

    Examples
    --------
    >>> found = detect_pagination({}, {"data": [1], "meta": {"next_cursor": "c2"}}, 1)
    >>> found.config.cursor_path, found.evidence
    ('meta.next_cursor', 'field next_cursor at $.meta.next_cursor')
    """
    auto = options if options is not None else AutoPagination()
    signals = list(_document_signals(document, record_count, auto))
    link = link_evidence(headers)
    if link is not None:
        config = LinkPagination(max_empty_pages=auto.max_empty_pages)
        return Detection(config, link, tuple(s.evidence for s in signals))
    for kind in ("next_url", "cursor", "offset", "page"):
        found = [s for s in signals if s.kind == kind]
        if not found:
            continue
        first = found[0]
        rest = tuple(s.evidence for s in signals if s is not first)
        clash = next((s for s in found[1:] if s.value != first.value), None)
        if clash is not None:
            evidence = (
                f"ambiguous: {first.evidence} and {clash.evidence} disagree; "
                "name the style to read more than one page"
            )
            return Detection(None, evidence, rest)
        return Detection(first.config, first.evidence, rest)
    looked = ", ".join(("the top level", *ENVELOPES))
    evidence = (
        f"no Link header, no next URL or cursor field, no offset or page envelope "
        f"(looked at {looked})"
    )
    return Detection(None, evidence)


def link_evidence(headers: Mapping[str, str]) -> str | None:
    """What the ``Link`` header of a response says about paging, or ``None`` when it has
    no paging relation (or there is no such header)."""
    header = next((v for k, v in headers.items() if k.lower() == "link"), None)
    if header is None:
        return None
    rels = [
        rel
        for _, params in parse_link_header(header)
        for rel in params.get("rel", "").lower().split()
    ]
    if "next" in rels:
        return "Link header rel=next present"
    paging = sorted(set(rels) & _PAGING_RELS)
    if not paging:
        return None
    return f"Link header with rel={'/'.join(paging)} and no rel=next (a last page)"


def _places(document: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """The objects fields are looked for in, with their dotted prefix."""
    if not isinstance(document, dict):
        return
    yield "", document
    for name in ENVELOPES:
        inner = document.get(name)
        if isinstance(inner, dict):
            yield f"{name}.", inner


def _document_signals(document: Any, records: int, auto: AutoPagination) -> Iterator[_Signal]:
    top = document if isinstance(document, dict) else {}
    for prefix, place in _places(document):
        yield from _next_urls(prefix, place, auto)
        yield from _cursors(prefix, place, auto)
        total = _total(prefix, place, records) or (_total("", top, records) if prefix else None)
        yield from _numbered(prefix, place, total, auto)


def _next_urls(prefix: str, place: dict[str, Any], auto: AutoPagination) -> Iterator[_Signal]:
    for name in _NEXT_URL_FIELDS:
        if name not in place:
            continue
        value, path = place[name], prefix + name
        if isinstance(value, dict) and isinstance(value.get("href"), str):
            value, path = value["href"], path + ".href"
        if value is None or (isinstance(value, str) and _looks_like_url(value)):
            config = NextUrlPagination(next_url_path=path, max_empty_pages=auto.max_empty_pages)
            yield _Signal("next_url", path, value, config, _field(path, value))
            return  # the first of the names wins within one object


def _cursors(prefix: str, place: dict[str, Any], auto: AutoPagination) -> Iterator[_Signal]:
    for name in _CURSOR_FIELDS:
        if name not in place:
            continue
        value, path = place[name], prefix + name
        if value is None or (isinstance(value, (str, int)) and not isinstance(value, bool)):
            config = CursorPagination(
                cursor_param=auto.cursor_param,
                cursor_path=path,
                size_param=auto.size_param,
                page_size=auto.page_size,
                max_empty_pages=auto.max_empty_pages,
            )
            yield _Signal("cursor", path, value, config, _field(path, value))
            return


def _numbered(
    prefix: str, place: dict[str, Any], total: str | None, auto: AutoPagination
) -> Iterator[_Signal]:
    with_total = f", total at $.{total}" if total is not None else ""
    offset, limit = _int(place.get("offset")), _int(place.get("limit"))
    if offset is not None and limit is not None and limit > 0:
        config: PaginationConfig = OffsetPagination(
            page_size=auto.page_size or limit, total_path=total
        )
        evidence = f"offset envelope: fields offset and limit at $.{prefix or ''}"
        yield _Signal("offset", prefix, (offset, limit), config, evidence.rstrip(".") + with_total)
        return
    page = _int(place.get("page"))
    if page is None:
        return
    size_field = next((n for n in _SIZE_FIELDS if (_int(place.get(n)) or 0) > 0), None)
    pages_field = next((n for n in _PAGE_COUNT_FIELDS if _int(place.get(n)) is not None), None)
    if size_field is None and pages_field is None:
        return
    size = _int(place.get(size_field)) if size_field is not None else None
    config = PagePagination(
        size_param=size_field,
        page_size=auto.page_size or size if size_field is not None else None,
        start=min(page, 1),
        total_path=total if size_field is not None else None,
        total_pages_path=prefix + pages_field if pages_field is not None else None,
    )
    named = " and ".join(n for n in ("page", size_field, pages_field) if n is not None)
    evidence = f"page envelope: fields {named} at $.{prefix}".rstrip(".")
    if size_field is not None:
        evidence += with_total
    yield _Signal("page", prefix, page, config, evidence)


def _total(prefix: str, place: dict[str, Any], records: int) -> str | None:
    for name in _TOTAL_FIELDS:
        value = _int(place.get(name))
        if value is None or (name == "count" and value <= records):
            continue
        return prefix + name
    return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _looks_like_url(value: str) -> bool:
    return value.startswith(("http://", "https://", "/", "?"))


def _field(path: str, value: Any) -> str:
    where = f"field {path.rpartition('.')[2]} at $.{path}"
    return f"{where} is null (a last page)" if value is None else where
