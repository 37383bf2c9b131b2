"""The Redash emulator over real HTTP, checked against answers captured from a real server.

Every test talks to a started emulator with plain ``requests`` (and once with redash-toolbelt,
a client written elsewhere), so the shapes, status codes and texts asserted here are what a
client sees. Waits are bounded polls; no test asserts how long anything took.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests
from redash_toolbelt import Redash

from thsources.testing import DataSource, RedashEmulator, SavedQuery, User, pytest_plugin
from thsources.testing.redash_mustache import MustacheError, collect_keys, render
from thsources.testing.redash_sql import (
    apply_auto_limit,
    database_error,
    gen_query_hash,
    libpq_error_position,
)

# Captured from a real Redash (copies of the reference's redash-samples/).
SAMPLES = Path(__file__).resolve().parent / "fixtures" / "redash-samples"
LOGIN = {"message": "Couldn't find resource. Please login and try again."}
INTERNAL = {"message": "Internal Server Error"}
NOT_FOUND = {
    "message": "The requested URL was not found on the server. If you entered the URL manually"
    " please check your spelling and try again."
}
INCOMPATIBLE = "The following parameter values are incompatible with their definitions: "
JOB_KEYS = ["id", "updated_at", "status", "error", "result", "query_result_id"]
RESULT_KEYS = ["id", "query_hash", "query", "data", "data_source_id", "runtime", "retrieved_at"]
DEADLINE = 15.0

# The plugin's fixtures, usable even where the pytest11 entry point is not installed.
redash_emulator = pytest_plugin.redash_emulator
redash_emulator_options = pytest_plugin.redash_emulator_options


# ---------------------------------------------------------------------- fixtures and helpers


def _make_db(path: Path) -> Path:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE repository (id INTEGER, name VARCHAR(50))")
    con.execute("INSERT INTO repository VALUES (1, 'mozilla-central'), (77, 'autoland')")
    con.execute(
        "CREATE TABLE push (id INTEGER, repository_id INTEGER, revision VARCHAR(40),"
        " author VARCHAR(150), time TIMESTAMP)"
    )
    con.execute(
        "INSERT INTO push VALUES"
        " (1, 1, 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678', 'alice@example.com',"
        " '2024-05-01 10:00:00'),"
        " (2, 77, 'b2c3d4e5f60718293a4b5c6d7e8f901234567890', 'O''Brien', '2024-05-01 11:30:00')"
    )
    con.execute(
        "CREATE TABLE job (id BIGINT, guid VARCHAR(50), result VARCHAR(25), state VARCHAR(25),"
        " push_id INTEGER, repository_id INTEGER, start_time TIMESTAMP, end_time TIMESTAMP)"
    )
    con.execute(
        "INSERT INTO job VALUES"
        " (1, 'g1', 'success', 'completed', 1, 1, '2024-05-01 10:10:00', '2024-05-01 10:40:00'),"
        " (2, 'g2', 'testfailed', 'completed', 1, 1, '2024-05-01 10:12:00',"
        " '2024-05-01 10:42:00.5'),"
        " (3, 'g3', 'success', 'completed', 2, 77, '2024-05-01 11:40:00',"
        " '2024-05-01 12:00:00.123456')"
    )
    con.close()
    return path


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_db(tmp_path_factory.mktemp("redash") / "treeherder.duckdb")


@pytest.fixture
def redash_emulator_database(db_path: Path) -> Path:
    """Points the plugin's ``redash_emulator`` fixture at the small test database."""
    return db_path


@pytest.fixture
def emu(db_path: Path) -> Iterator[RedashEmulator]:
    with RedashEmulator(db_path) as emulator:
        yield emulator


@pytest.fixture
def make_emu(db_path: Path) -> Iterator[Callable[..., RedashEmulator]]:
    started: list[RedashEmulator] = []

    def make(**kwargs: Any) -> RedashEmulator:
        emulator = RedashEmulator(kwargs.pop("database", db_path), **kwargs).start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


def session(key: str | None) -> requests.Session:
    s = requests.Session()
    if key is not None:
        s.headers["Authorization"] = f"Key {key}"
    return s


@pytest.fixture
def client(emu: RedashEmulator) -> requests.Session:
    return session(emu.api_key)


def sample(name: str) -> dict[str, Any]:
    path = SAMPLES / f"{name}.json"
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def adhoc(s: requests.Session, emu: RedashEmulator, sql: str, **body: Any) -> requests.Response:
    payload = {"data_source_id": 1, "query": sql, "max_age": 0, **body}
    return s.post(f"{emu.url}/api/query_results", json=payload)


def wait_job(
    s: requests.Session,
    emu: RedashEmulator,
    job_id: str,
    query_id: int | None = None,
    until: Callable[[dict[str, Any]], bool] | None = None,
) -> dict[str, Any]:
    """Poll until ``until(job)`` (default: terminal with a result id, or failed)."""
    path = f"/api/queries/{query_id}/jobs/{job_id}" if query_id else f"/api/jobs/{job_id}"
    done = until or (lambda j: j["status"] == 4 or (j["status"] == 3 and j["query_result_id"]))
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        r = s.get(emu.url + path)
        assert r.status_code == 200, r.text
        job: dict[str, Any] = r.json()["job"]
        assert job["status"] != 5
        if done(job):
            return job
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} did not get there in {DEADLINE} s")


def run(s: requests.Session, emu: RedashEmulator, sql: str, **body: Any) -> dict[str, Any]:
    """Execute ad-hoc SQL and return the stored ``query_result``."""
    r = adhoc(s, emu, sql, **body)
    assert r.status_code == 200, r.text
    answer = r.json()
    if "query_result" in answer:
        result: dict[str, Any] = answer["query_result"]
        return result
    job = wait_job(s, emu, answer["job"]["id"])
    assert job["status"] == 3, job
    fetched = s.get(f"{emu.url}/api/query_results/{job['query_result_id']}.json")
    assert fetched.status_code == 200
    result = fetched.json()["query_result"]
    return result


def run_saved(
    s: requests.Session, emu: RedashEmulator, qid: int, parameters: dict[str, Any], **body: Any
) -> requests.Response:
    payload = {"parameters": parameters, "max_age": 0, **body}
    return s.post(f"{emu.url}/api/queries/{qid}/results", json=payload)


