"""Incremental reads, the I/O side: the state file, the cursor in each request, the filter.

:class:`CursorRun` is one run of an :class:`~hiveframe._protocol.incremental.Incremental`
cursor: it reads the state file, puts the saved value in the request (a query parameter or a
JSON body field), drops the records delivered before, and saves the new state atomically
when :meth:`CursorRun.commit` is called, which happens only once the caller has the records
(see ``connectors/_run.py``).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import pyarrow as pa

from hiveframe._http.reader import ReadPlan
from hiveframe._protocol.checkpoint import write_atomically
from hiveframe._protocol.data_path import MissingSegment, walk_dotted
from hiveframe._protocol.incremental import (
    CursorWindow,
    Incremental,
    IncrementalState,
    content_key,
    json_value,
    param_text,
    record_key,
)
from hiveframe._validate import NOT_GIVEN, _NotGiven
from hiveframe.errors import ConfigError, IncrementalWarning, ResponseDecodeError

__all__ = ["CursorRun", "incremental_option", "load_state"]


def incremental_option(value: Any, plan: ReadPlan, stream_kind: str | None) -> Incremental | None:
    """Check ``HTTPSource(incremental=...)`` against the rest of the source.

    Raises
    ------
    ConfigError
        ``option="incremental"`` (or ``incremental.body_field``) when it does not fit.
    """
    if value is None:
        return None
    if not isinstance(value, Incremental):
        raise ConfigError("incremental", value, "an Incremental(cursor_field=..., state=...)")
    if stream_kind is not None:
        reason = (
            "is for batch reads; a streaming source keeps its own cursor "
            "(PollStream(since_param=..., since_field=..., dedupe_key=...))"
        )
        raise ConfigError("incremental", value.cursor_field, reason)
    for option in ("body_field", "end_body_field"):
        field = getattr(value, option)
        if field is not None and not isinstance(plan.body, (dict, type(None))):
            raise ConfigError(f"incremental.{option}", field, "needs a JSON object body")
    return value


def load_state(config: Incremental) -> IncrementalState | None:
    """The state file's content, or ``None`` before the first commit."""
    path = config.state_path
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError("incremental.state", str(path), f"cannot be read ({exc})") from None
    return IncrementalState.from_json(data, where=str(path))


