"""Parent/child reads on Spark (local[2,2], real loopback servers).

The driver reads the parents; the children are read by the tasks, a contiguous group of
parents each, with the one-process fan-out (parent columns, on_child_error).
"""

from __future__ import annotations

import json
import threading

import orjson
import pytest
from pyspark.errors import PySparkException
from pyspark.sql.functions import spark_partition_id

from hiveframe.connectors import HTTPSource, Parent
from hiveframe.demo import Reply, Request
from hiveframe.demo._parents import ParentsAPI, children_of
from hiveframe.errors import ConfigError
from hiveframe.spark import read_source
from hiveframe.spark._source import OptionsRef

JSON = {"Content-Type": "application/json"}
CHILD_SCHEMA = "id BIGINT, name STRING, position BIGINT, _parent_id BIGINT"
ALL_CHILDREN = {(c["id"], p) for p in range(1, 51) for c in children_of(p)}


class MeetingChildren:
    """The demo's children, where parent 1's first request waits (no timing involved) until
    a request for ``other`` has arrived: both come in only if two tasks read at once."""

    def __init__(self, api: ParentsAPI, other: int) -> None:
        self.api = api
        self.other = other
        self.paths: list[str] = []
        self._arrived = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        parent = int(request.path.split("/")[2])
        with self._lock:
            self.paths.append(request.path)
        if parent == self.other:
            self._arrived.set()
        if parent == 1 and request.query.get("page") == "1":
            assert self._arrived.wait(timeout=60), "no other task read a child"
        return self.api.children(request)


class FailingChild:
    """The demo's children, but parent ``failing``'s answer 404 (not retried)."""

    def __init__(self, api: ParentsAPI, failing: int) -> None:
        self.api = api
        self.failing = failing

    def __call__(self, request: Request) -> Reply:
        if request.path == f"/parents/{self.failing}/children":
            return Reply(404, dict(JSON), b'{"error": "gone"}')
        return self.api.children(request)


def _parent_reads(server) -> int:
    """How many times the parents were read (their first page requested)."""
    return sum(r.query.get("offset") == "0" for r in server.requests_to("/parents"))


def children_of_parents(spark, server, **options):
    """The format reading each parent's children (pages of 3) from ``server``."""
    return (
        spark.read.format("hiveframe.http")
        .options(url=server.url("/parents/{parent.id}/children"), pagination="page")
        .options(pagination_size_param="page_size", page_size="3")
        .options(parent_url=server.url("/parents"), parent_pagination="offset")
        .options(parent_page_size="20", parent_data_path="parents", **options)
    )


