"""The demo API's changing collection, for incremental reads: ``/orders``.

- ``GET /orders``: the orders as a bare JSON array sorted by ``updated_at`` then ``id``, from
  ``offset=`` on, at most ``limit=`` (100). ``since=<ISO 8601>`` keeps the orders updated at
  or after it (inclusive, as incremental reads expect), ``until=<ISO 8601>`` those updated
  before it (exclusive, as a backfill's ``end_value``); one that is not a timestamp is a 400.
- ``GET /orders/nested``: the same, each order's ``updated_at`` inside a ``meta`` object
  (``{"id": 1, ..., "meta": {"updated_at": "..."}}``), as many APIs nest their timestamps.
- ``POST /orders``: the demo hook that changes the collection between two reads. The body is
  a JSON array of orders (or one order): one with a known ``id`` is updated, one without
  gets the next id; one without ``updated_at`` is stamped one minute after the latest order.
  The answer is the stored orders.

Orders have ``id``, ``status``, ``amount`` and ``updated_at``; the first ones come in pairs
that share their ``updated_at``, the case incremental reads must neither lose nor repeat.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from hiveframe.demo._api import MAX_PAGE_SIZE, _bad_request, _int, _json
from hiveframe.demo._server import Handler, Reply, Request

_EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)
_STATUSES = ("created", "paid", "shipped")


def _stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _parse(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class OrdersAPI:
    """The ``/orders`` collection; thread-safe.

    Parameters
    ----------
    initial
        Orders at start: order ``i`` (ids from 1) is updated at ``i // 2`` minutes after
        2026-01-01T00:00:00Z, so orders come in pairs sharing a timestamp.

    Example
    -------
    >>> orders = OrdersAPI(initial=4)
    >>> [o["updated_at"] for o in orders.add([{}, {"id": 1, "status": "paid"}])]
    ['2026-01-01T00:02:00Z', '2026-01-01T00:03:00Z']
    """

    def __init__(self, *, initial: int = 20) -> None:
        self._lock = threading.Lock()
        self._orders: dict[int, dict[str, Any]] = {}
        for i in range(initial):
            moment = _EPOCH + timedelta(minutes=i // 2)
            self._orders[i + 1] = self._order(i + 1, _STATUSES[0], _stamp(moment))

    def routes(self) -> dict[str, Handler]:
        return {"/orders": self.handle, "/orders/nested": self.handle_nested}

    @property
    def orders(self) -> list[dict[str, Any]]:
        """Every order, sorted as the endpoint serves them."""
        with self._lock:
            return self._sorted()

    def add(self, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Insert or update ``orders`` (see the module docs); returns them as stored."""
        stored = []
        with self._lock:
            for given in orders:
                latest = max((_parse(o["updated_at"]) for o in self._orders.values()), default=None)
                next_stamp = _stamp(latest + timedelta(minutes=1)) if latest else _stamp(_EPOCH)
                key = int(given.get("id") or max(self._orders, default=0) + 1)
                current = self._orders.get(key, {})
                order = self._order(
                    key,
                    str(given.get("status", current.get("status", _STATUSES[0]))),
                    str(given.get("updated_at") or next_stamp),
                    given.get("amount", current.get("amount")),
                )
                self._orders[key] = order
                stored.append(order)
        return stored

    def handle(self, request: Request) -> Reply:
        """Answer one request to ``/orders``."""
        if request.method == "POST":
            try:
                document = orjson.loads(request.body or b"[]")
                orders = document if isinstance(document, list) else [document]
                return _json(self.add([dict(order) for order in orders]))
            except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
                return _bad_request(f"expected orders as JSON ({exc})")
        return self._get(request, nest=False)

    def handle_nested(self, request: Request) -> Reply:
        """Answer ``GET /orders/nested``: the page ``/orders`` answers, ``updated_at`` nested."""
        if request.method != "GET":
            return Reply(405, body=b'{"error": "only GET here; POST to /orders"}')
        return self._get(request, nest=True)

    def _get(self, request: Request, *, nest: bool) -> Reply:
        try:
            rows = self._page(request)
        except ValueError:
            reason = "since and until are ISO 8601 timestamps; offset and limit are integers"
            return _bad_request(reason)
        if nest:
            for row in rows:  # copies: _page gives each request its own
                row["meta"] = {"updated_at": row.pop("updated_at")}
        return _json(rows)

    def _page(self, request: Request) -> list[dict[str, Any]]:
        since, until = (
            _parse(request.query[name]) if request.query.get(name) else None
            for name in ("since", "until")
        )
        offset = _int(request, "offset", 0)
        limit = min(_int(request, "limit", 100, low=1), MAX_PAGE_SIZE)
        with self._lock:
            rows = [dict(order) for order in self._sorted()]
        if since is not None:
            rows = [order for order in rows if _parse(order["updated_at"]) >= since]
        if until is not None:
            rows = [order for order in rows if _parse(order["updated_at"]) < until]
        return rows[offset : offset + limit]

    def _sorted(self) -> list[dict[str, Any]]:
        return sorted(self._orders.values(), key=lambda o: (_parse(o["updated_at"]), o["id"]))

    @staticmethod
    def _order(key: int, status: str, updated_at: str, amount: Any = None) -> dict[str, Any]:
        amount = amount if amount is not None else round(10 + key * 7 % 90 + 0.5, 2)
        return {"id": key, "status": status, "amount": amount, "updated_at": updated_at}
