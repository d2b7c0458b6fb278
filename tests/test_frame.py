"""hiveframe.DataFrame and DataFrameWriter."""

from __future__ import annotations

import datetime as dt
import doctest
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import hiveframe._frame
import hiveframe._writer
from hiveframe import DataFrame, DataFrameWriter
from hiveframe.errors import ColumnNotFoundError, ConfigError, SchemaDriftError

UTC = dt.timezone.utc


@pytest.fixture
def table() -> pa.Table:
    return pa.table({"id": [1, 2, 3], "name": ["ada", "bob", None]})


@pytest.fixture
def rich() -> DataFrame:
    """Values that are easy to get wrong in files: zones, dates, decimals, nesting, nulls."""
    return DataFrame(
        pa.table(
            {
                "id": pa.array([1, 2], pa.int64()),
                "at": pa.array(
                    [dt.datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC), None],
                    pa.timestamp("us", "UTC"),
                ),
                "local": pa.array([dt.datetime(2024, 5, 1, 8), None], pa.timestamp("ms")),
                "day": pa.array([dt.date(2024, 2, 29), None], pa.date32()),
                "price": pa.array(
                    [Decimal("1234567890123456789012345678.0123456789"), Decimal("0.0000000001")],
                    pa.decimal128(38, 10),
                ),
                "text": ['a, "quoted"\nline', None],
                "obj": pa.array([{"k": [1, None], "s": "x"}, None]),
            }
        )
    )


# --------------------------------------------------------------------------- construction


def test_wraps_a_table_without_copying(table):
    assert DataFrame(table).to_arrow() is table


@pytest.mark.parametrize(
    "make",
    [
        lambda t: t.to_batches()[0],
        lambda t: pa.RecordBatchReader.from_batches(t.schema, t.to_batches()),
        lambda t: t.to_batches(max_chunksize=1),
        DataFrame,
        pl.from_arrow,
        lambda t: t.to_pandas(),
    ],
    ids=["batch", "reader", "batches", "frame", "polars", "pandas"],
)
def test_wraps_arrow_data_and_capsule_exporters(table, make):
    assert DataFrame(make(table)).to_pylist() == table.to_pylist()
    assert DataFrame.from_arrow(make(table)).to_pylist() == table.to_pylist()


@pytest.mark.parametrize("data", [{"a": [1]}, [{"a": 1}], 5, "text"])
def test_refuses_what_is_not_arrow_data(data):
    with pytest.raises(TypeError, match=r"from_pylist|RecordBatch"):
        DataFrame(data)


def test_from_pylist_keeps_messy_records():
    df = DataFrame.from_pylist([{"id": 1, "v": 1}, {"id": 2, "v": "x", "new": {"a": 1}}, 7])
    assert df.columns == ["id", "v", "new", "value"]
    assert df.to_pylist()[1] == {"id": 2, "v": "x", "new": {"a": 1}, "value": None}
    assert df.to_pylist()[0]["v"] == "1"


def test_from_pylist_with_schema():
    schema = pa.schema([("id", pa.int32()), ("missing", pa.string())])
    df = DataFrame.from_pylist([{"id": "7", "extra": 1}], schema=schema)
    assert df.schema == schema
    assert df.to_pylist() == [{"id": 7, "missing": None}]
    with pytest.raises(SchemaDriftError):
        DataFrame.from_pylist([{"id": "seven"}], schema=schema)


def test_from_batches_unifies_drifting_pages():
    pages = [pa.record_batch({"id": [1], "v": [1]}), pa.record_batch({"id": [2], "v": ["x"]})]
    df = DataFrame.from_batches(pages)
    assert df.to_pylist() == [{"id": 1, "v": "1"}, {"id": 2, "v": "x"}]


def test_from_batches_with_schema_names_the_bad_batch():
    schema = pa.schema([("v", pa.int64())])
    pages = [pa.record_batch({"v": [1]}), pa.record_batch({"v": ["nope"]})]
    with pytest.raises(SchemaDriftError) as caught:
        DataFrame.from_batches(pages, schema=schema)
    assert caught.value.page == 2


def test_from_batches_of_nothing():
    assert DataFrame.from_batches([]).count() == 0
    schema = pa.schema([("id", pa.int64())])
    assert DataFrame.from_batches(iter([]), schema=schema).schema == schema


