"""A mistake on the command line ends in one line and an exit code, never a traceback.

Promise: docs/reliability.md, bad input. Every test runs ``hiveframe`` in a subprocess, as a
user does, and checks the exit code, that stderr is one line, and (where a server is given)
that a usage error is found before any request is made.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cli_process import hiveframe, one_line
from hiveframe.cli import DEBUG_ENV, EXIT_FAILED, EXIT_USAGE
from hiveframe.demo._events import EventsAPI


@pytest.mark.parametrize(
    ("args", "argument"),
    [
        (["read", "{url}", "--timeout", "nan"], "--timeout"),
        (["read", "{url}", "--timeout", "inf"], "--timeout"),
        (["read", "{url}", "--timeout", "-1"], "--timeout"),
        (["read", "{url}", "--timeout", "soon"], "--timeout"),
        (["read", "{url}", "--page-size", "0"], "--page-size"),
        (["read", "{url}", "--max-pages", "1.5"], "--max-pages"),
        (["read", "{url}", "--rows", "-1"], "--rows"),
        (["write", "rows.parquet", "{url}", "--batch-size", "0"], "--batch-size"),
        (["write", "rows.parquet", "{url}", "--max-in-flight", "true"], "--max-in-flight"),
        (["write", "rows.parquet", "{url}", "--max-batch-bytes", "-1"], "--max-batch-bytes"),
        (["write", "rows.parquet", "{url}", "--timeout", "nan"], "--timeout"),
        (["stream", "{url}", "--interval", "nan"], "--interval"),
        (["stream", "{url}", "--interval", "0"], "--interval"),
        (["stream", "{url}", "--limit", "0"], "--limit"),
        (["stream", "{url}", "--batch-size", "-3"], "--batch-size"),
        (["demo", "--records", "-5"], "--records"),
    ],
)
def test_a_bad_number_is_a_usage_error_before_any_request(fresh_demo, args, argument):
    result = hiveframe(*(a.format(url=fresh_demo.url("/data")) for a in args))
    assert result.returncode == EXIT_USAGE
    line = one_line(result.stderr)
    assert line.startswith(f"hiveframe {args[0]}: error: argument {argument}: "), line
    assert "--help" in line
    assert fresh_demo.requests == []


def test_a_missing_output_folder_is_refused_before_reading(fresh_demo, tmp_path):
    target = tmp_path / "missing_dir" / "out.parquet"
    result = hiveframe("read", fresh_demo.url("/data"), "-o", str(target))
    assert result.returncode == EXIT_USAGE
    line = one_line(result.stderr)
    assert line.startswith("hiveframe: error: --output=") and "does not exist" in line
    assert fresh_demo.requests == []  # found before the read, not after it


@pytest.mark.parametrize(
    ("name", "message"),
    [("out.xlsx", "use a .parquet, .csv or .jsonl file name"), ("", "is a folder")],
)
def test_an_unknown_format_or_a_folder_is_refused_before_reading(
    fresh_demo, tmp_path, name, message
):
    folder = tmp_path / "out.parquet"  # a folder that looks like a file name
    folder.mkdir()
    output = str(tmp_path / name) if name else str(folder)
    result = hiveframe("read", fresh_demo.url("/data"), "-o", output)
    assert result.returncode == EXIT_USAGE
    assert message in one_line(result.stderr)
    assert fresh_demo.requests == []


def test_stream_checks_its_output_file_before_it_starts(fresh_demo, tmp_path):
    target = tmp_path / "missing_dir" / "events.jsonl"
    result = hiveframe(
        "stream", fresh_demo.url("/stream"), "--sse", "--no-checkpoint", "-o", str(target)
    )
    assert result.returncode == EXIT_USAGE
    assert "--output=" in one_line(result.stderr)
    assert fresh_demo.requests == []


def test_write_checks_its_dead_letter_file_before_sending(fresh_demo, tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"id": 1}\n')
    dead = tmp_path / "missing_dir" / "dead.jsonl"
    result = hiveframe("write", str(rows), fresh_demo.url("/ingest"), "--dead-letter", str(dead))
    assert result.returncode == EXIT_USAGE
    assert one_line(result.stderr).startswith("hiveframe: error: dead_letter=")
    assert fresh_demo.requests == []


def test_an_option_the_source_refuses_is_a_usage_error(fresh_demo):
    result = hiveframe("read", fresh_demo.url("/data"), "--method", "TELEPORT")
    assert result.returncode == EXIT_USAGE
    assert one_line(result.stderr).startswith("hiveframe: error: method='TELEPORT': ")
    assert fresh_demo.requests == []


def test_a_failed_read_is_one_line_and_exit_1(serve):
    server = serve({})  # every path answers 404
    result = hiveframe("read", server.url("/nope"))
    assert result.returncode == EXIT_FAILED
    assert one_line(result.stderr).startswith("hiveframe: error: ")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_disk_is_one_line_and_exit_1(serve):
    server = serve(EventsAPI(initial=3, every_seconds=None).routes())
    result = hiveframe(
        "stream", server.url("/stream"), "--sse", "--no-checkpoint", "-o", "/dev/full"
    )
    assert result.returncode == EXIT_FAILED
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last == "hiveframe: error: No space left on device", result.stderr


def test_a_file_as_checkpoint_folder_is_refused_before_streaming(fresh_demo, tmp_path):
    not_a_folder = tmp_path / "checkpoints"
    not_a_folder.write_text("")
    result = hiveframe(
        "stream", fresh_demo.url("/stream"), "--sse", "--checkpoint-dir", str(not_a_folder)
    )
    assert result.returncode == EXIT_USAGE
    assert one_line(result.stderr).startswith("hiveframe: error: checkpoint_dir=")
    assert fresh_demo.requests == []


PLANTED_BUG = textwrap.dedent(
    """
    import sys

    import hiveframe.cli._read as read


    def planted(*args):
        raise RuntimeError("planted bug")


    read.read_pages = planted
    from hiveframe.cli import main

    sys.exit(main(sys.argv[1:]))
    """
)


def test_a_bug_says_so_in_one_line_and_the_debug_variable_shows_the_traceback(fresh_demo):
    url = fresh_demo.url("/data")
    result = hiveframe("read", url, code=PLANTED_BUG)
    assert result.returncode == EXIT_FAILED
    line = one_line(result.stderr)
    assert line.startswith("hiveframe: internal error: RuntimeError: planted bug")
    assert f"{DEBUG_ENV}=1" in line

    debug = hiveframe("read", url, code=PLANTED_BUG, **{DEBUG_ENV: "1"})
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr and "RuntimeError: planted bug" in debug.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="a pipe closed by its reader is POSIX")
def test_a_closed_stdout_ends_the_command_quietly(fresh_demo):
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head` that has already exited
    try:
        child = subprocess.run(
            [sys.executable, "-m", "hiveframe.cli", "read", fresh_demo.url("/data"), "--rows", "5"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert child.returncode == EXIT_FAILED
    assert child.stderr == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--header", "X-Id 7"], "hiveframe: error: --header='X-Id 7': expected NAME:VALUE"),
        (["--param", "page"], "hiveframe: error: --param='page': expected NAME=VALUE"),
        (
            ["--bearer-env", "HF_SURELY_UNSET_VARIABLE"],
            "hiveframe: error: --bearer-env='HF_SURELY_UNSET_VARIABLE': names an environment "
            "variable that is not set (or is empty)",
        ),
    ],
)
def test_a_malformed_header_param_or_token_variable_is_a_usage_error(fresh_demo, args, message):
    result = hiveframe("read", fresh_demo.url("/data"), *args)
    assert result.returncode == EXIT_USAGE
    assert one_line(result.stderr) == message
    assert fresh_demo.requests == []
