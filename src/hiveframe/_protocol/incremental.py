"""Incremental reads: a cursor that remembers how far a source has been read. Sans-I/O.

A read with an :class:`Incremental` cursor asks the API only for records whose
``cursor_field`` is at or after the value saved by the previous run (sent as a query
parameter or a JSON body field), drops what it has delivered before, and, once the caller
has the records, saves the highest value seen. Records that share that highest value are
remembered by key (``primary_key``, or a digest of the whole record), so the next run, which
asks again from that value, neither loses nor repeats them.

The state file is a small JSON document (``docs/pipelines.md`` describes it; the CLI and
pipeline files write the same one)::

    {
      "version": 1,
      "kind": "hiveframe.incremental",
      "source": "https://api.example.com/orders",
      "cursor_field": "updated_at",
      "cursor_type": "timestamp",
      "primary_key": ["id"],
      "cursor": "2026-01-01T04:09:00Z",
      "boundary_keys": [250],
      "partitions": [],
      "saved_at": "2026-12-01T18:00:00+00:00"
    }

``cursor`` is the highest value delivered, as the API sent it; ``boundary_keys`` the keys of
the records delivered with that value (a key is the ``primary_key`` value, a list of values
for a composite key, or ``"sha256:..."``, the digest of a record without one). A child source
of a parent/child read keeps one cursor per parent instead, in ``partitions``:
``[{"parent": {"id": 7}, "cursor": ..., "boundary_keys": [...]}]``.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from hiveframe._protocol.data_path import split_dotted_path
from hiveframe._validate import check_choice
from hiveframe.errors import ConfigError

__all__ = [
    "CURSOR_TYPES",
    "STATE_KIND",
    "STATE_VERSION",
    "CursorState",
    "CursorWindow",
    "Incremental",
    "IncrementalState",
    "content_key",
    "record_key",
]

CURSOR_TYPES = ("timestamp", "number", "string")
STATE_VERSION = 1
STATE_KIND = "hiveframe.incremental"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"(Z|z|[+-]\d{2}(?::?\d{2})?)?"
)


@dataclass(frozen=True)
class Incremental:
    """Read only what is new since the last run, and remember how far that was.

    Parameters
    ----------
    cursor_field
        The record field that grows as records change (``"updated_at"``, ``"id"``); dotted
        for one inside a nested object (``"meta.updated_at"``, the spelling of a dotted
        ``data_path``), unless the records have a field with that very name.
    param
        The query parameter that asks the API for records at or after a value
        (``"since"``, ``"updated_after"``).
    body_field
        Or: the field of the JSON request body that carries it, dotted for a nested one
        (``"filter.since"``). Neither: the API is read whole and filtered here.
    initial_value
        Where the first run starts (records before it are dropped); ``None`` reads from the
        beginning.
    end_value
        For backfills: records at or after it are dropped, and the saved cursor never
        reaches it.
    end_param
        The query parameter that sends ``end_value`` to the API (``"until"``), so that it
        does not send what would be dropped here.
    end_body_field
        Or: the field of the JSON request body that sends it, dotted for a nested one.
    state
        The state file that keeps the cursor between runs (created on the first commit,
        replaced atomically).
    primary_key
        The field (or fields) identifying a record, to tell apart the records that share the
        saved value. Without one, a digest of the whole record does.
    cursor_type
        How values compare: ``"timestamp"`` (ISO 8601; a value without an offset is UTC),
        ``"number"`` or ``"string"``. By default from ``initial_value`` (or ``end_value``),
        else from the first value read.

    Raises
    ------
    ConfigError
        Naming the option (``incremental.<name>``) and the bad value.

    Examples
    --------
    >>> Incremental("updated_at", param="since", initial_value="2024-01-01T00:00:00Z",
    ...             state="state/orders.json").cursor_type
    'timestamp'
    """

    cursor_field: str
    param: str | None = None
    body_field: str | None = None
    initial_value: Any = None
    end_value: Any = None
    state: str | os.PathLike[str] | None = None
    primary_key: str | Sequence[str] | None = None
    cursor_type: str | None = None
    end_param: str | None = None
    end_body_field: str | None = None

    def __post_init__(self) -> None:
        _check_name("incremental.cursor_field", self.cursor_field)
        split_dotted_path(self.cursor_field, "incremental.cursor_field")
        _check_sent("", self.param, self.body_field)
        _check_sent("end_", self.end_param, self.end_body_field)
        end = self.end_param or self.end_body_field
        if end is not None and self.end_value is None:
            option = "end_param" if self.end_param is not None else "end_body_field"
            reason = "sends end_value to the API: set end_value= too"
            raise ConfigError(f"incremental.{option}", end, reason)
        if end is not None and end in (self.param, self.body_field):
            option = "end_param" if self.end_param is not None else "end_body_field"
            reason = "the start and the end of the range need a name each"
            raise ConfigError(f"incremental.{option}", end, reason)
        if not isinstance(self.state, (str, os.PathLike)) or not os.fspath(self.state):
            reason = "the file that keeps the cursor between runs, e.g. 'state/orders.json'"
            raise ConfigError("incremental.state", self.state, reason)
        object.__setattr__(self, "primary_key", _key_fields(self.primary_key))
        kind = self.cursor_type
        if kind is None:
            given = self.initial_value if self.initial_value is not None else self.end_value
            kind = _infer_type(given) if given is not None else None
        else:
            check_choice("incremental.cursor_type", kind, CURSOR_TYPES)
        object.__setattr__(self, "cursor_type", kind)
        for option in ("initial_value", "end_value"):
            value = getattr(self, option)
            if value is not None and kind is not None:
                try:
                    cursor_key(value, kind)
                except ValueError as exc:
                    raise ConfigError(f"incremental.{option}", value, str(exc)) from None
        start, end = self.initial_value, self.end_value
        if start is None or end is None or kind is None:
            return
        if not cursor_key(start, kind) < cursor_key(end, kind):
            raise ConfigError("incremental.end_value", end, "must come after initial_value")

    @property
    def state_path(self) -> Path:
        """The state file, as a path."""
        assert self.state is not None
        return Path(self.state)

    @property
    def key_fields(self) -> tuple[str, ...]:
        """The ``primary_key`` fields (none: records are told apart by their digest)."""
        return tuple(self.primary_key or ())

    @property
    def sends_cursor(self) -> bool:
        """Whether the API is asked for records from the cursor on (``param``/``body_field``)."""
        return self.param is not None or self.body_field is not None

    @property
    def sends_end(self) -> bool:
        """Whether the API is asked for records before ``end_value`` (``end_param``/
        ``end_body_field``)."""
        return self.end_param is not None or self.end_body_field is not None


def _check_name(option: str, value: Any) -> None:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ConfigError(option, value, "a field or parameter name")


def _check_sent(prefix: str, param: str | None, body_field: str | None) -> None:
    """``<prefix>param`` and ``<prefix>body_field``: names, and not both."""
    if param is not None:
        _check_name(f"incremental.{prefix}param", param)
    if body_field is not None:
        _check_name(f"incremental.{prefix}body_field", body_field)
        split_dotted_path(body_field, f"incremental.{prefix}body_field")
        if param is not None:
            reason = f"send it as {prefix}param or as {prefix}body_field, not both"
            raise ConfigError(f"incremental.{prefix}body_field", body_field, reason)


def _key_fields(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = (value,) if isinstance(value, str) else value
    if not isinstance(names, Sequence) or not names:
        raise ConfigError("incremental.primary_key", value, "a field name or a list of them")
    for name in names:
        _check_name("incremental.primary_key", name)
    return tuple(names)


# -- cursor values ----------------------------------------------------------------------------


def _infer_type(value: Any) -> str:
    if isinstance(value, bool):
        raise ConfigError("incremental.cursor_type", value, "a cursor is not a boolean")
    if isinstance(value, (int, float, Decimal)):
        return "number"
    if isinstance(value, (datetime, date)):
        return "timestamp"
    if isinstance(value, str):
        try:
            _parse_timestamp(value)
        except ValueError:
            return "string"
        return "timestamp"
    raise ConfigError("incremental.cursor_type", value, "set it: 'timestamp', 'number', 'string'")


def cursor_key(value: Any, cursor_type: str) -> Any:
    """``value`` as it compares for ``cursor_type``.

    Raises
    ------
    ValueError
        The value is not one of that type (the message says why).
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a {cursor_type} cursor value")
    if cursor_type == "timestamp":
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
        if isinstance(value, str):
            return _parse_timestamp(value)
        raise ValueError("not an ISO 8601 timestamp")
    if cursor_type == "number":
        if isinstance(value, str):
            try:
                value = float(value) if any(c in value for c in ".eE") else int(value)
            except ValueError:
                raise ValueError("not a number") from None
        if not isinstance(value, (int, float, Decimal)) or not math.isfinite(value):
            raise ValueError("not a finite number")
        return value
    if not isinstance(value, str):
        raise ValueError("not a string")
    return value


