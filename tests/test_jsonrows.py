"""Decoding Redash-shaped bodies: the fast path must agree with a plain reference everywhere.

The reference is what the fast path replaces: ``orjson.loads`` (Python's json for NaN), each
column picked out of the row dicts, ``Result.from_columns``. Every test compares both, and
checks through ``STATS`` which path ran where that matters.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thsources import jsonrows
from thsources.coltypes import CANONICAL_TYPES, check_type
from thsources.errors import ProtocolError
from thsources.jsonrows import (
    STATS,
    decode_query_result,
    decode_rows,
    infer_type,
    locate_array,
    rows_to_table,
)
from thsources.result import Column, Result

ROOT = Path(__file__).resolve().parent.parent
# Captured from a real Redash (a copy of the reference's redash-samples/).
SAMPLE = Path(__file__).resolve().parent / "fixtures" / "redash-samples" / "query_result.json"
REDASH_TYPES = ("integer", "float", "boolean", "string", "datetime", "date", None)


# -- the reference ----------------------------------------------------------------------------


def ref_infer(values: list[Any]) -> str:
    """Written apart from jsonrows.infer_type on purpose: the rules, spelt out."""
    vals = [v for v in values if v is not None]
    if not vals:
        return "string"
    if all(isinstance(v, str) for v in vals):
        return "string"
    if all(isinstance(v, bool) for v in vals):
        return "boolean"
    ints_ok = all(
        -(2**63) <= v < 2**63 for v in vals if isinstance(v, int) and not isinstance(v, bool)
    )
    if ints_ok and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        return "integer"
    if ints_ok and all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals):
        return "float"
    return "json"


def reference(body: bytes) -> tuple[dict[str, Any], Result]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        doc = json.loads(body)
    qr = doc["query_result"]
    data = qr["data"]
    columns, arrays = [], []
    for col in data["columns"]:
        values = [row.get(col["name"]) for row in data["rows"]]
        ctype = col["type"] if col["type"] in CANONICAL_TYPES else ref_infer(values)
        if ctype == "string" and any(isinstance(v, list | dict) for v in values):
            # A string column holding lists or objects is json (PostgreSQL text[] on Redash).
            ctype = "json"
            values = [None if v is None else orjson.dumps(v).decode() for v in values]
        columns.append(Column(col["name"], check_type(ctype)))
        arrays.append(values)
    qr["data"] = {k: v for k, v in data.items() if k != "rows"}
    return qr, Result.from_columns(columns, arrays)


def check(body: bytes) -> str:
    """Decode ``body`` both ways (and forced-safe), assert all agree; the path jsonrows took."""
    try:
        expected = reference(body)
    except Exception:
        with pytest.raises(ProtocolError):
            decode_query_result(body)
        path, reason = STATS.last_path, STATS.last_reason
        with pytest.raises(ProtocolError):
            decode_query_result(body, fast=False)
        STATS.last_path, STATS.last_reason = path, reason  # what the tests look at
        return path
    exp_env, exp_res = expected
    envelope, result = decode_query_result(body)
    path, reason = STATS.last_path, STATS.last_reason
    for env, res in ((envelope, result), decode_query_result(body, fast=False)):
        assert res.columns == exp_res.columns
        got, want = res.to_arrow(), exp_res.to_arrow()
        assert got.schema == want.schema
        assert got.equals(want), (got.to_pylist()[:5], want.to_pylist()[:5], reason)
        assert env == exp_env
    STATS.last_path, STATS.last_reason = path, reason
    return path


# -- building bodies --------------------------------------------------------------------------


def make_body(
    columns: list[tuple[str, str | None]],
    rows: list[dict[str, Any]],
    *,
    style: str = "spaced",
    columns_first: bool = True,
    ensure_ascii: bool = True,
) -> bytes:
    cols = [{"name": n, "friendly_name": n, "type": t} for n, t in columns]
    data = {"columns": cols, "rows": rows} if columns_first else {"rows": rows, "columns": cols}
    doc = {
        "query_result": {
            "id": 7,
            "query_hash": "abc",
            "query": 'SELECT "rows", 1 AS "rows": [',
            "data": data,
            "data_source_id": 1,
            "runtime": 0.5,
            "retrieved_at": "2026-11-26T17:52:03.293Z",
        }
    }
    if style == "orjson":
        return orjson.dumps(doc)
    if style == "compact":
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=ensure_ascii).encode()
    if style == "pretty":
        return json.dumps(doc, indent=2, ensure_ascii=ensure_ascii).encode()
    return json.dumps(doc, ensure_ascii=ensure_ascii).encode()


PLAIN_COLUMNS: list[tuple[str, str | None]] = [
    ("id", "integer"),
    ("result", "string"),
    ("start_time", "datetime"),
    ("end_time", "datetime"),
    ("duration", "float"),
    ("visible", "boolean"),
    ("day", "date"),
    ("note", None),
]


def plain_rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "result": ["success", "testfailed", "busted"][i % 3],
            "start_time": f"2024-05-01T10:{i % 60:02d}:00.{i % 1000:03d}",
            "end_time": f"2024-05-01T11:{i % 60:02d}:00.{i % 1000:03d}Z",
            "duration": i / 7,
            "visible": i % 2 == 0,
            "day": f"2024-05-{1 + i % 28:02d}",
            "note": None if i % 4 else f"0:{i % 60:02d}:00",
        }
        for i in range(n)
    ]


@pytest.fixture(autouse=True)
def _small_chunks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Small chunks, so that even small bodies cross many chunk boundaries."""
    monkeypatch.setattr(jsonrows, "_MIN_CHUNK", 256)
    monkeypatch.setattr(jsonrows, "_MAX_CHUNK", 256)
    monkeypatch.setattr(jsonrows, "_MIN_FAST_BYTES", 0)
    STATS.reset()
    yield


