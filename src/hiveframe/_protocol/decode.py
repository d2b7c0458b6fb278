"""Response decoding: one response body in, records (or an Arrow table) out. Sans-I/O.

Formats
-------
``json``
    One document, parsed with orjson. ``data_path`` says where the records are; without
    it a top-level array is the records, a top-level object is one record and ``null`` is
    no records. Nothing is guessed from envelope keys (explicit beats magic).
``jsonl`` (alias ``ndjson``)
    One JSON value per non-blank line (``\\n`` or ``\\r\\n``); each value is one record.
    A ``data_path`` is applied to each line's value and the results are concatenated.
``csv``
    Read by ``pyarrow.csv`` straight into :attr:`DecodedPage.table`; types are inferred
    per response, so pages of one read may differ (the assembler reconciles them).

Hazards and what happens (RELIABILITY.md section 6.6, test G.38)
----------------------------------------------------------------
* Nesting: orjson refuses documents deeper than :data:`JSON_MAX_DEPTH` (1024) without
  recursing in Python, so there is no ``RecursionError``; it becomes ``kind="depth"``.
* Numbers: orjson silently turns integers outside ``[-2**63, 2**64)`` into floats, losing
  digits. A body holding a run of 20+ digits (or ``-`` and 19) is therefore parsed a second
  time with the stdlib ``json`` module, which keeps such integers exact. orjson has checked
  the body first (syntax, UTF-8, depth), so the fallback only sees valid JSON. Numbers too
  large for a double (a 5,000-digit integer, ``1e400``) raise ``kind="number"``.
* Bytes: invalid UTF-8 raises ``kind="encoding"`` at the first bad byte. A UTF-8 byte order
  mark is skipped (RFC 8259 section 8.1 allows parsers to ignore it).
* Empty: an empty JSON body raises ``kind="json"``: a truncated 200 must not pass for an
  empty page, which would end pagination early and lose data. Empty ``jsonl``/``csv``
  bodies are zero records. (A 204 is the driver's business, before decoding.)

Errors carry the byte position, a short excerpt and the redacted URL, never the body.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from hiveframe._protocol.data_path import DataPath, DecodeFault, records_of
from hiveframe._secrets import redact_url
from hiveframe.errors import ConfigError, DataPathError, ResponseDecodeError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "FORMATS",
    "JSON_MAX_DEPTH",
    "DecodedPage",
    "decode_body",
    "json_documents",
    "json_records",
    "resolve_format",
    "validate_response_format",
]

FORMATS = ("json", "jsonl", "csv")
"""The canonical format names :func:`resolve_format` returns."""

JSON_MAX_DEPTH = 1024
"""Deepest JSON nesting accepted: orjson's fixed limit, enforced in Rust before Python sees it."""

_FORMAT_NAMES = {"json": "json", "jsonl": "jsonl", "ndjson": "jsonl", "csv": "csv"}
_JSON_TYPES = frozenset({"application/json", "text/json", "text/plain", ""})
_JSONL_TYPES = frozenset(
    {
        "application/jsonl",
        "application/x-jsonl",
        "application/ndjson",
        "application/x-ndjson",
        "application/jsonlines",
        "application/x-jsonlines",
        "application/json-lines",
    }
)
_CSV_TYPES = frozenset({"text/csv", "application/csv", "text/comma-separated-values"})
_EXCERPT_BYTES = 40
_MAX_MESSAGE = 200
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_STRIDE = 6  # a run of 19 bytes holds 19 // 6 = 3 bytes of every sixth byte
_TRIO = b"000"


@dataclass(frozen=True)
class DecodedPage:
    """The records of one response.

    Parameters
    ----------
    document
        The parsed JSON document (``json`` format only, for paginators); else ``None``.
    records
        The records, usually dicts. Empty for ``csv``, which fills ``table`` instead.
    table
        The Arrow table of formats that decode straight to Arrow (``csv``), else ``None``.
    """

    document: Any
    records: list[Any] = field(default_factory=list)
    table: pa.Table | None = None

    @property
    def record_count(self) -> int:
        """How many records the page holds, whichever field holds them."""
        return int(self.table.num_rows) if self.table is not None else len(self.records)


