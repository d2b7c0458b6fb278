"""``hiveframe read`` with --state (incremental) and --parent (fan-out), in subprocesses."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pytest

from hiveframe.demo import Reply, Request
from hiveframe.demo._orders import OrdersAPI
from hiveframe.demo._parents import children_of
from waiting import eventually

CURSOR = [
    "--state",
    "state.json",
    "--cursor-field",
    "updated_at",
    "--cursor-param",
    "since",
    "--initial-value",
    "2026-01-01T00:00:00Z",
    "--primary-key",
    "id",
]


def hiveframe(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "hiveframe.cli", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_a_second_run_reads_only_what_is_new(fresh_demo, tmp_path):
    url = fresh_demo.url("/orders")
    paging = ["--pagination", "offset", "--page-size", "5"]
    first = hiveframe("read", url, *paging, *CURSOR, "-o", "run1.jsonl", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "state saved in state.json" in first.stderr
    assert [r["id"] for r in lines(tmp_path / "run1.jsonl")] == list(range(1, 21))

    fresh_demo.orders.add([{"updated_at": "2026-01-01T00:09:00Z"}, {}])
    second = hiveframe("read", url, *paging, *CURSOR, "-o", "run2.jsonl", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert [r["id"] for r in lines(tmp_path / "run2.jsonl")] == [21, 22]
    sent = [r.query.get("since") for r in fresh_demo.requests_to("/orders") if r.method == "GET"]
    assert sent[-1] == "2026-01-01T00:09:00Z"
    state = orjson.loads((tmp_path / "state.json").read_bytes())
    assert state["kind"] == "hiveframe.incremental" and state["boundary_keys"] == [22]


def test_a_process_killed_before_the_commit_loses_nothing(serve, tmp_path):
    # The second run is killed while it waits for its second page: the state stays as the
    # first run saved it, and the third run delivers everything the second one did not.
    orders = OrdersAPI(initial=6)
    gate, waiting = threading.Event(), threading.Event()

    def handler(request: Request) -> Reply:
        if request.query.get("offset") == "3" and request.query.get("since", "").endswith("02:00Z"):
            waiting.set()
            gate.wait(timeout=30)
        return orders.handle(request)

    server = serve({"/orders": handler})
    url, paging = server.url("/orders"), ["--pagination", "offset", "--page-size", "3"]
    assert hiveframe("read", url, *paging, *CURSOR, "-o", "a.jsonl", cwd=tmp_path).returncode == 0
    committed = (tmp_path / "state.json").read_bytes()
    orders.add([{}, {}, {}, {}])

    command = [
        sys.executable,
        "-m",
        "hiveframe.cli",
        "read",
        url,
        *paging,
        *CURSOR,
        "-o",
        "b.jsonl",
    ]
    child = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        eventually(waiting.is_set)
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
    finally:
        gate.set()
    assert child.returncode == -signal.SIGKILL
    assert (tmp_path / "state.json").read_bytes() == committed
    assert not (tmp_path / "b.jsonl").exists()

    again = hiveframe("read", url, *paging, *CURSOR, "-o", "c.jsonl", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert [r["id"] for r in lines(tmp_path / "c.jsonl")] == [7, 8, 9, 10]


def test_a_backfill_sends_its_end_and_reads_a_nested_cursor(fresh_demo, tmp_path):
    cursor = [*CURSOR, "--end-value", "2026-01-01T00:05:00Z", "--end-param", "until"]
    cursor[cursor.index("updated_at")] = "meta.updated_at"
    url = fresh_demo.url("/orders/nested")
    done = hiveframe("read", url, "--pagination", "offset", *cursor, "-o", "b.jsonl", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [r["id"] for r in lines(tmp_path / "b.jsonl")] == list(range(1, 11))
    sent = {r.query["until"] for r in fresh_demo.requests_to("/orders/nested")}
    assert sent == {"2026-01-01T00:05:00Z"}
    state = orjson.loads((tmp_path / "state.json").read_bytes())
    assert (state["cursor_field"], state["cursor"]) == ("meta.updated_at", "2026-01-01T00:04:00Z")


def test_parent_and_children_from_the_command_line(fresh_demo, tmp_path):
    done = hiveframe(
        "read",
        fresh_demo.url("/parents/{parent.id}/children"),
        "--pagination",
        "page",
        "--page-size",
        "5",
        "--parent",
        fresh_demo.url("/parents"),
        "--parent-pagination",
        "offset",
        "--parent-data-path",
        "parents",
        "--parent-column",
        "id=parent_id",
        "-o",
        "children.parquet",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "children.parquet")
    assert table.num_rows == 177
    pairs = set(zip(table["id"].to_pylist(), table["parent_id"].to_pylist(), strict=True))
    assert pairs == {(c["id"], p) for p in range(1, 51) for c in children_of(p)}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cursor-field", "t", "-o", "x.jsonl"], "--cursor-field='t': needs --state PATH"),
        (["--state", "s.json", "-o", "x.jsonl"], "--cursor-field=None: an incremental read"),
        (["--on-child-error", "skip"], "--on-child-error='skip': needs --parent URL"),
        (["--end-param", "until", "-o", "x.jsonl"], "--end-param='until': needs --state PATH"),
        (
            [*CURSOR, "--end-param", "until", "-o", "x.jsonl"],
            "incremental.end_param='until': sends end_value to the API: set end_value= too",
        ),
        (["--parent", "http://127.0.0.1:9/p"], "url="),
    ],
)
def test_option_mistakes_are_usage_errors(args, message, tmp_path):
    done = hiveframe("read", "http://127.0.0.1:9/x", *args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and done.stderr.count("\n") == 1
