"""Per-item outcomes in a sink's response: failed positions, per-record statuses, messages."""

from __future__ import annotations

import pytest

from hiveframe._protocol.item_results import (
    ItemFailure,
    ItemResults,
    item_failures,
    item_results_from_option,
)
from hiveframe.errors import ConfigError

POSITIONS = ItemResults(failed="errors[*].index", message="errors[*].message")
STATUSES = ItemResults(status="results[*].status", message="results[*].error")


def test_failed_positions_with_their_messages():
    report = {"errors": [{"index": 3, "message": "bad email"}, {"index": 0, "message": "dup"}]}
    assert item_failures(POSITIONS, report, 5) == [
        ItemFailure(0, None, "dup"),
        ItemFailure(3, None, "bad email"),
    ]


def test_no_errors_is_no_failure_and_a_missing_message_says_so():
    assert item_failures(POSITIONS, {"errors": []}, 5) == []
    plain = ItemResults(failed="failed[*]")
    assert item_failures(plain, {"failed": [1, 1]}, 2) == [
        ItemFailure(1, None, "refused by the server")
    ]


def test_one_status_per_record():
    report = {
        "results": [
            {"status": 201},
            {"status": 400, "error": "missing field 'name'"},
            {"status": "ok"},
            {"status": 429},
        ]
    }
    assert item_failures(STATUSES, report, 4) == [
        ItemFailure(1, 400, "missing field 'name'"),
        ItemFailure(3, 429, "item status 429"),
    ]


def test_ok_statuses_can_be_named():
    results = ItemResults(status="items[*].result", ok={"indexed"})
    report = {"items": [{"result": "indexed"}, {"result": "rejected"}]}
    assert [f.position for f in item_failures(results, report, 2)] == [1]


@pytest.mark.parametrize(
    ("results", "report", "count", "says"),
    [
        (POSITIONS, {"status": "ok"}, 2, "no item report"),
        (POSITIONS, {"errors": [{"index": 2}]}, 2, "record 2 of 2"),
        (POSITIONS, {"errors": [{"index": "1"}]}, 2, "not a record position"),
        (STATUSES, {"results": [{"status": 200}]}, 2, "1 statuses for 2 records"),
    ],
)
def test_a_report_that_does_not_fit_the_batch_is_an_error(results, report, count, says):
    with pytest.raises(ValueError, match=says):
        item_failures(results, report, count)


def test_which_failures_are_sent_again():
    assert not POSITIONS.retries(None)
    assert ItemResults(failed="e[*]", retry=True).retries(None)
    by_status = ItemResults(status="r[*].s", retry={429, 503})
    assert by_status.retries(429) and not by_status.retries(400)


@pytest.mark.parametrize(
    ("build", "option"),
    [
        (ItemResults, "item_results"),
        (lambda: ItemResults(failed="e[*].i", status="r[*].s"), "item_results"),
        (lambda: ItemResults(failed="errors.index"), "item_results.failed"),
        (lambda: ItemResults(status="r[*]s"), "item_results.status"),
        (lambda: ItemResults(failed="e[*].i", message="messages"), "item_results.message"),
        (lambda: item_results_from_option("errors[*].index"), "item_results"),
    ],
)
def test_bad_options_are_refused(build, option):
    with pytest.raises(ConfigError) as info:
        build()
    assert info.value.option == option
