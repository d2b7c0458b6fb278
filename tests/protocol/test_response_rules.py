"""Response policy rules: what matches, in which order, and what is refused when built."""

from __future__ import annotations

import pytest

from hiveframe._protocol.response_policy import (
    ResponsePolicy,
    ResponseRule,
    response_policy_from_option,
)
from hiveframe.errors import ConfigError

ERROR_BODY = b'{"status": "error", "detail": {"code": 7}}'


@pytest.mark.parametrize(
    ("rule", "status", "body", "matches"),
    [
        (ResponseRule("fail", status=404), 404, b"", True),
        (ResponseRule("fail", status=404), 410, b"", False),
        (ResponseRule("fail", status="4xx"), 410, b"", True),
        (ResponseRule("fail", status="5XX"), 410, b"", False),
        (ResponseRule("fail", status=range(500, 600)), 503, b"", True),
        (ResponseRule("fail", status={404, "5xx"}), 502, b"", True),
        (ResponseRule("fail", status={404, "5xx"}), 400, b"", False),
        (ResponseRule("retry", body_path="status", equals="error"), 200, ERROR_BODY, True),
        (ResponseRule("retry", body_path="status", equals="error"), 200, b'{"status": 1}', False),
        (ResponseRule("retry", body_path="status", equals="error"), 200, b"status=error", False),
        (ResponseRule("retry", body_path="detail.code", equals=7), 200, ERROR_BODY, True),
        (ResponseRule("retry", body_path="missing.code", equals=None), 200, ERROR_BODY, False),
        (
            ResponseRule("fail", body=lambda doc: doc.get("status") == "error"),
            200,
            ERROR_BODY,
            True,
        ),
        (ResponseRule("fail", body=lambda doc: True), 200, b"<html>", False),
        (
            ResponseRule("fail", status=200, body=lambda doc: "detail" in doc),
            201,
            ERROR_BODY,
            False,
        ),
    ],
)
def test_a_rule_matches_when_every_condition_holds(rule, status, body, matches):
    assert (ResponsePolicy(rule).match(status, body) is rule) is matches


def test_the_first_matching_rule_decides_and_none_leaves_the_built_in_behaviour():
    ignore_404 = ResponseRule("ignore", status=404)
    anything_4xx = ResponseRule("fail", status="4xx")
    policy = ResponsePolicy(ignore_404, anything_4xx)
    assert policy.match(404, b"") is ignore_404
    assert policy.match(400, b"") is anything_4xx
    assert policy.match(500, b"") is None


def test_the_body_is_parsed_only_for_rules_of_its_status():
    calls: list[object] = []
    rule = ResponseRule("fail", status=200, body=lambda doc: calls.append(doc) or False)
    policy = ResponsePolicy(rule)
    assert policy.match(500, b"not json") is None
    assert calls == []
    assert policy.match(200, b'{"a": 1}') is None
    assert calls == [{"a": 1}]


def test_rules_have_a_name_for_errors():
    assert ResponseRule("retry", status=200, body_path="status", equals="error").name == (
        "status 200, body status == 'error' -> retry"
    )
    assert ResponseRule("fail", status=404, name="gone").name == "gone"


@pytest.mark.parametrize(
    ("build", "option"),
    [
        (lambda: ResponseRule("explode", status=500), "response_policy.action"),
        (lambda: ResponseRule("fail", status=700), "response_policy.status"),
        (lambda: ResponseRule("fail", status="4xy"), "response_policy.status"),
        (lambda: ResponseRule("fail", status=True), "response_policy.status"),
        (lambda: ResponseRule("fail", status=range(700, 800)), "response_policy.status"),
        (lambda: ResponseRule("fail", body_path="status"), "response_policy.body_path"),
        (lambda: ResponseRule("fail", equals="error"), "response_policy.equals"),
        (lambda: ResponseRule("fail", body_path="a..b", equals=1), "response_policy.body_path"),
        (lambda: ResponseRule("fail", body="status == 'error'"), "response_policy.body"),
        (lambda: ResponseRule("fail"), "response_policy"),
        (lambda: ResponsePolicy("fail on 500"), "response_policy"),
        (lambda: response_policy_from_option({"status": 500}), "response_policy"),
    ],
)
def test_a_bad_rule_is_refused_when_built(build, option):
    with pytest.raises(ConfigError) as info:
        build()
    assert info.value.option == option


def test_the_option_takes_a_policy_a_rule_a_list_or_none():
    rule = ResponseRule("ignore", status=404)
    policy = ResponsePolicy(rule)
    assert response_policy_from_option(policy) is policy
    assert response_policy_from_option(rule).rules == (rule,)
    assert response_policy_from_option([rule]).rules == (rule,)
    assert response_policy_from_option(None).rules == ()
