"""``hiveframe read --max-pages``: the same meaning as ``HTTPSource(max_pages=...)``."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from hiveframe._protocol.pagination import DEFAULT_MAX_PAGES
from hiveframe.cli import _parser, main
from hiveframe.cli._read import _source_options
from hiveframe.connectors import HTTPSource


def plan_of(*argv: str):
    args = _parser().parse_args(["read", "https://api.example.com/data", *argv])
    return HTTPSource(args.url, **_source_options(args)).plan


def test_max_pages_reads_that_many_pages(demo, tmp_path):
    # docs/reliability.md test 10: a page count the user chose stops the read silently.
    out = tmp_path / "two.parquet"
    argv = ["read", demo.url("/data"), "--pagination", "offset", "--page-size", "100"]
    assert main([*argv, "--max-pages", "2", "-o", str(out)]) == 0
    assert pq.read_table(out).num_rows == 200


def test_without_max_pages_the_default_cap_applies_and_none_lifts_it():
    # docs/reliability.md test 41.
    default, lifted, seven = plan_of(), plan_of("--max-pages", "none"), plan_of("--max-pages", "7")
    assert (default.max_pages, default.page_cap) == (None, DEFAULT_MAX_PAGES)
    assert (lifted.max_pages, lifted.page_cap) == (None, None)
    assert seven.max_pages == 7


@pytest.mark.parametrize("text", ["0", "-1", "many"])
def test_a_bad_max_pages_is_a_usage_error(text, capsys):
    with pytest.raises(SystemExit) as info:
        plan_of("--max-pages", text)
    assert info.value.code == 2
    assert "--max-pages" in capsys.readouterr().err
