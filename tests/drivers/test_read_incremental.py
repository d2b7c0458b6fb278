"""Incremental reads over real loopback HTTP: every record exactly once across runs.

The demo's ``/orders`` is sorted by ``updated_at`` and answers ``since=`` inclusively; its
first orders come in pairs sharing a timestamp, and ``demo.orders.add`` changes it between
runs (a new order, an update, one more at the boundary timestamp).
"""

from __future__ import annotations

import warnings
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest

from hiveframe.connectors import HTTPSource, Incremental
from hiveframe.demo import Reply, Request
from hiveframe.demo._orders import OrdersAPI
from hiveframe.errors import ConfigError, IncrementalWarning, ResponseDecodeError

START = "2026-01-01T00:00:00Z"


def orders_source(url: str, state: Path, **cursor) -> HTTPSource:
    options = {"param": "since", "initial_value": START, "primary_key": "id", **cursor}
    return HTTPSource(
        url,
        pagination="offset",
        page_size=3,
        incremental=Incremental("updated_at", state=state, **options),
    )


def ids(rows) -> list[int]:
    return [row["id"] for row in rows]


def since_sent(server) -> list[str | None]:
    return [r.query.get("since") for r in server.requests_to("/orders") if r.method == "GET"]


def test_two_runs_deliver_every_record_once_with_several_at_the_boundary(fresh_demo, tmp_path):
    state = tmp_path / "state" / "orders.json"
    source = orders_source(fresh_demo.url("/orders"), state)

    first = ids(source.read().to_pylist())
    assert first == list(range(1, 21))  # 20 orders, the last two at 00:09
    saved = orjson.loads(state.read_bytes())
    assert (saved["cursor"], saved["boundary_keys"]) == ("2026-01-01T00:09:00Z", [19, 20])

    # Two more orders at the boundary timestamp, one later, and an update of order 3.
    boundary = "2026-01-01T00:09:00Z"
    fresh_demo.orders.add([{"updated_at": boundary}, {"updated_at": boundary}, {}])
    fresh_demo.orders.add([{"id": 3, "status": "paid"}])
    before = len(since_sent(fresh_demo))
    second = source.read().to_pylist()

    assert ids(second) == [21, 22, 23, 3]
    assert second[-1]["status"] == "paid"
    assert set(since_sent(fresh_demo)[before:]) == {boundary}  # asked only from the boundary
    assert source.last_read is not None and source.last_read.dropped == 2  # orders 19, 20
    assert sorted(first + ids(second)) == sorted([*range(1, 24), 3])  # each change once

    third = source.read()
    assert third.count() == 0  # nothing new: nothing repeated either


def test_a_run_with_nothing_new_leaves_the_state_file_as_it_was(fresh_demo, tmp_path):
    state = tmp_path / "orders.json"
    source = orders_source(fresh_demo.url("/orders"), state)
    source.read()
    saved = state.read_bytes()
    assert source.read().count() == 0
    assert state.read_bytes() == saved
    assert [p.name for p in tmp_path.iterdir()] == ["orders.json"]  # no temporary file left


def test_iter_batches_commits_only_after_the_loop_consumed_the_last_batch(fresh_demo, tmp_path):
    state = tmp_path / "orders.json"
    source = orders_source(fresh_demo.url("/orders"), state)

    batches = source.iter_batches()
    seen = [row["id"] for batch in batches for row in batch.to_pylist()]
    assert seen == list(range(1, 21))
    assert orjson.loads(state.read_bytes())["boundary_keys"] == [19, 20]


def test_an_exception_in_the_consumer_loop_redelivers_instead_of_losing(fresh_demo, tmp_path):
    state = tmp_path / "orders.json"
    source = orders_source(fresh_demo.url("/orders"), state)
    source.read()
    committed = state.read_bytes()
    fresh_demo.orders.add([{}, {}, {}, {}])

    class Crash(Exception):
        pass

    got: list[int] = []
    with pytest.raises(Crash):
        for batch in source.iter_batches():
            got += ids(batch.to_pylist())
            raise Crash  # the consumer dies after the first batch, before storing it
    assert got == [21]  # the first page: orders 19 and 20 (delivered before), then 21
    assert state.read_bytes() == committed  # not moved on

    for _batch in source.iter_batches():  # a break after the first batch: no commit either
        break
    assert state.read_bytes() == committed

    again = [i for batch in source.iter_batches() for i in ids(batch.to_pylist())]
    assert again == [21, 22, 23, 24]  # everything since the last commit, once
    assert source.read().count() == 0


