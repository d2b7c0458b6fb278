"""StreamProcessor over real loopback HTTP: transforms, batching, backpressure, stop, failure.

Sources run on the fake clock (reconnect and poll waits are instant); streams end by
``limit()`` or ``stop()``. Where a test must wait for the background stream it polls a
condition with a generous timeout, and asserts what happened, never how long it took.
"""

from __future__ import annotations

import threading

import pytest

from clocks import FakeClock
from hiveframe._protocol.checkpoint import Checkpoint
from hiveframe.connectors import HTTPSource
from hiveframe.demo import Reply
from hiveframe.demo._events import EventsAPI
from hiveframe.errors import ConfigError, SSEProtocolError
from hiveframe.streaming import Stream, StreamConfig, StreamProcessor, StreamStatus
from waiting import WAIT, eventually

SIZE_ONLY = {"batch_interval_seconds": None}


def sse(server, clock, **options) -> HTTPSource:
    return HTTPSource(server.url("/stream"), stream_type="sse", clock=clock, **options)


def processor(tmp_path=None, **options) -> StreamProcessor:
    folder = tmp_path / "checkpoints" if tmp_path is not None else None
    return StreamProcessor(StreamConfig(checkpoint_dir=folder, **options))


@pytest.fixture
def feed(serve):
    events = EventsAPI(initial=30, every_seconds=None)
    return events, serve(events.routes())


def test_map_filter_flat_map_and_limit(feed, clock):
    _, server = feed
    out: list[int] = []
    query = (
        processor()
        .from_source(sse(server, clock))
        .filter(lambda r: r["id"] % 2 == 0)
        .map(lambda r: r["id"])
        .flat_map(lambda i: [i, -i])
        .limit(10)
        .foreach(out.append)
    )
    query.start()
    assert query.await_termination(WAIT)
    assert out == [2, -2, 4, -4, 6, -6, 8, -8, 10, -10]
    assert query.status is StreamStatus.COMPLETED
    metrics = query.metrics
    assert (metrics.records_in, metrics.records_out, metrics.queued) == (10, 10, 0)


def test_batches_of_a_size_go_to_a_function(feed, clock):
    _, server = feed
    batches: list[list[int]] = []
    query = (
        processor(**SIZE_ONLY)
        .from_source(sse(server, clock))
        .map(lambda r: r["id"])
        .batch(size=4, interval_seconds=None)
        .limit(10)
        .to(batches.append)
    )
    query.start()
    query.await_termination(WAIT)
    assert batches == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]
    assert query.metrics.batches == 3


def test_an_async_sink_function(feed, clock):
    _, server = feed
    seen: list[int] = []

    async def sink(batch: list[dict]) -> None:
        seen.extend(r["id"] for r in batch)

    query = processor().from_source(sse(server, clock)).limit(5).to(sink)
    query.start()
    query.await_termination(WAIT)
    assert seen == [1, 2, 3, 4, 5]


def test_batches_are_cut_between_units_only(serve, clock):
    events = EventsAPI(initial=15, every_seconds=None)
    server = serve(events.routes())
    source = HTTPSource(server.url("/events"), poll_interval_seconds=60, clock=clock)
    batches: list[int] = []
    query = (
        processor(**SIZE_ONLY)
        .from_source(source)
        .batch(size=4, interval_seconds=None)
        .limit(15)
        .to(lambda batch: batches.append(len(batch)))
    )
    query.start()
    query.await_termination(WAIT)
    assert batches == [15]  # one polled page is one unit: the batch takes it whole


def test_a_batch_interval_flushes_before_the_size_is_reached(serve, clock):
    events = EventsAPI(initial=3, every_seconds=None)
    server = serve(events.routes())
    batches: list[list[int]] = []
    stream_clock = FakeClock()  # the batch interval runs out as soon as the consumer waits
    query = (
        StreamProcessor(StreamConfig(clock=stream_clock))
        .from_source(sse(server, clock))
        .map(lambda r: r["id"])
        .batch(size=100, interval_seconds=5)
        .to(batches.append)
    )
    query.start()
    eventually(lambda: sum(map(len, batches)) == 3)
    query.stop()
    assert [i for batch in batches for i in batch] == [1, 2, 3]
    assert 5.0 in stream_clock.sleeps
    assert query.status is StreamStatus.STOPPED


