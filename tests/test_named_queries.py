"""The six named queries: declared columns, real findings on the sample, same records on
every source (local DuckDB, the Redash emulator, and a real PostgreSQL when available)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

import thsources
from thsources import JobState, NotFound, ParameterError
from thsources.catalog import get, list_queries
from thsources.result import Result
from thsources.sources.base import Source
from thsources.testing import RedashEmulator

SHIPPED = [
    "pushes",
    "jobs-for-push",
    "failure-rate-by-platform",
    "failure-rate-by-push",
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
        "failure-rate-by-push": {},
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


def test_failure_rate_by_push_is_failed_over_jobs_per_push_and_platform(local: Source) -> None:
    rows = thsources.run("failure-rate-by-push", params={"min_jobs": 20}, source=local).records()
    assert rows and all(r["jobs"] >= 20 for r in rows)
    assert all(r["failure_rate"] == r["failed"] / r["jobs"] for r in rows)
    assert len({(r["push_id"], r["platform"]) for r in rows}) == len(rows)
    # One push's counts are its finished tier-1/2 jobs on that platform, as failure-rate-by-
    # platform counts them over a window.
    first = rows[0]
    direct = local.query(
        "SELECT count(*) AS jobs FROM job j JOIN machine_platform mp "
        "ON mp.id = j.machine_platform_id WHERE j.push_id = :push AND mp.platform = :platform "
        "AND j.state = 'completed' AND j.tier <= 2 "
        "AND j.result NOT IN ('retry', 'usercancel', 'superseded')",
        params={"push": first["push_id"], "platform": first["platform"]},
    ).records()
    assert direct == [{"jobs": first["jobs"]}]


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


def test_a_misspelt_repository_is_not_found_with_close_matches(local: Source) -> None:
    """It used to return 0 rows (exit 0): a typo looked like a quiet week."""
    with pytest.raises(
        NotFound, match=r"no repository 'autolnd' in repository.name \(did you mean 'autoland'\?\)"
    ):
        thsources.run("pushes", params={"repository": "autolnd"}, source=local)
    with pytest.raises(NotFound, match=r"no framework 'browsertme' .*did you mean 'browsertime'"):
        thsources.run("perf-alerts", params={"framework": "browsertme"}, source=local)
    with pytest.raises(NotFound, match=r"no repositories 'mozila-central' .*'mozilla-central'"):
        thsources.run("intermittent-bugs", params={"repositories": "mozila-central"}, source=local)


def test_values_without_close_matches_list_a_short_catalogue_or_nothing(local: Source) -> None:
    with pytest.raises(NotFound, match=r"no framework 'zzz' .*\(known: awsy, browsertime, "):
        thsources.run("perf-alerts", params={"framework": "zzz"}, source=local)
    with pytest.raises(NotFound, match=r"no push_id 999999 in push.id \(on source 'local'\)$"):
        thsources.run("jobs-for-push", params={"push_id": 999999}, source=local)
    with pytest.raises(NotFound, match=r"no signature_hash '0{40}' in performance_signature"):
        thsources.run("perf-series", params={"signature_hash": "0" * 40}, source=local)


def test_an_empty_window_of_a_real_repository_is_an_empty_result(local: Source) -> None:
    res = thsources.run("pushes", params={"until": "2001-01-01"}, source=local)
    assert len(res) == 0 and [c.name for c in res.columns][:2] == ["push_id", "revision"]


def test_the_lookup_runs_only_when_the_result_is_empty(
    local: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []
    real = local.query

    def counting(sql: str, params: Any = None, **options: Any) -> Result:
        sent.append(sql)
        return real(sql, params, **options)

    monkeypatch.setattr(local, "query", counting)
    thsources.run("pushes", source=local)
    assert len(sent) == 1
    thsources.run("pushes", params={"until": "2001-01-01"}, source=local)
    assert len(sent) == 3 and "FROM repository" in sent[2]


def test_a_value_with_quotes_is_refused_by_the_declared_pattern(local: Source) -> None:
    with pytest.raises(ParameterError, match=r"parameter 'repository' must match"):
        thsources.run("pushes", params={"repository": "x' OR '1'='1"}, source=local)


def test_numpy_values_give_the_records_plain_values_give(local: Source) -> None:
    plain = thsources.run("pushes", params={"days": 3, "max_tier": 3}, source=local).records()
    numpyish = thsources.run(
        "pushes", params={"days": np.int64(3), "max_tier": np.uint8(3)}, source=local
    ).records()
    assert plain and numpyish == plain
    series = pd.Series(["autoland", "mozilla-central"])
    bugs = thsources.run("intermittent-bugs", params={"repositories": series}, source=local)
    assert bugs.records() == thsources.run("intermittent-bugs", source=local).records()


def test_queries_lists_the_named_queries() -> None:
    listed = thsources.queries()
    assert [q.name for q in listed] == sorted(SHIPPED)
    pushes = next(q for q in listed if q.name == "pushes")
    assert [p.name for p in pushes.params] == ["repository", "days", "until", "max_tier"]
    assert pushes.columns[0].name == "push_id"


def test_run_passes_progress_to_the_source(local: Source) -> None:
    events: list[Any] = []
    assert len(thsources.run("pushes", source=local, progress=events.append)) > 0
    assert [e.state.value for e in events][-1:] == ["done"]
    assert {e.source for e in events} == {"local"}


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


def test_run_reports_progress_from_redash(redash: Source) -> None:
    events: list[Any] = []
    thsources.run("pushes", source=redash, progress=events.append)
    assert events and events[-1].state is JobState.DONE


def test_a_misspelt_repository_is_not_found_on_redash_too(redash: Source) -> None:
    with pytest.raises(NotFound, match=r"did you mean 'autoland'\?\) \(on source 'redash'\)"):
        thsources.run("pushes", params={"repository": "autolan"}, source=redash)