def test_read_then_commit_moves_on_only_when_the_block_succeeds(fresh_demo, tmp_path):
    state = tmp_path / "orders.json"
    source = orders_source(fresh_demo.url("/orders"), state)

    with pytest.raises(ZeroDivisionError), source.read_then_commit() as df:
        assert df.count() == 20
        _ = 1 / 0  # the sink failed
    assert not state.exists()

    with source.read_then_commit() as df:
        assert df.count() == 20  # the records are stored somewhere here
    assert orjson.loads(state.read_bytes())["boundary_keys"] == [19, 20]


def test_write_http_inside_read_then_commit(fresh_demo, tmp_path):
    from hiveframe.connectors import HTTPSink

    source = orders_source(fresh_demo.url("/orders"), tmp_path / "orders.json")
    sink = HTTPSink(fresh_demo.url("/ingest"), batch_size=7)
    with source.read_then_commit() as df:
        result = df.write.http(sink)
    assert result.records_delivered == 20
    assert sorted(ids(fresh_demo.ingest.records)) == list(range(1, 21))
    assert source.read().count() == 0


def test_an_api_that_ignores_the_parameter_is_detected_and_filtered(fresh_demo, tmp_path):
    # "updated_since" is not a parameter /orders knows: every run gets every order back.
    state = tmp_path / "orders.json"
    source = orders_source(fresh_demo.url("/orders"), state, param="updated_since")
    assert source.read().count() == 20
    fresh_demo.orders.add([{}])

    with pytest.warns(IncrementalWarning, match="ignore 'updated_since'"):
        rows = source.read().to_pylist()
    assert ids(rows) == [21]
    assert source.last_read is not None and source.last_read.older == 18


def search_api(serve, orders: OrdersAPI, keep) -> tuple[str, list[object]]:
    """A query-by-POST API: the orders ``keep(order, filter)`` keeps, for the JSON body's
    ``filter`` object; its URL, and the bodies it received."""
    bodies: list[object] = []

    def search(request: Request) -> Reply:
        query = orjson.loads(request.body)
        bodies.append(query)
        rows = [order for order in orders.orders if keep(order, query["filter"])]
        return Reply(200, {"Content-Type": "application/json"}, orjson.dumps(rows))

    return serve({"/search": search}).url("/search"), bodies


def test_the_cursor_goes_in_a_json_body_field(serve, tmp_path):
    orders = OrdersAPI(initial=6)
    url, bodies = search_api(
        serve, orders, lambda order, where: order["updated_at"] >= where.get("since", START)
    )
    cursor = Incremental(
        "updated_at", body_field="filter.since", state=tmp_path / "s.json", primary_key="id"
    )
    source = HTTPSource(url, method="POST", body={"filter": {"kind": "all"}}, incremental=cursor)
    assert ids(source.read().to_pylist()) == [1, 2, 3, 4, 5, 6]
    orders.add([{}])
    assert ids(source.read().to_pylist()) == [7]
    assert bodies == [
        {"filter": {"kind": "all"}},
        {"filter": {"kind": "all", "since": "2026-01-01T00:02:00Z"}},
    ]


def test_end_value_backfills_without_moving_the_cursor_past_it(fresh_demo, tmp_path):
    state = tmp_path / "orders.json"
    source = orders_source(fresh_demo.url("/orders"), state, end_value="2026-01-01T00:03:00Z")
    assert ids(source.read().to_pylist()) == [1, 2, 3, 4, 5, 6]
    assert orjson.loads(state.read_bytes())["cursor"] == "2026-01-01T00:02:00Z"