def test_from_batches_refuses_other_items(table):
    with pytest.raises(TypeError, match="dict"):
        DataFrame.from_batches([{"a": 1}])


# --------------------------------------------------------------------------- interchange


def test_polars_pandas_and_pyarrow_read_the_capsule(table):
    df = DataFrame(table)
    assert pl.DataFrame(df).to_dicts() == table.to_pylist()
    assert pl.from_dataframe(df).to_dicts() == table.to_pylist()
    if hasattr(pd.DataFrame, "from_arrow"):  # pandas 3 reads the capsule; pandas 2 cannot
        assert pd.DataFrame.from_arrow(df)["id"].tolist() == [1, 2, 3]
        assert pd.api.interchange.from_dataframe(df).equals(df.to_pandas())
    assert pa.table(df).equals(table)
    assert pa.RecordBatchReader.from_stream(df).read_all().equals(table)


def test_polars_from_arrow_gives_a_struct_series_as_documented(table):
    # Polars turns every capsule exporter that is not pyarrow's own into a Series of structs.
    series = pl.from_arrow(DataFrame(table))
    assert isinstance(series, pl.Series)
    assert series.struct.unnest().to_dicts() == table.to_pylist()
    assert pl.from_arrow(DataFrame(table).to_arrow()).to_dicts() == table.to_pylist()


def test_pandas_constructor_builds_from_the_rows(rich):
    frame = pd.DataFrame(rich)
    assert frame.equals(pd.DataFrame(rich.to_pylist()))
    assert list(frame.columns) == rich.columns
    flat = rich.drop("obj")
    assert pd.DataFrame(flat).to_dict("list") == flat.to_pandas().to_dict("list")
    empty = DataFrame(pa.table({"id": pa.array([], pa.int64())}))
    assert list(pd.DataFrame(empty).columns) == []  # documented: no rows, no column names


def test_capsule_honours_a_requested_schema(table):
    wanted = pa.schema([("id", pa.int32()), ("name", pa.large_string())])
    stream = DataFrame(table).__arrow_c_stream__(wanted.__arrow_c_schema__())
    reader = pa.RecordBatchReader._import_from_c_capsule(stream)
    assert reader.schema == wanted


def test_to_polars_and_to_pandas(table):
    df = DataFrame(table)
    assert df.to_polars().equals(pl.DataFrame({"id": [1, 2, 3], "name": ["ada", "bob", None]}))
    frame = df.to_pandas()
    assert frame["id"].tolist() == [1, 2, 3]
    assert df.to_pandas(types_mapper=pd.ArrowDtype)["id"].dtype == pd.ArrowDtype(pa.int64())


@pytest.mark.parametrize(("module", "method"), [("polars", "to_polars"), ("pandas", "to_pandas")])
def test_missing_optional_library_names_the_extra(monkeypatch, table, module, method):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(ImportError, match=rf"pip install 'hiveframe\[{module}\]'"):
        getattr(DataFrame(table), method)()


# --------------------------------------------------------------------------- inspection


def test_shape_schema_and_rows(table):
    df = DataFrame(table)
    assert df.count() == len(df) == 3
    assert df.columns == ["id", "name"]
    assert df.schema == table.schema
    assert df.to_pylist() == [
        {"id": 1, "name": "ada"},
        {"id": 2, "name": "bob"},
        {"id": 3, "name": None},
    ]


def test_repr_gives_shape_types_and_first_rows(table):
    assert repr(DataFrame(table)) == (
        "DataFrame[3 rows x 2 columns]\n"
        "+-------+--------+\n"
        "| id    | name   |\n"
        "| int64 | string |\n"
        "+-------+--------+\n"
        "|     1 | ada    |\n"
        "|     2 | bob    |\n"
        "|     3 | null   |\n"
        "+-------+--------+"
    )


def test_repr_stays_short_on_big_frames():
    wide = DataFrame(pa.table({f"c{i}": list(range(1000)) for i in range(25)}))
    lines = repr(wide).splitlines()
    assert lines[0] == "DataFrame[1000 rows x 25 columns]"
    assert lines[2].split() == ["|", *" | ".join(f"c{i}" for i in range(12)).split(), "|"]
    assert len(lines) == 1 + 4 + 5 + 1 + 1  # shape, rules and heads, 5 rows, rule, footer
    assert lines[-1] == "[995 more rows and 13 more columns not shown]"
    long = DataFrame.from_pylist([{"t": "x\n" * 50, "s": {"a": [1]}}])
    assert all(len(line) <= 2 * (24 + 3) + 1 for line in repr(long).splitlines())
    assert "| x\\nx\\n" in repr(long)


