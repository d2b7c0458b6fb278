"""Every exception HiveFrame raises.

::

    HiveFrameError
    ├── ConfigError (also ValueError)         a bad option, named with its value
    │   ├── ColumnNotFoundError (also KeyError) a column name the frame does not have
    │   └── PipelineFileError                 a pipeline file refused, with its file, line and key
    ├── HTTPError                             something went wrong talking to a server
    │   ├── TransportError                    no usable response (retriable)
    │   │   ├── ConnectError
    │   │   │   └── NameResolutionError       the host name does not resolve (DNS)
    │   │   ├── ReadError                     connection dropped mid-response
    │   │   └── TimeoutException              connect/read/write/pool timeout
    │   │       └── DeadlineExceeded          the whole-request or whole-read deadline
    │   ├── HTTPStatusError                   a response with an error status
    │   │   ├── AuthenticationError           credentials refused (401/403, OAuth2 errors)
    │   │   │   └── TokenResponseError        a token endpoint answered something unusable
    │   │   └── ResponseRuleError             a response policy rule said fail (or retry, to no end)
    │   ├── ResponseTooLarge                  a body over max_body_bytes / max_decompressed_bytes
    │   ├── BlockedDestinationError           a server-supplied URL that HiveFrame will not follow
    │   └── TooManyRedirects
    ├── ResponseDecodeError (kind=...)        a body that cannot be turned into records
    │   └── DataPathError                     the data_path is not in the document
    ├── PaginationError (url, page)           pagination cannot go on
    │   ├── PaginationLoopError               a page points back to an earlier one
    │   └── PaginationLimitReached            more pages than the default page cap
    ├── SchemaDriftError
    ├── ResilienceError
    │   ├── CircuitOpenError                  failing fast while a circuit breaker is open
    │   ├── RetryExhausted                    every attempt failed; the last error is chained
    │   ├── RetryAfterTooLong                 a server asked for a wait above the cap
    │   └── RateLimitWaitTooLong              a rate limit (the server's quota) would wait too long
    ├── SSEError
    │   ├── SSEProtocolError                  not an event stream (status, Content-Type)
    │   ├── SSEEventTooLarge
    │   └── SSEStreamClosedByServer           the server said stop (204)
    ├── DeliveryFailed                        records a sink could not deliver
    ├── ChildReadError                        a child read of a parent/child fan-out failed
    └── MissingExtraError (also ImportError)  an optional extra is not installed

    HiveFrameWarning (a UserWarning)
    ├── InsecureTLSWarning                    TLS verification was turned off
    ├── PaginationWarning                     a read ended before the total the API reported
    └── IncrementalWarning                    an API sent records older than the cursor it was sent

Errors carry context (a redacted URL, the status, the page or batch, a truncated
body excerpt), never a secret.
"""

from __future__ import annotations

import warnings
from typing import Any

__all__ = [
    "AuthenticationError",
    "BlockedDestinationError",
    "ChildReadError",
    "CircuitOpenError",
    "ColumnNotFoundError",
    "ConfigError",
    "ConnectError",
    "DataPathError",
    "DeadlineExceeded",
    "DeliveryFailed",
    "HTTPError",
    "HTTPStatusError",
    "HiveFrameError",
    "HiveFrameWarning",
    "IncrementalWarning",
    "InsecureTLSWarning",
    "MissingExtraError",
    "NameResolutionError",
    "PaginationError",
    "PaginationLimitReached",
    "PaginationLoopError",
    "PaginationWarning",
    "PipelineFileError",
    "RateLimitWaitTooLong",
    "ReadError",
    "ResilienceError",
    "ResponseDecodeError",
    "ResponseRuleError",
    "ResponseTooLarge",
    "RetryAfterTooLong",
    "RetryExhausted",
    "SSEError",
    "SSEEventTooLarge",
    "SSEProtocolError",
    "SSEStreamClosedByServer",
    "SchemaDriftError",
    "TimeoutException",
    "TokenResponseError",
    "TooManyRedirects",
    "TransportError",
]

