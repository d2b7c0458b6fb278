"""Spark reads and writes that scale out (local[2,2], real loopback servers).

Each task fetches its page range concurrently; the default plan is two contiguous ranges
per task Spark runs at once; the driver's first page is not fetched again; ``partition_by``
fans a cursor API out; ``rate_limit`` is the whole read's or write's (checked on the
server's clock, with a tolerance: a correctness property, not a speed).
"""

from __future__ import annotations

import bisect
import json

import pytest
from pyspark.errors import AnalysisException
from pyspark.sql.functions import spark_partition_id
from spark_servers import MonthlyCursor, OffsetPages, TimedIngest, TimedPages

from hiveframe.connectors import HTTPSource
from hiveframe.spark import read_source

PAGED = {"pagination": "offset", "pagination_total_path": "total", "data_path": "items"}


def _busiest_second(arrivals: list[float]) -> int:
    """The most requests that arrived within any one second."""
    times = sorted(arrivals)
    return max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times))


def _blocks(df) -> list[list[int]]:
    """Each partition's ids, in partition order (one read; an empty partition shows)."""
    rows = df.select("id", spark_partition_id().alias("part")).collect()
    parts = max(r.part for r in rows) + 1
    return [sorted(r.id for r in rows if r.part == p) for p in range(parts)]


def test_one_task_fetches_its_pages_concurrently(spark, serve):
    # meet=3: the three requests after the driver's wait for one another at the server, so
    # they get through only if the one task has three pages in flight at once.
    pages = OffsetPages(1000, meet=3)
    server = serve({"/items": pages})
    df = (
        spark.read.format("hiveframe.http")
        .options(url=server.url("/items"), page_size="50", num_partitions="1", **PAGED)
        .load()
    )
    assert _blocks(df) == [list(range(1, 1001))]  # one partition, every record once
    assert pages.max_in_flight >= 3
    assert sorted(pages.offsets) == list(range(0, 1000, 50))


def test_the_default_plan_is_two_contiguous_ranges_per_task_and_page_0_is_fetched_once(
    spark, serve
):
    pages = OffsetPages(1000)
    server = serve({"/items": pages})
    df = (
        spark.read.format("hiveframe.http")
        .options(url=server.url("/items"), page_size="50", **PAGED)  # 20 pages
        .load()
    )
    # local[2,2]: two tasks at once, so four ranges of five pages, in order.
    assert _blocks(df) == [list(range(1 + 250 * p, 251 + 250 * p)) for p in range(4)]
    # load() fetched page 0 (schema and total) and handed it to partition 0; the read
    # fetched every other page once.
    assert sorted(pages.offsets) == list(range(0, 1000, 50))


def test_pages_per_partition_and_a_given_schema_plan_without_fetching_twice(spark, serve):
    pages = OffsetPages(1000)
    server = serve({"/items": pages})
    df = (
        spark.read.format("hiveframe.http")
        .schema("id BIGINT, name STRING")
        .options(url=server.url("/items"), page_size="50", pages_per_partition="8", **PAGED)
        .load()
    )
    blocks = _blocks(df)  # pages [0, 8), [8, 16), [16, 20)
    assert blocks == [list(range(1, 401)), list(range(401, 801)), list(range(801, 1001))]
    # Planning the action fetched page 0 for the total; partition 0 used it.
    assert sorted(pages.offsets) == list(range(0, 1000, 50))


def test_partition_by_fans_a_cursor_api_out_one_read_per_set_of_parameters(spark, serve):
    api = MonthlyCursor(per_month=35)
    server = serve({"/cursor": api})
    months = [{"month": month} for month in MonthlyCursor.MONTHS]
    df = (
        spark.read.format("hiveframe.http")
        .options(url=server.url("/cursor"), pagination="cursor", data_path="data")
        .option("partition_by", json.dumps(months))
        .load()
    )
    blocks = df.select("id", "month", spark_partition_id().alias("part")).collect()
    assert df.rdd.getNumPartitions() == 3
    for part, month in enumerate(MonthlyCursor.MONTHS):  # partition i reads month i
        assert {r.month for r in blocks if r.part == part} == {month}
    assert sorted(r.id for r in blocks) == list(range(1, 106))  # every record once
    # Each month's cursor chain was followed once (4 pages of 10, 10, 10, 5); the first
    # page of the first month, fetched for the schema, was not fetched again.
    chains = sorted(api.requests)
    assert chains == [(month, c) for month in MonthlyCursor.MONTHS for c in (0, 10, 20, 30)]

    source = HTTPSource(server.url("/cursor"), pagination="cursor", data_path="data")
    two = read_source(source, spark, schema="id BIGINT, month STRING", partition_by=months[:2])
    assert sorted(r.id for r in two.collect()) == list(range(1, 71))