# -- the plain case takes the fast path -------------------------------------------------------


@pytest.mark.parametrize("style", ["spaced", "compact", "orjson", "pretty"])
@pytest.mark.parametrize("columns_first", [True, False])
def test_plain_body_takes_fast_path(style: str, columns_first: bool) -> None:
    body = make_body(PLAIN_COLUMNS, plain_rows(300), style=style, columns_first=columns_first)
    assert check(body) == "fast", STATS.last_reason
    assert STATS.fast == 1 and STATS.reasons == {"forced": 1}  # check() also forces the safe path


def test_plain_body_types_and_values() -> None:
    body = make_body(PLAIN_COLUMNS, plain_rows(5))
    envelope, res = decode_query_result(body)
    assert STATS.last_path == "fast"
    assert [(c.name, c.type) for c in res.columns] == [
        ("id", "integer"),
        ("result", "string"),
        ("start_time", "datetime"),
        ("end_time", "datetime"),
        ("duration", "float"),
        ("visible", "boolean"),
        ("day", "date"),
        ("note", "string"),
    ]
    first = res.records()[1]
    assert first["start_time"] == dt.datetime(2024, 5, 1, 10, 1, 0, 1000, tzinfo=dt.UTC)
    assert first["end_time"] == dt.datetime(2024, 5, 1, 11, 1, 0, 1000, tzinfo=dt.UTC)
    assert first["day"] == dt.date(2024, 5, 2)
    assert "rows" not in envelope["data"] and len(envelope["data"]["columns"]) == 8
    assert res.meta.result_id == 7 and res.meta.runtime_s == 0.5
    assert res.meta.retrieved_at == dt.datetime(2026, 11, 26, 17, 52, 3, 293000, tzinfo=dt.UTC)
    frame = res.to_pandas()
    assert str(frame["start_time"].dtype) == "datetime64[us, UTC]"
    assert str(frame["id"].dtype) == "Int64"


def test_small_bodies_take_the_safe_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()
    assert check(make_body(PLAIN_COLUMNS, plain_rows(20))) == "fallback"
    assert STATS.last_reason.startswith("small")


def test_default_chunk_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()
    body = make_body(PLAIN_COLUMNS, plain_rows(2000))
    assert check(body) == "fast"


# -- every type, nulls, empties, names --------------------------------------------------------


