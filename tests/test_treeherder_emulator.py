"""The ``treeherder`` source against the Treeherder emulator (real HTTP on 127.0.0.1).

Expected records are read straight from the sample's DuckDB file with SQL, so each test
compares what went through the REST paging, zipping and unit conversion with the tables.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests

from thsources.errors import NotFound, ParameterError, SourceUnavailable
from thsources.local.loader import ensure_sample_db
from thsources.sources.treeherder import TreeherderSource
from thsources.testing import TreeherderEmulator

NOW = dt.datetime(2026, 11, 1)  # the emulator's clock for running jobs' durations


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
    with TreeherderEmulator(sample, now=NOW) as emu:
        yield emu


@pytest.fixture(scope="module")
def tied(sample: Path) -> Iterator[TreeherderEmulator]:
    """Push timestamps rounded to the day: about five pushes share each timestamp."""
    with TreeherderEmulator(sample, push_time_granularity=86400, now=NOW) as emu:
        yield emu


def _src(emu: TreeherderEmulator, **options: Any) -> TreeherderSource:
    return TreeherderSource(url=emu.url, pace=float("inf"), **options)


def _ua() -> dict[str, str]:
    return {"User-Agent": "thsources-tests/1"}


# ---------------------------------------------------------------------------- emulator rules


@pytest.mark.parametrize(
    "agent", ["python-requests/2.32.5", "Python-urllib/3.11", "libcurl/8.0", "Go-http-client/1.1"]
)
def test_default_scripting_user_agents_get_403(emulator: TreeherderEmulator, agent: str) -> None:
    answer = requests.get(f"{emulator.url}/api/repository/", headers={"User-Agent": agent})
    assert answer.status_code == 403


def test_an_unknown_version_gets_406(emulator: TreeherderEmulator) -> None:
    headers = {**_ua(), "Accept": "application/json; version=2.0"}
    answer = requests.get(f"{emulator.url}/api/repository/", headers=headers)
    assert answer.status_code == 406
    for version in ("1.0", "1.1"):
        headers["Accept"] = f"application/json; version={version}"
        assert requests.get(f"{emulator.url}/api/repository/", headers=headers).ok


def test_push_count_above_1000_is_400(emulator: TreeherderEmulator) -> None:
    url = f"{emulator.url}/api/project/autoland/push/"
    answer = requests.get(url, params={"count": 1001}, headers=_ua())
    assert answer.status_code == 400
    assert answer.json() == {"detail": "Specified count exceeds api limit: 1000"}
    assert len(requests.get(url, params={"count": 1000}, headers=_ua()).json()["results"]) == 640
    assert len(requests.get(url, headers=_ua()).json()["results"]) == 10


def test_jobs_page_size_is_clamped_to_2000(emulator: TreeherderEmulator, db: Any) -> None:
    url = f"{emulator.url}/api/jobs/"
    body = requests.get(url, params={"tier": 1, "count": 5000}, headers=_ua()).json()
    assert len(body["results"]) == 2000
    assert body["next"].endswith("page=2")
    total = db.execute("SELECT count(*) FROM job WHERE tier = 1").fetchone()[0]
    assert body["count"] == total


def test_alert_summary_limit_is_clamped_to_100_and_alerts_page_by_10(
    emulator: TreeherderEmulator,
) -> None:
    url = f"{emulator.url}/api/performance/alertsummary/"
    body = requests.get(url, params={"limit": 500}, headers=_ua()).json()
    assert len(body["results"]) == body["count"] == 55  # all of them, under the clamp
    assert len(requests.get(url, params={"limit": 20}, headers=_ua()).json()["results"]) == 20
    alerts = requests.get(f"{emulator.url}/api/performance/alert/", headers=_ua()).json()
    assert len(alerts["results"]) == 10 and "cursor=" in alerts["next"]


def test_every_request_from_the_source_carries_the_headers(emulator: TreeherderEmulator) -> None:
    emulator.clear_requests()
    src = _src(emulator)
    src.repositories()
    src.pushes("autoland", count=3)
    for request in emulator.requests:
        assert request.headers["User-Agent"].startswith("thsources/")
        assert request.headers["Accept"] == "application/json; version=1.0"
        assert request.status == 200


# ---------------------------------------------------------------------------- pushes


def test_all_pushes_across_pages_with_tied_timestamps(
    tied: TreeherderEmulator, db: duckdb.DuckDBPyConnection
) -> None:
    expected = [
        row[0]
        for row in db.execute(
            "SELECT p.id FROM push p JOIN repository r ON r.id = p.repository_id "
            "WHERE r.name = 'autoland' ORDER BY p.time DESC"
        ).fetchall()
    ]
    tied.clear_requests()
    got = _src(tied, page_sizes={"push": 37}).pushes("autoland", count=None)
    ids = got.column("push_id")
    assert len(ids) == len(set(ids)) == len(expected) == 640
    assert set(ids) == set(expected)
    days = [t.date() for t in got.column("push_time")]
    assert days == sorted(days, reverse=True)
    counts = [int(r.params["count"][0]) for r in tied.requests]
    assert max(counts) == 37 and len(counts) > 640 // 37


def test_pushes_count_and_records(emulator: TreeherderEmulator, db: Any) -> None:
    got = _src(emulator, page_sizes={"push": 100}).pushes("mozilla-central", count=150)
    expected = db.execute(
        "SELECT p.id, p.revision, p.author, p.time FROM push p "
        "WHERE p.repository_id = 1 ORDER BY p.time DESC LIMIT 150"
    ).fetchall()
    assert [
        (r["push_id"], r["revision"], r["author"], r["push_time"].replace(tzinfo=None)) for r in got
    ] == expected


def test_pushes_by_revision_prefix_and_time_window(emulator: TreeherderEmulator, db: Any) -> None:
    pid, rev, when = db.execute(
        "SELECT id, revision, time FROM push WHERE repository_id = 77 ORDER BY time LIMIT 1 "
        "OFFSET 100"
    ).fetchone()
    src = _src(emulator)
    assert src.pushes("autoland", revision=rev[:12]).column("push_id") == [pid]
    window = src.pushes("autoland", count=None, since=when, until=when)
    assert window.column("push_id") == [pid]


# ---------------------------------------------------------------------------- jobs


def _expected_jobs(db: Any, push_ids: list[int]) -> list[tuple[Any, ...]]:
    """Treeherder's duration: whole minutes (Python's round), at least 1, from the start
    (or the submit time when the job never started) to the end."""
    marks = ",".join("?" * len(push_ids))
    rows = db.execute(
        "SELECT j.id, j.push_id, tm.task_id, jt.name, j.result, j.state, "
        "CASE WHEN j.state = 'completed' THEN greatest(60, "
        "epoch(j.end_time) - epoch(CASE WHEN j.start_time > TIMESTAMP '1970-01-02' "
        "THEN j.start_time ELSE j.submit_time END)) END "
        "FROM job j LEFT JOIN taskcluster_metadata tm ON tm.job_id = j.id "
        "JOIN job_type jt ON jt.id = j.job_type_id "
        f"WHERE j.push_id IN ({marks}) ORDER BY j.id",
        push_ids,
    ).fetchall()
    return [(*r[:6], None if r[6] is None else 60.0 * round(r[6] / 60)) for r in rows]


def test_jobs_of_many_pushes_across_pages(emulator: TreeherderEmulator, db: Any) -> None:
    push_ids = [
        r[0]
        for r in db.execute(
            "SELECT id FROM push WHERE repository_id = 77 ORDER BY time DESC LIMIT 12"
        ).fetchall()
    ]
    emulator.clear_requests()
    got = _src(emulator, page_sizes={"jobs": 97}).jobs(push_ids=push_ids)
    expected = _expected_jobs(db, push_ids)
    assert len(expected) > 3 * 97
    assert [
        (
            r["job_id"],
            r["push_id"],
            r["task_id"],
            r["label"],
            r["result"],
            r["state"],
            r["duration_s"],
        )
        for r in got
    ] == expected
    pages = [r for r in emulator.requests if r.path == "/api/jobs/"]
    assert len(pages) == -(-len(expected) // 97)
    assert got.meta.extra["pages"] == len(pages)


def test_jobs_limit_and_filters(emulator: TreeherderEmulator, db: Any) -> None:
    src = _src(emulator, page_sizes={"jobs": 50})
    got = src.jobs(result="testfailed", tier__lt=3, limit=120)
    assert len(got) == 120
    expected = db.execute(
        "SELECT id FROM job WHERE result = 'testfailed' AND tier < 3 ORDER BY id LIMIT 120"
    ).fetchall()
    assert got.column("job_id") == [r[0] for r in expected]


# ---------------------------------------------------------------------------- errors


def test_unknown_repository(emulator: TreeherderEmulator) -> None:
    with pytest.raises(NotFound, match="No project with name nope"):
        _src(emulator).pushes("nope")
    with pytest.raises(NotFound, match="no repository named 'nope'"):
        _src(emulator).alert_summaries(repository="nope")


def test_bad_filter_value(emulator: TreeherderEmulator) -> None:
    with pytest.raises(ParameterError, match="push_id__in: Enter a whole number"):
        _src(emulator).jobs(push_id__in="1,x")
    with pytest.raises(ParameterError, match="startday must be a date"):
        _src(emulator).failures("yesterday", "2026-10-01")


def test_server_error_after_retries(emulator: TreeherderEmulator) -> None:
    emulator.faults.statuses = [500] * 3
    sleeps: list[float] = []
    try:
        with pytest.raises(SourceUnavailable, match="HTTP 500 from .*/api/repository/"):
            _src(emulator, retries=3, sleep=sleeps.append).repositories()
    finally:
        emulator.faults.statuses = []
    assert len(sleeps) == 2


def test_a_503_with_retry_after_then_success(emulator: TreeherderEmulator) -> None:
    emulator.faults.statuses = [503]
    emulator.faults.retry_after = 3
    sleeps: list[float] = []
    try:
        assert len(_src(emulator, sleep=sleeps.append).repositories()) == 5
    finally:
        emulator.faults.retry_after = None
    assert sleeps and sleeps[0] >= 3


def test_a_dropped_connection_is_retried(emulator: TreeherderEmulator) -> None:
    emulator.faults.resets = 1
    sleeps: list[float] = []
    assert len(_src(emulator, sleep=sleeps.append).repositories()) == 5
    assert len(sleeps) == 1


def test_a_wrong_base_url_is_not_found(emulator: TreeherderEmulator) -> None:
    with pytest.raises(NotFound, match="HTTP 404 from .*/nothing/api/repository/"):
        TreeherderSource(url=emulator.url + "/nothing", pace=float("inf")).repositories()


def test_basic_config_logging_names_the_failing_url_and_status(
    emulator: TreeherderEmulator,
) -> None:
    script = textwrap.dedent(
        f"""
        import logging, thsources
        logging.basicConfig()
        src = thsources.connect("treeherder", url={emulator.url!r})
        try:
            src.pushes("nope")
        except thsources.NotFound:
            pass
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert run.stderr.splitlines() == [
        f"ERROR:thsources.treeherder:Treeherder API error: HTTP 404 from {emulator.url}"
        "/api/project/nope/push/?count=10: No project with name nope; `src.repositories()` "
        "lists the repositories"
    ]


