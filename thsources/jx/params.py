"""Parameters in JX queries, the way adr's recipes wrote them: ``{"$eval": "name"}``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ParameterError

__all__ = ["fill_params"]


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
                return values[name]
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
