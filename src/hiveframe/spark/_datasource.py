"""The ``hiveframe.http`` Python data source: Spark's entry point into HiveFrame.

Spark creates a :class:`HTTPDataSource` from the user's options in a Python worker, asks it
for a schema, pickles it, and later asks it for readers and writers in other workers. It
stays thin: options go to the one option parser (:mod:`hiveframe.spark._options`), reading
to :mod:`hiveframe.spark._read`.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import pyarrow as pa
from pyspark.sql.datasource import DataSource

from hiveframe.errors import ConfigError
from hiveframe.spark._children import check_layout, first_child_table, read_parents
from hiveframe.spark._options import parse_count, parse_json, parse_seconds
from hiveframe.spark._plan import DEFAULT_PARALLELISM, Layout, PageCount, partition_params
from hiveframe.spark._read import (
    HTTPReader,
    SourceRef,
    Survey,
    fetch_first_page,
    resolve,
    survey,
    with_params,
)
from hiveframe.spark._schema import arrow_schema, spark_schema
from hiveframe.spark._source import OptionsRef, SourceSpec
from hiveframe.spark._state import cursor_spec, saved_state
from hiveframe.spark._stream import HTTPStreamReader, first_event_schema
from hiveframe.spark._write import HTTPWriter

T = TypeVar("T")

FORMAT = "hiveframe.http"
"""The data source's name: ``spark.read.format("hiveframe.http")``."""

_SSE_IS_A_STREAM = "an event stream never ends: read it with spark.readStream and the options"
_names = itertools.count(1)
_names_lock = threading.Lock()


class HTTPDataSource(DataSource):
    """Read from and write to HTTP APIs with Spark, using HiveFrame's options.

    Register it with :func:`hiveframe.spark.register`, then use the format
    ``"hiveframe.http"``; the options are those of
    :class:`~hiveframe.connectors.HTTPSource` as strings (see ``docs/spark.md``).
    """

    _format: ClassVar[str] = FORMAT
    _spec: ClassVar[SourceSpec | None] = None  # set on the per-source classes of read_source
    _redaction: ClassVar[str | None] = None  # the session's spark.redaction.regex (register)
    _parallelism: ClassVar[int | None] = None  # the session's defaultParallelism (register)
    _run_folder: ClassVar[str | None] = None  # where an incremental read's tasks report

    @classmethod
    def name(cls) -> str:
        return cls._format

    # -- reads ---------------------------------------------------------------------------------

    def schema(self) -> Any:
        """The ``schema`` option, the source's Arrow schema, or one inferred from page 0."""
        ddl = self.options.get("schema")
        if ddl:
            return ddl
        source = self._source()
        spec = resolve(source)
        if spec.plan.schema is not None:
            return spark_schema(spec.plan.schema)
        if spec.stream_kind == "sse":
            if not isinstance(source, OptionsRef):
                raise ConfigError("stream_type", "sse", _SSE_IS_A_STREAM)
            return spark_schema(first_event_schema(source.http_source()))
        layout = self._layout()
        if spec.fanout is not None:
            check_layout(layout)
            parents = read_parents(spec)
            # Pickled with this object, for reader(): the parents are not read again.
            self._survey = Survey(PageCount(None, known=False), parents=parents)
            table = first_child_table(spec, parents)
            return spark_schema(table.schema if table is not None else pa.schema([]))
        if self._run_folder is not None and spec.incremental is not None:
            spec = cursor_spec(spec, saved_state(spec))
        by = layout.partition_by
        first = fetch_first_page(with_params(spec, by[0]) if by else spec)
        # Pickled with this object, for reader(): the plan and its first page, not refetched.
        self._survey = survey(spec, layout, first)
        return spark_schema(first.fetched.table.schema)

    def reader(self, schema: Any) -> HTTPReader:
        source = self._source()
        spec = resolve(source)  # validate the options on the driver, before any task starts
        if spec.stream_kind == "sse":
            raise ConfigError("stream_type", "sse", _SSE_IS_A_STREAM)
        return HTTPReader(
            source,
            arrow_schema(schema),
            layout=self._layout(),
            survey=getattr(self, "_survey", None),
            run_folder=self._run_folder,
        )

    def simpleStreamReader(self, schema: Any) -> HTTPStreamReader:
        """A stream reader for ``spark.readStream`` (polling and SSE sources).

        Raises
        ------
        ConfigError
            The source does not stream (no ``poll_interval_seconds``, no ``stream_type``).
        """
        source = self._source()
        if not isinstance(source, OptionsRef):
            raise ConfigError("source", "HTTPSource", "streams need the hiveframe.http format")
        if resolve(source).stream_kind is None:
            raise ConfigError(
                "poll_interval_seconds",
                None,
                "readStream needs a streaming source: set poll_interval_seconds or stream_type",
            )
        return HTTPStreamReader(
            source,
            arrow_schema(schema),
            max_records_per_batch=self._option("max_records_per_batch", parse_count),
            replay_timeout_seconds=self._option("replay_timeout_seconds", parse_seconds),
        )

    # -- writes --------------------------------------------------------------------------------

    def writer(self, schema: Any, overwrite: bool) -> HTTPWriter:
        """A writer sending each partition through an ``HTTPSink`` (append only).

        Raises
        ------
        ConfigError
            ``mode("overwrite")`` (an API cannot be overwritten), or a bad option.
        """
        if overwrite:
            raise ConfigError("mode", "overwrite", "an HTTP sink can only append: use 'append'")
        # Checks the options, here on the driver.
        return HTTPWriter(self._options_ref(), tasks_at_once=self._tasks_at_once())

    # -- helpers -------------------------------------------------------------------------------

    def _source(self) -> SourceRef:
        if self._spec is not None:
            return self._spec
        return self._options_ref()

    def _options_ref(self) -> OptionsRef:
        return OptionsRef(self.options, redaction=self._redaction)

    def _layout(self) -> Layout:
        by = self.options.get("partition_by")
        return Layout(
            num_partitions=self._option("num_partitions", parse_count),
            pages_per_partition=self._option("pages_per_partition", parse_count),
            partition_by=None if by is None else partition_params(parse_json("partition_by", by)),
            parallelism=self._tasks_at_once(),
        )

    def _tasks_at_once(self) -> int:
        return self._parallelism or DEFAULT_PARALLELISM

    def _option(self, name: str, parse: Callable[[str, str], T]) -> T | None:
        text = self.options.get(name)
        return None if text is None else parse(name, text)


