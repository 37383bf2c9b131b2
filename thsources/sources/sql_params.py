"""``:name`` placeholders handed to the database driver, never spliced into the SQL text.

The placeholders are found by the same lexer that renders literals for the other sources
(:mod:`thsources.sqlbind`), so a ``:word`` inside a string, a comment or a ``::cast`` is left
alone here too. Each one becomes the driver's own placeholder (``%(name)s`` for psycopg and
PyMySQL, ``$name`` for DuckDB, ``:name`` for sqlite3) and the values travel separately. A list
(for ``IN :names``) becomes one placeholder per item; an empty list becomes an empty subquery,
which keeps both ``IN`` (false) and ``NOT IN`` (true) right. On PostgreSQL, where an empty
subquery's NULL is text and cannot meet an integer column, ``IN :names`` becomes
``= ANY(array)`` and ``NOT IN :names`` ``<> ALL(array)``, the list travelling as one array.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from collections.abc import Mapping
from typing import Any, Final, Literal

from ..errors import ParameterError
from ..sqlbind import _scan

__all__ = ["Paramstyle", "to_driver"]

Paramstyle = Literal["pyformat", "dollar", "named"]

_IN_BEFORE: Final = re.compile(r"\s(NOT\s+)?IN\s*$", re.IGNORECASE)
_SCALARS: Final = (str, int, float, decimal.Decimal, dt.date, dt.datetime, type(None))


def placeholder_spans(sql: str, dialect: str) -> list[tuple[int, int, str]]:
    """(start, end, name) of each ``:name`` placeholder: a wrapper over sqlbind's lexer."""
    return list(_scan(sql, dialect))


def _check_value(name: str, value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if not isinstance(value, _SCALARS):
        raise ParameterError(
            f"parameter {name!r}: cannot bind a value of type {type(value).__name__}; use str, "
            "int, float, bool, None, date, datetime, Decimal or a list of those"
        )
    if isinstance(value, float | decimal.Decimal) and not (
        math.isfinite(value) if isinstance(value, float) else value.is_finite()
    ):
        raise ParameterError(f"parameter {name!r}: cannot bind the non-finite number {value!r}")
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        # Treeherder stores naive UTC timestamps: compare like with like.
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _mark(name: str, style: Paramstyle) -> str:
    if style == "pyformat":
        return f"%({name})s"
    if style == "dollar":
        return f"${name}"
    return f":{name}"


def to_driver(
    sql: str,
    params: Mapping[str, Any] | None,
    dialect: str,
    style: Paramstyle,
    *,
    arrays: bool = False,
) -> tuple[str, dict[str, Any]]:
    """SQL in the driver's paramstyle and the values to send with it.

    Raises :class:`ParameterError` for a placeholder without a value and for a value without
    a placeholder (usually a typo), as the literal binder does.
    """
    params = dict(params or {})
    spans = placeholder_spans(sql, dialect)
    used = {name for _, _, name in spans}
    missing = sorted(used - params.keys())
    if missing:
        raise ParameterError(
            "missing value for parameter(s): "
            + ", ".join(missing)
            + "; pass them with params={...} (or -p NAME=VALUE on the command line)"
        )
    unused = sorted(params.keys() - used)
    if unused:
        raise ParameterError(
            "unknown parameter(s): "
            + ", ".join(unused)
            + (
                f"; the query uses :{', :'.join(sorted(used))}"
                if used
                else "; the query has no :name placeholders"
            )
        )
    if not spans:
        # No driver formatting happens without values, so '%' needs no escaping.
        return sql, {}
    values: dict[str, Any] = {}
    out: list[str] = []
    last = 0
    for start, end, name in spans:
        text = sql[last:start]
        out.append(text.replace("%", "%%") if style == "pyformat" else text)
        value = params[name]
        if isinstance(value, list | tuple | set | frozenset):
            items = sorted(value, key=repr) if isinstance(value, set | frozenset) else list(value)
            if any(isinstance(v, list | tuple | set | frozenset) for v in items):
                raise ParameterError(f"parameter {name!r}: a list parameter cannot contain lists")
            before = _IN_BEFORE.search(out[-1]) if arrays else None
            if before is not None:
                head = out[-1][: before.start()]
                op = "<> ALL" if before.group(1) else "= ANY"
                out[-1] = f"{head} {op}("
                values[name] = [_check_value(name, item) for item in items]
                out.append(_mark(name, style) + ")")
            elif not items:
                out.append(
                    "(SELECT NULL FROM DUAL WHERE FALSE)"
                    if dialect == "mysql"
                    else "(SELECT NULL WHERE FALSE)"
                )
            else:
                marks = []
                for k, item in enumerate(items):
                    key = f"{name}__{k}"
                    values[key] = _check_value(name, item)
                    marks.append(_mark(key, style))
                out.append("(" + ", ".join(marks) + ")")
        else:
            values[name] = _check_value(name, value)
            out.append(_mark(name, style))
        last = end
    tail = sql[last:]
    out.append(tail.replace("%", "%%") if style == "pyformat" else tail)
    return "".join(out), values
