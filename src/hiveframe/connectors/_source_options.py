"""The types of ``HTTPSource``'s options: the choices, and the keyword options beyond its
explicit parameters (``**options``), typed so that a type checker sees every one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Literal, TypedDict

from hiveframe._http.clock import Clock
from hiveframe._protocol.response_policy import ResponsePolicy, ResponseRule

if TYPE_CHECKING:
    from hiveframe._protocol.reconnect import ReconnectConfig

__all__ = [
    "FLAT_STREAM_OPTIONS",
    "DriftPolicy",
    "FlatStreamOptions",
    "PaginationStyle",
    "ResponseFormat",
    "SourceOptions",
    "check_keywords",
]

PaginationStyle = Literal["offset", "page", "cursor", "link", "next_url", "auto"]
"""The pagination styles named by a string (a config object names any other)."""

ResponseFormat = Literal["auto", "json", "jsonl", "ndjson", "csv", "text"]
"""``"text"`` is for SSE sources only: each event one ``{"data": ...}`` record."""

DriftPolicy = Literal["promote", "strict"]
"""What a field that changes type between pages does (see ``schema_drift``)."""


class FlatStreamOptions(TypedDict, total=False):
    """The flat spellings of the stream options: shortcuts for ``stream=PollStream(...)``
    (the first eight) and ``stream=SSEStream(...)`` (the rest, with ``response_format``
    as ``data_format``)."""

    poll_interval_seconds: float | None
    stream_type: Literal["poll", "sse"] | None
    since_param: str | None
    since_field: str | None
    since_path: str | None
    dedupe_key: str | None
    dedupe_window: int
    conditional_requests: bool
    idle_timeout_seconds: float
    max_event_bytes: int
    reconnect: ReconnectConfig | None
    strict_sse: bool
    include_event_metadata: bool


FLAT_STREAM_OPTIONS = frozenset(FlatStreamOptions.__annotations__)


class SourceOptions(FlatStreamOptions, total=False):
    """The keyword options of ``HTTPSource`` that are not explicit parameters: transport
    details, the clock, and the flat stream options (shortcuts for ``stream=``)."""

    connect_timeout_seconds: float
    max_body_bytes: int
    verify: bool | str
    proxy: str | None
    block_private_networks: bool
    allowed_hosts: Iterable[str]
    secret_headers: Iterable[str]
    secret_params: Iterable[str]
    response_policy: ResponsePolicy | Iterable[ResponseRule] | None
    include_metadata: bool | Iterable[str]
    clock: Clock


_KEYWORDS = frozenset(SourceOptions.__optional_keys__)


def check_keywords(options: Mapping[str, object], owner: str) -> None:
    """Refuse a keyword that is not an option, as Python refuses an unknown argument.

    Raises
    ------
    TypeError
        ``owner() got an unexpected keyword argument 'name'``.
    """
    for name in options:
        if name not in _KEYWORDS:
            raise TypeError(f"{owner}() got an unexpected keyword argument {name!r}")
