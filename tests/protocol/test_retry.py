"""Retry decisions (docs/reliability.md tests 1-5): backoff, Retry-After, budgets. Pure."""

from __future__ import annotations

import dataclasses
import random

import pytest

import hiveframe.resilience as resilience
from hiveframe._validate import NOT_GIVEN
from hiveframe.errors import ConfigError, RetryAfterTooLong
from hiveframe.resilience import DEFAULT_RETRY, RetryConfig
from hiveframe.resilience._options import retry_from_option
from hiveframe.resilience._retry import RetryState


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def run_failing_request(
    policy: RetryConfig,
    *,
    clock: FakeClock,
    rng: random.Random | None = None,
    retry_after: float | None = None,
    attempt_seconds: float = 0.0,
) -> tuple[int, list[float]]:
    """Drive a request that always fails the way an HTTP driver would; return attempts, waits."""
    state = policy.start(clock=clock, rng=rng)
    waits: list[float] = []
    while True:
        state.record_attempt()
        clock.advance(attempt_seconds)
        delay = state.next_delay(retry_after=retry_after)
        if delay is None:
            return state.attempts, waits
        waits.append(delay)
        clock.advance(delay)


# -- configuration ------------------------------------------------------------------------------


def test_defaults_are_the_documented_ones() -> None:
    policy = RetryConfig()
    assert policy.max_attempts == 5
    assert policy.initial_delay_seconds == 0.5
    assert policy.multiplier == 2.0
    assert policy.max_delay_seconds == 30.0
    assert policy.jitter is True
    assert policy.retry_statuses == {408, 425, 429, 500, 502, 503, 504}
    assert policy.respect_retry_after is True
    assert policy.max_retry_after_seconds == 60.0
    assert policy.retry_methods == {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}
    assert policy.retry_non_idempotent is False
    assert policy.total_timeout_seconds == 60.0
    assert policy == DEFAULT_RETRY


