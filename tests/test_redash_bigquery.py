"""The Redash emulator's telemetry data source over HTTP: listed beside Treeherder when the
emulator serves the embedded sample, a BigQuery runner's schema, BigQuery SQL in, DuckDB's
error text out."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from thsources.testing import RedashEmulator


@pytest.fixture(scope="module")
def emu() -> Iterator[RedashEmulator]:
    with RedashEmulator(workers=1) as emulator:
        yield emulator


@pytest.fixture
def http(emu: RedashEmulator) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Key {emu.api_key}"
    return s


def _job(http: requests.Session, emu: RedashEmulator, sql: str) -> dict[str, Any]:
    """POST the text to data source 2 and wait for the job to end."""
    answer = http.post(
        f"{emu.url}/api/query_results",
        json={"query": sql, "data_source_id": 2, "max_age": 0},
    ).json()
    job: dict[str, Any] = answer["job"]
    deadline = time.monotonic() + 30
    while job["status"] in (1, 2) and time.monotonic() < deadline:
        time.sleep(0.02)
        job = http.get(f"{emu.url}/api/jobs/{job['id']}").json()["job"]
    return job


def test_the_sample_comes_with_its_telemetry_as_a_bigquery_source(
    http: requests.Session, emu: RedashEmulator
) -> None:
    listed = http.get(f"{emu.url}/api/data_sources").json()
    assert [(d["id"], d["name"], d["type"]) for d in listed] == [
        (2, "Telemetry (BigQuery)", "bigquery"),  # Redash lists them by name
        (1, "Treeherder", "pg"),
    ]
    item = http.get(f"{emu.url}/api/data_sources/2").json()
    assert item["options"] == {
        "jsonKeyFile": "--------",
        "loadSchema": True,
        "projectId": "moz-fx-data-shared-prod",
        "useStandardSql": True,
    }


def test_the_schema_is_the_bigquery_runners(http: requests.Session, emu: RedashEmulator) -> None:
    schema = http.get(f"{emu.url}/api/data_sources/2/schema").json()["schema"]
    assert [t["name"] for t in schema] == ["telemetry.buildhub2", "telemetry.error_aggregates"]
    columns = schema[0]["columns"]
    assert columns[:3] == [
        {
            "name": "build",
            "type": "STRUCT<build STRUCT<date TIMESTAMP, id STRING, target STRING>, "
            "download STRUCT<date TIMESTAMP, mimetype STRING, size INT64, url STRING>, "
            "source STRUCT<product STRING, repository STRING, revision STRING, tree STRING>, "
            "target STRUCT<channel STRING, locale STRING, os STRING, platform STRING, "
            "version STRING>>",
            "description": None,
        },
        {
            "name": "build.build",
            "type": "STRUCT<date TIMESTAMP, id STRING, target STRING>",
            "description": None,
        },
        {"name": "build.build.date", "type": "TIMESTAMP", "description": None},
    ]
    assert [c["name"] for c in columns] == sorted(c["name"] for c in columns)
    assert len(columns) == 1 + 4 + 3 + 4 + 4 + 5 + 1  # build, its 4 records and fields, id
    # Treeherder's data source stays Treeherder's tables only.
    treeherder = http.get(f"{emu.url}/api/data_sources/1/schema").json()["schema"]
    names = {t["name"] for t in treeherder}
    assert "push" in names and not any("telemetry" in n or "buildhub" in n for n in names)


def test_bigquery_sql_runs_and_its_answer_is_typed(
    http: requests.Session, emu: RedashEmulator
) -> None:
    job = _job(
        http,
        emu,
        "SELECT os_name, COUNTIF(main_crashes > 0), 7 / 2 AS half "
        "FROM `moz-fx-data-shared-prod.telemetry.error_aggregates` "
        "WHERE submission_date = DATE_SUB(DATE '2026-10-31', INTERVAL 1 DAY) "
        "GROUP BY os_name ORDER BY os_name",
    )
    assert job["status"] == 3, job
    result = http.get(f"{emu.url}/api/query_results/{job['query_result_id']}.json").json()
    data = result["query_result"]["data"]
    assert [(c["name"], c["type"]) for c in data["columns"]] == [
        ("os_name", "string"),
        ("f0_", "integer"),
        ("half", "float"),
    ]
    assert [r["os_name"] for r in data["rows"]] == ["Darwin", "Linux", "Windows_NT"]
    assert {r["half"] for r in data["rows"]} == {3.5}


def test_a_database_error_is_duckdbs_message_without_an_excerpt(
    http: requests.Session, emu: RedashEmulator
) -> None:
    job = _job(http, emu, "SELECT nope FROM telemetry.buildhub2")
    assert job["status"] == 4
    assert job["error"].startswith('Referenced column "nope" not found in FROM clause!')
    assert "LINE 1" not in job["error"]


def test_a_refused_text_is_the_jobs_error(http: requests.Session, emu: RedashEmulator) -> None:
    job = _job(http, emu, "INSERT INTO telemetry.buildhub2 (id) VALUES ('x')")
    assert (job["status"], job["error"]) == (
        4,
        "the telemetry data source is read-only: INSERT is refused",
    )


def test_each_type_comes_back_as_the_bigquery_runner_stores_it(
    http: requests.Session, emu: RedashEmulator
) -> None:
    # The runner reads BigQuery's REST rows (every value text, TIMESTAMP as epoch seconds,
    # RECORD as {"f": [{"v": ...}]}); transform_row converts INTEGER, FLOAT, BOOLEAN and
    # TIMESTAMP only, each element of an ARRAY too; types_map types the columns, and every
    # ARRAY, RECORD and NUMERIC column is "string".
    job = _job(
        http,
        emu,
        "SELECT 42 AS i, 0.1 + 0.2 AS f, 7 / 2 AS half, TRUE AS b, 'Firefox' AS s, "
        "TIMESTAMP '2026-10-29 23:11:23.456789' AS ts, DATE '2026-10-29' AS d, "
        "CAST('1.50' AS NUMERIC) AS num, NUMERIC '2.500000001' AS num9, NULL AS nothing, "
        "STRUCT(TIMESTAMP '2026-10-29 23:11:23.5' AS t, 7 AS n, 'x' AS s, 2.5 AS f, "
        "DATE '2026-10-29' AS d, [1, 2] AS l, CAST(NULL AS STRING) AS z) AS rec, "
        "SPLIT('a,b', ',') AS parts, [TIMESTAMP '2026-10-01 12:00:00'] AS stamps, "
        "[1.5, 1e10] AS floats, ROUND(5) AS rounded",
    )
    assert job["status"] == 3, job
    result = http.get(f"{emu.url}/api/query_results/{job['query_result_id']}.json").json()
    data = result["query_result"]["data"]
    types = [
        ("i", "integer"), ("f", "float"), ("half", "float"), ("b", "boolean"),
        ("s", "string"), ("ts", "datetime"), ("d", "date"), ("num", "string"),
        ("num9", "string"), ("nothing", "integer"), ("rec", "string"), ("parts", "string"),
        ("stamps", "string"), ("floats", "string"), ("rounded", "float"),
    ]  # fmt: skip
    assert data["columns"] == [{"name": n, "friendly_name": n, "type": t} for n, t in types]
    assert data["rows"] == [
        {
            "i": 42,
            "f": 0.30000000000000004,  # a FLOAT64 sum, not DuckDB's DECIMAL 0.3
            "half": 3.5,
            "b": True,
            "s": "Firefox",
            "ts": "2026-10-29T23:11:23.456",  # a naive datetime, as Redash writes one
            "d": "2026-10-29",
            "num": "1.5",  # NUMERIC's text has no trailing zeros
            "num9": "2.500000001",  # and BigQuery's scale of 9
            "nothing": None,
            "rec": {
                "f": [
                    {"v": "1.7933154835E9"},
                    {"v": "7"},
                    {"v": "x"},
                    {"v": "2.5"},
                    {"v": "2026-10-29"},
                    {"v": [{"v": "1"}, {"v": "2"}]},
                    {"v": None},
                ]
            },
            "parts": ["a", "b"],
            "stamps": ["2026-10-01T12:00:00"],
            "floats": [1.5, 10000000000.0],
            "rounded": 5.0,  # BigQuery's ROUND of an INT64 is a FLOAT64
        }
    ]


def test_a_struct_column_of_the_table_is_the_raw_record(
    http: requests.Session, emu: RedashEmulator
) -> None:
    job = _job(
        http,
        emu,
        "SELECT build.target, build.build.date FROM telemetry.buildhub2 "
        "WHERE build.build.id = '20261030225612' AND build.target.locale = 'en-US' "
        "AND build.target.platform = 'linux-x86_64' AND build.target.channel = 'nightly'",
    )
    assert job["status"] == 3, job
    data = http.get(f"{emu.url}/api/query_results/{job['query_result_id']}.json").json()
    ((target, date),) = [tuple(r.values()) for r in data["query_result"]["data"]["rows"]]
    assert set(target) == {"f"}
    assert [cell["v"] for cell in target["f"]][:3] == ["nightly", "en-US", "linux"]
    assert date.startswith("2026-10-30T") and not date.endswith("Z")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1793315483.5, "1.7933154835E9"),
        (3.0, "3.0"),
        (0.001, "0.001"),
        (9999999.5, "9999999.5"),
        (1e7, "1.0E7"),
        (0.0001234, "1.234E-4"),
        (-2.5e-9, "-2.5E-9"),
        (0.0, "0.0"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
    ],
)
def test_a_float_is_written_as_the_rest_api_writes_it(value: float, text: str) -> None:
    from thsources.testing.redash_bigquery import rest_value

    assert rest_value({"type": "FLOAT", "mode": "NULLABLE"}, value) == text


def test_an_array_of_arrays_is_the_jobs_error(http: requests.Session, emu: RedashEmulator) -> None:
    job = _job(http, emu, "SELECT [SPLIT('a,b', ',')] AS nested")
    assert (job["status"], job["error"]) == (
        4,
        "Cannot return an array of arrays (column nested): BigQuery has no such type",
    )


def test_the_bigquery_runner_sends_the_text_unannotated(
    http: requests.Session, emu: RedashEmulator
) -> None:
    # should_annotate_query is the useQueryAnnotation option, off by default.
    sql = "SELECT COUNT(*) AS n FROM telemetry.buildhub2"
    job = _job(http, emu, sql)
    assert job["status"] == 3, job
    assert emu.sent[-1] == sql
    job = _job(http, emu, "SELECT nope FROM telemetry.buildhub2")
    assert emu.sent[-1] == "SELECT nope FROM telemetry.buildhub2"
    assert job["error"] == 'Referenced column "nope" not found in FROM clause!'


def test_with_use_query_annotation_the_comment_leaves_out_the_job_id() -> None:
    from thsources.testing.redash_model import DataSource

    options = {"projectId": "moz-fx-data-shared-prod", "useQueryAnnotation": True}
    sources = [
        DataSource(1, "Treeherder"),
        DataSource(2, "Telemetry (BigQuery)", type="bigquery", options=options),
    ]
    with RedashEmulator(workers=1, data_sources=sources) as emu:
        s = requests.Session()
        s.headers["Authorization"] = f"Key {emu.api_key}"
        job = _job(s, emu, "SELECT 1 AS one")
        assert job["status"] == 3, job
        (sent,) = emu.sent
        comment, text = sent.split(" */ ")
        assert text == "SELECT 1 AS one"
        assert comment.startswith("/* Username: ") and "Job ID" not in comment
        assert ", Query ID: adhoc, Queue: queries, Query Hash: " in comment
        assert comment.endswith(", Scheduled: False")
        # The Treeherder (pg) runner annotates always, with the job id.
        answer = s.post(
            f"{emu.url}/api/query_results",
            json={"query": "SELECT 1 AS one", "data_source_id": 1, "max_age": 0},
        ).json()
        assert emu.wait_idle()
        assert f"Job ID: {answer['job']['id']}, " in emu.sent[-1]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM telemetry.error_aggregates",
        "SELECT *, build.build.date AS built, build.download.size * 1.5 AS f FROM "
        "telemetry.buildhub2",
    ],
)
def test_the_quick_path_stores_what_the_rest_round_trip_does(sql: str) -> None:
    import duckdb

    from thsources.local.bqdialect import translate
    from thsources.local.telemetry import ensure_telemetry_db
    from thsources.testing.redash_bigquery import result_data

    with duckdb.connect(str(ensure_telemetry_db()), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        cursor = con.execute(translate(sql))
        description, rows = cursor.description, cursor.fetchall()
    assert rows
    assert result_data(description, rows) == result_data(description, rows, exact=True)
