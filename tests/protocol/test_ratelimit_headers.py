"""Reading the server's quota from its headers: the IETF draft's forms and the X- variants."""

from __future__ import annotations

import pytest

from hiveframe._protocol.ratelimit_headers import EPOCH_THRESHOLD, Quota, parse_quota

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param(
            {"RateLimit": '"default";r=0;t=10', "RateLimit-Policy": '"default";q=100;w=60'},
            Quota(remaining=0, reset_seconds=10, limit=100, window_seconds=60),
            id="ietf-named-policy",
        ),
        pytest.param(
            {"ratelimit": "default;r=7;t=3", "ratelimit-policy": "default;q=10;w=5"},
            Quota(remaining=7, reset_seconds=3, limit=10, window_seconds=5),
            id="ietf-token-names-lower-case",
        ),
        pytest.param(
            {"RateLimit": '"default";r=50;t=30'},
            Quota(remaining=50, reset_seconds=30),
            id="ietf-without-policy",
        ),
        pytest.param(
            {"RateLimit": "limit=100, remaining=0, reset=10"},
            Quota(remaining=0, reset_seconds=10, limit=100),
            id="ietf-dictionary-draft",
        ),
        pytest.param(
            {
                "RateLimit-Limit": "10",
                "RateLimit-Remaining": "4",
                "RateLimit-Reset": "7",
                "RateLimit-Policy": "10;w=60",
            },
            Quota(remaining=4, reset_seconds=7, limit=10, window_seconds=60),
            id="ietf-separate-fields",
        ),
        pytest.param(
            {"RateLimit-Limit": "10, 10;w=1, 50;w=60", "RateLimit-Remaining": "9"},
            None,
            id="separate-fields-without-reset-or-window",
        ),
        pytest.param(
            {
                "X-RateLimit-Limit": "5000",
                "X-RateLimit-Remaining": "4999",
                "X-RateLimit-Reset": "60",
            },
            Quota(remaining=4999, reset_seconds=60, limit=5000),
            id="x-delta-seconds",
        ),
        pytest.param(
            {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) + 3600)},
            Quota(remaining=0, reset_seconds=3600),
            id="x-epoch-seconds-github",
        ),
        pytest.param(
            {"X-Rate-Limit-Remaining": "3", "X-Rate-Limit-Reset": "1.5"},
            Quota(remaining=3, reset_seconds=1.5),
            id="x-rate-limit-spelling-decimal-reset",
        ),
        pytest.param(
            {"X-RateLimit-Remaining": "lots", "X-RateLimit-Reset": "10"},
            None,
            id="not-a-number",
        ),
        pytest.param({"Content-Type": "application/json"}, None, id="none"),
    ],
)
def test_quota_headers(headers, expected):
    assert parse_quota(headers, now=NOW) == expected


def test_a_reset_is_a_unix_time_from_the_threshold_on_and_seconds_below_it():
    below = parse_quota({"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "999999999"}, now=NOW)
    at = parse_quota(
        {"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": str(EPOCH_THRESHOLD)}, now=NOW
    )
    assert below is not None and below.reset_seconds == 999_999_999
    assert at is not None and at.reset_seconds == 0.0  # a Unix time in the past: now


def test_the_policy_that_binds_is_the_one_with_the_fewest_requests_left():
    headers = {
        "RateLimit": '"burst";r=0;t=1, "daily";r=400;t=80000',
        "RateLimit-Policy": '"burst";q=10;w=1, "daily";q=1000;w=86400',
    }
    assert parse_quota(headers, now=NOW) == Quota(0, 1, limit=10, window_seconds=1)
    headers["RateLimit"] = '"burst";r=9;t=1, "daily";r=2;t=80000'
    assert parse_quota(headers, now=NOW) == Quota(2, 80000, limit=1000, window_seconds=86400)


def test_a_policy_reset_missing_is_the_window():
    headers = {"RateLimit": '"p";r=0', "RateLimit-Policy": '"p";q=5;w=30'}
    assert parse_quota(headers, now=NOW) == Quota(0, 30, limit=5, window_seconds=30)


def test_the_ietf_field_wins_over_the_x_variants():
    headers = {"RateLimit": '"d";r=1;t=2', "X-RateLimit-Remaining": "99", "X-RateLimit-Reset": "9"}
    assert parse_quota(headers, now=NOW) == Quota(1, 2)
