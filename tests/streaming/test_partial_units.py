"""A limit that cuts a unit (a polled page, an SSE event of several records) resumes exactly.

docs/reliability.md test 44: the position saved is the one after the last record delivered
(the position before the unit, plus the records of it delivered), so a rerun goes on with
the next record: across two runs every id arrives once, none twice, none skipped. Both runs
talk to a real loopback server; the polls and reconnects wait on the fake clock.
"""

from __future__ import annotations

import itertools

import pytest

from grouped_feed import GroupedFeed
from hiveframe._protocol.checkpoint import Checkpoint
from hiveframe.connectors import HTTPSource
from hiveframe.demo._events import EventsAPI
from hiveframe.errors import ConfigError
from hiveframe.streaming import StreamConfig, StreamProcessor
from waiting import WAIT


def polled(server, clock, **options) -> HTTPSource:
    return HTTPSource(server.url("/events"), poll_interval_seconds=10, clock=clock, **options)


def grouped(server, clock) -> HTTPSource:
    return HTTPSource(server.url("/stream"), stream_type="sse", clock=clock)


@pytest.fixture
def events(serve):
    api = EventsAPI(initial=250, every_seconds=None)  # polls answer pages of 100
    return serve(api.routes())


@pytest.fixture
def feed(serve):
    return serve({"/stream": GroupedFeed(events=40)})


def run(source: HTTPSource, folder, limit: int, **options) -> tuple[list[int], dict]:
    """One run of a stream with a checkpoint: the ids it delivered and its saved position."""
    got: list[int] = []
    stream = StreamProcessor(StreamConfig(checkpoint_dir=folder, **options))
    query = (
        stream.from_source(source, name="cut")
        .map(lambda record: record["id"])
        .limit(limit)
        .foreach(got.append)
    )
    query.start()
    assert query.await_termination(WAIT)
    saved = Checkpoint.load(folder / "cut.json")
    assert saved is not None and saved.position == query.position
    return got, saved.position


@pytest.mark.parametrize(
    ("options", "cut_at"),
    [
        ({"since_param": "since", "since_field": "id"}, 50),  # pages of 100, the server's
        ({"pagination": "offset", "page_size": 40}, 10),  # the second page of the poll
        ({"pagination": "offset", "page_size": 40, "dedupe_key": "id"}, 10),
    ],
    ids=["cursor", "paginated", "deduplicated"],
)
def test_a_limit_that_cuts_a_polled_page_resumes_at_the_next_record(
    events, clock, tmp_path, options, cut_at
):
    source = polled(events, clock, **options)
    first, position = run(source, tmp_path, limit=50)
    assert first == list(range(1, 51))
    assert position["kind"] == "poll" and position["skip"] == cut_at

    second, _ = run(source, tmp_path, limit=70)
    assert first + second == list(range(1, 121))  # every id once, in order
    third, _ = run(source, tmp_path, limit=30)
    assert first + second + third == list(range(1, 151))


def test_a_limit_that_cuts_an_sse_event_resumes_at_its_next_record(feed, clock, tmp_path):
    source = grouped(feed, clock)
    first, position = run(source, tmp_path, limit=7)  # events 1, 2 and one record of 3
    assert first == list(range(1, 8))
    assert position == {"kind": "sse", "last_event_id": "2", "retry_ms": 0, "skip": 1}

    second, position = run(source, tmp_path, limit=4)  # the rest of event 3, two of event 4
    assert second == [8, 9, 10, 11]
    assert position == {"kind": "sse", "last_event_id": "3", "retry_ms": 0, "skip": 2}
    third, position = run(source, tmp_path, limit=1)  # event 4 ends with the limit
    assert first + second + third == list(range(1, 13))
    assert position == {"kind": "sse", "last_event_id": "4", "retry_ms": 0}
    resumed_after = [request.header("last-event-id") for request in feed.requests_to("/stream")]
    assert resumed_after == [None, "2", "3"]


def test_records_a_filter_dropped_before_the_cut_are_not_read_again(events, clock, tmp_path):
    def odd_ids(folder, limit: int) -> list[int]:
        got: list[int] = []
        query = (
            StreamProcessor(StreamConfig(checkpoint_dir=folder))
            .from_source(polled(events, clock), name="odd")
            .filter(lambda record: record["id"] % 2 == 1)
            .map(lambda record: record["id"])
            .limit(limit)
            .foreach(got.append)
        )
        query.start()
        assert query.await_termination(WAIT)
        return got

    first = odd_ids(tmp_path, 10)  # ids 1..19 of the first page
    assert Checkpoint.load(tmp_path / "odd.json").position["skip"] == 19
    second = odd_ids(tmp_path, 10)
    assert first + second == list(range(1, 41, 2))


def test_a_record_stream_left_inside_a_page_resumes_at_the_next_record(events, clock):
    source = polled(events, clock, since_param="since", since_field="id")
    ids: list[int] = []
    position = None
    for take in (30, 30, 30, 30):  # the fourth crosses into the second page
        with source.stream(position=position) as records:
            ids += [record["id"] for record in itertools.islice(records, take)]
            position = records.position
    assert ids == list(range(1, 121))
    assert position["cursor"] == 100 and position["skip"] == 20


def test_an_sse_record_stream_left_inside_an_event_resumes_at_the_next_record(feed, clock):
    source = grouped(feed, clock)
    ids: list[int] = []
    position = None
    for take in (4, 4, 1, 3):
        with source.stream(position=position) as records:
            ids += [record["id"] for record in itertools.islice(records, take)]
            position = records.position
    assert ids == list(range(1, 13))
    assert position == {"kind": "sse", "last_event_id": "4", "retry_ms": 0}


@pytest.mark.parametrize("skip", [0, -1, "2", True, 1.5])
def test_a_malformed_partial_position_is_refused_naming_the_option(events, clock, skip):
    source = polled(events, clock)
    position = {"kind": "poll", "skip": skip}
    with pytest.raises(ConfigError) as info, source.stream(position=position) as records:
        next(records)
    assert info.value.option == "position"
