"""Benchmark ``dialect``: what the PostgreSQL-to-DuckDB step adds to a local query.

The queries are the six named queries' ``postgresql.sql`` (bound with their defaults) and a
few corpus queries (``tests/dialect_corpus/agree.toml``). Paths, timed interleaved in one
process, each the whole batch of queries (median of ``--repeat`` runs):

- baseline: the already translated DuckDB SQL run on the sample and fetched as a ``Result``,
  which is what running the query without the step costs;
- the same with the translation done first, uncached (``translate.__wrapped__``): a query
  never seen before;
- the same through the cache (``translate``): a dashboard or named query run again;
- the translation alone, uncached, and per query (in ms, wall and CPU time: the machines
  these run on are shared, and CPU time is what the step itself costs) in the rows below.

The target (issue 6): the step adds at most 5 ms to a typical query.
"""

from __future__ import annotations

import statistics
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import Options, Row, median_times

DESCRIPTION = "PostgreSQL -> DuckDB translation of local queries, vs running them without it"
ROOT = Path(__file__).resolve().parent.parent
CORPUS_QUERIES = (
    "percentages with numeric and round",
    "CTE with joins",
    "lag and lead over performance data",
    "jsonb_build_object and operators",
    "generate_series of days, left join to fill gaps",
)


def queries() -> list[tuple[str, str]]:
    """(label, PostgreSQL SQL) of every query measured."""
    from thsources.catalog import bind_params, get
    from thsources.sqlbind import bind

    out = []
    for name in (
        "pushes",
        "jobs-for-push",
        "failure-rate-by-platform",
        "intermittent-bugs",
        "perf-series",
        "perf-alerts",
    ):
        query = get(name)
        params: dict[str, Any] = {}
        if name == "jobs-for-push":
            params["push_id"] = 1
        if name == "perf-series":
            params["signature_hash"] = "0" * 40
        sql = bind(query.variants["postgresql"], bind_params(query, params), "postgresql")
        out.append((name, sql))
    corpus = tomllib.loads((ROOT / "tests" / "dialect_corpus" / "agree.toml").read_text())
    by_name = {q["name"]: q["sql"] for q in corpus["query"]}
    out += [(f"corpus: {n}", by_name[n]) for n in CORPUS_QUERIES]
    return out


def run(options: Options) -> list[Row]:
    import thsources
    from thsources.local import pgdialect
    from thsources.result import Result

    src: Any = thsources.connect("local")
    con = src._connection_and_path()[0]
    clock = src._clock
    cold: Callable[..., str] = pgdialect.translate.__wrapped__  # type: ignore[attr-defined]
    batch = queries()
    translated = [pgdialect.translate(sql, clock) for _, sql in batch]

    def execute(text: str) -> Result:
        cursor = con.cursor()
        try:
            rel = cursor.sql(text)
            return Result.from_arrow(rel.to_arrow_table())
        finally:
            cursor.close()

    def baseline() -> None:
        for text in translated:
            execute(text)

    def uncached() -> None:
        for _, sql in batch:
            execute(cold(sql, clock))

    def cached() -> None:
        for _, sql in batch:
            execute(pgdialect.translate(sql, clock))

    def translate_only() -> None:
        for _, sql in batch:
            cold(sql, clock)

    repeat = options.repeat
    times = median_times([baseline, uncached, cached, translate_only], repeat)
    base = times[0]
    n = len(batch)
    rows = [
        Row("DuckDB SQL run directly (baseline)", base, 1.0, note=f"{n} queries"),
        Row(
            "translate uncached + run",
            times[1],
            times[1] / base,
            note=f"+{(times[1] - base) / n * 1000:.2f} ms a query",
        ),
        Row(
            "translate cached + run",
            times[2],
            times[2] / base,
            note=f"+{(times[2] - base) / n * 1000:.2f} ms a query",
        ),
        Row(
            "translation alone, uncached",
            times[3],
            times[3] / base,
            note=f"{times[3] / n * 1000:.2f} ms a query",
        ),
    ]
    for label, sql in batch:
        wall, cpu = [], []
        for _ in range(max(repeat, 9)):
            t0, c0 = time.perf_counter(), time.process_time()
            cold(sql, clock)
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - t0)
        median, cpu_median = statistics.median(wall), statistics.median(cpu)
        note = f"{median * 1000:.2f} ms wall, {cpu_median * 1000:.2f} ms CPU"
        rows.append(Row(f"  translate {label}", median, note=note))
    src.close()
    return rows
