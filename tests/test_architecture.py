"""The import graph of ``src/hiveframe``: no loops, and no arrow from a lower layer up.

Every module's imports are read with ``ast``: module-level ones, the ones inside functions
(imported late, but imported all the same) and the ones under ``if TYPE_CHECKING:`` too. A
type-only import is no less a dependency of the design than any other: the names it brings
in are what the module's signatures promise, and a loop through annotations is still a
loop a reader has to hold in their head. So none is excluded.

``from hiveframe.pkg import name`` depends on ``hiveframe.pkg.name`` when that is a
submodule, else on ``hiveframe.pkg`` itself (its ``__init__``); importing a module does
not count as depending on the packages above it. A package ``__init__`` that re-exports
lazily (a table of module names for ``__getattr__``) depends on every module it names.

``LAYERS`` lists the layers, lowest first: a module may import its own layer and the ones
below it. The same map, with what each layer needs from the ones below, is in
docs/design.md under "Layers and imports".
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "hiveframe"

LAYERS: tuple[tuple[str, ...], ...] = (
    # leaf utilities: the error types, secret names and values, option checks, lazy names
    ("hiveframe.errors", "hiveframe._secrets", "hiveframe._validate", "hiveframe._lazy"),
    # sans-I/O HTTP: pagination, decoding, SSE, OAuth2, origins, records -> Arrow
    ("hiveframe._protocol",),
    # policies that decide without I/O: retry, circuit breaker, rate limit (and quota)
    ("hiveframe.resilience",),
    # the only I/O: the wire, the session, readers, auth flows, portals
    ("hiveframe._http",),
    # the DataFrame and its writers
    ("hiveframe._frame", "hiveframe._writer"),
    # the public facade: HTTPSource, HTTPSink, their options
    ("hiveframe.connectors",),
    # StreamProcessor and its runner
    ("hiveframe.streaming",),
    # entry points: Spark, the command line, pipeline files, the demo API, the package itself
    ("hiveframe.spark", "hiveframe.cli", "hiveframe.pipeline", "hiveframe.demo", "hiveframe"),
)


def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    found = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = module_files()


def is_package(module: str) -> bool:
    return MODULES[module].name == "__init__.py"


def imports_of(module: str) -> Iterator[str]:
    """The package's modules that ``module`` imports, wherever in its text."""
    return imports_in(MODULES[module].read_text(), module, package=is_package(module))


def imports_in(text: str, module: str, *, package: bool) -> Iterator[str]:
    """What the code ``text`` of ``module`` (a package's ``__init__`` if ``package``)
    imports: module names, the package's own resolved to the module imported."""
    tree = ast.parse(text)
    home = module if package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = home.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield submodule if submodule in MODULES else base
        elif isinstance(node, ast.Constant) and package and node.value in MODULES:
            yield node.value  # a lazy re-export names its module as a string


def graph() -> dict[str, set[str]]:
    return {module: {name for name in imports_of(module) if name in MODULES} for module in MODULES}


def layer_of(module: str) -> int:
    """The layer of the longest prefix that names ``module`` or a package above it."""
    matches = [
        (len(prefix), index)
        for index, prefixes in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    assert matches, f"{module} is in no layer: add it to LAYERS and docs/design.md"
    return max(matches)[1]


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively: the components with more than one module, or one
    that imports itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges[node]:
                    loops.append(sorted(component))
    return loops


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


def test_no_import_loops():
    assert strongly_connected(graph()) == []


def test_no_module_imports_a_higher_layer():
    upward = [
        f"{module} -> {target}"
        for module, targets in graph().items()
        for target in sorted(targets)
        if layer_of(target) > layer_of(module)
    ]
    assert upward == []


@pytest.mark.parametrize(
    ("edges", "loops"),
    [
        ({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"a"}}, [["a"]]),
        ({"a": {"b"}, "b": set()}, []),
    ],
)
def test_the_loop_finder_finds_loops(edges, loops):
    assert strongly_connected(edges) == loops


def test_the_import_reader_sees_every_kind_of_import():
    text = """
from typing import TYPE_CHECKING
from hiveframe import errors
from hiveframe._http.session import Session
from . import reader
from .sse import SSEReader
from .. import _validate

if TYPE_CHECKING:
    from hiveframe.connectors import HTTPSource

def late():
    import hiveframe._protocol.decode
    from hiveframe.streaming._stream import Stream

_LAZY = {"Name": "hiveframe._frame"}
"""
    found = set(imports_in(text, "hiveframe._http.example", package=False))
    assert found >= {
        "hiveframe.errors",
        "hiveframe._http.session",
        "hiveframe._http.reader",
        "hiveframe._http.sse",
        "hiveframe._validate",
        "hiveframe.connectors",
        "hiveframe._protocol.decode",
        "hiveframe.streaming._stream",
    }
    assert "hiveframe._frame" not in found  # a string counts only in a package __init__
    in_package = set(imports_in(text, "hiveframe._http", package=True))
    assert "hiveframe._frame" in in_package
    assert "hiveframe._http.reader" in in_package  # "from . import" inside the package