def validate_response_format(value: object) -> str | None:
    """Check a ``response_format`` option at construction time.

    Parameters
    ----------
    value
        ``None`` or ``"auto"`` (detect from Content-Type), ``"json"``, ``"jsonl"``,
        ``"ndjson"`` (same as jsonl) or ``"csv"``; case and surrounding blanks are ignored.

    Returns
    -------
    str or None
        The canonical name (one of :data:`FORMATS`), or ``None`` for auto-detection.

    Raises
    ------
    ConfigError
        ``option="response_format"`` for anything else.

    Examples
    --------
    >>> validate_response_format("NDJSON")
    'jsonl'
    >>> validate_response_format("auto") is None
    True
    """
    if value is None:
        return None
    name = value.strip().lower() if isinstance(value, str) else None
    if name == "auto":
        return None
    if name not in _FORMAT_NAMES:
        raise ConfigError(
            "response_format",
            value,
            "expected 'auto', 'json', 'jsonl' (or 'ndjson') or 'csv'; "
            "for anything else pass parser=...",
        )
    return _FORMAT_NAMES[name]


def resolve_format(response_format: str | None, content_type: str | None) -> str:
    """The format to decode a response with.

    An explicit ``response_format`` wins. ``None`` or ``"auto"`` reads the Content-Type:
    ``application/json``, ``text/json`` and any ``*/*+json`` (``application/vnd.api+json``)
    are json; ``application/x-ndjson``, ``application/jsonl`` and their variants are jsonl;
    ``text/csv`` is csv. A missing Content-Type and ``text/plain`` are tried as json, since
    many servers label JSON that way. Media-type parameters (``; charset=utf-8``) are ignored.

    Parameters
    ----------
    response_format
        The user's option (validated by :func:`validate_response_format`).
    content_type
        The response's Content-Type header, if any.

    Returns
    -------
    str
        One of :data:`FORMATS`.

    Raises
    ------
    ResponseDecodeError
        ``kind="format"`` when auto-detection meets a media type it does not decode.

    Examples
    --------
    >>> resolve_format(None, "application/vnd.api+json; charset=utf-8")
    'json'
    >>> resolve_format("csv", "application/json")
    'csv'
    """
    explicit = validate_response_format(response_format)
    if explicit is not None:
        return explicit
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type in _JSON_TYPES or media_type.endswith("+json"):
        return "json"
    if media_type in _JSONL_TYPES:
        return "jsonl"
    if media_type in _CSV_TYPES:
        return "csv"
    raise ResponseDecodeError(
        f"Content-Type {_clip(content_type or '')!r} is not a format HiveFrame recognises; "
        "set response_format='json', 'jsonl' or 'csv', or pass parser=...",
        kind="format",
    )


# -- body decoding ----------------------------------------------------------------------------


def decode_body(
    body: bytes, *, fmt: str, data_path: DataPath | None = None, url: str | None = None
) -> DecodedPage:
    """Decode one response body.

    Parameters
    ----------
    body
        The complete (already size-capped and decompressed) body.
    fmt
        One of :data:`FORMATS`, usually from :func:`resolve_format`.
    data_path
        Where the records are (json and jsonl only).
    url
        The request URL, shown redacted in errors.

    Returns
    -------
    DecodedPage

    Raises
    ------
    ResponseDecodeError
        With ``kind`` ``"json"``, ``"depth"``, ``"number"``, ``"encoding"``, ``"shape"``,
        ``"csv"`` or ``"format"`` (a data_path on a csv body); see the module docstring.

    Examples
    --------
    >>> decode_body(b'{"items": [{"id": 1}]}', fmt="json", data_path=DataPath("items")).records
    [{'id': 1}]
    >>> decode_body(b'{"id": 1}\\r\\n\\n{"id": 2}\\n', fmt="jsonl").records
    [{'id': 1}, {'id': 2}]
    """
    decoder = _DECODERS.get(fmt)
    if decoder is None:
        raise ConfigError("response_format", fmt, f"expected one of {', '.join(FORMATS)}")
    if body.startswith(codecs.BOM_UTF8):
        body = body[len(codecs.BOM_UTF8) :]
    try:
        return decoder(body, data_path)
    except DecodeFault as fault:
        shown = redact_url(url) if url else None  # redacted only when an error shows it
        raise ResponseDecodeError(fault.message, kind=fault.kind, url=shown) from None
    except DataPathError as exc:
        exc.url = redact_url(url) if url else None  # its constructor takes no url
        raise


