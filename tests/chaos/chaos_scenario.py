"""Seeded chaos scenarios: a collection, how it is served, the faults, and the right outcome.

Everything here is a pure function of the seed (``random.Random(seed)``): the test builds
the scenario to configure the client and to know the right answer, the server
(:mod:`chaos_server`) builds the same scenario to serve it. See ``docs/reliability.md``,
test 50 (chaos seeds).

A scenario is

* a collection of 0 to a few hundred records (sizes include 0 and exact multiples of the page
  size), served in one pagination style (offset, page, cursor, link, next_url) and one format
  (json, json in an envelope read with ``data_path``, jsonl, csv);
* its *pages*: for offset and page styles the slices the client asks for; for cursor, link
  and next_url styles the server's own pages, of varying length, possibly with empty pages
  in the middle that still carry the next token, and possibly an empty last page;
* a fault schedule: ``faults[page]`` lists what the server does on the 1st, 2nd, ...
  attempt at that page; attempts past the list are served cleanly;
* the client's settings (retry budget, timeout, concurrency) and how it reads (``read()``,
  ``iter_batches()`` or ``aread()``).

:func:`expected_outcome` walks the pages the client must commit, in order, through the
retry budget and says what a correct client does: return every record, or raise one
particular typed error at one particular page.
"""

from __future__ import annotations

import math
import random
import string
from dataclasses import dataclass, field

STYLES = ("offset", "page", "cursor", "link", "next_url")
FORMATS = ("json", "envelope", "jsonl", "csv")
NUMBERED = frozenset({"offset", "page"})
MODES = ("read", "iter", "aread")

# Faults a retry recovers from; each one costs one attempt.
TRANSIENT = frozenset({"reset", "reset_head", "status", "429", "short", "stall"})
RETRY_STATUSES = (500, 502, 503, 504)
FATAL_STATUSES = (400, 404, 501)

STALL_TIMEOUT = 0.3  # timeout_seconds for seeds with stalls; others use SLOW_TIMEOUT
SLOW_TIMEOUT = 10.0
MAX_RETRY_AFTER = 2.0  # RetryConfig.max_retry_after_seconds; "long" Retry-After is above it
DEADLINE = 6.0  # deadline_seconds of every read; the test's watchdog is longer
MAX_STALLS = 2
# Empty pages in a row that cursor/link/next_url reads follow before PaginationError
# (hiveframe._protocol.pagination.DEFAULT_MAX_EMPTY_PAGES).
MAX_EMPTY_PAGES = 10


@dataclass(frozen=True)
class Fault:
    """What the server does on one attempt at a page.

    ``kind`` is one of: ``reset`` (headers and part of the body, then a TCP reset),
    ``reset_head`` (a reset before any response byte), ``status`` (a retriable 5xx),
    ``429`` (with a small Retry-After, or none), ``short`` (Content-Length larger than the
    body, or a chunked body without its last chunk, then a clean close), ``stall`` (no
    answer, or half an answer, for longer than the client's timeout), ``truncated`` (a 200
    whose body is cut, consistently framed), ``long_retry_after`` (429/503 asking for a wait
    above ``max_retry_after_seconds``), ``fatal`` (a status that is not retried), ``repeat``
    (a 200 with the previous page's response).
    """

    kind: str
    status: int | None = None
    retry_after: str | None = None
    where: str = ""  # stall: "head" or "body"
    cut: float = 0.5  # truncated/reset: where the body is cut, as a fraction

    @property
    def transient(self) -> bool:
        return self.kind in TRANSIENT

    def __str__(self) -> str:
        if self.kind in ("status", "fatal"):
            return f"{self.kind}{self.status}"
        if self.kind in ("429", "long_retry_after"):
            ra = "" if self.retry_after is None else f"(Retry-After: {self.retry_after})"
            return f"{self.kind}{'' if self.kind == '429' else self.status}{ra}"
        if self.kind == "stall":
            return f"stall@{self.where}"
        return self.kind


@dataclass(frozen=True)
class Expected:
    """The right outcome: every record (``error is None``), or an error at ``page``."""

    error: str | None = None  # a hiveframe.errors class name
    page: int | None = None
    fault: Fault | None = None  # the fault that decides it
    attempt: int | None = None  # which attempt at ``page`` it is
    also_ok: bool = False  # returning exactly the records is also right
    also: tuple[str, ...] = ()  # other error classes that are also right
    # Ending the read without error after exactly the records of the pages before ``page``
    # is also right (the server's answer is the documented end-of-read signal).
    also_end: bool = False
    reason: str = ""  # why, when no fault decides it

    def describe(self) -> str:
        if self.error is None:
            return "every record, exactly once"
        alt = "".join(f" or {name}" for name in self.also)
        ok = " or every record exactly once" if self.also_ok else ""
        if self.also_end:
            ok += f" or exactly the records of pages 0..{(self.page or 0) - 1}"
        why = f"attempt {self.attempt}: {self.fault}" if self.fault else self.reason
        return f"{self.error}{alt}{ok} at page {self.page} ({why})"


