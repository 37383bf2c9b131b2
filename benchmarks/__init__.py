"""Named benchmarks: ``python -m benchmarks [NAME ...] [--rows N] [--repeat R]``.

Each benchmark is a module listed in :data:`BENCHMARKS` exposing ``DESCRIPTION`` and
``run(options) -> list[Row]``; its first row is the baseline the others are compared with.
Baselines are measured in the same run as the thing they judge, because the machines these
run on are shared and noisy: only ratios measured side by side carry over.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["BENCHMARKS", "Options", "Row", "format_table", "main", "median_times"]

BENCHMARKS: dict[str, str] = {
    "activedata": "benchmarks.activedata_decode",
    "decode": "benchmarks.decode",
    "polling": "benchmarks.redash_polling",
    "treeherder-jobs": "benchmarks.treeherder_jobs",
    "local-execute": "benchmarks.local_execute",
    "dialect": "benchmarks.dialect",
    "sql": "benchmarks.sql_stream",
    "local-sql": "benchmarks.local_sql",
    "dbapi": "benchmarks.dbapi_read_sql",
    "result-cache": "benchmarks.result_cache",
    "many": "benchmarks.many",
    "redash-result": "benchmarks.redash_result",
}
"""Benchmark name -> module. To add one: write the module, add a line here."""


@dataclass(frozen=True)
class Options:
    """What the runner passes every benchmark; ``rows=None`` means the benchmark's default."""

    rows: int | None = None
    repeat: int = 5
    memory: bool = True


@dataclass(frozen=True)
class Row:
    """One measured path: median seconds, time as a ratio of the baseline's, peak memory."""

    name: str
    seconds: float
    ratio: float | None = None
    peak_mb: float | None = None
    note: str = ""


class BenchmarkModule(Protocol):
    DESCRIPTION: str

    def run(self, options: Options) -> list[Row]: ...


def median_times(
    funcs: Sequence[Callable[[], Any]],
    repeat: int,
    warmup: bool = True,
) -> list[float]:
    """Median wall time of each function, runs interleaved so drift hits all alike.

    The result is dropped outside the timed region: freeing millions of objects is not
    part of any path's cost here.
    """
    if warmup:
        for f in funcs:
            f()
    samples: list[list[float]] = [[] for _ in funcs]
    for _ in range(repeat):
        for k, f in enumerate(funcs):
            t0 = time.perf_counter()
            result = f()
            samples[k].append(time.perf_counter() - t0)
            del result
    return [statistics.median(s) for s in samples]


def format_table(rows: Sequence[Row]) -> str:
    header = ("path", "median s", "x baseline", "peak MB", "note")
    cells = [
        (
            r.name,
            f"{r.seconds:.3f}",
            "" if r.ratio is None else f"{r.ratio:.2f}",
            "" if r.peak_mb is None else f"{r.peak_mb:.0f}",
            r.note,
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(c[k]) for c in cells)) for k, h in enumerate(header)]
    right = {1, 2, 3}

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(widths[k]) if k in right else v.ljust(widths[k]) for k, v in enumerate(values)
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, cells)])


def machine() -> str:
    import orjson
    import pandas
    import pyarrow

    return (
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs ({platform.machine()}), orjson {orjson.__version__}, "
        f"pyarrow {pyarrow.__version__}, pandas {pandas.__version__}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})"
    )
    parser.add_argument("--rows", type=int, default=None, help="input size (benchmark's default)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per path (median)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, module_name in BENCHMARKS.items():
            print(f"{name}: {_load(module_name).DESCRIPTION}")
        return 0
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    options = Options(rows=args.rows, repeat=max(1, args.repeat), memory=not args.no_memory)
    print(machine())
    for name in args.names or list(BENCHMARKS):
        module = _load(BENCHMARKS[name])
        print(f"\n== {name}: {module.DESCRIPTION}")
        sys.stdout.flush()
        rows = module.run(options)
        print(format_table(rows))
        sys.stdout.flush()
    return 0


def _load(module: str) -> BenchmarkModule:
    loaded: BenchmarkModule = importlib.import_module(module)
    return loaded
