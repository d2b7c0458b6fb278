"""The incremental cursor without I/O: comparison by type, the boundary, the state document."""

from __future__ import annotations

from datetime import date, datetime, timezone

import orjson
import pytest

from hiveframe._protocol.checkpoint import write_atomically
from hiveframe._protocol.incremental import (
    CursorState,
    CursorWindow,
    Incremental,
    IncrementalState,
    content_key,
    cursor_key,
    record_key,
)
from hiveframe.errors import ConfigError

SOURCE = "https://api.test/orders"


def window(config: Incremental, saved: IncrementalState | None = None) -> CursorWindow:
    return CursorWindow(config, saved, source=SOURCE, where="s.json")


def keys(*ids: int):
    return lambda index: record_key([ids[index]])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-01T00:00:00Z", datetime(2024, 1, 1, tzinfo=timezone.utc)),
        ("2024-01-01T02:00:00+02:00", datetime(2024, 1, 1, tzinfo=timezone.utc)),
        ("2024-01-01 00:00:00", datetime(2024, 1, 1, tzinfo=timezone.utc)),  # no offset: UTC
        ("2024-01-01T00:00:00.1234567Z", datetime(2024, 1, 1, 0, 0, 0, 123456, timezone.utc)),
        ("2024-01-01", datetime(2024, 1, 1, tzinfo=timezone.utc)),
        (date(2024, 1, 1), datetime(2024, 1, 1, tzinfo=timezone.utc)),
        (datetime(2024, 1, 1), datetime(2024, 1, 1, tzinfo=timezone.utc)),
    ],
)
def test_timestamps_compare_as_instants(value, expected):
    assert cursor_key(value, "timestamp") == expected


@pytest.mark.parametrize(
    ("value", "kind"),
    [("yesterday", "timestamp"), (True, "number"), ("1.5x", "number"), (3, "string")],
)
def test_a_value_of_another_type_is_refused(value, kind):
    with pytest.raises(ValueError):
        cursor_key(value, kind)


@pytest.mark.parametrize(
    ("initial", "kind"),
    [("2024-01-01T00:00:00Z", "timestamp"), (10, "number"), (2.5, "number"), ("v-10", "string")],
)
def test_the_type_is_inferred_from_initial_value(initial, kind):
    assert Incremental("c", initial_value=initial, state="s.json").cursor_type == kind


def test_records_at_the_boundary_are_neither_lost_nor_doubled():
    config = Incremental("t", param="since", state="s.json", primary_key="id")
    first = window(config)
    assert first.admit([1, 2, 2], keys(10, 11, 12)) == [True, True, True]
    state = first.state()
    assert state.cursors[None][1].value == 2
    assert state.cursors[None][1].keys == {"11", "12"}

    second = window(config, state)
    assert second.start_value(None) == 2
    # 11 and 12 again (the API is inclusive), 13 new at the same value, 14 later.
    assert second.admit([2, 2, 2, 3], keys(11, 12, 13, 14)) == [False, False, True, True]
    assert (second.dropped, second.older) == (2, 0)
    assert second.state().cursors[None][1] == CursorState(3, frozenset({"14"}))


def test_new_records_at_the_saved_value_join_its_keys():
    config = Incremental("t", param="since", state="s.json", primary_key="id")
    first = window(config)
    first.admit([5], keys(1))
    second = window(config, first.state())
    assert second.admit([5, 5], keys(1, 2)) == [False, True]
    assert second.state().cursors[None][1].keys == {"1", "2"}


def test_older_records_are_counted_as_an_ignored_parameter():
    config = Incremental("t", param="since", initial_value=10, state="s.json")
    run = window(config)
    assert run.admit([8, 9, 10, 11], [f'"{i}"' for i in range(4)].__getitem__) == [
        False,
        False,
        True,
        True,
    ]
    assert (run.older, run.dropped) == (2, 2)


def test_end_value_drops_records_from_it_on_and_keeps_the_cursor_below():
    config = Incremental("t", initial_value=0, end_value=5, state="s.json")
    run = window(config)
    assert run.admit([3, 4, 5, 6], [f'"{i}"' for i in range(4)].__getitem__) == [
        True,
        True,
        False,
        False,
    ]
    assert run.state().cursors[None][1].value == 4
    assert run.older == 0
    # 6 is after end_value (an API sent it ignored it); 5 is at it (an inclusive end)
    assert run.later == 1


def test_a_failed_partition_keeps_its_saved_cursor():
    config = Incremental("t", state="s.json", primary_key="id")
    first = window(config)
    first.admit([1], keys(1), {"p": 1})
    second = window(config, first.state())
    second.admit([2], keys(2), {"p": 1})
    second.admit([7], keys(7), {"p": 2})
    second.forget({"p": 1})
    second.forget({"p": 2})
    assert second.state().cursors == first.state().cursors
    assert not second.changed


def test_a_record_without_a_value_names_it():
    run = window(Incremental("updated_at", cursor_type="timestamp", state="s.json"))
    with pytest.raises(ValueError, match="record 1 has no value for the cursor field"):
        run.admit(["2024-01-01T00:00:00Z", None], keys(1, 2))


def test_the_state_document_round_trips_and_is_versioned(tmp_path):
    config = Incremental("t", state="s.json", primary_key=["a", "b"])
    run = window(config)
    run.admit([1], lambda i: record_key([1, "x"]))
    run.admit([4], lambda i: record_key([2, "y"]), {"parent": 7})
    path = tmp_path / "state" / "s.json"
    write_atomically(path, run.state().to_json(0.0))
    document = orjson.loads(path.read_bytes())
    assert document["version"] == 1 and document["kind"] == "hiveframe.incremental"
    assert (document["cursor"], document["boundary_keys"]) == (1, [[1, "x"]])
    assert document["partitions"] == [
        {"parent": {"parent": 7}, "cursor": 4, "boundary_keys": [[2, "y"]]}
    ]
    assert document["saved_at"] == "1970-01-01T00:00:00+00:00"
    again = IncrementalState.from_json(path.read_bytes(), where=str(path))
    assert again == run.state()
    assert [p.name for p in path.parent.iterdir()] == ["s.json"]


def test_content_keys_do_not_depend_on_field_order():
    assert content_key({"a": 1, "b": [2]}) == content_key({"b": [2], "a": 1})
    assert content_key({"a": 1}) != content_key({"a": 2})


@pytest.mark.parametrize(
    ("saved", "reason"),
    [
        ({"source": "https://api.test/other"}, "source="),
        ({"cursor_field": "other"}, "cursor_field="),
        ({"primary_key": ["other"]}, "primary_key="),
    ],
)
def test_a_state_of_another_source_or_cursor_is_refused(saved, reason):
    config = Incremental("t", state="s.json", primary_key="id")
    state = IncrementalState(
        **{"source": SOURCE, "cursor_field": "t", "cursor_type": "number", "primary_key": ("id",)}
        | saved
    )
    with pytest.raises(ConfigError, match=f"was saved with {reason}") as caught:
        window(config, state)
    assert caught.value.option == "incremental.state"


@pytest.mark.parametrize(
    "data", [b"{", b"[]", b'{"version": 2, "kind": "hiveframe.incremental"}', b'{"version": 1}']
)
def test_a_file_that_is_not_a_state_file_is_refused(data):
    with pytest.raises(ConfigError) as caught:
        IncrementalState.from_json(data, where="s.json")
    assert caught.value.option == "incremental.state"
