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
import io
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd
import pytest
from sql_servers import Server, server, wait_until

import thsources
from thsources import dbapi, errors
from thsources.cli import main
from thsources.sources.base import Source
from thsources.testing import ActiveDataEmulator, RedashEmulator

REPOS: Final = (
    "SELECT id, name FROM repository WHERE name IN ('autoland', 'mozilla-central', 'try') "
    "ORDER BY name"
)
SAMPLE_SCALE: Final = "0.05"
"""The sample's scale on the real servers: enough rows, a load of a few seconds."""


@dataclass(frozen=True)
class Target:
    """One source under test and the statements its SQL needs for the read-side checks."""

    kind: str
    connect: Callable[[], dbapi.Connection]
    repos: str = REPOS
    """Three rows whose column ``name_at`` is autoland, mozilla-central, try."""
    name_at: int = 1
    empty: str = "SELECT id FROM repository WHERE name = 'no such'"
    many: str = (
        "SELECT j.id, r.id AS repository FROM job j CROSS JOIN repository r "
        "ORDER BY j.id, r.id LIMIT 25000"
    )
    """More rows than the cursor converts at a time (10,000)."""
    by_name: str = "SELECT name FROM repository WHERE name = :name"
    literal: str = "SELECT :v AS v"
    failing: str = "SELECT no_such_column FROM repository"
    typed: str = (
        "SELECT 1 AS i, 1.5 AS f, true AS b, 'x' AS s, "
        "TIMESTAMP '2024-01-02 03:04:05' AS t, DATE '2024-01-02' AS d"
    )
    typed_row: tuple[Any, ...] = (
        ("i", "integer", 1),
        ("f", "float", 1.5),
        ("b", "boolean", True),
        ("s", "string", "x"),
        ("t", "datetime", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)),
        ("d", "date", dt.date(2024, 1, 2)),
    )
    """(name, type code, value) of each column of ``typed``."""


TARGETS: Final = ("local", "redash", "sql-postgresql", "sql-mysql", "activedata")


@pytest.fixture(scope="module")
def emulator() -> Iterator[RedashEmulator]:
    with RedashEmulator(workers=2) as emu:
        yield emu


@pytest.fixture(scope="module")
def activedata() -> Iterator[ActiveDataEmulator]:
    with ActiveDataEmulator() as emu:
        yield emu


def _load_sample(kind: str) -> Iterator[Server]:
    with server(kind) as srv:
        err = io.StringIO()
        code = main(["sample", "load", srv.url, "--scale", SAMPLE_SCALE], stderr=err)
        assert code == 0, err.getvalue()
        yield srv


@pytest.fixture(scope="module")
def postgresql() -> Iterator[Server]:
    """A real PostgreSQL with the sample loaded (skipped, saying what to export, without)."""
    yield from _load_sample("postgresql")


@pytest.fixture(scope="module")
def mysql() -> Iterator[Server]:
    """A real MariaDB/MySQL with the sample loaded (skipped, saying what to export, without)."""
    yield from _load_sample("mysql")


def _redash(emu: RedashEmulator) -> Source:
    return thsources.connect(
        "redash", url=emu.url, api_key=emu.api_key, data_source="Treeherder", timeout=30
    )


def _target(request: pytest.FixtureRequest, kind: str) -> Target:
    if kind == "local":
        return Target(kind, lambda: dbapi.connect("local"))
    if kind == "redash":
        emu = request.getfixturevalue("emulator")
        return Target(kind, lambda: dbapi.connect(_redash(emu)))
    if kind == "sql-postgresql":
        srv = request.getfixturevalue("postgresql")
        return Target(kind, lambda: dbapi.connect("sql", url=srv.url))
    if kind == "sql-mysql":
        srv = request.getfixturevalue("mysql")
        return Target(
            kind,
            lambda: dbapi.connect("sql", url=srv.url),
            typed="SELECT 1 AS i, 1.5e0 AS f, 'x' AS s, "
            "TIMESTAMP '2024-01-02 03:04:05' AS t, DATE '2024-01-02' AS d",
            typed_row=(
                ("i", "integer", 1),
                ("f", "float", 1.5),
                ("s", "string", "x"),
                ("t", "datetime", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)),
                ("d", "date", dt.date(2024, 1, 2)),
            ),
        )
    assert kind == "activedata"
    emu = request.getfixturevalue("activedata")
    # ActiveData's own tables and field names; SQL is translated to JX (no joins).
    return Target(
        kind,
        lambda: dbapi.connect("activedata", url=emu.url),
        repos="SELECT count(*) AS pushes, branch.name FROM repo "
        "WHERE branch.name IN ('autoland', 'mozilla-central', 'try') "
        "GROUP BY branch.name ORDER BY branch.name",
        name_at=0,  # JX puts the groupby columns first
        empty="SELECT push.id FROM repo WHERE branch.name = 'no such'",
        many="SELECT job.id FROM treeherder ORDER BY job.id LIMIT 25000",
        by_name="SELECT branch.name AS name FROM repo WHERE branch.name = :name "
        "GROUP BY branch.name",
        literal="SELECT :v AS v FROM repo LIMIT 1",
        failing="SELECT no_such_column FROM repo",
        typed="SELECT 1 AS i, 1.5 AS f, true AS b, 'x' AS s, push.date AS t FROM repo "
        "WHERE push.id = 1650001",
        typed_row=(
            ("i", "integer", 1),
            ("f", "float", 1.5),
            ("b", "boolean", True),
            ("s", "string", "x"),
            ("t", "datetime", dt.datetime(2026, 7, 4, 8, 3, 55, tzinfo=dt.UTC)),
        ),
    )


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest) -> Target:
    return _target(request, request.param)


