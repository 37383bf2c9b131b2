"""Client-side binding of ``:name`` parameters as SQL literals of the target dialect.

Redash pastes parameters in raw and ActiveData has no binding at all, so the library renders
every value itself, quoted and escaped for the dialect. Placeholders are found by a small
lexer that skips string literals, quoted identifiers, comments, dollar-quoted bodies and
PostgreSQL ``::type`` casts, so a ``:word`` in any of those is left alone.
"""

from __future__ import annotations

import datetime as dt
import decimal
import difflib
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

from .errors import ParameterError

__all__ = [
    "DIALECTS",
    "bind",
    "check_mapping",
    "did_you_mean",
    "literal",
    "placeholders",
    "to_python",
]

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


_ARRAY_LIKE_MODULES: Final = ("numpy", "pandas")


def to_python(value: Any) -> Any:
    """``value`` as a plain Python value (None, bool, int, float, Decimal, str, date, datetime
    or a list of those), so it is bound by its value, never by its ``repr``.

    numpy scalars, ``np.datetime64``, ``pd.Timestamp``, ``pd.NA``/``pd.NaT``, one-dimensional
    numpy arrays, pandas Series/Index/arrays, tuples and sets are converted; subclasses of the
    built-in types lose their overrides (a ``float`` subclass with its own ``__repr__`` binds as
    its number). numpy and pandas are recognised by module name: they are never imported here.
    """
    kind = type(value)
    if value is None or kind in (bool, int, float, str, decimal.Decimal, dt.date, dt.datetime):
        return value
    origin = kind.__module__.partition(".")[0]
    if origin in _ARRAY_LIKE_MODULES:
        return _from_numpy_or_pandas(value, kind.__name__)
    if isinstance(value, bool):  # pragma: no cover - bool cannot be subclassed
        return bool(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, decimal.Decimal):
        return decimal.Decimal(value)
    if isinstance(value, dt.datetime):
        return _plain_datetime(value)
    if isinstance(value, dt.date):
        return dt.date(value.year, value.month, value.day)
    if isinstance(value, list | tuple | set | frozenset):
        items = [to_python(v) for v in value]
        if any(isinstance(v, list) for v in items):
            raise ParameterError("a list parameter cannot contain lists")
        return _sorted_set(items) if isinstance(value, set | frozenset) else items
    if isinstance(value, Mapping):
        raise ParameterError(
            f"cannot bind a value of type {kind.__name__}; params is one mapping of name to "
            "value, and each value is a str, number, bool, None, date, datetime or a list"
        )
    raise ParameterError(
        f"cannot bind a value of type {kind.__name__}; use str, int, float, bool, "
        "None, date, datetime, Decimal or a list of those (numpy and pandas values too)"
    )


def _sorted_set(items: list[Any]) -> list[Any]:
    """A set's items in a stable order (the SQL text, and so a server's cache key, is stable)."""
    return sorted(items, key=lambda v: (type(v).__name__, str(v)))


def _plain_datetime(value: dt.datetime) -> dt.datetime:
    if getattr(value, "nanosecond", 0):
        raise ParameterError(
            f"the timestamp {value} has nanoseconds, which SQL timestamps cannot hold; "
            "round it to microseconds first (e.g. ts.floor('us'))"
        )
    return dt.datetime(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
        tzinfo=value.tzinfo,
        fold=value.fold,
    )


def _from_numpy_or_pandas(value: Any, type_name: str) -> Any:
    if type_name in ("NAType", "NaTType"):
        return None
    if isinstance(value, dt.datetime):  # pd.Timestamp
        return _plain_datetime(value)
    import numpy as np  # already imported: the value is a numpy or pandas object

    if isinstance(value, np.datetime64):
        if np.isnat(value):
            return None
        unit = np.datetime_data(value.dtype)[0]
        if unit in ("Y", "M", "W", "D"):
            return to_python(value.astype("datetime64[D]").item())
        micro = value.astype("datetime64[us]")
        if micro != value:
            raise ParameterError(
                f"the timestamp {value} has nanoseconds, which SQL timestamps cannot hold; "
                "round it to microseconds first"
            )
        item = micro.item()
        if not isinstance(item, dt.datetime):
            raise ParameterError(f"the timestamp {value} is outside the years 1 to 9999")
        return item
    if isinstance(value, np.generic):
        if isinstance(value, np.timedelta64 | np.complexfloating | np.void):
            raise ParameterError(f"cannot bind a value of type numpy.{type_name}")
        return to_python(value.item())
    ndim = getattr(value, "ndim", None)
    if ndim == 0 and hasattr(value, "item"):
        return to_python(value.item())
    if ndim == 1:
        return [to_python(v) for v in value]
    if isinstance(ndim, int):
        raise ParameterError(
            f"cannot bind a {ndim}-dimensional {type_name}: a list parameter is one-dimensional"
        )
    raise ParameterError(
        f"cannot bind a value of type {type_name}; use str, int, float, bool, None, date, "
        "datetime, Decimal or a list of those (numpy and pandas values too)"
    )


