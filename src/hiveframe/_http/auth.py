"""Auth: bearer, basic, API keys and OAuth2 client credentials, written once.

Each auth object puts its credentials on a request for the origin it was configured for; the
driver never calls it for another origin. OAuth2 fetches its token through the same driver
(so the token endpoint gets retries and timeouts too), single-flight per event loop.
"""

from __future__ import annotations

import asyncio
import base64
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from hiveframe._protocol.oauth import (
    TokenCache,
    TokenRequest,
    build_token_request,
    parse_token_response,
)
from hiveframe._secrets import Secret, redact_url
from hiveframe._validate import check_http_url, require_bool, require_seconds
from hiveframe.errors import ConfigError

# (url, form, headers) -> (status, body); the driver's POST with retries, without other auth.
PostForm = Callable[[str, dict[str, str], dict[str, str]], Awaitable[tuple[int, bytes]]]


class Auth(ABC):
    """Base class of HiveFrame auth. Subclasses say which names they put on requests."""

    refreshable = False

    @abstractmethod
    async def apply(
        self, headers: dict[str, str], params: dict[str, str], post_form: PostForm
    ) -> str | None:
        """Add credentials to ``headers``/``params``; return a handle for :meth:`invalidate`."""

    def invalidate(self, handle: str | None) -> None:  # noqa: B027 - a no-op for static auth
        """Forget the credential behind ``handle`` after the server refused it (401)."""

    def secret_headers(self) -> frozenset[str]:
        return frozenset({"authorization"})

    def secret_params(self) -> frozenset[str]:
        return frozenset()

    def secret_values(self) -> frozenset[str]:
        """The secrets this auth holds, to scrub from error messages and logs. Tokens it
        fetches later are learned when they are sent."""
        return frozenset()

    def _settings(self) -> dict[str, Any]:
        """What this auth was configured with, not what it learned since (a token): two auth
        objects with the same settings are equal, across processes too (``SourceSpec``)."""
        return dict(vars(self))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Auth)
            and type(other) is type(self)
            and other._settings() == self._settings()
        )

    def __hash__(self) -> int:
        return hash(type(self))


def _secret(value: Any, option: str) -> Secret:
    if isinstance(value, Secret):
        value = value.reveal()
    if not isinstance(value, str) or not value:
        raise ConfigError(option, value, "a non-empty string is required", secret=True)
    return Secret(value)


class BearerAuth(Auth):
    """``Authorization: Bearer <token>``."""

    def __init__(self, token: str | Secret) -> None:
        self._token = _secret(token, "auth.token")

    async def apply(
        self, headers: dict[str, str], params: dict[str, str], post_form: PostForm
    ) -> str | None:
        headers["Authorization"] = f"Bearer {self._token.reveal()}"
        return None

    def secret_values(self) -> frozenset[str]:
        return frozenset({self._token.reveal()})

    def __repr__(self) -> str:
        return "BearerAuth(token='***')"


class BasicAuth(Auth):
    """HTTP Basic (RFC 7617), UTF-8."""

    def __init__(self, username: str, password: str | Secret) -> None:
        if not isinstance(username, str) or not username:
            raise ConfigError("auth.username", username, "a non-empty string is required")
        self.username = username
        self._password = _secret(password, "auth.password")

    async def apply(
        self, headers: dict[str, str], params: dict[str, str], post_form: PostForm
    ) -> str | None:
        pair = f"{self.username}:{self._password.reveal()}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        return None

    def secret_values(self) -> frozenset[str]:
        return frozenset({self._password.reveal()})

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password='***')"


class APIKeyAuth(Auth):
    """An API key in a header (default ``X-API-Key``) or in a query parameter."""

    def __init__(self, value: str | Secret, *, name: str = "X-API-Key", location: str = "header"):
        if location not in ("header", "query"):
            raise ConfigError("auth.in", location, "must be 'header' or 'query'")
        if not isinstance(name, str) or not name:
            raise ConfigError("auth.name", name, "a non-empty header or parameter name")
        self.name = name
        self.location = location
        self._value = _secret(value, "auth.value")

    async def apply(
        self, headers: dict[str, str], params: dict[str, str], post_form: PostForm
    ) -> str | None:
        target = headers if self.location == "header" else params
        target[self.name] = self._value.reveal()
        return None

    def secret_headers(self) -> frozenset[str]:
        return frozenset({self.name.lower()}) if self.location == "header" else frozenset()

    def secret_params(self) -> frozenset[str]:
        return frozenset({self.name}) if self.location == "query" else frozenset()

    def secret_values(self) -> frozenset[str]:
        return frozenset({self._value.reveal()})

    def __repr__(self) -> str:
        return f"APIKeyAuth(name={self.name!r}, location={self.location!r}, value='***')"


