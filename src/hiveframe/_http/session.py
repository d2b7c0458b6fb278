"""The request driver: one logical request, with auth, redirects, caps, deadline and retries.

Every HTTP call HiveFrame makes (pages, tokens, sink batches, stream polls) goes through
:meth:`Session.request`. The decisions are made elsewhere, without I/O: retry timing in
:mod:`hiveframe.resilience`, origin rules in :mod:`hiveframe._protocol.origin`, body caps in
:mod:`hiveframe._protocol.content`. This module wires them to the wire (``transport``) and to
the clock.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar
from urllib.parse import urlencode

import orjson

from hiveframe._http.auth import Auth
from hiveframe._http.clock import SYSTEM_CLOCK, Clock
from hiveframe._http.proxy import Proxies, ProxyOption, check_proxy
from hiveframe._http.response import Response, joined_headers
from hiveframe._http.streamed import StreamedResponse, decoded_chunks
from hiveframe._http.transport import (
    RawResponse,
    Transport,
    TransportConfig,
    build_url,
    resolution_error,
)
from hiveframe._http.wire import IdleConnectionClosed, time_limit
from hiveframe._protocol.content import ACCEPT_ENCODING, BodyReader, is_event_stream
from hiveframe._protocol.origin import (
    REDIRECT_STATUSES,
    credentials_may_follow,
    is_public_address,
    origin_of,
    redirect_method,
    redirect_target,
)
from hiveframe._protocol.response_policy import (
    DEFAULT_RESPONSE_POLICY,
    RETRYING,
    ResponsePolicy,
    ResponseRule,
)
from hiveframe._protocol.retry_after import parse_retry_after
from hiveframe._secrets import SecretNames, SecretValues, drop_query_params, redact_url
from hiveframe._validate import (
    NOT_GIVEN,
    check_verify,
    optional_seconds,
    require_bool,
    require_int,
    require_seconds,
)
from hiveframe.errors import (
    AuthenticationError,
    BlockedDestinationError,
    ConfigError,
    ConnectError,
    DeadlineExceeded,
    HTTPError,
    HTTPStatusError,
    NameResolutionError,
    ResponseRuleError,
    ResponseTooLarge,
    RetryExhausted,
    TooManyRedirects,
    TransportError,
    _RequestError,
)
from hiveframe.resilience import CircuitBreaker, RateLimiter, RetryConfig
from hiveframe.resilience._retry import RetryState

if TYPE_CHECKING:
    from yarl import URL

logger = logging.getLogger("hiveframe.http")

EXCERPT_BYTES = 512
_STATUS_COUNTED_BY_BREAKER = frozenset({408, 429}) | frozenset(range(500, 600))
T = TypeVar("T")


@dataclass(frozen=True)
class SessionConfig:
    """Transport settings shared by one source or sink."""

    timeout_seconds: float | None = 30.0
    connect_timeout_seconds: float = 10.0
    max_body_bytes: int = 100 * 1024 * 1024
    max_decompressed_bytes: int = 100 * 1024 * 1024
    max_redirects: int = 10
    block_private_networks: bool = True
    verify: bool | str = True
    retry: RetryConfig = field(default_factory=RetryConfig)
    circuit_breaker: CircuitBreaker | None = None
    rate_limiter: RateLimiter | None = None
    secret_headers: frozenset[str] = frozenset()
    secret_params: frozenset[str] = frozenset()
    max_connections: int = 16
    response_policy: ResponsePolicy = DEFAULT_RESPONSE_POLICY  # rules on the API's answers
    proxy: ProxyOption = NOT_GIVEN  # not given: HTTP(S)_PROXY and NO_PROXY when a session opens

    def __post_init__(self) -> None:
        # The source's and the sink's options, checked where both build them. Frozen: the
        # one sanctioned write stores each checked (canonical) value.
        checked = {
            "timeout_seconds": optional_seconds("timeout_seconds", self.timeout_seconds),
            "connect_timeout_seconds": require_seconds(
                "connect_timeout_seconds", self.connect_timeout_seconds, positive=True
            ),
            "max_body_bytes": require_int("max_body_bytes", self.max_body_bytes, minimum=1),
            "max_decompressed_bytes": require_int(
                "max_decompressed_bytes", self.max_decompressed_bytes, minimum=1
            ),
            "block_private_networks": require_bool(
                "block_private_networks", self.block_private_networks
            ),
            "verify": check_verify(self.verify),
            "proxy": check_proxy(self.proxy),
        }
        for option, value in checked.items():
            object.__setattr__(self, option, value)


@dataclass
class _Call:
    method: str
    url: str
    params: dict[str, str]
    headers: dict[str, str]
    json: Any = None
    form: dict[str, str] | None = None
    content: bytes | None = None
    credentials: bool = True  # this hop may carry credentials (same origin as home)
    session_auth: bool = True  # add the session's auth (not for the token request)
    home: str = ""  # the URL whose origin the credentials belong to
    page: int | None = None
    batch: int | None = None
    deadline: float | None = None  # monotonic time by which the whole operation must end
    auth_handle: str | None = None  # what the auth put on this hop, for Auth.invalidate
    refreshed: bool = False  # a 401 refreshed the credential once in this logical request
    idempotency_key: bool = False  # the request carries one: sending it twice is harmless

    def target(self) -> str:
        """The URL this call asks for, query parameters included (for errors and logs)."""
        return str(build_url(self.url, self.params))


class Session:
    """A connection pool plus HiveFrame's policies, for use inside one event loop.

    Parameters
    ----------
    config
        Transport and resilience settings.
    auth
        Credentials for ``credential_url``'s origin, or None.
    credential_url
        The URL the user configured; credentials go only to its origin.
    """

    def __init__(
        self,
        config: SessionConfig,
        *,
        auth: Auth | None,
        credential_url: str,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.config = config
        self.auth = auth
        self.credential_url = credential_url
        self._clock = clock
        headers, params = set(config.secret_headers), set(config.secret_params)
        if auth is not None:
            headers |= auth.secret_headers()
            params |= auth.secret_params()
        self._secret_headers = SecretNames(headers)
        self._secret_params = SecretNames(params)
        # Every secret this session knows; the values of credential headers and parameters
        # join as they are sent (OAuth2 tokens, refreshed ones included).
        self.secrets = SecretValues(auth.secret_values() if auth is not None else ())
        self.secrets.add_url(credential_url, self._secret_params)
        self._transport: Transport | None = None
        # The server's quota headers are followed even without a rate_limit of the user's.
        self.limiter = config.rate_limiter or RateLimiter(clock=clock.monotonic)
        self.requests_sent = 0
        self.retries = 0
        self.rate_limit_waits = 0  # requests that waited for the rate limiter

    async def __aenter__(self) -> Session:
        c = self.config
        connect = min(c.connect_timeout_seconds, c.timeout_seconds or c.connect_timeout_seconds)
        proxies = Proxies.from_option(c.proxy)
        for secret in proxies.secrets():
            self.secrets.add(secret)
        if proxies.by_scheme:
            logger.debug("proxies for %s: %s", self.redact(self.credential_url), proxies.describe())
        self._transport = Transport(
            TransportConfig(
                read_timeout_seconds=c.timeout_seconds,
                connect_timeout_seconds=connect,
                verify=c.verify,
                max_connections=c.max_connections,
                proxies=proxies,
            )
        )
        await self._transport.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._transport is not None:
            await self._transport.__aexit__(*exc)

    # -- what errors and logs show ------------------------------------------------------------

    def redact(self, url: str) -> str:
        """``url`` fit for a log or an error: credentials masked by name and by value."""
        return self.secrets.scrub(redact_url(url, self._secret_params))

    def excerpt(self, body: bytes) -> str:
        """The start of a response body for an error, without any secret this session knows
        (servers echo requests back, ``Authorization`` included)."""
        text = body[:EXCERPT_BYTES].decode("utf-8", "replace")
        return self.secrets.scrub(text, cut=len(body) > EXCERPT_BYTES)

    def report(
        self,
        error: BaseException,
        url: str | None = None,
        *,
        page: int | None = None,
        batch: int | None = None,
    ) -> None:
        """Make ``error`` fit to show, in place: name the request it concerns (``url``
        redacted, ``page``, ``batch``, where it does not yet) and remove every known secret
        from it and from the errors chained to it."""
        if isinstance(error, _RequestError):
            error.add_context(url=self.redact(url) if url else None, page=page, batch=batch)
        self.secrets.scrub_error(error)

    def reporting(
        self, url: str | None = None, *, page: int | None = None, batch: int | None = None
    ) -> _Reporting:
        """:meth:`report` every error raised inside the block (HiveFrame's, and any other
        that may quote a URL or a body)."""
        return _Reporting(self, url, page, batch)

    async def request(  # noqa: PLR0913 - one request's keyword options, as aiohttp's
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        page: int | None = None,
        batch: int | None = None,
        idempotency_key: bool = False,
        deadline: float | None = None,
    ) -> Response:
        """Send a request under the retry policy and the circuit breaker; return a 2xx response.

        Raises
        ------
        HTTPStatusError
            A status that is not retried, or the last one when retries run out (chained to
            :class:`~hiveframe.errors.RetryExhausted`).
        TransportError
            Connection failures and timeouts that were not (or no longer) retried.
        """
        call = _Call(
            method.upper(),
            url,
            dict(params or {}),
            dict(headers or {}),
            json=json,
            content=content,
            credentials=url == self.credential_url
            or credentials_may_follow(self.credential_url, url),
            home=self.credential_url,
            page=page,
            batch=batch,
            deadline=deadline,
            idempotency_key=idempotency_key,
        )
        try:
            return await self._with_retries(call)
        except Exception as exc:
            self.report(exc, call.target(), page=page, batch=batch)
            raise

    async def post_form(
        self, url: str, form: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, bytes]:
        """POST a form without this session's auth (the OAuth2 token request).

        Retried like an idempotent request: asking for a token twice is harmless. Returns
        the status and body of the final answer, error statuses included.
        """
        call = _Call(
            "POST",
            url,
            {},
            dict(headers),
            form=form,
            session_auth=False,
            home=url,
            idempotency_key=True,
        )
        try:
            response = await self._with_retries(call, auth_errors=False)
        except HTTPStatusError as exc:
            return exc.status, exc.body_excerpt.encode()
        return response.status_code, response.content

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[StreamedResponse]:
        """Open a response to read as it arrives (an event stream), whatever its status.

        Auth, credential-safe redirects, the rate limiter, the circuit breaker and the
        ``timeout_seconds`` bound on reaching the response head apply as for
        :meth:`request`, and a 401 refreshes an OAuth2 token once, as it does there
        (:meth:`_authorized`). Nothing is retried (the caller decides what a status means)
        and the body has no size cap; the transport's read timeout bounds each wait for
        body bytes.
        """
        call = _Call(
            method.upper(),
            url,
            dict(params or {}),
            dict(headers or {}),
            credentials=credentials_may_follow(self.credential_url, url),
            home=self.credential_url,
        )
        with self.reporting(call.target()):
            raw = (await self._authorized(call, self._follow_open)).raw
        chunks = decoded_chunks(raw.chunks(), raw.headers.get("content-encoding"))
        try:
            yield StreamedResponse(raw.status, joined_headers(raw.headers), raw.url, chunks)
        finally:
            await chunks.aclose()
            raw.close()

    # -- retries -----------------------------------------------------------------------------

    async def _with_retries(self, call: _Call, *, auth_errors: bool = True) -> Response:
        policy = self.config.retry
        state = policy.start(clock=self._clock.monotonic)
        may_retry = self._repeatable(call)
        while True:
            state.record_attempt()
            try:
                return await self._guarded(call, auth_errors=auth_errors)
            except (TransportError, HTTPStatusError) as exc:
                if not self._retriable(exc, state, may_retry=may_retry):
                    raise
                delay = self._retry_delay(exc, state)
                if delay is None:
                    if state.attempts == 1:
                        raise  # nothing was retried (max_attempts=1): the failure says it all
                    raise RetryExhausted(
                        exc.message, attempts=state.attempts, limit=state.limit_reached()
                    ) from exc
                if call.deadline is not None and self._clock.monotonic() + delay > call.deadline:
                    raise self._deadline_error(call, "the read's deadline_seconds") from exc
            self.retries += 1
            logger.debug("retrying %s %s in %.3fs", call.method, self.redact(call.target()), delay)
            await self._clock.sleep(delay)

    def _repeatable(self, call: _Call) -> bool:
        """Whether the retry policy holds ``call`` harmless to send twice."""
        return self.config.retry.allows_method(call.method, idempotency_key=call.idempotency_key)

    def _retriable(self, exc: HTTPError, state: RetryState, *, may_retry: bool) -> bool:
        if isinstance(exc, ResponseRuleError):
            return may_retry and exc.action in RETRYING
        if isinstance(exc, HTTPStatusError):
            return may_retry and self.config.retry.is_retriable_status(exc.status)
        if isinstance(exc, NameResolutionError):
            # A name that does not exist will not exist a backoff later; a resolver that did
            # not answer (EAI_AGAIN) gets one more try.
            return exc.temporary and state.attempts == 1
        # A request that never connected was never sent: safe to retry for any method.
        return may_retry or isinstance(exc, ConnectError)

    def _retry_delay(self, exc: HTTPError, state: RetryState) -> float | None:
        retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
        delay = state.next_delay(retry_after=retry_after)
        limited = isinstance(exc, ResponseRuleError) and exc.action == "rate_limited"
        if delay is not None and (retry_after is not None or limited):
            self.limiter.pause_for(delay)
        return delay

    async def _guarded(self, call: _Call, *, auth_errors: bool) -> Response:
        while True:
            read = await self._authorized(call, self._follow)
            rule = self._rule_for(call, read.response)
            # A rule's refresh_auth refreshes as a 401 does: once per logical request.
            if rule is None or rule.action != "refresh_auth" or not self._refresh(call, read.hop):
                return self._check_status(call, read.response, rule, auth_errors=auth_errors)
            read.discard()

    def _rule_for(self, call: _Call, response: Response) -> ResponseRule | None:
        # The response policy judges the API's answers, not the token endpoint's.
        policy = self.config.response_policy
        if not policy or not call.session_auth:
            return None
        return policy.match(response.status_code, response.content)

    async def _authorized(self, call: _Call, follow: Callable[[_Call], Awaitable[A]]) -> A:
        """One attempt at ``call`` through the breaker; if it is answered 401 and the
        session's auth can refresh its credential (OAuth2), the refused credential is
        forgotten and the attempt made once more, with a fresh one.

        The one place a 401 refreshes, for requests and event streams alike, and once per
        logical request (``call``), however many retries that request takes.
        """
        while True:
            answer = await self._with_breaker(lambda: self._attempt(call, follow), _status)
            if answer.status != 401 or not self._refresh(call, answer.hop):
                return answer
            answer.discard()

    def _refresh(self, call: _Call, hop: _Call) -> bool:
        # Whether to try again after a 401 to ``hop``: its credential is invalidated.
        auth = self.auth
        if call.refreshed or not call.session_auth or auth is None or not auth.refreshable:
            return False
        auth.invalidate(hop.auth_handle)
        call.refreshed = True
        return True

    async def _with_breaker(
        self, attempt: Callable[[], Awaitable[T]], status_of: Callable[[T], int]
    ) -> T:
        breaker = self.config.circuit_breaker
        permit = breaker.acquire() if breaker is not None else None
        try:
            result = await attempt()
        except TransportError:
            if permit is not None:
                permit.failure()
            raise
        except BaseException:
            if permit is not None:
                permit.release()
            raise
        if permit is not None:
            status = status_of(result)
            if status in _STATUS_COUNTED_BY_BREAKER:
                permit.failure()
            elif status < 400:
                permit.success()
            else:
                permit.release()
        return result

    def _check_status(
        self, call: _Call, response: Response, rule: ResponseRule | None, *, auth_errors: bool
    ) -> Response:
        status = response.status_code
        if rule is not None and rule.action in ("success", "ignore"):
            return replace(response, action=rule.action)
        if rule is None and status < 400:
            return response
        excerpt = self.excerpt(response.content)
        url = self.redact(response.url)
        details: dict[str, Any] = {
            "status": status,
            "url": url,
            "body_excerpt": excerpt,
            "page": call.page,
            "batch": call.batch,
            "retry_after": self.retry_after(response.headers),
        }
        if rule is not None:
            message = f"{call.method} answer matched the response rule {rule.name!r}"
            raise ResponseRuleError(message, rule=str(rule.name), action=rule.action, **details)
        if auth_errors and status == 401:
            raise AuthenticationError(
                f"{call.method} was refused: credentials missing or rejected",
                status=status,
                url=url,
                body_excerpt=excerpt,
            )
        if auth_errors and status == 403:
            raise AuthenticationError(
                f"{call.method} is forbidden", status=status, url=url, body_excerpt=excerpt
            )
        raise HTTPStatusError(f"{call.method} failed", **details)

    def retry_after(self, headers: Mapping[str, str]) -> float | None:
        """Seconds a ``Retry-After`` header asks to wait, if the retry policy respects it."""
        value = headers.get("retry-after")
        if value is None or not self.config.retry.respect_retry_after:
            return None
        return parse_retry_after(value, now=self._clock.time())

    # -- one attempt: redirects, auth, body --------------------------------------------------

    async def _attempt(self, call: _Call, follow: Callable[[_Call], Awaitable[T]]) -> T:
        limit, what = self.config.timeout_seconds, f"timeout_seconds={self.config.timeout_seconds}"
        if call.deadline is not None:
            remaining = max(0.0, call.deadline - self._clock.monotonic())
            if limit is None or remaining < limit:
                limit, what = remaining, "the read's deadline_seconds"
        try:
            async with time_limit(limit):
                return await follow(call)
        except TimeoutError as exc:  # the builtin, raised by both time limits
            raise self._deadline_error(call, what) from exc

    def _deadline_error(self, call: _Call, what: str) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"{call.method} did not finish within {what}",
            url=self.redact(call.target()),
            page=call.page,
            batch=call.batch,
        )

    async def _follow(self, call: _Call) -> _Read:
        raw, started, hop = await self._follow_open(call)
        try:
            content = await self._read_body(raw, hop)
        except BaseException:
            raw.close()
            raise
        raw.release()
        response = self._response(raw, content, started)
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "%s %s -> %d in %.3fs",
                hop.method,
                self.redact(raw.url),
                raw.status,
                response.elapsed_seconds,
            )
        return _Read(response, hop)

    async def _follow_open(self, call: _Call) -> _Opened:
        hop = call
        for _ in range(self.config.max_redirects + 1):
            raw, started = await self._open(hop)
            location = raw.headers.get("location")
            if raw.status not in REDIRECT_STATUSES or not location:
                return _Opened(raw, started, hop)
            raw.close()  # a redirect's body is never read (it could be a bomb)
            hop = self._redirected(hop, raw.status, location)
            await self._check_destination(hop)
        raise TooManyRedirects(
            f"more than max_redirects={self.config.max_redirects} redirects",
            url=self.redact(call.target()),
        )

    async def _check_destination(self, hop: _Call) -> None:
        """Refuse a server-chosen hop to another origin that resolves to a non-public address.

        Checked before connecting (RELIABILITY 6.8): a public API must not be able to steer
        HiveFrame into the caller's own network. ``block_private_networks=False`` allows it,
        for APIs that redirect between internal hosts.
        """
        target = origin_of(hop.url)
        if not self.config.block_private_networks or target == origin_of(hop.home):
            return
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise resolution_error(target.host, exc, url=self.redact(hop.target())) from exc
        if not all(is_public_address(str(info[4][0])) for info in infos):
            raise BlockedDestinationError(
                f"redirect to {target.host!r} refused: it is not a public address "
                "(set block_private_networks=False to follow redirects into private networks)",
                url=self.redact(hop.target()),
                page=hop.page,
            )

    def _redirected(self, call: _Call, status: int, location: str) -> _Call:
        target = redirect_target(call.url, location)
        method, keep_body = redirect_method(status, call.method)
        credentials = call.credentials and credentials_may_follow(call.home, target)
        params = call.params
        if not credentials:
            target = drop_query_params(target, self._secret_params, self.secrets)
            params = self._without_credentials(params, self._secret_params)
        redirected = replace(
            call, method=method, url=target, params=params, credentials=credentials
        )
        if not keep_body:
            redirected.json = redirected.form = redirected.content = None
        return redirected

    async def _headers_for(self, call: _Call) -> tuple[dict[str, str], dict[str, str]]:
        if not call.credentials:
            return (
                self._without_credentials(call.headers, self._secret_headers),
                self._without_credentials(call.params, self._secret_params),
            )
        headers, params = dict(call.headers), dict(call.params)
        if self.auth is not None and call.session_auth:
            call.auth_handle = await self.auth.apply(headers, params, self.post_form)
            for value in self.auth.secret_values():  # a refresh token may have rotated
                self.secrets.add(value)
        for name, value in headers.items():
            if name in self._secret_headers:
                self.secrets.add_header(name, value)
        for name, value in params.items():
            if name in self._secret_params:
                self.secrets.add(value)
        return headers, params

    def _without_credentials(self, fields: dict[str, str], names: SecretNames) -> dict[str, str]:
        # What may go to another origin: no credential name, no known secret as a value.
        return {k: v for k, v in fields.items() if k not in names and not self.secrets.holds(v)}

    async def _open(self, call: _Call) -> tuple[RawResponse, float]:
        # One hop: credentials for its origin, the rate limiter, then the response head.
        assert self._transport is not None, "Session used outside 'async with'"
        headers, params = await self._headers_for(call)
        headers["Accept-Encoding"] = ACCEPT_ENCODING
        body = _encode_body(call, headers)
        target = build_url(call.url, params)
        try:
            return await self._send(call, target, headers, body)
        except IdleConnectionClosed:
            # The server's keep-alive timeout, not its health: a request the retry policy
            # holds harmless twice goes again at once, through the limiter, without spending
            # a retry (nor waiting a backoff).
            if not self._repeatable(call):
                raise
        logger.debug("sending %s %s again", call.method, self.redact(str(target)))
        return await self._send(call, target, headers, body)

    async def _send(
        self, call: _Call, target: URL, headers: dict[str, str], body: bytes | None
    ) -> tuple[RawResponse, float]:
        assert self._transport is not None
        wait = self.limiter.reserve()
        try:
            if wait > 0:
                self.rate_limit_waits += 1
                logger.debug("waiting %.3fs for the rate limit", wait)
                await self._clock.sleep(wait)
            started = self._clock.monotonic()
            self.requests_sent += 1
            raw = await self._transport.open(
                call.method,
                target,
                headers=headers,
                body=body,
                where=lambda: {
                    "url": self.redact(str(target)),
                    "page": call.page,
                    "batch": call.batch,
                },
            )
        except BaseException:
            self.limiter.observe(None)
            raise
        # The token endpoint's quota is not the API's.
        quota = raw.headers if call.session_auth else None
        round_trip = self._clock.monotonic() - started
        self.limiter.observe(quota, wall_time=self._clock.time(), round_trip=round_trip)
        return raw, started

    def _response(self, raw: RawResponse, body: bytes, started: float) -> Response:
        elapsed = self._clock.monotonic() - started
        headers = joined_headers(raw.headers)
        return Response(raw.status, headers, body, raw.url, elapsed, fetched_at=self._clock.time())

    async def _read_body(self, raw: RawResponse, call: _Call) -> bytes:
        # Errors name this hop: after a redirect, the URL whose body broke a cap or a coding.
        with self.reporting(raw.url, page=call.page, batch=call.batch):
            reader = BodyReader(
                raw.headers.get("content-encoding"),
                max_body_bytes=self.config.max_body_bytes,
                max_decompressed_bytes=self.config.max_decompressed_bytes,
            )
            content_type = raw.headers.get("content-type")
            if is_event_stream(content_type):
                # It never ends: reading it whole would wait for the timeout, again per retry.
                raise ConfigError(
                    "stream_type",
                    None,
                    f"{self.redact(raw.url)} answered with an event stream (Content-Type "
                    f"{content_type!r}), which does not end like a page: stream it with "
                    "stream_type='sse' (hiveframe stream --sse)",
                )
            declared = raw.headers.get("content-length")
            cap = self.config.max_body_bytes
            if declared and declared.isdigit() and int(declared) > cap:
                raise ResponseTooLarge(
                    f"Content-Length {declared} is above max_body_bytes={cap}",
                    limit=cap,
                    decompressed=False,
                )
            async for chunk in raw.chunks():
                reader.feed(chunk)
            return reader.finish()


def _encode_body(call: _Call, headers: dict[str, str]) -> bytes | None:
    """The request body as bytes, setting Content-Type for JSON and form bodies."""
    if call.content is not None:
        return call.content
    if call.form is not None:
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return urlencode(call.form).encode()
    if call.json is not None:
        headers.setdefault("Content-Type", "application/json")
        return orjson.dumps(call.json)
    return None


class _Reporting:
    # Session.reporting's block: a class, not @contextmanager, since every page enters
    # several and a generator-based one costs a few times more.
    __slots__ = ("_batch", "_page", "_session", "_url")

    def __init__(
        self, session: Session, url: str | None, page: int | None, batch: int | None
    ) -> None:
        self._session, self._url, self._page, self._batch = session, url, page, batch

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: BaseException | None, trace: object) -> None:
        if isinstance(error, Exception):
            self._session.report(error, self._url, page=self._page, batch=self._batch)


class _Answer(Protocol):
    """What one attempt brought back, as :meth:`Session._authorized` looks at it."""

    @property
    def status(self) -> int: ...

    @property
    def hop(self) -> _Call: ...  # the request that answered (after redirects)

    def discard(self) -> None: ...


A = TypeVar("A", bound=_Answer)


def _status(answer: _Answer) -> int:
    return answer.status


class _Opened(NamedTuple):
    """A response whose head arrived; its body is still to read (an event stream)."""

    raw: RawResponse
    started: float  # clock.monotonic() when the last hop was sent
    hop: _Call  # the request that answered (after redirects)

    @property
    def status(self) -> int:
        return self.raw.status

    def discard(self) -> None:
        self.raw.close()


class _Read(NamedTuple):
    """A response read whole (its connection already released)."""

    response: Response
    hop: _Call  # the request that answered (after redirects)

    @property
    def status(self) -> int:
        return self.response.status_code

    def discard(self) -> None:
        """Nothing to release: the body was read."""