def _quote_string(value: str, dialect: str) -> str:
    """A string literal whose meaning does not depend on the server's settings."""
    if "\x00" in value:
        raise ParameterError("a string parameter contains a NUL character, which SQL cannot hold")
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ParameterError(
            f"a string parameter cannot be encoded as UTF-8: it holds the lone surrogate "
            f"{value[exc.start]!r} at position {exc.start} (decode bytes with "
            "errors='replace', or fix the text)"
        ) from None
    if dialect == "mysql":
        # Hex is read the same with or without NO_BACKSLASH_ESCAPES (and ANSI_QUOTES): no
        # character of the value can end the literal, whatever mode the server is in.
        return f"_utf8mb4 X'{encoded.hex()}'" if encoded else "''"
    if dialect == "bigquery":
        escaped = (
            value.replace("\\", "\\\\")
            .replace("'", "\\'")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
        return f"'{escaped}'"
    doubled = value.replace("'", "''")
    if dialect == "postgresql" and "\\" in value:
        # E'...' reads backslashes as escapes whatever standard_conforming_strings says.
        return "E'" + doubled.replace("\\", "\\\\") + "'"
    return f"'{doubled}'"


def _utc_naive(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


# NaN and infinities: PostgreSQL, DuckDB and BigQuery have them as float values (spelled
# differently); MySQL and MariaDB have none, so binding one there is refused.
_NON_FINITE: Final = {
    "postgresql": ("CAST('{}' AS DOUBLE PRECISION)", "NaN", "Infinity", "-Infinity"),
    "duckdb": ("CAST('{}' AS DOUBLE PRECISION)", "NaN", "Infinity", "-Infinity"),
    "bigquery": ("CAST('{}' AS FLOAT64)", "NaN", "inf", "-inf"),
}

# The right-hand side of ``IN`` for an empty list: an empty subquery keeps ``IN`` false and
# ``NOT IN`` true (a ``(NULL)`` list would make both NULL). PostgreSQL types the subquery's
# NULL as text, so there ``bind`` rewrites ``[NOT] IN :p`` instead (see _EMPTY_IN_POSTGRESQL).
_EMPTY_LIST: Final = {
    "postgresql": "(SELECT NULL WHERE FALSE)",
    "duckdb": "(SELECT NULL WHERE FALSE)",
    "mysql": "(SELECT NULL FROM DUAL WHERE FALSE)",
    "bigquery": "UNNEST([])",
}
# '{}' is an untyped literal, so PostgreSQL reads it as an empty array of the left side's type.
_EMPTY_IN_POSTGRESQL: Final = {"in": "= ANY('{}')", "not in": "<> ALL('{}')"}
_IN_BEFORE = re.compile(r"(?is)(?:(?<![A-Za-z0-9_$])(not)\s+)?(?<![A-Za-z0-9_$])in\s*\Z")


def _non_finite(value: float, dialect: str) -> str:
    if dialect not in _NON_FINITE:
        raise ParameterError(
            f"cannot bind {value!r}: {dialect} has no NaN or infinity; pass None (NULL) or "
            "filter the value out"
        )
    template, nan, inf, neg_inf = _NON_FINITE[dialect]
    return template.format(nan if math.isnan(value) else (inf if value > 0 else neg_inf))


def literal(value: Any, dialect: str = "postgresql") -> str:
    """One value as a SQL literal of ``dialect``; naive datetimes are taken as UTC."""
    _check_dialect(dialect)
    return _literal(to_python(value), dialect)


def _literal(value: Any, dialect: str) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else _non_finite(value, dialect)
    if isinstance(value, decimal.Decimal):
        return str(value) if value.is_finite() else _non_finite(float(value), dialect)
    if isinstance(value, str):
        return _quote_string(value, dialect)
    if isinstance(value, dt.datetime):
        text = _utc_naive(value).isoformat(sep=" ")
        if dialect == "bigquery":
            # BigQuery reads a zone-less literal in the session's time zone, which may not be UTC.
            return f"TIMESTAMP '{text}+00'"
        return f"TIMESTAMP '{text}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, list):
        if not value:
            return _EMPTY_LIST[dialect]
        return "(" + ", ".join(_literal(v, dialect) for v in value) + ")"
    raise ParameterError(f"cannot bind a value of type {type(value).__name__}")  # unreachable


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
    params = check_mapping(params)
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
        hint = did_you_mean(unused[0], used)
        raise ParameterError(
            "unknown parameter(s): "
            + ", ".join(unused)
            + (hint and f" ({hint})")
            + (
                f"; the query uses :{', :'.join(sorted(used))}"
                if used
                else "; the query has no :name placeholders"
            )
        )
    if not spans:
        return sql
    values: dict[str, Any] = {}
    for name in used:
        try:
            values[name] = to_python(params[name])
        except ParameterError as exc:
            raise ParameterError(f"parameter {name!r}: {exc.message}") from None
    out: list[str] = []
    last = 0
    for start, end, name in spans:
        value = values[name]
        before = sql[last:start]
        if dialect == "postgresql" and value == [] and (m := _IN_BEFORE.search(before)):
            out.append(before[: m.start()])
            out.append(_EMPTY_IN_POSTGRESQL["not in" if m.group(1) else "in"])
        else:
            out.append(before)
            try:
                out.append(_literal(value, dialect))
            except ParameterError as exc:
                raise ParameterError(f"parameter {name!r}: {exc.message}") from None
        last = end
    out.append(sql[last:])
    return "".join(out)


def check_mapping(params: Any) -> Mapping[str, Any]:
    """``params`` as a mapping; positional parameters (a list or tuple) are refused."""
    if params is None:
        return {}
    if isinstance(params, Mapping):
        return params
    raise ParameterError(
        f"params must be a mapping of name to value, not a {type(params).__name__}: "
        "positional parameters are not supported; write :name placeholders in the SQL and "
        "pass params={'name': value}"
    )


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``"did you mean 'x'?"`` for the closest candidates, or ``""`` when none is close."""
    close = difflib.get_close_matches(word, list(candidates), n=3, cutoff=0.6)
    if not close:
        return ""
    return "did you mean " + " or ".join(repr(c) for c in close) + "?"