def test_a_slow_sink_slows_the_source_and_memory_stays_bounded(serve, clock):
    # docs/reliability.md test 19: the producer waits; queued records <= queue_max + one batch.
    events = EventsAPI(initial=300, every_seconds=None)
    server = serve(events.routes())
    gate = threading.Event()
    delivered: list[int] = []

    def slow(batch: list[dict]) -> None:
        gate.wait(WAIT)
        delivered.extend(r["id"] for r in batch)

    query = (
        processor(queue_max=20, **SIZE_ONLY)
        .from_source(sse(server, clock))
        .batch(size=5, interval_seconds=None)
        .limit(300)
        .to(slow)
    )
    query.start()
    eventually(lambda: query.metrics.queued >= 25)  # the queue is full, a batch in the sink
    held = query.metrics
    assert held.records_in <= 20 + 5 + 1  # queue + the batch in the sink + one unit in hand
    assert held.queue_peak <= 20 + 5
    gate.set()
    assert query.await_termination(WAIT)
    assert delivered == list(range(1, 301))
    # The peak is a high-water mark over the whole run: a source that read ahead at any
    # moment, while the sink held its first batch or later, shows here. No timing needed.
    assert query.metrics.queue_peak <= 25


def test_a_graceful_stop_delivers_what_was_read_and_saves_the_position(feed, clock, tmp_path):
    events, server = feed
    got: list[int] = []
    first = processor(tmp_path, batch_interval_seconds=0.01).from_source(
        sse(server, clock), name="s"
    )
    query = first.map(lambda r: r["id"]).foreach(got.append)
    query.start()
    eventually(lambda: len(got) >= 10)
    query.stop(graceful=True)
    assert query.status is StreamStatus.STOPPED
    saved = Checkpoint.load(tmp_path / "checkpoints" / "s.json")
    assert saved.position["last_event_id"] == str(got[-1])
    assert saved.records_out == len(got) and query.position == saved.position

    events.append(5)
    again = processor(tmp_path).from_source(sse(server, clock), name="s")
    more: list[int] = []
    query = again.map(lambda r: r["id"]).limit(35 - len(got)).foreach(more.append)
    query.start()
    query.await_termination(WAIT)
    assert got + more == list(range(1, 36))
    assert Checkpoint.load(tmp_path / "checkpoints" / "s.json").records_out == 35


def test_a_hard_stop_keeps_the_last_acknowledged_position(feed, clock, tmp_path):
    _, server = feed
    gate = threading.Event()
    delivered: list[list[int]] = []

    def sink(batch: list[dict]) -> None:
        if delivered:
            gate.wait(WAIT)  # the second batch never returns before the stop
        delivered.append([r["id"] for r in batch])

    query = (
        processor(tmp_path, **SIZE_ONLY)
        .from_source(sse(server, clock), name="s")
        .batch(size=3, interval_seconds=None)
        .to(sink)
    )
    query.start()
    eventually(lambda: query.position is not None and query.metrics.queued > 3)
    query.stop(graceful=False)
    gate.set()
    assert query.status is StreamStatus.STOPPED
    assert Checkpoint.load(tmp_path / "checkpoints" / "s.json").position["last_event_id"] == "3"


def test_stop_from_inside_the_sink_does_not_deadlock(feed, clock):
    _, server = feed
    got: list[int] = []
    holder: list[Stream] = []

    def each(record: dict) -> None:
        got.append(record["id"])
        if record["id"] == 5:
            holder[0].stop()

    query = processor(**SIZE_ONLY).from_source(sse(server, clock)).batch(size=1).foreach(each)
    holder.append(query)
    query.start()
    assert query.await_termination(WAIT)
    assert query.status is StreamStatus.STOPPED
    assert got[:5] == [1, 2, 3, 4, 5]


def test_a_failing_sink_fails_the_stream_before_the_position_moves(feed, clock, tmp_path):
    _, server = feed
    calls: list[int] = []

    def sink(batch: list[dict]) -> None:
        calls.append(len(batch))
        if len(calls) == 2:
            raise RuntimeError("the warehouse is down")

    query = (
        processor(tmp_path, **SIZE_ONLY)
        .from_source(sse(server, clock), name="s")
        .batch(size=4, interval_seconds=None)
        .to(sink)
    )
    query.start()
    with pytest.raises(RuntimeError, match="warehouse"):
        query.await_termination(WAIT)
    assert query.status is StreamStatus.FAILED
    assert isinstance(query.exception, RuntimeError)
    assert query.metrics.errors >= 1 and "warehouse" in query.metrics.last_error
    saved = Checkpoint.load(tmp_path / "checkpoints" / "s.json")
    assert saved.position["last_event_id"] == "4" and saved.records_out == 4


