"""Decoding Redash bodies: what mutation testing found unchecked (see docs/testing.md).

When a result was computed (``retrieved_at``) as the user reads it, in UTC whatever offset
the server wrote; the envelope keys kept in ``meta.extra``; rows found under a nested key on
the safe path; the edge of the 64-bit integer range when a column's type is inferred.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from typing import Any

import orjson
import pytest

from thsources.errors import ProtocolError
from thsources.jsonrows import STATS, decode_query_result, decode_rows, infer_type, rows_to_table
from thsources.result import ResultMeta


def body(**query_result: Any) -> bytes:
    qr = {
        "id": 7,
        "data": {"columns": [{"name": "n", "type": "integer"}], "rows": [{"n": 1}]},
        **query_result,
    }
    return orjson.dumps({"query_result": qr})


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-10-01T14:00:00+02:00", dt.datetime(2026, 10, 1, 12, 0, tzinfo=dt.UTC)),
        ("2026-10-01T12:00:00", dt.datetime(2026, 10, 1, 12, 0, tzinfo=dt.UTC)),
        ("2026-10-01T12:00:00Z", dt.datetime(2026, 10, 1, 12, 0, tzinfo=dt.UTC)),
        ("not a time", None),
    ],
)
def test_retrieved_at_is_read_as_utc(
    raw: str, expected: dt.datetime | None, fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A naive time is UTC whatever the machine's zone (CI runs in UTC, hiding the mistake)."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        _, res = decode_query_result(body(retrieved_at=raw), fast=fast)
    finally:
        monkeypatch.undo()
        time.tzset()
    got = res.meta.retrieved_at
    assert got == expected
    if got is not None:
        assert got.utcoffset() == dt.timedelta(0)


def test_without_retrieved_at_there_is_none() -> None:
    _, res = decode_query_result(body())
    assert res.meta.retrieved_at is None
    assert res.meta.extra == {}


def test_query_hash_and_data_source_are_kept_in_meta() -> None:
    _, res = decode_query_result(body(query_hash="abc123", data_source_id=4, runtime=0.5))
    assert res.meta.extra == {"query_hash": "abc123", "data_source_id": 4}


@pytest.mark.parametrize("fast", [True, False])
def test_rows_under_a_nested_key(fast: bool) -> None:
    doc = {"result": {"page": 2, "data": [{"n": 1}, {"n": 2}]}, "other": {"data": [{"n": 9}]}}
    rest, table = decode_rows(orjson.dumps(doc), ("result", "data"), [("n", "integer")], fast=fast)
    assert table.column("n").to_pylist() == [1, 2]
    assert rest["result"]["page"] == 2 and rest["other"] == {"data": [{"n": 9}]}


def test_missing_nested_rows_name_the_path() -> None:
    doc = {"result": {"page": 2}}
    with pytest.raises(ProtocolError) as info:
        decode_rows(orjson.dumps(doc), ("result", "data"), [("n", "integer")], fast=False)
    assert info.value.message == "no result.data in the JSON body"


def test_inferred_integers_stop_at_the_64_bit_range() -> None:
    assert infer_type([-(2**63), 2**63 - 1]) == "integer"
    assert infer_type([-(2**63) - 1]) == "json"
    assert infer_type([2**63]) == "json"


@pytest.mark.parametrize("fast", [True, False])
def test_a_list_holding_an_integer_past_64_bits_is_kept_as_json_text(fast: bool) -> None:
    """NaN sends the body through Python's json, which keeps 2**64 an int; orjson cannot
    write it back, and the decode used to fail with a bare TypeError."""
    raw = (
        b'{"query_result": {"id": 1, "data": {"columns": ['
        b'{"name": "a", "type": "string"}, {"name": "f", "type": "float"}], '
        b'"rows": [{"a": [18446744073709551616, "\xc3\xa9"], "f": NaN}, '
        b'{"a": {"k": 18446744073709551617}, "f": 1.5}, {"a": null, "f": 2.5}]}}}'
    )
    _, res = decode_query_result(raw, fast=fast)
    assert [(c.name, c.type) for c in res.columns] == [("a", "json"), ("f", "float")]
    rows = res.to_arrow().to_pylist()
    assert [r["a"] for r in rows] == [
        '[18446744073709551616,"é"]',
        '{"k":18446744073709551617}',
        None,
    ]
    assert math.isnan(rows[0]["f"]) and rows[1]["f"] == 1.5 and rows[2]["f"] == 2.5


@pytest.mark.parametrize("doc", [{"result": [1, 2]}, {"result": "text"}, [1]])
def test_rows_under_a_path_through_a_non_object_name_the_path(doc: Any) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_rows(orjson.dumps(doc), ("result", "data"), [("n", "integer")], fast=False)
    assert info.value.message == "no result.data in the JSON body"


@pytest.mark.parametrize("fast", [True, False])
def test_the_meta_of_a_decoded_result(fast: bool) -> None:
    raw = body(query="SELECT 1 AS n", runtime=1, retrieved_at="2026-10-01T12:00:00Z")
    _, res = decode_query_result(raw, fast=fast)
    assert res.meta == ResultMeta(
        source="redash",
        query="SELECT 1 AS n",
        result_id=7,
        runtime_s=1.0,
        retrieved_at=dt.datetime(2026, 10, 1, 12, 0, tzinfo=dt.UTC),
    )
    assert isinstance(res.meta.runtime_s, float)


def test_a_query_that_is_not_text_is_left_out_of_the_meta() -> None:
    _, res = decode_query_result(body(query=["SELECT 1"], runtime="slow"))
    assert (res.meta.query, res.meta.runtime_s) == (None, None)


def untyped_body(rows: list[dict[str, Any]]) -> bytes:
    columns = [{"name": "u", "type": None}, {"name": "s", "type": "string"}]
    return orjson.dumps({"query_result": {"id": 1, "data": {"columns": columns, "rows": rows}}})


def test_a_last_row_wider_than_the_sample_window_still_takes_the_fast_path() -> None:
    """Untyped columns are guessed from the first and last rows, found by widening the
    window searched from each end until it holds a row separator."""
    wide = "w" * (100 << 10)
    rows = [{"u": i, "s": "x"} for i in range(50)] + [{"u": 50, "s": wide}]
    STATS.reset()
    _, res = decode_query_result(untyped_body(rows))
    assert (STATS.last_path, STATS.last_reason) == ("fast", "")
    assert [(c.name, c.type) for c in res.columns] == [("u", "integer"), ("s", "string")]
    assert res.column("u") == list(range(51))
    assert res.column("s")[-1] == wide and res.column("s")[0] == "x"


def test_a_single_wide_row_takes_the_fast_path() -> None:
    wide = "w" * (100 << 10)
    STATS.reset()
    _, res = decode_query_result(untyped_body([{"u": 1.5, "s": wide}]))
    assert STATS.last_path == "fast"
    assert res.records() == [{"u": 1.5, "s": wide}]


def test_an_untyped_column_of_lists_goes_the_safe_way_and_says_why() -> None:
    rows = [{"u": [i], "s": "x" * 100} for i in range(1000)]
    STATS.reset()
    _, res = decode_query_result(untyped_body(rows))
    assert STATS.last_reason == "json column: 'u' holds lists, objects or mixed values"
    assert res.columns[0].type == "json" and res.column("u")[:2] == [[0], [1]]


def test_a_nan_in_a_sampled_row_goes_the_safe_way_and_says_why() -> None:
    rows = [{"u": i, "s": "x" * 100} for i in range(1000)]
    raw = untyped_body(rows).replace(b'{"u":0,', b'{"u":NaN,', 1)
    STATS.reset()
    _, res = decode_query_result(raw)
    assert STATS.last_reason == "sample: first or last row is not valid JSON"
    values = res.column("u")
    assert math.isnan(values[0]) and values[1:3] == [1.0, 2.0]


def typed_body(columns: list[tuple[str, str]], rows: list[dict[str, Any]]) -> bytes:
    cols = [{"name": n, "type": t} for n, t in columns]
    return orjson.dumps({"query_result": {"id": 1, "data": {"columns": cols, "rows": rows}}})


@pytest.mark.parametrize("joint", [b"}{", b"} {"])
def test_rows_without_a_comma_between_them_are_refused_and_the_count_says_why(
    joint: bytes,
) -> None:
    """Arrow reads two objects on one line as two rows; the separators found say one."""
    raw = typed_body([("s", "string")], [{"s": "x" * 100}] * 1000).replace(b"},{", joint, 1)
    STATS.reset()
    with pytest.raises(ProtocolError) as info:
        decode_query_result(raw)
    assert info.value.message.startswith("the body is not valid JSON: ")
    assert STATS.last_reason == "count: parsed 1000 rows but found 999"


def test_invalid_utf8_in_a_fast_string_column_is_refused_and_says_which_column() -> None:
    raw = typed_body([("s", "string")], [{"s": "é" * 60}] * 1000)
    raw = raw.replace("é".encode(), b"\xff\xfe", 1)
    STATS.reset()
    with pytest.raises(ProtocolError) as info:
        decode_query_result(raw)
    assert "not valid UTF-8" in info.value.message
    assert STATS.last_reason.startswith("utf8: column 's': ")
    assert "Invalid UTF8" in STATS.last_reason


def test_a_time_that_cannot_be_read_names_its_column_on_both_paths() -> None:
    rows = [{"t": "2026-01-01T00:00:00Z", "s": "x" * 100} for _ in range(1000)]
    rows[3]["t"] = "not a time"
    STATS.reset()
    with pytest.raises(ProtocolError) as info:
        decode_query_result(typed_body([("t", "datetime"), ("s", "string")], rows))
    assert info.value.message == (
        "column 't': cannot read the values as datetime: Invalid isoformat string: 'not a time'"
    )
    assert STATS.last_reason == (
        "coerce: column 't' as datetime: Invalid isoformat string: 'not a time'"
    )


def test_rows_split_by_crlf_and_tabs_take_the_fast_path() -> None:
    rows = [{"s": "x" * 100, "n": i} for i in range(1000)]
    raw = typed_body([("s", "string"), ("n", "integer")], rows).replace(b"},{", b"},\r\n\t{")
    STATS.reset()
    _, res = decode_query_result(raw)
    assert (STATS.last_path, STATS.last_reason) == ("fast", "")
    assert res.records() == rows


@pytest.mark.parametrize("at_end", [True, False])
def test_an_empty_row_object_at_either_end_is_a_row_of_nulls_on_the_fast_path(
    at_end: bool,
) -> None:
    rows: list[dict[str, Any]] = [{"s": "x" * 100, "n": i} for i in range(1000)]
    rows = [*rows, {}] if at_end else [{}, *rows]
    STATS.reset()
    _, res = decode_query_result(typed_body([("s", "string"), ("n", "integer")], rows))
    assert (STATS.last_path, STATS.last_reason) == ("fast", "")
    assert len(res) == 1001 and res[-1 if at_end else 0] == {"s": None, "n": None}


def test_a_json_column_goes_the_safe_way_and_says_why() -> None:
    rows = [{"j": [i], "s": "x" * 100} for i in range(1000)]
    STATS.reset()
    _, res = decode_query_result(typed_body([("j", "json"), ("s", "string")], rows))
    assert STATS.last_reason == "json column: Arrow cannot keep raw JSON text"
    assert res.column("j")[:2] == [[0], [1]]


@pytest.mark.parametrize(
    ("rows", "message"),
    [({"a": 1}, "rows should be a list, got dict"), ([1, 2], "rows should be objects, got int")],
)
def test_rows_that_are_not_a_list_of_objects_say_what_they_are(rows: Any, message: str) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_query_result(typed_body([("a", "string")], rows))
    assert info.value.message == message


def test_a_column_name_arrow_cannot_hold_is_a_protocol_error() -> None:
    """Only Python's json (read after a NaN) lets a lone surrogate through."""
    raw = b'{"query_result":{"data":{"columns":[{"name":"\\ud800","type":"float"}],'
    raw += b'"rows":[{"\\ud800":NaN}]}}}'
    with pytest.raises(ProtocolError) as info:
        decode_query_result(raw)
    assert info.value.message == (
        "bad column names: 'utf-8' codec can't encode character '\\ud800' in position 0: "
        "surrogates not allowed"
    )


