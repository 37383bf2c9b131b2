"""Benchmark ``dbapi``: ``pandas.read_sql`` through the SQLAlchemy dialect vs ``to_pandas()``.

Paths, timed interleaved in one process (median of ``--repeat`` runs), all giving the same
frame from the same query on the local sample (job rows repeated up to ``--rows``, default
200,000: integers, text, a 40-character id, three timestamps):

- baseline: ``connect("local").query(sql).to_pandas()``: Arrow columns straight to pandas;
- the query alone (``connect("local").query(sql)``), which every path below also pays;
- the floor: ``pd.read_sql(text(sql), engine, dtype_backend="numpy_nullable")`` where the
  engine is the thsources dialect over a zero-cost DB-API whose cursor hands SQLAlchemy the
  same rows as ready-made Python tuples (made once, before timing) and runs no query. It is
  what SQLAlchemy (a ``Row`` per row) and pandas (every column inferred again from Python
  objects) cost by themselves: no driver can make ``read_sql`` cheaper than this;
- the floor plus the query: the least any SQLAlchemy dialect that has to run the query can
  reach (a sum of the two medians, not a timed path);
- ``pd.read_sql`` through ``create_engine("thsources://local")``, with ``numpy_nullable``
  (the frame equal to the baseline's) and with pandas' default dtypes;
- the DB-API cursor's own frame, ``cur.execute(sql); cur.fetch_df()``, the fast path for
  code that can hold a cursor (also through SQLAlchemy: ``engine.raw_connection().cursor()``).
"""

from __future__ import annotations

import statistics
import time
import types
from collections.abc import Callable, Mapping
from typing import Any

from benchmarks import Options, Row

DESCRIPTION = "pandas.read_sql through the thsources SQLAlchemy dialect vs query().to_pandas()"
DEFAULT_ROWS = 200_000


def sql_for(rows: int) -> str:
    return (
        "SELECT j.id + g * 10000000 AS id, j.push_id, j.guid, j.result, j.state, j.tier, "
        "j.submit_time, j.start_time, j.end_time "
        f"FROM job j CROSS JOIN generate_series(0, 20) AS s(g) ORDER BY 1 LIMIT {int(rows)}"
    )


def floor_module(description: list[Any], rows: list[tuple[Any, ...]]) -> types.ModuleType:
    """A DB-API module whose cursors return ``rows`` at once, whatever they are asked.

    It stands for the fastest possible driver: no query, no conversion, the same tuples
    every time. Everything else (errors, paramstyle, type objects) is thsources.dbapi's, so
    the thsources dialect runs over it unchanged.
    """
    from thsources import dbapi

    class FloorCursor:
        arraysize = 1
        rowcount = -1
        description: list[Any] | None = None

        def execute(self, operation: str, parameters: Mapping[str, Any] | None = None) -> None:
            self.description = description
            self.rowcount = len(rows)
            self._rows = rows

        def fetchall(self) -> list[tuple[Any, ...]]:
            out, self._rows = self._rows, []
            return out

        def fetchmany(self, size: int | None = None) -> list[tuple[Any, ...]]:
            n = self.arraysize if size is None else size
            out, self._rows = self._rows[:n], self._rows[n:]
            return out

        def fetchone(self) -> tuple[Any, ...] | None:
            got = self.fetchmany(1)
            return got[0] if got else None

        def close(self) -> None:
            self._rows = []

    class FloorConnection:
        closed = False

        def cursor(self) -> FloorCursor:
            return FloorCursor()

        def commit(self) -> None:
            pass

        def rollback(self) -> None:
            pass

        def close(self) -> None:
            self.closed = True

    module = types.ModuleType("floor_dbapi")
    module.__dict__.update({k: v for k, v in vars(dbapi).items() if not k.startswith("__")})
    module.connect = lambda *args, **kwargs: FloorConnection()  # type: ignore[attr-defined]
    return module


def median_wall_and_cpu(
    funcs: list[Callable[[], Any]], repeat: int
) -> tuple[list[float], list[float]]:
    """Median wall and CPU seconds of each function, runs interleaved after a warm-up.

    CPU time (the process's, DuckDB's threads included) is reported beside wall time
    because the machines these run on are shared: waiting for a core inflates wall time
    but not the work done.
    """
    for f in funcs:
        f()
    wall: list[list[float]] = [[] for _ in funcs]
    cpu: list[list[float]] = [[] for _ in funcs]
    for _ in range(repeat):
        for k, f in enumerate(funcs):
            w0, c0 = time.perf_counter(), time.process_time()
            result = f()
            wall[k].append(time.perf_counter() - w0)
            cpu[k].append(time.process_time() - c0)
            del result
    return [statistics.median(s) for s in wall], [statistics.median(s) for s in cpu]


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
    made = connection.cursor()
    made.execute(sql)
    if made.rowcount != rows:
        raise SystemExit(f"the query gave {made.rowcount} rows, not {rows}: ask for fewer rows")
    floor_engine = sa.create_engine(
        "thsources://local", module=floor_module(made.description or [], made.fetchall())
    )
    made.close()

    def baseline() -> Any:
        return source.query(sql).to_pandas()

    def query_only() -> Any:
        return source.query(sql)

    def floor() -> Any:
        return pd.read_sql(sa.text(sql), floor_engine, dtype_backend="numpy_nullable")

    def read_sql_nullable() -> Any:
        return pd.read_sql(sa.text(sql), engine, dtype_backend="numpy_nullable")

    def read_sql_default() -> Any:
        return pd.read_sql(sa.text(sql), engine)

    def cursor_fetch_df() -> Any:
        cur = connection.cursor()
        cur.execute(sql)
        frame = cur.fetch_df()
        cur.close()
        return frame

    expected = baseline()
    for path in (floor, read_sql_nullable, cursor_fetch_df):  # the same frame, or no ratio
        pd.testing.assert_frame_equal(path(), expected)

    paths = [baseline, query_only, floor, read_sql_nullable, read_sql_default, cursor_fetch_df]
    wall, cpu = median_wall_and_cpu(paths, options.repeat)
    wall.insert(3, wall[1] + wall[2])  # floor + the query: a sum, not a timed path
    cpu.insert(3, cpu[1] + cpu[2])
    names = [
        "query().to_pandas() (baseline)",
        "the query alone (query())",
        "floor: pd.read_sql over a zero-cost DB-API",
        "floor + the query (least any dialect can do)",
        "pd.read_sql via dialect, numpy_nullable",
        "pd.read_sql via dialect, default dtypes",
        "dbapi cursor: execute(); fetch_df()",
    ]
    out = [
        Row(name, w, w / wall[0], note=f"CPU {c / cpu[0]:.2f}x")
        for name, w, c in zip(names, wall, cpu, strict=True)
    ]
    least_wall, least_cpu = wall[3], cpu[3]
    out.append(
        Row(
            "pd.read_sql nullable / (floor + the query)",
            wall[4],
            wall[4] / least_wall,
            note=f"CPU {cpu[4] / least_cpu:.2f}x; {rows:,} rows",
        )
    )
    connection.close()
    engine.dispose()
    floor_engine.dispose()
    source.close()
    return out
