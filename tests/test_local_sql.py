"""thsources.local_sql: DuckDB SQL over Results, DataFrames, Arrow tables and Parquet by name."""

from __future__ import annotations

import _thread
import datetime as dt
import io
import threading
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import thsources
from thsources import Column, ParameterError, QueryError, QueryTimeout, Result
from thsources.cli import main

UTC = dt.UTC


def _pushes() -> Result:
    return Result.from_rows(
        [
            Column("push_id", "integer"),
            Column("revision", "string"),
            Column("push_time", "datetime"),
            Column("meta", "json"),
        ],
        [
            (
                1,
                "ABCDEF0123456789" + "0" * 24,
                dt.datetime(2026, 10, 1, 23, 30, tzinfo=UTC),
                {"k": [1]},
            ),
            (2, "1234567890ab" + "f" * 28, dt.datetime(2026, 10, 2, 8, 0, tzinfo=UTC), None),
        ],
    )


def test_joins_a_result_a_dataframe_an_arrow_table_and_a_parquet_file(tmp_path: Path) -> None:
    crashes = pd.DataFrame({"revision": ["abcdef012345", "1234567890AB"], "crashes": [3, 5]})
    channels = pa.table({"push_id": [1, 2], "channel": ["nightly", "beta"]})
    path = tmp_path / "hours.parquet"
    pq.write_table(pa.table({"push_id": [1, 2], "hours": [10.5, 2.0]}), path)

    res = thsources.local_sql(
        """
        SELECT p.push_id, c.crashes, ch.channel, h.hours, p.meta, p.push_time,
               utc_day(p.push_time) AS day
        FROM pushes p
        JOIN crashes c ON short_revision(p.revision) = short_revision(c.revision)
        JOIN channels ch USING (push_id)
        JOIN hours h USING (push_id)
        ORDER BY p.push_id
        """,
        pushes=_pushes(),
        crashes=crashes,
        channels=channels,
        hours=path,
    )

    assert res.columns == [
        Column("push_id", "integer"),
        Column("crashes", "integer"),
        Column("channel", "string"),
        Column("hours", "float"),
        Column("meta", "json"),
        Column("push_time", "datetime"),
        Column("day", "date"),
    ]
    assert res.rows() == [
        (
            1,
            3,
            "nightly",
            10.5,
            {"k": [1]},
            dt.datetime(2026, 10, 1, 23, 30, tzinfo=UTC),
            dt.date(2026, 10, 1),
        ),
        (2, 5, "beta", 2.0, None, dt.datetime(2026, 10, 2, 8, 0, tzinfo=UTC), dt.date(2026, 10, 2)),
    ]
    assert res.meta.source == "local_sql"
    assert "JOIN crashes" in (res.meta.query or "")


def test_a_result_goes_in_as_arrow_without_python_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    res = _pushes()

    def refuse(self: Result) -> list[tuple[object, ...]]:
        raise AssertionError("rows were turned into Python objects")

    monkeypatch.setattr(Result, "rows", refuse)
    monkeypatch.setattr(Result, "records", refuse)
    out = thsources.local_sql("SELECT count(*) AS n FROM p", p=res)
    assert out.to_arrow().column("n").to_pylist() == [2]


def test_a_table_the_sql_uses_but_was_not_given_is_named_with_those_given() -> None:
    with pytest.raises(ParameterError) as caught:
        thsources.local_sql("SELECT * FROM pushes JOIN crashes USING (push_id)", pushes=_pushes())
    assert str(caught.value) == (
        "the SQL uses a table crashes that local_sql was not given (tables given: pushes); "
        "pass it by name (local_sql(sql, crashes=...); on the command line --with "
        "crashes=FILE.parquet) or fix the name in the SQL"
    )
    assert caught.value.source == "local_sql"


def test_a_parquet_path_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nope.parquet"
    with pytest.raises(
        ParameterError, match=r"table t: the Parquet file '.*nope\.parquet' does not exist"
    ):
        thsources.local_sql("SELECT * FROM t", t=missing)


def test_a_file_that_is_not_parquet(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_text("id,name\n1,a\n")
    with pytest.raises(
        ParameterError, match=r"table t: '.*bad\.parquet' cannot be read as Parquet"
    ):
        thsources.local_sql("SELECT * FROM t", t=bad)


def test_an_object_of_an_unsupported_type() -> None:
    with pytest.raises(ParameterError) as caught:
        thsources.local_sql("SELECT * FROM t", t=[{"a": 1}])
    assert str(caught.value).startswith(
        "local_sql cannot query t=builtins.list: give a thsources Result"
    )


def test_a_folder_of_parquet_files_is_one_table(tmp_path: Path) -> None:
    for i in range(2):
        pq.write_table(pa.table({"x": [i]}), tmp_path / f"part{i}.parquet")
    assert thsources.local_sql("SELECT sum(x) AS s FROM t", t=tmp_path).column("s") == [1]


def test_sql_errors_are_query_errors() -> None:
    with pytest.raises(QueryError, match=r"short_revision\(\): 'xyz' is not a revision"):
        thsources.local_sql("SELECT short_revision('xyz')")


def test_timeout_stops_the_statement() -> None:
    with pytest.raises(QueryTimeout):
        thsources.local_sql(
            "SELECT count(*) FROM range(100000000000) a, range(1000) b WHERE a.range % 7 = b.range",
            timeout=0.3,
        )


def test_ctrl_c_stops_the_statement() -> None:
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            thsources.local_sql(
                "SELECT count(*) FROM range(100000000000) a, range(1000) b "
                "WHERE a.range % 7 = b.range"
            )
    finally:
        timer.cancel()


def test_cli_join_over_parquet_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pq.write_table(pa.table({"id": [1, 2], "x": ["p", "q"]}), a)
    pq.write_table(pa.table({"id": [2, 3], "y": [1.5, 2.5]}), b)
    out, err = io.StringIO(), io.StringIO()
    code = main(
        [
            "join",
            "SELECT id, x, y FROM a JOIN b USING (id)",
            "--with",
            f"a={a}",
            "-w",
            f"b={b}",
            "--format",
            "csv",
        ],
        stdin=io.StringIO(),
        stdout=out,
        stderr=err,
    )
    assert (code, out.getvalue(), err.getvalue()) == (0, "id,x,y\n2,q,1.5\n", "")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--with", "a"], "thsources: error: --with takes NAME=FILE.parquet, not 'a'\n"),
        (
            ["--with", "a=x.parquet", "--with", "a=y.parquet"],
            "thsources: error: --with names the table 'a' twice\n",
        ),
    ],
)
def test_cli_join_refuses_bad_with(argv: list[str], message: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(["join", "SELECT 1", *argv], stdin=io.StringIO(), stdout=out, stderr=err)
    assert (code, out.getvalue(), err.getvalue()) == (2, "", message)
