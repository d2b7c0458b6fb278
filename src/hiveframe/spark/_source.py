"""What a Spark task reads from: a source's spec, or the options that resolve to one.

A query plan is pickled and shipped to executors, so it holds a
:class:`~hiveframe.connectors._spec.SourceSpec` (plain data: the read plan, the auth
configuration, whose OAuth2 token cache is never pickled, and the settings of the breaker
and rate limiter) and each task opens its own session from it (``spec.session()``, with a
breaker and limiter of its own). Two ways in:

* :class:`OptionsRef`: the data source's string options, kept as given. Each process
  turns them into a spec itself, so ``*_env`` references are read where the request is made
  and the secret never enters the plan.
* a ``SourceSpec``: the spec of an ``HTTPSource`` object the user built in Python
  (:func:`hiveframe.spark.read_source`); its auth travels inside the plan.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from hiveframe._http.auth import Auth
from hiveframe._secrets import REDACTED, Secret
from hiveframe.connectors._spec import SourceSpec
from hiveframe.errors import ConfigError
from hiveframe.spark._options import SPARK_REDACTION, check_env_names, sink_kwargs, source_kwargs

if TYPE_CHECKING:
    from hiveframe.connectors import HTTPSink, HTTPSource

__all__ = ["OptionsRef", "SourceSpec"]

# Option names whose values HiveFrame holds as secrets: those Spark masks by default.
_REDACTED = re.compile(SPARK_REDACTION)

# Auth objects per process, keyed by a digest of their options: a Python worker runs many
# tasks one after another, and they share one OAuth2 token instead of fetching one each.
_SHARED_AUTH: dict[str, Auth] = {}


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
        return self.http_source().spec

    def http_source(self, schema: pa.Schema | None = None) -> HTTPSource:
        """The ``HTTPSource`` the options describe (HTTPSource's checks), with ``schema``.

        Raises
        ------
        hiveframe.errors.ConfigError
            Naming the bad option.
        """
        from hiveframe.connectors import HTTPSource

        options = self.plain()
        kwargs = source_kwargs(options)
        try:
            source = HTTPSource(kwargs.pop("url"), schema=schema, **kwargs)
        except ConfigError as exc:  # parent.fields is the parent_fields option here
            option = exc.option.replace("parent.", "parent_")
            raise ConfigError(option, exc.value, exc.reason) from None
        source.spec = replace(source.spec, auth=_shared(options, source.spec.auth))
        return source

    def sink(self, *, dead_letter: Path | None = None) -> HTTPSink:
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
        sink.spec = replace(sink.spec, auth=_shared(options, sink.spec.auth))
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
