"""The hiveframe command, run in-process and as a real subprocess."""

from __future__ import annotations

import io
import subprocess
import sys

import pyarrow.parquet as pq

from hiveframe.cli import main
from hiveframe.cli._progress import Progress


def test_read_to_parquet(demo, tmp_path, capsys):
    out = tmp_path / "items.parquet"
    code = main(
        ["read", demo.url("/data"), "--pagination", "offset", "--page-size", "100", "-o", str(out)]
    )
    assert code == 0
    assert pq.read_table(out).num_rows == 250
    assert "wrote 250 records" in capsys.readouterr().err


def test_read_preview_on_stdout(demo, capsys):
    assert main(["read", demo.url("/nested"), "--data-path", "results.items", "--rows", "3"]) == 0
    assert "item-000001" in capsys.readouterr().out


def test_errors_are_one_clear_line(demo, capsys):
    assert main(["read", demo.url("/nested"), "--data-path", "results.nope"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("hiveframe: error:") and "'items'" in err


def test_progress_is_quiet_when_not_a_terminal():
    stream = io.StringIO()
    progress = Progress(stream)
    progress.show(100, pages=1)
    progress.done()
    assert stream.getvalue() == ""


def test_progress_shows_records_rate_and_counts():
    stream = io.StringIO()
    progress = Progress(stream, enabled=True)
    progress.show(1000, pages=1, retries=0)
    progress.show(1500, pages=2, retries=1)
    progress.done()
    last = stream.getvalue().split("\r")[-1]
    assert last.startswith("1,500 records [") and "records/s, pages 2, retries 1]" in last
    assert "%" not in last  # no total, no bar


def test_progress_with_a_total_is_a_bar():
    stream = io.StringIO()
    progress = Progress(stream, enabled=True)
    progress.show(50, total=200, pages=1)
    progress.done()
    last = stream.getvalue().split("\r")[-1]
    assert last.startswith(" 25%|") and "| 50/200 records [" in last and "pages 1]" in last


def test_demo_runs_end_to_end():
    result = subprocess.run(
        [sys.executable, "-m", "hiveframe.cli", "demo", "--records", "600"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no traceback from the demo server when a client hangs up
    assert "offset pagination: 600 records" in result.stdout
    assert "cursor: 600 records" in result.stdout
    assert "POSTed 600 records in 3 batches" in result.stdout
    assert "the server stored 600" in result.stdout