def test_config_is_frozen_and_keyword_only() -> None:
    policy = RetryConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.max_attempts = 9  # type: ignore[misc]
    with pytest.raises(TypeError):
        RetryConfig(3)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("max_attempts", 0),
        ("max_attempts", 2.5),
        ("max_attempts", True),
        ("initial_delay_seconds", -1),
        ("initial_delay_seconds", float("nan")),
        ("multiplier", 0.5),
        ("multiplier", float("inf")),
        ("max_delay_seconds", float("inf")),
        ("max_delay_seconds", "30"),
        ("jitter", "yes"),
        ("retry_statuses", {200, 99}),
        ("retry_statuses", "500"),
        ("retry_statuses", {True}),
        ("retry_statuses", [[500]]),
        ("retry_methods", {""}),
        ("retry_methods", "GET"),
        ("max_retry_after_seconds", -5),
        ("respect_retry_after", 1),
        ("retry_non_idempotent", None),
        ("total_timeout_seconds", 0),
        ("total_timeout_seconds", -1.0),
    ],
)
def test_bad_values_fail_at_construction_naming_the_option(option: str, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        RetryConfig(**{option: value})  # type: ignore[arg-type]
    assert info.value.option == option
    assert isinstance(info.value, ValueError)


def test_sets_are_normalized() -> None:
    policy = RetryConfig(retry_statuses=[503, 503], retry_methods={"get", " Post "})  # type: ignore[arg-type]
    assert policy.retry_statuses == frozenset({503})
    assert isinstance(policy.retry_statuses, frozenset)
    assert policy.retry_methods == frozenset({"GET", "POST"})
    assert hash(policy) == hash(RetryConfig(retry_statuses={503}, retry_methods={"POST", "GET"}))


def test_unbounded_total_time_is_allowed() -> None:
    state = RetryConfig(total_timeout_seconds=None).start(clock=FakeClock())
    assert state.deadline_remaining() is None


# -- classification -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "get", "HEAD", "PUT", "DELETE", "OPTIONS"])
def test_idempotent_methods_are_retried(method: str) -> None:
    assert RetryConfig().allows_method(method)


@pytest.mark.parametrize("method", ["POST", "PATCH", "post"])
def test_non_idempotent_methods_need_a_key_or_an_opt_in(method: str) -> None:
    assert not RetryConfig().allows_method(method)
    assert RetryConfig().allows_method(method, idempotency_key=True)
    assert RetryConfig(retry_non_idempotent=True).allows_method(method)


def test_retry_methods_can_be_narrowed() -> None:
    policy = RetryConfig(retry_methods={"GET"})
    assert policy.allows_method("GET")
    assert not policy.allows_method("PUT")


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retriable(status: int) -> None:
    assert RetryConfig().is_retriable_status(status)


@pytest.mark.parametrize("status", [200, 400, 401, 403, 404, 422, 501])
def test_permanent_statuses_are_not_retriable(status: int) -> None:
    assert not RetryConfig().is_retriable_status(status)


# -- backoff ------------------------------------------------------------------------------------


def test_backoff_without_jitter_is_exactly_the_capped_exponential() -> None:
    policy = RetryConfig(max_attempts=9, jitter=False, total_timeout_seconds=None)
    attempts, waits = run_failing_request(policy, clock=FakeClock())
    assert attempts == 9
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_full_jitter_stays_within_the_bound_of_each_retry() -> None:
    policy = RetryConfig(max_attempts=8, total_timeout_seconds=None)
    rng = random.Random(1234)
    for _ in range(200):
        _, waits = run_failing_request(policy, clock=FakeClock(), rng=rng)
        for retry, wait in enumerate(waits, start=1):
            assert 0.0 <= wait <= min(30.0, 0.5 * 2 ** (retry - 1))


def test_jitter_spreads_the_waits() -> None:
    policy = RetryConfig(max_attempts=2, total_timeout_seconds=None)
    rng = random.Random(7)
    firsts = {run_failing_request(policy, clock=FakeClock(), rng=rng)[1][0] for _ in range(50)}
    assert len(firsts) == 50
    assert min(firsts) < 0.1 and max(firsts) > 0.4


def test_seeded_rng_makes_jitter_reproducible() -> None:
    policy = RetryConfig(total_timeout_seconds=None)
    first = run_failing_request(policy, clock=FakeClock(), rng=random.Random(42))
    second = run_failing_request(policy, clock=FakeClock(), rng=random.Random(42))
    assert len(first[1]) == 4  # four jittered waits, not an empty list twice
    assert first == second


def test_default_rng_is_used_when_none_is_given() -> None:
    _, waits = run_failing_request(RetryConfig(), clock=FakeClock())
    assert len(waits) == 4
    assert all(0 <= w <= 30 for w in waits)


def test_a_huge_attempt_number_does_not_overflow() -> None:
    policy = RetryConfig()
    assert policy.backoff_bound(5000) == 30.0
    assert RetryConfig(initial_delay_seconds=0).backoff_bound(5000) == 0.0
    assert policy.backoff_bound(1) == 0.5


# -- exhaustion and budget ----------------------------------------------------------------------


@pytest.mark.parametrize("max_attempts", [1, 2, 5, 6])
def test_gives_up_after_exactly_max_attempts(max_attempts: int) -> None:
    policy = RetryConfig(max_attempts=max_attempts, total_timeout_seconds=None)
    attempts, waits = run_failing_request(policy, clock=FakeClock(), rng=random.Random(0))
    assert attempts == max_attempts
    assert len(waits) == max_attempts - 1


def test_one_attempt_means_no_retry() -> None:
    state = RetryConfig(max_attempts=1).start(clock=FakeClock())
    state.record_attempt()
    assert state.next_delay() is None
    assert state.next_delay(retry_after=1.0) is None


def test_bounded_backoff_then_exhaustion() -> None:
    # docs/reliability.md test 3: always 500; max_attempts=6, total_timeout=20 s, seeded RNG.
    clock = FakeClock()
    start = clock.now
    policy = RetryConfig(max_attempts=6, total_timeout_seconds=20)
    attempts, waits = run_failing_request(policy, clock=clock, rng=random.Random(3))
    assert attempts <= 6
    assert clock.now - start <= 20
    for retry, wait in enumerate(waits, start=1):
        assert 0 <= wait <= min(30.0, 0.5 * 2 ** (retry - 1))
    assert attempts == 6  # the waits sum to at most 15.5 s: the budget is not what stops it


def test_gives_up_when_the_wait_would_pass_the_total_budget() -> None:
    clock = FakeClock()
    policy = RetryConfig(max_attempts=10, jitter=False, total_timeout_seconds=5)
    attempts, waits = run_failing_request(policy, clock=clock)
    # 0.5 + 1 + 2 = 3.5 s spent; the next wait (4 s) would pass the 5 s budget.
    assert waits == [0.5, 1.0, 2.0]
    assert attempts == 4


def test_time_spent_in_attempts_counts_against_the_budget() -> None:
    clock = FakeClock()
    policy = RetryConfig(max_attempts=10, jitter=False, total_timeout_seconds=10)
    attempts, waits = run_failing_request(policy, clock=clock, attempt_seconds=3.0)
    # attempt 1 ends at 3 (wait 0.5), attempt 2 ends at 6.5 (wait 1), attempt 3 ends at 10.5.
    assert waits == [0.5, 1.0]
    assert attempts == 3


def test_jitter_is_trimmed_to_the_budget_instead_of_giving_up() -> None:
    clock = FakeClock()
    state = RetryConfig(max_attempts=10, total_timeout_seconds=5).start(
        clock=clock, rng=random.Random(5)
    )
    state.record_attempt()
    clock.advance(4.9)
    for _ in range(100):
        delay = state.next_delay()
        assert delay is not None
        assert 0 <= delay <= 0.1 + 1e-9


def test_no_retry_once_the_budget_is_spent() -> None:
    clock = FakeClock()
    state = RetryConfig(total_timeout_seconds=5).start(clock=clock)
    state.record_attempt()
    clock.advance(5)
    assert state.deadline_remaining() == 0.0
    assert state.next_delay() is None


def test_deadline_remaining_counts_down_and_never_goes_negative() -> None:
    clock = FakeClock()
    state = RetryConfig(total_timeout_seconds=60).start(clock=clock)
    assert state.deadline_remaining() == 60
    clock.advance(15)
    assert state.deadline_remaining() == 45
    clock.advance(100)
    assert state.deadline_remaining() == 0.0


# -- Retry-After --------------------------------------------------------------------------------


def test_retry_after_floor_without_jitter() -> None:
    # docs/reliability.md test 1: 503 with Retry-After: 2 three times, then 200.
    clock = FakeClock()
    state = RetryConfig(jitter=False).start(clock=clock)
    waits = []
    for _ in range(3):
        state.record_attempt()
        delay = state.next_delay(retry_after=2.0)
        assert delay is not None
        waits.append(delay)
        clock.advance(delay)
    state.record_attempt()  # the 200
    assert waits == [2.0, 2.0, 2.0]
    assert state.attempts == 4


def test_jitter_only_adds_above_the_retry_after_floor() -> None:
    policy = RetryConfig(max_attempts=6, total_timeout_seconds=None)
    rng = random.Random(99)
    for _ in range(100):
        _, waits = run_failing_request(policy, clock=FakeClock(), rng=rng, retry_after=2.0)
        assert len(waits) == 5
        for retry, wait in enumerate(waits, start=1):
            assert 2.0 <= wait <= 2.0 + min(30.0, 0.5 * 2 ** (retry - 1))


def test_retry_after_above_the_backoff_is_honoured() -> None:
    state = RetryConfig(jitter=False).start(clock=FakeClock())
    state.record_attempt()
    assert state.next_delay(retry_after=45.0) == 45.0


def test_retry_after_in_the_past_waits_nothing_more_than_backoff() -> None:
    state = RetryConfig(jitter=False).start(clock=FakeClock())
    state.record_attempt()
    assert state.next_delay(retry_after=0.0) == 0.0
    assert state.next_delay(retry_after=-3.0) == 0.0
    jittered = RetryConfig().start(clock=FakeClock(), rng=random.Random(1))
    jittered.record_attempt()
    delay = jittered.next_delay(retry_after=0.0)
    assert delay is not None
    assert 0.0 <= delay <= 0.5


def test_retry_after_too_long_raises_at_once() -> None:
    state = RetryConfig(max_retry_after_seconds=60).start(clock=FakeClock())
    state.record_attempt()
    with pytest.raises(RetryAfterTooLong) as info:
        state.next_delay(retry_after=86400.0)
    assert info.value.seconds == 86400.0
    assert info.value.limit == 60.0


def test_retry_after_at_the_cap_is_accepted() -> None:
    state = RetryConfig(jitter=False, max_retry_after_seconds=60).start(clock=FakeClock())
    state.record_attempt()
    assert state.next_delay(retry_after=60.0) == 60.0


def test_exhaustion_wins_over_a_too_long_retry_after() -> None:
    state = RetryConfig(max_attempts=1).start(clock=FakeClock())
    state.record_attempt()
    assert state.next_delay(retry_after=86400.0) is None


def test_retry_after_is_ignored_when_not_respected() -> None:
    state = RetryConfig(jitter=False, respect_retry_after=False).start(clock=FakeClock())
    state.record_attempt()
    assert state.next_delay(retry_after=86400.0) == 0.5


def test_nan_retry_after_falls_back_to_backoff() -> None:
    state = RetryConfig(jitter=False).start(clock=FakeClock())
    state.record_attempt()
    assert state.next_delay(retry_after=float("nan")) == 0.5


def test_retry_after_beyond_the_budget_gives_up() -> None:
    clock = FakeClock()
    state = RetryConfig(total_timeout_seconds=60).start(clock=clock, rng=random.Random(2))
    state.record_attempt()
    clock.advance(30)
    assert state.next_delay(retry_after=45.0) is None
    delay = state.next_delay(retry_after=29.0)
    assert delay is not None
    assert 29.0 <= delay <= 30.0


# -- option helper and namespace ----------------------------------------------------------------


def test_retry_from_option() -> None:
    custom = RetryConfig(max_attempts=2)
    assert retry_from_option() is DEFAULT_RETRY
    assert retry_from_option(NOT_GIVEN) is DEFAULT_RETRY
    assert retry_from_option(custom) is custom
    no_retry = retry_from_option(None)
    assert no_retry.max_attempts == 1


@pytest.mark.parametrize("value", [3, "default", {"max_attempts": 3}, True])
def test_retry_from_option_rejects_other_values(value: object) -> None:
    with pytest.raises(ConfigError) as info:
        retry_from_option(value)  # type: ignore[arg-type]
    assert info.value.option == "retry"


def test_start_returns_a_fresh_state() -> None:
    state = RetryConfig().start(clock=FakeClock())
    assert isinstance(state, RetryState)
    assert state.attempts == 0
    assert state.config == RetryConfig()


def test_public_namespace_is_what_users_construct() -> None:
    # The option helpers, RetryState and Permit are the session's business, not the user's.
    assert resilience.__all__ == [
        "BreakerStats",
        "CircuitBreaker",
        "DEFAULT_RETRY",
        "RateLimiter",
        "RetryConfig",
    ]
    for name in resilience.__all__:
        assert hasattr(resilience, name)
