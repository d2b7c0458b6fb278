"""The docs run, and show what really happens.

Every Python block of README.md and docs/*.md runs, in page order, with the ``>>>`` (pycon)
blocks run as doctests in the same namespace, against the demo API standing in for
``https://api.example.com``: ``hiveframe demo --serve`` started once for the session in a
subprocess, as a reader would start it (the ``served_demo`` fixture). Every ``hiveframe ...``
command of a shell block runs in a subprocess against it too. Commands that follow a stream
(``hiveframe stream``) run until they have delivered something, then get Ctrl-C, which must
stop them cleanly.

Values the docs show are checked, not only the code that produces them:

- ``print(...)  # -> 250 [0, 1, 2]``, or ``# -> ...`` on the lines right after a statement:
  the statement prints exactly that, one ``# ->`` per printed line, in order;
- comment lines ``# body: {...}`` right after a statement: the body of the last request the
  demo's ``/ingest`` received (``GET /ingest/last``), continued over the following ``#``
  lines.

A ``toml`` block whose first line is ``# <name>.toml`` is that file (a pipeline file): it is
written, with the demo standing in for ``https://api.example.com``, where the page shows it,
so the Python blocks after it and the page's commands find it.
"""

from __future__ import annotations

import ast
import contextlib
import doctest
import io
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli_process import console_script
from hiveframe.connectors import HTTPSource
from waiting import eventually

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.DOTALL | re.MULTILINE)
EXAMPLE_HOST = "https://api.example.com"
SHOWN = re.compile(r"#\s*->\s*(.*?)\s*$")
NAMED_FILE = re.compile(r"#\s*([\w.-]+\.toml)\s*\n")


@dataclass(frozen=True)
class Block:
    language: str
    code: str
    line: int  # of the block's first code line in its page


def blocks(page: Path) -> list[Block]:
    text = page.read_text()
    return [
        Block(m.group(1), m.group(2), text.count("\n", 0, m.start(2)) + 1)
        for m in FENCE.finditer(text)
    ]


def pages_with(*languages: str) -> list[Path]:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return [p for p in pages if any(b.language in languages for b in blocks(p))]


def commands(page: Path) -> list[list[str]]:
    """The ``hiveframe ...`` commands of the page's shell blocks, as argument lists."""
    found = []
    for block in blocks(page):
        if block.language not in ("bash", "sh", "console"):
            continue
        for line in block.code.replace("\\\n", " ").splitlines():
            if line.startswith("hiveframe "):
                found.append(shlex.split(line, comments=True))
    return found


# -- Python and pycon blocks ---------------------------------------------------------------


def skip_unless_spark_runs(page: Path) -> None:
    if page.name == "spark.md":
        pytest.importorskip("pyspark", reason="docs/spark.md needs the 'spark' extra")
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            pytest.skip("docs/spark.md needs Java for its local SparkSession")


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # files the snippets write land here
    return tmp_path


@pytest.mark.parametrize("page", pages_with("python", "pycon"), ids=lambda p: p.name)
def test_snippets_run_in_order_and_show_what_they_print(page, served_demo, in_tmp):
    skip_unless_spark_runs(page)
    namespace: dict[str, object] = {"__name__": f"docs.{page.stem}"}
    checked = 0
    try:
        for block in blocks(page):
            code = block.code.replace(EXAMPLE_HOST, served_demo.base_url)
            if block.language == "python":
                checked += run_python(code, page, block.line, namespace, served_demo)
            elif block.language == "pycon":
                # Paths under /data/ stand for your storage; the run uses a temporary folder.
                run_pycon(code.replace('"/data/', f'"{in_tmp}/'), page, block.line, namespace)
            elif block.language == "toml":
                write_named_file(code)
    finally:
        stop_spark_streams(namespace)
    python = "".join(b.code for b in blocks(page) if b.language == "python")
    assert checked == python.count("# ->") + python.count("# body:")  # none left unchecked


def write_named_file(code: str) -> None:
    """Write a ``toml`` block that names its file on its first line (in the current folder)."""
    named = NAMED_FILE.match(code)
    if named is not None:
        Path(named.group(1)).write_text(code)


