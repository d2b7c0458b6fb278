"""``source.explain()``: what a source will ask for, and what its first page says.

:func:`aexplain` builds the first request of a read exactly as a read would (the user's
parameters, the paginator's first parameters, an incremental cursor's value, the auth's
names), fetches it unless told not to, and reports each choice a read makes with the evidence
for it: the format (the Content-Type), where the records are (``data_path``, or the arrays a
document holds), the pagination (the header or field that decides it, a detection for
``pagination="auto"``), the page size, a reported total, the stop rule and what is saved
between runs. Secrets never show: the URL and the headers are masked by name and by value,
as in logs, and auth headers appear only as ``***``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from hiveframe._http.reader import FetchedPage, PageReader, ReadPlan
from hiveframe._http.response import Response
from hiveframe._http.session import Session
from hiveframe._http.transport import build_url
from hiveframe._protocol.auto_pagination import detect_pagination, link_evidence
from hiveframe._protocol.data_path import MissingSegment, split_dotted_path, walk_dotted
from hiveframe._protocol.decode import resolve_format
from hiveframe._protocol.pagination import (
    AutoPagination,
    CursorPagination,
    LinkPagination,
    NextUrlPagination,
    PaginationConfig,
)
from hiveframe._protocol.paginators import (
    AutoPaginator,
    PageRequest,
    Paginator,
    start_paginator,
)
from hiveframe._protocol.poll import PollStream
from hiveframe._secrets import REDACTED, SecretNames, SecretValues, redact_url
from hiveframe.connectors._incremental import CursorRun
from hiveframe.connectors._spec import Runtime, SourceSpec

__all__ = ["Choice", "Explanation", "aexplain"]

_MAX_ARRAYS = 5  # record arrays suggested for data_path


@dataclass(frozen=True)
class Choice:
    """One decision of a read: what was chosen, and why."""

    value: str
    evidence: str


@dataclass(frozen=True)
class Explanation:
    """What a read of a source asks for and does, from ``source.explain()``.

    ``str(explanation)`` is the report as text, one fact a line; :meth:`to_dict` is the same
    as JSON-ready data (``hiveframe explain --format json``). URLs, headers and bodies have
    their secrets masked.

    Attributes
    ----------
    method, url, headers, body
        The first request: URL with its query (credentials masked), the headers the user
        and the auth set (auth values as ``***``), the JSON body.
    auth
        The auth, as its ``repr`` (secrets masked), or ``None``.
    fetched, not_fetched
        Whether the first page was fetched, and if not why (``"offline"``; an SSE stream
        and a child source of ``parent=`` are not fetched).
    status, records
        The first response's status and its records (``None`` when not fetched).
    format, data_path, pagination
        Each choice with its evidence.
    page_size, total
        Records per page, and the collection's size if the first page reports it.
    next_request
        The URL of the second page's request (masked), or ``None``.
    stop_rule
        When the read ends.
    checkpoint
        What is saved between runs, and where.
    notes
        Hints: a ``data_path`` or pagination the first page suggests, and the like.
    """

    method: str
    url: str
    headers: dict[str, str]
    body: Any
    auth: str | None
    fetched: bool
    not_fetched: str | None
    status: int | None
    records: int | None
    format: Choice
    data_path: Choice
    pagination: Choice
    page_size: str
    total: int | None
    next_request: str | None
    stop_rule: str
    checkpoint: str
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The explanation as plain JSON-ready data."""
        data = asdict(self)
        data["notes"] = list(self.notes)
        return data

    def __str__(self) -> str:
        lines = [f"request: {self.method} {self.url}"]
        lines += [f"  {name}: {value}" for name, value in self.headers.items()]
        if self.auth is not None:
            lines.append(f"  auth: {self.auth}")
        if self.body is not None:
            lines.append(f"  body: {self.body!r}")
        if self.fetched:
            plural = "" if self.records == 1 else "s"
            lines.append(f"response: {self.status}, {self.records} record{plural}")
        else:
            lines.append(f"response: not fetched ({self.not_fetched})")
        for name in ("format", "data_path", "pagination"):
            choice: Choice = getattr(self, name)
            lines.append(f"{name}: {choice.value} ({choice.evidence})")
        lines.append(f"page size: {self.page_size}")
        if self.total is not None:
            lines.append(f"total: {self.total} records (reported)")
        if self.next_request is not None:
            lines.append(f"next request: {self.method} {self.next_request}")
        lines += [f"stops: {self.stop_rule}", f"checkpoint: {self.checkpoint}"]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


