"""Response decoding: formats, Content-Type detection, data_path, hostile JSON (G.38)."""

from __future__ import annotations

import doctest
import json
import pickle

import pyarrow as pa
import pytest

import hiveframe._protocol.data_path as data_path_module
import hiveframe._protocol.decode as decode_module
from hiveframe._protocol.data_path import DataPath
from hiveframe._protocol.decode import (
    DecodedPage,
    decode_body,
    resolve_format,
    validate_response_format,
)
from hiveframe.errors import ConfigError, DataPathError, ResponseDecodeError

URL = "https://user:pw@api.test/items?api_key=hunter2&page=3"


# -- formats ----------------------------------------------------------------------------------


def test_json_array_is_the_records():
    page = decode_body(b'[{"id": 1}, {"id": 2}]', fmt="json")
    assert page.records == [{"id": 1}, {"id": 2}]
    assert page.document == page.records
    assert page.table is None
    assert page.record_count == 2


def test_json_object_without_data_path_is_one_record():
    page = decode_body(b'{"items": [1, 2], "next": null}', fmt="json")
    assert page.records == [{"items": [1, 2], "next": None}]


def test_json_null_is_no_records():
    assert decode_body(b"null", fmt="json").records == []


def test_json_keeps_the_document_for_paginators():
    body = b'{"data": [{"id": 1}], "meta": {"next": "c2"}}'
    page = decode_body(body, fmt="json", data_path=DataPath("data"))
    assert page.records == [{"id": 1}]
    assert page.document["meta"]["next"] == "c2"


def test_json_skips_a_utf8_byte_order_mark():
    assert decode_body(b'\xef\xbb\xbf[{"a": "\xc3\xa9"}]', fmt="json").records == [{"a": "é"}]


def test_empty_json_body_is_an_error_not_an_empty_page():
    for body in (b"", b" \r\n"):
        with pytest.raises(ResponseDecodeError) as info:
            decode_body(body, fmt="json")
        assert info.value.kind == "json"


def test_jsonl_one_value_per_line_with_crlf_and_blank_lines():
    body = b'{"id": 1}\r\n\r\n  \n{"id": 2}\n{"id": 3}'
    page = decode_body(body, fmt="jsonl")
    assert page.records == [{"id": 1}, {"id": 2}, {"id": 3}]
    assert page.document is None


def test_jsonl_error_names_the_line():
    body = b'{"id": 1}\n\n{"id": 2\n{"id": 3}\n'
    with pytest.raises(ResponseDecodeError) as info:
        decode_body(body, fmt="jsonl", url=URL)
    assert info.value.kind == "json"
    assert "line 3" in str(info.value)


def test_jsonl_does_not_accept_a_value_split_over_lines():
    with pytest.raises(ResponseDecodeError) as info:
        decode_body(b"[1,\n2]\n", fmt="jsonl")
    assert "line 1" in str(info.value)


def test_jsonl_applies_data_path_to_each_line():
    body = b'{"data": [{"id": 1}, {"id": 2}]}\n{"data": {"id": 3}}\n{"data": null}\n'
    page = decode_body(body, fmt="jsonl", data_path=DataPath("data"))
    assert page.records == [{"id": 1}, {"id": 2}, {"id": 3}]


def test_jsonl_empty_body_is_zero_records():
    assert decode_body(b"", fmt="jsonl").records == []
    assert decode_body(b"\n\n", fmt="jsonl").records == []


def test_jsonl_big_integers_stay_exact():
    big = 2**70
    page = decode_body(f'{{"id": 1}}\n{{"id": {big}}}\n'.encode(), fmt="jsonl")
    assert page.records == [{"id": 1}, {"id": big}]


# Integers orjson would read as floats (20 digits, or a minus and 19), and their neighbours.
WIDE = [2**64, -(2**63) - 1, 10**19, -(10**19), 2**70, -(2**70)]
EXACT_ANYWAY = [2**64 - 1, -(2**63), 10**18, 9_999_999_999_999_999_999]


