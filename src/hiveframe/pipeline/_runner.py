"""Running a pipeline, or describing what a run would do (``--dry-run``).

A run reads each source that a destination reads from, once, applies the transforms of each
destination, writes every destination, and only then commits the source's read: its
incremental state (and its parent's) moves on once every destination has the records. A
destination that fails stops the run before that commit, so the next run reads the same
records again: destinations get every record at least once, and exactly once when nothing
fails between a write and the commit.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import urlencode

from hiveframe._frame import DataFrame
from hiveframe._http.portal import run_sync
from hiveframe._protocol.checkpoint import append_durably
from hiveframe._protocol.paginators import start_paginator
from hiveframe._secrets import redact_url
from hiveframe.connectors import HTTPSource
from hiveframe.connectors._incremental import CursorRun
from hiveframe.connectors._run import ReadRun
from hiveframe.errors import ConfigError, HiveFrameError
from hiveframe.pipeline._spec import Destination, FileTarget, SourceEntry, Spec

__all__ = ["DestinationResult", "describe", "run"]


@dataclass(frozen=True)
class DestinationResult:
    """What one destination got in a run."""

    name: str
    records: int
    target: str


def run(spec: Spec, out: TextIO) -> list[DestinationResult]:
    """Run the pipeline; report each step on ``out``.

    Raises
    ------
    HiveFrameError
        A read or a write failed (the sources before it are committed, it and the ones
        after it are not); a transform names a column the records do not have
        (:class:`~hiveframe.errors.PipelineFileError`).
    """
    results: list[DestinationResult] = []
    for name, entry in spec.sources.items():
        targets = [d for d in spec.destinations.values() if spec.root(d.origin) == name]
        if not targets:
            continue  # only a parent: read by its children
        read = ReadRun(entry.source.spec, entry.source.runtime)
        frame = run_sync(read.read)
        print(f"source {name}: {frame.count():,} records read", file=out)
        for destination in targets:
            results.append(_deliver(spec, destination, frame, out))
        read.commit()
        state = entry.source.spec.incremental
        if state is not None:
            print(f"source {name}: state saved in {state.state_path}", file=out)
    return results


def _deliver(
    spec: Spec, destination: Destination, frame: DataFrame, out: TextIO
) -> DestinationResult:
    where = _target_text(destination)
    if frame.count() == 0:
        print(f"destination {destination.name}: nothing new for {where}", file=out)
        return DestinationResult(destination.name, 0, where)
    for transform in spec.chain(destination.origin):
        key = ("transforms", transform.name)
        try:
            if transform.select is not None:
                frame = frame.select(*transform.select)
            if transform.rename:
                frame = frame.rename(dict(transform.rename))
        except ConfigError as exc:
            option = "select" if exc.option == "select" else "rename"
            raise spec.file.error((*key, option), exc.value, exc.reason) from None
    if destination.sink is not None:
        result = frame.write.http(destination.sink)
        count = result.records_delivered
    else:
        assert destination.file is not None
        _write_file(frame, destination.file)
        count = frame.count()
    print(f"destination {destination.name}: {count:,} records to {where}", file=out)
    return DestinationResult(destination.name, count, where)


def _write_file(frame: DataFrame, target: FileTarget) -> None:
    target.path.parent.mkdir(parents=True, exist_ok=True)
    writer = getattr(frame.write, "json" if target.kind == "jsonl" else target.kind)
    if target.mode == "overwrite":
        writer(target.path)
        return
    # Appending: the frame is written whole beside the file, then its bytes are added.
    with tempfile.TemporaryDirectory(dir=target.path.parent, prefix=".hiveframe-") as folder:
        part = Path(folder) / f"part{target.path.suffix}"
        writer(part)
        data = part.read_bytes()
    if target.kind == "csv":
        header, _, rows = data.partition(b"\n")
        existing = _first_line(target.path)
        if existing is not None and existing != header:
            raise HiveFrameError(
                f"{target.path}: its header is {existing.decode()!r}, the records' columns "
                f"are {header.decode()!r}: a CSV file is appended to with the same columns"
            )
        data = rows if existing is not None else data
    append_durably(target.path, data)


def _first_line(path: Path) -> bytes | None:
    try:
        with path.open("rb") as existing:
            line = existing.readline().rstrip(b"\n")
    except FileNotFoundError:
        return None
    return line or None


# -- the dry run ------------------------------------------------------------------------------


def describe(spec: Spec) -> str:
    """What a run would do, without sending a request: each source's first request,
    pagination and state, and each destination."""
    lines = [f"pipeline {spec.file.name} (dry run: nothing is sent, nothing written)"]
    for name, entry in spec.sources.items():
        lines += _source_lines(spec, name, entry)
    for destination in spec.destinations.values():
        lines += _destination_lines(spec, destination)
    return "\n".join(lines)


def _source_lines(spec: Spec, name: str, entry: SourceEntry) -> list[str]:
    source = entry.source
    plan = source.plan
    lines = [f"source {name}:"]
    cursor = None
    fanout = source.spec.fanout
    if source.spec.incremental is not None:
        cursor = CursorRun(source.spec.incremental, source.redacted_url)
        plan = cursor.plan(plan) if fanout is None else plan
    params = dict(plan.params)
    if plan.pagination is not None:
        params.update(start_paginator(plan.pagination).first().params)
    url = plan.url + ("&" if "?" in plan.url else "?") + urlencode(params) if params else plan.url
    lines.append(f"  {plan.method} {redact_url(url, source.session_config.secret_params)}")
    if plan.body is not None:
        lines.append(f"  body: {plan.body!r}")
    if plan.pagination is not None:
        limit = plan.max_pages if plan.max_pages is not None else plan.page_cap
        pages = f"up to {limit:,} pages" if limit is not None else "no page cap"
        lines.append(f"  then {plan.pagination!r}, {pages}, {plan.concurrency} in flight")
    if fanout is not None:
        parent = next(n for n, e in spec.sources.items() if e.source.spec is fanout.parent)
        fields = ", ".join(f"{{parent.{f}}}" for f in fanout.fields)
        lines.append(
            f"  once per record of source {parent} ({fields}), {plan.concurrency} at a time; "
            f"a failing child: {fanout.on_child_error}"
        )
    lines += [f"  {note}" for note in entry.notes]
    if cursor is not None:
        lines += _state_lines(source, cursor)
    return lines


def _state_lines(source: HTTPSource, cursor: CursorRun) -> list[str]:
    config = cursor.config
    path = config.state_path
    if path.exists():
        saved = cursor.window.state()
        partitions = [p for p in saved.cursors if p is not None]
        at = saved.cursors.get(None)
        if at is not None:
            reads = f"reads {path}: {config.cursor_field} from {at[1].value!r}"
        else:
            reads = f"reads {path}: {len(partitions)} parents' cursors"
    else:
        start = config.initial_value
        reads = f"{path} does not exist yet: {config.cursor_field} from {start!r}"
        if start is None:
            reads = f"{path} does not exist yet: from the beginning"
    return [f"  state: {reads}", f"  state: writes {path} once every destination has the records"]


def _destination_lines(spec: Spec, destination: Destination) -> list[str]:
    steps = [spec.root(destination.origin)]
    for transform in spec.chain(destination.origin):
        done = []
        if transform.select is not None:
            done.append(f"select {list(transform.select)}")
        if transform.rename:
            done.append(f"rename {dict(transform.rename)}")
        steps.append(f"{transform.name} ({', '.join(done)})")
    lines = [f"destination {destination.name}: {' -> '.join(steps)} -> {_target_text(destination)}"]
    return lines + [f"  {note}" for note in destination.notes]


def _target_text(destination: Destination) -> str:
    if destination.sink is not None:
        options = destination.sink.options
        return (
            f"{options.method} {destination.sink.redacted_url} in batches of {options.batch_size}"
        )
    assert destination.file is not None
    target = destination.file
    return f"{target.path} ({target.kind}, {target.mode})"