async def aexplain(
    spec: SourceSpec, runtime: Runtime | None = None, *, offline: bool = False
) -> Explanation:
    """What a read of ``spec`` asks for and, unless ``offline``, what its first page says.

    Raises
    ------
    hiveframe.errors.HiveFrameError
        The first request failed, or its response could not be decoded, as a read would.
    """
    request = _Request.of(spec)
    session = spec.session(runtime)
    fetched = None
    unfetched = "offline" if offline else _not_fetched(spec)
    if unfetched is None:
        async with session:
            reader = PageReader(request.plan, session)
            response = await reader.request_page(request.first, 0)
            fetched = _First(response, reader.decode(response, request.first, 0))
    return _Report(spec, request, session, fetched, unfetched).explanation()


def _not_fetched(spec: SourceSpec) -> str | None:
    """Why a source's first page is not fetched even when asked to, or None."""
    if spec.stream_kind == "sse":
        return "an event stream is not opened to explain it"
    if spec.fanout is not None:
        parent = spec.fanout.parent.redacted_url
        return f"the URL is filled from each record of {parent}: explain that source for its pages"
    return None


@dataclass(frozen=True)
class _Request:
    """The first request of a read, as a read builds it."""

    plan: ReadPlan
    first: PageRequest
    paginator: Paginator | None
    cursor: CursorRun | None

    @classmethod
    def of(cls, spec: SourceSpec) -> _Request:
        plan, cursor = spec.plan, None
        if spec.incremental is not None:
            cursor = CursorRun(spec.incremental, spec.redacted_url)
            plan = cursor.plan(plan)
        paginator = start_paginator(plan.pagination) if plan.pagination is not None else None
        first = paginator.first() if paginator is not None else PageRequest()
        return cls(plan, first, paginator, cursor)


@dataclass(frozen=True)
class _Paging:
    """The pagination part of an explanation."""

    choice: Choice
    page_size: str = "the API's"
    total: int | None = None
    next_request: str | None = None
    stop_rule: str = "after one request"


@dataclass(frozen=True)
class _First:
    response: Response
    page: FetchedPage