# ---------------------------------------------------------------------------- failures, perf


def test_failures_match_the_tables(emulator: TreeherderEmulator, db: Any) -> None:
    got = _src(emulator).failures("2026-10-01", "2026-10-31", "autoland")
    expected = db.execute(
        "SELECT b.bugzilla_id, count(*) FROM bug_job_map m JOIN bugscache b ON b.id = m.bug_id "
        "JOIN job j ON j.id = m.job_id JOIN push p ON p.id = j.push_id "
        "WHERE j.repository_id = 77 AND p.time >= DATE '2026-10-01' "
        "AND p.time < DATE '2026-11-01' AND b.bugzilla_id IS NOT NULL "
        "GROUP BY 1 ORDER BY 2 DESC, 1"
    ).fetchall()
    assert got.rows() == expected


def test_failure_count_and_failures_by_bug(emulator: TreeherderEmulator) -> None:
    src = _src(emulator)
    top = src.failures("2026-10-01", "2026-10-31").records()[0]
    rows = src.failures_by_bug(top["bug_id"], "2026-10-01", "2026-10-31")
    assert len(rows) == top["bug_count"]
    per_day = src.failure_count("2026-10-01", "2026-10-31", bug=top["bug_id"])
    assert len(per_day) == 31
    assert sum(per_day.column("failure_count")) == top["bug_count"]


