"""``thsources.run_many``: several queries at once, answers in completion order, one deadline.

The Redash queries run on the emulator over real HTTP and the local ones on the embedded
sample. Where the order of events matters, a gated source (its queries wait until the test
opens their gate) makes it deterministic: no test depends on how long anything takes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any, Final

import pytest

import thsources
from thsources import Query, many, run_many
from thsources.errors import ParameterError, QueryCancelled, QueryError, QueryTimeout
from thsources.polling import JobState, PollSchedule, Progress, ProgressCallback
from thsources.result import Column, Result, ResultMeta
from thsources.sources.base import CompletedJob, Job, Source
from thsources.sources.redash import RedashSource
from thsources.testing import RedashEmulator, User

KEY: Final = "ManyQueriesKey0123456789abcdefghijKLMNOPQ"
SLOW: Final = "AS slow"
WAIT: Final = 20.0  # the bound on every wait in these tests, far above what any step needs


class Gated(Source):
    """A source whose query ``sql`` returns (or, for ``fail ...``, raises) once its gate is
    open, reporting progress while it waits, as the Redash and local sources do."""

    kind = "gated"

    def __init__(self, gates: Mapping[str, threading.Event]) -> None:
        super().__init__("gated")
        self.gates = gates
        self.started = {sql: threading.Event() for sql in gates}

    def submit(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_age: float = 0,
        timeout: float | None = None,
    ) -> Job:
        return CompletedJob(self.query(sql, params, timeout=timeout))

    def query(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_age: float = 0,
        timeout: float | None = None,
        progress: ProgressCallback | None = None,
    ) -> Result:
        self.started[sql].set()
        end = time.monotonic() + (timeout or WAIT)
        while not self.gates[sql].wait(0.005):
            if time.monotonic() > end:
                raise QueryTimeout(f"{sql} timed out", source=self.name)
            if progress is not None:
                progress(Progress(JobState.RUNNING, 0.0, None, 0, self.name))
        if sql.startswith("fail"):
            raise QueryError(f"{sql} failed on purpose", source=self.name)
        return Result.from_columns([Column("sql", "string")], [[sql]], ResultMeta(source="gated"))


class Stubborn(Gated):
    """A source that can neither be interrupted nor keeps to a deadline (no progress
    callback, no timeout): it answers when its gate opens."""

    def query(  # type: ignore[override]
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_age: float = 0,
        timeout: float | None = None,
    ) -> Result:
        self.started[sql].set()
        assert self.gates[sql].wait(WAIT)
        return Result.from_columns([Column("sql", "string")], [[sql]], ResultMeta(source="x"))


def _duration(sql: str) -> float | None:
    return 30.0 if SLOW in sql else None


@pytest.fixture(scope="module")
def emu() -> Iterator[RedashEmulator]:
    with RedashEmulator(users=[User(api_key=KEY)], duration_for=_duration, workers=4) as e:
        yield e


@pytest.fixture
def redash(emu: RedashEmulator) -> Iterator[RedashSource]:
    emu.clear_requests()
    with RedashSource(
        url=emu.url,
        api_key=KEY,
        data_source="Treeherder",
        poll=PollSchedule(first=0.005, factor=0.1, cap=0.05),
        timeout=WAIT,
    ) as src:
        yield src


@pytest.fixture(scope="module")
def local() -> Iterator[Source]:
    with thsources.connect("local") as src:
        yield src


def deletes(emu: RedashEmulator) -> list[str]:
    return [r.path for r in emu.requests if r.method == "DELETE"]


def wait_for(condition: Any) -> None:
    end = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < end, "the condition never came true"
        time.sleep(0.005)


def polled(emu: RedashEmulator) -> bool:
    return any(r.method == "GET" and r.path.startswith("/api/jobs/") for r in emu.requests)


def test_answers_come_in_completion_order_while_all_run_at_once() -> None:
    gates = {sql: threading.Event() for sql in ("a", "b", "c")}
    src = Gated(gates)
    batch = run_many([Query(sql=s, tag=s.upper(), source=src) for s in "abc"], timeout=WAIT)
    answers = iter(batch)
    for started in src.started.values():  # all three are running before any is answered
        assert started.wait(WAIT)
    order = []
    for sql in ("b", "c", "a"):
        gates[sql].set()
        answer = next(answers)
        order.append(answer.tag)
        assert answer.result().records() == [{"sql": sql}]
        assert answer.query.sql == sql
    assert order == ["B", "C", "A"]
    with pytest.raises(StopIteration):
        next(answers)


def test_mixed_sources_named_and_sql(redash: RedashSource, local: Source) -> None:
    queries = [
        Query("pushes", {"repository": "autoland"}, source=redash, tag="pushes-redash"),
        Query("pushes", {"repository": "autoland"}, source=local, tag="pushes-local"),
        Query(sql="SELECT 2 AS two", source=redash, tag="two"),
    ]
    got = run_many(queries, timeout=WAIT).results()
    assert set(got) == {"pushes-redash", "pushes-local", "two"}
    expected = thsources.run("pushes", {"repository": "autoland"}, source=local)
    assert got["pushes-local"].records() == expected.records()
    assert got["pushes-redash"].records() == expected.records()
    assert got["two"].records() == [{"two": 2}]
    assert got["pushes-redash"].meta.source == redash.name


def test_one_deadline_for_the_lot_cancels_the_slow_job_on_the_server(
    redash: RedashSource, local: Source, emu: RedashEmulator
) -> None:
    queries = [
        Query(sql=f"SELECT 1 {SLOW}", source=redash, tag="slow"),
        Query(sql="SELECT 1 AS fast", source=local, tag="fast"),
    ]
    answers = {a.tag: a for a in run_many(queries, timeout=1.5)}
    assert answers["fast"].result().records() == [{"fast": 1}]
    error = answers["slow"].error
    assert isinstance(error, QueryTimeout)
    assert "the remote job was cancelled" in error.message
    assert deletes(emu) == [f"/api/jobs/{error.job_id}"]


def test_failure_cancels_the_rest_when_asked(redash: RedashSource, emu: RedashEmulator) -> None:
    gates = {"fail now": threading.Event()}
    gated = Gated(gates)
    batch = run_many(
        [
            Query(sql=f"SELECT 1 {SLOW}", source=redash, tag="slow"),
            Query(sql="fail now", source=gated, tag="failing"),
        ],
        timeout=WAIT,
        cancel_on_error=True,
    )
    wait_for(lambda: polled(emu))  # the slow job is running on the server
    gates["fail now"].set()
    seen = []
    with pytest.raises(QueryError, match="fail now failed on purpose"):
        seen.extend(batch)
    assert seen == []  # the slow query's cancellation is not handed out, but kept
    (dropped,) = batch.dropped
    assert dropped.tag == "slow" and isinstance(dropped.error, QueryCancelled)
    assert dropped.error.message == "'slow' was cancelled: 'failing' failed"
    (path,) = deletes(emu)
    assert path.startswith("/api/jobs/")


def test_failure_leaves_the_rest_running_by_default(
    redash: RedashSource, emu: RedashEmulator
) -> None:
    gates = {"fail now": threading.Event()}
    batch = run_many(
        [
            Query(sql="SELECT 3 AS three", source=redash, tag="three"),
            Query(sql="fail now", source=Gated(gates), tag="failing"),
        ],
        timeout=WAIT,
    )
    wait_for(lambda: polled(emu))
    gates["fail now"].set()
    answers = {a.tag: a for a in batch}
    assert isinstance(answers["failing"].error, QueryError)
    with pytest.raises(QueryError, match="fail now failed on purpose"):
        answers["failing"].result()
    assert answers["three"].result().records() == [{"three": 3}]
    assert deletes(emu) == []


def test_cancel_interrupts_a_running_local_query(local: Source) -> None:
    batch = run_many(
        [
            Query(sql="SELECT count(*) FROM generate_series(1, 100000000000)", tag="huge"),
            Query(sql="SELECT nope", tag="bad"),
        ],
        timeout=120,
    )
    answers = iter(batch)
    first = next(answers)
    assert first.tag == "bad" and isinstance(first.error, QueryError)
    batch.cancel()
    second = next(answers)
    assert second.tag == "huge"
    assert isinstance(second.error, QueryCancelled)
    assert second.error.message == "'huge' was cancelled: the batch was cancelled"


def test_leaving_the_loop_cancels_the_remote_job(redash: RedashSource, emu: RedashEmulator) -> None:
    gates = {"quick": threading.Event()}
    gates["quick"].set()
    with run_many(
        [
            Query(sql=f"SELECT 4 {SLOW}", source=redash, tag="slow"),
            Query(sql="quick", source=Gated(gates), tag="quick"),
        ],
        timeout=WAIT,
    ) as batch:
        wait_for(lambda: polled(emu))
        for answer in batch:
            assert answer.tag == "quick"
            break
    (dropped,) = batch.dropped
    assert dropped.error is not None
    assert dropped.error.message == "'slow' was cancelled: the caller stopped reading the answers"
    (path,) = deletes(emu)
    assert path.startswith("/api/jobs/")


def test_a_query_overrunning_the_deadline_is_reported_and_its_late_answer_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(many, "GRACE", 0.2)
    gates = {"stuck": threading.Event(), "fine": threading.Event()}
    gates["fine"].set()
    src = Stubborn(gates)
    batch = run_many([Query(sql=s, tag=s, source=src) for s in ("stuck", "fine")], timeout=0.5)
    answers = iter(batch)
    first = next(answers)
    assert first.tag == "fine" and first.result().records() == [{"sql": "fine"}]
    second = next(answers)
    assert second.tag == "stuck" and isinstance(second.error, QueryTimeout)
    assert second.error.message == "'stuck' did not end within 0.5 s (nor 0.2 s later)"
    gates["stuck"].set()  # it answers after all, too late
    assert list(answers) == []
    assert batch.dropped == []


@pytest.mark.parametrize(
    ("queries", "message"),
    [
        ([], "no queries given: pass at least one Query"),
        (
            [Query(sql="SELECT 1")],
            "query 1 is SQL without a tag: give it tag='...'",
        ),
        (
            [Query("pushes"), Query("pushes")],
            "two queries are tagged 'pushes': give each a distinct tag='...'",
        ),
        (
            [Query("pushes", sql="SELECT 1")],
            "query 1 needs either a named query (name=...) or SQL (sql=...), "
            "not both and not neither",
        ),
        (
            ["pushes"],
            "query 1 is a str, not a thsources.Query; "
            "write Query('name', params) or Query(sql='...', tag='...')",
        ),
    ],
)
def test_bad_batches_are_refused_before_anything_runs(queries: Any, message: str) -> None:
    with pytest.raises(ParameterError) as info:
        run_many(queries)
    assert info.value.message == message


def test_a_bad_timeout_is_refused() -> None:
    with pytest.raises(ParameterError, match="timeout must be a positive number"):
        run_many([Query("pushes")], timeout=0)


def test_a_failing_named_query_is_an_answer_naming_its_tag(local: Source) -> None:
    answers = list(
        run_many(
            [
                Query("pushes", {"repository": "autolnd"}, source=local),
                Query(sql="SELECT 1 AS x", tag="x", source=local),
            ]
        )
    )
    by_tag = {a.tag: a for a in answers}
    assert by_tag["x"].ok and by_tag["x"].result().records() == [{"x": 1}]
    assert not by_tag["pushes"].ok
    assert "autoland" in str(by_tag["pushes"].error)  # close matches, as thsources.run says


def test_profiles_by_name_are_connected_once_and_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[Source] = []
    closed: list[Source] = []
    real = thsources.connect

    def tracking_connect(name: str | None = None, **options: Any) -> Source:
        src = real(name, **options)
        opened.append(src)
        original = src.close

        def close() -> None:
            closed.append(src)
            original()

        src.close = close  # type: ignore[method-assign]
        return src

    monkeypatch.setattr(thsources, "connect", tracking_connect)
    got = run_many(
        [
            Query(sql="SELECT 1 AS a", tag="a", source="local"),
            Query(sql="SELECT 2 AS b", tag="b", source="local"),
        ]
    ).results()
    assert [r.records() for r in (got["a"], got["b"])] == [[{"a": 1}], [{"b": 2}]]
    assert len(opened) == 1 and closed == opened


@pytest.mark.skipif(
    not os.environ.get("THSOURCES_TEST_POSTGRES_URL"), reason="no THSOURCES_TEST_POSTGRES_URL"
)
def test_a_synchronous_source_overlaps_and_keeps_the_deadline() -> None:
    with thsources.connect("sql", url=os.environ["THSOURCES_TEST_POSTGRES_URL"]) as pg:
        batch = run_many(
            [
                Query(sql="SELECT pg_sleep(30) AS slept", source=pg, tag="sleep"),
                Query(sql="SELECT 1 AS one", source=pg, tag="one"),
            ],
            timeout=3,
        )
        answers = {a.tag: a for a in batch}
    assert answers["one"].result().records() == [{"one": 1}]
    error = answers["sleep"].error
    assert isinstance(error, QueryTimeout)
    assert "cancelled on the server" in error.message
