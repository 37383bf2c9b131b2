"""BigQuery queries in Mozilla's style, through the Redash source, on the emulator's
"Telemetry (BigQuery)" data source: each must give what the hand-written DuckDB SQL beside
it (tests/bigquery_corpus/queries.toml) computes from the same tables."""

from __future__ import annotations

import datetime as dt
import math
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlglot
from sqlglot import exp

import thsources
from thsources.local import bqdialect
from thsources.sources.redash import RedashSource
from thsources.testing import RedashEmulator

CORPUS = tomllib.loads(
    (Path(__file__).parent / "bigquery_corpus" / "queries.toml").read_text(encoding="utf-8")
)["query"]


_LISTED = (
    "it is not among the BigQuery functions the emulator answers exactly as BigQuery does "
    "(listed in docs/redash.md)"
)


@pytest.fixture(scope="module")
def emu() -> Iterator[RedashEmulator]:
    with RedashEmulator(workers=2) as emulator:  # the embedded sample and its telemetry
        yield emulator


@pytest.fixture(scope="module")
def telemetry(emu: RedashEmulator) -> Iterator[RedashSource]:
    with thsources.connect(
        "redash", url=emu.url, api_key=emu.api_key, data_source="Telemetry (BigQuery)"
    ) as src:
        assert isinstance(src, RedashSource)
        yield src


