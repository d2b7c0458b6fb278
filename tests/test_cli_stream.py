"""``hiveframe stream``: to a file, to an HTTP sink, and a clean stop on Ctrl-C (SIGINT)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from grouped_feed import GroupedFeed
from hiveframe.cli import main
from hiveframe.demo._events import EventsAPI
from hiveframe.demo._ingest import IngestAPI
from waiting import eventually


def ids_in(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [json.loads(line)["id"] for line in path.read_text().splitlines() if line.strip()]


def checkpoint(folder: Path) -> dict:
    (file,) = folder.glob("*.json")
    return json.loads(file.read_text())


def run_stream(*args: str) -> subprocess.CompletedProcess[str]:
    """``hiveframe stream ARGS`` in a process of its own."""
    command = [sys.executable, "-m", "hiveframe.cli", "stream", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("kind", ["poll", "sse"])
def test_two_runs_whose_limit_cuts_a_unit_deliver_every_record_once(serve, tmp_path, kind):
    # docs/reliability.md test 44: the first run stops inside a polled page of 100, or inside
    # an event of 3 records; the second goes on with the next record.
    if kind == "poll":
        server = serve(EventsAPI(initial=250, every_seconds=None).routes())
        source = [server.url("/events"), "--since-param", "since", "--since-field", "id"]
        limit, cut_at = 50, 50
    else:
        server = serve({"/stream": GroupedFeed(events=40)})
        source = [server.url("/stream"), "--sse"]
        limit, cut_at = 5, 2
    out, folder = tmp_path / "out.jsonl", tmp_path / "ck"
    command = [*source, "-o", str(out), "--checkpoint-dir", str(folder), "--limit", str(limit)]

    first = run_stream(*command)
    assert first.returncode == 0, first.stderr
    assert ids_in(out) == list(range(1, limit + 1))
    assert checkpoint(folder)["position"]["skip"] == cut_at
    assert f'"skip":{cut_at}' in first.stderr  # the position it reports, not null

    second = run_stream(*command)
    assert second.returncode == 0, second.stderr
    assert ids_in(out) == list(range(1, 2 * limit + 1))  # every id once, none skipped


@pytest.mark.skipif(sys.platform == "win32", reason="signals to a child process are POSIX")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_stops_cleanly_with_the_checkpoint_saved_and_a_rerun_resumes(
    serve, tmp_path, signum
):
    # docs/reliability.md test 47: SIGTERM, how containers stop a program, is Ctrl-C's twin.
    events = EventsAPI(initial=6, every_seconds=None)
    server = serve(events.routes())
    out, folder = tmp_path / "out.jsonl", tmp_path / "ck"
    command = [
        sys.executable, "-m", "hiveframe.cli", "stream", server.url("/stream"), "--sse",
        "-o", str(out), "--checkpoint-dir", str(folder), "--batch-size", "2",
    ]  # fmt: skip
    child = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    eventually(lambda: len(ids_in(out)) >= 6, timeout=60)
    child.send_signal(signum)
    _, err = child.communicate(timeout=60)

    assert child.returncode == 128 + signum, err  # 130 after Ctrl-C, 143 after SIGTERM
    assert "stopped: 6 records delivered" in err
    assert ids_in(out) == [1, 2, 3, 4, 5, 6]
    saved = checkpoint(folder)
    assert saved["position"]["last_event_id"] == "6" and saved["records_out"] == 6

    events.append(4)
    rerun = subprocess.run(
        [*command, "--limit", "4"], capture_output=True, text=True, timeout=60, check=False
    )
    assert rerun.returncode == 0, rerun.stderr
    assert ids_in(out) == list(range(1, 11))
    assert [r.header("last-event-id") for r in server.requests_to("/stream")][-1] == "6"


def test_stream_a_polled_endpoint_to_an_http_sink(serve, tmp_path, capsys):
    events = EventsAPI(initial=12, every_seconds=None)
    ingest = IngestAPI()
    server = serve({**events.routes(), **ingest.routes()})
    command = [
        "stream", server.url("/events"), "--to", server.url("/ingest"),
        "--since-param", "since", "--since-field", "id", "--limit", "12",
        "--checkpoint-dir", str(tmp_path),
    ]  # fmt: skip
    code = main(command)
    assert code == 0
    assert [r["id"] for r in ingest.records] == list(range(1, 13))
    assert "completed: 12 records delivered" in capsys.readouterr().err
    assert checkpoint(tmp_path)["position"]["cursor"] == 12


def test_stream_to_stdout_without_a_checkpoint(serve, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    server = serve(EventsAPI(initial=3, every_seconds=None).routes())
    assert main(["stream", server.url("/stream"), "--sse", "--limit", "3", "--no-checkpoint"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [1, 2, 3]
    assert not (tmp_path / ".hiveframe").exists()


def test_stream_errors_are_one_clear_line(serve, capsys):
    server = serve({})
    assert main(["stream", server.url("/nope"), "--sse", "--no-checkpoint"]) == 1
    assert capsys.readouterr().err.splitlines()[-1].startswith("hiveframe: error:")


def test_the_demo_shows_a_short_stream(demo, capsys):
    from hiveframe.cli._demo import show_streaming

    show_streaming(demo)
    out = capsys.readouterr().out
    assert out.count("  sse  id=") == 5
    assert "poll 3 polls" in out and "checkpoint saved at since=" in out


def test_forgetting_sse_on_an_event_stream_fails_at_once_saying_so(serve, tmp_path):
    # docs/reliability.md test 48: not a poll that times out and retries forever.
    server = serve(EventsAPI(initial=3, every_seconds=None).routes())
    run = run_stream(server.url("/stream"), "-o", str(tmp_path / "out.jsonl"), "--no-checkpoint")
    assert run.returncode == 2, run.stderr
    line = run.stderr.splitlines()[-1]
    assert line.startswith("hiveframe: error: stream_type=None") and "--sse" in line
    assert len(server.requests_to("/stream")) == 1
