"""An install without an extra (``http``, ``polars``, ``pandas``) says what to install.

Promise: docs/reliability.md, bad input. Each test runs a subprocess in which the extra's
modules cannot be imported, as on ``pip install hiveframe`` without it: a meta-path finder,
installed before anything else is imported, refuses them (``aiohttp`` and ``anyio`` for
``http``).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from hiveframe.cli import EXIT_FAILED

INSTALL = "pip install 'hiveframe[http]'"
HTTP_EXTRA = ("aiohttp", "anyio")

BLOCKER = textwrap.dedent(
    """
    import sys


    class Uninstalled:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in ({BLOCKED},):
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None


    sys.meta_path.insert(0, Uninstalled())
    """
)


def run_without(
    code: str, *args: str, blocked: tuple[str, ...] = HTTP_EXTRA
) -> subprocess.CompletedProcess[str]:
    prelude = BLOCKER.format(BLOCKED=", ".join(map(repr, blocked)))
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_import_hiveframe_and_the_arrow_features_work_without_it():
    result = run_without(
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
    result = run_without(
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
    result = run_without(CLI, *(a.format(rows=rows) for a in args))
    assert result.returncode == EXIT_FAILED
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("hiveframe: error: ") and line.endswith(INSTALL)


def test_the_cli_help_works_without_it():
    result = run_without(CLI, "read", "--help")
    assert result.returncode == 0, result.stderr
    assert "--timeout" in result.stdout


@pytest.mark.parametrize(("method", "extra"), [("to_polars", "polars"), ("to_pandas", "pandas")])
def test_a_dataframe_export_names_its_extra(method, extra):
    result = run_without(
        f"""
        from hiveframe import DataFrame
        from hiveframe.errors import MissingExtraError

        try:
            DataFrame.from_pylist([{{"id": 1}}]).{method}()
        except MissingExtraError as exc:
            print(exc)
        """,
        blocked=(extra,),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"{method}() requires the {extra!r} extra ({extra} is not installed): "
        f"pip install 'hiveframe[{extra}]'"
    )


def test_hiveframe_spark_names_its_extra():
    result = run_without(
        """
        from hiveframe.errors import MissingExtraError

        try:
            import hiveframe.spark
        except MissingExtraError as exc:
            print(exc)
        """,
        blocked=("pyspark",),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "hiveframe.spark (PySpark 4) requires the 'spark' extra (pyspark is not installed): "
        "pip install 'hiveframe[spark]'"
    )
