"""Client-side binding of ``:name`` parameters as SQL literals of the target dialect.

Redash pastes parameters in raw and ActiveData has no binding at all, so the library renders
every value itself, quoted and escaped for the dialect. Placeholders are found by a small
lexer that skips string literals, quoted identifiers, comments, dollar-quoted bodies and
PostgreSQL ``::type`` casts, so a ``:word`` in any of those is left alone.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

from .errors import ParameterError

__all__ = ["DIALECTS", "bind", "literal", "placeholders"]

DIALECTS: Final = ("postgresql", "duckdb", "mysql", "bigquery")

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def _check_dialect(dialect: str) -> None:
    if dialect not in DIALECTS:
        raise ParameterError(f"unknown SQL dialect {dialect!r}; use one of {', '.join(DIALECTS)}")


def _scan(sql: str, dialect: str) -> Iterator[tuple[int, int, str]]:
    """Yield (start, end, name) for each ``:name`` placeholder outside literals and comments."""
    backslash_escapes = dialect in ("mysql", "bigquery")
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c == "'" or (c == '"' and backslash_escapes):
            i = _skip_quoted(sql, i, c, backslash_escapes)
        elif c == '"' or (c == "`" and dialect in ("mysql", "bigquery")):
            i = _skip_quoted(sql, i, c, False)
        elif (c == "-" and sql.startswith("--", i)) or (c == "#" and dialect == "mysql"):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif c == "/" and sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == "$" and dialect in ("postgresql", "duckdb"):
            m = _DOLLAR_TAG.match(sql, i)
            if m and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
                j = sql.find(m.group(0), m.end())
                i = n if j < 0 else j + len(m.group(0))
            else:
                i += 1
        elif c == ":":
            if sql.startswith("::", i):
                i += 2
                continue
            m = _NAME.match(sql, i + 1)
            prev = sql[i - 1] if i else ""
            if m and not (prev.isalnum() or prev == "_"):
                yield i, m.end(), m.group(0)
                i = m.end()
            else:
                i += 1
        else:
            i += 1


def _skip_quoted(sql: str, i: int, quote: str, backslash: bool) -> int:
    j, n = i + 1, len(sql)
    while j < n:
        c = sql[j]
        if backslash and c == "\\":
            j += 2
            continue
        if c == quote:
            if j + 1 < n and sql[j + 1] == quote:
                j += 2
                continue
            return j + 1
        j += 1
    return n


def placeholders(sql: str, dialect: str = "postgresql") -> list[str]:
    """The distinct placeholder names in ``sql``, in order of first use."""
    _check_dialect(dialect)
    seen: dict[str, None] = {}
    for _, _, name in _scan(sql, dialect):
        seen.setdefault(name)
    return list(seen)


def _quote_string(value: str, dialect: str) -> str:
    if "\x00" in value:
        raise ParameterError("a string parameter contains a NUL character, which SQL cannot hold")
    if dialect in ("mysql", "bigquery"):
        escaped = (
            value.replace("\\", "\\\\")
            .replace("'", "\\'")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
        return f"'{escaped}'"
    return "'" + value.replace("'", "''") + "'"


def _utc_naive(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def literal(value: Any, dialect: str = "postgresql") -> str:
    """One value as a SQL literal of ``dialect``; naive datetimes are taken as UTC."""
    _check_dialect(dialect)
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ParameterError(f"cannot bind the non-finite number {value!r}")
        return repr(value)
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise ParameterError(f"cannot bind the non-finite number {value!r}")
        return str(value)
    if isinstance(value, str):
        return _quote_string(value, dialect)
    if isinstance(value, dt.datetime):
        text = _utc_naive(value).isoformat(sep=" ")
        if dialect == "bigquery":
            return f"TIMESTAMP '{text}+00'"
        return f"TIMESTAMP '{text}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else list(value)
        if not items:
            # An empty subquery keeps both IN (false) and NOT IN (true) right, unlike (NULL).
            empty = (
                "SELECT NULL FROM DUAL WHERE FALSE"
                if dialect == "mysql"
                else ("SELECT NULL WHERE FALSE")
            )
            return f"({empty})"
        if any(isinstance(v, list | tuple | set | frozenset) for v in items):
            raise ParameterError("a list parameter cannot contain lists")
        return "(" + ", ".join(literal(v, dialect) for v in items) + ")"
    raise ParameterError(
        f"cannot bind a value of type {type(value).__name__}; use str, int, float, bool, "
        "None, date, datetime, Decimal or a list of those"
    )


def bind(
    sql: str,
    params: Mapping[str, Any] | None,
    dialect: str = "postgresql",
    *,
    allow_unused: bool = False,
) -> str:
    """Replace each ``:name`` in ``sql`` by the literal of ``params[name]``.

    Raises :class:`ParameterError` for a placeholder without a value, and (unless
    ``allow_unused``) for a value without a placeholder, which is usually a typo.
    """
    _check_dialect(dialect)
    params = params or {}
    spans = list(_scan(sql, dialect))
    used = {name for _, _, name in spans}
    missing = sorted(used - params.keys())
    if missing:
        raise ParameterError(
            "missing value for parameter(s): "
            + ", ".join(missing)
            + "; pass them with params={...} (or -p NAME=VALUE on the command line)"
        )
    unused = sorted(params.keys() - used)
    if unused and not allow_unused:
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
        return sql
    out: list[str] = []
    last = 0
    for start, end, name in spans:
        out.append(sql[last:start])
        out.append(literal(params[name], dialect))
        last = end
    out.append(sql[last:])
    return "".join(out)
