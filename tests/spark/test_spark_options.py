"""Spark's string options become HTTPSource / HTTPSink arguments; planning is pure.

No SparkSession here: these run without Java.
"""

from __future__ import annotations

import itertools
import pickle
import re

import pytest

from hiveframe._protocol.pagination import OffsetPagination, PagePagination
from hiveframe._protocol.paginators import Page, start_paginator
from hiveframe.connectors import BearerAuth, OAuth2ClientCredentials
from hiveframe.errors import ConfigError
from hiveframe.resilience import RetryConfig
from hiveframe.spark._datasource import session_class
from hiveframe.spark._options import parse_count, parse_seconds, sink_kwargs, source_kwargs
from hiveframe.spark._plan import SEQUENTIAL, Layout, PageCount, PageRange, page_count, plan
from hiveframe.spark._source import OptionsRef

URL = "https://api.example.com/items"


def test_scalars_json_and_lists_are_converted():
    kwargs = source_kwargs(
        {
            "URL": URL,
            "page_size": "50",
            "pagination": "offset",
            "timeout_seconds": "none",
            "params": '{"q": "x"}',
            "allowed_hosts": "a.test, b.test",
            "verify": "false",
        }
    )
    assert kwargs == {
        "url": URL,
        "page_size": 50,
        "pagination": "offset",
        "timeout_seconds": None,
        "params": {"q": "x"},
        "allowed_hosts": ["a.test", "b.test"],
        "verify": False,
    }
    assert source_kwargs({"path": URL, "verify": "/etc/ca.pem"})["verify"] == "/etc/ca.pem"


def test_pagination_settings_build_the_config():
    kwargs = source_kwargs(
        {
            "url": URL,
            "pagination": "offset",
            "pagination_total_path": "meta.total",
            "pagination_offset_param": "skip",
            "pagination_start": "10",
        }
    )
    assert kwargs["pagination"] == OffsetPagination(
        total_path="meta.total", offset_param="skip", start=10
    )
    with pytest.raises(ConfigError) as info:
        source_kwargs({"url": URL, "pagination": "page", "pagination_cursor_path": "x"})
    assert info.value.option == "pagination_cursor_path"


def test_retry_breaker_and_rate_limit_groups():
    ref = OptionsRef(
        {
            "url": URL,
            "retry_max_attempts": "3",
            "retry_statuses": "500, 503",
            "retry_total_timeout_seconds": "none",
            "circuit_breaker_failure_threshold": "2",
            "rate_limit": "20",
            "rate_limit_burst": "4",
        }
    )
    spec = ref.resolve()
    assert spec.session_config.retry == RetryConfig(
        max_attempts=3, retry_statuses={500, 503}, total_timeout_seconds=None
    )
    assert spec.breaker is not None and spec.breaker["failure_threshold"] == 2
    assert spec.rate_limit == (20.0, 4)
    # No lock or live state in what is pickled; each session builds its own policies.
    assert spec.session_config.circuit_breaker is None
    restored = pickle.loads(pickle.dumps(spec))
    session = restored.session()
    assert session.config.circuit_breaker is not None
    assert session.config.circuit_breaker is not spec.session().config.circuit_breaker
    assert OptionsRef({"url": URL, "retry": "off"}).resolve().session_config.retry.max_attempts == 1