@pytest.fixture(scope="module")
def expected_db() -> Iterator[duckdb.DuckDBPyConnection]:
    from thsources.local.telemetry import ensure_telemetry_db

    con = duckdb.connect(str(ensure_telemetry_db()), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    yield con
    con.close()


def _utc(value: Any) -> Any:
    """Results carry datetimes in UTC (aware); DuckDB gives naive UTC ones."""
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _plain(value: Any) -> Any:
    value = _utc(value)
    if isinstance(value, float):
        return pytest.approx(value, rel=1e-9) if math.isfinite(value) else value
    return value


@pytest.mark.parametrize("case", CORPUS, ids=[c["name"] for c in CORPUS])
def test_bigquery_query_gives_what_duckdb_computes(
    case: dict[str, Any], telemetry: RedashSource, expected_db: duckdb.DuckDBPyConnection
) -> None:
    params = case.get("params", {})
    got = telemetry.query(case["bigquery"], params=params)
    cursor = expected_db.execute(case["expected"], params or None)
    names = [d[0] for d in cursor.description]
    want = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    assert got.column_names == names
    assert want, "the expected SQL finds rows, so the comparison means something"
    rows = [{k: _plain(v) for k, v in r.items()} for r in want]
    assert got.records() == rows


def test_the_bound_text_is_bigquery_sql(telemetry: RedashSource, emu: RedashEmulator) -> None:
    emu.clear_requests()
    telemetry.query(
        "SELECT COUNT(*) AS n FROM telemetry.error_aggregates "
        "WHERE os_name = :os AND submission_date = :day AND build_id IN :ids",
        params={"os": "Darwin's", "day": dt.date(2026, 10, 1), "ids": ["20261001000000"]},
    )
    (post,) = [r for r in emu.requests if r.method == "POST"]
    assert post.json is not None
    assert post.json["query"] == (
        "SELECT COUNT(*) AS n FROM telemetry.error_aggregates "
        "WHERE os_name = 'Darwin\\'s' AND submission_date = DATE '2026-10-01' "
        "AND build_id IN ('20261001000000')"
    )


def test_the_schema_lists_field_paths_as_the_bigquery_runner(telemetry: RedashSource) -> None:
    tables = telemetry.tables()
    rows = tables.rows()
    assert sorted({r[0] for r in rows}) == ["telemetry.buildhub2", "telemetry.error_aggregates"]
    buildhub = [(c, t) for n, c, t in rows if n == "telemetry.buildhub2"]
    assert [c for c, _ in buildhub] == sorted(c for c, _ in buildhub)
    assert ("build.build.id", "STRING") in buildhub
    assert ("build.download.size", "INT64") in buildhub
    assert ("build.target", "STRUCT<channel STRING, locale STRING, os STRING, "
            "platform STRING, version STRING>") in buildhub  # fmt: skip
    assert [(c, t) for n, c, t in rows if n == "telemetry.error_aggregates"] == [
        ("application", "STRING"),
        ("architecture", "STRING"),
        ("build_id", "STRING"),
        ("channel", "STRING"),
        ("content_crashes", "INT64"),
        ("count", "INT64"),
        ("gpu_crashes", "INT64"),
        ("main_crashes", "INT64"),
        ("os_name", "STRING"),
        ("startup_crashes", "INT64"),
        ("submission_date", "DATE"),
        ("usage_hours", "FLOAT64"),
        ("version", "STRING"),
    ]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("DELETE FROM telemetry.error_aggregates WHERE TRUE",
         "the telemetry data source is read-only: DELETE is refused"),
        ("SELECT 1; SELECT 2",
         "the query has several statements (2); the telemetry data source runs one SELECT "
         "per query"),
        ("SELECT * FROM `other-project.telemetry.buildhub2`",
         "Not found: Project other-project: the telemetry data source serves the datasets of "
         "moz-fx-data-shared-prod, mozdata"),
        ("SELECT nope FROM telemetry.error_aggregates",
         'Referenced column "nope" not found in FROM clause!'),
        ("SELEC 1", "syntax error at or near '1' (line 1, column 7): the query is not "
         "valid BigQuery SQL"),
        # Functions, parts and types outside the corpus are refused, named as written.
        ("SELECT APPROX_COUNT_DISTINCT(build_id) FROM telemetry.error_aggregates",
         "the telemetry data source does not run the function APPROX_COUNT_DISTINCT: " + _LISTED),
        ("SELECT mozfun.norm.truncate_version(version, 'major') "
         "FROM telemetry.error_aggregates",
         "the telemetry data source does not run the function "
         "mozfun.norm.truncate_version: " + _LISTED),
        ("SELECT SUBSTR(version, 0, 3) FROM telemetry.error_aggregates",  # 0 counts as 1
         "the telemetry data source does not run the function SUBSTR: " + _LISTED),
        ("SELECT SAFE.PARSE_DATE('%Y%m%d', build_id) FROM telemetry.error_aggregates",
         "the telemetry data source does not run the function SAFE.PARSE_DATE: " + _LISTED),
        ("SELECT ARRAY(SELECT 1)",
         "the telemetry data source does not run ARRAY(subquery): " + _LISTED),
        ("SELECT EXTRACT(WEEK FROM submission_date) FROM telemetry.error_aggregates",
         "the telemetry data source does not run EXTRACT with the part WEEK: it answers as "
         "BigQuery does with DAY, DAYOFWEEK, MONTH, YEAR"),
        ("SELECT DATE_TRUNC(submission_date, WEEK(MONDAY)) FROM telemetry.error_aggregates",
         "the telemetry data source does not run DATE_TRUNC with the part WEEK(MONDAY): it "
         "answers as BigQuery does with MONTH, WEEK"),
        # Casts DuckDB would answer otherwise fail as BigQuery's do, or are refused.
        ("SELECT CAST('2.5' AS INT64) AS n", "Bad int64 value: 2.5"),
        ("SELECT CAST('yes' AS BOOL) AS b", "Bad bool value: yes"),
        ("SELECT CAST('0x1F' AS INT64) AS n",
         "the telemetry data source does not run a cast to INT64 of a hexadecimal text"),
        ("SELECT CAST(SUM(usage_hours) AS STRING) FROM telemetry.error_aggregates",
         "the telemetry data source does not run a cast to STRING of a DOUBLE value: BigQuery "
         "converts it otherwise"),
        ("SELECT CONCAT('build ', COUNT(*)) FROM telemetry.error_aggregates",
         "the telemetry data source does not run CONCAT of a BIGINT value: BigQuery's CONCAT "
         "takes STRING values (CAST them)"),
        ("SELECT ROUND(CAST('1.25' AS NUMERIC), 1) AS r",
         "the telemetry data source does not run ROUND of a DECIMAL(38,9) value: it answers as "
         "BigQuery does for INT64 and FLOAT64"),
        ("SELECT FORMAT_DATE('%e %b', submission_date) FROM telemetry.error_aggregates",
         "the telemetry data source does not run FORMAT_DATE with this format: the elements it "
         "answers as BigQuery does are %A %H %M %S %Y %d %m"),
        ("SELECT DATE(2026, 10, 1) AS d",
         "the telemetry data source does not run the function DATE(2026, 10, 1): " + _LISTED),
        ("SELECT DATE(TIMESTAMP '2026-10-01 03:00:00', 'America/Los_Angeles') AS d",
         "the telemetry data source does not run the function DATE(CAST('2026-10-01 03:00:00' "
         "AS TIMESTAMP), 'America/Los_Angeles'): " + _LISTED),
        ("SELECT 'build ' || 1 AS b",
         "the telemetry data source does not run CONCAT of a INTEGER value: BigQuery's CONCAT "
         "takes STRING values (CAST them)"),
        ("SELECT * FROM telemetry.error_aggregates TABLESAMPLE SYSTEM (10 PERCENT)",
         "the telemetry data source does not run TABLESAMPLE: its rows are random"),
        ("SELECT * FROM telemetry.error_aggregates FOR SYSTEM_TIME AS OF "
         "TIMESTAMP '2026-10-01 00:00:00'",
         "the telemetry data source does not run FOR SYSTEM_TIME AS OF: the served tables have "
         "no history"),
        ("SELECT * FROM (SELECT os_name, channel, count FROM telemetry.error_aggregates) "
         "PIVOT (SUM(count) FOR channel IN ('beta', 'release'))",
         "the telemetry data source does not run PIVOT or UNPIVOT: it is not among the "
         "constructs known to agree with BigQuery"),
        ("SELECT CAST('2026/10/01' AS DATE) AS d",
         "the telemetry data source does not read '2026/10/01' as a DATE: BigQuery reads "
         "YYYY-M-D texts"),
        ("SELECT CAST('2026-10-01 12:00' AS TIMESTAMP) AS t",
         "the telemetry data source does not read '2026-10-01 12:00' as a TIMESTAMP: BigQuery "
         "reads YYYY-M-D[ H:M:S[.F]][ zone offset, Z or UTC] texts"),
        ("SELECT os_name, AVG(CAST(count AS NUMERIC)) FROM telemetry.error_aggregates "
         "GROUP BY os_name",
         "the telemetry data source does not run AVG of a NUMERIC value: it answers as "
         "BigQuery does for INT64 and FLOAT64"),
        ("SELECT CAST(build_id AS DATETIME) FROM telemetry.error_aggregates",
         "the telemetry data source does not run a cast to DATETIME: the types it answers as "
         "BigQuery does are INT64, FLOAT64, STRING, BOOL, DATE, TIMESTAMP, NUMERIC"),
    ],
)  # fmt: skip
def test_what_the_data_source_refuses_is_the_jobs_error(
    telemetry: RedashSource, sql: str, message: str
) -> None:
    # Redash reports a runner's failure as the job's error text: a QueryError with that text.
    with pytest.raises(thsources.QueryError) as info:
        telemetry.query(sql)
    assert str(info.value).startswith(message)


