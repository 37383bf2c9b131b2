"""Bound values as real PostgreSQL and MariaDB servers read them, in every quoting mode.

Run when ``THSOURCES_TEST_POSTGRES_URL`` / ``THSOURCES_TEST_MYSQL_URL`` are set (``.ci/run``
sets both); skipped otherwise. Each test works in a temporary table of its own session.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thsources.errors import ParameterError
from thsources.sqlbind import bind

PG_URL = os.environ.get("THSOURCES_TEST_POSTGRES_URL")
MYSQL_URL = os.environ.get("THSOURCES_TEST_MYSQL_URL")
needs_pg = pytest.mark.skipif(not PG_URL, reason="THSOURCES_TEST_POSTGRES_URL is not set")
needs_mysql = pytest.mark.skipif(not MYSQL_URL, reason="THSOURCES_TEST_MYSQL_URL is not set")

SQL_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)
# Strings that end a literal early when the quoting and the server disagree on backslashes.
ATTACKS = [
    "\\' OR 1=1 -- ",
    "\\' OR 1=1 #",
    "' OR '1'='1",
    "\\",
    "\\\\",
    "\\'",
    "''",
    "\\''",
    "it\\'s",
    "x\\\\' OR 1=1 -- ",
    "a\nb\r\tc",
    "\\0\\n\\Z",
    "%_",
    "é€😀",
]
MYSQL_MODES = ["", "NO_BACKSLASH_ESCAPES", "ANSI_QUOTES,NO_BACKSLASH_ESCAPES"]


def mysql_connect() -> Any:
    pymysql = pytest.importorskip("pymysql")
    assert MYSQL_URL is not None
    url = urlsplit(MYSQL_URL)
    return pymysql.connect(
        host=url.hostname or "127.0.0.1",
        port=url.port or 3306,
        user=unquote(url.username or "root"),
        password=unquote(url.password or ""),
        database=url.path.lstrip("/") or None,
        charset="utf8mb4",
        autocommit=True,
    )


@pytest.fixture(scope="module")
def my() -> Iterator[Any]:
    con = mysql_connect()
    with con.cursor() as cur:
        cur.execute(
            "CREATE TEMPORARY TABLE bind_probe (id INT, name VARCHAR(100), day DATE) "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        )
        cur.execute("INSERT INTO bind_probe VALUES (1, 'secret', '2026-01-01')")
    yield con
    con.close()


def my_one(con: Any, sql: str, mode: str) -> Any:
    with con.cursor() as cur:
        cur.execute("SET SESSION sql_mode = %s", (mode,))
        cur.execute(sql)
        return cur.fetchall()


@pytest.fixture(scope="module")
def pg() -> Iterator[Any]:
    psycopg = pytest.importorskip("psycopg")
    assert PG_URL is not None
    with psycopg.connect(PG_URL, autocommit=True) as con:
        con.execute("CREATE TEMPORARY TABLE bind_probe (id int, name text, day date)")
        con.execute("INSERT INTO bind_probe VALUES (1, 'secret', DATE '2026-01-01')")
        yield con


def pg_all(con: Any, sql: str, standard_strings: bool = True) -> Any:
    con.execute(f"SET standard_conforming_strings = {'on' if standard_strings else 'off'}")
    con.execute("SET escape_string_warning = off")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.execute("SET standard_conforming_strings = on")


# -- MariaDB --------------------------------------------------------------------------------


@needs_mysql
@pytest.mark.parametrize("mode", MYSQL_MODES)
@pytest.mark.parametrize("value", ATTACKS)
def test_mysql_literal_is_the_value_in_every_mode(my: Any, mode: str, value: str) -> None:
    sql = bind(
        "SELECT :v, (SELECT count(*) FROM bind_probe WHERE name = :v)", {"v": value}, "mysql"
    )
    assert my_one(my, sql, mode) == ((value, 0),)


@needs_mysql
@given(value=SQL_TEXT)
def test_any_string_round_trips_through_mariadb_in_both_modes(my: Any, value: str) -> None:
    sql = bind("SELECT :v", {"v": value}, "mysql")
    for mode in MYSQL_MODES[:2]:
        assert my_one(my, sql, mode) == ((value,),)


@needs_mysql
def test_mysql_scanner_keeps_backslash_escaped_literals_whole(my: Any) -> None:
    """'it\\'s :x' is one literal on MySQL: the value lands in :y only."""
    sql = bind("SELECT 'it\\'s :x' AS a, :y AS b", {"y": "v"}, "mysql")
    assert my_one(my, sql, "") == (("it's :x", "v"),)