def test_auth_options_and_environment_references(monkeypatch):
    monkeypatch.setenv("HF_TEST_SECRET", "s3cret-value")
    bearer = OptionsRef({"url": URL, "auth_type": "bearer", "auth_token_env": "HF_TEST_SECRET"})
    auth = bearer.resolve().auth
    assert isinstance(auth, BearerAuth)
    assert "s3cret-value" not in repr(bearer)
    oauth = source_kwargs(
        {
            "url": URL,
            "auth_type": "oauth2",
            "auth_token_url": "https://auth.test/token",
            "auth_client_id": "job",
            "auth_client_secret_env": "HF_TEST_SECRET",
            "auth_method": "client_secret_post",
            "auth_skew_seconds": "30",
        }
    )["auth"]
    assert oauth["client_secret"] == "s3cret-value"
    assert oauth["auth_method"] == "client_secret_post" and oauth["skew_seconds"] == 30.0
    options = {"url": URL, "auth_type": "oauth2", "auth_token_url": "https://auth.test/token"}
    spec = OptionsRef({**options, "auth_client_id": "j", "auth_client_secret": "x"}).resolve()
    assert isinstance(spec.auth, OAuth2ClientCredentials)
    key = source_kwargs({"url": URL, "auth_type": "api_key", "auth_token": "k", "auth_in": "query"})
    assert key["auth"] == {"type": "api_key", "value": "k", "in": "query"}


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"pagnation": "offset"}, "pagnation"),
        ({"page_size": "ten", "pagination": "offset"}, "page_size"),
        ({"page_size": "-5", "pagination": "offset"}, "page_size"),  # HTTPSource's own check
        ({"params": "{oops"}, "params"),
        ({"auth_token": "x"}, "auth_type"),
        ({"auth_type": "bearer", "auth_token_env": "HF_SURELY_UNSET_TOKEN"}, "auth_token_env"),
        ({"auth_type": "bearer", "auth_token": "a", "auth_token_env": "B_TOKEN"}, "auth_token_env"),
        ({"retry": "false", "retry_max_attempts": "2"}, "retry"),
        ({"retry_max_atempts": "2"}, "retry_max_atempts"),
        ({"circuit_breaker_clock": "x"}, "circuit_breaker_clock"),
        ({"rate_limit_burst": "2"}, "rate_limit_burst"),
        ({}, "url"),
    ],
)
def test_bad_options_are_named(options, option):
    opts = {"url": URL, **options} if option != "url" else options
    with pytest.raises(ConfigError) as info:
        OptionsRef(opts).resolve()
    assert info.value.option == option


def test_env_references_must_name_variables_that_spark_redacts(monkeypatch):
    # docs/reliability.md test 36. Executors get a variable from spark.executorEnv.VAR, which
    # Spark's UI and event log show unmasked unless the key matches spark.redaction.regex.
    monkeypatch.setenv("HF_API_CRED", "x")
    monkeypatch.setenv("HF_CLIENT_SECRET", "x")
    bearer = {"url": URL, "auth_type": "bearer"}
    with pytest.raises(ConfigError) as info:
        OptionsRef({**bearer, "auth_token_env": "HF_API_CRED"})
    assert (info.value.option, info.value.value) == ("auth_token_env", "HF_API_CRED")
    assert "spark.executorEnv.HF_API_CRED unmasked" in info.value.reason
    assert info.value.reason.endswith("rename the variable, e.g. HF_API_CRED_TOKEN")
    assert OptionsRef({**bearer, "auth_token_env": "HF_CLIENT_SECRET"}).resolve().auth
    basic = {"url": URL, "auth_type": "basic", "auth_username": "u"}
    with pytest.raises(ConfigError, match=re.escape("e.g. HF_API_CRED_PASSWORD")):
        OptionsRef({**basic, "auth_password_env": "HF_API_CRED"})

    # A session's own spark.redaction.regex decides, where it is set.
    assert OptionsRef({**bearer, "auth_token_env": "HF_API_CRED"}, redaction="(?i)cred").resolve()
    with pytest.raises(
        ConfigError, match=re.escape("rename the variable, so that spark.redaction.regex")
    ):
        OptionsRef({**bearer, "auth_token_env": "HF_CLIENT_SECRET"}, redaction="(?i)cred")
    with pytest.raises(ConfigError) as info:
        OptionsRef({**bearer, "auth_token_env": "HF_CLIENT_SECRET"}, redaction=r"\p{Alpha}")
    assert (info.value.option, info.value.value) == ("spark.redaction.regex", r"\p{Alpha}")


def test_the_registered_format_checks_names_against_the_sessions_regex(monkeypatch):
    monkeypatch.setenv("HF_API_CRED", "x")
    options = {"url": URL, "auth_type": "bearer", "auth_token_env": "HF_API_CRED"}
    session_class("(?i)cred", 2)(options).writer(None, False)  # accepted: the session redacts it
    with pytest.raises(ConfigError) as info:
        session_class(None, 2)(options).writer(None, False)
    assert info.value.option == "auth_token_env"


def test_secret_values_are_never_shown_in_errors():
    with pytest.raises(ConfigError) as info:
        OptionsRef({"url": URL, "auth_type": "bearer", "auth_token": ""}).resolve()
    assert info.value.option == "auth.token" and "***" in str(info.value)
    ref = OptionsRef({"url": URL, "auth_type": "basic", "auth_password": "hunter2"})
    assert "hunter2" not in repr(ref)