def session_class(redaction: str | None, parallelism: int | None) -> type[HTTPDataSource]:
    """The format's class for one session: ``*_env`` names are checked against its regex.

    Pickled by value into Spark's plans, as the classes of :func:`source_class` are.

    Parameters
    ----------
    redaction
        The session's ``spark.redaction.regex``, or None when it keeps Spark's default.
    parallelism
        The session's ``defaultParallelism`` (tasks at once), which sizes the plans and
        shares the rate limits; None: :data:`~hiveframe.spark._plan.DEFAULT_PARALLELISM`.
    """
    attributes = {"_redaction": redaction, "_parallelism": parallelism, "__module__": __name__}
    return type("SessionHTTPDataSource", (HTTPDataSource,), attributes)


def source_class(
    spec: SourceSpec, parallelism: int | None, run_folder: str | None = None
) -> type[HTTPDataSource]:
    """A data source class bound to one ``HTTPSource``, under a name of its own.

    The class (with the spec) is pickled by value into Spark's plan, so no option has to
    carry a pickled object (an option that unpickles would run code chosen by whoever can
    set options, SQL users included). ``parallelism`` as for :func:`session_class`;
    ``run_folder``: where the tasks of an incremental read report
    (:func:`hiveframe.spark.read_then_commit`).
    """
    with _names_lock:
        number = next(_names)
    attributes = {
        "_format": f"{FORMAT}.source{number}",
        "_spec": spec,
        "_parallelism": parallelism,
        "_run_folder": run_folder,
        "__module__": __name__,
    }
    return type("HTTPSourceDataSource", (HTTPDataSource,), attributes)
