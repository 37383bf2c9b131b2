"""Parameters in JX queries, the way adr's recipes wrote them: ``{"$eval": "name"}``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ..errors import ParameterError

__all__ = ["fill_params"]


def _jx_value(value: Any) -> Any:
    """Dates and datetimes as unix seconds (naive ones are UTC), as ActiveData stores times."""
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return aware.timestamp()
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp()
    if isinstance(value, list | tuple):
        return [_jx_value(v) for v in value]
    return value


def fill_params(
    query: Mapping[str, Any], params: Mapping[str, Any] | None, *, source: str | None = None
) -> dict[str, Any]:
    """A copy of ``query`` with every ``{"$eval": name}`` replaced by ``params[name]``.

    A missing value or a parameter the query never uses is a :class:`ParameterError`
    (an unused one is usually a typo).
    """
    used: set[str] = set()
    values = params or {}

    def walk(doc: Any) -> Any:
        if isinstance(doc, Mapping):
            if set(doc) == {"$eval"}:
                name = doc["$eval"]
                if name not in values:
                    raise ParameterError(
                        f"missing value for parameter {name!r}; pass it with params={{...}}",
                        source=source,
                    )
                used.add(name)
                return _jx_value(values[name])
            return {k: walk(v) for k, v in doc.items()}
        if isinstance(doc, list):
            return [walk(v) for v in doc]
        return doc

    filled = walk(dict(query))
    unused = sorted(set(values) - used)
    if unused:
        raise ParameterError(
            f"unknown parameter(s) {', '.join(unused)}: the JX query has no "
            '{"$eval": ...} for them',
            source=source,
        )
    return filled
