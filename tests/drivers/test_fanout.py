"""Parent/child reads over real loopback HTTP: one child read per parent value.

The demo serves 50 parents (offset pagination) and, for each, 0 to 7 children (pages of 5);
other servers here fail one child, count the children in flight, or serve parent values that
try to change the path.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import unquote

import orjson
import pytest

from hiveframe.connectors import HTTPSource, Incremental, Parent
from hiveframe.demo import Reply, Request
from hiveframe.demo._parents import ParentsAPI, children_of
from hiveframe.errors import ChildReadError, ConfigError, HTTPStatusError

JSON = {"Content-Type": "application/json"}


def parents_of(server, **options) -> HTTPSource:
    return HTTPSource(
        server.url("/parents"), pagination="offset", page_size=20, data_path="parents", **options
    )


def children(server, parent, **options) -> HTTPSource:
    options = {"page_size": 3, **options}
    return HTTPSource(
        server.url("/parents/{parent.id}/children"), pagination="page", parent=parent, **options
    )


def expected(parent_ids) -> set[tuple[int, int]]:
    return {(child["id"], p) for p in parent_ids for child in children_of(p)}


def test_fifty_parents_with_paginated_children_give_exactly_their_rows(fresh_demo):
    source = children(fresh_demo, parents_of(fresh_demo), concurrency=4)
    rows = source.read().to_pylist()

    assert len(rows) == sum(len(children_of(p)) for p in range(1, 51)) == 177
    assert {(row["id"], row["_parent_id"]) for row in rows} == expected(range(1, 51))
    assert [row["_parent_id"] for row in rows] == sorted(row["_parent_id"] for row in rows)
    child_requests = [r for r in fresh_demo.requests if r.path.endswith("/children")]
    paths = {r.path for r in child_requests}
    assert paths == {f"/parents/{p}/children" for p in range(1, 51)}
    assert max(int(r.query["page"]) for r in child_requests) == 3  # 7 children, pages of 3
    assert source.last_read is not None and source.last_read.children == 50


def test_parent_fields_become_the_columns_they_are_named(fresh_demo):
    parent = Parent(parents_of(fresh_demo), fields={"id": "parent_id", "name": "parent_name"})
    df = children(fresh_demo, parent).read()
    assert df.columns == ["id", "name", "position", "parent_id", "parent_name"]
    first = df.head(1).to_pylist()[0]
    assert (first["parent_id"], first["parent_name"]) == (1, "parent-1")


def test_iter_batches_fans_out_too(fresh_demo):
    source = children(fresh_demo, parents_of(fresh_demo))
    batches = list(source.iter_batches())
    assert sum(batch.num_rows for batch in batches) == 177


def test_placeholders_in_params_are_filled_too(serve):
    seen: list[str] = []

    def orders(request: Request) -> Reply:
        seen.append(request.query["customer"])
        return Reply(200, dict(JSON), orjson.dumps([{"order": 1}]))

    api = ParentsAPI(size=3)
    server = serve({**api.routes(), "/orders": orders})
    source = HTTPSource(
        server.url("/orders"), params={"customer": "c-{parent.id}"}, parent=parents_of(server)
    )
    assert source.read().to_pylist() == [
        {"order": 1, "_parent_id": 1},
        {"order": 1, "_parent_id": 2},
        {"order": 1, "_parent_id": 3},
    ]
    assert sorted(seen) == ["c-1", "c-2", "c-3"]  # read at once, returned in order


def test_children_are_read_concurrency_at_a_time(serve):
    # The first children to arrive wait for a fifth one (half a second at most): four come
    # together, proving they are read at once, and a fifth never joins them.
    api = ParentsAPI(size=24)
    lock = threading.Condition()
    in_flight, most, arrived = 0, 0, 0

    def child(request: Request) -> Reply:
        nonlocal in_flight, most, arrived
        with lock:
            in_flight, arrived = in_flight + 1, arrived + 1
            most = max(most, in_flight)
            lock.notify_all()
            lock.wait_for(lambda: arrived > 4, timeout=0.5)
            in_flight -= 1
        return api.children(request)

    server = serve({"/parents": api.parents, "/parents/{id}/children": child})
    source = children(server, parents_of(server), concurrency=4, page_size=10)
    assert source.read().count() == sum(len(children_of(p)) for p in range(1, 25))
    assert most == 4


# -- a failing child ----------------------------------------------------------------------------


@pytest.fixture
def failing(serve):
    """The demo's parents and children, but the children of parent 7 answer 500."""
    api = ParentsAPI(size=10)

    def child(request: Request) -> Reply:
        if request.path == "/parents/7/children":
            return Reply(500, dict(JSON), b'{"error": "boom"}')
        return api.children(request)

    return serve({"/parents": api.parents, "/parents/{id}/children": child})


