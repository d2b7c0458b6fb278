"""The demo API's event endpoints: an SSE feed and a pollable collection."""

from __future__ import annotations

from hiveframe.demo._server import Handler


class EventsAPI:
    """A live event feed."""

    def routes(self) -> dict[str, Handler]:
        return {}