def _corpus_trees() -> list[exp.Expr]:
    return [sqlglot.parse_one(case["bigquery"], read="bigquery") for case in CORPUS]


def test_every_allowed_function_part_and_type_is_run_by_a_corpus_query() -> None:
    """What bqdialect lets through is what this corpus shows BigQuery's answer for."""
    trees = _corpus_trees()
    used = {type(n) for t in trees for n in t.walk()}
    assert set(bqdialect.FUNCTIONS) - used == set()
    for kind, parts in bqdialect.UNITS.items():
        seen = {bqdialect._unit(n) for t in trees for n in t.find_all(kind)}
        assert parts <= seen, kind
    formats = "".join(
        n.args["format"].name for t in trees for n in t.find_all(exp.TimeToStr, exp.StrToTime)
    )
    assert set(re.findall(r"%(.)", formats)) == bqdialect.FORMAT_ELEMENTS
    casts = {n.to.this for t in trees for n in t.find_all(exp.Cast, exp.TryCast)}
    # NUMERIC is run by tests/test_redash_bigquery.py (its value is text, as the runner's).
    assert set(bqdialect.TYPES) - casts == {exp.DType.DECIMAL}


def test_the_docs_list_the_allowed_functions() -> None:
    text = (Path(__file__).parent.parent / "docs" / "redash.md").read_text(encoding="utf-8")
    section = text.split("BigQuery functions the emulator runs", 1)[1].split("\n#", 1)[0]
    listed = set(re.findall(r"`([A-Z_0-9]+)`", section))
    assert listed >= set(bqdialect.FUNCTIONS.values()) | set(bqdialect.TYPES.values())
