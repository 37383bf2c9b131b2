"""Benchmark ``dbapi``: ``pandas.read_sql`` through the SQLAlchemy dialect vs ``to_pandas()``.

Paths, timed interleaved in one process (median of ``--repeat`` runs), all running the same
query on the local sample (job rows repeated up to ``--rows``, default 200,000: integers,
text, a 40-character id, timestamps):

- baseline: ``connect("local").query(sql).to_pandas()``: Arrow columns straight to pandas;
- ``pd.read_sql(text(sql), engine, dtype_backend="numpy_nullable")`` on
  ``create_engine("thsources://local")``: the frame equal to the baseline's;
- the same with pandas' default backend (object and numpy dtypes);
- the DB-API cursor's own result: ``cur.execute(sql); cur.result.to_pandas()``, the fast
  path for code that holds a thsources cursor.

pandas' SQLAlchemy path fetches every row as a Python tuple and infers each column's type
again from the objects; that, not the query, is what the ratio measures.
"""

from __future__ import annotations

from typing import Any

from benchmarks import Options, Row, median_times

DESCRIPTION = "pandas.read_sql through the thsources SQLAlchemy dialect vs query().to_pandas()"
DEFAULT_ROWS = 200_000


def sql_for(rows: int) -> str:
    return (
        "SELECT j.id + g * 10000000 AS id, j.push_id, j.guid, j.result, j.state, j.tier, "
        "j.submit_time, j.start_time, j.end_time "
        f"FROM job j CROSS JOIN generate_series(0, 20) AS s(g) ORDER BY 1 LIMIT {int(rows)}"
    )


def run(options: Options) -> list[Row]:
    import pandas as pd
    import sqlalchemy as sa

    import thsources
    from thsources import dbapi

    rows = options.rows or DEFAULT_ROWS
    sql = sql_for(rows)
    source = thsources.connect("local")
    engine = sa.create_engine("thsources://local")
    connection = dbapi.connect(source)
    got = len(source.query(sql))
    if got != rows:
        raise SystemExit(f"the query gave {got} rows, not {rows}: ask for fewer rows")

    def baseline() -> Any:
        return source.query(sql).to_pandas()

    def read_sql_nullable() -> Any:
        return pd.read_sql(sa.text(sql), engine, dtype_backend="numpy_nullable")

    def read_sql_default() -> Any:
        return pd.read_sql(sa.text(sql), engine)

    def cursor_result() -> Any:
        cur = connection.cursor()
        cur.execute(sql)
        assert cur.result is not None
        frame = cur.result.to_pandas()
        cur.close()
        return frame

    expected = baseline()
    same = read_sql_nullable()
    pd.testing.assert_frame_equal(same, expected)  # the paths compared give the same frame

    paths = [baseline, read_sql_nullable, read_sql_default, cursor_result]
    times = median_times(paths, options.repeat)
    base = times[0]
    names = [
        "query().to_pandas() (baseline)",
        "pd.read_sql via dialect, numpy_nullable (same frame)",
        "pd.read_sql via dialect, default dtypes",
        "dbapi cursor .result.to_pandas()",
    ]
    out = [
        Row(name, t, t / base, note=f"{rows:,} rows") for name, t in zip(names, times, strict=True)
    ]
    connection.close()
    engine.dispose()
    source.close()
    return out
