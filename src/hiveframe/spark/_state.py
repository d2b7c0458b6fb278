"""Incremental reads on Spark: the state read at planning, each task's cursor, the commit.

A Spark batch read has no commit hook, so :func:`hiveframe.spark.read_then_commit` brings its
own. It reads the state file on the driver and gives it to every partition (a
:class:`TaskCursor`); each task admits its records with it, as a one-process read does, and
when it has handed Spark its last record writes how far it got (the state its records reach)
to the read's *run folder*, one file per task attempt. Planning writes there too: how many
partitions the read has, and the pending state of an incremental parent. The commit, on the
driver, once the user's block ended without error, joins the tasks' files into the state to
save. It never moves further than the records Spark kept can justify:

- a partition run more than once (a retried task) counts with its *least* advanced attempt:
  records re-delivered by the next run rather than lost;
- the partitions of one read join: for each cursor (one per parent for a child source), the
  highest value, with the keys of every record delivered at it;
- a read some of whose partitions never reported (``take()``, a failed job) is no read: no
  complete read, no commit.

Files are named ``<read id>.plan`` and ``<read id>-part-<index>-<attempt>.json``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from hiveframe._protocol.checkpoint import write_atomically
from hiveframe._protocol.incremental import (
    CursorState,
    IncrementalState,
    _partition_key,
    cursor_key,
)
from hiveframe.connectors._incremental import CursorRun, load_state
from hiveframe.connectors._spec import SourceSpec

logger = logging.getLogger("hiveframe.read")

Cursors = Mapping[str | None, tuple[dict[str, Any] | None, CursorState]]


@dataclass(frozen=True)
class TaskCursor:
    """What a task of an incremental read needs: the state read at planning, and where its
    attempt reports how far it got.

    ``saved`` is the whole state for a plain source, and the cursors of the partition's
    parents for a child source (the rest stays on the driver).
    """

    saved: IncrementalState | None
    folder: str
    read_id: str

    def run(self, spec: SourceSpec) -> CursorRun | None:
        """The task's cursor run, over the state read at planning (None: the source has no
        cursor, only its parent)."""
        if spec.incremental is None:
            return None
        return CursorRun(spec.incremental, spec.redacted_url, saved=self.saved)

    def report(self, index: int, attempt: str, run: CursorRun | None, failed_children: int) -> None:
        """Write this attempt's state (atomically: a file is whole or absent)."""
        state = None if run is None else orjson.loads(run.window.state().to_json(time.time()))
        document = {"state": state, "failed_children": failed_children}
        path = Path(self.folder) / f"{self.read_id}-part-{index:05d}-{attempt}.json"
        write_atomically(path, orjson.dumps(document))


def new_read(folder: str, partitions: int, parent: IncrementalState | None) -> str:
    """Record a planned read in the run folder; its id, for the partitions to carry."""
    read_id = uuid.uuid4().hex
    document = {
        "partitions": partitions,
        "parent_state": None if parent is None else orjson.loads(parent.to_json(time.time())),
    }
    write_atomically(Path(folder) / f"{read_id}.plan", orjson.dumps(document))
    return read_id


def for_parents(saved: IncrementalState | None, parents: Iterable[Mapping[str, Any]]) -> Any:
    """``saved`` with only the cursors of ``parents`` (what one child task needs)."""
    if saved is None:
        return None
    keys = {_partition_key(values) for values in parents}
    cursors = {k: v for k, v in saved.cursors.items() if k in keys}
    return _with_cursors(saved, cursors)


@dataclass(frozen=True)
class Outcome:
    """What a complete read reached: the source's state, and its parent's (or None)."""

    state: IncrementalState | None
    parent_state: IncrementalState | None
    failed_children: int


def outcome(folder: Path, saved: IncrementalState | None, where: str) -> Outcome:
    """The state the reads in ``folder`` justify (see the module's rules).

    Raises
    ------
    RuntimeError
        No read in the folder completed (every partition reported).
    """
    reads: list[Outcome] = []
    for plan in sorted(folder.glob("*.plan")):
        read_id = plan.stem
        document = orjson.loads(plan.read_bytes())
        attempts: dict[int, list[dict[str, Any]]] = {}
        for path in folder.glob(f"{read_id}-part-*.json"):
            index = int(path.name[len(read_id) + 6 :].split("-")[0])
            attempts.setdefault(index, []).append(orjson.loads(path.read_bytes()))
        if len(attempts) < document["partitions"]:
            continue  # a read that did not finish
        states = [least(found, saved) for a in attempts.values() if (found := _states(a, where))]
        parent = document["parent_state"]
        reads.append(
            Outcome(
                joined(states, saved) if states else None,
                None if parent is None else _parse(parent, where),
                sum(max(r["failed_children"] for r in a) for a in attempts.values()),
            )
        )
    if not reads:
        raise RuntimeError(f"no Spark read in {folder} read every partition: nothing to commit")
    if len(reads) == 1:
        return reads[0]
    # Several actions read the source: keep what each of them delivered (a parent's cursor
    # stays where it was).
    states = [r.state for r in reads if r.state is not None]
    state = least(states, saved) if states else None
    return Outcome(state, None, max(r.failed_children for r in reads))