@pytest.mark.parametrize("number", WIDE + EXACT_ANYWAY)
@pytest.mark.parametrize("pad", range(13))
def test_integers_stay_exact_at_every_offset_alone_or_among_numbers(number, pad):
    # The scan for wide integers looks at every sixth byte first: a number is found
    # wherever it starts from that stride, among text or among numbers packed together.
    for document in (
        f'{{"pad": "{"x" * pad}", "n": {number}}}',
        f'{{"a": [{"1," * pad}{number}]}}',
        f'{{"n": {number}{" " * pad}}}',
    ):
        expected = json.loads(document)
        for records in (
            decode_module.json_documents([document, '{"id": 1}'])[0][:1],
            decode_module.json_records(document.encode(), None),
            decode_body(document.encode(), fmt="json").records,
            decode_body(document.encode() + b"\n", fmt="jsonl").records,
        ):
            assert records == [expected]
            assert repr(records) == repr([expected]), "an int, not a float"


@pytest.mark.parametrize("offset", range(13))
@pytest.mark.parametrize("filler", [b"x", b" ", b"1,", b'"'])
def test_the_wide_integer_scan_finds_every_run_of_digits_that_needs_it(offset, filler):
    def scan(run: bytes) -> bool:
        return decode_module._may_hold_big_int(filler * offset + run + b",1" * 7)

    assert scan(b"1" * 20)
    assert scan(b"9" * 25)
    assert scan(b"-" + b"9" * 19)
    assert not scan(b"9" * 19)
    assert not scan(b"-" + b"9" * 18)


def test_csv_decodes_straight_to_an_arrow_table():
    page = decode_body(b"id,name\n1,a\n2,b\n", fmt="csv")
    assert page.records == []
    assert page.document is None
    assert isinstance(page.table, pa.Table)
    assert page.table.to_pylist() == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    assert page.record_count == 2


def test_csv_empty_body_and_header_only_are_zero_rows():
    assert decode_body(b"", fmt="csv").record_count == 0
    header_only = decode_body(b"id,name\n", fmt="csv")
    assert header_only.record_count == 0
    assert header_only.table is not None
    assert header_only.table.column_names == ["id", "name"]


def test_bad_csv_is_a_csv_error():
    with pytest.raises(ResponseDecodeError) as info:
        decode_body(b"a,b\n1,2,3\n", fmt="csv", url=URL)
    assert info.value.kind == "csv"
    assert "hunter2" not in str(info.value)


def test_data_path_on_csv_is_a_format_error():
    with pytest.raises(ResponseDecodeError) as info:
        decode_body(b"a\n1\n", fmt="csv", data_path=DataPath("items"))
    assert info.value.kind == "format"


def test_unknown_fmt_is_refused():
    with pytest.raises(ConfigError):
        decode_body(b"[]", fmt="xml")


def test_decoded_page_defaults():
    assert DecodedPage(document=None).records == []


# -- format resolution ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json", "json"),
        ("application/json; charset=utf-8", "json"),
        ("Application/JSON ; charset=UTF-8", "json"),
        ("application/vnd.api+json", "json"),
        ("application/problem+json", "json"),
        ("text/json", "json"),
        ("text/plain", "json"),
        (None, "json"),
        ("", "json"),
        ("application/x-ndjson", "jsonl"),
        ("application/jsonl; charset=utf-8", "jsonl"),
        ("application/jsonlines", "jsonl"),
        ("text/csv; header=present", "csv"),
        ("application/csv", "csv"),
    ],
)
def test_format_from_content_type(content_type, expected):
    assert resolve_format(None, content_type) == expected
    assert resolve_format("auto", content_type) == expected


@pytest.mark.parametrize(
    "content_type",
    [
        "text/html; charset=utf-8",
        "application/xml",
        "application/octet-stream",
        "application/json-seq",
    ],
)
def test_unknown_content_type_names_it_and_the_option(content_type):
    with pytest.raises(ResponseDecodeError) as info:
        resolve_format(None, content_type)
    assert info.value.kind == "format"
    assert content_type in str(info.value)
    assert "response_format" in str(info.value)


def test_explicit_format_wins_over_content_type():
    assert resolve_format("jsonl", "application/json") == "jsonl"
    assert resolve_format("ndjson", "text/html") == "jsonl"
    assert resolve_format("CSV", None) == "csv"


