"""The ``redash`` source against the Redash emulator: real sockets on 127.0.0.1, real jobs.

Jobs run on background workers, so these tests wait for real (every wait is bounded by a
deadline; no test asserts how long anything took). SQL containing ``AS slow`` is given a
30-second job by the emulator, for the cancel tests.
"""

from __future__ import annotations

import _thread
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from secret_watch import SecretWatch

import thsources
from thsources.errors import (
    AuthenticationError,
    NotFound,
    ParameterError,
    PermissionDenied,
    ProtocolError,
    QueryError,
    QueryTimeout,
    SourceUnavailable,
)
from thsources.http import RetryPolicy, user_agent
from thsources.polling import PollSchedule, Progress
from thsources.sources.base import JobState
from thsources.sources.redash import RedashSource
from thsources.testing import DataSource, RedashEmulator, SavedQuery, User

KEY: Final = "InTeGrAtIoNkEy0123456789abcdefghijKLMNOP"
SLOW: Final = "AS slow"  # not a trailing comment: Redash strips those before running
POLL: Final = PollSchedule(first=0.005, factor=0.1, cap=0.05)
RETRY: Final = RetryPolicy(attempts=4, initial=0.01, maximum=0.05)
WAIT: Final = 20.0  # the bound on every wait: far above what any step needs

WATCH = SecretWatch(KEY)
SEEN = WATCH.seen
remember = WATCH.remember
raises = WATCH.raises


@pytest.fixture(autouse=True)
def _no_key_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    yield from WATCH.check_logs(caplog)


def _duration(sql: str) -> float | None:
    return 30.0 if SLOW in sql else None


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[RedashEmulator]:
    with RedashEmulator(
        users=[User(api_key=KEY)],
        data_sources=[DataSource(1, "Treeherder"), DataSource(2, "Treeherder MySQL", "mysql")],
        duration_for=_duration,
        workers=3,
    ) as emulator:
        yield emulator


def source(emu: RedashEmulator, **options: Any) -> RedashSource:
    kwargs: dict[str, Any] = {
        "url": emu.url,
        "api_key": KEY,
        "data_source": "Treeherder",
        "poll": POLL,
        "retry": RETRY,
        "timeout": WAIT,
    }
    kwargs.update(options)
    src = RedashSource(**kwargs)
    remember(repr(src), src.describe())
    return src


@pytest.fixture
def src(emu: RedashEmulator) -> Iterator[RedashSource]:
    with source(emu) as s:
        yield s


def seen(emu: RedashEmulator, method: str | None = None) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in emu.requests if method is None or r.method == method]


def only_job(emu: RedashEmulator) -> str:
    (jid,) = emu.jobs
    return jid


# -- the basics --------------------------------------------------------------------------------


def test_query_end_to_end_over_real_http(src: RedashSource, emu: RedashEmulator) -> None:
    res = src.query("SELECT id, revision, time FROM push ORDER BY id LIMIT 3")
    assert len(res) == 3
    assert [c.name for c in res.columns] == ["id", "revision", "time"]
    assert res.columns[2].type == "datetime"
    assert res.columns[0].type == "integer"
    assert res.meta.job_id in emu.jobs and res.meta.result_id in emu.result_ids
    assert res.meta.cached is False and res.meta.retrieved_at is not None
    jid = res.meta.job_id
    assert seen(emu)[:2] == [("GET", "/api/data_sources"), ("POST", "/api/query_results")]
    assert seen(emu)[-1] == ("GET", f"/api/query_results/{res.meta.result_id}.json")
    assert set(seen(emu)[2:-1]) == {("GET", f"/api/jobs/{jid}")}
    for r in emu.requests:
        assert r.headers["Authorization"] == f"Key {KEY}"
        assert r.headers["User-Agent"] == user_agent()
        assert "api_key" not in r.query
    post = next(r for r in emu.requests if r.method == "POST")
    assert post.json["max_age"] == 0 and post.json["parameters"] == {}


