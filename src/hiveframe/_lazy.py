"""Names a package exports lazily (PEP 562): each loads its module on first use.

A package keeps a table of its names and the modules that define them, and gets its module
``__getattr__`` and ``__dir__`` here, so ``import hiveframe.connectors`` costs almost nothing and
a program pays only for the modules whose names it uses (the command line's ``read`` never loads
the sink, the SSE reader or the OAuth flows).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    namespace: dict[str, Any], table: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of the package whose ``globals()`` is ``namespace``,
    loading each name of ``table`` (name -> defining module) on first use.

    Examples
    --------
    >>> namespace = {"__name__": "example", "__all__": ["Path"]}
    >>> getattr_, dir_ = lazy_exports(namespace, {"Path": "pathlib"})
    >>> getattr_("Path").__name__, "Path" in namespace
    ('Path', True)
    """
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # the next lookup is a plain global
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(namespace["__all__"]))

    return __getattr__, __dir__
