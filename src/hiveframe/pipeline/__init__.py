"""Pipeline files: sources, transforms and destinations described in TOML, run by
``hiveframe run pipeline.toml``.

::

    [pipeline]
    state_dir = ".hiveframe/state"        # incremental state files (the default)

    [sources.orders]
    url = "https://api.example.com/orders"
    pagination = "offset"
    page_size = 100
    token_env = "API_TOKEN"               # a bearer token from the environment
    incremental = { cursor_field = "updated_at", param = "since", primary_key = "id" }

    [sources.children]
    url = "https://api.example.com/parents/{parent.id}/children"
    parent = "parents"                    # another source, by name

    [transforms.slim]
    from = "orders"
    select = ["id", "updated_at"]
    rename = { updated_at = "changed_at" }

    [destinations.orders_file]
    from = "slim"
    path = "out/orders.jsonl"             # .parquet, .csv, .jsonl; appended to (jsonl, csv)

    [destinations.warehouse]
    from = "orders"
    url = "https://api.example.com/ingest"
    token_env = "INGEST_TOKEN"

The JSON Schema of the format is :data:`SCHEMA_PATH` (``schema.json`` in this package);
``docs/pipelines.md`` describes every key. Relative paths start from the file's folder.

Example
-------
>>> pipeline = load("pipeline.toml")  # doctest: +SKIP
>>> print(pipeline.describe())  # doctest: +SKIP
>>> pipeline.run()  # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from hiveframe.pipeline._file import PipelineFile
from hiveframe.pipeline._runner import DestinationResult, describe, run
from hiveframe.pipeline._spec import Spec

__all__ = ["SCHEMA_PATH", "DestinationResult", "Pipeline", "load"]

SCHEMA_PATH = Path(__file__).with_name("schema.json")
"""The JSON Schema (draft 2020-12) of pipeline files, shipped in the wheel."""


@dataclass(frozen=True)
class Pipeline:
    """A pipeline file, checked and built: nothing read or sent yet."""

    spec: Spec

    def describe(self) -> str:
        """What :meth:`run` would do: requests, pagination, state read and written."""
        return describe(self.spec)

    def run(self, out: TextIO = sys.stderr) -> list[DestinationResult]:
        """Read each source, write its destinations, then save its state.

        Raises
        ------
        hiveframe.errors.HiveFrameError
            A read or write failed; the sources committed before it stay committed.
        """
        return run(self.spec, out)


def load(path: str | os.PathLike[str]) -> Pipeline:
    """Read and check a pipeline file; build its sources and destinations.

    Raises
    ------
    hiveframe.errors.PipelineFileError
        Naming the file, the line and the key of the first mistake (a ``ConfigError``).
    """
    return Pipeline(Spec.load(PipelineFile(Path(path))))
