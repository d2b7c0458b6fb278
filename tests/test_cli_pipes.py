"""``hiveframe read`` into pipes and ``hiveframe write -`` from them; ``--limit``; a terminal
preview that reads only what it shows. Every command runs in a subprocess, as a user runs it,
against the demo API (250 records, pages of 100)."""

from __future__ import annotations

import csv
import io
import sys

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cli_process import COMMAND, hiveframe, in_terminal, one_line, pipeline
from hiveframe.demo import Reply
from hiveframe.demo._api import make_record
from hiveframe.demo._ingest import IngestAPI

PAGED = ("--pagination", "offset", "--page-size", "100")
ALL = [make_record(i) for i in range(250)]

PARSE_LINES = """
import json, sys
records = [json.loads(line) for line in sys.stdin]
print(len(records), records[0]["id"], records[-1]["id"], records[-1]["dimensions"]["width"])
"""


@pytest.fixture
def ingest(serve):
    api = IngestAPI()
    api.server = serve(api.routes())
    return api


def test_a_pipe_gets_json_lines_page_by_page(fresh_demo):
    # hiveframe read URL | python -c '<parse each line as JSON>'
    code, parse = pipeline(
        ["read", fresh_demo.url("/data"), *PAGED], [sys.executable, "-c", PARSE_LINES]
    )
    assert code == 0 and parse.returncode == 0, parse.stderr
    assert parse.stdout.split() == ["250", "1", "250", str(ALL[-1]["dimensions"]["width"])]


def test_dash_and_dev_stdout_are_stdout(fresh_demo):
    for output in ("-", "/dev/stdout"):
        result = hiveframe("read", fresh_demo.url("/data"), *PAGED, "-o", output)
        assert result.returncode == 0, result.stderr
        assert [orjson.loads(line) for line in result.stdout.splitlines()] == ALL
        assert result.stderr == ""  # not a terminal: no progress, nothing else


def test_csv_on_stdout_has_one_header_and_nested_values_as_json(fresh_demo):
    result = hiveframe("read", fresh_demo.url("/data"), *PAGED, "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 250 and rows[0]["name"] == "item-000001"
    assert orjson.loads(rows[0]["tags"]) == ALL[0]["tags"]
    assert result.stdout.count('"id","name",') == 1


def test_a_field_that_appears_after_the_csv_header_is_an_error(serve):
    pages = {"0": [{"id": 1}], "1": [{"id": 2, "late": True}]}

    def page(request):
        body = orjson.dumps(pages.get(request.query["offset"], []))
        return Reply(200, {"Content-Type": "application/json"}, body)

    server = serve({"/d": page})
    url = server.url("/d")
    result = hiveframe("read", url, "--pagination", "offset", "--page-size", "1", "--format", "csv")
    assert result.returncode == 1
    assert "'late' first appears after the CSV header" in one_line(result.stderr)
    assert result.stdout.splitlines() == ['"id"', "1"]  # what came before it was delivered
    jsonl = hiveframe("read", url, "--pagination", "offset", "--page-size", "1")
    # JSON Lines has no header: each record goes out with the fields it has
    assert [orjson.loads(line) for line in jsonl.stdout.splitlines()] == [
        {"id": 1},
        {"id": 2, "late": True},
    ]


def test_limit_stops_the_read_after_one_page(fresh_demo):
    result = hiveframe("read", fresh_demo.url("/data"), *PAGED, "--limit", "5")
    assert result.returncode == 0, result.stderr
    assert [orjson.loads(line)["id"] for line in result.stdout.splitlines()] == [1, 2, 3, 4, 5]
    assert len(fresh_demo.requests_to("/data")) == 1


def test_limit_across_pages_cuts_the_last_one(fresh_demo, tmp_path):
    out = tmp_path / "first.parquet"
    result = hiveframe("read", fresh_demo.url("/data"), *PAGED, "--limit", "150", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert pq.read_table(out).column("id").to_pylist() == list(range(1, 151))
    assert len(fresh_demo.requests_to("/data")) <= 3  # page 2 may have been asked for ahead


def test_format_is_for_stdout_only(fresh_demo, tmp_path):
    result = hiveframe(
        "read", fresh_demo.url("/data"), "--format", "csv", "-o", str(tmp_path / "a.parquet")
    )
    assert result.returncode == 2
    assert one_line(result.stderr).startswith("hiveframe: error: --format='csv': ")
    assert fresh_demo.requests == []


def test_the_terminal_preview_reads_only_what_it_shows(fresh_demo):
    code, shown = in_terminal("read", fresh_demo.url("/data"), *PAGED, "--rows", "3")
    assert code == 0, shown
    assert "item-000003" in shown and "item-000004" not in shown
    assert "[showing 3 of 3 rows]" in shown and "a preview reads only 3 records" in shown
    assert len(fresh_demo.requests_to("/data")) == 1


@pytest.mark.parametrize("input_format", ["jsonl", "csv", "parquet", "json"])
def test_write_reads_stdin(ingest, input_format):
    records = [{"id": i, "name": f"n{i}"} for i in range(1, 251)]
    if input_format == "jsonl":
        data = b"".join(orjson.dumps(r) + b"\n" for r in records)
    elif input_format == "json":
        data = orjson.dumps(records)
    else:
        table, sink = pa.Table.from_pylist(records), io.BytesIO()
        if input_format == "csv":
            import pyarrow.csv as pacsv

            pacsv.write_csv(table, sink)
        else:
            pq.write_table(table, sink)
        data = sink.getvalue()
    url = ingest.server.url("/ingest")
    result = hiveframe("write", "-", url, "--input-format", input_format, stdin=data)
    assert result.returncode == 0, result.stderr
    assert sorted(ingest.records, key=lambda r: r["id"]) == records
    assert "wrote 250 of 250 records in 3 batches" in result.stderr


def test_read_pipes_into_write(fresh_demo, ingest):
    # hiveframe read URL | hiveframe write - URL (JSON Lines, the default both ways)
    code, write = pipeline(
        ["read", fresh_demo.url("/data"), *PAGED],
        [*COMMAND, "write", "-", ingest.server.url("/ingest")],
    )
    assert code == 0 and write.returncode == 0, write.stderr
    assert sorted(ingest.records, key=lambda r: r["id"]) == ALL


def test_bad_stdin_is_named_in_one_line(ingest):
    result = hiveframe("write", "-", ingest.server.url("/ingest"), stdin=b'{"id": 1}\n{oops\n')
    assert result.returncode == 1
    assert one_line(result.stderr).startswith("hiveframe: error: stdin:2: not JSON")


def test_limit_saves_no_incremental_state(fresh_demo, tmp_path):
    state = tmp_path / "state.json"
    read = ["read", fresh_demo.url("/orders"), "--pagination", "offset", "--page-size", "5"]
    cursor = ["--state", str(state), "--cursor-field", "updated_at", "--cursor-param", "since"]
    cursor += ["--initial-value", "2026-01-01T00:00:00Z", "--primary-key", "id"]
    limited = hiveframe(*read, *cursor, "--limit", "3", "-o", str(tmp_path / "some.jsonl"))
    assert limited.returncode == 0, limited.stderr
    assert f"state not saved (--limit ends a read early) in {state}" in limited.stderr
    assert not state.exists()
    whole = hiveframe(*read, *cursor, "-o", "-")
    assert whole.returncode == 0 and f"state saved in {state}" in whole.stderr
    assert state.exists()
