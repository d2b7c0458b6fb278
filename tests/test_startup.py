"""Start-up loads only what it uses: ``hiveframe --version``, ``--help`` and completion import
no HTTP or Arrow library, ``import hiveframe.connectors`` imports almost nothing, and a
one-page read to Parquet leaves the sink, the stream readers and the optional libraries alone.

Each case runs a fresh interpreter and checks the names of the modules it has loaded when it
exits (every thread's), not their times: the speed is measured by
``benchmarks/run.py --only startup``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hiveframe.demo import DemoServer

HTTP_AND_ARROW = ("aiohttp", "httptools", "anyio", "asyncio", "pyarrow", "ssl", "yarl", "multidict")
# What a batch read never needs: the sink, the stream readers and options, incremental and
# parent/child reads, OAuth, pipelines, Spark, and the libraries imported only when an option
# asks for them. (Not pyarrow.compute: where pandas is installed, pyarrow imports it, and
# pandas pyarrow.compute, on the first pa.array().)
NOT_FOR_A_READ = (
    "hiveframe.connectors._sink",
    "hiveframe.connectors._explain",
    "hiveframe.connectors._sink_options",
    "hiveframe._protocol.batching",
    "hiveframe._http.sse",
    "hiveframe._http.poll",
    "hiveframe._http.record_stream",
    # the stream, incremental and parent/child options: loaded by a source that has them
    "hiveframe.connectors._stream_options",
    "hiveframe._protocol.poll",
    "hiveframe._protocol.reconnect",
    "hiveframe._protocol.sse",
    "hiveframe._protocol.units",
    "hiveframe.connectors._incremental",
    "hiveframe._protocol.incremental",
    "hiveframe.connectors._fanout",
    "hiveframe._protocol.checkpoint",
    "hiveframe._http.oauth_refresh",
    "hiveframe._http.proxied",  # aiohttp: only for requests through a proxy
    "aiohttp",
    "hiveframe._protocol.auto_pagination",  # pagination="auto" only
    "backports.zstd",  # the first zstd body
    "hiveframe.streaming",
    "hiveframe.pipeline",
    "hiveframe.spark",
    "pyarrow.json",
    "pyarrow.dataset",
    "jsonpath",
    "tqdm",
    "polars",
    "pyspark",
    "jsonschema",
    "tomllib",
)


# What ``hiveframe read`` leaves alone beyond that: the other commands, the demo, and the
# libraries a read has no use for: anyio (the sync portal is plain asyncio; Python 3.10 has no
# asyncio.timeout, so there the session's deadline is anyio's), urllib.request (the proxy
# variables are read without it) and email (a Retry-After date loads it when one comes).
NOT_FOR_A_CLI_READ = (
    "hiveframe.cli._demo",
    "hiveframe.cli._explain",
    "hiveframe.cli._pipeline",
    "hiveframe.cli._stream",
    "hiveframe.cli._write",
    "hiveframe.cli._completion",
    "hiveframe.demo",
    "urllib.request",
    "email",
    *(("anyio",) if sys.version_info >= (3, 11) else ()),
)


# Runs ``-c CODE`` or ``-m MODULE ARGS`` as python would, and lists ``sys.modules`` at exit:
# unlike ``-X importtime``, it counts what importlib.import_module loads (lazy names, commands).
PROBE = """\
import atexit, runpy, sys
listing, option, target, *rest = sys.argv[1:]
atexit.register(lambda: open(listing, "w").write("\\n".join(sys.modules)))
sys.argv = [target if option == "-m" else "-c", *rest]
if option == "-m":
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    exec(compile(target, "<string>", "exec"), {"__name__": "__main__"})
"""


def imported(tmp_path: Path, *args: str) -> set[str]:
    """The modules ``python ARGS`` has loaded when it exits."""
    listing = tmp_path / "modules.txt"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(listing), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    names = set(listing.read_text().splitlines())
    assert "hiveframe" in names, done.stderr
    return names


def loaded(names: set[str], packages: tuple[str, ...]) -> list[str]:
    """The modules of ``names`` that are one of ``packages`` or inside one."""
    return sorted(n for n in names if any(n == p or n.startswith(p + ".") for p in packages))


@pytest.mark.parametrize(
    "args",
    [["--version"], ["--help"], ["read", "--help"], ["write", "--help"], ["completion", "bash"]],
)
def test_the_command_line_starts_without_http_or_arrow(args, tmp_path):
    names = imported(tmp_path, "-m", "hiveframe.cli", *args)
    assert loaded(names, (*HTTP_AND_ARROW, "hiveframe.connectors", "hiveframe._http")) == []


def test_import_hiveframe_connectors_loads_names_on_first_use(tmp_path):
    names = imported(tmp_path, "-c", "import hiveframe.connectors")
    assert loaded(names, HTTP_AND_ARROW) == []
    assert loaded(names, ("hiveframe.connectors",)) == ["hiveframe.connectors"]


def test_a_source_imports_the_read_path_only(tmp_path):
    names = imported(tmp_path, "-c", "from hiveframe.connectors import HTTPSource")
    assert loaded(names, NOT_FOR_A_READ) == []
    assert {"httptools", "hiveframe._http.reader"} <= names  # what a read uses loads with it


def test_a_one_page_read_to_parquet_imports_what_it_uses(tmp_path):
    out = tmp_path / "x.parquet"
    with DemoServer(records=20) as demo:
        url = demo.url("/nested")
        names = imported(
            tmp_path,
            "-m",
            "hiveframe.cli",
            *("read", url, "--data-path", "results.items", "-o", str(out)),
        )
    assert out.stat().st_size > 0
    assert loaded(names, NOT_FOR_A_READ) == []
    assert loaded(names, NOT_FOR_A_CLI_READ) == []
    assert {"pyarrow.parquet", "hiveframe.cli._read"} <= names


def test_a_missing_name_is_an_attribute_error():
    import hiveframe.connectors

    with pytest.raises(
        AttributeError, match=r"'hiveframe\.connectors' has no attribute 'HTTPSorce'"
    ):
        _ = hiveframe.connectors.HTTPSorce  # type: ignore[attr-defined]
    assert "HTTPSource" in dir(hiveframe.connectors)
