"""Rate limiter: spacing, burst, pauses after 429, fairness under threads. Fake clock."""

from __future__ import annotations

import threading

import pytest

from hiveframe.errors import ConfigError
from hiveframe.resilience import RateLimiter
from hiveframe.resilience._options import rate_limiter_from_option


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def reserve_many(limiter: RateLimiter, count: int) -> list[float]:
    return [round(limiter.reserve(), 9) for _ in range(count)]


def test_requests_are_spaced_at_the_rate(clock: FakeClock) -> None:
    limiter = RateLimiter(10, clock=clock)
    assert reserve_many(limiter, 5) == [0.0, 0.1, 0.2, 0.3, 0.4]


def test_a_caller_that_waited_its_turn_goes_at_once(clock: FakeClock) -> None:
    limiter = RateLimiter(2, clock=clock)
    assert limiter.reserve() == 0.0
    clock.advance(0.5)
    assert limiter.reserve() == 0.0
    clock.advance(0.2)
    assert limiter.reserve() == pytest.approx(0.3)


def test_burst_goes_at_once_then_spacing(clock: FakeClock) -> None:
    limiter = RateLimiter(1, burst=3, clock=clock)
    assert reserve_many(limiter, 5) == [0.0, 0.0, 0.0, 1.0, 2.0]


def test_burst_refills_while_idle_but_not_beyond(clock: FakeClock) -> None:
    limiter = RateLimiter(1, burst=3, clock=clock)
    reserve_many(limiter, 3)
    clock.advance(1)
    assert reserve_many(limiter, 2) == [0.0, 1.0]
    clock.advance(60)
    assert reserve_many(limiter, 4) == [0.0, 0.0, 0.0, 1.0]


def test_slow_rates(clock: FakeClock) -> None:
    limiter = RateLimiter(0.5, clock=clock)
    assert reserve_many(limiter, 3) == [0.0, 2.0, 4.0]


def test_pause_for_holds_back_every_later_reservation(clock: FakeClock) -> None:
    # A 429 with Retry-After: 5 slows the whole source, then spacing resumes without a burst.
    limiter = RateLimiter(10, burst=5, clock=clock)
    limiter.pause_for(5)
    assert limiter.pause_remaining() == 5.0
    assert reserve_many(limiter, 3) == [5.0, 5.1, 5.2]
    clock.advance(5)
    assert limiter.pause_remaining() == 0.0
    assert reserve_many(limiter, 1) == [0.3]


def test_pauses_never_shorten(clock: FakeClock) -> None:
    limiter = RateLimiter(10, clock=clock)
    limiter.pause_for(5)
    limiter.pause_for(2)
    limiter.pause_until(clock.now - 1)  # already over: no effect
    assert limiter.reserve() == 5.0
    assert limiter.pause_remaining() == 5.0


def test_pause_after_queued_reservations_keeps_their_order(clock: FakeClock) -> None:
    limiter = RateLimiter(1, clock=clock)
    assert reserve_many(limiter, 3) == [0.0, 1.0, 2.0]
    limiter.pause_for(1)  # earlier reservations already run past the pause
    assert limiter.reserve() == 3.0


def test_a_past_or_zero_pause_leaves_the_burst_alone(clock: FakeClock) -> None:
    limiter = RateLimiter(1, burst=3, clock=clock)
    limiter.pause_for(0)
    limiter.pause_for(-4)
    assert reserve_many(limiter, 3) == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_pause_needs_a_finite_time(clock: FakeClock, bad: float) -> None:
    limiter = RateLimiter(1, clock=clock)
    with pytest.raises(ValueError, match="finite"):
        limiter.pause_until(bad)
    with pytest.raises(ValueError, match="finite"):
        limiter.pause_for(bad)


def test_concurrent_reservations_queue_up_fairly(clock: FakeClock) -> None:
    limiter = RateLimiter(10, clock=clock)
    waits: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(10)

    def request() -> None:
        barrier.wait(5)
        wait = limiter.reserve()
        with lock:
            waits.append(round(wait, 9))

    threads = [threading.Thread(target=request) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert sorted(waits) == [round(i / 10, 9) for i in range(10)]


def test_many_threads_never_share_a_slot(clock: FakeClock) -> None:
    limiter = RateLimiter(1000, burst=4, clock=clock)
    waits: list[float] = []
    lock = threading.Lock()

    def request() -> None:
        for _ in range(250):
            wait = limiter.reserve()
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(waits) == 2000
    assert sorted(round(w * 1000) for w in waits) == [0, 0, 0, *range(2000 - 3)]


@pytest.mark.parametrize("rate", [0, -1, 0.0, float("nan"), float("inf"), True, "5"])
def test_bad_rate_is_a_config_error(rate: object) -> None:
    with pytest.raises(ConfigError) as info:
        RateLimiter(rate)  # type: ignore[arg-type]
    assert info.value.option == "rate_limit"


@pytest.mark.parametrize("burst", [0, -2, 1.5, True])
def test_bad_burst_is_a_config_error(burst: object) -> None:
    with pytest.raises(ConfigError) as info:
        RateLimiter(5, burst=burst)  # type: ignore[arg-type]
    assert info.value.option == "burst"


def test_properties_and_repr() -> None:
    limiter = RateLimiter(2.5, burst=4)
    assert (limiter.rate, limiter.burst) == (2.5, 4)
    assert repr(limiter) == "<RateLimiter rate=2.5/s burst=4>"


def test_rate_limiter_from_option() -> None:
    shared = RateLimiter(3)
    assert rate_limiter_from_option(None) is None
    assert rate_limiter_from_option(shared) is shared
    built = rate_limiter_from_option(4)
    assert built is not None
    assert (built.rate, built.burst) == (4.0, 1)


@pytest.mark.parametrize("value", ["10", True, [5], 0, -3])
def test_rate_limiter_from_option_rejects_bad_values(value: object) -> None:
    with pytest.raises(ConfigError) as info:
        rate_limiter_from_option(value)  # type: ignore[arg-type]
    assert info.value.option == "rate_limit"