def test_duplicate_column_names_go_the_safe_way_and_say_why() -> None:
    rows = [{"a": "x" * 100} for _ in range(1000)]
    STATS.reset()
    _, res = decode_query_result(typed_body([("a", "string"), ("a", "string")], rows))
    assert STATS.last_reason == "columns: duplicate names"
    assert res.records()[0] == {"a": "x" * 100, "a1": "x" * 100} and len(res) == 1000


def rows_array(n: int = 1000) -> tuple[bytes, list[dict[str, Any]]]:
    rows = [{"s": "x" * 100, "n": i} for i in range(n)]
    return orjson.dumps(rows), rows


def test_rows_to_table_reads_a_body_that_is_the_array_itself_fast() -> None:
    raw, rows = rows_array()
    STATS.reset()
    table = rows_to_table(raw, (0, len(raw)), [("s", "string"), ("n", "integer")])
    assert (STATS.last_path, STATS.last_reason) == ("fast", "")
    assert table.to_pylist() == rows


@pytest.mark.parametrize("span", ["past the end", "not at a [", "empty"])
def test_rows_to_table_given_a_span_that_is_not_an_array_says_so(span: str) -> None:
    raw, _ = rows_array()
    wrapped = b'{"rows":' + raw + b"}" if span != "empty" else b"[]" + raw
    start, end = {
        "past the end": (0, len(wrapped) + 5),
        "not at a [": (9, len(wrapped) - 1),
        "empty": (2, 2),  # a "[" at start and a "]" just before it
    }[span]
    STATS.reset()
    with pytest.raises(ProtocolError):
        rows_to_table(wrapped, (start, end), [("s", "string"), ("n", "integer")])
    assert STATS.last_reason == "span: not a [...] range"


