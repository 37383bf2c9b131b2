"""History kept locally: thsources pull, the pulls table, the history source, two pulls at once."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

import thsources
from thsources import ConfigError
from thsources.cli import main
from thsources.history import pull
from thsources.local.history_store import locked

PUSHES = {"repository": "autoland", "until": "2026-10-30T00:00:00"}


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "history" / "history.duckdb"
    monkeypatch.setenv("THSOURCES_HISTORY", str(path))
    return path


@pytest.fixture(scope="module")
def local() -> thsources.Source:
    return thsources.connect("local")


def _ids(days: int, local: thsources.Source) -> list[int]:
    return sorted(thsources.run("pushes", {**PUSHES, "days": days}, source=local)["push_id"])


def _stored(path: Path, table: str = "pushes") -> list[int]:
    with thsources.connect("history", path=path) as history:
        return sorted(history.query(f"SELECT push_id FROM {table}")["push_id"])


def test_pulling_the_same_window_twice_adds_nothing_the_second_time(
    store: Path, local: thsources.Source
) -> None:
    first = pull("pushes", {**PUSHES, "days": 3}, local, "pushes")
    second = pull("pushes", {**PUSHES, "days": 3}, local, "pushes")

    expected = _ids(3, local)
    assert (first.rows_returned, first.rows_added) == (len(expected), len(expected))
    assert (second.pull_id, second.rows_returned, second.rows_added) == (2, len(expected), 0)
    assert _stored(store) == expected


def test_an_overlapping_window_adds_only_the_new_rows(store: Path, local: thsources.Source) -> None:
    pull("pushes", {**PUSHES, "days": 3}, local, "pushes")
    wider = pull("pushes", {**PUSHES, "days": 6}, local, "pushes")

    three, six = _ids(3, local), _ids(6, local)
    assert set(three) < set(six)
    assert wider.rows_added == len(six) - len(three)
    assert _stored(store) == six
    with thsources.connect("history") as history:
        by_pull = history.query(
            "SELECT pull_id, count(*) AS n FROM pushes GROUP BY pull_id ORDER BY pull_id"
        ).rows()
    assert by_pull == [(1, len(three)), (2, len(six) - len(three))]


def test_each_pull_is_recorded_with_when_and_where(store: Path, local: thsources.Source) -> None:
    before = time.time()
    pull("pushes", {**PUSHES, "days": 2}, local, "pushes")
    with thsources.connect("history") as history:
        (row,) = history.query("SELECT * FROM pulls").records()
    assert row["pulled_at"].timestamp() >= before - 1
    assert {k: v for k, v in row.items() if k != "pulled_at"} == {
        "pull_id": 1,
        "query": "pushes",
        "params": {
            "repository": "autoland",
            "days": 2,
            "until": "2026-10-30T00:00:00",
            "max_tier": 2,
        },
        "source": "local",
        "source_kind": "local",
        "into_table": "pushes",
        "rows_returned": len(_ids(2, local)),
        "rows_added": len(_ids(2, local)),
    }


def test_a_table_whose_columns_differ_from_the_querys_is_refused_before_writing(
    store: Path, local: thsources.Source
) -> None:
    pull("pushes", {**PUSHES, "days": 2}, local, "pushes")
    push_id = _stored(store)[0]
    with pytest.raises(ConfigError) as caught:
        pull("jobs-for-push", {"push_id": push_id}, local, "pushes")
    message = str(caught.value)
    assert message.startswith(
        "the history table 'pushes' has columns (push_id BIGINT, revision VARCHAR,"
    )
    assert "but named query 'jobs-for-push' gives (job_id BIGINT, task_id VARCHAR," in message
    assert message.endswith("pull into a new table (--into another name), or drop this one")
    with thsources.connect("history") as history:
        assert history.query("SELECT count(*) AS n FROM pulls")["n"] == [1]


def test_a_table_the_user_changed_is_refused(store: Path, local: thsources.Source) -> None:
    pull("pushes", {**PUSHES, "days": 2}, local, "pushes")
    with locked(store, exclusive=True):
        con = duckdb.connect(str(store))
        con.execute("ALTER TABLE pushes ALTER COLUMN jobs TYPE DOUBLE")
        con.close()
    with pytest.raises(
        ConfigError, match=r"has columns \(.*jobs DOUBLE.*\) but .* gives \(.*jobs BIGINT"
    ):
        pull("pushes", {**PUSHES, "days": 2}, local, "pushes")


@pytest.mark.parametrize(
    ("into", "message"),
    [
        ("pulls", "the table 'pulls' is where the history records its pulls"),
        ("my table", "'my table' cannot name a history table"),
    ],
)
def test_bad_table_names(store: Path, local: thsources.Source, into: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        pull("pushes", PUSHES, local, into)
    assert not store.exists()


def test_the_history_source_speaks_postgresql_and_lists_its_tables(
    store: Path, local: thsources.Source
) -> None:
    pull("pushes", {**PUSHES, "days": 2}, local, "pushes")
    with thsources.connect("history") as history:
        res = history.query(
            "SELECT count(*)::int AS n FROM pushes WHERE push_time < now() AND revision ~ :pattern",
            {"pattern": "^[0-9a-f]{40}$"},
        )
        tables = {r["table_name"] for r in history.tables()}
    assert res["n"] == [len(_ids(2, local))]
    assert tables == {"pulls", "pushes"}


def test_the_history_source_before_any_pull(store: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist yet; fill it with `thsources pull"):
        thsources.connect("history").query("SELECT 1")


def test_cli_pull_then_query(store: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    argv = [
        "pull",
        "pushes",
        "-p",
        "days=2",
        "-p",
        "until=2026-10-30",
        "--into",
        "p",
        "-s",
        "local",
    ]
    code = main(argv, stdin=io.StringIO(), stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    n = len(_stored(store, "p"))
    assert err.getvalue() == (
        f"thsources: pull 1: pushes on 'local' returned {n} rows, {n} new, added to p in {store}\n"
    )
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["query", "-s", "history", "SELECT count(*) AS n FROM p", "--format", "csv"],
        stdin=io.StringIO(),
        stdout=out,
        stderr=err,
    )
    assert (code, out.getvalue()) == (0, f"n\n{n}\n")


def _waiters(lock_file: Path, pids: set[int]) -> set[int]:
    """Processes among ``pids`` blocked on an flock of ``lock_file`` (from /proc/locks)."""
    inode = os.stat(lock_file).st_ino
    waiting = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields and fields[fields.index("->") + 1] == "FLOCK":
            pid, where = int(fields[-4]), fields[-3]
            if where.endswith(f":{inode}") and pid in pids:
                waiting.add(pid)
    return waiting


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux's /proc/locks")
def test_two_pulls_at_once_wait_for_each_other_and_leave_no_duplicates(
    store: Path, local: thsources.Source
) -> None:
    store.parent.mkdir(parents=True)
    lock_file = store.with_name(store.name + ".lock")
    command = [sys.executable, "-m", "thsources", "pull", "pushes", "-s", "local", "--into", "p"]
    # No deadline: the wait is then one blocking flock, which /proc/locks shows.
    command += ["-p", "days=5", "-p", "until=2026-10-30", "--timeout", "inf"]
    with locked(store, exclusive=True):
        # The test holds the store (the lock and DuckDB's own write lock on the file): both
        # pulls must queue on the lock, not open the file.
        con = duckdb.connect(str(store))
        procs = [
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        pids = {p.pid for p in procs}
        deadline = time.monotonic() + 120
        while _waiters(lock_file, pids) != pids:
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            assert time.monotonic() < deadline, "the pulls never waited on the lock"
            time.sleep(0.05)
        con.close()
    outcomes = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outcomes

    expected = _ids(5, local)
    assert _stored(store, "p") == expected
    with thsources.connect("history") as history:
        added = sorted(history.query("SELECT rows_added FROM pulls")["rows_added"])
    assert added == [0, len(expected)]


def test_a_busy_store_counts_against_the_deadline(store: Path, local: thsources.Source) -> None:
    pull("pushes", {**PUSHES, "days": 2}, local, "pushes")
    with locked(store, exclusive=True):
        with pytest.raises(thsources.QueryTimeout, match="stayed busy .* for 0.3 s"):
            thsources.connect("history").query("SELECT count(*) FROM pushes", timeout=0.3)
        with pytest.raises(thsources.QueryTimeout, match="stayed busy"):
            pull("pushes", {**PUSHES, "days": 4}, local, "pushes", timeout=5)
    with thsources.connect("history") as history:
        assert history.query("SELECT count(*) AS n FROM pulls")["n"] == [1]


def _own_query(root: Path, key_line: str) -> None:
    folder = root / "repo-names"
    folder.mkdir(parents=True)
    (folder / "query.toml").write_text(
        f'description = "repositories"\norder = "name"\n{key_line}\n'
        '[[columns]]\nname = "name"\ntype = "string"\n'
    )
    (folder / "postgresql.sql").write_text("SELECT name FROM repository ORDER BY name")


def test_a_query_without_a_key_cannot_be_pulled(
    store: Path, local: thsources.Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _own_query(tmp_path / "queries", "")
    monkeypatch.setenv("THSOURCES_QUERIES_PATH", str(tmp_path / "queries"))
    with pytest.raises(ConfigError, match="'repo-names' declares no key, so a pull could not"):
        pull("repo-names", {}, local, "names")
    assert not store.exists()


def test_a_key_naming_no_declared_column_is_refused_when_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _own_query(tmp_path / "queries", 'key = ["id"]')
    monkeypatch.setenv("THSOURCES_QUERIES_PATH", str(tmp_path / "queries"))
    with pytest.raises(ConfigError, match=r"key names \['id'\], which are not declared columns"):
        thsources.queries()


def test_a_query_of_your_own_with_a_key_is_pulled(
    store: Path, local: thsources.Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _own_query(tmp_path / "queries", 'key = ["name"]')
    monkeypatch.setenv("THSOURCES_QUERIES_PATH", str(tmp_path / "queries"))
    first = pull("repo-names", {}, local, "names")
    again = pull("repo-names", {}, local, "names")
    assert first.rows_added == first.rows_returned > 0
    assert again.rows_added == 0
