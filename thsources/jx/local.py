"""JX on a local DuckDB file with Treeherder's schema: old ActiveData queries, kept working.

The ``local`` source hands a JX query (a dict) here. It runs through the evaluator over the
ActiveData field layout (:mod:`.layout`), so a recipe written for the retired service runs
unchanged on the sample or on history pulled into a file of the same shape, and the answer
is decoded into the same records the ``activedata`` source gives.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import QueryError
from ..local.execute import run_on_worker
from ..result import Result, ResultMeta
from .decode import decode_columns
from .evaluate import MAX_LIMIT, Evaluator
from .expressions import JXError
from .layout import TIME_FIELDS, resolve_table
from .params import fill_params
from .records import time_columns, to_result

__all__ = ["run_jx"]


def run_jx(
    con: Any,
    query: Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
    *,
    source: str | None = None,
    timeout: float | None = None,
    stop: Callable[[], bool] | None = None,
) -> Result:
    """Run one JX query on ``con`` (a DuckDB connection); ``format`` defaults to ``table``.
    ``stop()`` true interrupts it (``job.cancel()`` on the local source)."""
    jx = fill_params(query, params, source=source)
    jx.setdefault("format", "table")

    def evaluate(cursor: Any) -> Any:
        try:
            return Evaluator(cursor, resolve_table(cursor), strict=True).run(jx)
        except JXError as exc:
            raise QueryError(str(exc), source=source) from None

    started = time.perf_counter()
    # On a worker thread like SQL on the local source, so the deadline and Ctrl-C stop it.
    answer = run_on_worker(
        con,
        evaluate,
        timeout=math.inf if timeout is None else timeout,
        source=source or "local",
        stop=stop,
    )
    names, columns, fmt = decode_columns(answer, jx)
    limit = min(int(jx.get("limit") or 10), MAX_LIMIT)
    rows = len(columns[0]) if columns else 0
    meta = ResultMeta(
        source=source,
        query=str(dict(jx)),
        runtime_s=time.perf_counter() - started,
        truncated=fmt in ("list", "table") and not jx.get("edges") and rows >= limit,
        extra={"format": fmt, "language": "jx"},
    )
    return to_result((names, columns), meta, times=time_columns(jx, TIME_FIELDS))
