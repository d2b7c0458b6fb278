"""Credentials reach the API from the executors, and nowhere else (docs/reliability.md test 36).

Secrets are canaries: they must not appear in ``df.explain()``, in pickled partitions, in
the pickled reader when passed by reference (``auth_*_env``), or in error messages; and a
variable passed by reference must have a name Spark redacts in its UI and event log.
"""

from __future__ import annotations

import base64
import threading
from typing import Any

import orjson
import pytest
from pyspark.errors import AnalysisException, PythonException
from pyspark.serializers import CloudPickleSerializer
from pyspark.sql.datasource import CaseInsensitiveDict
from spark_canaries import CLIENT_SECRET_CANARY, CLIENT_SECRET_ENV, TOKEN_CANARY, TOKEN_ENV
from spark_servers import OffsetPages

from hiveframe.demo import Reply, Request
from hiveframe.demo._parents import ParentsAPI, children_of
from hiveframe.errors import ConfigError
from hiveframe.spark import HTTPDataSource
from hiveframe.spark._options import SPARK_REDACTION, check_env_names

CANARIES = (TOKEN_CANARY, CLIENT_SECRET_CANARY)
PAGED = {"pagination": "offset", "pagination_total_path": "total", "data_path": "items"}


def _no_canary(blob: bytes | str) -> None:
    data = blob.encode() if isinstance(blob, str) else blob
    for canary in CANARIES:
        assert canary.encode() not in data


def _explained(df: Any, capsys: pytest.CaptureFixture[str]) -> str:
    df.explain(True)
    df.explain("formatted")
    text = capsys.readouterr().out + df._jdf.queryExecution().toString()
    assert "BatchScan" in text  # the plans were printed: there is something to search
    return text


def test_an_inline_token_reaches_the_api_but_not_the_plan(spark, serve, capsys):
    pages = OffsetPages(300, token=TOKEN_CANARY)
    server = serve({"/items": pages})
    df = (
        spark.read.format("hiveframe.http")
        .options(url=server.url("/items"), page_size="100", **PAGED)
        .options(auth_type="bearer", auth_token=TOKEN_CANARY)
        .load()
    )
    assert df.count() == 300
    _no_canary(_explained(df, capsys))


def test_secrets_by_reference_stay_out_of_the_pickled_reader_and_partitions(
    spark, serve, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, TOKEN_CANARY)  # planning runs here, in the test process
    pages = OffsetPages(300, token=TOKEN_CANARY)
    server = serve({"/items": pages})
    options = {"url": server.url("/items"), "page_size": "50", **PAGED}
    source = HTTPDataSource(
        CaseInsensitiveDict({**options, "auth_type": "bearer", "auth_token_env": TOKEN_ENV})
    )
    schema = source.schema()  # fetches page 0 with the token from the environment
    reader = source.reader(schema)
    partitions = reader.partitions()
    assert [(p.start, p.stop) for p in partitions] == [(0, 2), (2, 3), (3, 4), (4, 6)]
    assert partitions[0].first is not None  # page 0 travels with its partition, redacted

    pickle = CloudPickleSerializer().dumps
    _no_canary(pickle(source))
    _no_canary(pickle(reader))
    for partition in partitions:
        _no_canary(pickle(partition))
    _no_canary(repr(reader.source))
    rows = [row for batch in reader.read(partitions[1]) for row in batch.to_pylist()]
    assert [r["id"] for r in rows] == list(range(101, 151))


def test_oauth2_client_credentials_on_the_executors(spark, serve, capsys):
    tokens = TokenEndpoint()
    pages = OffsetPages(1000, token="issued-token-1")
    server = serve({"/items": pages, "/token": tokens})
    df = (
        spark.read.format("hiveframe.http")
        .options(url=server.url("/items"), page_size="50", num_partitions="10", **PAGED)
        .options(
            auth_type="oauth2",
            auth_token_url=server.url("/token"),
            auth_client_id="spark-job",
            auth_client_secret_env=CLIENT_SECRET_ENV,
            auth_allow_insecure_token_url="true",
        )
        .load()
    )
    assert sorted(r.id for r in df.select("id").collect()) == list(range(1, 1001))
    # One token per Python worker process, not one per task (10 tasks, 2 at a time).
    assert 1 <= tokens.count < 10
    _no_canary(_explained(df, capsys))


def test_a_refused_credential_fails_the_job_without_showing_it(spark, serve):
    server = serve({"/items": OffsetPages(100, token="the-right-one")})
    df = (
        spark.read.format("hiveframe.http")
        .schema("id BIGINT")
        .options(url=server.url("/items"), max_pages="2", **PAGED)
        .options(auth_type="bearer", auth_token=TOKEN_CANARY, retry="false")
        .load()
    )
    with pytest.raises(PythonException) as info:
        df.collect()
    assert "401" in str(info.value)
    _no_canary(str(info.value))