class OAuth2ClientCredentials(Auth):
    """OAuth 2.0 client credentials grant (RFC 6749 4.4) with a cached bearer token.

    The token is reused until ``skew_seconds`` before it expires, fetched again then, and
    once more when the API answers 401. Concurrent requests share one token fetch.

    Parameters
    ----------
    token_url
        The token endpoint; ``https`` unless ``allow_insecure_token_url=True``.
    client_id, client_secret
        The client's credentials.
    scope
        Space-separated scopes to ask for.
    auth_method
        ``"client_secret_basic"`` (default, RFC 6749 2.3.1) or ``"client_secret_post"``.
    basic_encoding
        ``"form"`` (the RFC's form-encoding of id and secret, default) or ``"raw"``.
    """

    refreshable = True

    def __init__(  # noqa: PLR0913 - the public OAuth2 client options, each with its default
        self,
        token_url: str,
        client_id: str,
        client_secret: str | Secret,
        *,
        scope: str | None = None,
        auth_method: str = "client_secret_basic",
        basic_encoding: str = "form",
        skew_seconds: float = 60.0,
        default_ttl_seconds: float = 3600.0,
        allow_insecure_token_url: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        allow_insecure = require_bool("auth.allow_insecure_token_url", allow_insecure_token_url)
        self.token_url = _token_url(token_url, allow_insecure=allow_insecure)
        if not isinstance(client_id, str) or not client_id:
            raise ConfigError("auth.client_id", client_id, "a non-empty string is required")
        if auth_method not in ("client_secret_basic", "client_secret_post"):
            raise ConfigError(
                "auth.auth_method", auth_method, "'client_secret_basic' or 'client_secret_post'"
            )
        if basic_encoding not in ("form", "raw"):
            raise ConfigError("auth.basic_encoding", basic_encoding, "'form' or 'raw'")
        self.client_id = client_id
        self._client_secret = _secret(client_secret, "auth.client_secret")
        if scope is not None and not isinstance(scope, str):
            raise ConfigError("auth.scope", scope, "space-separated scopes in one string, or None")
        self.scope = scope
        self.auth_method = auth_method
        self.basic_encoding = basic_encoding
        self.default_ttl_seconds = require_seconds(
            "auth.default_ttl_seconds", default_ttl_seconds, positive=True
        )
        self.skew_seconds = require_seconds("auth.skew_seconds", skew_seconds)
        self._clock = clock
        self._fresh_state()

    def _fresh_state(self) -> None:
        self._cache = TokenCache(skew_seconds=self.skew_seconds, clock=self._clock)
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def __getstate__(self) -> dict[str, Any]:
        # Shipped to another process (a Spark executor): the token and locks stay here.
        state = dict(self.__dict__)
        del state["_cache"], state["_locks"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._fresh_state()

    def _settings(self) -> dict[str, Any]:
        return self.__getstate__()

    async def apply(
        self, headers: dict[str, str], params: dict[str, str], post_form: PostForm
    ) -> str | None:
        token = self._cache.get() or await self._fetch(post_form)
        headers["Authorization"] = f"Bearer {token}"
        return token

    def invalidate(self, handle: str | None) -> None:
        if handle is not None:
            self._cache.invalidate(handle)

    def secret_values(self) -> frozenset[str]:
        return frozenset({self._client_secret.reveal()})

    async def _fetch(self, post_form: PostForm) -> str:
        loop = asyncio.get_running_loop()
        lock = self._locks.setdefault(loop, asyncio.Lock())
        async with lock:
            cached = self._cache.get()  # another task may have fetched while we waited
            if cached is not None:
                return cached
            request = self._token_request()
            status, body = await post_form(self.token_url, request.form, request.headers)
            token, ttl = parse_token_response(
                status, body, url=redact_url(self.token_url), default_ttl=self.default_ttl_seconds
            )
            self._cache.store(token, ttl)
            return token

    def _token_request(self, extra: dict[str, str] | None = None) -> TokenRequest:
        """The token request with this client's credentials; ``extra`` form fields (another
        ``grant_type`` and its parameters) override the client credentials grant's."""
        return build_token_request(
            client_id=self.client_id,
            client_secret=self._client_secret.reveal(),
            scope=self.scope,
            auth_method=self.auth_method,
            basic_encoding=self.basic_encoding,
            extra=extra,
        )

    def __repr__(self) -> str:
        return (
            f"OAuth2ClientCredentials(token_url={redact_url(self.token_url)!r}, "
            f"client_id={self.client_id!r}, client_secret='***', scope={self.scope!r})"
        )


def _token_url(value: Any, *, allow_insecure: bool) -> str:
    url = check_http_url(value, "auth.token_url")
    if urlsplit(url).scheme == "http" and not allow_insecure:
        raise ConfigError(
            "auth.token_url",
            redact_url(url),
            "client secrets must not travel in clear text (RFC 6749 2.3.1); use https, "
            "or allow_insecure_token_url=True for a local test server",
        )
    return url


def _opt(options: Mapping[str, Any], key: str) -> Any:
    """An option of an ``auth`` dict; a missing one is None, refused by the constructor."""
    return options.get(key)


_DICT_TYPES: dict[str, Callable[[Mapping[str, Any]], Auth]] = {
    "bearer": lambda o: BearerAuth(_opt(o, "token")),
    "basic": lambda o: BasicAuth(_opt(o, "username"), _opt(o, "password")),
    "api_key": lambda o: APIKeyAuth(
        o.get("value", _opt(o, "key")),
        name=o.get("name", "X-API-Key"),
        location=o.get("in", "header"),
    ),
    "oauth2": lambda o: OAuth2ClientCredentials(
        _opt(o, "token_url"),
        _opt(o, "client_id"),
        _opt(o, "client_secret"),
        **{
            k: v
            for k, v in o.items()
            if k not in {"type", "token_url", "client_id", "client_secret"}
        },
    ),
}


def auth_from_option(value: Auth | Mapping[str, Any] | None) -> Auth | None:
    """The ``auth=`` option as an :class:`Auth`: an Auth object, a dict with ``type``, or None."""
    if value is None or isinstance(value, Auth):
        return value
    if not isinstance(value, Mapping):
        raise ConfigError("auth", type(value).__name__, "a dict with a 'type' or an Auth object")
    kind = value.get("type")
    factory = _DICT_TYPES.get(kind) if isinstance(kind, str) else None
    if factory is None:
        raise ConfigError("auth.type", kind, f"one of {', '.join(map(repr, _DICT_TYPES))}")
    try:
        return factory(value)
    except TypeError as exc:  # an unknown keyword in an oauth2 dict
        raise ConfigError("auth", sorted(value), f"unknown option: {exc}") from None
