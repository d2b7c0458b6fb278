"""A response read as it arrives (event streams), decoded without ever holding the whole body.

:meth:`Session.stream <hiveframe._http.session.Session.stream>` opens it. The body has no
overall size cap, since a stream may run for days; what bounds memory is that content
decoding hands out at most :data:`PIECE_BYTES` at a time (zlib's ``max_length`` with the rest
kept in ``unconsumed_tail``, as :mod:`hiveframe._protocol.content` does for whole bodies), and
that the consumer (the SSE decoder) caps each event. The transport's read timeout bounds each
wait for bytes: a silent connection raises :class:`~hiveframe.errors.TimeoutError`.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from dataclasses import dataclass

from multidict import CIMultiDictProxy

from hiveframe._protocol.content import _decompressor, parse_encodings
from hiveframe.errors import HTTPError

PIECE_BYTES = 64 * 1024


@dataclass(frozen=True)
class StreamedResponse:
    """An open response whose body is read chunk by chunk.

    Attributes
    ----------
    status
        The HTTP status (after redirects).
    headers
        Case-insensitive response headers.
    url
        The URL that answered.
    chunks
        The decoded body as it arrives; raises :class:`~hiveframe.errors.TransportError`
        subclasses when the connection fails or stays silent past the idle timeout.
    """

    status: int
    headers: CIMultiDictProxy[str]
    url: str
    chunks: AsyncIterator[bytes]


async def decoded_chunks(
    raw: AsyncIterator[bytes], content_encoding: str | None
) -> AsyncGenerator[bytes, None]:
    """Decode ``raw`` wire chunks per ``content_encoding``, in pieces of bounded size.

    Raises
    ------
    HTTPError
        The body is not valid compressed data (or the encoding is not supported).
    """
    stages = [_decompressor(c) for c in reversed(parse_encodings(content_encoding))]
    async for chunk in raw:
        for piece in _inflate(stages, chunk, 0):
            yield piece
    for depth, stage in enumerate(stages):
        for piece in _inflate(stages, stage.flush(), depth + 1):
            yield piece


def _inflate(stages: list[zlib._Decompress], data: bytes, depth: int) -> Iterator[bytes]:
    if depth == len(stages):
        if data:
            yield data
        return
    stage = stages[depth]
    while data:
        try:
            out = stage.decompress(data, PIECE_BYTES)
        except zlib.error as exc:
            raise HTTPError(f"stream body is not valid compressed data: {exc}") from exc
        yield from _inflate(stages, out, depth + 1)
        data = stage.unconsumed_tail
        if not out and not data:
            break