def test_fifty_parents_with_paginated_children_spread_over_tasks(spark, serve):
    api = ParentsAPI(50)
    children = MeetingChildren(api, other=20)  # parents 13-25: the second group of four
    server = serve({"/parents": api.parents, "/parents/{id}/children": children})
    df = children_of_parents(spark, server).schema(CHILD_SCHEMA).load()
    rows = df.select("id", "_parent_id", spark_partition_id().alias("part")).collect()
    assert len(rows) == len(ALL_CHILDREN) == 177  # every child once
    assert {(r.id, r._parent_id) for r in rows} == ALL_CHILDREN
    # Four contiguous groups of parents (two per task at once), in parent order.
    groups = [sorted({r._parent_id for r in rows if r.part == p}) for p in range(4)]
    assert [g[0] for g in groups if g] == sorted(g[0] for g in groups if g)
    assert df.rdd.getNumPartitions() == 4
    # Each child page was asked for once: 50 children, a second page for those with 4+.
    paths = children.paths
    assert sorted(set(paths)) == sorted(f"/parents/{p}/children" for p in range(1, 51))
    assert len(paths) == sum(len(children_of(p)) // 3 + 1 for p in range(1, 51))
    assert _parent_reads(server) == 1  # the parents, read once on the driver


def test_an_inferred_schema_has_the_parent_columns_and_the_parents_are_read_once(spark, serve):
    server = serve(ParentsAPI(50).routes())
    df = children_of_parents(spark, server, parent_fields=json.dumps({"id": "parent"})).load()
    assert df.columns == ["id", "name", "position", "parent"]
    assert {(r.id, r.parent) for r in df.collect()} == ALL_CHILDREN
    assert df.count() == 177  # a second action: the parents load() read, the children again
    assert _parent_reads(server) == 1


def test_a_failing_child_fails_the_job_naming_its_parent_value(spark, serve):
    api = ParentsAPI(50)
    server = serve({"/parents": api.parents, "/parents/{id}/children": FailingChild(api, 37)})
    df = children_of_parents(spark, server).schema(CHILD_SCHEMA).load()
    with pytest.raises(PySparkException) as caught:
        df.collect()
    assert "ChildReadError: child of parent id=37 failed" in str(caught.value)
    assert "404" in str(caught.value)


def test_skipped_and_dead_lettered_children_are_left_out(spark, serve, tmp_path):
    api = ParentsAPI(50)
    server = serve({"/parents": api.parents, "/parents/{id}/children": FailingChild(api, 37)})
    skipped = children_of_parents(spark, server, parent_on_child_error="skip")
    rows = skipped.schema(CHILD_SCHEMA).load().collect()
    assert {(r.id, r._parent_id) for r in rows} == {c for c in ALL_CHILDREN if c[1] != 37}

    letters = tmp_path / "children.jsonl"
    dead = children_of_parents(
        spark, server, parent_on_child_error="dead_letter", parent_dead_letter=str(letters)
    )
    assert dead.schema(CHILD_SCHEMA).load().count() == 177 - len(children_of(37))
    lines = [orjson.loads(line) for line in letters.read_bytes().splitlines()]
    assert [(line["parent"], line["error_type"]) for line in lines] == [
        ({"id": 37}, "HTTPStatusError")
    ]


def test_read_source_reads_a_child_source_object(spark, serve):
    server = serve(ParentsAPI(12).routes())
    parents = HTTPSource(server.url("/parents"), data_path="parents")
    source = HTTPSource(
        server.url("/parents/{parent.id}/children"),
        pagination="page",
        page_size=3,
        parent=Parent(parents, fields={"id": "parent_id", "name": "parent_name"}),
    )
    df = read_source(source, spark, num_partitions=3)
    assert df.rdd.getNumPartitions() == 3
    rows = df.collect()
    expected = {(c["id"], p, f"parent-{p}") for p in range(1, 13) for c in children_of(p)}
    assert {(r.id, r.parent_id, r.parent_name) for r in rows} == expected


CHILD_URL = "https://api.test/parents/{parent.id}/children"
PARENT_URL = "https://api.test/parents"


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"parent_page_size": "20"}, "parent_url"),
        ({"parent_url": "ftp://api.test/parents"}, "parent_url"),
        ({"parent_url": PARENT_URL, "parent_page_size": "x"}, "parent_page_size"),
        ({"parent_url": PARENT_URL, "parent_fields": "{"}, "parent_fields"),
        ({"parent_url": PARENT_URL, "parent_fields": '{"id": 3}'}, "parent_fields"),
        ({"parent_url": PARENT_URL, "parent_on_child_error": "ignore"}, "parent_on_child_error"),
        ({"parent_url": PARENT_URL, "parent_on_child_error": "dead_letter"}, "parent_dead_letter"),
        ({"parent_url": PARENT_URL, "parent_pagination_oops": "1"}, "parent_pagination_oops"),
        ({"parent_url": PARENT_URL, "parent_num_partitions": "2"}, "parent_num_partitions"),
        ({"parent_url": PARENT_URL, "parent_auth_token": "t"}, "parent_auth_type"),
    ],
)
def test_bad_parent_options_are_named(options, option):
    with pytest.raises(ConfigError) as caught:
        OptionsRef({"url": CHILD_URL, **options}).resolve()
    assert caught.value.option == option


def test_a_placeholder_without_parent_options_is_refused():
    with pytest.raises(ConfigError) as caught:
        OptionsRef({"url": CHILD_URL}).resolve()
    assert caught.value.option == "url"


def test_the_parent_takes_the_child_credentials_unless_it_has_its_own(monkeypatch):
    monkeypatch.setenv("HF_CHILD_TOKEN", "child-secret")
    monkeypatch.setenv("HF_PARENT_TOKEN", "parent-secret")
    bearer = {"auth_type": "bearer", "auth_token_env": "HF_CHILD_TOKEN"}
    shared = OptionsRef({"url": CHILD_URL, "parent_url": PARENT_URL, **bearer}).resolve()
    assert shared.fanout is not None and shared.fanout.parent.auth is not None
    own = {"parent_auth_type": "bearer", "parent_auth_token_env": "HF_PARENT_TOKEN"}
    ref = OptionsRef({"url": CHILD_URL, "parent_url": PARENT_URL, **bearer, **own})
    assert "secret" not in repr(ref)
    parent_auth = ref.resolve().fanout.parent.auth
    assert parent_auth is not None and "secret" not in repr(parent_auth)
    # The variable a parent's *_env option names must be one Spark redacts, as the child's.
    monkeypatch.setenv("HF_PARENT_CRED", "x")
    with pytest.raises(ConfigError) as caught:
        OptionsRef({**own, "parent_auth_token_env": "HF_PARENT_CRED"})
    assert caught.value.option == "parent_auth_token_env"


def test_a_child_source_is_split_by_parents_only(spark, serve):
    server = serve(ParentsAPI(3).routes())
    reader = children_of_parents(spark, server, pages_per_partition="2").schema(CHILD_SCHEMA)
    with pytest.raises(Exception, match="pages_per_partition="):
        reader.load().collect()
    assert not [r for r in server.requests if r.path.endswith("/children")]
