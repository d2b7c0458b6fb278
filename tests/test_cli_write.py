"""``hiveframe write FILE URL``: files into the demo ingest endpoint, in-process and for real."""

from __future__ import annotations

import io
import subprocess
import sys

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hiveframe import DataFrame
from hiveframe.cli import main
from hiveframe.cli._progress import Progress
from hiveframe.cli._write import show_result
from hiveframe.connectors import WriteResult
from hiveframe.demo._ingest import IngestAPI

N = 1234


@pytest.fixture
def ingest(serve):
    api = IngestAPI()
    api.server = serve(api.routes())
    return api


@pytest.fixture
def frame() -> DataFrame:
    return DataFrame(
        pa.table(
            {
                "id": pa.array(range(1, N + 1), pa.int64()),
                "name": [f"n{i}" for i in range(1, N + 1)],
                "score": [i / 4 for i in range(N)],
            }
        )
    )


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl", ".json"])
def test_write_each_file_format(ingest, frame, tmp_path, capsys, suffix):
    path = tmp_path / f"rows{suffix}"
    if suffix == ".json":
        path.write_bytes(orjson.dumps(frame.to_pylist()))
    else:
        getattr(frame.write, {".jsonl": "json"}.get(suffix, suffix[1:]))(path)

    code = main(["write", str(path), ingest.server.url("/ingest"), "--batch-size", "100"])

    assert code == 0
    assert sorted(r["id"] for r in ingest.records) == list(range(1, N + 1))
    assert sorted(len(batch) for batch in ingest.batches) == [34] + [100] * 12
    assert {"id": 5, "name": "n5", "score": 1.0} in ingest.records
    err = capsys.readouterr().err
    assert f"wrote {N:,} of {N:,} records in 13 batches" in err


def test_options_reach_the_wire(ingest, frame, tmp_path, monkeypatch):
    path = tmp_path / "rows.parquet"
    frame.limit(10).write.parquet(path)
    monkeypatch.setenv("INGEST_TOKEN", "tok-123")
    code = main(
        [
            "write",
            str(path),
            ingest.server.url("/ingest"),
            "--method",
            "PUT",
            "--format",
            "ndjson",
            "--header",
            "X-Source: cli",
            "--bearer-env",
            "INGEST_TOKEN",
            "--ordered",
            "--max-in-flight",
            "2",
            "--batch-size",
            "4",
            "--no-idempotency-key",
            "--quiet",
        ]
    )
    assert code == 0
    requests = ingest.server.requests_to("/ingest")
    assert [len(r.body.splitlines()) for r in requests] == [4, 4, 2]
    first = requests[0]
    assert (first.method, first.header("x-source")) == ("PUT", "cli")
    assert first.header("authorization") == "Bearer tok-123"
    assert first.header("content-type") == "application/x-ndjson"
    assert first.header("idempotency-key") is None
    assert [r["id"] for r in ingest.records] == list(range(1, 11))  # --ordered


def test_failed_batches_go_to_the_dead_letter_file(ingest, frame, tmp_path, capsys):
    path, dead = tmp_path / "rows.jsonl", tmp_path / "dead.jsonl"
    frame.limit(250).write.json(path)
    url = ingest.server.url("/ingest?status=422")
    assert main(["write", str(path), url, "--dead-letter", str(dead)]) == 1
    lines = [orjson.loads(line) for line in dead.read_bytes().splitlines()]
    assert sorted(line["batch"] for line in lines) == [0, 1, 2]
    assert sum(len(line["records"]) for line in lines) == 250
    assert {line["status"] for line in lines} == {422}
    err = capsys.readouterr().err
    assert "250 records failed; kept in" in err and str(dead) in err


def test_failed_batches_without_a_dead_letter_are_one_clear_error(ingest, frame, tmp_path, capsys):
    path = tmp_path / "rows.jsonl"
    frame.write.json(path)
    url = ingest.server.url("/ingest?status=400")
    assert main(["write", str(path), url, "--batch-size", "500"]) == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("hiveframe: error: 3 of 3 batches failed")
    assert f"{N} records not delivered" in err


def test_failures_across_chunks_are_added_up(ingest, tmp_path, capsys):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"".join(orjson.dumps({"id": i}) + b"\n" for i in range(25_000)))
    assert main(["write", str(path), ingest.server.url("/ingest?status=400"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "25000 records not delivered" in err and "250 batches failed" in err


@pytest.mark.parametrize(
    ("name", "content", "message", "code"),
    [
        ("rows.txt", b"", "use a .parquet, .csv, .jsonl or .json file", 2),  # usage errors,
        ("missing.parquet", None, "no such file", 2),  # found before anything is sent
        ("rows.jsonl", b'{"id": 1}\n{oops\n', "rows.jsonl:2: not JSON", 1),
        ("rows.json", b'{"id": 1}', "expected a JSON array", 1),
        ("rows.parquet", b"not parquet", "not a readable parquet file", 1),
        ("rows.csv", b"a,b\n1,2,3\n", "not a readable csv file", 1),
    ],
)
def test_bad_files_are_named_in_one_line(ingest, tmp_path, name, content, message, code):
    # docs/reliability.md, bad input: a file the CLI cannot read is named, without a traceback
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = subprocess.run(
        [sys.executable, "-m", "hiveframe.cli", "write", str(path), ingest.server.url("/ingest")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == code
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("hiveframe: ") and message in line
    assert ingest.records == []


def test_progress_shows_records_of_the_total_batches_failures_and_retries():
    stream = io.StringIO()
    progress = Progress(stream, enabled=True)
    show_result(progress, WriteResult(batches_sent=3, records_delivered=200), 300)
    show_result(
        progress,
        WriteResult(batches_sent=4, records_delivered=250, records_failed=50, retries=2),
        300,
    )
    progress.done()
    last = stream.getvalue().split("\r")[-1]
    assert "| 250/300 records [" in last and "records/s, batches 4, failed 50, retries 2]" in last
    quiet = io.StringIO()
    show_result(Progress(quiet), WriteResult(), None)  # not a terminal: silent
    assert quiet.getvalue() == ""


def test_write_runs_as_a_real_command(ingest, frame, tmp_path):
    path = tmp_path / "rows.parquet"
    pq.write_table(frame.to_arrow(), path)
    result = subprocess.run(
        [sys.executable, "-m", "hiveframe.cli", "write", str(path), ingest.server.url("/ingest")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"wrote {N:,} of {N:,} records" in result.stderr
    assert len(ingest.records) == N
