"""Benchmark ``decode``: a Redash-shaped JSON body into a typed DataFrame.

Paths, timed interleaved in one process (median of ``--repeat`` runs):

- baseline: ``json.loads`` + ``pandas.DataFrame(rows)``, untyped (datetimes stay strings);
- bare ``orjson.loads`` of the same bytes: the parse floor, no DataFrame at all;
- ours: ``decode_query_result(body)[1].to_pandas()``, typed;
- the safe path alone (``fast=False``): orjson, then Arrow's struct converter and the
  per-column coercion; what the fast path replaces, and what any fallback costs.

CPU time (``time.process_time``, all threads) of one more run of each path goes in the notes:
the fast path uses both cores, so its wall time depends on their being free.

Peak memory: each path once in a fresh subprocess that reads the body from a file, imports
everything, resets the kernel's high-water mark (``/proc/self/clear_refs``), then runs the
path; the figure is ``VmHWM`` (``getrusage`` max RSS where the reset is refused) minus the
RSS just before the call. RSS sees Arrow's allocations too, which tracemalloc does not.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import Options, Row, median_times

DESCRIPTION = "Redash query_result body -> typed DataFrame, vs json.loads+DataFrame and orjson"
DEFAULT_ROWS = 500_000
ROOT = Path(__file__).resolve().parent.parent

COLUMNS: list[tuple[str, str]] = [
    ("id", "integer"),
    ("push_id", "integer"),
    ("result", "string"),
    ("state", "string"),
    ("revision", "string"),
    ("job_guid", "string"),
    ("start_time", "datetime"),
    ("end_time", "datetime"),
    ("duration", "float"),
    ("tier", "integer"),
    ("platform", "string"),
    ("failure_classification_id", "integer"),
    ("visible", "boolean"),
]


def make_body(rows: int, seed: int = 0) -> bytes:
    """A deterministic Treeherder-like result, serialised as Redash does (``", "``, ``": "``).

    Ints, short and 40-character strings, a naive datetime with milliseconds (MySQL
    DATETIME), one with ``Z`` (timestamptz), a float and a boolean: 13 columns.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    hexdigits = np.array(list("0123456789abcdef"))
    revisions = ["".join(r) for r in hexdigits[rng.integers(0, 16, size=(1000, 40))]]
    start = np.datetime64("2024-05-01T00:00:00", "ms") + (
        np.arange(rows, dtype=np.int64) * 7000 + rng.integers(0, 1000, rows)
    ).astype("timedelta64[ms]")
    end = start + rng.integers(1000, 10_000_000, rows).astype("timedelta64[ms]")
    idx = np.arange(rows)
    values: dict[str, list[Any]] = {
        "id": (idx + 1).tolist(),
        "push_id": (100_000 + idx // 50).tolist(),
        "result": [
            ("success", "testfailed", "busted", "retry", "usercancel")[k % 5] for k in range(rows)
        ],
        "state": ["completed" if k % 20 else "running" for k in range(rows)],
        "revision": [revisions[k % 1000] for k in range(rows)],
        "job_guid": [f"{revisions[(k * 7) % 1000][:36]}/{k % 10}" for k in range(rows)],
        "start_time": np.datetime_as_string(start, unit="ms").tolist(),
        "end_time": np.datetime_as_string(end, unit="ms", timezone="UTC").tolist(),
        "duration": (rng.random(rows) * 1000).tolist(),
        "tier": (1 + idx % 3).tolist(),
        "platform": [
            ("linux64", "windows11-64", "macosx1015-64", "android-hw-a55")[k % 4]
            for k in range(rows)
        ],
        "failure_classification_id": (1 + idx % 8).tolist(),
        "visible": (idx % 3 != 0).tolist(),
    }
    names = [n for n, _ in COLUMNS]
    data_rows = [dict(zip(names, row, strict=True)) for row in zip(*values.values(), strict=True)]
    doc = {
        "query_result": {
            "id": 270,
            "query_hash": "5ee1f7a72db96734caad03f2e8c1852a",
            "query": f"SELECT id, push_id, result, ... FROM job LIMIT {rows}",
            "data": {
                "columns": [{"name": n, "friendly_name": n, "type": t} for n, t in COLUMNS],
                "rows": data_rows,
            },
            "data_source_id": 1,
            "runtime": 1.25,
            "retrieved_at": "2026-11-26T17:52:03.293Z",
        }
    }
    return json.dumps(doc).encode()


def _baseline(body: bytes) -> Any:
    import pandas as pd

    return pd.DataFrame(json.loads(body)["query_result"]["data"]["rows"])


def _orjson(body: bytes) -> Any:
    import orjson

    return orjson.loads(body)


def _ours(body: bytes) -> Any:
    from thsources.jsonrows import decode_query_result

    return decode_query_result(body)[1].to_pandas()


def _safe(body: bytes) -> Any:
    from thsources.jsonrows import decode_query_result

    return decode_query_result(body, fast=False)[1].to_pandas()


PATHS: dict[str, tuple[str, Callable[[bytes], Any]]] = {
    "baseline": ("json.loads + DataFrame (baseline)", _baseline),
    "orjson": ("orjson.loads (bare parse)", _orjson),
    "ours": ("decode_query_result().to_pandas()", _ours),
    "safe": ("  same, safe path only (fast=False)", _safe),
}


def run(options: Options) -> list[Row]:
    from thsources.jsonrows import STATS

    nrows = options.rows or DEFAULT_ROWS
    body = make_body(nrows)
    print(
        f"body: {nrows:,} rows x {len(COLUMNS)} columns, {len(body) / 1e6:.1f} MB, spaced as "
        f"Redash sends it; median of {options.repeat} interleaved runs"
    )
    STATS.reset()
    frame = _ours(body)
    if STATS.last_path != "fast":
        print(f"WARNING: the fast path was not taken: {STATS.last_reason}")
    expected_shape = _baseline(body).shape
    if frame.shape != expected_shape:
        raise AssertionError(f"shape {frame.shape} != baseline's {expected_shape}")
    del frame

    keys = list(PATHS)
    times = median_times([functools.partial(PATHS[k][1], body) for k in keys], options.repeat)
    seconds = dict(zip(keys, times, strict=True))
    cpu = {k: _cpu_seconds(PATHS[k][1], body) for k in keys}
    peaks: dict[str, float | None] = dict.fromkeys(keys)
    base_mb = None
    if options.memory:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "body.json"
            path.write_bytes(body)
            for k in keys:
                measured = _measure_peak(k, path)
                peaks[k] = measured["peak_mb"] - measured["base_mb"]
                base_mb = measured["base_mb"]
    if base_mb is not None:
        print(
            f"peak MB: max RSS of a fresh process running the path once, above its RSS with "
            f"the body loaded and modules imported ({base_mb:.0f} MB)"
        )

    base = seconds["baseline"]
    rows = []
    for k in keys:
        if k == "baseline":
            note = "untyped: datetimes stay str"
        elif k == "orjson":
            note = "dicts only, no DataFrame"
        else:
            note = (
                f"{base / seconds[k]:.2f}x faster than baseline, "
                f"{seconds[k] / seconds['orjson']:.2f}x bare orjson.loads"
            )
        note = f"cpu {cpu[k]:.2f} s; {note}"
        rows.append(Row(PATHS[k][0], seconds[k], seconds[k] / base, peaks[k], note))
    return rows


def _cpu_seconds(fn: Callable[[bytes], Any], body: bytes) -> float:
    """CPU time of one run, all threads: what a path costs when the cores are busy."""
    t0 = time.process_time()
    result = fn(body)
    elapsed = time.process_time() - t0
    del result
    return elapsed


def _measure_peak(key: str, body_path: Path) -> dict[str, float]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.decode", "--child", key, str(body_path)],
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
    """A ``/proc/self/status`` memory figure (``VmRSS``, ``VmHWM``) in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _child(key: str, body_path: str) -> None:
    import gc

    import numpy  # noqa: F401  everything imported before the baseline RSS is read
    import orjson  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow
    import pyarrow.json

    import thsources.jsonrows  # noqa: F401

    body = Path(body_path).read_bytes()
    gc.collect()
    base = _status_mb("VmRSS")
    try:
        # Reset the high-water mark, so that imports and reading do not count (Linux >= 4.0).
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        reset = True
    except OSError:
        reset = False
    result = PATHS[key][1](body)
    if reset:
        peak = _status_mb("VmHWM")
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    arrow_mb = pyarrow.default_memory_pool().max_memory() / 2**20
    del result
    print(json.dumps({"base_mb": base, "peak_mb": peak, "arrow_max_mb": arrow_mb}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=2, metavar=("PATH", "BODY_FILE"), required=True)
    args = parser.parse_args()
    _child(*args.child)