def test_rows_of_exactly_64_kib_take_the_fast_path_and_one_byte_less_does_not() -> None:
    STATS.reset()
    decode_query_result(typed_body([("s", "string")], [{"s": "x" * 65528}]))
    assert (STATS.last_path, STATS.last_reason) == ("fast", "")
    decode_query_result(typed_body([("s", "string")], [{"s": "x" * 65527}]))
    assert STATS.last_reason == "small: 65535 bytes of rows"


def test_small_rows_after_a_long_query_text_go_the_safe_way() -> None:
    """The size that counts is the rows', not where they start in the body."""
    cols = [{"name": "s", "type": "string"}]
    qr = {"id": 1, "query": "q" * 70000, "data": {"columns": cols, "rows": [{"s": "x" * 10}]}}
    STATS.reset()
    _, res = decode_query_result(orjson.dumps({"query_result": qr}))
    assert STATS.last_reason == "small: 18 bytes of rows"
    assert res.records() == [{"s": "x" * 10}]


def test_an_empty_rows_array_holding_whitespace_is_read_fast_with_its_types() -> None:
    raw = typed_body([("s", "string"), ("n", "integer")], [])
    raw = raw.replace(b'"rows":[]', b'"rows":[ \n ]')
    STATS.reset()
    _, res = decode_query_result(raw)
    assert (STATS.last_path, STATS.last_reason) == ("fast", "")
    assert len(res) == 0 and [c.type for c in res.columns] == ["string", "integer"]
    assert res.to_arrow().schema.field("n").type == "int64"


