"""Seeded chaos for the keep-alive race: servers that close idle connections as requests come.

A request that goes out on a kept-alive connection idle a second or more, which the server
closes before any byte of an answer, is sent again at once when that is harmless (an
idempotent method, or an idempotency key), without spending a retry (docs/design.md, "The
wire"). Each seed draws a server: its keep-alive timeout (0.2-0.8 s), whether it closes with
a FIN or a reset, whether its timer also closes idle connections on its own, and whether it
sometimes takes a request and *then* closes unanswered (a crash after the commit: the case
where sending a request without a key twice would store its data twice), or holds a late
request a while before it closes (failing, not timing out). And a client: a
sink POST with idempotency keys or without, a GET poll (paged, 1-4 pages at once) or a POST
poll; retries on or off; 1-4 requests in flight; gaps of 0-1.4 s between batches or polls.
Every seed runs at once, in one event loop, against servers of its own; each test checks
one seed's invariants:

- every read and write ends, with its data or a typed hiveframe error;
- a request is sent again only after the server closed, unanswered and at once, a
  connection idle ``IDLE_RACE_SECONDS`` or more, and it is then sent again when harmless;
- a body without a key reaches the server at most once;
- with keys, each delivered batch was taken, and a server that dedupes by key stores each
  record once;
- a write's ``DeliveryFailed`` names exactly the batches the server did not acknowledge;
- a resend is not a retry: requests = batches + resends + retries.

    HIVEFRAME_KEEPALIVE_SEEDS=200 .venv/bin/python -m pytest tests/chaos/test_keepalive_chaos.py
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import orjson
import pyarrow as pa
import pytest

from hiveframe._http.wire import IDLE_RACE_SECONDS, RACE_REPLY_SECONDS
from hiveframe.connectors import HTTPSink, HTTPSource, PollStream
from hiveframe.errors import DeliveryFailed
from hiveframe.resilience import RetryConfig
from scripted_server import Connection, ScriptedServer

try:
    import uvloop as UVLOOP
except ImportError:  # a development extra: without it, every seed runs on asyncio's loop
    UVLOOP = None

SEEDS = int(os.environ.get("HIVEFRAME_KEEPALIVE_SEEDS", "32"))
KINDS = ("sink_keys", "sink_keyless", "poll_get", "poll_post")
BATCH = 5  # records per sink batch
PAGE = 4  # records per page of a GET poll
BOUND_SECONDS = 60.0  # no client may run longer than this (they need a few seconds)
# The client's idle time is the server's less the time its answer and the next request
# spent travelling and waiting for the event loop: a server idle this much longer than the
# wire's threshold means the client's was past it too.
LAG_SECONDS = 0.35


@dataclass(frozen=True)
class Plan:
    """What one seed draws."""

    seed: int
    kind: str
    keep_alive: float  # the server ends a connection whose next request comes this late
    reset: bool  # it ends connections with a reset (RST) rather than a FIN
    timer: float | None  # it also closes a connection idle this long, with no request
    commit_first: float  # chance that a late request is taken before the close
    crash: float  # chance that an answer is never sent after the request was taken
    hold: float  # how long the server holds a late request before it closes
    retry: bool
    concurrency: int
    gaps: tuple[float, ...]  # before each batch or poll after the first
    padding: int  # bytes of text in each sink record: 5 x 20,000 is a body past 64 KiB
    uvloop: bool  # the client runs on a uvloop event loop

    @classmethod
    def draw(cls, seed: int) -> Plan:
        rng = random.Random(seed)
        keep_alive = rng.uniform(0.2, 0.8)
        count = rng.randint(3, 5)
        return cls(
            seed=seed,
            kind=KINDS[seed % len(KINDS)],
            keep_alive=keep_alive,
            reset=rng.random() < 0.5,
            timer=rng.choice((None, keep_alive * rng.uniform(1.1, 1.6))),
            commit_first=rng.choice((0.0, 0.5, 1.0)),
            crash=rng.choice((0.0, 0.0, 0.15)),
            hold=rng.choice((0.0, 0.0, RACE_REPLY_SECONDS + 0.3)),
            retry=rng.random() < 0.5,
            concurrency=rng.randint(1, 4),
            padding=rng.choice((0, 0, 20_000)),
            uvloop=rng.random() < 0.5 and UVLOOP is not None,
            gaps=tuple(
                rng.choice((rng.uniform(0, 1.4), rng.uniform(1.1, 1.4))) for _ in range(count)
            ),
        )


@dataclass(frozen=True)
class Arrival:
    """One request as the server saw it."""

    identity: str  # the batch, the page or the poll it belongs to
    idle: float | None  # how long its connection had been quiet (None: a new one)
    answered: bool  # the server sent its answer
    committed: bool  # the server holds the request's records (taken now, or before by key)
    held: bool = False  # closed a while after it came: a failure, not the keep-alive race

    def raced(self, threshold: float = IDLE_RACE_SECONDS) -> bool:
        """Closed unanswered as it came, on a connection idle ``threshold`` or more."""
        closed_at_once = not self.answered and not self.held
        return closed_at_once and self.idle is not None and self.idle >= threshold


@dataclass
class KeepAliveServer:
    """The seed's server: answers, or closes as its keep-alive timer or a crash would."""

    plan: Plan
    arrivals: list[Arrival] = field(default_factory=list)
    stored: Counter[int] = field(default_factory=Counter)  # record id -> times stored
    keys: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, conn: Connection) -> None:
        answered: float | None = None  # when the last answer on this connection left
        while True:
            quiet = self.plan.timer if answered is not None else None
            conn.sock.settimeout(quiet)
            try:
                head = conn.request()
                body = conn.body(head) if head is not None else None
            except TimeoutError:  # the keep-alive timer, with no request in sight
                self._end(conn)
                return
            if head is None or body is None:
                return
            idle = None if answered is None else time.monotonic() - answered
            if not self._take(conn, head, body, idle):
                self._end(conn)
                return
            answered = time.monotonic()

    def _take(self, conn: Connection, head: bytes, body: bytes, idle: float | None) -> bool:
        identity, key, ids = _identify(head, body)
        with self.lock:
            attempt = sum(a.identity == identity for a in self.arrivals)
            rng = random.Random(f"{self.plan.seed}/{identity}/{attempt}")
            late = idle is not None and idle >= self.plan.keep_alive
            commit = not late or rng.random() < self.plan.commit_first
            answer = not late and rng.random() >= self.plan.crash
            if commit and key is not None and key in self.keys:
                commit = False  # a key seen before: already stored
            if commit:
                self.stored.update(ids)
                if key is not None:
                    self.keys.add(key)
            held = late and self.plan.hold > 0
            self.arrivals.append(
                Arrival(identity, idle, answer, commit or key in self.keys, held=held)
            )
        if answer:
            conn.send(_answer(head))
        elif held:
            time.sleep(self.plan.hold)
        return answer

    def _end(self, conn: Connection) -> None:
        if self.plan.reset:
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _identify(head: bytes, body: bytes) -> tuple[str, str | None, list[int]]:
    """A request's identity (its batch, page or poll), its idempotency key and its records."""
    line, *fields = head.split(b"\r\n")
    method, target, _ = line.decode().split(" ")
    headers = {n.strip().lower(): v.strip() for n, _, v in (f.partition(b":") for f in fields)}
    key = headers.get(b"idempotency-key")
    if target.startswith("/ingest"):
        ids = [record["id"] for record in orjson.loads(body)]
        return f"batch {ids[0] // BATCH}", key.decode() if key else None, ids
    return f"{method} {target}", None, []


