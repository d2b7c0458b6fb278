"""Exactly once at a sink across stops, restarts, a lost checkpoint and a lost batch.

The sink is the demo ``/ingest`` endpoint, which stores each batch and answers a repeated
``Idempotency-Key`` without storing it again; its stored records are the ground truth
("server-side count and ids").
"""

from __future__ import annotations

import shutil

import pytest

from hiveframe._protocol.checkpoint import Checkpoint
from hiveframe.connectors import HTTPSink, HTTPSource
from hiveframe.demo._events import EventsAPI
from hiveframe.demo._ingest import IngestAPI
from hiveframe.errors import DeliveryFailed
from hiveframe.streaming import StreamConfig, StreamProcessor, StreamStatus
from sinkfaults import FaultyIngest
from waiting import WAIT, eventually


def stored_ids(ingest: IngestAPI) -> list[int]:
    return [record["id"] for record in ingest.records]


def run(
    server, clock, folder, *, path: str = "/stream", limit: int | None = None, sink=None, **config
):
    if path == "/stream":
        source = HTTPSource(server.url(path), stream_type="sse", clock=clock)
    else:
        source = HTTPSource(
            server.url(path),
            poll_interval_seconds=5,
            since_param="since",
            since_field="id",
            pagination="offset",
            page_size=7,
            clock=clock,
        )
    processor = StreamProcessor(StreamConfig(checkpoint_dir=folder, **config))
    stream = processor.from_source(source, name="orders").batch(size=4, interval_seconds=None)
    if limit is not None:
        stream = stream.limit(limit)
    query = stream.to(sink if sink is not None else HTTPSink(server.url("/ingest"), batch_size=100))
    query.start()
    return query


def test_stopped_mid_stream_and_started_again_delivers_every_record_once(serve, clock, tmp_path):
    events = EventsAPI(initial=20, every_seconds=None, drop_every=6)  # drops, too
    ingest = IngestAPI()
    server = serve({**events.routes(), **ingest.routes()})

    first = run(server, clock, tmp_path)
    eventually(lambda: len(ingest.records) >= 8)
    events.append(10)  # the feed goes on while the stream stops
    first.stop(graceful=True)
    assert first.status is StreamStatus.STOPPED
    delivered_before = len(ingest.records)
    assert first.position["last_event_id"] == str(delivered_before)

    events.append(10)
    second = run(server, clock, tmp_path, limit=40 - delivered_before)
    assert second.await_termination(WAIT)

    assert stored_ids(ingest) == list(range(1, 41))  # every record, once, in order
    assert ingest.duplicates == 0
    resumed_with = [r.header("last-event-id") for r in server.requests_to("/stream")]
    assert str(delivered_before) in resumed_with


def test_a_lost_checkpoint_replays_identical_batches_that_the_server_drops(serve, clock, tmp_path):
    # A crash between the sink's acknowledgement and the checkpoint write: the restart
    # sends the same records in the same batches, with the same idempotency keys.
    events = EventsAPI(initial=40, every_seconds=None)
    ingest = IngestAPI()
    server = serve({**events.routes(), **ingest.routes()})
    checkpoint = tmp_path / "orders.json"

    run(server, clock, tmp_path, limit=8, batch_interval_seconds=None).await_termination(WAIT)
    shutil.copy(checkpoint, tmp_path / "after-8.json")
    run(server, clock, tmp_path, limit=8, batch_interval_seconds=None).await_termination(WAIT)
    shutil.copy(tmp_path / "after-8.json", checkpoint)  # the save after 16 never happened

    run(server, clock, tmp_path, limit=12, batch_interval_seconds=None).await_termination(WAIT)

    assert stored_ids(ingest) == list(range(1, 21))
    assert ingest.duplicates == 2  # batches 9-12 and 13-16, answered from their keys
    keys = ingest.batch_keys
    assert len(keys) == len(set(keys)) == 5


def test_a_polling_stream_stopped_and_restarted_delivers_every_record_once(serve, clock, tmp_path):
    events = EventsAPI(initial=30, every_seconds=None)
    ingest = IngestAPI()
    server = serve({**events.routes(), **ingest.routes()})
    growth = iter([3] * 10)
    clock.on_sleep = lambda seconds: events.append(next(growth, 0))  # between polls

    first = run(server, clock, tmp_path, path="/events", batch_interval_seconds=0.01)
    eventually(lambda: len(ingest.records) >= 40)
    first.stop(graceful=True)
    delivered = len(ingest.records)
    assert first.position["cursor"] == delivered or first.position["page"] is not None

    events.append(20)
    second = run(server, clock, tmp_path, path="/events", limit=80 - delivered)
    assert second.await_termination(WAIT)
    assert stored_ids(ingest) == list(range(1, 81))
    assert ingest.duplicates == 0


class LosingSink:
    """A function sink that fails for its ``lose``-th batch: raises instead of acknowledging."""

    def __init__(self, lose: int | None) -> None:
        self.lose = lose
        self.calls = 0
        self.acknowledged: list[list[int]] = []
        self.lost: list[int] = []

    def __call__(self, batch: list[dict]) -> None:
        self.calls += 1
        ids = [record["id"] for record in batch]
        if self.calls == self.lose:
            self.lost = ids
            raise OSError("the disk is full")
        self.acknowledged.append(ids)


@pytest.mark.parametrize("path", ["/stream", "/events"])
def test_a_batch_the_sink_lost_is_the_first_one_the_rerun_delivers(serve, clock, tmp_path, path):
    # docs/reliability.md test 13: the checkpoint never passes a batch the sink did not take.
    events = EventsAPI(initial=60, every_seconds=None)
    server = serve(events.routes())

    first_sink = LosingSink(lose=3)
    first = run(server, clock, tmp_path, path=path, sink=first_sink)
    with pytest.raises(OSError, match="disk is full"):
        first.await_termination(WAIT)
    assert first.status is StreamStatus.FAILED
    delivered = [i for batch in first_sink.acknowledged for i in batch]
    assert len(first_sink.acknowledged) == 2 and first_sink.lost
    assert delivered + first_sink.lost == list(range(1, len(delivered) + len(first_sink.lost) + 1))
    saved = Checkpoint.load(tmp_path / "orders.json")
    assert saved.records_out == len(delivered) == first.metrics.records_out

    again = LosingSink(lose=None)
    second = run(server, clock, tmp_path, path=path, sink=again, limit=len(first_sink.lost))
    assert second.await_termination(WAIT)
    assert again.acknowledged == [first_sink.lost]  # exactly the lost records, once


def test_a_batch_the_server_refused_is_sent_again_by_the_rerun(serve, clock, tmp_path):
    # The HTTP sink loses batch 9-12: the server refuses it (422, not retried, no dead
    # letter), so the stream fails before its checkpoint passes record 8.
    events = EventsAPI(initial=40, every_seconds=None)
    ingest = FaultyIngest(script={9: [422]})
    server = serve({**events.routes(), **ingest.routes()})

    first = run(server, clock, tmp_path)
    with pytest.raises(DeliveryFailed):
        first.await_termination(WAIT)
    assert Checkpoint.load(tmp_path / "orders.json").position["last_event_id"] == "8"
    assert ingest.attempts[9] == 1

    second = run(server, clock, tmp_path, limit=12)
    assert second.await_termination(WAIT)
    assert stored_ids(ingest.ingest) == list(range(1, 21))
    assert ingest.attempts[9] == 2 and ingest.ingest.duplicates == 0