def test_connect_by_kind(emu: RedashEmulator) -> None:
    with thsources.connect("redash", url=emu.url + "/api/", api_key=KEY, data_source=1) as s:
        assert s.query("SELECT 1 AS one").records() == [{"one": 1}]


def test_both_answer_shapes(src: RedashSource, emu: RedashEmulator, no_result_cache: None) -> None:
    sql = "SELECT count(*) AS n FROM job"
    first = src.query(sql, max_age=3600)  # nothing cached yet: a job
    second = src.query(sql, max_age=3600)  # the same SQL again: the query_result answer
    assert first.meta.cached is False and second.meta.cached is True
    assert second.meta.job_id is None and second.meta.result_id == first.meta.result_id
    assert first.records() == second.records()
    assert emu.executions == 1 and emu.cache_hits == 1
    fresh = src.query(sql)  # max_age=0 runs again
    assert fresh.meta.cached is False and emu.executions == 2


def test_job_handle(src: RedashSource, emu: RedashEmulator) -> None:
    job = src.submit("SELECT 42 AS answer")
    assert job.id in emu.jobs
    assert job.state in (JobState.QUEUED, JobState.RUNNING, JobState.DONE)
    assert job.result(timeout=WAIT).records() == [{"answer": 42}]
    assert job.state is JobState.DONE
    remember(repr(job))


def test_progress_events(src: RedashSource, emu: RedashEmulator) -> None:
    emu.job_duration = 0.2
    events: list[Progress] = []
    src.query("SELECT 1 AS x", progress=events.append)
    assert events and events[-1].state is JobState.DONE
    assert {e.state for e in events} <= {JobState.QUEUED, JobState.RUNNING, JobState.DONE}
    assert [e.polls for e in events] == list(range(1, len(events) + 1))


def test_shared_source_from_threads(src: RedashSource, emu: RedashEmulator) -> None:
    out: dict[int, Any] = {}
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            out[i] = src.query(f"SELECT {i} AS i").records()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert not errors
    assert out == {i: [{"i": i}] for i in range(6)}


# -- parameters, quoting, Mustache -------------------------------------------------------------

TRICKY: Final = ["O'Brien", "x' OR '1'='1", "{{ x }}", "a\\'b", "{{=<% %>=}}", "<% y %>", "\n"]


@pytest.mark.parametrize("value", TRICKY)
def test_adhoc_values_arrive_as_one_literal(src: RedashSource, value: str) -> None:
    res = src.query("SELECT :v AS v, '{{ not_a_param }}' AS w", {"v": value})
    assert res.records() == [{"v": value, "w": "{{ not_a_param }}"}]


def test_injection_attempt_matches_nothing(src: RedashSource) -> None:
    res = src.query("SELECT count(*) AS n FROM push WHERE author = :a", {"a": "x' OR '1'='1"})
    assert res.records() == [{"n": 0}]


def test_saved_query_with_tricky_text_values(src: RedashSource, emu: RedashEmulator) -> None:
    for value in ("O'Brien", "x' OR '1'='1", "{{ repo }}"):
        res = src.run_saved(1, {"repo": value})
        assert len(res) == 0, value  # one literal: no such repository, no error, no injection
    assert len(src.run_saved(1, {"repo": "autoland"})) > 0
    posted = [r.json["parameters"]["repo"] for r in emu.requests if r.method == "POST"]
    assert posted == ["O''Brien", "x'' OR ''1''=''1", "{{ repo }}", "autoland"]


