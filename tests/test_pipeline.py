"""``hiveframe run pipeline.toml`` in subprocesses against the demo API: outputs, incremental
reruns, dry runs that send nothing, and files refused with their line and key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from hiveframe.demo._parents import children_of
from hiveframe.errors import PipelineFileError
from hiveframe.pipeline import SCHEMA_PATH, load
from hiveframe.pipeline._file import tomllib

PIPELINE = """\
[pipeline]
state_dir = "state"

[sources.orders]
url = "{base}/orders"
pagination = "offset"
page_size = 5
incremental = {{ cursor_field = "updated_at", param = "since", primary_key = "id" }}

[sources.parents]
url = "{base}/parents"
pagination = {{ style = "offset", total_path = "total" }}
page_size = 20
data_path = "parents"

[sources.children]
url = "{base}/parents/{{parent.id}}/children"
pagination = "page"
page_size = 5
parent = {{ source = "parents", fields = {{ id = "parent_id" }} }}

[transforms.slim]
from = "orders"
select = ["id", "updated_at"]
rename = {{ updated_at = "changed_at" }}

[destinations.orders_log]
from = "slim"
path = "out/orders.jsonl"

[destinations.orders_api]
from = "orders"
url = "{base}/ingest"
batch_size = 7
token_env = "INGEST_TOKEN"

