"""Named queries' JX variants give, on the ActiveData emulator, the records the SQL variants
give on the local sample."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import thsources
from thsources.catalog import get
from thsources.sources.activedata import ActiveDataSource
from thsources.testing import ActiveDataEmulator


@pytest.fixture(scope="module")
def sources() -> Iterator[tuple[Any, Any, ActiveDataEmulator]]:
    with ActiveDataEmulator() as emu, thsources.connect("local") as local:
        yield ActiveDataSource(url=emu.url), local, emu


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("jobs-for-push", {"push_id": 1650001}),
        ("pushes", {}),
        ("pushes", {"repository": "try", "days": 30, "max_tier": 3}),
        ("pushes", {"until": "2026-10-15T00:00:00", "days": 3}),
        ("failure-rate-by-platform", {}),
        ("failure-rate-by-platform", {"repository": "mozilla-central", "min_jobs": 10}),
    ],
)
def test_jx_variant_matches_sql_on_local(
    sources: tuple[Any, Any, ActiveDataEmulator], name: str, params: dict[str, Any]
) -> None:
    remote, local, _ = sources
    on_activedata = thsources.run(name, params, source=remote)
    on_local = thsources.run(name, params, source=local)
    assert len(on_local) > 0
    assert on_activedata.columns == on_local.columns
    assert on_activedata.records() == on_local.records()


def test_the_variant_is_jx_sent_to_query(sources: tuple[Any, Any, ActiveDataEmulator]) -> None:
    remote, _, emu = sources
    emu.clear_requests()
    thsources.run("pushes", {"days": 1}, source=remote)
    first, second = emu.requests
    assert first.path == second.path == "/query"
    assert first.json["from"] == "repo"  # the default of `until`: the latest push
    assert second.json["from"] == "treeherder"
    assert second.json["format"] == "table"


def test_the_three_queries_have_a_jx_variant() -> None:
    for name in ("pushes", "jobs-for-push", "failure-rate-by-platform"):
        assert get(name).variant_for("jx")[0] == "activedata"
