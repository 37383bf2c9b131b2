"""The ``treeherder`` source against mocked HTTP: exact requests, paging rules, errors, retries.

Answers are built the way Treeherder builds them (push lists newest first with tied
timestamps in no particular order, compact job lists with ``job_property_names``, DRF and
django-filter error bodies), so each paging rule is pinned on a server that punishes the naive
approach.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Iterator
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

import thsources
from thsources.errors import (
    ConfigError,
    NotFound,
    ParameterError,
    PermissionDenied,
    ProtocolError,
    SourceUnavailable,
    UnsupportedQuery,
)
from thsources.http import user_agent
from thsources.sources.treeherder import TreeherderSource

BASE: Final = "http://th.test"
ACCEPT: Final = "application/json; version=1.0"


def _source(**options: Any) -> TreeherderSource:
    options.setdefault("pace", float("inf"))
    return TreeherderSource(url=BASE, **options)


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def _args(request: requests.PreparedRequest) -> dict[str, str]:
    query = urlsplit(request.url or "").query
    return {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}


class PushServer:
    """Treeherder's push list: newest first, ``count`` <= 1000, ties in arbitrary order."""

    def __init__(self, pushes: list[tuple[int, int]], seed: int = 1) -> None:
        self.pushes = pushes  # (id, timestamp)
        self.rng = random.Random(seed)
        self.calls: list[dict[str, str]] = []

    def __call__(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        args = _args(request)
        self.calls.append(args)
        count = int(args.get("count", "10"))
        if count > 1000:
            detail = {"detail": "Specified count exceeds api limit: 1000"}
            return 400, {"Content-Type": "application/json"}, json.dumps(detail)
        rows = list(self.pushes)
        if "push_timestamp__lte" in args:
            rows = [p for p in rows if p[1] <= float(args["push_timestamp__lte"])]
        if "push_timestamp__gte" in args:
            rows = [p for p in rows if p[1] >= float(args["push_timestamp__gte"])]
        self.rng.shuffle(rows)  # ties come in no particular order
        rows.sort(key=lambda p: -p[1])
        body = {
            "meta": {"count": min(count, len(rows)), "repository": "autoland"},
            "results": [
                {
                    "id": pid,
                    "revision": f"{pid:040x}",
                    "author": "a@b.c",
                    "revisions": [],
                    "revision_count": 1,
                    "push_timestamp": ts,
                    "repository_id": 77,
                }
                for pid, ts in rows[:count]
            ],
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(body)


def _tied_pushes(n: int, per_stamp: int, seed: int = 7) -> list[tuple[int, int]]:
    """``n`` pushes, ``per_stamp`` of them per timestamp, ids shuffled against time order."""
    rng = random.Random(seed)
    ids = list(range(1000, 1000 + n))
    rng.shuffle(ids)
    return [(pid, 1_700_000_000 - (i // per_stamp) * 60) for i, pid in enumerate(ids)]


def _expected_ids(pushes: list[tuple[int, int]]) -> set[int]:
    return {pid for pid, _ in pushes}


# ---------------------------------------------------------------------------- pushes


def test_pushes_page_backwards_without_skipping_or_repeating_tied_pushes(
    mocked: responses.RequestsMock,
) -> None:
    pushes = _tied_pushes(2500, per_stamp=7)
    server = PushServer(pushes)
    mocked.add_callback("GET", f"{BASE}/api/project/autoland/push/", callback=server)
    result = _source().pushes("autoland", count=None)
    ids = result.column("push_id")
    assert len(ids) == len(set(ids)) == 2500
    assert set(ids) == _expected_ids(pushes)
    stamps = [p.timestamp() for p in result.column("push_time")]
    assert stamps == sorted(stamps, reverse=True)
    # Paged by timestamp (no offset exists), every page within the server's limit.
    assert all(int(c["count"]) <= 1000 for c in server.calls)
    assert "push_timestamp__lte" not in server.calls[0]
    assert all("push_timestamp__lte" in c for c in server.calls[1:])
    assert not any("offset" in c or "id__lt" in c for c in server.calls)


def test_pushes_stop_at_the_requested_count_and_ask_for_no_more_than_needed(
    mocked: responses.RequestsMock,
) -> None:
    pushes = _tied_pushes(3000, per_stamp=3)
    server = PushServer(pushes)
    mocked.add_callback("GET", f"{BASE}/api/project/autoland/push/", callback=server)
    result = _source().pushes("autoland", count=1500)
    ids = result.column("push_id")
    assert len(ids) == len(set(ids)) == 1500
    newest = sorted(pushes, key=lambda p: -p[1])
    boundary = newest[1499][1]
    assert {pid for pid, ts in pushes if ts > boundary} <= set(ids)
    assert int(server.calls[0]["count"]) == 1000
    # Second page: the 500 still wanted plus the pushes tied at the boundary, seen already.
    tied = sum(1 for _, ts in newest[:1000] if ts == newest[999][1])
    assert int(server.calls[1]["count"]) == 500 + tied


def test_a_naive_lt_walk_would_lose_tied_pushes(mocked: responses.RequestsMock) -> None:
    """The reason for ``__lte`` + de-duplication: ``__lt`` skips the rest of a tie."""
    pushes = _tied_pushes(30, per_stamp=4)
    server = PushServer(pushes)
    mocked.add_callback("GET", f"{BASE}/api/project/autoland/push/", callback=server)
    src = _source(page_sizes={"push": 6})
    got = src.pushes("autoland", count=None).column("push_id")
    assert sorted(got) == sorted(_expected_ids(pushes))
    # What `__lt` paging with the same page size would have returned:
    naive: list[int] = []
    bound: float | None = None
    while True:
        rows = sorted(pushes, key=lambda p: -p[1])
        if bound is not None:
            rows = [p for p in rows if p[1] < bound]
        page = rows[:6]
        naive += [p[0] for p in page]
        if len(page) < 6:
            break
        bound = page[-1][1]
    assert len(naive) < len(got)


def test_pushes_send_filters_and_never_more_than_1000(mocked: responses.RequestsMock) -> None:
    server = PushServer(_tied_pushes(5, per_stamp=1))
    mocked.add_callback("GET", f"{BASE}/api/project/autoland/push/", callback=server)
    _source().pushes(
        "autoland", count=5000, author="a@b.c", revision="abc", since=1_600_000_000, ids=[1, 2]
    )
    assert server.calls == [
        {
            "author": "a@b.c",
            "revision": "abc",
            "push_timestamp__gte": "1600000000",
            "id__in": "1,2",
            "count": "1000",
        }
    ]


@pytest.mark.parametrize("count", [0, -1, 2.5, True])
def test_a_bad_count_is_refused_before_any_request(
    mocked: responses.RequestsMock, count: Any
) -> None:
    with pytest.raises(ParameterError, match="count must be a positive integer"):
        _source().pushes("autoland", count=count)
    assert len(mocked.calls) == 0


# ---------------------------------------------------------------------------- jobs

NAMES: Final = [
    "failure_classification_id", "id", "job_group_name", "job_group_symbol", "job_type_name",
    "job_type_symbol", "last_modified", "platform", "push_id", "push_revision", "result",
    "signature", "state", "tier", "task_id", "retry_id", "duration", "platform_option",
]  # fmt: skip


def _job(job_id: int, state: str = "completed", minutes: int = 3) -> list[Any]:
    return [
        1, job_id, "Mochitests", "M", f"test-linux/opt-mochitest-{job_id}", "1",
        "2026-10-01T10:00:00", "linux64", 5, "f" * 40, "success", "s" * 40, state, 1,
        f"task{job_id}", 0, minutes, "opt",
    ]  # fmt: skip


def _jobs_page(ids: list[int], nxt: str | None, names: list[str] = NAMES) -> dict[str, Any]:
    return {
        "count": 0,
        "next": nxt,
        "previous": None,
        "results": [_job(i) for i in ids],
        "job_property_names": names,
    }


def test_jobs_follow_next_and_zip_property_names(mocked: responses.RequestsMock) -> None:
    url = f"{BASE}/api/jobs/"
    # `next` names another host (a proxy's view): only its query string is used.
    mocked.get(
        url,
        match=[responses.matchers.query_param_matcher({"push_id": "5", "count": "2000"})],
        json=_jobs_page([1, 2, 3], "https://internal:8000/api/jobs/?push_id=5&count=2000&page=2"),
    )
    mocked.get(
        url,
        match=[
            responses.matchers.query_param_matcher({"push_id": "5", "count": "2000", "page": "2"})
        ],
        json=_jobs_page([3, 4], None),  # 3 again: it moved across the boundary
    )
    result = _source().jobs(5)
    assert result.column("job_id") == [1, 2, 3, 4]
    first = result.records()[0]
    assert first["label"] == "test-linux/opt-mochitest-1"
    assert first["task_id"] == "task1"
    assert first["platform_option"] == "opt"
    assert first["duration_s"] == 180.0
    assert [(c.request.url or "").split("?")[0] for c in mocked.calls] == [url, url]


def test_jobs_durations_are_seconds_and_null_until_completed(
    mocked: responses.RequestsMock,
) -> None:
    body = _jobs_page([], None)
    body["results"] = [_job(1, "completed", 1), _job(2, "running", 42), _job(3, "pending", 1)]
    mocked.get(f"{BASE}/api/jobs/", json=body)
    assert _source().jobs(5).column("duration_s") == [60.0, None, None]


def test_jobs_tolerate_new_properties_in_any_order(mocked: responses.RequestsMock) -> None:
    names = ["new_field", *reversed(NAMES)]
    body = _jobs_page([], None, names)
    body["results"] = [["x", *reversed(_job(7))]]
    mocked.get(f"{BASE}/api/jobs/", json=body)
    record = _source().jobs(5).records()[0]
    assert record["job_id"] == 7 and record["result"] == "success"


def test_jobs_filters_are_checked_before_sending(mocked: responses.RequestsMock) -> None:
    src = _source()
    with pytest.raises(ParameterError, match="unknown job filter 'resultt'"):
        src.jobs(5, resultt="testfailed")
    with pytest.raises(ParameterError, match="needs a filter"):
        src.jobs()
    assert len(mocked.calls) == 0


def test_jobs_filters_and_lookups_are_sent(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/api/jobs/", json=_jobs_page([], None))
    _source().jobs(push_ids=[1, 2], tier__in=[1, 2], result="testfailed")
    assert _args(mocked.calls[0].request) == {
        "count": "2000",
        "push_id__in": "1,2",
        "tier__in": "1,2",
        "result": "testfailed",
    }


# ---------------------------------------------------------------------------- headers


def test_every_request_sends_the_user_agent_and_accept_version(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(f"{BASE}/api/repository/", json=[])
    mocked.get(
        f"{BASE}/api/jobs/",
        match=[responses.matchers.query_param_matcher({"push_id": "1", "count": "2000"})],
        json=_jobs_page([1], f"{BASE}/api/jobs/?push_id=1&page=2"),
    )
    mocked.get(
        f"{BASE}/api/jobs/",
        match=[responses.matchers.query_param_matcher({"push_id": "1", "page": "2"})],
        json=_jobs_page([2], None),
    )
    src = _source()
    src.repositories()
    src.jobs(1)
    assert len(mocked.calls) == 3
    for call in mocked.calls:
        assert call.request.headers["User-Agent"] == user_agent()
        assert call.request.headers["User-Agent"].startswith("thsources/")
        assert call.request.headers["Accept"] == ACCEPT


def test_api_version_1_1_is_sent_and_others_refused(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/api/repository/", json=[])
    _source(api_version="1.1").repositories()
    assert mocked.calls[0].request.headers["Accept"] == "application/json; version=1.1"
    with pytest.raises(ConfigError, match="api_version must be one of 1.0, 1.1"):
        _source(api_version="2.0")


def test_sql_is_refused_with_directions() -> None:
    src = _source()
    with pytest.raises(UnsupportedQuery, match="named query .* or an entity method"):
        src.query("SELECT 1")
    with pytest.raises(UnsupportedQuery):
        src.submit("SELECT 1")


# ---------------------------------------------------------------------------- errors


def test_unknown_repository_is_not_found_with_the_server_message(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(
        f"{BASE}/api/project/nope/push/", status=404, json={"detail": "No project with name nope"}
    )
    with pytest.raises(NotFound, match="No project with name nope") as info:
        _source().pushes("nope")
    assert info.value.status_code == 404
    assert f"{BASE}/api/project/nope/push/?count=10" in info.value.message


def test_bad_filter_value_is_a_parameter_error_with_the_server_message(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(f"{BASE}/api/jobs/", status=400, json={"push_id": ["Enter a whole number."]})
    with pytest.raises(ParameterError, match="push_id: Enter a whole number."):
        _source().jobs(job_type_name="x", push_id__in="a,b")


def test_server_errors_are_retried_then_source_unavailable(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(f"{BASE}/api/repository/", status=500, body="<h1>Server Error (500)</h1>",
               content_type="text/html")  # fmt: skip
    sleeps: list[float] = []
    with pytest.raises(SourceUnavailable, match=r"HTTP 500 from http://th.test/api/repository/"):
        _source(sleep=sleeps.append, retries=3).repositories()
    assert len(mocked.calls) == 3
    assert len(sleeps) == 2


def test_retry_after_is_honoured(mocked: responses.RequestsMock) -> None:
    url = f"{BASE}/api/repository/"
    mocked.get(url, status=503, headers={"Retry-After": "7"}, body="busy")
    sleeps: list[float] = []
    src = _source(sleep=sleeps.append)
    mocked.get(url, json=[])
    assert len(src.repositories()) == 0
    assert sleeps[0] >= 7


def test_connection_errors_are_retried(mocked: responses.RequestsMock) -> None:
    url = f"{BASE}/api/repository/"
    mocked.get(url, body=requests.ConnectionError("connection reset"))
    mocked.get(url, json=[{"id": 1, "name": "mozilla-central"}])
    sleeps: list[float] = []
    result = _source(sleep=sleeps.append).repositories()
    assert result.column("name") == ["mozilla-central"]
    assert len(sleeps) == 1


def test_forbidden_names_the_user_agent(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/api/repository/", status=403, body="<h1>403 Forbidden</h1>",
               content_type="text/html")  # fmt: skip
    with pytest.raises(PermissionDenied, match=re.escape(user_agent())):
        _source().repositories()


def test_html_where_json_was_expected_is_a_protocol_error(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(f"{BASE}/api/repository/", body="<html>login</html>", content_type="text/html")
    with pytest.raises(ProtocolError, match="the URL is probably wrong"):
        _source().repositories()


def test_a_next_link_looping_back_is_a_protocol_error(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/api/jobs/", json=_jobs_page([1], f"{BASE}/api/jobs/?count=2000&push_id=1"))
    with pytest.raises(ProtocolError, match="page already read"):
        _source().jobs(1)


def test_api_errors_are_logged_with_url_and_status(
    mocked: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    mocked.get(
        f"{BASE}/api/project/nope/push/", status=404, json={"detail": "No project with name nope"}
    )
    with caplog.at_level(logging.DEBUG, logger="thsources"), pytest.raises(NotFound):
        _source().pushes("nope")
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.name for r in errors] == ["thsources.treeherder"]
    assert "HTTP 404 from http://th.test/api/project/nope/push/?count=10" in errors[0].getMessage()
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any(
        m.startswith("GET http://th.test/api/project/nope/push/?count=10 -> 404") for m in debug
    )


def test_credentials_in_the_url_never_reach_logs_or_errors(
    mocked: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    mocked.get("http://me:s3cr3tpw@th.test/api/repository/", status=404, json={"detail": "gone"})
    src = TreeherderSource(url="http://me:s3cr3tpw@th.test", pace=float("inf"))
    with caplog.at_level(logging.DEBUG, logger="thsources"), pytest.raises(NotFound) as info:
        src.repositories()
    assert "s3cr3tpw" not in info.value.message
    assert "s3cr3tpw" not in caplog.text


# ---------------------------------------------------------------------------- pace


def test_requests_are_paced(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/api/repository/", json=[])
    sleeps: list[float] = []
    src = _source(pace=2, sleep=sleeps.append)
    for _ in range(3):
        src.repositories()
    # The first goes at once; the next wait for their slot (the fake sleep does not advance
    # the clock, so slots pile up: about 0.5 s, then about 1 s).
    assert len(sleeps) == 2
    assert 0.4 < sleeps[0] <= 0.5
    assert 0.9 < sleeps[1] <= 1.0


@pytest.mark.parametrize("pace", ["0", "-1", "fast"])
def test_a_bad_pace_is_a_config_error(pace: str) -> None:
    with pytest.raises(ConfigError, match="option pace must be"):
        _source(pace=pace)


def test_the_default_url_is_production() -> None:
    src = thsources.connect("treeherder")
    assert src.describe() == {
        "name": "treeherder",
        "kind": "treeherder",
        "url": "https://treeherder.mozilla.org",
    }