def _answer(head: bytes) -> bytes:
    """The answer to a request the server takes: a 204 for a batch, a page for a poll."""
    if head.startswith(b"POST /ingest"):
        return b"HTTP/1.1 204 No Content\r\n\r\n"
    target = head.split(b" ")[1].decode()
    offset = int(target.partition("offset=")[2].partition("&")[0] or 0)
    total = PAGE * 3 if head.startswith(b"GET") else PAGE
    records = [{"id": i} for i in range(offset, min(offset + PAGE, total))]
    page = orjson.dumps({"items": records, "total": total})
    length = b"Content-Length: %d" % len(page)
    return b"\r\n".join([b"HTTP/1.1 200 OK", b"Content-Type: application/json", length, b"", page])


# -- the clients ----------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a seed's client did."""

    error: BaseException | None = None
    result: Any = None  # the sink's WriteResult
    ids: list[int] = field(default_factory=list)  # records a poll handed out
    polls: int = 0
    failed_polls: int = 0


def _retry(plan: Plan) -> RetryConfig | None:
    if not plan.retry:
        return None
    return RetryConfig(max_attempts=3, initial_delay_seconds=0.01, max_delay_seconds=0.05)


async def _batches(plan: Plan) -> AsyncIterator[pa.RecordBatch]:
    for number, gap in enumerate(plan.gaps):
        if number:
            await asyncio.sleep(gap)
        ids = range(number * BATCH, (number + 1) * BATCH)
        yield pa.record_batch({"id": ids, "text": ["x" * plan.padding] * BATCH})