@needs_mysql
@pytest.mark.parametrize("mode", MYSQL_MODES[:2])
def test_mysql_empty_list_for_int_text_and_date_columns(my: Any, mode: str) -> None:
    for col in ("id", "name", "day"):
        sql = bind(
            f"SELECT (SELECT count(*) FROM bind_probe WHERE {col} IN :e), "
            f"(SELECT count(*) FROM bind_probe WHERE {col} NOT IN :e)",
            {"e": []},
            "mysql",
        )
        assert my_one(my, sql, mode) == ((0, 1),), col


@needs_mysql
def test_mysql_values_by_type(my: Any) -> None:
    sql = bind(
        "SELECT :i, :f, :b, :d, :t, (SELECT count(*) FROM bind_probe WHERE id IN :ids)",
        {
            "i": 7,
            "f": 2.5,
            "b": True,
            "d": dt.date(2026, 1, 2),
            "t": dt.datetime(2026, 1, 2, 3, 4, 5, 6),
            "ids": [1, 2],
        },
        "mysql",
    )
    (row,) = my_one(my, sql, "")
    assert row[0] == 7 and float(row[1]) == 2.5 and row[2] == 1 and row[5] == 1
    assert row[3] in (dt.date(2026, 1, 2), "2026-01-02")
    assert str(row[4]).startswith("2026-01-02 03:04:05.000006")
    with pytest.raises(ParameterError, match="mysql has no NaN"):
        bind("SELECT :f", {"f": math.nan}, "mysql")


# -- PostgreSQL -----------------------------------------------------------------------------


@needs_pg
@pytest.mark.parametrize("standard_strings", [True, False], ids=["scs-on", "scs-off"])
@pytest.mark.parametrize("value", ATTACKS)
def test_postgresql_literal_is_the_value_in_both_string_modes(
    pg: Any, standard_strings: bool, value: str
) -> None:
    sql = bind("SELECT :v, (SELECT count(*) FROM bind_probe WHERE name = :v)", {"v": value})
    assert pg_all(pg, sql, standard_strings) == [(value, 0)]


@needs_pg
@given(value=SQL_TEXT)
def test_any_string_round_trips_through_postgresql(pg: Any, value: str) -> None:
    sql = bind("SELECT :v", {"v": value})
    assert pg_all(pg, sql, True) == [(value,)]
    assert pg_all(pg, sql, False) == [(value,)]


@needs_pg
def test_postgresql_empty_list_for_int_text_and_date_columns(pg: Any) -> None:
    """An empty list used to bind as a text-typed subquery: integer = text failed."""
    for col in ("id", "name", "day"):
        sql = bind(
            f"SELECT (SELECT count(*) FROM bind_probe WHERE {col} IN :e), "
            f"(SELECT count(*) FROM bind_probe WHERE {col} NOT IN :e), "
            f"(SELECT count(*) FROM bind_probe WHERE {col} IN :one)",
            {"e": [], "one": [{"id": 1, "name": "secret", "day": dt.date(2026, 1, 1)}[col]]},
        )
        assert pg_all(pg, sql) == [(0, 1, 1)], col


@needs_pg
def test_postgresql_non_finite_floats(pg: Any) -> None:
    (row,) = pg_all(pg, bind("SELECT :a, :b, :c", {"a": math.nan, "b": math.inf, "c": -math.inf}))
    assert math.isnan(row[0]) and row[1:] == (math.inf, -math.inf)
