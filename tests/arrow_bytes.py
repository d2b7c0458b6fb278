"""The strictest identity of two Arrow tables: the same Arrow IPC stream bytes.

``Table.equals`` compares values; two tables can be equal and still differ in what a
consumer sees byte for byte (``-0.0`` against ``0.0``, how nulls fill their slots, chunks).
The tests of the decoders that must give what decoding alone gives compare these bytes.
"""

from __future__ import annotations

import pyarrow as pa


def ipc_bytes(table: pa.Table) -> bytes | None:
    """``table`` written as one Arrow IPC stream; ``None`` where the writer refuses it (it
    stops recursing at 64 levels of nesting, where only ``Table.equals`` compares)."""
    sink = pa.BufferOutputStream()
    try:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    except pa.ArrowInvalid:
        return None
    return bytes(sink.getvalue())
