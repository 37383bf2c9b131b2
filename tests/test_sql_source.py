"""The ``sql`` source on real PostgreSQL and MySQL/MariaDB servers.

Every test runs on both servers, each module in its own schema/database (dropped after).
What users rely on: writes are refused, the deadline and Ctrl-C stop the statement on the
server (seen gone from pg_stat_activity / the process list), parameters travel as data,
types come out canonical, rows arrive in batches, and errors carry no password.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from secret_watch import SecretWatch
from sql_servers import KINDS, Server, server, wait_until

import thsources
from thsources.errors import (
    AuthenticationError,
    NotFound,
    ParameterError,
    PermissionDenied,
    QueryError,
    QueryTimeout,
    SourceUnavailable,
)

PASSWORD = "s3cret-Pw-" + uuid.uuid4().hex[:6]
watch = SecretWatch(PASSWORD)

TABLE = {
    "postgresql": """
        CREATE TABLE t (
            id integer PRIMARY KEY, name varchar(50), amount numeric(10, 2), whole numeric(12, 0),
            created timestamp, created_tz timestamptz, day date, doc jsonb, tags text[],
            span interval, flag boolean, big bigint, ratio double precision
        )""",
    "mysql": """
        CREATE TABLE t (
            id INT PRIMARY KEY, name VARCHAR(50), amount DECIMAL(10, 2), whole DECIMAL(12, 0),
            created DATETIME(6), day DATE, doc JSON, flag BOOL, big BIGINT, ratio DOUBLE
        )""",
}
ROWS = {
    "postgresql": """
        INSERT INTO t VALUES
        (1, 'a', 12.50, 7, '2024-05-01 10:00:00', '2024-05-01 12:00:00+02', '2024-05-01',
         '{"k": [1, "x"]}', ARRAY['p', 'q'], '1 day 02:03:04', true, 9007199254740993, 0.25),
        (2, 'b', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
        (3, 'c', -1.05, -3, '1970-01-01 00:00:00', '1970-01-01 00:00:00+00', '1999-12-31',
         '"text"', ARRAY[]::text[], '00:00:01', false, -1, 1e300)""",
    "mysql": """
        INSERT INTO t VALUES
        (1, 'a', 12.50, 7, '2024-05-01 10:00:00', '2024-05-01', '{"k": [1, "x"]}', true,
         9007199254740993, 0.25),
        (2, 'b', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
        (3, 'c', -1.05, -3, '1970-01-01 00:00:00', '1999-12-31', '"text"', false, -1, 1e300)""",
}


@pytest.fixture(scope="module", params=KINDS)
def srv(request: pytest.FixtureRequest) -> Iterator[Server]:
    with server(request.param) as s:
        s.execute(TABLE[s.kind])
        s.execute(ROWS[s.kind])
        yield s


@pytest.fixture(scope="module")
def src(srv: Server) -> Iterator[Any]:
    with thsources.connect("sql", url=srv.url) as source:
        yield source


@pytest.fixture(autouse=True)
def _no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    yield from watch.check_logs(caplog)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


# -- types ------------------------------------------------------------------------------------


def test_database_types_map_to_the_canonical_ones(src: Any, srv: Server) -> None:
    res = src.query("SELECT * FROM t ORDER BY id")
    types = {c.name: c.type for c in res.columns}
    records = res.records()
    if srv.kind == "postgresql":
        assert types == {
            "id": "integer", "name": "string", "amount": "float", "whole": "integer",
            "created": "datetime", "created_tz": "datetime", "day": "date", "doc": "json",
            "tags": "json", "span": "string", "flag": "boolean", "big": "integer",
            "ratio": "float",
        }  # fmt: skip
        assert records[0] == {
            "id": 1, "name": "a", "amount": 12.5, "whole": 7,
            "created": utc(2024, 5, 1, 10), "created_tz": utc(2024, 5, 1, 10),
            "day": dt.date(2024, 5, 1), "doc": {"k": [1, "x"]}, "tags": ["p", "q"],
            "span": "1 day, 2:03:04", "flag": True, "big": 9007199254740993, "ratio": 0.25,
        }  # fmt: skip
        assert records[2]["doc"] == "text"
        assert records[2]["tags"] == []
        assert records[2]["created_tz"] == utc(1970, 1, 1)
    else:
        assert types == {
            "id": "integer", "name": "string", "amount": "float", "whole": "integer",
            "created": "datetime", "day": "date", "doc": "string", "flag": "integer",
            "big": "integer", "ratio": "float",
        }  # fmt: skip
        assert records[0] == {
            "id": 1, "name": "a", "amount": 12.5, "whole": 7, "created": utc(2024, 5, 1, 10),
            "day": dt.date(2024, 5, 1), "doc": '{"k": [1, "x"]}', "flag": 1,
            "big": 9007199254740993, "ratio": 0.25,
        }  # fmt: skip
    assert records[1] == {
        name: (2 if name == "id" else "b" if name == "name" else None) for name in types
    }
    assert records[2]["amount"] == -1.05
    assert records[2]["whole"] == -3
    assert records[2]["ratio"] == 1e300


def test_timestamps_with_a_zone_come_back_in_utc_whatever_the_session_zone(
    src: Any, srv: Server
) -> None:
    if srv.kind != "postgresql":
        pytest.skip("MySQL has no timestamp-with-zone type")
    res = src.query("SELECT TIMESTAMPTZ '2024-01-01 00:30:00-05' AS at")
    assert res.records() == [{"at": utc(2024, 1, 1, 5, 30)}]


def test_a_value_the_driver_cannot_read_is_a_query_error(src: Any, srv: Server) -> None:
    if srv.kind != "postgresql":
        pytest.skip("MySQL has no infinite timestamps")
    with pytest.raises(QueryError, match="cannot be read"):
        src.query("SELECT TIMESTAMP 'infinity' AS never")
    assert src.query("SELECT 1 AS one").records() == [{"one": 1}]


def test_rows_arrive_in_batches_of_batch_rows(srv: Server) -> None:
    sql = (
        "SELECT n FROM generate_series(1, 100) AS g(n) ORDER BY n"
        if srv.kind == "postgresql"
        else "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 100) "
        "SELECT n FROM g ORDER BY n"
    )
    with thsources.connect("sql", url=srv.url, batch_rows=7) as source:
        res = source.query(sql)
    assert res.column("n") == list(range(1, 101))
    assert res.to_arrow().column("n").num_chunks == 15  # 14 batches of 7, one of 2


def test_an_empty_result_keeps_its_columns(src: Any) -> None:
    res = src.query("SELECT id, name FROM t WHERE id < 0")
    assert [(c.name, c.type) for c in res.columns] == [("id", "integer"), ("name", "string")]
    assert len(res) == 0


# -- read-only ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM t",
        "UPDATE t SET name = 'x'",
        "INSERT INTO t (id) VALUES (99)",
        "CREATE TABLE u (a int)",
        "DROP TABLE t",
    ],
)
def test_a_statement_that_writes_is_refused(src: Any, srv: Server, statement: str) -> None:
    with pytest.raises(PermissionDenied, match="read-only"):
        src.query(statement)
    assert srv.execute("SELECT count(*), min(name) FROM t") == [(3, "a")]
    assert src.query("SELECT count(*) AS n FROM t").records() == [{"n": 3}]
    tables = "SELECT table_name FROM information_schema.tables WHERE table_schema = " + (
        "current_schema()" if srv.kind == "postgresql" else "database()"
    )
    assert [r[0] for r in srv.execute(tables)] == ["t"]


def test_a_second_statement_after_a_semicolon_is_not_run(src: Any, srv: Server) -> None:
    with pytest.raises(QueryError):
        src.query("SELECT 1 AS one; DELETE FROM t")
    assert srv.execute("SELECT count(*) FROM t") == [(3,)]


# -- deadline and Ctrl-C ---------------------------------------------------------------------


def test_the_deadline_cancels_the_statement_on_the_server(srv: Server) -> None:
    marker = f"thsrc-deadline-{uuid.uuid4().hex[:8]}"
    seen = threading.Event()
    done = threading.Event()

    def watch_server() -> None:
        while not done.is_set():
            if srv.running(marker) == 1:
                seen.set()
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch_server, daemon=True)
    try:
        with thsources.connect("sql", url=srv.marked_url(marker)) as source:
            watcher.start()
            with pytest.raises(QueryTimeout, match="cancelled on the server"):
                source.query(srv.slow_sql(marker), timeout=5)
            done.set()
            watcher.join()
            assert wait_until(lambda: srv.running(marker) == 0, bound_s=30)
            # The source is still usable afterwards.
            assert source.query("SELECT 1 AS one").records() == [{"one": 1}]
        # It ran on the server (the check above is not vacuous) and was stopped there.
        assert seen.is_set()
    finally:
        done.set()
        srv.stop(marker)


def test_the_deadline_stops_a_stream_of_short_fetches(srv: Server) -> None:
    # Each FETCH of one row takes 0.2 s, well inside the server's per-statement limit; only
    # the client's own deadline can stop the whole stream (100 rows would take 20 s).
    slow_rows = (
        "SELECT n, pg_sleep(0.2) AS s FROM generate_series(1, 100) AS g(n)"
        if srv.kind == "postgresql"
        else "SELECT seq AS n, SLEEP(0.2) AS s FROM seq_1_to_100"
    )
    with thsources.connect("sql", url=srv.url, batch_rows=1) as source:
        with pytest.raises(QueryTimeout, match="did not finish within 1 s"):
            source.query(slow_rows, timeout=1)
        assert source.query("SELECT 1 AS one").records() == [{"one": 1}]


CTRL_C_SCRIPT = textwrap.dedent(
    """
    import sys
    import thsources
    with thsources.connect("sql", url=sys.argv[1]) as src:
        src.query(sys.argv[2], timeout=600)
    """
)


def test_ctrl_c_cancels_the_statement_on_the_server(srv: Server) -> None:
    marker = f"thsrc-ctrlc-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_SCRIPT, srv.marked_url(marker), srv.slow_sql(marker)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_until(lambda: srv.running(marker) == 1, bound_s=60), "query never started"
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode != 0
        assert "KeyboardInterrupt" in err
        # The client is gone; a statement that was only abandoned would sleep on for minutes.
        assert wait_until(lambda: srv.running(marker) == 0, bound_s=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        srv.stop(marker)


# -- parameters ----------------------------------------------------------------------------------


def echo_sql(kind: str) -> str:
    return "SELECT CAST(:v AS text) AS v" if kind == "postgresql" else "SELECT :v AS v"


@settings(
    derandomize=True,
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    value=st.one_of(
        st.text(),
        st.sampled_from(
            ["'", "''", "\\", "\\'", "'; DROP TABLE t; --", "%s", "%(v)s", ":v", "$1", "é漢🦊"]
        ),
    )
)
def test_hostile_string_values_round_trip_as_data(src: Any, srv: Server, value: str) -> None:
    if srv.kind == "postgresql" and "\x00" in value:
        with pytest.raises(ParameterError, match="NUL"):
            src.query(echo_sql(srv.kind), {"v": value})
        return
    assert src.query(echo_sql(srv.kind), {"v": value}).records() == [{"v": value}]


def test_nul_round_trips_where_the_driver_allows_it(src: Any, srv: Server) -> None:
    if srv.kind == "postgresql":
        pytest.skip("PostgreSQL text cannot hold NUL; test_hostile_string_values covers the error")
    assert src.query("SELECT :v AS v", {"v": "a\x00b"}).records() == [{"v": "a\x00b"}]


def test_list_values_bind_one_placeholder_each(src: Any) -> None:
    res = src.query(
        "SELECT id FROM t WHERE name IN :names AND id NOT IN :none ORDER BY id",
        {"names": ["a", "c", "it's"], "none": []},
    )
    assert res.column("id") == [1, 3]


def test_percent_signs_in_the_sql_survive_beside_parameters(src: Any) -> None:
    res = src.query("SELECT id FROM t WHERE name LIKE '%' AND id = :id", {"id": 2})
    assert res.column("id") == [2]


def test_datetime_parameters_compare_as_utc(src: Any) -> None:
    in_paris = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert src.query("SELECT id FROM t WHERE created = :at", {"at": in_paris}).column("id") == [1]
    naive = dt.datetime(2024, 5, 1, 10, 0)  # naive datetimes are UTC already
    assert src.query("SELECT id FROM t WHERE created = :at", {"at": naive}).column("id") == [1]


# -- errors ----------------------------------------------------------------------------------


def _with(url: str, **changes: Any) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(**changes).render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def stranger(srv: Server) -> Iterator[str]:
    """A user name the server rejects with the test's password."""
    if srv.kind == "postgresql":
        # The test server trusts 127.0.0.1, so only an unknown role is refused there.
        yield f"thsrc_nobody_{uuid.uuid4().hex[:6]}"
        return
    user = f"thsrc_u_{uuid.uuid4().hex[:6]}"
    srv.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'the-right-one'")
    srv.execute(f"CREATE USER '{user}'@'localhost' IDENTIFIED BY 'the-right-one'")
    try:
        yield user
    finally:
        srv.execute(f"DROP USER '{user}'@'%'")
        srv.execute(f"DROP USER '{user}'@'localhost'")


def test_a_wrong_password_is_an_authentication_error_without_the_password(
    srv: Server, stranger: str
) -> None:
    url = _with(srv.url, username=stranger, password=PASSWORD)
    with thsources.connect("sql", url=url) as source:
        watch.remember(repr(source), source.describe(), source.url)
        with watch.raises(AuthenticationError, match="check the user name and password"):
            source.query("SELECT 1")
    assert PASSWORD not in repr(source)


def test_an_unknown_host_is_source_unavailable(srv: Server) -> None:
    url = _with(srv.url, host="no-such-host.invalid", password=PASSWORD)
    with (
        thsources.connect("sql", url=url) as source,
        watch.raises(SourceUnavailable, match="cannot connect to"),
    ):
        source.query("SELECT 1", timeout=20)


def test_an_unknown_database_is_not_found(srv: Server) -> None:
    url = _with(srv.url, database=f"thsrc_nodb_{uuid.uuid4().hex[:6]}")
    with (
        thsources.connect("sql", url=url) as source,
        watch.raises(NotFound, match="check the database name"),
    ):
        source.query("SELECT 1")


def test_bad_sql_is_a_query_error_with_the_servers_text(src: Any) -> None:
    with watch.raises(QueryError, match="syntax") as info:
        src.query("SELEC 1")
    assert type(info.value) is QueryError
    with pytest.raises(QueryError, match="no_such_table"):
        src.query("SELECT * FROM no_such_table")
