"""Seeded chaos: paginated reads under mixed faults return every record or the right error.

``docs/reliability.md``, test 50 (chaos seeds). Each seed builds a scenario
(:mod:`chaos_scenario`): a collection of random size (0 and exact multiples of the page size
included) in one pagination style and one format, and a per-request fault schedule (resets
mid-body, 5xx, 429 with Retry-After, truncated and short bodies, stalls past the timeout,
empty middle pages, repeated pages). One loopback server (:mod:`chaos_server`) serves every
seed, each read under its own path prefix. The oracle: a read returns exactly the
collection's records (sorted ids and full payloads compared), or raises the typed
``HiveFrameError`` the schedule calls for, at the page it calls for; never a hang (each read
runs with ``deadline_seconds`` and under a watchdog thread), never a short or long read,
never an untyped exception. Some seeds read with ``iter_batches()`` (and check that it equals
``read()``), some with ``aread()``.

Run more seeds, or one::

    HIVEFRAME_CHAOS_SEEDS=5000 .venv/bin/python -m pytest tests/chaos
    HIVEFRAME_CHAOS_SEED=123 .venv/bin/python -m pytest tests/chaos
    HIVEFRAME_CHAOS_FIRST_SEED=10000 HIVEFRAME_CHAOS_SEEDS=1000 \
        .venv/bin/python -m pytest tests/chaos

A failure names the seed, the scenario, the fault schedule, the server's log of the run and
the command that replays it.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from chaos_scenario import (
    DEADLINE,
    FORMATS,
    MAX_EMPTY_PAGES,
    MAX_RETRY_AFTER,
    NUMBERED,
    STYLES,
    Expected,
    Fault,
    Scenario,
    build_scenario,
    expected_outcome,
    read_ahead_bound,
    worst_case_seconds,
)
from chaos_server import ChaosServer, Run, describe_requests

from hiveframe import errors
from hiveframe._protocol.data_path import DataPath
from hiveframe._protocol.decode import decode_body
from hiveframe.connectors import (
    CursorPagination,
    HTTPSource,
    NextUrlPagination,
    OffsetPagination,
    PagePagination,
)
from hiveframe.resilience import RetryConfig

DEFAULT_SEEDS = 300
WATCHDOG = DEADLINE + 4.0  # seconds; a read still running then is a hang


def _seeds() -> list[int]:
    chosen = os.environ.get("HIVEFRAME_CHAOS_SEED")
    if chosen:
        return [int(s) for s in chosen.replace(",", " ").split()]
    count = int(os.environ.get("HIVEFRAME_CHAOS_SEEDS", str(DEFAULT_SEEDS)))
    first = int(os.environ.get("HIVEFRAME_CHAOS_FIRST_SEED", "0"))
    return list(range(first, first + count))


SEEDS = _seeds()
_runs = itertools.count()


@pytest.fixture(scope="module")
def server() -> Iterator[ChaosServer]:
    with ChaosServer() as chaos:
        yield chaos
    # Errors no run can own are bugs of the chaos server itself.
    assert not [what for run, what in chaos.errors if run is None], chaos.errors


# -- the client ----------------------------------------------------------------------------


def make_source(sc: Scenario, url: str) -> HTTPSource:
    ps = sc.page_size
    pagination: Any
    if sc.style == "offset":
        pagination = OffsetPagination(page_size=ps, total_path=sc.total)
    elif sc.style == "page":
        pagination = PagePagination(
            page_size=ps,
            total_path="total" if sc.total == "total" else None,
            total_pages_path="total_pages" if sc.total == "total_pages" else None,
        )
    elif sc.style == "cursor":
        in_header = sc.cursor_in == "header"
        pagination = CursorPagination(
            page_size=ps,
            size_param="limit",
            cursor_header="X-Next-Cursor" if in_header else None,
            cursor_path=None if in_header else sc.cursor_path,
        )
    elif sc.style == "next_url":
        pagination = NextUrlPagination(page_size=ps, size_param="limit", next_url_path=sc.next_path)
    else:
        pagination = "link"
    fmt = {"envelope": "json"}.get(sc.fmt, sc.fmt)
    return HTTPSource(
        url,
        pagination=pagination,
        page_size=ps if sc.style == "link" else None,
        response_format=fmt if sc.explicit_format else None,
        data_path=sc.data_path,
        concurrency=sc.concurrency,
        timeout_seconds=sc.timeout,
        deadline_seconds=DEADLINE,
        retry=RetryConfig(
            max_attempts=sc.max_attempts,
            initial_delay_seconds=0.002,
            max_delay_seconds=0.02,
            jitter=sc.jitter,
            max_retry_after_seconds=MAX_RETRY_AFTER,
        ),
    )


@dataclass
class Outcome:
    run: str
    mode: str
    rows: list[dict] | None = None
    error: BaseException | None = None
    hung: bool = False
    seconds: float = 0.0


def read_once(server: ChaosServer, sc: Scenario, mode: str) -> Outcome:
    """One read of ``sc`` in ``mode`` under a fresh run, bounded by the watchdog."""
    run = f"{sc.seed}-{mode}-{next(_runs)}"
    source = make_source(sc, server.url(run))
    read: Callable[[], list[dict]]
    if mode == "read":

        def read() -> list[dict]:
            return source.read().to_arrow().to_pylist()

    elif mode == "iter":

        def read() -> list[dict]:
            return [row for batch in source.iter_batches() for row in batch.to_pylist()]

    else:

        def read() -> list[dict]:
            async def aread() -> list[dict]:
                return (await source.aread()).to_arrow().to_pylist()

            return asyncio.run(aread())

    outcome = Outcome(run, mode)
    started = time.monotonic()

    def target() -> None:
        try:
            outcome.rows = read()
        except BaseException as exc:  # reported by the oracle, typed or not
            outcome.error = exc

    worker = threading.Thread(target=target, name=f"chaos-{run}", daemon=True)
    worker.start()
    worker.join(WATCHDOG)
    outcome.hung = worker.is_alive()
    outcome.seconds = time.monotonic() - started
    return outcome


# -- the oracle ----------------------------------------------------------------------------

_CAUSES = {
    "reset": errors.ReadError,
    "reset_head": errors.ReadError,
    "short": errors.ReadError,
    "stall": errors.TimeoutException,
}


def problems_with(sc: Scenario, expected: Expected, outcome: Outcome) -> list[str]:
    """What is wrong with ``outcome``; empty when it is right."""
    if outcome.hung:
        return [f"{outcome.mode}: no answer within {WATCHDOG:g}s: a hang"]
    if outcome.error is not None:
        return _error_problems(sc, expected, outcome.error, outcome.mode)
    assert outcome.rows is not None
    problems = _row_problems(sc.records, outcome.rows)
    if expected.error is not None and expected.also_end:
        before = [r for k in range(expected.page or 0) for r in sc.page_records(k)]
        if not _row_problems(before, outcome.rows):
            return []
    if expected.error is not None and not expected.also_ok:
        what = "exactly the records" if not problems else "; ".join(problems)
        return [f"{outcome.mode}: expected {expected.describe()}, got no error: {what}"]
    return [f"{outcome.mode}: {p}" for p in problems]


def _row_problems(records: list[dict], rows: list[dict]) -> list[str]:
    want = {r["id"]: r for r in records}
    counts = Counter(row.get("id") for row in rows)
    missing = sorted(set(want) - set(counts))
    doubled = sorted(i for i, c in counts.items() if c > 1)
    unknown = sorted((i for i in counts if i not in want), key=repr)
    problems = []
    if missing:
        problems.append(f"silent short read: {len(missing)} records missing, ids {_ids(missing)}")
    if doubled:
        problems.append(f"silent long read: ids read more than once {_ids(doubled)}")
    if unknown:
        problems.append(f"records that do not exist: ids {_ids(unknown)}")
    for row in rows:
        record = want.get(row.get("id"))
        if record is not None and row != record:
            problems.append(f"record {row.get('id')} differs: got {row!r}, want {record!r}")
            break
    return problems


def _ids(ids: list) -> str:
    return repr(ids) if len(ids) <= 12 else f"{ids[:12]!r}... ({len(ids)})"


def _error_problems(sc: Scenario, expected: Expected, error: BaseException, mode: str) -> list[str]:
    got = f"{type(error).__module__}.{type(error).__name__}: {error}"
    if not isinstance(error, errors.HiveFrameError):
        return [f"{mode}: untyped exception {got}"]
    if expected.error is None:
        return [f"{mode}: expected {expected.describe()}, got {got}"]
    if type(error).__name__ not in (expected.error, *expected.also):
        return [f"{mode}: expected {expected.describe()}, got {got}"]
    fault = expected.fault
    page = getattr(error, "page", None)
    if fault is None:  # decided by the pages themselves, not by a fault
        if page != expected.page:
            return [f"{mode}: {got}: names page {page}, expected page {expected.page}"]
        return []
    if isinstance(error, errors.RetryExhausted):
        cause = error.__cause__
        page = getattr(cause, "page", None)
        want = _CAUSES.get(fault.kind, errors.HTTPStatusError)
        if not isinstance(cause, want):
            return [f"{mode}: {got}: its cause should be a {want.__name__}, is {cause!r}"]
        if isinstance(cause, errors.HTTPStatusError) and cause.status != fault.status:
            return [f"{mode}: {got}: cause status {cause.status}, the server sent {fault.status}"]
        if error.attempts != expected.attempt:
            return [f"{mode}: {got}: {error.attempts} attempts, expected {expected.attempt}"]
    elif isinstance(error, errors.HTTPStatusError) and error.status != fault.status:
        return [f"{mode}: {got}: status {error.status}, the server sent {fault.status}"]
    if isinstance(error, errors.RetryAfterTooLong) and error.seconds != float(fault.retry_after):
        return [f"{mode}: {got}: asked for {error.seconds}s, the server said {fault.retry_after}"]
    if page is not None and page != expected.page:
        return [f"{mode}: {got}: names page {page}, the fault was on page {expected.page}"]
    return []


def _budget_problems(sc: Scenario, log: list[str]) -> list[str]:
    """No page is asked for more often than the retry budget allows."""
    attempts: Counter = Counter()
    for line in log:
        if line.startswith("page "):
            attempts[int(line.split()[1])] += 1
    repeated = {k for k, fs in sc.faults.items() if any(f.kind == "repeat" for f in fs)}
    return [
        f"page {k} was requested {n} times; max_attempts={sc.max_attempts}"
        for k, n in sorted(attempts.items())
        if n > sc.max_attempts and k not in repeated
    ]


def hints(sc: Scenario, expected: Expected) -> list[str]:
    """What in the scenario a failure may come from, for the report."""
    found = []
    empty = sc.empty_middle_pages()
    if empty and (expected.error is None or empty[0] < (expected.page or 0)):
        found.append(
            f"empty pages that point onward at {empty}: the read must follow them "
            f"(up to max_empty_pages={MAX_EMPTY_PAGES} in a row)"
        )
    if sc.style in NUMBERED and expected.error == "PaginationLoopError":
        found.append("a full page repeating the one before must raise PaginationLoopError")
    return found


def _read_ahead_problems(sc: Scenario, outcome: Outcome, log: list[str]) -> list[str]:
    """A successful offset/page read asks for no more pages than the slow start allows."""
    if sc.style not in NUMBERED or outcome.rows is None:
        return []
    pages = {int(line.split()[1]) for line in log if line.startswith("page ")}
    bound = read_ahead_bound(sc)
    if len(pages) <= bound:
        return []
    return [
        f"{outcome.mode}: read ahead too far: {len(pages)} pages asked for in a read of "
        f"{len(sc.committed)} pages (documented bound {bound}); pages {sorted(pages)}"
    ]


def _report(sc: Scenario, expected: Expected, outcomes: list[Outcome], problems: list[str]) -> str:
    lines = [f"chaos seed {sc.seed}:", *(f"  {p}" for p in problems)]
    lines.append(f"  expected: {expected.describe()}")
    lines += [f"  hint: {hint}" for hint in hints(sc, expected)]
    lines.append(f"  scenario: {sc.summary()}")
    lines.append("  faults:   " + ("; ".join(sc.fault_lines()) or "none"))
    lines.append(f"  fault time bound: {worst_case_seconds(sc):.2f}s")
    for outcome in outcomes:
        lines.append(f"  {outcome.mode} took {outcome.seconds:.2f}s")
    lines.append(
        f"  reproduce: HIVEFRAME_CHAOS_SEED={sc.seed} .venv/bin/python -m pytest tests/chaos"
    )
    return "\n".join(lines)


def _clean_answer_retried(sc: Scenario, log: list[str]) -> str:
    """A hint when the client asked again for a page the server had answered cleanly.

    Nothing in a scenario makes a correct client do that, so either the client misread a
    good answer, or it timed out on one (a machine too loaded for ``timeout_seconds``).
    """
    answered: set[int] = set()
    for line in log:
        if not line.startswith("page "):
            continue
        page = int(line.split()[1])
        if page in answered and not any(f.kind == "repeat" for f in sc.faults.get(page, ())):
            return (
                f"\n  note: page {page} was asked for again after a clean answer "
                f"(timeout_seconds={sc.timeout}: a loaded machine, or a misread answer)"
            )
        if line.endswith(": ok"):
            answered.add(page)
    return ""


# -- the tests -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [pytest.param(seed, id=f"seed{seed}") for seed in SEEDS])
def test_chaos_seed(server: ChaosServer, seed: int) -> None:
    sc = build_scenario(seed)
    expected = expected_outcome(sc)
    modes = ["iter", "read"] if sc.mode == "iter" else [sc.mode]
    outcomes = [read_once(server, sc, mode) for mode in modes]
    problems: list[str] = []
    logs = []
    for outcome in outcomes:
        problems += problems_with(sc, expected, outcome)
        log = server.log(outcome.run)
        logs.append((outcome.run, log))
        problems += [f"{outcome.mode}: {p}" for p in _budget_problems(sc, log)]
        problems += _read_ahead_problems(sc, outcome, log)
        server.forget(outcome.run)
    if len(outcomes) == 2 and not problems:
        first, second = outcomes
        if (first.rows is None) != (second.rows is None):
            problems.append("iter_batches() and read() disagree on success")
        elif first.rows is not None and first.rows != second.rows:
            problems.append("iter_batches() concatenated differs from read()")
        elif first.error is not None and type(first.error) is not type(second.error):
            problems.append(f"iter_batches() raised {first.error!r}, read() {second.error!r}")
    runs = {outcome.run for outcome in outcomes}
    problems += [f"chaos server: {what}" for run, what in server.errors if run in runs]
    if problems:
        report = _report(sc, expected, outcomes, problems)
        for run, log in logs:
            report += _clean_answer_retried(sc, log)
            report += f"\n  server log of run {run}:\n{describe_requests(log)}"
        pytest.fail(report, pytrace=False)


def test_the_default_seeds_cover_every_style_format_fault_and_outcome() -> None:
    """The CI seeds are worth running: every combination that matters shows up."""
    scenarios = [build_scenario(seed) for seed in range(DEFAULT_SEEDS)]
    combos = {(sc.style, sc.fmt) for sc in scenarios}
    assert {(s, f) for s in STYLES for f in FORMATS if s != "next_url"} <= combos
    kinds = Counter(f.kind for sc in scenarios for fs in sc.faults.values() for f in fs)
    assert set(kinds) == {
        "reset",
        "reset_head",
        "status",
        "429",
        "short",
        "stall",
        "truncated",
        "long_retry_after",
        "fatal",
        "repeat",
    }, kinds
    outcomes = Counter(expected_outcome(sc).error for sc in scenarios)
    assert outcomes[None] >= DEFAULT_SEEDS // 2, outcomes  # most seeds must read everything
    assert {
        "RetryExhausted",
        "RetryAfterTooLong",
        "HTTPStatusError",
        "ResponseDecodeError",
        "PaginationLoopError",
        "PaginationError",
    } <= set(outcomes)
    assert any(sc.n_records == 0 for sc in scenarios)
    assert any(sc.n_records and sc.n_records % sc.page_size == 0 for sc in scenarios)
    assert any(sc.empty_middle_pages() for sc in scenarios)
    assert {1, 8} <= {sc.concurrency for sc in scenarios if sc.style in NUMBERED}
    assert set(Counter(sc.mode for sc in scenarios)) == {"read", "iter", "aread"}


# -- the server's faults are the faults their names promise --------------------------------


def _probe(
    server: ChaosServer, fault: Fault, *, chunked: bool = False, fmt: str = "json"
) -> tuple[Scenario, bytes, str]:
    """Serve page 0 of a small offset collection with ``fault`` on a raw socket.

    Returns the scenario, what arrived and how the connection ended: ``fin``, ``reset``, or
    ``silence`` (nothing more for half a second, the connection still open).
    """
    sc = next(
        sc
        for sc in map(build_scenario, itertools.count())
        if sc.style == "offset" and sc.fmt == fmt and sc.n_records > sc.page_size and not sc.gzip
    )
    sc.faults, sc.chunked, sc.close_after = {0: [fault]}, chunked, False
    run = f"{sc.seed}-probe-{next(_runs)}"
    server.runs[run] = Run(sc)
    request = f"GET /r/{run}/items?offset=0&limit={sc.page_size} HTTP/1.1\r\nHost: chaos\r\n"
    received = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=0.5) as conn:
        conn.sendall(request.encode() + b"Connection: close\r\n\r\n")
        try:
            while chunk := conn.recv(65536):
                received += chunk
        except ConnectionResetError:
            return sc, received, "reset"
        except TimeoutError:
            return sc, received, "silence"
    return sc, received, "fin"


@pytest.mark.parametrize(
    ("fault", "chunked"),
    [
        (Fault("reset_head"), False),
        (Fault("reset", cut=0.5), False),
        (Fault("reset", cut=0.5), True),
        (Fault("short"), False),
        (Fault("short"), True),
        (Fault("stall", where="head"), False),
        (Fault("stall", where="body"), False),
    ],
    ids=str,
)
def test_the_chaos_server_faults_are_what_their_names_promise(
    server: ChaosServer, fault: Fault, chunked: bool
) -> None:
    _, received, ending = _probe(server, fault, chunked=chunked)
    head, _, body = received.partition(b"\r\n\r\n")
    declared = re.search(rb"Content-Length: (\d+)", head)
    kind = fault.kind
    if kind == "reset_head":
        assert (received, ending) == (b"", "reset")
    elif kind == "reset":
        assert ending == "reset"  # bytes sent before the RST may be dropped with it
    elif kind == "short" and not chunked:
        assert ending == "fin" and declared is not None
        assert len(body) < int(declared.group(1))
    elif kind == "short":
        assert ending == "fin" and b"Transfer-Encoding: chunked" in head
        assert not body.endswith(b"0\r\n\r\n")
    elif kind == "stall":
        assert ending == "silence"
        if fault.where == "head":
            assert received == b""
        else:
            assert declared is not None and len(body) < int(declared.group(1))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("cut", [0.01, 0.5, 0.99])
def test_a_truncated_page_is_complete_on_the_wire_and_cannot_decode(
    server: ChaosServer, fmt: str, cut: float
) -> None:
    sc, received, ending = _probe(server, Fault("truncated", cut=cut), fmt=fmt)
    head, _, body = received.partition(b"\r\n\r\n")
    declared = re.search(rb"Content-Length: (\d+)", head)
    assert ending == "fin" and declared is not None  # complete, then a clean close
    assert len(body) == int(declared.group(1))
    data_path = DataPath(sc.data_path) if sc.data_path else None
    with pytest.raises(errors.ResponseDecodeError):
        decode_body(body, fmt={"envelope": "json"}.get(fmt, fmt), data_path=data_path)
