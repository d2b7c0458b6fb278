"""Spark's string options, turned into the keyword arguments of ``HTTPSource``.

Spark hands a data source a flat, case-insensitive map of strings. This module only
*converts* those strings (ints, floats, booleans, JSON, comma lists, environment
references) and groups the prefixed ones (``pagination_*``, ``retry_*``,
``circuit_breaker_*``, ``auth_*``) into the objects ``HTTPSource`` takes. All validation
happens where it happens for Python callers, in ``HTTPSource``'s constructor and the config
objects it builds, so an option means the same thing, and fails the same way, on both paths.

Secrets: every option that carries one has a name matching Spark's default redaction regex
(``secret|password|token``: ``auth_token``, ``auth_password``, ``auth_client_secret``), so
Spark masks it wherever it shows options; better still, ``<name>_env=VAR`` names an
environment variable that is read where the source runs (driver and executors), so the
secret never enters the query plan. ``VAR`` itself must be a name Spark redacts
(:func:`check_env_names`): set as ``spark.executorEnv.VAR``, it is shown in Spark's UI and
event log otherwise.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, fields
from typing import Any
from urllib.parse import urlsplit

import orjson

from hiveframe._protocol.item_results import ItemResults
from hiveframe._protocol.paginators import config_class
from hiveframe._protocol.reconnect import ReconnectConfig
from hiveframe._protocol.response_policy import ResponsePolicy
from hiveframe._secrets import redact_url
from hiveframe._validate import require_int, require_seconds
from hiveframe.errors import ConfigError
from hiveframe.resilience import CircuitBreaker, RateLimiter, RetryConfig
from hiveframe.spark._json_options import item_results, response_policy

# Options of the Spark adapter itself, not of HTTPSource / HTTPSink.
SPARK_READ_OPTIONS = frozenset(
    {
        "schema",
        "num_partitions",
        "pages_per_partition",
        "partition_by",
        "max_records_per_batch",
        "replay_timeout_seconds",
    }
)
SPARK_WRITE_OPTIONS = frozenset(
    {"dead_letter", "summary_path", "row_order", "row_order_memory_bytes", "delivery_journal"}
)
SPARK_REDACTION = r"(?i)secret|password|token|access[.]?key"
"""Spark's default ``spark.redaction.regex``: the keys whose values it masks."""

# Secret-carrying options; each may instead be given as ``<name>_env``.
SECRET_OPTIONS = ("auth_token", "auth_password", "auth_client_secret")
# auth_<x> -> key <x> of HTTPSource's ``auth`` dict, except these.
_AUTH_KEYS = {"auth_type": "type", "auth_method": "auth_method"}
_AUTH_FLOATS = frozenset({"skew_seconds", "default_ttl_seconds"})
_AUTH_BOOLS = frozenset({"allow_insecure_token_url"})

# Settings whose default is None but which take a number.
_NUMBERS_DEFAULTING_TO_NONE = frozenset({"failure_rate_threshold"})

_NONE = frozenset({"none", "null"})
_TRUE = frozenset({"true", "yes", "1", "on"})
_FALSE = frozenset({"false", "no", "0", "off"})


def source_kwargs(options: Mapping[str, str]) -> dict[str, Any]:
    """``HTTPSource`` keyword arguments from Spark options (``url`` included).

    Options the Spark adapter uses itself (``schema``, ``num_partitions``) are skipped.

    Raises
    ------
    ConfigError
        An option is unknown, or its text is not of the option's type (an int, a number,
        JSON...). Values of secret options are never shown.
    """
    groups = (
        _pagination,
        _retry,
        _reconnect,
        _circuit_breaker,
        _rate_limit,
        _auth,
        _proxy,
        _parent,
    )
    return _kwargs(options, _SOURCE_SCALARS, groups, SPARK_READ_OPTIONS)


def sink_kwargs(options: Mapping[str, str]) -> dict[str, Any]:
    """``HTTPSink`` keyword arguments from Spark options (``url`` included).

    ``dead_letter`` and ``summary_path`` belong to the Spark writer and are skipped.

    Raises
    ------
    ConfigError
        As for :func:`source_kwargs`.
    """
    groups = (_retry, _circuit_breaker, _rate_limit, _auth, _proxy)
    return _kwargs(options, _SINK_SCALARS, groups, SPARK_WRITE_OPTIONS)