class _Report:
    """Builds the :class:`Explanation` of one source (and its first page, if fetched)."""

    def __init__(
        self,
        spec: SourceSpec,
        request: _Request,
        session: Session,
        first: _First | None,
        unfetched: str | None,
    ) -> None:
        self.spec, self.request, self.session, self.first = spec, request, session, first
        self.unfetched = unfetched
        self.plan = request.plan
        self.notes: list[str] = []
        auth = spec.auth
        config = spec.session_config
        self._secret_headers = SecretNames(
            {*config.secret_headers, *(auth.secret_headers() if auth is not None else ())}
        )
        self._secret_params = SecretNames(
            {*config.secret_params, *(auth.secret_params() if auth is not None else ())}
        )

    def explanation(self) -> Explanation:
        plan, first = self.plan, self.first
        data_path = self._data_path()  # its note goes before the pagination's
        paging = self._pagination()
        return Explanation(
            method=plan.method,
            url=self._url(),
            headers=self._headers(),
            body=_masked(plan.body, self._secret_params, self.session.secrets),
            auth=repr(self.spec.auth) if self.spec.auth is not None else None,
            fetched=first is not None,
            not_fetched=self.unfetched,
            status=first.response.status_code if first is not None else None,
            records=first.page.page.record_count if first is not None else None,
            format=self._format(),
            data_path=data_path,
            pagination=paging.choice,
            page_size=paging.page_size,
            total=paging.total,
            next_request=paging.next_request,
            stop_rule=paging.stop_rule,
            checkpoint=self._checkpoint(),
            notes=tuple(self.notes),
        )

    # -- the request ----------------------------------------------------------------------------

    def _url(self) -> str:
        params = {**self.plan.params, **self.request.first.params}
        auth = self.spec.auth
        for name in auth.secret_params() if auth is not None else ():
            params[name] = REDACTED
        url = str(build_url(self.plan.url, params)) if params else self.plan.url
        return self._redact(url)

    def _redact(self, url: str) -> str:
        return self.session.secrets.scrub(redact_url(url, self._secret_params))

    def _headers(self) -> dict[str, str]:
        shown = {
            name: REDACTED if name in self._secret_headers else self.session.secrets.scrub(value)
            for name, value in self.plan.headers.items()
        }
        auth = self.spec.auth
        for name in sorted(auth.secret_headers() if auth is not None else ()):
            if name not in {given.lower() for given in shown}:
                shown[_header_case(name)] = REDACTED
        given = {name.lower() for name in shown}
        if self.plan.body is not None and "content-type" not in given:
            shown["Content-Type"] = "application/json"
        if self.spec.stream_kind == "sse" and "accept" not in given:
            shown["Accept"] = "text/event-stream"
        return shown

    # -- decoding -------------------------------------------------------------------------------

    def _format(self) -> Choice:
        plan, first = self.plan, self.first
        if plan.parser is not None:
            name = getattr(plan.parser, "__name__", type(plan.parser).__name__)
            return Choice("parser", f"parser={name} given")
        if self.spec.stream_kind == "sse":
            return Choice("sse", "an event stream (stream=SSEStream)")
        if first is None:
            if plan.response_format is not None:
                return Choice(plan.response_format, "response_format given")
            return Choice("auto", "from the response's Content-Type")
        content_type = first.response.headers.get("content-type")
        fmt = resolve_format(plan.response_format, content_type)
        if plan.response_format is not None:
            return Choice(fmt, "response_format given")
        return Choice(fmt, f"Content-Type: {content_type}" if content_type else "no Content-Type")

    def _data_path(self) -> Choice:
        given, first = self.plan.data_path, self.first
        if given is not None:
            where = f"{first.page.page.record_count} records there" if first else "given"
            return Choice(given.expression, where if first is None else f"given: {where}")
        if first is None:
            return Choice("none", "a top-level array is the records, an object one record")
        document = first.page.page.document
        if isinstance(document, list):
            return Choice("none", f"the document is an array of {len(document)} records")
        if document is None:
            return Choice("none", "each line or row is a record")
        if isinstance(document, dict):
            arrays = _record_arrays(document)
            if arrays:
                shown = ", ".join(f"{path} ({count})" for path, count in arrays)
                self.notes.append(f"records may be at data_path={arrays[0][0]!r}")
                return Choice(
                    "none",
                    f"the document is one object, read as one record; "
                    f"arrays of objects in it: {shown}",
                )
            return Choice("none", "the document is one object, read as one record")
        return Choice("none", f"the document is a {type(document).__name__}")

    # -- pagination -----------------------------------------------------------------------------

    def _pagination(self) -> _Paging:
        config, paginator, first = self.plan.pagination, self.request.paginator, self.first
        if config is None or paginator is None:
            self._hint()
            return _Paging(Choice("none", "pagination not set"))
        if first is None:
            choice = Choice(config.style, _config_evidence(config))
            return _Paging(choice, _size_text(config, None), stop_rule=self._stop(config))
        page = first.page.page
        with self.session.reporting(page.url, page=0):
            total = paginator.records_reported(page)
            nxt = paginator.advance(page) if not first.page.ignored else None
        chosen: PaginationConfig | None = config
        if isinstance(paginator, AutoPaginator) and paginator.detection is not None:
            detection = paginator.detection
            chosen, evidence = detection.config, detection.evidence
            if detection.ignored:
                evidence += "; also found, not used: " + "; ".join(detection.ignored)
            choice = Choice(f"auto -> {detection.style}", evidence)
        else:
            choice = Choice(config.style, self._evidence(config))
        stop = self._stop(chosen) if chosen is not None else "after one request"
        if nxt is None:
            stop = f"after this page ({paginator.stop_reason or 'ignored'}); {stop}"
        url = None
        if nxt is not None:
            target = nxt.url or str(build_url(self.plan.url, {**self.plan.params, **nxt.params}))
            url = self._redact(target)
        size = _size_text(chosen, page.record_count) if chosen is not None else "the API's"
        return _Paging(choice, size, total, url, stop)

    def _hint(self) -> None:
        first = self.first
        if first is None:
            return
        page = first.page.page
        found = detect_pagination(page.headers, page.document, page.record_count)
        if found.config is not None:
            self.notes.append(
                f"the first page looks paginated ({found.evidence}): "
                f"pagination='auto' would read it as {found.style}"
            )

    def _evidence(self, config: PaginationConfig) -> str:
        assert self.first is not None
        page = self.first.page.page
        if isinstance(config, LinkPagination):
            return f"given; {link_evidence(page.headers) or 'no Link header with paging relations'}"
        path = getattr(config, "cursor_path", None) or getattr(config, "next_url_path", None)
        if isinstance(config, CursorPagination) and config.cursor_header is not None:
            found = page.headers.get(config.cursor_header)
            where = f"header {config.cursor_header}"
            return f"given; {where} {'present' if found else 'absent'}"
        if path is not None:
            return f"given; {_field_state(page.document, path)}"
        return _config_evidence(config)

    def _stop(self, config: PaginationConfig) -> str:
        plan = self.plan
        rule = _STOP_RULES.get(config.style, "")
        if isinstance(config, (CursorPagination, NextUrlPagination)):
            path = (
                config.cursor_path if isinstance(config, CursorPagination) else config.next_url_path
            )
            rule = rule.format(path=path or "")
        elif config.style in ("offset", "page"):
            size = config.effective_page_size
            short = f", a page of fewer than {size} records" if size is not None else ""
            total = " or the reported total" if config.document_paths else ""
            rule = f"an empty page{short}{total}"
        if plan.max_pages is not None:
            return f"{rule}; at most {plan.max_pages} pages (max_pages)"
        if plan.page_cap is not None:
            return f"{rule}; fails past {plan.page_cap:,} pages (the default cap)"
        return rule

    # -- between runs ---------------------------------------------------------------------------

    def _checkpoint(self) -> str:
        spec, cursor = self.spec, self.request.cursor
        if cursor is not None:
            config = cursor.config
            start = cursor.window.start_value(None)
            asked = "the start (no saved state)" if start is None else repr(start)
            return (
                f"the largest {config.cursor_field} read, saved to {config.state_path} once the "
                f"records are delivered; this run reads from {asked}"
            )
        if isinstance(spec.stream, PollStream):
            return "a stream position (next page, since value, ETag), saved by a StreamProcessor"
        if spec.stream_kind == "sse":
            return "the last event id (Last-Event-ID), saved by a StreamProcessor"
        return "nothing (no incremental=): every read starts at the first page"


