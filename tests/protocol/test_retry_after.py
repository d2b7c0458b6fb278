"""Retry-After parsing (RFC 9110 §10.2.3; docs/reliability.md test 2). Pure: ``now`` is given."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from hiveframe._protocol.retry_after import parse_retry_after

NOW_DT = datetime(2024, 3, 10, 12, 0, 0, tzinfo=timezone.utc)
NOW = NOW_DT.timestamp()


def imf_fixdate(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("120", 120.0), ("0", 0.0), ("1.5", 1.5), ("  7 ", 7.0), ("0086400", 86400.0)],
)
def test_delay_seconds(value: str, seconds: float) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


def test_imf_fixdate_ahead() -> None:
    value = imf_fixdate(NOW_DT + timedelta(seconds=3))
    assert value.endswith("GMT")
    assert parse_retry_after(value, now=NOW) == pytest.approx(3.0)


def test_fractional_now_is_respected() -> None:
    value = imf_fixdate(NOW_DT + timedelta(seconds=3))
    assert parse_retry_after(value, now=NOW + 0.25) == pytest.approx(2.75)


def test_obsolete_rfc850_date() -> None:
    assert parse_retry_after("Sunday, 10-Mar-24 12:00:30 GMT", now=NOW) == pytest.approx(30.0)


def test_obsolete_asctime_date_is_read_as_gmt() -> None:
    assert parse_retry_after("Sun Mar 10 12:01:00 2024", now=NOW) == pytest.approx(60.0)


def test_numeric_zone_is_honoured() -> None:
    # Not valid HTTP-date, but unambiguous: 14:00:10 at +02:00 is 12:00:10 GMT.
    assert parse_retry_after("Sun, 10 Mar 2024 14:00:10 +0200", now=NOW) == pytest.approx(10.0)


@pytest.mark.parametrize(
    "value",
    [
        imf_fixdate(NOW_DT - timedelta(hours=1)),
        "Sun, 06 Nov 1994 08:49:37 GMT",
        imf_fixdate(NOW_DT),
    ],
)
def test_date_in_the_past_means_no_wait(value: str) -> None:
    assert parse_retry_after(value, now=NOW) == 0.0


@pytest.mark.parametrize(
    "value",
    [
        "soon",
        "",
        "   ",
        "-1",
        "+5",
        "1e3",
        "1.",
        ".5",
        "5 seconds",
        "\u0661\u0662",  # Arabic-Indic digits: not delay-seconds
        "Sun, 10 Mar 2024 25:00:00 GMT",
        "Mon, 32 Foo 2024 12:00:00 GMT",
        "9" * 200,
    ],
)
def test_garbage_is_none(value: str) -> None:
    assert parse_retry_after(value, now=NOW) is None


def test_far_future_date_is_returned_for_the_policy_to_cap() -> None:
    value = imf_fixdate(NOW_DT + timedelta(days=1))
    assert parse_retry_after(value, now=NOW) == pytest.approx(86400.0)
