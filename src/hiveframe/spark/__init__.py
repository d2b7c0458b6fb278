"""Run HiveFrame's HTTP reads, streams and writes on Apache Spark (PySpark 4 data sources).

:func:`register` adds the ``hiveframe.http`` format: ``spark.read`` plans page ranges
over the executors, ``spark.readStream`` follows a polling or SSE source with Spark's
offsets being HiveFrame positions, and ``df.write`` sends each partition through an
``HTTPSink``. Needs the ``spark`` extra: ``pip install 'hiveframe[spark]'`` (and Java 17).

Example
-------
>>> from hiveframe.spark import register
>>> register(spark)  # doctest: +SKIP
>>> df = (spark.read.format("hiveframe.http")  # doctest: +SKIP
...       .options(url="https://api.example.com/items", pagination="offset",
...                pagination_total_path="total", data_path="items")
...       .load())
"""

from __future__ import annotations

from hiveframe.errors import MissingExtraError

try:
    import pyspark.sql.datasource  # noqa: F401
except ModuleNotFoundError as exc:  # no PySpark, or one older than 4 (no data sources)
    raise MissingExtraError(
        "hiveframe.spark (PySpark 4)", extra="spark", missing=exc.name
    ) from None

import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import orjson

from hiveframe.errors import ConfigError
from hiveframe.spark._datasource import FORMAT, HTTPDataSource, session_class, source_class
from hiveframe.spark._plan import partition_params
from hiveframe.spark._state import absolute_paths, commit, saved_state, state_file
from hiveframe.spark._write import DeliveryReport, WriteSummary

if TYPE_CHECKING:
    from hiveframe.connectors import HTTPSource
    from hiveframe.connectors._spec import SourceSpec

__all__ = [
    "DeliveryReport",
    "FORMAT",
    "HTTPDataSource",
    "WriteSummary",
    "read_source",
    "read_then_commit",
    "register",
    "to_spark",
]


def register(spark: Any) -> None:
    """Register the ``hiveframe.http`` data source with a SparkSession.

    The session's ``spark.redaction.regex`` goes with it: an ``auth_*_env`` option naming a
    variable that Spark would not redact is refused (see ``docs/spark.md``). So does its
    ``defaultParallelism`` as it is now (the tasks Spark runs at once), which sizes planned
    reads and shares ``rate_limit`` between tasks: register again after the cluster grows.

    Parameters
    ----------
    spark
        A ``pyspark.sql.SparkSession`` (PySpark 4 or later).

    Example
    -------
    >>> register(spark)  # doctest: +SKIP
    >>> spark.read.format("hiveframe.http").load("https://api.example.com/data")  # doctest: +SKIP
    """
    redaction = spark.conf.get("spark.redaction.regex", None)
    spark.dataSource.register(session_class(redaction, spark.sparkContext.defaultParallelism))


def read_source(
    source: HTTPSource,
    spark: Any,
    *,
    schema: Any = None,
    num_partitions: int | None = None,
    pages_per_partition: int | None = None,
    partition_by: Sequence[Mapping[str, Any]] | None = None,
) -> Any:
    """Read an :class:`~hiveframe.connectors.HTTPSource` with Spark, as a Spark DataFrame.

    Pages are planned and fetched as with the ``hiveframe.http`` format. The source's
    parser, auth and policies travel to the executors inside Spark's plan (a circuit
    breaker or rate limiter is rebuilt in each task from its settings, the rate shared by
    the tasks that run at once); to keep secrets out of the plan, use the format with
    ``auth_*_env`` options instead. A child source (``parent=``) is read parents first, on
    the driver, then its children in groups of parents, one group per task.

    Parameters
    ----------
    source
        The ``HTTPSource``.
    spark
        The ``SparkSession``.
    schema
        A Spark ``StructType`` or DDL string; by default the source's ``schema``, else
        inferred from the first page (of the first children, for a child source).
    num_partitions
        The most Spark partitions a planned read uses (default: two per task Spark runs at
        once, ``defaultParallelism``; one per task with a ``rate_limit``).
    pages_per_partition
        Instead of ``num_partitions``: the pages of each partition.
    partition_by
        One partition per set of query parameters, each a whole paginated read of its own
        (``[{"since": "2024-01"}, {"since": "2024-02"}]``): how cursor and link APIs fan out.

    Returns
    -------
    pyspark.sql.DataFrame

    Raises
    ------
    hiveframe.errors.ConfigError
        A count below 1, two ways of splitting at once, or a ``partition_by`` that is not a
        list of parameter objects; a source with ``incremental=`` (or a parent with one):
        read it with :func:`read_then_commit`, which saves its state.

    Example
    -------
    >>> from hiveframe.connectors import HTTPSource
    >>> src = HTTPSource("https://api.example.com/data", pagination="offset", max_pages=10)
    >>> df = read_source(src, spark)  # doctest: +SKIP
    """
    if state_file(source.spec) is not None:
        reason = (
            "a Spark read saves its state only through "
            "hiveframe.spark.read_then_commit(source, spark)"
        )
        raise ConfigError("incremental", source.spec.redacted_url, reason)
    split = _Split(schema, num_partitions, pages_per_partition, partition_by)
    return _load(absolute_paths(source.spec), spark, split, None)


