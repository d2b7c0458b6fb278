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

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from hiveframe.connectors._run import refuse_batch_only
from hiveframe.spark._datasource import FORMAT, HTTPDataSource, session_class, source_class
from hiveframe.spark._plan import partition_params
from hiveframe.spark._write import DeliveryReport, WriteSummary

if TYPE_CHECKING:
    from hiveframe.connectors import HTTPSource

__all__ = [
    "DeliveryReport",
    "FORMAT",
    "HTTPDataSource",
    "WriteSummary",
    "read_source",
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
    ``auth_*_env`` options instead.

    Parameters
    ----------
    source
        The ``HTTPSource``.
    spark
        The ``SparkSession``.
    schema
        A Spark ``StructType`` or DDL string; by default the source's ``schema``, else
        inferred from the first page.
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
        list of parameter objects; a source with ``incremental=`` or ``parent=`` (not
        supported by Spark reads yet).

    Example
    -------
    >>> from hiveframe.connectors import HTTPSource
    >>> src = HTTPSource("https://api.example.com/data", pagination="offset", max_pages=10)
    >>> df = read_source(src, spark)  # doctest: +SKIP
    """
    refuse_batch_only(source.spec, "Spark reads")
    cls = source_class(source.spec, spark.sparkContext.defaultParallelism)
    spark.dataSource.register(cls)
    reader = spark.read.format(cls.name())
    if schema is not None:
        reader = reader.schema(schema)
    if num_partitions is not None:
        reader = reader.option("num_partitions", str(num_partitions))
    if pages_per_partition is not None:
        reader = reader.option("pages_per_partition", str(pages_per_partition))
    if partition_by is not None:
        params = partition_params(partition_by)  # checked here, where the list is
        reader = reader.option("partition_by", orjson.dumps([dict(p) for p in params]).decode())
    return reader.load()


to_spark = read_source
"""The name :func:`read_source` had as the ``HTTPSource.to_spark`` method:
``to_spark(source, spark)``."""
