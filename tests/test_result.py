"""The uniform result model: every canonical type through records, pandas and Arrow."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thsources import Column, ConfigError, Result, ResultMeta
from thsources.coltypes import CANONICAL_TYPES, arrow_type
from thsources.errors import MissingDependency
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
        "d": "datetime64[ms]",
        "j": "object",
    }
    assert frame["i"][0] == 2**53 + 1
    assert frame["i"].isna().tolist() == [False, True]
    assert frame["b"].isna().tolist() == [False, True]
    assert frame["t"][0] == pd.Timestamp("2026-11-01T12:30:15.123", tz="UTC")
    assert pd.isna(frame["t"][1])
    assert frame["d"][0] == pd.Timestamp("2026-10-31")
    assert pd.isna(frame["d"][1])
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


def test_a_date_column_merges_with_ordinary_pandas_dates() -> None:
    res = Result.from_columns(
        [Column("day", "date"), Column("n", "integer")],
        [[dt.date(2026, 1, 1), dt.date(2026, 1, 3), None], [1, 3, 4]],
    )
    calendar = pd.DataFrame({"day": pd.date_range("2026-01-01", periods=3, freq="D")})
    merged = calendar.merge(res.to_pandas(), on="day", how="left")
    assert merged["n"].tolist() == [1, pd.NA, 3]
    assert (res.to_pandas()["day"] >= pd.Timestamp("2026-01-02")).tolist() == [False, True, False]


# -- integers: never wrapped, truncated or rounded ----------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        pa.array([1.0, 1.5]),
        pa.array([2**64 - 1], pa.uint64()),
        pa.array([Decimal("1.5")], pa.decimal128(10, 1)),
        pa.array([Decimal(2**63)], pa.decimal128(38, 0)),
        [1, 1.5],
        [2**63],
        [-(2**63) - 1],
        [1e19],
        ["9223372036854775808"],
    ],
    ids=repr,
)
def test_an_integer_column_refuses_what_it_cannot_hold_exactly(values: object) -> None:
    with pytest.raises(ValueError):
        Result.from_columns([Column("n", "integer")], [values])  # type: ignore[list-item]


def test_int64_limits_fit() -> None:
    limits = [-(2**63), 2**63 - 1]
    assert Result.from_columns([Column("n", "integer")], [limits]).column("n") == limits
    arrow = pa.array(limits, pa.int64())
    assert Result.from_columns([Column("n", "integer")], [arrow]).column("n") == limits


def test_whole_numbers_beyond_int64_become_their_exact_digits() -> None:
    big = 12345678901234567890123
    table = pa.table(
        {
            "sum": pa.array([Decimal(3), None], pa.decimal128(38, 0)),
            "huge": pa.array([Decimal(big), Decimal(-big)], pa.decimal128(38, 0)),
            "u": pa.array([2**64 - 1, 1], pa.uint64()),
            "u_small": pa.array([7, None], pa.uint64()),
        }
    )
    res = Result.from_arrow(table)
    assert [(c.name, c.type) for c in res.columns] == [
        ("sum", "integer"),
        ("huge", "string"),
        ("u", "string"),
        ("u_small", "integer"),
    ]
    assert res.records() == [
        {"sum": 3, "huge": str(big), "u": str(2**64 - 1), "u_small": 7},
        {"sum": None, "huge": str(-big), "u": "1", "u_small": None},
    ]
    with pytest.raises(ValueError):  # asked for integer: refused, not changed
        Result.from_arrow(table.select(["huge"]), types={"huge": "integer"})


# -- indexing, head, notebooks, files ---------------------------------------------------------


@pytest.fixture
def numbers() -> Result:
    return Result.from_columns(
        [Column("n", "integer"), Column("s", "string")],
        [list(range(10)), [f"<b>{i}</b>" for i in range(10)]],
        ResultMeta(source="test", runtime_s=0.25, retrieved_at=dt.datetime(2026, 1, 2, tzinfo=UTC)),
    )


def test_an_index_gives_a_record(numbers: Result) -> None:
    assert numbers[0] == {"n": 0, "s": "<b>0</b>"}
    assert numbers[9] == numbers[-1] == {"n": 9, "s": "<b>9</b>"}
    assert numbers[-10] == numbers[0]
    for bad in (10, -11):
        with pytest.raises(IndexError, match=f"row {bad} is out of range: the result has 10 rows"):
            numbers[bad]
    with pytest.raises(TypeError, match="row number, a slice or a column name"):
        numbers[1.0]  # type: ignore[call-overload]


def test_a_slice_gives_a_result(numbers: Result) -> None:
    part = numbers[2:5]
    assert isinstance(part, Result)
    assert part.columns == numbers.columns and part.meta == numbers.meta
    assert part.column("n") == [2, 3, 4]
    assert numbers[::-3].column("n") == [9, 6, 3, 0]
    assert numbers[-2:].column("n") == [8, 9]
    assert len(numbers[7:3]) == 0


def test_a_name_gives_the_column(numbers: Result) -> None:
    assert numbers["n"] == list(range(10))
    with pytest.raises(KeyError, match="no column 'x'; columns are"):
        numbers["x"]


def test_head(numbers: Result) -> None:
    assert numbers.head().column("n") == [0, 1, 2, 3, 4]
    assert numbers.head(2).column("n") == [0, 1]
    assert numbers.head(-8).column("n") == [0, 1]
    assert numbers.head(50).column("n") == list(range(10))


def test_notebooks_see_escaped_rows_and_the_meta(numbers: Result) -> None:
    page = numbers._repr_html_()
    assert page.count("<tr>") == 11  # the header and ten rows
    assert "<th>n<br><small>integer</small></th>" in page
    assert "<td>&lt;b&gt;3&lt;/b&gt;</td>" in page
    assert "<b>" not in page
    assert "10 rows · from test · ran 0.25 s · retrieved 2026-01-02T00:00:00Z" in page
    many = Result.from_columns([Column("n", "integer")], [list(range(25))])
    assert many._repr_html_().count("<tr>") == 21
    assert "25 rows (first 20 shown)" in many._repr_html_()


def test_to_csv_and_to_parquet_write_what_the_cli_writes(result: Result, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from thsources.output import render

    result.to_csv(tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text() == render(result, "csv")
    assert (tmp_path / "out.csv").read_text().splitlines()[1].startswith("9007199254740993,1.25,")
    result.to_parquet(str(tmp_path / "out.parquet"))
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column_names == result.column_names
    assert table.column("i").to_pylist() == [2**53 + 1, None]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "out.parquet"]


def test_to_csv_into_a_missing_directory_is_a_clear_error(result: Result, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist; create it first"):
        result.to_csv(tmp_path / "nope" / "out.csv")


def test_to_polars_without_polars_says_what_to_install(
    result: Result, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "polars", None)  # as if not installed
    with pytest.raises(MissingDependency, match="pip install polars") as info:
        result.to_polars()
    assert isinstance(info.value, ImportError)


def test_to_polars(result: Result) -> None:
    pl = pytest.importorskip("polars")
    frame = result.to_polars()
    assert isinstance(frame, pl.DataFrame)
    assert frame.columns == result.column_names
    assert frame["i"].to_list() == [2**53 + 1, None]
    assert frame["d"].to_list() == [dt.date(2026, 10, 31), None]
    assert frame["j"].to_list()[0] == '{"a":[1,2,null],"b":"é"}'


# -- intervals --------------------------------------------------------------------------------


@settings(deadline=None)  # a loaded machine must not fail it by timing
@given(
    st.integers(-(10**6), 10**6),
    st.integers(-(10**6), 10**6),
    st.integers(-(10**15), 10**15),
)
def test_an_interval_reads_as_python_prints_the_timedelta(
    months: int, days: int, nanos: int
) -> None:
    value = pa.array([(months, days, nanos)], pa.month_day_nano_interval())
    expected = str(dt.timedelta(days=months * 30 + days, microseconds=nanos // 1000))
    assert Result.from_arrow(pa.table({"i": value})).column("i") == [expected]


def test_an_interval_longer_than_a_timedelta_is_still_text() -> None:
    value = pa.array(
        [(1_200_000_000, 0, 0), (-1_200_000_000, -1, -1000)], pa.month_day_nano_interval()
    )
    res = Result.from_arrow(pa.table({"i": value}))
    assert res.column("i") == ["36000000000 days, 0:00:00", "-36000000002 days, 23:59:59.999999"]
