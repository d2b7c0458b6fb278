"""Spark reads refuse what they do not run yet: incremental cursors and parent/child sources.

The check comes before Spark is touched, so no SparkSession is needed."""

from __future__ import annotations

import pytest

from hiveframe.connectors import HTTPSource, Incremental
from hiveframe.errors import ConfigError
from hiveframe.spark import read_source


def test_an_incremental_source_is_refused(tmp_path):
    cursor = Incremental("updated_at", param="since", state=tmp_path / "orders.json")
    source = HTTPSource("https://api.test/orders", incremental=cursor)
    with pytest.raises(ConfigError) as caught:
        read_source(source, spark=None)
    assert caught.value.option == "incremental"
    assert "not supported by Spark reads yet" in str(caught.value)
    assert not (tmp_path / "orders.json").exists()


def test_a_child_source_is_refused():
    parents = HTTPSource("https://api.test/parents")
    source = HTTPSource("https://api.test/parents/{parent.id}/children", parent=parents)
    with pytest.raises(ConfigError) as caught:
        read_source(source, spark=None)
    assert caught.value.option == "parent"
