"""How the reports of an incremental Spark read's task attempts become the saved state.

Pure: the run folder's files are written here as tasks write them (no Spark needed).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hiveframe._protocol.incremental import CursorState, IncrementalState
from hiveframe.connectors import HTTPSource, Incremental
from hiveframe.connectors._incremental import CursorRun
from hiveframe.spark._state import TaskCursor, commit, new_read, outcome

URL = "https://api.test/orders"


def source(state: Path) -> HTTPSource:
    cursor = Incremental("n", param="since", primary_key="id", state=state)
    return HTTPSource(URL, incremental=cursor)


def report(task: TaskCursor, index: int, attempt: str, records: list[tuple[int, int]]) -> None:
    """A task attempt that delivered ``records`` (cursor value, id) and reported."""
    spec = source(Path("unused.json")).spec
    run = task.run(spec)
    assert run is not None
    run.window.admit([n for n, _ in records], lambda i: str(records[i][1]))
    task.report(index, attempt, run, 0)


def cursor(state: IncrementalState | None) -> tuple[object, list[str]]:
    assert state is not None
    entry = state.cursors[None][1]
    return entry.value, sorted(entry.keys)


def test_partitions_join_at_their_highest_value_and_retries_count_least(tmp_path):
    read = new_read(str(tmp_path), 2, None)
    task = TaskCursor(None, str(tmp_path), read)
    report(task, 0, "1", [(1, 1), (2, 2), (5, 3)])
    report(task, 1, "2", [(7, 4), (7, 5)])
    report(task, 1, "3", [(7, 4), (7, 5), (8, 6)])  # a retry that saw one more record
    assert cursor(outcome(tmp_path, None, "s").state) == (7, ["4", "5"])


def test_a_read_with_a_partition_that_never_reported_commits_nothing(tmp_path):
    state = tmp_path / "orders.json"
    read = new_read(str(tmp_path), 2, None)
    report(TaskCursor(None, str(tmp_path), read), 0, "1", [(1, 1)])
    with pytest.raises(RuntimeError, match="read every partition"):
        commit(source(state).spec, tmp_path, None)
    assert not state.exists()


def test_two_complete_reads_keep_what_both_delivered(tmp_path):
    saved = IncrementalState(
        URL, "n", "number", ("id",), {None: (None, CursorState(3, frozenset({'"9"'})))}
    )
    for records in ([(4, 1), (6, 2)], [(4, 1)]):
        read = new_read(str(tmp_path), 1, None)
        report(TaskCursor(saved, str(tmp_path), read), 0, "1", records)
    assert cursor(outcome(tmp_path, saved, "s").state) == (4, ["1"])


def test_the_state_is_saved_atomically_once_complete(tmp_path):
    state = tmp_path / "orders.json"
    read = new_read(str(tmp_path), 1, None)
    report(TaskCursor(None, str(tmp_path), read), 0, "1", [(2, 1), (2, 2)])
    commit(source(state).spec, tmp_path, None)
    run = CursorRun(source(state).spec.incremental, URL)
    assert run.window.start_value(None) == 2
