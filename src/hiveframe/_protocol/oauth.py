"""OAuth 2.0 client credentials (RFC 6749 4.4) and refresh token (RFC 6749 6) grants, without
I/O: the token request, the token response, and a token cache with expiry skew.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import orjson

from hiveframe.errors import AuthenticationError, TokenResponseError

_EXCERPT = 200


@dataclass(frozen=True)
class TokenRequest:
    """The POST to the token endpoint: form fields and headers."""

    form: dict[str, str]
    headers: dict[str, str]


def client_secret_basic(client_id: str, client_secret: str, *, encoding: str = "form") -> str:
    """The ``Authorization`` value for ``client_secret_basic``.

    RFC 6749 2.3.1 form-encodes (Appendix B) the id and the secret before joining them with
    ``:``; ``encoding="raw"`` skips that for servers that expect the raw pair.
    """
    if encoding == "form":
        client_id, client_secret = quote_plus(client_id), quote_plus(client_secret)
    pair = f"{client_id}:{client_secret}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def build_token_request(
    *,
    client_id: str,
    client_secret: str,
    scope: str | None,
    auth_method: str,
    basic_encoding: str,
    extra: dict[str, str] | None = None,
) -> TokenRequest:
    form = {"grant_type": "client_credentials", **(extra or {})}
    if scope:
        form["scope"] = scope
    headers = {"Accept": "application/json"}
    if auth_method == "client_secret_post":
        form["client_id"] = client_id
        form["client_secret"] = client_secret
    else:
        headers["Authorization"] = client_secret_basic(
            client_id, client_secret, encoding=basic_encoding
        )
    return TokenRequest(form, headers)


def _error_code(body: bytes) -> str | None:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    code = document.get("error") if isinstance(document, dict) else None
    return code if isinstance(code, str) else None


@dataclass(frozen=True)
class TokenGrant:
    """What a token endpoint granted: the access token, its lifetime in seconds, and the
    refresh token to use next time when the response carries one (a rotated refresh token)."""

    access_token: str
    ttl: float
    refresh_token: str | None = None


def parse_token_response(
    status: int, body: bytes, *, url: str, default_ttl: float
) -> tuple[str, float]:
    """The access token and its lifetime in seconds, or an error that says why not.

    Raises
    ------
    AuthenticationError
        The endpoint refused the client (RFC 6749 5.2: 400/401 with an ``error`` code).
    TokenResponseError
        A 2xx whose body holds no usable bearer token. A missing ``access_token`` is never
        turned into the string ``"None"``.
    """
    grant = parse_token_grant(status, body, url=url, default_ttl=default_ttl)
    return grant.access_token, grant.ttl


def parse_token_grant(
    status: int,
    body: bytes,
    *,
    url: str,
    default_ttl: float,
    refused: str = "the client credentials",
) -> TokenGrant:
    """:func:`parse_token_response` with the ``refresh_token`` the response may carry.

    ``refused`` names what the endpoint refuses in the error of a 4xx (``"the refresh
    token"`` for a refresh token grant). Raises as :func:`parse_token_response` does; a
    ``refresh_token`` that is not a non-empty string is a ``TokenResponseError``.
    """
    excerpt = body[:_EXCERPT].decode("utf-8", "replace")
    if not 200 <= status < 300:
        raise AuthenticationError(
            f"token endpoint refused {refused}",
            status=status,
            url=url,
            body_excerpt=excerpt if _error_code(body) else "",
            error=_error_code(body),
        )
    try:
        document: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        document = None
    if not isinstance(document, dict):
        raise TokenResponseError("token response is not a JSON object", status=status, url=url)
    token = document.get("access_token")
    if not isinstance(token, str) or not token:
        raise TokenResponseError("token response has no access_token", status=status, url=url)
    token_type = document.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise TokenResponseError(
            f"token_type {token_type!r} is not supported; only Bearer tokens are",
            status=status,
            url=url,
        )
    expires_in = document.get("expires_in")
    ttl = float(expires_in) if isinstance(expires_in, (int, float)) else default_ttl
    refresh = document.get("refresh_token")
    if refresh is not None and (not isinstance(refresh, str) or not refresh):
        raise TokenResponseError(
            "token response has an unusable refresh_token", status=status, url=url
        )
    return TokenGrant(token, ttl, refresh)


class TokenCache:
    """One cached token, considered stale ``skew_seconds`` before it expires.

    Thread-safe; the clock is injected so expiry is tested without waiting.
    """

    def __init__(self, *, skew_seconds: float, clock: Callable[[], float]) -> None:
        self._skew = skew_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._fresh_until = 0.0

    def get(self) -> str | None:
        with self._lock:
            if self._token is not None and self._clock() < self._fresh_until:
                return self._token
            return None

    def store(self, token: str, ttl: float) -> None:
        with self._lock:
            self._token = token
            # A short-lived token would be stale at once under the full skew; keep half its life.
            self._fresh_until = self._clock() + ttl - min(self._skew, ttl / 2)

    def invalidate(self, token: str) -> None:
        """Drop ``token`` if it is still the cached one (a concurrent refresh may have won)."""
        with self._lock:
            if self._token == token:
                self._token = None