_MAX_VALUE_REPR = 200


class HiveFrameError(Exception):
    """Base class of every HiveFrame error."""


class ConfigError(HiveFrameError, ValueError):
    """An option has a bad value. Raised when the object is built, not on first use.

    Parameters
    ----------
    option
        The option's name as the user spelled it (``"pagination"``, ``"auth.token"``).
    value
        The bad value. Pass ``secret=True`` for values that must not be shown.
    reason
        What is wrong and, where it helps, what would be right.
    """

    def __init__(self, option: str, value: Any, reason: str, *, secret: bool = False) -> None:
        self.option = option
        self.value = "***" if secret else value
        self.reason = reason
        shown = "***" if secret else _short_repr(value)
        super().__init__(f"{option}={shown}: {reason}")


class ColumnNotFoundError(ConfigError, KeyError):
    """A column name that is not in the frame; also a ``KeyError``, as ``df["name"]`` raises.

    ``option`` is the method (``"drop"``, ``"column"`` for ``df[name]``), ``value`` the name,
    ``columns`` the columns there are (the message lists the first 50).
    """

    def __init__(self, option: str, name: Any, columns: list[str]) -> None:
        self.columns = list(columns)
        shown = ", ".join(repr(column) for column in columns[:50]) or "none"
        if len(columns) > 50:
            shown += f" and {len(columns) - 50} more"
        super().__init__(option, name, f"no such column; the columns are: {shown}")

    __str__ = HiveFrameError.__str__  # KeyError's would show the message in quotes


class PipelineFileError(ConfigError):
    """A pipeline file (``hiveframe run``) that HiveFrame refuses.

    ``file`` is its path, ``line`` the 1-based line of ``key`` (None when the key is not in
    the file), ``key`` the dotted key (``"sources.orders.token"``); ``option`` is ``key``.
    The message reads ``file:line: key=value: reason`` (a secret value shown as ``***``).
    """

    def __init__(
        self,
        file: str,
        line: int | None,
        key: str,
        value: Any,
        reason: str,
        *,
        secret: bool = False,
    ) -> None:
        self.file = file
        self.line = line
        self.key = key
        super().__init__(key, value, reason, secret=secret)
        where = f"{file}:{line}" if line is not None else file
        self.args = (f"{where}: {self.args[0]}",)


