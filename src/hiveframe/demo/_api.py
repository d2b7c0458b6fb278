"""The demo API's endpoints: one record collection served in every pagination style.

Records have seven fields, with a list and a nested object, the shape of a typical
product or event API.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from hiveframe.demo._server import Handler, Reply, Request

JSON = {"Content-Type": "application/json"}
_EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)
_TAGS = ("red", "green", "blue", "sale", "new", "eco")
MAX_PAGE_SIZE = 1000


def make_record(i: int) -> dict[str, Any]:
    """The demo collection's record number ``i`` (0-based; ids start at 1)."""
    return {
        "id": i + 1,
        "name": f"item-{i + 1:06d}",
        "price": round(1 + (i * 37 % 10_000) / 100, 2),
        "in_stock": i % 3 != 0,
        "tags": [_TAGS[(i + k) % len(_TAGS)] for k in range(i % 3 + 1)],
        "dimensions": {"width": i % 50 + 1, "height": i % 30 + 1},
        "updated_at": (_EPOCH + timedelta(minutes=i)).isoformat().replace("+00:00", "Z"),
    }


def _int(request: Request, name: str, default: int, *, low: int = 0) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    return max(low, int(raw))


def _json(document: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(200, {**JSON, **(headers or {})}, orjson.dumps(document))


def _bad_request(message: str) -> Reply:
    return Reply(400, dict(JSON), orjson.dumps({"error": message}))


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _decode_cursor(token: str) -> int:
    padded = token + "=" * (-len(token) % 4)
    return int(base64.urlsafe_b64decode(padded).decode().removeprefix("o:"))


class DemoAPI:
    """Endpoints over a collection of ``size`` records; ``base_url`` builds absolute links."""

    def __init__(self, size: int, base_url: Callable[[], str]) -> None:
        self.size = size
        self._base_url = base_url

    def routes(self) -> dict[str, Handler]:
        return {
            "/data": self.offset_list,
            "/items": self.offset_envelope,
            "/nested": self.nested,
            "/pages": self.page_number,
            "/cursor": self.cursor,
            "/link": self.link,
            "/next": self.next_url,
            "/items.jsonl": self.jsonl,
            "/items.csv": self.csv,
        }

    def _slice(self, offset: int, limit: int) -> list[dict[str, Any]]:
        return [make_record(i) for i in range(offset, min(offset + limit, self.size))]

    def _offset_limit(self, request: Request) -> tuple[int, int]:
        return _int(request, "offset", 0), min(_int(request, "limit", 100, low=1), MAX_PAGE_SIZE)

    def offset_list(self, request: Request) -> Reply:
        """A bare JSON array; ``offset``/``limit`` parameters."""
        return _json(self._slice(*self._offset_limit(request)))

    def offset_envelope(self, request: Request) -> Reply:
        """``{"items": [...], "total": N}``; ``offset``/``limit`` parameters."""
        offset, limit = self._offset_limit(request)
        items = self._slice(offset, limit)
        return _json({"items": items, "total": self.size, "offset": offset, "limit": limit})

    def nested(self, request: Request) -> Reply:
        """Records at ``results.items``, for ``data_path``."""
        offset, limit = self._offset_limit(request)
        return _json({"results": {"items": self._slice(offset, limit), "total": self.size}})

    def page_number(self, request: Request) -> Reply:
        """``page`` (from 1) and ``page_size``; reports ``total_pages``."""
        size = min(_int(request, "page_size", 100, low=1), MAX_PAGE_SIZE)
        page = _int(request, "page", 1, low=1)
        total_pages = -(-self.size // size)
        items = self._slice((page - 1) * size, size)
        return _json({"data": items, "page": page, "total_pages": total_pages})

    def cursor(self, request: Request) -> Reply:
        """Opaque ``cursor`` tokens; the next one at ``next_cursor`` (null at the end)."""
        try:
            offset = _decode_cursor(request.query["cursor"]) if request.query.get("cursor") else 0
        except ValueError:
            return _bad_request("invalid cursor")
        limit = min(_int(request, "limit", 100, low=1), MAX_PAGE_SIZE)
        end = offset + limit
        nxt = _encode_cursor(end) if end < self.size else None
        return _json({"data": self._slice(offset, limit), "next_cursor": nxt})

    def link(self, request: Request) -> Reply:
        """A bare JSON array with an RFC 8288 ``Link`` header (``page``, ``per_page``)."""
        size = min(_int(request, "per_page", 100, low=1), MAX_PAGE_SIZE)
        page = _int(request, "page", 1, low=1)
        last = max(1, -(-self.size // size))
        links = [f'</link?page=1&per_page={size}>; rel="first"']
        if page < last:
            links.append(f'</link?page={page + 1}&per_page={size}>; rel="next"')
        links.append(f'</link?page={last}&per_page={size}>; rel="last"')
        items = self._slice((page - 1) * size, size)
        return _json(items, {"Link": ", ".join(links)})

    def next_url(self, request: Request) -> Reply:
        """Records at ``results`` and the absolute URL of the next page at ``next``."""
        size = min(_int(request, "page_size", 100, low=1), MAX_PAGE_SIZE)
        page = _int(request, "page", 1, low=1)
        items = self._slice((page - 1) * size, size)
        more = page * size < self.size
        nxt = f"{self._base_url()}/next?page={page + 1}&page_size={size}" if more else None
        return _json({"results": items, "next": nxt, "count": self.size})

    def jsonl(self, request: Request) -> Reply:
        """The collection (or an offset/limit slice) as JSON Lines."""
        rows = self._slice(*self._offset_limit(request))
        body = b"".join(orjson.dumps(r) + b"\n" for r in rows)
        return Reply(200, {"Content-Type": "application/x-ndjson"}, body)

    def csv(self, request: Request) -> Reply:
        """Flat fields of the collection as CSV."""
        out = io.StringIO()
        fields = ["id", "name", "price", "in_stock", "updated_at"]
        writer = csv.DictWriter(out, fields, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(self._slice(*self._offset_limit(request)))
        return Reply(200, {"Content-Type": "text/csv; charset=utf-8"}, out.getvalue().encode())