def test_repr_of_frames_without_rows_or_columns():
    assert repr(DataFrame.from_pylist([{}, {}])) == "DataFrame[2 rows x 0 columns]"
    empty = DataFrame(pa.table({"x": pa.array([], pa.int64())}))
    assert repr(empty).splitlines() == [
        "DataFrame[0 rows x 1 column]",
        "+-------+",
        "| x     |",
        "| int64 |",
        "+-------+",
        "+-------+",
    ]


def test_html_repr_is_an_escaped_table(table):
    html = DataFrame(table)._repr_html_()
    assert html.startswith("<div><p>DataFrame: 3 rows x 2 columns</p><table>")
    assert "<th>id</th><th>name</th>" in html
    assert "<td><i>int64</i></td>" in html
    assert "<tr><td>3</td><td>null</td></tr>" in html
    hostile = DataFrame.from_pylist([{"<script>": "</td><b onclick='x'>&"}])._repr_html_()
    assert "<script>" not in hostile and "<b " not in hostile
    assert "<th>&lt;script&gt;</th>" in hostile
    assert "<td>&lt;/td&gt;&lt;b onclick=&#x27;x&#x27;&gt;&amp;</td>" in hostile
    nested = DataFrame.from_pylist([{"s": {"a": 1}}])._repr_html_()
    assert "<td><i>struct&lt;a: int64&gt;</i></td>" in nested
    big = DataFrame(pa.table({f"c{i}": list(range(10)) for i in range(14)}))._repr_html_()
    assert "DataFrame: 10 rows x 14 columns; 5 more rows and 2 more columns not shown" in big
    assert big.count("<tr>") == 2 + 5


# --------------------------------------------------------------------------- select / limit


def test_select_keeps_named_columns_in_order(table):
    df = DataFrame(table)
    assert df.select("name", "id").columns == ["name", "id"]
    assert df.select().columns == []
    assert df.columns == ["id", "name"]  # the original frame is unchanged


def test_select_of_an_unknown_column_lists_the_columns(table):
    with pytest.raises(ConfigError) as caught:
        DataFrame(table).select("id", "nme")
    assert caught.value.option == "select"
    assert caught.value.value == "nme"
    assert "'id', 'name'" in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("option", "call"),
    [
        ("select", lambda df: df.select("nme")),
        ("drop", lambda df: df.drop("id", "nme")),
        ("rename", lambda df: df.rename({"nme": "x"})),
        ("sort", lambda df: df.sort(["id", "nme"])),
        ("column", lambda df: df["nme"]),
    ],
)
def test_an_unknown_column_is_a_column_not_found_error(table, option, call):
    with pytest.raises(ColumnNotFoundError) as caught:
        call(DataFrame(table))
    error = caught.value
    assert isinstance(error, ConfigError) and isinstance(error, KeyError)
    assert (error.option, error.value, error.columns) == (option, "nme", ["id", "name"])
    assert str(error) == f"{option}='nme': no such column; the columns are: 'id', 'name'"


def test_column_not_found_lists_at_most_50_columns():
    df = DataFrame(pa.table({f"c{i}": [i] for i in range(60)}))
    with pytest.raises(KeyError) as caught:
        df["nope"]
    assert str(caught.value).endswith("'c48', 'c49' and 10 more")


# --------------------------------------------------------------------------- conveniences


def test_head(table):
    df = DataFrame(pa.table({"n": list(range(10))}))
    assert df.head().to_pylist() == [{"n": n} for n in range(5)]
    assert df.head(2).count() == 2
    assert df.head(0).count() == 0
    assert DataFrame(table).head(50).count() == 3
    with pytest.raises(ConfigError, match="head"):
        df.head(-1)


def test_drop_leaves_out_columns_without_copying(table):
    df = DataFrame(table)
    kept = df.drop("name")
    assert kept.columns == ["id"]
    assert _address(kept["id"]) == _address(table.column("id"))
    assert df.drop("name", "name", "id").columns == []
    assert df.drop().columns == ["id", "name"]
    assert df.columns == ["id", "name"]


