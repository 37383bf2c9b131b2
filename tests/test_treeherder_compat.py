"""``thsources.compat``: thclient's calls answered through the treeherder source (emulator)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests

from thsources.compat import PerfherderClient, PerformanceSeries, TreeherderClient
from thsources.errors import NotFound, ParameterError
from thsources.local.loader import ensure_sample_db
from thsources.sources.treeherder import TreeherderSource
from thsources.testing import TreeherderEmulator


@pytest.fixture(scope="module")
def sample() -> Path:
    return ensure_sample_db()


@pytest.fixture(scope="module")
def db(sample: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(sample), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def emulator(sample: Path) -> Iterator[TreeherderEmulator]:
    with TreeherderEmulator(sample, now=dt.datetime(2026, 11, 1)) as emu:
        yield emu


@pytest.fixture
def client(emulator: TreeherderEmulator) -> PerfherderClient:
    return PerfherderClient(server_url=emulator.url, timeout=30, pace=float("inf"))


def _busy_push(db: Any) -> int:
    row = db.execute(
        "SELECT push_id FROM job WHERE repository_id = 77 GROUP BY 1 HAVING count(*) > 40 "
        "ORDER BY push_id LIMIT 1"
    ).fetchone()
    return int(row[0])


def test_get_jobs_returns_every_job_not_ten(
    client: TreeherderClient, emulator: TreeherderEmulator, db: Any
) -> None:
    push_id = _busy_push(db)
    expected = [
        r[0]
        for r in db.execute(
            "SELECT id FROM job WHERE push_id = ? ORDER BY id", [push_id]
        ).fetchall()
    ]
    jobs = client.get_jobs("autoland", push_id=push_id)
    assert [j["id"] for j in jobs] == expected
    assert len(jobs) > 40
    # What thclient gets for the same call: the deprecated endpoint's default of 10.
    legacy = requests.get(
        f"{emulator.url}/api/project/autoland/jobs/",
        params={"push_id": push_id},
        headers={"User-Agent": "treeherder-pyclient/5.0.0"},
    ).json()
    assert len(legacy["results"]) == 10


def test_get_jobs_dicts_carry_the_keys_thclient_users_read(
    client: TreeherderClient, db: Any
) -> None:
    push_id = _busy_push(db)
    job = client.get_jobs("autoland", result_set_id=push_id, count=1)[0]
    expected = db.execute(
        "SELECT j.id, jt.name, jt.symbol, j.result, j.state, tm.task_id FROM job j "
        "JOIN job_type jt ON jt.id = j.job_type_id "
        "JOIN taskcluster_metadata tm ON tm.job_id = j.id WHERE j.push_id = ? "
        "ORDER BY j.id LIMIT 1",
        [push_id],
    ).fetchone()
    assert (
        job["id"],
        job["job_type_name"],
        job["job_type_symbol"],
        job["result"],
        job["state"],
        job["task_id"],
    ) == expected
    assert job["push_id"] == job["result_set_id"] == push_id
    assert isinstance(job["duration"], int)  # minutes, as Treeherder sends it
    assert {"platform", "platform_option", "tier", "retry_id", "job_group_symbol"} <= set(job)


def test_get_jobs_count_and_offset_slice_the_id_ordered_list(
    client: TreeherderClient, db: Any
) -> None:
    push_id = _busy_push(db)
    every = [j["id"] for j in client.get_jobs("autoland", push_id=push_id)]
    page = client.get_jobs("autoland", push_id=push_id, count=5, offset=20)
    assert [j["id"] for j in page] == every[20:25]


def test_get_jobs_same_records_as_the_source(
    client: TreeherderClient, emulator: TreeherderEmulator, db: Any
) -> None:
    push_id = _busy_push(db)
    src = TreeherderSource(url=emulator.url, pace=float("inf"))
    records = src.jobs(push_id).records()
    jobs = client.get_jobs("autoland", push_id=push_id)
    assert [(j["id"], j["job_type_name"], j["platform_option"]) for j in jobs] == [
        (r["job_id"], r["label"], r["platform_option"]) for r in records
    ]
    completed = [(j, r) for j, r in zip(jobs, records, strict=True) if j["state"] == "completed"]
    assert completed
    assert all(r["duration_s"] == j["duration"] * 60 for j, r in completed)


def test_get_pushes_count_none_pages_instead_of_a_400(
    client: TreeherderClient, emulator: TreeherderEmulator
) -> None:
    emulator.clear_requests()
    pushes = client.get_pushes("autoland", count=None)
    assert len(pushes) == len({p["id"] for p in pushes}) == 640
    assert all(int(r.params["count"][0]) <= 1000 for r in emulator.requests)
    assert len(client.get_pushes("autoland")) == 10  # the default, as in thclient
    assert {"id", "revision", "author", "push_timestamp", "revisions"} <= set(pushes[0])


def test_reference_lists(client: TreeherderClient, db: Any) -> None:
    repos = client.get_repositories()
    assert sorted(r["name"] for r in repos) == sorted(
        r[0]
        for r in db.execute("SELECT name FROM repository WHERE active_status = 'active'").fetchall()
    )
    options = client.get_option_collection_hash()
    expected = {
        h: [{"name": n} for n in names.split(" ")]
        for h, names in db.execute(
            "SELECT option_collection_hash, string_agg(o.name, ' ' ORDER BY o.name) "
            "FROM option_collection oc JOIN option o ON o.id = oc.option_id GROUP BY 1"
        ).fetchall()
    }
    assert options == expected
    classes = client.get_failure_classifications()
    assert {"id": 4, "name": "intermittent"} in classes


def test_get_job_log_url(client: TreeherderClient, db: Any) -> None:
    ids = [
        r[0]
        for r in db.execute(
            "SELECT id FROM job WHERE repository_id = 77 ORDER BY id LIMIT 3"
        ).fetchall()
    ]
    logs = client.get_job_log_url("autoland", job_id=ids)
    assert {log["job_id"] for log in logs} == set(ids)
    assert all(log["url"].startswith("https://") for log in logs)
    with pytest.raises(ParameterError, match="needs job_id"):
        client.get_job_log_url("autoland")


def test_performance_signatures_and_data(client: PerfherderClient, db: Any) -> None:
    sigs = client.get_performance_signatures("autoland", framework=13)
    assert sigs
    summary = sigs.filter(("suite", "amazon"))
    assert summary and all(s["suite"] == "amazon" for s in summary.values())
    sig_id = next(iter(summary))
    data = client.get_performance_data("autoland", signature_id=sig_id)
    (series,) = data.values()
    assert isinstance(series, PerformanceSeries)
    expected = db.execute(
        "SELECT round(value, 2) FROM performance_datum WHERE signature_id = ? "
        "ORDER BY push_timestamp, id",
        [int(sig_id)],
    ).fetchall()
    assert series["value"] == [r[0] for r in expected]
    assert "signature_hash" in sigs.get_property_names()


def test_errors_and_headers(client: TreeherderClient, emulator: TreeherderEmulator) -> None:
    emulator.clear_requests()
    with pytest.raises(NotFound, match="No project with name nope"):
        client.get_pushes("nope")
    (request,) = emulator.requests
    assert request.headers["User-Agent"].startswith("thsources/")
    assert request.headers["Accept"] == "application/json; version=1.0"


def test_constructor_defaults_match_thclient() -> None:
    client = TreeherderClient()
    assert client.server_url == "https://treeherder.mozilla.org"
    assert client.timeout == 30
    assert client._source._http.timeouts.read == 30
