"""Every read says why it stopped (``source.last_read.stop_reason``), over real loopback HTTP,
and ``hiveframe read`` says it in its summary."""

from __future__ import annotations

import orjson
import pytest

from hiveframe.cli import main
from hiveframe.connectors import (
    HTTPSource,
    OffsetPagination,
    PagePagination,
    ResponseRule,
)
from hiveframe.demo import Reply, Request
from hiveframe.errors import HTTPStatusError

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("path", "options", "records", "reason"),
    [
        ("/data", {}, 100, "single_page"),  # one request: the demo's first 100
        ("/data", {"pagination": "offset", "page_size": 100}, 250, "short_page"),
        ("/data", {"pagination": "offset", "page_size": 125}, 250, "empty_page"),
        (
            "/items",
            {
                "pagination": OffsetPagination(total_path="total", page_size=125),
                "data_path": "items",
            },
            250,
            "total_reached",
        ),
        (
            "/pages",
            {"pagination": PagePagination(total_pages_path="total_pages"), "data_path": "data"},
            250,
            "total_reached",
        ),
        ("/data", {"pagination": "offset", "page_size": 100, "max_pages": 2}, 200, "max_pages"),
        ("/cursor", {"pagination": "cursor", "data_path": "data"}, 250, "no_next_cursor"),
        ("/link", {"pagination": "link", "page_size": 100}, 250, "no_next_link"),
        (
            "/next",
            {"pagination": "next_url", "data_path": "results", "page_size": 100},
            250,
            "no_next_link",
        ),
    ],
)
def test_why_each_read_stopped(demo, path, options, records, reason):
    source = HTTPSource(demo.url(path), **options)
    assert source.last_read is None  # nothing read yet
    assert source.read().count() == records
    assert source.last_read is not None and source.last_read.stop_reason == reason


def test_a_cursor_page_that_names_itself_is_an_empty_page_end(serve):
    def cursor(request: Request) -> Reply:
        if request.query.get("cursor") == "c2":
            return Reply(200, dict(JSON), b'{"data": [], "next_cursor": "c2"}')
        return Reply(200, dict(JSON), b'{"data": [{"id": 1}], "next_cursor": "c2"}')

    source = HTTPSource(serve({"/c": cursor}).url("/c"), pagination="cursor", data_path="data")
    assert source.read().count() == 1
    assert source.last_read is not None and source.last_read.stop_reason == "empty_page"


def test_an_ignored_answer_ends_the_read(serve):
    def pages(request: Request) -> Reply:
        offset = int(request.query["offset"])
        if offset:
            return Reply(404, dict(JSON), b"{}")
        return Reply(200, dict(JSON), orjson.dumps([{"id": i} for i in range(10)]))

    source = HTTPSource(
        serve({"/p": pages}).url("/p"),
        pagination="offset",
        page_size=10,
        response_policy=[ResponseRule("ignore", status=404)],
    )
    assert source.read().count() == 10
    assert source.last_read is not None and source.last_read.stop_reason == "ignored"


def test_batches_say_it_once_consumed(demo):
    source = HTTPSource(demo.url("/data"), pagination="offset", page_size=100)
    assert sum(batch.num_rows for batch in source.iter_batches()) == 250
    assert source.last_read is not None and source.last_read.stop_reason == "short_page"


def test_a_read_that_failed_has_no_stop_reason(serve):
    server = serve({"/x": lambda request: Reply(400, dict(JSON), b"{}")})
    source = HTTPSource(server.url("/x"))
    with pytest.raises(HTTPStatusError):
        source.read()
    assert source.last_read is not None and source.last_read.stop_reason is None


def test_the_command_line_summary_says_why_the_read_stopped(demo, tmp_path, capsys):
    out = tmp_path / "items.parquet"
    args = ["read", demo.url("/data"), "--pagination", "offset", "--page-size", "100"]
    assert main([*args, "-o", str(out)]) == 0
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert summary == f"wrote 250 records to {out} (stopped: short_page)"
    assert main([*args, "--max-pages", "1", "-o", str(out)]) == 0
    assert capsys.readouterr().err.strip().endswith("(stopped: max_pages)")
    assert main([*args, "--limit", "20", "-o", str(out)]) == 0
    assert capsys.readouterr().err.strip().endswith("(stopped: --limit)")
