"""Parent/child sources: one child read per parent record, from a URL template.

``HTTPSource("https://api.example.com/parents/{parent.id}/children", parent=parents)``
reads ``parents``, then the child URL once for each distinct parent value, with the value in
place of ``{parent.id}``. A value goes into the path as one percent-encoded segment, so a
value holding ``/``, ``?`` or ``#`` cannot change the path; one that would be a whole segment
``.``, ``..`` or nothing is refused (as a failing child). ``{parent.<field>}`` may also stand
in ``params`` values. The reading itself is in ``connectors/_run.py``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import orjson

from hiveframe._http.reader import ReadPlan
from hiveframe._protocol.checkpoint import append_durably
from hiveframe._validate import check_choice
from hiveframe.errors import ConfigError

__all__ = ["ON_CHILD_ERROR", "ChildFailure", "Fanout", "Parent", "fanout_option"]

logger = logging.getLogger("hiveframe.read")

ON_CHILD_ERROR = ("raise", "skip", "dead_letter")
_PLACEHOLDER = re.compile(r"\{parent\.([A-Za-z_][A-Za-z0-9_]*)\}")
_COLUMN = re.compile(r"[^\s]+")


@dataclass(frozen=True)
class Parent:
    """The parent of a child source, and how its children are read.

    Parameters
    ----------
    source
        The parent ``HTTPSource``; its records' fields fill ``{parent.<field>}``.
    fields
        Parent fields to add to every child record, as ``{parent field: column name}``. By
        default each field of the template, as ``_parent_<field>``.
    on_child_error
        What a child read that fails does: ``"raise"`` (default,
        :class:`~hiveframe.errors.ChildReadError` naming the parent value), ``"skip"`` (a
        logged warning, listed in the source's ``last_read.failed_children``) or
        ``"dead_letter"`` (the same, and a JSON line in ``dead_letter``).
    dead_letter
        The JSON Lines file of failed children, with ``on_child_error="dead_letter"``.

    Examples
    --------
    >>> Parent(parents, fields={"id": "parent_id"}, on_child_error="skip")  # doctest: +SKIP
    """

    source: Any
    fields: Mapping[str, str] | None = None
    on_child_error: str = "raise"
    dead_letter: str | os.PathLike[str] | None = None


@dataclass(frozen=True)
class ChildFailure:
    """A child read that failed and was skipped (or dead-lettered)."""

    parent: dict[str, Any]
    url: str | None
    error: str


@dataclass(frozen=True)
class Fanout:
    """A child source's parent, checked: what ``HTTPSource`` keeps of ``parent=``.

    ``parent`` is the parent's ``SourceSpec``, ``fields`` the template's fields, ``columns``
    the parent fields added to each child record and the names they get.
    """

    parent: Any
    fields: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]
    on_child_error: str
    dead_letter: Path | None

    @property
    def needed(self) -> tuple[str, ...]:
        """The parent fields a child read needs (template and columns)."""
        return tuple(dict.fromkeys([*self.fields, *(name for name, _ in self.columns)]))

    def child_plan(self, plan: ReadPlan, values: Mapping[str, Any]) -> ReadPlan:
        """``plan`` with the parent's ``values`` in its URL path and parameters.

        Raises
        ------
        ValueError
            A value would be a whole path segment ``.``, ``..`` or nothing, or is missing.
        """
        parts = urlsplit(plan.url)
        segments = [_fill_segment(segment, values) for segment in parts.path.split("/")]
        url = urlunsplit(parts._replace(path="/".join(segments)))
        params = {
            name: _PLACEHOLDER.sub(lambda m: _text(values, m.group(1)), text)
            for name, text in plan.params.items()
        }
        return replace(plan, url=url, params=params, concurrency=1)

    def record_failure(self, failure: ChildFailure, error_type: str) -> None:
        """Log a skipped child; with a dead-letter file, append it there (flushed, fsync-ed)."""
        values = ", ".join(f"{k}={v!r}" for k, v in failure.parent.items())
        logger.warning(
            "skipped the child of parent %s (%s): %s", values, failure.url, failure.error
        )
        if self.dead_letter is None:
            return
        line = {
            "parent": failure.parent,
            "url": failure.url,
            "error": failure.error,
            "error_type": error_type,
            "failed_at": datetime.now(timezone.utc).isoformat(),
        }
        append_durably(self.dead_letter, orjson.dumps(line, default=str) + b"\n")


def fanout_option(
    value: Any, plan: ReadPlan, stream_kind: str | None, *, redacted_url: str
) -> Fanout | None:
    """Check ``HTTPSource(parent=...)`` against the source's URL template and parameters.

    Raises
    ------
    ConfigError
        ``option="parent"`` (or ``url``, ``parent.fields``...) naming what does not fit.
    """
    parts = urlsplit(plan.url)
    in_path = _PLACEHOLDER.findall(parts.path)
    in_params = [f for text in plan.params.values() for f in _PLACEHOLDER.findall(text)]
    elsewhere = _PLACEHOLDER.search(parts.netloc + "?" + parts.query + "#" + parts.fragment)
    if value is None:
        if in_path or in_params:
            reason = "has a {parent.<field>} placeholder: give the parent source as parent="
            raise ConfigError("url" if in_path else "params", redacted_url, reason)
        return None
    if elsewhere is not None:
        reason = "{parent.<field>} may stand in the URL's path, or in params= values"
        raise ConfigError("url", redacted_url, reason)
    fields = tuple(dict.fromkeys([*in_path, *in_params]))
    if not fields:
        reason = "a child source's url (or params) needs a {parent.<field>} placeholder"
        raise ConfigError("url", redacted_url, reason)
    spec = value if isinstance(value, Parent) else Parent(value)
    source = getattr(spec.source, "spec", None)
    if not isinstance(getattr(source, "plan", None), ReadPlan):
        raise ConfigError("parent", spec.source, "an HTTPSource, or Parent(source, ...)")
    if stream_kind is not None or getattr(source, "stream_kind", None) is not None:
        raise ConfigError("parent", spec.source, "parent/child reads are batch reads, not streams")
    check_choice("parent.on_child_error", spec.on_child_error, ON_CHILD_ERROR)
    dead_letter = _dead_letter(spec)
    return Fanout(
        parent=source,
        fields=fields,
        columns=_columns(spec.fields, fields),
        on_child_error=spec.on_child_error,
        dead_letter=dead_letter,
    )


def _columns(
    given: Mapping[str, str] | None, fields: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    if given is None:
        return tuple((name, f"_parent_{name}") for name in fields)
    if not isinstance(given, Mapping) or not given:
        raise ConfigError("parent.fields", given, "a dict {parent field: column name}")
    for name, column in given.items():
        if (
            not isinstance(name, str)
            or not isinstance(column, str)
            or not _COLUMN.fullmatch(column)
        ):
            raise ConfigError("parent.fields", given, f"{name!r}: {column!r} is not a column name")
    if len(set(given.values())) != len(given):
        raise ConfigError("parent.fields", given, "two fields get the same column name")
    return tuple(given.items())


def _dead_letter(spec: Parent) -> Path | None:
    if spec.on_child_error != "dead_letter":
        if spec.dead_letter is not None:
            reason = "is written only with on_child_error='dead_letter'"
            raise ConfigError("parent.dead_letter", spec.dead_letter, reason)
        return None
    if not isinstance(spec.dead_letter, (str, os.PathLike)) or not os.fspath(spec.dead_letter):
        reason = "on_child_error='dead_letter' needs the file to write failed children to"
        raise ConfigError("parent.dead_letter", spec.dead_letter, reason)
    return Path(spec.dead_letter)


def _fill_segment(segment: str, values: Mapping[str, Any]) -> str:
    if _PLACEHOLDER.search(segment) is None:
        return segment
    filled = _PLACEHOLDER.sub(lambda m: quote(_text(values, m.group(1)), safe=""), segment)
    if filled in ("", ".", ".."):
        shown = ", ".join(f"{k}={v!r}" for k, v in values.items())
        raise ValueError(f"the parent value ({shown}) would make the path segment {filled!r}")
    return filled


def _text(values: Mapping[str, Any], name: str) -> str:
    value = values.get(name)
    if value is None:
        raise ValueError(f"the parent record has no value for {name!r}")
    if isinstance(value, str):
        return value
    return orjson.dumps(value, default=str).decode()
