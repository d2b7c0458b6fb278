"""A pipeline file as data: TOML parsed, and the line of every key for error messages.

TOML parsers give values, not positions, so the lines are found by scanning the text: each
``[table]`` header and each ``key = value`` line (keys of inline tables included) is noted
under its full dotted key. An error about a key not in the file (a required one that is
missing) points to the line of its table.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hiveframe.errors import PipelineFileError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["PipelineFile", "key_lines"]

_BARE = r"[A-Za-z0-9_-]+"
_QUOTED = r"\"(?:[^\"\\]|\\.)*\"|'[^']*'"
_KEY = rf"(?:{_BARE}|{_QUOTED})(?:\s*\.\s*(?:{_BARE}|{_QUOTED}))*"
_HEADER = re.compile(rf"^\s*\[\[?\s*({_KEY})\s*\]\]?\s*(?:#.*)?$")
_ASSIGNMENT = re.compile(rf"^\s*({_KEY})\s*=")
_INLINE = re.compile(rf"(?:\{{|,)\s*({_KEY})\s*=")
_PART = re.compile(rf"{_BARE}|{_QUOTED}")
_TOML_LINE = re.compile(r"at line (\d+)")


def _dotted(key: str) -> tuple[str, ...]:
    return tuple(part.strip("\"'") for part in _PART.findall(key))


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """The 1-based line of each table header and key of a TOML text, by dotted key.

    Examples
    --------
    >>> lines = key_lines('[sources.orders]\\nurl = "x"\\nparams = { since = "1" }\\n')
    >>> lines[("sources", "orders")], lines[("sources", "orders", "params", "since")]
    (1, 3)
    """
    lines: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header is not None:
            table = _dotted(header.group(1))
            lines.setdefault(table, number)
            continue
        assignment = _ASSIGNMENT.match(line)
        if assignment is None:
            continue
        key = table + _dotted(assignment.group(1))
        lines.setdefault(key, number)
        for inner in _INLINE.finditer(line, assignment.end()):
            lines.setdefault(key + _dotted(inner.group(1)), number)
    return lines


class PipelineFile:
    """A pipeline file, read and parsed.

    Raises
    ------
    PipelineFileError
        The file cannot be read or is not TOML (with the line the parser names).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PipelineFileError(self.name, None, "file", self.name, str(exc)) from None
        try:
            self.data: dict[str, Any] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            found = _TOML_LINE.search(str(exc))
            line = int(found.group(1)) if found else None
            raise PipelineFileError(self.name, line, "file", None, f"not TOML: {exc}") from None
        self._lines = key_lines(text)

    @property
    def folder(self) -> Path:
        """Where relative paths in the file start from."""
        return self.path.parent

    def line(self, key: Sequence[str]) -> int | None:
        """The line of ``key``, else of the nearest table around it; None if neither is."""
        parts = tuple(key)
        while parts:
            if parts in self._lines:
                return self._lines[parts]
            parts = parts[:-1]
        return None

    def error(
        self, key: Sequence[str], value: Any, reason: str, *, secret: bool = False
    ) -> PipelineFileError:
        """An error about ``key`` (a dotted key's parts), naming the file and its line."""
        dotted = ".".join(key)
        return PipelineFileError(self.name, self.line(key), dotted, value, reason, secret=secret)

    def resolve(self, path: str) -> Path:
        """``path`` as given in the file: relative ones start from the file's folder."""
        given = Path(path).expanduser()
        return given if given.is_absolute() else self.folder / given
