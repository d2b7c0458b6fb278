"""The chaos suite's server: raw HTTP/1.1 on asyncio streams, on 127.0.0.1, in one thread.

One server serves every seed of a test module. A read of seed ``s`` asks for
``/r/<s>-<tag>/items``: the server builds :func:`chaos_scenario.build_scenario(s)` on the
first request of that run and keeps the run's state (attempts per page, a request log)
under that path prefix, so runs never share state and a seed can be read twice.

Written on raw sockets rather than on ``hiveframe.demo.LoopbackServer`` for byte-level control
and speed: a stall is an ``asyncio.sleep`` (no thread held), a reset is ``SO_LINGER 0`` then
close (TCP RST), a short body is a Content-Length larger than what is sent followed by a clean
close (FIN), and a chunked body can end without its last chunk.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import math
import socket
import struct
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
from chaos_scenario import NUMBERED, Fault, Scenario, build_scenario

STALL_HOLD = 2.0  # how long a stalled answer is held back (well past any stall timeout)
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_CONTENT_TYPES = {
    "json": "application/json",
    "envelope": "application/json",
    "jsonl": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
}


@dataclass
class Run:
    """The state of one read: which attempt each page is at, and what was served."""

    scenario: Scenario
    attempts: Counter = field(default_factory=Counter)
    log: list[str] = field(default_factory=list)


@dataclass
class _Answer:
    """A response and how to deliver it."""

    status: int
    headers: dict[str, str]
    body: bytes
    fault: Fault | None = None


class ChaosServer:
    """Serve chaos scenarios on a free port of 127.0.0.1 until :meth:`stop`."""

    def __init__(self) -> None:
        self.runs: dict[str, Run] = {}
        self.errors: list[tuple[str | None, str]] = []  # (run, what): this module's own bugs
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self.port = 0

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> ChaosServer:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        started.result(timeout=10)
        return self

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> ChaosServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, run: str) -> str:
        return f"{self.base_url}/r/{run}/items"

    def log(self, run: str) -> list[str]:
        found = self.runs.get(run)
        return list(found.log) if found else []

    def forget(self, run: str) -> None:
        self.runs.pop(run, None)

    # -- connections ----------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        sock = writer.get_extra_info("socket")
        served: list[str] = []  # the runs this connection served, last one last
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while await self._one_exchange(reader, writer, sock, served):
                pass
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away: normal after its timeout or a cancelled prefetch
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # a bug in this module: make the test say so
            self.errors.append((served[-1] if served else None, f"{type(exc).__name__}: {exc}"))
        finally:
            self._connections.discard(task)
            writer.close()  # a FIN, unless a fault already reset the connection

    async def _one_exchange(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        sock: socket.socket,
        served: list[str],
    ) -> bool:
        """Answer one request; False when the connection is done."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        line, *header_lines = head.decode("latin-1").split("\r\n")
        _method, target, _version = line.split(" ", 2)
        headers = {}
        for header in header_lines:
            if header:
                name, _, value = header.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        if length:
            await reader.readexactly(length)
        keep_alive = headers.get("connection", "").lower() != "close"
        served.append(target.split("/")[2] if target.startswith("/r/") else target)
        try:
            answer, run = self._answer(target)
        except Exception as exc:
            self.errors.append((served[-1], f"answering {target}: {type(exc).__name__}: {exc}"))
            answer, run = _plain(400, f"chaos server error: {exc}"), None
        return await self._deliver(answer, run, writer, sock) and keep_alive

    # -- what to answer -------------------------------------------------------------------

    def _answer(self, target: str) -> tuple[_Answer, Scenario | None]:
        split = urlsplit(target)
        parts = split.path.split("/")
        if len(parts) != 4 or parts[1] != "r" or parts[3] != "items":
            return _plain(404, f"no such path {split.path}"), None
        run_id = parts[2]
        run = self.runs.get(run_id)
        if run is None:
            run = self.runs[run_id] = Run(build_scenario(int(run_id.split("-", 1)[0])))
        sc = run.scenario
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        page, problem = _page_of(sc, query)
        if problem:
            run.log.append(f"BAD REQUEST {target}: {problem}")
            self.errors.append((run_id, f"{target}: {problem}"))
            return _plain(400, problem), sc
        run.attempts[page] += 1
        attempt = run.attempts[page]
        faults = sc.faults.get(page, [])
        fault = faults[attempt - 1] if attempt <= len(faults) else None
        run.log.append(f"page {page} attempt {attempt}: {fault or 'ok'}")
        if fault is None:
            return _Answer(200, *render_page(sc, page, run_id, self.base_url)), sc
        if fault.kind == "repeat":
            return _Answer(200, *render_page(sc, page - 1, run_id, self.base_url), fault), sc
        if fault.kind in ("status", "fatal", "429", "long_retry_after"):
            answer = _plain(fault.status or 500, "injected fault")
            if fault.retry_after is not None:
                answer.headers["Retry-After"] = fault.retry_after
            answer.fault = fault
            return answer, sc
        if fault.kind == "truncated":
            headers, body = render_page(sc, page, run_id, self.base_url, cut=fault.cut)
            return _Answer(200, headers, body, fault), sc
        return _Answer(200, *render_page(sc, page, run_id, self.base_url), fault), sc

    # -- delivering it --------------------------------------------------------------------

    async def _deliver(
        self,
        answer: _Answer,
        sc: Scenario | None,
        writer: asyncio.StreamWriter,
        sock: socket.socket,
    ) -> bool:
        fault = answer.fault
        kind = fault.kind if fault else None
        if kind == "reset_head":
            _reset(writer, sock)
            return False
        if kind == "stall" and fault is not None and fault.where == "head":
            await asyncio.sleep(STALL_HOLD)
            writer.close()
            return False
        chunked = sc is not None and sc.chunked and answer.status == 200
        close = sc is not None and sc.close_after
        headers = dict(answer.headers)
        body = answer.body
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
            wire = _chunked(body)
        else:
            # A short body declares more than it sends; so does a reset or stall mid-body
            # of an empty page, which would otherwise be complete before the fault.
            missing = kind == "short" or (kind in ("reset", "stall") and not body)
            declared = len(body) + (137 if missing else 0)
            headers["Content-Length"] = str(declared)
            wire = body
        if close:
            headers["Connection"] = "close"
        head = f"HTTP/1.1 {answer.status} {_REASONS.get(answer.status, 'Status')}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        writer.write(head.encode("latin-1"))
        if kind in ("reset", "stall"):
            assert fault is not None
            cut = max(0, min(len(wire) - 1, int(len(wire) * fault.cut)))
            writer.write(wire[:cut])
            await writer.drain()
            if kind == "reset":
                await asyncio.sleep(0.001)  # let the bytes reach the client before the RST
                _reset(writer, sock)
            else:
                await asyncio.sleep(STALL_HOLD)
                writer.close()
            return False
        if kind == "short":
            writer.write(wire[: -len(b"0\r\n\r\n")] if chunked else wire)
            await writer.drain()
            writer.close()  # a clean close (FIN) before the body is complete
            return False
        writer.write(wire)
        await writer.drain()
        if close:
            writer.close()
            return False
        return True


