"""Which URLs credentials may travel to, and how a redirect changes a request.

Credentials belong to the origin the user configured (scheme, host, port; RFC 6454). Every hop
(a redirect, a next link) is checked against it: on another origin no credential is sent, and
an https -> http downgrade never carries one (CVE-2018-18074). The one exception is the
same-host upgrade from http to https on default ports, as requests and httpx allow.
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple
from urllib.parse import urljoin, urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class Origin(NamedTuple):
    scheme: str
    host: str
    port: int | None


def origin_of(url: str) -> Origin:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return Origin(scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme))


def credentials_may_follow(credential_url: str, target_url: str) -> bool:
    """Whether credentials configured for ``credential_url`` may be sent to ``target_url``."""
    home, target = origin_of(credential_url), origin_of(target_url)
    if home == target:
        return True
    return (
        home.host == target.host
        and (home.scheme, target.scheme) == ("http", "https")
        and home.port == 80
        and target.port == 443
    )


def redirect_target(current_url: str, location: str) -> str:
    """The absolute URL a ``Location`` header points to."""
    return urljoin(current_url, location.strip())


def redirect_method(status: int, method: str) -> tuple[str, bool]:
    """The method of the redirected request and whether its body is kept (RFC 9110 15.4)."""
    if status == 303 and method != "HEAD":
        return "GET", False
    if status in (301, 302) and method == "POST":
        return "GET", False
    return method, True


def is_public_address(address: str) -> bool:
    """Whether an IP address is on the public internet (not loopback, private, link-local,
    multicast, reserved or unspecified: the addresses server-side request forgery aims at,
    such as a cloud metadata service on 169.254.169.254)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    mapped = getattr(ip, "ipv4_mapped", None)
    return bool((mapped or ip).is_global)