def test_partition_by_is_checked_on_the_driver(spark, serve):
    api = MonthlyCursor(per_month=5)
    server = serve({"/cursor": api})
    for options, named in [
        ({"partition_by": '{"month": "2024-01"}'}, "partition_by="),
        ({"partition_by": "[{"}, "partition_by="),
        ({"partition_by": '[{"month": "2024-01"}]', "num_partitions": "2"}, "num_partitions="),
        ({"num_partitions": "2", "pages_per_partition": "3"}, "pages_per_partition="),
    ]:
        reader = spark.read.format("hiveframe.http").schema("id BIGINT")
        reader = reader.options(url=server.url("/cursor"), pagination="cursor", **options)
        with pytest.raises(AnalysisException, match=named):
            reader.load().collect()
    assert api.requests == []  # refused before any request


def test_the_rate_limit_is_the_reads_and_a_429_pauses_only_the_task_that_got_it(spark, serve):
    # 120 pages at rate_limit=50: two tasks at once, 25 requests/s each. Page 62 (in the
    # second range) is answered 429 with Retry-After: 1 once the first range is under way.
    boundary = 60 * 10
    pages = TimedPages(1200, throttle=62 * 10, boundary=boundary, running=4)
    server = serve({"/items": pages})
    df = (
        spark.read.format("hiveframe.http")
        .options(url=server.url("/items"), page_size="10", rate_limit="50", **PAGED)
        .load()
    )
    assert sorted(r.id for r in df.collect()) == list(range(1, 1201))
    assert df.rdd.getNumPartitions() == 2  # with a rate limit: one range per task at once

    # Each page once, the throttled one twice (429, then its retry).
    assert pages.offsets() == sorted([*range(0, 1200, 10), 620])
    arrivals = [t for t, _ in pages.arrivals]
    assert _busiest_second(arrivals) <= 55  # 50 a second, +10%

    # While the second range's task waited out the Retry-After, the first range's went on.
    paused = pages.throttled_at
    assert paused is not None
    first_range = [t for t, offset in pages.arrivals if offset < boundary]
    second_range = [t for t, offset in pages.arrivals if offset >= boundary]
    # (requests it had scheduled before the 429 arrived may still go in its first 0.4 s)
    assert not [t for t in second_range if paused + 0.4 < t < paused + 0.95]
    assert len([t for t in first_range if paused + 0.4 < t < paused + 0.95]) >= 5
    retried = [t for t, offset in pages.arrivals if offset == 620 and t > paused]
    assert retried and retried[0] >= paused + 0.95


def test_the_rate_limit_is_the_writes_and_the_summary_reports_throughput(spark, serve, tmp_path):
    ingest = TimedIngest()
    server = serve({"/ingest": ingest})
    summary_path = tmp_path / "summary.json"
    rows = spark.range(1, 1001, numPartitions=2).selectExpr("id", "concat('item-', id) AS name")
    (
        rows.write.format("hiveframe.http")
        .options(url=server.url("/ingest"), batch_size="10", rate_limit="50")
        .option("summary_path", str(summary_path))
        .mode("append")
        .save()
    )
    assert sorted(r["id"] for r in ingest.stored) == list(range(1, 1001))
    assert len(ingest.arrivals) == 100
    assert _busiest_second(ingest.arrivals) <= 55  # two tasks at once, 25 a second each
    summary = json.loads(summary_path.read_text())
    assert summary["seconds"] >= 1.5  # 100 requests at 50 a second take two
    assert summary["records_per_second"] == pytest.approx(1000 / summary["seconds"])
