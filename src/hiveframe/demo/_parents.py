"""The demo API's parent/child endpoints: ``/parents`` and ``/parents/{id}/children``.

- ``GET /parents``: ``{"parents": [...], "total": N}`` with ``offset``/``limit`` (100)
  pagination; parent ``i`` (ids from 1) is ``{"id": i, "name": "parent-<i>"}``.
- ``GET /parents/{id}/children``: the children of parent ``id`` as a bare JSON array, with
  ``page`` (from 1) and ``page_size`` (5) pagination; parent ``i`` has ``i * 3 % 8``
  children (some none), child ``k`` (from 1) being ``{"id": i * 100 + k, "name": ...}``.
  An unknown parent is a 404 naming it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import orjson

from hiveframe.demo._api import MAX_PAGE_SIZE, _int, _json
from hiveframe.demo._server import Handler, Reply, Request


def children_of(parent: int) -> list[dict[str, Any]]:
    """The children the demo serves for parent ``parent``."""
    return [
        {"id": parent * 100 + k, "name": f"child-{parent}-{k}", "position": k}
        for k in range(1, parent * 3 % 8 + 1)
    ]


class ParentsAPI:
    """``size`` parents, each with its children.

    Example
    -------
    >>> [len(children_of(i)) for i in range(1, 9)]
    [3, 6, 1, 4, 7, 2, 5, 0]
    """

    def __init__(self, size: int = 50) -> None:
        self.size = size

    def routes(self) -> dict[str, Handler]:
        return {"/parents": self.parents, "/parents/{id}/children": self.children}

    def parents(self, request: Request) -> Reply:
        offset = _int(request, "offset", 0)
        limit = min(_int(request, "limit", 100, low=1), MAX_PAGE_SIZE)
        ids = range(offset + 1, min(offset + limit, self.size) + 1)
        rows = [{"id": i, "name": f"parent-{i}"} for i in ids]
        return _json({"parents": rows, "total": self.size})

    def children(self, request: Request) -> Reply:
        raw = request.path.split("/")[2]
        text = unquote(raw)
        if not text.isdigit() or not 1 <= int(text) <= self.size:
            body = orjson.dumps({"error": f"no parent {text!r}"})
            return Reply(404, {"Content-Type": "application/json"}, body)
        size = min(_int(request, "page_size", 5, low=1), MAX_PAGE_SIZE)
        page = _int(request, "page", 1, low=1)
        rows = children_of(int(text))[(page - 1) * size : page * size]
        return _json(rows)