def _parse_timestamp(text: str) -> datetime:
    match = _ISO.fullmatch(text.strip())
    if match is None:
        raise ValueError("not an ISO 8601 timestamp (such as '2024-01-01T00:00:00Z')")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    zone = timezone.utc
    if offset not in (None, "Z", "z"):
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        zone = timezone(sign * delta)
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=zone,
        )
    except ValueError as exc:
        raise ValueError(f"not a valid timestamp ({exc})") from None


def json_value(value: Any) -> Any:
    """A cursor value as JSON keeps it: timestamps as ISO 8601 text (``Z`` for UTC)."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def param_text(value: Any) -> str:
    """A cursor value as a query parameter."""
    value = json_value(value)
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def record_key(values: Sequence[Any]) -> str:
    """The key of a record from its ``primary_key`` values (one value, or a list of them)."""
    document = values[0] if len(values) == 1 else list(values)
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS, default=str).decode()


def content_key(record: Mapping[str, Any]) -> str:
    """The key of a record without a primary key: a digest of all its fields."""
    data = orjson.dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    return orjson.dumps("sha256:" + hashlib.sha256(data).hexdigest()).decode()


def _partition_key(parent: Mapping[str, Any] | None) -> str | None:
    if parent is None:
        return None
    return orjson.dumps(dict(parent), option=orjson.OPT_SORT_KEYS, default=str).decode()


# -- the state --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CursorState:
    """How far one cursor got: the highest value delivered (as the API sent it), and the
    keys (``record_key``/``content_key`` texts) of the records delivered with it."""

    value: Any
    keys: frozenset[str] = frozenset()


@dataclass(frozen=True)
class IncrementalState:
    """The content of a state file. ``cursors`` maps a partition (None for a plain source,
    else the parent values of a child read, as sorted JSON) to its parent and cursor."""

    source: str
    cursor_field: str
    cursor_type: str | None
    primary_key: tuple[str, ...]
    cursors: Mapping[str | None, tuple[dict[str, Any] | None, CursorState]] = field(
        default_factory=dict
    )

    def to_json(self, saved_at: float) -> bytes:
        """The file's content."""
        document: dict[str, Any] = {
            "version": STATE_VERSION,
            "kind": STATE_KIND,
            "source": self.source,
            "cursor_field": self.cursor_field,
            "cursor_type": self.cursor_type,
            "primary_key": list(self.primary_key),
            "cursor": None,
            "boundary_keys": [],
            "partitions": [],
            "saved_at": datetime.fromtimestamp(saved_at, timezone.utc).isoformat(),
        }
        for partition, (parent, state) in self.cursors.items():
            entry = {
                "cursor": json_value(state.value),
                "boundary_keys": [orjson.loads(key) for key in sorted(state.keys)],
            }
            if partition is None:
                document.update(entry)
            else:
                document["partitions"].append({"parent": parent, **entry})
        return orjson.dumps(document, option=orjson.OPT_INDENT_2, default=str) + b"\n"

    @classmethod
    def from_json(cls, data: bytes, *, where: str) -> IncrementalState:
        """Parse a state file.

        Raises
        ------
        ConfigError
            ``option="incremental.state"`` when the file is not a state file this version
            reads.
        """
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ConfigError("incremental.state", where, f"not a state file ({exc})") from None
        if (
            not isinstance(document, dict)
            or document.get("kind") != STATE_KIND
            or document.get("version") != STATE_VERSION
        ):
            reason = f"not a version {STATE_VERSION} incremental state file"
            raise ConfigError("incremental.state", where, reason)
        try:
            cursors: dict[str | None, tuple[dict[str, Any] | None, CursorState]] = {}
            if document.get("cursor") is not None:
                cursors[None] = (None, _cursor_state(document))
            for entry in document.get("partitions") or []:
                parent = dict(entry["parent"])
                cursors[_partition_key(parent)] = (parent, _cursor_state(entry))
            return cls(
                source=str(document["source"]),
                cursor_field=str(document["cursor_field"]),
                cursor_type=document.get("cursor_type"),
                primary_key=tuple(document.get("primary_key") or ()),
                cursors=cursors,
            )
        except (KeyError, TypeError, ValueError) as exc:
            reason = f"malformed state file ({type(exc).__name__}: {exc})"
            raise ConfigError("incremental.state", where, reason) from None


