"""Binding: what mutation testing found unchecked (docs/testing.md).

The scanner decides which ``:name`` is a placeholder and which is text: a wrong scan binds a
value into the middle of a string literal, a comment or a dollar-quoted body, or misses a
placeholder after one. Each case here gives the exact SQL that reaches the database and, where
a server is at hand (DuckDB always; PostgreSQL and MariaDB when ``THSOURCES_TEST_*_URL`` are
set), the row the server answers, which shows the bound text means what the user wrote.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import zoneinfo
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import unquote, urlsplit

import duckdb
import numpy as np
import pandas as pd
import pytest

from thsources.errors import ParameterError
from thsources.sqlbind import bind, literal, placeholders

PG_URL = os.environ.get("THSOURCES_TEST_POSTGRES_URL")
MYSQL_URL = os.environ.get("THSOURCES_TEST_MYSQL_URL")


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, Any]]:
    """One connection per dialect that has a server here."""
    found: dict[str, Any] = {"duckdb": duckdb.connect()}
    if PG_URL:
        import psycopg

        found["postgresql"] = psycopg.connect(PG_URL, autocommit=True)
    if MYSQL_URL:
        import pymysql

        url = urlsplit(MYSQL_URL)
        found["mysql"] = pymysql.connect(
            host=url.hostname or "127.0.0.1",
            port=url.port or 3306,
            user=unquote(url.username or "root"),
            password=unquote(url.password or ""),
            database=url.path.lstrip("/") or None,
            charset="utf8mb4",
            autocommit=True,
        )
    yield found
    for con in found.values():
        con.close()


def answer(servers: dict[str, Any], dialect: str, sql: str) -> list[tuple[Any, ...]] | None:
    """The rows the dialect's server answers to ``sql``, or None when there is no server."""
    con = servers.get(dialect)
    if con is None:
        return None
    if dialect == "mysql":
        with con.cursor() as cur:
            cur.execute(sql)
            return [tuple(row) for row in cur.fetchall()]
    return [tuple(row) for row in con.execute(sql).fetchall()]


