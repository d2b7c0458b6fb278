"""A response read as it arrives (event streams), decoded without ever holding the whole body.

:meth:`Session.stream <hiveframe._http.session.Session.stream>` opens it. The body has no
overall size cap, since a stream may run for days; what bounds memory is that content
decoding hands out one bounded piece at a time (``ContentDecoder`` in
:mod:`hiveframe._protocol.content`, as for whole bodies), and that the consumer (the SSE
decoder) caps each event. The transport's read timeout bounds each wait for bytes: a silent
connection raises :class:`~hiveframe.errors.TimeoutException`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

from multidict import CIMultiDictProxy

from hiveframe._protocol.content import ContentDecoder


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
    decoder = ContentDecoder(content_encoding)
    async for chunk in raw:
        for piece in decoder.decode(chunk):
            yield piece