def test_every_canonical_type() -> None:
    cols: list[tuple[str, str | None]] = [
        ("i", "integer"),
        ("f", "float"),
        ("b", "boolean"),
        ("s", "string"),
        ("t", "datetime"),
        ("d", "date"),
        ("j", None),
    ]
    rows = [
        {"i": 2**63 - 1, "f": 1.25, "b": True, "s": "é", "t": "2024-01-02T03:04:05.123",
         "d": "2024-01-02", "j": {"a": [1, 2]}},
        {"i": -(2**63), "f": -0.0, "b": False, "s": "", "t": "2024-01-02T03:04:05Z",
         "d": "1999-12-31", "j": [None, "x"]},
    ]  # fmt: skip
    body = make_body(cols, rows)
    assert check(body) == "fallback"  # the json column
    _, res = decode_query_result(body)
    assert [c.type for c in res.columns] == [
        "integer", "float", "boolean", "string", "datetime", "date", "json"
    ]  # fmt: skip
    assert res.column("j") == [{"a": [1, 2]}, [None, "x"]]


def test_nulls_everywhere() -> None:
    cols = [(f"c{k}", t) for k, t in enumerate(REDASH_TYPES)]
    rows = [{n: None for n, _ in cols} for _ in range(50)]
    assert check(make_body(cols, rows)) == "fast"
    _, res = decode_query_result(make_body(cols, rows))
    assert res.columns[-1].type == "string"  # all-null untyped column
    assert all(res.to_arrow().column(k).null_count == 50 for k in range(len(cols)))


def test_some_nulls_in_every_column() -> None:
    rows = plain_rows(40)
    for k, row in enumerate(rows):
        row[PLAIN_COLUMNS[k % len(PLAIN_COLUMNS)][0]] = None
    assert check(make_body(PLAIN_COLUMNS, rows)) == "fast"


@pytest.mark.parametrize("style", ["spaced", "orjson", "pretty"])
def test_empty_rows(style: str) -> None:
    body = make_body(PLAIN_COLUMNS, [], style=style)
    assert check(body) == "fast"
    _, res = decode_query_result(body)
    assert len(res) == 0 and res.columns[-1].type == "string"
    assert res.to_pandas().shape == (0, len(PLAIN_COLUMNS))


def test_no_columns() -> None:
    check(make_body([], []))
    check(make_body([], [{}, {}]))


def test_duplicate_renamed_columns() -> None:
    cols: list[tuple[str, str | None]] = [("x", "integer"), ("x1", "integer"), ("x2", "string")]
    rows = [{"x": 1, "x1": 2, "x2": "a"}, {"x": 3, "x1": 4, "x2": "b"}]
    assert check(make_body(cols, rows)) == "fast"


def test_duplicate_names_in_columns_are_renamed() -> None:
    body = make_body([("x", "integer"), ("x", "integer")], [{"x": 1}, {"x": 2}])
    _, res = decode_query_result(body)
    assert res.column_names == ["x", "x1"]
    assert res.column("x1") == [1, 2]


def test_unicode_names_and_escapes() -> None:
    cols: list[tuple[str, str | None]] = [('é "q" \\ /', "string"), ("😀", "integer")]
    rows = [{'é "q" \\ /': "line\nbreak\ttab \u2028 \x00 é😀", "😀": k} for k in range(30)]
    for ensure_ascii in (True, False):
        assert check(make_body(cols, rows, ensure_ascii=ensure_ascii)) == "fast"


def test_a_column_named_rows() -> None:
    cols: list[tuple[str, str | None]] = [("rows", None), ("columns", "string")]
    rows: list[dict[str, Any]] = [{"rows": [1, 2], "columns": "x"}, {"rows": [], "columns": "y"}]
    for columns_first in (True, False):
        check(make_body(cols, rows, columns_first=columns_first))
    rows = [{"rows": "[1]", "columns": "x"}, {"rows": "]", "columns": "y"}]
    for columns_first in (True, False):
        assert check(make_body(cols, rows, columns_first=columns_first)) == "fast"


# -- type: null inference ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["0:30:00", "1 day, 2:03:04", None], "string"),
        ([None, None], "string"),
        ([], "string"),
        ([1, None, -5], "integer"),
        ([1, 2.5], "float"),
        ([1.5, 2.5], "float"),
        ([True, None, False], "boolean"),
        ([{"a": 1}, None], "json"),
        ([[1, 2], [3]], "json"),
        (["a", 1], "json"),
        ([True, 1], "json"),
        ([2**63], "json"),
        ([2**63 - 1, -(2**63)], "integer"),
    ],
)
def test_infer_type(values: list[Any], expected: str) -> None:
    assert infer_type(values) == expected == ref_infer(values)


