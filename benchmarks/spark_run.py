"""Spark against one process: the same read and write, on Spark and in one process.

    benchmarks/spark_run                      # sets up .venv-bench (PySpark too), runs this
    python benchmarks/spark_run.py [--master local[2]] [--runs 3] [--out FILE]
    python benchmarks/spark_run.py --master spark://127.0.0.1:7077   # benchmarks/spark_cluster.sh

Read: 50,000 records in pages of 100 (500 pages) at 20 ms per request, offset pagination with
a total. Spark times ``load()`` (schema and plan, from the first page) plus an action that
reads every row (the ``noop`` sink); the server checks that each page was requested once,
and the warm-up read counts the rows and their distinct ids in Spark. One process times
``HTTPSource.read()`` into an Arrow table (``benchmarks/workloads.py``, in its own process).
Write: 50,000 rows in batches of 100 at 5 ms per request. Spark times ``df.write`` of a
cached DataFrame of ``defaultParallelism`` partitions; one process ``HTTPSink.write`` of the
same Arrow table. The server checks that every record arrived once.

Excluded: starting the SparkSession, and one unmeasured full-size round first (the Python
workers' start and imports, the JVM's JIT); the one-process side imports its libraries
before its clock starts too.

Per-task overhead of the read: each task's duration as Spark records it (launch to result,
from its REST API) less the time the server spent on that task's requests (from the first
request's arrival to the last response), the median over the read's tasks. What is left is
Spark's scheduling, the Python worker, the session and the hand-over of the last batches.
The same run measures Spark's floors: a one-row Python data source task with no HTTP, and a
task that hands back as many of the same records as a read task, from an Arrow batch built
before the clock. What the read's tasks take beyond the second is HiveFrame's own per-task
cost, the part the 50 ms target applies to: no data source goes under Spark's floor.

``--serve`` runs the benchmark server (``benchmarks/server.py``) with a request trace; the
benchmark starts it itself.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402  (benchmarks/run.py: one-process workloads in their own processes)

READ_RECORDS, READ_LATENCY_MS = 50_000, 20
WRITE_RECORDS, WRITE_LATENCY_MS = 50_000, 5
PAGE = 100
READ_TARGET = WRITE_TARGET = 1.5  # Spark's time over one process's, at most
OVERHEAD_TARGET_MS = 50.0


# -- the traced server (--serve) ---------------------------------------------------------------


def serve(port: int) -> None:
    """benchmarks/server.py, recording each request's path, offset and server-side times."""
    import asyncio

    from aiohttp import web

    import server

    trace: list[dict[str, Any]] = []

    @web.middleware
    async def traced(request: web.Request, handler: Any) -> web.StreamResponse:
        arrived = time.time()
        response = await handler(request)
        if not request.path.startswith("/trace"):
            offset = request.query.get("offset")
            trace.append(
                {
                    "path": request.path,
                    "offset": None if offset is None else int(offset),
                    "arrived": arrived,
                    "answered": time.time(),
                }
            )
        return response

    async def dump(request: web.Request) -> web.Response:
        return web.json_response(trace)

    async def clear(request: web.Request) -> web.Response:
        trace.clear()
        return web.json_response({})

    make_app = server.make_app

    def traced_app() -> web.Application:
        app = make_app()
        app.middlewares.append(traced)
        app.router.add_get("/trace", dump)
        app.router.add_post("/trace/reset", clear)
        return app

    server.make_app = traced_app  # serve() builds its app with it
    asyncio.run(server.serve(port))


def call(url: str, method: str = "GET") -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, method=method)) as response:
        return json.loads(response.read())


# -- Spark -------------------------------------------------------------------------------------


