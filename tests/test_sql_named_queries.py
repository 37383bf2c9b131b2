"""``thsources sample load URL`` on real PostgreSQL and MariaDB servers, then the six named
queries through the ``sql`` source: the same records as on ``local``.

The sample is loaded by the command itself, into a schema (PostgreSQL) or database (MySQL)
of this module's own, dropped afterwards. A fifth of the default sample keeps the load short
on a busy machine; ``local`` is built at the same scale.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from sql_servers import KINDS, Server, server

import thsources
from thsources.cli import main
from thsources.local.schema import TABLES
from thsources.sources.sql_load import INDEXES, index_sql

SCALE = "0.2"
NAMED = [
    "pushes",
    "jobs-for-push",
    "failure-rate-by-platform",
    "failure-rate-by-push",
    "intermittent-bugs",
    "perf-series",
    "perf-alerts",
]


def cli(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    code = main(list(argv), stdout=io.StringIO(), stderr=err)
    return code, err.getvalue()


@pytest.fixture(scope="module", params=KINDS)
def loaded(request: pytest.FixtureRequest) -> Iterator[Server]:
    with server(request.param) as srv:
        code, err = cli("sample", "load", srv.url, "--scale", SCALE)
        assert code == 0, err
        assert "loaded the sample (" in err
        yield srv


@pytest.fixture(scope="module")
def local() -> Iterator[Any]:
    with thsources.connect("local", scale=float(SCALE)) as src:
        yield src


@pytest.fixture(scope="module")
def sql(loaded: Server) -> Iterator[Any]:
    with thsources.connect("sql", url=loaded.url) as src:
        yield src


def _params(name: str, local: Any) -> dict[str, Any]:
    if name == "jobs-for-push":
        row = local.query(
            "SELECT push_id FROM job WHERE end_time < TIMESTAMP '1970-01-02' LIMIT 1"
        ).records()[0]
        return {"push_id": row["push_id"]}
    if name == "perf-series":
        alert = thsources.run("perf-alerts", source=local).records()[0]
        return {"signature_hash": alert["signature_hash"]}
    return {}


@pytest.mark.parametrize("name", NAMED)
def test_named_queries_give_the_same_records_as_local(local: Any, sql: Any, name: str) -> None:
    params = _params(name, local)
    on_local = thsources.run(name, params=params, source=local)
    on_server = thsources.run(name, params=params, source=sql)
    assert len(on_local) > 0
    assert on_server.columns == on_local.columns
    assert on_server.records() == on_local.records()


def test_the_loader_copies_every_table_row_for_row(loaded: Server, local: Any) -> None:
    for table in TABLES:
        quoted = f'"{table.name}"' if loaded.kind == "postgresql" else f"`{table.name}`"
        on_server = loaded.execute(f"SELECT count(*) FROM {quoted}")[0][0]
        on_local = local.query(f'SELECT count(*) AS n FROM "{table.name}"').records()[0]["n"]
        assert (table.name, on_server) == (table.name, on_local)


def test_the_loader_creates_keys_and_the_models_indexes(loaded: Server) -> None:
    if loaded.kind == "postgresql":
        rows = loaded.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
        )
        types = dict(
            loaded.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = 'job'"
            )
        )
        assert types["id"] == "bigint"
        assert types["end_time"] == "timestamp without time zone"
    else:
        rows = loaded.execute(
            "SELECT DISTINCT index_name FROM information_schema.statistics "
            "WHERE table_schema = database()"
        )
    names = {r[0] for r in rows}
    expected = {stmt.split()[2] for stmt in index_sql("postgresql")}
    assert len(expected) == len(INDEXES)
    assert expected <= names
    if loaded.kind == "postgresql":
        assert "push_pkey" in names
    else:
        assert "PRIMARY" in names


def test_loading_twice_is_refused_and_changes_nothing(loaded: Server) -> None:
    before = loaded.execute("SELECT count(*) FROM push")[0][0]
    code, err = cli("sample", "load", loaded.url, "--scale", SCALE)
    assert code == 2
    assert "already has the table(s)" in err
    assert "--replace" in err
    assert loaded.execute("SELECT count(*) FROM push")[0][0] == before


@pytest.mark.parametrize("kind", KINDS)
def test_a_wrong_password_fails_the_load_with_exit_3_and_no_password(kind: str) -> None:
    import os

    from sql_servers import ENV, skip_reason
    from sqlalchemy.engine import make_url

    base = os.environ.get(ENV[kind])
    if not base:
        pytest.skip(skip_reason(kind))
    secret = "Wr0ng-Secret-pw"
    # The PostgreSQL test server trusts 127.0.0.1, so there an unknown role is what fails.
    user = "thsrc_nobody" if kind == "postgresql" else make_url(base).username
    url = make_url(base).set(username=user, password=secret)
    code, err = cli("sample", "load", url.render_as_string(hide_password=False))
    assert code == 3, err
    assert "check the user name and password" in err
    assert secret not in err
    assert ":***@" in err


def test_the_loader_refuses_a_url_it_cannot_load() -> None:
    code, err = cli("sample", "load", "sqlite:///somewhere.db")
    assert code == 2
    assert "use a postgresql:// or mysql:// URL" in err
