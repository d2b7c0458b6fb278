"""Where an SSE stream's client CPU goes: transport, event parsing, decoding, the rest.

    python benchmarks/sse_profile.py [--runs 5] [--events 200000] [--batch 1000]

Starts the benchmark server and reads its ``/sse`` body (``--events`` events of ~200 bytes
of JSON) in one process, as ``workloads.py sse hiveframe`` (``source.astream()``, a record
at a time) and ``workloads.py sse hiveframe_batches`` (``source.astream_batches(batch)``) do,
alternating. Each run prints the CPU microseconds per event of the whole read and of its
parts, timed where they are called (once per network read or per batch, never per event):

- ``transport``: waiting for and reading each chunk of the body (the HTTP client, content
  decoding, the event loop's callbacks), the CPU spent inside the response's chunk iterator;
- ``parse``: ``SSEDecoder.feed_batch``, the events of each chunk;
- ``decode``: the events' JSON to records (``json_documents``, orjson);
- ``arrow``: building each record batch (pyarrow's JSON reader from the events' text, or
  ``records_to_table`` from records where the reader cannot be used);
- ``rest``: everything else (the async steps per read, handing records out, positions).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from hiveframe._http import record_stream
from hiveframe._http.sse import SSEReader
from hiveframe._protocol.sse import SSEDecoder
from hiveframe.connectors import HTTPSource
from run import bench_server

PARTS = ("transport", "parse", "decode", "arrow")
SPENT = dict.fromkeys(PARTS, 0.0)


def timed(part: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            SPENT[part] += time.process_time() - started

    return run


async def timed_chunks(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    while True:
        started = time.process_time()
        try:
            chunk = await chunks.__anext__()
        except StopAsyncIteration:
            return
        finally:
            SPENT["transport"] += time.process_time() - started
        yield chunk


def instrument() -> None:
    opened = SSEReader._open

    @asynccontextmanager
    async def timed_open(reader: SSEReader, decoder: SSEDecoder) -> AsyncIterator[Any]:
        async with opened(reader, decoder) as response:
            yield dataclasses.replace(response, chunks=timed_chunks(response.chunks))

    SSEReader._open = timed_open  # type: ignore[method-assign,assignment]
    SSEDecoder.feed_batch = timed("parse", SSEDecoder.feed_batch)  # type: ignore[method-assign]
    SSEReader._records = timed("decode", SSEReader._records)  # type: ignore[method-assign]
    record_stream.decode_objects = timed("arrow", record_stream.decode_objects)
    record_stream.records_to_table = timed("arrow", record_stream.records_to_table)


async def records(source: HTTPSource, batch: int) -> int:
    count = 0
    async with source.astream() as events:
        async for _event in events:
            count += 1
    return count


async def batches(source: HTTPSource, batch: int) -> int:
    count = 0
    async with source.astream_batches(batch) as stream:
        async for record_batch in stream:
            count += record_batch.num_rows
    return count


def profile(base: str, how: Callable[..., Any], events: int, batch: int) -> dict[str, float]:
    source = HTTPSource(f"{base}/sse?n={events}", stream_type="sse", reconnect=None)
    for part in PARTS:
        SPENT[part] = 0.0
    started = time.process_time()
    assert asyncio.run(how(source, batch)) == events
    total = time.process_time() - started
    figures = {"total": total, **SPENT, "rest": total - sum(SPENT.values())}
    return {name: seconds / events * 1e6 for name, seconds in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    instrument()
    with bench_server() as base:
        profile(base, records, 1000, args.batch)  # a warm-up read: imports, first connection
        runs: dict[str, list[dict[str, float]]] = {"astream": [], "astream_batches": []}
        for _ in range(args.runs):
            runs["astream"].append(profile(base, records, args.events, args.batch))
            runs["astream_batches"].append(profile(base, batches, args.events, args.batch))
        for name, figures in runs.items():
            for run in figures:
                print(name, " ".join(f"{part} {value:.2f}" for part, value in run.items()))
            medians = {part: statistics.median(run[part] for run in figures) for part in figures[0]}
            print(name, "median", " ".join(f"{p} {v:.2f}" for p, v in medians.items()), "µs/event")


if __name__ == "__main__":
    main()
