"""Schema drift between pages: what ``schema_drift="strict"`` refuses.

Pages of one read are decoded one at a time, so a field can arrive as a number on page 0 and
as text on page 3. By default (``"promote"``) the read keeps every value, turning such a field
into text. ``"strict"`` stops instead, naming the field and the page, for pipelines that would
rather fail than change a column's type.
"""

from __future__ import annotations

import pyarrow as pa

from hiveframe.errors import SchemaDriftError

DRIFT_POLICIES = ("promote", "strict")


def compatible(before: pa.DataType, now: pa.DataType) -> bool:
    """Whether ``now`` can join ``before`` without a change of kind.

    Nulls fit anything, numbers fit numbers (JSON does not tell 1 from 1.0), structs fit when
    their common fields do (a new key is not drift), lists when their values do.
    """
    if before == now or pa.types.is_null(before) or pa.types.is_null(now):
        return True
    if _is_number(before) and _is_number(now):
        return True
    if pa.types.is_struct(before) and pa.types.is_struct(now):
        fields = {f.name: f.type for f in before}
        return all(compatible(fields[f.name], f.type) for f in now if f.name in fields)
    if _is_list(before) and _is_list(now):
        return compatible(before.value_type, now.value_type)
    return False


class DriftGuard:
    """Remembers each field's type from the pages seen so far; refuses a change of kind."""

    def __init__(self) -> None:
        self._types: dict[str, pa.DataType] = {}

    def check(self, schema: pa.Schema, *, page: int) -> None:
        """Raise :class:`~hiveframe.errors.SchemaDriftError` if a field changed kind.

        Example
        -------
        >>> guard = DriftGuard()
        >>> guard.check(pa.schema([("price", pa.int64())]), page=0)
        >>> try:
        ...     guard.check(pa.schema([("price", pa.string())]), page=1)
        ... except SchemaDriftError as error:
        ...     print(error.field, error.page)
        price 1
        """
        for field in schema:
            before = self._types.get(field.name)
            if before is None or pa.types.is_null(before):
                self._types[field.name] = field.type
            elif not compatible(before, field.type):
                raise SchemaDriftError(
                    field.name, page=page, detail=f"{before} before, {field.type} now"
                )


def _is_number(data_type: pa.DataType) -> bool:
    return bool(pa.types.is_integer(data_type) or pa.types.is_floating(data_type))


def _is_list(data_type: pa.DataType) -> bool:
    return bool(pa.types.is_list(data_type) or pa.types.is_large_list(data_type))
