"""Decoded ActiveData records as a typed :class:`~thsources.result.Result`.

Columns are typed from their values (as for untyped Redash columns), and fields that hold
unix seconds in ActiveData's layout (``action.start_time``, ``repo.push.date``, ...) become
UTC datetimes, also under an alias the query gave them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from ..coltypes import ColumnType
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


_SIMPLE: Final[dict[frozenset[type], ColumnType]] = {
    frozenset({int}): "integer",
    frozenset({float}): "float",
    frozenset({int, float}): "float",
    frozenset({str}): "string",
    frozenset({bool}): "boolean",
    frozenset(): "string",
}


def _column_type(values: list[Any]) -> ColumnType:
    """The canonical type of a column: by the set of Python types in it (one C-level pass),
    the value-by-value rules of :func:`infer_type` only for unusual mixes."""
    kinds = set(map(type, values))
    kinds.discard(type(None))
    simple = _SIMPLE.get(frozenset(kinds))
    if simple == "integer" and any(not -(2**63) <= v < 2**63 for v in values if v is not None):
        return "json"
    return simple if simple is not None else infer_type(values)


def _seconds_to_datetimes(values: list[Any]) -> Any:
    """Unix seconds as a UTC timestamp array, computed by Arrow (not value by value)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    seconds = pa.array(values, type=pa.float64())
    micros = pc.round(pc.multiply(seconds, 1_000_000.0))
    return micros.cast(pa.int64()).cast(pa.timestamp("us", tz="UTC"))


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
    arrays: list[Any] = []
    for name, values in zip(names, data, strict=True):
        ctype = _column_type(values)
        if name in times and ctype in ("integer", "float"):
            arrays.append(_seconds_to_datetimes(values))
            ctype = "datetime"
        else:
            arrays.append(values)
        cols.append(Column(name, ctype))
    return Result.from_columns(cols, arrays, meta)