_STOP_RULES = {
    "cursor": "a page without a next cursor at $.{path} (absent, null or empty)",
    "link": "a response without a Link header rel=next",
    "next_url": "a page without a next URL at $.{path}",
    "auto": "as the style found on the first page; one page if none is found",
}


def _config_evidence(config: PaginationConfig) -> str:
    if isinstance(config, AutoPagination):
        return "detected on the first page"
    params = [
        p
        for p in (
            getattr(config, "offset_param", None),
            getattr(config, "page_param", None),
            config.size_param_name,
        )
        if p
    ]
    sent = f"query parameters {', '.join(params)}" if params else "nothing sent on the first page"
    return f"given; {sent}"


def _size_text(config: PaginationConfig, records: int | None) -> str:
    size = config.effective_page_size
    if size is not None:
        sent = f" (sent as {config.size_param_name})" if config.size_param_name else ""
        return f"{size}{sent}"
    return "the API's" + (f" ({records} records on the first page)" if records is not None else "")


def _field_state(document: Any, path: str) -> str:
    leaf = path.rpartition(".")[2]
    where = f"field {leaf} at $.{path}"
    found = walk_dotted(document, split_dotted_path(path, "path")) if document is not None else None
    if found is None or isinstance(found, MissingSegment):
        return f"{where} absent or null (a last page)"
    return f"{where} present"


def _record_arrays(document: dict[str, Any]) -> list[tuple[str, int]]:
    """Paths of arrays of objects in ``document`` (top level and one level down)."""
    found = []
    for name, value in document.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            found.append((name, len(value)))
        elif isinstance(value, dict):
            for inner, items in value.items():
                if isinstance(items, list) and items and all(isinstance(v, dict) for v in items):
                    found.append((f"{name}.{inner}", len(items)))
    return sorted(found, key=lambda item: -item[1])[:_MAX_ARRAYS]


def _masked(value: Any, names: SecretNames, secrets: SecretValues) -> Any:
    """A JSON body with the values of credential-named fields as ``***``, and every known
    secret removed from its text."""
    if isinstance(value, Mapping):
        return {k: REDACTED if k in names else _masked(v, names, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, names, secrets) for v in value]
    return secrets.scrub(value) if isinstance(value, str) else value


def _header_case(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))