[destinations.children_table]
from = "children"
path = "out/children.parquet"
"""


def hiveframe(*args: str, cwd: Path, env: dict[str, str] | None = None):
    command = [sys.executable, "-m", "hiveframe.cli", *args]
    environment = {**os.environ, "INGEST_TOKEN": "ingest-secret", **(env or {})}
    return subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=120, check=False
    )


def jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.fixture
def pipeline_file(fresh_demo, tmp_path) -> Path:
    path = tmp_path / "pipeline.toml"
    path.write_text(PIPELINE.format(base=fresh_demo.base_url))
    return path


def test_a_run_writes_every_destination_and_a_rerun_fetches_only_new_records(
    fresh_demo, pipeline_file
):
    folder = pipeline_file.parent
    first = hiveframe("run", "pipeline.toml", cwd=folder)
    assert first.returncode == 0, first.stderr

    log = jsonl(folder / "out" / "orders.jsonl")
    assert [row["id"] for row in log] == list(range(1, 21))
    assert set(log[0]) == {"id", "changed_at"}
    assert sorted(r["id"] for r in fresh_demo.ingest.records) == list(range(1, 21))
    assert {r.header("authorization") for r in fresh_demo.requests_to("/ingest")} == {
        "Bearer ingest-secret"
    }
    table = pq.read_table(folder / "out" / "children.parquet")
    assert table.num_rows == 177
    pairs = set(zip(table["id"].to_pylist(), table["parent_id"].to_pylist(), strict=True))
    assert pairs == {(c["id"], p) for p in range(1, 51) for c in children_of(p)}
    state = orjson.loads((folder / "state" / "orders.json").read_bytes())
    assert (state["cursor"], state["boundary_keys"]) == ("2026-01-01T00:09:00Z", [19, 20])
    assert "ingest-secret" not in first.stderr

    fresh_demo.orders.add([{"updated_at": "2026-01-01T00:09:00Z"}, {}])
    before = len(fresh_demo.requests_to("/orders"))
    second = hiveframe("run", "pipeline.toml", cwd=folder)
    assert second.returncode == 0, second.stderr

    rerun = fresh_demo.requests_to("/orders")[before:]
    assert {r.query.get("since") for r in rerun} == {"2026-01-01T00:09:00Z"}
    log = jsonl(folder / "out" / "orders.jsonl")
    assert [row["id"] for row in log] == [*range(1, 21), 21, 22]  # appended, once each
    assert sorted(r["id"] for r in fresh_demo.ingest.records) == list(range(1, 23))  # once
    assert pq.read_table(folder / "out" / "children.parquet").num_rows == 177  # overwritten


def test_a_failing_destination_leaves_the_state_where_it_was(fresh_demo, pipeline_file):
    folder = pipeline_file.parent
    assert hiveframe("run", "pipeline.toml", cwd=folder).returncode == 0
    saved = (folder / "state" / "orders.json").read_bytes()
    fresh_demo.orders.add([{}])
    text = pipeline_file.read_text().replace("/ingest", "/ingest?status=422")
    pipeline_file.write_text(text)

    failed = hiveframe("run", "pipeline.toml", cwd=folder)
    assert failed.returncode == 1 and "422" in failed.stderr
    assert (folder / "state" / "orders.json").read_bytes() == saved

    pipeline_file.write_text(text.replace("/ingest?status=422", "/ingest"))
    again = hiveframe("run", "pipeline.toml", cwd=folder)
    assert again.returncode == 0, again.stderr
    assert [r["id"] for r in fresh_demo.ingest.records][-1] == 21  # delivered after all


def test_a_dry_run_sends_nothing_and_says_what_a_run_would_do(fresh_demo, pipeline_file):
    folder = pipeline_file.parent
    dry = hiveframe("run", "pipeline.toml", "--dry-run", cwd=folder)
    assert dry.returncode == 0, dry.stderr
    assert fresh_demo.requests == []
    out = dry.stdout
    assert f"GET {fresh_demo.base_url}/orders?offset=0&limit=5" in out
    assert "state/orders.json does not exist yet: from the beginning" in out
    assert "once per record of source parents ({parent.id})" in out
    assert f"POST {fresh_demo.base_url}/ingest in batches of 7" in out
    assert "bearer token from $INGEST_TOKEN" in out and "ingest-secret" not in out
    assert not (folder / "out").exists() and not (folder / "state").exists()

    assert hiveframe("run", "pipeline.toml", cwd=folder).returncode == 0
    sent = len(fresh_demo.requests)
    dry = hiveframe("run", "pipeline.toml", "--dry-run", cwd=folder)
    assert len(fresh_demo.requests) == sent
    assert "since=2026-01-01T00%3A09%3A00Z" in dry.stdout
    assert "reads state/orders.json: updated_at from '2026-01-01T00:09:00Z'" in dry.stdout


def test_a_backfill_with_a_nested_cursor_sends_its_end(fresh_demo, tmp_path):
    path = tmp_path / "backfill.toml"
    path.write_text(
        f'[sources.orders]\nurl = "{fresh_demo.base_url}/orders/nested"\n'
        'pagination = "offset"\n\n[sources.orders.incremental]\n'
        'cursor_field = "meta.updated_at"\nparam = "since"\nprimary_key = "id"\n'
        "initial_value = 2026-01-01T00:00:00Z\nend_value = 2026-01-01T00:05:00Z\n"
        'end_param = "until"\n\n[destinations.out]\nfrom = "orders"\npath = "out.jsonl"\n'
    )
    dry = hiveframe("run", "backfill.toml", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "until=2026-01-01T00%3A05%3A00Z" in dry.stdout
    assert hiveframe("run", "backfill.toml", cwd=tmp_path).returncode == 0
    assert [r["id"] for r in jsonl(tmp_path / "out.jsonl")] == list(range(1, 11))
    state = orjson.loads((tmp_path / ".hiveframe/state/orders.json").read_bytes())
    assert (state["cursor_field"], state["cursor"]) == ("meta.updated_at", "2026-01-01T00:04:00Z")


# -- refused files -------------------------------------------------------------------------------

BAD = [
    (
        '[sources.a]\nurl = "https://api.test/a"\ntoken = "s3cr3t"\n',
        3,
        "sources.a.token=***: secrets are not written in pipeline files",
    ),
    (
        '[sources.a]\nurl = "https://api.test/a"\nheaders = { Authorization = "Bearer x" }\n',
        3,
        "sources.a.headers.Authorization=***: a credential is not written",
    ),
    (
        '[sources.a]\nurl = "https://api.test/a"\n\n[sources.a.auth]\ntype = "basic"\n'
        'username = "u"\npassword = "p"\n',
        7,
        "sources.a.auth.password=***",
    ),
    ('[sources.a]\nurl = "https://api.test/a"\npage_size = 0\n', 3, "sources.a.page_size=0"),
    ('[sources.a]\nurl = "https://api.test/a"\ncolour = "red"\n', 3, "not a key of sources.a"),
    (
        '[sources.a]\nurl = "https://api.test/a/{parent.id}"\nparent = "b"\n',
        3,
        "sources.a.parent='b': no such name",
    ),
    (
        '[sources.a]\nurl = "https://api.test/a/{parent.id}"\nparent = "b"\n\n'
        '[sources.b]\nurl = "https://api.test/b/{parent.id}"\nparent = "a"\n',
        None,
        "a circle",
    ),
    (
        '[sources.a]\nurl = "https://api.test/a"\ntoken_env = "HIVEFRAME_TEST_UNSET"\n',
        3,
        "names an environment variable that is not set",
    ),
    (
        '[sources.a]\nurl = "https://api.test/a"\n\n[sources.a.incremental]\n'
        'cursor_field = "t"\nparam = "since"\nbody_field = "since"\n',
        7,
        "sources.a.incremental.body_field",
    ),
    (
        '[sources.a]\nurl = "https://api.test/a"\n\n[sources.a.incremental]\n'
        'cursor_field = "t"\nend_param = "until"\n',
        6,
        "sources.a.incremental.end_param='until': sends end_value to the API",
    ),
    (
        '[sources.a]\nurl = "https://api.test/a"\n\n[sources.a.incremental]\n'
        'cursor_field = "t"\nend_value = 5\nend_param = "until"\nend_body_field = "to"\n',
        8,
        "sources.a.incremental.end_body_field='to'",
    ),
    ('[sources.a]\nurl = "https://api.test/a"\npage_size = \n', 3, "not TOML"),
]


@pytest.mark.parametrize(("text", "line", "message"), BAD)
def test_a_refused_file_names_its_line_and_key(text, line, message, tmp_path):
    path = tmp_path / "pipeline.toml"
    destination = '\n[destinations.d]\nfrom = "a"\npath = "a.jsonl"\n'
    path.write_text(text + ("" if "not TOML" in message else destination))
    with pytest.raises(PipelineFileError) as caught:
        load(path)
    assert caught.value.file == str(path)
    if line is not None:
        assert caught.value.line == line
        assert str(caught.value).startswith(f"{path}:{line}: ")
    assert message in str(caught.value)
    assert "s3cr3t" not in str(caught.value) and "Bearer x" not in str(caught.value)


def test_the_command_line_says_so_in_one_line_with_exit_code_2(tmp_path):
    (tmp_path / "pipeline.toml").write_text(BAD[0][0])
    done = hiveframe("run", "pipeline.toml", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("hiveframe: error: pipeline.toml:3: sources.a.token=***")
    assert done.stderr.count("\n") == 1 and "s3cr3t" not in done.stderr


# -- the JSON Schema -----------------------------------------------------------------------------


def test_the_schema_is_in_the_package_and_accepts_the_sample(pipeline_file):
    jsonschema = pytest.importorskip("jsonschema")
    assert SCHEMA_PATH.parent.name == "pipeline" and SCHEMA_PATH.parent.parent.name == "hiveframe"
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    document = tomllib.loads(pipeline_file.read_text())
    jsonschema.validate(document, schema)


@pytest.mark.parametrize(
    "case",
    [0, 2, 3, 4, 8, 9, 10],
    ids=["token", "password", "page_size", "unknown", "param+body", "end_param", "end_twice"],
)
def test_the_schema_refuses_what_the_loader_refuses(case):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA_PATH.read_text())
    document = tomllib.loads(BAD[case][0] + '[destinations.d]\nfrom = "a"\npath = "a.jsonl"\n')
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)
