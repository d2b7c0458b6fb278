"""Sink batching without a server: cutting, bodies, keys, 413 halves, input, the books."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from decimal import Decimal

import orjson
import pyarrow as pa
import pytest

from hiveframe import DataFrame
from hiveframe._protocol.batching import (
    Batcher,
    BodyFormat,
    DeliveryLedger,
    RequestBatch,
    RowReader,
    default_idempotency_key,
    input_items,
)

KIB = 1024


def rows(n: int, *, pad: int = 0, start: int = 0) -> list[bytes]:
    return [orjson.dumps({"id": i, "pad": "x" * pad}) for i in range(start, start + n)]


def batcher(**options) -> Batcher:
    options.setdefault("batch_size", 100)
    options.setdefault("max_batch_bytes", 1024 * KIB)
    options.setdefault("body_format", BodyFormat())
    return Batcher(**options)


def cut(b: Batcher, items: list[bytes], *, chunk: int | None = None) -> list[RequestBatch]:
    chunk = chunk or len(items) or 1
    out = []
    for start in range(0, len(items), chunk):
        out += b.add(items[start : start + chunk])
    return out + b.flush()


def test_10001_records_make_11_batches_under_both_limits():
    # docs/reliability.md test 14, without the linger part (a write flushes at its end).
    records = rows(10_001, pad=150)
    b = batcher(batch_size=1000, max_batch_bytes=256 * KIB)
    batches = cut(b, records, chunk=777)  # chunks that do not line up with batches
    assert [batch.count for batch in batches] == [1000] * 10 + [1]
    assert max(len(batch.body) for batch in batches) <= 256 * KIB
    assert [row for batch in batches for row in batch.rows] == records  # order kept
    assert [batch.index for batch in batches] == list(range(11))
    assert [batch.first_record for batch in batches] == list(range(0, 10_001, 1000))


def test_the_byte_limit_packs_batches_tightly():
    records = rows(1000, pad=900)
    limit = 64 * KIB
    batches = cut(batcher(batch_size=1000, max_batch_bytes=limit), records)
    assert len(batches) > 10
    fmt = BodyFormat()
    for batch, following in itertools.pairwise(batches):
        assert len(batch.body) <= limit
        bigger = batch.rows + following.rows[:1]
        assert fmt.size(len(bigger), sum(map(len, bigger))) > limit  # the next row did not fit
    assert sum(batch.count for batch in batches) == 1000


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        (BodyFormat(), b'[{"id":0},{"id":1}]'),
        (BodyFormat("ndjson"), b'{"id":0}\n{"id":1}\n'),
        (BodyFormat(envelope="records"), b'{"records":[{"id":0},{"id":1}]}'),
        (BodyFormat(envelope='we"ird'), b'{"we\\"ird":[{"id":0},{"id":1}]}'),
    ],
)
def test_body_formats_and_their_exact_sizes(fmt, expected):
    two = [b'{"id":0}', b'{"id":1}']
    body = fmt.encode(two)
    assert body == expected
    assert fmt.size(2, sum(map(len, two))) == len(body)
    if fmt.kind == "ndjson":
        parsed = [orjson.loads(line) for line in body.splitlines()]
    else:
        parsed = orjson.loads(body)
        parsed = parsed if fmt.envelope is None else parsed[fmt.envelope]
    assert parsed == [{"id": 0}, {"id": 1}]


def test_an_encoder_gets_the_records_and_builds_the_body():
    seen = []

    def encoder(records):
        seen.append(records)
        return b"|".join(str(r["id"]).encode() for r in records)

    batches = cut(batcher(batch_size=3, body_format=BodyFormat(encoder=encoder)), rows(4))
    assert [batch.body for batch in batches] == [b"0|1|2", b"3"]
    assert seen[0] == [{"id": 0, "pad": ""}, {"id": 1, "pad": ""}, {"id": 2, "pad": ""}]


def test_an_encoder_body_over_the_limit_is_halved_until_it_fits():
    def wordy(records):
        return b"x" * (100 * len(records))

    b = batcher(batch_size=8, max_batch_bytes=250, body_format=BodyFormat(encoder=wordy))
    batches = cut(b, rows(8))
    assert [batch.count for batch in batches] == [2, 2, 2, 2]
    assert [batch.index for batch in batches] == [0, 1, 2, 3]
    assert [batch.first_record for batch in batches] == [0, 2, 4, 6]


def test_an_encoder_must_return_bytes():
    fmt = BodyFormat(encoder=lambda records: "text")
    with pytest.raises(TypeError, match="encoder= must return bytes"):
        fmt.encode([b"{}"])


def cut_row_by_row(items: list[bytes], batch_size: int, limit: int, fmt: BodyFormat):
    """The rule, one row at a time: close the batch before a row that would not fit."""
    batches: list[list[bytes]] = [[]]
    for row in items:
        open_batch = batches[-1]
        bigger = [*open_batch, row]
        if open_batch and fmt.size(len(bigger), sum(map(len, bigger))) > limit:
            batches.append(open_batch := [])
        open_batch.append(row)
        if len(open_batch) >= batch_size:
            batches.append([])
    return [tuple(batch) for batch in batches if batch]


@pytest.mark.parametrize("seed", range(6))
def test_batches_are_cut_by_the_row_by_row_rule_whatever_the_chunks(seed):
    rng = random.Random(seed)
    fmt = rng.choice([BodyFormat(), BodyFormat("ndjson"), BodyFormat(envelope="records")])
    items = [orjson.dumps({"id": i, "pad": "x" * rng.randint(0, 300)}) for i in range(500)]
    batch_size, limit = rng.randint(1, 60), rng.choice([64, 300, 1500, 4 * KIB, 1024 * KIB])
    expected = cut_row_by_row(items, batch_size, limit, fmt)
    b = batcher(batch_size=batch_size, max_batch_bytes=limit, body_format=fmt)
    batches = cut(b, items, chunk=rng.randint(1, 200))
    assert [batch.rows for batch in batches] == expected


def test_a_row_larger_than_the_limit_goes_alone():
    small, huge = rows(1)[0], orjson.dumps({"id": 1, "pad": "x" * 500})
    batches = cut(batcher(max_batch_bytes=100), [small, huge, small])
    assert [batch.rows for batch in batches] == [(small,), (huge,), (small,)]


def test_a_413_split_keeps_index_and_positions_and_changes_keys():
    b = batcher(batch_size=5, key=lambda index, body: default_idempotency_key("POST", "u", body))
    batch = cut(b, rows(15))[2]
    first, second = b.split(batch)
    assert (first.index, second.index) == (2, 2)
    assert (first.first_record, second.first_record) == (10, 12)
    assert first.rows + second.rows == batch.rows
    assert len({batch.key, first.key, second.key}) == 3
    one = b.split(first)[0]
    with pytest.raises(ValueError, match="one record"):
        b.split(one)


def test_default_keys_are_deterministic_and_differ_with_method_url_and_body():
    key = default_idempotency_key("POST", "https://a.example/i", b"[1]")
    assert key == default_idempotency_key("post", "https://a.example/i", b"[1]")
    assert len(key) == 64 and int(key, 16) >= 0
    others = {
        default_idempotency_key("PUT", "https://a.example/i", b"[1]"),
        default_idempotency_key("POST", "https://a.example/j", b"[1]"),
        default_idempotency_key("POST", "https://a.example/i", b"[2]"),
        default_idempotency_key("POS", "Thttps://a.example/i", b"[1]"),  # no ambiguous joins
    }
    assert key not in others and len(others) == 4


def test_a_custom_key_function_gets_index_and_body():
    calls = []

    def key(index, body):
        calls.append((index, body))
        return f"run-1-{index}"

    batches = cut(batcher(batch_size=2, key=key), rows(3))
    assert [batch.key for batch in batches] == ["run-1-0", "run-1-1"]
    assert calls[1] == (1, b'[{"id":2,"pad":""}]')


def test_keys_are_none_when_off():
    assert [batch.key for batch in cut(batcher(), rows(3))] == [None]


# -- input --------------------------------------------------------------------------------------


def test_row_reader_slices_a_big_batch_and_encodes_faithfully():
    zone = dt.timezone(dt.timedelta(hours=2))
    batch = pa.record_batch(
        {
            "id": pa.array(range(5), pa.int64()),
            "at": pa.array(
                [dt.datetime(2026, 1, 1, 12, 30, tzinfo=dt.timezone.utc)] * 5,
                pa.timestamp("us", tz="+02:00"),
            ),
            "day": pa.array([dt.date(2026, 2, 3)] * 5),
            "price": pa.array([Decimal("12345678901234.57")] * 5, pa.decimal128(18, 2)),
            "tags": pa.array([["a", None], [], None, ["b"], ["c"]]),
            "dims": pa.array([{"w": 1, "h": None}] * 5),
            "note": pa.array([None] * 5, pa.string()),
        }
    )
    reader = RowReader(iter([batch]), limit=2)
    chunks = [reader.next_rows(), reader.next_rows(), reader.next_rows(), reader.next_rows()]
    assert [len(c) for c in chunks[:3]] == [2, 2, 1] and chunks[3] is None
    first = orjson.loads(chunks[0][0])
    assert first == {
        "id": 0,
        "at": dt.datetime(2026, 1, 1, 14, 30, tzinfo=zone).isoformat(timespec="microseconds"),
        "day": "2026-02-03",
        "price": "12345678901234.57",
        "tags": ["a", None],
        "dims": {"w": 1, "h": None},
        "note": None,
    }


def test_row_reader_takes_tables_batches_and_records_mixed():
    items = [
        pa.table({"id": [1, 2]}),
        {"id": 3, "when": dt.date(2026, 1, 1)},
        pa.record_batch({"id": [4]}),
    ]
    reader = RowReader(iter(items))
    assert reader.next_rows() == [
        b'{"id":1}',
        b'{"id":2}',
        b'{"id":3,"when":"2026-01-01"}',
        b'{"id":4}',
    ]
    assert reader.next_rows() is None


def test_row_reader_encodes_python_values_of_records_faithfully():
    record = {
        "at": dt.datetime(2026, 1, 1, 1, 2, 3, tzinfo=dt.timezone.utc),
        "price": Decimal("0.10"),
        "nested": {"list": [1, None]},
        "big": 2**70,
    }
    (row,) = RowReader(iter([record])).next_rows()
    assert orjson.loads(row.replace(b"1180591620717411303424", b'"big"')) == {
        "at": "2026-01-01T01:02:03+00:00",
        "price": "0.10",
        "nested": {"list": [1, None]},
        "big": "big",
    }


def test_row_reader_names_the_bad_item():
    reader = RowReader(iter([{"id": 1}, 42]))
    with pytest.raises(TypeError, match="item 2 of the input is a int"):
        reader.next_rows()


@pytest.mark.parametrize("bad", [{"id": 1}, "records", b"[]", None, 3.5])
def test_input_items_refuses_what_is_not_a_collection_of_records(bad):
    with pytest.raises(TypeError, match="a sink cannot write"):
        input_items(bad)


def test_input_items_takes_arrow_and_iterables():
    table = pa.table({"id": [1, 2]})
    assert next(input_items(table)).num_rows == 2
    assert next(input_items(table.to_batches()[0])).num_rows == 2
    assert next(input_items(pa.RecordBatchReader.from_batches(table.schema, table.to_batches())))
    assert next(input_items(DataFrame(table))).num_rows == 2  # via __arrow_c_stream__
    assert next(input_items(iter([{"id": 1}]))) == {"id": 1}


# -- the books ----------------------------------------------------------------------------------


def batch(index: int, first: int, count: int) -> RequestBatch:
    return RequestBatch(index, first, (b"{}",) * count, b"", None)


def test_ledger_counts_and_the_watermark_across_out_of_order_acks():
    ledger = DeliveryLedger()
    for i in range(4):
        ledger.sent(batch(i, i * 10, 10))
    ledger.settle_records(10, delivered=True)
    ledger.settle_batch(1, delivered=True, kept=False)
    assert ledger.committed_records == 0  # batch 0 is still out
    ledger.settle_records(10, delivered=True)
    ledger.settle_batch(0, delivered=True, kept=False)
    assert ledger.committed_records == 20
    ledger.settle_records(4, delivered=True)  # batch 2: 413, one half delivered
    ledger.settle_records(6, delivered=False, kept=True)  # the other dead-lettered
    ledger.settle_batch(2, delivered=False, kept=True)
    assert ledger.committed_records == 30  # kept is safe
    ledger.settle_records(10, delivered=False)
    ledger.settle_batch(3, delivered=False, kept=False)
    assert ledger.committed_records == 30  # lost is not
    assert ledger.records_delivered + ledger.records_failed == ledger.records_sent == 40
    assert ledger.batches_delivered + ledger.batches_failed == ledger.batches_sent == 4
    assert (ledger.failed_batches, ledger.lost_batches, ledger.records_kept) == ([2, 3], [3], 6)


def test_the_watermark_never_passes_a_lost_batch():
    ledger = DeliveryLedger()
    for i in range(3):
        ledger.sent(batch(i, i, 1))
    ledger.settle_batch(1, delivered=False, kept=False)
    ledger.settle_batch(2, delivered=True, kept=False)
    ledger.settle_batch(0, delivered=True, kept=False)
    assert ledger.committed_records == 1