def test_rename(table):
    df = DataFrame(table)
    assert df.rename({"name": "who"}).to_pylist()[0] == {"id": 1, "who": "ada"}
    assert df.rename({"id": "name", "name": "id"}).columns == ["name", "id"]
    assert df.rename({}).columns == ["id", "name"]
    assert df.columns == ["id", "name"]


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"id": "name"}, "two columns would be named 'name'"),
        ({"id": 5}, "must be a string"),
        (["id"], "must be a mapping"),
    ],
)
def test_rename_refuses_clashes_and_bad_names(table, mapping, message):
    with pytest.raises(ConfigError, match=message):
        DataFrame(table).rename(mapping)


def test_filter_by_expression(table):
    df = DataFrame(table)
    assert df.filter(pc.field("id") > 1).to_pylist() == table.to_pylist()[1:]
    assert df.filter(pc.field("name").is_null()).to_pylist() == [{"id": 3, "name": None}]
    assert df.filter(pc.field("name") == "ada").columns == ["id", "name"]
    with pytest.raises(pa.ArrowInvalid, match="nope"):
        df.filter(pc.field("nope") > 1)


@pytest.mark.parametrize(
    "mask",
    [
        [True, None, False],
        pa.array([True, None, False]),
        pa.chunked_array([[True], [None, False]]),
        np.array([True, False, False]),
        pd.Series([True, False, False]),
    ],
    ids=["list", "array", "chunked", "numpy", "pandas"],
)
def test_filter_by_mask_drops_false_and_null_rows(table, mask):
    assert DataFrame(table).filter(mask).to_pylist() == [{"id": 1, "name": "ada"}]


def test_filter_by_a_mask_computed_from_a_column(table):
    df = DataFrame(table)
    assert df.filter(pc.greater(df["id"], 1))["id"].to_pylist() == [2, 3]


@pytest.mark.parametrize(
    ("mask", "message"),
    [([True, False], "has 2, the frame 3"), ([1, 0, 1], "must be boolean, not int64")],
)
def test_filter_refuses_bad_masks(table, mask, message):
    with pytest.raises(ConfigError, match=message):
        DataFrame(table).filter(mask)


def test_sort_by_one_or_more_columns():
    df = DataFrame(pa.table({"k": ["b", None, "a", "b"], "n": [1, 2, 3, 4]}))
    assert df.sort("k")["n"].to_pylist() == [3, 1, 4, 2]  # stable, nulls last
    assert df.sort("k", descending=True)["n"].to_pylist() == [1, 4, 3, 2]
    assert df.sort(["k", "n"], descending=[False, True])["n"].to_pylist() == [3, 4, 1, 2]
    assert df.sort(("n",), descending=True)["n"].to_pylist() == [4, 3, 2, 1]
    assert df["n"].to_pylist() == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"by": []}, "sort"),
        ({"by": ["k", "n"], "descending": [True]}, "descending"),
        ({"by": "k", "descending": "yes"}, "descending"),
        ({"by": "k", "descending": [1]}, "descending"),
        ({"by": "k", "descending": 1}, "descending"),
    ],
)
def test_sort_refuses_bad_options(kwargs, option):
    df = DataFrame(pa.table({"k": [1], "n": [2]}))
    with pytest.raises(ConfigError, match=rf"^{option}="):
        df.sort(**kwargs)


def test_getitem_len_contains_and_iteration(table):
    df = DataFrame(table)
    column = df["id"]
    assert isinstance(column, pa.ChunkedArray)
    assert column.equals(table.column("id"))
    assert _address(column) == _address(table.column("id"))
    assert len(df) == 3
    assert "id" in df and "nope" not in df and 1 not in df
    assert list(df) == table.to_pylist()
    assert df.to_dicts() == table.to_pylist()


def test_iteration_converts_a_slice_at_a_time(monkeypatch):
    monkeypatch.setattr(hiveframe._frame, "_ITER_ROWS", 2)
    df = DataFrame(pa.table({"n": list(range(5))}))
    rows = iter(df)
    assert next(rows) == {"n": 0}
    assert [row["n"] for row in rows] == [1, 2, 3, 4]


