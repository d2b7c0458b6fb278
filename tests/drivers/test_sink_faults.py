"""HTTPSink under injected faults over real loopback HTTP: nothing lost, nothing doubled.

Waits run on a fake clock (``clock`` fixture), so retries cost no time. The server
(:class:`sinkfaults.FaultyIngest` over the demo's ingest endpoint) honours
``Idempotency-Key``, so a batch whose acknowledgement was lost is not stored twice.
"""

from __future__ import annotations

import collections

import orjson
import pytest

from hiveframe.connectors import HTTPSink
from hiveframe.demo._ingest import IngestAPI
from hiveframe.errors import DeliveryFailed
from hiveframe.resilience import CircuitBreaker, RetryConfig
from sinkfaults import FaultyIngest

FAST = RetryConfig(max_attempts=4, initial_delay_seconds=0.01, max_delay_seconds=0.05)


def records(n: int) -> list[dict[str, object]]:
    return [{"id": i, "payload": f"record-{i}"} for i in range(n)]


def sink_for(server, clock, **options) -> HTTPSink:
    options.setdefault("batch_size", 10)
    options.setdefault("retry", FAST)
    return HTTPSink(server.url("/ingest"), clock=clock, **options)


def stored_ids(ingest: IngestAPI) -> list[int]:
    return [record["id"] for record in ingest.records]