@pytest.mark.parametrize(
    "values",
    [
        ["0:30:00", None, "1 day, 2:03:04"],
        [1, 2, None, 3],
        [1.5, None, 2.5],
        [1.5, 2, 3],  # a float first: read as float
        [1, 2, 3.5, 4],  # guessed integer, then a float: the safe path infers float
        [None, 3, None],  # guessed from first and last only
        [True, False],
        [{"a": 1}, [1, {"b": None}]],
        ["x", 1, "y"],
        [None, None, None],
        ["a", None, 2],
    ],
)
def test_untyped_column(values: list[Any]) -> None:
    cols: list[tuple[str, str | None]] = [("k", "integer"), ("u", None)]
    rows = [{"k": k, "u": v} for k, v in enumerate(values)]
    check(make_body(cols, rows))


# -- separators inside strings and nested values ----------------------------------------------

TRICKY = [
    "}, {",
    '}, {"',
    "}, {}",
    '"}, {"id": 1, "',
    "},{",
    "}\n, {",
    '[{"a": 1}, {"b": 2}]',
    "\\",
    '\\"}, {\\"',
    "]}",
    "}]}",
    '"rows": [',
]


@pytest.mark.parametrize("text", TRICKY)
@pytest.mark.parametrize("style", ["spaced", "compact", "pretty"])
def test_separator_like_text_in_strings(text: str, style: str) -> None:
    cols: list[tuple[str, str | None]] = [("s", "string"), ("n", "integer"), ("u", None)]
    rows = [{"s": f"{text}{k}", "n": k, "u": text} for k in range(20)]
    check(make_body(cols, rows, style=style))


def test_json_text_in_a_string_stays_fast() -> None:
    cols: list[tuple[str, str | None]] = [("s", "string")]
    rows = [{"s": '[{"a": 1}, {"b": 2}]'} for _ in range(20)]
    assert check(make_body(cols, rows)) == "fast"


@pytest.mark.parametrize(
    ("value", "matched"),
    [("}, {}", True), ("}, {", True), ('}, {"', False), ("a}, {b", False)],
    ids=["brace-brace", "brace-at-end", "escaped-quote", "brace-letter"],
)
def test_wrong_split_inside_a_string_fails_the_parse(value: str, matched: bool) -> None:
    """A separator-shaped string: either not matched or the parse fails, never mis-read.

    ``}, {}`` inside a string, or ``}, {`` at its very end (then the closing quote follows
    the brace), look like separators; the comma becomes a raw newline inside a string.
    """
    cols: list[tuple[str, str | None]] = [("a", "string"), ("b", "integer")]
    rows = [{"a": value, "b": 1}, {"a": "x", "b": 2}]
    for style in ("compact", "spaced"):
        path = check(make_body(cols, rows, style=style))
        if matched:
            assert path == "fallback" and STATS.last_reason.startswith("parse"), STATS.last_reason
        else:
            assert path == "fast", STATS.last_reason


def test_wrong_split_inside_nested_arrays_fails_the_parse() -> None:
    """`}, {"` between objects of a nested array: the array loses its comma, parse fails."""
    body = b'{"data": [{"a": "x", "b": [{"c": 1}, {"c": 2}]}, {"a": "y", "b": []}]}'
    located = locate_array(body, ("data",))
    assert located is not None
    _, span = located
    # Declared as a string, lists make the column json (never Python reprs).
    table = rows_to_table(body, span, [("a", "string"), ("b", "string")])
    assert STATS.last_path == "fallback" and STATS.last_reason.startswith("parse")
    assert table.schema.field("b").type == pa.json_()
    assert table.column("b").cast(pa.string()).to_pylist() == ['[{"c":1},{"c":2}]', "[]"]
    table = rows_to_table(body, span, [("a", "string"), ("b", "json")])
    assert STATS.last_path == "fallback"
    assert [orjson.loads(v) for v in table.column("b").cast(pa.string()).to_pylist()] == [
        [{"c": 1}, {"c": 2}],
        [],
    ]
    rows = [{"a": "x", "b": [{"c": k}, {"c": k + 1}]} for k in range(10)]
    check(make_body([("a", "string"), ("b", None)], rows))