def test_a_failing_child_raises_naming_its_parent(failing):
    source = children(failing, parents_of(failing), retry=None)
    with pytest.raises(ChildReadError) as caught:
        source.read()
    assert caught.value.parent == {"id": 7}
    assert "child of parent id=7 failed" in str(caught.value)
    assert caught.value.url == failing.url("/parents/7/children")
    assert isinstance(caught.value.__cause__, HTTPStatusError)


def test_a_skipped_child_is_logged_and_counted(failing, caplog):
    parent = Parent(parents_of(failing), on_child_error="skip")
    source = children(failing, parent, retry=None)
    with caplog.at_level(logging.WARNING, logger="hiveframe.read"):
        rows = source.read().to_pylist()
    assert {(r["id"], r["_parent_id"]) for r in rows} == expected([1, 2, 3, 4, 5, 6, 8, 9, 10])
    assert source.last_read is not None
    [failure] = source.last_read.failed_children
    assert failure.parent == {"id": 7} and "500" in failure.error
    assert "skipped the child of parent id=7" in caplog.text


def test_a_dead_lettered_child_is_written_as_a_json_line(failing, tmp_path):
    letters = tmp_path / "children.jsonl"
    parent = Parent(parents_of(failing), on_child_error="dead_letter", dead_letter=letters)
    rows = children(failing, parent, retry=None).read().to_pylist()
    assert len(rows) == sum(len(children_of(p)) for p in range(1, 11) if p != 7)
    [line] = letters.read_bytes().splitlines()
    letter = orjson.loads(line)
    assert letter["parent"] == {"id": 7}
    assert letter["url"] == failing.url("/parents/7/children")
    assert letter["error_type"] == "HTTPStatusError" and "500" in letter["error"]


def test_failed_children_are_listed_and_dead_lettered_in_parent_order(serve, tmp_path):
    # Children 1-4 fail late (each waits until the ones after it have failed), 5-8 fail at
    # once: the list and the file still follow the parents, whatever finished first.
    api = ParentsAPI(size=8)
    lock = threading.Condition()
    answered: set[int] = set()

    def child(request: Request) -> Reply:
        parent = int(request.path.split("/")[2])
        with lock:
            lock.wait_for(lambda: parent > 4 or set(range(parent + 4, 9)) <= answered, 2.0)
            answered.add(parent)
            lock.notify_all()
        return Reply(500, dict(JSON), b'{"error": "boom"}')

    server = serve({"/parents": api.parents, "/parents/{id}/children": child})
    letters = tmp_path / "children.jsonl"
    parent = Parent(parents_of(server), on_child_error="dead_letter", dead_letter=letters)
    source = children(server, parent, retry=None, concurrency=8)
    assert source.read().count() == 0
    assert source.last_read is not None
    assert [f.parent["id"] for f in source.last_read.failed_children] == list(range(1, 9))
    lines = letters.read_bytes().splitlines()
    assert [orjson.loads(line)["parent"]["id"] for line in lines] == list(range(1, 9))


# -- parent values that try to change the path --------------------------------------------------

TRICKY = ["a/b", "../admin", "..", ".", "x?y#z", "", "ok"]


def test_parent_values_are_one_path_segment_each(serve, caplog):
    got: list[str] = []

    def parents(request: Request) -> Reply:
        return Reply(200, dict(JSON), orjson.dumps([{"id": value} for value in TRICKY]))

    def child(request: Request) -> Reply:
        got.append(request.path)
        return Reply(200, dict(JSON), orjson.dumps([{"seen": unquote(request.path.split("/")[2])}]))

    server = serve({"/parents": parents, "/parents/{id}/children": child})
    parent = Parent(HTTPSource(server.url("/parents")), on_child_error="skip")
    source = HTTPSource(server.url("/parents/{parent.id}/children"), parent=parent)
    with caplog.at_level(logging.WARNING, logger="hiveframe.read"):
        rows = source.read().to_pylist()

    assert sorted(got) == [  # requested at once, so in any order
        "/parents/..%2Fadmin/children",
        "/parents/a%2Fb/children",
        "/parents/ok/children",
        "/parents/x%3Fy%23z/children",
    ]
    assert (
        [r["seen"] for r in rows]
        == [r["_parent_id"] for r in rows]
        == ["a/b", "../admin", "x?y#z", "ok"]
    )
    assert {r.path for r in server.requests} == {"/parents", *got}  # nothing anywhere else
    assert source.last_read is not None
    refused = [f.parent["id"] for f in source.last_read.failed_children]
    assert refused == ["..", ".", ""]
    assert "would make the path segment '..'" in source.last_read.failed_children[0].error