async def _write(plan: Plan, server: ScriptedServer, outcome: Outcome) -> None:
    keys = plan.kind == "sink_keys"
    sink = HTTPSink(
        server.url("/ingest"),
        batch_size=BATCH,
        max_in_flight=plan.concurrency,
        retry=_retry(plan),
        idempotency_header="Idempotency-Key" if keys else None,
        timeout_seconds=5,
    )
    async with sink.open() as writer:
        try:
            await writer.write(_batches(plan))
        except DeliveryFailed as exc:
            outcome.error = exc
        outcome.result = writer.result


async def _poll(plan: Plan, server: ScriptedServer, outcome: Outcome) -> None:
    get = plan.kind == "poll_get"
    source = HTTPSource(
        server.url("/items"),
        method="GET" if get else "POST",
        body=None if get else {"query": "new"},
        pagination="offset" if get else None,
        page_size=PAGE if get else None,
        concurrency=plan.concurrency,
        data_path="items",
        retry=_retry(plan),
        timeout_seconds=5,
        stream=PollStream(interval_seconds=max(plan.gaps[-1], 0.05)),
    )
    last = (PAGE * 3 if get else PAGE) - 1
    async with source.astream() as records:
        async for record in records:
            outcome.ids.append(record["id"])
            if record["id"] == last and records.stats.polls >= len(plan.gaps):
                break
        outcome.polls, outcome.failed_polls = records.stats.polls, records.stats.errors


async def _run(plan: Plan, server: ScriptedServer) -> Outcome:
    outcome = Outcome()
    client = _write if plan.kind.startswith("sink") else _poll
    try:
        await asyncio.wait_for(client(plan, server, outcome), BOUND_SECONDS)
    except BaseException as exc:  # the invariants judge it
        outcome.error = exc
    return outcome