def least(states: Sequence[IncrementalState], saved: IncrementalState | None) -> IncrementalState:
    """Per cursor, the least advanced of ``states``: the saved one where a state lacks it,
    the intersection of the boundary keys where the least values are equal."""
    first = states[0]
    kind = _kind(states)
    cursors: dict[str | None, tuple[dict[str, Any] | None, CursorState]] = {}
    for key in set().union(*(s.cursors for s in states)):
        found = [s.cursors.get(key) for s in states]
        if any(entry is None for entry in found):
            previous = saved.cursors.get(key) if saved is not None else None
            if previous is not None:
                cursors[key] = previous
            continue
        entries = [entry for entry in found if entry is not None]
        low = min(cursor_key(entry[1].value, kind) for entry in entries)
        at_low = [e for e in entries if cursor_key(e[1].value, kind) == low]
        keys = frozenset.intersection(*(e[1].keys for e in at_low))
        cursors[key] = (at_low[0][0], CursorState(at_low[0][1].value, keys))
    return _with_cursors(first, cursors, kind)


def joined(states: Sequence[IncrementalState], saved: IncrementalState | None) -> IncrementalState:
    """The partitions of one read together: per cursor the highest value, with the union of
    the boundary keys of the states at it; the saved cursors of parents no task read stay."""
    kind = _kind(states)
    cursors = dict(saved.cursors) if saved is not None else {}
    for state in states:
        for key, (parent, mine) in state.cursors.items():
            other = cursors.get(key)
            if other is None or cursor_key(mine.value, kind) > cursor_key(other[1].value, kind):
                cursors[key] = (parent, mine)
            elif cursor_key(mine.value, kind) == cursor_key(other[1].value, kind):
                cursors[key] = (parent, CursorState(mine.value, mine.keys | other[1].keys))
    base = states[0] if states else saved
    assert base is not None
    return _with_cursors(base, cursors, kind)


def _kind(states: Sequence[IncrementalState]) -> str:
    kinds = {s.cursor_type for s in states if s.cursor_type is not None}
    return kinds.pop() if kinds else "string"


def _states(attempts: list[dict[str, Any]], where: str) -> list[IncrementalState]:
    return [_parse(a["state"], where) for a in attempts if a["state"] is not None]


def _parse(document: Any, where: str) -> IncrementalState:
    return IncrementalState.from_json(orjson.dumps(document), where=where)


def _with_cursors(
    state: IncrementalState, cursors: Cursors, kind: str | None = None
) -> IncrementalState:
    return IncrementalState(
        source=state.source,
        cursor_field=state.cursor_field,
        cursor_type=state.cursor_type or kind,
        primary_key=state.primary_key,
        cursors=dict(cursors),
    )


def saved_state(spec: SourceSpec) -> IncrementalState | None:
    """The source's state file as it is now (None before the first commit)."""
    assert spec.incremental is not None
    return load_state(spec.incremental)


def cursor_spec(spec: SourceSpec, saved: IncrementalState | None) -> SourceSpec:
    """``spec`` asking for the records from the saved cursor on (a plain source's)."""
    if spec.incremental is None or spec.fanout is not None:
        return spec
    run = CursorRun(spec.incremental, spec.redacted_url, saved=saved)
    return replace(spec, plan=run.plan(spec.plan))


def state_file(spec: SourceSpec) -> Path | None:
    """The state file of a source's incremental read (its parent's for a child source whose
    parent alone is incremental); None without a cursor."""
    parent = spec.fanout.parent if spec.fanout is not None else None
    config = spec.incremental or getattr(parent, "incremental", None)
    return None if config is None else config.state_path


def commit(spec: SourceSpec, folder: Path, saved: IncrementalState | None) -> None:
    """Save the state the reads in ``folder`` reached (``saved``: the state they started
    from); a parent's cursor only when no child failed.

    Raises
    ------
    RuntimeError
        No read of the source completed.
    """
    config = spec.incremental
    where = str(config.state_path) if config is not None else str(folder)
    result = outcome(folder, saved, where)
    moved = result.state is not None and (saved is None or result.state.cursors != saved.cursors)
    if config is not None and result.state is not None and moved:
        write_atomically(config.state_path, result.state.to_json(time.time()))
    parent = spec.fanout.parent.incremental if spec.fanout is not None else None
    if parent is None or result.parent_state is None:
        return
    if result.failed_children:
        logger.warning(
            "%s: the parent's incremental state was not saved, since %d children failed: "
            "the next run reads those parents again",
            spec.redacted_url,
            result.failed_children,
        )
        return
    write_atomically(parent.state_path, result.parent_state.to_json(time.time()))


def absolute_paths(spec: SourceSpec) -> SourceSpec:
    """``spec`` with its state files and child dead-letter file (its parent's too) as
    absolute paths: Spark's Python workers, on the driver as on the executors, do not run
    in the caller's working folder."""
    if spec.incremental is not None:
        state = spec.incremental.state_path.absolute()
        spec = replace(spec, incremental=replace(spec.incremental, state=state))
    fanout = spec.fanout
    if fanout is None:
        return spec
    letters = None if fanout.dead_letter is None else fanout.dead_letter.absolute()
    parent = absolute_paths(fanout.parent)
    return replace(spec, fanout=replace(fanout, parent=parent, dead_letter=letters))
