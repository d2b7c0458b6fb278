"""The embedded demo API: a real HTTP server on 127.0.0.1 serving paginated JSON.

Used by ``hiveframe demo``, by the docs and by the tests. It needs no internet and no
dependency beyond the standard library and orjson.

Example
-------
>>> from hiveframe.demo import DemoServer
>>> with DemoServer(records=250) as demo:
...     url = demo.url("/data")       # a bare JSON array, offset/limit pagination
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from hiveframe.demo._api import DemoAPI, make_record
from hiveframe.demo._events import EventsAPI
from hiveframe.demo._ingest import IngestAPI
from hiveframe.demo._orders import OrdersAPI
from hiveframe.demo._parents import ParentsAPI
from hiveframe.demo._server import ABORT, LoopbackServer, Reply, Request

__all__ = [
    "ABORT",
    "DemoServer",
    "ENDPOINTS",
    "LoopbackServer",
    "Reply",
    "Request",
    "make_record",
]

ENDPOINTS: Mapping[str, str] = MappingProxyType(
    {
        "/data": "bare JSON array, offset/limit",
        "/items": '{"items": [...], "total": N}, offset/limit',
        "/nested": "records at results.items, offset/limit",
        "/pages": "page/page_size, total_pages in the body",
        "/cursor": "opaque cursor, the next one at next_cursor",
        "/link": 'RFC 8288 Link: <...>; rel="next", page/per_page',
        "/next": "absolute URL of the next page at next",
        "/items.jsonl": "JSON Lines, offset/limit",
        "/items.csv": "CSV (flat fields), offset/limit",
        "/ingest": "POST records here (HTTP sink); GET answers the counts",
        "/ingest/last": "the last body POSTed to /ingest, as it came",
        "/events": "a growing event log to poll: since, ETag, 304",
        "/stream": "the same log as Server-Sent Events, honouring Last-Event-ID",
        "/orders": "orders by updated_at, since= (inclusive), until= (exclusive), offset/limit; "
        "POST adds or updates",
        "/orders/nested": "the same orders, updated_at at meta.updated_at",
        "/parents": '{"parents": [...], "total": 50}, offset/limit',
        "/parents/{id}/children": "a parent's children (0 to 7), page/page_size (5)",
    }
)
"""The endpoints of :class:`DemoServer` and what each serves (``hiveframe demo --serve``)."""


class DemoServer(LoopbackServer):
    """The demo API on a free loopback port.

    Its endpoints are :data:`ENDPOINTS`. Records have ``id``, ``name``, ``price``,
    ``in_stock``, ``tags``, ``dimensions``, ``updated_at``; ``/ingest`` is described in
    ``hiveframe.demo._ingest``, ``/events`` and ``/stream`` in ``hiveframe.demo._events``,
    ``/orders`` (``self.orders``) in ``hiveframe.demo._orders``, ``/parents`` and
    ``/parents/{id}/children`` in ``hiveframe.demo._parents``.

    Parameters
    ----------
    records
        How many records the collection holds.
    port
        Port to bind on 127.0.0.1; 0 picks a free one.
    """

    def __init__(self, records: int = 1000, *, port: int = 0) -> None:
        self.api = DemoAPI(records, lambda: self.base_url)
        self.ingest = IngestAPI()
        self.events = EventsAPI()
        self.orders = OrdersAPI()
        self.parents = ParentsAPI()
        routes = {
            **self.api.routes(),
            **self.ingest.routes(),
            **self.events.routes(),
            **self.orders.routes(),
            **self.parents.routes(),
        }
        super().__init__(routes, port=port)
