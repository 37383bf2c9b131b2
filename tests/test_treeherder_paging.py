"""Property tests of the paging rules against a model of each Treeherder endpoint.

The push model keeps what makes paging hard on the real server: timestamps tie, ties come back
in a different order on every request, ids are not in time order, and ``count`` is capped.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thsources.errors import ProtocolError
from thsources.sources.treeherder_paging import follow_next, pushes_backwards

SETTINGS = settings(derandomize=True, deadline=None, max_examples=150)


class PushModel:
    def __init__(self, stamps: list[int], seed: int) -> None:
        ids = list(range(1, len(stamps) + 1))
        rng = random.Random(seed)
        rng.shuffle(ids)  # ids are not in time order
        self.pushes = [{"id": i, "push_timestamp": t} for i, t in zip(ids, stamps, strict=True)]
        self.rng = rng
        self.counts: list[int] = []

    def __call__(self, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        count = int(params["count"])
        self.counts.append(count)
        assert 1 <= count <= 1000
        rows = list(self.pushes)
        if "push_timestamp__lte" in params:
            rows = [p for p in rows if p["push_timestamp"] <= float(params["push_timestamp__lte"])]
        self.rng.shuffle(rows)
        rows.sort(key=lambda p: -p["push_timestamp"])
        return {"results": rows[:count]}


@st.composite
def tie_heavy_stamps(draw: st.DrawFn) -> list[int]:
    groups = draw(st.lists(st.integers(1, 6), min_size=0, max_size=60))
    stamps: list[int] = []
    for k, size in enumerate(groups):
        stamps += [10_000 - k] * size
    return stamps


@SETTINGS
@given(
    stamps=tie_heavy_stamps(),
    page=st.integers(7, 40),
    count=st.one_of(st.none(), st.integers(1, 400)),
    seed=st.integers(0, 2**16),
)
def test_pushes_neither_skip_nor_repeat(
    stamps: list[int], page: int, count: int | None, seed: int
) -> None:
    model = PushModel(stamps, seed)
    got = list(pushes_backwards(model, "/push/", {}, count, page_size=page))
    ids = [p["id"] for p in got]
    assert len(ids) == len(set(ids))
    want = len(stamps) if count is None else min(count, len(stamps))
    assert len(ids) == want
    # The newest `want` pushes, whole ties included except possibly the last one reached.
    newest = sorted(model.pushes, key=lambda p: -p["push_timestamp"])
    if want:
        cut = newest[want - 1]["push_timestamp"]
        assert {p["id"] for p in newest if p["push_timestamp"] > cut} <= set(ids)
        assert all(p["push_timestamp"] >= cut for p in got)
    assert [p["push_timestamp"] for p in got] == sorted(
        (p["push_timestamp"] for p in got), reverse=True
    )
    assert all(c <= page for c in model.counts)


def test_a_tie_larger_than_a_page_is_reported_not_looped_on() -> None:
    model = PushModel([5] * 30, seed=1)
    with pytest.raises(ProtocolError, match="10 or more pushes share the timestamp"):
        list(pushes_backwards(model, "/push/", {}, None, page_size=10))


@SETTINGS
@given(total=st.integers(0, 120), size=st.integers(1, 25))
def test_follow_next_reads_every_page_once(total: int, size: int) -> None:
    rows = list(range(total))
    calls: list[dict[str, Any]] = []

    def fetch(path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        calls.append(dict(params))
        page = int(params.get("page", 1))
        chunk = rows[(page - 1) * size : page * size]
        more = page * size < total
        nxt = f"http://elsewhere/api/jobs/?push_id=1&page={page + 1}" if more else None
        return {"results": chunk, "next": nxt}

    pages = list(follow_next(fetch, "/api/jobs/", {"push_id": 1}))
    assert [r for p in pages for r in p["results"]] == rows
    assert len(calls) == max(1, -(-total // size))