def test_saved_query_defaults_numbers_enums_dates(src: RedashSource, emu: RedashEmulator) -> None:
    assert len(src.run_saved(1)) > 0  # the stored default, applied client-side
    by_push = src.run_saved(2, {"push_id": "1650001"})
    assert by_push.column_names == ["id", "guid", "result"]
    busted = src.run_saved(3, {"result": "busted"})
    assert {r["result"] for r in busted} <= {"busted"}
    several = src.run_saved(7, {"results": ["busted", "retry"]})
    assert {r["result"] for r in several} <= {"busted", "retry"}
    src.run_saved(4, {"period": "d_last_30_days"})
    src.run_saved(4, {"period": ("2024-01-01", "2024-12-31")})
    bodies = [r.json for r in emu.requests if r.method == "POST"]
    assert bodies[0] == {"parameters": {"repo": "mozilla-central"}, "max_age": 0}
    assert bodies[1]["parameters"] == {"push_id": 1650001}
    assert bodies[3]["parameters"] == {"results": ["busted", "retry"]}
    assert set(bodies[4]["parameters"]["period"]) == {"start", "end"}
    jobs = [p for m, p in seen(emu, "GET") if "/jobs/" in p]
    assert jobs and all(p.startswith("/api/queries/") for p in jobs)


def test_saved_query_parameter_errors(src: RedashSource, emu: RedashEmulator) -> None:
    with raises(ParameterError, match="no stored default"):
        src.run_saved(5)
    with raises(ParameterError, match="not among the options"):
        src.run_saved(3, {"result": "exception"})
    assert not seen(emu, "POST")
    # The dropdown's source query has never run: the server refuses (message-shaped 400).
    with raises(ParameterError, match="incompatible with their definitions: repo"):
        src.run_saved(8)
    src.run_saved(6)
    assert len(src.run_saved(8, {"repo": "autoland"})) > 0


def test_saved_query_with_its_own_api_key(emu: RedashEmulator) -> None:
    qkey = emu.saved_queries[2].api_key
    assert qkey is not None
    with source(emu, api_key=qkey, data_source=None) as s:
        res = s.run_saved(2, {"push_id": 1650001})
        assert res.column_names == ["id", "guid", "result"]
        with raises(AuthenticationError, match="query API key"):
            s.query("SELECT 1")
    gets = [p for m, p in seen(emu, "GET")]
    assert "/api/data_sources/1" in gets  # tried, refused: the dialect stays unknown
    assert any(p.startswith("/api/queries/2/jobs/") for p in gets)
    assert not any(p.startswith("/api/jobs/") for p in gets)


def test_wrong_key(emu: RedashEmulator) -> None:
    with source(emu, api_key="not-the-key") as s, raises(AuthenticationError):
        s.query("SELECT 1")


def test_unknown_saved_query(src: RedashSource) -> None:
    with raises(NotFound):
        src.run_saved(999)


# -- query failures ----------------------------------------------------------------------------


def test_sql_error_is_a_query_error_with_the_database_message(
    src: RedashSource, emu: RedashEmulator
) -> None:
    with raises(QueryError) as info:
        src.query("SELECT nosuchcol FROM job")
    assert type(info.value) is QueryError
    assert "nosuchcol" in info.value.message
    assert "Username:" not in info.value.message and "Scheduled:" not in info.value.message
    assert info.value.job_id in emu.jobs
    assert not seen(emu, "DELETE")


def test_mysql_data_source(emu: RedashEmulator) -> None:
    """The emulator runs every data source on DuckDB: MySQL quoting is checked as sent."""
    with source(emu, data_source="Treeherder MySQL") as s:
        assert s.dialect == "mysql"
        assert s.query("SELECT :n AS n", {"n": 7}).records() == [{"n": 7}]
        with raises(QueryError):
            s.query("SELECT :v AS v", {"v": "it's"})  # DuckDB does not read MySQL hex strings
    posts = [r.json for r in emu.requests if r.method == "POST"]
    assert posts[-1]["data_source_id"] == 2
    assert posts[-1]["query"] == "SELECT _utf8mb4 X'69742773' AS v"