def run_python(code: str, page: Path, line: int, namespace: dict, demo) -> int:
    """Run ``code`` statement by statement; check the values it shows. Returns how many."""
    lines = code.splitlines()
    statements = ast.parse(code, filename=str(page)).body
    starts = [s.lineno for s in statements] + [len(lines) + 1]
    checked = 0
    for statement, following in zip(statements, starts[1:], strict=True):
        first, last = statement.lineno, statement.end_lineno or statement.lineno
        module = ast.Module(body=[statement], type_ignores=[])
        ast.increment_lineno(module, line - 1)  # tracebacks name the page's own lines
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(module, str(page), "exec"), namespace)
        where = f"{page.name}:{line + first - 1}"
        after = lines[last : following - 1]  # comment and blank lines before the next one
        shown = [m.group(1) for text in lines[first - 1 : last] if (m := SHOWN.search(text))]
        shown += [m.group(1) for text in after if (m := SHOWN.match(text.strip()))]
        if shown:
            assert printed.getvalue().splitlines() == shown, where
            checked += len(shown)
        body = shown_body(after)
        if body is not None:
            assert demo.last_ingest_body().decode() == body, where
            checked += 1
        sys.stdout.write(printed.getvalue())
    return checked


def shown_body(comment_lines: list[str]) -> str | None:
    """The ``# body: ...`` a statement is followed by, its continuation lines joined."""
    comments = [text.strip() for text in comment_lines if text.strip().startswith("#")]
    if not comments or not comments[0].startswith("# body:"):
        return None
    parts = [comments[0].removeprefix("# body:").strip()]
    parts += [text.removeprefix("#").strip() for text in comments[1:]]
    return "".join(parts)


def run_pycon(code: str, page: Path, line: int, namespace: dict) -> None:
    test = doctest.DocTestParser().get_doctest(code, namespace, page.stem, str(page), line - 1)
    assert test.examples, f"{page.name}:{line}: a pycon block without examples"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = io.StringIO()
    runner.run(test, out=report.write, clear_globs=False)
    assert runner.failures == 0, report.getvalue()


def stop_spark_streams(namespace: dict) -> None:
    spark = namespace.get("spark")
    streams = getattr(spark, "streams", None)
    for query in getattr(streams, "active", []):
        query.stop()


# -- hiveframe commands ---------------------------------------------------------------------


def option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


CLI_PAGES = [page for page in pages_with("bash") if commands(page)]
SHELL_OPERATORS = {"|", ">", ">>", "<"}


