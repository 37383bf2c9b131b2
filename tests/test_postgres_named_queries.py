"""The named queries' PostgreSQL variants on a real PostgreSQL server, loaded with the same
sample: they must give exactly the records DuckDB gives (the variants claim both dialects).

Runs when ``THSOURCES_TEST_POSTGRES_URL`` is set (``.ci/run`` sets it); skipped otherwise.
The sample goes into a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

import thsources
from thsources.catalog import bind_params, conform, get
from thsources.local.sample import iter_tables
from thsources.local.schema import ddl, quote_ident
from thsources.result import Result, ResultMeta
from thsources.sqlbind import bind

URL = os.environ.get("THSOURCES_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(
    not URL,
    reason="needs a PostgreSQL server: set THSOURCES_TEST_POSTGRES_URL, for example "
    "THSOURCES_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test",
)


@pytest.fixture(scope="module")
def pg() -> Iterator[Any]:
    psycopg = pytest.importorskip("psycopg")
    assert URL is not None
    schema = f"thsources_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(URL, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
        con.execute(f"SET search_path TO {schema}")
        try:
            for statement in ddl("postgresql"):
                con.execute(statement)
            for table, rows in iter_tables():
                columns = ", ".join(quote_ident(c, "postgresql") for c in table.column_names)
                copy_sql = f"COPY {quote_ident(table.name, 'postgresql')} ({columns}) FROM STDIN"
                with con.cursor() as cur, cur.copy(copy_sql) as copy:
                    for row in rows:
                        copy.write_row(row)
            con.execute("ANALYZE")
            yield con
        finally:
            con.execute(f"DROP SCHEMA {schema} CASCADE")


def run_on_pg(con: Any, name: str, params: Mapping[str, Any]) -> Result:
    """Bind and run the postgresql variant the way a SQL source would."""
    import pyarrow as pa

    query = get(name)
    sql = bind(query.variants["postgresql"], bind_params(query, params), "postgresql")
    with con.cursor() as cur:
        cur.execute(sql)
        names = [d.name for d in cur.description]
        rows = cur.fetchall()
    table = pa.Table.from_pydict({n: [r[i] for r in rows] for i, n in enumerate(names)})
    types = {c.name: c.type for c in query.columns}
    result = Result.from_arrow(table, types=types, meta=ResultMeta(source="postgresql"))
    return conform(query, result)


@pytest.fixture(scope="module")
def local() -> Iterator[Any]:
    with thsources.connect("local") as src:
        yield src


@pytest.mark.parametrize(
    "name",
    [
        "pushes",
        "jobs-for-push",
        "failure-rate-by-platform",
        "failure-rate-by-push",
        "intermittent-bugs",
        "perf-series",
        "perf-alerts",
    ],
)
def test_postgresql_gives_the_same_records_as_duckdb(pg: Any, local: Any, name: str) -> None:
    params: dict[str, Any] = {}
    if name == "jobs-for-push":
        params["push_id"] = local.query(
            "SELECT push_id FROM job WHERE end_time < TIMESTAMP '1970-01-02' LIMIT 1"
        ).records()[0]["push_id"]
    if name == "perf-series":
        alert = thsources.run("perf-alerts", source=local).records()[0]
        params["signature_hash"] = alert["signature_hash"]
    on_duckdb = thsources.run(name, params=params, source=local)
    on_pg = run_on_pg(pg, name, params)
    assert len(on_duckdb) > 0
    assert on_pg.columns == on_duckdb.columns
    assert on_pg.records() == on_duckdb.records()
