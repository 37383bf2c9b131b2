"""Stopping a running ``sql`` statement from another thread, on real servers.

``submit()`` returns a job whose statement runs on a thread of its own; ``job.cancel()``
cancels it on the server (PostgreSQL's cancel request, MariaDB's ``KILL QUERY``; a DuckDB or
SQLite file is interrupted). ``run_many(cancel_on_error=True)`` and a DB-API cursor's
``cancel()`` stop it the same way. Each test sees the statement running on the server first,
then gone from pg_stat_activity / the process list: an abandoned statement would run for
minutes. The slow statement on MariaDB is a scan, not ``SLEEP``: MariaDB ends a ``SLEEP`` by
itself once its client disconnects, which would hide a cancel that never reached the server.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sql_servers import KINDS, Server, server, wait_until

import thsources
from thsources import Query, dbapi, run_many
from thsources.errors import QueryCancelled, QueryError
from thsources.polling import JobState
from thsources.sources.base import Job, Source
from thsources.sources.sql import SqlSource


@pytest.fixture(scope="module", params=KINDS)
def srv(request: pytest.FixtureRequest) -> Iterator[Server]:
    with server(request.param, prefix="thsrc_cancel") as s:
        yield s


@pytest.fixture
def marker() -> str:
    return f"thsrc-cancel-{uuid.uuid4().hex[:8]}"


def _source(srv: Server, marker: str) -> SqlSource:
    source = thsources.connect("sql", url=srv.marked_url(marker))
    assert isinstance(source, SqlSource)
    return source


def test_cancel_stops_the_running_statement_on_the_server(srv: Server, marker: str) -> None:
    try:
        with _source(srv, marker) as src:
            job = src.submit(srv.slow_sql(marker), timeout=600)
            assert wait_until(lambda: srv.running(marker) == 1), "the statement never started"
            assert job.state is JobState.RUNNING
            job.cancel()
            assert job.done() and job.state is JobState.CANCELLED
            with pytest.raises(QueryCancelled, match="^the job was cancelled$") as info:
                job.result()
            assert info.value.source == "sql"
            assert wait_until(lambda: srv.running(marker) == 0, bound_s=30)
            # The connection that was sent the cancel is not reused; the source still works.
            assert src.query("SELECT 1 AS one").records() == [{"one": 1}]
    finally:
        srv.stop(marker)


def test_cancel_right_after_submit_stops_the_statement(srv: Server, marker: str) -> None:
    # The cancel may come before the statement reaches the server, where a cancel request
    # is lost: it is sent again until the statement is seen to end.
    try:
        with _source(srv, marker) as src:
            job = src.submit(srv.slow_sql(marker), timeout=600)
            job.cancel()
            assert job.done()  # cancel() returned because the statement ended
            with pytest.raises(QueryCancelled):
                job.result()
            assert srv.running(marker) == 0
    finally:
        srv.stop(marker)


def test_closing_the_source_cancels_its_running_statements(srv: Server, marker: str) -> None:
    try:
        src = _source(srv, marker)
        job = src.submit(srv.slow_sql(marker), timeout=600)
        assert wait_until(lambda: srv.running(marker) == 1), "the statement never started"
        src.close()
        with pytest.raises(QueryCancelled):
            job.result()
        assert wait_until(lambda: srv.running(marker) == 0, bound_s=30)
    finally:
        srv.stop(marker)


class FailsOnCue(Source):
    """A source whose one query fails when the test says so: after the slow statement is
    seen running on the server, so that the batch has a running statement to stop."""

    kind = "fails-on-cue"

    def __init__(self) -> None:
        super().__init__("cue")
        self.cue = threading.Event()

    def submit(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_age: float = 0,
        timeout: float | None = None,
    ) -> Job:
        if not self.cue.wait(60):
            raise QueryError("the test never gave the cue", source=self.name)
        raise QueryError("failed on cue", source=self.name)


def test_run_many_cancels_the_slow_statement_when_another_fails(srv: Server, marker: str) -> None:
    failing = FailsOnCue()
    try:
        with _source(srv, marker) as src:
            batch = run_many(
                [
                    Query(sql=srv.slow_sql(marker), source=src, tag="slow"),
                    Query(sql="SELECT 1", source=failing, tag="bad"),
                ],
                timeout=600,
                cancel_on_error=True,
            )
            assert wait_until(lambda: srv.running(marker) == 1), "the statement never started"
            failing.cue.set()
            with pytest.raises(QueryError, match="^failed on cue$"):
                list(batch)
            # run_many waited for the slow statement to end before raising.
            assert wait_until(lambda: srv.running(marker) == 0, bound_s=30)
            (dropped,) = batch.dropped
            assert dropped.tag == "slow" and isinstance(dropped.error, QueryCancelled)
            assert dropped.error.message == "'slow' was cancelled: 'bad' failed"
    finally:
        failing.cue.set()
        srv.stop(marker)


def test_run_many_cancel_stops_a_running_statement(srv: Server, marker: str) -> None:
    try:
        with _source(srv, marker) as src:
            batch = run_many([Query(sql=srv.slow_sql(marker), source=src, tag="slow")], timeout=600)
            assert wait_until(lambda: srv.running(marker) == 1), "the statement never started"
            batch.cancel()
            assert wait_until(lambda: srv.running(marker) == 0, bound_s=30)
            (answer,) = list(batch)
            assert isinstance(answer.error, QueryCancelled)
            assert answer.error.message == "'slow' was cancelled: the batch was cancelled"
    finally:
        srv.stop(marker)


def test_dbapi_cancel_from_another_thread_stops_the_statement(srv: Server, marker: str) -> None:
    outcome: list[BaseException] = []
    try:
        with dbapi.connect("sql", url=srv.marked_url(marker)) as con, con.cursor() as cur:
            cur.timeout = 600

            def run() -> None:
                try:
                    cur.execute(srv.slow_sql(marker))
                except BaseException as exc:
                    outcome.append(exc)

            worker = threading.Thread(target=run)
            worker.start()
            assert wait_until(lambda: srv.running(marker) == 1), "the statement never started"
            cur.cancel()
            worker.join(60)
            assert not worker.is_alive()
            assert len(outcome) == 1
            assert isinstance(outcome[0], QueryCancelled)
            assert isinstance(outcome[0], dbapi.OperationalError)
            assert str(outcome[0]) == "the job was cancelled"
            assert wait_until(lambda: srv.running(marker) == 0, bound_s=30)
            cur.execute("SELECT 1 AS one")  # the next statement is not cancelled
            assert cur.fetchall() == [(1,)]
    finally:
        srv.stop(marker)


# -- database files: the engine is in this process, and is interrupted ---------------------

DUCKDB_LONG = (
    "SELECT count(*) AS n FROM range(1000000) a(i), range(1000000) b(j) WHERE (i * j) % 7 = 3"
)
SQLITE_LONG = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10000000000) "
    "SELECT count(*) AS n FROM c"
)


@pytest.mark.parametrize("backend", ["duckdb", "sqlite"])
def test_cancel_interrupts_a_database_file(tmp_path: Path, backend: str) -> None:
    path = tmp_path / f"db.{backend}"
    if backend == "duckdb":
        duckdb.connect(str(path)).close()
    else:
        sqlite3.connect(path).close()
    long = DUCKDB_LONG if backend == "duckdb" else SQLITE_LONG
    with thsources.connect("sql", url=f"{backend}:///{path}") as src:
        job = src.submit(long, timeout=600)
        assert wait_until(lambda: job.state is JobState.RUNNING)
        job.cancel()
        assert job.done()  # an interrupt that did not reach the engine leaves it running
        with pytest.raises(QueryCancelled):
            job.result()
        assert src.query("SELECT 1 AS one").records() == [{"one": 1}]
