"""Named queries through the REST API (emulator) give the records their SQL gives on ``local``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

import thsources
from thsources.agreement import ask, compare
from thsources.catalog import Precision, get
from thsources.errors import UnsupportedQuery
from thsources.sources.base import Source
from thsources.sources.treeherder import TreeherderSource
from thsources.testing import TreeherderEmulator


@pytest.fixture(scope="module")
def local() -> Iterator[Source]:
    with thsources.connect("local") as src:
        yield src


@pytest.fixture(scope="module")
def rest() -> Iterator[TreeherderSource]:
    with TreeherderEmulator() as emu:
        yield TreeherderSource(url=emu.url, pace=float("inf"))


def _both(
    name: str, params: dict[str, Any], local: Source, rest: TreeherderSource
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    on_rest = thsources.run(name, params, source=rest)
    on_local = thsources.run(name, params, source=local)
    assert on_rest.columns == on_local.columns
    return on_rest.records(), on_local.records()


def test_pushes(local: Source, rest: TreeherderSource) -> None:
    got, expected = _both("pushes", {"repository": "autoland", "days": 3}, local, rest)
    assert len(expected) > 5
    assert got == expected


def test_pushes_with_until_and_tier(local: Source, rest: TreeherderSource) -> None:
    params = {
        "repository": "mozilla-central",
        "days": 10,
        "until": dt.datetime(2026, 9, 15),
        "max_tier": 3,
    }
    got, expected = _both("pushes", params, local, rest)
    assert expected and got == expected


def test_jobs_for_push(local: Source, rest: TreeherderSource) -> None:
    newest = thsources.run("pushes", {"repository": "autoland", "days": 1}, source=local)
    push_id = newest.column("push_id")[-1]
    got, expected = _both("jobs-for-push", {"push_id": push_id}, local, rest)
    assert len(expected) > 10
    assert got == expected


def test_perf_series(local: Source, rest: TreeherderSource) -> None:
    alerts = thsources.run("perf-alerts", {}, source=local)
    sig = alerts.column("signature_hash")[0]
    params = {"signature_hash": sig}
    on_rest, on_local = ask("perf-series", rest, params), ask("perf-series", local, params)
    assert on_local.result is not None and len(on_local.result) > 20
    # Treeherder's data endpoint rounds values to 2 decimals: query.toml declares it, and
    # the comparison forgives that and nothing else.
    assert get("perf-series").precision["value"] == {"treeherder": Precision(decimals=2)}
    comparison = compare(get("perf-series"), params, on_local, on_rest)
    assert comparison.agrees, comparison.diff
    assert on_rest.result is not None
    assert on_rest.result.column("value") == [round(v, 2) for v in on_local.result.column("value")]


def test_perf_alerts(local: Source, rest: TreeherderSource) -> None:
    got, expected = _both("perf-alerts", {"days": 60}, local, rest)
    assert len(expected) > 5
    assert got == expected


def test_a_query_without_a_rest_variant_says_so(rest: TreeherderSource) -> None:
    with pytest.raises(UnsupportedQuery, match="no variant for the rest dialect"):
        thsources.run("intermittent-bugs", {}, source=rest)