# (dialect, SQL as written, the SQL that must reach the server, the row it answers)
SCANS = [
    pytest.param(
        "postgresql",
        "SELECT 'a\\' AS s, :p AS v",
        "SELECT 'a\\' AS s, 7 AS v",
        ("a\\", 7),
        id="pg-backslash-ends-nothing-in-a-string",
    ),
    pytest.param(
        "postgresql",
        'SELECT 1 AS "a\\", 2 AS "b :x", :p AS v',
        'SELECT 1 AS "a\\", 2 AS "b :x", 7 AS v',
        (1, 2, 7),
        id="pg-backslash-ends-nothing-in-an-identifier",
    ),
    pytest.param(
        "postgresql",
        "SELECT 5 # 3 AS x, coalesce(:p, 0)",
        "SELECT 5 # 3 AS x, coalesce(7, 0)",
        (6, 7),
        id="pg-hash-is-xor-not-a-comment",
    ),
    pytest.param(
        "postgresql",
        "SELECT 1 AS a$b$, 2 AS c_$d$, :p",
        "SELECT 1 AS a$b$, 2 AS c_$d$, 7",
        (1, 2, 7),
        id="pg-dollar-inside-identifiers-quotes-nothing",
    ),
    pytest.param(
        "postgresql",
        "SELECT 1 AS total$--:note\n, :p",
        "SELECT 1 AS total$--:note\n, 7",
        (1, 7),
        id="pg-comment-right-after-a-dollar",
    ),
    pytest.param(
        "postgresql",
        "SELECT (ARRAY[10,20,30])[n:m], (ARRAY[10,20,30])[:2], (ARRAY[10,20,30])[start_:stop], "
        ":p FROM (SELECT 1 AS n, 2 AS m, 2 AS start_, 3 AS stop) t",
        "SELECT (ARRAY[10,20,30])[n:m], (ARRAY[10,20,30])[:2], (ARRAY[10,20,30])[start_:stop], "
        "7 FROM (SELECT 1 AS n, 2 AS m, 2 AS start_, 3 AS stop) t",
        ([10, 20], [10, 20], [20, 30], 7),
        id="pg-array-slices-are-not-placeholders",
    ),
    pytest.param(
        "postgresql",
        "SELECT 1::\"int4\", '2026-01-01'::date, 2*/* :x */3, :p",
        "SELECT 1::\"int4\", '2026-01-01'::date, 2*/* :x */3, 7",
        (1, dt.date(2026, 1, 1), 6, 7),
        id="pg-casts-and-a-comment-after-a-star",
    ),
    pytest.param(
        "postgresql",
        "SELECT $$ a $$ || $q$:x$q$ || $_t$ :y $_t$, $$:z$$, :p, $$ b $$",
        "SELECT $$ a $$ || $q$:x$q$ || $_t$ :y $_t$, $$:z$$, 7, $$ b $$",
        (" a :x :y ", ":z", 7, " b "),
        id="pg-dollar-quoted-bodies",
    ),
    pytest.param(
        "postgresql",
        "SELECT :p + -- the 'x'\n:p, -- next\n:p, 2 - 1, 14 / :p /**/, :p /* :x*/, "
        "3 + /* one */:p /* two */, 2*/* :y */3 -- last :z",
        "SELECT 7 + -- the 'x'\n7, -- next\n7, 2 - 1, 14 / 7 /**/, 7 /* :x*/, "
        "3 + /* one */7 /* two */, 2*/* :y */3 -- last :z",
        (14, 7, 1, 2, 7, 10, 6),
        id="pg-comments",
    ),
    pytest.param(
        "postgresql",
        "SELECT '' AS e, 'it''' AS q, 'a' IN ('a',':b'), 'ab', 'abc', :p, 'end'",
        "SELECT '' AS e, 'it''' AS q, 'a' IN ('a',':b'), 'ab', 'abc', 7, 'end'",
        ("", "it'", True, "ab", "abc", 7, "end"),
        id="pg-string-literals",
    ),
    pytest.param(
        "duckdb",
        "SELECT {'k':'v'} AS s, $$ a $$ || $q$:x$q$, :p",
        "SELECT {'k':'v'} AS s, $$ a $$ || $q$:x$q$, 7",
        ({"k": "v"}, " a :x", 7),
        id="duckdb-struct-and-dollar-quotes",
    ),
    pytest.param(
        "duckdb",
        "SELECT 'a\\' AS s, :p AS v",
        "SELECT 'a\\' AS s, 7 AS v",
        ("a\\", 7),
        id="duckdb-backslash-ends-nothing",
    ),
    pytest.param(
        "mysql",
        "SELECT 1 AS `a\\`, 1 AS `col :x`, 1 AS $x$, :p",
        "SELECT 1 AS `a\\`, 1 AS `col :x`, 1 AS $x$, 7",
        (1, 1, 1, 7),
        id="mysql-identifiers",
    ),
    pytest.param(
        "mysql",
        "SELECT 1 # :a\n, :p, @n := 1",
        "SELECT 1 # :a\n, 7, @n := 1",
        (1, 7, 1),
        id="mysql-hash-comment-and-assignment",
    ),
    pytest.param(
        "mysql",
        "SELECT 'a\\'' AS q, 'it''' AS r, '' AS e, 'ab', 'abc', :p, 'end'",
        "SELECT 'a\\'' AS q, 'it''' AS r, '' AS e, 'ab', 'abc', 7, 'end'",
        ("a'", "it'", "", "ab", "abc", 7, "end"),
        id="mysql-string-literals",
    ),
    pytest.param(
        "bigquery",
        "SELECT 1 AS `a :x` FROM `my-project:telemetry.main` WHERE a = 'x\\'' AND b = :p",
        "SELECT 1 AS `a :x` FROM `my-project:telemetry.main` WHERE a = 'x\\'' AND b = 7",
        None,
        id="bigquery-legacy-table-name",
    ),
]


@pytest.mark.parametrize(("dialect", "sql", "bound", "row"), SCANS)
def test_the_value_lands_only_where_the_placeholder_is(
    servers: dict[str, Any], dialect: str, sql: str, bound: str, row: tuple[Any, ...] | None
) -> None:
    assert bind(sql, {"p": 7}, dialect) == bound
    got = answer(servers, dialect, bound)
    if got is not None and row is not None:
        assert got == [row]


def test_a_text_that_starts_with_a_placeholder_or_a_literal() -> None:
    assert bind(":v", {"v": 3}) == "3"
    assert bind(":v", {"v": "x"}, "mysql") == "_utf8mb4 X'78'"
    assert bind("$$ :a $$ || :b", {"b": 1}) == "$$ :a $$ || 1"


