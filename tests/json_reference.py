"""The reference encoding of Arrow rows: one Python dict per row, encoded by orjson.

What the sink sent before it encoded column by column; the column-wise encoder
(:mod:`hiveframe._protocol.arrow.json_rows`) must give the same bytes.
"""

from __future__ import annotations

import orjson
import pyarrow as pa

from hiveframe._protocol.arrow import render


def row_by_row(batch: pa.RecordBatch) -> list[bytes]:
    """Each row of ``batch`` as ``orjson.dumps(row)``, values rendered as the sink renders them."""
    columns = [render._json_ready(column) for column in batch.columns]
    ready = pa.RecordBatch.from_arrays(columns, names=batch.schema.names) if columns else batch
    return [orjson.dumps(row, default=render._json_default) for row in ready.to_pylist()]
