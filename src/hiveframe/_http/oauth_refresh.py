"""OAuth 2.0 refresh token grant (RFC 6749 6), with refresh tokens that rotate.

Many providers (Auth0, Okta, Salesforce, Xero...) issue a new refresh token with every access
token and refuse the old one from then on (OAuth 2.0 Security BCP, section 4.14). Two
refreshes with one refresh token then fail the second, so the refresh is single-flight across
every task *and every event loop* that shares the auth object (two sync reads in two threads
each run their own loop), and the newest refresh token is handed to ``on_rotate`` to be
stored before anything else uses it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any

from hiveframe._http.auth import OAuth2ClientCredentials, PostForm, _secret
from hiveframe._protocol.oauth import parse_token_grant
from hiveframe._secrets import Secret, SecretValues, redact_url
from hiveframe.errors import ConfigError, HiveFrameError

RotateCallback = Callable[[str], object]


class _LeaderGone(Exception):
    """The task refreshing for everyone was cancelled; a waiting task takes over."""


class OAuth2RefreshToken(OAuth2ClientCredentials):
    """OAuth 2.0 refresh token grant: access tokens obtained with a refresh token.

    The access token is cached and refreshed ``skew_seconds`` before it expires, and once
    more when the API answers 401, as with :class:`OAuth2ClientCredentials`. Concurrent
    requests share one refresh, across event loops too. When the token response carries a
    new ``refresh_token`` (rotation), it replaces the old one for the next refresh and is
    passed to ``on_rotate`` first: store it there, since the old one no longer works.

    Parameters
    ----------
    token_url
        The token endpoint; ``https`` unless ``allow_insecure_token_url=True``.
    client_id, client_secret
        The client's credentials, sent as for the client credentials grant
        (``auth_method``, ``basic_encoding``).
    refresh_token
        The refresh token to start from.
    on_rotate
        ``on_rotate(new_refresh_token)``, called on the event loop right after a refresh
        that rotated the refresh token (before the new access token is used). If it raises,
        the request that needed the token fails with that error; the new tokens stay in use.
    scope
        Space-separated scopes to ask for (at most those first granted).
    options
        ``auth_method``, ``basic_encoding``, ``skew_seconds``, ``default_ttl_seconds``,
        ``allow_insecure_token_url``, ``clock``: as for :class:`OAuth2ClientCredentials`.

    Raises
    ------
    ConfigError
        An option has a bad value (``auth.refresh_token``, ``auth.on_rotate``...).

    Example
    -------
    >>> auth = OAuth2RefreshToken(
    ...     "https://auth.example.com/token", "client-id", "client-secret", "rt-1",
    ...     on_rotate=lambda token: None,
    ... )
    >>> auth
    OAuth2RefreshToken(token_url='https://auth.example.com/token', client_id='client-id', \
client_secret='***', refresh_token='***', scope=None)
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str | Secret,
        refresh_token: str | Secret,
        *,
        on_rotate: RotateCallback | None = None,
        scope: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(token_url, client_id, client_secret, scope=scope, **options)
        if on_rotate is not None and not callable(on_rotate):
            raise ConfigError("auth.on_rotate", on_rotate, "a callable on_rotate(new_token)")
        self.on_rotate = on_rotate
        self._refresh_token = _secret(refresh_token, "auth.refresh_token")
        self._known = SecretValues(self.secret_values())

    def _fresh_state(self) -> None:
        super()._fresh_state()
        self._flight_lock = threading.Lock()
        self._flight: concurrent.futures.Future[str] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        del state["_flight_lock"], state["_flight"]
        return state

    def secret_values(self) -> frozenset[str]:
        """The client secret and the refresh token now in use (the session asks again after
        each refresh, so a rotated one is scrubbed from errors too)."""
        return super().secret_values() | {self._refresh_token.reveal()}

    async def _fetch(self, post_form: PostForm) -> str:
        while True:
            with self._flight_lock:
                cached = self._cache.get()  # another task may have refreshed meanwhile
                if cached is not None:
                    return cached
                flight, leading = self._flight, self._flight is None
                if flight is None:
                    flight = self._flight = concurrent.futures.Future()
            if not leading:
                try:
                    # shield: a waiter's cancellation must not cancel the shared refresh
                    return await asyncio.shield(asyncio.wrap_future(flight))
                except _LeaderGone:
                    continue
            try:
                token = await self._refresh(post_form)
            except BaseException as exc:
                gone = isinstance(exc, asyncio.CancelledError)
                flight.set_exception(_LeaderGone() if gone else exc)
                raise
            else:
                flight.set_result(token)
                return token
            finally:
                with self._flight_lock:
                    self._flight = None

    async def _refresh(self, post_form: PostForm) -> str:
        used = self._refresh_token.reveal()
        request = self._token_request({"grant_type": "refresh_token", "refresh_token": used})
        try:
            status, body = await post_form(self.token_url, request.form, request.headers)
            grant = parse_token_grant(
                status,
                body,
                url=redact_url(self.token_url),
                default_ttl=self.default_ttl_seconds,
                refused="the refresh token (used already, expired or revoked?)",
            )
        except HiveFrameError as exc:  # an endpoint may echo the refresh token back
            self._known.scrub_error(exc)
            raise
        self._cache.store(grant.access_token, grant.ttl)
        rotated = grant.refresh_token
        if rotated is not None and rotated != used:
            self._refresh_token = Secret(rotated)
            self._known.add(rotated)
            if self.on_rotate is not None:
                self.on_rotate(rotated)
        return grant.access_token

    def __repr__(self) -> str:
        return (
            f"OAuth2RefreshToken(token_url={redact_url(self.token_url)!r}, "
            f"client_id={self.client_id!r}, client_secret='***', refresh_token='***', "
            f"scope={self.scope!r})"
        )
