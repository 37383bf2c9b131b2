"""The ``sql`` source without a server: URLs, placeholder rewriting, SQLite and DuckDB files."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

import thsources
from thsources.errors import ConfigError, NotFound, ParameterError, PermissionDenied, QueryError
from thsources.sources.sql_params import to_driver

# -- placeholders ------------------------------------------------------------------------------


def test_placeholders_become_the_drivers_and_values_travel_apart() -> None:
    sql, values = to_driver(
        "SELECT ':skip', \"a:b\" FROM t -- :c\nWHERE x = :x AND y::text LIKE 'a%' AND z = :x",
        {"x": "O'Brien"},
        "postgresql",
        "pyformat",
    )
    assert sql == (
        "SELECT ':skip', \"a:b\" FROM t -- :c\nWHERE x = %(x)s AND y::text LIKE 'a%%' AND z = %(x)s"
    )
    assert values == {"x": "O'Brien"}


def test_without_placeholders_the_sql_is_left_exactly_as_written() -> None:
    assert to_driver("SELECT '100%'", None, "mysql", "pyformat") == ("SELECT '100%'", {})


def test_lists_expand_to_one_placeholder_per_item_or_an_array_on_postgresql() -> None:
    assert to_driver("SELECT 1 WHERE a IN :v", {"v": [1, 2]}, "mysql", "pyformat") == (
        "SELECT 1 WHERE a IN (%(v__0)s, %(v__1)s)",
        {"v__0": 1, "v__1": 2},
    )
    assert to_driver("SELECT 1 WHERE a NOT IN :v", {"v": []}, "mysql", "pyformat") == (
        "SELECT 1 WHERE a NOT IN (SELECT NULL FROM DUAL WHERE FALSE)",
        {},
    )
    assert to_driver(
        "SELECT 1 WHERE a NOT IN :v", {"v": ["x"]}, "postgresql", "pyformat", arrays=True
    ) == ("SELECT 1 WHERE a <> ALL(%(v)s)", {"v": ["x"]})
    assert to_driver(
        "SELECT 1 WHERE a in :v", {"v": []}, "postgresql", "pyformat", arrays=True
    ) == (
        "SELECT 1 WHERE a = ANY(%(v)s)",
        {"v": []},
    )


def test_aware_datetimes_are_sent_as_naive_utc() -> None:
    at = dt.datetime(2024, 1, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert to_driver("SELECT :t", {"t": at}, "duckdb", "dollar") == (
        "SELECT $t",
        {"t": dt.datetime(2024, 1, 1, 0, 0)},
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "missing value for parameter\\(s\\): x"),
        ({"x": 1, "y": 2}, "unknown parameter\\(s\\): y"),
        ({"x": object()}, "cannot bind a value of type object"),
        ({"x": float("nan")}, "non-finite"),
        ({"x": [[1]]}, "cannot contain lists"),
    ],
)
def test_bad_parameters_are_refused_before_anything_is_sent(
    params: dict[str, object], message: str
) -> None:
    with pytest.raises(ParameterError, match=message):
        to_driver("SELECT :x", params, "postgresql", "pyformat")


# -- URLs ----------------------------------------------------------------------------------------


def test_a_url_is_required_and_shown_masked() -> None:
    with pytest.raises(ConfigError, match="needs a url"):
        thsources.connect("sql")
    src = thsources.connect("sql", url="postgresql://me:hunter2@db.example:5432/treeherder")
    assert "hunter2" not in repr(src)
    assert src.describe() == {
        "name": "sql",
        "kind": "sql",
        "url": "postgresql://me:***@db.example:5432/treeherder",
        "dialect": "postgresql",
    }


@pytest.mark.parametrize(
    "url", ["postgresql+psycopg2://u@h/db", "mysql+mysqldb://u@h/db", "oracle://u@h/db"]
)
def test_drivers_other_than_the_shipped_ones_are_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="drop the \\+driver part"):
        thsources.connect("sql", url=url)


def test_a_string_that_is_no_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not a database URL"):
        thsources.connect("sql", url="not a url")


def test_the_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THSOURCES_SQL_URL", "mysql://reader:pw@replica/treeherder")
    with thsources.connect("sql") as src:
        assert src.dialect == "mysql"
        assert src.url == "mysql://reader:***@replica/treeherder"


# -- SQLite and DuckDB files ------------------------------------------------------------------


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    path = tmp_path / "th.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE push (id INTEGER, revision TEXT, ratio REAL)")
    con.executemany(
        "INSERT INTO push VALUES (?, ?, ?)", [(1, "abc", 0.5), (2, "it's", None), (3, None, 2)]
    )
    con.commit()
    con.close()
    return path


def test_sqlite_files_are_queried_with_bound_parameters(sqlite_file: Path) -> None:
    with thsources.connect("sql", url=f"sqlite:///{sqlite_file}") as src:
        res = src.query("SELECT * FROM push WHERE revision = :r OR id > :n", {"r": "it's", "n": 2})
    assert [(c.name, c.type) for c in res.columns] == [
        ("id", "integer"),
        ("revision", "string"),
        ("ratio", "float"),
    ]
    assert res.records() == [
        {"id": 2, "revision": "it's", "ratio": None},
        {"id": 3, "revision": None, "ratio": 2.0},
    ]


def test_sqlite_files_are_opened_read_only(sqlite_file: Path) -> None:
    with thsources.connect("sql", url=f"sqlite:///{sqlite_file}") as src:
        with pytest.raises(PermissionDenied, match="read-only"):
            src.query("DELETE FROM push")
        assert len(src.query("SELECT * FROM push")) == 3


def test_a_missing_file_is_not_found(tmp_path: Path) -> None:
    with (
        thsources.connect("sql", url=f"sqlite:///{tmp_path / 'nope.db'}") as src,
        pytest.raises(NotFound, match="no database file"),
    ):
        src.query("SELECT 1")


def test_duckdb_files_are_queried_read_only(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "th.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE job (id BIGINT, doc JSON, seen TIMESTAMP)")
    con.execute("""INSERT INTO job VALUES (1, '{"a": 1}', TIMESTAMP '2024-01-01 10:00:00')""")
    con.close()
    with thsources.connect("sql", url=f"duckdb:///{path}") as src:
        res = src.query("SELECT * FROM job WHERE id = :id", {"id": 1})
        assert res.records() == [
            {"id": 1, "doc": {"a": 1}, "seen": dt.datetime(2024, 1, 1, 10, tzinfo=dt.UTC)}
        ]
        with pytest.raises(PermissionDenied, match="read-only"):
            src.query("DELETE FROM job")
        with pytest.raises(QueryError, match="no_such"):
            src.query("SELECT * FROM no_such")