class _Resends(logging.Handler):
    """Counts, per server port, the requests the session sent again."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.counts: Counter[int] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("sending ") and message.endswith(" again"):
            port = message.partition("127.0.0.1:")[2].partition("/")[0]
            self.counts[int(port)] += 1


@dataclass
class Seed:
    plan: Plan
    server: KeepAliveServer
    port: int
    outcome: Outcome
    resends: int


@pytest.fixture(scope="module")
def seeds() -> Iterator[dict[int, Seed]]:
    plans = [Plan.draw(seed) for seed in range(SEEDS)]
    scripts = [KeepAliveServer(plan) for plan in plans]
    servers = [ScriptedServer(script) for script in scripts]
    resends = _Resends()
    logger = logging.getLogger("hiveframe.http")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(resends)

    outcomes: dict[int, Outcome] = {}

    async def run_all(on_uvloop: bool) -> None:
        chosen = [(p, s) for p, s in zip(plans, servers, strict=True) if p.uvloop == on_uvloop]
        done = await asyncio.gather(*(_run(plan, server) for plan, server in chosen))
        outcomes.update(
            (plan.seed, outcome) for (plan, _), outcome in zip(chosen, done, strict=True)
        )

    # The seeds on uvloop run in a loop of their own, in a thread beside asyncio's.
    beside = threading.Thread(target=lambda: UVLOOP and UVLOOP.run(run_all(on_uvloop=True)))
    try:
        beside.start()
        asyncio.run(run_all(on_uvloop=False))
        beside.join()
    finally:
        logger.removeHandler(resends)
        logger.setLevel(level)
        for server in servers:
            server.close()
    yield {
        plan.seed: Seed(plan, script, server.port, outcomes[plan.seed], resends.counts[server.port])
        for plan, script, server in zip(plans, scripts, servers, strict=True)
    }


# -- the invariants -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(SEEDS))
def test_keepalive_chaos(seeds, seed):
    run = seeds[seed]
    raced = [a for a in run.server.arrivals if a.raced()]
    # A request goes again only after a connection idle a second or more closed unanswered,
    # as the request came (or, when the server's timer closes connections, one that never
    # reached it).
    if run.plan.timer is None:
        assert run.resends <= len(raced), (run.plan, run.server.arrivals)
    if run.plan.kind.startswith("sink"):
        _check_write(run)
    else:
        _check_polls(run)


def _check_write(run: Seed) -> None:
    plan, outcome, arrivals = run.plan, run.outcome, run.server.arrivals
    error = outcome.error
    assert error is None or isinstance(error, DeliveryFailed), (plan, repr(error))
    result = outcome.result
    batches = {f"batch {n}" for n in range(len(plan.gaps))}
    acked = {a.identity for a in arrivals if a.answered}
    failed = {f"batch {n}" for n in (error.batches if error is not None else [])}
    # DeliveryFailed names exactly the batches (and records) the server did not acknowledge.
    assert failed == batches - acked, (plan, arrivals, error)
    if error is not None:
        assert error.not_delivered == BATCH * len(failed)
    assert result.records_delivered == BATCH * len(acked)
    # A resend is not a retry: each request is a batch's first, a resend or a retry.
    assert result.requests == result.batches_sent + run.resends + result.retries, (plan, result)
    assert len(arrivals) <= result.requests
    lost = result.requests - len(arrivals)  # sent as the server's timer closed the connection
    assert run.resends <= sum(a.raced() for a in arrivals) + lost, (plan, arrivals)
    if not plan.retry:
        assert result.retries == 0
    per_batch = {b: [a for a in arrivals if a.identity == b] for b in batches}
    if plan.kind == "sink_keyless":
        # Never sent twice: not resent, not retried.
        assert all(len(seen) <= 1 for seen in per_batch.values()), (plan, arrivals)
        assert run.resends == 0
    else:
        # Each delivered batch's key was taken, and its records stored once.
        assert all(any(a.committed for a in per_batch[b]) for b in acked), (plan, arrivals)
        delivered = {i for b in acked for i in range(int(b[6:]) * BATCH, (int(b[6:]) + 1) * BATCH)}
        assert delivered <= set(run.server.stored)
    assert max(run.server.stored.values(), default=1) == 1, (plan, run.server.stored)
    if plan.kind == "sink_keys" and not plan.retry:
        for seen in per_batch.values():
            _check_resent(plan, seen)


def _check_resent(plan: Plan, seen: list[Arrival]) -> None:
    # Without retries, a keyed batch's second arrival can only be the resend, after its
    # first met a connection idle a second or more; and such a first is always resent.
    assert len(seen) <= 2, (plan, seen)
    if len(seen) == 2:
        assert seen[0].raced(), (plan, seen)
    if seen and seen[0].raced(IDLE_RACE_SECONDS + LAG_SECONDS):
        assert len(seen) == 2, (plan, seen)


def _check_polls(run: Seed) -> None:
    plan, outcome, arrivals = run.plan, run.outcome, run.server.arrivals
    # A poll's failures are the stream's to survive: it never raises for them.
    assert outcome.error is None, (plan, repr(outcome.error))
    per_poll = PAGE * 3 if plan.kind == "poll_get" else PAGE
    # Each poll hands out its records in order from the first; a failed one may stop short.
    assert all(i < per_poll for i in outcome.ids)
    assert all(i in (0, prev + 1) for prev, i in pairwise([-1, *outcome.ids])), (
        plan,
        outcome.ids,
    )
    short = [a for a in arrivals if not a.answered]
    if plan.kind == "poll_post":
        # A POST without a key is never sent twice: one request per poll, at most.
        assert run.resends == 0
        assert len(arrivals) <= outcome.polls, (plan, arrivals, outcome.polls)
    if plan.timer is not None:
        return  # a request may be lost as the timer closes: a failed poll the server never saw
    if plan.kind == "poll_post":
        assert outcome.failed_polls <= len(short)
    elif not plan.retry:
        # A poll fails only for a connection closed that was not idle past the threshold
        # (or on a new connection, or held before the close): the others' requests went
        # again.
        surely_resent = sum(a.raced(IDLE_RACE_SECONDS + LAG_SECONDS) for a in short)
        assert outcome.failed_polls <= len(short) - surely_resent, (plan, arrivals)
