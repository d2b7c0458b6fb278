"""What a Spark task needs to read: a picklable description, and the live parts built from it.

A query plan is pickled and shipped to executors, so it may hold only plain data: the
:class:`~hiveframe._http.reader.ReadPlan`, the auth configuration (an OAuth2 token cache is
never pickled, see ``OAuth2ClientCredentials.__getstate__``) and settings. Live parts
(connection pools, circuit breakers, rate limiters, all holding locks) are built inside
each task from those settings.

Two ways in:

* :class:`OptionsRef`: the data source's string options, kept as given. Each process
  turns them into an ``HTTPSource`` itself, so ``*_env`` references are read where the
  request is made and the secret never enters the plan.
* :class:`SourceSpec`: the parts of an ``HTTPSource`` object the user built in Python
  (:func:`hiveframe.spark.read_source`); its auth travels inside the plan.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa

from hiveframe._http.auth import Auth
from hiveframe._http.clock import SYSTEM_CLOCK
from hiveframe._http.reader import ReadPlan
from hiveframe._http.session import Session, SessionConfig
from hiveframe._secrets import REDACTED, Secret
from hiveframe.resilience import CircuitBreaker, RateLimiter
from hiveframe.spark._options import SPARK_REDACTION, check_env_names, sink_kwargs, source_kwargs

# Option names whose values HiveFrame holds as secrets: those Spark masks by default.
_REDACTED = re.compile(SPARK_REDACTION)

# Auth objects per process, keyed by a digest of their options: a Python worker runs many
# tasks one after another, and they share one OAuth2 token instead of fetching one each.
_SHARED_AUTH: dict[str, Auth] = {}


@dataclass(frozen=True)
class SourceSpec:
    """Everything a task needs to read pages, with no live client inside.

    Parameters
    ----------
    plan
        What to read and how to decode it.
    auth
        The credentials (shipped to executors inside the plan).
    session_config
        Transport settings, without circuit breaker and rate limiter.
    breaker
        Keyword arguments of the :class:`CircuitBreaker` each task builds, or None.
    rate_limit
        ``(requests per second, burst)`` of each task's :class:`RateLimiter`, or None.
    deadline_seconds
        Deadline of one task's whole read.
    stream_kind
        ``"poll"``, ``"sse"`` or None, as ``HTTPSource.stream_kind``.
    """

    plan: ReadPlan
    auth: Auth | None
    session_config: SessionConfig
    breaker: Mapping[str, Any] | None = None
    rate_limit: tuple[float, int] | None = None
    deadline_seconds: float | None = None
    stream_kind: str | None = None

    @classmethod
    def of(cls, source: Any) -> SourceSpec:
        """The picklable parts of an ``HTTPSource``."""
        config: SessionConfig = source.session_config
        breaker, limiter = config.circuit_breaker, config.rate_limiter
        return cls(
            plan=source.plan,
            auth=source.auth,
            session_config=replace(config, circuit_breaker=None, rate_limiter=None),
            breaker=breaker.options() if breaker is not None else None,
            rate_limit=_task_rate(limiter),
            deadline_seconds=source.deadline_seconds,
            stream_kind=getattr(source, "stream_kind", None),
        )

    def with_schema(self, schema: pa.Schema | None) -> SourceSpec:
        """The same source, decoding every page into ``schema``."""
        return replace(self, plan=replace(self.plan, schema=schema))

    def session(self) -> Session:
        """A new session with this task's own breaker and rate limiter."""
        config = self.session_config
        if self.breaker is not None:
            config = replace(config, circuit_breaker=CircuitBreaker(**self.breaker))
        if self.rate_limit is not None:
            rate, burst = self.rate_limit
            config = replace(config, rate_limiter=RateLimiter(rate, burst=burst))
        return Session(config, auth=self.auth, credential_url=self.plan.url, clock=SYSTEM_CLOCK)

    def __repr__(self) -> str:
        return f"SourceSpec(url={self.plan.url!r}, auth={self.auth!r})"


def _task_rate(limiter: RateLimiter | None) -> tuple[float, int] | None:
    # A limiter that only follows the server's quota has nothing to share out: each task's
    # session follows the quota headers its own responses carry.
    if limiter is None or limiter.rate is None:
        return None
    return limiter.rate, limiter.burst


class OptionsRef:
    """Spark options kept as given; :meth:`resolve` builds the source where it runs.

    Values of options whose names match Spark's default redaction regex are held as
    :class:`~hiveframe._secrets.Secret`, so ``repr`` never shows them.

    Parameters
    ----------
    options
        The data source's options.
    redaction
        The session's ``spark.redaction.regex`` (None: Spark's default), which the
        variables named by ``*_env`` options must match.

    Raises
    ------
    hiveframe.errors.ConfigError
        An ``*_env`` option names a variable Spark would not redact.
    """

    def __init__(self, options: Mapping[str, str], *, redaction: str | None = None) -> None:
        self._options: dict[str, str | Secret] = {
            k.lower(): Secret(v) if _REDACTED.search(k) else v for k, v in options.items()
        }
        check_env_names(self.plain(), redaction)

    def plain(self) -> dict[str, str]:
        """The options with secrets revealed, for the option parser."""
        return {k: v.reveal() if isinstance(v, Secret) else v for k, v in self._options.items()}

    def get(self, name: str) -> str | None:
        value = self._options.get(name)
        return value.reveal() if isinstance(value, Secret) else value

    def resolve(self) -> SourceSpec:
        """Parse and validate the options into a :class:`SourceSpec` (HTTPSource's checks).

        Raises
        ------
        hiveframe.errors.ConfigError
            Naming the bad option.
        """
        return SourceSpec.of(self.http_source())

    def http_source(self, schema: pa.Schema | None = None) -> Any:
        """The ``HTTPSource`` the options describe (HTTPSource's checks), with ``schema``.

        Raises
        ------
        hiveframe.errors.ConfigError
            Naming the bad option.
        """
        from hiveframe.connectors import HTTPSource

        options = self.plain()
        kwargs = source_kwargs(options)
        source = HTTPSource(kwargs.pop("url"), schema=schema, **kwargs)
        source.auth = _shared(options, source.auth)
        return source

    def sink(self, *, dead_letter: Path | None = None) -> Any:
        """Parse and validate the options into an ``HTTPSink`` (HTTPSink's checks).

        Raises
        ------
        hiveframe.errors.ConfigError
            Naming the bad option.
        """
        from hiveframe.connectors import HTTPSink

        options = self.plain()
        kwargs = sink_kwargs(options)
        sink = HTTPSink(kwargs.pop("url"), dead_letter=dead_letter, **kwargs)
        sink.auth = _shared(options, sink.auth)
        return sink

    def __repr__(self) -> str:
        shown = {
            k: REDACTED if isinstance(v, Secret) else v for k, v in sorted(self._options.items())
        }
        return f"OptionsRef({shown})"


def _shared(options: Mapping[str, str], auth: Auth | None) -> Auth | None:
    return None if auth is None else _SHARED_AUTH.setdefault(_auth_key(options), auth)


def _auth_key(options: Mapping[str, str]) -> str:
    # url is part of the key: credentials belong to one origin.
    items = sorted(
        (k, v) for k, v in options.items() if k.startswith("auth_") or k in ("url", "path")
    )
    return hashlib.sha256(repr(items).encode()).hexdigest()