class CursorRun:
    """One run of an incremental cursor over a source (or over each child of a fan-out).

    Parameters
    ----------
    config
        The cursor's options.
    source
        The source's redacted URL, saved in the state file and checked against it.
    saved
        The state to start from, read from the state file before (by a Spark driver, for
        its tasks); not given: the state file is read now.
    """

    def __init__(
        self,
        config: Incremental,
        source: str,
        *,
        saved: IncrementalState | _NotGiven | None = NOT_GIVEN,
    ) -> None:
        self.config = config
        where = str(config.state_path)
        state = load_state(config) if saved is NOT_GIVEN else saved
        self.window = CursorWindow(config, state, source=source, where=where)
        self._warned = False

    def plan(self, plan: ReadPlan, parent: Mapping[str, Any] | None = None) -> ReadPlan:
        """``plan`` asking for the records from the saved value (or ``initial_value``) on,
        and before ``end_value`` when ``end_param``/``end_body_field`` is set."""
        config = self.config
        start = self.window.start_value(parent)
        if start is not None:
            plan = _sending(plan, config.param, config.body_field, start)
        return _sending(plan, config.end_param, config.end_body_field, config.end_value)

    def admit(self, table: pa.Table, url: str, parent: Mapping[str, Any] | None = None) -> pa.Table:
        """The records of ``table`` not delivered before (``url``, redacted, names errors).

        Warns
        -----
        IncrementalWarning
            Once per run, when the API sent records older than the value it was asked from.

        Raises
        ------
        ResponseDecodeError
            ``kind="cursor"``: a record without a cursor value, or with one that is not of
            the cursor's type, or a page without the ``primary_key`` field.
        """
        window = self.window
        older, later = window.older, window.later
        try:
            mask = window.admit(
                _column(table, self.config.cursor_field), self._keys(table, url), parent
            )
        except ValueError as exc:
            raise ResponseDecodeError(str(exc), kind="cursor", url=url) from None
        config = self.config
        if window.older > older and config.sends_cursor:
            sent = _sent(config.param, config.body_field, window.start_value(parent))
            self._warn(url, f"{window.older - older} records", "before", sent)
        if window.later > later and config.sends_end:
            sent = _sent(config.end_param, config.end_body_field, config.end_value)
            self._warn(url, f"{window.later - later} records", "after", sent)
        return table if all(mask) else table.filter(pa.array(mask, pa.bool_()))

    def forget(self, parent: Mapping[str, Any] | None) -> None:
        """``parent``'s records were not delivered: its cursor stays where it was."""
        self.window.forget(parent)

    def commit(self) -> None:
        """Save the state of this run, atomically; nothing is written when it did not move."""
        if self.window.changed:
            data = self.window.state().to_json(time.time())
            write_atomically(self.config.state_path, data)

    def _keys(self, table: pa.Table, url: str) -> Callable[[int], str]:
        fields = self.config.key_fields
        if not fields:
            return lambda index: content_key(table.slice(index, 1).to_pylist()[0])
        missing = [name for name in fields if name not in table.column_names]
        if missing:
            message = f"the records have no {missing[0]!r} field (incremental primary_key)"
            raise ResponseDecodeError(message, kind="cursor", url=url)
        columns = [table.column(name).to_pylist() for name in fields]
        return lambda index: record_key([column[index] for column in columns])

    def _warn(self, url: str, count: str, where: str, sent: tuple[str, str]) -> None:
        if self._warned:  # once per run
            return
        self._warned = True
        name, shown = sent
        warning = IncrementalWarning(
            f"{url}: the API sent {count} with {self.config.cursor_field} {where} {shown}: "
            f"it seems to ignore {name!r}; those records were dropped (delivered before, "
            "before initial_value, or at or after end_value)"
        )
        warnings.warn(warning, stacklevel=2)


def _sent(param: str | None, body_field: str | None, value: Any) -> tuple[str, str]:
    """The name that carried ``value`` to the API, and how the warning shows it."""
    if param is not None:
        return param, f"{param}={param_text(value)}"
    assert body_field is not None
    return body_field, f"body field {body_field}={param_text(value)}"


def _sending(plan: ReadPlan, param: str | None, body_field: str | None, value: Any) -> ReadPlan:
    """``plan`` with ``value`` in the query parameter ``param`` or the body ``body_field``."""
    if param is not None:
        return replace(plan, params={**plan.params, param: param_text(value)})
    if body_field is not None:
        return replace(plan, body=_with_field(plan.body, body_field, json_value(value)))
    return plan


def _column(table: pa.Table, name: str) -> list[Any]:
    """The values of the field ``name`` of each record: the column of that name, else the
    dotted path into nested records (``meta.updated_at``); None where a record lacks it."""
    if name in table.column_names:
        return table.column(name).to_pylist()  # type: ignore[no-any-return]
    first, *rest = name.split(".")
    if not rest or first not in table.column_names:
        return [None] * table.num_rows
    segments = tuple(rest)
    found = (walk_dotted(value, segments) for value in table.column(first).to_pylist())
    return [None if isinstance(value, MissingSegment) else value for value in found]


def _with_field(body: Any, path: str, value: Any) -> dict[str, Any]:
    """A copy of the JSON object ``body`` with ``value`` at the dotted ``path``."""
    document: dict[str, Any] = dict(body or {})
    *parents, last = path.split(".")
    node = document
    for name in parents:
        child = node.get(name)
        node[name] = dict(child) if isinstance(child, dict) else {}
        node = node[name]
    node[last] = value
    return document