@pytest.mark.parametrize("value", ["xml", "", 3, "json lines"])
def test_bad_response_format_is_a_config_error(value):
    with pytest.raises(ConfigError) as info:
        validate_response_format(value)
    assert info.value.option == "response_format"


def test_response_format_normalises():
    assert validate_response_format(None) is None
    assert validate_response_format(" Auto ") is None
    assert validate_response_format("ndjson") == "jsonl"
    assert validate_response_format("json") == "json"


# -- data_path --------------------------------------------------------------------------------

DOCUMENT = {
    "results": {"items": [{"id": 1}, {"id": 2}], "count": 2, "single": {"id": 9}},
    "data": [{"items": [{"id": 3}]}],
    "empty": None,
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("results.items", [{"id": 1}, {"id": 2}]),
        ("results.single", [{"id": 9}]),
        ("empty", []),
        ("data.0.items", [{"id": 3}]),
        ("$.results.items", [{"id": 1}, {"id": 2}]),
        ("$.results.items[*]", [{"id": 1}, {"id": 2}]),
        ("$['results']['single']", [{"id": 9}]),
        ("$.data[0].items", [{"id": 3}]),
        ("$.data[*].items[*]", [{"id": 3}]),
        ("$.results.items[?@.id > 1]", [{"id": 2}]),
        ("$.empty", []),
    ],
)
def test_data_path_in_both_syntaxes(path, expected):
    assert DataPath(path).extract(DOCUMENT) == expected


def test_wildcard_keeps_list_elements_as_records():
    assert DataPath("$.rows[*]").extract({"rows": [[1, 2], [3]]}) == [[1, 2], [3]]


def test_wildcard_over_an_empty_list_is_an_empty_page():
    assert DataPath("$.items[*]").extract({"items": []}) == []


def test_missing_dotted_segment_lists_the_keys_there():
    with pytest.raises(DataPathError) as info:
        DataPath("results.rows").extract(DOCUMENT)
    error = info.value
    assert error.kind == "shape"
    assert error.missing == "rows"
    assert error.available == ["items", "count", "single"]
    assert "'items', 'count', 'single'" in str(error)


def test_missing_top_level_key():
    with pytest.raises(DataPathError) as info:
        DataPath("result.items").extract(DOCUMENT)
    assert info.value.missing == "result"
    assert info.value.available == ["results", "data", "empty"]


def test_index_past_the_end_and_key_on_a_list():
    with pytest.raises(DataPathError) as info:
        DataPath("data.5").extract(DOCUMENT)
    assert info.value.available == ["0..0"]
    with pytest.raises(DataPathError):
        DataPath("data.items").extract(DOCUMENT)


def test_null_in_the_middle_of_a_path_is_missing():
    with pytest.raises(DataPathError) as info:
        DataPath("empty.items").extract(DOCUMENT)
    assert info.value.available == []


def test_jsonpath_without_a_match_lists_the_top_level_keys():
    with pytest.raises(DataPathError) as info:
        DataPath("$.nope.items").extract(DOCUMENT)
    assert info.value.available == ["results", "data", "empty"]


def test_data_path_ending_on_a_scalar_is_a_shape_error():
    for path in ("results.count", "$.results.count"):
        with pytest.raises(ResponseDecodeError) as info:
            DataPath(path).extract(DOCUMENT)
        assert info.value.kind == "shape"


@pytest.mark.parametrize("path", ["$.[", "$[?(", "$.a b", "$..", "", "a..b", ".a", "a."])
def test_bad_data_path_fails_at_construction(path):
    with pytest.raises(ConfigError) as info:
        DataPath(path)
    assert info.value.option == "data_path"


def test_data_path_pickles_and_compares_by_expression():
    path = DataPath("$.results.items")
    clone = pickle.loads(pickle.dumps(path))
    assert clone == path
    assert hash(clone) == hash(path)
    assert clone.extract(DOCUMENT) == [{"id": 1}, {"id": 2}]
    assert repr(path) == "DataPath('$.results.items')"


