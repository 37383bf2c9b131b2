"""Benchmark ``local-execute``: what running each local statement on a worker thread costs.

The local source runs a statement on a worker thread so that a deadline and Ctrl-C can
interrupt it (``thsources/local/execute.py``). Paths, timed interleaved in one process:

- baseline: a fresh cursor, ``cursor.sql(text)`` and the Arrow fetch on the calling thread
  (what the source did before; Ctrl-C could not stop it);
- ``run_statement``: the same on a worker thread, the caller waiting in slices.

Two statements: ``SELECT 1`` (the overhead alone) and a typical aggregate over the sample's
jobs. ``--repeat`` runs of each; each timing is a batch of ``--rows`` statements (default 200).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks import Options, Row, median_times

DESCRIPTION = "local statements on a worker thread (interruptible) vs on the calling thread"
TYPICAL = (
    "SELECT r.name AS repository, count(*) AS jobs, "
    "count(*) FILTER (WHERE j.result = 'testfailed') AS failed "
    "FROM job j JOIN push p ON p.id = j.push_id JOIN repository r ON r.id = p.repository_id "
    "GROUP BY r.name ORDER BY r.name"
)


def run(options: Options) -> list[Row]:
    from thsources.local.execute import _fetch, run_statement
    from thsources.sources.local import LocalSource

    batch = options.rows or 200
    source = LocalSource()
    con, _ = source._connection_and_path()

    def direct(text: str) -> Callable[[], Any]:
        def go() -> Any:
            for _ in range(batch):
                cursor = con.cursor()
                try:
                    _fetch(cursor, text)
                finally:
                    cursor.close()

        return go

    def threaded(text: str) -> Callable[[], Any]:
        def go() -> Any:
            for _ in range(batch):
                run_statement(con, text, timeout=600.0, source="bench")

        return go

    rows: list[Row] = []
    for label, text in (("SELECT 1", "SELECT 1"), ("aggregate over job", TYPICAL)):
        base, ours = median_times([direct(text), threaded(text)], options.repeat)
        per = 1000 / batch
        rows.append(
            Row(f"{label}: calling thread (baseline)", base, 1.0, note=f"{base * per:.3f} ms each")
        )
        rows.append(
            Row(
                f"{label}: worker thread",
                ours,
                ours / base,
                note=f"{ours * per:.3f} ms each, {(ours - base) * per:+.3f} ms",
            )
        )
    source.close()
    return rows
