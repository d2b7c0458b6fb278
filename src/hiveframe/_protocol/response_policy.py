"""What a response means, decided by rules: the :class:`ResponsePolicy` of sources and sinks.

APIs do not always say what happened with the status alone: a ``200`` whose body reads
``{"status": "error"}``, a ``404`` that means "nothing for that day", a ``409`` that means
"already stored". A policy is a list of :class:`ResponseRule`, each a condition on the
status and the body and an action. Sans-I/O: :meth:`ResponsePolicy.match` looks at a
status, headers and body and returns the rule that decides, and the session acts on it.

Evaluation order:

1. The rules, in the order given. A rule matches when each condition it has holds: its
   ``status`` (a code, a range, ``"4xx"``, or several of these), its ``body_path`` and
   ``equals`` (the value at a dotted path of the JSON body), its ``body`` predicate (a
   callable on the parsed JSON body). A body condition never matches a body that is not JSON.
   The first rule that matches decides.
2. When none matches, the built-in behaviour (the default policy): a 401 refreshes an OAuth2
   token and is sent once more; a 403 fails; the statuses of ``RetryConfig.retry_statuses``
   (408, 425, 429, 500, 502, 503, 504) are retried, a 429 pausing the whole source or sink;
   any other 4xx or 5xx fails; the rest succeeds (for a sink: ``success_statuses``).

Rules see the API's answers (pages, polls, sink batches) after redirects, not the OAuth2 token
endpoint's; event streams are not judged by rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from hiveframe._protocol.data_path import MissingSegment, split_dotted_path, walk_dotted
from hiveframe.errors import ConfigError

ACTIONS: Final = ("success", "retry", "rate_limited", "refresh_auth", "ignore", "fail")
"""What a rule may decide:

- ``success``: the response is good (its records are read; a sink's batch is delivered);
- ``retry``: sent again under the ``retry`` policy, as a 503 would be; when the attempts run
  out the request fails with an error naming the rule;
- ``rate_limited``: retried like ``retry``, and every request of the source or sink waits
  (``Retry-After``, else the backoff) as after a 429;
- ``refresh_auth``: the OAuth2 token is refreshed and the request sent once more, as after a
  401; if that cannot help (no OAuth2, refreshed already) the request fails;
- ``ignore``: nothing to read in it: a read takes no records from it and ends there
  (``stop_reason="ignored"``); a sink counts the batch as delivered (``409 already stored``);
- ``fail``: the request fails at once, with an error naming the rule.
"""

RETRYING: Final = frozenset({"retry", "rate_limited"})

_ABSENT: Final = object()


def _status_set(value: object) -> frozenset[int]:
    reason = "a status (404), a range (range(500, 600)), a class ('4xx'), or a set of these"
    if value is None:
        return frozenset()
    if isinstance(value, bool):
        raise ConfigError("response_policy.status", value, reason)
    if isinstance(value, int):
        if not 100 <= value <= 599:
            raise ConfigError("response_policy.status", value, reason)
        return frozenset({value})
    if isinstance(value, range):
        return frozenset(value) & frozenset(range(100, 600))
    if isinstance(value, str):
        text = value.strip().lower()
        if len(text) == 3 and text[0] in "12345" and text[1:] == "xx":
            first = int(text[0]) * 100
            return frozenset(range(first, first + 100))
        raise ConfigError("response_policy.status", value, reason)
    if isinstance(value, Iterable):
        found: frozenset[int] = frozenset()
        for item in value:
            if isinstance(item, Iterable) and not isinstance(item, (str, range)):
                raise ConfigError("response_policy.status", value, reason)
            found |= _status_set(item)
        return found
    raise ConfigError("response_policy.status", value, reason)


@dataclass(frozen=True)
class ResponseRule:
    """One rule of a :class:`ResponsePolicy`: conditions on a response, and an action.

    Parameters
    ----------
    action
        One of :data:`ACTIONS`: ``"success"``, ``"retry"``, ``"rate_limited"``,
        ``"refresh_auth"``, ``"ignore"``, ``"fail"``.
    status
        The statuses it applies to: ``200``, ``range(500, 600)``, ``"4xx"``, or a set of
        these (``{404, 410}``). ``None``: any status.
    body_path, equals
        The value at this dotted path of the JSON body must equal ``equals``
        (``body_path="status", equals="error"``).
    body
        ``body(document) -> bool`` on the parsed JSON body; true where the rule applies.
    name
        What errors and logs call the rule; by default its conditions and action.

    Raises
    ------
    ConfigError
        An unknown action, a bad status, a path without ``equals``, a body that is not
        callable, or a rule with no condition at all.

    Example
    -------
    >>> ResponseRule("retry", status=200, body_path="status", equals="error")
    ResponseRule("status 200, body status == 'error' -> retry")
    """

    action: str
    status: Any = None
    body_path: str | None = None
    equals: Any = _ABSENT
    body: Callable[[Any], object] | None = None
    name: str | None = None
    statuses: frozenset[int] = field(init=False, repr=False, compare=False)
    path: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ConfigError("response_policy.action", self.action, f"one of {ACTIONS}")
        object.__setattr__(self, "statuses", _status_set(self.status))
        if self.status is not None and not self.statuses:
            raise ConfigError("response_policy.status", self.status, "holds no HTTP status")
        path: tuple[str, ...] = ()
        if self.body_path is not None:
            path = split_dotted_path(self.body_path, "response_policy.body_path")
            if self.equals is _ABSENT:
                reason = "a body_path needs the value expected there: equals=..."
                raise ConfigError("response_policy.body_path", self.body_path, reason)
        elif self.equals is not _ABSENT:
            raise ConfigError("response_policy.equals", self.equals, "needs a body_path")
        object.__setattr__(self, "path", path)
        if self.body is not None and not callable(self.body):
            raise ConfigError("response_policy.body", self.body, "a callable body(document)")
        if self.status is None and not path and self.body is None:
            raise ConfigError("response_policy", self.action, "a rule needs a condition")
        if self.name is None:
            object.__setattr__(self, "name", self._describe())

    @property
    def reads_body(self) -> bool:
        """Whether the rule looks at the body (and so needs it parsed)."""
        return bool(self.path) or self.body is not None

    def matches(self, status: int, document: Any) -> bool:
        """Whether the rule applies to a response with ``status`` and the parsed body
        ``document`` (:data:`NOT_JSON` when the body is not JSON).

        Raises
        ------
        Exception
            Whatever the ``body`` predicate raises.
        """
        if self.statuses and status not in self.statuses:
            return False
        if self.reads_body and document is NOT_JSON:
            return False
        if self.path:
            found = walk_dotted(document, self.path)
            if isinstance(found, MissingSegment) or found != self.equals:
                return False
        return self.body is None or bool(self.body(document))

    def _describe(self) -> str:
        parts = []
        if self.status is not None:
            parts.append(f"status {self.status!r}")
        if self.path:
            parts.append(f"body {self.body_path} == {self.equals!r}")
        if self.body is not None:
            parts.append(f"body {getattr(self.body, '__name__', 'predicate')}")
        return f"{', '.join(parts)} -> {self.action}"

    def __repr__(self) -> str:
        return f"ResponseRule({self.name!r})"


NOT_JSON: Final = object()
"""The document :meth:`ResponseRule.matches` is given for a body that is not JSON."""


class ResponsePolicy:
    """What responses mean, rule by rule, for an ``HTTPSource`` or an ``HTTPSink``.

    The first rule that matches a response decides; a response no rule matches gets the
    built-in behaviour (see :mod:`hiveframe._protocol.response_policy` for the order). The
    ``retry`` policy still says how often and how long to retry, for the rules' ``retry``
    and ``rate_limited`` too.

    Parameters
    ----------
    rules
        :class:`ResponseRule` objects, in the order they are tried.

    Example
    -------
    >>> policy = ResponsePolicy(
    ...     ResponseRule("retry", status=200, body_path="status", equals="error"),
    ...     ResponseRule("ignore", status=404),
    ... )
    >>> policy.match(404, b"not found").action
    'ignore'
    >>> policy.match(200, b'{"status": "ok"}') is None
    True
    """

    def __init__(self, *rules: ResponseRule) -> None:
        for rule in rules:
            if not isinstance(rule, ResponseRule):
                raise ConfigError("response_policy", rule, "ResponseRule objects")
        self.rules: tuple[ResponseRule, ...] = rules

    def match(self, status: int, body: bytes) -> ResponseRule | None:
        """The rule that decides what the response means, or ``None`` for the built-in
        behaviour. The body is parsed once, and only if a rule for this status reads it."""
        document: Any = _ABSENT
        for rule in self.rules:
            if rule.statuses and status not in rule.statuses:
                continue
            if rule.reads_body and document is _ABSENT:
                document = _parse(body)
            if rule.matches(status, document):
                return rule
        return None

    def __bool__(self) -> bool:
        return bool(self.rules)

    def __eq__(self, other: object) -> bool:
        # By value: a source's spec holds its policy, and compares equal after pickling.
        return isinstance(other, ResponsePolicy) and other.rules == self.rules

    def __hash__(self) -> int:
        return hash(self.rules)

    def __repr__(self) -> str:
        return f"ResponsePolicy({', '.join(map(repr, self.rules))})"


DEFAULT_RESPONSE_POLICY: Final = ResponsePolicy()
"""No rules: every response gets the built-in behaviour."""


def _parse(body: bytes) -> Any:
    try:
        return orjson.loads(body) if body else NOT_JSON
    except orjson.JSONDecodeError:
        return NOT_JSON


def response_policy_from_option(value: object) -> ResponsePolicy:
    """The ``response_policy=`` option: a :class:`ResponsePolicy`, a list of rules, or None."""
    if value is None:
        return DEFAULT_RESPONSE_POLICY
    if isinstance(value, ResponsePolicy):
        return value
    if isinstance(value, ResponseRule):
        return ResponsePolicy(value)
    if isinstance(value, (list, tuple)):
        return ResponsePolicy(*value)
    raise ConfigError("response_policy", value, "a ResponsePolicy, a list of ResponseRule, or None")