def test_a_backtick_quotes_nothing_on_postgresql_and_duckdb() -> None:
    for dialect in ("postgresql", "duckdb"):
        assert bind("SELECT `:p`", {"p": 1}, dialect) == "SELECT `1`"


def test_a_positional_dollar_parameter_is_left_for_the_driver() -> None:
    assert bind("SELECT :a, $1", {"a": 2}) == "SELECT 2, $1"
    assert bind("SELECT :a, $1", {"a": 2}, "duckdb") == "SELECT 2, $1"


@pytest.mark.parametrize(
    ("sql", "dialect"),
    [
        ("SELECT :a, ':b", "postgresql"),
        ("SELECT :a /* :b", "postgresql"),
        ("SELECT :a, $$ :b", "postgresql"),
        ("SELECT :a, $t$ :b $$", "duckdb"),
        ("SELECT :a, 'x\\", "mysql"),
        ("SELECT :a, `:b", "mysql"),
        ('SELECT :a, ":b', "bigquery"),
    ],
)
def test_an_unterminated_literal_or_comment_hides_what_follows(sql: str, dialect: str) -> None:
    """The server rejects such a text; binding leaves it as written for the server to say so."""
    assert placeholders(sql, dialect) == ["a"]
    assert bind(sql, {"a": 1}, dialect) == sql.replace(":a", "1", 1)


# -- values: numpy/pandas units, subclasses, time zones and the exact refusals -----------------


class Stamp(dt.datetime):
    """A datetime subclass (as some libraries return) whose own text is not its value."""

    def isoformat(self, *args: Any, **kwargs: Any) -> str:
        return "1999-01-01 00:00:00'; DROP TABLE job; --"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.datetime64("2026"), dt.date(2026, 1, 1)),
        (np.datetime64("2026-03"), dt.date(2026, 3, 1)),
        (np.datetime64("2026-01-08", "W"), dt.date(2026, 1, 8)),
        (np.array(5), 5),
        (Stamp(2026, 1, 2, 3, 4, 5, 678901), dt.datetime(2026, 1, 2, 3, 4, 5, 678901)),
        # The second 02:30 of the night the clocks go back: 01:30 UTC, not 00:30.
        (
            Stamp(2026, 10, 25, 2, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"), fold=1),
            dt.datetime(2026, 10, 25, 1, 30),
        ),
    ],
    ids=["year", "month", "week", "zero-dim-array", "datetime-subclass", "fold"],
)
def test_values_reach_duckdb_by_their_value(
    servers: dict[str, Any], value: Any, expected: Any
) -> None:
    (row,) = answer(servers, "duckdb", bind("SELECT :v", {"v": value}, "duckdb")) or []
    assert row == (expected,)
    assert type(row[0]) is type(expected)


def test_a_set_binds_in_one_stable_order_whatever_its_types() -> None:
    """Sorted by type name, then text: the SQL (and so a server's cache key) never varies."""
    assert bind("SELECT :v", {"v": {"10", 9, 10}}) == "SELECT (10, 9, '10')"


