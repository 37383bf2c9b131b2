"""Benchmark ``result-cache``: a local cache hit vs fetching and decoding the result again.

A 500,000-row, 6-column result (integers, text, timestamps, floats, booleans) on the Redash
emulator, through ``RedashSource.query`` each time, timed interleaved in one process:

- baseline: the result fetched again over HTTP and decoded, with the local cache off and
  ``max_age=inf`` so the emulator answers from its own cache (no query runs on the server:
  this is the cheapest way to get the rows from Redash);
- ours: the same call with the local cache on (timed 5 times after each fetch): the entry
  is read, checked (CRC-32) and mapped back to typed Arrow columns, with no request;
- for reference, once each: the query run afresh on the server (``max_age=0``), and what
  storing the entry costs (``ResultCache.put``: encode, write, rename, evict).

The target (issue #12) is a hit at least 20x faster than the baseline.
"""

from __future__ import annotations

import math
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from benchmarks import Options, Row

DESCRIPTION = "Result cache hit vs fetching and decoding again from the Redash emulator"
DEFAULT_ROWS = 500_000
TARGET = 20.0

SQL = """
SELECT i AS id, 'revision-' || CAST(i AS text) AS revision,
       TIMESTAMP '2024-01-01 00:00:00' + i * INTERVAL '1 second' AS start_time,
       i * 0.5 AS duration_s, i % 2 = 0 AS visible, i % 7 AS tier
FROM generate_series(1, {rows}) AS s(i)
"""


HITS_PER_FETCH = 5
"""Hits timed after each fetch: a hit is short, so on a shared machine one slice of bad luck
would move a median of a few; all samples come from the same stretch of time as the fetches'."""


def _interleaved(fetch: Callable[[], Any], hit: Callable[[], Any], repeat: int) -> list[float]:
    """Median seconds of ``fetch`` and of ``hit``, timed in turns after a warm-up of each."""
    fetch()
    hit()
    fetches: list[float] = []
    hits: list[float] = []
    for _ in range(repeat):
        for samples, fn, times in ((fetches, fetch, 1), (hits, hit, HITS_PER_FETCH)):
            for _ in range(times):
                t0 = time.perf_counter()
                result = fn()
                samples.append(time.perf_counter() - t0)
                del result
    return [statistics.median(fetches), statistics.median(hits)]


def run(options: Options) -> list[Row]:
    import thsources
    from thsources.result_cache import DIR_ENV, SIZE_ENV, default_cache, make_key
    from thsources.testing import RedashEmulator

    rows = options.rows or DEFAULT_ROWS
    sql = SQL.format(rows=rows)
    folder = tempfile.mkdtemp(prefix="thsources-bench-cache-")
    saved = {k: os.environ.get(k) for k in (DIR_ENV, SIZE_ENV)}
    os.environ[DIR_ENV] = folder
    os.environ.pop(SIZE_ENV, None)
    try:
        with (
            RedashEmulator() as emu,
            thsources.connect("redash", url=emu.url, api_key=emu.api_key) as src,
        ):
            t0 = time.perf_counter()
            first = src.query(sql, max_age=math.inf)  # runs on the server, then stored
            fresh_s = time.perf_counter() - t0
            assert len(first) == rows and default_cache().entries(), "nothing was stored"

            def refetch() -> Any:
                os.environ[SIZE_ENV] = "0"
                try:
                    res = src.query(sql, max_age=math.inf)
                finally:
                    os.environ.pop(SIZE_ENV, None)
                assert res.meta.cached and "local_cache" not in res.meta.extra
                return res

            def hit() -> Any:
                res = src.query(sql, max_age=math.inf)
                assert res.meta.extra.get("local_cache") is True
                return res

            assert hit().records()[:3] == refetch().records()[:3]
            base_s, hit_s = _interleaved(refetch, hit, options.repeat)
            cache = default_cache()
            key = make_key({"kind": "redash", **src.cache_identity()}, sql, None)
            t0 = time.perf_counter()
            cache.put(key, first, kind="redash", source=src.name)
            put_s = time.perf_counter() - t0
            size = cache.path_of(key.digest).stat().st_size
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    speedup = base_s / hit_s
    verdict = "meets" if speedup >= TARGET else "MISSES"
    return [
        Row("fetch + decode again (Redash's cache, local cache off)", base_s, 1.0),
        Row(
            "local cache hit",
            hit_s,
            hit_s / base_s,
            note=f"{speedup:.1f}x faster; {verdict} the {TARGET:.0f}x target; "
            f"entry {size / 1e6:.1f} MB",
        ),
        Row("run afresh on the server (max_age=0; one run)", fresh_s, fresh_s / base_s),
        Row("store the entry (put; one run)", put_s, put_s / base_s),
    ]
