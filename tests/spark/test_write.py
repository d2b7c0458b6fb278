"""Writes on a real local Spark into a real loopback server: every row delivered once."""

from __future__ import annotations

import json
import threading
from collections import Counter

import orjson
import pytest
from spark_servers import IdempotentIngest

from hiveframe.demo import Reply, Request
from hiveframe.spark import DeliveryReport, WriteSummary


def _frame(spark, n: int, partitions: int):
    return spark.range(1, n + 1, numPartitions=partitions).selectExpr(
        "id", "concat('item-', id) AS name", "named_struct('size', id % 7) AS dims"
    )


def test_a_write_delivers_every_row_once_and_the_driver_sums_the_reports(spark, serve, tmp_path):
    ingest = IdempotentIngest()
    server = serve({"/ingest": ingest})
    summary_path = tmp_path / "summary.json"
    (
        _frame(spark, 1000, 4)
        .write.format("hiveframe.http")
        .options(url=server.url("/ingest"), batch_size="64", summary_path=str(summary_path))
        .mode("append")
        .save()
    )

    assert sorted(ingest.stored_ids) == list(range(1, 1001))  # each row once
    assert ingest.stored[0]["dims"] == {"size": ingest.stored[0]["id"] % 7}
    summary = json.loads(summary_path.read_text())
    assert summary["status"] == "committed"
    assert summary["tasks"] == 4
    assert summary["records_sent"] == summary["records_delivered"] == 1000
    assert summary["records_failed"] == 0
    assert summary["batches_sent"] == len(ingest.keys_sent) == 4 * 4  # 250 rows -> 4 batches


def test_a_retried_task_resends_the_same_idempotency_keys(spark, serve):
    # Batch holding id 1 is refused once (400, no dead letter): its task raises
    # DeliveryFailed after sending its other batches, and Spark runs it again.
    ingest = IdempotentIngest(reject_first=1)
    server = serve({"/ingest": ingest})
    (
        _frame(spark, 400, 2)
        .write.format("hiveframe.http")
        .options(url=server.url("/ingest"), batch_size="50", retry="false")
        .mode("append")
        .save()
    )

    assert sorted(ingest.stored_ids) == list(range(1, 401))  # stored once, by key
    sends = Counter(ingest.keys_sent)
    assert sends[ingest.rejected_keys[0]] == 2  # refused, then accepted by the second attempt
    # Partition 0 (4 batches of 50) was sent twice with the same 4 keys; partition 1 once.
    assert sorted(sends.values()) == [1, 1, 1, 1, 2, 2, 2, 2]


def test_undeliverable_batches_go_to_per_task_dead_letter_files(spark, serve, tmp_path):
    refuse = RefuseOddBatches()
    server = serve({"/ingest": refuse})
    summary_path = tmp_path / "summary.json"
    (
        _frame(spark, 200, 2)
        .write.format("hiveframe.http")
        .options(
            url=server.url("/ingest"),
            batch_size="25",
            dead_letter=str(tmp_path / "dead"),
            summary_path=str(summary_path),
        )
        .mode("append")
        .save()
    )
    summary = json.loads(summary_path.read_text())
    kept = [
        orjson.loads(line)
        for path in sorted((tmp_path / "dead").iterdir())
        for line in path.read_bytes().splitlines()
    ]
    kept_ids = sorted(r["id"] for line in kept for r in line["records"])
    assert kept_ids == sorted(refuse.refused) and 0 < len(kept_ids) < 200
    assert summary["records_failed"] == summary["records_dead_lettered"] == len(kept_ids)
    assert summary["records_delivered"] + summary["records_failed"] == 200
    assert len(summary["dead_letter_paths"]) == 2


def test_overwrite_is_refused(spark, serve):
    server = serve({})
    writer = _frame(spark, 3, 1).write.format("hiveframe.http").option("url", server.url("/x"))
    with pytest.raises(Exception, match="can only append"):
        writer.mode("overwrite").save()


def test_the_summary_adds_up_reports_and_skips_failed_tasks():
    reports = [
        DeliveryReport(partition=0, attempt=0, records_sent=10, records_delivered=10),
        None,
        DeliveryReport(
            partition=2,
            attempt=1,
            records_sent=5,
            records_delivered=3,
            records_failed=2,
            records_dead_lettered=2,
            dead_letter_path="/dl/part-00002-attempt-1.jsonl",
        ),
    ]
    summary = WriteSummary.of(reports)
    assert (summary.tasks, summary.records_sent, summary.records_delivered) == (2, 15, 13)
    assert summary.records_failed == summary.records_dead_lettered == 2
    assert summary.dead_letter_paths == ("/dl/part-00002-attempt-1.jsonl",)


class RefuseOddBatches:
    """Answers 422 to batches whose first id is odd, and remembers the ids it refused."""

    def __init__(self) -> None:
        self.refused: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        ids = [r["id"] for r in orjson.loads(request.body)]
        if ids[0] % 2 == 0:
            return Reply(200, {"Content-Type": "application/json"}, b"{}")
        with self._lock:
            self.refused.extend(ids)
        return Reply(422, {"Content-Type": "application/json"}, b"{}")
