"""Benchmark ``redash-result``: a 200,000-row Redash result to a DataFrame, vs the download.

The Redash emulator runs in a subprocess (as a server would be another machine) and holds
one cached result of 200,000 rows x 13 columns (ints, short and 40-character strings, two
datetimes, a float, a boolean; about 70 MB of JSON). Each path POSTs the same query with a
``max_age`` that Redash answers with that result itself, so every path pays the server's
part alike (producing the body whole, then sending it). Timed interleaved, median of
``--repeat`` runs:

- baseline: the bare download, ``requests.post(...).content`` (bytes in hand, nothing decoded);
- the bare download read straight into one buffer (the fastest read of those bytes here);
- ours: ``RedashSource.query(sql, max_age=...).to_pandas()``: typed DataFrame, the rows
  parsed while the body arrives;
- the previous path: the same call with the body read by ``requests`` first, then decoded;
- decode only: ``decode_query_result(body)`` then ``to_pandas()``, on bytes in memory.

The target (issue #12) is ours within 1.1 x the bare download. The CPU seconds of one more
run of each path (this process, all threads) go in the notes: on a shared machine the wall
times depend on how many cores are free, the CPU seconds much less.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests

from benchmarks import Options, Row

DESCRIPTION = "Redash: 200,000-row result to a DataFrame vs the bare download (emulator)"
DEFAULT_ROWS = 200_000
MAX_AGE = 86_400


def result_sql(rows: int) -> str:
    return f"""SELECT g AS id, g % 5000 AS push_id,
 CASE WHEN g % 7 = 0 THEN 'testfailed' ELSE 'success' END AS result,
 'completed' AS state, md5(CAST(g AS text)) || 'abcdefgh' AS revision,
 md5(CAST(g + 1 AS text)) || '/0' AS job_guid,
 TIMESTAMP '2026-01-01 00:00:00' + g * INTERVAL '1 second' AS start_time,
 TIMESTAMP '2026-01-01 00:10:00' + g * INTERVAL '1 second' AS end_time,
 g * 0.37 AS duration, 1 + g % 3 AS tier, 'windows11-64-shippable' AS platform,
 g % 8 AS failure_classification_id, g % 2 = 0 AS visible
FROM generate_series(1, {rows}) AS g"""


@contextlib.contextmanager
def emulator() -> Iterator[tuple[str, str]]:
    """``thsources serve redash`` in a subprocess: (url, api key)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "thsources", "serve", "redash", "--workers", "2"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        url = key = ""
        for line in proc.stdout:
            if line.startswith("Redash emulator listening on "):
                url = line.split()[-1]
            elif line.startswith("API key: "):
                key = line.split()[-1]
                break
        yield url, key
    finally:
        proc.terminate()
        proc.wait(10)


def _cpu(fn: Callable[[], Any]) -> float:
    c0 = time.process_time()
    fn()
    return time.process_time() - c0


def run(options: Options) -> list[Row]:
    rows = options.rows or DEFAULT_ROWS
    sql = result_sql(rows)
    # The local result cache would answer every max_age query after the first from disk:
    # what is measured here is the path from Redash's bytes to a DataFrame.
    saved_cap = os.environ.get("THSOURCES_RESULT_CACHE_SIZE")
    os.environ["THSOURCES_RESULT_CACHE_SIZE"] = "0"
    try:
        return _run(options, rows, sql)
    finally:
        if saved_cap is None:
            del os.environ["THSOURCES_RESULT_CACHE_SIZE"]
        else:
            os.environ["THSOURCES_RESULT_CACHE_SIZE"] = saved_cap


def _run(options: Options, rows: int, sql: str) -> list[Row]:
    import thsources
    import thsources.sources.redash as redash_module
    from thsources.jsonrows import decode_query_result
    from thsources.jsonrows_stream import STREAM_STATS

    with emulator() as (url, key), requests.Session() as session:
        session.headers["Authorization"] = f"Key {key}"
        src = thsources.connect("redash", url=url, api_key=key, data_source=1, timeout=600)
        src.query(sql, timeout=600)  # run the job once: the result is cached on the server
        post = {"data_source_id": 1, "query": sql, "max_age": MAX_AGE, "parameters": {}}

        def bare() -> bytes:
            return session.post(f"{url}/api/query_results", json=post).content

        def bare_into() -> bytearray:
            response = session.post(f"{url}/api/query_results", json=post, stream=True)
            size = int(response.headers["Content-Length"])
            buf = bytearray(size)
            view, got, fp = memoryview(buf), 0, response.raw._fp
            while got < size:
                got += fp.readinto(view[got : min(size, got + (1 << 20))])
            response.raw.release_conn()
            return buf

        def ours() -> Any:
            return src.query(sql, max_age=MAX_AGE).to_pandas()

        def previous() -> Any:
            real = redash_module.Incoming.of
            redash_module.Incoming.of = lambda *a, **k: None  # type: ignore[method-assign]
            try:
                return src.query(sql, max_age=MAX_AGE).to_pandas()
            finally:
                redash_module.Incoming.of = real  # type: ignore[method-assign]

        body = bare()

        def decode_only() -> Any:
            return decode_query_result(body)[1].to_pandas()

        paths: dict[str, Callable[[], Any]] = {
            "bare download (requests .content)": bare,
            "bare download into one buffer": bare_into,
            "ours: query(max_age) -> DataFrame": ours,
            "previous: read whole, then decode -> DataFrame": previous,
            "decode only (bytes in memory) -> DataFrame": decode_only,
        }
        assert ours().equals(previous())
        streamed = STREAM_STATS.streamed
        samples: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(max(1, options.repeat)):
            for name, fn in paths.items():
                t0 = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - t0)
        assert STREAM_STATS.streamed > streamed, STREAM_STATS.last_reason
        cpu = {name: _cpu(fn) for name, fn in paths.items()}
        src.close()
    medians = {name: statistics.median(v) for name, v in samples.items()}
    base = medians["bare download (requests .content)"]
    fastest = min(base, medians["bare download into one buffer"])
    out = []
    for name, seconds in medians.items():
        note = f"cpu {cpu[name]:.2f} s"
        if name.startswith("ours"):
            verdict = "met" if seconds <= 1.1 * base else "MISSED"
            floor = fastest + medians["decode only (bytes in memory) -> DataFrame"]
            note += (
                f"; {seconds / fastest:.2f} x the fastest bare read; target <= 1.1 x ({verdict})"
                f"; {seconds / floor:.2f} x (fastest read + decode only)"
            )
        if name.startswith("bare download (requests"):
            note += f"; body {len(body) / 1e6:.0f} MB, {rows} rows"
        out.append(Row(name, seconds, seconds / base, note=note))
    return out
