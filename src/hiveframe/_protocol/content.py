"""Response bodies under caps: bytes on the wire and bytes after decompression.

httpx decompresses without a size bound, so HiveFrame reads the raw body and decodes it here,
asking zlib for at most what the cap still allows (``max_length``) and keeping the rest in
``unconsumed_tail``: a small gzip bomb can never inflate past the cap plus one chunk.
"""

from __future__ import annotations

import zlib

from hiveframe.errors import HTTPError, ResponseTooLarge

ACCEPT_ENCODING = "gzip, deflate"
MAX_ENCODINGS = 2  # a longer Content-Encoding chain is an attack, not an API (GHSA-gm62)
_CHUNK = 64 * 1024


class UnsupportedEncoding(HTTPError):
    """A Content-Encoding HiveFrame did not ask for and cannot decode."""


def _decompressor(coding: str) -> zlib._Decompress:
    if coding in ("gzip", "x-gzip"):
        return zlib.decompressobj(zlib.MAX_WBITS | 16)
    if coding == "deflate":
        # Servers send both zlib-wrapped and raw deflate; 32 + MAX_WBITS detects the header.
        return zlib.decompressobj(zlib.MAX_WBITS | 32)
    raise UnsupportedEncoding(f"unsupported Content-Encoding {coding!r}")


def parse_encodings(header: str | None) -> list[str]:
    """The codings of a Content-Encoding header, in the order they were applied."""
    if not header:
        return []
    codings = [c.strip().lower() for c in header.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if len(codings) > MAX_ENCODINGS:
        raise UnsupportedEncoding(f"Content-Encoding chain of {len(codings)} codings refused")
    return codings


class BodyReader:
    """Accumulates a body from raw chunks, decoding and enforcing both caps.

    Parameters
    ----------
    content_encoding
        The response's Content-Encoding header.
    max_body_bytes
        Cap on bytes on the wire.
    max_decompressed_bytes
        Cap on bytes after decoding.
    """

    def __init__(
        self, content_encoding: str | None, *, max_body_bytes: int, max_decompressed_bytes: int
    ) -> None:
        # Decoding runs in reverse order of application: the last coding applied comes off first.
        self._stages = [_decompressor(c) for c in reversed(parse_encodings(content_encoding))]
        self._max_wire = max_body_bytes
        self._max_out = max_decompressed_bytes
        self._wire = 0
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, raw: bytes) -> None:
        self._wire += len(raw)
        if self._wire > self._max_wire:
            raise ResponseTooLarge(
                f"response body passed max_body_bytes={self._max_wire}",
                limit=self._max_wire,
                decompressed=False,
            )
        self._push(raw, 0)

    def finish(self) -> bytes:
        for depth, stage in enumerate(self._stages):
            tail = stage.flush()
            if tail:
                self._push(tail, depth + 1)
        return b"".join(self._parts)

    def _push(self, data: bytes, depth: int) -> None:
        if depth == len(self._stages):
            self._emit(data)
            return
        stage = self._stages[depth]
        while data:
            room = self._max_out - self._size + 1
            try:
                out = stage.decompress(data, max(1, min(room, _CHUNK)))
            except zlib.error as exc:
                raise HTTPError(f"response body is not valid compressed data: {exc}") from exc
            if out:
                self._push(out, depth + 1)
            data = stage.unconsumed_tail
            if not out and not data:
                break

    def _emit(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._max_out:
            raise ResponseTooLarge(
                f"decoded response body passed max_decompressed_bytes={self._max_out}",
                limit=self._max_out,
                decompressed=bool(self._stages),
            )
        self._parts.append(data)
