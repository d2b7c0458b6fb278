"""Where a sink write's client CPU goes: the event loop's thread against the encoder's.

    python benchmarks/write_profile.py [--runs 3] [--records 100000] [--latency-ms 5]

Starts the benchmark server, writes the write workload's table with ``HTTPSink`` (as
``workloads.py write hiveframe`` does) and prints, per run, the wall time, the process CPU,
the CPU of the thread running the event loop (requests, retries, bookkeeping) and of the
worker that encodes and batches (``SinkWriter._next_batches``, timed by ``time.thread_time``).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import urllib.request
from typing import Any

from hiveframe.connectors import HTTPSink, _sink
from run import bench_server
from workloads import PAGE, _write_table


def profile(base: str, records: int, latency: int) -> dict[str, float]:
    table = _write_table(records)
    encoder_cpu = 0.0
    next_batches = _sink.SinkWriter._next_batches

    def timed(writer: _sink.SinkWriter, reader: Any) -> Any:
        nonlocal encoder_cpu
        started = time.thread_time()
        try:
            return next_batches(writer, reader)
        finally:
            encoder_cpu += time.thread_time() - started

    _sink.SinkWriter._next_batches = timed  # type: ignore[method-assign]
    urllib.request.urlopen(urllib.request.Request(f"{base}/ingest/reset", method="POST"))
    sink = HTTPSink(f"{base}/ingest?latency_ms={latency}", batch_size=PAGE)

    async def write() -> float:
        started = time.thread_time()
        await sink.awrite(table)
        return time.thread_time() - started

    wall, cpu = time.perf_counter(), time.process_time()
    loop_cpu = asyncio.run(write())
    _sink.SinkWriter._next_batches = next_batches  # type: ignore[method-assign]
    return {
        "wall": time.perf_counter() - wall,
        "process_cpu": time.process_time() - cpu,
        "loop_cpu": loop_cpu,
        "encoder_cpu": encoder_cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=int, default=5)
    args = parser.parse_args()
    with bench_server() as base:
        for _ in range(args.runs):
            figures = profile(base, args.records, args.latency_ms)
            print(" ".join(f"{name} {value:.3f} s" for name, value in figures.items()))


if __name__ == "__main__":
    main()