@pytest.fixture
def con(target: Target) -> Iterator[dbapi.Connection]:
    connection = target.connect()
    with connection:
        yield connection
    connection.source.close()  # left open by close() when the connection was given a Source


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


def test_description_names_and_type_codes(cur: dbapi.Cursor, target: Target) -> None:
    assert cur.description is None
    cur.execute(target.typed)
    desc = cur.description
    assert desc is not None
    assert [d[0] for d in desc] == [c[0] for c in target.typed_row]
    assert all(len(d) == 7 and d[2:] == (None, None, None, None, True) for d in desc)
    codes = {d[0]: d[1] for d in desc}
    assert list(codes.values()) == [c[1] for c in target.typed_row]
    assert codes["i"] == dbapi.NUMBER and codes["f"] == dbapi.NUMBER
    assert codes["s"] == dbapi.STRING and codes["s"] != dbapi.NUMBER
    assert codes["t"] == dbapi.DATETIME
    assert dbapi.STRING != dbapi.BINARY and codes["s"] != dbapi.ROWID
    if "d" in codes:
        assert codes["d"] == dbapi.DATETIME
    if "b" in codes:
        assert codes["b"] == dbapi.NUMBER
    assert cur.fetchone() == tuple(c[2] for c in target.typed_row)


def test_rowcount(cur: dbapi.Cursor, target: Target) -> None:
    assert cur.rowcount == -1
    cur.execute(target.repos)
    assert cur.rowcount == 3
    cur.execute(target.empty)
    assert cur.rowcount == 0
    assert cur.fetchall() == []


def test_fetchone(cur: dbapi.Cursor, target: Target) -> None:
    with pytest.raises(dbapi.ProgrammingError, match="call execute"):
        cur.fetchone()
    cur.execute(target.repos)
    names = [cur.fetchone()[target.name_at] for _ in range(3)]  # type: ignore[index]
    assert names == ["autoland", "mozilla-central", "try"]
    assert cur.fetchone() is None
    assert cur.fetchone() is None


def test_fetchmany_and_arraysize(cur: dbapi.Cursor, target: Target) -> None:
    assert cur.arraysize == 1
    cur.execute(target.repos)
    assert [r[target.name_at] for r in cur.fetchmany()] == ["autoland"]
    cur.arraysize = 10
    assert [r[target.name_at] for r in cur.fetchmany()] == ["mozilla-central", "try"]
    assert cur.fetchmany() == []
    cur.execute(target.repos)
    assert [r[target.name_at] for r in cur.fetchmany(2)] == ["autoland", "mozilla-central"]
    assert [r[target.name_at] for r in cur.fetchmany(2)] == ["try"]
    assert cur.fetchmany(2) == []


def test_fetchall(cur: dbapi.Cursor, con: dbapi.Connection, target: Target) -> None:
    cur.execute(target.repos)
    rows = cur.fetchall()
    assert [r[target.name_at] for r in rows] == ["autoland", "mozilla-central", "try"]
    assert all(isinstance(r, tuple) for r in rows)
    assert cur.fetchall() == []
    cur.execute(target.repos)
    cur.fetchone()
    assert [r[target.name_at] for r in cur.fetchall()] == ["mozilla-central", "try"]
    expected = con.source.query(target.repos).rows()
    cur.execute(target.repos)
    assert cur.fetchall() == expected


