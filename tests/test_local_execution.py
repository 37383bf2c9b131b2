"""The local source's execution: deadlines and Ctrl-C stop DuckDB at once; bad input is refused.

The long query below would run for hours; a test that sees it return (or hang until the
per-test timeout) has found a deadline or an interrupt that does not reach DuckDB.
"""

from __future__ import annotations

import _thread
import io
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

import thsources
from thsources import ConfigError, ParameterError, QueryCancelled, QueryTimeout, SourceUnavailable
from thsources.cli import main
from thsources.polling import JobState, Progress
from thsources.sources.local import LocalSource

# Valid PostgreSQL as well as DuckDB: 10^12 rows to filter, hours of work.
LONG = (
    "SELECT count(*) AS n FROM generate_series(1, 1000000) AS a(i), "
    "generate_series(1, 1000000) AS b(j) WHERE (a.i * b.j) % 7 = 3"
)
WORKER = "thsources-local-query"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "small.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t (id INTEGER, name VARCHAR); INSERT INTO t VALUES (1, 'a')")
    con.close()
    return path


@pytest.fixture
def src(db: Path) -> Iterator[LocalSource]:
    with LocalSource(path=db) as source:
        yield source


def workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == WORKER and t.is_alive()]


def statement_stopped() -> bool:
    """No statement thread left running: each ends within seconds once interrupted (an
    abandoned one would run the LONG query for hours)."""
    for thread in workers():
        thread.join(20)
    return workers() == []


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdin=io.StringIO(""), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def profiles(tmp_path: Path, db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Profiles of the local kind with good and bad paths."""
    notdb = tmp_path / "notes.txt"
    notdb.write_text("not a database\n")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[profiles.small]\nkind = "local"\npath = "{db}"\n'
        f'[profiles.missing]\nkind = "local"\npath = "{tmp_path / "nope.duckdb"}"\n'
        f'[profiles.folder]\nkind = "local"\npath = "{tmp_path}"\n'
        f'[profiles.notdb]\nkind = "local"\npath = "{notdb}"\n'
    )
    monkeypatch.setenv("THSOURCES_CONFIG", str(config))
    return tmp_path


# -- deadline -------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_timeout_interrupts_the_running_statement(src: LocalSource) -> None:
    with pytest.raises(QueryTimeout, match=r"did not finish within 0\.5 s") as info:
        src.query(LONG, timeout=0.5)
    assert isinstance(info.value, TimeoutError)
    assert info.value.query == LONG
    assert info.value.source == "local"
    assert statement_stopped()  # interrupted, not abandoned
    assert src.query("SELECT name FROM t").records() == [{"name": "a"}]


@pytest.mark.timeout(60)
def test_submit_takes_the_same_deadline(src: LocalSource) -> None:
    job = src.submit(LONG, timeout=0.3)
    # Nobody waits on the job: its own deadline interrupts DuckDB all the same.
    end = time.monotonic() + 30
    while not job.done() and time.monotonic() < end:
        time.sleep(0.05)
    assert statement_stopped()
    assert job.state is JobState.CANCELLED
    with pytest.raises(QueryTimeout, match="did not finish within 0.3 s and was interrupted"):
        job.result()


@pytest.mark.timeout(60)
def test_cancel_interrupts_the_running_statement(src: LocalSource) -> None:
    job = src.submit(LONG, timeout=600)
    end = time.monotonic() + 30
    while not workers() and time.monotonic() < end:  # DuckDB is running the statement
        time.sleep(0.01)
    assert workers(), "the statement never started"
    assert job.state is JobState.RUNNING
    job.cancel()
    assert job.done() and job.state is JobState.CANCELLED
    assert workers() == []  # cancel() returned once DuckDB had let go of the statement
    with pytest.raises(QueryCancelled, match="^the job was cancelled$"):
        job.result()
    assert src.query("SELECT name FROM t").records() == [{"name": "a"}]


@pytest.mark.timeout(60)
def test_cancel_right_after_submit_interrupts_the_statement(src: LocalSource) -> None:
    job = src.submit(LONG, timeout=600)
    job.cancel()  # before or after DuckDB got the statement: either way it ends
    assert job.done()
    assert statement_stopped()
    with pytest.raises(QueryCancelled):
        job.result()


@pytest.mark.timeout(60)
def test_a_shorter_result_timeout_stops_the_statement(src: LocalSource) -> None:
    job = src.submit(LONG, timeout=600)
    with pytest.raises(QueryTimeout, match=r"^no result within 0\.5 s; the statement was stopped$"):
        job.result(timeout=0.5)
    assert job.done() and job.state is JobState.CANCELLED
    assert statement_stopped()
    with pytest.raises(QueryTimeout):  # asked again, the same answer
        job.result()


@pytest.mark.timeout(60)
def test_closing_the_source_interrupts_its_running_statements(db: Path) -> None:
    src = LocalSource(path=db)
    job = src.submit(LONG, timeout=600)
    src.close()
    assert job.done()
    assert statement_stopped()
    with pytest.raises(QueryCancelled):
        job.result()


@pytest.mark.timeout(60)
def test_cli_timeout_exits_5_with_one_line(profiles: Path) -> None:
    code, out, err = run_cli("query", LONG, "-s", "small", "--timeout", "0.5")
    assert (code, out) == (5, "")
    assert err == (
        "thsources: error: the query did not finish within 0.5 s and was interrupted; "
        "pass a larger timeout (or inf for no limit)\n"
    )
    assert statement_stopped()


@pytest.mark.parametrize("bad", [0, 0.0, -1, -0.5, math.nan, True, "5"])
def test_timeouts_that_mean_nothing_are_refused_before_running(src: LocalSource, bad: Any) -> None:
    with pytest.raises(ParameterError, match="positive number of seconds") as info:
        src.query(LONG, timeout=bad)
    assert isinstance(info.value, ValueError)
    assert workers() == []


def test_infinite_timeout_means_no_limit(src: LocalSource) -> None:
    assert src.query("SELECT id FROM t", timeout=math.inf).records() == [{"id": 1}]
    assert src.submit("SELECT id FROM t", timeout=math.inf).result().records() == [{"id": 1}]


@pytest.mark.parametrize(
    ("value", "code"), [("-1", 2), ("0", 2), ("nan", 2), ("-inf", 2), ("inf", 0), ("30", 0)]
)
def test_cli_timeout_values(profiles: Path, value: str, code: int) -> None:
    exit_code, out, err = run_cli("query", "SELECT id FROM t", "-s", "small", f"--timeout={value}")
    assert exit_code == code
    if code:
        assert err == (
            "thsources: error: timeout must be a positive number of seconds "
            f"(or inf for no limit), not {float(value)!r}\n"
        )
        assert out == ""
    else:
        assert out.splitlines()[2].strip() == "1"


# -- Ctrl-C ---------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_interrupt_of_the_main_thread_stops_the_statement(src: LocalSource) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("KeyboardInterrupt is delivered to the main thread only")
    stop = threading.Event()

    def interrupt() -> None:
        while not stop.is_set():
            if workers():
                _thread.interrupt_main()
                return
            stop.wait(0.01)

    helper = threading.Thread(target=interrupt, daemon=True)
    helper.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            src.query(LONG)
    finally:
        stop.set()
        helper.join()
    assert statement_stopped()
    assert src.query("SELECT id FROM t").records() == [{"id": 1}]


@pytest.mark.timeout(60)
def test_progress_reports_the_running_statement_and_can_stop_it(src: LocalSource) -> None:
    events: list[Progress] = []

    def progress(event: Progress) -> None:
        events.append(event)
        if len(events) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        src.query(LONG, progress=progress)
    assert [(e.state, e.polls, e.source, e.job_id) for e in events] == [
        (JobState.RUNNING, n, "local", None) for n in (1, 2, 3)
    ]
    assert 0 < events[0].elapsed_s < events[1].elapsed_s < events[2].elapsed_s
    assert statement_stopped()


# The CLI's own main(), with DEBUG logging on so the test knows when the statement runs.
CLI_WITH_LOG = (
    "import logging, sys; logging.basicConfig(level=logging.DEBUG); "
    "from thsources.cli import main; sys.exit(main(sys.argv[1:]))"
)


@pytest.mark.timeout(90)
def test_sigint_to_the_cli_exits_130_at_once(profiles: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI_WITH_LOG, "query", LONG, "-s", "small"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if "running a statement" in line:
                break
        else:
            pytest.fail(f"the query never started: {''.join(seen)}")
        # Let DuckDB get going: a signal landing in Python code just before would be seen
        # there, and would not show whether a running statement is interrupted.
        time.sleep(1)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        assert proc.stdout is not None
        out, rest = proc.stdout.read(), proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert out == ""
    assert rest == "thsources: interrupted\n"


# -- bad paths --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ("missing", r"nope\.duckdb' does not exist; give the path of a DuckDB database file"),
        ("folder", r"is a directory; give the path of a DuckDB database file inside it"),
        ("notdb", r"cannot open '.*notes\.txt' as a DuckDB database: .*not a valid DuckDB"),
    ],
)
def test_bad_path_is_a_config_error(profiles: Path, profile: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        thsources.connect(profile).query("SELECT 1")
    assert info.value.source == profile
    code, out, err = run_cli("query", "SELECT 1", "-s", profile)
    assert (code, out) == (2, "")
    assert err.startswith("thsources: error: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_bad_sample_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="option seed of the local source must be a number"):
        LocalSource(seed="abc").query("SELECT 1")  # type: ignore[arg-type]


def test_a_database_locked_by_a_writer_is_unavailable(db: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
            "sys.stdin.read()",
            str(db),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
        with pytest.raises(SourceUnavailable, match="is locked by another process"):
            LocalSource(path=db).query("SELECT 1")
    finally:
        holder.communicate("", timeout=30)


# -- failures keep the SQL ------------------------------------------------------------------


def test_query_errors_carry_the_sql_but_do_not_print_it(src: LocalSource) -> None:
    sql = "SELECT nosuchcolumn FROM t WHERE name = :n"
    with pytest.raises(thsources.QueryError) as info:
        src.query(sql, {"n": "x"})
    assert info.value.query == "SELECT nosuchcolumn FROM t WHERE name = 'x'"
    assert "nosuchcolumn" in str(info.value)  # DuckDB's message names it
    assert "WHERE name = 'x'" not in str(info.value)
    assert "WHERE" not in repr(info.value)


def test_a_write_is_permission_denied(src: LocalSource) -> None:
    with pytest.raises(thsources.PermissionDenied, match="read-only") as info:
        src.query("INSERT INTO t VALUES (2, 'b')")
    assert info.value.query == "INSERT INTO t VALUES (2, 'b')"


def test_retrieved_at_is_when_the_result_arrived(src: LocalSource) -> None:
    import datetime as dt

    before = dt.datetime.now(dt.UTC)
    meta = src.query("SELECT 1 AS x").meta
    assert meta.retrieved_at is not None
    assert meta.retrieved_at.tzinfo is dt.UTC
    assert before <= meta.retrieved_at <= dt.datetime.now(dt.UTC)


# -- values DuckDB has and the canonical types must hold -----------------------------------------


def test_wide_integers_and_long_intervals_come_back_never_crash(src: LocalSource) -> None:
    res = src.query(
        "SELECT 12345678901234567890123::numeric(38,0) AS big, "
        "-99999999999999999999999999999999999999::numeric(38,0) AS huge, "
        "(SELECT sum(id) FROM t) AS total, "
        "interval '100000000 years' AS forever, interval '1 day 2 hours' AS short"
    )
    assert [(c.name, c.type) for c in res.columns] == [
        ("big", "string"),
        ("huge", "string"),
        ("total", "integer"),
        ("forever", "string"),
        ("short", "string"),
    ]
    assert res.records() == [
        {
            "big": "12345678901234567890123",
            "huge": "-99999999999999999999999999999999999999",
            "total": 1,
            "forever": "36000000000 days, 0:00:00",
            "short": "1 day, 2:00:00",
        }
    ]


def test_cli_prints_a_wide_integer(profiles: Path) -> None:
    code, out, err = run_cli(
        "query",
        "SELECT 12345678901234567890123::numeric(38,0) AS n",
        "-s",
        "small",
        "--format",
        "csv",
    )
    assert (code, out, err) == (0, "n\n12345678901234567890123\n", "")


# -- schema listing ---------------------------------------------------------------------------


def test_tables_lists_columns_in_order(src: LocalSource) -> None:
    res = src.tables()
    assert [(c.name, c.type) for c in res.columns] == [
        ("table_name", "string"),
        ("column_name", "string"),
        ("data_type", "string"),
    ]
    assert res.rows() == [("t", "id", "INTEGER"), ("t", "name", "VARCHAR")]


def test_tables_of_the_sample_are_treeherders_own() -> None:
    from thsources.local.schema import TABLES

    with LocalSource() as sample:
        res = sample.tables()
    push = [(r["column_name"], r["data_type"]) for r in res if r["table_name"] == "push"]
    assert push == [
        ("id", "INTEGER"),
        ("repository_id", "INTEGER"),
        ("revision", "VARCHAR"),
        ("author", "VARCHAR"),
        ("time", "TIMESTAMP"),
        ("branch", "VARCHAR"),
    ]
    # Telemetry is served apart (thsources.local.telemetry): nothing here but Treeherder's.
    listed = set(res.column("table_name")) - {"thsources_sample_info"}
    assert listed == {t.name for t in TABLES} and "telemetry" not in listed
    names = res.column("table_name")
    assert names == sorted(names) and {"job", "push", "repository"} <= set(names)


def test_a_source_without_a_schema_listing_says_so() -> None:
    from thsources.sources.base import CompletedJob, Source

    class Plain(Source):
        kind = "plain"

        def submit(self, sql: str, params: Any = None, **kw: Any) -> CompletedJob:
            raise AssertionError("not called")

    with pytest.raises(
        thsources.UnsupportedQuery, match="source 'plain' \\(plain\\) has no schema"
    ):
        Plain().tables()


def test_a_synchronous_answer_at_the_deadline_is_returned_not_refused() -> None:
    """Source.query on a source whose submit answers at once: no time left after it is no
    reason to refuse the result it already has (it once became a ParameterError)."""
    from thsources.result import Column, Result
    from thsources.sources.base import CompletedJob, Source

    class Slow(Source):
        kind = "slow"

        def submit(self, sql: str, params: Any = None, **kw: Any) -> CompletedJob:
            time.sleep(0.06)  # uses up the whole 0.05 s deadline, then answers
            return CompletedJob(Result.from_rows([Column("n", "integer")], [(1,)]))

    assert Slow().query("SELECT 1", timeout=0.05).records() == [{"n": 1}]


def test_times_beyond_python_are_text_not_a_crash(src: LocalSource) -> None:
    res = src.query(
        "SELECT * FROM (VALUES "
        "('infinity'::timestamp, '-infinity'::date, '294247-01-10'::timestamp),"
        "('2020-01-01 10:00:00.5'::timestamp, '2020-01-02'::date, NULL)) AS v(t, d, far)"
    )
    assert [c.type for c in res.columns] == ["string", "string", "string"]
    assert res.rows() == [
        ("infinity", "-infinity", "294247-01-10T00:00:00.000000Z"),
        ("2020-01-01T10:00:00.500000Z", "2020-01-02", None),
    ]
    ordinary = src.query("SELECT '2020-01-01'::date AS d, '2020-01-01 10:00'::timestamp AS t")
    assert [c.type for c in ordinary.columns] == ["date", "datetime"]


def test_a_value_no_type_can_hold_is_a_query_error_naming_the_fix(src: LocalSource) -> None:
    sql = "SELECT ARRAY[date 'infinity'] AS days"
    with pytest.raises(thsources.QueryError, match=r"result cannot be read: .*::varchar") as info:
        src.query(sql)
    assert info.value.query == sql
    as_text = src.query("SELECT CAST(ARRAY[date 'infinity'] AS varchar) AS days")
    assert [c.type for c in as_text.columns] == ["string"]


def test_a_completed_job_refuses_a_meaningless_timeout_too(src: LocalSource) -> None:
    job = src.submit("SELECT id FROM t")
    assert job.result(timeout=5).records() == [{"id": 1}]
    with pytest.raises(ParameterError, match="positive number of seconds"):
        job.result(timeout=-1)
