"""Benchmark ``activedata``: ActiveData answers (table and cube) into records and a DataFrame.

Paths, timed interleaved in one process (median of ``--repeat`` runs), for a table answer and
a set-operation cube answer of the same rows:

- baseline: the naive path every old client wrote, ``[dict(zip(header, row)) for row in
  data]`` (for a cube: zip the arrays, then dicts) and ``pandas.DataFrame(records)``, untyped
  (unix-second times stay numbers);
- ours, records: ``decode(answer, query).records``: flat dotted records;
- ours, DataFrame: the source's path, ``decode_columns`` + ``to_result(...).to_pandas()``:
  typed columns, times as UTC datetimes.
"""

from __future__ import annotations

import random
from typing import Any

from benchmarks import Options, Row, median_times

DESCRIPTION = "ActiveData table/cube answer -> records and DataFrame, vs naive zip-into-dicts"
DEFAULT_ROWS = 10_000

HEADER = [
    "run.taskcluster.id",
    "job.type.name",
    "run.result",
    "run.tier",
    "repo.branch.name",
    "repo.changeset.id",
    "failure.classification",
    "action.start_time",
    "action.duration",
]
RESULTS = ["success", "testfailed", "busted", "exception", "retry"]


def make_rows(n: int, seed: int = 0) -> list[list[Any]]:
    rnd = random.Random(seed)
    return [
        [
            "".join(rnd.choices("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789_-", k=22)),
            f"test-linux1804-64/opt-mochitest-{rnd.randint(1, 40)}",
            rnd.choice(RESULTS),
            rnd.choice([1, 1, 1, 2, 3]),
            rnd.choice(["autoland", "mozilla-central", "try"]),
            f"{rnd.getrandbits(160):040x}",
            rnd.choice(["not classified", "intermittent", "fixed by commit"]),
            1_780_000_000 + rnd.randint(0, 10_000_000),
            rnd.random() * 3600 if rnd.random() > 0.05 else None,
        ]
        for _ in range(n)
    ]


def run(options: Options) -> list[Row]:
    import pandas as pd

    from thsources.jx.decode import decode, decode_columns
    from thsources.jx.records import to_result
    from thsources.result import ResultMeta
    from thsources.sources.activedata import TIME_FIELDS

    n = options.rows or DEFAULT_ROWS
    rows = make_rows(n)
    query = {"from": "treeherder", "select": HEADER}
    table = {"meta": {"format": "table"}, "header": HEADER, "data": rows}
    cube = {
        "meta": {"format": "cube"},
        "edges": [{"name": "rownum", "domain": {"type": "rownum", "min": 0, "max": n}}],
        "data": {h: [r[k] for r in rows] for k, h in enumerate(HEADER)},
    }

    def naive_table() -> Any:
        return pd.DataFrame([dict(zip(table["header"], r, strict=True)) for r in table["data"]])

    def naive_cube() -> Any:
        names = list(cube["data"])
        return pd.DataFrame(
            [dict(zip(names, r, strict=True)) for r in zip(*cube["data"].values(), strict=True)]
        )

    def ours_frame(answer: dict[str, Any]) -> Any:
        names, columns, _ = decode_columns(answer, query)
        return to_result((names, columns), ResultMeta(), times=TIME_FIELDS).to_pandas()

    funcs = [
        naive_table,
        lambda: decode(table, query).records,
        lambda: ours_frame(table),
        naive_cube,
        lambda: decode(cube, query).records,
        lambda: ours_frame(cube),
    ]
    times = median_times(funcs, options.repeat)
    names = [
        "table: naive zip-into-dicts + DataFrame (baseline)",
        "table: decode() -> flat records",
        "table: decode_columns -> typed Result -> DataFrame",
        "cube: naive zip-into-dicts + DataFrame",
        "cube: decode() -> flat records",
        "cube: decode_columns -> typed Result -> DataFrame",
    ]
    base = times[0]
    notes = ["untyped", "dicts only", "typed, UTC datetimes", "untyped", "dicts only", "typed"]
    return [
        Row(name, t, t / base, None, note)
        for name, t, note in zip(names, times, notes, strict=True)
    ]
