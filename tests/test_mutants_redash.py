"""The Redash job state machine: what mutation testing found unchecked (see docs/testing.md).

Submit, poll, the states a user reads from ``job.state``, cancel, recovery of a lost job and
the result fetch, each against mocked HTTP with the exact requests asserted: which URL, which
body, and that no request of a call waits past the call's deadline. Errors are checked whole
(type, message, source, job id), since a user's handler or log reads them.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Iterator
from typing import Any, Final

import orjson
import pytest
import requests
import responses

from thsources.errors import (
    NotFound,
    ParameterError,
    PermissionDenied,
    ProtocolError,
    QueryCancelled,
    QueryError,
    QueryTimeout,
    SourceError,
    SourceUnavailable,
)
from thsources.http import RetryPolicy
from thsources.polling import PollSchedule, Progress
from thsources.result import ResultMeta
from thsources.sources.base import JobState
from thsources.sources.redash import RedashJob, RedashSource

KEY: Final = "mutantKey0123456789abcdefZQXWvu"
BASE: Final = "http://redash.test"
JID: Final = "job-1"
FAST_POLL: Final = PollSchedule(first=0.001, factor=0.01, cap=0.005)
FAST_RETRY: Final = RetryPolicy(attempts=3, initial=0.001, maximum=0.002)
SOURCES: Final = [{"id": 1, "name": "treeherder-pg", "type": "pg", "syntax": "sql"}]


class RecordingSession(requests.Session):
    """Remembers each request's method, URL and ``timeout`` (the deadline shortens it)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, Any]] = []

    def request(  # type: ignore[override]
        self, method: str, url: str, *args: Any, **kwargs: Any
    ) -> requests.Response:
        self.sent.append((method.upper(), str(url)[len(BASE) :], kwargs.get("timeout")))
        return super().request(method, url, *args, **kwargs)


def make_source(**options: Any) -> RedashSource:
    kwargs: dict[str, Any] = {
        "name": "stmo",
        "url": BASE,
        "api_key": KEY,
        "data_source": "treeherder-pg",
        "poll": FAST_POLL,
        "retry": FAST_RETRY,
        "session": RecordingSession(),
    }
    kwargs.update(options)
    return RedashSource(**kwargs)


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        r.get(f"{BASE}/api/data_sources", json=SOURCES)
        yield r


@pytest.fixture
def src() -> Iterator[RedashSource]:
    with make_source() as s:
        yield s


def job(status: int, rid: int | None = None, error: str = "", jid: str = JID) -> Any:
    return {"job": {"id": jid, "status": status, "error": error, "query_result_id": rid}}


def result_body(query: str, rid: int = 270, rows: list[dict[str, Any]] | None = None) -> Any:
    return {
        "query_result": {
            "id": rid,
            "query": query,
            "query_hash": "h",
            "data_source_id": 1,
            "runtime": 0.25,
            "retrieved_at": "2026-11-26T17:52:03Z",
            "data": {
                "columns": [{"name": "n", "type": "integer"}],
                "rows": [{"n": 1}] if rows is None else rows,
            },
        }
    }


def calls(mock: responses.RequestsMock) -> list[tuple[str, str, Any]]:
    """(method, path, JSON body) of each request sent."""
    out = []
    for call in mock.calls:
        req = call.request
        data = orjson.loads(req.body) if req.body else None
        out.append((str(req.method), str(req.url)[len(BASE) :], data))
    return out


def read_timeouts_full(src: RedashSource) -> list[tuple[str, str, tuple[float, float]]]:
    """(method, path, (connect, read) timeouts) of each request the source sent."""
    session = src._http._session
    assert isinstance(session, RecordingSession)
    return [(m, p, tuple(t)) for m, p, t in session.sent]


def read_timeouts(src: RedashSource) -> list[tuple[str, str, float]]:
    return [(m, p, t[1]) for m, p, t in read_timeouts_full(src)]


# -- submit -----------------------------------------------------------------------------------


def test_submit_posts_max_age_0_and_the_bound_sql(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    handle = src.submit("SELECT :n AS n", {"n": 5})
    assert handle.id == JID
    assert calls(mock)[-1] == (
        "POST",
        "/api/query_results",
        {"data_source_id": 1, "query": "SELECT 5 AS n", "max_age": 0, "parameters": {}},
    )


def test_submit_passes_progress_to_the_wait(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(2))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(3, 270))
    mock.get(f"{BASE}/api/query_results/270.json", json=result_body("SELECT 1"))
    seen: list[JobState] = []

    def progress(event: Progress) -> None:
        seen.append(event.state)

    handle = src.submit("SELECT 1", progress=progress)
    assert handle.result().records() == [{"n": 1}]
    assert JobState.RUNNING in seen


def test_result_without_timeout_keeps_the_deadline_given_to_submit(
    mock: responses.RequestsMock,
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(2))
    mock.delete(f"{BASE}/api/jobs/{JID}", json=None)
    with make_source(timeout=0.05) as s:
        handle = s.submit("SELECT 1", timeout=0.3)
        with pytest.raises(QueryTimeout) as info:
            handle.result()
    assert "0.3 s" in info.value.message and "0.05" not in info.value.message


# -- every request of a call is bounded by its deadline -------------------------------------


def test_lost_job_recovery_and_rerun_requests_wait_no_longer_than_the_deadline(
    mock: responses.RequestsMock,
) -> None:
    """Polls, re-posts after a lost job and the re-run under a marked text: all bounded."""
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", status=500, json={"message": "Internal Server Error"})
    # The re-post answers a cached result of another text sharing the hash: run again.
    mock.post(f"{BASE}/api/query_results", json=result_body("SELECT  1 /* other */"))
    mock.post(f"{BASE}/api/query_results", json=job(1, jid="job-2"))
    mock.get(f"{BASE}/api/jobs/job-2", json=job(3, 271, jid="job-2"))

    def echo(request: Any) -> tuple[int, dict[str, str], bytes]:
        sent = [orjson.loads(c.request.body) for c in mock.calls if c.request.method == "POST"]
        out = result_body(sent[-1]["query"], 271)
        return 200, {"Content-Type": "application/json"}, orjson.dumps(out)

    mock.add_callback(responses.GET, f"{BASE}/api/query_results/271.json", callback=echo)
    with make_source(timeout=20) as s:
        res = s.query("SELECT 1")
        assert res.records() == [{"n": 1}] and res.meta.job_id == "job-2"
        sent = read_timeouts(s)
    assert [(m, p) for m, p, _ in sent] == [
        ("GET", "/api/data_sources"),
        ("POST", "/api/query_results"),
        ("GET", f"/api/jobs/{JID}"),
        ("POST", "/api/query_results"),
        ("POST", "/api/query_results"),
        ("GET", "/api/jobs/job-2"),
        ("GET", "/api/query_results/271.json"),
    ]
    # 60 s is the read timeout without a deadline; a POST may take 5 s of grace.
    assert all(t <= 25 for _, _, t in sent), sent


def test_schema_job_polls_wait_no_longer_than_the_deadline(mock: responses.RequestsMock) -> None:
    mock.get(f"{BASE}/api/data_sources/1/schema", json=schema_job(1))
    mock.get(f"{BASE}/api/jobs/schema-job", json=schema_job(3, [{"name": "t", "columns": []}]))
    with make_source(timeout=20) as s:
        assert len(s.tables()) == 0
        sent = read_timeouts(s)
    assert [p for _, p, _ in sent][-1] == "/api/jobs/schema-job"
    assert all(t <= 20 for _, _, t in sent), sent


# -- the schema job ---------------------------------------------------------------------------


