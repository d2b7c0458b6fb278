"""HTTPSink over real loopback HTTP: what arrives, in which batches, in which order, how fast.

The server is :class:`~hiveframe.demo._ingest.IngestAPI` (it stores what it receives and
honours ``Idempotency-Key``), wrapped by :class:`sinkfaults.FaultyIngest` where a test needs
to see arrival order or concurrency.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

import anyio
import orjson
import pyarrow as pa
import pytest

from hiveframe import DataFrame
from hiveframe._protocol.batching import ENCODE_ROWS, default_idempotency_key
from hiveframe.connectors import HTTPSink, WriteResult
from hiveframe.demo import Reply
from hiveframe.demo._ingest import IngestAPI
from hiveframe.errors import ConfigError, DeliveryFailed
from json_reference import row_by_row
from sinkfaults import FaultyIngest

UTC = dt.timezone.utc


def big_table(n: int) -> pa.Table:
    ids = pa.array(range(1, n + 1), pa.int64())
    start = dt.datetime(2026, 1, 1, tzinfo=UTC)
    return pa.table(
        {
            "id": ids,
            "name": pa.array([f"r{i}" for i in range(1, n + 1)]),
            "at": pa.array(
                [start + dt.timedelta(seconds=i) for i in range(n)], pa.timestamp("ms", tz="UTC")
            ),
            "day": pa.array([dt.date(2026, 1, 1) + dt.timedelta(days=i % 365) for i in range(n)]),
            "price": pa.array([Decimal(i) / 100 for i in range(n)], pa.decimal128(12, 2)),
            "tags": pa.array([["a"] * (i % 3) for i in range(n)], pa.list_(pa.string())),
            "dims": pa.array([{"w": i % 7, "h": None} for i in range(n)]),
            "maybe": pa.array([None if i % 2 else i for i in range(n)], pa.int64()),
        }
    )


def test_100_000_records_arrive_whole_in_the_right_batches(serve):
    ingest = IngestAPI()
    server = serve(ingest.routes())
    table = big_table(100_000)
    result = HTTPSink(server.url("/ingest"), batch_size=100).write(table)

    assert result.ok and result.records_delivered == result.records_sent == 100_000
    assert (result.batches_sent, result.batches_delivered, result.requests) == (1000, 1000, 1000)
    assert [len(batch) for batch in ingest.batches] == [100] * 1000
    for batch in ingest.batches:  # each batch is 100 consecutive records, in order
        ids = [record["id"] for record in batch]
        assert ids == list(range(ids[0], ids[0] + 100)) and ids[0] % 100 == 1
    records = {record["id"]: record for record in ingest.records}
    assert sorted(records) == list(range(1, 100_001))
    assert records[12_346] == {
        "id": 12_346,
        "name": "r12346",
        "at": "2026-01-01T03:25:45.000+00:00",
        "day": "2026-10-28",
        "price": "123.45",
        "tags": [],
        "dims": {"w": 4, "h": None},
        "maybe": None,
    }
    assert records[3]["tags"] == ["a", "a"] and records[3]["maybe"] == 2


@pytest.mark.parametrize(
    ("options", "frame"),
    [({}, (b"[", b",", b"]")), ({"body_format": "ndjson"}, (b"", b"\n", b"\n"))],
)
def test_bodies_and_keys_are_the_rows_encoded_one_by_one(serve, options, frame):
    # The column-wise encoder sends, byte for byte, what encoding each row's dict sent:
    # the same bodies, so the same idempotency keys as before (a re-run is recognised).
    ingest = IngestAPI()
    server = serve(ingest.routes())
    awkward = pa.table(
        {
            "text": ['q"uote\n', "é😀\u2028", None, "tab\t", "ctl\x01"] * 3,
            "float": [0.1, float("nan"), 1e16, -0.0, None] * 3,
            "wide": pa.array([2**64 - 1, 0, None, 1, 2] * 3, pa.uint64()),
        }
    )
    table = pa.concat_tables([big_table(15), awkward], promote_options="permissive")
    url = server.url("/ingest")
    HTTPSink(url, batch_size=4, max_in_flight=1, ordered=True, **options).write(table)

    prefix, separator, suffix = frame
    batches = table.combine_chunks().to_batches()
    rows = [row for batch in batches for row in row_by_row(batch)]
    expected = [prefix + separator.join(rows[i : i + 4]) + suffix for i in range(0, 30, 4)]
    requests = server.requests_to("/ingest")
    assert [request.body for request in requests] == expected
    keys = [default_idempotency_key("POST", url, body) for body in expected]
    assert [request.header("idempotency-key") for request in requests] == keys


def test_df_write_http_returns_the_result(serve):
    ingest = IngestAPI()
    server = serve(ingest.routes())
    df = DataFrame.from_pylist([{"id": i} for i in range(1, 251)])
    result = df.write.http(HTTPSink(server.url("/ingest"), method="POST", batch_size=100))
    assert isinstance(result, WriteResult)
    assert (result.records_delivered, result.batches_sent) == (250, 3)
    assert [len(batch) for batch in sorted(ingest.batches, key=len)] == [50, 100, 100]


@pytest.mark.parametrize(
    ("options", "content_type", "decode"),
    [
        ({}, "application/json", orjson.loads),
        (
            {"body_format": "ndjson"},
            "application/x-ndjson",
            lambda b: [orjson.loads(line) for line in b.splitlines()],
        ),
        ({"envelope": "records"}, "application/json", lambda b: orjson.loads(b)["records"]),
        (
            {"encoder": lambda records: orjson.dumps({"n": len(records), "items": records})},
            "application/json",
            lambda b: orjson.loads(b)["items"],
        ),
    ],
)
def test_body_formats_on_the_wire(serve, options, content_type, decode):
    ingest = IngestAPI()
    server = serve(ingest.routes())
    records = [{"id": i, "at": dt.datetime(2026, 1, 1, tzinfo=UTC)} for i in range(5)]
    HTTPSink(server.url("/ingest"), batch_size=2, max_in_flight=1, **options).write(records)
    requests = server.requests_to("/ingest")
    assert [r.header("content-type") for r in requests] == [content_type] * 3
    sent = [record for request in requests for record in decode(request.body)]
    assert sent == [{"id": i, "at": "2026-01-01T00:00:00+00:00"} for i in range(5)]


def test_headers_auth_and_method_go_on_every_request(serve):
    ingest = IngestAPI()
    server = serve(ingest.routes())
    sink = HTTPSink(
        server.url("/ingest"),
        method="PUT",
        headers={"X-Source": "tests", "Content-Type": "application/vnd.rows+json"},
        auth={"type": "bearer", "token": "s3cret"},
    )
    sink.write([{"id": 1}])
    (request,) = server.requests_to("/ingest")
    assert request.method == "PUT"
    assert request.header("authorization") == "Bearer s3cret"
    assert request.header("x-source") == "tests"
    assert request.header("content-type") == "application/vnd.rows+json"
    assert "s3cret" not in repr(sink)


def test_every_input_kind_is_written(serve):
    ingest = IngestAPI()
    server = serve(ingest.routes())
    sink = HTTPSink(server.url("/ingest"), batch_size=3, idempotency_header=None)
    table = pa.table({"id": [1, 2, 3, 4]})
    inputs = [
        DataFrame(table),
        table,
        table.to_batches()[0],
        pa.RecordBatchReader.from_batches(table.schema, table.to_batches()),
        (batch for batch in table.to_batches(max_chunksize=1)),
        [{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}],
    ]
    for data in inputs:
        assert sink.write(data).records_delivered == 4
    assert sorted(r["id"] for r in ingest.records) == sorted([1, 2, 3, 4] * len(inputs))


def test_a_generator_is_read_lazily_with_bounded_look_ahead(serve):
    pulled = 0
    seen_at_first_request: list[int] = []
    ingest = IngestAPI()

    def handler(request):
        seen_at_first_request.append(pulled)
        return ingest.handle(request)

    server = serve({"/ingest": handler})

    def batches():
        nonlocal pulled
        for start in range(0, 50_000, 1000):
            pulled += 1
            yield pa.record_batch({"id": pa.array(range(start, start + 1000))})

    sink = HTTPSink(server.url("/ingest"), batch_size=100, max_in_flight=2)
    assert sink.write(batches()).records_delivered == 50_000
    # Before the first batch was acknowledged the sink had read at most one encoding step
    # (ENCODE_ROWS rows: nine input batches of 1000) of the 50 the generator holds.
    assert seen_at_first_request[0] <= ENCODE_ROWS // 1000 + 1 < 50
    assert len(ingest.records) == 50_000


def test_unordered_writes_overlap_up_to_max_in_flight(serve):
    server_side = FaultyIngest(rendezvous=3)  # 3 requests must be in flight together
    server = serve(server_side.routes())
    records = [{"id": i} for i in range(400)]
    result = HTTPSink(server.url("/ingest"), batch_size=10, max_in_flight=3).write(records)
    assert result.records_delivered == 400
    assert server_side.max_concurrent == 3


def test_ordered_mode_keeps_order_with_max_in_flight_above_one(serve):
    server_side = FaultyIngest(max_delay_seconds=0.003, seed=11)
    server = serve(server_side.routes())
    records = [{"id": i} for i in range(300)]
    sink = HTTPSink(server.url("/ingest"), batch_size=10, max_in_flight=4, ordered=True)
    assert sink.write(records).records_delivered == 300
    assert server_side.arrivals == list(range(0, 300, 10))  # each batch after the previous
    assert [r["id"] for r in server_side.ingest.records] == list(range(300))
    assert server_side.max_concurrent == 1


def test_unordered_mode_with_random_delays_still_delivers_each_record_once(serve):
    server_side = FaultyIngest(max_delay_seconds=0.003, seed=5)
    server = serve(server_side.routes())
    records = [{"id": i} for i in range(300)]
    HTTPSink(server.url("/ingest"), batch_size=10, max_in_flight=4).write(records)
    assert sorted(r["id"] for r in server_side.ingest.records) == list(range(300))


def test_each_batch_carries_a_deterministic_idempotency_key(serve):
    ingest = IngestAPI()
    server = serve(ingest.routes())
    sink = HTTPSink(server.url("/ingest"), batch_size=10)
    records = [{"id": i} for i in range(30)]
    sink.write(records)
    first = [r.header("idempotency-key") for r in server.requests_to("/ingest")]
    assert len(set(first)) == 3 and all(len(key) == 64 for key in first)

    again = sink.write(records)  # a re-run of the same batches: same keys, stored once
    assert again.records_delivered == 30
    second = [r.header("idempotency-key") for r in server.requests_to("/ingest")[3:]]
    assert sorted(second) == sorted(first)
    assert (len(ingest.records), ingest.duplicates) == (30, 3)


def test_custom_and_disabled_idempotency_keys(serve):
    ingest = IngestAPI()
    server = serve(ingest.routes())
    HTTPSink(
        server.url("/ingest"),
        batch_size=5,
        idempotency_header="X-Request-Id",
        idempotency_key=lambda index, body: f"job-42-{index}",
        max_in_flight=1,
    ).write([{"id": i} for i in range(10)])
    HTTPSink(server.url("/ingest"), idempotency_header=None).write([{"id": 99}])
    requests = server.requests_to("/ingest")
    assert [r.header("x-request-id") for r in requests[:2]] == ["job-42-0", "job-42-1"]
    assert requests[2].header("idempotency-key") is None


def test_a_bad_custom_key_fails_the_write_naming_the_option(serve):
    server = serve(IngestAPI().routes())
    sink = HTTPSink(server.url("/ingest"), idempotency_key=lambda index, body: "two\nlines")
    with pytest.raises(ConfigError, match="idempotency_key"):
        sink.write([{"id": 1}])
    assert server.requests_to("/ingest") == []


def test_stream_use_one_writer_many_writes(serve):
    ingest = IngestAPI()
    server = serve(ingest.routes())
    sink = HTTPSink(server.url("/ingest"), batch_size=4)

    async def micro_batches():
        for start in (0, 6):
            yield pa.record_batch({"id": pa.array(range(start, start + 6))})

    async def main():
        async with sink.open() as writer:
            first = await writer.write(pa.table({"id": range(100, 110)}))
            second = await writer.write(micro_batches())
            third = await writer.write([])
            return writer, first, second, third

    writer, first, second, third = anyio.run(main)
    assert (first.records_delivered, first.batches_sent) == (10, 3)
    assert (second.records_delivered, second.batches_sent) == (12, 3)  # 4 + 4 + 4 across items
    assert third == WriteResult(elapsed_seconds=third.elapsed_seconds)
    total = writer.result
    assert (total.records_delivered, total.batches_sent, total.requests) == (22, 6, 6)
    assert writer.committed_records == 22
    assert sorted(len(b) for b in ingest.batches) == [2, 4, 4, 4, 4, 4]


def test_awrite_and_the_writer_outside_its_context(serve):
    server = serve(IngestAPI().routes())
    sink = HTTPSink(server.url("/ingest"))
    assert anyio.run(sink.awrite, [{"id": 1}]).records_delivered == 1

    async def misuse():
        await sink.open().write([{"id": 1}])

    with pytest.raises(RuntimeError, match="async with"):
        anyio.run(misuse)


def test_a_status_outside_success_statuses_fails_the_batch(serve):
    server = serve({"/ingest": lambda request: Reply(202, body=b"queued")})
    sink = HTTPSink(server.url("/ingest"), success_statuses={200, 201}, retry=None)
    with pytest.raises(DeliveryFailed) as info:
        sink.write([{"id": 1}, {"id": 2}])
    assert info.value.not_delivered == 2 and "status 202" in str(info.value)
    assert HTTPSink(server.url("/ingest")).write([{"id": 1}]).ok  # 2xx by default


def test_a_redirect_is_not_followed_and_fails_the_batch(serve):
    ingest = IngestAPI()
    server = serve({"/old": lambda request: Reply(302, {"Location": "/ingest"}), **ingest.routes()})
    with pytest.raises(DeliveryFailed, match="redirect") as info:
        HTTPSink(server.url("/old")).write([{"id": 1}])
    assert info.value.not_delivered == 1
    assert ingest.records == [] and server.requests_to("/ingest") == []


def test_the_write_is_logged_without_secrets(serve, caplog):
    server = serve(IngestAPI().routes())
    sink = HTTPSink(server.url("/ingest?api_key=s3cret"))
    with caplog.at_level(logging.INFO, logger="hiveframe.sink"):
        sink.write([{"id": 1}])
    assert "1 of 1 records delivered" in caplog.text
    assert "s3cret" not in caplog.text and "s3cret" not in repr(sink)


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"url": "api.example.com/ingest"}, "url"),
        ({"method": "GET"}, "method"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": True}, "batch_size"),
        ({"max_batch_bytes": -1}, "max_batch_bytes"),
        ({"body_format": "xml"}, "body_format"),
        ({"envelope": ""}, "envelope"),
        ({"envelope": "records", "body_format": "ndjson"}, "envelope"),
        ({"encoder": b"not callable"}, "encoder"),
        ({"encoder": bytes, "envelope": "records"}, "encoder"),
        ({"headers": {"X-A": 1}}, "headers['X-A']"),
        ({"headers": {"idempotency-key": "fixed"}}, "headers['idempotency-key']"),
        ({"max_in_flight": 0}, "max_in_flight"),
        ({"ordered": "yes"}, "ordered"),
        ({"idempotency_header": "Bad Header"}, "idempotency_header"),
        ({"idempotency_key": "k"}, "idempotency_key"),
        ({"idempotency_header": None, "idempotency_key": lambda i, b: "k"}, "idempotency_key"),
        ({"dead_letter": "/no/such/folder/dead.jsonl"}, "dead_letter"),
        ({"dead_letter": "."}, "dead_letter"),
        ({"success_statuses": {404}}, "success_statuses"),
        ({"success_statuses": set()}, "success_statuses"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"retry": 3}, "retry"),
        ({"circuit_breaker": object()}, "circuit_breaker"),
        ({"auth": {"type": "bearer"}}, "auth"),
    ],
)
def test_bad_options_fail_at_construction_naming_the_option(options, option):
    options.setdefault("url", "https://api.example.com/ingest")
    url = options.pop("url")
    with pytest.raises(ConfigError) as info:
        HTTPSink(url, **options)
    assert info.value.option.startswith(option)


def test_repr_shows_the_shape_not_the_secrets(tmp_path):
    sink = HTTPSink(
        "https://user:pw@api.example.com/ingest?token=abc",
        ordered=True,
        dead_letter=tmp_path / "dead.jsonl",
        auth={"type": "basic", "username": "u", "password": "hunter2"},
    )
    text = repr(sink)
    assert text.startswith("HTTPSink(url=") and "ordered=True" in text and "dead.jsonl" in text
    for secret in ("pw", "abc", "hunter2"):
        assert f"{secret}@" not in text and f"={secret}" not in text and secret + "'" not in text


def test_a_sink_pickles_for_shipping_to_workers(serve):
    import pickle

    ingest = IngestAPI()
    server = serve(ingest.routes())
    sink = HTTPSink(server.url("/ingest"), auth={"type": "bearer", "token": "t"}, batch_size=2)
    copy = pickle.loads(pickle.dumps(sink))
    assert copy.write([{"id": 1}, {"id": 2}, {"id": 3}]).records_delivered == 3
    assert sink.options.key_function(0, b"[]") == copy.options.key_function(0, b"[]")
