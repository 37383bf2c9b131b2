"""Column types: what mutation testing found unchecked (docs/testing.md).

Times beyond what Python's datetime holds (PostgreSQL's and DuckDB's ``infinity``, year
10000) arrive as text instead of crashing ``records()``, and the years 1 and 9999 stay times;
integer columns take int64's exact limits and refuse one past them with the message a user
reads; intervals read as Python prints a timedelta ("1 day", "2 days"); dates and naive
datetimes (and epoch seconds) in a datetime column are UTC whatever the machine's zone.
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from thsources.localsql import local_sql
from thsources.result import Column, Result

UTC = dt.UTC


def duckdb_result(sql: str) -> Result:
    """A DuckDB answer as ``local_sql`` gives it: its Arrow table, typed by Arrow."""
    return local_sql(sql)


def test_times_beyond_python_read_as_text_and_the_edges_stay_times() -> None:
    res = duckdb_result(
        "SELECT TIMESTAMP 'infinity' AS a, TIMESTAMP '-infinity' AS b, DATE 'infinity' AS c, "
        "DATE '-infinity' AS d, TIMESTAMP '10000-01-01 00:00:00' AS e, DATE '10000-01-01' AS f, "
        "TIMESTAMP '0001-01-01 00:00:00' AS g, DATE '0001-01-01' AS h, "
        "TIMESTAMP '9999-12-31 23:59:59.999999' AS i, DATE '9999-12-31' AS j, "
        "NULL::TIMESTAMP AS k, NULL::DATE AS l, TIMESTAMP_S '10000-01-01 00:00:00' AS m, "
        "TIMESTAMP_MS '10000-01-01 00:00:00' AS n, TIMESTAMP '2026-01-02 03:04:05' AS o"
    )
    assert [c.type for c in res.columns] == [
        *["string"] * 6,
        *["datetime", "date"] * 3,
        *["string"] * 2,
        "datetime",
    ]
    assert res.records() == [
        {
            "a": "infinity",
            "b": "-infinity",
            "c": "infinity",
            "d": "-infinity",
            "e": "10000-01-01T00:00:00.000000Z",
            "f": "10000-01-01",
            "g": dt.datetime(1, 1, 1, tzinfo=UTC),
            "h": dt.date(1, 1, 1),
            "i": dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            "j": dt.date(9999, 12, 31),
            "k": None,
            "l": None,
            "m": "10000-01-01T00:00:00Z",
            "n": "10000-01-01T00:00:00.000Z",
            "o": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        }
    ]


def test_a_far_column_with_nulls_keeps_them() -> None:
    res = duckdb_result(
        "SELECT * FROM (VALUES (TIMESTAMP 'infinity', DATE '-infinity'), (NULL, NULL)) t(a, b)"
    )
    assert res.records() == [{"a": "infinity", "b": "-infinity"}, {"a": None, "b": None}]


@pytest.mark.parametrize("limit", [-(2**63), 2**63 - 1])
def test_int64_limits_fit_beside_a_whole_float(limit: int) -> None:
    res = Result.from_columns([Column("n", "integer")], [[limit, 1.0]])
    assert res.column("n") == [limit, 1]


@pytest.mark.parametrize("beyond", [-(2**63) - 1, 2**63])
def test_one_past_int64_is_refused_with_what_to_do(beyond: int) -> None:
    with pytest.raises(ValueError) as info:
        Result.from_columns([Column("n", "integer")], [[beyond, 1.0]])
    assert str(info.value) == (
        f"{beyond} does not fit an integer column (64 bits); use a string column"
    )


def test_durations_and_intervals_read_as_python_prints_them() -> None:
    durations = [dt.timedelta(days=1, seconds=7384), dt.timedelta(days=-1, seconds=1)]
    intervals = [(0, 1, 0), (0, 2, 0), (0, -1, 5_000_000_000)]
    res = Result.from_arrow(
        pa.table(
            {
                "d": pa.array([*durations, dt.timedelta(days=2)], pa.duration("us")),
                "i": pa.array(intervals, pa.month_day_nano_interval()),
            }
        )
    )
    assert res.column("d") == ["1 day, 2:03:04", "-1 day, 0:00:01", "2 days, 0:00:00"]
    assert res.column("i") == ["1 day, 0:00:00", "2 days, 0:00:00", "-1 day, 0:00:05"]


def test_datetime_column_values_are_utc_whatever_the_machines_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values: list[Any] = [
        dt.date(2026, 1, 2),
        dt.datetime(2026, 1, 2, 3, 4, 5),
        dt.datetime(2026, 1, 2, 5, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        1767225600,  # seconds since the epoch
        1767225600.5,
        "2026-01-02 03:04:05",  # a naive ISO string among other values
    ]
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        res = Result.from_columns([Column("t", "datetime")], [values])
    finally:
        monkeypatch.undo()
        time.tzset()
    assert res.column("t") == [
        dt.datetime(2026, 1, 2, tzinfo=UTC),
        dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        dt.datetime(2026, 1, 1, tzinfo=UTC),
        dt.datetime(2026, 1, 1, 0, 0, 0, 500000, tzinfo=UTC),
        dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    ]


class Cents(pa.ExtensionType):
    """An extension type a library might define over int64 (money in cents)."""

    def __init__(self) -> None:
        super().__init__(pa.int64(), "example.cents")

    def __arrow_ext_serialize__(self) -> bytes:
        return b""

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: Any, serialized: bytes) -> Cents:
        return cls()


def test_an_extension_column_reads_as_its_storage_and_an_enum_as_its_values() -> None:
    cents = pa.ExtensionArray.from_storage(Cents(), pa.array([150, None]))
    res = Result.from_arrow(pa.table({"c": cents}))
    assert (res.columns, res.column("c")) == ([Column("c", "integer")], [150, None])
    enum = duckdb_result("SELECT 'a'::ENUM('a', 'b') AS e")
    assert (enum.columns, enum.column("e")) == ([Column("e", "string")], ["a"])


def test_a_json_column_keeps_json_text_and_quotes_the_rest() -> None:
    values = ["not json", {"a": 1}, '{"b": 2}', dt.date(2026, 1, 2), None]
    res = Result.from_columns([Column("j", "json")], [values])
    assert res.column("j") == ["not json", {"a": 1}, {"b": 2}, "2026-01-02", None]


def test_a_date_column_takes_iso_datetimes_and_datetimes() -> None:
    values = ["2026-01-02T03:04:05", dt.datetime(2026, 1, 2, 3, 4), dt.date(2026, 1, 3), None]
    res = Result.from_columns([Column("d", "date")], [values])
    assert res.column("d") == [dt.date(2026, 1, 2), dt.date(2026, 1, 2), dt.date(2026, 1, 3), None]
    arrow = Result.from_arrow(pa.table({"d": pa.array(["2026-01-02", None])}), types={"d": "date"})
    assert arrow.column("d") == [dt.date(2026, 1, 2), None]


def test_arrow_canonical_extension_types_keep_their_meaning() -> None:
    """pyarrow's own extensions (arrow.bool8, arrow.json) are not ``pa.ExtensionType``: a
    bool8 column once fell through to json and its values were decoded as JSON text."""
    bools = pa.ExtensionArray.from_storage(pa.bool8(), pa.array([1, 0, None], pa.int8()))
    docs = pa.ExtensionArray.from_storage(pa.json_(), pa.array(['{"a": 1}', None, "[2]"]))
    res = Result.from_arrow(pa.table({"b": bools, "j": docs}))
    assert res.columns == [Column("b", "boolean"), Column("j", "json")]
    assert res.records() == [
        {"b": True, "j": {"a": 1}},
        {"b": False, "j": None},
        {"b": None, "j": [2]},
    ]


def test_lists_structs_and_maps_read_as_json() -> None:
    table = pa.table(
        {
            "l": pa.array([[1, 2], None]),
            "s": pa.array([{"a": 1}, None]),
            "m": pa.array([[("k", 1)], None], type=pa.map_(pa.string(), pa.int64())),
        }
    )
    res = Result.from_arrow(table)
    assert res.columns == [Column("l", "json"), Column("s", "json"), Column("m", "json")]
    assert res.records()[0] == {"l": [1, 2], "s": {"a": 1}, "m": [["k", 1]]}
    duck = duckdb_result("SELECT [1, 2] AS l, {'a': 1} AS s")
    assert duck.columns == [Column("l", "json"), Column("s", "json")]
    assert duck.records() == [{"l": [1, 2], "s": {"a": 1}}]


def test_a_json_column_writes_what_json_cannot_hold_as_text() -> None:
    """Decimals (from a PostgreSQL numeric inside a record, say) become their digits."""
    values = [Decimal("1.50"), {"d": Decimal("2")}, None]
    res = Result.from_columns([Column("j", "json")], [values])
    assert res.column("j") == ["1.50", {"d": "2"}, None]