def _address(column: pa.ChunkedArray) -> int:
    """Where a column's first chunk keeps its values: equal addresses mean no copy."""
    return int(column.chunk(0).buffers()[1].address)


def test_iter_batches(table):
    df = DataFrame(pa.table({"n": list(range(5))}))
    assert [batch.num_rows for batch in df.iter_batches(2)] == [2, 2, 1]
    assert all(isinstance(batch, pa.RecordBatch) for batch in df.iter_batches())
    assert pa.Table.from_batches(list(df.iter_batches())).equals(df.to_arrow())
    with pytest.raises(ConfigError, match="max_rows=0: must be an int >= 1"):
        df.iter_batches(0)


def test_limit(table):
    df = DataFrame(table)
    assert df.limit(2).to_pylist() == df.to_pylist()[:2]
    assert df.limit(0).count() == 0
    assert df.limit(10).count() == 3
    assert df.count() == 3


@pytest.mark.parametrize("n", [-1, 1.5, True, "2"])
def test_limit_refuses_bad_counts(table, n):
    with pytest.raises(ConfigError, match="limit"):
        DataFrame(table).limit(n)


# --------------------------------------------------------------------------- show


def test_show_prints_an_aligned_table(capsys, table):
    DataFrame(table).show()
    assert capsys.readouterr().out == (
        "+----+------+\n"
        "| id | name |\n"
        "+----+------+\n"
        "|  1 | ada  |\n"
        "|  2 | bob  |\n"
        "|  3 | null |\n"
        "+----+------+\n"
        "[showing 3 of 3 rows]\n"
    )


def test_show_limits_rows_and_says_so(capsys):
    DataFrame(pa.table({"n": list(range(1000))})).show()
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "[showing 20 of 1000 rows]"
    assert len(out) == 20 + 5
    DataFrame(pa.table({"n": [1]})).show(n=0)
    assert capsys.readouterr().out.splitlines()[-1] == "[showing 0 of 1 row]"


def test_show_truncates_and_escapes_cells(capsys):
    df = DataFrame.from_pylist([{"t": "x" * 100, "nested": {"a": [1, 2]}, "nl": "a\nb\tc"}])
    df.show(max_width=10)
    lines = capsys.readouterr().out.splitlines()
    assert lines[3] == '| xxxxxxx... | {"a":[1... | a\\nb\\tc |'
    assert len({len(line) for line in lines[:-1]}) == 1  # every line as wide


def test_show_renders_timestamps_decimals_and_nested_values(capsys, rich):
    rich.select("at", "price", "obj").show(max_width=80)
    row = capsys.readouterr().out.splitlines()[3]
    assert "2024-05-01T12:30:15.123456+00:00" in row
    assert "1234567890123456789012345678.0123456789" in row
    assert '{"k":[1,null],"s":"x"}' in row


def test_show_without_columns(capsys):
    DataFrame.from_pylist([{}, {}]).show()
    assert capsys.readouterr().out == "(no columns)\n[showing 2 of 2 rows]\n"


@pytest.mark.parametrize(("option", "kwargs"), [("n", {"n": -1}), ("max_width", {"max_width": 3})])
def test_show_refuses_bad_options(table, option, kwargs):
    with pytest.raises(ConfigError, match=option):
        DataFrame(table).show(**kwargs)


# --------------------------------------------------------------------------- writers


def test_write_is_a_writer(table):
    assert isinstance(DataFrame(table).write, DataFrameWriter)


def test_parquet_round_trip(tmp_path, rich):
    path = tmp_path / "rows.parquet"
    rich.write.parquet(path, compression="zstd")
    assert pq.read_table(path).equals(rich.to_arrow())
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"


def test_json_lines_round_trip(tmp_path, rich):
    path = tmp_path / "rows.jsonl"
    rich.write.json(str(path))
    data = path.read_bytes()
    assert data.endswith(b"\n") and data.count(b"\n") == 2
    rows = [orjson.loads(line) for line in data.splitlines()]
    assert rows == [
        {
            "id": 1,
            "at": "2024-05-01T12:30:15.123456+00:00",
            "local": "2024-05-01T08:00:00.000",
            "day": "2024-02-29",
            "price": "1234567890123456789012345678.0123456789",
            "text": 'a, "quoted"\nline',
            "obj": {"k": [1, None], "s": "x"},
        },
        {
            "id": 2,
            "at": None,
            "local": None,
            "day": None,
            "price": "0.0000000001",
            "text": None,
            "obj": None,
        },
    ]
    back = pa.array([rows[0]["at"]]).cast(pa.timestamp("us", "UTC"))
    assert back.equals(rich.to_arrow().column("at").chunk(0).slice(0, 1))
    assert Decimal(rows[0]["price"]) == rich.to_pylist()[0]["price"]