def test_stream_replaces_only_separators() -> None:
    import numpy as np

    body = b'[{"a": "}, {}"}, {"a": "}, {\\"x"},{"a": 1},\n  {"a": 2}, {}]'
    view = np.frombuffer(body, dtype=np.uint8)
    i, j = 1, len(body) - 1
    for chunk in (1, 7, 1000):
        stream = jsonrows._NDJSONStream(body, view, i, j, chunk)
        out = bytearray()
        while piece := stream.read():
            out += piece
        assert len(out) == j - i
        # Four real separators and the `}, {}` inside the first string.
        assert stream.separators == 5
        assert out.count(b"\n") == 5 + 1  # plus the newline already in the whitespace


# -- the Redash-specific shapes ---------------------------------------------------------------


def test_sample_body() -> None:
    body = orjson.dumps(orjson.loads(SAMPLE.read_bytes())["body"])
    check(body)
    _, res = decode_query_result(body)
    types = {c.name: c.type for c in res.columns}
    assert types["iv"] == "string" and types["arr"] == "json" and types["js"] == "json"
    assert types["slept"] == "string" and types["d"] == "date"
    assert res.column("k")[0] == 1795715521369220300
    sample_json = SAMPLE.read_bytes()
    # The same body as the server formats it (json.dumps with spaces).
    check(json.dumps(orjson.loads(sample_json)["body"]).encode())


def test_large_ints() -> None:
    cols: list[tuple[str, str | None]] = [("i", "integer"), ("f", "float"), ("u", None)]
    rows = [
        {"i": 2**63 - 1, "f": 2**64 + 1, "u": 2**63 - 1},
        {"i": -(2**63), "f": 10**30, "u": 1795715521369220300},
        {"i": 2**53 + 1, "f": 2**53 + 1, "u": -1},
    ]
    assert check(make_body(cols, rows)) == "fast"
    _, res = decode_query_result(make_body(cols, rows))
    assert res.column("i")[2] == 2**53 + 1


def test_int_past_int64_in_integer_column() -> None:
    body = make_body([("i", "integer")], [{"i": 2**63}, {"i": 1}])
    with pytest.raises(ProtocolError, match="'i'"):
        decode_query_result(body)
    check(make_body([("u", None)], [{"u": 2**63}, {"u": 1}]))  # inferred json


def test_datetimes_mixed_naive_z_and_offsets() -> None:
    values = [
        "2024-01-02T03:04:05.123",
        "2024-01-02T03:04:05.123Z",
        "2024-01-02T05:04:05+02:00",
        None,
        "2024-01-02T03:04:05",
    ]
    body = make_body([("t", "datetime")], [{"t": v} for v in values])
    assert check(body) == "fast"
    _, res = decode_query_result(body)
    t0 = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert res.column("t") == [
        t0.replace(microsecond=123000), t0.replace(microsecond=123000), t0, None, t0
    ]  # fmt: skip


def test_all_z_datetime_column() -> None:
    body = make_body([("t", "datetime")], [{"t": f"2024-01-02T03:04:{k:02d}Z"} for k in range(9)])
    assert check(body) == "fast"


def test_bad_datetime_raises() -> None:
    body = make_body([("t", "datetime")], [{"t": "yesterday"}])
    with pytest.raises(ProtocolError, match="'t'"):
        decode_query_result(body)


@pytest.mark.parametrize(
    ("ctype", "value"),
    [
        ("integer", "1"),
        ("integer", 1.0),
        ("integer", True),
        ("float", "1.5"),
        ("float", True),
        ("boolean", 1),
        ("boolean", "true"),
        ("string", 1),
        ("string", 1.5),
        ("string", True),
        ("string", {"a": 1}),
        ("string", [1]),
        ("datetime", 1700000000),
    ],
)
def test_value_of_another_json_type_falls_back(ctype: str, value: Any) -> None:
    """The fast parser is strict; the answer is the reference's coercion, never a mis-type."""
    body = make_body([("x", ctype), ("n", "integer")], [{"x": value, "n": 1}, {"x": None, "n": 2}])
    path = check(body)
    assert path == "fallback" and STATS.last_reason, STATS.last_reason