class _RequestError(HiveFrameError):
    """An error about one request, shown with the request's URL, page and batch.

    ``url`` is always redacted: user-info, credential query parameters and API keys are
    replaced by ``***``. ``page`` is the page index of a paginated read, ``batch`` the batch
    index of a sink write, when the error concerns one. The code that raises an error may
    not know all three; the session and the readers fill in the rest on the way out.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        page: int | None = None,
        batch: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.url = url
        self.page = page
        self.batch = batch

    def add_context(
        self, *, url: str | None = None, page: int | None = None, batch: int | None = None
    ) -> None:
        """Set the URL (redacted), page and batch where they are not set yet."""
        self.url = self.url if self.url is not None else url
        self.page = self.page if self.page is not None else page
        self.batch = self.batch if self.batch is not None else batch

    def __str__(self) -> str:
        return self.message + _where(self.url, self.page, self.batch)


class HTTPError(_RequestError):
    """Something went wrong talking to a server."""


class TransportError(HTTPError):
    """No usable response arrived: the connection failed, dropped or timed out. Retriable."""


class ConnectError(TransportError):
    """The connection could not be made (refused, DNS, TLS)."""


class NameResolutionError(ConnectError):
    """The host name could not be resolved (DNS), so nothing was sent.

    It is not retried: a name that does not exist will not exist a backoff later (a typo,
    ``nonexistent.invalid``). Only a failure the resolver calls temporary (``EAI_AGAIN``:
    no answer from the DNS server) is retried, once.

    Attributes
    ----------
    host
        The name that did not resolve.
    temporary
        Whether the resolver called the failure temporary.
    """

    def __init__(
        self,
        message: str,
        *,
        host: str | None = None,
        temporary: bool = False,
        url: str | None = None,
        page: int | None = None,
        batch: int | None = None,
    ) -> None:
        self.host = host
        self.temporary = temporary
        super().__init__(message, url=url, page=page, batch=batch)


class ReadError(TransportError):
    """The connection dropped while the response was being read."""


class TimeoutException(TransportError):
    """A connect, read, write or pool timeout fired.

    It was called ``TimeoutError``, which shadowed the builtin wherever it was imported;
    that name still works, with a ``DeprecationWarning``.
    """


class DeadlineExceeded(TimeoutException):
    """The total deadline of a request or of a whole read passed."""


def __getattr__(name: str) -> Any:
    # Module attributes that are gone, kept for a while: TimeoutError, with a warning.
    if name == "TimeoutError":
        warnings.warn(
            "hiveframe.errors.TimeoutError is deprecated: use TimeoutException (the old name "
            "shadowed the builtin TimeoutError)",
            DeprecationWarning,
            stacklevel=2,
        )
        return TimeoutException
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class HTTPStatusError(HTTPError):
    """A response had an error status.

    Attributes
    ----------
    status
        The HTTP status code.
    body_excerpt
        The start of the response body (truncated, decoded leniently), for diagnosis.
    retry_after
        The wait in seconds the server asked for (``Retry-After``), if it asked.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        url: str | None = None,
        body_excerpt: str = "",
        page: int | None = None,
        batch: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.body_excerpt = body_excerpt
        self.retry_after = retry_after
        detail = f"{message} (status {status})"
        if body_excerpt:
            detail += f": {body_excerpt!r}"
        super().__init__(detail, url=url, page=page, batch=batch)


class ResponseRuleError(HTTPStatusError):
    """A rule of the response policy judged the response a failure: its action was
    ``fail``, or ``retry``, ``rate_limited`` or ``refresh_auth`` and that did not help.

    ``rule`` is the rule's name and ``action`` its action; the status may be a 2xx (a body
    that says ``{"status": "error"}``).
    """

    def __init__(self, message: str, *, rule: str, action: str, **details: Any) -> None:
        self.rule = rule
        self.action = action
        super().__init__(message, **details)