def test_performance_series_and_signatures(emulator: TreeherderEmulator, db: Any) -> None:
    src = _src(emulator)
    sigs = src.performance_signatures("autoland", framework="browsertime")
    assert (
        len(sigs)
        == db.execute(
            "SELECT count(*) FROM performance_signature "
            "WHERE repository_id = 77 AND framework_id = 13"
        ).fetchone()[0]
    )
    sig_id = sigs.column("signature_id")[0]
    data = src.performance_data("autoland", signature_ids=sig_id)
    expected = db.execute(
        "SELECT id, push_id, round(value, 2) FROM performance_datum "
        "WHERE signature_id = ? AND repository_id = 77 ORDER BY push_timestamp, id",
        [sig_id],
    ).fetchall()
    assert [(r["datum_id"], r["push_id"], r["value"]) for r in data] == expected


def test_alert_summaries_page_and_limit(emulator: TreeherderEmulator, db: Any) -> None:
    emulator.clear_requests()
    src = _src(emulator, page_sizes={"alertsummary": 8})
    every = src.alert_summaries()
    expected = db.execute(
        "SELECT id FROM performance_alert_summary ORDER BY created DESC, id DESC"
    ).fetchall()
    assert every.column("summary_id") == [r[0] for r in expected]
    assert len(emulator.requests) == -(-len(expected) // 8)
    assert len(src.alert_summaries(limit=11)) == 11


def test_alerts_follow_the_cursor(emulator: TreeherderEmulator, db: Any) -> None:
    got = _src(emulator).alerts()
    expected = db.execute("SELECT id FROM performance_alert ORDER BY id DESC").fetchall()
    assert got.column("alert_id") == [r[0] for r in expected]
    assert len(_src(emulator).alerts(limit=13)) == 13


def test_the_deprecated_jobs_endpoint_has_no_stable_order(
    emulator: TreeherderEmulator, db: Any
) -> None:
    """Why thsources never offset-pages it: pages of an unordered query overlap and skip."""
    push_id = db.execute(
        "SELECT push_id FROM job WHERE repository_id = 77 GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()[0]
    expected = {
        r[0] for r in db.execute("SELECT id FROM job WHERE push_id = ?", [push_id]).fetchall()
    }
    url = f"{emulator.url}/api/project/autoland/jobs/"
    seen: list[int] = []
    for offset in range(0, len(expected), 10):
        page = requests.get(
            url, params={"push_id": push_id, "count": 10, "offset": offset}, headers=_ua()
        ).json()["results"]
        seen += [j["id"] for j in page]
    assert len(seen) == len(expected)
    assert set(seen) != expected  # some jobs twice, others never


def test_a_call_has_one_deadline(emulator: TreeherderEmulator) -> None:
    from thsources.errors import QueryTimeout

    with pytest.raises(QueryTimeout):
        _src(emulator).jobs(push_id=1, timeout=0)


def test_serve_treeherder_from_the_shell(sample: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "thsources", "serve", "treeherder", "--database", str(sample)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("Treeherder emulator listening on http://127.0.0.1:")
        url = line.split()[-1]
        answer = requests.get(f"{url}/api/repository/", headers=_ua(), timeout=10)
        assert [r["name"] for r in answer.json()] == [
            "mozilla-central",
            "try",
            "mozilla-beta",
            "mozilla-release",
            "autoland",
        ]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