def _cursor_state(entry: Mapping[str, Any]) -> CursorState:
    keys = frozenset(
        orjson.dumps(key, option=orjson.OPT_SORT_KEYS).decode()
        for key in entry.get("boundary_keys") or []
    )
    return CursorState(entry["cursor"], keys)


# -- one run ----------------------------------------------------------------------------------


class CursorWindow:
    """One run of an incremental read: where each request starts, which records are new,
    and the state to save once the caller has them.

    Parameters
    ----------
    config
        The cursor's options.
    saved
        The state the previous run saved, or ``None`` on a first run.
    source
        The source's URL (redacted): a state file saved for another source is refused.
    where
        The state file's path, for errors.

    Raises
    ------
    ConfigError
        ``option="incremental.state"``: the file was saved for another source, cursor field,
        primary key or cursor type.

    Examples
    --------
    >>> config = Incremental("n", param="since", state="s.json", primary_key="id")
    >>> window = CursorWindow(config, None, source="https://api.test/x", where="s.json")
    >>> window.admit([1, 2, 2], [10, 11, 12].__getitem__)
    [True, True, True]
    >>> state = window.state()
    >>> later = CursorWindow(config, state, source="https://api.test/x", where="s.json")
    >>> later.start_value(None), later.admit([2, 2, 3], [11, 13, 14].__getitem__)
    (2, [False, True, True])
    """

    def __init__(
        self,
        config: Incremental,
        saved: IncrementalState | None,
        *,
        source: str,
        where: str,
    ) -> None:
        self.config = config
        self.source = source
        self.cursor_type = config.cursor_type
        self._saved: dict[str | None, tuple[dict[str, Any] | None, CursorState]] = {}
        if saved is not None:
            self._check(saved, where)
            self._saved = dict(saved.cursors)
            self.cursor_type = self.cursor_type or saved.cursor_type
        self._pending = dict(self._saved)
        self.older = 0  # records before the value asked for: the API ignored it
        self.later = 0  # records after end_value: an API sent end_value ignored it
        self.dropped = 0  # records not delivered: older, already delivered, or past end_value
        self._end: Any = None

    def _check(self, saved: IncrementalState, where: str) -> None:
        config = self.config
        differences = [
            (name, mine, theirs)
            for name, mine, theirs in (
                ("source", self.source, saved.source),
                ("cursor_field", config.cursor_field, saved.cursor_field),
                ("primary_key", list(config.key_fields), list(saved.primary_key)),
            )
            if mine != theirs
        ]
        if config.cursor_type and saved.cursor_type and config.cursor_type != saved.cursor_type:
            differences.append(("cursor_type", config.cursor_type, saved.cursor_type))
        if differences:
            name, mine, theirs = differences[0]
            reason = (
                f"was saved with {name}={theirs!r}, not {mine!r}: use another state file, "
                "or delete this one to start over"
            )
            raise ConfigError("incremental.state", where, reason)

    def start_value(self, parent: Mapping[str, Any] | None) -> Any:
        """The value the read of ``parent``'s partition starts from (None: the beginning)."""
        saved = self._saved.get(_partition_key(parent))
        return saved[1].value if saved is not None else json_value(self.config.initial_value)

    def admit(
        self,
        values: Sequence[Any],
        key_of: Callable[[int], str],
        parent: Mapping[str, Any] | None = None,
    ) -> list[bool]:
        """Which records are new, from their cursor values; note the highest value.

        ``key_of(i)`` is record ``i``'s key (called only for records at the boundary).

        Raises
        ------
        ValueError
            A record has no cursor value or one that is not of the cursor's type; the
            message names the record (0-based) and the value.
        """
        partition = _partition_key(parent)
        saved = self._saved.get(partition)
        pending = self._pending.get(partition)
        lower = self._lower(saved)
        best, top, keys = None, None, set[str]()
        if pending is not None:
            best, top, keys = (
                self._key(pending[1].value, -1),
                pending[1].value,
                set(pending[1].keys),
            )
        mask: list[bool] = []
        for index, value in enumerate(values):
            key = self._key(value, index)
            new = not (
                (self._end is not None and key >= self._end)
                or (lower is not None and key < lower)
                or (saved is not None and key == lower and key_of(index) in saved[1].keys)
            )
            mask.append(new)
            if self._end is not None and key > self._end:
                self.later += 1
            if lower is not None and key < lower:
                self.older += 1
            elif new and (best is None or key > best):
                best, top, keys = key, json_value(value), {key_of(index)}
            elif new and key == best:
                keys.add(key_of(index))
        if best is not None:
            self._pending[partition] = (
                dict(parent) if parent is not None else None,
                CursorState(top, frozenset(keys)),
            )
        self.dropped += mask.count(False)
        return mask

    def forget(self, parent: Mapping[str, Any] | None) -> None:
        """The records of ``parent``'s partition were not delivered: keep its saved state."""
        partition = _partition_key(parent)
        if partition in self._saved:
            self._pending[partition] = self._saved[partition]
        else:
            self._pending.pop(partition, None)

    @property
    def changed(self) -> bool:
        """Whether :meth:`state` differs from what was saved."""
        return self._pending != self._saved

    def state(self) -> IncrementalState:
        """The state to save after this run."""
        return IncrementalState(
            source=self.source,
            cursor_field=self.config.cursor_field,
            cursor_type=self.cursor_type,
            primary_key=self.config.key_fields,
            cursors=dict(self._pending),
        )

    def _lower(self, saved: tuple[Any, CursorState] | None) -> Any:
        start = saved[1].value if saved is not None else self.config.initial_value
        return None if start is None else self._key(start, -1)

    def _key(self, value: Any, index: int) -> Any:
        if self.cursor_type is None:
            if value is None:
                raise ValueError(f"record {index} has no {self.config.cursor_field!r}")
            self.cursor_type = _infer_type(value)
        if self._end is None and self.config.end_value is not None:
            self._end = cursor_key(self.config.end_value, self.cursor_type)
        try:
            return cursor_key(value, self.cursor_type)
        except ValueError as exc:
            what = "no value" if value is None else f"{json_value(value)!r}: {exc}"
            raise ValueError(
                f"record {index} has {what} for the cursor field {self.config.cursor_field!r} "
                f"(cursor_type={self.cursor_type!r})"
            ) from None