def test_row_key_not_among_columns_falls_back() -> None:
    rows: list[dict[str, Any]] = [{"a": 1, "b": 2}, {"a": 3, "zz": "dropped?"}]
    body = make_body([("a", "integer"), ("b", "integer")], rows)
    assert check(body) == "fallback"
    assert STATS.last_reason.startswith("parse")


def test_missing_keys_read_as_null() -> None:
    rows: list[dict[str, Any]] = [{"a": 1}, {"b": "x"}, {}]
    assert check(make_body([("a", "integer"), ("b", "string")], rows)) == "fast"


def test_duplicate_key_in_a_row() -> None:
    body = b'{"query_result": {"data": {"columns": [{"name": "a", "type": "integer"}], '
    body += b'"rows": [{"a": 1, "a": 2}, {"a": 3}]}}}'
    assert check(body) == "fallback"
    assert decode_query_result(body)[1].column("a") == [2, 3]  # the last one, as orjson


def test_nan_in_float_column() -> None:
    body = b'{"query_result": {"data": {"columns": [{"name": "f", "type": "float"}], '
    body += b'"rows": [{"f": NaN}, {"f": 1.5}]}}}'
    _, res = decode_query_result(body)
    values = res.column("f")
    assert math.isnan(values[0]) and values[1] == 1.5


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b'{"job": {"id": "x", "status": 1}}',
        b'{"query_result": {"data": {"columns": [], "rows": [1, 2]}}}',
        b'{"query_result": {"data": {"columns": "x", "rows": []}}}',
        b'{"query_result": {"data": {"columns": [{"name": "a", "type": "string"}], '
        b'"rows": [{"a": "\xff"}, {"a": "b"}]}}}',
        b'{"query_result": {"data": {"columns": [{"name": "a", "type": "string"}], '
        b'"rows": [{"a": "x"} {"a": "b"}]}}}',
        b'{"query_result": {"data": {"columns": [{"name": "a", "type": "string"}], '
        b'"rows": [{"a": "x"}, {"a": "b"}]}}',
        b'{"query_result": {"data": {"columns": [{"name": "a", "type": "string"}], '
        b'"rows": [{"a": "x"}, {"a": "b"},]}}}',
    ],
    ids=[
        "empty",
        "text",
        "job",
        "scalar-rows",
        "bad-columns",
        "bad-utf8",
        "no-comma",
        "truncated",
        "trailing-comma",
    ],
)
def test_bad_bodies_raise_protocol_error(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_query_result(body)


def test_redash_types_unknown_are_inferred() -> None:
    body = make_body([("a", "timestamp")], [{"a": 1}, {"a": 2}])
    _, res = decode_query_result(body)
    assert res.columns[0].type == "integer"


# -- the generic layer: locate_array, rows_to_table, decode_rows ------------------------------


def test_decode_rows_activedata_shape() -> None:
    rows = [{"a": k, "b": f"x{k}", "t": "2024-01-01T00:00:00Z"} for k in range(100)]
    body = orjson.dumps({"meta": {"format": "list"}, "data": rows, "header": ["a", "b"]})
    doc, table = decode_rows(body, ("data",), [("a", "integer"), ("b", "string"), ("t", None)])
    assert STATS.last_path == "fast"
    assert doc == {"meta": {"format": "list"}, "data": None, "header": ["a", "b"]}
    assert table.column("a").to_pylist() == list(range(100))
    assert table.schema.field("t").type == pa.string()  # inferred columns are never datetimes


def test_decode_rows_falls_back_when_the_array_is_not_found() -> None:
    body = orjson.dumps({"data": {"not": "a list"}})
    with pytest.raises(ProtocolError):
        decode_rows(body, ("rows",), [("a", "integer")])
    body = orjson.dumps({"data": []})
    doc, table = decode_rows(body, ("data",), [("a", "integer")])
    assert table.num_rows == 0 and doc == {"data": None}


def test_locate_array_confirms_the_cut() -> None:
    body = b'{"x": {"rows": [1]}, "query_result": {"data": {"rows": [{"a": 1}], "columns": []}}}'
    assert locate_array(body, jsonrows.REDASH_ROWS_PATH) is None  # first match is elsewhere
    body = b'{"query_result": {"data": {"rows": [{"a": [1]}, {"a": 2}] , "columns": [{}]}}}'
    located = locate_array(
        body, jsonrows.REDASH_ROWS_PATH, check=lambda d: "columns" in d["query_result"]["data"]
    )
    assert located is not None
    doc, (start, end) = located
    assert body[start:end] == b'[{"a": [1]}, {"a": 2}]'
    assert doc == {"query_result": {"data": {"rows": None, "columns": [{}]}}}
    # A later array of objects can be taken for the end of the rows: the row parse rejects
    # that cut and decode_rows parses the whole body instead.
    body = b'{"data": [{"a": 1}, {"a": 2}], "more": [{"b": 1}, {"b": 2}]}'
    doc, table = decode_rows(body, ("data",), [("a", "integer")])
    assert STATS.last_path == "fallback"
    assert doc == {"data": None, "more": [{"b": 1}, {"b": 2}]}
    assert table.column("a").to_pylist() == [1, 2]


def test_rows_to_table_on_a_span() -> None:
    body = b'xx[{"a": 1}, {"a": 2}]yy'
    assert rows_to_table(body, (2, len(body) - 2), [("a", "integer")]).to_pylist() == [
        {"a": 1},
        {"a": 2},
    ]
    assert STATS.last_path == "fast"
    with pytest.raises(ProtocolError):
        rows_to_table(b'[{"a": 1}, {"a": 2}', (0, 19), [("a", "integer")])


# -- property: any body agrees with the reference ---------------------------------------------

_TEXT = st.one_of(
    st.text(
        alphabet=st.sampled_from(list('ab }{,"\\\n\t/:[]é😀\x00\u2028')) | st.characters(),
        max_size=12,
    ),
    st.sampled_from([*TRICKY, "0:30:00", "", " "]),
)
_DATETIME_TEXT = st.builds(
    lambda d, style: {
        "naive": d.isoformat(timespec="milliseconds"),
        "z": d.isoformat(timespec="milliseconds") + "Z",
        "sec": d.isoformat(timespec="seconds"),
        "offset": d.isoformat(timespec="seconds") + "+05:30",
        "space": d.isoformat(sep=" ", timespec="microseconds"),
    }[style],
    st.datetimes(min_value=dt.datetime(1900, 1, 2), max_value=dt.datetime(2100, 1, 1)),
    st.sampled_from(["naive", "naive", "z", "sec", "offset", "space"]),
)
_INT = st.integers(-(2**63), 2**63 - 1) | st.sampled_from([0, -1, 2**53 + 1])
_FLOAT = st.floats(allow_nan=False, allow_infinity=False) | _INT
_JSONISH = st.recursive(
    st.none() | st.booleans() | _INT | st.floats(allow_nan=False, allow_infinity=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)
_VALUES: dict[str | None, st.SearchStrategy[Any]] = {
    "integer": _INT,
    "float": _FLOAT,
    "boolean": st.booleans(),
    "string": _TEXT,
    "datetime": _DATETIME_TEXT,
    "date": st.dates(min_value=dt.date(1900, 1, 1)).map(dt.date.isoformat),
}
_FINITE = st.floats(allow_nan=False, allow_infinity=False)
_UNTYPED_KINDS = [_TEXT, _INT, _FINITE, st.booleans(), _JSONISH, _INT | _TEXT, _INT | _FINITE]


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    names = draw(st.lists(_TEXT, min_size=1, max_size=5, unique=True))
    columns = [(n, draw(st.sampled_from(REDASH_TYPES))) for n in names]
    strategies = {
        n: _VALUES[t] if t is not None else draw(st.sampled_from(_UNTYPED_KINDS))
        for n, t in columns
    }
    null_rate = draw(st.sampled_from([0.0, 0.2, 1.0]))
    nrows = draw(st.integers(0, 25))
    rows = []
    for _ in range(nrows):
        row: dict[str, Any] = {}
        for n, _t in columns:
            if null_rate and draw(st.floats(0, 1)) < null_rate:
                row[n] = None
            else:
                row[n] = draw(strategies[n])
        if draw(st.integers(0, 30)) == 0 and row:
            del row[draw(st.sampled_from(list(row)))]  # a missing key
        if draw(st.integers(0, 40)) == 0:
            row["extra key"] = 1  # a key not among the columns
        rows.append(row)
    style = draw(st.sampled_from(["spaced", "compact", "orjson", "pretty"]))
    columns_first = draw(st.booleans())
    try:
        return make_body(
            columns,
            rows,
            style=style,
            columns_first=columns_first,
            ensure_ascii=draw(st.booleans()),
        )
    except (TypeError, UnicodeEncodeError):
        # Lone surrogates: only escaped JSON can carry them (and orjson then refuses them).
        return make_body(columns, rows, style="spaced", columns_first=columns_first)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies())
def test_any_body_agrees_with_reference(body: bytes) -> None:
    check(body)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.fixed_dictionaries({"a": _INT, "s": _TEXT}), max_size=40),
    chunk=st.integers(1, 300),
)
def test_chunk_boundaries_anywhere(rows: list[dict[str, Any]], chunk: int) -> None:
    # The autouse fixture restores them after the test.
    jsonrows._MIN_CHUNK = jsonrows._MAX_CHUNK = chunk  # type: ignore[misc]
    body = make_body([("a", "integer"), ("s", "string")], rows)
    path = check(body)
    lone_surrogate = any(re.search("[\ud800-\udfff]", r["s"]) for r in rows)
    if not lone_surrogate and not any(re.search(r"\}, *\{(\}|$)", r["s"]) for r in rows):
        assert path == "fast", STATS.last_reason


