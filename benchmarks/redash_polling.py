"""Benchmark ``polling``: time to result on the Redash emulator, ours vs a fixed 1 s loop.

For jobs that take 0.2 s, 2 s and 10 s on the server (the emulator's ``job_duration``), the
time from submitting the SQL to holding the typed result:

- the fixed loop: what the official client's example does (POST, then sleep 1 s and poll the
  job until it is done, then fetch the result), written with plain ``requests``;
- ours: ``RedashSource.query``, with its adaptive poll schedule.

The target (issue #3) is at most 1.15 x the job's duration + 50 ms (median), with no more than
30 polls for the 10 s job; the ``x baseline`` column here is the time over the job's own
duration. A last pair submits 16 different 1 s queries together (the emulator runs 16
workers, as a deployment with several workers would) and waits for all of them: the target
is that all finish within 1.6 s.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import requests

from benchmarks import Options, Row

DESCRIPTION = "Redash time to result: adaptive polling vs a fixed 1 s loop (emulator)"
DURATIONS = (0.2, 2.0, 10.0)


def fixed_loop(url: str, key: str, sql: str) -> int:
    """The toolbelt example's loop; returns the number of job polls."""
    s = requests.Session()
    s.headers["Authorization"] = f"Key {key}"
    job = s.post(
        f"{url}/api/query_results", json={"query": sql, "data_source_id": 1, "max_age": 0}
    ).json()["job"]
    polls = 0
    while job["status"] not in (3, 4):
        time.sleep(1)
        job = s.get(f"{url}/api/jobs/{job['id']}").json()["job"]
        polls += 1
    s.get(f"{url}/api/query_results/{job['query_result_id']}.json").json()
    return polls


def _job_polls(emu: Any, since: int) -> int:
    return sum(
        1 for r in emu.requests[since:] if r.method == "GET" and r.path.startswith("/api/jobs/")
    )


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[float, list[Any]]:
    times, outs = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        outs.append(fn())
        times.append(time.perf_counter() - t0)
    return statistics.median(times), outs


def run(options: Options) -> list[Row]:
    import thsources
    from thsources.testing import RedashEmulator

    rows: list[Row] = []
    counter = iter(range(10**9))

    def fresh_sql() -> str:
        # Different text every run: no merging with an earlier job, no cache hit.
        return f"SELECT id, revision FROM push ORDER BY id LIMIT 5 /* run {next(counter)} */"

    with RedashEmulator(workers=16) as emu:
        src = thsources.connect("redash", url=emu.url, api_key=emu.api_key, data_source=1)
        src.query("SELECT 1")  # warm up the connection and the data source lookup
        for duration in DURATIONS:
            emu.job_duration = duration
            repeat = max(1, options.repeat if duration < 5 else min(options.repeat, 3))
            base_s, base_polls = _timed(
                lambda: fixed_loop(emu.url, emu.api_key, fresh_sql()), repeat
            )

            def ours() -> int:
                since = len(emu.requests)
                src.query(fresh_sql(), timeout=60)
                return _job_polls(emu, since)

            our_s, polls = _timed(ours, repeat)
            target = 1.15 * duration + 0.05
            rows.append(
                Row(
                    f"fixed 1 s loop, {duration:g} s job",
                    base_s,
                    base_s / duration,
                    note=f"polls {statistics.median(base_polls):.0f}",
                )
            )
            rows.append(
                Row(
                    f"thsources, {duration:g} s job",
                    our_s,
                    our_s / duration,
                    note=f"polls {statistics.median(polls):.0f}; target <= {target:.3f} s "
                    f"({'met' if our_s <= target else 'MISSED'})",
                )
            )

        emu.job_duration = 1.0

        def sixteen_ours() -> None:
            jobs = [src.submit(fresh_sql(), timeout=60) for _ in range(16)]
            for job in jobs:
                job.result(60)

        def sixteen_fixed() -> None:
            import concurrent.futures

            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda _: fixed_loop(emu.url, emu.api_key, fresh_sql()), range(16)))

        fixed16, _ = _timed(sixteen_fixed, min(options.repeat, 3))
        ours16, _ = _timed(sixteen_ours, min(options.repeat, 3))
        rows.append(Row("fixed 1 s loop, 16 x 1 s jobs (16 threads)", fixed16, fixed16))
        rows.append(
            Row(
                "thsources, 16 x 1 s jobs (submit all, then wait)",
                ours16,
                ours16,
                note=f"target <= 1.6 s ({'met' if ours16 <= 1.6 else 'MISSED'})",
            )
        )
        src.close()
    return rows
