"""A pipeline file may say ``pagination = "auto"``, as a string or as a style table: the
loader and the JSON Schema accept it, and an unknown style is refused naming every style."""

from __future__ import annotations

import json

import pytest

from hiveframe.connectors import AutoPagination
from hiveframe.errors import PipelineFileError
from hiveframe.pipeline import SCHEMA_PATH, load
from hiveframe.pipeline._file import tomllib

PIPELINE = """\
[sources.a]
url = "https://api.test/a"
pagination = "auto"

[sources.b]
url = "https://api.test/b"
pagination = {{ style = "{style}", cursor_param = "after" }}

[destinations.d]
from = "a"
path = "a.jsonl"
"""


def test_auto_as_a_string_and_as_a_table(tmp_path):
    path = tmp_path / "pipeline.toml"
    path.write_text(PIPELINE.format(style="auto"))
    spec = load(path).spec
    assert spec.sources["a"].source.plan.pagination == AutoPagination()
    assert spec.sources["b"].source.plan.pagination == AutoPagination(cursor_param="after")
    jsonschema = pytest.importorskip("jsonschema")
    document = tomllib.loads(path.read_text())
    jsonschema.validate(document, json.loads(SCHEMA_PATH.read_text()))


def test_an_unknown_style_names_every_style(tmp_path):
    path = tmp_path / "pipeline.toml"
    path.write_text(PIPELINE.format(style="sideways"))
    with pytest.raises(PipelineFileError) as caught:
        load(path)
    assert caught.value.line == 7
    assert "'offset', 'page', 'cursor', 'link', 'next_url', 'auto'" in str(caught.value)
