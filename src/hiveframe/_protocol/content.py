"""Response bodies under caps: bytes on the wire and bytes after decompression.

HiveFrame reads the raw body and decodes it here, asking each decoder for at most
:data:`PIECE_BYTES` at a time (``max_length`` for zlib and zstd, ``output_buffer_limit`` for
brotli) and passing each piece on before asking for the next: a small bomb can never inflate
past the cap plus one piece, whatever the coding, and a chain of two codings holds one piece
per stage.

gzip and deflate use zlib. ``br`` needs the ``brotli`` package, 1.2 or later (the first whose
decoder bounds its output); ``zstd`` needs ``compression.zstd`` (Python 3.14) or the
``backports.zstd`` package. The ``http`` extra installs both; ``Accept-Encoding`` lists only
the codings this module can decode.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable, Iterator
from functools import cache, partial
from importlib import import_module
from importlib.util import find_spec
from types import ModuleType
from typing import Any, Protocol

from hiveframe.errors import HTTPError, ResponseTooLarge

MAX_ENCODINGS = 2  # a longer Content-Encoding chain is an attack, not an API (GHSA-gm62)
PIECE_BYTES = 64 * 1024
ZSTD_WINDOW_LOG_MAX = 23  # RFC 9659: the zstd content coding uses windows of 8 MiB at most


class UnsupportedEncoding(HTTPError):
    """A Content-Encoding HiveFrame did not ask for and cannot decode."""


class _Decoder(Protocol):
    def decompress(self, data: bytes, max_length: int) -> bytes:
        """Take ``data`` and return at most ``max_length`` decoded bytes.

        Called again with ``b""`` while it returns bytes, before any new data is given;
        ``b""`` means it needs more input.
        """


class _Zlib:
    def __init__(self, coding: str, wbits: int) -> None:
        self._coding = coding
        self._inflate = zlib.decompressobj(wbits)

    def decompress(self, data: bytes, max_length: int) -> bytes:
        try:
            return self._inflate.decompress(self._inflate.unconsumed_tail + data, max_length)
        except zlib.error as exc:
            raise _not_valid(self._coding, exc) from exc


def _load_brotli() -> ModuleType | None:
    try:
        import brotli
    except ImportError:
        return None
    # Before 1.2 the decoder returns all it can at once: a bomb would inflate in one call.
    return brotli if hasattr(brotli.Decompressor, "can_accept_more_data") else None


_ZSTD_MODULE = "compression.zstd" if sys.version_info >= (3, 14) else "backports.zstd"


def _zstd_installed() -> bool:
    # Found without importing it (5 ms a process): loaded with the first zstd body.
    try:
        return find_spec(_ZSTD_MODULE) is not None
    except ImportError:
        return False


@cache
def _zstd_module() -> ModuleType:
    return import_module(_ZSTD_MODULE)


class _Brotli:
    def __init__(self, brotli: ModuleType) -> None:
        self._error: type[Exception] = brotli.error
        self._decoder = brotli.Decompressor()

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if not data and self._decoder.is_finished():
            return b""
        try:
            out: bytes = self._decoder.process(data, output_buffer_limit=max_length)
        except self._error as exc:
            raise _not_valid("br", exc) from exc
        return out


class _Zstd:
    def __init__(self) -> None:
        self._zstd = _zstd_module()
        self._decoder = self._new()

    def _new(self) -> Any:
        options = {self._zstd.DecompressionParameter.window_log_max: ZSTD_WINDOW_LOG_MAX}
        return self._zstd.ZstdDecompressor(options=options)

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._decoder.eof:  # a body may hold several frames, one after the other
            data = self._decoder.unused_data + data
            if not data:
                return b""
            self._decoder = self._new()
        try:
            out: bytes = self._decoder.decompress(data, max_length)
        except self._zstd.ZstdError as exc:
            raise _not_valid("zstd", exc) from exc
        return out


_DECODERS: dict[str, Callable[[], _Decoder]] = {
    "gzip": partial(_Zlib, "gzip", zlib.MAX_WBITS | 16),
    "x-gzip": partial(_Zlib, "gzip", zlib.MAX_WBITS | 16),
    # Servers send both zlib-wrapped and raw deflate; 32 + MAX_WBITS detects the header.
    "deflate": partial(_Zlib, "deflate", zlib.MAX_WBITS | 32),
}
_brotli = _load_brotli()
if _brotli is not None:
    _DECODERS["br"] = partial(_Brotli, _brotli)
if _zstd_installed():
    _DECODERS["zstd"] = _Zstd

EVENT_STREAM = "text/event-stream"

ACCEPT_ENCODING = ", ".join(c for c in ("gzip", "deflate", "br", "zstd") if c in _DECODERS)
"""What requests send as ``Accept-Encoding``: the codings installed here, nothing else."""

_PACKAGES = {"br": "brotli>=1.2", "zstd": "backports.zstd"}


def is_event_stream(content_type: str | None) -> bool:
    """Whether a Content-Type is ``text/event-stream`` (parameters and case ignored).

    Examples
    --------
    >>> is_event_stream("text/event-stream; charset=utf-8"), is_event_stream("text/plain")
    (True, False)
    """
    return (content_type or "").split(";", 1)[0].strip().lower() == EVENT_STREAM


def _not_valid(coding: str, exc: Exception) -> HTTPError:
    return HTTPError(f"response body is not valid {coding} data: {exc}")


def _decoder(coding: str) -> _Decoder:
    make = _DECODERS.get(coding)
    if make is None:
        hint = ""
        if coding in _PACKAGES:
            hint = f" (it needs {_PACKAGES[coding]}: pip install 'hiveframe[http]')"
        raise UnsupportedEncoding(f"unsupported Content-Encoding {coding!r}{hint}")
    return make()


def parse_encodings(header: str | None) -> list[str]:
    """The codings of a Content-Encoding header, in the order they were applied."""
    if not header:
        return []
    codings = [c.strip().lower() for c in header.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if len(codings) > MAX_ENCODINGS:
        raise UnsupportedEncoding(f"Content-Encoding chain of {len(codings)} codings refused")
    return codings


class ContentDecoder:
    """Undoes the codings of a Content-Encoding header, handing decoded bytes out in pieces.

    A stage is asked for its next piece only once the stages after it have passed the last
    one on, so memory holds one piece per stage: :data:`PIECE_BYTES` for zlib and zstd, about
    that for brotli (its limit stops the growth of its buffer, not the buffer exactly).

    Raises
    ------
    UnsupportedEncoding
        A coding that cannot be decoded here, or a chain longer than :data:`MAX_ENCODINGS`.
    """

    def __init__(self, content_encoding: str | None) -> None:
        # Decoding runs in reverse order of application: the last coding applied comes off first.
        self._stages = [_decoder(c) for c in reversed(parse_encodings(content_encoding))]

    @property
    def identity(self) -> bool:
        """Whether the body is not encoded at all."""
        return not self._stages

    def decode(self, data: bytes) -> Iterator[bytes]:
        """The decoded bytes of the next raw chunk ``data``, piece by piece.

        Raises
        ------
        HTTPError
            The body is not valid data in its coding.
        """
        return self._through(data, 0)

    def _through(self, data: bytes, depth: int) -> Iterator[bytes]:
        if depth == len(self._stages):
            if data:
                yield data
            return
        stage = self._stages[depth]
        out = stage.decompress(data, PIECE_BYTES)
        while out:
            yield from self._through(out, depth + 1)
            out = stage.decompress(b"", PIECE_BYTES)


class BodyReader:
    """Accumulates a body from raw chunks, decoding and enforcing both caps.

    Parameters
    ----------
    content_encoding
        The response's Content-Encoding header.
    max_body_bytes
        Cap on bytes on the wire.
    max_decompressed_bytes
        Cap on bytes after decoding: a body of exactly this many bytes passes.
    """

    def __init__(
        self, content_encoding: str | None, *, max_body_bytes: int, max_decompressed_bytes: int
    ) -> None:
        self._decoder = ContentDecoder(content_encoding)
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
        for piece in self._decoder.decode(raw):
            self._emit(piece)

    def finish(self) -> bytes:
        return b"".join(self._parts)

    def _emit(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._max_out:
            raise ResponseTooLarge(
                f"decoded response body passed max_decompressed_bytes={self._max_out}",
                limit=self._max_out,
                decompressed=not self._decoder.identity,
            )
        self._parts.append(data)