def schema_job(status: int, result: Any = None, error: Any = "", jid: Any = "schema-job") -> Any:
    return {"job": {"id": jid, "status": status, "error": error, "result": result}}


@pytest.mark.parametrize("jid", ["", None, 7])
def test_a_schema_job_without_an_id_is_a_protocol_error(
    src: RedashSource, mock: responses.RequestsMock, jid: Any
) -> None:
    mock.get(f"{BASE}/api/data_sources/1/schema", json=schema_job(1, jid=jid))
    with pytest.raises(ProtocolError) as info:
        src.tables()
    assert info.value.message == "the schema job has no id"
    assert info.value.source == "stmo"


@pytest.mark.parametrize("answer", [[], {"no": "job"}, {"job": "x"}])
def test_a_schema_poll_of_the_wrong_shape_is_a_protocol_error(
    src: RedashSource, mock: responses.RequestsMock, answer: Any
) -> None:
    mock.get(f"{BASE}/api/data_sources/1/schema", json=schema_job(1))
    mock.get(f"{BASE}/api/jobs/schema-job", json=answer)
    mock.delete(f"{BASE}/api/jobs/schema-job", json=None)
    with pytest.raises(ProtocolError) as info:
        src.tables()
    assert info.value.message == "schema job schema-job: unexpected answer"
    assert info.value.source == "stmo"


