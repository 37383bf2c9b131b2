"""Output behaviour that mutation testing found unchecked (see docs/testing.md).

Each test pins something a user sees: the exact text of a table, the exact JSON lines, the
error printed for an output path that cannot be written, and that ``-`` never becomes a file.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path

import duckdb
import pytest

from thsources.cli import main
from thsources.errors import ConfigError
from thsources.output import check_writable, render, write_result
from thsources.result import Column, Result

UTC = dt.UTC


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdin=io.StringIO(""), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DuckDB file behind the 'default' profile; the test's files go in ``tmp_path/out``."""
    db = tmp_path / "db.duckdb"
    duckdb.connect(str(db)).close()
    config = tmp_path / "config.toml"
    config.write_text(f'[profiles.default]\nkind = "local"\npath = "{db}"\n')
    monkeypatch.setenv("THSOURCES_CONFIG", str(config))
    out = tmp_path / "out"
    out.mkdir()
    return out


def test_table_right_aligns_numbers_and_left_aligns_text() -> None:
    res = Result.from_rows(
        [Column("id", "integer"), Column("name", "string"), Column("ratio", "float")],
        [(7, "autoland", 0.5), (1234, "try", 12.25)],
    )
    assert render(res, "table") == (
        "  id  name      ratio\n"
        "----  --------  -----\n"
        "   7  autoland    0.5\n"
        "1234  try       12.25\n"
        "(2 rows)\n"
    )


def test_jsonl_writes_utc_times_with_z() -> None:
    res = Result.from_rows(
        [Column("t", "datetime"), Column("d", "date")],
        [(dt.datetime(2026, 10, 1, 12, 0, 0, 250000, tzinfo=UTC), dt.date(2026, 10, 2))],
    )
    assert render(res, "jsonl") == '{"t":"2026-10-01T12:00:00.250000Z","d":"2026-10-02"}\n'


def test_dash_path_writes_to_the_stream_never_to_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``-`` means standard output even where a directory named ``-`` exists."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-").mkdir()
    check_writable(Path("-"))
    buf = io.BytesIO()
    res = Result.from_rows([Column("one", "integer")], [(1,)])
    write_result(res, "csv", path=Path("-"), stream=buf)
    assert buf.getvalue() == b"one\n1\n"
    assert os.listdir(tmp_path / "-") == []


def test_unwritable_fifo_is_refused_before_the_query(
    local: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root may write anywhere (CI runs as root), so the refusal comes from os.access."""
    fifo = local / "pipe"
    os.mkfifo(fifo)
    real_access = os.access

    def access(path: object, mode: int, **kw: object) -> bool:
        return False if Path(str(path)) == fifo else real_access(path, mode, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)
    code, out, err = run_cli("query", "SELECT nosuchcol", "-o", str(fifo), "--format", "csv")
    assert (code, out) == (2, "")
    assert err == (
        f"thsources: error: cannot write output to {fifo}: permission denied; "
        "choose a writable path\n"
    )


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        pytest.param("loop", "Too many levels of symbolic links", id="symlink-loop"),
        pytest.param("under-a-file", "Not a directory", id="under-a-file"),
    ],
)
def test_output_path_that_cannot_be_resolved_is_a_one_line_error(
    local: Path, make: str, reason: str
) -> None:
    """A path the system cannot even look up is refused before the query, as exit 2."""
    if make == "loop":
        (local / "a.csv").symlink_to(local / "b.csv")
        (local / "b.csv").symlink_to(local / "a.csv")
        target = local / "a.csv"
    else:
        (local / "file").write_text("keep\n")
        target = local / "file" / "x.csv"
    code, out, err = run_cli("query", "SELECT nosuchcol", "-o", str(target))
    assert (code, out) == (2, "")
    assert err == f"thsources: error: cannot write output to {target}: {reason}\n"
    with pytest.raises(ConfigError):
        check_writable(target)


def test_render_is_a_table_unless_told_otherwise() -> None:
    res = Result.from_rows([Column("one", "integer")], [(1,)])
    assert render(res) == "one\n---\n  1\n(1 row)\n"


def test_parquet_stores_json_columns_as_their_text(tmp_path: Path) -> None:
    """Any Parquet reader can read a string; the arrow.json extension type it cannot."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    res = Result.from_rows(
        [Column("id", "integer"), Column("meta", "json")], [(1, {"k": [1, 2]}), (2, None)]
    )
    target = tmp_path / "out.parquet"
    write_result(res, "parquet", path=target)
    table = pq.read_table(target)
    assert table.schema.field("meta").type == pa.string()
    assert table.schema.field("id").type == pa.int64()
    assert table.column("meta").to_pylist() == ['{"k":[1,2]}', None]


def test_unknown_format_names_the_ones_there_are() -> None:
    res = Result.from_rows([Column("one", "integer")], [(1,)])
    with pytest.raises(ConfigError) as info:
        render(res, "xml")
    assert str(info.value) == (
        "unknown output format 'xml'; use one of table, csv, json, jsonl, parquet"
    )


def test_unknown_suffix_error_lists_the_suffixes_and_formats(local: Path) -> None:
    target = local / "out.xlsx"
    code, out, err = run_cli("query", "SELECT nosuchcol", "-o", str(target))
    assert (code, out) == (2, "")
    assert err == (
        f"thsources: error: cannot tell what to write to {target}: '.xlsx' is not a suffix "
        "thsources writes (.csv, .json, .jsonl, .ndjson, .parquet, .txt); "
        "pass --format table|csv|json|jsonl|parquet\n"
    )
