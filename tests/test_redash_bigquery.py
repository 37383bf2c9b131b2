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