def test_sink_options():
    kwargs = sink_kwargs(
        {
            "url": URL,
            "batch_size": "500",
            "ordered": "true",
            "idempotency_header": "none",
            "success_statuses": "200, 202",
            "dead_letter": "/tmp/dl",
            "summary_path": "/tmp/s.json",
        }
    )
    assert kwargs == {
        "url": URL,
        "batch_size": 500,
        "ordered": True,
        "idempotency_header": None,
        "success_statuses": [200, 202],
    }
    with pytest.raises(ConfigError) as info:
        sink_kwargs({"url": URL, "page_size": "5"})  # a read option
    assert info.value.option == "page_size"
    sink = OptionsRef({"url": URL, "max_in_flight": "2"}).sink()
    assert sink.options.max_in_flight == 2


def _first(config, document: object, records: int = 10) -> Page:
    request = start_paginator(config).first()
    return Page(0, request, URL, {}, document, record_count=records)


@pytest.mark.parametrize(("total", "pages"), [(95, 10), (100, 10), (101, 11), (10, 1), (7, 1)])
def test_page_counts_follow_the_paginators_own_stop_rule(total, pages):
    offset = OffsetPagination(page_size=10, total_path="total")
    # known: the total says the pages exist, so a task fetches them all at once
    assert page_count(offset, None, _first(offset, {"total": total})) == (pages, True)
    assert page_count(offset, 4, _first(offset, {"total": total})) == (min(pages, 4), True)
    huge = _first(offset, {"total": 10**12})
    assert page_count(offset, None, huge) == (10**11, True)  # found in O(log n) probes


def test_page_counts_without_a_total():
    offset = OffsetPagination(page_size=10)
    assert page_count(offset, 7, None) == PageCount(7, known=False)  # allowed, not promised
    assert page_count(offset, 7, _first(offset, {})) == (7, False)
    assert page_count(offset, None, _first(offset, {})) == (None, False)  # follow the paginator
    assert page_count(offset, None, _first(offset, {}, records=3)) == (1, True)  # a short page
    pages = PagePagination(total_pages_path="meta.pages", page_size=10)
    assert page_count(pages, None, _first(pages, {"meta": {"pages": 3}})) == (3, True)
    assert page_count(None, 5, None) == (None, False)  # one request


def _bounds(partitions: list[PageRange]) -> list[tuple[int, int | None]]:
    assert [p.index for p in partitions] == list(range(len(partitions)))
    return [(p.start, p.stop) for p in partitions]


def test_pages_are_split_into_contiguous_ranges_two_per_task_at_once_by_default():
    known = PageCount(500, known=True)
    default = plan(known, Layout(parallelism=3))
    # two per task that runs at once, contiguous, covering every page once
    bounds = [(0, 83), (83, 167), (167, 250), (250, 333), (333, 417), (417, 500)]
    assert _bounds(default) == bounds
    assert {p.known for p in default} == {True} and {p.tasks_at_once for p in default} == {3}

    assert _bounds(plan(PageCount(10, True), Layout(num_partitions=4))) == [
        (0, 2),
        (2, 5),
        (5, 8),
        (8, 10),
    ]
    assert _bounds(plan(PageCount(10, True), Layout(pages_per_partition=4))) == [
        (0, 4),
        (4, 8),
        (8, 10),
    ]
    few = plan(PageCount(3, False), Layout(num_partitions=8, parallelism=16))
    assert few == [PageRange(i, i, i + 1, tasks_at_once=3) for i in range(3)]  # <= the pages
    # A rate limit: one partition per task at once (more would wait for the budget).
    assert len(plan(known, Layout(parallelism=3), rate_limited=True)) == 3
    assert plan(PageCount(None, False), Layout(num_partitions=4)) == [SEQUENTIAL]
    assert pickle.loads(pickle.dumps(default[1])) == default[1]


def test_the_first_page_goes_to_the_partition_that_starts_with_it():
    from hiveframe.spark._plan import ShippedPage

    first = ShippedPage(200, (("content-type", "application/json"),), b"[]", URL)
    parts = plan(PageCount(20, True), Layout(num_partitions=4), first=first)
    assert [p.first for p in parts] == [first, None, None, None]
    assert plan(PageCount(None, False), Layout(), first=first) == [
        PageRange(0, 0, None, first=first)
    ]


