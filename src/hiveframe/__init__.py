"""HiveFrame: move data between HTTP APIs and Arrow dataframes and streams.

``import hiveframe`` stays cheap: the Arrow-backed names load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hiveframe._lazy import lazy_exports

if TYPE_CHECKING:
    from hiveframe._frame import DataFrame
    from hiveframe._writer import DataFrameWriter

__all__ = ["DataFrame", "DataFrameWriter", "__version__"]

__version__ = "0.1.0"

_LAZY = {"DataFrame": "hiveframe._frame", "DataFrameWriter": "hiveframe._writer"}


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
