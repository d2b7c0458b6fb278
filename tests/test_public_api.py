"""Public namespaces: sorted __all__, every name importable, no heavy imports at start-up."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PUBLIC = [
    "hiveframe",
    "hiveframe.connectors",
    "hiveframe.errors",
    "hiveframe.resilience",
    "hiveframe.demo",
    "hiveframe.streaming",
    "hiveframe.spark",
]


@pytest.mark.parametrize("name", PUBLIC)
def test_all_is_sorted_and_importable(name):
    if name == "hiveframe.spark":
        pytest.importorskip("pyspark", reason="hiveframe.spark needs the 'spark' extra")
    module = importlib.import_module(name)
    assert module.__all__ == sorted(module.__all__)
    for item in module.__all__:
        assert hasattr(module, item), item


def test_import_hiveframe_does_not_import_optional_libraries():
    code = (
        "import sys, hiveframe; "
        "print(','.join(m for m in ('pyspark', 'polars', 'pandas', 'httpx') "
        "if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""


def test_spark_reads_a_source_by_either_name():
    # HTTPSource.to_spark became hiveframe.spark.read_source; to_spark names it too.
    pytest.importorskip("pyspark", reason="hiveframe.spark needs the 'spark' extra")
    import hiveframe.spark
    from hiveframe.connectors import HTTPSource

    assert hiveframe.spark.to_spark is hiveframe.spark.read_source
    assert not hasattr(HTTPSource, "to_spark")


def test_errors_timeout_error_is_a_deprecated_name_of_timeout_exception():
    from hiveframe import errors

    assert "TimeoutError" not in errors.__all__  # a star import no longer shadows the builtin
    with pytest.warns(DeprecationWarning, match="use TimeoutException"):
        assert errors.TimeoutError is errors.TimeoutException
    with pytest.warns(DeprecationWarning):
        from hiveframe.errors import TimeoutError as old
    assert old is errors.TimeoutException
    assert issubclass(errors.DeadlineExceeded, errors.TimeoutException)
    with pytest.raises(AttributeError):
        _ = errors.NoSuchError