def test_partition_by_makes_one_partition_per_set_of_parameters():
    from hiveframe.spark._plan import partition_params

    by = partition_params([{"since": "2024-01", "region": "eu"}, {"since": 2024}])
    assert by == ((("region", "eu"), ("since", "2024-01")), (("since", "2024"),))
    parts = plan(PageCount(None, False), Layout(partition_by=by, parallelism=8))
    assert [(p.start, p.stop, p.params, p.tasks_at_once) for p in parts] == [
        (0, None, by[0], 2),
        (0, None, by[1], 2),
    ]
    for bad in ([], {"since": "x"}, ["since"], "since", [{"since": 1}, None], [{1: "x"}]):
        with pytest.raises(ConfigError) as info:
            partition_params(bad)
        assert info.value.option == "partition_by"


@pytest.mark.parametrize(
    ("layout", "named"),
    [
        ({"num_partitions": 0}, "num_partitions"),
        ({"pages_per_partition": 0}, "pages_per_partition"),
        ({"num_partitions": 2, "pages_per_partition": 5}, "pages_per_partition"),
        ({"partition_by": ((),), "num_partitions": 2}, "num_partitions"),
        ({"partition_by": ((),), "pages_per_partition": 2}, "pages_per_partition"),
    ],
)
def test_one_way_of_splitting_at_a_time(layout, named):
    with pytest.raises(ConfigError) as info:
        Layout(**layout)
    assert info.value.option == named


def test_a_rate_limit_is_shared_by_the_tasks_that_run_at_once():
    from hiveframe.spark._plan import task_share

    assert task_share(50.0, 1, 2) == (25.0, 1)
    assert task_share(50.0, 10, 4) == (12.5, 2)
    assert task_share(5.0, 1, 1) == (5.0, 1)


def test_a_tasks_bucket_starts_empty_and_tasks_starting_together_interleave():
    from hiveframe.spark._plan import task_runtime

    assert task_runtime(None, 0, 2).rate_limiter is None
    now = [100.0]
    # rate_limit=50 over two tasks at once: 25 a second each, 40 ms apart.
    slots = []
    for index in range(4):  # partitions 0 and 2 share a slot, as do 1 and 3
        limiter = task_runtime((50.0, 1), index, 2, clock=lambda: now[0]).rate_limiter
        assert limiter is not None and limiter.rate == 25.0
        slots.append([round(limiter.reserve(), 3) for _ in range(3)])
    # Nothing at once: the first request one interval in, the second task 20 ms later.
    assert slots[0] == [0.04, 0.08, 0.12]
    assert slots[1] == [0.06, 0.1, 0.14]
    assert slots[2] == slots[0] and slots[3] == slots[1]
    merged = sorted(slots[0] + slots[1])
    assert all(round(b - a, 3) == 0.02 for a, b in itertools.pairwise(merged))


def test_the_public_namespace():
    import hiveframe.spark as spark

    assert spark.__all__ == sorted(spark.__all__)
    for name in spark.__all__:
        assert hasattr(spark, name), name
    assert spark.HTTPDataSource.name() == spark.FORMAT == "hiveframe.http"


# Promise: docs/reliability.md, bad input. Spark hands every option over as text; "nan",
# "inf" and friends parse as numbers, so the constructors must refuse them as they do for
# Python callers, naming the option.
BAD_NUMBER_TEXTS = ("nan", "inf", "-inf", "-1", "true")

# (Spark option, the option the constructor names, extra options it needs, "0" is valid)
SPARK_NUMERIC = [
    ("page_size", "page_size", {"pagination": "offset"}, False),
    ("max_pages", "max_pages", {}, False),
    ("timeout_seconds", "timeout_seconds", {}, False),
    ("connect_timeout_seconds", "connect_timeout_seconds", {}, False),
    ("deadline_seconds", "deadline_seconds", {}, False),
    ("max_body_bytes", "max_body_bytes", {}, False),
    ("concurrency", "concurrency", {}, False),
    ("rate_limit", "rate_limit", {}, False),
    ("poll_interval_seconds", "poll_interval_seconds", {}, False),
    ("dedupe_window", "dedupe_window", {"poll_interval_seconds": "5"}, False),
    ("idle_timeout_seconds", "idle_timeout_seconds", {"stream_type": "sse"}, False),
    ("max_event_bytes", "max_event_bytes", {"stream_type": "sse"}, False),
    ("retry_max_attempts", "max_attempts", {}, False),
    ("retry_initial_delay_seconds", "initial_delay_seconds", {}, True),
    ("retry_total_timeout_seconds", "total_timeout_seconds", {}, False),
    ("circuit_breaker_failure_threshold", "failure_threshold", {}, False),
    ("circuit_breaker_failure_rate_threshold", "failure_rate_threshold", {}, False),
    ("circuit_breaker_recovery_timeout_seconds", "recovery_timeout_seconds", {}, False),
    ("reconnect_max_delay_seconds", "max_delay_seconds", {"stream_type": "sse"}, True),
    ("rate_limit_burst", "burst", {"rate_limit": "5"}, False),
]


