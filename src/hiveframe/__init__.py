"""HiveFrame: move data between HTTP APIs and Arrow dataframes and streams."""

from hiveframe._frame import DataFrame, DataFrameWriter

__all__ = ["DataFrame", "DataFrameWriter", "__version__"]

__version__ = "0.1.0"