def test_mixed_fetches_over_a_larger_result(
    cur: dbapi.Cursor, con: dbapi.Connection, target: Target
) -> None:
    expected = con.source.query(target.many).rows()
    assert len(expected) > 12_010  # the fetches below cross the 10,000-row conversion chunk
    cur.execute(target.many)
    got = [cur.fetchone()]
    got += cur.fetchmany(12_000)
    got += list(cur.fetchmany(3))
    got += [row for _, row in zip(range(5), cur, strict=False)]
    got += cur.fetchall()
    assert got == expected


def test_fetch_df_and_fetch_arrow_table_give_the_rows_not_fetched_yet(
    cur: dbapi.Cursor, con: dbapi.Connection, target: Target
) -> None:
    whole = con.source.query(target.repos)
    cur.execute(target.repos)
    pd.testing.assert_frame_equal(cur.fetch_df(), whole.to_pandas())
    assert cur.fetchall() == []  # fetch_df consumed the rows, as fetchall() does
    assert len(cur.fetch_df()) == 0
    cur.execute(target.repos)
    first = cur.fetchone()
    assert first == whole.rows()[0]
    table = cur.fetch_arrow_table()
    assert table.equals(whole.to_arrow().slice(1))
    assert cur.fetchone() is None
    cur.execute(target.empty)
    assert cur.fetch_arrow_table().num_rows == 0


def test_fetch_df_before_execute_and_after_close(cur: dbapi.Cursor) -> None:
    with pytest.raises(dbapi.ProgrammingError, match="call execute"):
        cur.fetch_df()
    cur.close()
    with pytest.raises(dbapi.InterfaceError, match="cursor is closed"):
        cur.fetch_arrow_table()


def test_iteration(cur: dbapi.Cursor, target: Target) -> None:
    cur.execute(target.repos)
    assert [r[target.name_at] for r in cur] == ["autoland", "mozilla-central", "try"]


def test_named_parameters(cur: dbapi.Cursor, target: Target) -> None:
    cur.execute(target.by_name, {"name": "autoland"})
    assert cur.fetchall() == [("autoland",)]
    cur.execute(target.literal, {"v": "it's"})
    assert cur.fetchall() == [("it's",)]


def test_positional_parameters_are_a_programming_error(cur: dbapi.Cursor) -> None:
    with pytest.raises(dbapi.ProgrammingError, match="paramstyle 'named'") as info:
        cur.execute("SELECT %s", ("x",))  # type: ignore[arg-type]
    assert isinstance(info.value, errors.ParameterError)


def test_a_missing_parameter_is_a_programming_error(cur: dbapi.Cursor, target: Target) -> None:
    with pytest.raises(dbapi.ProgrammingError, match="name") as info:
        cur.execute(target.by_name, {})
    assert isinstance(info.value, errors.ParameterError)


def test_executemany_is_not_supported(cur: dbapi.Cursor) -> None:
    with pytest.raises(dbapi.NotSupportedError, match="executemany is not supported") as info:
        cur.executemany("SELECT :x", [{"x": 1}, {"x": 2}])
    assert isinstance(info.value, errors.UnsupportedQuery)


def test_a_failing_query_is_a_database_error_and_a_query_error(
    cur: dbapi.Cursor, target: Target
) -> None:
    cur.execute(target.repos)
    with pytest.raises(dbapi.DatabaseError) as info:
        cur.execute(target.failing)
    assert isinstance(info.value, errors.QueryError)
    assert "no_such_column" in str(info.value)
    assert cur.description is None and cur.rowcount == -1


def test_close_semantics(con: dbapi.Connection, target: Target) -> None:
    cursor = con.cursor()
    cursor.execute(target.repos)
    cursor.close()
    for call in (cursor.fetchone, cursor.fetchall, lambda: cursor.execute(target.repos)):
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


def test_a_cancel_while_the_redash_job_is_posted_cancels_the_job(
    emulator: RedashEmulator,
) -> None:
    # The cursor has no job until the POST answers; a cancel() meanwhile must not be lost.
    src = _redash(emulator)
    with src, dbapi.connect(src) as con, con.cursor() as cur:
        cur.execute("SELECT 1 AS warm")  # data source lookups out of the way
        emulator.clear_requests()
        emulator.faults.match_method, emulator.faults.match_path = "POST", "query_results"
        emulator.faults.slow, emulator.faults.slow_seconds = 1, 3.0
        cur.timeout = 20
        try:
            worker, outcome = _execute_in_thread(cur, "SELECT pg_sleep(60)")
            assert cur._running and cur._job is None  # inside submit(): the POST waits
            cur.cancel()
            worker.join(30)
        finally:
            emulator.faults.clear()
        assert not worker.is_alive()
        assert len(outcome) == 1
        assert isinstance(outcome[0], errors.QueryCancelled)
        assert isinstance(outcome[0], dbapi.OperationalError)
        deletes = [r.path for r in emulator.requests if r.method == "DELETE"]
        assert len(deletes) == 1 and deletes[0].startswith("/api/jobs/")


