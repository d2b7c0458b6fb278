"""Resilience policies: retries, a circuit breaker and a rate limiter.

They know nothing of HTTP and never sleep. They answer "retry, after how long?", "may a
call go out now?" and "how long until the next request may be sent?"; the HTTP layer maps
responses onto those questions and does the waiting. Time is injected everywhere
(``clock=``, and ``rng=`` for jitter), so tests run on a fake clock.

Example
-------
>>> from hiveframe.resilience import CircuitBreaker, RateLimiter, RetryConfig
>>> retry = RetryConfig(max_attempts=4, total_timeout_seconds=30)
>>> breaker = CircuitBreaker(failure_threshold=5, name="orders-api")
>>> limiter = RateLimiter(5, burst=2)
"""

from hiveframe.resilience._breaker import BreakerStats, CircuitBreaker
from hiveframe.resilience._ratelimit import RateLimiter
from hiveframe.resilience._retry import DEFAULT_RETRY, RetryConfig

__all__ = [
    "BreakerStats",
    "CircuitBreaker",
    "DEFAULT_RETRY",
    "RateLimiter",
    "RetryConfig",
]
