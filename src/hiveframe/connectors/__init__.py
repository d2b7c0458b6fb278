"""Connectors: read from and write to HTTP APIs.

Needs the ``http`` extra: ``pip install 'hiveframe[http]'``; without it, importing this
module raises :class:`~hiveframe.errors.MissingExtraError` (an ``ImportError``) saying so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import hiveframe._http  # noqa: F401  (fails here, naming the extra, if aiohttp is missing)
from hiveframe._lazy import lazy_exports

if TYPE_CHECKING:
    from hiveframe._http.auth import (
        APIKeyAuth,
        Auth,
        BasicAuth,
        BearerAuth,
        OAuth2ClientCredentials,
    )
    from hiveframe._http.oauth_refresh import OAuth2RefreshToken
    from hiveframe._http.response import Response
    from hiveframe._protocol.incremental import Incremental
    from hiveframe._protocol.item_results import ItemResults
    from hiveframe._protocol.pagination import (
        AutoPagination,
        CursorPagination,
        LinkPagination,
        NextUrlPagination,
        OffsetPagination,
        PagePagination,
    )
    from hiveframe._protocol.poll import PollStream
    from hiveframe._protocol.reconnect import SSEStream
    from hiveframe._protocol.response_policy import ResponsePolicy, ResponseRule
    from hiveframe.connectors._explain import Explanation
    from hiveframe.connectors._fanout import Parent
    from hiveframe.connectors._run import ReadStats
    from hiveframe.connectors._sink import HTTPSink
    from hiveframe.connectors._sink_outcome import WriteResult
    from hiveframe.connectors._source import HTTPSource
    from hiveframe.connectors._spec import SinkSpec, SourceSpec

__all__ = [
    "APIKeyAuth",
    "Auth",
    "AutoPagination",
    "BasicAuth",
    "BearerAuth",
    "CursorPagination",
    "Explanation",
    "HTTPSink",
    "HTTPSource",
    "Incremental",
    "ItemResults",
    "LinkPagination",
    "NextUrlPagination",
    "OAuth2ClientCredentials",
    "OAuth2RefreshToken",
    "OffsetPagination",
    "PagePagination",
    "Parent",
    "PollStream",
    "ReadStats",
    "Response",
    "ResponsePolicy",
    "ResponseRule",
    "SSEStream",
    "SinkSpec",
    "SourceSpec",
    "WriteResult",
]

# Each name loads its module on first use (PEP 562), so that ``hiveframe read`` imports the
# read path and not the sink, the SSE reader or the OAuth flows.
_LAZY = {
    "APIKeyAuth": "hiveframe._http.auth",
    "Auth": "hiveframe._http.auth",
    "AutoPagination": "hiveframe._protocol.pagination",
    "BasicAuth": "hiveframe._http.auth",
    "BearerAuth": "hiveframe._http.auth",
    "CursorPagination": "hiveframe._protocol.pagination",
    "Explanation": "hiveframe.connectors._explain",
    "HTTPSink": "hiveframe.connectors._sink",
    "HTTPSource": "hiveframe.connectors._source",
    "Incremental": "hiveframe._protocol.incremental",
    "ItemResults": "hiveframe._protocol.item_results",
    "LinkPagination": "hiveframe._protocol.pagination",
    "NextUrlPagination": "hiveframe._protocol.pagination",
    "OAuth2ClientCredentials": "hiveframe._http.auth",
    "OAuth2RefreshToken": "hiveframe._http.oauth_refresh",
    "OffsetPagination": "hiveframe._protocol.pagination",
    "PagePagination": "hiveframe._protocol.pagination",
    "Parent": "hiveframe.connectors._fanout",
    "PollStream": "hiveframe._protocol.poll",
    "ReadStats": "hiveframe.connectors._run",
    "Response": "hiveframe._http.response",
    "ResponsePolicy": "hiveframe._protocol.response_policy",
    "ResponseRule": "hiveframe._protocol.response_policy",
    "SSEStream": "hiveframe._protocol.reconnect",
    "SinkSpec": "hiveframe.connectors._spec",
    "SourceSpec": "hiveframe.connectors._spec",
    "WriteResult": "hiveframe.connectors._sink_outcome",
}

__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