def test_a_schema_poll_refused_names_the_job(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.get(f"{BASE}/api/data_sources/1/schema", json=schema_job(1))
    mock.get(f"{BASE}/api/jobs/schema-job", status=403, json={"message": "no"})
    mock.delete(f"{BASE}/api/jobs/schema-job", json=None)
    with pytest.raises(PermissionDenied) as info:
        src.tables()
    assert "schema job schema-job" in info.value.message


# -- cancel -----------------------------------------------------------------------------------


def test_cancel_with_a_query_key_says_why_and_names_the_job(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.delete(f"{BASE}/api/jobs/{JID}", status=403, json={"message": "forbidden"})
    handle = src.submit("SELECT 1")
    with pytest.raises(PermissionDenied) as info:
        handle.cancel()
    assert info.value.message == (
        "this API key cannot cancel Redash jobs (a query API key can only run its query); "
        "the job may still be running on the server"
    )
    assert (info.value.source, info.value.job_id) == ("stmo", JID)


# -- recovery ---------------------------------------------------------------------------------


def test_a_job_lost_for_good_is_source_unavailable_with_status_500(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", status=500, json={"message": "Internal Server Error"})
    mock.delete(f"{BASE}/api/jobs/{JID}", json=None)
    with pytest.raises(SourceUnavailable) as info:
        src.query("SELECT 1")
    err = info.value
    assert err.message == (
        "the job was lost on the server (HTTP 500), again after re-submitting it 2 times"
    )
    assert (err.source, err.job_id, err.status_code) == ("stmo", JID, 500)


def test_failed_without_a_message_again_and_again_is_a_query_error(
    src: RedashSource, mock: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(4, error=" "))
    caplog.set_level(logging.DEBUG, logger="thsources.sources.redash")
    with pytest.raises(QueryError) as info:
        src.query("SELECT 1")
    err = info.value
    assert type(err) is QueryError
    assert err.message == (
        "Redash marked the job failed without a message, again after re-submitting it 2 times"
    )
    assert (err.source, err.job_id) == ("stmo", JID)
    lines = [r.getMessage() for r in caplog.records if "re-submitting" in r.getMessage()]
    assert (
        lines
        == [
            f"job {JID}: Redash marked the job failed without a message; "
            "re-submitting to pick up its result"
        ]
        * 2
    )
    posts = [b for m, _, b in calls(mock) if m == "POST"]
    assert len(posts) == 3 and posts[0]["max_age"] == 0
    assert all(b["max_age"] >= 1 and b["query"] == "SELECT 1" for b in posts[1:])


def test_a_resent_recovery_post_still_covers_the_first_run(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    """The re-post after a lost job fails at the gateway once; its re-send is widened too."""
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", status=500, json={"message": "Internal Server Error"})
    mock.post(f"{BASE}/api/query_results", status=503, body="busy")
    mock.post(f"{BASE}/api/query_results", json=result_body("SELECT 1"))
    res = src.query("SELECT 1")
    assert res.records() == [{"n": 1}] and res.meta.cached is True
    assert [(m, p) for m, p, _ in calls(mock)] == [
        ("GET", "/api/data_sources"),
        ("POST", "/api/query_results"),
        ("GET", f"/api/jobs/{JID}"),
        ("POST", "/api/query_results"),
        ("POST", "/api/query_results"),
    ]  # the result came with the re-post: nothing more is fetched
    posts = [b for m, _, b in calls(mock) if m == "POST"]
    assert len(posts) == 3
    assert [b["max_age"] >= 1 for b in posts] == [False, True, True]
    assert res.meta.extra["recovered"] == "the job was lost on the server (HTTP 500)"


def test_a_query_cancelled_on_the_server_names_the_status(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(5))
    with pytest.raises(QueryCancelled) as info:
        src.query("SELECT 1")
    assert info.value.message == "the query was cancelled on the server (status cancelled)"
    assert (info.value.source, info.value.job_id) == ("stmo", JID)


def test_a_schema_job_failed_without_a_message_is_a_query_error(
    mock: responses.RequestsMock,
) -> None:
    mock.get(f"{BASE}/api/data_sources/1/schema", json=schema_job(1))
    mock.get(f"{BASE}/api/jobs/schema-job", json=schema_job(4, error=""))
    with make_source(timeout=5) as s, pytest.raises(QueryError) as info:
        s.tables()
    err = info.value
    assert type(err) is QueryError
    assert err.message == "Redash could not read the schema: "
    assert (err.source, err.job_id) == ("stmo", "schema-job")
    assert all(m != "DELETE" for m, _, _ in calls(mock))  # nothing left to cancel


def test_a_schema_job_is_done_only_at_status_3(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    """A result list on a job still running (status 2) is not the schema yet."""
    mock.get(f"{BASE}/api/data_sources/1/schema", json=schema_job(1))
    mock.get(f"{BASE}/api/jobs/schema-job", json=schema_job(2, [{"name": "partial"}]))
    mock.get(f"{BASE}/api/jobs/schema-job", json=schema_job(3, [{"name": "t", "columns": ["c"]}]))
    assert src.tables().records() == [{"table_name": "t", "column_name": "c", "data_type": None}]


def test_a_schema_job_follows_the_sources_poll_schedule(mock: responses.RequestsMock) -> None:
    """A schedule whose first wait is longer than the deadline: one poll, then the timeout."""
    mock.get(f"{BASE}/api/data_sources/1/schema", json=schema_job(1))
    mock.get(f"{BASE}/api/jobs/schema-job", json=schema_job(2))
    mock.delete(f"{BASE}/api/jobs/schema-job", json=None)
    slow = PollSchedule(first=30, factor=0, cap=30)
    with make_source(timeout=1, poll=slow) as s, pytest.raises(QueryTimeout) as info:
        s.tables()
    assert info.value.message == "no result within 1 s; the remote job was cancelled"
    assert (info.value.source, info.value.job_id) == ("stmo", "schema-job")
    assert [m for m, p, _ in calls(mock) if p == "/api/jobs/schema-job"] == ["GET", "DELETE"]


def test_a_schema_job_whose_first_poll_outlives_the_deadline_names_the_job(
    mock: responses.RequestsMock,
) -> None:
    def late(request: Any) -> tuple[int, dict[str, str], str]:
        time.sleep(0.5)
        return 500, {"Content-Type": "application/json"}, '{"message": "Internal Server Error"}'

    mock.get(f"{BASE}/api/data_sources/1/schema", json=schema_job(1))
    mock.add_callback(responses.GET, f"{BASE}/api/jobs/schema-job", callback=late)
    mock.delete(f"{BASE}/api/jobs/schema-job", json=None)
    with make_source(timeout=0.3) as s, pytest.raises(QueryTimeout) as info:
        s.tables()
    assert info.value.message == "no result within 0.3 s; the remote job was cancelled"
    assert (info.value.source, info.value.job_id) == ("stmo", "schema-job")


def test_cancelling_a_schema_job_uses_the_short_cancel_timeouts_and_retries(
    mock: responses.RequestsMock,
) -> None:
    mock.get(f"{BASE}/api/data_sources/1/schema", json=schema_job(1))
    mock.get(f"{BASE}/api/jobs/schema-job", json=schema_job(2))
    mock.delete(f"{BASE}/api/jobs/schema-job", status=503, body="busy")
    one_try = RetryPolicy(attempts=1, initial=0.001, maximum=0.002)
    with make_source(timeout=0.2, retry=one_try) as s:
        with pytest.raises(QueryTimeout) as info:
            s.tables()
        deletes = [t for m, _, t in read_timeouts_full(s) if m == "DELETE"]
    assert "cancelling the remote job failed" in info.value.message
    # Three tries (the cancel policy, not the source's one), 5 s to connect, 10 s to read.
    assert deletes == [(5.0, 10.0)] * 3


@pytest.mark.parametrize(
    ("status", "note"),
    [(204, "was cancelled"), (300, "cancelling the remote job failed"), (404, "could not be")],
)
def test_a_schema_job_cancel_counts_only_a_2xx_answer(
    mock: responses.RequestsMock, status: int, note: str
) -> None:
    mock.get(f"{BASE}/api/data_sources/1/schema", json=schema_job(1))
    mock.get(f"{BASE}/api/jobs/schema-job", json=schema_job(2))
    mock.delete(f"{BASE}/api/jobs/schema-job", status=status, body="")
    with make_source(timeout=0.2) as s, pytest.raises(QueryTimeout) as info:
        s.tables()
    assert note in info.value.message


# -- another text's result --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ran", "shown"),
    [
        ("SELECT  2", "'SELECT  2'"),
        ("SELECT " + "x" * 113, repr("SELECT " + "x" * 113)),
        ("SELECT " + "y" * 120, repr(("SELECT " + "y" * 120)[:117] + "...")),
    ],
)
def test_another_texts_result_twice_is_a_protocol_error_showing_that_text(
    src: RedashSource, mock: responses.RequestsMock, ran: str, shown: str
) -> None:
    """Re-run under a marked text, Redash still answers for another text: say which."""
    mock.post(f"{BASE}/api/query_results", json=result_body(ran))
    with pytest.raises(ProtocolError) as info:
        src.query("SELECT 1")
    assert info.value.message == (
        "Redash answered with the result of another query text that shares this one's "
        f"cache key (it ignores whitespace and /* */ comments): {shown}"
    )
    posts = [b["query"] for m, _, b in calls(mock) if m == "POST"]
    assert posts[0] == "SELECT 1" and re.fullmatch(
        r"-- thsources run [0-9a-f]{16}\nSELECT 1", posts[1]
    )


# -- what a finished job's result says about itself -------------------------------------------


def test_a_fetched_result_carries_its_whole_meta(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(3, 270))
    answer = result_body("SELECT 1")
    answer["query_result"]["data"]["truncated"] = True
    mock.get(f"{BASE}/api/query_results/270.json", json=answer)
    res = src.query("SELECT 1")
    assert res.meta == ResultMeta(
        source="stmo",
        query="SELECT 1",
        job_id=JID,
        result_id=270,
        runtime_s=0.25,
        retrieved_at=dt.datetime(2026, 11, 26, 17, 52, 3, tzinfo=dt.UTC),
        cached=False,
        truncated=True,
        extra={"data_source_id": 1, "query_hash": "h"},
    )
    assert [(m, p) for m, p, _ in calls(mock)][-1] == ("GET", "/api/query_results/270.json")


def test_a_cached_answer_is_done_at_once_and_says_cached(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    answer = result_body("SELECT 1", rid=9)
    del answer["query_result"]["runtime"], answer["query_result"]["query_hash"]
    mock.post(f"{BASE}/api/query_results", json=answer)
    handle = src.submit("SELECT 1", max_age=60)
    assert handle.id is None and handle.state is JobState.DONE
    assert repr(handle) == "<RedashJob None done>"
    res = handle.result()
    assert (res.meta.cached, res.meta.result_id, res.meta.job_id) == (True, 9, None)
    assert res.meta.runtime_s is None and res.meta.extra == {"data_source_id": 1}
    assert calls(mock)[-1][2]["max_age"] == 60
    assert len(mock.calls) == 2  # the data sources, the POST: nothing polled or fetched


def test_a_result_of_the_wrong_shape_is_a_protocol_error_naming_the_job(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(3, 270))
    mock.get(f"{BASE}/api/query_results/270.json", json={"query_result": {"data": "no rows"}})
    with pytest.raises(ProtocolError) as info:
        src.query("SELECT 1")
    assert info.value.message.startswith("Redash sent a result of the wrong shape: ")
    assert (info.value.source, info.value.job_id) == ("stmo", JID)


def test_a_result_refused_names_the_result(src: RedashSource, mock: responses.RequestsMock) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(3, 270))
    mock.get(f"{BASE}/api/query_results/270.json", status=403, json={"message": "no"})
    with pytest.raises(PermissionDenied) as info:
        src.query("SELECT 1")
    assert "result 270" in info.value.message


# -- the states a user reads ------------------------------------------------------------------


def test_state_follows_the_server_then_settles(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(2))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(3))  # status 3 before the result id: running
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(3, 270))
    mock.get(f"{BASE}/api/query_results/270.json", json=result_body("SELECT 1"))
    handle = src.submit("SELECT 1")
    assert repr(handle) == f"<RedashJob {JID} queued>"
    seen = [handle.state for _ in range(4)]
    assert seen == [JobState.QUEUED, JobState.RUNNING, JobState.RUNNING, JobState.DONE]
    assert handle.result().records() == [{"n": 1}]
    assert handle.state is JobState.DONE and repr(handle) == f"<RedashJob {JID} done>"
    polls = [p for m, p, _ in calls(mock) if p == f"/api/jobs/{JID}"]
    assert len(polls) == 4  # the result was fetched without polling again


def test_a_submit_answered_by_a_finished_job_without_result_id_is_running(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(3))
    handle = src.submit("SELECT 1")
    assert repr(handle) == f"<RedashJob {JID} running>"


def test_a_job_answer_without_an_id_is_a_protocol_error(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json={"job": {"status": 1, "error": ""}})
    with pytest.raises(ProtocolError) as info:
        src.submit("SELECT 1")
    assert info.value.message == "Redash answered with a job without an id"
    assert info.value.source == "stmo"


def test_a_poll_of_the_wrong_shape_is_a_protocol_error_and_the_job_is_cancelled(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json={"status": 2})
    mock.delete(f"{BASE}/api/jobs/{JID}", json=None)
    with pytest.raises(ProtocolError) as info:
        src.query("SELECT 1")
    assert info.value.message == f"job {JID}: unexpected answer {{'status': 2}}"
    assert (info.value.source, info.value.job_id) == ("stmo", JID)
    assert calls(mock)[-1][:2] == ("DELETE", f"/api/jobs/{JID}")


def test_a_query_error_is_kept_for_later_results(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(4, error='relation "x" does not exist'))
    handle = src.submit("SELECT * FROM x")
    for _ in range(2):
        with pytest.raises(QueryError) as info:
            handle.result()
        assert info.value.message == 'relation "x" does not exist'
        assert (info.value.source, info.value.job_id) == ("stmo", JID)
    assert handle.state is JobState.FAILED
    assert len([p for _, p, _ in calls(mock) if p == f"/api/jobs/{JID}"]) == 1


def test_an_unreachable_server_until_the_deadline_says_so_and_cancels(
    mock: responses.RequestsMock,
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(2))
    mock.get(f"{BASE}/api/jobs/{JID}", status=503, body="down")
    mock.delete(f"{BASE}/api/jobs/{JID}", json=None)
    with make_source(timeout=0.5) as s, pytest.raises(SourceUnavailable) as info:
        handle = s.submit("SELECT 1")
        handle.result()
    err = info.value
    assert err.message.endswith(
        "; the server was still unreachable at the deadline (0.5 s); the remote job was cancelled"
    )
    assert "503" in err.message
    assert (err.source, err.job_id) == ("stmo", JID)
    assert handle.state is JobState.CANCELLED


@pytest.mark.parametrize("status", [500, 501, 505])
def test_a_server_error_while_polling_ends_the_wait_at_once(
    src: RedashSource, mock: responses.RequestsMock, status: int
) -> None:
    """Only a missing answer, 429 and a gateway's 502/503/504 are waited out."""
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", status=status, body="broken")
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.delete(f"{BASE}/api/jobs/{JID}", json=None)
    with pytest.raises(SourceUnavailable) as info:
        src.query("SELECT 1", timeout=30)
    assert info.value.status_code == status


# -- saved queries run with the query's own key -----------------------------------------------

SAVED: Final = {"id": 5, "query": "SELECT 1", "data_source_id": 1, "options": {"parameters": []}}
NO_CACHED: Final = {"message": "No cached result found for this query."}


def add_saved_job(mock: responses.RequestsMock) -> None:
    mock.get(f"{BASE}/api/queries/5", json=SAVED)
    mock.get(f"{BASE}/api/data_sources/1", json={"id": 1, "type": "pg"})
    mock.post(f"{BASE}/api/queries/5/results", json=job(1))
    mock.get(f"{BASE}/api/queries/5/jobs/{JID}", json=job(3, 50))
    mock.get(f"{BASE}/api/queries/5/results/50.json", status=404, json=NO_CACHED)


def test_a_result_the_query_key_may_not_read_is_picked_up_by_a_widened_repost(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_saved_job(mock)
    mock.post(f"{BASE}/api/queries/5/results", json=result_body("SELECT 1", rid=50))
    res = src.run_saved(5)
    assert res.records() == [{"n": 1}]
    assert (res.meta.cached, res.meta.result_id, res.meta.job_id) == (False, 50, JID)
    assert res.meta.extra == {"data_source_id": 1, "query_hash": "h", "saved_query_id": 5}
    sent = calls(mock)
    assert [(m, p) for m, p, _ in sent][-4:] == [
        ("POST", "/api/queries/5/results"),
        ("GET", f"/api/queries/5/jobs/{JID}"),
        ("GET", "/api/queries/5/results/50.json"),
        ("POST", "/api/queries/5/results"),
    ]
    first, second = (b for m, _, b in sent if m == "POST")
    assert first == {"parameters": {}, "max_age": 0}
    assert second["parameters"] == {} and second["max_age"] >= 1


def test_a_widened_repost_answered_by_a_job_is_followed(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_saved_job(mock)
    mock.post(f"{BASE}/api/queries/5/results", json=job(2, jid="job-2"))
    mock.get(f"{BASE}/api/queries/5/jobs/job-2", json=job(3, 51, jid="job-2"))
    mock.get(f"{BASE}/api/queries/5/results/51.json", json=result_body("SELECT 1", rid=51))
    res = src.run_saved(5)
    assert (res.meta.result_id, res.meta.job_id) == (51, "job-2")
    assert [p for m, p, _ in calls(mock) if m == "GET"][-2:] == [
        "/api/queries/5/jobs/job-2",
        "/api/queries/5/results/51.json",
    ]


def test_a_404_on_an_ad_hoc_result_is_not_found(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    """Only a saved query's result is re-posted for: an ad-hoc 404 is an error."""
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(3, 270))
    mock.get(f"{BASE}/api/query_results/270.json", status=404, json=NO_CACHED)
    with pytest.raises(NotFound) as info:
        src.query("SELECT 1")
    assert info.value.message == (
        f"result 270: not found on {BASE} (HTTP 404: No cached result found for this query.)"
    )
    assert [m for m, _, _ in calls(mock)].count("POST") == 1


# -- waiting through outages, giving up, cancelling -------------------------------------------


@pytest.mark.parametrize("status", [429, 502, 503, 504, None])
def test_a_passing_outage_while_polling_is_waited_out(
    src: RedashSource, mock: responses.RequestsMock, status: int | None
) -> None:
    """A proxy's 5xx, a 429 or no answer at all: the poll goes on and the result comes."""
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(1))
    for _ in range(FAST_RETRY.attempts):  # the HTTP layer's own retries all fail
        if status is None:
            mock.get(f"{BASE}/api/jobs/{JID}", body=requests.ConnectionError("refused"))
        else:
            mock.get(f"{BASE}/api/jobs/{JID}", status=status, body="busy")
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(3, 270))
    mock.get(f"{BASE}/api/query_results/270.json", json=result_body("SELECT 1"))
    states: list[JobState] = []
    res = src.query("SELECT 1", progress=lambda e: states.append(e.state))
    assert res.records() == [{"n": 1}]
    # During the outage the job is reported in its last known state.
    assert states[:2] == [JobState.QUEUED, JobState.QUEUED] and states[-1] is JobState.DONE


def test_an_outage_that_ended_is_not_blamed_at_the_deadline(
    mock: responses.RequestsMock,
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", status=503, body="busy")
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(2))
    mock.delete(f"{BASE}/api/jobs/{JID}", json=None)
    with make_source(timeout=0.5) as s, pytest.raises(QueryTimeout) as info:
        s.query("SELECT 1")
    assert info.value.message == "no result within 0.5 s; the remote job was cancelled"
    assert (info.value.source, info.value.job_id) == ("stmo", JID)


def test_a_first_post_resent_after_a_gateway_error_covers_the_first_try(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", status=502, body="bad gateway")
    mock.post(f"{BASE}/api/query_results", json=job(1))
    handle = src.submit("SELECT 1")
    assert handle.id == JID
    first, second = (b for m, _, b in calls(mock) if m == "POST")
    assert first["max_age"] == 0 and second["max_age"] >= 1
    assert {k: v for k, v in second.items() if k != "max_age"} == {
        "data_source_id": 1,
        "query": "SELECT 1",
        "parameters": {},
    }


def test_a_job_the_key_could_not_cancel_can_still_be_waited_for(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(2))
    mock.delete(f"{BASE}/api/jobs/{JID}", status=403, json={"message": "no"})
    handle = src.submit("SELECT 1")
    with pytest.raises(QueryTimeout) as info:
        handle.result(timeout=0.2)
    assert info.value.message.endswith(
        "the remote job could not be cancelled with these credentials"
    )
    mock.replace(responses.GET, f"{BASE}/api/jobs/{JID}", json=job(3, 270))
    mock.get(f"{BASE}/api/query_results/270.json", json=result_body("SELECT 1"))
    assert handle.result().records() == [{"n": 1}]


@pytest.mark.parametrize("status", [401, 403, 404])
def test_cancel_refused_for_the_key_is_permission_denied(
    src: RedashSource, mock: responses.RequestsMock, status: int
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.delete(f"{BASE}/api/jobs/{JID}", status=status, json={"message": "no"})
    handle = src.submit("SELECT 1")
    with pytest.raises(PermissionDenied):
        handle.cancel()


def test_cancel_failing_on_the_server_says_which_job(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.delete(f"{BASE}/api/jobs/{JID}", status=503, json={"message": "busy"})
    handle = src.submit("SELECT 1")
    with pytest.raises(SourceUnavailable) as info:
        handle.cancel()
    assert f"cancelling job {JID}" in info.value.message
    sent = read_timeouts_full(src)
    assert [t for m, _, t in sent if m == "DELETE"] == [(5.0, 10.0)] * 3


@pytest.mark.parametrize("status", [1, 2, 3])  # 3 without a result id is still running
def test_a_recovered_job_still_running_at_the_deadline_is_named_and_cancelled(
    mock: responses.RequestsMock, status: int
) -> None:
    """After a lost job was re-posted, the timeout names and cancels the new job."""
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", status=500, json={"message": "Internal Server Error"})
    mock.post(f"{BASE}/api/query_results", json=job(status, jid="job-2"))
    mock.get(f"{BASE}/api/jobs/job-2", json=job(status, jid="job-2"))
    mock.delete(f"{BASE}/api/jobs/job-2", json=None)
    with make_source(timeout=0.5) as s, pytest.raises(QueryTimeout) as info:
        s.query("SELECT 1")
    assert info.value.job_id == "job-2"
    assert calls(mock)[-1][:2] == ("DELETE", "/api/jobs/job-2")


def test_the_debug_log_tells_the_jobs_story(
    src: RedashSource, mock: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    for _ in range(3 * FAST_RETRY.attempts):  # three polls fail after the HTTP layer's retries
        mock.get(f"{BASE}/api/jobs/{JID}", status=503, body="busy")
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(2))
    mock.delete(f"{BASE}/api/jobs/{JID}", json=None)
    caplog.set_level(logging.DEBUG, logger="thsources.sources.redash")
    with pytest.raises(QueryTimeout):
        src.query("SELECT 1", timeout=0.5)
    lines = [r.getMessage() for r in caplog.records if r.name == "thsources.sources.redash"]
    assert lines[0] == "data source treeherder-pg: id 1, type pg"
    assert lines[1] == f"Redash job {JID}: queued"
    outage = [line for line in lines if "unreachable" in line]
    assert len(outage) == 1 and outage[0].startswith(f"job {JID}: Redash unreachable, polling on: ")
    assert "503" in outage[0]
    assert lines[-1] == f"cancelled Redash job {JID}"


def test_the_debug_log_says_when_the_key_may_not_cancel(
    src: RedashSource, mock: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.delete(f"{BASE}/api/jobs/{JID}", status=403, json={"message": "no"})
    caplog.set_level(logging.DEBUG, logger="thsources.sources.redash")
    handle = src.submit("SELECT 1")
    with pytest.raises(PermissionDenied):
        handle.cancel()
    assert caplog.records[-1].getMessage() == f"this key may not cancel job {JID} (HTTP 403)"


# -- submitting -------------------------------------------------------------------------------


@pytest.mark.parametrize("sql", ["", "  \n", None, 5])
def test_no_sql_is_a_parameter_error_before_any_request(
    src: RedashSource, mock: responses.RequestsMock, sql: Any
) -> None:
    with pytest.raises(ParameterError) as info:
        src.submit(sql)
    assert (info.value.message, info.value.source) == ("no SQL given", "stmo")
    assert calls(mock) == []


@pytest.mark.parametrize(
    ("options", "ds_type", "query"),
    [
        ({}, "pg", "SELECT E'a''b\\\\' AS v"),
        ({}, "mysql", "SELECT _utf8mb4 X'6127625c' AS v"),
        ({"dialect": "mysql"}, "pg", "SELECT _utf8mb4 X'6127625c' AS v"),
    ],
)
def test_parameters_are_bound_in_the_data_sources_dialect(
    mock: responses.RequestsMock, options: dict[str, Any], ds_type: str, query: str
) -> None:
    mock.replace(responses.GET, f"{BASE}/api/data_sources", json=[{**SOURCES[0], "type": ds_type}])
    mock.post(f"{BASE}/api/query_results", json=job(1))
    with make_source(**options) as s:
        s.submit("SELECT :v AS v", {"v": "a'b\\"})
    assert calls(mock)[-1][2]["query"] == query


def test_braces_in_the_sql_are_protected_from_redashs_template_rendering(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    src.submit("SELECT '{{ x }}' AS v")
    assert calls(mock)[-1][2]["query"] == "{{=<% %>=}}SELECT '{{ x }}' AS v"


def test_a_cached_result_of_the_bound_text_is_accepted_as_is(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=result_body("SELECT 5 AS n"))
    res = src.query("SELECT :n AS n", {"n": 5}, max_age=60)
    assert res.meta.query == "SELECT 5 AS n" and res.meta.cached is True
    assert [m for m, _, _ in calls(mock)].count("POST") == 1


@pytest.mark.parametrize(("syntax", "posts"), [("sql", 2), (None, 2), ("json", 1)])
def test_another_texts_result_is_re_run_only_on_sql_data_sources(
    mock: responses.RequestsMock, syntax: str | None, posts: int
) -> None:
    """A ``--`` comment makes a text of its own only where the query language is SQL."""
    mock.replace(responses.GET, f"{BASE}/api/data_sources", json=[{**SOURCES[0], "syntax": syntax}])
    mock.post(f"{BASE}/api/query_results", json=result_body("SELECT  1"))
    with make_source() as s, pytest.raises(ProtocolError, match="shares this one's cache key"):
        s.query("SELECT 1")
    assert [m for m, _, _ in calls(mock)].count("POST") == posts


def test_the_submit_may_take_the_grace_past_the_deadline_polls_may_not(
    mock: responses.RequestsMock,
) -> None:
    """The POST's answer carries the job id needed to cancel: it may come 5 s late."""
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(3, 270))
    mock.get(f"{BASE}/api/query_results/270.json", json=result_body("SELECT 1"))
    with make_source(timeout=20) as s:
        s.query("SELECT 1")
        sent = read_timeouts(s)
    post = [t for m, _, t in sent if m == "POST"]
    gets = [t for m, _, t in sent if m == "GET"]
    assert len(post) == 1 and 20 < post[0] <= 25
    assert all(t <= 20 for t in gets)


@pytest.mark.parametrize(
    "answer",
    [
        b'{"job": "queued"}',
        b'{"something": "else"}',
        b"[1, 2]",
        b'{"something": "' + b"long " * 60 + b'"}',
    ],
)
def test_a_submit_answer_of_neither_shape_is_a_protocol_error(
    src: RedashSource, mock: responses.RequestsMock, answer: bytes
) -> None:
    mock.post(f"{BASE}/api/query_results", body=answer, content_type="application/json")
    with pytest.raises(ProtocolError) as info:
        src.submit("SELECT 1")
    shown = str(orjson.loads(answer))[:200]
    assert info.value.message == (
        f"Redash answered the query with neither a job nor a result: {shown}"
    )
    assert info.value.source == "stmo"


def test_a_cached_answer_with_its_keys_in_another_order_is_a_result(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    raw = b'  {\n  "query_result": ' + orjson.dumps(result_body("SELECT 1")["query_result"]) + b"}"
    mock.post(f"{BASE}/api/query_results", body=raw, content_type="application/json")
    assert src.query("SELECT 1", max_age=60).records() == [{"n": 1}]


def test_a_refused_submit_says_what_the_server_said(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", status=400, json={"message": "Query text is empty"})
    with pytest.raises(SourceError) as info:
        src.submit("SELECT 1")
    assert info.value.message == "Redash rejected the query (HTTP 400): Query text is empty"


def test_a_job_failed_at_submit_is_not_cancelled(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(4, error="syntax error at or near"))
    mock.delete(f"{BASE}/api/jobs/{JID}", json=None)
    with pytest.raises(QueryError, match="syntax error"):
        src.submit("SELEC 1")
    assert [m for m, _, _ in calls(mock)] == ["GET", "POST"]


def test_an_interrupt_during_submit_cancels_even_if_the_cancel_fails(
    src: RedashSource,
    mock: responses.RequestsMock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Ctrl-C right after Redash gave the job an id: the DELETE is sent; its failure is
    logged and the interrupt, not the cancel's error, reaches the caller."""
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.delete(f"{BASE}/api/jobs/{JID}", status=503, body="busy")

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(RedashJob, "_interpret", interrupted)
    caplog.set_level(logging.DEBUG, logger="thsources.sources.redash")
    with pytest.raises(KeyboardInterrupt):
        src.submit("SELECT 1")
    assert calls(mock)[-1][:2] == ("DELETE", f"/api/jobs/{JID}")
    assert caplog.records[-1].getMessage() == (f"cancelling job {JID} failed: SourceUnavailable")


def test_a_poll_refused_names_the_job(src: RedashSource, mock: responses.RequestsMock) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", status=403, json={"message": "no"})
    mock.delete(f"{BASE}/api/jobs/{JID}", json=None)
    with pytest.raises(PermissionDenied) as info:
        src.query("SELECT 1")
    assert info.value.message == f"Redash refused job {JID}: no"


def test_a_result_found_by_reading_state_during_the_wait_is_not_fetched_again(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    """``job.state`` read from a progress callback recovers a lost job whose re-post answers
    with the result: the wait returns that result without another request."""
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(2))
    mock.get(f"{BASE}/api/jobs/{JID}", status=500, json={"message": "Internal Server Error"})
    mock.post(f"{BASE}/api/query_results", json=result_body("SELECT 1"))
    seen: list[JobState] = []
    handle = src.submit("SELECT 1", progress=lambda e: seen.append(handle.state))
    res = handle.result()
    assert res.records() == [{"n": 1}] and seen == [JobState.DONE, JobState.DONE]
    assert [(m, p) for m, p, _ in calls(mock)][1:] == [
        ("POST", "/api/query_results"),
        ("GET", f"/api/jobs/{JID}"),
        ("GET", f"/api/jobs/{JID}"),
        ("POST", "/api/query_results"),
    ]


def test_a_long_poll_answer_of_the_wrong_shape_is_cut_at_200_characters(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    answer = {"status": "x" * 300}
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=answer)
    mock.delete(f"{BASE}/api/jobs/{JID}", json=None)
    with pytest.raises(ProtocolError) as info:
        src.query("SELECT 1")
    assert info.value.message == f"job {JID}: unexpected answer {str(answer)[:200]}"


def test_the_re_post_after_a_failure_without_message_waits_no_longer_than_the_deadline(
    mock: responses.RequestsMock,
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(4, error=""))
    mock.post(f"{BASE}/api/query_results", json=result_body("SELECT 1"))
    with make_source(timeout=20) as s:
        assert s.query("SELECT 1").records() == [{"n": 1}]
        sent = read_timeouts(s)
    assert [m for m, _, _ in sent] == ["GET", "POST", "GET", "POST"]
    assert all(t <= 25 for _, _, t in sent), sent


def test_a_redirected_submit_is_refused_not_followed(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", status=300, json=job(1))
    with pytest.raises(SourceError) as info:
        src.submit("SELECT 1")
    assert "redirected (HTTP 300)" in info.value.message
    assert [m for m, _, _ in calls(mock)] == ["GET", "POST"]


def test_a_submit_answered_by_another_server_says_so(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", status=404, body="<html>", content_type="text/html")
    with pytest.raises(ProtocolError) as info:
        src.submit("SELECT 1")
    assert info.value.message.startswith(
        f"{BASE} does not look like a Redash server: the query answered HTTP 404 with text/html"
    )


def test_a_cancelled_jobs_result_says_so(src: RedashSource, mock: responses.RequestsMock) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.delete(f"{BASE}/api/jobs/{JID}", json=None)
    handle = src.submit("SELECT 1")
    handle.cancel()
    with pytest.raises(QueryCancelled) as info:
        handle.result()
    assert (info.value.message, info.value.source, info.value.job_id) == (
        "the job was cancelled",
        "stmo",
        JID,
    )


def test_a_redirected_poll_is_refused_not_read(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", status=300, json=job(3, 270))
    mock.delete(f"{BASE}/api/jobs/{JID}", json=None)
    with pytest.raises(SourceError) as info:
        src.query("SELECT 1")
    assert "redirected (HTTP 300)" in info.value.message
    assert "/api/query_results/270.json" not in [p for _, p, _ in calls(mock)]


def test_a_poll_answered_by_another_server_says_so(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", status=404, body="<html>", content_type="text/html")
    mock.delete(f"{BASE}/api/jobs/{JID}", json=None)
    with pytest.raises(ProtocolError) as info:
        src.query("SELECT 1")
    assert info.value.message.startswith(
        f"{BASE} does not look like a Redash server: job {JID} answered HTTP 404 with text/html"
    )


def test_a_job_cancelled_on_the_server_is_settled_without_asking_again(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(5))
    handle = src.submit("SELECT 1")
    for _ in range(2):
        with pytest.raises(QueryCancelled, match="cancelled on the server"):
            handle.result()
    assert handle.state is JobState.CANCELLED and repr(handle) == f"<RedashJob {JID} cancelled>"
    assert [p for _, p, _ in calls(mock)].count(f"/api/jobs/{JID}") == 1


def test_the_jobs_state_follows_the_wait(src: RedashSource, mock: responses.RequestsMock) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(2))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(3, 270))
    mock.get(f"{BASE}/api/query_results/270.json", json=result_body("SELECT 1"))
    shown: list[str] = []
    handle = src.submit("SELECT 1", progress=lambda e: shown.append(repr(handle)))
    handle.result()
    assert shown == [f"<RedashJob {JID} running>", f"<RedashJob {JID} running>"]
    assert repr(handle) == f"<RedashJob {JID} done>"


def test_a_wait_whose_deadline_has_already_passed_names_and_cancels_the_job(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.delete(f"{BASE}/api/jobs/{JID}", json=None)
    handle = src.submit("SELECT 1")
    with pytest.raises(QueryTimeout) as info:
        handle.result(timeout=1e-9)
    assert (info.value.source, info.value.job_id) == ("stmo", JID)
    assert [m for m, _, _ in calls(mock)] == ["GET", "POST", "DELETE"]


def test_progress_counts_from_the_submission(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(3, 270))
    mock.get(f"{BASE}/api/query_results/270.json", json=result_body("SELECT 1"))
    events: list[Progress] = []
    handle = src.submit("SELECT 1", progress=events.append)
    time.sleep(0.3)
    handle.result(timeout=30)  # a deadline of its own; the clock still starts at the submit
    assert events and all(e.elapsed_s >= 0.3 for e in events)


def test_a_job_wait_follows_the_sources_poll_schedule(mock: responses.RequestsMock) -> None:
    """A schedule whose first wait is longer than the deadline: one poll, then the timeout."""
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(2))
    mock.delete(f"{BASE}/api/jobs/{JID}", json=None)
    slow = PollSchedule(first=30, factor=0, cap=30)
    with make_source(timeout=1, poll=slow) as s, pytest.raises(QueryTimeout):
        s.query("SELECT 1")
    assert [m for m, p, _ in calls(mock) if p == f"/api/jobs/{JID}"] == ["GET", "DELETE"]


def test_a_saved_querys_result_re_posted_without_its_id_keeps_the_result_id(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_saved_job(mock)
    answer = result_body("SELECT 1", rid=50)
    del answer["query_result"]["id"]
    mock.post(f"{BASE}/api/queries/5/results", json=answer)
    assert src.run_saved(5).meta.result_id == 50


def test_an_unknown_job_status_is_a_protocol_error_without_the_key(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json={"job": {"id": JID, "status": KEY}})
    with pytest.raises(ProtocolError) as info:
        src.submit("SELECT 1")
    assert info.value.message.startswith("Redash sent an unknown job status ")
    assert KEY not in info.value.message and KEY[-6:] not in info.value.message


def test_a_re_post_answered_by_a_finished_job_fetches_its_result_at_once(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", status=500, json={"message": "Internal Server Error"})
    mock.post(f"{BASE}/api/query_results", json=job(3, 271, jid="job-2"))
    mock.get(f"{BASE}/api/query_results/271.json", json=result_body("SELECT 1", rid=271))
    res = src.query("SELECT 1")
    assert (res.meta.result_id, res.meta.job_id) == (271, "job-2")
    assert [(m, p) for m, p, _ in calls(mock)] == [
        ("GET", "/api/data_sources"),
        ("POST", "/api/query_results"),
        ("GET", f"/api/jobs/{JID}"),
        ("POST", "/api/query_results"),
        ("GET", "/api/query_results/271.json"),
    ]


@pytest.mark.parametrize(
    "first",
    [
        result_body("SELECT  1 /* another text */"),  # re-run under a marked text
        job(4, error=""),  # failed without a message: re-posted
    ],
)
def test_a_re_post_made_during_submit_waits_no_longer_than_the_deadline(
    mock: responses.RequestsMock, first: Any
) -> None:
    mock.post(f"{BASE}/api/query_results", json=first)
    mock.post(f"{BASE}/api/query_results", json=job(1, jid="job-2"))
    with make_source(timeout=20) as s:
        assert s.submit("SELECT 1").id == "job-2"
        sent = read_timeouts(s)
    assert [m for m, _, _ in sent] == ["GET", "POST", "POST"]
    assert all(t <= 25 for _, _, t in sent), sent


def test_an_outage_at_the_deadline_keeps_the_whole_cancel_note(
    mock: responses.RequestsMock,
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", status=503, body="down")
    mock.delete(f"{BASE}/api/jobs/{JID}", status=500, json={"message": "busy; try later"})
    with make_source(timeout=0.5) as s, pytest.raises(SourceUnavailable) as info:
        s.query("SELECT 1")
    assert info.value.message == (
        f"Redash failed on job {JID}: HTTP 503 (no details); the server was still unreachable "
        "at the deadline (0.5 s); cancelling the remote job failed: Redash failed on cancelling "
        f"job {JID}: HTTP 500 (busy; try later)"
    )


def test_the_re_post_for_an_unreadable_result_is_logged_bounded_and_resent_widened(
    mock: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    add_saved_job(mock)
    mock.post(f"{BASE}/api/queries/5/results", status=503, body="busy")
    mock.post(f"{BASE}/api/queries/5/results", json=result_body("SELECT 1", rid=50))
    caplog.set_level(logging.DEBUG, logger="thsources.sources.redash")
    with make_source(timeout=20) as s:
        assert s.run_saved(5).records() == [{"n": 1}]
        sent = read_timeouts(s)
    assert "result 50 is not readable with this key; re-posting for it" in [
        r.getMessage() for r in caplog.records
    ]
    assert all(t <= 25 for _, _, t in sent), sent
    posts = [b for m, _, b in calls(mock) if m == "POST"]
    assert len(posts) == 3 and [b["max_age"] >= 1 for b in posts] == [False, True, True]


# -- the re-run under a text of its own (RedashJob._rerun) ------------------------------------

RERUN_NOTE: Final = (
    "Redash answered with the result of another text sharing its cache key; "
    "run again under a text of its own"
)


def echo_marked(mock: responses.RequestsMock, rid: int) -> None:
    """Answer GET of result ``rid`` with the text of the last POST (the marked re-run)."""

    def echo(request: Any) -> tuple[int, dict[str, str], bytes]:
        sent = [orjson.loads(c.request.body) for c in mock.calls if c.request.method == "POST"]
        return (
            200,
            {"Content-Type": "application/json"},
            orjson.dumps(result_body(sent[-1]["query"], rid)),
        )

    mock.add_callback(responses.GET, f"{BASE}/api/query_results/{rid}.json", callback=echo)


def test_a_fetched_result_of_another_text_is_run_again_fresh_and_says_so(
    src: RedashSource, mock: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(3, 270))
    mock.get(f"{BASE}/api/query_results/270.json", json=result_body("SELECT  1 /* other */"))
    mock.post(f"{BASE}/api/query_results", json=job(1, jid="job-2"))
    mock.get(f"{BASE}/api/jobs/job-2", json=job(3, 271, jid="job-2"))
    echo_marked(mock, 271)
    caplog.set_level(logging.DEBUG, logger="thsources.sources.redash")
    res = src.query("SELECT 1")
    assert res.records() == [{"n": 1}]
    assert (res.meta.cached, res.meta.job_id, res.meta.result_id) == (False, "job-2", 271)
    assert res.meta.extra["recovered"] == RERUN_NOTE
    rerun = [b for m, _, b in calls(mock) if m == "POST"][1]
    assert set(rerun) == {"data_source_id", "query", "max_age", "parameters"}
    assert rerun["max_age"] == 0
    assert re.fullmatch(r"-- thsources run [0-9a-f]{16}\nSELECT 1", rerun["query"])
    assert (
        f"job {JID}: Redash answered for another text ('SELECT  1 /* other */'); running it again"
        in [r.getMessage() for r in caplog.records]
    )


def test_a_re_run_answered_from_the_cache_is_still_not_cached(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    """The re-run's text is new: a result it is answered with was computed for it now."""

    def answer(request: Any) -> tuple[int, dict[str, str], bytes]:
        sent = orjson.loads(request.body)["query"]
        body = result_body("SELECT  1 /* other */" if sent == "SELECT 1" else sent)
        return 200, {"Content-Type": "application/json"}, orjson.dumps(body)

    mock.add_callback(responses.POST, f"{BASE}/api/query_results", callback=answer)
    res = src.query("SELECT 1", max_age=60)
    assert res.meta.cached is False
    assert res.meta.extra["recovered"] == RERUN_NOTE


def test_another_texts_result_after_the_re_run_names_the_job(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(3, 270))
    mock.get(f"{BASE}/api/query_results/270.json", json=result_body("SELECT  1 /* a */"))
    mock.post(f"{BASE}/api/query_results", json=result_body("SELECT  1 /* b */"))
    with pytest.raises(ProtocolError) as info:
        src.query("SELECT 1")
    assert (info.value.source, info.value.job_id) == ("stmo", JID)
    assert info.value.message.endswith(": 'SELECT  1 /* b */'")


def test_a_text_of_121_characters_is_cut_in_the_message(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    ran = "SELECT " + "z" * 114
    mock.post(f"{BASE}/api/query_results", json=result_body(ran))
    with pytest.raises(ProtocolError) as info:
        src.query("SELECT 1")
    assert info.value.message.endswith(": " + repr(ran[:117] + "..."))


def test_a_re_run_post_resent_after_a_gateway_error_covers_the_re_run(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=result_body("SELECT  1 /* other */"))
    mock.post(f"{BASE}/api/query_results", status=503, body="busy")
    mock.post(f"{BASE}/api/query_results", json=job(1, jid="job-2"))
    handle = src.submit("SELECT 1")
    assert handle.id == "job-2"
    first, rerun, resent = (b for m, _, b in calls(mock) if m == "POST")
    assert first["query"] == "SELECT 1"
    assert rerun["max_age"] == 0 and rerun["query"] == resent["query"]
    assert 1 <= resent["max_age"] <= 5  # reaches back to the re-run, not to the epoch


def test_a_re_run_failing_without_a_message_is_re_posted_within_the_deadline(
    mock: responses.RequestsMock,
) -> None:
    mock.post(f"{BASE}/api/query_results", json=result_body("SELECT  1 /* other */"))
    mock.post(f"{BASE}/api/query_results", json=job(4, error=""))
    mock.post(f"{BASE}/api/query_results", json=job(1, jid="job-2"))
    with make_source(timeout=20) as s:
        assert s.submit("SELECT 1").id == "job-2"
        sent = read_timeouts(s)
    assert [m for m, _, _ in sent] == ["GET", "POST", "POST", "POST"]
    assert all(t <= 25 for _, _, t in sent), sent


def test_a_re_run_answered_with_its_own_result_is_returned_at_once(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(3, 270))
    mock.get(f"{BASE}/api/query_results/270.json", json=result_body("SELECT  1 /* other */"))

    def answer(request: Any) -> tuple[int, dict[str, str], bytes]:
        sent = orjson.loads(request.body)["query"]
        return 200, {"Content-Type": "application/json"}, orjson.dumps(result_body(sent, 272))

    mock.add_callback(responses.POST, f"{BASE}/api/query_results", callback=answer)
    res = src.query("SELECT 1")
    assert (res.meta.result_id, res.meta.cached, res.meta.job_id) == (272, False, JID)
    assert res.meta.extra["recovered"] == RERUN_NOTE
    assert [(m, p) for m, p, _ in calls(mock)][-2:] == [
        ("GET", "/api/query_results/270.json"),
        ("POST", "/api/query_results"),
    ]


def test_a_re_run_answered_by_a_finished_job_fetches_its_result_at_once(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(3, 270))
    mock.get(f"{BASE}/api/query_results/270.json", json=result_body("SELECT  1 /* other */"))
    mock.post(f"{BASE}/api/query_results", json=job(3, 273, jid="job-2"))
    echo_marked(mock, 273)
    res = src.query("SELECT 1")
    assert (res.meta.result_id, res.meta.job_id) == (273, "job-2")
    assert [(m, p) for m, p, _ in calls(mock)][-3:] == [
        ("GET", "/api/query_results/270.json"),
        ("POST", "/api/query_results"),
        ("GET", "/api/query_results/273.json"),
    ]


def test_a_saved_querys_result_missing_for_another_reason_is_not_found(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    """Only Redash's "No cached result found" means the key may not read it: re-post then."""
    add_saved_job(mock)
    mock.replace(
        responses.GET,
        f"{BASE}/api/queries/5/results/50.json",
        status=404,
        json={"message": "no cached result found"},
    )
    with pytest.raises(NotFound) as info:
        src.run_saved(5)
    assert "result 50" in info.value.message
    assert [m for m, _, _ in calls(mock)].count("POST") == 1


def test_result_asked_again_after_a_failed_re_run_says_what_happened(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    """The re-run's POST fails; asking again polls the first job and names the other text."""
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(3, 270))
    mock.get(f"{BASE}/api/query_results/270.json", json=result_body("SELECT  1 /* other */"))
    mock.post(f"{BASE}/api/query_results", status=400, json={"message": "bad"})
    mock.delete(f"{BASE}/api/jobs/{JID}", status=403, json={"message": "no"})
    handle = src.submit("SELECT 1")
    with pytest.raises(SourceError) as first:
        handle.result()
    assert first.value.message == "Redash rejected the query (HTTP 400): bad"
    with pytest.raises(ProtocolError) as second:
        handle.result()
    assert second.value.message.endswith(": 'SELECT  1 /* other */'")
    assert [(m, p) for m, p, _ in calls(mock)][-3:] == [
        ("GET", f"/api/jobs/{JID}"),
        ("GET", "/api/query_results/270.json"),
        ("DELETE", f"/api/jobs/{JID}"),
    ]


def test_a_re_post_for_an_unreadable_result_failing_without_a_message_stays_bounded(
    mock: responses.RequestsMock,
) -> None:
    add_saved_job(mock)
    mock.post(f"{BASE}/api/queries/5/results", json=job(4, error="", jid="job-2"))
    mock.post(f"{BASE}/api/queries/5/results", json=result_body("SELECT 1", rid=50))
    with make_source(timeout=20) as s:
        assert s.run_saved(5).records() == [{"n": 1}]
        sent = read_timeouts(s)
    assert [m for m, _, _ in sent].count("POST") == 3
    assert all(t <= 25 for _, _, t in sent), sent


def progress_of_saved_run(src: RedashSource) -> list[tuple[JobState, str | None]]:
    events: list[Progress] = []
    src.run_saved(5, progress=events.append)
    return [(e.state, e.job_id) for e in events]


def test_a_result_picked_up_by_the_re_post_is_reported_done_at_once(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_saved_job(mock)
    mock.post(f"{BASE}/api/queries/5/results", json=result_body("SELECT 1", rid=50))
    assert progress_of_saved_run(src) == [(JobState.DONE, JID)]


def test_a_job_answering_the_re_post_is_reported_running_under_its_id(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_saved_job(mock)
    mock.post(f"{BASE}/api/queries/5/results", json=job(2, jid="job-2"))
    mock.get(f"{BASE}/api/queries/5/jobs/job-2", json=job(3, 51, jid="job-2"))
    mock.get(f"{BASE}/api/queries/5/results/51.json", json=result_body("SELECT 1", rid=51))
    assert progress_of_saved_run(src) == [
        (JobState.RUNNING, "job-2"),
        (JobState.DONE, "job-2"),
    ]


def test_a_result_answered_with_a_redirect_is_an_error_naming_the_url(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(3, 270))
    mock.get(f"{BASE}/api/query_results/270.json", status=300, json={"message": "elsewhere"})
    with pytest.raises(ProtocolError) as info:
        src.query("SELECT 1")
    assert info.value.message == (
        f"GET {BASE}/api/query_results/270.json was redirected (HTTP 300) to elsewhere; the URL "
        "is probably wrong (http instead of https, or a missing path prefix?)"
    )


def test_a_re_run_after_a_fetched_result_of_another_text_stays_within_the_deadline(
    mock: responses.RequestsMock,
) -> None:
    mock.post(f"{BASE}/api/query_results", json=job(1))
    mock.get(f"{BASE}/api/jobs/{JID}", json=job(3, 270))
    mock.get(f"{BASE}/api/query_results/270.json", json=result_body("SELECT  1 /* other */"))
    mock.post(f"{BASE}/api/query_results", json=job(3, 273, jid="job-2"))
    echo_marked(mock, 273)
    with make_source(timeout=20) as s:
        assert s.query("SELECT 1").meta.result_id == 273
        sent = read_timeouts(s)
    assert [(m, p) for m, p, _ in sent][-2:] == [
        ("POST", "/api/query_results"),
        ("GET", "/api/query_results/273.json"),
    ]
    assert all(t <= 25 for _, _, t in sent), sent
