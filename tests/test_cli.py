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
from thsources.sources.base import Job, Source, register


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


def test_repeated_param_is_a_list_for_in_and_refused_for_a_scalar(tiny: Path) -> None:
    sql = "SELECT id FROM push WHERE revision IN :revs ORDER BY id"
    code, out, _ = run_cli("query", sql, "-p", "revs=abc", "-p", "revs=d'ef", "--format", "csv")
    assert (code, out) == (0, "id\n1\n2\n")
    code, out, err = run_cli("run", "pushes", "-p", "repository=autoland", "-p", "repository=try")
    assert (code, out) == (2, "")
    assert "'repository' takes one string, got 2 values" in err


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


def test_unwritable_output_path(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root may write anywhere (CI runs as root), so the refusal comes from os.access."""
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access

    def access(path: object, mode: int, **kw: object) -> bool:
        return False if Path(str(path)) == locked else real_access(path, mode, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)
    code, out, err = run_cli("query", "SELECT nosuchcol", "-o", str(locked / "x.csv"))
    assert code == 2, err
    assert err == (
        f"thsources: error: cannot write output to {locked / 'x.csv'}: permission denied; "
        "choose a writable path\n"
    )
    assert out == "" and os.listdir(locked) == []


def test_output_path_that_is_a_directory(tiny: Path, tmp_path: Path) -> None:
    code, _, err = run_cli("query", "SELECT 1", "-o", str(tmp_path))
    assert code == 2 and "is a directory" in err


def test_debug_shows_the_traceback(tiny: Path) -> None:
    code, _, err = run_cli("query", "SELEC 1", "--debug")
    assert code == 1 and "Traceback" in err


NOTICE = "thsources: no 'default' profile configured; using the embedded local sample"


@pytest.fixture
def no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    monkeypatch.setenv("THSOURCES_CONFIG", str(empty))
    # A cache dir of its own (for the notice's marker) sharing the built sample.
    cache = tmp_path / "cache"
    cache.mkdir()
    shared = Path(os.environ["THSOURCES_CACHE_DIR"])
    for built in shared.glob("*.duckdb"):
        (cache / built.name).symlink_to(built)
    monkeypatch.setenv("THSOURCES_CACHE_DIR", str(cache))
    return cache


def test_no_default_profile_notice_is_not_printed_into_a_pipe(no_config: Path) -> None:
    for _ in range(2):
        code, _, err = run_cli("query", "SELECT :a", "-p", "b=1")
        assert code == 2
        assert NOTICE not in err


def test_no_default_profile_notice_once_per_terminal_session(no_config: Path) -> None:
    seen = []
    for _ in range(3):
        err = Tty()
        code = main(["query", "SELECT 1 AS one"], stdout=io.StringIO(), stderr=err)
        assert code == 0
        seen.append(err.getvalue())
    assert seen[0].startswith(NOTICE)
    assert [NOTICE in s for s in seen] == [True, False, False]
    assert [p.parent.name for p in no_config.rglob("fallback-*")] == ["notices"]


@pytest.mark.parametrize("where", ["before", "after"])
def test_no_default_profile_notice_always_with_verbose(no_config: Path, where: str) -> None:
    argv = ["-v", "query", "SELECT 1 AS one"] if where == "before" else ["query", "SELECT 1", "-v"]
    for _ in range(2):
        code, _, err = run_cli(*argv)
        assert code == 0
        assert err.splitlines() == [
            NOTICE + " (see `thsources sources`)",
            "thsources: source 'local' (kind local)",
        ]


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


SECRET = "sk-FileHeld-0123456789abcdefSECRET"
PASSWORD = "pw-InUrl-9876zyx"


def test_sources_masks_secrets_written_in_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key and a URL password are in the (0600) file itself, so the listing must mask
    them: nothing else could keep them out of what it prints."""
    config = tmp_path / "c.toml"
    config.write_text(
        f'[profiles.stmo]\nkind = "redash"\nurl = "https://ann:{PASSWORD}@redash.example/"\n'
        f'api_key = "{SECRET}"\ndata_source = "Treeherder"\n'
    )
    config.chmod(0o600)
    monkeypatch.setenv("THSOURCES_CONFIG", str(config))
    code, out, err = run_cli("sources")
    assert (code, err) == (0, "")
    assert out.splitlines()[1] == (
        "stmo: kind=redash api_key=(set), data_source=Treeherder, "
        "url=https://ann:***@redash.example/"
    )
    assert SECRET not in out and PASSWORD not in out


def test_queries_lists_whole_descriptions() -> None:
    from thsources.catalog import list_queries

    code, out, _ = run_cli("queries")
    assert code == 0
    lines = out.splitlines()
    for q in list_queries():
        start = lines.index(q.name) + 1
        described = q.description.strip().splitlines()
        assert lines[start : start + len(described)] == [f"    {d}" for d in described]
        assert lines[start + len(described)].startswith("    params: ")
    assert any(len(q.description.strip().splitlines()) > 1 for q in list_queries())


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


# -- global options, terminal tables, Ctrl-C, tables, unknown suffixes ---------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["--debug", "query", "SELEC 1"],
        ["--debug", "-s", "tiny", "query", "SELEC 1"],
        ["query", "SELEC 1", "--debug"],
        ["-s", "tiny", "query", "SELEC 1", "--debug"],
    ],
)
def test_global_options_before_or_after_the_subcommand(tiny: Path, argv: list[str]) -> None:
    code, _, err = run_cli(*argv)
    assert code == 1 and "Traceback" in err