def test_decode_body_attaches_the_redacted_url_to_a_data_path_error():
    with pytest.raises(DataPathError) as info:
        decode_body(b'{"a": 1}', fmt="json", data_path=DataPath("b"), url=URL)
    assert info.value.url is not None
    assert "hunter2" not in info.value.url


# -- hostile JSON (docs/reliability.md test 38) ----------------------------------------------


def decode_error(body: bytes) -> ResponseDecodeError:
    with pytest.raises(ResponseDecodeError) as info:
        decode_body(body, fmt="json", url=URL)
    assert not isinstance(info.value.__context__, RecursionError)
    return info.value


def test_deep_nesting_is_a_depth_error_not_a_recursion_error():
    error = decode_error(b"[" * 100_000)
    assert error.kind == "depth"
    assert "byte 1025" in str(error)
    assert len(str(error)) < 400


def test_nesting_at_the_limit_parses_and_one_more_level_does_not():
    depth = decode_module.JSON_MAX_DEPTH
    assert decode_body(b"[" * depth + b"]" * depth, fmt="json").record_count == 1
    assert decode_error(b"[" * (depth + 1) + b"]" * (depth + 1)).kind == "depth"


def test_five_thousand_digit_integer_is_a_number_error():
    error = decode_error(b'{"n": ' + b"7" * 5000 + b"}")
    assert error.kind == "number"
    assert "byte 6" in str(error)
    assert "7" * 100 not in str(error)  # an excerpt, not the body


def test_float_overflow_is_a_number_error():
    assert decode_error(b"[1e400]").kind == "number"


def test_integers_beyond_64_bits_stay_exact():
    big, small = 2**64, -(2**63) - 1
    page = decode_body(f'[{{"a": {big}, "b": {small}, "c": 1.5}}]'.encode(), fmt="json")
    assert page.records == [{"a": big, "b": small, "c": 1.5}]
    assert isinstance(page.records[0]["a"], int)


def test_long_digit_runs_inside_strings_are_harmless():
    body = b'[{"phone": "123456789012345678901234", "n": 18446744073709551615}]'
    assert decode_body(body, fmt="json").records == [
        {"phone": "123456789012345678901234", "n": 2**64 - 1}
    ]


def test_invalid_utf8_is_an_encoding_error_at_the_right_byte():
    error = decode_error(b'{"name": "ok", "bad": "\xff\xfe"}')
    assert error.kind == "encoding"
    assert "byte 23" in str(error)


def test_top_level_number_is_a_shape_error():
    error = decode_error(b"42")
    assert error.kind == "shape"
    assert "a number" in str(error)


def test_top_level_string_is_a_shape_error():
    assert decode_error(b'"hello"').kind == "shape"


def test_syntax_error_reports_position_and_excerpt_in_bytes():
    error = decode_error('{"name": "ééé", oops}'.encode())
    assert error.kind == "json"
    assert "byte 19" in str(error)
    assert "oops" in str(error)


def test_errors_redact_the_url():
    error = decode_error(b"{")
    assert error.url is not None
    assert "hunter2" not in str(error)
    assert "pw" not in error.url


def test_a_lone_surrogate_escape_is_refused():
    assert decode_error(b'["\\ud800"]').kind in {"json", "encoding"}


@pytest.mark.parametrize("module", [decode_module, data_path_module])
def test_docstring_examples_run(module):
    results = doctest.testmod(module)
    assert results.attempted > 0
    assert results.failed == 0


def test_deep_document_with_a_wide_integer_never_raises_recursion_error():
    # Wide integers take the stdlib parser, which recurses; depth must still end as "depth".
    depth = decode_module.JSON_MAX_DEPTH - 4
    body = b"[" * depth + str(2**70).encode() + b"]" * depth
    try:
        page = decode_body(body, fmt="json")
    except ResponseDecodeError as error:
        assert error.kind == "depth"
    else:
        assert page.record_count == 1


def test_descendant_jsonpath_on_a_deep_document_never_raises_recursion_error():
    depth = decode_module.JSON_MAX_DEPTH - 4
    body = b'{"a": ' + b"[" * depth + b"]" * depth + b"}"
    try:
        decode_body(body, fmt="json", data_path=DataPath("$..*"))
    except ResponseDecodeError as error:
        assert error.kind == "depth"
