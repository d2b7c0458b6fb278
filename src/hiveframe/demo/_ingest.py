"""The demo API's ingest endpoint (filled in with the HTTP sink)."""

from __future__ import annotations

from hiveframe.demo._server import Handler


class IngestAPI:
    """Receives records written by an HTTP sink."""

    def routes(self) -> dict[str, Handler]:
        return {}