def test_paused_data_source_is_unavailable(src: RedashSource, emu: RedashEmulator) -> None:
    emu.data_sources[1].paused = True
    with raises(SourceUnavailable, match="paused"):  # a job-shaped 400
        src.query("SELECT 1")


def test_view_only_access_is_permission_denied(src: RedashSource, emu: RedashEmulator) -> None:
    emu.data_sources[1].view_only = True
    with raises(PermissionDenied, match="permission"):  # a job-shaped 403
        src.query("SELECT 1")


# -- deadlines, Ctrl-C, cancellation -----------------------------------------------------------


def test_deadline_cancels_the_remote_job(src: RedashSource, emu: RedashEmulator) -> None:
    with raises(QueryTimeout, match="was cancelled") as info:
        src.query(f"SELECT 1 {SLOW}", timeout=2.0)
    jid = info.value.job_id
    assert ("DELETE", f"/api/jobs/{jid}") in seen(emu)
    assert emu.jobs[jid].state == "cancelled"


def test_ctrl_c_from_a_callback_cancels_the_remote_job(
    src: RedashSource, emu: RedashEmulator
) -> None:
    def progress(event: Progress) -> None:
        if event.polls >= 3:
            raise KeyboardInterrupt

    with raises(KeyboardInterrupt):
        src.query(f"SELECT 2 {SLOW}", progress=progress)
    jid = only_job(emu)
    assert seen(emu, "DELETE") == [("DELETE", f"/api/jobs/{jid}")]
    assert emu.jobs[jid].state == "cancelled"


def test_real_interrupt_of_the_main_thread_cancels_the_remote_job(
    src: RedashSource, emu: RedashEmulator
) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("KeyboardInterrupt is delivered to the main thread only")
    polling = threading.Event()

    def interrupt() -> None:
        if polling.wait(WAIT):
            _thread.interrupt_main()

    helper = threading.Thread(target=interrupt, daemon=True)
    helper.start()
    try:
        with raises(KeyboardInterrupt):
            src.query(f"SELECT 3 {SLOW}", progress=lambda e: polling.set())
    finally:
        polling.set()
        helper.join(WAIT)
    jid = only_job(emu)
    assert ("DELETE", f"/api/jobs/{jid}") in seen(emu)
    assert emu.jobs[jid].state == "cancelled"


def test_job_cancel_then_result(src: RedashSource, emu: RedashEmulator) -> None:
    job = src.submit(f"SELECT 4 {SLOW}")
    job.cancel()
    assert job.state is JobState.CANCELLED
    assert emu.jobs[job.id or ""].state == "cancelled"
    with raises(thsources.QueryCancelled):
        job.result(timeout=WAIT)


def test_cancelled_by_someone_else(src: RedashSource, emu: RedashEmulator) -> None:
    job = src.submit(f"SELECT 5 {SLOW}")
    other = source(emu)  # another user sharing the merged job cancels it
    other.submit(f"SELECT 5 {SLOW}").cancel()
    with raises(thsources.QueryCancelled, match="cancelled on the server"):
        job.result(timeout=WAIT)


def test_slow_answer_past_the_deadline(src: RedashSource, emu: RedashEmulator) -> None:
    job = src.submit(f"SELECT 6 {SLOW}")
    emu.faults.slow, emu.faults.slow_seconds = 1, 3.0
    emu.faults.match_path, emu.faults.match_method = "/api/jobs/", "GET"
    with raises(QueryTimeout):
        job.result(timeout=1.0)
    assert ("DELETE", f"/api/jobs/{job.id}") in seen(emu)


def test_deadline_passing_during_the_post_still_cancels(
    src: RedashSource, emu: RedashEmulator
) -> None:
    assert src.dialect == "postgresql"  # the data source is looked up before the clock runs
    emu.faults.slow, emu.faults.slow_seconds = 1, 1.5
    emu.faults.match_path, emu.faults.match_method = "^/api/query_results$", "POST"
    with raises(QueryTimeout, match="was cancelled") as info:
        src.query(f"SELECT 15 {SLOW}", timeout=0.5)
    jid = only_job(emu)
    assert info.value.job_id == jid
    assert ("DELETE", f"/api/jobs/{jid}") in seen(emu)
    assert emu.jobs[jid].state == "cancelled"


