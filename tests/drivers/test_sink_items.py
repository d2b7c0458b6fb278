"""Item-level outcomes and response rules in a sink, over real loopback HTTP: a 207 that
refuses some records of a batch, a 200 whose body says error.

Waits run on the fake clock (``clock`` fixture).
"""

from __future__ import annotations

import json
import threading

import orjson
import pytest

from hiveframe.connectors import HTTPSink, ItemResults, ResponsePolicy, ResponseRule
from hiveframe.demo import Reply, Request
from hiveframe.errors import DeliveryFailed

JSON = {"Content-Type": "application/json"}


class BulkAPI:
    """Stores the records it accepts; refuses those flagged ``bad`` (for ever) or ``busy``
    (the first time it sees them), answering 207 with the refused positions or statuses."""

    def __init__(self, *, statuses: bool = False) -> None:
        self.statuses = statuses
        self.stored: list[int] = []
        self.requests: list[tuple[str | None, list[int]]] = []  # (key, ids)
        self.seen: set[int] = set()
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        records = orjson.loads(request.body)
        results = []
        with self._lock:
            self.requests.append((request.header("idempotency-key"), [r["id"] for r in records]))
            for record in records:
                if record.get("bad"):
                    results.append((400, f"record {record['id']}: email is not valid"))
                elif record.get("busy") and record["id"] not in self.seen:
                    results.append((429, "try again later"))
                else:
                    self.stored.append(record["id"])
                    results.append((201, None))
                self.seen.add(record["id"])
        if self.statuses:
            body = {"results": [{"status": s, "error": e} for s, e in results]}
        else:
            errors = [{"index": i, "message": e} for i, (s, e) in enumerate(results) if e]
            body = {"errors": errors}
        return Reply(207 if any(e for _, e in results) else 200, dict(JSON), orjson.dumps(body))


def records(count: int, *, bad=(), busy=()) -> list[dict]:
    return [{"id": i, "bad": i in bad, "busy": i in busy} for i in range(count)]


def resending_sink(server, clock, *, batch_size: int) -> HTTPSink:
    """A sink sending the records the server refused again, on the fake clock."""
    return HTTPSink(
        server.url("/bulk"),
        batch_size=batch_size,
        clock=clock,
        item_results=ItemResults(failed="errors[*].index", retry=True),
    )


def test_a_207_dead_letters_exactly_the_refused_records_each_with_its_error(serve, tmp_path):
    api = BulkAPI()
    server = serve({"/bulk": api})
    dead = tmp_path / "dead.jsonl"
    sink = HTTPSink(
        server.url("/bulk"),
        batch_size=10,
        dead_letter=dead,
        item_results=ItemResults(failed="errors[*].index", message="errors[*].message"),
    )

    result = sink.write(records(25, bad={3, 17, 18}))

    assert sorted(api.stored) == sorted(set(range(25)) - {3, 17, 18})
    assert len(api.requests) == 3  # nothing was sent again: refusals are final by default
    assert (result.records_sent, result.records_delivered) == (25, 22)
    assert result.records_failed == result.records_dead_lettered == 3
    assert (result.batches_delivered, result.batches_failed) == (1, 2)
    # The batches are answered concurrently, so their dead letters come in answer order.
    lines = sorted(
        (json.loads(line) for line in dead.read_text().splitlines()),
        key=lambda line: line["first_record"],
    )
    assert [line["records"][0]["id"] for line in lines] == [3, 17, 18]
    assert [line["record_count"] for line in lines] == [1, 1, 1]
    assert [line["first_record"] for line in lines] == [3, 17, 18]
    assert [line["error"] for line in lines] == [
        f"record {n}: email is not valid" for n in (3, 17, 18)
    ]


def test_refused_records_go_again_as_a_batch_of_their_own_with_a_key_of_its_own(serve, clock):
    api = BulkAPI()
    sink = resending_sink(serve({"/bulk": api}), clock, batch_size=10)

    result = sink.write(records(10, busy={2, 5}))

    assert result.ok and result.records_delivered == 10 and result.batches_delivered == 1
    assert sorted(api.stored) == list(range(10))
    (first_key, first_ids), (again_key, again_ids) = api.requests
    assert first_ids == list(range(10)) and again_ids == [2, 5]
    assert again_key != first_key
    assert clock.sleeps == [0.5]  # the retry policy's first backoff
    # deterministic: the same batch refused the same way gets the same keys in another run
    first_run = list(api.requests)
    api.requests.clear()
    api.seen.clear()
    sink.write(records(10, busy={2, 5}))
    assert api.requests == first_run


def test_per_record_statuses_decide_which_go_again_and_which_are_reported(serve, clock):
    api = BulkAPI(statuses=True)
    server = serve({"/bulk": api})
    sink = HTTPSink(
        server.url("/bulk"),
        batch_size=10,
        clock=clock,
        item_results=ItemResults(
            status="results[*].status", message="results[*].error", retry={429}
        ),
    )

    with pytest.raises(DeliveryFailed) as info:
        sink.write(records(6, bad={1}, busy={4}))

    assert [ids for _, ids in api.requests] == [[0, 1, 2, 3, 4, 5], [4]]
    assert sorted(api.stored) == [0, 2, 3, 4, 5]
    assert info.value.not_delivered == 1
    assert "record 1: email is not valid" in str(info.value)


def test_records_refused_every_time_are_reported_once_the_retries_run_out(serve, clock):
    api = BulkAPI()
    sink = resending_sink(serve({"/bulk": api}), clock, batch_size=5)
    with pytest.raises(DeliveryFailed) as info:
        sink.write(records(5, bad={0}))
    assert [ids for _, ids in api.requests] == [[0, 1, 2, 3, 4], [0], [0], [0], [0]]  # 5 attempts
    assert info.value.not_delivered == 1


def test_an_unreadable_item_report_fails_the_batch(serve, tmp_path):
    server = serve({"/bulk": lambda request: Reply(207, dict(JSON), b'{"errors": "some"}')})
    dead = tmp_path / "dead.jsonl"
    sink = HTTPSink(
        server.url("/bulk"), dead_letter=dead, item_results=ItemResults(failed="errors[*].index")
    )
    result = sink.write(records(3))
    assert result.records_failed == result.records_dead_lettered == 3
    assert "item report is unreadable" in json.loads(dead.read_text())["error"]


def test_a_200_whose_body_says_error_is_not_delivered(serve, tmp_path):
    def says_error(request: Request) -> Reply:
        return Reply(200, dict(JSON), b'{"status": "error", "reason": "quota"}')

    server = serve({"/bulk": says_error})
    dead = tmp_path / "dead.jsonl"
    rule = ResponseRule("fail", status=200, body_path="status", equals="error", name="body-error")
    result = HTTPSink(server.url("/bulk"), dead_letter=dead, response_policy=[rule]).write(
        records(4)
    )

    assert result.records_delivered == 0 and result.records_dead_lettered == 4
    line = json.loads(dead.read_text())
    assert line["status"] == 200 and "'body-error'" in line["error"]
    assert "quota" in line["response_excerpt"]
    assert len(server.requests) == 1  # fail: not retried


def test_an_ignore_rule_counts_the_batch_as_delivered(serve):
    def duplicate(request: Request) -> Reply:
        return Reply(409, dict(JSON), b'{"error": "already stored"}')

    server = serve({"/bulk": duplicate})
    policy = ResponsePolicy(ResponseRule("ignore", status=409))
    result = HTTPSink(server.url("/bulk"), response_policy=policy).write(records(4))
    assert result.ok and result.records_delivered == 4
