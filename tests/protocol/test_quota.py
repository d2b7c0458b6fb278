"""The limiter keeps to the server's quota: estimates, windows, spreading, the wait cap.

On a fake clock; the quota comes in as response headers through ``RateLimiter.observe``.
"""

from __future__ import annotations

import pytest

from hiveframe.errors import ConfigError, RateLimitWaitTooLong
from hiveframe.resilience import RateLimiter


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def quota(remaining: int, reset: int, *, limit: int = 10, window: int = 10) -> dict[str, str]:
    return {
        "RateLimit": f'"default";r={remaining};t={reset}',
        "RateLimit-Policy": f'"default";q={limit};w={window}',
    }


def test_without_quota_headers_nothing_waits():
    limiter = RateLimiter(clock=FakeClock())
    for _ in range(50):
        assert limiter.reserve() == 0.0
        limiter.observe({"Content-Type": "application/json"})


def test_no_request_is_left_so_the_next_waits_for_the_reset():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    limiter.reserve()
    limiter.observe(quota(0, 7))
    assert limiter.reserve() == 7.0


def test_requests_in_flight_are_taken_as_counted():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    waits = [limiter.reserve() for _ in range(4)]  # four out, nothing known yet
    assert waits == [0.0] * 4
    limiter.observe(quota(5, 10, limit=6))  # three still out: two may go
    assert [limiter.reserve() for _ in range(2)] == [0.0, pytest.approx(5.0)]
    assert limiter.reserve() == 10.0  # the window is used up


def test_half_the_budget_goes_at_once_and_the_rest_is_spread_until_the_reset():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    limiter.reserve()
    limiter.observe(quota(8, 8, limit=9, window=8))
    waits = [limiter.reserve() for _ in range(9)]
    # 4 at once (remaining 8..5 > 9 // 2); then 4, 3, 2, 1 left over the 8 s to the reset
    assert waits == [0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 4.0, 6.0, 8.0]


def test_answers_out_of_order_never_raise_the_estimate_within_a_window():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    limiter.reserve()
    limiter.reserve()
    limiter.observe(quota(1, 10))  # one still out: none left
    limiter.observe(quota(6, 10))  # the other, answered earlier, arrives late with more
    assert limiter.reserve() == 10.0


def test_an_answer_from_the_window_before_changes_nothing_one_from_the_next_counts():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    limiter.reserve()
    limiter.reserve()
    limiter.observe(quota(0, 2))  # window 1 is used up until 102; one request still out
    assert limiter.reserve() == 2.0  # placed in window 2, [102, 112)
    clock.now = 103.0
    limiter.observe(quota(0, 0))  # the request still out from window 1
    assert limiter.reserve() == 0.0
    limiter.observe(quota(0, 9))  # from window 2: nothing left there
    assert limiter.reserve() == 9.0


def test_the_window_after_the_reset_starts_with_what_was_sent_near_the_reset_counted():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    limiter.reserve()
    limiter.observe(quota(2, 10, limit=3), round_trip=0.5)  # margin: 1 s + 2 x 0.5 s
    clock.now = 109.0  # within the margin before the reset at 110
    assert limiter.reserve() == 0.0
    limiter.observe(None)
    assert limiter.reserve() == 0.0
    limiter.observe(None)
    # both may land in the next window: it has one request left, then 110 + 10 = 120
    assert limiter.reserve() == 1.0
    assert limiter.reserve() == 11.0


def test_a_reset_hours_away_raises_at_once_and_takes_no_slot():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    limiter.reserve()
    limiter.observe(
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1800010800"}, wall_time=1_800_000_000
    )
    with pytest.raises(RateLimitWaitTooLong) as info:
        limiter.reserve()
    assert info.value.seconds == 10_800 and info.value.limit == 300
    assert "server's quota" in str(info.value) and "max_wait_seconds=300" in str(info.value)
    patient = RateLimiter(clock=clock, max_wait_seconds=None)
    patient.reserve()
    patient.observe(
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1800010800"}, wall_time=1_800_000_000
    )
    assert patient.reserve() == 10_800


def test_a_fixed_rate_too_slow_for_the_queue_raises_too():
    limiter = RateLimiter(0.01, clock=FakeClock(), max_wait_seconds=250)
    assert [limiter.reserve() for _ in range(3)] == [0.0, 100.0, 200.0]
    with pytest.raises(RateLimitWaitTooLong) as info:
        limiter.reserve()
    assert "at this rate" in str(info.value)


def test_a_fixed_rate_and_the_quota_both_apply():
    clock = FakeClock()
    limiter = RateLimiter(1, clock=clock)
    limiter.reserve()
    limiter.observe(quota(1, 5, limit=2))
    assert limiter.reserve() == 1.0  # the rate's slot; the quota has one left
    assert limiter.reserve() == 5.0  # the quota's reset


@pytest.mark.parametrize("value", [0, -1, float("nan"), "60", True])
def test_max_wait_seconds_is_checked(value):
    with pytest.raises(ConfigError) as info:
        RateLimiter(max_wait_seconds=value)
    assert info.value.option == "max_wait_seconds"


def test_repr_says_what_limits():
    assert repr(RateLimiter()) == "<RateLimiter server quota only>"
    assert repr(RateLimiter(5, burst=2)) == "<RateLimiter rate=5/s burst=2>"
