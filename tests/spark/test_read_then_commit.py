"""Incremental reads on Spark (local[2,2], real loopback servers): every record once.

``read_then_commit`` reads once (a local checkpoint), the tasks report how far they got, and
the state file moves only when the block ends without an error. The demo's ``/orders`` is
sorted by ``updated_at``, answers ``since=`` inclusively, and its first orders come in pairs
sharing a timestamp.
"""

from __future__ import annotations

import threading
from pathlib import Path

import orjson
import pytest
from pyspark.sql.functions import spark_partition_id

from hiveframe.connectors import HTTPSource, Incremental, Parent
from hiveframe.demo import Reply, Request
from hiveframe.demo._orders import OrdersAPI
from hiveframe.demo._parents import ParentsAPI
from hiveframe.errors import ConfigError
from hiveframe.spark import read_source, read_then_commit

START = "2026-01-01T00:00:00Z"
BOUNDARY = "2026-01-01T00:09:00Z"  # orders 19 and 20, the last two of the first twenty
ORDERS = "id BIGINT, status STRING, amount DOUBLE, updated_at STRING"


def orders_source(url: str, state: Path, **options) -> HTTPSource:
    cursor = Incremental(
        "updated_at", param="since", initial_value=START, primary_key="id", state=state
    )
    # 12 pages of 3 at most, so the read is planned over four partitions.
    return HTTPSource(
        url, pagination="offset", page_size=3, max_pages=12, incremental=cursor, **options
    )


def saved(state: Path) -> tuple[str, list[int]]:
    document = orjson.loads(state.read_bytes())
    return document["cursor"], document["boundary_keys"]


def since_sent(api_requests) -> set[str | None]:
    return {r.query.get("since") for r in api_requests if r.method == "GET"}


def test_two_runs_deliver_every_record_once_across_partitions(spark, serve, tmp_path):
    api = OrdersAPI(initial=20)
    server = serve(api.routes())
    state = tmp_path / "state" / "orders.json"
    source = orders_source(server.url("/orders"), state)

    with read_then_commit(source, spark) as df:
        assert df.rdd.getNumPartitions() == 4
        parts = df.select("id", spark_partition_id().alias("part")).collect()
        assert len({r.part for r in parts}) >= 2  # the records came from several tasks
        first = sorted(r.id for r in parts)
        assert not state.exists()  # nothing saved before the block ends
    assert first == list(range(1, 21))
    assert saved(state) == (BOUNDARY, [19, 20])
    assert not list(state.parent.glob(".orders.json.spark-*"))  # the run folder is gone

    # Two more orders at the boundary timestamp, one later, and an update of order 3.
    api.add([{"updated_at": BOUNDARY}, {"updated_at": BOUNDARY}, {}])
    api.add([{"id": 3, "status": "paid"}])
    before = len(server.requests)
    with read_then_commit(source, spark) as df:
        second = {r.id: r.status for r in df.collect()}
    assert second == {21: "created", 22: "created", 23: "created", 3: "paid"}
    assert since_sent(server.requests[before:]) == {BOUNDARY}  # asked from the boundary
    cursor, keys = saved(state)
    assert cursor == "2026-01-01T00:11:00Z" and keys == [3]

    with read_then_commit(source, spark) as df:
        assert df.count() == 0  # nothing new
    assert saved(state) == (cursor, keys)


def test_the_state_stays_when_the_block_fails(spark, serve, tmp_path):
    api = OrdersAPI(initial=8)
    server = serve(api.routes())
    state = tmp_path / "orders.json"
    source = orders_source(server.url("/orders"), state)
    with pytest.raises(RuntimeError, match="the sink broke"), read_then_commit(source, spark) as df:
        assert df.count() == 8
        raise RuntimeError("the sink broke")
    assert not state.exists()
    with read_then_commit(source, spark) as df:
        assert sorted(r.id for r in df.collect()) == list(range(1, 9))  # delivered again
    assert saved(state) == ("2026-01-01T00:03:00Z", [7, 8])


