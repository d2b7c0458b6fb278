"""Schemas across the boundary: Spark's ``StructType`` and HiveFrame's Arrow schemas.

Spark checks every Arrow batch a Python data source yields against
``to_arrow_schema(schema, timezone="UTC")`` and refuses any difference (types, names and
nullability). So the read decodes each page straight into that Arrow schema, using
HiveFrame's own schema rules (missing fields null, extra fields dropped, safe casts, a
:class:`~hiveframe.errors.SchemaDriftError` naming the field otherwise).
"""

from __future__ import annotations

import inspect
from typing import Any

import pyarrow as pa
from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

from hiveframe.errors import ConfigError


def arrow_schema(schema: Any) -> pa.Schema:
    """The Arrow schema Spark expects batches in, for a Spark ``StructType``.

    As Spark's own read worker computes it: ``timezone="UTC"`` where ``to_arrow_schema``
    takes one (newer PySpark); older versions map timestamps to UTC without being asked.
    """
    if "timezone" in inspect.signature(to_arrow_schema).parameters:
        return to_arrow_schema(schema, timezone="UTC")
    return to_arrow_schema(schema)


def spark_schema(schema: pa.Schema) -> Any:
    """A Spark ``StructType`` for an Arrow schema (nested structs and lists included).

    Columns that were null on every record (Arrow's ``null`` type) become strings: Spark
    cannot hold a later page's values in a ``void`` column.

    Raises
    ------
    ConfigError
        ``option="schema"`` when the schema is empty or has a type Spark cannot hold.
    """
    if len(schema) == 0:
        raise ConfigError(
            "schema",
            None,
            "cannot infer a schema: the first page had no records; pass schema='id BIGINT, ...'",
        )
    fields = [pa.field(f.name, _without_null_type(f.type), f.nullable) for f in schema]
    try:
        return from_arrow_schema(pa.schema(fields), prefer_timestamp_ntz=False)
    except Exception as exc:  # pyspark's PySparkTypeError: no Spark type for an Arrow type
        raise ConfigError("schema", str(schema), f"has no Spark equivalent ({exc})") from None


def _without_null_type(data_type: pa.DataType) -> pa.DataType:
    if pa.types.is_null(data_type):
        return pa.string()
    if pa.types.is_struct(data_type):
        return pa.struct(
            [
                pa.field(f.name, _without_null_type(f.type), f.nullable)
                for f in (data_type.field(i) for i in range(data_type.num_fields))
            ]
        )
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        item = data_type.value_field
        return pa.list_(pa.field(item.name, _without_null_type(item.type), item.nullable))
    return data_type


def conform_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` with exactly ``schema``'s metadata-free field flags (a no-op when equal)."""
    if batch.schema.equals(schema):
        return batch
    return pa.RecordBatch.from_arrays(batch.columns, schema=schema)
