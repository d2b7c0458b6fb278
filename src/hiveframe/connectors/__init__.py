"""Connectors: read from and write to HTTP APIs.

Needs the ``http`` extra: ``pip install 'hiveframe[http]'``; without it, importing this
module raises :class:`~hiveframe.errors.MissingExtraError` (an ``ImportError``) saying so.
"""

from __future__ import annotations

from hiveframe._http.auth import APIKeyAuth, Auth, BasicAuth, BearerAuth, OAuth2ClientCredentials
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