def test_source_before_the_subcommand_is_used(tiny: Path) -> None:
    code, _, err = run_cli("-s", "nope", "run", "pushes")
    assert code == 2 and "no profile or source kind named 'nope'" in err
    code, out, err = run_cli("-s", "nope", "query", SQL, "-s", "tiny", "--format", "csv")
    assert code == 0, err  # the one after the subcommand wins
    assert out.startswith("id,revision,time,meta\n1,abc,")


def test_misspelled_profile_gets_did_you_mean(tiny: Path) -> None:
    code, _, err = run_cli("-s", "tyni", "query", "SELECT 1")
    assert code == 2
    assert "no profile or source kind named 'tyni'; did you mean 'tiny'?" in err


def test_terminal_table_is_cut_at_100_rows(tiny: Path, tmp_path: Path) -> None:
    sql = "SELECT n FROM generate_series(0, 149) AS g(n)"
    out = Tty()
    code = main(["query", sql], stdout=out, stderr=io.StringIO())
    assert code == 0
    lines = out.getvalue().splitlines()
    assert [line.strip() for line in lines[2:-1]] == [str(n) for n in range(100)]
    assert lines[-1] == "... 50 more rows (150 in all; use --format csv or -o FILE for every row)"
    code, piped, _ = run_cli("query", sql)
    assert piped.splitlines()[-1] == "(150 rows)" and len(piped.splitlines()) == 153
    target = tmp_path / "all.txt"
    code = main(["query", sql, "-o", str(target)], stdout=Tty(), stderr=io.StringIO())
    assert target.read_text().splitlines()[-1] == "(150 rows)"


class TtyWithBuffer(io.TextIOWrapper):
    def isatty(self) -> bool:
        return True


def test_terminal_table_is_cut_on_a_binary_stdout_too(tiny: Path) -> None:
    raw = io.BytesIO()
    out = TtyWithBuffer(raw, encoding="utf-8")
    code = main(
        ["query", "SELECT n FROM generate_series(0, 100) AS g(n)"], stdout=out, stderr=io.StringIO()
    )
    assert code == 0
    out.flush()
    assert raw.getvalue().decode().splitlines()[-1].startswith("... 1 more rows (101 in all")


def test_csv_booleans_through_the_command(tiny: Path, tmp_path: Path) -> None:
    sql = "SELECT true AS t, false AS f, NULL::boolean AS n"
    code, out, _ = run_cli("query", sql, "--format", "csv")
    assert (code, out) == (0, "t,f,n\ntrue,false,\n")
    target = tmp_path / "b.csv"
    code, _, _ = run_cli("query", sql, "-o", str(target))
    assert target.read_text() == "t,f,n\ntrue,false,\n"


def test_table_floats_readable_csv_full(tiny: Path) -> None:
    sql = "SELECT 1::double precision / 3 AS third"
    _, table, _ = run_cli("query", sql)
    assert table.splitlines()[2].strip() == "0.333333"
    _, csv_out, _ = run_cli("query", sql, "--format", "csv")
    assert csv_out == "third\n0.3333333333333333\n"


