"""The command line: output formats, atomic files, one-line errors and exit codes."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from thsources.cli import main


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_cli(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small DuckDB file behind a profile 'tiny' and the 'default' profile."""
    db = tmp_path / "tiny.duckdb"
    con = duckdb.connect(str(db))
    con.execute(
        "CREATE TABLE repository (id INTEGER, name VARCHAR);"
        "INSERT INTO repository VALUES (1, 'mozilla-central'), (77, 'autoland');"
        "CREATE TABLE push (id INTEGER, repository_id INTEGER, revision VARCHAR,"
        " time TIMESTAMP, meta JSON);"
        "INSERT INTO push VALUES (1, 77, 'abc', '2026-10-01 12:00:00', '{\"k\": [1, 2]}'),"
        " (2, 1, 'd''ef', '2026-10-02 08:30:00.250', NULL);"
    )
    con.close()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[profiles.default]\nkind = "local"\npath = "{db}"\n'
        f'[profiles.tiny]\nkind = "local"\npath = "{db}"\n'
    )
    monkeypatch.setenv("THSOURCES_CONFIG", str(config))
    return db


SQL = "SELECT id, revision, time, meta FROM push ORDER BY id"


def test_table_output(tiny: Path) -> None:
    code, out, err = run_cli("query", SQL)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["id", "revision", "time", "meta"]
    assert lines[2].split() == ["1", "abc", "2026-10-01T12:00:00Z", '{"k":[1,2]}']
    assert lines[3].split() == ["2", "d'ef", "2026-10-02T08:30:00.250000Z"]
    assert lines[-1] == "(2 rows)"


def test_csv_json_jsonl_outputs(tiny: Path) -> None:
    code, out, _ = run_cli("query", SQL, "--format", "csv")
    assert code == 0
    assert out.splitlines() == [
        "id,revision,time,meta",
        '1,abc,2026-10-01T12:00:00Z,"{""k"":[1,2]}"',
        "2,d'ef,2026-10-02T08:30:00.250000Z,",
    ]
    code, out, _ = run_cli("query", SQL, "--format", "json")
    assert json.loads(out) == [
        {"id": 1, "revision": "abc", "time": "2026-10-01T12:00:00Z", "meta": {"k": [1, 2]}},
        {"id": 2, "revision": "d'ef", "time": "2026-10-02T08:30:00.250000Z", "meta": None},
    ]
    code, out, _ = run_cli("query", SQL, "--format", "jsonl")
    assert [json.loads(line)["id"] for line in out.splitlines()] == [1, 2]


def test_sql_from_file_and_stdin_with_params(tiny: Path, tmp_path: Path) -> None:
    sql_file = tmp_path / "q.sql"
    sql_file.write_text("SELECT revision FROM push WHERE revision = :rev")
    code, out, _ = run_cli("query", "-f", str(sql_file), "-p", "rev=d'ef", "--format", "csv")
    assert (code, out) == (0, "revision\nd'ef\n")
    code, out, _ = run_cli("query", "--format", "csv", stdin="SELECT COUNT(*) AS n FROM push")
    assert (code, out) == (0, "n\n2\n")


def test_output_file_is_written_by_suffix(tiny: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.parquet"
    code, _, err = run_cli("query", SQL, "-o", str(target))
    assert code == 0 and "wrote 2 rows" in err
    table = pq.read_table(target)
    assert table.column_names == ["id", "revision", "time", "meta"]
    assert str(table.schema.field("time").type) == "timestamp[us, tz=UTC]"
    assert os.listdir(tmp_path).count("out.parquet") == 1
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".part")]


def test_failed_query_leaves_no_file(tiny: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    code, _, err = run_cli("query", "SELECT nosuchcol FROM push", "-o", str(target))
    assert code == 1
    assert err.startswith("thsources: error: ") and "nosuchcol" in err
    assert err.count("\n") == 1
    assert not target.exists()
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".part")]


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["query", "SELECT 1", "-s", "nope"], 2, "no profile or source kind named 'nope'"),
        (["run", "no-such-query"], 2, "no named query 'no-such-query'"),
        (["run", "jobs-for-push"], 2, "needs parameter(s) push_id"),
        (["run", "jobs-for-push", "-p", "push_id=x"], 2, "must be an integer, got 'x'"),
        (["query", "SELECT :a"], 2, "missing value for parameter(s): a"),
        (["query", "SELECT 1", "-p", "novalue"], 2, "is not NAME=VALUE"),
        (["query", "SELEC 1"], 1, "syntax error"),
        (["query", "INSERT INTO push (id) VALUES (3)"], 3, "read-only"),
        (["query", "SELECT 1", "-o", "/nonexistent-dir/x.csv"], 2, "does not exist"),
        (["saved", "5"], 2, "has no saved queries"),
        (["bogus"], 2, "invalid choice"),
    ],
)
def test_errors_are_one_line_with_documented_exit_codes(
    tiny: Path, argv: list[str], code: int, message: str
) -> None:
    got, out, err = run_cli(*argv)
    assert got == code, err
    assert message in err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    assert out == ""


def test_unwritable_output_path(tiny: Path, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions
            pytest.skip("running as a user that can write anywhere")
        code, _, err = run_cli("query", "SELECT 1", "-o", str(locked / "x.csv"))
        assert code == 2 and "permission denied" in err
    finally:
        locked.chmod(0o700)


def test_output_path_that_is_a_directory(tiny: Path, tmp_path: Path) -> None:
    code, _, err = run_cli("query", "SELECT 1", "-o", str(tmp_path))
    assert code == 2 and "is a directory" in err


def test_debug_shows_the_traceback(tiny: Path) -> None:
    code, _, err = run_cli("query", "SELEC 1", "--debug")
    assert code == 1 and "Traceback" in err


def test_no_default_profile_says_it_uses_the_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    monkeypatch.setenv("THSOURCES_CONFIG", str(empty))
    code, _, err = run_cli("query", "SELECT :a", "-p", "b=1")
    assert code == 2
    assert err.splitlines()[0].startswith("thsources: no 'default' profile configured")


def test_sources_lists_profiles_with_secrets_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[profiles.db]\nkind = "local"\npath = "/x.duckdb"\n[profiles.bad]\nkind = "nosuchkind"\n'
    )
    config.chmod(0o600)
    monkeypatch.setenv("THSOURCES_CONFIG", str(config))
    code, out, _ = run_cli("sources")
    assert code == 0
    assert "db: kind=local path=/x.duckdb" in out
    assert "bad: kind=nosuchkind" in out and "not usable: unknown source kind" in out


def test_queries_lists_parameters_with_types_and_defaults() -> None:
    code, out, _ = run_cli("queries")
    assert code == 0
    assert "jobs-for-push\n" in out
    assert "params: push_id:integer (required)" in out
    assert "repository:string=autoland days:integer=7 until:datetime=null" in out
    code, out, _ = run_cli("queries", "perf-series")
    assert code == 0 and "signature_hash: string (required)" in out and "order: " in out


def test_version() -> None:
    out = io.StringIO()
    code = main(["--version"], stdout=out, stderr=io.StringIO())
    assert code == 0
