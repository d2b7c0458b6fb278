"""Response rules, per-item results and proxies as Spark options (JSON and text).

Parsing is checked without Spark; a read retried by a rule, a write whose refused items are
dead-lettered one by one, and requests through a proxy run on local[2,2] over loopback.
"""

from __future__ import annotations

import json
import threading

import orjson
import pytest

from hiveframe._protocol.item_results import ItemResults
from hiveframe._protocol.response_policy import ResponsePolicy, ResponseRule
from hiveframe.demo import Reply, Request
from hiveframe.demo._api import DemoAPI
from hiveframe.errors import ConfigError
from hiveframe.spark._options import check_env_names, sink_kwargs, source_kwargs
from hiveframe.spark._source import OptionsRef
from proxy_server import ProxyServer

URL = "https://api.test/items"
PAGED = {"pagination": "offset", "pagination_total_path": "total", "data_path": "items"}
PASSWORD = "proxy-pass-canary"


def test_a_response_policy_is_a_json_array_of_rules():
    rules = [
        {"status": 200, "body_path": "status", "equals": "error", "action": "retry"},
        {"status": [404, 410], "action": "ignore", "name": "gone"},
        {"status": "500-503", "action": "fail"},
    ]
    kwargs = source_kwargs({"url": URL, "response_policy": json.dumps(rules)})
    assert kwargs["response_policy"] == ResponsePolicy(
        ResponseRule("retry", status=200, body_path="status", equals="error"),
        ResponseRule("ignore", status=[404, 410], name="gone"),
        ResponseRule("fail", status=range(500, 504)),
    )
    assert sink_kwargs({"url": URL, "response_policy": "[]"})["response_policy"] == (
        ResponsePolicy()
    )


@pytest.mark.parametrize(
    ("text", "option"),
    [
        ('{"status": 404}', "response_policy"),
        ("[{", "response_policy"),
        ('[{"status": 404}]', "response_policy.action"),
        ('[{"status": 404, "action": "skip"}]', "response_policy.action"),
        ('[{"status": 404, "action": "ignore", "when": 1}]', "response_policy.when"),
        ('[{"status": "6xx", "action": "fail"}]', "response_policy.status"),
        ('[{"body": "lambda d: True", "action": "fail"}]', "response_policy.body"),
    ],
)
def test_a_bad_rule_is_refused_naming_what_is_wrong(text, option):
    with pytest.raises(ConfigError) as caught:
        OptionsRef({"url": URL, "response_policy": text}).resolve()
    assert caught.value.option == option
    if option.endswith(".body"):
        assert "Python code" in caught.value.reason  # a predicate cannot be an option


def test_item_results_are_a_json_object():
    text = json.dumps({"failed": "errors[*].index", "message": "errors[*].message"})
    kwargs = sink_kwargs({"url": URL, "item_results": text})
    assert kwargs["item_results"] == ItemResults(
        failed="errors[*].index", message="errors[*].message"
    )
    for bad, option in [
        ('["errors[*].index"]', "item_results"),
        ('{"failed": "errors[*].index", "retyr": true}', "item_results.retyr"),
        ('{"message": "errors[*].message"}', "item_results"),
    ]:
        with pytest.raises(ConfigError) as caught:
            sink_kwargs({"url": URL, "item_results": bad})
        assert caught.value.option == option
    with pytest.raises(ConfigError) as caught:  # a sink option, not a source's
        source_kwargs({"url": URL, "item_results": text})
    assert caught.value.option == "item_results"