@dataclass
class Scenario:
    seed: int
    style: str
    fmt: str
    page_size: int
    records: list[dict]
    # Server pages as record slices [start, end); numbered styles: page k = k*ps .. (k+1)*ps.
    slices: list[tuple[int, int]]
    committed: list[int]  # page indices the client must fetch and commit, in order
    faults: dict[int, list[Fault]]
    concurrency: int
    max_attempts: int
    jitter: bool
    timeout: float
    mode: str
    # serving details
    data_path: str | None = None  # envelope: where the records are
    explicit_format: bool = True  # send response_format=..., else rely on Content-Type
    total: str | None = None  # numbered envelope: "total" or "total_pages"
    cursor_in: str = "body"  # cursor style: "body" (cursor_path) or "header"
    cursor_path: str = "next_cursor"
    int_cursors: bool = False
    next_path: str = "next"  # next_url style
    link_form: str = "absolute"  # absolute | query | relative | rooted
    end_marker: str = "absent"  # how the last page says "no more": absent | null | empty
    empty_csv: str = "header"  # an empty csv page: "header" only, or an empty "body"
    gzip: bool = False
    chunked: bool = False
    close_after: bool = False  # the server closes the connection after each clean answer
    tokens: list[str] = field(default_factory=list)  # tokens[k] names server page k

    # -- what the scenario says ----------------------------------------------------------

    @property
    def n_records(self) -> int:
        return len(self.records)

    def page_records(self, k: int) -> list[dict]:
        start, end = self.slices[k] if k < len(self.slices) else (0, 0)
        return self.records[start:end]

    def stalls(self) -> int:
        return sum(f.kind == "stall" for fs in self.faults.values() for f in fs)

    def empty_middle_pages(self) -> list[int]:
        """Cursor-like styles: empty pages that still carry a next token."""
        if self.style in NUMBERED:
            return []
        last = len(self.slices) - 1
        return [k for k, (a, b) in enumerate(self.slices) if a == b and k < last]

    def summary(self) -> str:
        parts = [
            f"style={self.style}",
            f"format={self.fmt}",
            f"page_size={self.page_size}",
            f"records={self.n_records}",
            f"server_pages={len(self.slices)}",
            f"committed_pages={len(self.committed)}",
            f"concurrency={self.concurrency}",
            f"max_attempts={self.max_attempts}",
            f"timeout={self.timeout}",
            f"mode={self.mode}",
        ]
        extras = {
            "data_path": self.data_path,
            "total": self.total,
            "cursor_in": self.cursor_in if self.style == "cursor" else None,
            "link_form": self.link_form if self.style in ("link", "next_url") else None,
            "gzip": self.gzip or None,
            "chunked": self.chunked or None,
            "close_after": self.close_after or None,
            "empty_middle_pages": self.empty_middle_pages() or None,
        }
        parts += [f"{k}={v}" for k, v in extras.items() if v is not None]
        return " ".join(parts)

    def fault_lines(self) -> list[str]:
        return [
            f"page {k}: [{', '.join(str(f) for f in fs)}]" for k, fs in sorted(self.faults.items())
        ]


# -- building a scenario -------------------------------------------------------------------