def start_spark(master: str) -> Any:
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    from hiveframe.spark import register

    spark = (
        SparkSession.builder.master(master)
        .appName("hiveframe-spark-benchmark")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.ui.port", "0")  # a free port: the REST API gives the task metrics
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    if master.startswith("spark://"):  # executors register after the session starts
        wait_for_executors(spark)
    register(spark)
    return spark


def wait_for_executors(spark: Any) -> None:
    deadline = time.monotonic() + 60
    while spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() < 3:  # 2 + the driver
        if time.monotonic() > deadline:
            raise SystemExit("the cluster's executors did not register within 60 s")
        time.sleep(0.2)


def read_options(base: str, records: int) -> dict[str, str]:
    return {
        "url": f"{base}/items",
        "params": json.dumps({"total": records, "latency_ms": READ_LATENCY_MS}),
        "pagination": "offset",
        "pagination_total_path": "total",
        "page_size": str(PAGE),
        "data_path": "items",
    }


@dataclass
class SparkRead:
    seconds: float
    partitions: int
    overheads_ms: list[float]


def spark_read(
    spark: Any, base: str, records: int, group: str, *, check: bool = False
) -> SparkRead:
    """A timed read: ``load()`` and the noop sink (every row read, one stage); ``check``
    instead counts the rows and their distinct ids (one more stage, to add them up)."""
    call(f"{base}/trace/reset", "POST")
    context = spark.sparkContext
    context.setJobGroup(group, "hiveframe read")
    started = time.perf_counter()
    df = spark.read.format("hiveframe.http").options(**read_options(base, records)).load()
    if check:
        row = df.selectExpr("count(*)", "count(DISTINCT id)", "min(id)", "max(id)").first()
        if tuple(row) != (records, records, 1, records):
            raise SystemExit(f"Spark read {tuple(row)}: expected each of {records} records once")
    else:
        df.write.format("noop").mode("overwrite").save()
    seconds = time.perf_counter() - started
    pages = -(-records // PAGE)
    trace = [t for t in call(f"{base}/trace") if t["path"] == "/items"]
    offsets = sorted(t["offset"] for t in trace)
    if offsets != [i * PAGE for i in range(pages)]:
        raise SystemExit(f"the server answered {len(offsets)} page requests, not {pages} once each")
    partitions = planned(context.defaultParallelism, pages)
    tasks = read_tasks(spark, group)
    overheads = []
    for task in tasks:
        start, stop = partitions[task["index"]]
        own = [t for t in trace if start * PAGE <= t["offset"] < stop * PAGE]
        own = [t for t in own if t["arrived"] >= task["launched"]]  # not the driver's page 0
        busy = max(t["answered"] for t in own) - min(t["arrived"] for t in own) if own else 0.0
        overheads.append(task["duration"] * 1000 - busy * 1000)
    return SparkRead(seconds, len(partitions), overheads)


def planned(parallelism: int, pages: int) -> list[tuple[int, int]]:
    from hiveframe.spark._plan import Layout, PageCount, plan

    parts = plan(PageCount(pages, known=True), Layout(parallelism=parallelism))
    return [(p.start, p.stop or pages) for p in parts]


def read_tasks(spark: Any, group: str) -> list[dict[str, Any]]:
    """The tasks of the job group's first stage that ran, from Spark's REST API."""
    context = spark.sparkContext
    tracker = context.statusTracker()
    stages = sorted(s for job in tracker.getJobIdsForGroup(group) for s in job_stages(tracker, job))
    api = f"{context.uiWebUrl}/api/v1/applications/{context.applicationId}"
    deadline = time.monotonic() + 30
    while True:  # the listener bus may deliver the last task ends a moment after the job
        # The first stage that ran (a cached input's stages are skipped): the read or write.
        ran = [s for s in stages if call(f"{api}/stages/{s}")[0]["status"] == "COMPLETE"]
        done = []
        if ran:
            tasks = call(f"{api}/stages/{ran[0]}/0/taskList?length=10000")
            done = [t for t in tasks if t.get("status") == "SUCCESS"]
            info = tracker.getStageInfo(ran[0])
            if info is not None and len(done) >= info.numTasks:
                break
        if time.monotonic() > deadline:
            raise SystemExit(f"stages {stages}: Spark's REST API did not list every task")
        time.sleep(0.1)
    return [
        {"index": t["index"], "launched": _epoch(t["launchTime"]), "duration": t["duration"] / 1000}
        for t in done
    ]


def job_stages(tracker: Any, job: int) -> list[int]:
    info = tracker.getJobInfo(job)
    return list(info.stageIds) if info is not None else []


def _epoch(text: str) -> float:
    # "2026-12-01T18:20:09.123GMT"
    from datetime import datetime, timezone

    stamp = datetime.strptime(text.replace("GMT", ""), "%Y-%m-%dT%H:%M:%S.%f")
    return stamp.replace(tzinfo=timezone.utc).timestamp()


def write_frame(spark: Any, records: int) -> Any:
    """The one-process write's table as a cached DataFrame of ``defaultParallelism``
    partitions (what ``createDataFrame`` and ``range`` give)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from hiveframe.demo import make_record

    folder = Path(tempfile.mkdtemp(prefix="hiveframe-bench-"))
    pq.write_table(pa.Table.from_pylist([make_record(i) for i in range(records)]), folder / "t")
    parts = spark.sparkContext.defaultParallelism
    frame = spark.read.parquet(str(folder / "t")).repartition(parts).cache()
    frame.count()
    return frame


def spark_floor(spark: Any, tasks: int, group: str) -> list[float]:
    """Durations (ms) of tasks of a Python data source that yields one row each: what any
    Python data source task costs on this Spark, with no HTTP and no HiveFrame."""
    from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition

    class OneRow(DataSourceReader):
        def partitions(self) -> list[InputPartition]:
            return [InputPartition(i) for i in range(tasks)]

        def read(self, partition: InputPartition) -> Iterator[tuple[int]]:
            yield (partition.value,)

    class OneRowSource(DataSource):
        @classmethod
        def name(cls) -> str:
            return "hiveframe-benchmark-one-row"

        def schema(self) -> str:
            return "id BIGINT"

        def reader(self, schema: Any) -> OneRow:
            return OneRow()

    spark.dataSource.register(OneRowSource)
    spark.sparkContext.setJobGroup(group, "one row per task")
    spark.read.format(OneRowSource.name()).load().write.format("noop").mode("overwrite").save()
    return [t["duration"] * 1000 for t in read_tasks(spark, group)]


def spark_rows_floor(spark: Any, tasks: int, group: str, schema: Any) -> list[float]:
    """Durations (ms) of tasks of a Python data source that yields, as one Arrow batch built
    before the clock, as many of the benchmark's records as a read task does: Spark's cost of
    a task that hands the read's rows back, with no HTTP and no HiveFrame."""
    import pyarrow as pa
    from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition

    from hiveframe.demo import make_record

    rows = -(-READ_RECORDS // tasks)
    sink = pa.BufferOutputStream()
    table = pa.Table.from_pylist([make_record(i) for i in range(1, rows + 1)])
    with pa.ipc.new_stream(sink, table.schema) as stream:
        stream.write_table(table)
    payload = sink.getvalue().to_pybytes()

    class Rows(DataSourceReader):
        def partitions(self) -> list[InputPartition]:
            return [InputPartition(i) for i in range(tasks)]

        def read(self, partition: InputPartition) -> Iterator[Any]:
            yield from pa.ipc.open_stream(payload).read_all().to_batches()

    class RowsSource(DataSource):
        @classmethod
        def name(cls) -> str:
            return "hiveframe-benchmark-rows"

        def schema(self) -> Any:
            return schema

        def reader(self, schema: Any) -> Rows:
            return Rows()

    spark.dataSource.register(RowsSource)
    spark.sparkContext.setJobGroup(group, "the read's rows per task")
    spark.read.format(RowsSource.name()).load().write.format("noop").mode("overwrite").save()
    return [t["duration"] * 1000 for t in read_tasks(spark, group)]


def spark_write_floor(frame: Any) -> float:
    """Seconds Spark takes to hand ``frame`` to a Python data source writer that only reads
    its rows: the write's cost before any encoding or HTTP."""
    from pyspark.sql.datasource import DataSource, DataSourceArrowWriter, WriterCommitMessage

    class ReadOnly(DataSourceArrowWriter):
        def write(self, iterator: Iterator[Any]) -> WriterCommitMessage:
            for _batch in iterator:
                pass
            return WriterCommitMessage()

    class ReadOnlySink(DataSource):
        @classmethod
        def name(cls) -> str:
            return "hiveframe-benchmark-read-only"

        def writer(self, schema: Any, overwrite: bool) -> ReadOnly:
            return ReadOnly()

    frame.sparkSession.dataSource.register(ReadOnlySink)
    started = time.perf_counter()
    frame.write.format(ReadOnlySink.name()).mode("append").save()
    return time.perf_counter() - started


def spark_write(frame: Any, base: str, records: int) -> tuple[float, dict[str, Any]]:
    call(f"{base}/ingest/reset", "POST")
    summary = Path(tempfile.mkdtemp(prefix="hiveframe-bench-")) / "summary.json"
    started = time.perf_counter()
    (
        frame.write.format("hiveframe.http")
        .option("url", f"{base}/ingest?latency_ms={WRITE_LATENCY_MS}")
        .option("batch_size", str(PAGE))
        .option("summary_path", str(summary))
        .mode("append")
        .save()
    )
    seconds = time.perf_counter() - started
    stats = call(f"{base}/ingest/stats")
    if stats["records"] != records or stats["distinct"] != records:
        raise SystemExit(f"server received {stats}, expected {records} distinct records")
    return seconds, json.loads(summary.read_text())


def one_process(kind: str, base: str, records: int, latency: int) -> float:
    result = run.run_one(kind, "hiveframe", base, records, latency)
    if result.get("error"):
        raise SystemExit(f"one-process {kind} failed: {result.get('message')}")
    return float(result["seconds"])


# -- report ------------------------------------------------------------------------------------


def verdict(value: float, target: float, unit: str = "x") -> str:
    return f"<= {target:g}{unit}: {'met' if value <= target else 'NOT met'}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(0)
        return
    load_before = os.getloadavg()
    spark = start_spark(args.master)
    with run.bench_server([sys.executable, __file__, "--serve"]) as base:
        # Unmeasured: the Python workers' first start and imports, the JVM's JIT warm-up.
        print("... warm-up", file=sys.stderr)
        warm = spark_read(spark, base, READ_RECORDS, "warm-up", check=True)
        frame = write_frame(spark, WRITE_RECORDS)
        spark_write(frame, base, WRITE_RECORDS)
        spark_floor(spark, warm.partitions, "warm-up-floor")
        schema = spark.read.format("hiveframe.http").options(**read_options(base, 10)).load().schema
        spark_rows_floor(spark, warm.partitions, "warm-up-rows-floor", schema)
        spark_write_floor(frame)
        reads: list[SparkRead] = []
        single_reads, writes, single_writes = [], [], []
        summaries, floors, rows_floors, write_floors = [], [], [], []
        for run_number in range(args.runs):
            print(f"... run {run_number + 1} of {args.runs}", file=sys.stderr)
            single_reads.append(one_process("read", base, READ_RECORDS, READ_LATENCY_MS))
            reads.append(spark_read(spark, base, READ_RECORDS, f"read-{run_number}"))
            floors += spark_floor(spark, warm.partitions, f"floor-{run_number}")
            rows_floors += spark_rows_floor(spark, warm.partitions, f"rows-{run_number}", schema)
            single_writes.append(one_process("write", base, WRITE_RECORDS, WRITE_LATENCY_MS))
            seconds, summary = spark_write(frame, base, WRITE_RECORDS)
            writes.append(seconds)
            summaries.append(summary)
            write_floors.append(spark_write_floor(frame))
    load_after = os.getloadavg()
    context = spark.sparkContext
    read_s = statistics.median(r.seconds for r in reads)
    one_read_s = statistics.median(single_reads)
    write_s, one_write_s = statistics.median(writes), statistics.median(single_writes)
    write_floor = statistics.median(write_floors)
    overheads = [o for r in reads for o in r.overheads_ms]
    overhead = statistics.median(overheads)
    own = overhead - statistics.median(rows_floors)
    rate = statistics.median(s["records_per_second"] for s in summaries)
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {date.today().isoformat()}; Spark {spark.version} "
        f"master {args.master} (defaultParallelism {context.defaultParallelism}); load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after; median of {args.runs} runs.",
        "",
        "| workload | one process s | Spark s | Spark / one process | target |",
        "|---|---:|---:|---:|---|",
        f"| read {READ_RECORDS // 1000}k, pages of {PAGE}, {READ_LATENCY_MS} ms "
        f"({reads[0].partitions} partitions) | {one_read_s:.2f} | {read_s:.2f} | "
        f"{read_s / one_read_s:.2f}x | {verdict(read_s / one_read_s, READ_TARGET)} |",
        f"| write {WRITE_RECORDS // 1000}k, batches of {PAGE}, {WRITE_LATENCY_MS} ms "
        f"({frame.rdd.getNumPartitions()} partitions) | {one_write_s:.2f} | {write_s:.2f} | "
        f"{write_s / one_write_s:.2f}x | {verdict(write_s / one_write_s, WRITE_TARGET)} |",
        "",
        "| measure | value | target |",
        "|---|---:|---|",
        f"| median per-task overhead of the read: a task's time minus its HTTP time "
        f"({len(overheads)} tasks; min {min(overheads):.0f}, max {max(overheads):.0f} ms) | "
        f"{overhead:.0f} ms | |",
        f"| median duration of a one-row Python data source task, no HTTP ({len(floors)} "
        f"tasks): Spark's own floor | {statistics.median(floors):.0f} ms | |",
        f"| of which the read's overhead beyond that floor | "
        f"{overhead - statistics.median(floors):.0f} ms | |",
        f"| median duration of a Python data source task handing back as many of the records "
        f"as a read task, built before the clock, no HTTP ({len(rows_floors)} tasks): Spark's "
        f"floor for the read's tasks | {statistics.median(rows_floors):.0f} ms | |",
        f"| of which the read's overhead beyond that floor: HiveFrame's own | "
        f"{own:.0f} ms | {verdict(own, OVERHEAD_TARGET_MS, ' ms')} |",
        f"| the write's DataFrame handed to a Python writer that only reads it: Spark's own "
        f"floor for the write | {write_floor:.2f} s ({write_floor / one_write_s:.2f}x one "
        f"process's whole write) | |",
        f"| Spark write throughput (write summary, commit included) | {rate:,.0f} records/s | |",
    ]
    spark.stop()
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