SLOW_LOCAL: Final = (
    "SELECT count(*) AS n FROM generate_series(1, 200000) a(x), generate_series(1, 200000) b(y) "
    "WHERE (a.x * b.y) % 7 = 3"
)
"""Minutes of work on the local sample: only a deadline or the end stops it."""


def _execute_in_thread(cur: dbapi.Cursor, sql: str) -> tuple[threading.Thread, list[object]]:
    outcome: list[object] = []

    def run() -> None:
        try:
            cur.execute(sql)
            outcome.append(cur.fetchall())
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    for _ in range(400):  # until execute is inside the source's submit()
        if cur._running:
            break
        time.sleep(0.01)
    return worker, outcome


def _slow(request: pytest.FixtureRequest, kind: str) -> tuple[Target, str, Server | None]:
    """(target, a statement that runs for minutes, its server) for a synchronous source."""
    target = _target(request, kind)
    if kind == "local":
        return target, SLOW_LOCAL, None
    srv = request.getfixturevalue(kind.removeprefix("sql-"))
    return target, srv.slow_sql("dbapi_slow"), srv


@pytest.mark.parametrize("kind", ["local", "sql-postgresql", "sql-mysql"])
def test_cancel_from_another_thread_stops_a_local_or_sql_statement(
    request: pytest.FixtureRequest, kind: str
) -> None:
    # local and sql run the statement as a background job: cancel() stops it where it runs
    # (DuckDB interrupted, the statement cancelled on the server), long before its deadline.
    # tests/test_sql_cancel.py also sees the sql statement gone from the server.
    target, slow, srv = _slow(request, kind)
    with target.connect() as con, con.cursor() as cur:
        try:
            cur.timeout = 600
            worker, outcome = _execute_in_thread(cur, slow)
            cur.cancel()
            worker.join(60)
            assert not worker.is_alive()
            assert len(outcome) == 1
            assert isinstance(outcome[0], errors.QueryCancelled)
            assert isinstance(outcome[0], dbapi.OperationalError)
            assert str(outcome[0]) == "the job was cancelled"
            cur.execute(target.repos)  # the next statement is not cancelled
            assert cur.rowcount == 3
        finally:
            if srv is not None:
                srv.stop("dbapi_slow")
        con.source.close()


def test_a_cancel_between_statements_does_not_cancel_the_next(
    cur: dbapi.Cursor, target: Target
) -> None:
    cur.execute(target.repos)
    cur.cancel()
    cur.execute(target.repos)
    assert cur.rowcount == 3


@pytest.mark.parametrize("kind", ["local", "sql-postgresql", "sql-mysql"])
def test_the_deadline_stops_a_synchronous_statement(
    request: pytest.FixtureRequest, kind: str
) -> None:
    target, slow, srv = _slow(request, kind)
    with target.connect() as con, con.cursor() as cur:
        try:
            cur.timeout = 1
            with pytest.raises(dbapi.OperationalError, match="did not finish within 1 s") as info:
                cur.execute(slow)
            assert isinstance(info.value, errors.QueryTimeout)
            if srv is not None:
                assert wait_until(lambda: srv.running("dbapi_slow") == 0)
        finally:
            if srv is not None:
                srv.stop("dbapi_slow")
        con.source.close()


def test_cancel_with_nothing_running_does_nothing(cur: dbapi.Cursor, target: Target) -> None:
    cur.cancel()
    cur.execute(target.repos)
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
        # numbers and booleans without nulls come from NumPy, with nulls from Arrow
        "SELECT id, id % 2 = 0 AS even, id / 7.0 AS seventh, CAST(tier AS double precision) "
        "AS tier_f, CASE WHEN id % 5 = 0 THEN NULL ELSE id END AS gappy, "
        "CASE WHEN id % 5 = 0 THEN NULL ELSE id % 2 = 0 END AS gappy_b, "
        "CASE WHEN id % 5 = 0 THEN NULL ELSE id / 7.0 END AS gappy_f FROM job "
        "ORDER BY id LIMIT 500",
        "SELECT DATE '2024-01-02' AS d, CAST(NULL AS date) AS nd, "
        "CAST('{\"a\": [1, 2]}' AS json) AS j, 9007199254740993 AS big",
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
