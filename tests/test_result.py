"""The uniform result model: every canonical type through records, pandas and Arrow."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest

from thsources import Column, Result, ResultMeta
from thsources.coltypes import CANONICAL_TYPES, arrow_type
from thsources.result import dedupe_names

UTC = dt.UTC

COLUMNS = [
    Column("i", "integer"),
    Column("f", "float"),
    Column("b", "boolean"),
    Column("s", "string"),
    Column("t", "datetime"),
    Column("d", "date"),
    Column("j", "json"),
]

ROW = (
    2**53 + 1,
    1.25,
    False,
    "O'Brien {{x}}",
    dt.datetime(2026, 11, 1, 12, 30, 15, 123000),  # naive: UTC
    dt.date(2026, 10, 31),
    {"a": [1, 2, None], "b": "é"},
)
NULLS = (None,) * len(COLUMNS)


@pytest.fixture
def result() -> Result:
    return Result.from_rows(COLUMNS, [ROW, NULLS], ResultMeta(source="test"))


def test_every_canonical_type_is_covered() -> None:
    assert {c.type for c in COLUMNS} == set(CANONICAL_TYPES)


def test_records_give_python_values_with_utc_and_parsed_json(result: Result) -> None:
    first, second = result.records()
    assert first == {
        "i": 2**53 + 1,
        "f": 1.25,
        "b": False,
        "s": "O'Brien {{x}}",
        "t": dt.datetime(2026, 11, 1, 12, 30, 15, 123000, tzinfo=UTC),
        "d": dt.date(2026, 10, 31),
        "j": {"a": [1, 2, None], "b": "é"},
    }
    assert first["t"].utcoffset() == dt.timedelta(0)
    assert second == dict.fromkeys(result.column_names)
    assert list(result) == result.records()
    assert len(result) == 2


def test_to_pandas_uses_nullable_dtypes_and_utc(result: Result) -> None:
    frame = result.to_pandas()
    assert {k: str(v) for k, v in frame.dtypes.items()} == {
        "i": "Int64",
        "f": "float64",
        "b": "boolean",
        "s": "string",
        "t": "datetime64[us, UTC]",
        "d": "object",
        "j": "object",
    }
    assert frame["i"][0] == 2**53 + 1
    assert frame["i"].isna().tolist() == [False, True]
    assert frame["b"].isna().tolist() == [False, True]
    assert frame["t"][0] == pd.Timestamp("2026-11-01T12:30:15.123", tz="UTC")
    assert pd.isna(frame["t"][1])
    assert frame["d"][0] == dt.date(2026, 10, 31)
    assert frame["j"][0] == {"a": [1, 2, None], "b": "é"}
    assert frame["j"][1] is None


def test_to_arrow_has_the_canonical_arrow_types(result: Result) -> None:
    table = result.to_arrow()
    assert [f.type for f in table.schema] == [arrow_type(c.type) for c in COLUMNS]
    assert table.schema.field("t").type == pa.timestamp("us", tz="UTC")
    assert table.column("i").null_count == 1


def test_aware_datetimes_are_converted_to_utc_and_strings_parsed() -> None:
    plus2 = dt.timezone(dt.timedelta(hours=2))
    res = Result.from_columns(
        [Column("t", "datetime")],
        [[dt.datetime(2026, 1, 1, 12, tzinfo=plus2), "2026-01-01T10:00:00.500Z", None]],
    )
    assert res.column("t") == [
        dt.datetime(2026, 1, 1, 10, tzinfo=UTC),
        dt.datetime(2026, 1, 1, 10, 0, 0, 500000, tzinfo=UTC),
        None,
    ]


def test_naive_iso_strings_are_utc() -> None:
    res = Result.from_columns([Column("t", "datetime")], [["2024-05-01T10:10:00.500"]])
    assert res.column("t") == [dt.datetime(2024, 5, 1, 10, 10, 0, 500000, tzinfo=UTC)]


def test_from_arrow_maps_types_and_whole_decimals_to_integer() -> None:
    table = pa.table(
        {
            "n": pa.array([Decimal(3)], pa.decimal128(38, 0)),
            "x": pa.array([Decimal("1.5")], pa.decimal128(10, 2)),
            "t": pa.array([dt.datetime(2024, 1, 1)], pa.timestamp("ns")),
            "s": pa.array(["a"], pa.large_string()),
            "i": pa.array([1], pa.int32()),
        }
    )
    res = Result.from_arrow(table)
    assert [(c.name, c.type) for c in res.columns] == [
        ("n", "integer"),
        ("x", "float"),
        ("t", "datetime"),
        ("s", "string"),
        ("i", "integer"),
    ]
    assert res.records() == [
        {"n": 3, "x": 1.5, "t": dt.datetime(2024, 1, 1, tzinfo=UTC), "s": "a", "i": 1}
    ]


def test_from_arrow_renames_duplicate_columns_like_redash() -> None:
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2]), pa.array([3])], ["a", "a", "a"])
    assert Result.from_arrow(table).column_names == ["a", "a1", "a2"]
    assert dedupe_names(["x", "x1", "x"]) == ["x", "x1", "x2"]


def test_unknown_type_is_refused_with_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="use one of integer, float"):
        Column("x", "text")  # type: ignore[arg-type]


def test_mismatched_table_is_refused() -> None:
    with pytest.raises(ValueError, match="expected int64"):
        Result([Column("a", "integer")], pa.table({"a": pa.array(["x"])}))


def test_empty_result_keeps_its_columns() -> None:
    res = Result.from_rows(COLUMNS, [])
    assert len(res) == 0
    assert res.records() == []
    assert list(res.to_pandas().columns) == [c.name for c in COLUMNS]


def test_with_meta_shares_data() -> None:
    res = Result.from_rows([Column("a", "integer")], [(1,)], ResultMeta(source="x"))
    other = res.with_meta(cached=True)
    assert other.meta.cached and other.meta.source == "x"
    assert other.to_arrow() is res.to_arrow()


def test_import_thsources_does_not_load_heavy_libraries() -> None:
    code = (
        "import sys, thsources; "
        "heavy = [m for m in ('pandas', 'pyarrow', 'duckdb') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_a_fraction_is_refused_in_an_integer_column_not_truncated() -> None:
    with pytest.raises(ValueError, match="1.5 is not a whole number"):
        Result.from_columns([Column("n", "integer")], [[1, 1.5]])
    res = Result.from_columns([Column("n", "integer")], [[1, 2.0, None, "3"]])
    assert res.column("n") == [1, 2, None, 3]
