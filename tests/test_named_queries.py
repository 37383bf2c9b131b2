"""The six named queries: declared columns, real findings on the sample, same records on
every source (local DuckDB, the Redash emulator, and a real PostgreSQL when available)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

import thsources
from thsources.catalog import get, list_queries
from thsources.result import Result
from thsources.sources.base import Source
from thsources.testing import RedashEmulator

SHIPPED = [
    "pushes",
    "jobs-for-push",
    "failure-rate-by-platform",
    "intermittent-bugs",
    "perf-series",
    "perf-alerts",
]


@pytest.fixture(scope="module")
def local() -> Iterator[Source]:
    with thsources.connect("local") as src:
        yield src


@pytest.fixture(scope="module")
def params(local: Source) -> dict[str, dict[str, Any]]:
    """Parameters that make every query return rows on the sample."""
    push = local.query(
        "SELECT p.id FROM push p JOIN repository r ON r.id = p.repository_id "
        "WHERE r.name = 'autoland' AND EXISTS (SELECT 1 FROM job j WHERE j.push_id = p.id "
        "AND j.state = 'completed') ORDER BY p.time DESC LIMIT 1"
    ).records()[0]["id"]
    alert = thsources.run("perf-alerts", source=local).records()[0]
    return {
        "pushes": {},
        "jobs-for-push": {"push_id": push},
        "failure-rate-by-platform": {},
        "intermittent-bugs": {},
        "perf-series": {"signature_hash": alert["signature_hash"]},
        "perf-alerts": {},
    }


def test_all_shipped_queries_are_tested() -> None:
    assert {q.name for q in list_queries()} >= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_query_returns_rows_of_its_declared_columns(
    name: str, local: Source, params: dict[str, dict[str, Any]]
) -> None:
    res = thsources.run(name, params=params[name], source=local)
    declared = get(name).columns
    assert res.columns[: len(declared)] == list(declared)
    assert len(res) > 0
    assert res.meta.source == "local"


def test_same_call_gives_same_rows(local: Source) -> None:
    first = thsources.run("pushes", source=local).records()
    assert thsources.run("pushes", source=local).records() == first


def test_pushes_counts_add_up_and_order_is_newest_first(local: Source) -> None:
    rows = thsources.run("pushes", params={"days": 30}, source=local).records()
    times = [r["push_time"] for r in rows]
    assert times == sorted(times, reverse=True)
    assert all(r["push_time"].tzinfo is dt.UTC for r in rows)
    for r in rows:
        assert r["succeeded"] + r["failed"] + r["exceptions"] + r["retried"] <= r["jobs"]


def test_until_and_days_bound_the_window(local: Source) -> None:
    until = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    rows = thsources.run("pushes", params={"until": until, "days": 2}, source=local).records()
    assert rows
    assert all(until - dt.timedelta(days=2) < r["push_time"] <= until for r in rows)


def test_jobs_for_push_maps_epoch_zero_to_null_and_has_durations(local: Source) -> None:
    running = local.query(
        "SELECT push_id FROM job WHERE end_time < TIMESTAMP '1970-01-02' LIMIT 1"
    ).records()
    assert running, "the sample has unfinished jobs"
    rows = thsources.run(
        "jobs-for-push", params={"push_id": running[0]["push_id"]}, source=local
    ).records()
    unfinished = [r for r in rows if r["state"] != "completed"]
    assert unfinished and all(r["end_time"] is None for r in unfinished)
    assert all(r["duration_s"] is None for r in unfinished)
    finished = [r for r in rows if r["state"] == "completed"]
    for r in finished:
        assert r["duration_s"] == (r["end_time"] - r["start_time"]).total_seconds()
        assert r["task_id"] and len(r["task_id"]) == 22


def test_failure_rate_is_failed_over_jobs(local: Source) -> None:
    rows = thsources.run("failure-rate-by-platform", source=local).records()
    assert len({r["platform"] for r in rows}) >= 3
    for r in rows:
        assert r["jobs"] >= 50
        assert r["failure_rate"] == r["failed"] / r["jobs"]
        assert r["intermittent_rate"] == r["intermittent"] / r["jobs"]
    rates = [r["failure_rate"] for r in rows]
    assert rates == sorted(rates, reverse=True)


def test_intermittent_bugs_use_the_bugzilla_number_not_the_internal_id(local: Source) -> None:
    rows = thsources.run("intermittent-bugs", source=local).records()
    assert rows[0]["failures"] >= rows[-1]["failures"]
    assert any(r["bugzilla_id"] is not None and r["bugzilla_id"] != r["bug_id"] for r in rows)
    assert all(r["pushes"] <= r["failures"] for r in rows)


def test_perf_alerts_sit_on_a_step_in_their_series(local: Source) -> None:
    alerts = thsources.run("perf-alerts", source=local).records()
    alert = max(alerts, key=lambda a: abs(a["amount_pct"]))
    series = thsources.run(
        "perf-series", params={"signature_hash": alert["signature_hash"]}, source=local
    ).records()
    revisions = [r["revision"] for r in series]
    at = revisions.index(alert["revision"])
    before = [r["value"] for r in series[max(0, at - 12) : at]]
    after = [r["value"] for r in series[at : at + 12]]
    mean_before, mean_after = sum(before) / len(before), sum(after) / len(after)
    assert (mean_after > mean_before) == (alert["new_value"] > alert["prev_value"])
    change = abs(mean_after - mean_before) / mean_before * 100
    assert change > abs(alert["amount_pct"]) / 2


def test_unknown_repository_gives_no_rows_not_an_error(local: Source) -> None:
    assert len(thsources.run("pushes", params={"repository": "nope"}, source=local)) == 0


def test_a_value_with_quotes_is_one_literal(local: Source) -> None:
    res = thsources.run("pushes", params={"repository": "x' OR '1'='1"}, source=local)
    assert len(res) == 0


# -- the same records from the Redash emulator --------------------------------------------


@pytest.fixture(scope="module")
def redash() -> Iterator[Source]:
    with (
        RedashEmulator(workers=2) as emu,
        thsources.connect(
            "redash", url=emu.url, api_key=emu.api_key, data_source="Treeherder"
        ) as src,
    ):
        yield src


def _records(res: Result) -> list[dict[str, Any]]:
    return res.records()


@pytest.mark.parametrize("name", SHIPPED)
def test_redash_gives_the_same_records_as_local(
    name: str, local: Source, redash: Source, params: dict[str, dict[str, Any]]
) -> None:
    on_local = thsources.run(name, params=params[name], source=local)
    on_redash = thsources.run(name, params=params[name], source=redash)
    assert on_redash.columns == on_local.columns
    assert _records(on_redash) == _records(on_local)
    assert on_redash.meta.source == "redash"
    assert on_redash.meta.job_id is not None