def build_scenario(seed: int) -> Scenario:
    """The scenario of ``seed``; the same on every call and in every process."""
    rng = random.Random(seed)
    style = rng.choice(STYLES)
    fmt = "envelope" if style == "next_url" else rng.choice(FORMATS)
    page_size = rng.choice((1, 2, 3, 4, 5, 7, 10, 16, 25))
    max_pages = 40 if page_size > 2 else 25
    shape = rng.random()
    if shape < 0.1:
        n = 0
    elif shape < 0.35:
        n = page_size * rng.randint(1, max_pages // 2)
    else:
        n = rng.randint(1, page_size * max_pages // 2)
    records = make_records(rng, n, fmt)
    sc = Scenario(
        seed=seed,
        style=style,
        fmt=fmt,
        page_size=page_size,
        records=records,
        slices=[],
        committed=[],
        faults={},
        concurrency=rng.choice((1, 8)),
        max_attempts=rng.choice((2, 3, 4, 5)),
        jitter=rng.random() < 0.5,
        timeout=SLOW_TIMEOUT,
        mode=rng.choices(MODES, weights=(6, 2, 2))[0],
    )
    sc.explicit_format = rng.random() < 0.5
    sc.gzip = rng.random() < 0.15
    sc.chunked = rng.random() < 0.25
    sc.close_after = rng.random() < 0.1
    sc.end_marker = rng.choice(("absent", "null", "empty"))
    sc.empty_csv = rng.choice(("header", "body"))
    if fmt == "envelope":
        sc.data_path = rng.choice(("data", "data", "result.items"))
    if style in NUMBERED:
        _numbered_pages(sc, rng)
    else:
        _token_pages(sc, rng)
    _schedule_faults(sc, rng)
    return sc


def make_records(rng: random.Random, n: int, fmt: str) -> list[dict]:
    """Records with ids 1..n, in a random order, with payloads worth comparing in full."""
    ids = list(range(1, n + 1))
    rng.shuffle(ids)
    words = ("alpha", "beta", "gamma", "δέλτα", "naïve", "中文", "emoji 🐝", "comma, here")
    records = []
    for i in ids:
        payload = f"p-{i}-" + " ".join(rng.choice(words) for _ in range(rng.randint(1, 3)))
        if rng.random() < 0.1:
            payload += ' "quoted"'
        score = rng.randint(0, 10**6) / 8 + 0.125  # exact in binary, never integral
        record: dict = {"id": i, "payload": payload, "score": score}
        if fmt != "csv":
            if rng.random() < 0.05:
                payload += "\nsecond line\ttab \\ backslash"
                record["payload"] = payload
            record["tags"] = [
                rng.choice(string.ascii_lowercase) * rng.randint(1, 3)
                for _ in range(rng.choice((0, 1, 1, 2, 3)))
            ]
            record["meta"] = {"rank": rng.randint(-(2**40), 2**40), "ok": rng.random() < 0.5}
            record["note"] = None if rng.random() < 0.6 else f"note {i}"
        records.append(record)
    return records


def _numbered_pages(sc: Scenario, rng: random.Random) -> None:
    ps, n = sc.page_size, sc.n_records
    full = math.ceil(n / ps)
    # The client asks for pages until one is short or empty, or the total is reached; a
    # size that is an exact multiple (0 included) costs one more, empty, page.
    sc.slices = [(k * ps, min(n, (k + 1) * ps)) for k in range(full)] + [(n, n)]
    if sc.fmt == "envelope" and rng.random() < 0.5:
        sc.total = "total" if sc.style == "offset" else rng.choice(("total", "total_pages"))
    last = full - 1 if (n % ps or (sc.total and n)) else full
    sc.committed = list(range(last + 1))


def _token_pages(sc: Scenario, rng: random.Random) -> None:
    ps, n = sc.page_size, sc.n_records
    empty_rate = rng.choice((0.0, 0.0, 0.15, 0.35))
    slices: list[tuple[int, int]] = []
    start = 0
    while start < n:
        if slices and rng.random() < empty_rate:
            run = rng.randint(1, 3)  # a short run of empty pages
            if rng.random() < 0.1:  # or one at, or past, max_empty_pages
                run = rng.choice((MAX_EMPTY_PAGES, MAX_EMPTY_PAGES + 1, MAX_EMPTY_PAGES + 3))
            slices += [(start, start)] * run
        # Cursor-like APIs may answer fewer records than asked while more remain.
        length = ps if rng.random() < 0.6 else rng.randint(1, ps)
        slices.append((start, min(n, start + length)))
        start += length
    if not slices or rng.random() < 0.4:
        slices.append((n, n))  # an empty last page: the previous page still had a token
    sc.slices = slices
    sc.committed = list(range(len(slices)))
    if sc.style == "cursor":
        in_header = sc.fmt != "envelope" or rng.random() < 0.3
        sc.cursor_in = "header" if in_header else "body"
        sc.cursor_path = rng.choice(("next_cursor", "meta.next_cursor"))
        sc.int_cursors = not in_header and rng.random() < 0.2  # JSON numbers as cursors
    alphabet = string.ascii_lowercase + string.digits + "-_"
    sc.tokens = [
        str(1000 + 7 * k)
        if sc.int_cursors
        else "".join(rng.choice(alphabet) for _ in range(rng.randint(4, 12))) + f".{k}"
        for k in range(len(slices))
    ]
    sc.next_path = rng.choice(("next", "links.next"))
    sc.link_form = rng.choice(("absolute", "query", "relative", "rooted"))


def _transient(rng: random.Random, sc: Scenario, stalls_left: list[int]) -> Fault:
    kinds = ["reset", "reset_head", "status", "status", "429", "short"]
    if stalls_left[0] > 0:
        kinds.append("stall")
    kind = rng.choice(kinds)
    if kind == "stall":
        stalls_left[0] -= 1
        sc.timeout = STALL_TIMEOUT
        return Fault("stall", where=rng.choice(("head", "body")))
    if kind == "status":
        return Fault("status", status=rng.choice(RETRY_STATUSES))
    if kind == "429":
        ra = rng.choice((None, "0", "0.01", "0.03"))
        return Fault("429", status=429, retry_after=ra)
    return Fault(kind, cut=rng.uniform(0.05, 0.95))


def _schedule_faults(sc: Scenario, rng: random.Random) -> None:
    attempts = sc.max_attempts
    rate = rng.choice((0.0, 0.1, 0.25, 0.5))
    stalls_left = [MAX_STALLS if rng.random() < 0.1 else 0]
    for k in sc.committed:
        if rng.random() < rate:
            sc.faults[k] = [
                _transient(rng, sc, stalls_left) for _ in range(rng.randint(1, attempts - 1))
            ]
    if not sc.committed or rng.random() >= 0.35:
        return
    # One page that a correct client cannot get past.
    page = rng.choice(sc.committed)
    options = ["exhaust", "long_retry_after", "fatal"]
    if sc.fmt in ("json", "envelope") or sc.page_records(page):
        options.append("truncated")
    if page >= 1:
        options += ["repeat", "repeat"]
    doom = rng.choice(options)
    if doom == "exhaust":
        sc.faults[page] = [_transient(rng, sc, stalls_left) for _ in range(attempts)]
        return
    before = [_transient(rng, sc, stalls_left) for _ in range(rng.randint(0, attempts - 1))]
    if doom == "long_retry_after":
        terminal = Fault("long_retry_after", status=rng.choice((429, 503)), retry_after="30")
    elif doom == "fatal":
        terminal = Fault("fatal", status=rng.choice(FATAL_STATUSES))
    elif doom == "truncated":
        terminal = Fault("truncated", cut=rng.uniform(0.02, 0.98))
    else:
        terminal = Fault("repeat")
    sc.faults[page] = [*before, terminal]


# -- the oracle ----------------------------------------------------------------------------


def expected_outcome(sc: Scenario) -> Expected:
    """What a correct client does with ``sc``: walk the committed pages in order."""
    return walk(sc)[0]


def walk(sc: Scenario) -> tuple[Expected, dict[int, int]]:
    """The outcome, and how many requests each page costs, under the retry budget."""
    budget = sc.max_attempts
    requests: dict[int, int] = {}
    empty_run = 0
    onward = sc.style not in NUMBERED
    for page in sc.committed:
        schedule = iter(sc.faults.get(page, []))
        sent = 0
        for attempt in range(1, budget + 1):
            fault = next(schedule, None)
            sent += 1
            requests[page] = sent
            if fault is None:
                break
            where = {"page": page, "fault": fault, "attempt": attempt}
            if fault.transient:
                if attempt == budget:
                    return Expected("RetryExhausted", **where), requests
                continue
            if fault.kind == "long_retry_after":
                # The last attempt gives up before looking at Retry-After.
                name = "RetryExhausted" if attempt == budget else "RetryAfterTooLong"
                return Expected(name, **where), requests
            if fault.kind == "fatal":  # not retried, raised as it is, whatever came before
                return Expected("HTTPStatusError", **where), requests
            if fault.kind == "truncated":
                return Expected("ResponseDecodeError", **where), requests
            if fault.kind == "repeat":
                # offset/page: a page identical to the previous one is no progress; a client
                # may also re-read and get it right. cursor/link/next_url: a loop.
                # A repeated empty page points at itself, which is how an API says "nothing
                # more" (the read ends there, by the documented rule).
                also_end = onward and not sc.page_records(page - 1)
                expected = Expected(
                    "PaginationLoopError", also_ok=not onward, also_end=also_end, **where
                )
                return expected, requests
            raise AssertionError(f"unknown fault {fault}")
        if onward and page < len(sc.slices) - 1:  # a page that points onward
            empty_run = 0 if sc.page_records(page) else empty_run + 1
            if empty_run > MAX_EMPTY_PAGES:
                why = f"{empty_run} empty pages in a row point onward"
                return Expected("PaginationError", page=page, reason=why), requests
    return Expected(), requests


def read_ahead_bound(sc: Scenario) -> int:
    """The most distinct pages a successful offset/page read of ``sc`` may ask for.

    docs/design.md, "Concurrent page fetch, committed in order, with a slow start": a read of
    *n* pages sends at most n + w(n - 1) - 1 of them, w(k) = min(concurrency,
    2^floor(log2(k/2 + 1))); with a total reported (and honest) exactly n.
    """
    n = len(sc.committed)
    if sc.concurrency == 1 or sc.total:
        return n
    k = n - 1
    return n + min(sc.concurrency, 1 << ((k + 2).bit_length() - 2)) - 1


def worst_case_seconds(sc: Scenario) -> float:
    """An upper bound on the time the faults cost a correct client (waits and stalls)."""
    cost = 0.0
    for faults in sc.faults.values():
        for fault in faults:
            cost += 0.02  # the longest backoff
            if fault.kind == "stall":
                cost += sc.timeout
            elif fault.retry_after and fault.kind == "429":
                cost += float(fault.retry_after)
    return cost