def read_dead_letter(path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_transient_faults_lose_and_double_nothing(serve, clock):
    script = {
        0: [503, 503],
        30: ["drop"],  # request read, connection dropped before any reply
        50: ["reset"],  # 200 headers, then a reset
        70: ["lost_ack", 503],  # stored, the answer lost; then a 503
        110: [429, "lost_ack"],
        190: [500, 502, 504],
    }
    server_side = FaultyIngest(script=script, retry_after="1")
    server = serve(server_side.routes())

    result = sink_for(server, clock, max_in_flight=4).write(records(200))

    ids = stored_ids(server_side.ingest)
    assert len(ids) == len(set(ids)) == 200 and set(ids) == set(range(200))  # exact, no dupes
    faults = sum(len(f) for f in script.values())
    assert result.ok and result.records_delivered == 200
    assert (result.retries, result.requests) == (faults, 20 + faults)
    assert server_side.ingest.duplicates == 2  # the two lost acks, answered from the key
    for batch, keys in server_side.keys.items():  # one key per batch, on every attempt
        assert len(keys) == 1 + len(script.get(batch, [])) and len(set(keys)) == 1
        assert keys[0] is not None
    assert len({keys[0] for keys in server_side.keys.values()}) == 20
    assert len(clock.sleeps) == faults
    statuses = sum(isinstance(f, int) for fs in script.values() for f in fs)
    assert len([w for w in clock.sleeps if w >= 1.0]) == statuses  # Retry-After: 1 honoured


def test_without_a_key_post_is_not_retried_after_sending(serve, clock):
    # docs/reliability.md test 5: POST is retried only with an idempotency key, or when the
    # connection failed before the request was sent.
    server_side = FaultyIngest(script={10: [503], 20: ["drop"]})
    server = serve(server_side.routes())
    sink = sink_for(server, clock, idempotency_header=None, max_in_flight=1)
    with pytest.raises(DeliveryFailed) as info:
        sink.write(records(30))
    assert (info.value.not_delivered, info.value.batches) == (20, [1, 2])
    assert dict(server_side.attempts) == {0: 1, 10: 1, 20: 1}
    assert stored_ids(server_side.ingest) == list(range(10))


def test_without_a_key_put_is_retried_being_idempotent(serve, clock):
    server_side = FaultyIngest(script={0: [503, "drop"]})
    server = serve(server_side.routes())
    result = sink_for(server, clock, method="PUT", idempotency_header=None).write(records(10))
    assert result.ok and result.retries >= 1  # the transport may itself resend a PUT once
    assert server_side.keys[0] == [None, None, None]
    assert stored_ids(server_side.ingest) == list(range(10))


def test_a_422_batch_goes_to_the_dead_letter_file_and_nothing_else_is_lost(serve, clock, tmp_path):
    server_side = FaultyIngest(script={40: [422]})
    server = serve(server_side.routes())
    dead = tmp_path / "dead.jsonl"

    result = sink_for(server, clock, dead_letter=dead).write(records(100))

    assert stored_ids(server_side.ingest) != [] and sorted(stored_ids(server_side.ingest)) == [
        i for i in range(100) if not 40 <= i < 50
    ]
    assert (result.records_delivered, result.records_failed) == (90, 10)
    assert (result.batches_failed, result.failed_batches) == (1, (4,))
    assert (result.records_dead_lettered, result.dead_letter_path) == (10, str(dead))
    assert server_side.attempts[40] == 1  # a 422 is not retried
    (line,) = read_dead_letter(dead)
    assert line["records"] == records(100)[40:50]
    assert (line["batch"], line["first_record"], line["record_count"]) == (4, 40, 10)
    assert line["status"] == 422 and "injected fault" in line["response_excerpt"]
    assert line["idempotency_key"] == server_side.keys[40][0]
    assert line["method"] == "POST" and line["url"] == server.url("/ingest")
    assert line["failed_at"].startswith("2027-01-15T")  # the fake clock's wall time


def test_without_a_dead_letter_the_write_keeps_going_then_raises(serve, clock):
    # docs/reliability.md test 17: a 400 on batch 2, 5xx until exhaustion on batch 5.
    server_side = FaultyIngest(script={20: [400], 50: [503] * 10})
    server = serve(server_side.routes())
    sink = sink_for(server, clock)
    with pytest.raises(DeliveryFailed) as info:
        sink.write(records(100))
    error = info.value
    assert (error.not_delivered, error.batches, error.kept_at) == (20, [2, 5], None)
    assert "2 of 10 batches failed" in str(error) and "batch 2 (records 20-29)" in str(error)
    assert (server_side.attempts[20], server_side.attempts[50]) == (1, FAST.max_attempts)
    assert sorted(stored_ids(server_side.ingest)) == [
        i for i in range(100) if not (20 <= i < 30 or 50 <= i < 60)
    ]


def test_retries_exhausted_are_dead_lettered_with_the_last_status(serve, clock, tmp_path):
    server_side = FaultyIngest(script={0: [503] * 10})
    server = serve(server_side.routes())
    dead = tmp_path / "dead.jsonl"
    result = sink_for(server, clock, dead_letter=dead).write(records(20))
    assert (result.records_delivered, result.records_dead_lettered) == (10, 10)
    assert result.records_delivered + result.records_failed == result.records_sent
    (line,) = read_dead_letter(dead)
    assert line["status"] == 503 and "gave up after 4 attempts" in line["error"]


@pytest.mark.parametrize("limit", [{"max_records": 3}, {"max_bytes": 120}])
def test_a_413_halves_the_batch_until_it_fits(serve, clock, limit):
    ingest = IngestAPI(**limit)
    server = serve(ingest.routes())
    data = [{"id": i, "pad": "xx"} for i in range(50)]
    result = sink_for(server, clock, batch_size=25, max_in_flight=2).write(data)
    assert result.ok and result.records_delivered == 50
    assert result.splits > 0 and result.requests > 2
    assert sorted(stored_ids(ingest)) == list(range(50))
    if "max_records" in limit:
        assert max(len(batch) for batch in ingest.batches) <= 3
    else:
        accepted = [r for r in server.requests_to("/ingest") if len(r.body) <= 120]
        assert len(accepted) == len(ingest.batches)
    assert result.requests == len(server.requests_to("/ingest"))


def test_a_single_record_too_large_is_dead_lettered_and_the_rest_arrive(serve, clock, tmp_path):
    ingest = IngestAPI(max_bytes=200)
    server = serve(ingest.routes())
    data = records(8)
    data[5]["payload"] = "x" * 500
    dead = tmp_path / "dead.jsonl"
    result = sink_for(server, clock, batch_size=8, dead_letter=dead).write(data)
    assert sorted(stored_ids(ingest)) == [0, 1, 2, 3, 4, 6, 7]
    (line,) = read_dead_letter(dead)
    assert (line["status"], line["records"], line["batch"]) == (413, [data[5]], 0)
    assert (result.batches_failed, result.records_failed, result.splits) == (1, 1, 3)


def test_ordered_mode_keeps_order_through_retries_and_splits(serve, clock):
    server_side = FaultyIngest(
        IngestAPI(max_records=4),
        script={20: [503, "drop"], 60: ["lost_ack"]},
        max_delay_seconds=0.002,
    )
    server = serve(server_side.routes())
    sink = sink_for(server, clock, ordered=True, max_in_flight=4)
    assert sink.write(records(100)).records_delivered == 100
    assert stored_ids(server_side.ingest) == list(range(100))  # stored in input order
    assert server_side.max_concurrent == 1


def test_an_open_circuit_fails_the_rest_fast_and_accounts_for_every_record(serve, clock, tmp_path):
    server_side = FaultyIngest(script={i: [503] * 10 for i in range(0, 200, 10)})
    server = serve(server_side.routes())
    breaker = CircuitBreaker(failure_threshold=3, name="ingest", clock=clock.monotonic)
    sink = sink_for(
        server,
        clock,
        retry=None,
        circuit_breaker=breaker,
        dead_letter=tmp_path / "d.jsonl",
        max_in_flight=1,  # with more, the calls already in flight when it opens go out too
    )
    result = sink.write(records(200))
    assert (result.records_failed, result.records_dead_lettered) == (200, 200)
    assert len(server.requests_to("/ingest")) == 3  # then the circuit is open
    reasons = collections.Counter(
        "open" if "circuit" in line["error"] else line["status"]
        for line in read_dead_letter(tmp_path / "d.jsonl")
    )
    assert reasons == {503: 3, "open": 17}


def test_the_commit_watermark_stops_at_a_lost_batch(serve, clock):
    server_side = FaultyIngest(script={30: [422]})
    server = serve(server_side.routes())
    sink = sink_for(server, clock)

    async def main():
        async with sink.open() as writer:
            with pytest.raises(DeliveryFailed):
                await writer.write(records(60))
            return writer.committed_records, writer.result

    import anyio

    committed, result = anyio.run(main)
    assert committed == 30  # a checkpoint there re-sends batch 3 and the rest on restart
    assert (result.records_delivered, result.records_failed) == (50, 10)
