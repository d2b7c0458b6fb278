"""Exactly once at an HTTP sink across stops, restarts and a lost checkpoint.

The sink is the demo ``/ingest`` endpoint, which stores each batch and answers a repeated
``Idempotency-Key`` without storing it again; its stored records are the ground truth
("server-side count and ids").
"""

from __future__ import annotations

import shutil

from hiveframe.connectors import HTTPSink, HTTPSource
from hiveframe.demo._events import EventsAPI
from hiveframe.demo._ingest import IngestAPI
from hiveframe.streaming import StreamConfig, StreamProcessor, StreamStatus
from waiting import WAIT, eventually


def stored_ids(ingest: IngestAPI) -> list[int]:
    return [record["id"] for record in ingest.records]


def run(server, clock, folder, *, path: str = "/stream", limit: int | None = None, **config):
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
    query = stream.to(HTTPSink(server.url("/ingest"), batch_size=100))
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
