"""Connectors: read from and write to HTTP APIs.

Needs the ``http`` extra: ``pip install 'hiveframe[http]'``; without it, importing this
module raises :class:`~hiveframe.errors.MissingExtraError` (an ``ImportError``) saying so.
"""

from __future__ import annotations

from hiveframe._http.auth import APIKeyAuth, Auth, BasicAuth, BearerAuth, OAuth2ClientCredentials
from hiveframe._http.oauth_refresh import OAuth2RefreshToken
from hiveframe._http.response import Response
from hiveframe._protocol.pagination import (
    CursorPagination,
    LinkPagination,
    NextUrlPagination,
    OffsetPagination,
    PagePagination,
)
from hiveframe.connectors._sink import HTTPSink
from hiveframe.connectors._sink_outcome import WriteResult
from hiveframe.connectors._source import HTTPSource

__all__ = [
    "APIKeyAuth",
    "Auth",
    "BasicAuth",
    "BearerAuth",
    "CursorPagination",
    "HTTPSink",
    "HTTPSource",
    "LinkPagination",
    "NextUrlPagination",
    "OAuth2ClientCredentials",
    "OAuth2RefreshToken",
    "OffsetPagination",
    "PagePagination",
    "Response",
    "WriteResult",
]