def _spark_numeric_cases() -> list:
    cases = []
    for spark_option, option, context, zero_ok in SPARK_NUMERIC:
        for text in (*BAD_NUMBER_TEXTS, *(() if zero_ok else ("0",))):
            options = {"url": URL, **context, spark_option: text}
            cases.append(pytest.param(options, {spark_option, option}, id=f"{spark_option}={text}"))
    return cases


@pytest.mark.parametrize(("options", "named"), _spark_numeric_cases())
def test_bad_numbers_in_spark_options_are_refused_naming_the_option(options, named):
    with pytest.raises(ConfigError) as info:
        OptionsRef(options).resolve()
    assert info.value.option in named


@pytest.mark.parametrize("text", [*BAD_NUMBER_TEXTS, "0"])
@pytest.mark.parametrize("option", ["batch_size", "max_batch_bytes", "max_in_flight"])
def test_bad_numbers_in_spark_sink_options_are_refused(option, text):
    with pytest.raises(ConfigError) as info:
        OptionsRef({"url": URL, option: text}).sink()
    assert info.value.option == option


@pytest.mark.parametrize("text", [*BAD_NUMBER_TEXTS, "0", "1.5"])
def test_the_adapters_own_options_are_checked(text):
    for option in ("num_partitions", "max_records_per_batch"):
        with pytest.raises(ConfigError) as info:
            parse_count(option, text)
        assert info.value.option == option
    if text != "1.5":
        with pytest.raises(ConfigError) as info:
            parse_seconds("replay_timeout_seconds", text)
        assert info.value.option == "replay_timeout_seconds"


def test_max_pages_means_what_it_means_for_http_source_and_plans_honour_the_default_cap():
    # docs/reliability.md test 41: "none" lifts the cap, a count reads that many pages, and
    # a planned read whose total passes the default cap fails when it is planned.
    import pyarrow as pa

    from hiveframe._http.reader import FetchedPage
    from hiveframe._protocol.pagination import DEFAULT_MAX_PAGES
    from hiveframe.connectors import HTTPSource
    from hiveframe.errors import PaginationLimitReached
    from hiveframe.spark._read import FirstPage, survey

    assert source_kwargs({"url": URL, "max_pages": "3"})["max_pages"] == 3
    assert source_kwargs({"url": URL, "max_pages": "None"})["max_pages"] is None
    assert "max_pages" not in source_kwargs({"url": URL})

    offset = OffsetPagination(page_size=10, total_path="total")

    def planned(total: int, **options: object) -> int | None:
        source = HTTPSource(URL + "?api_key=hunter2", pagination=offset, **options)
        first = FetchedPage(pa.table({}), _first(offset, {"total": total}))
        return survey(source.spec, Layout(), FirstPage(first, None)).count.pages

    assert planned(10 * DEFAULT_MAX_PAGES) == DEFAULT_MAX_PAGES
    with pytest.raises(PaginationLimitReached) as info:
        planned(10 * DEFAULT_MAX_PAGES + 1)
    assert (info.value.limit, info.value.page) == (DEFAULT_MAX_PAGES, DEFAULT_MAX_PAGES)
    assert "hunter2" not in str(info.value) and "/items" in str(info.value)
    assert planned(10 * DEFAULT_MAX_PAGES + 1, max_pages=None) == DEFAULT_MAX_PAGES + 1
    assert planned(10**9, max_pages=5) == 5


def test_secret_names_are_comma_lists():
    """docs/reliability.md test 46: Spark options name credential parameters too."""
    kwargs = source_kwargs(
        {"url": URL, "secret_params": "pin, tenant_key", "secret_headers": "X-Signing"}
    )
    assert kwargs["secret_params"] == ["pin", "tenant_key"]
    assert kwargs["secret_headers"] == ["X-Signing"]
    assert sink_kwargs({"url": URL, "secret_params": "pin"})["secret_params"] == ["pin"]