@pytest.mark.parametrize("page", CLI_PAGES, ids=lambda p: p.name)
def test_cli_examples_run(page, served_demo, in_tmp):
    # the variables --bearer-env INGEST_TOKEN and --api-key-env NAME:API_KEY name
    env = {**os.environ, "INGEST_TOKEN": "docs-token", "API_KEY": "docs-key"}
    examples = commands(page)
    assert examples
    for block in blocks(page):
        if block.language == "toml":
            write_named_file(block.code.replace(EXAMPLE_HOST, served_demo.base_url))
    for example in examples:
        args = [a.replace(EXAMPLE_HOST, served_demo.base_url) for a in example]
        if SHELL_OPERATORS & set(args):
            run_in_shell(args, env)
            continue
        if args[1] == "write" and not Path(args[2]).exists():
            # An input the page takes for granted: the demo's records, in that file.
            write_demo_records(Path(args[2]), served_demo)
        if args[1] == "stream":
            run_until_it_delivers(args, env, served_demo)
        else:
            done = subprocess.run(
                console_script() + args[1:],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, f"{shlex.join(args)}\n{done.stderr}"
        output = option(args, "-o")
        if output not in (None, "-"):
            assert Path(output).stat().st_size > 0, shlex.join(args)


def run_in_shell(args: list[str], env: dict[str, str]) -> None:
    """A command line with pipes or redirections, run by bash; each ``hiveframe`` it starts is
    the command under test, and every program in a pipe must succeed (``pipefail``)."""
    starts = {0} | {i + 1 for i, word in enumerate(args) if word == "|"}
    line = " ".join(
        shlex.join(console_script())
        if i in starts and word == "hiveframe"
        else word
        if word in SHELL_OPERATORS
        else shlex.quote(word)
        for i, word in enumerate(args)
    )
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", line],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"{line}\n{done.stderr}"


def write_demo_records(path: Path, demo) -> None:
    df = HTTPSource(f"{demo.base_url}/data", pagination="offset", page_size=100).read()
    getattr(df.write, path.suffix.lstrip("."))(path)


def run_until_it_delivers(args: list[str], env: dict[str, str], demo) -> None:
    output, target = option(args, "-o"), option(args, "--to")
    ingested = demo.ingest_counts()["batches"]

    def delivered() -> bool:
        if output is not None:
            return Path(output).exists() and Path(output).stat().st_size > 0
        return target is not None and demo.ingest_counts()["batches"] > ingested

    child = subprocess.Popen(
        console_script() + args[1:], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        eventually(delivered, timeout=30)
    finally:
        child.send_signal(signal.SIGINT)  # Ctrl-C
        _, err = child.communicate(timeout=60)
    assert child.returncode == 128 + signal.SIGINT, f"{shlex.join(args)}\n{err}"
    assert "Traceback" not in err and "stopped" in err, err


# -- the checker checks -------------------------------------------------------------------


def test_a_value_the_docs_show_wrongly_fails_the_run(served_demo, tmp_path):
    page = tmp_path / "page.md"
    assert run_python("print(1 + 1)  # -> 2\nprint('a')\n# -> a\n", page, 1, {}, served_demo) == 2
    with pytest.raises(AssertionError):
        run_python("print(1 + 1)  # -> 3\n", page, 1, {}, served_demo)
    with pytest.raises(AssertionError):
        run_python("print(2)\nprint(3)  # -> 3\n# -> 4\n", page, 1, {}, served_demo)
    ingest = served_demo.url("/ingest")
    post = f"import urllib.request as u\nu.urlopen(u.Request({ingest!r}, b'[1]')).close()\n"
    assert run_python(post + "# body: [1]\n", page, 1, {}, served_demo) == 1
    with pytest.raises(AssertionError):
        run_python(post + "# body: [2]\n", page, 1, {}, served_demo)


# -- docs/reliability.md --------------------------------------------------------------------

RELIABILITY = ROOT / "docs" / "reliability.md"
CITATION = re.compile(r"docs/reliability\.md,? tests? (\d+)(?:(?:-|, | and )(\d+))*")


def test_reliability_promises_1_to_50_each_name_test_files_that_exist():
    text = RELIABILITY.read_text()
    promises = re.findall(r"^(\d+)\. \*\*(.+?)\*\*(.*?)(?=^\d+\. \*\*|^## |\Z)", text, re.M | re.S)
    assert [int(number) for number, _, _ in promises] == list(range(1, 51))
    for number, title, body in promises:
        proof = body.partition("Proof:")[2]
        cited = re.findall(r"`(tests/[^`]+)`", proof)
        assert cited, f"promise {number} ({title}) names no test"
        for path in cited:
            assert (ROOT / path).exists(), f"promise {number} cites {path}, which does not exist"


def test_tests_cite_promises_that_exist():
    cited = {
        (path.relative_to(ROOT), int(number))
        for path in (ROOT / "tests").rglob("*.py")
        for match in CITATION.finditer(path.read_text())
        for number in match.groups()
        if number is not None
    }
    assert cited  # the suite does cite the page
    assert [c for c in cited if not 1 <= c[1] <= 50] == []


# -- the product page the API answers to ------------------------------------------------------


def spec_page(name: str) -> Path:
    """``shared/spec/<name>`` beside this checkout (or beside a folder holding it)."""
    for folder in ROOT.parents:
        page = folder / "shared" / "spec" / name
        if page.exists():
            return page
    pytest.skip(f"shared/spec/{name} is not beside this checkout")


def test_the_connect_http_spec_page_runs_as_written(served_demo, in_tmp):
    """Every Python block of the product page, in order, against the served demo with only
    its URL put in place of ``https://api.example.com``. The page's ``stream.from_source``
    takes for granted a ``stream``: a ``StreamProcessor``, as docs/connect-http.md makes it."""
    from hiveframe.streaming import StreamConfig, StreamProcessor

    page = spec_page("connect-http.md")
    python = [block for block in blocks(page) if block.language == "python"]
    assert len(python) >= 7
    stream = StreamProcessor(StreamConfig(checkpoint_dir=str(in_tmp / "checkpoints")))
    namespace: dict[str, object] = {"__name__": "spec.connect_http", "stream": stream}
    before = served_demo.ingest_counts()
    try:
        for block in python:
            code = block.code.replace(EXAMPLE_HOST, served_demo.base_url)
            exec(compile(code, f"{page}:{block.line}", "exec"), namespace)
    finally:
        stream.stop()
    assert namespace["df"].count() == 250  # type: ignore[attr-defined]
    after = served_demo.ingest_counts()
    # 250 records in batches of 100, each stored or, sent before by another page with the
    # same Idempotency-Key, answered as a duplicate
    sent = after["batches"] + after["duplicates"] - before["batches"] - before["duplicates"]
    assert sent == 3
