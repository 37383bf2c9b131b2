"""Decoded ActiveData records as a typed :class:`~thsources.result.Result`.

Columns are typed from their values (as for untyped Redash columns), and fields that hold
unix seconds in ActiveData's layout (``action.start_time``, ``repo.push.date``, ...) become
UTC datetimes, also under an alias the query gave them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..jsonrows import infer_type
from ..result import Column, Result, ResultMeta
from .decode import Decoded

__all__ = ["time_columns", "to_result"]


def time_columns(query: Mapping[str, Any], time_fields: Iterable[str]) -> set[str]:
    """Output names that carry one of ``time_fields`` (directly or under an alias)."""
    fields = set(time_fields)
    out = set(fields)
    items: list[Any] = []
    for clause in ("select", "groupby", "edges"):
        value = query.get(clause)
        items.extend(value if isinstance(value, list) else [value] if value else [])
    for item in items:
        if isinstance(item, Mapping) and isinstance(item.get("value"), str):
            agg = item.get("aggregate")
            if item["value"] in fields and agg in (None, "min", "max", "none", "one", "median"):
                out.add(str(item.get("name") or item["value"]))
    return out


def _to_datetime(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    return value


def to_result(
    decoded: Decoded | tuple[Sequence[str], Sequence[list[Any]]],
    meta: ResultMeta,
    *,
    times: set[str] | frozenset[str] = frozenset(),
) -> Result:
    """A Result from decoded records, or from (names, column lists) as
    :func:`~thsources.jx.decode.decode_columns` gives them; typed from the values."""
    if isinstance(decoded, Decoded):
        names = decoded.columns
        data: list[list[Any]] = [[rec.get(n) for rec in decoded.records] for n in names]
    else:
        names, data = list(decoded[0]), [list(c) for c in decoded[1]]
    cols = []
    for name, values in zip(names, data, strict=True):
        ctype = infer_type(values)
        if name in times and ctype in ("integer", "float"):
            values[:] = [_to_datetime(v) for v in values]
            ctype = "datetime"
        cols.append(Column(name, ctype))
    return Result.from_columns(cols, data, meta)
