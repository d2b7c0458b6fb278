"""Where a paged read's client CPU goes, per page: the event loop, the decoding thread, the reader.

    python benchmarks/read_profile.py [--runs 5] [--records 100000]

Starts the benchmark server and reads ``--records`` records at 0 ms in pages of 100, as
``workloads.py read hiveframe`` (offset) and ``read hiveframe_page`` (page numbers) do,
alternating, in one process after a warm-up read. Each run prints, per page:

- ``process``: the CPU of every thread of the process during the read;
- ``loop``: the event loop's thread (the requests, the paginator, the read-ahead and the
  hand-off to and from the decoder), ``time.thread_time`` around the read on that thread;
- ``decoder``: the decoding thread, ``time.thread_time`` around each batch it decodes, and of
  that ``reader``, pyarrow's JSON reader (which runs without the GIL);
- ``busy``: the share of the read's wall time the decoding thread was working on a batch
  (waiting for the GIL included), and ``pages/batch``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from typing import Any

from hiveframe._http import offload
from hiveframe._protocol import columnar
from hiveframe.connectors import _run
from run import bench_server
from workloads import read_hiveframe

SPENT = {"decoder": 0.0, "reader": 0.0, "decoding": 0.0, "pages": 0.0, "batches": 0.0, "loop": 0.0}


def instrument() -> None:
    init = offload.BatchDecoder.__init__
    read_json = columnar._read_json
    read = _run.ReadRun.read

    def timed_init(decoder: offload.BatchDecoder, decode: offload.Decode) -> None:
        def timed(bodies: Sequence[columnar.PageBody]) -> Any:
            cpu, wall = time.thread_time(), time.perf_counter()
            try:
                return decode(bodies)
            finally:
                SPENT["decoder"] += time.thread_time() - cpu
                SPENT["decoding"] += time.perf_counter() - wall
                SPENT["pages"] += len(bodies)
                SPENT["batches"] += 1

        init(decoder, timed)

    def timed_read_json(*args: Any) -> Any:
        cpu = time.thread_time()
        try:
            return read_json(*args)
        finally:
            SPENT["reader"] += time.thread_time() - cpu

    async def timed_read(run: _run.ReadRun) -> Any:
        cpu = time.thread_time()
        try:
            return await read(run)
        finally:
            SPENT["loop"] += time.thread_time() - cpu

    offload.BatchDecoder.__init__ = timed_init  # type: ignore[method-assign]
    columnar._read_json = timed_read_json
    _run.ReadRun.read = timed_read  # type: ignore[method-assign]


def profile(base: str, records: int, style: str) -> dict[str, float]:
    for part in SPENT:
        SPENT[part] = 0.0
    cpu, wall = time.process_time(), time.perf_counter()
    assert read_hiveframe(base, records, 0, style) == records
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    pages = records / 100

    def per_page(seconds: float) -> float:
        return seconds / pages * 1e3

    return {
        "records/s": records / wall,
        "process": per_page(cpu),
        "loop": per_page(SPENT["loop"]),
        "decoder": per_page(SPENT["decoder"]),
        "reader": per_page(SPENT["reader"]),
        "busy %": SPENT["decoding"] / wall * 100,
        "pages/batch": SPENT["pages"] / max(SPENT["batches"], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    instrument()
    with bench_server() as base:
        # A warm-up read: the imports, the first batch, and the server's cache of the pages.
        read_hiveframe(base, args.records, 0, "offset")
        runs: dict[str, list[dict[str, float]]] = {"offset": [], "page": []}
        for _ in range(args.runs):
            for style, figures in runs.items():
                figures.append(profile(base, args.records, style))
        for style, figures in runs.items():
            for run in figures:
                print(style, " ".join(f"{part} {value:.3f}" for part, value in run.items()))
            medians = {part: statistics.median(run[part] for run in figures) for part in figures[0]}
            print(style, "median", " ".join(f"{p} {v:.3f}" for p, v in medians.items()))
        print("process, loop, decoder, reader: CPU ms per page of 100 records")


if __name__ == "__main__":
    main()