def _reset(writer: asyncio.StreamWriter, sock: socket.socket) -> None:
    # SO_LINGER 0 turns close() into a TCP reset.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _plain(status: int, message: str) -> _Answer:
    body = orjson.dumps({"error": message})
    return _Answer(status, {"Content-Type": "application/json"}, body)


def _chunked(body: bytes) -> bytes:
    out = bytearray()
    step = max(1, len(body) // 3 + 1)
    for i in range(0, len(body), step):
        piece = body[i : i + step]
        out += b"%x\r\n%s\r\n" % (len(piece), piece)
    out += b"0\r\n\r\n"
    return bytes(out)


# -- pages ---------------------------------------------------------------------------------


def _page_of(sc: Scenario, query: dict[str, str]) -> tuple[int, str | None]:
    """Which server page a request asks for, or what is wrong with the request."""
    ps = sc.page_size
    if sc.style == "offset":
        offset, limit = int(query.get("offset", -1)), int(query.get("limit", -1))
        if limit != ps or offset < 0 or offset % ps:
            return 0, f"unexpected offset={offset} limit={limit} (page size {ps})"
        return offset // ps, None
    if sc.style == "page":
        number, size = int(query.get("page", -1)), int(query.get("page_size", -1))
        if size != ps or number < 1:
            return 0, f"unexpected page={number} page_size={size} (page size {ps})"
        return number - 1, None
    name = "cursor" if sc.style == "cursor" else "page_token"
    token = query.get(name)
    if token is None:
        size_param = "per_page" if sc.style == "link" else "limit"
        if query.get(size_param) != str(ps):
            return 0, f"first request without {size_param}={ps}: {query}"
        return 0, None
    try:
        return sc.tokens.index(token), None
    except ValueError:
        return 0, f"unknown {name} {token!r}"


def render_page(
    sc: Scenario, k: int, run: str, base_url: str, *, cut: float | None = None
) -> tuple[dict[str, str], bytes]:
    """The headers and body of server page ``k``; ``cut`` truncates it detectably."""
    records = sc.page_records(k)
    nxt = sc.tokens[k + 1] if sc.style not in NUMBERED and k + 1 < len(sc.slices) else None
    headers = {"Content-Type": _CONTENT_TYPES[sc.fmt]}
    if sc.style == "cursor" and sc.cursor_in == "header":
        if nxt is not None:
            headers["X-Next-Cursor"] = nxt
        elif sc.end_marker == "empty":
            headers["X-Next-Cursor"] = ""
    if sc.style == "link":
        links = []
        if k > 0 and k % 2:
            links.append(f'<{_link(sc, sc.tokens[k - 1], run, base_url)}>; rel="prev"')
        if nxt is not None:
            links.append(f'<{_link(sc, nxt, run, base_url)}>; rel="next"; title="more"')
        if links:
            headers["Link"] = ", ".join(links)
    if sc.fmt == "json":
        body = orjson.dumps(records)
    elif sc.fmt == "envelope":
        body = orjson.dumps(_envelope(sc, k, records, nxt, run, base_url))
    elif sc.fmt == "jsonl":
        lines = [orjson.dumps(r) for r in records]
        body = b"\n".join(lines) + (b"\n" if lines and k % 2 else b"")
    else:
        body = _csv(sc, records)
    if cut is not None:
        body = _cut(sc, body, cut)
    if sc.gzip:
        headers["Content-Encoding"] = "gzip"
        body = gzip.compress(body, mtime=0)
    return headers, body


def _envelope(
    sc: Scenario, k: int, records: list[dict], nxt: str | None, run: str, base_url: str
) -> dict:
    doc: dict[str, Any] = {"server": "chaos", "count": len(records)}
    if sc.data_path == "result.items":
        doc["result"] = {"items": records, "page": k}
    else:
        doc["data"] = records
    if sc.total == "total":
        doc["total"] = sc.n_records
    elif sc.total == "total_pages":
        doc["total_pages"] = math.ceil(sc.n_records / sc.page_size)
    if sc.style == "cursor" and sc.cursor_in == "body":
        value: Any = nxt
        if nxt is not None and sc.int_cursors:
            value = int(nxt)
        _put(doc, sc.cursor_path, value, sc.end_marker)
    if sc.style == "next_url":
        _put(doc, sc.next_path, _link(sc, nxt, run, base_url) if nxt else None, sc.end_marker)
    return doc


def _put(doc: dict, path: str, value: Any, end_marker: str) -> None:
    *parents, leaf = path.split(".")
    for name in parents:
        doc = doc.setdefault(name, {"other": 1})
    if value is not None:
        doc[leaf] = value
    elif end_marker == "null":
        doc[leaf] = None
    elif end_marker == "empty":
        doc[leaf] = ""


def _link(sc: Scenario, token: str, run: str, base_url: str) -> str:
    if sc.link_form == "query":
        return f"?page_token={token}"
    if sc.link_form == "relative":
        return f"items?page_token={token}"
    if sc.link_form == "rooted":
        return f"/r/{run}/items?page_token={token}"
    return f"{base_url}/r/{run}/items?page_token={token}"


def _csv(sc: Scenario, records: list[dict]) -> bytes:
    if not records and sc.empty_csv == "body":
        return b""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n" if sc.seed % 2 else "\n")
    writer.writerow(["id", "payload", "score"])
    for r in records:
        writer.writerow([r["id"], r["payload"], repr(r["score"])])
    return out.getvalue().encode()


def _cut(sc: Scenario, body: bytes, fraction: float) -> bytes:
    """A prefix of ``body`` that no decoder can take for a complete page.

    JSON: any proper prefix of an array or object. JSON Lines: a cut strictly inside one
    line's object. CSV: a cut inside the id of a data row, leaving a row with one column.
    """
    if sc.fmt in ("json", "envelope"):
        return body[: max(1, min(len(body) - 1, int(len(body) * fraction)))]
    starts = [0] + [i + 1 for i, b in enumerate(body) if b == 0x0A and i + 1 < len(body)]
    if sc.fmt == "csv":
        starts = starts[1:]  # data rows, not the header
    line = starts[min(len(starts) - 1, int(len(starts) * fraction))]
    end = body.find(b"\n", line)
    end = len(body) if end < 0 else end
    if sc.fmt == "csv":
        id_len = body.index(b",", line) - line
        return body[: line + max(1, round(id_len * fraction))]
    inner = end - line - (1 if body[end - 1 : end] == b"\r" else 0)
    return body[: line + max(1, min(inner - 1, int(inner * fraction)))]


def describe_requests(log: list[str], limit: int = 60) -> str:
    shown = log if len(log) <= limit else [*log[: limit // 2], "...", *log[-limit // 2 :]]
    return "\n".join(f"    {line}" for line in shown)
