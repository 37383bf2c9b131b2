"""The Redash emulator running its jobs on real PostgreSQL and MariaDB servers.

The sample is loaded by ``thsources sample load`` into a schema (PostgreSQL) or database
(MariaDB) of this module's own; the emulator's data source points at it with ``database_url``
(a ``pg`` or ``mysql`` data source), and everything is asked through the real ``redash``
source over HTTP, as against Redash on Treeherder's replica. PostgreSQL connections carry the
space's name as their application name, so the server's activity shows which are ours.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sql_servers import KINDS, Server, server, wait_until
from test_sql_named_queries import NAMED, SCALE
from test_sql_named_queries import _params as named_params

import thsources
from thsources.cli import main
from thsources.errors import QueryCancelled, QueryError, SourceUnavailable
from thsources.sources.redash_wire import clean_error
from thsources.testing import DataSource, RedashEmulator
from thsources.testing.redash_sql import annotate, libpq_error_position


@pytest.fixture(scope="module", params=KINDS)
def loaded(request: pytest.FixtureRequest) -> Iterator[Server]:
    with server(request.param, prefix="thsrc_emu_exec") as srv:
        err = io.StringIO()
        code = main(["sample", "load", srv.url, "--scale", SCALE], stdout=io.StringIO(), stderr=err)
        assert code == 0, err.getvalue()
        yield srv


@pytest.fixture(scope="module")
def emu(loaded: Server) -> Iterator[RedashEmulator]:
    with RedashEmulator(database_url=loaded.marked_url(loaded.space), workers=2) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def redash(emu: RedashEmulator) -> Iterator[Any]:
    with thsources.connect("redash", url=emu.url, api_key=emu.api_key, timeout=120) as src:
        yield src


@pytest.fixture(scope="module")
def local() -> Iterator[Any]:
    with thsources.connect("local", scale=float(SCALE)) as src:
        yield src


def _post(emu: RedashEmulator, sql: str) -> dict[str, Any]:
    """A query run through the raw API: the job polled to its end, then its result or job."""
    headers = {"Authorization": f"Key {emu.api_key}"}
    body = {"data_source_id": 1, "query": sql, "max_age": 0}
    job = requests.post(f"{emu.url}/api/query_results", json=body, headers=headers, timeout=30)
    job_id = job.json()["job"]["id"]
    assert wait_until(lambda: emu.jobs[job_id].state not in ("queued", "started"), 60)
    state = emu.jobs[job_id]
    if state.result_id is None:
        return {"error": state.error}
    answer = requests.get(
        f"{emu.url}/api/query_results/{state.result_id}", headers=headers, timeout=30
    )
    return dict(answer.json()["query_result"]["data"])


def _written(loaded: Server) -> int:
    """Rows the write tests would have changed, had their write gone through."""
    return int(loaded.execute("SELECT count(*) FROM push WHERE author = 'emu-exec was here'")[0][0])


def test_the_data_source_runs_as_the_urls_runner(emu: RedashEmulator, loaded: Server) -> None:
    ds = emu.data_sources[1]
    assert ds.type == ("pg" if loaded.kind == "postgresql" else "mysql")
    assert ds.url == loaded.marked_url(loaded.space)
    assert "url" not in repr(ds)


@pytest.mark.parametrize("name", NAMED)
def test_named_queries_return_the_records_local_returns(
    local: Any, redash: Any, loaded: Server, name: str
) -> None:
    assert redash.dialect == loaded.kind
    params = named_params(name, local)
    on_local = thsources.run(name, params=params, source=local)
    on_redash = thsources.run(name, params=params, source=redash)
    assert len(on_local) > 0
    assert on_redash.columns == on_local.columns
    assert on_redash.records() == on_local.records()


def test_column_types_come_from_the_drivers_type_codes(emu: RedashEmulator, loaded: Server) -> None:
    if loaded.kind == "postgresql":
        sql = (
            "SELECT 7::bigint AS i, 2.5::numeric AS n, 'a'::varchar AS v, 'b'::text AS t, "
            "TIMESTAMP '2024-05-01 10:00:00.123456' AS ts, DATE '2024-05-01' AS d, "
            "true AS b, '{\"k\": [1, 2]}'::json AS j, pg_sleep(0) AS slept, 1 AS i, "
            "'infinity'::date AS inf"
        )
        columns = [
            ("i", "integer"),
            ("n", "float"),
            ("v", "string"),
            ("t", None),  # text is not in the pg runner's types_map
            ("ts", "datetime"),
            ("d", "date"),
            ("b", "boolean"),
            ("j", None),
            ("slept", None),
            ("i1", "integer"),
            ("inf", "date"),
        ]
        row = {
            "i": 7,
            "n": 2.5,
            "v": "a",
            "t": "b",
            "ts": "2024-05-01T10:00:00.123",
            "d": "2024-05-01",
            "b": True,
            "j": {"k": [1, 2]},
            "slept": "",
            "i1": 1,
            "inf": "9999-12-31",  # psycopg2's date.max
        }
    else:
        sql = (
            "SELECT CAST(7 AS SIGNED) AS i, CAST(2.5 AS DECIMAL(4,2)) AS n, 'a' AS v, "
            "CAST('2024-05-01 10:00:00.123456' AS DATETIME(6)) AS ts, DATE '2024-05-01' AS d, "
            "TIME '01:02:03' AS tm, 1 AS i, revision AS r FROM push ORDER BY id LIMIT 1"
        )
        revision = loaded.execute("SELECT revision FROM push ORDER BY id LIMIT 1")[0][0]
        columns = [
            ("i", "integer"),
            ("n", "float"),
            ("v", "string"),
            ("ts", "datetime"),
            ("d", "date"),
            ("tm", None),  # TIME is not in the mysql runner's types_map
            ("i1", "integer"),
            ("r", "string"),
        ]
        row = {
            "i": 7,
            "n": 2.5,
            "v": "a",
            "ts": "2024-05-01T10:00:00.123",  # naive: no zone at all
            "d": "2024-05-01",
            "tm": "1:02:03",
            "i1": 1,
            "r": revision,
        }
    data = _post(emu, sql)
    assert data["columns"] == [{"name": n, "friendly_name": n, "type": t} for n, t in columns]
    assert data["rows"] == [row]


def test_a_write_fails_with_the_servers_error_and_changes_nothing(
    redash: Any, emu: RedashEmulator, loaded: Server
) -> None:
    # A write the server would otherwise accept (no key refuses it).
    job = redash.submit("UPDATE push SET author = 'emu-exec was here'")
    with pytest.raises(QueryError) as caught:
        job.result(timeout=60)
    error = emu.jobs[job.id].error
    if loaded.kind == "postgresql":
        assert error == "cannot execute UPDATE in a read-only transaction\n"
    else:
        assert error == "Cannot execute statement in a READ ONLY transaction"
    assert caught.value.message == clean_error(error)
    assert _written(loaded) == 0


def test_a_script_cannot_commit_its_way_out_of_read_only(
    emu: RedashEmulator, loaded: Server
) -> None:
    write = "UPDATE push SET author = 'emu-exec was here'"
    if loaded.kind == "postgresql":
        script = f"SET default_transaction_read_only = off; COMMIT; {write}"
        expected = "cannot insert multiple commands into a prepared statement\n"
    else:
        script = f"SET SESSION TRANSACTION READ WRITE; {write}"
        expected = (
            "You have an error in your SQL syntax; check the manual that corresponds to your "
            "MariaDB server version for the right syntax to use near "
            "'UPDATE push SET author = 'emu-exec was here'' at line 2"  # joined with ";\n"
        )
    assert _post(emu, script) == {"error": expected}
    assert _written(loaded) == 0


def test_bad_sql_gives_the_runners_error_text(
    redash: Any, emu: RedashEmulator, loaded: Server
) -> None:
    sql = "SELECT nosuchcol FROM push"
    job = redash.submit(sql)
    with pytest.raises(QueryError) as caught:
        job.result(timeout=60)
    state = emu.jobs[job.id]
    if loaded.kind == "postgresql":
        # libpq quotes the annotated text the runner sent, around the error's position.
        metadata: dict[str, object] = {
            "Username": emu.users[0].email,
            "Query ID": "adhoc",
            "Queue": "queries",
            "Job ID": job.id,
            "Query Hash": state.query_hash,
            "Scheduled": False,
        }
        sent = annotate(state.query, metadata)
        excerpt = libpq_error_position(sent, sent.index("nosuchcol"))
        assert state.error == f'column "nosuchcol" does not exist\n{excerpt}'
    else:
        assert state.error == "Unknown column 'nosuchcol' in 'SELECT'"
    assert caught.value.message == clean_error(state.error or "")


def test_a_statement_with_no_result_set_gives_the_runners_text(
    emu: RedashEmulator, loaded: Server
) -> None:
    if loaded.kind == "postgresql":
        assert _post(emu, "SET search_path = public") == {
            "error": "Query completed but it returned no data."
        }
    else:
        assert _post(emu, "DO 1") == {"error": "No data was returned."}


def test_a_cancelled_job_is_gone_from_the_server(
    redash: Any, emu: RedashEmulator, loaded: Server
) -> None:
    marker = loaded.space
    if loaded.kind == "postgresql":
        sql = f"SELECT /* {marker} */ pg_sleep(600) AS slept"
    else:
        sql = f"SELECT /* {marker} */ SLEEP(600) AS slept"
    job = redash.submit(sql)
    try:
        assert wait_until(lambda: loaded.running(marker) == 1, 60)
        job.cancel()
        with pytest.raises(QueryCancelled):
            job.result(timeout=60)
        assert wait_until(lambda: loaded.running(marker) == 0, 30)
        assert emu.wait_idle(30)
        assert emu.jobs[job.id].state == "cancelled"
    finally:
        loaded.stop(marker)


def test_the_schema_lists_the_databases_tables(redash: Any, loaded: Server) -> None:
    if loaded.kind == "postgresql":
        name = f"{loaded.space}.push"  # outside the public schema: schema.table
        where = "table_schema = current_schema()"
    else:
        name = "push"  # the configured database's own tables go unqualified
        where = "table_schema = database()"
    expected = sorted(
        (str(c), str(t))
        for c, t in loaded.execute(
            f"SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE {where} AND table_name = 'push'"
        )
    )
    listing = redash.tables().records()
    push = [(r["column_name"], r["data_type"]) for r in listing if r["table_name"] == name]
    assert push == expected
    assert len(expected) > 3


@pytest.mark.parametrize("kind", KINDS)
def test_an_unreachable_database_fails_start_without_its_password(kind: str) -> None:
    url = {
        "postgresql": "postgresql://someone:S3cret-pw@127.0.0.1:1/treeherder",
        "mysql": "mysql://someone:S3cret-pw@127.0.0.1:1/treeherder",
    }[kind]
    emulator = RedashEmulator(database_url=url)
    with pytest.raises(SourceUnavailable) as caught:
        emulator.start()
    assert "cannot connect to" in str(caught.value)
    assert "S3cret-pw" not in str(caught.value)
    assert "***" in str(caught.value)
    assert not emulator.running


def test_a_data_source_type_must_match_its_url() -> None:
    ds = DataSource(1, "Treeherder", "mysql", url="postgresql://postgres@127.0.0.1/test")
    with pytest.raises(thsources.ConfigError, match="make the data source's type 'pg'"):
        RedashEmulator(data_sources=[ds]).start()


def test_serve_redash_database_url_runs_the_jobs_there(loaded: Server) -> None:
    import os
    import signal
    import subprocess
    import sys

    command = [sys.executable, "-m", "thsources", "serve", "redash", "--database-url"]
    proc = subprocess.Popen(
        [*command, loaded.url, "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[-1]
        key = proc.stdout.readline().split()[-1]
        kind = "pg" if loaded.kind == "postgresql" else "mysql"
        assert proc.stdout.readline() == f"data source 1: Treeherder ({kind})\n"
        with thsources.connect("redash", url=url, api_key=key, timeout=60) as src:
            (n,) = src.query("SELECT count(*) AS n FROM push").rows()[0]
        assert n == loaded.execute("SELECT count(*) FROM push")[0][0]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def test_database_url_is_refused_for_other_emulators_and_other_databases() -> None:
    for argv, expected in [
        (["serve", "treeherder", "--database-url", "postgresql://x@h/db"], "redash` only"),
        (["serve", "redash", "--database-url", "sqlite:///x.db"], "not 'sqlite'"),
    ]:
        err = io.StringIO()
        assert main(argv, stdout=io.StringIO(), stderr=err) == 2
        assert expected in err.getvalue()


def test_the_admin_view_shows_the_runners_options_with_the_password_masked() -> None:
    pg = DataSource(1, "T", "pg", url="postgresql://reader:S3cret-pw@db.example:5433/th")
    my = DataSource(2, "M", "mysql", url="mysql+pymysql://reader:S3cret-pw@db.example/th")
    assert pg.details(admin=True)["options"] == {
        "dbname": "th",
        "host": "db.example",
        "password": "--------",
        "port": 5433,
        "user": "reader",
    }
    assert my.details(admin=True)["options"] == {
        "db": "th",
        "host": "db.example",
        "passwd": "--------",
        "port": 3306,
        "user": "reader",
    }
    assert "options" not in pg.details(admin=False)
    assert "S3cret-pw" not in repr(pg) + repr(my)