def test_a_query_key_cannot_cancel(emu: RedashEmulator) -> None:
    query = emu.add_saved_query(
        SavedQuery(
            id=30,
            name="slow",
            query=f"SELECT {{{{ n }}}} AS n {SLOW}",
            parameters=[{"name": "n", "type": "number", "title": "n", "value": 1}],
        )
    )
    assert query.api_key is not None
    with source(emu, api_key=query.api_key, data_source=None) as s:
        with raises(QueryTimeout, match="could not be cancelled"):
            s.run_saved(30, timeout=2.0)
        job = s.submit_saved(30, {"n": 2})
        with raises(PermissionDenied, match="cannot cancel"):
            job.cancel()
    assert ("DELETE", f"/api/jobs/{job.id}") in seen(emu)
    assert emu.jobs[job.id or ""].state in ("queued", "started")  # still there: say so, docs too


# -- server anomalies and faults ---------------------------------------------------------------


def test_null_result_id_race(src: RedashSource, emu: RedashEmulator) -> None:
    emu.faults.null_result_id_polls = 3
    res = src.query("SELECT 7 AS x")
    assert res.records() == [{"x": 7}]
    polls = [p for m, p in seen(emu, "GET") if p.startswith("/api/jobs/")]
    assert len(polls) >= 4


def test_empty_error_status_4_is_recovered(src: RedashSource, emu: RedashEmulator) -> None:
    emu.faults.empty_error_jobs = 1
    emu.job_duration = 0.1
    res = src.query("SELECT 8 AS x")
    assert res.records() == [{"x": 8}]
    assert "without a message" in res.meta.extra["recovered"]
    posts = [r.json for r in emu.requests if r.method == "POST"]
    assert len(posts) == 2 and posts[1]["max_age"] >= 1


def test_lost_job_500_is_recovered(src: RedashSource, emu: RedashEmulator) -> None:
    emu.job_duration = 0.1
    emu.faults.job_lost_polls = 1
    res = src.query("SELECT 9 AS x")
    assert res.records() == [{"x": 9}]
    assert len(seen(emu, "POST")) == 2
    assert emu.executions == 1  # the re-post joined the job or picked up its result


def test_expired_job_is_recovered(src: RedashSource, emu: RedashEmulator) -> None:
    emu.faults.hold_queue = True
    job = src.submit("SELECT 10 AS x")
    emu.expire_job(job.id or "")
    emu.faults.hold_queue = False
    assert job.result(timeout=WAIT).records() == [{"x": 10}]


def test_html_200_on_the_post_means_a_wrong_url(src: RedashSource, emu: RedashEmulator) -> None:
    emu.faults.html_200, emu.faults.match_method = 1, "POST"
    with raises(ProtocolError, match="URL is probably wrong"):
        src.query("SELECT 1")


def test_html_200_on_a_poll_cancels_the_job(src: RedashSource, emu: RedashEmulator) -> None:
    emu.faults.html_200, emu.faults.match_path = 1, "^/api/jobs/"
    emu.faults.match_method = "GET"
    with raises(ProtocolError, match="text/html"):
        src.query(f"SELECT 11 {SLOW}")
    jid = only_job(emu)
    assert ("DELETE", f"/api/jobs/{jid}") in seen(emu)


def test_html_502_on_polls_is_retried(src: RedashSource, emu: RedashEmulator) -> None:
    emu.faults.html_502, emu.faults.match_path = 2, "^/api/jobs/"
    assert src.query("SELECT 12 AS x").records() == [{"x": 12}]


