"""A pipeline file's tables, checked and built into sources, transforms and destinations.

Every mistake is a :class:`~hiveframe.errors.PipelineFileError` naming the file, the line and
the dotted key; options are checked by the same constructors as in Python (``HTTPSource``,
``Incremental``, ``HTTPSink``), whose errors are turned into errors about the file's keys.
Secrets are never written in the file: a key that looks like one (``token``, ``password``,
``api_key``, a credential header or parameter) is refused, and ``token_env``, ``*_env`` keys
of ``auth``, ``headers_env`` and ``params_env`` name the environment variables that hold them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hiveframe._protocol.paginators import PAGINATORS, config_class
from hiveframe._secrets import is_secret_name
from hiveframe.connectors import HTTPSink, HTTPSource, Incremental, Parent
from hiveframe.errors import ConfigError
from hiveframe.pipeline._file import PipelineFile

__all__ = ["DEFAULT_STATE_DIR", "Destination", "FileTarget", "Spec", "SourceEntry", "Transform"]

DEFAULT_STATE_DIR = ".hiveframe/state"
Key = tuple[str, ...]

_TOP = frozenset({"pipeline", "sources", "transforms", "destinations"})
_PIPELINE = frozenset({"name", "state_dir"})
_SOURCE_OPTIONS = frozenset(
    {
        "url",
        "method",
        "params",
        "headers",
        "body",
        "pagination",
        "page_size",
        "max_pages",
        "response_format",
        "data_path",
        "timeout_seconds",
        "connect_timeout_seconds",
        "deadline_seconds",
        "concurrency",
        "rate_limit",
        "max_body_bytes",
        "verify",
        "allowed_hosts",
        "secret_headers",
        "secret_params",
        "schema_drift",
    }
)
_CREDENTIALS = frozenset({"token_env", "auth", "headers_env"})
_SOURCE = _SOURCE_OPTIONS | _CREDENTIALS | {"params_env", "incremental", "parent"}
_INCREMENTAL = frozenset(
    {
        "cursor_field",
        "param",
        "body_field",
        "initial_value",
        "end_value",
        "end_param",
        "end_body_field",
        "state",
        "primary_key",
        "cursor_type",
    }
)
_PARENT = frozenset({"source", "fields", "on_child_error", "dead_letter"})
_TRANSFORM = frozenset({"from", "select", "rename"})
_FILE_TARGET = frozenset({"from", "path", "mode"})
_SINK_OPTIONS = frozenset(
    {
        "url",
        "method",
        "batch_size",
        "max_batch_bytes",
        "body_format",
        "envelope",
        "headers",
        "timeout_seconds",
        "max_in_flight",
        "ordered",
        "idempotency_header",
        "dead_letter",
        "verify",
        "secret_headers",
        "secret_params",
    }
)
_HTTP_TARGET = _SINK_OPTIONS | _CREDENTIALS | {"from"}
_FORMATS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_AUTH = {
    "bearer": frozenset({"token"}),
    "basic": frozenset({"username", "password"}),
    "api_key": frozenset({"name", "in", "value"}),
    "oauth2": frozenset({"token_url", "client_id", "client_secret", "scope", "auth_method"}),
}
_AUTH_SECRETS = frozenset({"token", "password", "value", "client_secret"})


@dataclass(frozen=True)
class SourceEntry:
    """A source of the file, built; ``notes`` say where its credentials come from."""

    name: str
    source: HTTPSource
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Transform:
    """Columns kept (``select``, in that order; all when None), then renamed."""

    name: str
    origin: str
    select: tuple[str, ...] | None
    rename: Mapping[str, str]


@dataclass(frozen=True)
class FileTarget:
    """A file destination: ``kind`` from the suffix, ``mode`` ``"append"`` or ``"overwrite"``."""

    path: Path
    kind: str
    mode: str


@dataclass(frozen=True)
class Destination:
    """Where the records of ``origin`` (a source or a transform) go: a file or an HTTP sink."""

    name: str
    origin: str
    file: FileTarget | None = None
    sink: HTTPSink | None = None
    notes: tuple[str, ...] = ()


@dataclass
class Spec:
    """Everything a pipeline file describes, checked and built (nothing read or sent)."""

    file: PipelineFile
    sources: dict[str, SourceEntry] = field(default_factory=dict)
    transforms: dict[str, Transform] = field(default_factory=dict)
    destinations: dict[str, Destination] = field(default_factory=dict)

    @classmethod
    def load(cls, file: PipelineFile) -> Spec:
        """Check every table of ``file`` and build what it describes.

        Raises
        ------
        PipelineFileError
            The first mistake, with the file, the line and the key.
        """
        spec = cls(file)
        data = file.data
        _known(file, (), data, _TOP, "a pipeline file")
        settings = _table(file, ("pipeline",), data.get("pipeline", {}))
        _known(file, ("pipeline",), settings, _PIPELINE, "[pipeline]")
        state_dir = file.resolve(
            _text(file, ("pipeline", "state_dir"), settings, DEFAULT_STATE_DIR)
        )
        sources = _tables(file, "sources", data)
        transforms = _tables(file, "transforms", data)
        destinations = _tables(file, "destinations", data)
        if not sources:
            raise file.error(("sources",), None, "the file needs at least one source")
        for name in _ordered(file, "sources", sources, _parent_name):
            entry = _source(file, name, sources[name], state_dir, spec.sources)
            spec.sources[name] = entry
        spec.sources = {name: spec.sources[name] for name in sources}  # the file's order
        names = set(spec.sources)
        for name in _ordered(file, "transforms", transforms, lambda t: t.get("from"), names):
            spec.transforms[name] = _transform(
                file, name, transforms[name], names | set(spec.transforms)
            )
        origins = names | set(spec.transforms)
        if not destinations:
            raise file.error(("destinations",), None, "the file needs at least one destination")
        for name, table in destinations.items():
            spec.destinations[name] = _destination(file, name, table, origins)
        spec._check_roles()
        return spec

    def root(self, origin: str) -> str:
        """The source a source or transform reads from."""
        while origin in self.transforms:
            origin = self.transforms[origin].origin
        return origin

    def chain(self, origin: str) -> list[Transform]:
        """The transforms from the source to ``origin``, first applied first."""
        chain = []
        while origin in self.transforms:
            chain.append(self.transforms[origin])
            origin = self.transforms[origin].origin
        return chain[::-1]

    def _check_roles(self) -> None:
        # An incremental source that is both written somewhere and the parent of another
        # would be read twice per run with one state file: its two reads could save
        # different cursors, and one of them would skip records the other never delivered.
        written = {self.root(d.origin) for d in self.destinations.values()}
        for name, entry in self.sources.items():
            fanout = entry.source.spec.fanout
            if fanout is None:
                continue
            parent = next(n for n, e in self.sources.items() if e.source.spec is fanout.parent)
            if parent in written and fanout.parent.incremental is not None:
                raise self.file.error(
                    ("sources", name, "parent"),
                    parent,
                    f"sources.{parent} is written to a destination and is the parent of "
                    f"sources.{name}, with an incremental cursor: give the two roles two "
                    "sources, with state files of their own",
                )


# -- sources ----------------------------------------------------------------------------------


def _source(
    file: PipelineFile,
    name: str,
    table: dict[str, Any],
    state_dir: Path,
    built: dict[str, SourceEntry],
) -> SourceEntry:
    key = ("sources", name)
    _known(file, key, table, _SOURCE, f"sources.{name}")
    if "url" not in table:
        raise file.error((*key, "url"), None, "every source needs a url")
    options = {option: table[option] for option in _SOURCE_OPTIONS if option in table}
    notes: list[str] = []
    options.update(_credentials(file, key, table, notes))
    if "max_pages" in table and table["max_pages"] == "none":
        options["max_pages"] = None
    if isinstance(table.get("pagination"), dict):
        options["pagination"] = _pagination(file, (*key, "pagination"), table["pagination"])
    try:
        if "incremental" in table:
            options["incremental"] = _incremental(file, key, table["incremental"], name, state_dir)
        if "parent" in table:
            options["parent"] = _parent(file, key, table["parent"], built)
        source = HTTPSource(**options)
    except ConfigError as exc:
        raise file.error((*key, *exc.option.split(".")), exc.value, exc.reason) from None
    return SourceEntry(name, source, tuple(notes))


def _parent_name(table: Mapping[str, Any]) -> Any:
    parent = table.get("parent")
    return parent.get("source") if isinstance(parent, dict) else parent


def _pagination(file: PipelineFile, key: Key, table: dict[str, Any]) -> Any:
    options = dict(table)
    style = options.pop("style", None)
    config = config_class(style) if isinstance(style, str) else None
    if config is None:
        styles = ", ".join(repr(kind.style) for kind in PAGINATORS)
        reason = f"the table needs style = one of {styles}"
        raise file.error((*key, "style"), style, reason)
    try:
        return config(**options)
    except TypeError as exc:
        raise file.error(
            key, sorted(options), f"not options of {config.__name__} ({exc})"
        ) from None
    except ConfigError as exc:
        raise file.error((*key, exc.option), exc.value, exc.reason) from None


def _incremental(
    file: PipelineFile, key: Key, value: Any, name: str, state_dir: Path
) -> Incremental:
    table = _table(file, (*key, "incremental"), value)
    _known(file, (*key, "incremental"), table, _INCREMENTAL, f"sources.{name}.incremental")
    state = table.get("state")
    path = file.resolve(state) if isinstance(state, str) else state_dir / f"{name}.json"
    return Incremental(**{**table, "state": path})


def _parent(file: PipelineFile, key: Key, value: Any, built: Mapping[str, SourceEntry]) -> Parent:
    options = _table(file, (*key, "parent"), value) if not isinstance(value, str) else {}
    _known(file, (*key, "parent"), options, _PARENT, "a parent table")
    entry = built[str(_parent_name({"parent": value}))]  # _ordered checked that it is one
    dead_letter = options.get("dead_letter")
    return Parent(
        entry.source,
        fields=options.get("fields"),
        on_child_error=options.get("on_child_error", "raise"),
        dead_letter=file.resolve(dead_letter) if isinstance(dead_letter, str) else dead_letter,
    )


def _credentials(
    file: PipelineFile, key: Key, table: Mapping[str, Any], notes: list[str]
) -> dict[str, Any]:
    """``auth``, ``headers``, ``params`` and the secret names, with secrets from the
    environment; credentials written in the file are refused."""
    options: dict[str, Any] = {}
    secret_headers = list(_names(file, (*key, "secret_headers"), table.get("secret_headers", [])))
    secret_params = list(_names(file, (*key, "secret_params"), table.get("secret_params", [])))
    for option, declared in (("headers", secret_headers), ("params", secret_params)):
        given = _table(file, (*key, option), table.get(option, {}))
        for name, text in given.items():
            if is_secret_name(name, declared):
                hint = f'{option}_env = {{ {name} = "VARIABLE" }}'
                reason = f"a credential is not written in the file: {hint}"
                raise file.error((*key, option, name), text, reason, secret=True)
        from_env = _table(file, (*key, f"{option}_env"), table.get(f"{option}_env", {}))
        for name, variable in from_env.items():
            given = {**given, name: _env(file, (*key, f"{option}_env", name), variable)}
            declared.append(name)
            notes.append(f"{option[:-1]} {name} from ${variable}")
        if option in table or from_env:
            options[option] = given
    if "secret_headers" in table or "headers_env" in table:
        options["secret_headers"] = secret_headers
    if "secret_params" in table or "params_env" in table:
        options["secret_params"] = secret_params
    if "token_env" in table:
        if "auth" in table:
            raise file.error(
                (*key, "token_env"), table["token_env"], "give token_env or auth, not both"
            )
        token = _env(file, (*key, "token_env"), table["token_env"])
        options["auth"] = {"type": "bearer", "token": token}
        notes.append(f"bearer token from ${table['token_env']}")
    elif "auth" in table:
        options["auth"] = _auth(file, (*key, "auth"), table["auth"], notes)
    return options


def _auth(file: PipelineFile, key: Key, value: Any, notes: list[str]) -> dict[str, Any]:
    table = _table(file, key, value)
    kind = table.get("type")
    if kind not in _AUTH:
        raise file.error((*key, "type"), kind, f"one of {', '.join(map(repr, _AUTH))}")
    auth: dict[str, Any] = {"type": kind}
    for name, given in table.items():
        base = name.removesuffix("_env")
        if name == "type":
            continue
        if name in _AUTH_SECRETS:
            reason = (
                f'a secret is not written in the file: {name}_env = "VARIABLE" names where it is'
            )
            raise file.error((*key, name), given, reason, secret=True)
        if base not in _AUTH[kind] or (name.endswith("_env") != (base in _AUTH_SECRETS)):
            allowed = sorted(f"{n}_env" if n in _AUTH_SECRETS else n for n in _AUTH[kind])
            raise file.error((*key, name), given, f"{kind} auth takes {', '.join(allowed)}")
        if name.endswith("_env"):
            auth[base] = _env(file, (*key, name), given)
            notes.append(f"{kind} {base} from ${given}")
        else:
            auth[name] = given
    return auth


def _env(file: PipelineFile, key: Key, variable: Any) -> str:
    if not isinstance(variable, str) or not variable.strip():
        raise file.error(key, variable, "the name of an environment variable")
    value = os.environ.get(variable.strip())
    if not value:
        raise file.error(
            key, variable, "names an environment variable that is not set (or is empty)"
        )
    return value


# -- transforms and destinations --------------------------------------------------------------


def _transform(file: PipelineFile, name: str, value: Any, origins: set[str]) -> Transform:
    key = ("transforms", name)
    table = _table(file, key, value)
    _known(file, key, table, _TRANSFORM, f"transforms.{name}")
    select = table.get("select")
    if select is not None:
        select = tuple(_names(file, (*key, "select"), select))
    rename = _table(file, (*key, "rename"), table.get("rename", {}))
    for old, new in rename.items():
        if not isinstance(new, str) or not new:
            raise file.error((*key, "rename", old), new, "the new column name")
    if select is None and not rename:
        raise file.error(key, None, "a transform has select = [...], rename = {...} or both")
    return Transform(name, _origin(file, key, table, origins), select, rename)


def _destination(file: PipelineFile, name: str, value: Any, origins: set[str]) -> Destination:
    key = ("destinations", name)
    table = _table(file, key, value)
    origin = _origin(file, key, table, origins)
    if ("path" in table) == ("url" in table):
        raise file.error(key, None, "a destination has a path (a file) or a url (an HTTP API)")
    if "path" in table:
        _known(file, key, table, _FILE_TARGET, "a file destination")
        return Destination(name, origin, file=_file_target(file, key, table))
    _known(file, key, table, _HTTP_TARGET, "an HTTP destination")
    notes: list[str] = []
    options = {option: table[option] for option in _SINK_OPTIONS if option in table}
    options.update(_credentials(file, key, table, notes))
    if isinstance(options.get("dead_letter"), str):
        options["dead_letter"] = file.resolve(options["dead_letter"])
    try:
        sink = HTTPSink(**options)
    except ConfigError as exc:
        raise file.error((*key, *exc.option.split(".")), exc.value, exc.reason) from None
    return Destination(name, origin, sink=sink, notes=tuple(notes))


def _file_target(file: PipelineFile, key: Key, table: Mapping[str, Any]) -> FileTarget:
    path = _text(file, (*key, "path"), table, "")
    kind = _FORMATS.get(Path(path).suffix.lower())
    if kind is None:
        raise file.error((*key, "path"), path, "a .parquet, .csv or .jsonl file")
    mode = table.get("mode", "overwrite" if kind == "parquet" else "append")
    if mode not in ("append", "overwrite"):
        raise file.error((*key, "mode"), mode, "'append' or 'overwrite'")
    if kind == "parquet" and mode == "append":
        reason = "a Parquet file is written whole: mode = 'overwrite', or a .jsonl or .csv file"
        raise file.error((*key, "mode"), mode, reason)
    return FileTarget(file.resolve(path), kind, mode)


def _origin(file: PipelineFile, key: Key, table: Mapping[str, Any], origins: set[str]) -> str:
    origin = table.get("from")
    if origin not in origins:
        names = ", ".join(sorted(origins))
        raise file.error((*key, "from"), origin, f"a source or transform; there are: {names}")
    return str(origin)


# -- shapes -----------------------------------------------------------------------------------


def _ordered(
    file: PipelineFile,
    section: str,
    tables: Mapping[str, Mapping[str, Any]],
    reference: Callable[[Mapping[str, Any]], Any],
    outside: Iterable[str] = (),
) -> list[str]:
    """The names of ``tables`` with each after the one it references (a parent, a
    transform's origin); references outside the section are ``outside`` names."""
    known, order, done = set(outside), [], set[str]()
    field_name = "parent" if section == "sources" else "from"

    def visit(name: str, trail: list[str]) -> None:
        if name in done:
            return
        if name in trail:
            loop = " -> ".join([*trail[trail.index(name) :], name])
            raise file.error((section, trail[-1], field_name), name, f"a circle: {loop}")
        target = reference(tables[name])
        if target is not None and target not in known:
            if target not in tables:
                names = ", ".join(sorted(set(tables) | known))
                raise file.error(
                    (section, name, field_name), target, f"no such name; there are: {names}"
                )
            visit(target, [*trail, name])
        done.add(name)
        order.append(name)

    for name in tables:
        visit(name, [])
    return order


def _tables(file: PipelineFile, section: str, data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    tables = _table(file, (section,), data.get(section, {}))
    return {name: _table(file, (section, name), table) for name, table in tables.items()}


def _table(file: PipelineFile, key: Key, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise file.error(key, value, "a table: [name] or { key = value }")
    return value


def _known(
    file: PipelineFile, key: Key, table: Mapping[str, Any], allowed: frozenset[str], what: str
) -> None:
    for name, value in table.items():
        if name in allowed:
            continue
        if is_secret_name(name) or name in _AUTH_SECRETS:
            hint = 'token_env = "API_TOKEN"' if name == "token" else f'{name}_env = "VARIABLE"'
            reason = (
                "secrets are not written in pipeline files: name the environment variable "
                f"that holds it ({hint}, or the *_env keys of auth, headers_env, params_env)"
            )
            raise file.error((*key, name), value, reason, secret=True)
        raise file.error((*key, name), value, f"not a key of {what}: {', '.join(sorted(allowed))}")


def _names(file: PipelineFile, key: Key, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise file.error(key, value, "a list of names")
    return value


def _text(file: PipelineFile, key: Key, table: Mapping[str, Any], default: str) -> str:
    value = table.get(key[-1], default)
    if not isinstance(value, str) or not value:
        raise file.error(key, value, "a non-empty string")
    return value
