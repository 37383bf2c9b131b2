"""Benchmark ``sql``: rows streamed from PostgreSQL into a typed DataFrame.

Paths, timed interleaved in one process (median of ``--repeat`` runs), all reading the same
table of job-like rows (bigint, int, text, 40-char hash, two timestamps, double, boolean,
numeric):

- baseline: ``pandas.read_sql`` over a SQLAlchemy engine (psycopg), what most notebooks do;
- ours: ``connect("sql", url=...).query(...).to_pandas()``: a server-side cursor, batches
  turned into typed Arrow columns as they arrive, then pandas;
- ours, Arrow only: the same without ``to_pandas`` (what ``to_arrow()`` users pay).

Peak memory: each path once in a fresh subprocess; the figure is ``VmHWM`` after resetting
it (``/proc/self/clear_refs``) minus the RSS just before the call, set against the final
DataFrame's own size (``memory_usage(deep=True)``).

Needs a PostgreSQL server: ``THSOURCES_BENCH_POSTGRES_URL`` (else
``THSOURCES_TEST_POSTGRES_URL``). The table lives in a schema of its own, dropped after.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import Options, Row, median_times

DESCRIPTION = "PostgreSQL rows -> typed DataFrame via the sql source, vs pandas.read_sql"
DEFAULT_ROWS = 1_000_000
ROOT = Path(__file__).resolve().parent.parent
QUERY = "SELECT * FROM bench_job"

TABLE = """
CREATE TABLE bench_job AS
SELECT g::bigint AS id,
       (g / 40)::integer AS push_id,
       (ARRAY['success', 'testfailed', 'busted', 'retry'])[g % 4 + 1]::varchar(25) AS result,
       'completed'::varchar(25) AS state,
       md5(g::text)::varchar(40) AS revision,
       TIMESTAMP '2024-01-01' + g * INTERVAL '1 second' AS start_time,
       TIMESTAMP '2024-01-01' + g * INTERVAL '1 second' + INTERVAL '17 minutes' AS end_time,
       (g % 1000) / 7.0::double precision AS duration_s,
       (g % 3 + 1)::integer AS tier,
       g % 2 = 0 AS visible,
       ((g % 10000) / 100.0)::numeric(10, 2) AS amount
FROM generate_series(1, {rows}) AS g
"""


def _base_url() -> str:
    url = os.environ.get("THSOURCES_BENCH_POSTGRES_URL") or os.environ.get(
        "THSOURCES_TEST_POSTGRES_URL"
    )
    if not url:
        raise SystemExit(
            "set THSOURCES_BENCH_POSTGRES_URL=postgresql://user@host:5432/db (a database "
            "where the benchmark may create and drop a schema)"
        )
    return url


def _with_schema(url: str, schema: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return parsed.render_as_string(hide_password=False)


def _baseline(url: str) -> Any:
    import pandas as pd
    import sqlalchemy

    # SQLAlchemy's default for postgresql:// is psycopg2, which is not installed: name psycopg.
    engine = sqlalchemy.create_engine(_psycopg_url(url))
    try:
        with engine.connect() as con:
            return pd.read_sql(QUERY, con)
    finally:
        engine.dispose()


def _psycopg_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def _ours(url: str) -> Any:
    import thsources

    with thsources.connect("sql", url=url) as src:
        return src.query(QUERY).to_pandas()


def _ours_arrow(url: str) -> Any:
    import thsources

    with thsources.connect("sql", url=url) as src:
        return src.query(QUERY)


PATHS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "baseline": ("pandas.read_sql (SQLAlchemy + psycopg)", _baseline),
    "ours": ("sql source .query().to_pandas()", _ours),
    "arrow": ("  same, Arrow Result only", _ours_arrow),
}


def run(options: Options) -> list[Row]:
    import psycopg

    nrows = options.rows or DEFAULT_ROWS
    base = _base_url()
    schema = f"thsrc_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            admin.execute(f"SET search_path TO {schema}")
            admin.execute(TABLE.format(rows=int(nrows)))
            admin.execute("ANALYZE bench_job")
            url = _with_schema(base, schema)
            return _measure(url, nrows, options)
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def _measure(url: str, nrows: int, options: Options) -> list[Row]:
    ours = _ours(url)
    frame_mb = ours.memory_usage(deep=True).sum() / 1e6
    baseline = _baseline(url)
    if baseline.shape != ours.shape:
        raise AssertionError(f"shape {ours.shape} != baseline's {baseline.shape}")
    print(
        f"table: {nrows:,} rows x {ours.shape[1]} columns; our DataFrame holds {frame_mb:.0f} MB "
        f"(dtypes: {', '.join(sorted({str(t) for t in ours.dtypes}))}); pandas.read_sql's "
        f"{baseline.memory_usage(deep=True).sum() / 1e6:.0f} MB (dtypes: "
        f"{', '.join(sorted({str(t) for t in baseline.dtypes}))}); median of {options.repeat}"
    )
    del ours, baseline
    keys = list(PATHS)
    times = median_times(
        [functools.partial(PATHS[k][1], url) for k in keys], options.repeat, warmup=False
    )
    seconds = dict(zip(keys, times, strict=True))
    peaks: dict[str, float | None] = dict.fromkeys(keys)
    if options.memory:
        for k in keys:
            measured = _measure_peak(k, url)
            peaks[k] = measured["peak_mb"] - measured["base_mb"]
        print(
            "peak MB: max RSS of a fresh process running the path once, above its RSS with "
            "modules imported"
        )
    rows = []
    for k in keys:
        note = ""
        if k != "baseline":
            note = f"{seconds['baseline'] / seconds[k]:.2f}x faster than baseline"
        if peaks[k] is not None and k != "arrow":
            note += f"{'; ' if note else ''}peak {peaks[k] / frame_mb:.2f}x our DataFrame"  # type: ignore[operator]
        rows.append(Row(PATHS[k][0], seconds[k], seconds[k] / seconds["baseline"], peaks[k], note))
    return rows


def _measure_peak(key: str, url: str) -> dict[str, float]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.sql_stream", "--child", key, url],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"peak-memory run of {key} failed:\n{proc.stderr}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _child(key: str, url: str) -> None:
    import gc

    import pandas  # noqa: F401  everything imported before the baseline RSS is read
    import psycopg  # noqa: F401
    import pyarrow  # noqa: F401
    import sqlalchemy  # noqa: F401

    import thsources.sources.sql
    import thsources.sources.sql_postgres  # noqa: F401

    gc.collect()
    base = _status_mb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    result = PATHS[key][1](url)
    peak = _status_mb("VmHWM")
    del result
    print(json.dumps({"base_mb": base, "peak_mb": peak}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=2, metavar=("PATH", "URL"), required=True)
    args = parser.parse_args()
    _child(*args.child)
