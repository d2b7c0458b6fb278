"""An SSE feed whose events carry several records each, for tests of cut units."""

from __future__ import annotations

import orjson

from hiveframe.demo import Reply, Request

PER_EVENT = 3


class GroupedFeed:
    """SSE feed whose event ``n`` carries the records ``3n-2, 3n-1, 3n`` (a JSON array).

    It replays the events after ``Last-Event-ID``, like a server that honours it, then ends
    the response; ``retry: 0`` makes a client reconnect at once.
    """

    def __init__(self, events: int) -> None:
        self.events = events

    def __call__(self, request: Request) -> Reply:
        after = int(request.header("last-event-id") or 0)
        body = b"".join(
            b"id: %d\ndata: %s\n\n" % (n, orjson.dumps(records_of(n)))
            for n in range(after + 1, self.events + 1)
        )
        return Reply(200, {"Content-Type": "text/event-stream"}, b"retry: 0\n\n" + body)


def records_of(event: int) -> list[dict[str, int]]:
    """The records of event ``event``."""
    return [{"id": PER_EVENT * (event - 1) + i} for i in range(1, PER_EVENT + 1)]
