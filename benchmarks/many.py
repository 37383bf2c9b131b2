"""Benchmark ``many``: 16 one-second queries across two sources with ``thsources.run_many``.

Half the queries are Redash jobs on the emulator (``job_duration=1``, 8 workers), half are
``SELECT pg_sleep(1)`` through the ``sql`` source on the PostgreSQL of
``THSOURCES_TEST_POSTGRES_URL`` (a synchronous source: it overlaps only because each query
has a thread). Without that variable a second Redash emulator stands in. The baseline is one
such 1 s query on its own, measured in the same run; the target (issue #12) is that all 16
finish within 1.6 s, i.e. within 1.6 x 1 s.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import statistics
import time
from typing import Any

from benchmarks import Options, Row

DESCRIPTION = "run_many: 16 x 1 s queries on two sources (Redash emulator + PostgreSQL)"
TARGET = 1.6


def run(options: Options) -> list[Row]:
    import thsources
    from thsources import Query, run_many
    from thsources.testing import RedashEmulator

    counter = itertools.count()

    def redash_sql() -> str:
        return f"SELECT {next(counter)} AS n"  # a new text each time: no merge, no cache

    pg_url = os.environ.get("THSOURCES_TEST_POSTGRES_URL")
    with contextlib.ExitStack() as stack:
        emu = stack.enter_context(RedashEmulator(workers=8, job_duration=1.0))
        redash = stack.enter_context(
            thsources.connect("redash", url=emu.url, api_key=emu.api_key, data_source=1)
        )
        if pg_url:
            other: Any = stack.enter_context(thsources.connect("sql", url=pg_url))
            other_name = "PostgreSQL pg_sleep(1)"

            def other_sql() -> str:
                return "SELECT pg_sleep(1) AS slept"
        else:
            emu2 = stack.enter_context(RedashEmulator(workers=8, job_duration=1.0))
            other = stack.enter_context(
                thsources.connect("redash", url=emu2.url, api_key=emu2.api_key, data_source=1)
            )
            other_name = "a second Redash emulator"
            other_sql = redash_sql

        def one() -> None:
            redash.query(redash_sql(), timeout=60)

        def sixteen() -> None:
            queries = [Query(sql=redash_sql(), source=redash, tag=f"r{i}") for i in range(8)]
            queries += [Query(sql=other_sql(), source=other, tag=f"o{i}") for i in range(8)]
            answers = list(run_many(queries, timeout=60, cancel_on_error=True))
            assert len(answers) == 16 and all(a.ok for a in answers)

        one()  # warm up: connections, the data source lookup, the sample
        sixteen()
        repeat = max(1, min(options.repeat, 5))
        base, many = [], []
        for _ in range(repeat):
            for fn, sink in ((one, base), (sixteen, many)):
                t0 = time.perf_counter()
                fn()
                sink.append(time.perf_counter() - t0)
    base_s, many_s = statistics.median(base), statistics.median(many)
    verdict = "met" if many_s <= TARGET else "MISSED"
    return [
        Row("one 1 s Redash query (baseline)", base_s, 1.0, note=f"{base_s / 1.0:.2f} x 1 s"),
        Row(
            f"run_many: 8 Redash + 8 {other_name}",
            many_s,
            many_s / base_s,
            note=f"{many_s / 1.0:.2f} x 1 s; target <= {TARGET:g} s ({verdict})",
        ),
    ]