@contextmanager
def read_then_commit(
    source: HTTPSource,
    spark: Any,
    *,
    schema: Any = None,
    num_partitions: int | None = None,
    pages_per_partition: int | None = None,
    partition_by: Sequence[Mapping[str, Any]] | None = None,
) -> Iterator[Any]:
    """Read an incremental source with Spark; save its state when the block ends cleanly.

    The source is read once, when the block starts, into a ``localCheckpoint()`` of the
    read: every action in the block uses those rows, and the state saved is the state they
    reach. Each task writes how far it got beside the state file (the folder must be
    reachable from the driver and every executor); the driver joins those reports into
    the state file once the ``with`` block ends without an error, and not otherwise.

    Parameters
    ----------
    source
        An ``HTTPSource`` with ``incremental=``, or a child source whose parent has one.
    spark, schema, num_partitions, pages_per_partition, partition_by
        As for :func:`read_source`.

    Yields
    ------
    pyspark.sql.DataFrame
        The records the read delivered (each record once across runs).

    Raises
    ------
    hiveframe.errors.ConfigError
        The source has no incremental cursor (use :func:`read_source`), or as for
        :func:`read_source`.
    RuntimeError
        At the end of the block: some partition of the read never reported (nothing is
        saved).

    Example
    -------
    >>> with read_then_commit(orders, spark) as df:  # doctest: +SKIP
    ...     df.write.mode("append").parquet("lake/orders")
    """
    # Spark's Python workers run in folders of their own: every path they use is absolute.
    spec = absolute_paths(source.spec)
    state = state_file(spec)
    if state is None:
        reason = "read_then_commit reads an incremental source: use read_source"
        raise ConfigError("incremental", None, reason)
    saved = saved_state(spec) if spec.incremental is not None else None
    folder = state.parent / f".{state.name}.spark-{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    try:
        split = _Split(schema, num_partitions, pages_per_partition, partition_by)
        frame = _load(spec, spark, split, str(folder)).localCheckpoint(eager=True)
        yield frame
        commit(spec, folder, saved)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class _Split:
    """How :func:`read_source` and :func:`read_then_commit` were asked to split a read."""

    def __init__(
        self,
        schema: Any,
        num_partitions: int | None,
        pages_per_partition: int | None,
        partition_by: Sequence[Mapping[str, Any]] | None,
    ) -> None:
        self.options: dict[str, str] = {}
        self.schema = schema
        if num_partitions is not None:
            self.options["num_partitions"] = str(num_partitions)
        if pages_per_partition is not None:
            self.options["pages_per_partition"] = str(pages_per_partition)
        if partition_by is not None:
            params = partition_params(partition_by)  # checked here, where the list is
            self.options["partition_by"] = orjson.dumps([dict(p) for p in params]).decode()


def _load(spec: SourceSpec, spark: Any, split: _Split, run_folder: str | None) -> Any:
    cls = source_class(spec, spark.sparkContext.defaultParallelism, run_folder)
    spark.dataSource.register(cls)
    reader = spark.read.format(cls.name())
    if split.schema is not None:
        reader = reader.schema(split.schema)
    return reader.options(**split.options).load()


to_spark = read_source
"""The name :func:`read_source` had as the ``HTTPSource.to_spark`` method:
``to_spark(source, spark)``."""
