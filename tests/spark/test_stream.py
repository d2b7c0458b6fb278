"""Structured Streaming over polling and SSE sources: micro-batches, then a restart.

Offsets are HiveFrame positions, so a query restarted on the same checkpoint resumes the
source where the last micro-batch ended: the next poll asks ``since`` the last id, the
reconnection sends ``Last-Event-ID``.
"""

from __future__ import annotations

import pickle
import threading
from typing import Any

import pytest
from pyspark.serializers import CloudPickleSerializer
from pyspark.sql.datasource import CaseInsensitiveDict
from pyspark.sql.types import LongType, StringType, StructField, StructType

from hiveframe.demo._events import EventsAPI
from hiveframe.spark import HTTPDataSource
from waiting import eventually


class Collected:
    """A foreachBatch sink keeping each micro-batch's ids under its batch id.

    Spark runs a micro-batch again after a restart if it stopped before committing it (at
    least once); an idempotent sink keys by batch id, so :attr:`calls` shows the replays and
    :attr:`batches` what was stored.
    """

    def __init__(self) -> None:
        self.batches: dict[int, list[int]] = {}
        self.calls: list[tuple[int, list[int]]] = []
        self._lock = threading.Lock()

    def __call__(self, frame: Any, batch_id: int) -> None:
        ids = sorted(row.id for row in frame.select("id").collect())
        with self._lock:
            self.calls.append((batch_id, ids))
            if ids:
                self.batches[batch_id] = ids

    @property
    def ids(self) -> list[int]:
        with self._lock:
            return sorted(i for batch in self.batches.values() for i in batch)

    def wait_for(self, count: int) -> None:
        eventually(lambda: len(self.ids) >= count, timeout=60.0)

    def replays_match(self) -> bool:
        """Every batch run more than once held the same records each time."""
        with self._lock:
            return all(ids == self.batches.get(batch_id, ids) for batch_id, ids in self.calls)


def _run(spark, options: dict[str, str], checkpoint: str, sink: Collected):
    stream = spark.readStream.format("hiveframe.http").options(**options).load()
    return (
        stream.writeStream.foreachBatch(sink)
        .option("checkpointLocation", checkpoint)
        .trigger(processingTime="200 milliseconds")
        .start()
    )


@pytest.mark.parametrize("kind", ["poll", "sse"])
def test_a_stream_runs_in_micro_batches_and_resumes_from_its_checkpoint(
    spark, serve, tmp_path, kind
):
    # docs/reliability.md test 13, under Spark: the restart resumes where Spark's checkpoint
    # says the last micro-batch ended.
    events = EventsAPI(initial=5, every_seconds=None, heartbeat_seconds=0.5)
    server = serve(events.routes())
    if kind == "poll":
        options = {
            "url": server.url("/events"),
            "poll_interval_seconds": "0.1",
            "since_param": "since",
            "since_field": "id",
        }
        options["schema"] = "id BIGINT, type STRING, amount DOUBLE"
    else:  # the schema is inferred from the first event
        options = {"url": server.url("/stream"), "stream_type": "sse"}
    checkpoint = str(tmp_path / "checkpoint")

    sink = Collected()
    query = _run(spark, options, checkpoint, sink)
    try:
        sink.wait_for(5)
        events.append(3)
        sink.wait_for(8)
    finally:
        query.stop()
    assert sink.ids == list(range(1, 9))  # each record once...
    assert len(sink.batches) >= 2  # ...over several micro-batches

    events.append(4)  # while the query is down
    before = len(server.requests)
    query = _run(spark, options, checkpoint, sink)
    try:
        sink.wait_for(12)
    finally:
        query.stop()
    # Resumed from the checkpoint: 9-12 are new, nothing came twice. (If the first query
    # stopped before committing its last micro-batch, Spark ran that batch again, from its
    # saved start position, with the same records.)
    assert sink.ids == list(range(1, 13))
    assert sink.replays_match()
    resumed = server.requests[before:]
    if kind == "poll":
        sent = [r.query.get("since") for r in resumed]
        assert "8" in sent and None not in sent  # never from the start
    else:  # the first connection infers the schema; the stream's carry Last-Event-ID
        sent = [r.header("last-event-id") for r in resumed[1:]]
        assert sent[-1] == "8" and None not in sent


@pytest.mark.parametrize("kind", ["poll", "sse"])
def test_a_micro_batch_is_read_again_from_its_offsets(serve, kind):
    # docs/reliability.md test 13, Spark variant. What Spark does after a restart for a batch
    # it planned but did not commit: on an executor, a fresh (unpickled) reader replays
    # (start, end] from the source, the same rows.
    events = EventsAPI(initial=6, every_seconds=None, heartbeat_seconds=0.5)
    server = serve(events.routes())
    if kind == "poll":
        url, extra = (
            server.url("/events"),
            {"poll_interval_seconds": "0.1", "since_param": "since", "since_field": "id"},
        )
    else:
        url, extra = server.url("/stream"), {"stream_type": "sse"}
    source = HTTPDataSource(CaseInsensitiveDict({"url": url, **extra}))
    schema = StructType([StructField("id", LongType()), StructField("order", StringType())])
    reader = source.simpleStreamReader(schema)
    start = reader.initialOffset()
    live: list[dict[str, Any]] = []
    read: dict[str, Any] = {}

    def arrived() -> bool:
        batches, read["end"] = reader.read(start)
        live.extend(row for batch in batches for row in batch.to_pylist())
        return bool(live)

    try:
        eventually(arrived, timeout=30)
    finally:
        reader.stop()
    end = read["end"]
    assert [r["id"] for r in live] == list(range(1, len(live) + 1))  # some of the 6, in order
    assert end["records"] == len(live) and end["position"]["kind"] == kind

    shipped = pickle.loads(CloudPickleSerializer().dumps(reader))  # no live stream inside
    again = [row for batch in shipped.readBetweenOffsets(start, end) for row in batch.to_pylist()]
    assert again == live
