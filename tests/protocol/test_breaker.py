"""Circuit breaker state machine (docs/reliability.md tests 21-24).

Fake monotonic clock, no real waits except the small concurrency tests.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import threading
import time

import pytest

from hiveframe.errors import CircuitOpenError, ConfigError
from hiveframe.resilience import BreakerStats, CircuitBreaker
from hiveframe.resilience._breaker import Permit


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self, now: float = 500.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Boom(Exception):
    pass


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def state_of(breaker: CircuitBreaker) -> str:
    # A function, not the property inline: mypy would narrow the Literal across mutations.
    return breaker.state


def record(breaker: CircuitBreaker, outcomes: str) -> None:
    """Settle one permit per character: ``s`` success, ``f`` failure, ``r`` release."""
    for outcome in outcomes:
        permit = breaker.acquire()
        {"s": permit.success, "f": permit.failure, "r": permit.release}[outcome]()


def open_breaker(clock: FakeClock, **settings: object) -> CircuitBreaker:
    breaker = CircuitBreaker(failure_threshold=1, clock=clock, **settings)  # type: ignore[arg-type]
    record(breaker, "f")
    assert state_of(breaker) == "open"
    return breaker


# -- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("failure_threshold", 0),
        ("failure_threshold", 1.5),
        ("window_size", 0),
        ("minimum_calls", 0),
        ("minimum_calls", 21),
        ("failure_rate_threshold", 0),
        ("failure_rate_threshold", 1.5),
        ("failure_rate_threshold", 50),
        ("failure_rate_threshold", True),
        ("recovery_timeout_seconds", 0),
        ("recovery_timeout_seconds", float("inf")),
        ("half_open_max_calls", 0),
        ("success_threshold", 2),
        ("max_half_open_seconds", -1),
        ("name", 3),
    ],
)
def test_bad_settings_fail_at_construction_naming_the_option(option: str, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        CircuitBreaker(**{option: value})  # type: ignore[arg-type]
    assert info.value.option == option


def test_starts_closed_with_zero_counters(clock: FakeClock) -> None:
    breaker = CircuitBreaker(name="api", clock=clock)
    assert state_of(breaker) == "closed"
    assert breaker.name == "api"
    assert breaker.stats == BreakerStats(
        state="closed",
        consecutive_failures=0,
        successes=0,
        failures=0,
        rejected=0,
        opened_count=0,
        failure_rate=None,
        window_calls=0,
    )
    assert repr(breaker) == "<CircuitBreaker 'api' closed>"


def test_stats_is_a_frozen_snapshot(clock: FakeClock) -> None:
    breaker = CircuitBreaker(clock=clock)
    snapshot = breaker.stats
    record(breaker, "ff")
    assert snapshot.failures == 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.failures = 3  # type: ignore[misc]


# -- closed -> open -----------------------------------------------------------------------------


def test_opens_after_consecutive_failures(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=5, clock=clock)
    record(breaker, "ffff")
    assert state_of(breaker) == "closed"
    assert breaker.stats.consecutive_failures == 4
    record(breaker, "f")
    assert state_of(breaker) == "open"
    assert breaker.stats.opened_count == 1


def test_a_success_resets_the_consecutive_count(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=3, clock=clock)
    record(breaker, "ffsffsff")
    assert state_of(breaker) == "closed"
    record(breaker, "f")
    assert state_of(breaker) == "open"


def test_releases_do_not_count(clock: FakeClock) -> None:
    # 404, 422 and cancellations are released: they move neither count nor rate.
    breaker = CircuitBreaker(failure_threshold=2, clock=clock)
    record(breaker, "frrrrr")
    stats = breaker.stats
    assert (stats.state, stats.consecutive_failures, stats.window_calls) == ("closed", 1, 1)
    assert (stats.successes, stats.failures) == (0, 1)


def test_rate_mode_stays_closed_below_minimum_calls(clock: FakeClock) -> None:
    # docs/reliability.md test 21 (a): 4 failures in the first 9 calls.
    breaker = CircuitBreaker(
        failure_rate_threshold=0.5, window_size=10, minimum_calls=10, clock=clock
    )
    record(breaker, "fsfsfsfss")
    assert state_of(breaker) == "closed"
    assert breaker.stats.failure_rate is None
    assert breaker.stats.window_calls == 9


@pytest.mark.parametrize("sequence", ["fffffsssss", "sssssfffff", "fsfsfsfsfs"])
def test_rate_mode_opens_at_the_tenth_call(clock: FakeClock, sequence: str) -> None:
    # docs/reliability.md test 21 (b): 5 failures and 5 successes; failure_threshold is not used.
    breaker = CircuitBreaker(
        failure_rate_threshold=0.5, window_size=10, minimum_calls=10, clock=clock
    )
    record(breaker, sequence[:9])
    assert state_of(breaker) == "closed"
    record(breaker, sequence[9])
    assert state_of(breaker) == "open"
    assert breaker.stats.failure_rate == 0.5


def test_rate_mode_window_slides(clock: FakeClock) -> None:
    breaker = CircuitBreaker(
        failure_rate_threshold=0.5, window_size=4, minimum_calls=4, clock=clock
    )
    record(breaker, "fsss" + "s" * 20)
    assert breaker.stats.failure_rate == 0.0
    assert breaker.stats.window_calls == 4
    record(breaker, "f")
    assert state_of(breaker) == "closed"  # 1/4
    record(breaker, "f")
    assert state_of(breaker) == "open"  # 2/4


# -- open ---------------------------------------------------------------------------------------


def test_open_fails_fast_without_calling(clock: FakeClock) -> None:
    # docs/reliability.md test 22: 100 calls during the wait raise, with zero calls made.
    breaker = open_breaker(clock, recovery_timeout_seconds=30)
    opened_at = clock.now
    calls = 0

    def fetch() -> None:
        nonlocal calls
        calls += 1

    for i in range(100):
        clock.advance(0.2)
        with pytest.raises(CircuitOpenError) as info:
            breaker.call(fetch)
        assert info.value.retry_at == opened_at + 30
        assert info.value.retry_in == pytest.approx(30 - 0.2 * (i + 1))
        assert info.value.name == "default"
    assert calls == 0
    assert breaker.stats.rejected == 100


def test_open_error_message_names_the_circuit(clock: FakeClock) -> None:
    breaker = open_breaker(clock, name="orders")
    with pytest.raises(CircuitOpenError, match="'orders' is open"):
        breaker.acquire()


def test_wall_clock_jumps_do_not_matter(monkeypatch: pytest.MonkeyPatch) -> None:
    # The default clock is monotonic: a wall clock one hour ahead does not end the wait.
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout_seconds=30)
    record(breaker, "f")
    real_time = time.time
    for jump in (3600.0, -3600.0):
        monkeypatch.setattr(time, "time", lambda jump=jump: real_time() + jump)
        assert state_of(breaker) == "open"
        with pytest.raises(CircuitOpenError) as info:
            breaker.acquire()
        assert 29 < info.value.retry_in <= 30


def test_late_outcomes_from_before_opening_are_ignored(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=clock)
    slow = breaker.acquire()
    record(breaker, "ff")
    assert state_of(breaker) == "open"
    slow.success()
    assert state_of(breaker) == "open"
    assert breaker.stats.successes == 1  # counted in the totals, but moves no state


# -- half-open ----------------------------------------------------------------------------------


def test_half_open_after_the_recovery_timeout(clock: FakeClock) -> None:
    breaker = open_breaker(clock, recovery_timeout_seconds=30)
    clock.advance(29.999)
    assert state_of(breaker) == "open"
    clock.advance(0.001)
    assert state_of(breaker) == "half_open"


def test_half_open_admits_exactly_the_permitted_probes(clock: FakeClock) -> None:
    breaker = open_breaker(clock, half_open_max_calls=2, recovery_timeout_seconds=30)
    clock.advance(30)
    admitted: list[Permit] = []
    rejected: list[CircuitOpenError] = []
    for _ in range(10):
        try:
            admitted.append(breaker.acquire())
        except CircuitOpenError as exc:
            rejected.append(exc)
    assert (len(admitted), len(rejected)) == (2, 8)
    probe_started = clock.now
    assert all(exc.retry_at == probe_started + 60 for exc in rejected)


def test_half_open_closes_after_success_threshold(clock: FakeClock) -> None:
    breaker = open_breaker(clock, half_open_max_calls=3, success_threshold=2)
    record(breaker, "")
    clock.advance(30)
    first, second = breaker.acquire(), breaker.acquire()
    first.success()
    assert state_of(breaker) == "half_open"
    second.success()
    stats = breaker.stats
    assert stats.state == "closed"
    assert (stats.window_calls, stats.consecutive_failures) == (0, 0)


def test_default_single_probe_closes_on_success(clock: FakeClock) -> None:
    breaker = open_breaker(clock)
    clock.advance(30)
    probe = breaker.acquire()
    with pytest.raises(CircuitOpenError):
        breaker.acquire()
    probe.success()
    assert state_of(breaker) == "closed"
    record(breaker, "s")


def test_a_failed_probe_reopens_with_a_new_retry_at(clock: FakeClock) -> None:
    breaker = open_breaker(clock, recovery_timeout_seconds=30)
    clock.advance(31)
    probe = breaker.acquire()
    clock.advance(2)
    probe.failure()
    assert state_of(breaker) == "open"
    with pytest.raises(CircuitOpenError) as info:
        breaker.acquire()
    assert info.value.retry_at == clock.now + 30
    assert breaker.stats.opened_count == 2


def test_a_hung_probe_reopens_at_its_deadline(clock: FakeClock) -> None:
    # docs/reliability.md test 23 (c), resilience4j#903: the breaker is never wedged.
    breaker = open_breaker(clock, recovery_timeout_seconds=30, max_half_open_seconds=60)
    clock.advance(30)
    hung = breaker.acquire()
    probe_started = clock.now
    clock.advance(59.9)
    assert state_of(breaker) == "half_open"
    clock.advance(0.1)
    assert state_of(breaker) == "open"
    with pytest.raises(CircuitOpenError) as info:
        breaker.acquire()
    assert info.value.retry_at == probe_started + 60 + 30
    clock.advance(30)
    fresh = breaker.acquire()  # half-open again, with a new probe
    hung.success()  # the late outcome of the hung probe is ignored
    assert state_of(breaker) == "half_open"
    fresh.success()
    assert state_of(breaker) == "closed"


def test_a_hung_probe_seen_late_moves_through_every_due_state(clock: FakeClock) -> None:
    breaker = open_breaker(clock, recovery_timeout_seconds=30, max_half_open_seconds=60)
    clock.advance(30)
    hung = breaker.acquire()
    clock.advance(60 + 30 + 5)  # past the reopen deadline and the next recovery timeout
    assert state_of(breaker) == "half_open"
    hung.failure()  # stale: no new opening
    assert state_of(breaker) == "half_open"
    assert breaker.stats.opened_count == 2


def test_half_open_without_callers_waits_for_one(clock: FakeClock) -> None:
    breaker = open_breaker(clock, recovery_timeout_seconds=30, max_half_open_seconds=60)
    clock.advance(1000)
    assert state_of(breaker) == "half_open"
    record(breaker, "s")
    assert state_of(breaker) == "closed"


def test_released_probe_admits_the_next_one(clock: FakeClock) -> None:
    # docs/reliability.md test 23 (d): a cancelled probe is not a failure and frees its slot.
    breaker = open_breaker(clock)
    clock.advance(30)
    cancelled = breaker.acquire()
    with pytest.raises(CircuitOpenError):
        breaker.acquire()
    cancelled.release()
    assert state_of(breaker) == "half_open"
    assert breaker.stats.failures == 1  # only the one that opened it
    breaker.acquire().success()
    assert state_of(breaker) == "closed"


def test_a_permit_settles_once(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, clock=clock)
    permit = breaker.acquire()
    assert not permit.settled
    permit.success()
    permit.failure()
    permit.release()
    assert permit.settled
    stats = breaker.stats
    assert (stats.state, stats.successes, stats.failures) == ("closed", 1, 0)


def test_reset_closes_and_makes_outstanding_permits_stale(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=clock)
    outstanding = breaker.acquire()
    record(breaker, "ff")
    breaker.reset()
    assert breaker.stats == CircuitBreaker(clock=clock).stats
    outstanding.failure()
    assert breaker.stats.consecutive_failures == 0


def test_transitions_are_logged(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="hiveframe.resilience")
    breaker = open_breaker(clock, name="api")
    clock.advance(30)
    breaker.acquire().success()
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "circuit 'api': closed -> open"),
        ("INFO", "circuit 'api': open -> half_open"),
        ("INFO", "circuit 'api': half_open -> closed"),
    ]


# -- guard, call, decorator ---------------------------------------------------------------------


def test_guard_counts_clean_exit_as_success_and_exception_as_failure(clock: FakeClock) -> None:
    breaker = CircuitBreaker(clock=clock)
    with breaker.guard():
        pass
    with pytest.raises(Boom), breaker.guard():
        raise Boom
    stats = breaker.stats
    assert (stats.successes, stats.failures) == (1, 1)


def test_guard_keeps_an_explicit_settlement(clock: FakeClock) -> None:
    breaker = CircuitBreaker(clock=clock)
    with pytest.raises(Boom), breaker.guard() as permit:
        permit.release()  # e.g. a 404 the caller then raises
        raise Boom
    with breaker.guard() as permit:
        permit.failure()
    stats = breaker.stats
    assert (stats.successes, stats.failures, stats.window_calls) == (0, 1, 1)


@pytest.mark.parametrize("cancel", [asyncio.CancelledError, KeyboardInterrupt])
def test_guard_releases_on_cancellation(clock: FakeClock, cancel: type[BaseException]) -> None:
    breaker = open_breaker(clock)
    clock.advance(30)
    with pytest.raises(cancel), breaker.guard():
        raise cancel
    assert state_of(breaker) == "half_open"
    assert breaker.stats.failures == 1
    breaker.acquire()  # the slot is free again


def test_is_failure_decides_which_exceptions_count(clock: FakeClock) -> None:
    breaker = CircuitBreaker(
        failure_threshold=1, clock=clock, is_failure=lambda exc: not isinstance(exc, KeyError)
    )
    with pytest.raises(KeyError), breaker.guard():
        raise KeyError("not found")
    assert state_of(breaker) == "closed"
    with pytest.raises(Boom), breaker.guard():
        raise Boom
    assert state_of(breaker) == "open"


def test_a_broken_is_failure_still_settles_the_permit(clock: FakeClock) -> None:
    def broken(exc: BaseException) -> bool:
        raise RuntimeError("bug in predicate")

    breaker = open_breaker(clock, is_failure=broken)
    clock.advance(30)
    with pytest.raises(RuntimeError, match="predicate"), breaker.guard():
        raise Boom
    breaker.acquire()  # released, not leaked


def test_call_passes_arguments_and_results(clock: FakeClock) -> None:
    breaker = CircuitBreaker(clock=clock)
    assert breaker.call(divmod, 7, 2) == (3, 1)
    assert breaker.call(sorted, [3, 1], reverse=True) == [3, 1]
    assert breaker.stats.successes == 2


def test_decorator_on_a_sync_function(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=clock)
    calls: list[int] = []

    @breaker
    def fetch(page: int, *, fail: bool = False) -> int:
        """Fetch a page."""
        calls.append(page)
        if fail:
            raise Boom
        return page * 10

    assert fetch.__name__ == "fetch"
    assert fetch.__doc__ == "Fetch a page."
    assert fetch(1) == 10
    for page in (2, 3):
        with pytest.raises(Boom):
            fetch(page, fail=True)
    with pytest.raises(CircuitOpenError):
        fetch(4)
    assert calls == [1, 2, 3]


def test_decorator_on_an_async_function(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, clock=clock)

    @breaker
    async def fetch(page: int) -> int:
        await asyncio.sleep(0)
        if page < 0:
            raise Boom
        return page * 10

    assert inspect.iscoroutinefunction(fetch)

    async def main() -> None:
        assert await fetch(2) == 20
        with pytest.raises(Boom):
            await fetch(-1)
        with pytest.raises(CircuitOpenError):
            await fetch(3)

    asyncio.run(main())
    assert breaker.stats.opened_count == 1


def test_acall_releases_a_cancelled_async_probe(clock: FakeClock) -> None:
    breaker = open_breaker(clock)
    clock.advance(30)

    async def hang() -> None:
        await asyncio.Event().wait()

    async def main() -> None:
        task = asyncio.create_task(breaker.acall(hang))
        await asyncio.sleep(0)
        with pytest.raises(CircuitOpenError):
            breaker.acquire()  # the hanging probe holds the only slot
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await breaker.acall(asyncio.sleep, 0, "ok") == "ok"

    asyncio.run(main())
    assert state_of(breaker) == "closed"
    assert breaker.stats.failures == 1


# -- threads ------------------------------------------------------------------------------------


def run_in_threads(count: int, target: object) -> None:
    threads = [threading.Thread(target=target) for _ in range(count)]  # type: ignore[arg-type]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
        assert not thread.is_alive()


def test_counters_are_consistent_under_threads(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=10_000, clock=clock)

    def work() -> None:
        for i in range(500):
            permit = breaker.acquire()
            permit.failure() if i % 2 else permit.success()

    run_in_threads(8, work)
    stats = breaker.stats
    assert (stats.successes, stats.failures) == (2000, 2000)


def test_concurrent_half_open_admits_exactly_the_permits(clock: FakeClock) -> None:
    breaker = open_breaker(clock, half_open_max_calls=2)
    clock.advance(30)
    gate = threading.Event()
    reached, rejected = [], []
    lock = threading.Lock()

    def server_call() -> None:
        with lock:
            reached.append(1)
        gate.wait(5)

    def caller() -> None:
        try:
            breaker.call(server_call)
        except CircuitOpenError:
            with lock:
                rejected.append(1)
            if len(rejected) == 8:
                gate.set()

    run_in_threads(10, caller)
    assert (len(reached), len(rejected)) == (2, 8)
    assert state_of(breaker) == "closed"


def test_the_breaker_never_serializes_calls() -> None:
    # docs/reliability.md test 24, pybreaker#3: calls run concurrently through a closed breaker. All
    # 20 calls meet at a barrier *inside* the protected call, which only opens when every
    # call is in flight at once: a breaker holding a lock around the call would break it.
    breaker = CircuitBreaker()
    inside = threading.Barrier(20, timeout=10)

    run_in_threads(20, lambda: breaker.call(inside.wait))

    assert not inside.broken
    assert breaker.stats.successes == 20


def test_options_build_a_fresh_breaker_with_the_same_settings() -> None:
    def counts(exc: BaseException) -> bool:
        return not isinstance(exc, KeyError)

    original = CircuitBreaker(failure_threshold=2, name="orders", is_failure=counts)
    permit = original.acquire()
    permit.failure()
    copy = CircuitBreaker(**original.options())
    assert copy.options() == original.options()
    assert copy.stats.failures == 0  # settings travel, state does not