def _kwargs(
    options: Mapping[str, str],
    scalars: Mapping[str, Converter],
    groups: tuple[Callable[[Mapping[str, str]], Group], ...],
    adapter_options: frozenset[str],
) -> dict[str, Any]:
    opts = {k.lower(): v for k, v in options.items()}
    kwargs: dict[str, Any] = {"url": _url(opts)}
    handled = {"url", "path", *adapter_options}
    for name in opts.keys() & scalars.keys():
        kwargs[name] = scalars[name](name, opts[name])
        handled.add(name)
    for group in groups:
        used, value = group(opts)
        handled |= used
        kwargs.update(value)
    unknown = sorted(opts.keys() - handled)
    if unknown:
        raise ConfigError(unknown[0], None, "is not an option of the hiveframe.http data source")
    return kwargs


# -- scalar conversions --------------------------------------------------------------------


def parse_int(option: str, text: str) -> int:
    """An integer option."""
    try:
        return int(text.strip())
    except ValueError:
        raise ConfigError(option, text, "expected an integer") from None


def parse_float(option: str, text: str, *, nullable: bool = False) -> float | None:
    """A number option; ``none`` means None (no limit) where ``nullable``."""
    if nullable and text.strip().lower() in _NONE:
        return None
    try:
        return float(text.strip())
    except ValueError:
        expected = "a number, or 'none'" if nullable else "a number"
        raise ConfigError(option, text, f"expected {expected}") from None


def parse_count(option: str, text: str) -> int:
    """An option counting something: an integer of at least 1."""
    return require_int(option, parse_int(option, text), minimum=1)


def parse_seconds(option: str, text: str) -> float:
    """A duration option: a finite number of seconds above 0."""
    return require_seconds(option, parse_float(option, text), positive=True)


def parse_bool(option: str, text: str) -> bool:
    """A boolean option: true/false, yes/no, on/off, 1/0."""
    lowered = text.strip().lower()
    if lowered in _TRUE or lowered in _FALSE:
        return lowered in _TRUE
    raise ConfigError(option, text, "expected true or false")


