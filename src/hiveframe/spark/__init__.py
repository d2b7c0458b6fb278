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

from typing import Any

from hiveframe.spark._datasource import FORMAT, HTTPDataSource, session_class, source_class
from hiveframe.spark._source import SourceSpec
from hiveframe.spark._write import DeliveryReport, WriteSummary

__all__ = [
    "DeliveryReport",
    "FORMAT",
    "HTTPDataSource",
    "WriteSummary",
    "read_source",
    "register",
]


def register(spark: Any) -> None:
    """Register the ``hiveframe.http`` data source with a SparkSession.

    The session's ``spark.redaction.regex`` goes with it: an ``auth_*_env`` option naming a
    variable that Spark would not redact is refused (see ``docs/spark.md``).

    Parameters
    ----------
    spark
        A ``pyspark.sql.SparkSession`` (PySpark 4 or later).

    Example
    -------
    >>> register(spark)  # doctest: +SKIP
    >>> spark.read.format("hiveframe.http").load("https://api.example.com/data")  # doctest: +SKIP
    """
    spark.dataSource.register(session_class(spark.conf.get("spark.redaction.regex", None)))


def read_source(
    source: Any, spark: Any, *, schema: Any = None, num_partitions: int | None = None
) -> Any:
    """Read an :class:`~hiveframe.connectors.HTTPSource` with Spark, as a Spark DataFrame.

    Pages are planned and fetched as with the ``hiveframe.http`` format. The source's
    parser, auth and policies travel to the executors inside Spark's plan (a circuit
    breaker or rate limiter is rebuilt in each task from its settings); to keep secrets out
    of the plan, use the format with ``auth_*_env`` options instead.

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
        The most Spark partitions a planned read uses (default: one per page, at most 200).

    Returns
    -------
    pyspark.sql.DataFrame

    Raises
    ------
    hiveframe.errors.ConfigError
        ``num_partitions`` is below 1.

    Example
    -------
    >>> from hiveframe.connectors import HTTPSource
    >>> src = HTTPSource("https://api.example.com/data", pagination="offset", max_pages=10)
    >>> df = read_source(src, spark)  # doctest: +SKIP
    """
    cls = source_class(SourceSpec.of(source))
    spark.dataSource.register(cls)
    reader = spark.read.format(cls.name())
    if schema is not None:
        reader = reader.schema(schema)
    if num_partitions is not None:
        reader = reader.option("num_partitions", str(num_partitions))
    return reader.load()