class FailsOnce:
    """``/orders``, where the first request for ``offset`` fails a task (400, not retried)."""

    def __init__(self, api: OrdersAPI, offset: int) -> None:
        self.api = api
        self.offset = str(offset)
        self.failed = threading.Event()

    def __call__(self, request: Request) -> Reply:
        if request.query.get("offset") == self.offset and not self.failed.is_set():
            self.failed.set()
            return Reply(400, {"Content-Type": "application/json"}, b'{"error": "once"}')
        return self.api.handle(request)


def test_a_retried_task_neither_doubles_rows_nor_moves_the_cursor_twice(spark, serve, tmp_path):
    api = OrdersAPI(initial=20)
    failing = FailsOnce(api, offset=12)  # page 4: the second partition's second page
    server = serve({"/orders": failing})
    state = tmp_path / "orders.json"
    source = orders_source(server.url("/orders"), state)
    with read_then_commit(source, spark, schema=ORDERS) as df:
        ids = [r.id for r in df.collect()]
        assert sorted(r.id for r in df.collect()) == sorted(ids)  # the checkpoint: same rows
    assert failing.failed.is_set()  # the task failed once, and Spark ran it again
    assert sorted(ids) == list(range(1, 21))
    assert saved(state) == (BOUNDARY, [19, 20])


def test_an_incremental_source_needs_read_then_commit(tmp_path):
    source = orders_source("https://api.test/orders", tmp_path / "orders.json")
    with pytest.raises(ConfigError) as caught:
        read_source(source, spark=None)
    assert caught.value.option == "incremental"
    assert "read_then_commit" in str(caught.value)
    plain = HTTPSource("https://api.test/orders")
    with pytest.raises(ConfigError) as caught, read_then_commit(plain, spark=None):
        pass
    assert "read_source" in str(caught.value)
    assert not list(tmp_path.iterdir())


class ChildOrders:
    """Each parent's orders (``/parents/{id}/orders``), ``since=`` inclusive; ``add`` gives a
    parent one more order, one minute after its latest."""

    def __init__(self, per_parent: int) -> None:
        self.orders = {p: [self._order(p, k) for k in range(per_parent)] for p in range(1, 11)}

    @staticmethod
    def _order(parent: int, k: int) -> dict[str, object]:
        return {"id": parent * 100 + k, "updated_at": f"2026-01-01T00:0{k}:00Z"}

    def add(self, parent: int) -> None:
        self.orders[parent].append(self._order(parent, len(self.orders[parent])))

    def __call__(self, request: Request) -> Reply:
        parent = int(request.path.split("/")[2])
        since = request.query.get("since", "")
        rows = [o for o in self.orders[parent] if o["updated_at"] >= since]
        return Reply(200, {"Content-Type": "application/json"}, orjson.dumps(rows))


def test_a_child_source_keeps_one_cursor_per_parent(spark, serve, tmp_path):
    children = ChildOrders(per_parent=3)
    server = serve({**ParentsAPI(10).routes(), "/parents/{id}/orders": children})
    state = tmp_path / "orders.json"
    parents = HTTPSource(server.url("/parents"), data_path="parents")
    cursor = Incremental("updated_at", param="since", primary_key="id", state=state)
    source = HTTPSource(
        server.url("/parents/{parent.id}/orders"),
        parent=Parent(parents, fields={"id": "parent_id"}),
        incremental=cursor,
    )
    with read_then_commit(source, spark) as df:
        first = sorted((r.parent_id, r.id) for r in df.collect())
    assert first == [(p, p * 100 + k) for p in range(1, 11) for k in range(3)]
    document = orjson.loads(state.read_bytes())
    assert len(document["partitions"]) == 10  # one cursor per parent, from every task
    children.add(2)
    children.add(9)
    with read_then_commit(source, spark) as df:
        second = sorted((r.parent_id, r.id) for r in df.collect())
    assert second == [(2, 203), (9, 903)]


def test_a_relative_state_path_is_the_callers_not_the_python_workers(
    spark, serve, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # Spark's Python workers run in folders of their own
    server = serve(OrdersAPI(initial=6).routes())
    source = orders_source(server.url("/orders"), Path("state") / "orders.json")
    with read_then_commit(source, spark) as df:
        assert df.count() == 6
    assert saved(tmp_path / "state" / "orders.json") == ("2026-01-01T00:02:00Z", [5, 6])
    with read_then_commit(source, spark) as df:
        assert df.count() == 0  # read from the saved cursor: nothing new