def test_rows_starting_with_a_scalar_are_refused_and_say_why() -> None:
    raw = typed_body([("s", "string")], [1, *[{"s": "x" * 100}] * 1000])
    STATS.reset()
    with pytest.raises(ProtocolError) as info:
        decode_query_result(raw)
    assert info.value.message == "rows should be objects, got int"
    assert STATS.last_reason == "rows: not an array of objects"


def test_a_body_of_several_megabytes_is_read_fast() -> None:
    rows = [{"s": "x" * 100, "n": i} for i in range(30000)]
    STATS.reset()
    _, res = decode_query_result(typed_body([("s", "string"), ("n", "integer")], rows))
    assert (STATS.last_path, STATS.last_reason) == ("fast", "")
    assert len(res) == 30000 and res[-1] == rows[-1]


def test_stats_count_each_path_and_key_reasons_by_their_first_word() -> None:
    fast_body = typed_body([("s", "string")], [{"s": "x" * 100}] * 1000)
    decode_query_result(fast_body)
    STATS.reset()
    assert (STATS.fast, STATS.fallback, STATS.last_path, STATS.last_reason) == (0, 0, "", "")
    assert STATS.reasons == {}
    for _ in range(2):
        decode_query_result(fast_body)
    for _ in range(3):
        decode_query_result(fast_body, fast=False)
    assert (STATS.fast, STATS.fallback) == (2, 3)
    assert (STATS.last_path, STATS.last_reason) == ("fallback", "forced: fast=False")
    rows = [{"t": "2026-01-01T00:00:00Z", "s": "x" * 100} for _ in range(1000)]
    rows[3]["t"] = "not a time"
    with pytest.raises(ProtocolError):
        decode_query_result(typed_body([("t", "datetime"), ("s", "string")], rows))
    assert STATS.reasons == {"forced": 3, "coerce": 1}


