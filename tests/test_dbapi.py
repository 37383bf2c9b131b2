"""PEP 249 on thsources: the read-side checks of the classic ``dbapi20`` suite, adapted.

The classic suite (Stuart Bishop's ``dbapi20.py``) creates tables and inserts rows; a
thsources source is read-only, so those write-side tests (``test_execute`` with inserts,
``test_executemany`` with rows, ``test_rowcount`` after DML, ``test_nextset``,
``test_callproc``, ``test_setinputsizes`` on DML, ``test_None`` via insert) do not apply.
Each read-side check runs against the local sample and the Redash emulator: module
attributes, the exception hierarchy, connection and cursor methods, ``description``, the
fetch methods, ``arraysize``, ``rowcount`` and close semantics.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Final

import pytest

import thsources
from thsources import dbapi, errors
from thsources.sources.base import Source
from thsources.testing import RedashEmulator

REPOS: Final = (
    "SELECT id, name FROM repository WHERE name IN ('autoland', 'mozilla-central', 'try') "
    "ORDER BY name"
)


@pytest.fixture(scope="module")
def emulator() -> Iterator[RedashEmulator]:
    with RedashEmulator(workers=2) as emu:
        yield emu


def _redash(emu: RedashEmulator) -> Source:
    return thsources.connect(
        "redash", url=emu.url, api_key=emu.api_key, data_source="Treeherder", timeout=30
    )


@pytest.fixture(params=["local", "redash"])
def con(request: pytest.FixtureRequest, emulator: RedashEmulator) -> Iterator[dbapi.Connection]:
    if request.param == "local":
        connection = dbapi.connect("local")
    else:
        connection = dbapi.connect(_redash(emulator))
    with connection:
        yield connection
    if request.param == "redash":
        connection.source.close()


@pytest.fixture
def cur(con: dbapi.Connection) -> Iterator[dbapi.Cursor]:
    with con.cursor() as cursor:
        yield cursor


# -- module attributes ---------------------------------------------------------------------------


def test_module_attributes() -> None:
    assert dbapi.apilevel == "2.0"
    assert dbapi.threadsafety in (0, 1, 2, 3)
    assert dbapi.paramstyle == "named"


def test_exception_hierarchy_is_pep_249s() -> None:
    assert issubclass(dbapi.Warning, Exception)
    assert issubclass(dbapi.Error, Exception)
    for name in ("InterfaceError", "DatabaseError"):
        assert issubclass(getattr(dbapi, name), dbapi.Error)
    for name in (
        "DataError",
        "OperationalError",
        "IntegrityError",
        "InternalError",
        "ProgrammingError",
        "NotSupportedError",
    ):
        assert issubclass(getattr(dbapi, name), dbapi.DatabaseError)


def test_connection_exposes_the_exceptions(con: dbapi.Connection) -> None:
    # The optional DB-API extension: con.Error etc. are the module's classes.
    for name in ("Warning", "Error", "InterfaceError", "DatabaseError", "ProgrammingError"):
        assert getattr(con, name) is getattr(dbapi, name)


@pytest.mark.parametrize(
    ("thsources_cls", "dbapi_cls"),
    [
        (errors.QueryError, dbapi.DatabaseError),
        (errors.ParameterError, dbapi.ProgrammingError),
        (errors.ConfigError, dbapi.ProgrammingError),
        (errors.UnsupportedQuery, dbapi.NotSupportedError),
        (errors.PermissionDenied, dbapi.ProgrammingError),
        (errors.NotFound, dbapi.ProgrammingError),
        (errors.SourceUnavailable, dbapi.OperationalError),
        (errors.AuthenticationError, dbapi.OperationalError),
        (errors.QueryTimeout, dbapi.OperationalError),
        (errors.QueryCancelled, dbapi.OperationalError),
        (errors.MissingDependency, dbapi.InterfaceError),
    ],
)
def test_translated_errors_are_both_kinds(
    thsources_cls: type[errors.ThsourcesError], dbapi_cls: type[dbapi.Error]
) -> None:
    original = thsources_cls("the message", source="s", job_id="7", query="SELECT 1")
    made = dbapi.translate(original)
    assert isinstance(made, thsources_cls)
    assert isinstance(made, errors.ThsourcesError)
    assert isinstance(made, dbapi_cls)
    assert type(made).__name__ == thsources_cls.__name__
    assert (str(made), made.source, made.job_id, made.query) == (
        "the message",
        "s",
        "7",
        "SELECT 1",
    )
    assert repr(made) == f"{thsources_cls.__name__}('the message')"
    # One class per pair, so `except` clauses and pickling-free comparisons stay cheap.
    assert type(dbapi.translate(thsources_cls("again"))) is type(made)


def test_the_library_tree_is_unchanged() -> None:
    # Catching ThsourcesError catches the same things as before; plain library errors are
    # not DB-API errors (only those raised through the DB-API are).
    assert not issubclass(errors.QueryError, dbapi.Error)
    assert errors.QueryError.__mro__[1:] == (
        errors.ThsourcesError,
        Exception,
        BaseException,
        object,
    )


# -- connection ----------------------------------------------------------------------------------


def test_commit_is_a_no_op(con: dbapi.Connection) -> None:
    con.commit()


def test_rollback_is_refused(con: dbapi.Connection) -> None:
    with pytest.raises(dbapi.NotSupportedError, match="read-only and has no transactions") as info:
        con.rollback()
    assert isinstance(info.value, errors.UnsupportedQuery)


def test_close_makes_the_connection_and_its_cursors_unusable(con: dbapi.Connection) -> None:
    cursor = con.cursor()
    con.close()
    con.close()  # a second close is harmless
    with pytest.raises(dbapi.InterfaceError, match="connection is closed"):
        con.cursor()
    with pytest.raises(dbapi.InterfaceError, match="cursor is closed"):
        cursor.execute("SELECT 1")
    with pytest.raises(dbapi.InterfaceError, match="connection is closed"):
        con.commit()


def test_closing_a_connection_made_from_a_source_leaves_the_source_open() -> None:
    with thsources.connect("local") as src:
        dbapi.connect(src).close()
        assert src.query("SELECT 1 AS x").records() == [{"x": 1}]


def test_unknown_profile_is_a_programming_error_with_the_librarys_message() -> None:
    with pytest.raises(dbapi.ProgrammingError, match="no profile or source kind named 'stmoo'"):
        dbapi.connect("stmoo")
    with pytest.raises(errors.ConfigError):
        dbapi.connect("stmoo")


# -- cursor --------------------------------------------------------------------------------------


def test_description_names_and_type_codes(cur: dbapi.Cursor) -> None:
    assert cur.description is None
    cur.execute(
        "SELECT 1 AS i, 1.5 AS f, true AS b, 'x' AS s, "
        "TIMESTAMP '2024-01-02 03:04:05' AS t, DATE '2024-01-02' AS d"
    )
    desc = cur.description
    assert desc is not None
    assert [d[0] for d in desc] == ["i", "f", "b", "s", "t", "d"]
    assert all(len(d) == 7 for d in desc)
    codes = [d[1] for d in desc]
    assert codes == ["integer", "float", "boolean", "string", "datetime", "date"]
    assert codes[0] == dbapi.NUMBER and codes[1] == dbapi.NUMBER
    assert codes[3] == dbapi.STRING and codes[3] != dbapi.NUMBER
    assert codes[4] == dbapi.DATETIME and codes[5] == dbapi.DATETIME
    assert dbapi.STRING != dbapi.BINARY and codes[3] != dbapi.ROWID
    assert cur.fetchone() == (
        1,
        1.5,
        True,
        "x",
        dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        dt.date(2024, 1, 2),
    )


def test_rowcount(cur: dbapi.Cursor) -> None:
    assert cur.rowcount == -1
    cur.execute(REPOS)
    assert cur.rowcount == 3
    cur.execute("SELECT id FROM repository WHERE name = 'no such'")
    assert cur.rowcount == 0


def test_fetchone(cur: dbapi.Cursor) -> None:
    with pytest.raises(dbapi.ProgrammingError, match="call execute"):
        cur.fetchone()
    cur.execute(REPOS)
    names = [cur.fetchone()[1] for _ in range(3)]  # type: ignore[index]
    assert names == ["autoland", "mozilla-central", "try"]
    assert cur.fetchone() is None
    assert cur.fetchone() is None


def test_fetchmany_and_arraysize(cur: dbapi.Cursor) -> None:
    assert cur.arraysize == 1
    cur.execute(REPOS)
    assert [r[1] for r in cur.fetchmany()] == ["autoland"]
    cur.arraysize = 10
    assert [r[1] for r in cur.fetchmany()] == ["mozilla-central", "try"]
    assert cur.fetchmany() == []
    cur.execute(REPOS)
    assert [r[1] for r in cur.fetchmany(2)] == ["autoland", "mozilla-central"]
    assert [r[1] for r in cur.fetchmany(2)] == ["try"]
    assert cur.fetchmany(2) == []


def test_fetchall(cur: dbapi.Cursor, con: dbapi.Connection) -> None:
    cur.execute(REPOS)
    rows = cur.fetchall()
    assert [r[1] for r in rows] == ["autoland", "mozilla-central", "try"]
    assert all(isinstance(r, tuple) for r in rows)
    assert cur.fetchall() == []
    cur.execute(REPOS)
    cur.fetchone()
    assert [r[1] for r in cur.fetchall()] == ["mozilla-central", "try"]
    expected = con.source.query(REPOS).rows()
    cur.execute(REPOS)
    assert cur.fetchall() == expected


def test_mixed_fetches_over_a_larger_result(cur: dbapi.Cursor, con: dbapi.Connection) -> None:
    sql = "SELECT id FROM job ORDER BY id LIMIT 25000"
    expected = con.source.query(sql).rows()
    cur.execute(sql)
    got = [cur.fetchone()]
    got += cur.fetchmany(12_000)
    got += list(cur.fetchmany(3))
    got += [row for _, row in zip(range(5), cur, strict=False)]
    got += cur.fetchall()
    assert got == expected


def test_iteration(cur: dbapi.Cursor) -> None:
    cur.execute(REPOS)
    assert [r[1] for r in cur] == ["autoland", "mozilla-central", "try"]


def test_named_parameters(cur: dbapi.Cursor) -> None:
    cur.execute("SELECT name FROM repository WHERE name = :name", {"name": "autoland"})
    assert cur.fetchall() == [("autoland",)]
    cur.execute("SELECT :v AS v", {"v": "it's"})
    assert cur.fetchall() == [("it's",)]


def test_positional_parameters_are_a_programming_error(cur: dbapi.Cursor) -> None:
    with pytest.raises(dbapi.ProgrammingError, match="paramstyle 'named'") as info:
        cur.execute("SELECT %s", ("x",))  # type: ignore[arg-type]
    assert isinstance(info.value, errors.ParameterError)


def test_a_missing_parameter_is_a_programming_error(cur: dbapi.Cursor) -> None:
    with pytest.raises(dbapi.ProgrammingError, match="name") as info:
        cur.execute("SELECT :name AS n", {})
    assert isinstance(info.value, errors.ParameterError)


def test_executemany_is_not_supported(cur: dbapi.Cursor) -> None:
    with pytest.raises(dbapi.NotSupportedError, match="executemany is not supported") as info:
        cur.executemany("SELECT :x", [{"x": 1}, {"x": 2}])
    assert isinstance(info.value, errors.UnsupportedQuery)


def test_a_failing_query_is_a_database_error_and_a_query_error(cur: dbapi.Cursor) -> None:
    with pytest.raises(dbapi.DatabaseError) as info:
        cur.execute("SELECT no_such_column FROM repository")
    assert isinstance(info.value, errors.QueryError)
    assert "no_such_column" in str(info.value)
    assert cur.description is None and cur.rowcount == -1


def test_close_semantics(con: dbapi.Connection) -> None:
    cursor = con.cursor()
    cursor.execute(REPOS)
    cursor.close()
    for call in (cursor.fetchone, cursor.fetchall, lambda: cursor.execute("SELECT 1")):
        with pytest.raises(dbapi.InterfaceError, match="cursor is closed") as info:
            call()
        assert isinstance(info.value, errors.ThsourcesError)


def test_setinputsizes_and_setoutputsize_are_accepted(cur: dbapi.Cursor) -> None:
    cur.setinputsizes([None])
    cur.setoutputsize(10)
    cur.setoutputsize(10, 0)


def test_constructors() -> None:
    assert dbapi.Date(2024, 1, 2) == dt.date(2024, 1, 2)
    assert dbapi.Time(3, 4, 5) == dt.time(3, 4, 5)
    assert dbapi.Timestamp(2024, 1, 2, 3, 4, 5) == dt.datetime(2024, 1, 2, 3, 4, 5)
    assert dbapi.DateFromTicks(86_400 * 365) == dt.date(1971, 1, 1)
    assert dbapi.TimestampFromTicks(0) == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    assert dbapi.TimeFromTicks(3661) == dt.time(1, 1, 1, tzinfo=dt.UTC)
    assert dbapi.Binary(b"x") == b"x"


# -- source-specific -----------------------------------------------------------------------------


def test_a_write_statement_is_refused_with_the_librarys_message() -> None:
    with dbapi.connect("local") as con, con.cursor() as cur:
        with pytest.raises(dbapi.ProgrammingError, match="read-only: DELETE is refused") as info:
            cur.execute("DELETE FROM repository")
        assert isinstance(info.value, errors.PermissionDenied)


def test_cancel_from_another_thread_cancels_the_redash_job(emulator: RedashEmulator) -> None:
    src = _redash(emulator)
    with src, dbapi.connect(src) as con, con.cursor() as cur:
        cur.execute("SELECT 1 AS warm")  # data source lookups out of the way
        outcome: list[BaseException] = []

        def run() -> None:
            try:
                cur.execute("SELECT pg_sleep(60)")
            except BaseException as exc:
                outcome.append(exc)

        worker = threading.Thread(target=run)
        worker.start()
        for _ in range(400):  # until the job exists on the server
            if any(r.method == "POST" and "pg_sleep" in str(r.json) for r in emulator.requests):
                break
            time.sleep(0.01)
        for _ in range(400):  # until the cursor holds the job
            if cur._job is not None:
                break
            time.sleep(0.01)
        cur.cancel()
        worker.join(30)
        assert not worker.is_alive()
        assert len(outcome) == 1
        assert isinstance(outcome[0], errors.QueryCancelled)
        assert isinstance(outcome[0], dbapi.OperationalError)
        deletes = [r.path for r in emulator.requests if r.method == "DELETE"]
        assert len(deletes) == 1 and deletes[0].startswith("/api/jobs/")


def test_cancel_with_nothing_running_does_nothing(cur: dbapi.Cursor) -> None:
    cur.cancel()
    cur.execute(REPOS)
    cur.cancel()
    assert len(cur.fetchall()) == 3


def test_connect_options_reach_the_source(emulator: RedashEmulator) -> None:
    with dbapi.connect(
        "redash", url=emulator.url, api_key=emulator.api_key, data_source="Treeherder"
    ) as con:
        assert con.source.kind == "redash"
        cur = con.cursor()
        cur.execute("SELECT 1 AS x")
        assert cur.fetchall() == [(1,)]


def test_options_with_a_source_object_are_refused() -> None:
    with thsources.connect("local") as src, pytest.raises(dbapi.ProgrammingError, match="already"):
        dbapi.connect(src, timeout=3)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM job ORDER BY id LIMIT 3000",
        "SELECT * FROM push ORDER BY id",
        "SELECT TIMESTAMP '0001-01-01 00:00:00' AS first, CAST(NULL AS timestamp) AS missing, "
        "TIMESTAMP '2024-01-01 00:00:00.123456+02' AS offset_given, NULL AS nothing",
        "SELECT start_time FROM job WHERE false",
        "SELECT CASE WHEN id % 3 = 0 THEN NULL ELSE end_time END AS t, id FROM job "
        "ORDER BY id LIMIT 500",
    ],
)
def test_fetched_rows_are_the_results_rows(sql: str) -> None:
    # The cursor converts datetimes through pandas (fast); values, types and the tzinfo
    # object must be exactly those of Result.rows().
    with thsources.connect("local") as src:
        expected = src.query(sql).rows()
        with dbapi.connect(src) as con, con.cursor() as cur:
            cur.execute(sql)
            got = cur.fetchall()
    assert got == expected
    for got_row, expected_row in zip(got, expected, strict=True):
        for g, e in zip(got_row, expected_row, strict=True):
            assert type(g) is type(e)
            assert getattr(g, "tzinfo", None) is getattr(e, "tzinfo", None)


def test_importing_the_dbapi_module_stays_light() -> None:
    # `import thsources.dbapi` (what SQLAlchemy's entry point and tools do first) loads no
    # heavy library, and `import thsources` does not load SQLAlchemy.
    code = (
        "import sys, thsources; assert 'sqlalchemy' not in sys.modules; "
        "import thsources.dbapi; "
        "print([m for m in ('pandas', 'pyarrow', 'duckdb', 'sqlalchemy') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