def test_a_number_cursor_filtered_here_when_the_api_has_no_parameter(fresh_demo, tmp_path):
    cursor = Incremental("id", initial_value=15, state=tmp_path / "ids.json", primary_key="id")
    assert cursor.cursor_type == "number"
    source = HTTPSource(fresh_demo.url("/orders"), incremental=cursor)
    assert ids(source.read().to_pylist()) == [15, 16, 17, 18, 19, 20]
    fresh_demo.orders.add([{}, {}])
    assert ids(source.read().to_pylist()) == [21, 22]
    assert "since" not in fresh_demo.requests_to("/orders")[-1].query


def test_without_a_primary_key_boundary_records_are_told_apart_by_content(fresh_demo, tmp_path):
    cursor = Incremental("updated_at", param="since", state=tmp_path / "s.json")
    source = HTTPSource(fresh_demo.url("/orders"), incremental=cursor)
    assert source.read().count() == 20
    saved = orjson.loads((tmp_path / "s.json").read_bytes())
    assert len(saved["boundary_keys"]) == 2 and saved["primary_key"] == []
    assert all(key.startswith("sha256:") for key in saved["boundary_keys"])
    fresh_demo.orders.add([{"updated_at": "2026-01-01T00:09:00Z"}])
    assert ids(source.read().to_pylist()) == [21]


def test_a_record_without_a_cursor_value_names_the_field(serve, tmp_path):
    body = orjson.dumps([{"id": 1, "updated_at": START}, {"id": 2}])
    server = serve({"/x": lambda r: Reply(200, {"Content-Type": "application/json"}, body)})
    cursor = Incremental("updated_at", state=tmp_path / "s.json")
    with pytest.raises(ResponseDecodeError, match="record 1 has no value for the cursor field"):
        HTTPSource(server.url("/x"), incremental=cursor).read()
    assert not (tmp_path / "s.json").exists()


def test_a_state_file_of_another_source_is_refused(fresh_demo, tmp_path):
    state = tmp_path / "orders.json"
    orders_source(fresh_demo.url("/orders"), state).read()
    other = orders_source(fresh_demo.url("/orders?region=eu"), state)
    with pytest.raises(ConfigError, match="was saved with source=") as caught:
        other.read()
    assert caught.value.option == "incremental.state"
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ConfigError, match="not a state file"):
        orders_source(fresh_demo.url("/orders"), tmp_path / "broken.json").read()


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"cursor_field": "updated_at"}, "incremental.state"),
        ({"cursor_field": "", "state": "s.json"}, "incremental.cursor_field"),
        (
            {"cursor_field": "t", "param": "a", "body_field": "b", "state": "s"},
            "incremental.body_field",
        ),
        ({"cursor_field": "t", "cursor_type": "date", "state": "s"}, "incremental.cursor_type"),
        (
            {"cursor_field": "t", "cursor_type": "timestamp", "initial_value": "x", "state": "s"},
            "incremental.initial_value",
        ),
        (
            {"cursor_field": "t", "initial_value": 5, "end_value": 2, "state": "s"},
            "incremental.end_value",
        ),
        ({"cursor_field": "t", "primary_key": [], "state": "s"}, "incremental.primary_key"),
    ],
)
def test_bad_options_are_refused_naming_the_option(options, option):
    with pytest.raises(ConfigError) as caught:
        Incremental(**options)
    assert caught.value.option == option


def test_options_that_do_not_fit_the_source_are_refused(tmp_path):
    cursor = Incremental("id", state=tmp_path / "s.json")
    with pytest.raises(ConfigError) as caught:
        HTTPSource("https://api.test/x", poll_interval_seconds=5, incremental=cursor)
    assert caught.value.option == "incremental"
    with pytest.raises(ConfigError) as caught:
        HTTPSource("https://api.test/x", incremental="id")
    assert caught.value.option == "incremental"
    in_body = Incremental("id", body_field="since", state=tmp_path / "s.json")
    with pytest.raises(ConfigError) as caught:
        HTTPSource("https://api.test/x", method="POST", body=[1], incremental=in_body)
    assert caught.value.option == "incremental.body_field"


# -- the end of a backfill, sent to the API --------------------------------------------------

