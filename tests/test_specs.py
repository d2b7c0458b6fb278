"""Sources and sinks are specs: frozen, picklable data every runner builds its session from.

- ``Session(...)`` is constructed in exactly one function of ``src/``: ``Endpoint.session``;
- ``HTTPSource.__init__`` names at most 24 parameters (stream and transport options come
  grouped, or as typed ``**options``);
- a spec survives pickling equal, and builds the same session after it;
- the flat stream options build the very spec the grouped ``stream=`` spelling builds;
- the choices an option takes are ``Literal`` types that say what the checks accept;
- runners type their sources (no ``source: Any``), and the command line shows its progress
  through the public read methods, not through a source's private parts.
"""

from __future__ import annotations

import ast
import inspect
import pickle
from dataclasses import replace
from pathlib import Path
from typing import Any, get_args

import orjson
import pyarrow as pa
import pytest

from hiveframe._http.session import Session
from hiveframe._protocol.decode import validate_response_format
from hiveframe._protocol.drift import DRIFT_POLICIES
from hiveframe._protocol.paginators import PAGINATORS
from hiveframe._protocol.reconnect import SSE_FORMATS, SSEFormat
from hiveframe._protocol.units import StreamKind
from hiveframe.connectors import (
    HTTPSink,
    HTTPSource,
    OAuth2ClientCredentials,
    PollStream,
    SinkSpec,
    SourceSpec,
    SSEStream,
)
from hiveframe.connectors._sink_options import BodyFormatName, body_format_option
from hiveframe.connectors._source_options import DriftPolicy, PaginationStyle, ResponseFormat
from hiveframe.demo import Reply
from hiveframe.errors import ConfigError
from hiveframe.resilience import CircuitBreaker, RateLimiter, RetryConfig
from hiveframe.streaming import ReconnectConfig, StreamConfig, StreamProcessor

SRC = Path(__file__).resolve().parent.parent / "src" / "hiveframe"
URL = "https://api.test/items"


def records(response):  # a module-level parser: pickled by reference
    return response.json()["items"]


@pytest.fixture
def serve_items(serve) -> str:
    body = orjson.dumps([{"id": 1}, {"id": 2}, {"id": 3}])
    reply = Reply(body=body, headers={"Content-Type": "application/json"})
    return serve({"/items": lambda request: reply}).url("/items")


@pytest.fixture
def serve_events(demo) -> str:
    return demo.url("/events")  # events 1, 2, 3... as the demo makes them


# -- one session builder -------------------------------------------------------------------


