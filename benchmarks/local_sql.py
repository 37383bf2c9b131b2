"""Benchmark ``local-sql``: joining a Result with a DataFrame, local_sql against pandas.

The data: a 500,000-row :class:`~thsources.Result` of jobs (``--rows`` changes it: job id,
40-hex revision, platform, result, duration) and a DataFrame of one row per revision,
100,000 of them (a fifth of ``--rows``: revision, crashes, usage hours), joined on the
revision. Every path returns the 500,000 joined rows. Paths, timed interleaved in one
process:

- baseline: ``pandas.merge`` of the jobs already as a DataFrame (the join alone);
- ``Result.to_pandas()`` then ``pandas.merge``: what a user does today, converting first;
- ``local_sql`` returning a Result (Arrow in, Arrow out, canonical types);
- ``local_sql(...).to_pandas()``: the same, ending in pandas like the first two.
"""

from __future__ import annotations

from typing import Any

from benchmarks import Options, Row, median_times

DESCRIPTION = "local_sql join of a Result and a DataFrame vs pandas.merge (same data, same run)"
SQL = (
    "SELECT j.job_id, j.revision, j.platform, j.result, j.duration_s, c.crashes, c.usage_hours "
    "FROM jobs j JOIN crashes c ON c.revision = j.revision"
)


def _data(rows: int) -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from thsources import Result

    rng = np.random.default_rng(11)
    revisions = rows // 5
    revs = np.array([f"{i:040x}" for i in rng.integers(0, 2**62, revisions, dtype=np.int64)])
    platforms = np.array(["linux1804-64-qr", "windows11-64", "macosx1015-64", "android-em-7-0"])
    results = np.array(["success", "testfailed", "busted", "retry"])
    jobs = pa.table(
        {
            "job_id": pa.array(np.arange(rows, dtype=np.int64)),
            "revision": pa.array(revs[rng.integers(0, revisions, rows)]),
            "platform": pa.array(platforms[rng.integers(0, len(platforms), rows)]),
            "result": pa.array(results[rng.integers(0, len(results), rows)]),
            "duration_s": pa.array(rng.gamma(2.0, 600.0, rows)),
        }
    )
    crashes = pd.DataFrame(
        {
            "revision": revs,
            "crashes": rng.poisson(3.0, revisions).astype("int64"),
            "usage_hours": rng.gamma(3.0, 100.0, revisions),
        }
    )
    return Result.from_arrow(jobs), crashes


def run(options: Options) -> list[Row]:
    import pandas as pd

    import thsources

    rows = options.rows or 500_000
    jobs, crashes = _data(rows)
    jobs_frame = jobs.to_pandas()

    def merge_only() -> Any:
        return pd.merge(jobs_frame, crashes, on="revision")

    def convert_then_merge() -> Any:
        return pd.merge(jobs.to_pandas(), crashes, on="revision")

    def local() -> Any:
        return thsources.local_sql(SQL, jobs=jobs, crashes=crashes)

    def local_to_pandas() -> Any:
        return thsources.local_sql(SQL, jobs=jobs, crashes=crashes).to_pandas()

    sizes = {len(merge_only()), len(local())}
    if sizes != {rows}:
        raise RuntimeError(f"the paths joined different row counts: {sizes}, expected {rows}")
    times = median_times([merge_only, convert_then_merge, local, local_to_pandas], options.repeat)
    base = times[0]
    labels = [
        "pandas.merge, jobs already a DataFrame (baseline)",
        "Result.to_pandas() then pandas.merge",
        "local_sql -> Result",
        "local_sql -> Result -> to_pandas()",
    ]
    note = f"{rows:,} jobs x {len(crashes):,} revisions"
    return [
        Row(label, t, t / base, note=note if k == 0 else "")
        for k, (label, t) in enumerate(zip(labels, times, strict=True))
    ]