def test_a_body_without_the_rows_array_says_the_path_it_looked_for() -> None:
    raw = orjson.dumps({"query_result": {"data": {"columns": [], "rows": None}}})
    STATS.reset()
    with pytest.raises(ProtocolError):
        decode_query_result(raw)
    assert STATS.last_reason == "locate: no query_result.data.rows array found in the bytes"
    assert (STATS.last_path, STATS.fallback) == ("fallback", 1)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[1, 2]", "expected a Redash query_result body, got list"),
        (b'{"b": 1, "a": 2}', "expected a Redash query_result body, got ['a', 'b']"),
        (
            b'{"query_result": {"data": {"columns": 5, "rows": []}}}',
            "data.columns should be a list, got int",
        ),
        (
            b'{"query_result": {"data": {"columns": [5], "rows": []}}}',
            "a column should be {'name': ..., 'type': ...}, got 5",
        ),
        (
            b'{"query_result": [{"data": {"columns": [], "rows": [{"a": 1}]}}]}',
            "expected a Redash query_result body, got ['query_result']",
        ),
        (
            b'{"query_result": {"other": {"rows": [{"a": 1}]}}}',
            "expected a Redash query_result body, got ['query_result']",
        ),
        (
            b'{"query_result": {"data": {"columns": []}, "rows": [{"a": 1}]}}',
            "rows should be a list, got NoneType",
        ),
    ],
)
def test_bodies_of_the_wrong_shape_say_what_they_are(raw: bytes, message: str) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_query_result(raw)
    assert info.value.message == message


def test_a_body_that_is_not_json_says_so() -> None:
    with pytest.raises(ProtocolError) as info:
        decode_query_result(b'{"query_result": ')
    assert info.value.message.startswith("the body is not valid JSON: ")


@pytest.mark.parametrize("after", ["tags", "columns"])
def test_rows_followed_by_another_array_still_take_the_fast_path(after: str) -> None:
    """The rows' end is searched from the body's end: a later array is passed over."""
    rows = [{"s": "x" * 100} for _ in range(1000)]
    cols = [{"name": "s", "type": "string"}]
    data: dict[str, Any] = (
        {"rows": rows, "columns": cols}
        if after == "columns"
        else {
            "columns": cols,
            "rows": rows,
        }
    )
    qr: dict[str, Any] = {"id": 1, "data": data}
    if after == "tags":
        qr["tags"] = [1, 2]
    STATS.reset()
    _, res = decode_query_result(orjson.dumps({"query_result": qr}))
    assert (STATS.last_path, STATS.last_reason) == ("fast", "")
    assert res.records() == rows


def test_an_untyped_column_is_guessed_from_the_true_last_row_even_when_blank() -> None:
    """First row 0, last row { }: guessed integer, so the 1.5 before the end sends the body the
    safe way (which reads the column as float); a guess from the row before it would be float."""
    rows: list[dict[str, Any]] = [{"u": i, "s": "x" * 100} for i in range(1000)]
    rows += [{"u": 1.5, "s": "x"}, {}]
    raw = untyped_body(rows).replace(b",{}]", b",{ }]")  # whitespace up to the last byte
    STATS.reset()
    _, res = decode_query_result(raw)
    assert STATS.last_reason.startswith("parse: ")
    assert res.columns[0].type == "float" and res.column("u")[-2:] == [1.5, None]


def test_rows_followed_by_a_deeper_array_of_objects_still_take_the_fast_path() -> None:
    """The last "]" closes extra.x.y: cutting there leaves a body that does not parse, so the
    search goes on to the rows' own "]"."""
    rows = [{"s": "x" * 100} for _ in range(1000)]
    cols = [{"name": "s", "type": "string"}]
    qr = {"data": {"columns": cols, "rows": rows}, "extra": {"x": {"y": [{"a": 1}]}}}
    STATS.reset()
    _, res = decode_query_result(orjson.dumps({"query_result": qr}))
    assert (STATS.last_path, STATS.last_reason) == ("fast", "")
    assert res.records() == rows
