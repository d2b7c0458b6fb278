"""The HTTP sink's options and their checks, run once when ``HTTPSink`` is built (each error
names its option)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from hiveframe._protocol.batching import (
    Batcher,
    BodyFormat,
    ContentKey,
    KeyFunction,
)
from hiveframe._protocol.item_results import ItemResults
from hiveframe._validate import (
    HEADER_NAME,
    check_headers,
    check_output_path,
)
from hiveframe.errors import ConfigError

SINK_METHODS = ("POST", "PUT", "PATCH")
BodyFormatName = Literal["json", "ndjson", "jsonl"]
"""``body_format=``: a JSON array, or one record per line (``jsonl`` is ``ndjson``)."""
_FORMATS = {"json": "json", "ndjson": "ndjson", "jsonl": "ndjson"}
_TWO_XX = frozenset(range(200, 300))


@dataclass(frozen=True)
class SinkOptions:
    """Everything about a sink but its auth, transport policies and clock, validated."""

    url: str
    method: str
    batch_size: int
    max_batch_bytes: int
    body_format: BodyFormat
    request_headers: dict[str, str]
    max_in_flight: int
    ordered: bool
    idempotency_header: str | None
    key_function: KeyFunction | None
    dead_letter: Path | None
    success_statuses: frozenset[int]
    item_results: ItemResults | None = None

    def batcher(self) -> Batcher:
        """A fresh batcher with these limits, format and keys."""
        return Batcher(
            batch_size=self.batch_size,
            max_batch_bytes=self.max_batch_bytes,
            body_format=self.body_format,
            key=self.key_function,
        )


def body_format_option(body_format: Any, envelope: Any, encoder: Any) -> BodyFormat:
    kind = _FORMATS.get(body_format) if isinstance(body_format, str) else None
    if kind is None:
        raise ConfigError("body_format", body_format, "'json' (an array) or 'ndjson'")
    if envelope is not None:
        if not isinstance(envelope, str) or not envelope:
            raise ConfigError("envelope", envelope, "a key such as 'records', or None")
        if kind != "json":
            raise ConfigError("envelope", envelope, "wraps a JSON array: use body_format='json'")
    if encoder is not None:
        if not callable(encoder):
            raise ConfigError("encoder", encoder, "a callable encoder(records) -> bytes")
        if kind != "json" or envelope is not None:
            reason = "builds the whole body: leave body_format and envelope unset"
            raise ConfigError("encoder", encoder, reason)
    return BodyFormat(kind, envelope, encoder)


def idempotency_header_option(name: Any) -> str | None:
    if name is not None and not (isinstance(name, str) and HEADER_NAME.match(name)):
        raise ConfigError("idempotency_header", name, "a header name, or None for no keys")
    return name


def request_headers(
    headers: Any, fmt: BodyFormat, idempotency_header: str | None
) -> dict[str, str]:
    out = check_headers("headers", headers)
    for name, value in out.items():
        if idempotency_header is not None and name.lower() == idempotency_header.lower():
            reason = "set per batch by the sink; pass idempotency_key= to choose the keys"
            raise ConfigError(f"headers[{name!r}]", value, reason)
    if not any(name.lower() == "content-type" for name in out):
        out["Content-Type"] = fmt.content_type
    return out


def key_function(custom: Any, header: str | None, method: str, url: str) -> KeyFunction | None:
    if custom is not None and not callable(custom):
        raise ConfigError("idempotency_key", custom, "a callable key(batch_index, body) -> str")
    if header is None:
        if custom is not None:
            raise ConfigError("idempotency_key", custom, "needs an idempotency_header")
        return None
    if custom is None:
        return ContentKey(method, url)
    return _CheckedKey(custom)


@dataclass(frozen=True)
class _CheckedKey:
    """A user's key function, whose keys are checked before they go in a header."""

    custom: Callable[[int, bytes], Any]

    def __call__(self, index: int, body: bytes) -> str:
        value = self.custom(index, body)
        if not (isinstance(value, str) and value and value.isascii() and value.isprintable()):
            reason = "must return a non-empty printable ASCII str (it goes in a header)"
            raise ConfigError("idempotency_key", value, reason)
        return value


def dead_letter_option(path: Any) -> Path | None:
    return None if path is None else check_output_path("dead_letter", path, appending=True)


def success_statuses_option(statuses: Any) -> frozenset[int]:
    if statuses is None:
        return _TWO_XX
    reason = "a non-empty set of 2xx statuses, such as {200, 202}"
    if isinstance(statuses, (str, bytes, Mapping)) or not isinstance(statuses, Iterable):
        raise ConfigError("success_statuses", statuses, reason)
    chosen = frozenset(statuses)
    if not chosen or not all(
        isinstance(s, int) and not isinstance(s, bool) and s in _TWO_XX for s in chosen
    ):
        raise ConfigError("success_statuses", statuses, reason)
    return chosen
