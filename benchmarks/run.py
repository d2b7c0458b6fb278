"""Run HiveFrame and its peers on the same local server and print one table.

    benchmarks/run            # sets up .venv-bench, then runs this
    python benchmarks/run.py [--runs 3] [--only read,write,sse,memory,startup] [--out FILE]
                             [--cold-runs 11]

Each workload runs every client in alternation, ``--runs`` times, each run in a fresh process
(so peak RSS is its own); the table shows the median records/s, the median client CPU seconds
(all threads; for writes, while delivering only), the median peak RSS and HiveFrame's ratio to
each peer, against its targets.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable


@dataclass
class Workload:
    name: str
    kind: str  # read | write | sse | poll
    records: int
    latency_ms: int
    clients: list[str]
    # peer -> minimum HiveFrame/peer speed ratio (the targets)
    targets: dict[str, float] = field(default_factory=dict)
    hiveframe: str = "hiveframe"
    group: str = "read"
    # peers whose client CPU seconds per record HiveFrame must not exceed
    cpu_peers: tuple[str, ...] = ()


# The read targets: against the hand-written aiohttp + orjson loop (8 pages in flight), dlt
# and requests, in offset and page-number styles.
_FAST = {"aiohttp": 2.0, "dlt": 5.0, "requests": 3.0}
_SLOW = {"aiohttp": 1.0, "dlt": 6.0, "requests": 6.0}

WORKLOADS = [
    Workload(
        "read 100k, 0 ms, offset",
        "read",
        100_000,
        0,
        ["hiveframe", "aiohttp", "dlt", "requests", "httpx"],
        _FAST,
    ),
    Workload(
        "read 100k, 0 ms, page",
        "read",
        100_000,
        0,
        ["hiveframe_page", "aiohttp_page", "dlt_page", "requests_page"],
        {f"{peer}_page": ratio for peer, ratio in _FAST.items()},
        hiveframe="hiveframe_page",
    ),
    Workload(
        "read 20k, 20 ms, offset",
        "read",
        20_000,
        20,
        ["hiveframe", "aiohttp", "dlt", "requests", "httpx"],
        {**_SLOW, "httpx": 6.0},
    ),
    Workload(
        "read 20k, 20 ms, page",
        "read",
        20_000,
        20,
        ["hiveframe_page", "aiohttp_page", "dlt_page", "requests_page"],
        {f"{peer}_page": ratio for peer, ratio in _SLOW.items()},
        hiveframe="hiveframe_page",
    ),
    Workload(
        "read 20k, 20 ms, cursor",
        "read",
        20_000,
        20,
        ["hiveframe_cursor", "aiohttp_cursor", "requests", "httpx"],
        {"requests": 1.0, "httpx": 1.0},
        hiveframe="hiveframe_cursor",
    ),
    Workload(
        "read 20k, 20 ms, link",
        "read",
        20_000,
        20,
        ["hiveframe_link", "aiohttp_link", "requests", "httpx"],
        {"requests": 1.0, "httpx": 1.0},
        hiveframe="hiveframe_link",
    ),
    Workload(
        "write 100k, 5 ms",
        "write",
        100_000,
        5,
        ["hiveframe", "requests", "httpx", "aiohttp", "aiohttp_table"],
        {"requests": 7.0, "aiohttp": 1.2, "aiohttp_table": 1.2},
        group="write",
        cpu_peers=("aiohttp", "aiohttp_table"),
    ),
    Workload(
        "poll 2k times, one new record each",
        "poll",
        2_000,
        0,
        ["hiveframe", "requests"],
        {},
        group="sse",
    ),
    Workload(
        "SSE 200k events",
        "sse",
        200_000,
        0,
        ["hiveframe", "httpx_sse", "sseclient"],
        {"httpx_sse": 2.0},
        group="sse",
    ),
    Workload(
        "SSE 200k events, Arrow batches of 1,000",
        "sse",
        200_000,
        0,
        ["hiveframe_batches", "aiohttp"],
        {"aiohttp": 0.9},
        hiveframe="hiveframe_batches",
        group="sse",
    ),
]


def label(client: str) -> str:
    """A client's name in the table: the hand-written aiohttp loop says what it is."""
    if client.startswith("aiohttp"):
        style = client.partition("_")[2]
        if style == "table":
            return "aiohttp + orjson x8 (from the table: to_pylist() timed)"
        loop = "aiohttp + orjson" if style in ("cursor", "link") else "aiohttp + orjson x8"
        return f"{loop}{f' ({style})' if style else ''}"
    return client


