"""Schema drift between pages: which changes of type "strict" refuses."""

from __future__ import annotations

import doctest

import pyarrow as pa
import pytest

import hiveframe._protocol.drift as drift_module
from hiveframe._protocol.drift import DriftGuard, compatible
from hiveframe.errors import SchemaDriftError


@pytest.mark.parametrize(
    ("before", "now"),
    [
        (pa.int64(), pa.int64()),
        (pa.int64(), pa.float64()),
        (pa.null(), pa.string()),
        (pa.string(), pa.null()),
        (pa.struct([("a", pa.int64())]), pa.struct([("a", pa.float64()), ("b", pa.string())])),
        (pa.list_(pa.int64()), pa.list_(pa.null())),
    ],
)
def test_compatible_changes(before, now):
    assert compatible(before, now)


@pytest.mark.parametrize(
    ("before", "now"),
    [
        (pa.int64(), pa.string()),
        (pa.struct([("a", pa.int64())]), pa.struct([("a", pa.string())])),
        (pa.list_(pa.int64()), pa.int64()),
        (pa.bool_(), pa.int64()),
    ],
)
def test_changes_of_kind(before, now):
    assert not compatible(before, now)


def test_the_guard_names_the_field_and_the_page():
    guard = DriftGuard()
    guard.check(pa.schema([("id", pa.int64()), ("price", pa.null())]), page=0)
    guard.check(pa.schema([("id", pa.int64()), ("price", pa.int64())]), page=1)
    with pytest.raises(SchemaDriftError) as info:
        guard.check(pa.schema([("id", pa.int64()), ("price", pa.string())]), page=2)
    assert (info.value.field, info.value.page) == ("price", 2)


def test_docstring_examples_run():
    results = doctest.testmod(drift_module)
    assert results.attempted > 0
    assert results.failed == 0
