"""A base install (no ``http`` extra) says what to install, from Python and from the CLI.

Promise: docs/reliability.md, bad input. Each test runs a subprocess in which ``aiohttp``
and ``anyio`` cannot be imported, as on ``pip install hiveframe`` without ``[http]``: a
meta-path finder, installed before anything else is imported, refuses them.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from hiveframe.cli import EXIT_FAILED

INSTALL = "pip install 'hiveframe[http]'"

WITHOUT_HTTP_EXTRA = textwrap.dedent(
    """
    import sys


    class WithoutHttpExtra:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in {"aiohttp", "anyio"}:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None


    sys.meta_path.insert(0, WithoutHttpExtra())
    """
)


def without_http_extra(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_HTTP_EXTRA + textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_import_hiveframe_and_the_arrow_features_work_without_it():
    result = without_http_extra(
        """
        import hiveframe
        from hiveframe import DataFrame
        from hiveframe.resilience import RetryConfig

        RetryConfig(max_attempts=2)
        print(DataFrame.from_pylist([{"id": 1}, {"id": 2}]).count())
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2"


@pytest.mark.parametrize(
    "statement",
    [
        "from hiveframe.connectors import HTTPSource",
        "from hiveframe.streaming import StreamProcessor",
        "import hiveframe.connectors",
    ],
)
def test_using_http_raises_an_import_error_that_names_the_extra(statement):
    result = without_http_extra(
        f"""
        from hiveframe.errors import HiveFrameError, MissingExtraError

        try:
            {statement}
        except ImportError as exc:
            assert isinstance(exc, MissingExtraError) and isinstance(exc, HiveFrameError)
            assert exc.extra == "http" and exc.name == "aiohttp", (exc.extra, exc.name)
            print(exc)
        else:
            raise SystemExit("no error")
        """
    )
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.strip().splitlines()
    assert line == (f"HTTP I/O requires the 'http' extra (aiohttp is not installed): {INSTALL}")


CLI = """
import sys

from hiveframe.cli import main

sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize(
    "args",
    [
        ["read", "http://127.0.0.1:9/data"],
        ["write", "{rows}", "http://127.0.0.1:9/ingest"],
        ["stream", "http://127.0.0.1:9/events", "--no-checkpoint"],
        ["demo", "--records", "10"],
    ],
)
def test_the_cli_says_what_to_install_in_one_line(tmp_path, args):
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"id": 1}\n')
    result = without_http_extra(CLI, *(a.format(rows=rows) for a in args))
    assert result.returncode == EXIT_FAILED
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("hiveframe: error: ") and line.endswith(INSTALL)


def test_the_cli_help_works_without_it():
    result = without_http_extra(CLI, "read", "--help")
    assert result.returncode == 0, result.stderr
    assert "--timeout" in result.stdout