class AuthenticationError(HTTPStatusError):
    """Credentials were refused. ``error`` holds an OAuth2 error code when there is one."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        url: str | None = None,
        body_excerpt: str = "",
        error: str | None = None,
    ) -> None:
        self.error = error
        if error:
            message = f"{message} [{error}]"
        super().__init__(message, status=status, url=url, body_excerpt=body_excerpt)


class TokenResponseError(AuthenticationError):
    """A token endpoint answered 2xx with a body HiveFrame cannot use as a token."""


class ResponseTooLarge(HTTPError):
    """A response body passed a size cap.

    ``decompressed`` tells whether the cap on decompressed bytes (rather than on bytes on
    the wire) was the one passed.
    """

    def __init__(self, message: str, *, limit: int, decompressed: bool) -> None:
        self.limit = limit
        self.decompressed = decompressed
        super().__init__(message)


class BlockedDestinationError(HTTPError):
    """A server-supplied URL (redirect, next link) that the origin policy refuses."""


class TooManyRedirects(HTTPError):
    """More redirects than ``max_redirects`` in one request."""


class ResponseDecodeError(_RequestError):
    """A response body could not be turned into records.

    ``kind`` says why: ``"json"``, ``"depth"``, ``"number"``, ``"encoding"``, ``"shape"``,
    ``"csv"``, ``"format"`` or ``"parser"`` (a user parser raised). The reader adds the URL
    and the page it was decoding.
    """

    def __init__(
        self, message: str, *, kind: str, url: str | None = None, page: int | None = None
    ) -> None:
        self.kind = kind
        super().__init__(f"{message} [{kind}]", url=url, page=page)


class DataPathError(ResponseDecodeError):
    """``data_path`` does not match the document. ``available`` lists the keys that were there."""

    def __init__(self, data_path: str, *, missing: str, available: list[str]) -> None:
        self.data_path = data_path
        self.missing = missing
        self.available = available
        shown = ", ".join(repr(k) for k in available[:50]) or "none"
        super().__init__(
            f"data_path={data_path!r}: {missing!r} is not in the response; keys there: {shown}",
            kind="shape",
        )


class PaginationError(_RequestError):
    """Pagination cannot go on.

    ``url`` is the (redacted) URL of the page concerned and ``page`` its 0-based index in the
    read; the reader fills them in when the paginator could not.
    """


class PaginationLoopError(PaginationError):
    """A page points back to an earlier one: a cursor or next URL seen before, or the same
    records as the page before (an offset or page number the API ignores).

    ``repeated`` says what came back (the cursor or URL, redacted).
    """

    def __init__(self, repeated: str, *, page: int, url: str | None = None) -> None:
        self.repeated = repeated
        super().__init__(
            f"pagination loops back to an earlier page ({repeated}); stopping", url=url, page=page
        )


class PaginationLimitReached(PaginationError):
    """A read reached the default page cap while the API still had more pages.

    Only the default cap raises (``max_pages`` not given); a ``max_pages=N`` the user chose
    ends the read after N pages without an error. ``limit`` is the cap, ``page`` the first
    page not read.
    """

    def __init__(self, limit: int, *, url: str | None = None, page: int | None = None) -> None:
        self.limit = limit
        super().__init__(
            f"the read reached the default cap of {limit} pages and the API has more; pass "
            "max_pages=None to read them all, or max_pages=N to stop after N pages without "
            "an error",
            url=url,
            page=page,
        )


class SchemaDriftError(HiveFrameError):
    """A field changed type between pages in a way the schema policy does not accept."""

    def __init__(self, field: str, *, page: int | None, detail: str) -> None:
        self.field = field
        self.page = page
        where = f" on page {page}" if page is not None else ""
        super().__init__(f"field {field!r} changed type{where}: {detail}")


class ResilienceError(_RequestError):
    """A resilience policy stopped a call. The session adds the request's URL and page."""


class CircuitOpenError(ResilienceError):
    """The circuit breaker is open; the call was not made. ``retry_at`` is a monotonic time."""

    def __init__(self, name: str, *, retry_at: float, retry_in: float) -> None:
        self.name = name
        self.retry_at = retry_at
        self.retry_in = retry_in
        super().__init__(f"circuit {name!r} is open; calls fail fast for another {retry_in:.2f}s")


class RetryExhausted(ResilienceError):
    """Every allowed attempt failed. The last failure is chained as ``__cause__``.

    ``attempts`` is how many attempts were made, ``limit`` the limit that stopped them
    (``"max_attempts=5 reached"``, ``"max_reconnects=10 reached"``...).
    """

    def __init__(self, message: str, *, attempts: int, limit: str) -> None:
        self.attempts = attempts
        self.limit = limit
        super().__init__(f"{message}; gave up after {attempts} attempts ({limit})")


class RetryAfterTooLong(ResilienceError):
    """A server asked to wait longer than ``max_retry_after_seconds``; HiveFrame will not."""

    def __init__(self, *, seconds: float, limit: float) -> None:
        self.seconds = seconds
        self.limit = limit
        super().__init__(
            f"server asked to retry after {seconds:g}s, above max_retry_after_seconds={limit:g}"
        )


class RateLimitWaitTooLong(ResilienceError):
    """A request would wait longer than the rate limiter's ``max_wait_seconds`` for its slot
    (a server quota that resets in hours, a rate too slow for the requests queued);
    HiveFrame raises instead of sleeping. ``seconds`` is the wait, ``limit`` the cap."""

    def __init__(self, *, seconds: float, limit: float, why: str) -> None:
        self.seconds = seconds
        self.limit = limit
        super().__init__(
            f"the next request would wait {seconds:,.0f}s for the rate limit ({why}), above "
            f"max_wait_seconds={limit:g}: raise max_wait_seconds on the RateLimiter to wait"
        )


