"""Polling an endpoint for what is new: cursor, conditional requests, de-duplication. Sans-I/O.

A poll is one paginated read of the endpoint. Three mechanisms keep it from emitting a record
twice, each optional and each part of the checkpointable position:

- an **incremental cursor**: after a poll, the largest value of ``since_field`` among its
  records (or the value at ``since_path`` in the last response) is sent as the ``since_param``
  query parameter of the next poll, so the API returns only what is newer;
- **conditional requests** (RFC 9110 §13): the first page of a poll carries the previous
  poll's ``ETag`` in ``If-None-Match`` and its ``Last-Modified`` in ``If-Modified-Since``; a
  ``304 Not Modified`` ends the poll with nothing to parse;
- **de-duplication** by ``dedupe_key``: keys already emitted are remembered in a bounded
  window (the most recently seen ``dedupe_window`` keys) and dropped when they come back, for
  APIs whose ``since`` is inclusive or that return overlapping windows.

The cursor and validators of a poll are committed only when its last page is in. A position
saved in the middle of a paginated poll names the previous cursor and the poll's next page
(the paginator's own position), so a restart goes on with that page: nothing is read twice,
and the seen-keys window (updated page by page) is a second guard.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import orjson

from hiveframe._protocol.data_path import MissingSegment, split_dotted_path, walk_dotted
from hiveframe._validate import require_bool, require_int, require_seconds
from hiveframe.errors import ConfigError

__all__ = ["DEFAULT_DEDUPE_WINDOW", "PollState", "PollStream"]

DEFAULT_DEDUPE_WINDOW = 10_000
_KIND = "poll"
Key = str | int | float | bool | None


@dataclass(frozen=True, kw_only=True)
class PollStream:
    """A source that streams by polling: ``HTTPSource(url, stream=PollStream(...))``.

    Each poll reads the endpoint like ``read()`` (it may paginate) and emits only what is
    new. The flat ``HTTPSource`` options (``poll_interval_seconds=``, ``since_param=``...)
    are shortcuts that build one.

    Parameters
    ----------
    interval_seconds
        Time from the start of one poll to the start of the next (``poll_interval_seconds``
        as a flat option).
    since_param
        The query parameter that carries the cursor (``"since"``, ``"updated_after"``...).
    since_field
        The record field whose largest value in a poll becomes the next cursor.
    since_path
        Or: a dotted path to the next cursor in the (last) response document.
    dedupe_key
        A record field that identifies a record; records whose key was already emitted are
        dropped.
    dedupe_window
        How many of the most recently seen keys are remembered.
    conditional
        Send ``If-None-Match``/``If-Modified-Since`` from the previous poll
        (``conditional_requests`` as a flat option).

    Raises
    ------
    ConfigError
        A value is out of range or options do not fit together; the error names the option
        as the flat ``HTTPSource`` option spells it.

    Examples
    --------
    >>> PollStream(interval_seconds=5, since_param="since", since_field="id").since_field
    'id'
    """

    kind: ClassVar[Literal["poll"]] = "poll"
    interval_seconds: float
    since_param: str | None = None
    since_field: str | None = None
    since_path: str | None = None
    dedupe_key: str | None = None
    dedupe_window: int = DEFAULT_DEDUPE_WINDOW
    conditional: bool = True

    def __post_init__(self) -> None:
        require_seconds("poll_interval_seconds", self.interval_seconds, positive=True)
        for option in ("since_param", "since_field", "dedupe_key"):
            value = getattr(self, option)
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigError(option, value, "a non-empty field or parameter name, or None")
        if self.since_path is not None:
            split_dotted_path(self.since_path, "since_path")
        if self.since_field is not None and self.since_path is not None:
            raise ConfigError("since_path", self.since_path, "set since_field or since_path")
        has_source = self.since_field is not None or self.since_path is not None
        if (self.since_param is None) == has_source:
            option = "since_param" if self.since_param is None else "since_field"
            raise ConfigError(
                option,
                None,
                "since_param names the query parameter, since_field (or since_path) where "
                "its value comes from; set both or neither",
            )
        require_int("dedupe_window", self.dedupe_window, minimum=1)
        require_bool("conditional_requests", self.conditional)


class PollState:
    """Where a polling source is: cursor, validators and the seen-keys window.

    Parameters
    ----------
    config
        The polling options.
    position
        A position from :meth:`position` to resume from, or ``None`` to start afresh.

    Raises
    ------
    ConfigError
        ``option="position"`` when ``position`` is not a polling position.

    Examples
    --------
    >>> config = PollStream(interval_seconds=5, since_param="since", since_field="id",
    ...                     dedupe_key="id")
    >>> state = PollState(config)
    >>> state.admit([{"id": 1}, {"id": 2}])
    [{'id': 1}, {'id': 2}]
    >>> state.finish_poll()
    >>> state.params(), state.admit([{"id": 2}, {"id": 3}])
    ({'since': '2'}, [{'id': 3}])
    """

    def __init__(self, config: PollStream, position: Mapping[str, Any] | None = None) -> None:
        self.config = config
        self.cursor: Any = None
        self.etag: str | None = None
        self.last_modified: str | None = None
        self.page: dict[str, Any] | None = None  # the next page of an unfinished poll
        self._seen: OrderedDict[Key, None] = OrderedDict()
        self._pending_cursor: Any = None
        self._pending_etag: str | None = None
        self._pending_last_modified: str | None = None
        if position is not None:
            self._restore(position)

    # -- requests ------------------------------------------------------------------------------

    def params(self) -> dict[str, str]:
        """Query parameters for every page of the next poll (the cursor, once there is one)."""
        if self.config.since_param is None or self.cursor is None:
            return {}
        return {self.config.since_param: _param_text(self.cursor)}

    def conditional_headers(self) -> dict[str, str]:
        """Validator headers for the first page of the next poll."""
        if not self.config.conditional:
            return {}
        headers: dict[str, str] = {}
        if self.etag is not None:
            headers["If-None-Match"] = self.etag
        if self.last_modified is not None:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    # -- responses -----------------------------------------------------------------------------

    def note_validators(self, headers: Mapping[str, str]) -> None:
        """Remember the first page's ``ETag``/``Last-Modified`` (committed by finish_poll)."""
        self._pending_etag = headers.get("etag") or headers.get("ETag")
        self._pending_last_modified = headers.get("last-modified") or headers.get("Last-Modified")

    def note_document(self, document: Any) -> None:
        """Take the next cursor from a response document (``since_path``)."""
        if self.config.since_path is None:
            return
        found = walk_dotted(document, split_dotted_path(self.config.since_path, "since_path"))
        if not isinstance(found, MissingSegment) and found is not None and found != "":
            self._pending_cursor = found

    def admit(self, records: Iterable[Any]) -> list[Any]:
        """The records not seen before, in order; their keys (and cursor values) are noted."""
        field = self.config.since_field
        key_field = self.config.dedupe_key
        fresh: list[Any] = []
        for record in records:
            if field is not None and isinstance(record, dict):
                self._note_cursor(record.get(field))
            if key_field is None or not isinstance(record, dict) or key_field not in record:
                fresh.append(record)
                continue
            key = _key(record[key_field])
            if key in self._seen:
                self._seen.move_to_end(key)
                continue
            self._remember(key)
            fresh.append(record)
        return fresh

    def note_page(self, next_page: Mapping[str, Any], index: int) -> None:
        """The poll goes on with page number ``index``, ``next_page`` (a paginator position)."""
        self.page = {"next": dict(next_page), "index": index}

    def finish_poll(self) -> None:
        """The poll's last page is in: commit its cursor and validators."""
        self.page = None
        if self._pending_cursor is not None:
            self.cursor = self._pending_cursor
        if self._pending_etag is not None or self._pending_last_modified is not None:
            self.etag, self.last_modified = self._pending_etag, self._pending_last_modified
        self._start_poll()

    def abandon_poll(self) -> None:
        """The poll failed part-way: the next one starts afresh (keys stay seen)."""
        self.page = None
        self._start_poll()

    # -- position ------------------------------------------------------------------------------

    def position(self) -> dict[str, Any]:
        """The committed state as plain JSON: resume with ``PollState(config, position)``."""
        return {
            "kind": _KIND,
            "cursor": self.cursor,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "page": self.page,
            "seen": list(self._seen),
        }

    def _restore(self, position: Mapping[str, Any]) -> None:
        if not isinstance(position, Mapping) or position.get("kind") != _KIND:
            raise ConfigError("position", position, "not the position of a polling source")
        seen = position.get("seen") or []
        etag, modified = position.get("etag"), position.get("last_modified")
        page = position.get("page")
        texts = all(isinstance(v, str | None) for v in (etag, modified))
        valid_page = page is None or (isinstance(page, dict) and isinstance(page.get("index"), int))
        if not isinstance(seen, list) or not texts or not valid_page:
            raise ConfigError("position", position, "a polling position with malformed fields")
        self.cursor = position.get("cursor")
        self.etag, self.last_modified = etag, modified
        self.page = page
        for key in seen:
            self._remember(_key(key))

    # -- internals -----------------------------------------------------------------------------

    def _start_poll(self) -> None:
        self._pending_cursor = None
        self._pending_etag = None
        self._pending_last_modified = None

    def _note_cursor(self, value: Any) -> None:
        if value is None:
            return
        best = self._pending_cursor if self._pending_cursor is not None else self.cursor
        try:
            if best is not None and not value > best:
                return
        except TypeError:  # values of different types: the latest one wins
            pass
        self._pending_cursor = value

    def _remember(self, key: Key) -> None:
        self._seen[key] = None
        if len(self._seen) > self.config.dedupe_window:
            self._seen.popitem(last=False)


def _key(value: Any) -> Key:
    # Keys go into the JSON position as they are when they are JSON scalars, else as JSON text.
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
