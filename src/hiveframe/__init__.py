"""HiveFrame: move data between HTTP APIs and Arrow dataframes and streams.

``import hiveframe`` stays cheap: the Arrow-backed names load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hiveframe._frame import DataFrame
    from hiveframe._writer import DataFrameWriter

__all__ = ["DataFrame", "DataFrameWriter", "__version__"]

__version__ = "0.1.0"

_LAZY = {"DataFrame": "hiveframe._frame", "DataFrameWriter": "hiveframe._writer"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hiveframe' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