def test_json_lines_are_written_batch_by_batch(tmp_path, monkeypatch):
    monkeypatch.setattr(hiveframe._writer, "_WRITE_BATCH_ROWS", 3)
    path = tmp_path / "rows.jsonl"
    DataFrame(pa.table({"n": list(range(10))})).write.json(path)
    assert [orjson.loads(line)["n"] for line in path.read_bytes().splitlines()] == list(range(10))


def test_json_of_an_empty_frame_is_an_empty_file(tmp_path):
    path = tmp_path / "rows.jsonl"
    DataFrame(pa.table({"n": pa.array([], pa.int64())})).write.json(path)
    assert path.read_bytes() == b""


def test_csv_round_trip(tmp_path, rich, monkeypatch):
    monkeypatch.setattr(hiveframe._writer, "_WRITE_BATCH_ROWS", 1)
    path = tmp_path / "rows.csv"
    rich.write.csv(path)
    types = {"price": pa.decimal128(38, 10), "local": pa.string(), "obj": pa.string()}
    convert = pacsv.ConvertOptions(column_types=types, strings_can_be_null=True)
    back = pacsv.read_csv(path, convert_options=convert)
    assert back.column_names == rich.columns
    first, second = back.to_pylist()
    assert first["id"] == 1
    assert first["at"] == dt.datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
    assert first["local"] == "2024-05-01T08:00:00.000"
    assert first["day"] == dt.date(2024, 2, 29)
    assert first["price"] == Decimal("1234567890123456789012345678.0123456789")
    assert first["text"] == 'a, "quoted"\nline'
    assert orjson.loads(first["obj"]) == {"k": [1, None], "s": "x"}
    assert second["price"] == Decimal("0.0000000001")
    assert (second["at"], second["obj"], second["day"]) == (None, None, None)


def test_csv_of_polars_string_views(tmp_path):
    df = DataFrame(pl.DataFrame({"s": ["x", None]}))
    df.write.csv(tmp_path / "rows.csv")
    assert (tmp_path / "rows.csv").read_text() == '"s"\n"x"\n\n'


@pytest.mark.parametrize("fmt", ["parquet", "csv", "json"])
def test_mode_overwrite_replaces_and_error_refuses(tmp_path, table, fmt):
    path = tmp_path / f"rows.{fmt}"
    path.write_bytes(b"old")
    writer = getattr(DataFrame(table).write, fmt)
    with pytest.raises(FileExistsError):
        writer(path, mode="error")
    assert path.read_bytes() == b"old"
    writer(path)
    assert path.read_bytes() != b"old"
    writer(tmp_path / f"new.{fmt}", mode="error")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"new.{fmt}", f"rows.{fmt}"]


def test_unknown_mode_is_a_config_error(tmp_path, table):
    with pytest.raises(ConfigError, match="mode"):
        DataFrame(table).write.json(tmp_path / "x.jsonl", mode="append")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_no_file(tmp_path, table):
    path = tmp_path / "rows.parquet"
    with pytest.raises(pa.ArrowException, match="Unsupported compression: no-such-codec"):
        DataFrame(table).write.parquet(path, compression="no-such-codec")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_keeps_the_old_file(tmp_path, table):
    path = tmp_path / "rows.parquet"
    path.write_bytes(b"old")
    with pytest.raises(pa.ArrowException, match="Unsupported compression: no-such-codec"):
        DataFrame(table).write.parquet(path, compression="no-such-codec")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["rows.parquet"]


def test_docstring_examples_run():
    result = doctest.testmod(hiveframe._frame, extraglobs={"pa": pa})
    assert result.attempted > 0
    assert result.failed == 0


def test_paths_may_be_path_like(tmp_path, table):
    class Where:
        def __fspath__(self) -> str:
            return str(tmp_path / "rows.jsonl")

    DataFrame(table).write.json(Where())
    assert Path(tmp_path / "rows.jsonl").exists()
