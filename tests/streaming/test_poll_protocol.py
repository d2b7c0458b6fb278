"""Polling state without I/O: cursor, validators, the seen-keys window, positions."""

from __future__ import annotations

import orjson
import pytest

from hiveframe._protocol.poll import PollState, PollStream
from hiveframe.errors import ConfigError


def config(**options) -> PollStream:
    return PollStream(interval_seconds=10, **options)


def records(*ids: int, field: str = "id") -> list[dict]:
    return [{field: i, "v": f"r{i}"} for i in ids]


def test_the_cursor_is_the_largest_value_seen_and_moves_only_at_the_end_of_a_poll():
    state = PollState(config(since_param="since", since_field="updated"))
    assert state.params() == {}
    state.admit([{"updated": "2026-01-03"}, {"updated": "2026-01-05"}, {"updated": "2026-01-04"}])
    assert state.params() == {}  # still the previous poll's cursor
    state.finish_poll()
    assert state.params() == {"since": "2026-01-05"}
    state.admit([{"updated": "2026-01-01"}])  # older than the cursor: it never goes back
    state.finish_poll()
    assert state.params() == {"since": "2026-01-05"}


def test_records_without_the_cursor_field_leave_it_alone():
    state = PollState(config(since_param="since", since_field="seq"))
    state.admit([{"seq": None}, {"other": 1}, "not a dict"])
    state.finish_poll()
    assert state.params() == {}


def test_the_cursor_can_come_from_the_response_document():
    state = PollState(config(since_param="after", since_path="meta.next_since"))
    state.note_document({"meta": {"next_since": "tok-2"}, "data": []})
    state.note_document({"meta": {}})  # a missing path keeps what was found
    state.finish_poll()
    assert state.params() == {"after": "tok-2"}


def test_boolean_cursors_are_sent_as_json_words():
    state = PollState(config(since_param="flag", since_field="f"))
    state.admit([{"f": True}])
    state.finish_poll()
    assert state.params() == {"flag": "true"}


def test_validators_are_sent_after_the_poll_that_got_them():
    state = PollState(config())
    assert state.conditional_headers() == {}
    state.note_validators({"ETag": '"v1"', "Last-Modified": "Thu, 01 Jan 2026 00:00:10 GMT"})
    assert state.conditional_headers() == {}
    state.finish_poll()
    assert state.conditional_headers() == {
        "If-None-Match": '"v1"',
        "If-Modified-Since": "Thu, 01 Jan 2026 00:00:10 GMT",
    }


def test_conditional_requests_can_be_turned_off():
    state = PollState(config(conditional=False))
    state.note_validators({"ETag": '"v1"'})
    state.finish_poll()
    assert state.conditional_headers() == {}


def test_an_abandoned_poll_commits_nothing_but_keeps_its_keys():
    state = PollState(config(since_param="since", since_field="id", dedupe_key="id"))
    state.admit(records(1, 2))
    state.note_validators({"ETag": '"x"'})
    state.abandon_poll()
    assert state.params() == {} and state.conditional_headers() == {}
    assert state.admit(records(1, 2, 3)) == records(3)  # 1 and 2 were emitted already


def test_dedupe_drops_keys_already_emitted():
    # docs/reliability.md test 12: overlapping windows 1-50 then 40-90 give 1-90 once each.
    state = PollState(config(dedupe_key="id"))
    first = state.admit(records(*range(1, 51)))
    state.finish_poll()
    second = state.admit(records(*range(40, 91)))
    assert [r["id"] for r in first + second] == list(range(1, 91))


def test_records_without_the_key_are_never_dropped():
    state = PollState(config(dedupe_key="id"))
    assert state.admit([{"x": 1}, {"x": 1}, "text"]) == [{"x": 1}, {"x": 1}, "text"]


def test_the_window_forgets_the_least_recently_seen_keys():
    state = PollState(config(dedupe_key="id", dedupe_window=3))
    state.admit(records(1, 2, 3))
    state.admit(records(1))  # seen again: now the most recent
    state.admit(records(4))  # the window is full: 2 goes
    assert state.position()["seen"] == [3, 1, 4]
    assert state.admit(records(1, 4)) == []
    assert state.admit(records(2)) == records(2)  # forgotten, so new again
    assert state.position()["seen"] == [1, 4, 2]


def test_composite_keys_are_stored_as_json_text():
    state = PollState(config(dedupe_key="key"))
    state.admit([{"key": {"b": 1, "a": 2}}])
    assert state.position()["seen"] == ['{"a":2,"b":1}']
    assert state.admit([{"key": {"a": 2, "b": 1}}]) == []


def test_position_round_trips_through_json():
    state = PollState(config(since_param="since", since_field="id", dedupe_key="id"))
    state.admit(records(5, 7))
    state.note_validators({"etag": '"e"', "last-modified": "Thu, 01 Jan 2026 00:00:07 GMT"})
    state.finish_poll()
    saved = orjson.loads(orjson.dumps(state.position()))
    resumed = PollState(state.config, saved)
    assert resumed.params() == {"since": "7"}
    assert resumed.conditional_headers()["If-None-Match"] == '"e"'
    assert resumed.admit(records(7, 8)) == records(8)
    assert saved == {
        "kind": "poll",
        "cursor": 7,
        "etag": '"e"',
        "last_modified": "Thu, 01 Jan 2026 00:00:07 GMT",
        "page": None,
        "seen": [5, 7],
    }


def test_a_position_inside_a_poll_names_its_next_page_until_the_poll_ends():
    state = PollState(config(since_param="since", since_field="id"))
    state.admit(records(1, 2))
    next_page = {"version": 1, "style": "offset", "next": {"url": None, "params": {"o": "2"}}}
    state.note_page(next_page, 1)
    saved = orjson.loads(orjson.dumps(state.position()))
    assert saved["page"] == {"next": next_page, "index": 1}
    assert saved["cursor"] is None  # the poll's cursor is not committed yet
    resumed = PollState(state.config, saved)
    assert resumed.page == {"next": next_page, "index": 1}
    resumed.admit(records(3))
    resumed.finish_poll()
    assert resumed.page is None and resumed.params() == {"since": "3"}


@pytest.mark.parametrize(
    "position",
    [
        {"kind": "sse", "last_event_id": "1"},
        {"kind": "poll", "seen": "1,2"},
        {"kind": "poll", "etag": 5},
        {"kind": "poll", "page": {"next": {}}},
        "poll",
    ],
)
def test_a_foreign_or_malformed_position_is_refused(position):
    with pytest.raises(ConfigError) as info:
        PollState(config(), position)
    assert info.value.option == "position"


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"interval_seconds": 0}, "poll_interval_seconds"),
        ({"interval_seconds": -5}, "poll_interval_seconds"),
        ({"interval_seconds": 5, "since_param": "since"}, "since_field"),
        ({"interval_seconds": 5, "since_field": "id"}, "since_param"),
        (
            {"interval_seconds": 5, "since_param": "s", "since_field": "a", "since_path": "b"},
            "since_path",
        ),
        ({"interval_seconds": 5, "since_param": "s", "since_path": "a..b"}, "since_path"),
        ({"interval_seconds": 5, "dedupe_key": ""}, "dedupe_key"),
        ({"interval_seconds": 5, "dedupe_window": 0}, "dedupe_window"),
        ({"interval_seconds": 5, "conditional": "yes"}, "conditional_requests"),
    ],
)
def test_bad_poll_options_are_named(options, option):
    with pytest.raises(ConfigError) as info:
        PollStream(**options)
    assert info.value.option == option
