"""Decoded JSON records to Arrow, and Arrow values back to JSON. Pure functions, no I/O.

Rules, shared by :func:`records_to_table` and :func:`concat_tables`:

* **Nothing is dropped without a schema.** Objects become struct columns, arrays list
  columns, a record that is not an object ``x`` becomes ``{"value": x}``. Fields keep the
  order in which they are first seen across records (and across pages).
* **Conflicts fall back to text at the deepest level that disagrees.** When Arrow cannot
  give one type to a set of values (int in one record and string in another, an object
  against a scalar, a list against a scalar, an int beyond 64 bits), those values become a
  string column: strings stay as they are and every other non-null value is written as
  compact JSON text (``1`` -> ``"1"``, ``{"b": 1}`` -> ``'{"b":1}'``). Inside an object
  only the sub-field that disagrees becomes text (``{"a": {"b": 1}}`` then
  ``{"a": {"b": "x"}}`` gives ``a: struct<b: string>``); inside a list only the
  elements do (``[1, "x"]`` gives ``list<string>``). An object that is always empty
  (``{}``) becomes text too, because Parquet and Polars cannot hold an empty struct.
  Int and float mix into float64, as Arrow does.
* **With a schema the result has exactly that schema.** Missing fields are null, extra
  fields are dropped, values are converted with Arrow's *safe* casts (``"12"`` -> 12,
  ``1.0`` -> 1, but never ``1.5`` -> 1); a value that cannot be converted raises
  :class:`~hiveframe.errors.SchemaDriftError` naming the field (``a.b`` inside objects,
  ``a[]`` for list elements). A string field accepts any value, rendered as above.

Arrow values rendered as JSON (:func:`batch_to_json_lines`, :func:`column_to_text`):
timestamps are ISO 8601 strings with as many fraction digits as the unit holds and, when
the Arrow type has a time zone, the offset in that zone (``2024-05-01T12:00:00.000000+00:00``);
a timestamp without a time zone is wall-clock time in an unknown zone (the Arrow
specification's meaning), so it is written without an offset. Dates and times are ISO 8601,
durations ISO 8601 seconds (``PT1.5S``), decimals strings with every digit of their scale
(``"12.5000000000"``), binary base64, maps lists of ``[key, value]`` pairs. NaN and
infinities become ``null`` in JSON documents.

The work is split in four modules: :mod:`.infer` turns records into a table,
:mod:`.conform` joins tables and converts them to a schema (one schema for a batch read,
and table digests), :mod:`.render` writes Arrow values as JSON and text (and holds the
Arrow type helpers the others share), :mod:`.json_rows` writes whole record batches as
JSON rows, column by column.
"""
