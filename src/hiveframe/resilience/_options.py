"""The ``retry=``, ``circuit_breaker=`` and ``rate_limit=`` options of sources and sinks,
turned into the policy objects the session uses."""

from __future__ import annotations

from typing import Final

from hiveframe._validate import NOT_GIVEN, _NotGiven
from hiveframe.errors import ConfigError
from hiveframe.resilience._breaker import CircuitBreaker
from hiveframe.resilience._ratelimit import RateLimiter
from hiveframe.resilience._retry import DEFAULT_RETRY, RetryConfig

_NO_RETRY: Final = RetryConfig(max_attempts=1)


def retry_from_option(value: RetryConfig | _NotGiven | None = NOT_GIVEN) -> RetryConfig:
    """Turn a user's ``retry=`` option into a policy.

    Parameters
    ----------
    value
        Not given: :data:`~hiveframe.resilience.DEFAULT_RETRY`. ``None``: no retries (one
        attempt). A :class:`~hiveframe.resilience.RetryConfig`: itself.

    Raises
    ------
    ConfigError
        ``value`` is anything else (``option="retry"``).
    """
    if value is NOT_GIVEN:
        return DEFAULT_RETRY
    if value is None:
        return _NO_RETRY
    if isinstance(value, RetryConfig):
        return value
    raise ConfigError("retry", value, "expected a RetryConfig, or None for no retries")


def breaker_from_option(value: object) -> CircuitBreaker | None:
    """The ``circuit_breaker=`` option: a :class:`~hiveframe.resilience.CircuitBreaker`
    (shared as is) or ``None``."""
    if value is not None and not isinstance(value, CircuitBreaker):
        raise ConfigError("circuit_breaker", value, "a hiveframe.resilience.CircuitBreaker")
    return value


def rate_limiter_from_option(value: float | RateLimiter | None) -> RateLimiter | None:
    """Turn a user's ``rate_limit=`` option into a limiter.

    Parameters
    ----------
    value
        ``None``: no limit. A number: requests per second, burst 1. A
        :class:`~hiveframe.resilience.RateLimiter`: itself, so several sources and sinks
        can share one.

    Raises
    ------
    ConfigError
        ``value`` is anything else, or not a positive number (``option="rate_limit"``).
    """
    if value is None or isinstance(value, RateLimiter):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(
            "rate_limit", value, "expected requests per second, a RateLimiter, or None"
        )
    return RateLimiter(value)
