"""Which proxy each request goes through: the ``proxy=`` option, or the environment.

HiveFrame follows redirects itself, so the proxy is chosen here for each request's URL (a
redirect to another host may be one ``NO_PROXY`` bypasses), not by aiohttp's ``trust_env``,
which would also send passwords from ``~/.netrc`` to any host it names.

The environment is read when a session opens: ``HTTP_PROXY``, ``HTTPS_PROXY`` and
``NO_PROXY``, lower-case names first, as the standard library (and curl) read them. Only
the variables count, not the system settings of macOS or Windows. A proxy is an
``http://`` URL, optionally with credentials (``http://user:pass@proxy:3128``), which go
to the proxy alone as ``Proxy-Authorization``; HTTPS requests tunnel through it with
``CONNECT``.
"""

from __future__ import annotations

import base64
import ipaddress
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Union
from urllib.parse import unquote, urlsplit

from hiveframe._secrets import redact_url
from hiveframe._validate import NOT_GIVEN, _NotGiven
from hiveframe.errors import ConfigError

__all__ = ["ProxyOption", "Proxies", "check_proxy", "proxy_repr"]

ProxyOption = Union[str, None, _NotGiven]  # noqa: UP007 (a runtime alias: Python 3.10)
"""``proxy=``: not given (the environment), a proxy URL, or ``None`` (no proxy)."""

_SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def check_proxy(value: object) -> ProxyOption:
    """The ``proxy=`` option, checked: a URL gets ``http://`` if it has no scheme."""
    if value is NOT_GIVEN or value is None:
        return value
    if not isinstance(value, str):
        raise ConfigError("proxy", value, "a proxy URL such as 'http://proxy.internal:3128'")
    return _proxy_url("proxy", value)


def proxy_repr(option: ProxyOption) -> list[str]:
    """``proxy=...`` for a source's or sink's ``repr``, credentials masked; nothing when it
    was not given.

    >>> proxy_repr("http://me:pw@proxy:3128"), proxy_repr(None), proxy_repr(NOT_GIVEN)
    (["proxy='http://***@proxy:3128'"], ['proxy=None'], [])
    """
    if option is NOT_GIVEN:
        return []
    return [f"proxy={redact_url(option) if option is not None else None!r}"]


def _proxy_url(option: str, text: str) -> str:
    url = text.strip()
    if "://" not in url:
        url = f"http://{url}"  # "proxy:3128", as curl and requests take it
    try:
        parts = urlsplit(url)
        valid = parts.scheme.lower() == "http" and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a port that is not a number
        valid = False
    if not valid:
        reason = "an http:// proxy URL with a host (HTTPS requests tunnel through it)"
        raise ConfigError(option, redact_url(text), reason)
    return url


@dataclass(frozen=True)
class Proxies:
    """The proxies of one session: one per URL scheme, and the hosts that bypass them.

    >>> proxies = Proxies({"https": "http://proxy:3128"}, no_proxy="internal.example")
    >>> proxies.proxy_for("https://api.example.com/data")
    'http://proxy:3128'
    >>> proxies.proxy_for("https://db.internal.example/"), proxies.proxy_for("http://a.b/")
    (None, None)
    """

    by_scheme: Mapping[str, str] = field(default_factory=dict)
    no_proxy: str | None = None

    @classmethod
    def from_option(cls, option: ProxyOption) -> Proxies:
        """The proxies ``proxy=`` asks for, reading the environment when it was not given."""
        if option is None:
            return cls()
        if isinstance(option, str):
            return cls(dict.fromkeys(_SCHEMES, option))
        found = environment_proxies()
        by_scheme = {
            scheme: _proxy_url(f"{scheme}_proxy", found[scheme])
            for scheme in _SCHEMES
            if found.get(scheme)
        }
        return cls(by_scheme, found.get("no") if by_scheme else None)

    def proxy_for(self, url: str) -> str | None:
        """The proxy URL (credentials included) to send a request for ``url`` through."""
        if not self.by_scheme:
            return None
        parts = urlsplit(url)
        proxy = self.by_scheme.get(parts.scheme.lower())
        if proxy is None or not self.no_proxy:
            return proxy
        port = parts.port or _DEFAULT_PORTS[parts.scheme.lower()]
        return None if bypasses(parts.hostname or "", port, self.no_proxy) else proxy

    def secrets(self) -> Iterator[str]:
        """The credentials the proxies carry: each password, and the ``Proxy-Authorization``
        value built from it, so that neither can show in an error or a log."""
        for proxy in set(self.by_scheme.values()):
            parts = urlsplit(proxy)
            if parts.password is not None:
                user, password = unquote(parts.username or ""), unquote(parts.password)
                yield password
                yield base64.b64encode(f"{user}:{password}".encode()).decode()

    def describe(self) -> str:
        """The proxies, credentials masked, for a log line."""
        shown = [f"{scheme}: {redact_url(url)}" for scheme, url in sorted(self.by_scheme.items())]
        if self.no_proxy:
            shown.append(f"no_proxy: {self.no_proxy}")
        return ", ".join(shown)


def environment_proxies() -> dict[str, str]:
    """The ``*_proxy`` variables by scheme (``{"https": ..., "no": ...}``), read as
    ``urllib.request.getproxies_environment`` reads them, without importing urllib.request
    (and http.client and email with it) for every read: any case counts, a lower-case name
    wins and an empty one unsets; under CGI (``REQUEST_METHOD`` set) only the lower-case
    ``http_proxy``, since a client's ``Proxy:`` header sets ``HTTP_PROXY`` (CVE-2016-1000110).
    """
    found: dict[str, str] = {}
    for name, value in os.environ.items():
        if value and name.lower().endswith("_proxy"):
            found[name.lower()[:-6]] = value
    if "REQUEST_METHOD" in os.environ:
        found.pop("http", None)
    for name, value in os.environ.items():
        if name.endswith("_proxy"):
            if value:
                found[name.lower()[:-6]] = value
            else:
                found.pop(name.lower()[:-6], None)
    return found


def bypasses(host: str, port: int, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` exempts ``host``: ``*``, the host itself or a domain above it
    (``example.com`` and ``.example.com`` both cover ``api.example.com``), ``host:port``, or
    a network holding its address (``10.0.0.0/8``).

    >>> [bypasses(h, 443, "example.com, 10.0.0.0/8") for h in ("api.example.com", "10.1.2.3")]
    [True, True]
    >>> bypasses("notexample.com", 443, "example.com"), bypasses("a.b", 80, "a.b:8080")
    (False, False)
    """
    host = host.lower().rstrip(".")
    for item in no_proxy.split(","):
        entry = item.strip().lower()
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if _has_port(entry) else (entry, "", "")
        name = name.strip("[]").lstrip(".").rstrip(".")
        if not name or (entry_port and entry_port != str(port)):
            continue
        if host == name or host.endswith(f".{name}") or _in_network(host, name):
            return True
    return False


def _has_port(entry: str) -> bool:
    # "host:port" or "[v6]:port"; a bare IPv6 address has colons but no port
    head, colon, tail = entry.rpartition(":")
    return bool(colon) and tail.isdigit() and (head.count(":") == 0 or head.endswith("]"))


def _in_network(host: str, network: str) -> bool:
    if "/" not in network:
        return False
    try:
        return ipaddress.ip_address(host.strip("[]")) in ipaddress.ip_network(network, strict=False)
    except ValueError:  # not an address, or not a network
        return False
