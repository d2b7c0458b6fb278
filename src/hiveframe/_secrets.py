"""Secrets as a type, the names that carry credentials, and keeping secrets out of sight.

Two defences cover every URL, log line, error and dead-letter record HiveFrame produces:

* by **name**: header and query-parameter names that carry credentials
  (:func:`is_secret_name`) have their values shown as ``***`` (:func:`redact_url`) and are
  never sent to another origin;
* by **value**: :class:`SecretValues` holds every secret a source or sink knows (auth values,
  tokens as they are fetched, secret headers and parameters) and removes them from any text,
  such as a server's error body that echoes the request back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit, urlunsplit

import orjson

REDACTED = "***"

# Shorter values are masked by name only: as text they would match ordinary words.
MIN_SECRET_CHARS = 4
# What a query value may hold unencoded, as the HTTP client (yarl) writes it.
_QUERY_SAFE = "/?:@!$'()*,"

# Names are compared lower-cased without "-", "_", "." and spaces, so "API-Key", "api_key"
# and "apiKey" are all "apikey". Users add their own names through the source/sink options.
_IGNORED = str.maketrans("", "", "-_. ")
_SECRET_NAME = re.compile(
    # whole names
    r"key|sig|code|auth|xauth|authcode|appid|jwt|pass|pwd|otp|authorization|proxyauthorization"
    r"|cookie|setcookie"
    # name endings
    r"|.*(appkey|accesskey|secretkey|privatekey|authkey|clientkey|consumerkey|subscriptionkey"
    r"|developerkey|devkey|userkey|licensekey|masterkey|signingkey|functionskey)"
    # parts of names
    r"|.*(apikey|token|secret|password|passwd|passphrase|signature|session|credential"
    r"|assertion).*"
)
# Pagination cursors that merely contain "token": shown, and kept on redirects.
_CURSOR_NAME = re.compile(r".*(pagetoken|nexttoken|continuationtoken|resumptiontoken|synctoken)")
_KNOWN_NAMES = 1024  # answers a SecretNames remembers (names chosen by servers are unbounded)


def _normal(name: str) -> str:
    return name.lower().translate(_IGNORED)


def _is_default_secret(normal: str) -> bool:
    return bool(_SECRET_NAME.fullmatch(normal)) and not _CURSOR_NAME.fullmatch(normal)


class SecretNames:
    """Header or query-parameter names that carry credentials: the defaults and ``extra``.

    >>> names = SecretNames(["X-Tenant"])
    >>> [n in names for n in ("key", "API-Key", "x_tenant", "pageToken", "client_id")]
    [True, True, True, False, False]
    """

    __slots__ = ("_extra", "_known")

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self._extra = frozenset(_normal(name) for name in extra)
        self._known: dict[str, bool] = {}  # the answers so far: asked once per request field

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        known = self._known.get(name)
        if known is None:
            normal = _normal(name)
            known = _is_default_secret(normal) or normal in self._extra
            if len(self._known) < _KNOWN_NAMES:
                self._known[name] = known
        return known


class Secret:
    """A string that never shows itself in ``repr``, ``str`` or f-strings.

    ``reveal()`` is the one way to read it, used where it goes on the wire.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        # Pickling keeps the value (Spark ships configs to executors); repr never does.
        return (Secret, (self._value,))


def is_secret_name(name: str, extra: Iterable[str] = ()) -> bool:
    """Whether a header or query-parameter name carries a credential."""
    return name in SecretNames(extra)


def redact_url(url: str, secret_params: Iterable[str] | SecretNames = ()) -> str:
    """The URL with user-info and credential query parameters replaced by ``***``.

    Only the values of credential parameters change; the rest of the URL is kept as it was.

    >>> redact_url("https://u:p@api.example/v1?key=abc&q=x%20y#access_token=t")
    'https://***@api.example/v1?key=***&q=x%20y#access_token=***'
    """
    names = secret_params if isinstance(secret_params, SecretNames) else SecretNames(secret_params)
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    if not parts.netloc:
        # No "scheme://": "user:pass@host/..." parses as a scheme and a path. Mask it anyway.
        head, at, rest = url.partition("@")
        if at and "/" not in head:
            return redact_url(f"//{REDACTED}@{rest}", names)[2:]
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    query = _redact_query(parts.query, names)
    fragment = _redact_query(parts.fragment, names)  # "#access_token=..." (implicit grant)
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def drop_query_params(url: str, names: SecretNames, values: SecretValues) -> str:
    """The URL without the query parameters that carry a credential: a secret name, or a
    known secret as the value (a server may echo one under another name)."""
    parts = urlsplit(url)
    kept = [
        piece
        for piece, name, raw in _query_pieces(parts.query)
        # "+" is a space in a form-encoded value, a plus in a percent-encoded one
        if not (name in names or values.holds(unquote_plus(raw)) or values.holds(unquote(raw)))
    ]
    return urlunsplit(parts._replace(query="&".join(kept)))


