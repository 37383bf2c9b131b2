"""Client-side parameter binding: every value arrives as exactly one literal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from thsources.errors import ParameterError
from thsources.sqlbind import bind, literal, placeholders


@pytest.mark.parametrize(
    ("value", "dialect", "expected"),
    [
        (None, "postgresql", "NULL"),
        (True, "postgresql", "TRUE"),
        (42, "postgresql", "42"),
        (1.5, "postgresql", "1.5"),
        (Decimal("1.10"), "postgresql", "1.10"),
        ("O'Brien", "postgresql", "'O''Brien'"),
        ("x' OR '1'='1", "postgresql", "'x'' OR ''1''=''1'"),
        ("a\\b", "postgresql", "'a\\b'"),
        ("O'Brien", "mysql", "'O\\'Brien'"),
        ("a\\b", "mysql", "'a\\\\b'"),
        ("line\nnext", "bigquery", "'line\\nnext'"),
        (dt.date(2026, 1, 2), "postgresql", "DATE '2026-01-02'"),
        (dt.datetime(2026, 1, 2, 3, 4, 5), "postgresql", "TIMESTAMP '2026-01-02 03:04:05'"),
        (
            dt.datetime(2026, 1, 2, 5, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "postgresql",
            "TIMESTAMP '2026-01-02 03:04:05'",
        ),
        (["a", "b'"], "postgresql", "('a', 'b''')"),
        ([], "postgresql", "(SELECT NULL WHERE FALSE)"),
        ([], "mysql", "(SELECT NULL FROM DUAL WHERE FALSE)"),
    ],
)
def test_literals(value: object, dialect: str, expected: str) -> None:
    assert literal(value, dialect) == expected


def test_placeholders_skip_literals_comments_identifiers_and_casts() -> None:
    sql = """
    SELECT ':nope', "col:umn", x::int, $$ :dollar $$, $t$ :tagged $t$ -- :comment
    /* :block */ FROM t WHERE a = :a AND b IN :b AND c = :a
    """
    assert placeholders(sql) == ["a", "b"]


def test_bind_renders_each_value_once() -> None:
    sql = "SELECT * FROM job WHERE result = :r AND id IN :ids AND note = ':r'"
    assert bind(sql, {"r": "x' OR '1'='1", "ids": [1, 2]}) == (
        "SELECT * FROM job WHERE result = 'x'' OR ''1''=''1' AND id IN (1, 2) AND note = ':r'"
    )


def test_missing_and_unknown_parameters_are_errors_that_say_what_to_do() -> None:
    with pytest.raises(ParameterError, match=r"missing value for parameter\(s\): b"):
        bind("SELECT :a, :b", {"a": 1})
    with pytest.raises(ParameterError, match=r"unknown parameter\(s\): c; the query uses :a"):
        bind("SELECT :a", {"a": 1, "c": 2})
    assert bind("SELECT 1", {"c": 2}, allow_unused=True) == "SELECT 1"


def test_unbindable_values_are_refused() -> None:
    with pytest.raises(ParameterError, match="non-finite"):
        literal(float("nan"))
    with pytest.raises(ParameterError, match="NUL"):
        literal("a\x00b")
    with pytest.raises(ParameterError, match="cannot bind a value of type dict"):
        literal({"a": 1})


def test_empty_list_keeps_in_and_not_in_right_on_duckdb() -> None:
    con = duckdb.connect()
    rows = con.execute(
        bind("SELECT 1 IN :e AS a, 1 NOT IN :e AS b", {"e": []}, "duckdb")
    ).fetchall()
    assert rows == [(False, True)]


@given(st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=40))
def test_any_string_round_trips_through_duckdb_as_one_literal(value: str) -> None:
    con = duckdb.connect()
    assert con.execute(bind("SELECT :v", {"v": value}, "duckdb")).fetchone() == (value,)