def test_a_source_failure_delivers_what_came_before_then_fails(serve, clock, tmp_path):
    served = iter(
        [
            Reply(200, {"Content-Type": "text/event-stream"}, b"retry: 0\nid: 1\ndata: {}\n\n"),
            Reply(404, {}, b"gone"),
        ]
    )
    server = serve({"/stream": lambda request: next(served)})
    got: list[dict] = []
    query = processor(tmp_path).from_source(sse(server, clock), name="s").foreach(got.append)
    query.start()
    with pytest.raises(SSEProtocolError):
        query.await_termination(WAIT)
    assert got == [{}]
    assert Checkpoint.load(tmp_path / "checkpoints" / "s.json").position["last_event_id"] == "1"


def test_204_completes_the_stream(serve, clock):
    served = iter(
        [
            Reply(200, {"Content-Type": "text/event-stream"}, b"retry: 0\ndata: {}\n\n"),
            Reply(204),
        ]
    )
    server = serve({"/stream": lambda request: next(served)})
    got: list[dict] = []
    query = processor().from_source(sse(server, clock)).foreach(got.append)
    query.start()
    assert query.await_termination(WAIT)
    assert query.status is StreamStatus.COMPLETED and got == [{}]


def test_a_checkpoint_of_another_source_is_refused(serve, clock, tmp_path):
    events = EventsAPI(initial=3, every_seconds=None)
    server = serve(events.routes())
    query = processor(tmp_path).from_source(sse(server, clock), name="s").limit(1).foreach(print)
    query.start()
    query.await_termination(WAIT)
    polling = HTTPSource(server.url("/events"), poll_interval_seconds=1, clock=clock)
    other = processor(tmp_path).from_source(polling, name="s").foreach(print)
    other.start()
    with pytest.raises(ConfigError) as info:
        other.await_termination(WAIT)
    assert info.value.option == "checkpoint_dir"


def test_the_processor_runs_and_reports_all_its_streams(serve, clock):
    events = EventsAPI(initial=10, every_seconds=None)
    server = serve(events.routes())
    stream = processor()
    polled = HTTPSource(server.url("/events"), poll_interval_seconds=60, clock=clock)
    a = stream.from_source(sse(server, clock)).limit(4).foreach(lambda r: None)
    b = stream.from_source(polled).limit(10).foreach(lambda r: None)
    assert [s.name for s in stream.streams] == ["stream-0", "stream-1"] == [a.name, b.name]
    assert stream.status is StreamStatus.CREATED
    stream.start()
    assert stream.await_termination(WAIT)
    assert stream.status is StreamStatus.COMPLETED and stream.exception is None
    metrics = stream.metrics
    assert (metrics.records_out, metrics.polls) == (14, 1)
    stream.stop()  # stopping ended streams is harmless


def test_a_terminated_stream_can_be_started_again(feed, clock, tmp_path):
    _, server = feed
    got: list[int] = []
    query = (
        processor(tmp_path)
        .from_source(sse(server, clock), name="s")
        .map(lambda r: r["id"])
        .limit(3)
        .foreach(got.append)
    )
    query.start()
    query.await_termination(WAIT)
    query.start()  # from its checkpoint
    query.await_termination(WAIT)
    assert got == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"queue_max": 0}, "queue_max"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_interval_seconds": 0}, "batch_interval_seconds"),
        ({"checkpoint_dir": 5}, "checkpoint_dir"),
    ],
)
def test_bad_config_is_named(options, option):
    with pytest.raises(ConfigError) as info:
        StreamConfig(**options)
    assert info.value.option == option


def test_misuse_is_refused_with_the_option_named(clock):
    stream = processor()
    with pytest.raises(ConfigError) as info:
        stream.from_source(HTTPSource("https://api.test/data"))
    assert info.value.option == "source"
    source = HTTPSource("https://api.test/stream", stream_type="sse", clock=clock)
    with pytest.raises(ConfigError) as info:
        stream.from_source(source, name="../escape")
    assert info.value.option == "name"
    built = stream.from_source(source, name="x")
    with pytest.raises(ConfigError):
        built.start()  # no sink yet
    for call, option in [
        (lambda: built.limit(0), "limit"),
        (lambda: built.batch(size=0), "batch_size"),
        (lambda: built.map("not callable"), "map"),
        (lambda: built.to(42), "sink"),
    ]:
        with pytest.raises(ConfigError) as info:
            call()
        assert info.value.option == option
    built.foreach(print)
    with pytest.raises(ConfigError) as info:
        stream.from_source(source, name="x").foreach(print)
    assert info.value.option == "name"
    with pytest.raises(ConfigError):
        StreamProcessor(config={"checkpoint_dir": "x"})