def session_constructions() -> list[str]:
    """``module:Class.function`` of every ``Session(...)`` call in ``src/``."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        module = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        for scope, call in _calls(tree, ()):
            func = call.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name == "Session":
                found.append(f"{module}:{'.'.join(scope)}")
    return found


def _calls(node: ast.AST, scope: tuple[str, ...]):
    for child in ast.iter_child_nodes(node):
        inner = scope
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            inner = (*scope, child.name)
        if isinstance(child, ast.Call):
            yield scope, child
        yield from _calls(child, inner)


def test_a_session_is_constructed_in_exactly_one_function():
    assert session_constructions() == ["hiveframe.connectors._spec:Endpoint.session"]


def test_the_session_finder_finds_calls_in_methods_and_functions():
    tree = ast.parse("class A:\n    def f(self):\n        return x.Session(1)\nSession()\n")
    assert [scope for scope, _ in _calls(tree, ())] == [("A", "f"), ()]


def test_every_runner_builds_its_session_through_the_spec(serve_items):
    source = HTTPSource(serve_items, circuit_breaker=CircuitBreaker(), rate_limit=50)
    session = source.session()
    assert isinstance(session, Session)
    # The front's runtime is live and shared: every session of the source gets the same.
    assert session.config.circuit_breaker is source.runtime.circuit_breaker
    assert session.config.rate_limiter is source.runtime.rate_limiter
    assert source.read().count() == 3


# -- HTTPSource's signature ----------------------------------------------------------------


def test_httpsource_names_at_most_24_parameters():
    parameters = list(inspect.signature(HTTPSource.__init__).parameters)
    assert parameters[0] == "self"
    assert len(parameters) - 1 <= 24, parameters


def test_an_unknown_keyword_is_a_type_error_as_python_says_it():
    with pytest.raises(TypeError, match="unexpected keyword argument 'pool_interval_seconds'"):
        HTTPSource(URL, pool_interval_seconds=5)


def test_keyword_options_reach_the_spec():
    source = HTTPSource(
        URL,
        connect_timeout_seconds=2,
        max_body_bytes=1024,
        verify=False,
        proxy=None,
        block_private_networks=False,
        allowed_hosts=["CDN.test"],
        secret_headers=["X-Sig"],
        secret_params=["sig"],
    )
    config = source.spec.session_config
    assert (config.connect_timeout_seconds, config.max_body_bytes) == (2, 1024)
    assert (config.max_decompressed_bytes, config.verify, config.proxy) == (1024, False, None)
    assert not config.block_private_networks
    assert config.secret_headers == {"X-Sig"} and config.secret_params == {"sig"}
    assert source.spec.plan.allowed_hosts == {"cdn.test"}


# -- specs are data ------------------------------------------------------------------------


def sources() -> dict[str, HTTPSource]:
    schema = pa.schema([("id", pa.int64())])
    oauth = OAuth2ClientCredentials("https://auth.test/token", "client", "s3cret", scope="read")
    return {
        "paged": HTTPSource(
            URL + "?key=k1",
            pagination="offset",
            page_size=50,
            data_path="$.items[*]",
            schema=schema,
            auth={"type": "bearer", "token": "t0ken"},
            retry=RetryConfig(max_attempts=2),
            circuit_breaker=CircuitBreaker(failure_threshold=3, name="api"),
            rate_limit=5,
            deadline_seconds=9,
            secret_params=["sig"],
        ),
        "parsed": HTTPSource(URL, parser=records, method="POST", body={"q": 1}, auth=oauth),
        "polled": HTTPSource(
            URL,
            stream=PollStream(interval_seconds=5, since_param="since", since_field="id"),
            rate_limit=RateLimiter(2, burst=4),
        ),
        "sse": HTTPSource(URL, stream=SSEStream(data_format="text", max_event_bytes=4096)),
    }


def sink() -> HTTPSink:
    return HTTPSink(
        URL,
        batch_size=10,
        body_format="ndjson",
        auth={"type": "api_key", "value": "k3y", "in": "query", "name": "key"},
        circuit_breaker=CircuitBreaker(),
        rate_limit=RateLimiter(3, burst=2),
        max_in_flight=2,
    )


def view(session: Session) -> tuple[Any, ...]:
    """What a session is, its live breaker and limiter by their settings."""
    config = session.config
    breaker, limiter = config.circuit_breaker, config.rate_limiter
    return (
        replace(config, circuit_breaker=None, rate_limiter=None),
        breaker.options() if breaker is not None else None,
        (limiter.rate, limiter.burst) if limiter is not None else None,
        session.auth,
        session.credential_url,
    )


@pytest.mark.parametrize("name", ["paged", "parsed", "polled", "sse", "sink"])
def test_a_spec_pickles_equal_and_builds_an_equal_session(name):
    front = sink() if name == "sink" else sources()[name]
    spec = front.spec
    assert isinstance(spec, SinkSpec if name == "sink" else SourceSpec)
    restored = pickle.loads(pickle.dumps(spec))
    assert restored == spec
    assert view(restored.session()) == view(spec.session())
    # The front's own sessions have the same settings, and its live breaker and limiter.
    assert view(front.session()) == view(spec.session())
    shipped = restored.session().config
    assert shipped.circuit_breaker is None or shipped.circuit_breaker is not (
        front.runtime.circuit_breaker
    )


def test_a_spec_holds_no_live_object_and_no_secret_in_its_repr():
    spec = sources()["paged"].spec
    assert spec.session_config.circuit_breaker is None
    assert spec.session_config.rate_limiter is None
    assert spec.breaker is not None and spec.breaker["failure_threshold"] == 3
    assert spec.rate_limit == (5.0, 1)
    assert "t0ken" not in repr(spec) and "k1" not in spec.redacted_url


def test_an_oauth2_spec_ships_without_its_token():
    source = sources()["parsed"]
    auth = source.spec.auth
    assert isinstance(auth, OAuth2ClientCredentials)
    auth._cache.store("live-token", 3600)  # what it learned stays in this process
    restored = pickle.loads(pickle.dumps(source.spec))
    assert restored == source.spec
    assert restored.auth._cache.get() is None


# -- grouped and flat stream options -------------------------------------------------------

FLAT_AND_GROUPED = {
    "poll": (
        {
            "poll_interval_seconds": 5,
            "since_param": "since",
            "since_field": "id",
            "dedupe_key": "id",
            "dedupe_window": 50,
            "conditional_requests": False,
        },
        PollStream(
            interval_seconds=5,
            since_param="since",
            since_field="id",
            dedupe_key="id",
            dedupe_window=50,
            conditional=False,
        ),
    ),
    "poll by type": (
        {
            "stream_type": "poll",
            "poll_interval_seconds": 2,
            "since_param": "after",
            "since_path": "meta.next",
        },
        PollStream(interval_seconds=2, since_param="after", since_path="meta.next"),
    ),
    "sse": (
        {
            "stream_type": "sse",
            "response_format": "TEXT",
            "idle_timeout_seconds": 90,
            "max_event_bytes": 4096,
            "reconnect": ReconnectConfig(max_reconnects=None),
            "strict_sse": True,
            "include_event_metadata": True,
        },
        SSEStream(
            data_format="text",
            idle_timeout_seconds=90,
            max_event_bytes=4096,
            reconnect=ReconnectConfig(max_reconnects=None),
            strict=True,
            include_event_metadata=True,
        ),
    ),
    "sse without reconnects": (
        {"stream_type": "sse", "reconnect": None},
        SSEStream(reconnect=None),
    ),
    "sse by defaults": ({"stream_type": "sse"}, SSEStream()),
}


@pytest.mark.parametrize("name", list(FLAT_AND_GROUPED))
def test_the_flat_options_build_the_spec_the_grouped_ones_do(name):
    flat, grouped = FLAT_AND_GROUPED[name]
    spelled_flat = HTTPSource(URL, data_path="data", **flat)
    spelled_grouped = HTTPSource(URL, data_path="data", stream=grouped)
    assert spelled_flat.spec == spelled_grouped.spec
    assert spelled_flat.spec.stream == grouped
    assert spelled_flat.stream_kind == spelled_grouped.stream_kind


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"stream": "sse"}, "stream"),
        ({"stream": PollStream(interval_seconds=5), "since_param": "since"}, "since_param"),
        (
            {"stream": PollStream(interval_seconds=5), "poll_interval_seconds": 1},
            "poll_interval_seconds",
        ),
        ({"stream": SSEStream(), "stream_type": "sse"}, "stream_type"),
        ({"stream": SSEStream(), "strict_sse": True}, "strict_sse"),
        ({"stream": SSEStream(), "response_format": "text"}, "response_format"),
        ({"stream": SSEStream(), "pagination": "offset"}, "pagination"),
        ({"stream": SSEStream(), "body": {"q": 1}}, "body"),
    ],
)
def test_grouped_stream_options_are_checked_too(options, option):
    with pytest.raises(ConfigError) as info:
        HTTPSource(URL, **options)
    assert info.value.option == option


def test_a_flat_option_given_its_default_beside_stream_is_no_conflict():
    grouped = PollStream(interval_seconds=5)
    source = HTTPSource(URL, stream=grouped, dedupe_key=None, conditional_requests=True)
    assert source.spec.stream == grouped


def test_a_processor_runs_a_spec_as_it_runs_a_source(serve_events, tmp_path):
    source = HTTPSource(serve_events, stream=PollStream(interval_seconds=0.05))
    received: list[Any] = []
    processor = StreamProcessor(StreamConfig(checkpoint_dir=tmp_path, batch_interval_seconds=None))
    query = processor.from_source(source.spec, name="spec").limit(3).foreach(received.append)
    query.start()
    assert query.await_termination(timeout=20)
    assert [r["id"] for r in received] == [1, 2, 3]
    assert query.position is not None and query.position["kind"] == "poll"


# -- choices are Literal types -------------------------------------------------------------


def test_the_literal_choices_are_the_ones_the_checks_accept():
    assert get_args(DriftPolicy) == DRIFT_POLICIES
    assert set(get_args(PaginationStyle)) == {config.style for config in PAGINATORS}
    assert get_args(SSEFormat) == SSE_FORMATS
    assert set(get_args(StreamKind)) == {"poll", "sse"}
    for name in get_args(ResponseFormat):
        if name == "text":  # an SSE source's event format, SSEStream(data_format="text")
            assert name in SSE_FORMATS
        else:
            validate_response_format(name)
    for name in get_args(BodyFormatName):
        body_format_option(name, None, None)


# -- who types sources how -----------------------------------------------------------------


def test_runners_type_their_sources_and_sinks():
    untyped = []
    for package in ("streaming", "spark", "cli"):
        for path in sorted((SRC / package).rglob("*.py")):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.arg) and node.arg in ("source", "spec", "sink"):
                    annotation = ast.unparse(node.annotation) if node.annotation else None
                    if annotation in (None, "Any"):
                        untyped.append(f"{path.relative_to(SRC)}:{node.lineno} {node.arg}")
    assert untyped == []


def test_nothing_outside_connectors_reaches_into_a_source():
    # The CLI, Spark and the stream processor use a source's public members only.
    private = []
    for package in ("streaming", "spark", "cli"):
        for path in sorted((SRC / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id in ("source", "spec", "sink", "run")
                    and node.attr.startswith("_")
                ):
                    private.append(f"{path.relative_to(SRC)}:{node.lineno} .{node.attr}")
    assert private == []


def test_the_command_line_shows_progress_from_the_reads_public_hook(serve, tmp_path, monkeypatch):
    # `hiveframe read` reads through a runner over the source's spec, and its progress bar
    # is fed by the read's ReadProgress (pages as they commit), not by the source's insides.
    from hiveframe.cli import main
    from hiveframe.cli._progress import Progress

    pages = [[{"id": 1}, {"id": 2}], [{"id": 3}], []]

    def offset_pages(request):
        page = int(request.query.get("offset", "0")) // 2
        body = orjson.dumps(pages[min(page, 2)])
        return Reply(body=body, headers={"Content-Type": "application/json"})

    url = serve({"/items": offset_pages}).url("/items")
    shown: list[tuple[int, dict[str, int]]] = []
    monkeypatch.setattr(Progress, "show", lambda self, done, **counts: shown.append((done, counts)))
    out = tmp_path / "out.jsonl"
    args = ["read", url, "--pagination", "offset", "--page-size", "2", "-o", str(out), "-q"]
    assert main(args) == 0
    assert [(done, counts["pages"]) for done, counts in shown] == [(2, 1), (3, 2)]
    assert out.read_text().count("\n") == 3
