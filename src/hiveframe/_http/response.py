"""What a custom ``parser`` receives: one HTTP response, fully read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from hiveframe._secrets import redact_url


@dataclass(frozen=True)
class Response:
    """One HTTP response, fully read: what a custom ``parser`` receives.

    Attributes
    ----------
    status_code
        The HTTP status.
    headers
        Case-insensitive response headers.
    content
        The decoded body (decompressed, within the size caps).
    url
        The URL that answered (after redirects).
    action
        ``"success"`` or ``"ignore"`` when a rule of the response policy accepted the
        response, ``None`` when the built-in behaviour did.
    fetched_at
        When the response arrived (Unix time; 0 when not known).
    """

    status_code: int
    headers: CIMultiDictProxy[str]
    content: bytes
    url: str
    elapsed_seconds: float = 0.0
    action: str | None = None
    fetched_at: float = 0.0

    @property
    def text(self) -> str:
        """The body as text, in the charset the Content-Type names (UTF-8 otherwise)."""
        charset = _charset(self.headers.get("content-type", "")) or "utf-8"
        try:
            return self.content.decode(charset, "replace")
        except LookupError:  # a charset Python does not know
            return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return orjson.loads(self.content)

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}] {redact_url(self.url)}>"


def _charset(content_type: str) -> str | None:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.strip().lower() == "charset" and value:
            return value.strip().strip('"')
    return None


def joined_headers(headers: Mapping[str, str]) -> CIMultiDictProxy[str]:
    """Case-insensitive headers with repeated fields joined by ", " (RFC 9110 5.3)."""
    multi = (
        headers if isinstance(headers, CIMultiDictProxy) else CIMultiDictProxy(CIMultiDict(headers))
    )
    joined: CIMultiDict[str] = CIMultiDict()
    for name in multi:
        if name not in joined:
            joined[name] = ", ".join(multi.getall(name))
    return CIMultiDictProxy(joined)