@pytest.mark.parametrize("suffix", [".xlsx", ".tsv"])
def test_unknown_output_suffix_is_exit_2_before_the_query(
    tiny: Path, tmp_path: Path, suffix: str
) -> None:
    target = tmp_path / f"out{suffix}"
    # The SQL would fail (exit 1) if it ran: exit 2 shows it never did.
    code, out, err = run_cli("query", "SELECT nosuchcol", "-o", str(target))
    assert code == 2, err
    assert f"{suffix!r} is not a suffix thsources writes" in err and "--format" in err
    assert not target.exists() and out == ""
    code, _, err = run_cli("query", SQL, "-o", str(target), "--format", "csv")
    assert code == 0, err
    assert target.read_text().startswith("id,revision,time,meta\n1,abc,")


def test_dash_output_is_stdout(tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("query", "SELECT 1 AS one", "-o", "-", "--format", "csv")
    assert (code, out, err) == (0, "one\n1\n", "")
    code, out, _ = run_cli("query", "SELECT 1 AS one", "-o", "-")
    assert out.splitlines()[-1] == "(1 row)"
    assert not (tmp_path / "-").exists()


def test_fifo_output_through_the_command(tiny: Path, tmp_path: Path) -> None:
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def reader() -> None:
        with open(fifo, "rb") as f:
            got.append(f.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    code, _, err = run_cli("query", "SELECT 1 AS one", "-o", str(fifo), "--format", "csv")
    thread.join(30)
    assert code == 0, err
    assert got == [b"one\n1\n"]
    assert os.listdir(tmp_path) == ["tiny.duckdb", "config.toml", "pipe"] or sorted(
        os.listdir(tmp_path)
    ) == ["config.toml", "pipe", "tiny.duckdb"]


def test_failed_write_keeps_the_old_file(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The query succeeds and the write fails half-way: the old file must survive whole."""
    from thsources import output

    target = tmp_path / "out.csv"
    target.write_text("precious\n")
    real = output._write

    def half(result: object, fmt: str, stream: io.BufferedIOBase, max_rows: object) -> None:
        stream.write(b"id,revision\n1,")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output, "_write", half)
    code, _, err = run_cli("query", SQL, "-o", str(target))
    assert code == 2
    assert err == (f"thsources: error: cannot write output to {target}: No space left on device\n")
    assert target.read_text() == "precious\n"
    assert sorted(os.listdir(tmp_path)) == ["config.toml", "out.csv", "tiny.duckdb"]
    monkeypatch.setattr(output, "_write", real)


def test_tables_lists_tables_and_one_tables_columns(tiny: Path) -> None:
    code, out, err = run_cli("tables", "--format", "csv")
    assert (code, err) == (0, "")
    assert out == "table_name,columns\npush,5\nrepository,2\n"
    code, out, _ = run_cli("-s", "tiny", "tables", "push", "--format", "csv")
    assert code == 0
    assert out.splitlines() == [
        "column_name,data_type",
        "id,INTEGER",
        "repository_id,INTEGER",
        "revision,VARCHAR",
        "time,TIMESTAMP",
        "meta,JSON",
    ]


def test_tables_unknown_name_is_not_found_with_close_matches(tiny: Path) -> None:
    code, out, err = run_cli("tables", "pusj")
    assert code == 4
    assert err == "thsources: error: no table 'pusj' in source 'default'; did you mean push?\n"
    assert out == ""


@register("interrupting")
class InterruptingSource(Source):
    """A source whose query is interrupted by Ctrl-C while it runs."""

    def submit(self, *args: object, **kwargs: object) -> Job:
        raise KeyboardInterrupt


def test_ctrl_c_exits_130_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[profiles.slow]\nkind = "interrupting"\n')
    monkeypatch.setenv("THSOURCES_CONFIG", str(config))
    target = tmp_path / "out.csv"
    code, out, err = run_cli("query", "SELECT 1", "-s", "slow", "-o", str(target))
    assert (code, out, err) == (130, "", "thsources: interrupted\n")
    assert not target.exists()
    code, _, err = run_cli("--debug", "run", "pushes", "-s", "slow")
    assert code == 130 and "Traceback" in err and "KeyboardInterrupt" in err
