"""Item-level outcomes in a sink's response, without I/O: which records of a batch failed.

Bulk APIs often accept a batch as a whole (``200``, ``207 Multi-Status``) and say in the body
which items they refused: Elasticsearch's ``items``, Segment's and Mixpanel's ``errors``
with an ``index``, Salesforce's ``results`` with a per-record status. :class:`ItemResults`
says where that report is; :func:`failed_items` reads it.

Paths are dotted, with one ``[*]`` marking the array of per-item entries:
``errors[*].index`` (the ``index`` of every entry of ``errors``), ``results[*].status`` (one
entry per record, in order), ``failed[*]`` (an array of plain indices).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from hiveframe._protocol.data_path import MissingSegment, split_dotted_path, walk_dotted
from hiveframe.errors import ConfigError

DEFAULT_OK: Final = frozenset({"ok", "OK", "success", "created", "updated", True})
"""Per-item statuses that mean delivered, besides the 2xx numbers."""


@dataclass(frozen=True)
class _ItemPath:
    array: tuple[str, ...]  # to the array of entries
    field: tuple[str, ...]  # within an entry (empty: the entry itself)

    @classmethod
    def parse(cls, text: object, option: str) -> _ItemPath:
        reason = "a dotted path with one [*] for the items, such as 'errors[*].index'"
        if not isinstance(text, str) or text.count("[*]") != 1:
            raise ConfigError(option, text, reason)
        before, _, after = text.partition("[*]")
        if after and not after.startswith("."):
            raise ConfigError(option, text, reason)
        array = split_dotted_path(before, option) if before else ()
        return cls(array, split_dotted_path(after[1:], option) if after else ())

    def values(self, document: Any) -> list[Any] | None:
        """The value in each entry, or ``None`` when the document has no such array."""
        entries = walk_dotted(document, self.array) if self.array else document
        if not isinstance(entries, list):
            return None
        found = []
        for entry in entries:
            value = walk_dotted(entry, self.field) if self.field else entry
            found.append(None if isinstance(value, MissingSegment) else value)
        return found


@dataclass(frozen=True)
class ItemResults:
    """Where a sink's response says what became of each record of the batch.

    Give either ``failed`` (the positions of the records that failed) or ``status`` (one
    status per record, in the batch's order).

    Parameters
    ----------
    failed
        Path of the failed records' 0-based positions in the batch: ``"errors[*].index"``.
    status
        Path of each record's status: ``"results[*].status"`` or ``"items[*].index.status"``.
    ok
        The statuses that mean delivered (with ``status``): any 2xx number and ``"ok"``,
        ``"success"``, ``"created"``, ``"updated"``, ``true`` by default.
    message
        Path of each entry's error message, in the same array (``"errors[*].message"``).
    retry
        Failed records are sent again, as a batch of their own, under the sink's ``retry``
        policy (``True``); or only those with one of these per-item statuses (``{429,
        503}``); by default none is: each goes to the dead-letter file with its own error.

    Raises
    ------
    ConfigError
        Neither or both of ``failed`` and ``status``, or a path without one ``[*]``.

    Example
    -------
    >>> results = ItemResults(failed="errors[*].index", message="errors[*].message")
    >>> item_failures(results, {"errors": [{"index": 1, "message": "bad email"}]}, 3)
    [ItemFailure(position=1, status=None, message='bad email')]
    """

    failed: str | None = None
    status: str | None = None
    ok: Iterable[Any] | None = None
    message: str | None = None
    retry: bool | Iterable[Any] = False
    _paths: tuple[_ItemPath, _ItemPath | None] = field(init=False, repr=False, compare=False)
    _ok: frozenset[Any] = field(init=False, repr=False, compare=False)
    _retry: bool | frozenset[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (self.failed is None) == (self.status is None):
            reason = "give failed= (positions of the failed records) or status= (one per record)"
            raise ConfigError("item_results", self.failed or self.status, reason)
        which = "item_results.failed" if self.failed is not None else "item_results.status"
        main = _ItemPath.parse(self.failed or self.status, which)
        text = self.message
        message = None if text is None else _ItemPath.parse(text, "item_results.message")
        object.__setattr__(self, "_paths", (main, message))
        object.__setattr__(self, "_ok", DEFAULT_OK if self.ok is None else frozenset(self.ok))
        retry = self.retry if isinstance(self.retry, bool) else frozenset(self.retry)
        object.__setattr__(self, "_retry", retry)

    def is_ok(self, status: Any) -> bool:
        """Whether a per-item status means the record was delivered."""
        if isinstance(status, int) and not isinstance(status, bool) and 200 <= status < 300:
            return True
        return status in self._ok

    def retries(self, status: Any) -> bool:
        """Whether a record that failed with ``status`` (``None`` if unknown) is sent again."""
        if isinstance(self._retry, bool):
            return self._retry
        return status in self._retry


@dataclass(frozen=True)
class ItemFailure:
    """One record the server refused: its position in the batch, status and message."""

    position: int
    status: Any
    message: str


def item_failures(results: ItemResults, document: Any, count: int) -> list[ItemFailure]:
    """The records of a batch of ``count`` that the response ``document`` says failed.

    Raises
    ------
    ValueError
        The report is not there, or does not fit the batch (a position out of range, not
        one status per record): the caller fails the whole batch with this message.
    """
    main, message_path = results._paths
    values = main.values(document)
    if values is None:
        raise ValueError(f"the response has no item report at {results.failed or results.status}")
    messages = message_path.values(document) if message_path is not None else None
    if results.status is not None:
        if len(values) != count:
            raise ValueError(f"the item report has {len(values)} statuses for {count} records")
        failures = [
            ItemFailure(i, status, _message(messages, i, status))
            for i, status in enumerate(values)
            if not results.is_ok(status)
        ]
    else:
        failures = []
        for n, position in enumerate(values):
            if isinstance(position, bool) or not isinstance(position, int):
                raise ValueError(f"the item report names {position!r}, not a record position")
            if not 0 <= position < count:
                raise ValueError(f"the item report names record {position} of {count}")
            failures.append(ItemFailure(position, None, _message(messages, n, None)))
    return sorted({f.position: f for f in failures}.values(), key=lambda f: f.position)


def _message(messages: list[Any] | None, n: int, status: Any) -> str:
    if messages is not None and n < len(messages) and messages[n] is not None:
        value = messages[n]
        return value if isinstance(value, str) else repr(value)
    return "refused by the server" if status is None else f"item status {status!r}"


def item_results_from_option(value: object) -> ItemResults | None:
    """The ``item_results=`` option of a sink: an :class:`ItemResults` or None."""
    if value is None or isinstance(value, ItemResults):
        return value
    raise ConfigError("item_results", value, "an ItemResults, or None")
