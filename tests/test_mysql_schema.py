"""The sample's MySQL schema on a real MariaDB: the DDL executes, holds the sample's rows, and
compares strings as PostgreSQL does; values bound for MySQL find exactly their rows.

Runs when ``THSOURCES_TEST_MYSQL_URL`` is set (``.ci/run`` sets it); skipped otherwise.
Everything happens in a database of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from thsources.local.sample import iter_tables
from thsources.local.schema import TABLES, ddl, quote_ident
from thsources.sqlbind import bind

URL = os.environ.get("THSOURCES_TEST_MYSQL_URL")
pytestmark = pytest.mark.skipif(not URL, reason="THSOURCES_TEST_MYSQL_URL is not set")
SCALE = 0.05  # a twentieth of the sample: every table and type, in seconds


@pytest.fixture(scope="module")
def my() -> Iterator[Any]:
    pymysql = pytest.importorskip("pymysql")
    assert URL is not None
    url = urlsplit(URL)
    database = f"thsources_test_{uuid.uuid4().hex[:8]}"
    con = pymysql.connect(
        host=url.hostname or "127.0.0.1",
        port=url.port or 3306,
        user=unquote(url.username or "root"),
        password=unquote(url.password or ""),
        charset="utf8mb4",
        autocommit=True,
    )
    with con.cursor() as cur:
        cur.execute(f"CREATE DATABASE {database} CHARACTER SET utf8mb4")
        cur.execute(f"USE {database}")
    try:
        yield con
    finally:
        with con.cursor() as cur:
            cur.execute(f"DROP DATABASE {database}")
        con.close()


@pytest.fixture(scope="module")
def loaded(my: Any) -> Any:
    with my.cursor() as cur:
        for statement in ddl("mysql", foreign_keys=True):
            cur.execute(statement)
        for table, rows in iter_tables(scale=SCALE):
            columns = ", ".join(quote_ident(c, "mysql") for c in table.column_names)
            marks = ", ".join(["%s"] * len(table.column_names))
            sql = f"INSERT INTO {quote_ident(table.name, 'mysql')} ({columns}) VALUES ({marks})"
            batch = list(rows)
            if batch:
                cur.executemany(sql, batch)
    return my


def one(con: Any, sql: str) -> Any:
    with con.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def test_the_mysql_ddl_creates_every_table_with_its_foreign_keys(loaded: Any) -> None:
    tables = one(
        loaded, "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE()"
    )
    assert tables == ((len(TABLES),),)
    fks = one(
        loaded,
        "SELECT count(*) FROM information_schema.referential_constraints "
        "WHERE constraint_schema = DATABASE()",
    )
    assert fks == ((sum(len(t.foreign_keys) for t in TABLES),),)
    assert one(loaded, "SELECT count(*) > 0 FROM job") == ((1,),)


def test_strings_compare_case_sensitively_as_on_postgresql(loaded: Any) -> None:
    assert one(loaded, "SELECT count(*) FROM repository WHERE name = 'AUTOLAND'") == ((0,),)
    assert one(loaded, "SELECT count(*) FROM repository WHERE name = 'autoland'") == ((1,),)


@pytest.mark.parametrize("mode", ["", "NO_BACKSLASH_ESCAPES"])
def test_bound_values_find_their_rows_in_both_modes(loaded: Any, mode: str) -> None:
    with loaded.cursor() as cur:
        cur.execute("SET SESSION sql_mode = %s", (mode,))
    sql = bind(
        "SELECT count(*) FROM push p JOIN repository r ON r.id = p.repository_id "
        "WHERE r.name IN :repos AND r.name <> :not_this AND p.id NOT IN :none",
        {"repos": ["autoland", "AUTOLAND"], "not_this": "\\' OR 1=1 -- ", "none": []},
        "mysql",
    )
    expected = one(
        loaded,
        "SELECT count(*) FROM push p JOIN repository r ON r.id = p.repository_id "
        "WHERE r.name = 'autoland'",
    )
    assert expected[0][0] > 0
    assert one(loaded, sql) == expected