@contextmanager
def bench_server(command: list[str] | None = None) -> Iterator[str]:
    """The base URL of a benchmark server started by ``command`` (default: server.py on a
    free port), which prints ``READY <port>`` once it listens; stopped on exit."""
    command = command or [PYTHON, str(HERE / "server.py"), "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().split()
        if line[:1] != ["READY"]:
            raise SystemExit("benchmark server did not start")
        yield f"http://127.0.0.1:{line[1]}"
    finally:
        process.terminate()
        process.wait(10)


def run_one(kind: str, client: str, base: str, records: int, latency: int) -> dict[str, float]:
    if kind == "write":
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{base}/ingest/reset", method="POST"))
    out = subprocess.run(
        [PYTHON, str(HERE / "workloads.py"), kind, client, base, str(records), str(latency)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        return {
            "error": 1.0,
            "records": 0,
            "seconds": 0.0,
            "cpu_seconds": 0.0,
            "peak_rss_mb": 0.0,
            "message": out.stderr.strip().splitlines()[-1] if out.stderr else "failed",
        }  # type: ignore[dict-item]
    return orjson.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def measure(workload: Workload, base: str, runs: int) -> dict[str, dict[str, float]]:
    samples: dict[str, list[dict[str, float]]] = {c: [] for c in workload.clients}
    for _ in range(runs):
        for client in workload.clients:
            samples[client].append(
                run_one(workload.kind, client, base, workload.records, workload.latency_ms)
            )
    summary = {}
    for client, rows in samples.items():
        good = [r for r in rows if not r.get("error")]
        if not good:
            summary[client] = {"error": 1.0, "message": rows[-1].get("message", "")}  # type: ignore[dict-item]
            continue
        summary[client] = {
            "rate": statistics.median(r["records"] / r["seconds"] for r in good),
            "rss": statistics.median(r["peak_rss_mb"] for r in good),
            "cpu": statistics.median(r["cpu_seconds"] for r in good),
        }
    return summary


def speed_rows(workloads: list[Workload], base: str, runs: int) -> list[str]:
    rows = []
    for w in workloads:
        print(f"... {w.name}", file=sys.stderr)
        result = measure(w, base, runs)
        ours = result.get(w.hiveframe, {})
        for client in w.clients:
            r = result[client]
            if r.get("error"):
                rows.append(
                    f"| {w.name} | {label(client)} | error: {r.get('message', '')} | | | | |"
                )
                continue
            ratio, target = "", ""
            if client != w.hiveframe and not ours.get("error") and ours:
                value = ours["rate"] / r["rate"]
                ratio = f"{value:.2f}x"
                if client in w.targets:
                    ok = "met" if value >= w.targets[client] else "NOT met"
                    target = f">= {w.targets[client]:g}x: {ok}"
                if client in w.cpu_peers:
                    ok = "met" if ours["cpu"] <= r["cpu"] else "NOT met"
                    target += f"; client CPU <= its: {ok}"
            rows.append(
                f"| {w.name} | {label(client)} | {r['rate']:,.0f} | {r['cpu']:.2f} "
                f"| {r['rss']:.0f} | {ratio} | {target} |"
            )
    return rows


def memory_rows(base: str, runs: int) -> list[str]:
    print("... memory", file=sys.stderr)
    small = run_one("read", "hiveframe_batches", base, 100_000, 0)
    # The same 1M records (pages of 1,000) streamed and read whole, alternating.
    streamed, whole = [], []
    for _ in range(runs):
        streamed.append(run_one("read", "hiveframe_batches", base, 1_000_000, 0))
        whole.append(run_one("read", "hiveframe_whole", base, 1_000_000, 0))
    large = streamed[-1]
    ours = run_one("read", "hiveframe", base, 1_000_000, 0)
    loops = {peer: run_one("read", peer, base, 1_000_000, 0) for peer in ("aiohttp", "requests")}
    stream_ratio = large["peak_rss_mb"] / small["peak_rss_mb"]
    stream_rate = statistics.median(r["records"] / r["seconds"] for r in streamed)
    whole_rate = statistics.median(r["records"] / r["seconds"] for r in whole)
    speed = stream_rate / whole_rate
    rows = [
        f"| iter_batches() peak RSS, 1M vs 100k records | {large['peak_rss_mb']:.0f} MB vs "
        f"{small['peak_rss_mb']:.0f} MB | {stream_ratio:.2f}x | < 2x: "
        f"{'met' if stream_ratio < 2 else 'NOT met'} |",
        f"| iter_batches() vs read(), 1M records in pages of 1,000 (records/s) | "
        f"{stream_rate:,.0f} vs {whole_rate:,.0f} | {speed:.2f}x | >= 0.9x: "
        f"{'met' if speed >= 0.9 else 'NOT met'} |",
    ]
    for peer, loop in loops.items():
        ratio = ours["peak_rss_mb"] / loop["peak_rss_mb"]
        rows.append(
            f"| read() of 1M records vs the {label(peer)} loop building the same table, "
            f"peak RSS | {ours['peak_rss_mb']:.0f} MB vs {loop['peak_rss_mb']:.0f} MB | "
            f"{ratio:.2f}x | <= 1.5x: {'met' if ratio <= 1.5 else 'NOT met'} |"
        )
    return rows


def _process_seconds(command: list[str]) -> float:
    """Wall time of one run of ``command``, from start to exit."""
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def _compiled() -> None:
    """Compile HiveFrame's bytecode first, as pip does when it installs the wheel: an editable
    install run with ``PYTHONDONTWRITEBYTECODE`` would compile every module on every start."""
    import compileall

    import hiveframe

    compileall.compile_dir(Path(hiveframe.__file__).parent, quiet=1)


def startup_rows(runs: int) -> list[str]:
    def timed(code: str) -> float:
        return statistics.median(_process_seconds([PYTHON, "-c", code]) for _ in range(runs))

    base = timed("pass")
    rows = []
    for code, target_ms in (("import hiveframe", 150), ("import hiveframe.connectors", 100)):
        heavy = subprocess.run(
            [
                PYTHON,
                "-c",
                f"import sys; {code}; print([m for m in ('pyspark', 'polars', 'pandas', "
                "'pyarrow', 'aiohttp') if m in sys.modules])",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        ms = (timed(code) - base) * 1000
        met = ms < target_ms and heavy == "[]"
        rows.append(
            f"| `{code}` (over bare start-up) | {ms:.0f} ms, heavy imports: {heavy} | "
            f"| < {target_ms} ms, none: {'met' if met else 'NOT met'} |"
        )
    return rows


COLD_PEER = """\
import sys
import pyarrow as pa, pyarrow.parquet as pq, requests
response = requests.get(sys.argv[1])
response.raise_for_status()
pq.write_table(pa.Table.from_pylist(response.json()["results"]["items"]), sys.argv[2])
"""

FIRST_READ = """\
import sys, time
from hiveframe.connectors import HTTPSource
seconds = []
for _ in range(2):
    source = HTTPSource(sys.argv[1], data_path="results.items")
    started = time.perf_counter()
    source.read()
    seconds.append(time.perf_counter() - started)
print(seconds[0] - seconds[1])
"""


def cold_start_rows(base: str, out: Path, runs: int) -> list[str]:
    """One read to Parquet, whole process: the CLI against a requests + pyarrow script, run
    in alternation (after one untimed run of each, which warms the file cache), median of
    ``runs``; then what the first ``read()`` of a process costs over the second."""
    print("... cold start", file=sys.stderr)
    url = f"{base}/nested?limit=100&total=100"
    cli = str(Path(PYTHON).with_name("hiveframe"))
    ours = [cli, "read", url, "--data-path", "results.items", "-o", str(out / "ours.parquet")]
    peer = [PYTHON, "-c", COLD_PEER, url, str(out / "peer.parquet")]
    times: dict[str, list[float]] = {"ours": [], "peer": []}
    for command in (ours, peer):
        _process_seconds(command)
    for _ in range(runs):
        times["ours"].append(_process_seconds(ours))
        times["peer"].append(_process_seconds(peer))
    ours_s, peer_s = statistics.median(times["ours"]), statistics.median(times["peer"])
    ratio = ours_s / peer_s
    extra = []
    for _ in range(runs):
        done = subprocess.run(
            [PYTHON, "-c", FIRST_READ, url], check=True, capture_output=True, text=True
        )
        extra.append(float(done.stdout) * 1000)
    first_ms = statistics.median(extra)
    return [
        f"| `hiveframe read URL --data-path results.items -o x.parquet`, whole process, "
        f"vs a requests + pyarrow script (median of {runs}, alternating) | "
        f"{ours_s:.3f} s vs {peer_s:.3f} s | {ratio:.2f}x | "
        f"<= 1.1x: {'met' if ratio <= 1.1 else 'NOT met'} |",
        f"| the first `read()` of a process over the second (one page; median of {runs} "
        f"processes) | {first_ms:+.1f} ms | | <= 20 ms: {'met' if first_ms <= 20 else 'NOT met'} |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="read,write,sse,memory,startup")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--cold-runs", type=int, default=11, help="processes per start-up measure (default 11)"
    )
    args = parser.parse_args()
    only = set(args.only.split(","))
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {date.today().isoformat()}; "
        f"median of {args.runs} runs, clients alternating.",
        "",
    ]
    with bench_server() as base:
        chosen = [w for w in WORKLOADS if w.group in only]
        if chosen:
            lines += [
                "| workload | client | records/s | client CPU s | peak RSS MB | HiveFrame vs "
                "| target |",
                "|---|---|---:|---:|---:|---:|---|",
                *speed_rows(chosen, base, args.runs),
                "",
            ]
        extra = []
        if "memory" in only:
            extra += memory_rows(base, args.runs)
        if "startup" in only:
            _compiled()
            extra += startup_rows(args.cold_runs)
            with tempfile.TemporaryDirectory() as out:
                extra += cold_start_rows(base, Path(out), args.cold_runs)
        if extra:
            lines += ["| measure | value | ratio | target |", "|---|---|---:|---|", *extra]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