def json_records(data: bytes, data_path: DataPath | None, *, url: str | None = None) -> list[Any]:
    """The records of one small JSON document (an SSE event's data), on a fast path.

    The same result and the same errors as ``decode_body(data, fmt="json", ...).records``,
    with one orjson call and no page bookkeeping when the document is plain.
    """
    if data_path is None and not _may_hold_big_int(data):
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # decode_body below names the fault
        else:
            if isinstance(value, dict):
                return [value]
            if isinstance(value, list):
                return value
    return decode_body(data, fmt="json", data_path=data_path, url=url).records


def json_documents(
    documents: Sequence[str], *, url: str | None = None
) -> tuple[list[Any], list[int] | None]:
    """The records of many small JSON documents (SSE events' data), in order, as one list.

    Each document is read exactly as :func:`json_records` reads it; the common case (an
    object, or an array of records) costs one orjson call per document and one scan for
    wide integers over all of them.

    Returns
    -------
    tuple
        All records, and where each document's records end in that list (``ends[i]`` is
        the count up to and including document ``i``), or ``None`` when every document
        was one object (one record each).
    """
    values: list[Any] = [None] * len(documents)  # None: read by json_records below
    if not _may_hold_big_int("\0".join(documents).encode()):  # a NUL keeps runs apart
        try:
            values = list(map(orjson.loads, documents))
        except orjson.JSONDecodeError:
            pass  # json_records below names the fault
        else:
            if set(map(type, values)) == {dict}:  # C loops: the common case costs no bytecode
                return values, None
    records: list[Any] = []
    ends: list[int] = []
    for text, value in zip(documents, values, strict=True):
        if type(value) is dict:
            records.append(value)
        elif type(value) is list:
            records += value
        else:
            records += json_records(text.encode(), None, url=url)
        ends.append(len(records))
    return records, ends


def _decode_json(body: bytes, data_path: DataPath | None) -> DecodedPage:
    if not body or body.isspace():
        raise DecodeFault("json", "the response body is empty where a JSON document was expected")
    document = _parse_json(body)
    if data_path is None:
        return DecodedPage(document=document, records=records_of(document, "the response body is"))
    return DecodedPage(document=document, records=data_path._extract(document))


def _decode_jsonl(body: bytes, data_path: DataPath | None) -> DecodedPage:
    lines = body.splitlines()
    values: list[Any] | None = None
    if not _may_hold_big_int(body):
        # The common case, one orjson call per line: as fast as joining the lines into one
        # array (measured), and unlike joining it cannot accept a value split over lines.
        try:
            values = [orjson.loads(line) for line in lines if line and not line.isspace()]
        except orjson.JSONDecodeError:
            values = None  # parse again, line by line, to name the bad line
    if values is None:
        values = _parse_lines(lines)
    if data_path is not None:
        values = [record for value in values for record in data_path._extract(value)]
    return DecodedPage(document=None, records=values)


def _parse_lines(lines: list[bytes]) -> list[Any]:
    values = []
    for number, line in enumerate(lines, start=1):
        if not line or line.isspace():
            continue
        try:
            values.append(_parse_json(line))
        except DecodeFault as fault:
            raise DecodeFault(fault.kind, f"line {number}: {fault.message}") from None
    return values