def saved_rows(
    s: requests.Session, emu: RedashEmulator, qid: int, parameters: dict[str, Any]
) -> list[dict[str, Any]]:
    r = run_saved(s, emu, qid, parameters)
    assert r.status_code == 200, r.text
    job = wait_job(s, emu, r.json()["job"]["id"], query_id=qid)
    assert job["status"] == 3, job
    res = s.get(f"{emu.url}/api/queries/{qid}/results/{job['query_result_id']}.json")
    assert res.status_code == 200, res.text
    rows: list[dict[str, Any]] = res.json()["query_result"]["data"]["rows"]
    return rows


def shape(value: Any) -> Any:
    """The structure of a JSON value: keys in order, types of leaves."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


# ---------------------------------------------------------------------- pure helpers


def test_query_hash_ignores_comments_and_whitespace() -> None:
    assert gen_query_hash("SELECT nosuchcol FROM job") == "d59df2f1fa5c00e7dbd83a8872e1d79e"
    assert gen_query_hash("SELECT  nosuchcol\n FROM job /* x */") == gen_query_hash(
        "SELECT nosuchcol FROM job"
    )
    assert gen_query_hash("select nosuchcol from job") != gen_query_hash(
        "SELECT nosuchcol FROM job"
    )


def test_libpq_error_position_matches_the_captured_postgres_text() -> None:
    error = sample("job_failed_bad_sql")["body"]["job"]["error"]
    annotated = (
        "/* Username: admin@example.com, Query ID: adhoc, Queue: queries, Job ID: "
        "4dadb5de-d6dc-4565-8002-89904a03aa93, Query Hash: d59df2f1fa5c00e7dbd83a8872e1d79e, "
        "Scheduled: False */ SELECT nosuchcol FROM job"
    )
    position = annotated.index("nosuchcol")
    assert (
        'column "nosuchcol" does not exist\n' + libpq_error_position(annotated, position) == error
    )
    assert libpq_error_position("SELECT x", 7) == "LINE 1: SELECT x\n               ^\n"
    assert libpq_error_position("SELECT 1,\n  x", 12) == "LINE 2:   x\n          ^\n"


def test_database_error_dialects() -> None:
    duck = 'Binder Error: Referenced column "nosuchcol" not found in FROM clause!\nCandidate...'
    assert (
        database_error(duck, "SELECT nosuchcol", "mysql")
        == "Unknown column 'nosuchcol' in 'SELECT'"
    )
    assert database_error("Parser Error: boom", "x", "pg") == "boom"


def test_auto_limit_rules() -> None:
    assert apply_auto_limit("SELECT id FROM job") == "SELECT id FROM job LIMIT 1000"
    assert apply_auto_limit("SELECT id FROM job;  -- c\n") == "SELECT id FROM job LIMIT 1000"
    assert apply_auto_limit("SELECT id FROM job LIMIT 5") == "SELECT id FROM job LIMIT 5"
    assert (
        apply_auto_limit("SELECT id FROM job LIMIT 5 OFFSET 2")
        == "SELECT id FROM job LIMIT 5 OFFSET 2"
    )
    assert apply_auto_limit("SELECT * FROM (SELECT 1 LIMIT 1) s") == (
        "SELECT * FROM (SELECT 1 LIMIT 1) s LIMIT 1000"
    )
    assert apply_auto_limit("WITH x AS (SELECT 1) SELECT * FROM x") == (
        "WITH x AS (SELECT 1) SELECT * FROM x"
    )
    assert apply_auto_limit("SELECT 1; select 2;") == "SELECT 1;\nselect 2 LIMIT 1000"
    assert apply_auto_limit("SELECT ';' AS s") == "SELECT ';' AS s LIMIT 1000"


def test_mustache_like_pystache() -> None:
    assert render("SELECT {{ a }}, '{{b.c}}'", {"a": 1, "b": {"c": "x"}}) == "SELECT 1, 'x'"
    assert render("{{=<% %>=}}SELECT '{{ x }}' AS s", {}) == "SELECT '{{ x }}' AS s"
    assert collect_keys("{{=<% %>=}}SELECT '{{ x }}'") == []
    assert collect_keys("{{=<% %>=}} SELECT 'a <% b %> c'") == ["b"]
    assert collect_keys(
        "{{ not a param }} {{a}} {{{raw}}} {{& lit}} {{! c }} {{#s}}{{t}}{{/s}}"
    ) == [
        "not a param",
        "a",
        "s",
        "t",
    ]
    assert render("{{#on}}yes{{/on}}{{^on}}no{{/on}}", {"on": False}) == "no"
    assert render("a\n{{! standalone }}\nb {{missing}}.", {}) == "a\nb ."
    assert render("{{v}}", {"v": None}) == "None"
    with pytest.raises(MustacheError):
        render("{{#a}}x{{/b}}", {})


# ---------------------------------------------------------------------- data sources and auth


def test_data_sources_listing_and_item_like_the_samples(
    make_emu: Callable[..., RedashEmulator],
) -> None:
    emu = make_emu(
        data_sources=[DataSource(1, "treeherder-pg"), DataSource(2, "treeherder-mysql", "mysql")]
    )
    s = session(emu.api_key)
    listed = s.get(f"{emu.url}/api/data_sources")
    expected = sample("data_sources")
    assert listed.status_code == expected["status"]
    assert listed.headers["Content-Type"] == expected["content_type"]
    assert listed.json() == expected["body"]  # sorted by name, same fields and values

    one = s.get(f"{emu.url}/api/data_sources/1")
    expected = sample("data_source_1")
    assert one.status_code == 200
    body = one.json()
    assert list(body) == list(expected["body"])
    assert list(body["options"]) == list(expected["body"]["options"])
    assert body["options"]["password"] == "--------"
    assert {k: v for k, v in body.items() if k != "options"} == {
        k: v for k, v in expected["body"].items() if k != "options"
    }
    assert s.get(f"{emu.url}/api/data_sources/9").json() == NOT_FOUND


def test_bad_missing_or_misspelled_keys_get_the_login_404(emu: RedashEmulator) -> None:
    expected = sample("error_bad_key")
    body = expected["request"]["body"]
    url = f"{emu.url}/api/query_results"
    for headers in (
        {},
        {"Authorization": "Key wrong"},
        {"Authorization": f"Bearer {emu.api_key}"},
        {"Authorization": f"key {emu.api_key}"},
    ):
        r = requests.post(url, json=body, headers=headers)
        assert r.status_code == expected["status"] == 404
        assert r.headers["Content-Type"] == expected["content_type"]
        assert r.json() == expected["body"] == LOGIN
    # A bare key works; ?api_key= works and wins over the header.
    assert requests.get(f"{emu.url}/api/data_sources", headers={"Authorization": emu.api_key}).ok
    good = requests.get(f"{emu.url}/api/data_sources", params={"api_key": emu.api_key})
    assert good.status_code == 200
    bad = requests.get(
        f"{emu.url}/api/data_sources",
        params={"api_key": "wrong"},
        headers={"Authorization": f"Key {emu.api_key}"},
    )
    assert bad.status_code == 404 and bad.json() == LOGIN
    # Outside /api/ an anonymous caller is sent to the login page.
    r = requests.get(f"{emu.url}/queries/1", allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")


def test_disabled_user_key_is_refused(make_emu: Callable[..., RedashEmulator]) -> None:
    emu = make_emu(users=[User(api_key="on"), User(id=2, api_key="off", disabled=True)])
    assert session("on").get(f"{emu.url}/api/data_sources").status_code == 200
    assert session("off").get(f"{emu.url}/api/data_sources").json() == LOGIN


def test_mistyped_api_path_with_a_valid_key_is_the_spa_page(
    emu: RedashEmulator, client: requests.Session
) -> None:
    expected = sample("error_spa_catch_all")
    r = client.get(emu.url + expected["request"]["path"])
    assert r.status_code == expected["status"] == 200
    assert r.headers["Content-Type"] == expected["content_type"]
    with pytest.raises(ValueError):
        r.json()
    assert client.get(f"{emu.url}/api/jobs/x/").headers["Content-Type"].startswith("text/html")
    assert requests.get(f"{emu.url}/api/querys/1").json() == LOGIN


# ---------------------------------------------------------------------- ad-hoc execution and jobs


def test_adhoc_error_answers_like_the_samples(
    emu: RedashEmulator, client: requests.Session
) -> None:
    for name in ("error_missing_data_source", "error_mustache"):
        expected = sample(name)
        r = client.post(emu.url + expected["request"]["path"], json=expected["request"]["body"])
        assert r.status_code == expected["status"]
        assert r.headers["Content-Type"] == expected["content_type"]
        assert r.json() == expected["body"]
    url = f"{emu.url}/api/query_results"
    assert client.post(url, json={"data_source_id": 99, "query": "SELECT 1"}).json() == INTERNAL
    assert client.post(url, json={"data_source_id": 99, "query": "SELECT 1"}).status_code == 500
    assert client.post(url, json={"data_source_id": 1}).status_code == 500
    bad = client.post(url, data="not json", headers={"Content-Type": "text/plain"})
    assert bad.status_code == 400 and bad.json()["message"].startswith("Failed to decode JSON")
    several = adhoc(client, emu, "SELECT {{ a }}, {{b}}, '{{ a }}'")
    assert several.status_code == 400
    assert several.json() == {"job": {"status": 4, "error": "Missing parameter value for: a, b"}}


def test_body_is_json_whatever_the_content_type(
    emu: RedashEmulator, client: requests.Session
) -> None:
    body = json.dumps({"data_source_id": 1, "query": "SELECT 42 AS n", "max_age": 0})
    r = client.post(
        f"{emu.url}/api/query_results", data=body, headers={"Content-Type": "text/plain"}
    )
    assert r.status_code == 200 and "job" in r.json()


def test_job_lifecycle_queued_started_finished(make_emu: Callable[..., RedashEmulator]) -> None:
    emu = make_emu(job_duration=0.3)
    s = session(emu.api_key)
    emu.faults.hold_queue = True
    expected = sample("post_query_results_job")
    body = dict(expected["request"]["body"])
    body["query"] = body["query"].replace("pg_sleep(0.6)", "pg_sleep(0.01)")
    r = s.post(emu.url + expected["request"]["path"], json=body)
    assert r.status_code == 200
    job = r.json()["job"]
    assert list(job) == JOB_KEYS == list(expected["body"]["job"])
    assert {k: v for k, v in job.items() if k != "id"} == {
        k: v for k, v in expected["body"]["job"].items() if k != "id"
    }
    queued = s.get(f"{emu.url}/api/jobs/{job['id']}").json()
    assert shape(queued) == shape(sample("job_status_1")["body"])
    assert queued["job"]["status"] == 1 and queued["job"]["updated_at"] == 0
    assert emu.jobs[job["id"]].state == "queued"

    emu.faults.hold_queue = False
    started = wait_job(s, emu, job["id"], until=lambda j: j["status"] != 1)
    if started["status"] == 2:  # seen while running: a naive timestamp string
        assert shape({"job": started}) == shape(sample("job_status_2")["body"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?", started["updated_at"])
    finished = wait_job(s, emu, job["id"])
    assert shape({"job": finished}) == shape(sample("job_status_3")["body"])
    assert finished["status"] == 3 and finished["updated_at"] == 0 and finished["error"] == ""
    assert finished["result"] == finished["query_result_id"]
    assert emu.jobs[job["id"]].state == "finished"


def test_status_two_while_running(make_emu: Callable[..., RedashEmulator]) -> None:
    emu = make_emu(job_duration=60)
    s = session(emu.api_key)
    job_id = adhoc(s, emu, "SELECT 1").json()["job"]["id"]
    running = wait_job(s, emu, job_id, until=lambda j: j["status"] == 2)
    assert isinstance(running["updated_at"], str) and running["result"] is None
    assert s.delete(f"{emu.url}/api/jobs/{job_id}").status_code == 200


def test_failed_query_carries_the_database_message_like_postgres(
    emu: RedashEmulator, client: requests.Session
) -> None:
    expected = sample("job_failed_bad_sql")["body"]["job"]
    job = wait_job(client, emu, adhoc(client, emu, "SELECT nosuchcol FROM job").json()["job"]["id"])
    assert list(job) == list(expected)
    assert job["status"] == 4 and job["result"] is None and job["query_result_id"] is None
    # Same SQL, same hash: the excerpt of the annotated query is byte for byte the server's.
    assert job["error"] == expected["error"]
    other = wait_job(client, emu, adhoc(client, emu, "SELECT * FROM nosuch").json()["job"]["id"])
    assert other["error"].startswith('relation "nosuch" does not exist\nLINE 1: ')
    assert "Scheduled: False */" in other["error"]
    empty = wait_job(client, emu, adhoc(client, emu, "").json()["job"]["id"])
    assert empty["error"] == "can't execute an empty query"


def test_mysql_data_source_reports_mysql_texts(make_emu: Callable[..., RedashEmulator]) -> None:
    emu = make_emu(data_sources=[DataSource(2, "treeherder-mysql", "mysql")])
    s = session(emu.api_key)
    job = wait_job(
        s, emu, adhoc(s, emu, "SELECT nosuchcol FROM job", data_source_id=2).json()["job"]["id"]
    )
    assert job["error"] == "Unknown column 'nosuchcol' in 'SELECT'"


def test_identical_sql_is_merged_into_one_job(make_emu: Callable[..., RedashEmulator]) -> None:
    emu = make_emu(users=[User(api_key="k1"), User(id=2, email="b@example.com", api_key="k2")])
    emu.faults.hold_queue = True
    first = adhoc(session("k1"), emu, "SELECT count(*) AS n FROM job").json()["job"]
    # Another user, other whitespace and a comment: the same query hash.
    second = adhoc(session("k2"), emu, "SELECT  count(*) AS n\nFROM job /* again */").json()["job"]
    assert first["id"] == second["id"]
    assert emu.jobs_created == 1
    emu.faults.hold_queue = False
    wait_job(session("k1"), emu, first["id"])
    assert emu.executions == 1
    third = adhoc(session("k1"), emu, "SELECT count(*) AS n FROM job").json()["job"]
    assert third["id"] != first["id"]  # merging is only while a job is pending


def test_cache_follows_max_age(emu: RedashEmulator, client: requests.Session) -> None:
    sql = "SELECT id, result FROM job ORDER BY id"
    stored = run(client, emu, sql)
    assert emu.executions == 1
    for max_age in (-1, None, 3600):
        body = {"max_age": max_age} if max_age is not None else {}
        r = client.post(
            f"{emu.url}/api/query_results", json={"data_source_id": 1, "query": sql, **body}
        )
        hit = r.json()
        assert list(hit) == ["query_result"] and hit["query_result"]["id"] == stored["id"]
    missing_max_age = client.post(
        f"{emu.url}/api/query_results", json={"data_source_id": 1, "query": sql}
    ).json()
    assert "query_result" in missing_max_age  # max_age defaults to -1: any cached result
    assert emu.cache_hits == 4 and emu.executions == 1
    assert "job" in adhoc(client, emu, sql).json()  # max_age 0 always runs
    emu.wait_idle()
    emu.age_results(120)
    assert "job" in adhoc(client, emu, sql, max_age=60).json()
    emu.wait_idle()
    assert "query_result" in adhoc(client, emu, sql, max_age=60).json()
    assert emu.executions == 3


def test_cache_hit_body_like_the_sample(emu: RedashEmulator, client: requests.Session) -> None:
    expected = sample("post_query_results_cache_hit")
    sql = expected["request"]["body"]["query"].replace("pg_sleep(0.6)", "pg_sleep(0.01)")
    run(client, emu, sql)
    r = client.post(
        f"{emu.url}/api/query_results", json={"data_source_id": 1, "query": sql, "max_age": 3600}
    )
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    hit = r.json()["query_result"]
    assert list(hit) == RESULT_KEYS == list(expected["body"]["query_result"])
    assert hit["data"]["columns"] == expected["body"]["query_result"]["data"]["columns"]


def test_any_age_ttl_limits_max_age_minus_one(make_emu: Callable[..., RedashEmulator]) -> None:
    emu = make_emu(any_age_ttl=60)
    s = session(emu.api_key)
    run(s, emu, "SELECT 7 AS x")
    assert "query_result" in adhoc(s, emu, "SELECT 7 AS x", max_age=-1).json()
    emu.age_results(120)
    assert "job" in adhoc(s, emu, "SELECT 7 AS x", max_age=-1).json()


def test_cancel_running_job(make_emu: Callable[..., RedashEmulator]) -> None:
    emu = make_emu(workers=1, job_duration=120)
    s = session(emu.api_key)
    job_id = adhoc(s, emu, "SELECT 1 AS one").json()["job"]["id"]
    wait_job(s, emu, job_id, until=lambda j: j["status"] == 2)
    r = s.delete(f"{emu.url}/api/jobs/{job_id}")
    assert r.status_code == 200 and r.text == "null" and r.json() is None
    job = s.get(f"{emu.url}/api/jobs/{job_id}").json()["job"]
    assert job["status"] == 4 and job["error"] == "Query cancelled by user."
    assert job["result"] is None and job["query_result_id"] is None
    assert emu.wait_idle(timeout=DEADLINE)  # the worker stopped waiting
    assert emu.jobs[job_id].state == "cancelled"
    assert any(req.method == "DELETE" and req.path == f"/api/jobs/{job_id}" for req in emu.requests)
    emu.job_duration = 0
    assert run(s, emu, "SELECT 2 AS two")["data"]["rows"] == [{"two": 2}]  # the one worker is free


def test_cancel_queued_job_and_pg_sleep(make_emu: Callable[..., RedashEmulator]) -> None:
    emu = make_emu(workers=1)
    s = session(emu.api_key)
    emu.faults.hold_queue = True
    queued = adhoc(s, emu, "SELECT 3 AS three").json()["job"]["id"]
    assert s.delete(f"{emu.url}/api/queries/1/jobs/{queued}").status_code == 200
    assert s.get(f"{emu.url}/api/jobs/{queued}").json()["job"]["status"] == 4
    emu.faults.hold_queue = False
    sleeping = adhoc(s, emu, "SELECT pg_sleep(120) AS slept").json()["job"]["id"]
    wait_job(s, emu, sleeping, until=lambda j: j["status"] == 2)
    s.delete(f"{emu.url}/api/jobs/{sleeping}")
    assert emu.wait_idle(timeout=DEADLINE)
    assert (
        s.get(f"{emu.url}/api/jobs/{sleeping}").json()["job"]["error"] == "Query cancelled by user."
    )
    # A cancelled job is not merged into: the same SQL gets a new job.
    again = adhoc(s, emu, "SELECT 3 AS three").json()["job"]["id"]
    assert again != queued


def test_unknown_and_expired_jobs_are_500(make_emu: Callable[..., RedashEmulator]) -> None:
    emu = make_emu(job_ttl=0)
    s = session(emu.api_key)
    expected = sample("error_unknown_job")
    r = s.get(emu.url + expected["request"]["path"])
    assert r.status_code == expected["status"] == 500
    assert r.headers["Content-Type"] == expected["content_type"]
    assert r.json() == expected["body"] == INTERNAL
    assert s.delete(emu.url + expected["request"]["path"]).status_code == 500
    job_id = adhoc(s, emu, "SELECT 1").json()["job"]["id"]
    assert emu.wait_idle(timeout=DEADLINE)
    assert s.get(f"{emu.url}/api/jobs/{job_id}").json() == INTERNAL  # past its TTL

    emu.job_ttl = 3600
    job_id = adhoc(s, emu, "SELECT 2").json()["job"]["id"]
    emu.expire_job(job_id)
    assert s.get(f"{emu.url}/api/jobs/{job_id}").status_code == 500


def test_paused_and_view_only_data_sources(make_emu: Callable[..., RedashEmulator]) -> None:
    emu = make_emu(data_sources=[DataSource(1, "Treeherder"), DataSource(3, "ro", view_only=True)])
    s = session(emu.api_key)
    emu.data_sources[1].paused = True
    assert adhoc(s, emu, "SELECT 1").json() == {
        "job": {"status": 4, "error": "Treeherder is paused. Please try later."}
    }
    emu.data_sources[1].pause_reason = "upgrade"
    assert adhoc(s, emu, "SELECT 1").json()["job"]["error"] == (
        "Treeherder is paused (upgrade). Please try later."
    )
    listed = s.get(f"{emu.url}/api/data_sources").json()
    assert [(d["name"], d["paused"], d["view_only"]) for d in listed] == [
        ("ro", 0, True),
        ("Treeherder", 1, False),
    ]
    r = adhoc(s, emu, "SELECT 1", data_source_id=3)
    assert r.status_code == 403
    assert (
        r.json()["job"]["error"]
        == "You do not have permission to run queries with this data source."
    )


def test_auto_limit_and_p_arguments(emu: RedashEmulator, client: requests.Session) -> None:
    limited = run(client, emu, "SELECT id FROM job ORDER BY id", apply_auto_limit=True)
    assert limited["query"] == "SELECT id FROM job ORDER BY id LIMIT 1000"
    kept = run(client, emu, "WITH j AS (SELECT id FROM job) SELECT * FROM j", apply_auto_limit=True)
    assert kept["query"] == "WITH j AS (SELECT id FROM job) SELECT * FROM j"
    # Without a "parameters" field, p_<name> URL arguments fill the template.
    r = client.post(
        f"{emu.url}/api/query_results",
        params={"p_n": "5"},
        json={"data_source_id": 1, "query": "SELECT {{ n }} AS n", "max_age": 0},
    )
    job = wait_job(client, emu, r.json()["job"]["id"])
    stored = client.get(f"{emu.url}/api/query_results/{job['query_result_id']}").json()
    assert stored["query_result"]["query"] == "SELECT 5 AS n"


def test_set_delimiter_tag_passes_braces_through(
    emu: RedashEmulator, client: requests.Session
) -> None:
    result = run(client, emu, "{{=<% %>=}}SELECT '{{ x }}' AS s")
    assert result["data"]["rows"] == [{"s": "{{ x }}"}]
    assert result["query"] == "SELECT '{{ x }}' AS s"  # the tag is consumed
    r = adhoc(client, emu, "{{=<% %>=}} SELECT 'a <% b %> c'")
    assert r.status_code == 400 and r.json()["job"]["error"] == "Missing parameter value for: b"
    pasted = run(
        client,
        emu,
        "SELECT {{ n }} AS n, '{{ p.start }}' AS d",
        parameters={"n": 3, "p": {"start": "2024-05-01", "end": "2024-05-02"}},
    )
    assert pasted["data"]["rows"] == [{"n": 3, "d": "2024-05-01"}]


# ---------------------------------------------------------------------- results


def test_result_fetch_routes_headers_and_shape(
    emu: RedashEmulator, client: requests.Session
) -> None:
    expected = sample("query_result")
    result = run(client, emu, "SELECT id, result FROM job ORDER BY id")
    rid = result["id"]
    for path in (
        f"/api/query_results/{rid}",
        f"/api/query_results/{rid}.json",
        f"/api/queries/2/results/{rid}.json",
    ):
        r = client.get(emu.url + path)
        assert r.status_code == expected["status"] == 200
        assert r.headers["Content-Type"] == expected["content_type"]
        assert r.headers["Cache-Control"] == "private,max-age=31557600"
        assert r.headers["Content-Disposition"].startswith("attachment; filename=")
        body = r.json()
        assert list(body["query_result"]) == list(expected["body"]["query_result"])
        assert body["query_result"]["data"]["rows"][0] == {"id": 1, "result": "success"}
        assert body["query_result"]["query_hash"] == gen_query_hash(body["query_result"]["query"])
        assert re.fullmatch(
            r".*T.*\.\d{3}Z|.*T\d\d:\d\d:\d\dZ", body["query_result"]["retrieved_at"]
        )
    assert client.get(f"{emu.url}/api/query_results/999").json() == NOT_FOUND
    assert client.get(f"{emu.url}/api/query_results/999.json").status_code == 404
    csv = client.get(f"{emu.url}/api/query_results/{rid}.csv")
    assert csv.headers["Content-Type"] == "text/csv; charset=UTF-8"
    assert csv.text.splitlines()[:2] == ["id,result", "1,success"]


def test_types_and_values_like_the_postgres_runner(
    emu: RedashEmulator, client: requests.Session
) -> None:
    expected = sample("query_result")["body"]["query_result"]
    sql = expected["query"].replace("pg_sleep(0.6)", "pg_sleep(0.01)")
    result = run(client, emu, sql)
    assert result["data"]["columns"] == expected["data"]["columns"]
    row, want = result["data"]["rows"][0], expected["data"]["rows"][0]
    assert list(row) == list(want)
    for name in ("id", "result", "start_time", "revision", "iv", "arr", "js", "num", "flag", "k"):
        assert row[name] == want[name], name
    assert row["slept"] == "" and want["slept"] == ""
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", row["fetched"])
    assert dt.date.fromisoformat(row["d"])

    more = run(
        client,
        emu,
        "SELECT end_time, end_time::TIMESTAMPTZ AS tz, ARRAY['x', 'y'] AS names,"
        " 2.50::DECIMAL(5,2) AS dec, TIME '10:10:00.123456' AS t, NULL AS nothing,"
        " 'nan'::DOUBLE AS nan, 1 AS x, 2 AS x, 3 AS x FROM job ORDER BY id",
    )
    types = {c["name"]: c["type"] for c in more["data"]["columns"]}
    assert types == {
        "end_time": "datetime",
        "tz": "datetime",
        "names": "string",
        "dec": "float",
        "t": None,
        "nothing": None,
        "nan": "float",
        "x": "integer",
        "x1": "integer",
        "x2": "integer",
    }
    rows = more["data"]["rows"]
    assert [r["end_time"] for r in rows] == [
        "2024-05-01T10:40:00",
        "2024-05-01T10:42:00.500",
        "2024-05-01T12:00:00.123",
    ]
    assert rows[1]["tz"] == "2024-05-01T10:42:00.500Z"
    assert rows[0]["names"] == ["x", "y"]
    assert rows[0]["dec"] == 2.5 and rows[0]["t"] == "10:10:00.123"
    assert rows[0]["nothing"] is None and rows[0]["nan"] is None
    assert (rows[0]["x"], rows[0]["x1"], rows[0]["x2"]) == (1, 2, 3)

    empty = run(client, emu, "SELECT id, guid FROM job WHERE id < 0")
    assert [c["name"] for c in empty["data"]["columns"]] == ["id", "guid"]
    assert empty["data"]["rows"] == []


def test_queries_cannot_touch_files_or_write(emu: RedashEmulator, client: requests.Session) -> None:
    for sql in ("SELECT * FROM read_csv('/etc/hostname')", "CREATE TABLE treeherder.x (a INT)"):
        job = wait_job(client, emu, adhoc(client, emu, sql).json()["job"]["id"])
        assert job["status"] == 4 and job["error"]


# ---------------------------------------------------------------------- saved queries


def test_saved_query_definitions_like_the_samples(
    emu: RedashEmulator, client: requests.Session
) -> None:
    for qid in (1, 2, 3, 4, 5):
        expected = sample(f"saved_query_{qid}")["body"]
        r = client.get(f"{emu.url}/api/queries/{qid}")
        assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
        body = r.json()
        assert list(body) == list(expected)
        assert shape(body["user"]) == shape(expected["user"])
        assert body["visualizations"][0].keys() == expected["visualizations"][0].keys()
        for key in ("id", "name", "query", "query_hash", "options", "is_safe", "data_source_id"):
            assert body[key] == expected[key], (qid, key)
        assert body["user"]["profile_image_url"] == expected["user"]["profile_image_url"]
    assert client.get(f"{emu.url}/api/queries/404").json() == NOT_FOUND


def test_saved_query_parameters_are_validated_not_defaulted(
    emu: RedashEmulator, client: requests.Session
) -> None:
    omitted = run_saved(client, emu, 1, {})
    assert omitted.status_code == 400
    assert omitted.json() == {"job": {"status": 4, "error": "Missing parameter value for: repo"}}
    for qid, params, bad in (
        (2, {"push_id": "abc"}, "push_id"),
        (2, {"push_id": 1, "extra": 1}, "extra"),
        (3, {"result": "nope"}, "result"),
        (3, {"result": ["success"]}, "result"),
        (4, {"period": "2024-05-01"}, "period"),
        (4, {"period": {"start": "2024-05-01"}}, "period"),
        (4, {"period": {"start": "yesterday-ish", "end": "2024-05-02"}}, "period"),
        (1, {"repo": 5}, "repo"),
    ):
        r = run_saved(client, emu, qid, params)
        assert r.status_code == 400, (qid, params)
        assert r.json() == {"message": INCOMPATIBLE + bad}
    assert client.post(f"{emu.url}/api/queries/99/results", json={}).json() == NOT_FOUND


def test_saved_query_runs_with_each_parameter_type(
    emu: RedashEmulator, client: requests.Session
) -> None:
    assert [r["id"] for r in saved_rows(client, emu, 2, {"push_id": 1})] == [1, 2]
    assert [r["id"] for r in saved_rows(client, emu, 2, {"push_id": "2"})] == [3]
    assert [r["id"] for r in saved_rows(client, emu, 3, {"result": "testfailed"})] == [2]
    period = {"start": "2024-05-01 10:11", "end": "2024-05-01 11:00"}
    assert [r["id"] for r in saved_rows(client, emu, 4, {"period": period})] == [2]
    multi = saved_rows(client, emu, 7, {"results": ["success", "testfailed"]})
    assert [r["id"] for r in multi] == [1, 2, 3]
    assert any("IN ('success','testfailed')" in j.query for j in emu.jobs.values())
    # Text values are pasted raw: quoting is the caller's job.
    injected = saved_rows(client, emu, 1, {"repo": "x' OR '1'='1"})
    assert [r["id"] for r in injected] == [1, 2]
    r = run_saved(client, emu, 5, {"who": "O'Brien"})
    failed = wait_job(client, emu, r.json()["job"]["id"])
    assert failed["status"] == 4 and failed["error"]


def test_query_dropdown_needs_the_source_query_result(
    emu: RedashEmulator, client: requests.Session
) -> None:
    r = run_saved(client, emu, 8, {"repo": "autoland"})
    assert r.json() == {"message": INCOMPATIBLE + "repo"}  # query 6 has no result yet
    assert [r["name"] for r in saved_rows(client, emu, 6, {})] == ["autoland", "mozilla-central"]
    assert client.get(f"{emu.url}/api/queries/6").json()["latest_query_data_id"] is not None
    assert [r["id"] for r in saved_rows(client, emu, 8, {"repo": "autoland"})] == [2]
    assert run_saved(client, emu, 8, {"repo": "nope"}).status_code == 400


def test_saved_query_types_dates_detached_and_refresh(
    make_emu: Callable[..., RedashEmulator],
) -> None:
    queries = [
        SavedQuery(
            10,
            "dates",
            "SELECT '{{ d }}' AS d, '{{ t }}' AS t",
            [{"name": "d", "type": "date"}, {"name": "t", "type": "datetime-local"}],
        ),
        SavedQuery(11, "detached", "SELECT 1", data_source_id=None),
        SavedQuery(12, "plain", "SELECT {{ n }} AS n"),
    ]
    emu = make_emu(saved_queries=queries)
    s = session(emu.api_key)
    ok = saved_rows(s, emu, 10, {"d": "2024-05-01", "t": "2024-05-01T10:00"})
    assert ok == [{"d": "2024-05-01", "t": "2024-05-01T10:00"}]
    assert run_saved(s, emu, 10, {"d": "not a date", "t": "2024-05-01"}).json() == {
        "message": INCOMPATIBLE + "d"
    }
    detached = run_saved(s, emu, 11, {})
    assert detached.status_code == 401
    assert detached.json()["job"]["error"] == "Target data source not available."
    # Without a schema any value passes; /refresh takes p_ URL arguments and always runs.
    r = s.post(f"{emu.url}/api/queries/12/refresh", params={"p_n": "4"})
    job = wait_job(s, emu, r.json()["job"]["id"])
    assert s.get(f"{emu.url}/api/query_results/{job['query_result_id']}").json()["query_result"][
        "data"
    ]["rows"] == [{"n": 4}]


def test_query_api_keys(emu: RedashEmulator, client: requests.Session) -> None:
    key2 = client.get(f"{emu.url}/api/queries/2").json()["api_key"]
    key1 = client.get(f"{emu.url}/api/queries/1").json()["api_key"]
    q = session(key2)
    definition = q.get(f"{emu.url}/api/queries/2")
    assert definition.status_code == 200
    assert "is_favorite" not in definition.json() and definition.json()["can_edit"] is False
    # Safe parameters: the query's own key runs it and polls through the query's job route.
    job_id = run_saved(q, emu, 2, {"push_id": 1}).json()["job"]["id"]
    assert q.get(f"{emu.url}/api/jobs/{job_id}").json() == LOGIN
    job = wait_job(q, emu, job_id, query_id=2)
    rid = job["query_result_id"]
    full = q.get(f"{emu.url}/api/queries/2/results/{rid}.json")  # default values: same hash
    assert full.status_code == 200 and list(full.json()["query_result"]) == RESULT_KEYS
    hit = run_saved(q, emu, 2, {"push_id": 1}, max_age=-1).json()
    assert list(hit["query_result"]) == ["data", "retrieved_at"]
    latest = q.get(f"{emu.url}/api/queries/2/results.json")
    assert latest.status_code == 200 and "Cache-Control" not in latest.headers
    # Other values: the result's hash differs from the saved query's, so a key cannot read it.
    other = wait_job(q, emu, run_saved(q, emu, 2, {"push_id": 2}).json()["job"]["id"], query_id=2)
    missing = q.get(f"{emu.url}/api/queries/2/results/{other['query_result_id']}.json")
    assert missing.status_code == 404
    assert missing.json() == {"message": "No cached result found for this query."}
    # A text parameter is unsafe for a query key.
    unsafe = run_saved(session(key1), emu, 1, {"repo": "autoland"})
    assert unsafe.status_code == 403
    assert unsafe.json() == {
        "job": {
            "status": 4,
            "error": "This query contains potentially unsafe parameters and cannot be executed on"
            " a shared dashboard or an embedded visualization.",
        }
    }
    # A key only opens its own query's routes.
    assert q.get(f"{emu.url}/api/queries/3").json() == LOGIN
    assert q.get(f"{emu.url}/api/data_sources").json() == LOGIN
    assert adhoc(q, emu, "SELECT 1").json() == LOGIN
    assert q.post(f"{emu.url}/api/queries/2/refresh").json() == {
        "message": "Please use a user API key."
    }


def test_queries_listing_pagination(emu: RedashEmulator, client: requests.Session) -> None:
    r = client.get(f"{emu.url}/api/queries", params={"page": 1, "page_size": 3})
    body = r.json()
    assert list(body) == ["count", "page", "page_size", "results"]
    assert body["count"] == 8 and len(body["results"]) == 3
    assert [q["id"] for q in body["results"]] == [8, 7, 6]  # newest first
    assert "retrieved_at" in body["results"][0] and "last_modified_by_id" in body["results"][0]
    too_big = client.get(f"{emu.url}/api/queries", params={"page_size": 251})
    assert too_big.status_code == 400
    assert too_big.json() == {"message": "Page size is out of range (1-250)."}
    assert client.get(f"{emu.url}/api/queries", params={"page_size": 0}).status_code == 400
    past = client.get(f"{emu.url}/api/queries", params={"page": 5})
    assert past.status_code == 400 and past.json() == {"message": "Page is out of range."}
    found = client.get(f"{emu.url}/api/queries", params={"q": "date range"}).json()
    assert [q["id"] for q in found["results"]] == [4]


# ---------------------------------------------------------------------- faults


def test_fault_null_result_id_race(emu: RedashEmulator, client: requests.Session) -> None:
    emu.faults.null_result_id_polls = 2
    job_id = adhoc(client, emu, "SELECT 1 AS one").json()["job"]["id"]
    emu.wait_idle()
    polls = [client.get(f"{emu.url}/api/jobs/{job_id}").json()["job"] for _ in range(3)]
    assert [(p["status"], p["query_result_id"]) for p in polls[:2]] == [(3, None), (3, None)]
    assert polls[2]["status"] == 3 and polls[2]["query_result_id"] == polls[2]["result"] is not None


def test_fault_html_pages(emu: RedashEmulator, client: requests.Session) -> None:
    emu.faults.html_502 = 2
    for _ in range(2):
        r = client.get(f"{emu.url}/api/data_sources")
        assert r.status_code == 502 and r.headers["Content-Type"].startswith("text/html")
    assert client.get(f"{emu.url}/api/data_sources").status_code == 200
    emu.faults.html_200 = 1
    emu.faults.match_path = r"^/api/jobs/"
    emu.faults.match_method = "GET"
    job_id = adhoc(client, emu, "SELECT 1").json()["job"]["id"]  # not matched: normal answer
    r = client.get(f"{emu.url}/api/jobs/{job_id}")
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert client.get(f"{emu.url}/api/jobs/{job_id}").headers["Content-Type"] == "application/json"


def test_fault_resets_and_slow_answers(emu: RedashEmulator, client: requests.Session) -> None:
    emu.faults.resets = 1
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{emu.url}/api/data_sources", headers=client.headers)
    assert emu.requests[-1].status == 0
    assert client.get(f"{emu.url}/api/data_sources").status_code == 200
    emu.faults.slow = 1
    emu.faults.slow_seconds = 2.0
    with pytest.raises(requests.ReadTimeout):  # the answer cannot come before 2 s
        client.get(f"{emu.url}/api/data_sources", timeout=(5, 0.05))
    assert client.get(f"{emu.url}/api/data_sources", timeout=10).status_code == 200


def test_fault_slow_answer_still_arrives(emu: RedashEmulator, client: requests.Session) -> None:
    emu.faults.slow = 1
    emu.faults.slow_seconds = 0.05
    r = client.get(f"{emu.url}/api/data_sources", timeout=30)
    assert r.status_code == 200 and r.json()[0]["id"] == 1


def test_fault_job_lost_and_empty_error(emu: RedashEmulator, client: requests.Session) -> None:
    emu.faults.job_lost_polls = 1
    job_id = adhoc(client, emu, "SELECT 5 AS five").json()["job"]["id"]
    lost = client.get(f"{emu.url}/api/jobs/{job_id}")
    assert lost.status_code == 500 and lost.json() == INTERNAL
    assert wait_job(client, emu, job_id)["status"] == 3

    emu.faults.empty_error_jobs = 1
    emu.job_duration = 0.2
    job_id = adhoc(client, emu, "SELECT 6 AS six").json()["job"]["id"]
    failed = wait_job(client, emu, job_id)
    assert failed["status"] == 4 and failed["error"] == ""
    assert emu.wait_idle(timeout=DEADLINE)
    # The query completed anyway: its result is in the cache.
    hit = adhoc(client, emu, "SELECT 6 AS six", max_age=-1).json()
    assert hit["query_result"]["data"]["rows"] == [{"six": 6}]


def test_fault_hold_queue_keeps_status_one(emu: RedashEmulator, client: requests.Session) -> None:
    emu.faults.hold_queue = True
    job_id = adhoc(client, emu, "SELECT 8").json()["job"]["id"]
    for _ in range(3):
        assert client.get(f"{emu.url}/api/jobs/{job_id}").json()["job"]["status"] == 1
    emu.faults.clear()
    assert wait_job(client, emu, job_id)["status"] == 3


# ---------------------------------------------------------------------- observability, clients


def test_request_log(emu: RedashEmulator, client: requests.Session) -> None:
    adhoc(client, emu, "SELECT 1 AS logged")
    requests.get(f"{emu.url}/api/data_sources", params={"api_key": emu.api_key})
    posted = next(r for r in emu.requests if r.method == "POST")
    assert posted.path == "/api/query_results" and posted.json["query"] == "SELECT 1 AS logged"
    assert posted.headers["Authorization"] == f"Key {emu.api_key}" and "api_key" not in posted.query
    assert posted.status == 200 and posted.time > 0
    assert [r.params for r in emu.requests if r.params] == [{"api_key": [emu.api_key]}]
    emu.clear_requests()
    assert emu.requests == []


def test_redash_toolbelt_client(emu: RedashEmulator) -> None:
    redash = Redash(emu.url, emu.api_key)
    sources = redash.get_data_sources()
    assert [d["name"] for d in sources] == ["Treeherder"]
    assert redash.get_data_source(1)["type"] == "pg"
    query = redash.get_query(2)
    assert query["options"]["parameters"][0]["name"] == "push_id"
    everything = redash.paginate(redash.queries, page_size=3)
    assert sorted(q["id"] for q in everything) == list(range(1, 9))
    assert not Redash(emu.url, "wrong").test_credentials()


def test_plugin_fixture_serves_the_configured_database(redash_emulator: RedashEmulator) -> None:
    s = session(redash_emulator.api_key)
    assert run(s, redash_emulator, "SELECT count(*) AS n FROM job")["data"]["rows"] == [{"n": 3}]


def test_plugin_entry_point_is_registered(pytestconfig: pytest.Config) -> None:
    names = {ep.name for ep in importlib.metadata.entry_points(group="pytest11")}
    if "thsources" not in names:
        pytest.skip("thsources is not installed with its entry points")
    assert pytestconfig.pluginmanager.has_plugin("thsources")


def test_import_is_light_and_lifecycle_is_idempotent(db_path: Path) -> None:
    code = (
        "import sys, thsources.testing, thsources.testing.pytest_plugin\n"
        "assert 'thsources.testing.redash' not in sys.modules\n"
        "assert thsources.testing.RedashEmulator.__name__ == 'RedashEmulator'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    emu = RedashEmulator(db_path, port=0)
    with pytest.raises(RuntimeError):
        _ = emu.url
    emu.start()
    try:
        assert emu.url.startswith("http://127.0.0.1:") and emu.running
        assert emu.start() is emu
    finally:
        emu.stop()
        emu.stop()
    assert not emu.running


def test_repeated_column_names_are_numbered_per_name_like_redash(
    emu: RedashEmulator, client: requests.Session
) -> None:
    # BaseQueryRunner.fetch_columns since Redash 23.09: one counter per name, taken names skipped.
    result = run(client, emu, "SELECT 1 AS a, 2 AS b, 3 AS a, 4 AS b, 5 AS a1, 6 AS a")
    names = [c["name"] for c in result["data"]["columns"]]
    assert names == ["a", "b", "a1", "b1", "a11", "a2"]
    assert result["data"]["rows"] == [{"a": 1, "b": 2, "a1": 3, "b1": 4, "a11": 5, "a2": 6}]