END = "2026-01-01T00:03:00Z"


def until_sent(server, path: str = "/orders") -> list[str | None]:
    return [r.query.get("until") for r in server.requests_to(path) if r.method == "GET"]


def test_end_param_sends_end_value_to_the_api(fresh_demo, tmp_path):
    state = tmp_path / "orders.json"
    source = orders_source(fresh_demo.url("/orders"), state, end_value=END, end_param="until")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the API honours until=: nothing to warn about
        assert ids(source.read().to_pylist()) == [1, 2, 3, 4, 5, 6]
    assert set(until_sent(fresh_demo)) == {END}  # with every page
    assert set(since_sent(fresh_demo)) == {START}
    assert orjson.loads(state.read_bytes())["cursor"] == "2026-01-01T00:02:00Z"
    fresh_demo.orders.add([{}])  # after end_value: not part of this backfill
    assert source.read().count() == 0
    assert until_sent(fresh_demo)[-1] == END
    assert since_sent(fresh_demo)[-1] == "2026-01-01T00:02:00Z"


def test_end_body_field_sends_end_value_in_the_json_body(serve, tmp_path):
    orders = OrdersAPI(initial=8)
    url, bodies = search_api(
        serve, orders, lambda order, where: where["from"] <= order["updated_at"] < where["to"]
    )
    cursor = Incremental(
        "updated_at",
        body_field="filter.from",
        end_body_field="filter.to",
        initial_value=datetime(2026, 1, 1, tzinfo=timezone.utc),
        end_value=datetime(2026, 1, 1, 0, 2, tzinfo=timezone.utc),
        state=tmp_path / "s.json",
        primary_key="id",
    )
    body = {"filter": {"kind": "all"}}
    source = HTTPSource(url, method="POST", body=body, incremental=cursor)
    assert ids(source.read().to_pylist()) == [1, 2, 3, 4]
    window = {"kind": "all", "from": START, "to": "2026-01-01T00:02:00Z"}
    assert bodies == [{"filter": window}]
    assert body == {"filter": {"kind": "all"}}  # the source's own body is left as it was


def test_an_api_that_ignores_end_param_is_detected_and_filtered(fresh_demo, tmp_path):
    # "before" is not a parameter /orders knows: it answers past the end of the range.
    state = tmp_path / "orders.json"
    source = orders_source(fresh_demo.url("/orders"), state, end_value=END, end_param="before")
    with pytest.warns(IncrementalWarning, match="after before=2026-01-01T00:03:00Z") as caught:
        assert ids(source.read().to_pylist()) == [1, 2, 3, 4, 5, 6]
    assert len(caught) == 1  # once per read, not once per page
    assert "ignore 'before'" in str(caught[0].message)
    assert orjson.loads(state.read_bytes())["cursor"] == "2026-01-01T00:02:00Z"


def test_records_at_end_value_are_dropped_without_a_warning(serve, tmp_path):
    # An API that reads its end parameter inclusively (<=) sends the records at end_value.
    orders = OrdersAPI(initial=8)

    def inclusive(request: Request) -> Reply:
        until = request.query["until"]
        rows = [o for o in orders.orders if o["updated_at"] <= until]
        return Reply(200, {"Content-Type": "application/json"}, orjson.dumps(rows))

    server = serve({"/orders": inclusive})
    cursor = Incremental("updated_at", end_value=END, end_param="until", state=tmp_path / "s.json")
    assert cursor.sends_end and not cursor.sends_cursor
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = HTTPSource(server.url("/orders"), incremental=cursor).read().to_pylist()
    assert ids(rows) == [1, 2, 3, 4, 5, 6]


# -- a cursor inside nested records ----------------------------------------------------------