def _decode_csv(body: bytes, data_path: DataPath | None) -> DecodedPage:
    import pyarrow as pa
    import pyarrow.csv as pa_csv  # loaded with the first CSV response, not at start-up

    if data_path is not None:
        raise DecodeFault("format", f"{data_path!r} cannot apply to a CSV response")
    if not body or body.isspace():
        return DecodedPage(document=None, table=pa.table({}))

    try:
        table = pa_csv.read_csv(pa.BufferReader(body))
    except pa.ArrowException as exc:
        raise DecodeFault("csv", f"the response body is not valid CSV: {_clip(str(exc))}") from None
    return DecodedPage(document=None, table=table)


# -- JSON parsing -----------------------------------------------------------------------------


def _parse_json(data: bytes) -> Any:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise _fault_from_orjson(data, exc) from None
    if _may_hold_big_int(data):
        return _parse_exact(data)
    return value


def _may_hold_big_int(data: bytes) -> bool:
    # orjson keeps integers in [-2**63, 2**64) exact; anything wider needs 20 digits, or a
    # minus and 19. A hit inside a string or a long fraction only costs a second parse.
    # Any 19 bytes in a row hold three bytes of every sixth byte, one after the other, so
    # a run of 19 digits leaves three digits in a row among every sixth byte: looked for
    # first, it costs a sixth of masking every byte, which only data with such a trio
    # (a run of 13 digits or more, or numbers packed close together) goes on to pay.
    if _TRIO not in data[::_STRIDE].translate(_DIGITS_TO_ZERO):
        return False
    masked = data.translate(_DIGITS_TO_ZERO)
    if b"0" * 19 not in masked:  # one search settles the common case
        return False
    return b"0" * 20 in masked or b"-" + b"0" * 19 in masked


def _parse_exact(data: bytes) -> Any:
    # orjson accepted this body, so it is valid UTF-8 JSON no deeper than JSON_MAX_DEPTH;
    # the stdlib parser is here only to keep wide integers exact.
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise DecodeFault(
            "depth", "JSON nesting too deep for the exact-integer parser (Python stack)"
        ) from None
    except ValueError as exc:
        raise DecodeFault("number", f"a number cannot be represented: {_clip(str(exc))}") from None


_ORJSON_KINDS: tuple[tuple[str, str], ...] = (
    ("depth limit", "depth"),
    ("not valid UTF-8", "encoding"),
    ("infinity", "number"),
)


def _fault_from_orjson(data: bytes, exc: orjson.JSONDecodeError) -> DecodeFault:
    kind = next((kind for text, kind in _ORJSON_KINDS if text in exc.msg), "json")
    if kind == "encoding":
        return _encoding_fault(data)
    where = _byte_offset(data, exc.pos)
    detail = {
        "depth": f"JSON nested deeper than {JSON_MAX_DEPTH} levels",
        "number": "a number is too large to represent (beyond a 64-bit float)",
        "json": f"the response body is not valid JSON ({exc.msg})",
    }[kind]
    return DecodeFault(kind, f"{detail} at byte {where}, near {_excerpt(data, where)!r}")


def _encoding_fault(data: bytes) -> DecodeFault:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = exc.start
        return DecodeFault(
            "encoding",
            f"the body is not valid UTF-8 at byte {where} ({exc.reason}), "
            f"near {_excerpt(data, where)!r}",
        )
    # orjson also says "not valid UTF-8" for escaped lone surrogates, which decode fine.
    return DecodeFault("encoding", "the body holds a string that is not valid Unicode")


def _byte_offset(data: bytes, char_pos: int) -> int:
    # orjson reports a position in characters; turn it into bytes for non-ASCII bodies.
    prefix = data[: char_pos * 4].decode("utf-8", "surrogateescape")[:char_pos]
    return len(prefix.encode("utf-8", "surrogateescape"))


def _excerpt(data: bytes, where: int) -> str:
    start = max(0, where - _EXCERPT_BYTES // 2)
    return data[start : start + _EXCERPT_BYTES].decode("utf-8", "replace")


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


_DECODERS: dict[str, Callable[[bytes, DataPath | None], DecodedPage]] = {
    "json": _decode_json,
    "jsonl": _decode_jsonl,
    "csv": _decode_csv,
}