def test_html_502_for_good_is_source_unavailable(src: RedashSource, emu: RedashEmulator) -> None:
    emu.faults.html_502, emu.faults.match_path = 100, "^/api/query_results$"
    with raises(SourceUnavailable, match="502"):
        src.query("SELECT 1")
    assert len(seen(emu, "POST")) == RETRY.attempts


def test_connection_reset_on_the_post(src: RedashSource, emu: RedashEmulator) -> None:
    emu.faults.resets, emu.faults.match_method = 1, "POST"
    assert src.query("SELECT 13 AS x").records() == [{"x": 13}]
    posts = [r.json for r in emu.requests if r.method == "POST"]
    assert len(posts) == 2 and posts[1]["max_age"] >= 1
    assert emu.executions == 1


def test_connection_resets_on_gets(src: RedashSource, emu: RedashEmulator) -> None:
    emu.faults.resets, emu.faults.match_method = 2, "GET"
    assert src.query("SELECT 14 AS x").records() == [{"x": 14}]


def test_server_gone(emu: RedashEmulator) -> None:
    s = source(emu)
    emu.stop()
    with raises(SourceUnavailable, match="cannot talk to 127.0.0.1"):
        s.query("SELECT 1")


# -- the key, everywhere -----------------------------------------------------------------------


def test_zz_the_key_appears_nowhere() -> None:
    if len(SEEN) < 50:  # run alone (or split across workers): each test checked its own
        pytest.skip("needs the rest of the module to have run first")
    assert len(SEEN) > 100
    assert any("127.0.0.1" in t for t in SEEN)
    assert not [t for t in SEEN if KEY in t]


# -- text arrays (issue 7 §2) ---------------------------------------------------------------------


def test_a_text_array_arrives_as_a_list_like_on_local(
    src: RedashSource, emu: RedashEmulator
) -> None:
    sql = (
        "SELECT repository_id, array_agg(DISTINCT author ORDER BY author) AS authors FROM push "
        "WHERE id IN (SELECT id FROM push ORDER BY id LIMIT 40) GROUP BY repository_id "
        "ORDER BY repository_id"
    )
    res = src.query(sql)
    raw = next(r for r in emu.requests if r.path.startswith("/api/query_results/"))
    served = emu._result(res.meta.result_id).data()  # type: ignore[arg-type]
    # The server labels the text[] column "string" (as the pg runner does) and sends lists.
    assert served["columns"][1]["type"] == "string" and raw.status == 200
    assert isinstance(served["rows"][0]["authors"], list)
    assert res.columns[1].type == "json"
    with thsources.connect("local") as local:
        assert res.records() == local.query(sql).records()
    assert all(isinstance(r["authors"], list) for r in res.records())


# -- a web server restart while a job is waited on (issue 7 §3) ----------------------------------


def test_a_web_outage_during_the_wait_is_ridden_out(src: RedashSource, emu: RedashEmulator) -> None:
    job = src.submit("SELECT 21 AS x, pg_sleep(1.5) AS slept")
    back = emu.restart_web(down=2.0)  # longer than the session's own retries last
    assert job.result().records() == [{"x": 21, "slept": ""}]
    back.join()
    assert emu.web_restarts == 1
    assert len(seen(emu, "POST")) == 1 and emu.executions == 1
    assert ("DELETE", f"/api/jobs/{job.id}") not in seen(emu)


def test_a_server_that_never_comes_back_is_unavailable(
    src: RedashSource, emu: RedashEmulator
) -> None:
    job = src.submit(f"SELECT 22 {SLOW}")
    emu.restart_web(down=60.0)
    with raises(SourceUnavailable, match="still unreachable at the deadline") as info:
        job.result(timeout=1.0)
    assert "cancelling the remote job failed" in info.value.message
    assert info.value.job_id == job.id