# -- the benchmark runner ---------------------------------------------------------------------


def test_benchmark_runner_smoke() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "decode", "--rows", "2000", "--repeat", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for label in ("json.loads + DataFrame", "orjson.loads", "decode_query_result"):
        assert label in out, out
    assert "peak MB" in out


@pytest.mark.parametrize("fast", [True, False])
def test_a_fraction_in_an_integer_column_is_refused_not_truncated(fast: bool) -> None:
    rows = [{"a": 1}] * 20_000 + [{"a": 1.5}]
    body = orjson.dumps(
        {
            "query_result": {
                "id": 1,
                "data": {
                    "columns": [{"name": "a", "friendly_name": "a", "type": "integer"}],
                    "rows": rows,
                },
            }
        }
    )
    with pytest.raises(ProtocolError, match="1.5 is not a whole number"):
        decode_query_result(body, fast=fast)


def test_a_whole_float_in_an_integer_column_is_an_integer() -> None:
    body = orjson.dumps(
        {
            "query_result": {
                "data": {
                    "columns": [{"name": "a", "friendly_name": "a", "type": "integer"}],
                    "rows": [{"a": 2.0}, {"a": None}],
                }
            }
        }
    )
    assert decode_query_result(body)[1].records() == [{"a": 2}, {"a": None}]


# -- string columns holding lists (PostgreSQL text[] through Redash) ---------------------------


@pytest.mark.parametrize("fast", [True, False])
def test_a_string_column_of_lists_is_json(fast: bool) -> None:
    rows = [
        {"id": i, "authors": None if i % 5 == 0 else [f"a{i}@x", "b'c", "1"], "obj": {"k": i}}
        for i in range(400)
    ]
    body = make_body([("id", "integer"), ("authors", "string"), ("obj", "string")], rows)
    _, result = decode_query_result(body, fast=fast)
    assert [(c.name, c.type) for c in result.columns] == [
        ("id", "integer"),
        ("authors", "json"),
        ("obj", "json"),
    ]
    got = result.records()
    assert got[1] == {"id": 1, "authors": ["a1@x", "b'c", "1"], "obj": {"k": 1}}
    assert got[0]["authors"] is None
    assert check(body) == "fallback"


def test_strings_beside_lists_stay_strings() -> None:
    rows = [{"s": ["a", "b"]}, {"s": "1"}, {"s": "plain"}, {"s": None}]
    _, result = decode_query_result(make_body([("s", "string")], rows))
    assert result.columns[0].type == "json"
    assert result.column("s") == [["a", "b"], "1", "plain", None]
