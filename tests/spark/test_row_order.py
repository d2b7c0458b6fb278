"""Content order and the delivery journal of Spark writes, without a SparkSession.

A retried Spark task may get its rows in another order (a shuffle read on another executor);
cut in content order, the same rows make the same batches and idempotency keys
(docs/reliability.md test 45). The journal lets a re-run skip what an earlier attempt
delivered, for servers that ignore the keys.
"""

from __future__ import annotations

import functools
import random
from collections import Counter
from collections.abc import Iterable

import pyarrow as pa
import pytest
from spark_servers import SparkIngest

from hiveframe._http.portal import run_sync
from hiveframe._protocol.arrow.json_rows import batch_to_json_lines
from hiveframe._protocol.batching import EncodedRows, RequestBatch
from hiveframe.connectors import HTTPSink
from hiveframe.connectors._sink import SinkWriter
from hiveframe.errors import DeliveryFailed
from hiveframe.spark._journal import TaskJournal, unreported_deliveries
from hiveframe.spark._order import ContentOrder
from hiveframe.spark._write import _send

URL = "https://api.example.com/ingest"


def _records(n: int) -> list[dict]:
    pick = random.Random(3)
    return [
        {"id": i, "name": f"item-{pick.randrange(10**6)}", "tags": ["a"] * (i % 4), "x": i / 7}
        for i in range(n)
    ]


def _batches(records: list[dict], sizes: int) -> list[pa.RecordBatch]:
    return [
        pa.RecordBatch.from_pylist(records[i : i + sizes]) for i in range(0, len(records), sizes)
    ]


def _shuffled(records: list[dict]) -> list[dict]:
    again = list(records)
    random.Random(11).shuffle(again)
    return again


def _cut(items: Iterable[EncodedRows | pa.RecordBatch]) -> list[tuple[str, bytes]]:
    """The keys and bodies a sink sends for these inputs, in order."""
    batcher = HTTPSink(URL, batch_size=64, max_batch_bytes=4096).options.batcher()
    rows = [row for item in items for row in _encoded(item)]
    return [(b.key or "", b.body) for b in [*batcher.add(rows), *batcher.flush()]]


def _encoded(item: EncodedRows | pa.RecordBatch) -> list[bytes]:
    return list(item.rows) if isinstance(item, EncodedRows) else batch_to_json_lines(item)


def test_the_same_rows_in_another_order_make_the_same_batches_and_keys():
    records = _records(3000)
    first, second = _batches(records, 500), _batches(_shuffled(records), 128)
    with ContentOrder() as order:
        sent_first = _cut(order.rows(first))
    with ContentOrder() as order:
        sent_second = _cut(order.rows(second))

    assert len(sent_first) > 10  # batches were cut (by count and by bytes)
    assert sent_first == sent_second  # same bodies, same idempotency keys
    # Control: cut as they arrive, the two orders share almost no batch.
    shared = {key for key, _ in _cut(first)} & {key for key, _ in _cut(second)}
    assert len(shared) < len(sent_first) // 10


def test_a_partition_larger_than_the_memory_budget_spills_sorted_runs(tmp_path):
    records = _records(3000)
    with ContentOrder() as order:
        in_memory = [row for chunk in order.rows(_batches(records, 300)) for row in chunk.rows]
    with ContentOrder(memory_bytes=20_000, folder=str(tmp_path)) as order:
        spilled = [
            row for chunk in order.rows(_batches(_shuffled(records), 70)) for row in chunk.rows
        ]
        assert order.spilled_runs > 5
        assert any(tmp_path.iterdir())
    assert len(in_memory) == 3000
    assert spilled == in_memory == sorted(in_memory)
    assert not any(tmp_path.iterdir())  # the runs are removed


def test_a_sink_given_content_ordered_rows_twice_is_deduplicated_by_key(serve):
    ingest = SparkIngest(honour_keys=True)
    server = serve({"/ingest": ingest})
    records = _records(1000)
    sink = HTTPSink(server.url("/ingest"), batch_size=50)
    for batches in (_batches(records, 100), _batches(_shuffled(records), 33)):
        with ContentOrder() as order:
            assert sink.write(order.rows(batches)).records_delivered == 1000

    assert sorted(r["id"] for r in ingest.stored) == list(range(1000))  # stored once
    assert sorted(Counter(ingest.keys_sent).values()) == [2] * 20  # every key sent twice


@pytest.mark.parametrize("fault", ["refuse_once", "commit_then_500"])
def test_a_journal_skips_what_an_earlier_attempt_delivered(serve, tmp_path, fault):
    # A plain server (keys ignored): the re-run sends only what the first run did not
    # deliver. An acknowledgment the server lost (stored, then 500) cannot be known: that
    # batch alone is stored twice.
    ingest = SparkIngest(honour_keys=False, fault=fault, fault_id=500)
    server = serve({"/ingest": ingest})
    records = _records(1000)
    sink = HTTPSink(server.url("/ingest"), batch_size=50, retry=None)

    def attempt(task_id: int, batches: list[pa.RecordBatch]) -> TaskJournal:
        journal = TaskJournal(tmp_path, partition=3, write_id="w1", task_id=task_id)
        with journal, ContentOrder() as order:
            writer = SinkWriter(sink.spec, journal=journal)
            run_sync(functools.partial(_send, writer, order.rows(batches)))
        return journal

    with pytest.raises(DeliveryFailed):
        attempt(1, _batches(records, 100))
    again = attempt(2, _batches(_shuffled(records), 64))

    assert ingest.fault_records  # the fault happened, on the batch holding id 500
    twice = {i for i, n in Counter(r["id"] for r in ingest.stored).items() if n > 1}
    assert twice == (set(ingest.fault_records) if fault == "commit_then_500" else set())
    assert {r["id"] for r in ingest.stored} == set(range(1000))
    assert again.records_skipped == 1000 - len(ingest.fault_records)
    assert again.path is not None
    # The first attempt reported nothing: the driver finds its deliveries in the journal.
    assert unreported_deliveries(tmp_path, "w1", {again.path}) == again.records_skipped
    assert unreported_deliveries(tmp_path, "w2", set()) == 0


def test_a_journal_line_cut_short_by_a_crash_is_not_trusted(tmp_path):
    (tmp_path / "part-00000-w1-7.keys").write_text("aaaa 50\nbbbb 5")
    journal = TaskJournal(tmp_path, partition=0, write_id="w1", task_id=8)
    assert unreported_deliveries(tmp_path, "w1", set()) == 50
    assert journal.delivered_before(RequestBatch(0, 0, (b"{}",) * 50, b"", "aaaa"))
    assert not journal.delivered_before(RequestBatch(1, 50, (b"{}",) * 5, b"", "bbbb"))
    assert journal.records_skipped == 50