def test_an_env_reference_spark_would_show_is_refused_before_any_request(spark, serve):
    server = serve({})
    by_reference = {"url": server.url("/items"), "auth_type": "bearer"}
    reader = spark.read.format("hiveframe.http").options(**by_reference)
    with pytest.raises(AnalysisException, match=r"rename the variable, e\.g\. HF_API_CRED_TOKEN"):
        reader.option("auth_token_env", "HF_API_CRED").load()
    writer = spark.range(3).write.format("hiveframe.http").options(**by_reference)
    with pytest.raises(AnalysisException, match=r"spark\.executorEnv\.HF_API_CRED unmasked"):
        writer.option("auth_token_env", "HF_API_CRED").mode("append").save()
    assert not server.requests


def test_the_name_check_agrees_with_sparks_own_regex_engine(spark):
    # Spark redacts a key when its regex finds a match in it (java.util.regex); HiveFrame's
    # fallback (Spark 3's default) must accept nothing this Spark's default would show.
    jvm = spark.sparkContext._jvm
    config = getattr(getattr(jvm.org.apache.spark.internal.config, "package$"), "MODULE$")
    default = config.SECRET_REDACTION_PATTERN().defaultValueString()
    names = ["HF_API_CRED", "HF_CLIENT_SECRET", "HF_API_CRED_TOKEN", "DB_Password", "PLAIN"]
    names += ["S3_ACCESS_KEY", "S3_ACCESSKEY", "S3_ACCESS.KEY", "S3_ACCESS-KEY", "CREDENTIALS"]
    accepted = {}
    for regex in (SPARK_REDACTION, default):
        java = jvm.java.util.regex.Pattern.compile(regex)
        for name in names:
            redacted = java.matcher(f"spark.executorEnv.{name}").find()
            try:
                check_env_names({"auth_token_env": name}, regex)
            except ConfigError:
                assert not redacted, (regex, name)
            else:
                assert redacted, (regex, name)
                accepted.setdefault(regex, set()).add(name)
    assert {"HF_CLIENT_SECRET", "S3_ACCESSKEY"} <= accepted[SPARK_REDACTION] <= accepted[default]


class TokenEndpoint:
    """RFC 6749 §4.4 token endpoint checking client_secret_basic credentials."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        expected = base64.b64encode(f"spark-job:{CLIENT_SECRET_CANARY}".encode()).decode()
        if request.header("authorization") != f"Basic {expected}":
            return Reply(401, {"Content-Type": "application/json"}, b'{"error":"invalid_client"}')
        with self._lock:
            self.count += 1
        body = {"access_token": "issued-token-1", "token_type": "Bearer", "expires_in": 3600}
        return Reply(200, {"Content-Type": "application/json"}, orjson.dumps(body))


class GuardedParents:
    """The demo's parents and children, each answered only with the bearer token."""

    def __init__(self, token: str) -> None:
        self.api = ParentsAPI(12)
        self.token = token

    def routes(self) -> dict[str, Any]:
        return {
            "/parents": self._guard(self.api.parents),
            "/parents/{id}/children": self._guard(self.api.children),
        }

    def _guard(self, handler: Any) -> Any:
        def guarded(request: Request) -> Reply:
            if request.header("authorization") != f"Bearer {self.token}":
                return Reply(401, {"Content-Type": "application/json"}, b'{"error": "no"}')
            return handler(request)

        return guarded


def test_a_parent_token_reaches_the_api_but_not_the_plan_or_the_partitions(
    spark, serve, capsys, monkeypatch
):
    server = serve(GuardedParents(TOKEN_CANARY).routes())
    options = {
        "url": server.url("/parents/{parent.id}/children"),
        "pagination": "page",
        "parent_url": server.url("/parents"),
        "parent_data_path": "parents",
        "auth_type": "bearer",
    }
    inline = {**options, "auth_token": TOKEN_CANARY, "parent_auth_type": "bearer"}
    df = spark.read.format("hiveframe.http").options(**inline, parent_auth_token=TOKEN_CANARY)
    assert df.load().count() == sum(len(children_of(p)) for p in range(1, 13))
    _no_canary(_explained(df.load(), capsys))

    monkeypatch.setenv(TOKEN_ENV, TOKEN_CANARY)  # planning runs here, in the test process
    source = HTTPDataSource(CaseInsensitiveDict({**options, "auth_token_env": TOKEN_ENV}))
    reader = source.reader(source.schema())  # the parent read with the child's token
    partitions = reader.partitions()
    assert len(partitions) == 4
    pickle = CloudPickleSerializer().dumps
    for blob in (source, reader, *partitions):
        _no_canary(pickle(blob))