class SSEError(_RequestError):
    """A Server-Sent Events stream failed. The reader adds the stream's URL."""


class SSEProtocolError(SSEError):
    """The response is not an event stream (status other than 200, or wrong Content-Type)."""


class SSEEventTooLarge(SSEError):
    """One event grew past ``max_event_bytes`` before it was complete."""


class SSEStreamClosedByServer(SSEError):
    """The server told the client to stop (HTTP 204); no reconnection is made."""


class DeliveryFailed(HiveFrameError):
    """A sink could not deliver some records.

    Attributes
    ----------
    not_delivered
        How many records did not reach the server.
    batches
        Indices of the batches concerned.
    kept_at
        Where the undelivered records were kept (a dead-letter file), if anywhere.
    """

    def __init__(
        self,
        message: str,
        *,
        not_delivered: int,
        batches: list[int],
        kept_at: str | None = None,
    ) -> None:
        self.not_delivered = not_delivered
        self.batches = batches
        self.kept_at = kept_at
        where = f"; kept at {kept_at}" if kept_at else "; not kept anywhere"
        super().__init__(f"{message}: {not_delivered} records not delivered{where}")


class ChildReadError(HiveFrameError):
    """The read of one child of a parent/child source failed (``on_child_error="raise"``).

    ``parent`` holds the parent values the child was read for (``{"id": 7}``), ``url`` the
    child's URL (redacted); the failure itself is chained as ``__cause__``.
    """

    def __init__(self, message: str, *, parent: dict[str, Any], url: str | None) -> None:
        self.parent = parent
        self.url = url
        values = ", ".join(f"{name}={value!r}" for name, value in parent.items())
        super().__init__(f"child of parent {values} failed: {message}")


class MissingExtraError(HiveFrameError, ImportError):
    """A feature needs an optional extra that is not installed; the message says which.

    Raised where the feature is first imported (``hiveframe.connectors``,
    ``hiveframe.streaming``...), never by ``import hiveframe``. ``extra`` is the extra to
    install (``"http"``); ``name``, as for any ``ImportError``, the module that is missing.
    """

    def __init__(self, feature: str, *, extra: str, missing: str | None) -> None:
        self.extra = extra
        what = f"{missing} is not installed" if missing else "a dependency is not installed"
        super().__init__(
            f"{feature} requires the {extra!r} extra ({what}): pip install 'hiveframe[{extra}]'",
            name=missing,
        )


def _short_repr(value: Any) -> str:
    text = repr(value)
    if len(text) > _MAX_VALUE_REPR:
        return text[: _MAX_VALUE_REPR - 3] + "..."
    return text


def _where(url: str | None, page: int | None, batch: int | None = None) -> str:
    """`` | url=... | page=... | batch=...`` for the parts that are known."""
    suffix = f" | url={url}" if url is not None else ""
    suffix += f" | page={page}" if page is not None else ""
    return suffix + (f" | batch={batch}" if batch is not None else "")


class HiveFrameWarning(UserWarning):
    """Base class of every warning HiveFrame emits."""


class InsecureTLSWarning(HiveFrameWarning):
    """``verify=False``: the server's certificate is not checked. Emitted once per client."""


class PaginationWarning(HiveFrameWarning):
    """A read ended on an empty page before the total the API reported.

    ``url`` (redacted) and ``page`` name the empty page.
    """

    def __init__(self, message: str, *, url: str | None = None, page: int | None = None) -> None:
        self.url = url
        self.page = page
        super().__init__(message + _where(url, page))


class IncrementalWarning(HiveFrameWarning):
    """An incremental read got records older than the cursor it sent: the API seems to
    ignore the cursor parameter (or body field). HiveFrame dropped those records."""