def test_a_nested_cursor_field_reads_every_record_once_across_runs(fresh_demo, tmp_path):
    state = tmp_path / "nested.json"
    source = HTTPSource(
        fresh_demo.url("/orders/nested"),
        pagination="offset",
        page_size=3,
        incremental=Incremental(
            "meta.updated_at", param="since", initial_value=START, state=state, primary_key="id"
        ),
    )
    first = source.read().to_pylist()
    assert ids(first) == list(range(1, 21))
    assert first[0]["meta"] == {"updated_at": START}
    saved = orjson.loads(state.read_bytes())
    assert saved["cursor_field"] == "meta.updated_at"
    assert saved["cursor"] == "2026-01-01T00:09:00Z" and sorted(saved["boundary_keys"]) == [19, 20]
    # one more at the boundary timestamp, one later, and an update of an old one
    fresh_demo.orders.add([{"updated_at": "2026-01-01T00:09:00Z"}, {}, {"id": 3}])
    assert ids(source.read().to_pylist()) == [21, 22, 3]
    assert since_sent(fresh_demo) == []  # all of it went to /orders/nested
    sent = [r.query["since"] for r in fresh_demo.requests_to("/orders/nested")]
    assert sent[-1] == "2026-01-01T00:09:00Z"


@pytest.mark.parametrize(
    "second",
    [{"id": 2}, {"id": 2, "meta": None}, {"id": 2, "meta": {}}, {"id": 2, "meta": {"at": 1}}],
    ids=["no-meta", "meta-null", "meta-empty", "other-field"],
)
def test_a_record_without_the_nested_cursor_names_it(serve, tmp_path, second):
    body = orjson.dumps([{"id": 1, "meta": {"updated_at": START}}, second])
    server = serve({"/x": lambda r: Reply(200, {"Content-Type": "application/json"}, body)})
    cursor = Incremental("meta.updated_at", state=tmp_path / "s.json")
    message = "record 1 has no value for the cursor field 'meta.updated_at'"
    with pytest.raises(ResponseDecodeError, match=message) as caught:
        HTTPSource(server.url("/x"), incremental=cursor).read()
    assert caught.value.kind == "cursor"
    assert not (tmp_path / "s.json").exists()


def test_a_field_whose_own_name_is_dotted_is_taken_first(serve, tmp_path):
    body = orjson.dumps(
        [
            {"id": 1, "meta.updated_at": 5, "meta": {"updated_at": 1}},
            {"id": 2, "meta.updated_at": 6},
        ]
    )
    server = serve({"/x": lambda r: Reply(200, {"Content-Type": "application/json"}, body)})
    cursor = Incremental("meta.updated_at", state=tmp_path / "s.json", primary_key="id")
    assert HTTPSource(server.url("/x"), incremental=cursor).read().count() == 2
    assert orjson.loads((tmp_path / "s.json").read_bytes())["cursor"] == 6


@pytest.mark.parametrize(
    ("options", "option", "value"),
    [
        ({"end_param": "until"}, "incremental.end_param", "until"),
        ({"end_body_field": "filter.to"}, "incremental.end_body_field", "filter.to"),
        (
            {"end_value": 5, "end_param": "until", "end_body_field": "to"},
            "incremental.end_body_field",
            "to",
        ),
        ({"end_value": 5, "param": "at", "end_param": "at"}, "incremental.end_param", "at"),
        ({"end_value": 5, "end_param": "a b"}, "incremental.end_param", "a b"),
        ({"end_value": 5, "end_body_field": "filter..to"}, "incremental.end_body_field", None),
        ({"cursor_field": "meta..updated_at"}, "incremental.cursor_field", "meta..updated_at"),
        ({"cursor_field": "meta."}, "incremental.cursor_field", "meta."),
    ],
)
def test_bad_end_and_nested_options_are_refused_naming_the_option(options, option, value):
    with pytest.raises(ConfigError) as caught:
        Incremental(**{"cursor_field": "t", "state": "s.json", **options})
    assert caught.value.option == option
    if value is not None:
        assert caught.value.value == value
    assert option.removeprefix("incremental.") in str(caught.value)


def test_end_body_field_needs_a_json_object_body(tmp_path):
    cursor = Incremental("id", end_value=9, end_body_field="to", state=tmp_path / "s.json")
    with pytest.raises(ConfigError) as caught:
        HTTPSource("https://api.test/x", method="POST", body=[1], incremental=cursor)
    assert caught.value.option == "incremental.end_body_field"