def test_naive_datetimes_are_utc_whatever_the_machines_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    value = dt.datetime(2026, 1, 2, 5, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert literal(value) == "TIMESTAMP '2026-01-02 03:04:05'"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_bigquery_escapes_a_carriage_return() -> None:
    assert literal("a\rb\nc", "bigquery") == "'a\\rb\\nc'"


@pytest.mark.parametrize(
    ("value", "dialect", "message"),
    [
        (
            np.datetime64("10000-01-01T00:00:00"),
            "duckdb",
            "the timestamp 10000-01-01T00:00:00 is outside the years 1 to 9999",
        ),
        (np.timedelta64(5, "s"), "duckdb", "cannot bind a value of type numpy.timedelta64"),
        (
            pd.Interval(0, 1),
            "duckdb",
            "cannot bind a value of type Interval; use str, int, float, bool, None, date, "
            "datetime, Decimal or a list of those (numpy and pandas values too)",
        ),
        (
            np.datetime64("2026-01-01T00:00:00.000000001"),
            "duckdb",
            "the timestamp 2026-01-01T00:00:00.000000001 has nanoseconds, which SQL timestamps "
            "cannot hold; round it to microseconds first",
        ),
        (
            pd.Timestamp("2026-01-01 00:00:00.000000001"),
            "duckdb",
            "the timestamp 2026-01-01 00:00:00.000000001 has nanoseconds, which SQL timestamps "
            "cannot hold; round it to microseconds first (e.g. ts.floor('us'))",
        ),
        (
            float("nan"),
            "mysql",
            "cannot bind nan: mysql has no NaN or infinity; pass None (NULL) or filter the "
            "value out",
        ),
        (
            "a\x00",
            "postgresql",
            "a string parameter contains a NUL character, which SQL cannot hold",
        ),
        (
            "a\udc80",
            "postgresql",
            "a string parameter cannot be encoded as UTF-8: it holds the lone surrogate "
            "'\\udc80' at position 1 (decode bytes with errors='replace', or fix the text)",
        ),
    ],
    ids=[
        *("year-10000", "timedelta", "interval", "ns-datetime64", "ns-timestamp"),
        *("nan-mysql", "nul", "surrogate"),
    ],
)
def test_refusals_say_exactly_what_is_wrong(value: Any, dialect: str, message: str) -> None:
    with pytest.raises(ParameterError) as info:
        bind("SELECT :v", {"v": value}, dialect)
    assert info.value.message == f"parameter 'v': {message}"


def test_up_to_three_close_names_are_suggested() -> None:
    with pytest.raises(ParameterError) as info:
        bind(
            "SELECT :repos, :repo1, :repo2, :repo3",
            {"repos": 1, "repo1": 1, "repo2": 1, "repo3": 1, "repo": 2},
        )
    assert info.value.message == (
        "unknown parameter(s): repo (did you mean 'repos' or 'repo3' or 'repo2'?); "
        "the query uses :repo1, :repo2, :repo3, :repos"
    )


def test_a_missing_value_says_how_to_pass_it() -> None:
    with pytest.raises(ParameterError) as info:
        bind("SELECT :a, :c, :b", {"a": 1})
    assert info.value.message == (
        "missing value for parameter(s): b, c; pass them with params={...} "
        "(or -p NAME=VALUE on the command line)"
    )


def test_a_value_for_a_query_without_placeholders_says_so() -> None:
    with pytest.raises(ParameterError) as info:
        bind("SELECT 1", {"zz": 2, "c": 3})
    assert info.value.message == (
        "unknown parameter(s): c, zz; the query has no :name placeholders"
    )


def test_positional_parameters_are_refused_with_the_way_to_write_them() -> None:
    with pytest.raises(ParameterError) as info:
        bind("SELECT :a", [1])  # type: ignore[arg-type]
    assert info.value.message == (
        "params must be a mapping of name to value, not a list: positional parameters are not "
        "supported; write :name placeholders in the SQL and pass params={'name': value}"
    )


class Amount(Decimal):
    """A Decimal subclass (as money libraries define)."""


class Day(dt.date):
    """A date subclass whose own text is not its value."""

    def isoformat(self) -> str:
        return "1999-01-01'; DROP TABLE job; --"


def test_false_subclasses_and_list_items_bind_as_the_dialect_reads_them() -> None:
    assert literal(False) == "FALSE"
    assert literal(Amount("1.50")) == "1.50"
    assert literal(Day(2026, 1, 2)) == "DATE '2026-01-02'"
    assert literal(["a", "b'"], "mysql") == "(_utf8mb4 X'61', _utf8mb4 X'6227')"


def test_an_unknown_dialect_names_the_known_ones() -> None:
    with pytest.raises(ParameterError) as info:
        bind("SELECT 1", {}, "oracle")
    assert info.value.message == (
        "unknown SQL dialect 'oracle'; use one of postgresql, duckdb, mysql, bigquery"
    )


def test_a_list_keeps_its_order() -> None:
    assert bind("SELECT :v", {"v": [2, 1]}) == "SELECT (2, 1)"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([[1]], "a list parameter cannot contain lists"),
        (
            {"a": 1},
            "cannot bind a value of type dict; params is one mapping of name to value, and each "
            "value is a str, number, bool, None, date, datetime or a list",
        ),
        (
            b"x",
            "cannot bind a value of type bytes; use str, int, float, bool, None, date, datetime, "
            "Decimal or a list of those (numpy and pandas values too)",
        ),
    ],
    ids=["nested-list", "mapping", "bytes"],
)
def test_an_unbindable_type_is_refused_with_what_to_pass(value: Any, message: str) -> None:
    with pytest.raises(ParameterError) as info:
        literal(value)
    assert info.value.message == message