def test_a_proxy_is_a_url_without_credentials_or_an_environment_variable(monkeypatch):
    assert source_kwargs({"url": URL, "proxy": "http://proxy:3128"})["proxy"] == (
        "http://proxy:3128"
    )
    assert sink_kwargs({"url": URL, "proxy": "none"})["proxy"] is None
    with pytest.raises(ConfigError) as caught:
        OptionsRef({"url": URL, "proxy": f"http://me:{PASSWORD}@proxy:3128"}).resolve()
    assert caught.value.option == "proxy" and "proxy_env" in caught.value.reason
    assert PASSWORD not in str(caught.value)

    monkeypatch.setenv("HF_PROXY_PASSWORD", f"http://me:{PASSWORD}@proxy:3128")
    ref = OptionsRef({"url": URL, "proxy_env": "HF_PROXY_PASSWORD"})
    assert PASSWORD not in repr(ref) and PASSWORD not in repr(ref.http_source())
    assert str(ref.resolve().session_config.proxy).endswith("@proxy:3128")
    with pytest.raises(ConfigError) as caught:
        check_env_names({"proxy_env": "HF_PROXY"}, None)
    assert caught.value.reason.endswith("e.g. HF_PROXY_PASSWORD")
    with pytest.raises(ConfigError) as caught:
        source_kwargs({"url": URL, "proxy": "http://p:1", "proxy_env": "HF_PROXY_PASSWORD"})
    assert caught.value.option == "proxy_env"


class ErrorOnce:
    """The demo's offset endpoint, answering the first request for ``offset`` with a 200
    whose body says error."""

    def __init__(self, offset: int) -> None:
        self.api = DemoAPI(300, lambda: "")
        self.offset = str(offset)
        self.sent: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        offset = request.query.get("offset", "0")
        with self._lock:
            first = offset == self.offset and offset not in self.sent
            self.sent.append(offset)
        if first:
            return Reply(200, {"Content-Type": "application/json"}, b'{"status": "error"}')
        return self.api.offset_envelope(request)


def test_a_rule_retries_a_200_that_says_error_on_the_executors(spark, serve):
    api = ErrorOnce(offset=200)
    server = serve({"/items": api})
    rule = [{"status": 200, "body_path": "status", "equals": "error", "action": "retry"}]
    df = (
        spark.read.format("hiveframe.http")
        .options(url=server.url("/items"), page_size="100", **PAGED)
        .options(response_policy=json.dumps(rule), retry_initial_delay_seconds="0.01")
        .load()
    )
    assert sorted(r.id for r in df.collect()) == list(range(1, 301))
    assert sorted(api.sent) == ["0", "100", "200", "200"]  # page 2 again, after the rule


class ItemReport:
    """An ingest endpoint that refuses every record whose id is a multiple of 7: it answers
    207 with their positions, and stores the others."""

    def __init__(self) -> None:
        self.stored: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        records = orjson.loads(request.body)
        refused = [i for i, r in enumerate(records) if r["id"] % 7 == 0]
        with self._lock:
            self.stored += [r["id"] for i, r in enumerate(records) if i not in refused]
        errors = [{"index": i, "message": "multiple of seven"} for i in refused]
        return Reply(207, {"Content-Type": "application/json"}, orjson.dumps({"errors": errors}))


def test_item_results_dead_letter_exactly_the_refused_records(spark, serve, tmp_path):
    ingest = ItemReport()
    server = serve({"/ingest": ingest})
    results = {"failed": "errors[*].index", "message": "errors[*].message"}
    (
        spark.range(1, 101, numPartitions=2)
        .write.format("hiveframe.http")
        .options(url=server.url("/ingest"), batch_size="10", dead_letter=str(tmp_path))
        .options(success_statuses="200,207", item_results=json.dumps(results))
        .mode("append")
        .save()
    )
    sevens = list(range(7, 101, 7))
    assert sorted(ingest.stored) == sorted(set(range(1, 101)) - set(sevens))
    lines = [
        orjson.loads(line)
        for path in sorted(tmp_path.iterdir())
        for line in path.read_bytes().splitlines()
    ]
    assert sorted(r["id"] for line in lines for r in line["records"]) == sevens
    assert {"multiple of seven" in line["error"] for line in lines} == {True}


def test_requests_go_through_the_proxy_option_on_the_executors(spark, serve, capsys):
    server = serve({"/items": DemoAPI(300, lambda: "").offset_envelope})
    with ProxyServer() as proxy:
        df = (
            spark.read.format("hiveframe.http")
            .options(url=server.url("/items"), page_size="100", proxy=proxy.url(), **PAGED)
            .load()
        )
        assert df.count() == 300
    targets = sorted(r.target for r in proxy.requests)
    assert len(targets) == 3 and all(t.startswith(server.url("/items")) for t in targets)
