"""The Spark options whose Python values are objects, spelled in JSON.

``response_policy`` is a JSON array of rules, each an object with the keyword arguments of
:class:`~hiveframe.connectors.ResponseRule`; ``item_results`` an object with those of
:class:`~hiveframe.connectors.ItemResults`. JSON has no ranges, so a status may also be
written ``"500-599"``; it has no functions, so a rule's ``body`` predicate (Python code) is
refused: Spark options are text, and text that turned into code would run whatever anyone
who can set an option (SQL users included) wrote. ``read_source`` takes an ``HTTPSource``
whose rules hold predicates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from hiveframe._protocol.item_results import ItemResults
from hiveframe._protocol.response_policy import ResponsePolicy, ResponseRule
from hiveframe.errors import ConfigError

_RANGE = re.compile(r"\s*([1-5]\d\d)\s*-\s*([1-5]\d\d)\s*")
_RULE_KEYS = ("action", "status", "body_path", "equals", "name")
_ITEM_KEYS = tuple(f.name for f in fields(ItemResults) if f.init)
_NO_CODE = (
    "a body predicate is Python code, which Spark options do not carry: match the body "
    "with body_path and equals, or read an HTTPSource with hiveframe.spark.read_source"
)


def response_policy(option: str, rules: Any) -> ResponsePolicy:
    """The policy of the JSON value ``rules``:
    ``[{"status": 200, "body_path": "status", "equals": "error", "action": "retry"}]``.

    Raises
    ------
    ConfigError
        ``option="response_policy"`` (or ``response_policy.status``...): not a list of rule
        objects, an unknown key, a ``body`` predicate, or what ``ResponseRule`` refuses.
    """
    if not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
        reason = 'a JSON array of rules: [{"status": 404, "action": "ignore"}]'
        raise ConfigError(option, rules, reason)
    return ResponsePolicy(*(_rule(option, rule) for rule in rules))


def item_results(option: str, settings: Any) -> ItemResults:
    """The item results of the JSON value ``settings``:
    ``{"failed": "errors[*].index", "message": "errors[*].message", "retry": [429]}``.

    Raises
    ------
    ConfigError
        ``option="item_results"``: not an object, an unknown key, or what ``ItemResults``
        refuses.
    """
    if not isinstance(settings, dict):
        raise ConfigError(option, settings, 'a JSON object: {"failed": "errors[*].index"}')
    _known(option, settings, _ITEM_KEYS)
    return ItemResults(**settings)


def _rule(option: str, rule: Mapping[str, Any]) -> ResponseRule:
    if "body" in rule:
        raise ConfigError(f"{option}.body", "(code)", _NO_CODE)
    _known(option, rule, _RULE_KEYS)
    settings = dict(rule)
    if "status" in settings:
        settings["status"] = _status(settings["status"])
    if "action" not in settings:
        raise ConfigError(f"{option}.action", None, "each rule needs an action")
    return ResponseRule(**settings)


def _status(value: Any) -> Any:
    """A status as ``ResponseRule`` takes it: ``"500-599"`` becomes a range."""
    if isinstance(value, list):
        return [_status(item) for item in value]
    found = _RANGE.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        return value
    return range(int(found.group(1)), int(found.group(2)) + 1)


def _known(option: str, given: Mapping[str, Any], keys: tuple[str, ...]) -> None:
    unknown = sorted(set(given) - set(keys))
    if unknown:
        raise ConfigError(f"{option}.{unknown[0]}", given[unknown[0]], f"not one of {keys}")
