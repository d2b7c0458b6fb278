"""Batch reads on a real local Spark (local[2]) from a real loopback server."""

from __future__ import annotations

import pytest
from pyspark.errors import AnalysisException
from pyspark.sql.types import ArrayType, LongType, StringType, StructType
from spark_servers import OffsetPages

from hiveframe.connectors import HTTPSource
from hiveframe.spark import read_source


def test_a_planned_read_fetches_page_ranges_in_parallel_and_returns_every_record(spark, serve):
    pages = OffsetPages(1000, meet=2)
    server = serve({"/items": pages})
    df = (
        spark.read.format("hiveframe.http")
        .options(
            url=server.url("/items"),
            pagination="offset",
            pagination_total_path="total",
            page_size="50",
            data_path="items",
            num_partitions="4",
            concurrency="1",  # one page at a time per task: only partitions can meet
        )
        .load()
    )
    ids = [row.id for row in df.select("id").collect()]

    assert sorted(ids) == list(range(1, 1001))  # every record, none twice
    assert df.rdd.getNumPartitions() == 4
    # The driver fetched page 0 once (schema and total) and handed it to partition 0; the
    # executors fetched the other 19 pages once each, two partitions at a time (their
    # requests met at the server).
    assert sorted(pages.offsets) == list(range(0, 1000, 50))
    assert pages.max_in_flight >= 2


def test_the_schema_is_inferred_from_the_first_page_with_nested_types(spark, demo):
    df = (
        spark.read.format("hiveframe.http")
        .options(url=demo.url("/pages"), pagination="page", data_path="data")
        .option("pagination_total_pages_path", "total_pages")
        .load()
    )
    fields = {f.name: f.dataType for f in df.schema.fields}
    assert fields["id"] == LongType()
    assert fields["tags"] == ArrayType(StringType(), True)
    assert isinstance(fields["dimensions"], StructType)
    assert fields["dimensions"]["width"].dataType == LongType()
    rows = df.orderBy("id").collect()
    assert [r.id for r in rows] == list(range(1, 251))
    assert rows[0].dimensions.width == 1 and rows[0].tags == ["red"]


def test_a_given_schema_selects_and_casts_columns(spark, demo):
    df = (
        spark.read.format("hiveframe.http")
        .schema("id INT, price DOUBLE, missing STRING")
        .options(url=demo.url("/data"), pagination="offset", page_size="100", max_pages="3")
        .load()
    )
    assert df.columns == ["id", "price", "missing"]
    rows = df.collect()
    assert len(rows) == 250
    assert {r.missing for r in rows} == {None}
    ddl = spark.read.format("hiveframe.http").options(
        url=demo.url("/data"), pagination="offset", max_pages="3", schema="id BIGINT"
    )
    assert ddl.load().count() == 250


def test_styles_that_cannot_be_planned_read_in_one_partition(spark, demo):
    df = (
        spark.read.format("hiveframe.http")
        .options(url=demo.url("/cursor"), pagination="cursor", data_path="data")
        .option("page_size", "40")
        .load()
    )
    assert df.rdd.getNumPartitions() == 1
    assert sorted(r.id for r in df.collect()) == list(range(1, 251))


def test_read_source_reads_an_http_source_object(spark, demo):
    source = HTTPSource(demo.url("/link"), pagination="link", page_size=60, rate_limit=500.0)
    df = read_source(source, spark)
    assert df.count() == 250
    planned = read_source(
        HTTPSource(demo.url("/data"), pagination="offset", page_size=25, max_pages=20),
        spark,
        schema="id BIGINT, name STRING",
    )
    assert planned.rdd.getNumPartitions() == 4  # two per task at once (local[2,2])
    assert sorted(r.id for r in planned.collect()) == list(range(1, 251))


def test_a_bad_option_fails_on_the_driver_naming_it(spark, demo):
    reader = spark.read.format("hiveframe.http").options(url=demo.url("/data"), page_size="x")
    with pytest.raises(AnalysisException, match="page_size='x': expected an integer"):
        reader.load()
    typo = spark.read.format("hiveframe.http").options(url=demo.url("/data"), pagnation="page")
    with pytest.raises(AnalysisException, match="pagnation"):
        typo.load()
