"""Writes on a real local Spark into a real loopback server: every row delivered once."""

from __future__ import annotations

import json
import threading
from collections import Counter

import orjson
import pytest
from pyspark.errors import AnalysisException, PythonException
from spark_servers import IdempotentIngest, SparkIngest

from hiveframe.demo import Reply, Request
from hiveframe.spark import DeliveryReport, WriteSummary


def _frame(spark, n: int, partitions: int):
    return spark.range(1, n + 1, numPartitions=partitions).selectExpr(
        "id", "concat('item-', id) AS name", "named_struct('size', id % 7) AS dims"
    )


def _shuffled_then_reordered_on_retry(frame):
    """``frame`` through a shuffle, each partition's rows reversed when its task is retried.

    What a real cluster does when the retry reads the shuffle on another executor; in one
    local process the shuffle would hand the retry the same order.
    """

    def reorder(rows):
        from pyspark import TaskContext

        rows = list(rows)
        return iter(rows if TaskContext.get().attemptNumber() == 0 else reversed(rows))

    shuffled = frame.repartition(2, "name")
    return shuffled.sparkSession.createDataFrame(
        shuffled.rdd.mapPartitions(reorder), shuffled.schema
    )


def _write(frame, url: str, **options: str) -> None:
    options = {"batch_size": "50", "retry": "false", **options}
    frame.write.format("hiveframe.http").options(url=url, **options).mode("append").save()


def _twice(ingest: SparkIngest) -> set[int]:
    return {i for i, n in Counter(r["id"] for r in ingest.stored).items() if n > 1}


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


def test_a_task_retried_after_a_shuffle_sends_the_same_keys(spark, serve):
    # docs/reliability.md tests 15 and 45: the batch holding id 1500 is stored, then answered
    # 500 (a lost acknowledgment). Its task fails (retry=false) and Spark runs it again; the
    # retry reads its rows in another order.
    content = SparkIngest(honour_keys=True, fault="commit_then_500", fault_id=1500)
    arrival = SparkIngest(honour_keys=True, fault="commit_then_500", fault_id=1500)
    server = serve({"/content": content, "/arrival": arrival})
    rows = _shuffled_then_reordered_on_retry(_frame(spark, 2000, 4))

    _write(rows, server.url("/content"))
    assert content.fault_records  # the fault happened
    assert sorted(r["id"] for r in content.stored) == list(range(1, 2001))  # each id once
    sends = Counter(content.keys_sent)
    assert 2 in sends.values()  # the retried task sent its keys again: the same keys

    # Control: cut in arrival order, the retry's batches are other batches, with other keys.
    _write(rows, server.url("/arrival"), row_order="arrival")
    assert arrival.fault_records and _twice(arrival)
    assert {r["id"] for r in arrival.stored} == set(range(1, 2001))


@pytest.mark.parametrize("fault", ["refuse_once", "commit_then_500"])
def test_a_journal_spares_a_plain_server_what_a_failed_attempt_delivered(
    spark, serve, tmp_path, fault
):
    # A server that ignores Idempotency-Key. The retried task (its rows in another order)
    # skips the batches the journal says the failed attempt delivered; a batch stored but
    # answered 500 was never acknowledged, so it alone is stored twice.
    ingest = SparkIngest(honour_keys=False, fault=fault, fault_id=1500)
    server = serve({"/ingest": ingest})
    summary_path = tmp_path / "summary.json"
    _write(
        _shuffled_then_reordered_on_retry(_frame(spark, 2000, 4)),
        server.url("/ingest"),
        delivery_journal=str(tmp_path / "journal"),
        summary_path=str(summary_path),
    )

    assert ingest.fault_records
    assert {r["id"] for r in ingest.stored} == set(range(1, 2001))
    lost_ack = set(ingest.fault_records) if fault == "commit_then_500" else set()
    assert _twice(ingest) == lost_ack
    summary = json.loads(summary_path.read_text())
    assert summary["status"] == "committed" and summary["records_delivered"] == 2000
    skipped = summary["records_skipped"]
    assert 0 < skipped == summary["records_delivered_by_failed_attempts"]
    assert len(ingest.stored) == 2000 + len(lost_ack)


