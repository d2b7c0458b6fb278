"""Where the records are in a JSON document: dotted paths and JSONPath (``data_path``).

Dotted paths are shared with pagination's ``cursor_path``, ``total_path`` and
``next_url_path``; JSONPath (RFC 9535) comes from the ``python-jsonpath`` package, imported
only when a path starts with ``$``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hiveframe.errors import ConfigError, DataPathError, ResponseDecodeError

_SCALAR_NAMES = {str: "a string", int: "a number", float: "a number", bool: "a boolean"}


class DecodeFault(Exception):
    """A decode failure before the URL is attached (kind and message only)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


# -- dotted paths (shared with pagination's cursor_path, total_path, next_url_path) ---------


@dataclass(frozen=True)
class MissingSegment:
    """What :func:`walk_dotted` returns when a segment is not there."""

    segment: str
    available: list[str]


def split_dotted_path(path: object, option: str) -> tuple[str, ...]:
    """Split ``"results.items"`` into segments, or raise ``ConfigError(option=option)``."""
    if not isinstance(path, str) or not path:
        raise ConfigError(option, path, "expected a non-empty dotted path such as 'data.items'")
    segments = tuple(path.split("."))
    if "" in segments:
        raise ConfigError(option, path, "a dotted path has no empty segments ('a..b', '.a')")
    return segments


def walk_dotted(document: Any, segments: tuple[str, ...]) -> Any:
    """Follow the segments into the document; a :class:`MissingSegment` when one is absent.

    Dict segments are keys; on a list a segment of ASCII digits is an index. ``null`` on
    the way is as absent as a missing key (nothing can be below it).
    """
    value = document
    for segment in segments:
        if isinstance(value, dict):
            if segment not in value:
                return MissingSegment(segment, [str(key) for key in value])
            value = value[segment]
        elif isinstance(value, list) and segment.isascii() and segment.isdecimal():
            if int(segment) >= len(value):
                return MissingSegment(segment, _list_keys(value))
            value = value[int(segment)]
        else:
            return MissingSegment(segment, _list_keys(value) if isinstance(value, list) else [])
    return value


def _list_keys(value: list[Any]) -> list[str]:
    return [f"0..{len(value) - 1}"] if value else []


# -- data_path --------------------------------------------------------------------------------


class DataPath:
    """Where the records are inside a JSON document; parsed once, at construction.

    Two syntaxes:

    * dotted, ``"results.items"``, with digit segments indexing lists (``"data.0.items"``);
    * JSONPath (RFC 9535, strict) when the path starts with ``$``, e.g. ``"$.results.items"``
      or ``"$.data[*]"``. Needs the ``python-jsonpath`` package (``hiveframe[http]``).

    What is found becomes records: a list is the records, an object is one record and
    ``null`` is none; a string, number or boolean is a ``kind="shape"`` error. A JSONPath
    query that can match several nodes (wildcard, slice, filter, descendant) makes each
    match one record, and matching nothing is an empty page, not an error.

    Parameters
    ----------
    expression
        The path as the user wrote it.

    Raises
    ------
    ConfigError
        ``option="data_path"`` for an empty segment or bad JSONPath syntax.

    Examples
    --------
    >>> DataPath("results.items").extract({"results": {"items": [{"id": 1}]}})
    [{'id': 1}]
    >>> DataPath("$.data[*].user").extract({"data": [{"user": {"id": 1}}, {"user": {"id": 2}}]})
    [{'id': 1}, {'id': 2}]
    """

    __slots__ = ("_expression", "_query", "_segments", "_singular")

    def __init__(self, expression: str) -> None:
        self._expression = expression
        self._segments: tuple[str, ...] = ()
        self._query: Any = None
        self._singular = True
        if isinstance(expression, str) and expression.startswith("$"):
            self._query, self._singular = _compile_jsonpath(expression)
        else:
            self._segments = split_dotted_path(expression, "data_path")

    @property
    def expression(self) -> str:
        """The path as given."""
        return self._expression

    @property
    def dotted(self) -> tuple[str, ...] | None:
        """The segments of a dotted path; ``None`` for JSONPath."""
        return None if self._query is not None else self._segments

    def __repr__(self) -> str:
        return f"DataPath({self._expression!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DataPath) and other._expression == self._expression

    def __hash__(self) -> int:
        return hash(self._expression)

    def __reduce__(self) -> tuple[type[DataPath], tuple[str]]:
        # A compiled JSONPath need not pickle; Spark ships the expression and recompiles.
        return (DataPath, (self._expression,))

    def extract(self, document: Any) -> list[Any]:
        """The records the path selects.

        Raises
        ------
        DataPathError
            The path is not in the document; ``available`` lists the keys where it stopped.
        ResponseDecodeError
            ``kind="shape"`` when the path ends on a scalar.
        """
        try:
            return self._extract(document)
        except DecodeFault as fault:
            raise ResponseDecodeError(fault.message, kind=fault.kind) from None

    def _extract(self, document: Any) -> list[Any]:
        # Raises DecodeFault rather than ResponseDecodeError so decode_body can add the URL.
        if self._query is None:
            found = walk_dotted(document, self._segments)
            if isinstance(found, MissingSegment):
                raise DataPathError(
                    self._expression, missing=found.segment, available=found.available
                )
            return records_of(found, f"data_path={self._expression!r} selects")
        return self._extract_jsonpath(document)

    def _extract_jsonpath(self, document: Any) -> list[Any]:
        try:
            matches: list[Any] = self._query.findall(document)
        except RecursionError:
            # Descendant queries recurse in Python; a deep (but orjson-legal) document
            # can exhaust the interpreter stack, which is a depth problem of the body.
            raise DecodeFault(
                "depth", f"data_path={self._expression!r} is too deep to evaluate here"
            ) from None
        if not self._singular:
            return matches
        if not matches:
            raise DataPathError(
                self._expression, missing=self._expression, available=_keys_of(document)
            )
        return records_of(matches[0], f"data_path={self._expression!r} selects")


def _compile_jsonpath(expression: str) -> tuple[Any, bool]:
    try:
        import jsonpath  # optional extra (hiveframe[http]), loaded only for JSONPath paths
    except ImportError:
        raise ConfigError(
            "data_path",
            expression,
            "JSONPath needs the python-jsonpath package: pip install 'hiveframe[http]'",
        ) from None
    try:
        query = jsonpath.JSONPathEnvironment(strict=True).compile(expression)
    except jsonpath.JSONPathError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError("data_path", expression, f"not valid JSONPath: {reason}") from None
    singular = isinstance(query, jsonpath.JSONPath) and query.singular_query()
    return query, singular


def _keys_of(document: Any) -> list[str]:
    if isinstance(document, dict):
        return [str(key) for key in document]
    return _list_keys(document) if isinstance(document, list) else []


def records_of(value: Any, what: str) -> list[Any]:
    # One rule for a whole body, a dotted path's end and a singular JSONPath's match.
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [value]
    if value is None:
        return []
    raise DecodeFault(
        "shape",
        f"{what} {_SCALAR_NAMES.get(type(value), 'a scalar')}, not an array or object "
        "of records; set data_path to where the records are",
    )