def parse_json(option: str, text: str) -> Any:
    """A JSON option (``params``, ``headers``, ``body``)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(option, text, f"expected JSON ({exc})") from None


def parse_list(text: str) -> list[str]:
    """A comma-separated list; blanks dropped."""
    return [item.strip() for item in text.split(",") if item.strip()]


def _text(option: str, text: str) -> str:
    return text


def _int_or_none(option: str, text: str) -> int | None:
    """An integer option; ``none`` means None."""
    return None if text.strip().lower() in _NONE else parse_int(option, text)


def _text_or_none(option: str, text: str) -> str | None:
    return None if text.strip().lower() in _NONE else text


def _seconds(option: str, text: str) -> float | None:
    return parse_float(option, text, nullable=True)


def _strings(option: str, text: str) -> list[str]:
    return parse_list(text)


def _ints(option: str, text: str) -> list[int]:
    return [parse_int(option, item) for item in parse_list(text)]


def _response_policy(option: str, text: str) -> ResponsePolicy:
    return response_policy(option, parse_json(option, text))


def _item_results(option: str, text: str) -> ItemResults:
    return item_results(option, parse_json(option, text))


def _verify(option: str, text: str) -> bool | str:
    lowered = text.strip().lower()
    return lowered in _TRUE if lowered in _TRUE | _FALSE else text


Converter = Callable[[str, str], Any]

_SHARED_SCALARS: dict[str, Converter] = {
    "method": _text,
    "headers": parse_json,
    "timeout_seconds": _seconds,
    "verify": _verify,
    "secret_headers": _strings,
    "secret_params": _strings,
    "response_policy": _response_policy,
}
_SOURCE_SCALARS: dict[str, Converter] = {
    **_SHARED_SCALARS,
    "params": parse_json,
    "body": parse_json,
    "response_format": _text,
    "data_path": _text,
    "page_size": parse_int,
    "max_pages": _int_or_none,  # none lifts the default page cap, as max_pages=None
    "max_body_bytes": parse_int,
    "connect_timeout_seconds": parse_float,
    "deadline_seconds": _seconds,
    "allowed_hosts": _strings,
    "block_private_networks": parse_bool,
    "concurrency": parse_int,
    "schema_drift": _text,
    # streaming (spark.readStream)
    "poll_interval_seconds": _seconds,
    "stream_type": _text,
    "since_param": _text,
    "since_field": _text,
    "since_path": _text,
    "dedupe_key": _text,
    "dedupe_window": parse_int,
    "conditional_requests": parse_bool,
    "idle_timeout_seconds": parse_float,
    "max_event_bytes": parse_int,
    "strict_sse": parse_bool,
    "include_event_metadata": parse_bool,
}
_SINK_SCALARS: dict[str, Converter] = {
    **_SHARED_SCALARS,
    "batch_size": parse_int,
    "max_batch_bytes": parse_int,
    "max_in_flight": parse_int,
    "body_format": _text,
    "envelope": _text,
    "ordered": parse_bool,
    "idempotency_header": _text_or_none,
    "success_statuses": _ints,
    "item_results": _item_results,
}


def _url(opts: Mapping[str, str]) -> str:
    url = opts.get("url", opts.get("path"))
    if url is None:
        raise ConfigError("url", None, "set the url option (or pass the URL to load())")
    return url


# -- option groups -------------------------------------------------------------------------
# Each returns (the option names it used, the HTTPSource kwargs it made).

Group = tuple[set[str], dict[str, Any]]


def _prefixed(opts: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {k[len(prefix) :]: v for k, v in opts.items() if k.startswith(prefix)}


def _pagination(opts: Mapping[str, str]) -> Group:
    settings = _prefixed(opts, "pagination_")
    used = {f"pagination_{k}" for k in settings} | ({"pagination"} & opts.keys())
    style = opts.get("pagination")
    if style is None:
        if settings:
            raise ConfigError(
                f"pagination_{sorted(settings)[0]}", None, "needs the pagination option"
            )
        return used, {}
    if not settings:
        return used, {"pagination": style}  # HTTPSource resolves (and validates) the style
    cls = config_class(style)
    if cls is None:
        return used, {"pagination": style}  # the constructor names the bad style
    known = {f.name: f for f in fields(cls) if f.init}
    kwargs: dict[str, Any] = {}
    for key, text in settings.items():
        found = known.get(key)
        if found is None or key == "page_size":
            raise ConfigError(
                f"pagination_{key}", text, f"is not a setting of {style!r} pagination"
            )
        kwargs[key] = _typed_like(f"pagination_{key}", text, found.default)
    return used, {"pagination": cls(**kwargs)}


def _retry(opts: Mapping[str, str]) -> Group:
    settings = _prefixed(opts, "retry_")
    used = {f"retry_{k}" for k in settings} | ({"retry"} & opts.keys())
    if "retry" in opts and not parse_bool("retry", opts["retry"]):
        if settings:
            raise ConfigError("retry", opts["retry"], "retries are off; drop the retry_* options")
        return used, {"retry": None}
    if not settings:
        return used, {}
    known = {f.name: f for f in fields(RetryConfig)}
    kwargs: dict[str, Any] = {}
    for key, text in settings.items():
        name = key if key in known else f"retry_{key}"  # retry_statuses, retry_methods
        if name not in known:
            raise ConfigError(f"retry_{key}", text, "is not a RetryConfig setting")
        kwargs[name] = _typed_like(f"retry_{key}", text, _default(known[name]))
    return used, {"retry": RetryConfig(**kwargs)}


def _reconnect(opts: Mapping[str, str]) -> Group:
    settings = _prefixed(opts, "reconnect_")
    used = {f"reconnect_{k}" for k in settings} | ({"reconnect"} & opts.keys())
    if "reconnect" in opts and not parse_bool("reconnect", opts["reconnect"]):
        if settings:
            raise ConfigError(
                "reconnect", opts["reconnect"], "is off; drop the reconnect_* options"
            )
        return used, {"reconnect": None}
    if not settings:
        return used, {}
    known = {f.name: f for f in fields(ReconnectConfig)}
    kwargs: dict[str, Any] = {}
    for key, text in settings.items():
        if key not in known:
            raise ConfigError(f"reconnect_{key}", text, "is not a ReconnectConfig setting")
        kwargs[key] = _typed_like(f"reconnect_{key}", text, _default(known[key]))
    return used, {"reconnect": ReconnectConfig(**kwargs)}


def _default(setting: Field[Any]) -> Any:
    if setting.default_factory is not MISSING:
        return setting.default_factory()
    return setting.default


def _circuit_breaker(opts: Mapping[str, str]) -> Group:
    settings = _prefixed(opts, "circuit_breaker_")
    if not settings:
        return set(), {}
    params = inspect.signature(CircuitBreaker).parameters
    kwargs: dict[str, Any] = {}
    for key, text in settings.items():
        param = params.get(key)
        if param is None or key in ("clock", "is_failure"):
            raise ConfigError(f"circuit_breaker_{key}", text, "is not a CircuitBreaker setting")
        default = 0.0 if key in _NUMBERS_DEFAULTING_TO_NONE else param.default
        kwargs[key] = _typed_like(f"circuit_breaker_{key}", text, default)
    used = {f"circuit_breaker_{k}" for k in settings}
    return used, {"circuit_breaker": CircuitBreaker(**kwargs)}


def _rate_limit(opts: Mapping[str, str]) -> Group:
    if "rate_limit" not in opts:
        if "rate_limit_burst" in opts:
            raise ConfigError("rate_limit_burst", opts["rate_limit_burst"], "needs rate_limit")
        return set(), {}
    rate = parse_float("rate_limit", opts["rate_limit"], nullable=True)
    if rate is None or "rate_limit_burst" not in opts:
        return {"rate_limit"}, {"rate_limit": rate}
    burst = parse_int("rate_limit_burst", opts["rate_limit_burst"])
    return {"rate_limit", "rate_limit_burst"}, {"rate_limit": RateLimiter(rate, burst=burst)}


def _auth(opts: Mapping[str, str]) -> Group:
    settings = {k: v for k, v in opts.items() if k.startswith("auth_")}
    if not settings:
        return set(), {}
    if "auth_type" not in settings:
        raise ConfigError("auth_type", None, "set auth_type to use the auth_* options")
    auth: dict[str, Any] = {}
    for given, text in settings.items():
        option, value = given, text
        if given.endswith("_env") and given[: -len("_env")] in SECRET_OPTIONS:
            option = given[: -len("_env")]
            if option in settings:
                raise ConfigError(given, text, f"give either {option} or {given}, not both")
            value = read_env(given, text)
        key = _AUTH_KEYS.get(option, option[len("auth_") :])
        if key in _AUTH_FLOATS:
            auth[key] = parse_float(option, value)
        elif key in _AUTH_BOOLS:
            auth[key] = parse_bool(option, value)
        else:
            auth[key] = value
    if auth["type"] == "api_key" and "token" in auth:
        auth["value"] = auth.pop("token")  # the key travels under the redacted name
    return set(settings), {"auth": auth}


def _proxy(opts: Mapping[str, str]) -> Group:
    """``proxy`` (a URL without credentials, or ``none``) or ``proxy_env`` (a variable
    holding the URL, credentials and all, read where the requests are made)."""
    given = {"proxy", "proxy_env"} & opts.keys()
    if not given:
        return set(), {}
    if len(given) == 2:
        raise ConfigError("proxy_env", opts["proxy_env"], "give either proxy or proxy_env")
    if "proxy_env" in opts:
        return given, {"proxy": read_env("proxy_env", opts["proxy_env"])}
    text = opts["proxy"]
    if text.strip().lower() in _NONE:
        return given, {"proxy": None}
    if "@" in urlsplit(text if "://" in text else f"http://{text}").netloc:
        reason = (
            "proxy credentials would show in Spark's plans and UI: put the proxy URL in an "
            "environment variable and name it with proxy_env"
        )
        raise ConfigError("proxy", redact_url(text), reason)
    return given, {"proxy": text}


# parent_<setting> -> the setting of Parent(...); every other parent_<option> is an option of
# the parent source.
_PARENT_SETTINGS = {
    "parent_fields": "fields",
    "parent_on_child_error": "on_child_error",
    "parent_dead_letter": "dead_letter",
}


def _parent(opts: Mapping[str, str]) -> Group:
    """``parent_url`` and ``parent_<option>``: the parent source of a child source, read with
    the same ``auth_*`` options unless ``parent_auth_type`` is given (and the same proxy
    unless ``parent_proxy`` or ``parent_proxy_env`` is)."""
    given = {k: v for k, v in opts.items() if k.startswith("parent_")}
    if not given:
        return set(), {}
    from hiveframe.connectors import HTTPSource, Parent

    options = {k[len("parent_") :]: v for k, v in given.items() if k not in _PARENT_SETTINGS}
    if "url" not in options:
        raise ConfigError("parent_url", None, f"{sorted(given)[0]} needs the parent's URL")
    adapter = sorted(options.keys() & SPARK_READ_OPTIONS)
    if adapter:
        raise ConfigError(f"parent_{adapter[0]}", None, "is not an option of a parent source")
    if "auth_type" not in options:
        options.update({k: v for k, v in opts.items() if k.startswith("auth_")})
    if not {"proxy", "proxy_env"} & options.keys():
        options.update({k: v for k, v in opts.items() if k in ("proxy", "proxy_env")})
    try:
        kwargs = source_kwargs(options)
        source = HTTPSource(kwargs.pop("url"), **kwargs)
    except ConfigError as exc:
        raise ConfigError(f"parent_{exc.option}", exc.value, exc.reason) from None
    settings: dict[str, Any] = {
        name: given[option] for option, name in _PARENT_SETTINGS.items() if option in given
    }
    if "fields" in settings:
        settings["fields"] = parse_json("parent_fields", settings["fields"])
    return set(given), {"parent": Parent(source, **settings)}


def read_env(option: str, variable: str) -> str:
    """The value of the environment variable an ``*_env`` option names."""
    value = os.environ.get(variable.strip())
    if not value:
        raise ConfigError(
            option,
            variable,
            "names an environment variable that is not set here (on Spark it must be set "
            "on the driver and on every executor)",
        )
    return value


_PARENTS = re.compile(r"^(parent_)+")  # a parent's (or grandparent's) option
# The word each secret's variable name could end in, so that Spark redacts it.
_ENV_SUFFIXES = {
    "auth_token": "TOKEN",
    "auth_password": "PASSWORD",
    "auth_client_secret": "SECRET",
    "proxy": "PASSWORD",
}


def check_env_names(options: Mapping[str, str], redaction: str | None) -> None:
    """Refuse an ``*_env`` option naming a variable whose value Spark would show.

    Executors get a variable from ``spark.executorEnv.VAR``, and Spark lists that setting
    in its UI (Environment page) and event log, masking the value only when the key
    matches ``spark.redaction.regex``.

    Parameters
    ----------
    options
        The data source's options, lower-case names.
    redaction
        The session's ``spark.redaction.regex``; None for Spark's default.

    Raises
    ------
    ConfigError
        Naming the option and the variable, with a name Spark would redact; or naming
        ``spark.redaction.regex`` if Python cannot compile it.
    """
    text = SPARK_REDACTION if redaction is None else redaction
    try:
        pattern = re.compile(text)
    except re.error as exc:
        reason = f"HiveFrame cannot check *_env variable names against it ({exc})"
        raise ConfigError("spark.redaction.regex", text, reason) from None
    for given, value in options.items():  # auth_token_env, parent_auth_token_env...
        option = _PARENTS.sub("", given)
        suffix = _ENV_SUFFIXES.get(option.removesuffix("_env"))
        variable = value.strip()
        if suffix is None or not option.endswith("_env") or not variable:
            continue
        if not pattern.search(f"spark.executorEnv.{variable}"):
            raise ConfigError(given, variable, _unmasked(variable, suffix, pattern))


def _unmasked(variable: str, suffix: str, pattern: re.Pattern[str]) -> str:
    suffixes = (suffix, *(s for s in _ENV_SUFFIXES.values() if s != suffix))
    names = (f"{variable}_{s}" for s in suffixes)
    fitting = [n for n in names if pattern.search(f"spark.executorEnv.{n}")]
    rename = f"e.g. {fitting[0]}" if fitting else "so that spark.redaction.regex matches it"
    return (
        f"Spark would show spark.executorEnv.{variable} unmasked in its UI and event log "
        f"(spark.redaction.regex {pattern.pattern!r} does not match it): rename the "
        f"variable, {rename}"
    )


def _typed_like(option: str, text: str, default: Any) -> Any:
    """Convert ``text`` to the type of a setting's default value.

    Numbers accept ``none`` too; the config object decides whether None is allowed.
    """
    if isinstance(default, bool):
        return parse_bool(option, text)
    if isinstance(default, int):
        return _int_or_none(option, text)
    if isinstance(default, float):
        return parse_float(option, text, nullable=True)
    if isinstance(default, frozenset | set):
        items = parse_list(text)
        numeric = bool(default) and all(isinstance(v, int) for v in default)
        return frozenset(parse_int(option, i) for i in items) if numeric else frozenset(items)
    return None if text.strip().lower() in _NONE else text  # a name or a path