def test_a_dot_dot_parent_value_raises_by_default(serve):
    body = orjson.dumps([{"id": ".."}])
    server = serve({"/parents": lambda r: Reply(200, dict(JSON), body)})
    source = HTTPSource(
        server.url("/parents/{parent.id}/children"), parent=HTTPSource(server.url("/parents"))
    )
    with pytest.raises(ChildReadError) as caught:
        source.read()
    assert caught.value.parent == {"id": ".."}
    assert [r.path for r in server.requests] == ["/parents"]


# -- incremental parents and children -----------------------------------------------------------


def test_an_incremental_child_keeps_one_cursor_per_parent(fresh_demo, tmp_path):
    # Children filtered by their own id: a second run delivers nothing again.
    cursor = Incremental("id", state=tmp_path / "children.json", primary_key="id")
    source = children(fresh_demo, parents_of(fresh_demo), incremental=cursor)
    assert source.read().count() == 177
    saved = orjson.loads((tmp_path / "children.json").read_bytes())
    assert len(saved["partitions"]) == 44  # parents 8, 16... 48 have no children
    by_parent = {entry["parent"]["id"]: entry for entry in saved["partitions"]}
    assert by_parent[1] == {"parent": {"id": 1}, "cursor": 103, "boundary_keys": [103]}
    assert source.read().count() == 0


def test_an_incremental_parent_moves_on_only_when_every_child_was_read(failing, tmp_path):
    state = tmp_path / "parents.json"
    parents = parents_of(failing, incremental=Incremental("id", state=state, primary_key="id"))
    source = children(failing, Parent(parents, on_child_error="skip"), retry=None)
    source.read()
    assert not state.exists()  # parent 7's children failed: its parents are read again
    assert parents.read().count() == 10
    assert orjson.loads(state.read_bytes())["cursor"] == 10
    assert source.read().count() == 0  # no new parent, so no child read


# -- options ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "options", "option"),
    [
        ("https://api.test/p/{parent.id}/c", {}, "url"),
        ("https://api.test/c", {"params": {"p": "{parent.id}"}}, "params"),
        ("https://api.test/c", {"parent": "P"}, "url"),
        ("https://{parent.host}/c", {"parent": "P"}, "url"),
        ("https://api.test/c?p={parent.id}", {"parent": "P"}, "url"),
        ("https://api.test/p/{parent.id}", {"parent": "not a source"}, "parent"),
        (
            "https://api.test/p/{parent.id}",
            {"parent": Parent("P", on_child_error="x")},
            "parent.on_child_error",
        ),
        (
            "https://api.test/p/{parent.id}",
            {"parent": Parent("P", on_child_error="dead_letter")},
            "parent.dead_letter",
        ),
        (
            "https://api.test/p/{parent.id}",
            {"parent": Parent("P", dead_letter="d.jsonl")},
            "parent.dead_letter",
        ),
        (
            "https://api.test/p/{parent.id}",
            {"parent": Parent("P", fields={"id": "a", "n": "a"})},
            "parent.fields",
        ),
        ("https://api.test/p/{parent.id}", {"parent": "P", "poll_interval_seconds": 5}, "parent"),
    ],
)
def test_parent_options_are_checked_when_the_source_is_built(url, options, option):
    parent = HTTPSource("https://api.test/parents")
    given = {
        name: (
            Parent(parent, **{k: v for k, v in vars(value).items() if k != "source"})
            if isinstance(value, Parent)
            else parent
            if value == "P"
            else value
        )
        for name, value in options.items()
    }
    with pytest.raises(ConfigError) as caught:
        HTTPSource(url, **given)
    assert caught.value.option == option