def _query_pieces(query: str) -> Iterator[tuple[str, str, str]]:
    # (piece as written, its decoded name, its value as written) of each "&"-separated piece
    for piece in query.split("&") if query else ():
        name, _, value = piece.partition("=")
        yield piece, unquote_plus(name), value


def _redact_query(query: str, names: SecretNames) -> str:
    if "=" not in query:
        return query
    return "&".join(
        f"{piece.partition('=')[0]}={REDACTED}" if "=" in piece and name in names else piece
        for piece, name, _ in _query_pieces(query)
    )


class SecretValues:
    """Every secret a source or sink knows, removed from text before anyone sees it.

    Each value is also recognised URL-encoded (in a path, a query or a form), JSON-escaped
    and Python-escaped (as ``repr`` shows it). Values shorter than :data:`MIN_SECRET_CHARS` are
    not recognised in text: they are masked by name only.

    >>> secrets = SecretValues(["s3cr3t-value"])
    >>> secrets.scrub("echo: Bearer s3cr3t-value, s3cr3t%2Dvalue")
    'echo: Bearer ***, s3cr3t%2Dvalue'
    >>> secrets.scrub("cut off at: s3cr3t-v", cut=True)
    'cut off at: ***'
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._forms: list[str] = []  # longest first, so a value inside another goes last
        for value in values:
            self.add(value)

    def add(self, value: str) -> None:
        """Know ``value`` as a secret from now on."""
        if len(value) < MIN_SECRET_CHARS or value in self._values:
            return
        self._values.add(value)
        forms = {
            value,
            quote(value, safe=""),
            quote(value),  # in a path
            quote_plus(value),
            quote_plus(value, safe=_QUERY_SAFE),  # in a query, as HiveFrame sends it
            orjson.dumps(value).decode()[1:-1],
            repr(value)[1:-1],
        }
        self._forms = sorted(set(self._forms) | forms, key=len, reverse=True)

    def add_header(self, name: str, value: str) -> None:
        """Know the value of a credential header: whole, after its auth scheme ("Bearer
        <token>"), and each cookie of a ``Cookie`` header."""
        self.add(value)
        if _normal(name) == "cookie":
            for pair in value.split(";"):
                self.add(pair.partition("=")[2].strip())
        else:
            self.add(value.strip().partition(" ")[2].strip())

    def add_url(self, url: str, names: SecretNames) -> None:
        """Know the credentials written in a URL: its password and secret query values."""
        parts = urlsplit(url)
        if parts.password:
            self.add(unquote(parts.password))
        for _, name, value in _query_pieces(parts.query):
            if name in names:
                self.add(unquote_plus(value))

    def holds(self, value: str) -> bool:
        """Whether ``value`` is one of the secrets, exactly."""
        return value in self._values

    def scrub(self, text: str, *, cut: bool = False) -> str:
        """``text`` with every secret replaced by ``***``.

        ``cut=True`` says the text is the start of a longer one: a secret that begins in its
        last characters is masked too.
        """
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        if cut:
            for form in self._forms:
                for size in range(len(form) - 1, MIN_SECRET_CHARS - 1, -1):
                    if text.endswith(form[:size]):
                        return text[:-size] + REDACTED
        return text

    def scrub_error(self, error: BaseException) -> None:
        """Remove every secret from ``error`` and the errors chained to it, in place.

        Messages and string attributes (``url``, ``body_excerpt``...) are scrubbed; a chained
        error whose text still shows a secret (its ``str`` is built from something else) is
        cut from the chain.
        """
        if self._forms:
            self._scrub_chain(error, {id(error)})

    def _scrub_chain(self, error: BaseException, seen: set[int]) -> None:
        error.args = tuple(self.scrub(a) if isinstance(a, str) else a for a in error.args)
        for name, value in list(getattr(error, "__dict__", {}).items()):
            if isinstance(value, str):
                setattr(error, name, self.scrub(value))
        for link in ("__cause__", "__context__"):
            linked = getattr(error, link)
            if linked is None or id(linked) in seen:
                continue
            seen.add(id(linked))
            self._scrub_chain(linked, seen)
            if self._shows(linked):
                setattr(error, link, None)

    def _shows(self, error: BaseException) -> bool:
        try:
            shown = f"{error} {error!r}"
        except Exception:  # a broken __str__ shows nothing, secrets included
            return False
        return any(form in shown for form in self._forms)