def test_back_in_time_but_still_running_is_a_timeout_and_a_cancel(
    src: RedashSource, emu: RedashEmulator
) -> None:
    job = src.submit(f"SELECT 23 {SLOW}")
    emu.restart_web(down=0.5).join()
    with raises(QueryTimeout, match="was cancelled"):
        job.result(timeout=1.5)
    assert ("DELETE", f"/api/jobs/{job.id}") in seen(emu)
    assert emu.jobs[job.id].state == "cancelled"


def test_the_annotation_tail_is_cut_from_an_excerpt(src: RedashSource) -> None:
    sql = "SELECT 1, 1, nosuchcol, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 FROM job"
    with raises(QueryError) as info:
        src.query(sql)
    head, line, caret = info.value.message.split("\n")
    assert head == 'column "nosuchcol" does not exist'
    assert line.startswith("LINE 1: SELECT 1, 1, nosuchcol") and "*/" not in line
    assert line[caret.index("^") :].startswith("nosuchcol")


# -- enum and dropdown values the server would paste into quotes (issue 7 §4) -------------------


def test_an_enum_option_with_a_quote_is_refused_before_sending(
    src: RedashSource, emu: RedashEmulator
) -> None:
    options = "plain\nO'Brien"
    emu.add_saved_query(
        SavedQuery(
            30,
            "by author (enum)",
            "SELECT count(*) AS n FROM push WHERE author = '{{ who }}'",
            [{"name": "who", "type": "enum", "title": "who", "enumOptions": options}],
        )
    )
    emu.add_saved_query(
        SavedQuery(
            31,
            "by authors (multi enum)",
            "SELECT count(*) AS n FROM push WHERE author IN ({{ who }})",
            [
                {
                    "name": "who",
                    "type": "enum",
                    "title": "who",
                    "enumOptions": options,
                    "multiValuesOptions": {"prefix": "'", "suffix": "'", "separator": ","},
                }
            ],
        )
    )
    emu.add_saved_query(
        SavedQuery(
            32,
            "by author (dropdown)",
            "SELECT count(*) AS n FROM push WHERE author = '{{ who }}'",
            [{"name": "who", "type": "query", "title": "who", "queryId": 6}],
        )
    )
    for qid, value in ((30, "O'Brien"), (31, ["plain", "O'Brien"]), (32, "O'Brien")):
        with raises(ParameterError, match="author must change the option") as info:
            src.run_saved(qid, {"who": value})
        assert "cannot be escaped" in info.value.message
    assert not seen(emu, "POST")  # nothing was sent
    assert src.run_saved(30, {"who": "plain"}).records() == [{"n": 0}]
    assert src.run_saved(31, {"who": ["plain"]}).records() == [{"n": 0}]


# -- a URL that is not Redash (issue 7 §4) --------------------------------------------------------


def test_a_plain_web_server_is_not_redash(tmp_path: Path) -> None:
    import http.server

    class Quiet(http.server.SimpleHTTPRequestHandler):
        """Serves an empty folder: a 404 HTML page for every path."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with (
            RedashSource(url=url, api_key=KEY, retry=RETRY) as s,
            raises(ProtocolError, match="does not look like a Redash server") as info,
        ):
            s.query("SELECT 1")
        assert "HTTP 404 with text/html" in info.value.message
        assert info.value.status_code == 404
    finally:
        server.shutdown()
        server.server_close()


# -- tables() -----------------------------------------------------------------------------------


def test_tables_lists_what_the_database_has(src: RedashSource, emu: RedashEmulator) -> None:
    listed = src.tables()
    pairs = {(r["table_name"], r["column_name"]) for r in listed.records()}
    truth = src.query(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_catalog = 'treeherder'"
    )
    assert pairs == {(r["table_name"], r["column_name"]) for r in truth.records()}
    assert ("push", "revision") in pairs and len(pairs) == len(listed)
    names = [r["table_name"] for r in listed.records()]
    assert names == sorted(names)  # Redash sorts tables (and columns) by name
    assert ("GET", "/api/data_sources/1/schema") in seen(emu)