@pytest.mark.parametrize("journal", [False, True])
def test_an_aborted_write_counts_what_failed_attempts_delivered(spark, serve, tmp_path, journal):
    # Partition 0 (ids 1-1000) is refused the batch holding id 1 on every attempt, once
    # partition 1 (ids 1001-2000) is stored; the job aborts after partition 0's second failure.
    ingest = SparkIngest(
        honour_keys=False, fault="refuse", fault_id=1, hold_until=set(range(1001, 2001))
    )
    server = serve({"/ingest": ingest})
    summary_path = tmp_path / "summary.json"
    options = {"summary_path": str(summary_path)}
    if journal:
        options["delivery_journal"] = str(tmp_path / "journal")
    with pytest.raises(PythonException, match="DeliveryFailed"):
        _write(_frame(spark, 2000, 2), server.url("/ingest"), **options)

    summary = json.loads(summary_path.read_text())
    assert summary["status"] == "aborted"
    assert (summary["tasks"], summary["unfinished_partitions"]) == (1, 1)
    assert summary["records_delivered"] == 1000  # partition 1's report
    refused = len(ingest.fault_records)
    if not journal:  # unknown: the summary says so; each attempt sent partition 0 again
        assert summary["records_delivered_by_failed_attempts"] is None
        assert len(ingest.stored) == 1000 + 2 * (1000 - refused)
        return
    # The first attempt delivered all of partition 0 but one batch; the second skipped it.
    assert summary["records_delivered_by_failed_attempts"] == 1000 - refused
    assert len(ingest.stored) == 1000 + 1000 - refused

    # docs/reliability.md test 13: the same write, run again on the same journal once the API
    # takes the batch, sends only that batch.
    ingest.fault_id = None
    _write(_frame(spark, 2000, 2), server.url("/ingest"), **options)
    assert sorted(r["id"] for r in ingest.stored) == list(range(1, 2001))
    again = json.loads(summary_path.read_text())
    assert again["status"] == "committed" and again["records_skipped"] == 2000 - refused


def test_overwrite_is_refused(spark, serve):
    server = serve({})
    writer = _frame(spark, 3, 1).write.format("hiveframe.http").option("url", server.url("/x"))
    with pytest.raises(AnalysisException, match="can only append"):
        writer.mode("overwrite").save()


def test_the_writers_own_options_are_checked_on_the_driver(spark, serve, tmp_path):
    server = serve({})
    frame = _frame(spark, 3, 1)
    (tmp_path / "a-file").write_text("")
    for options, named in [
        ({"row_order": "random"}, "row_order='random'"),
        ({"row_order_memory_bytes": "0"}, "row_order_memory_bytes=0"),
        ({"ordered": "true"}, "row_order=None"),
        ({"delivery_journal": str(tmp_path / "a-file")}, "delivery_journal="),
        ({"delivery_journal": str(tmp_path), "idempotency_header": "none"}, "delivery_journal="),
    ]:
        with pytest.raises(AnalysisException, match=named):
            _write(frame, server.url("/x"), **options)


def test_the_summary_adds_up_reports_and_counts_the_partitions_without_one():
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
    summary = WriteSummary.of(reports, status="aborted")
    assert (summary.tasks, summary.records_sent, summary.records_delivered) == (2, 15, 13)
    assert summary.records_failed == summary.records_dead_lettered == 2
    assert summary.dead_letter_paths == ("/dl/part-00002-attempt-1.jsonl",)
    assert summary.unfinished_partitions == 1
    assert summary.records_delivered_by_failed_attempts is None  # no journal: unknown


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
