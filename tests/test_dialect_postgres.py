"""The local source against a real PostgreSQL loaded with the same sample: the dialect corpus
(``tests/dialect_corpus/agree.toml``) must give the same column names, canonical types and
values on both, and what the local source refuses must be what it claims about PostgreSQL.

Runs when ``THSOURCES_TEST_POSTGRES_URL`` is set (``.ci/run`` sets it); to run it yourself,
point it at any PostgreSQL 14+ database you may create a schema in, e.g.
``THSOURCES_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test pytest``.
The sample goes into a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import os
import re
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

import thsources
from thsources.local.sample import iter_tables
from thsources.local.schema import ddl, quote_ident
from thsources.result import dedupe_names

URL = os.environ.get("THSOURCES_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(not URL, reason="THSOURCES_TEST_POSTGRES_URL is not set")

CORPUS = Path(__file__).parent / "dialect_corpus"
AGREE = tomllib.loads((CORPUS / "agree.toml").read_text(encoding="utf-8"))["query"]
REFUSED = tomllib.loads((CORPUS / "refused.toml").read_text(encoding="utf-8"))

# PostgreSQL type OIDs -> canonical types, as the Redash PostgreSQL runner types them
# (numeric is float there); json, jsonb and arrays are json values here.
_OID_TYPES = {
    16: "boolean",
    20: "integer",
    21: "integer",
    23: "integer",
    700: "float",
    701: "float",
    1700: "float",
    25: "string",
    1043: "string",
    1042: "string",
    705: "string",
    1082: "date",
    1114: "datetime",
    1184: "datetime",
    1186: "string",
    114: "json",
    3802: "json",
}


@pytest.fixture(scope="module")
def pg() -> Iterator[Any]:
    psycopg = pytest.importorskip("psycopg")
    assert URL is not None
    schema = f"thsources_dialect_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(URL, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
        con.execute(f"SET search_path TO {schema}")
        con.execute("SET TimeZone TO 'UTC'")
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


@pytest.fixture(scope="module")
def local() -> Iterator[Any]:
    with thsources.connect("local") as src:
        yield src


def _canonical_type(oid: int) -> str:
    if oid not in _OID_TYPES and oid >= 1000:
        return "json"  # arrays (_int4, _text, ...)
    return _OID_TYPES[oid]


def _pg_value(value: Any, ctype: str) -> Any:
    """A psycopg value as the library's records hold the canonical type."""
    if value is None:
        return None
    if ctype == "float":
        return float(value)
    if ctype == "datetime":
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    if ctype == "string" and isinstance(value, dt.timedelta):
        return str(value)
    if ctype == "json":
        return orjson.loads(orjson.dumps(value, default=str))
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        # numeric is exact in PostgreSQL and double here: equal to 12 significant digits.
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, decimal.Decimal) or isinstance(b, decimal.Decimal):
        return float(a) == float(b)
    return bool(a == b)


def _clock_sql(sql: str, clock: dt.datetime) -> str:
    """The query with the sample's clock written in, for PostgreSQL, whose clock is real."""
    stamp = clock.replace(tzinfo=None).isoformat(sep=" ")
    sql = re.sub(r"\bnow\(\)", f"'{stamp}+00'::timestamptz", sql)
    sql = re.sub(r"\bcurrent_date\b", f"'{stamp[:10]}'::date", sql)
    return re.sub(r"\blocaltimestamp\b", f"'{stamp}'::timestamp", sql)


def _run_pg(con: Any, sql: str) -> tuple[list[str], list[str], list[tuple[Any, ...]]]:
    with con.cursor() as cur:
        cur.execute(sql)
        names = [d.name for d in cur.description]
        types = [_canonical_type(d.type_code) for d in cur.description]
        rows = [
            tuple(_pg_value(v, t) for v, t in zip(row, types, strict=True))
            for row in cur.fetchall()
        ]
    return names, types, rows


def test_the_corpus_is_large_enough() -> None:
    assert len(AGREE) >= 60
    assert len({q["name"] for q in AGREE}) == len(AGREE)


@pytest.mark.parametrize("case", AGREE, ids=[q["name"] for q in AGREE])
def test_local_gives_postgresql_answer(pg: Any, local: Any, case: dict[str, Any]) -> None:
    sql = case["sql"]
    names, types, rows = _run_pg(pg, sql)
    if case.get("clock"):
        clock = local.query("SELECT max(time) AS t FROM push").records()[0]["t"]
        _, types, rows = _run_pg(pg, _clock_sql(sql, clock))
    res = local.query(sql)
    assert [c.name for c in res.columns] == dedupe_names(names)
    assert [c.type for c in res.columns] == types
    got = res.rows()
    assert len(got) == len(rows)
    assert len(rows) > 0
    for i, (mine, theirs) in enumerate(zip(got, rows, strict=True)):
        for name, a, b in zip(names, mine, theirs, strict=True):
            assert _same(a, b), f"row {i} column {name}: local {a!r} != PostgreSQL {b!r}"


@pytest.mark.parametrize(
    "case",
    [c for c in REFUSED["refused"] if c.get("postgres") == "error"],
    ids=lambda c: c["sql"][:40],
)
def test_what_is_refused_as_not_postgresql_fails_on_postgresql(
    pg: Any, case: dict[str, Any]
) -> None:
    import psycopg

    with pytest.raises(psycopg.Error), pg.transaction():
        pg.execute(case["sql"])
