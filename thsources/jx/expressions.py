"""JX expressions compiled to DuckDB SQL.

A JX expression is JSON: a bare string is a variable (a dotted path), numbers and booleans are
themselves, ``{"literal": x}`` is a constant, and ``{"op": args}`` is an operator, either in
the simple form ``{"eq": {"field": constant}}`` or the formal one ``{"eq": [expr, expr]}``.
The compiler resolves variables against the columns of one table (dotted names such as
``run.result``); a path that names no column is null, as in ActiveData, where a missing
property is simply absent from the document.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

__all__ = ["Compiler", "JXError", "parse_date", "parse_duration", "quote_ident", "sql_literal"]


class JXError(ValueError):
    """The JX query is malformed or uses something this evaluator does not know.

    ``template`` and ``params`` give the message in ActiveData's error form
    (``"{{operator|quote}} is not a known operator"``), which the emulator sends.
    """

    def __init__(
        self, message: str, template: str | None = None, params: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.template = template
        self.params = dict(params) if params else None


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_literal(value: Any) -> str:
    """A DuckDB literal for a JSON value."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return f"{value}::BIGINT" if abs(value) >= 2**31 else str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return "NULL"
        return repr(value) + "::DOUBLE"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise JXError(f"cannot use {type(value).__name__} {value!r} as a constant")


_UNITS: Final[dict[str, float]] = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "month": 30 * 86400,
    "quarter": 91 * 86400,
    "year": 365 * 86400,
}
_DURATION_RE = re.compile(r"^\s*(\d*\.?\d*)\s*([a-z]+?)s?\s*$")


def parse_duration(text: str) -> float:
    """``"day"``, ``"2hour"``, ``"week"`` as seconds."""
    m = _DURATION_RE.match(text.lower())
    if not m or m[2] not in _UNITS:
        raise JXError(f"unknown duration {text!r}; use a number of second/minute/hour/day/week")
    return (float(m[1]) if m[1] else 1.0) * _UNITS[m[2]]


def parse_date(value: Any, now: dt.datetime) -> float:
    """A JX date (``"today-week"``, ``"now"``, ``"2020-01-01"``, unix seconds) as unix seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        raise JXError(f"cannot read {value!r} as a date")
    text = value.strip().lower()
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.timestamp()
    except ValueError:
        pass
    m = re.match(r"^(now|today|tomorrow|eod|)\s*(.*)$", text)
    assert m is not None
    base_name, rest = m[1], m[2]
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    base = {
        "now": now,
        "": now,
        "today": midnight,
        "tomorrow": midnight + dt.timedelta(days=1),
        "eod": midnight + dt.timedelta(days=1),
    }[base_name].timestamp()
    for sign, amount in re.findall(r"([+-])\s*([^+-]+)", rest):
        seconds = parse_duration(amount)
        base += seconds if sign == "+" else -seconds
    if rest and not re.fullmatch(r"(\s*[+-]\s*[^+-]+)+", rest):
        raise JXError(f"cannot read {value!r} as a date")
    return base


#: Keys that modify an operator rather than name one (``{"find": ..., "start": 3}``).
_OPTIONS: Final = frozenset({"default", "start", "separator", "nulls"})

#: Operators whose value is not a truth value: as a filter, they hold when not null.
_NOT_BOOLEAN: Final = frozenset(
    {"find", "add", "sum", "sub", "subtract", "mul", "mult", "multiply", "div", "divide",
     "mod", "floor", "abs", "length", "concat", "left", "right", "not_left", "not_right",
     "coalesce", "date", "number", "string", "literal"}
)  # fmt: skip

AGGREGATES: Final[dict[str, str]] = {
    "count": "count",
    "sum": "sum",
    "add": "sum",
    "min": "min",
    "minimum": "min",
    "max": "max",
    "maximum": "max",
    "avg": "avg",
    "average": "avg",
    "mean": "avg",
    "median": "median",
    "percentile": "percentile",
    "cardinality": "cardinality",
    "std": "stddev",
    "stddev": "stddev",
    "var": "variance",
    "variance": "variance",
    "union": "union",
    "stats": "stats",
    "none": "none",
    "one": "one",
    "and": "and",
    "or": "or",
}


class Compiler:
    """Compiles JX expressions over one table's dotted columns to DuckDB SQL.

    ``columns`` maps each dotted column name to its DuckDB type; ``nested`` is the path of
    the nested array the query reads (its columns may be named relative to it).
    """

    def __init__(
        self,
        columns: Mapping[str, str],
        *,
        nested: str | None = None,
        now: dt.datetime | None = None,
    ) -> None:
        self.columns = dict(columns)
        self.nested = nested
        self.now = now or dt.datetime.now(dt.UTC)
        self._options: dict[str, Any] = {}
        self._ops: dict[str, Callable[[Any], str]] = {
            "literal": lambda a: self._literal(a),
            "eq": lambda a: self._compare(a, "="),
            "term": lambda a: self._compare(a, "="),
            "ne": self._ne,
            "neq": self._ne,
            "gt": lambda a: self._compare(a, ">"),
            "gte": lambda a: self._compare(a, ">="),
            "lt": lambda a: self._compare(a, "<"),
            "lte": lambda a: self._compare(a, "<="),
            "in": self._in,
            "terms": self._in,
            "and": lambda a: self._junction(a, "AND", "TRUE"),
            "or": lambda a: self._junction(a, "OR", "FALSE"),
            "not": lambda a: f"(NOT coalesce({self.boolean(a)}, FALSE))",
            "exists": lambda a: self._exists(a, negate=False),
            "missing": lambda a: self._exists(a, negate=True),
            "prefix": lambda a: self._string_test(a, "starts_with"),
            "suffix": lambda a: self._string_test(a, "ends_with"),
            "postfix": lambda a: self._string_test(a, "ends_with"),
            "regexp": lambda a: self._string_test(a, "regexp_full_match"),
            "regex": lambda a: self._string_test(a, "regexp_full_match"),
            "between": self._between,
            "add": lambda a: self._arith(a, "+"),
            "sum": lambda a: self._arith(a, "+"),
            "sub": lambda a: self._arith(a, "-"),
            "subtract": lambda a: self._arith(a, "-"),
            "mul": lambda a: self._arith(a, "*"),
            "mult": lambda a: self._arith(a, "*"),
            "multiply": lambda a: self._arith(a, "*"),
            "div": self._div,
            "divide": self._div,
            "mod": lambda a: self._binary(a, "%"),
            "floor": self._floor,
            "abs": lambda a: f"abs({self.expr(a)})",
            "length": lambda a: f"length(CAST({self.expr(a)} AS VARCHAR))",
            "concat": self._concat,
            "left": lambda a: self._slice(a, "left"),
            "right": lambda a: self._slice(a, "right"),
            "not_left": lambda a: self._slice(a, "not_left"),
            "not_right": lambda a: self._slice(a, "not_right"),
            "find": self._find,
            "coalesce": lambda a: f"coalesce({', '.join(self.expr(x) for x in _list(a))})",
            "case": self._case,
            "when": self._when,
            "date": self._date,
            "match_all": lambda a: "TRUE",
            "number": lambda a: f"TRY_CAST({self.expr(a)} AS DOUBLE)",
            "string": lambda a: self._string(a),
            "tuple": lambda a: self._tuple(a),
            "count": lambda a: (
                "("
                + " + ".join(
                    f"(CASE WHEN {self.expr(x)} IS NULL THEN 0 ELSE 1 END)" for x in _list(a)
                )
                + ")"
                if _list(a)
                else "0"
            ),
        }

    # -- variables ----------------------------------------------------------------------------

    def resolve(self, name: str) -> str | None:
        """The column a variable names (also relative to the nested path), or None."""
        if name in self.columns:
            return name
        if self.nested:
            full = f"{self.nested}.{name}"
            if full in self.columns:
                return full
        return None

    def leaves(self, name: str) -> list[tuple[str, str]]:
        """(relative suffix, column) pairs under an object path; ``"."`` is every column."""
        if name in (".", ""):
            base = self.nested + "." if self.nested else ""
            out = []
            for c in self.columns:
                if base and c.startswith(base):
                    out.append((c[len(base) :], c))
                elif not base:
                    out.append((c, c))
            if base and not out:
                out = [(c, c) for c in self.columns]
            return out
        prefixes = [name + "."]
        if self.nested:
            prefixes.insert(0, f"{self.nested}.{name}.")
        for prefix in prefixes:
            found = [(c[len(prefix) :], c) for c in self.columns if c.startswith(prefix)]
            if found:
                return found
        return []

    def variable(self, name: str) -> str:
        col = self.resolve(name)
        if col is not None:
            return quote_ident(col)
        return "NULL"

    # -- expressions --------------------------------------------------------------------------

    def expr(self, e: Any) -> str:
        """SQL for a JX expression."""
        if isinstance(e, str):
            return self.variable(e)
        if e is None or isinstance(e, bool | int | float):
            return sql_literal(e)
        if isinstance(e, list):
            return self._tuple(e)
        if isinstance(e, Mapping):
            if not e:
                return "NULL"
            if "when" in e:
                return self._when(e)
            known = [k for k in e if k in self._ops]
            if not known:
                op = str(next(iter(e)))
                raise JXError(
                    f'"{op}" is not a known operator',
                    "{{operator|quote}} is not a known operator",
                    {"operator": op},
                )
            op = known[0]
            options = {k: v for k, v in e.items() if k != op}
            unknown = sorted(set(options) - _OPTIONS)
            if unknown:
                raise JXError(f"{op!r} does not take {unknown[0]!r}")
            saved, self._options = self._options, options
            try:
                sql = self._ops[op](e[op])
            finally:
                self._options = saved
            if options.get("default") is not None:
                return f"coalesce({sql}, {self.expr(options['default'])})"
            return sql
        raise JXError(f"cannot read {e!r} as an expression")

    def boolean(self, e: Any) -> str:
        """SQL for a JX expression used as a filter: a value that is not a truth value (a
        ``find`` position, a string) holds when it is not null."""
        if isinstance(e, list):  # a list of filters: all must hold
            return self._junction(e, "AND", "TRUE")
        sql = self.expr(e)
        if isinstance(e, Mapping) and e and next(iter(e)) in _NOT_BOOLEAN:
            return f"(({sql}) IS NOT NULL)"
        return sql

    def _literal(self, a: Any) -> str:
        if isinstance(a, list):
            return "[" + ", ".join(sql_literal(x) for x in a) + "]"
        return sql_literal(a)

    def _pairs(self, a: Any) -> list[tuple[str, str]]:
        """Operands of a binary operator: simple form ``{var: const}`` or formal ``[a, b]``."""
        if isinstance(a, list):
            if len(a) != 2:
                raise JXError(f"expecting two operands, not {len(a)}: {a!r}")
            return [(self.expr(a[0]), self.expr(a[1]))]
        if isinstance(a, Mapping):
            return [(self.variable(k), self._constant(v)) for k, v in a.items()]
        raise JXError(f"expecting operands as {{field: value}} or [a, b], not {a!r}")

    def _constant(self, v: Any) -> str:
        if isinstance(v, Mapping):
            return self.expr(v)
        if isinstance(v, list):
            return self._literal(v)
        return sql_literal(v)

    def _compare(self, a: Any, op: str) -> str:
        if op == "=" and isinstance(a, Mapping):
            parts = []
            for k, v in a.items():
                if isinstance(v, list):
                    parts.append(self._in({k: v}))
                else:
                    parts.append(f"coalesce({self.variable(k)} = {self._constant(v)}, FALSE)")
            return "(" + " AND ".join(parts or ["TRUE"]) + ")"
        if op == "=" and isinstance(a, list) and len(a) == 2 and isinstance(a[1], list):
            return self._in([a[0], {"literal": [_literal_of(x) for x in a[1]]}])
        if op == "=":  # JX: missing equals missing, and nothing else
            return (
                "("
                + " AND ".join(f"({x} IS NOT DISTINCT FROM {y})" for x, y in self._pairs(a))
                + ")"
            )
        parts = [f"({x} {op} {y})" for x, y in self._pairs(a)]
        return "(" + " AND ".join(parts) + ")"

    def _ne(self, a: Any) -> str:
        if isinstance(a, list):  # formal form: both sides must have a value
            x, y = self._pairs(a)[0]
            return f"coalesce({x} <> {y}, FALSE)"
        return f"(NOT coalesce({self._compare(a, '=')}, FALSE))"

    def _in(self, a: Any) -> str:
        if isinstance(a, Mapping):
            parts = []
            for k, v in a.items():
                values = v if isinstance(v, list) else [v]
                if not values:
                    parts.append("FALSE")
                    continue
                parts.append(
                    f"({self.variable(k)} IN ({', '.join(sql_literal(x) for x in values)}))"
                )
            return "(" + " AND ".join(parts or ["TRUE"]) + ")"
        if isinstance(a, list) and len(a) == 2:
            value, options = a
            if isinstance(options, Mapping) and "literal" in options:
                values = options["literal"]
                values = values if isinstance(values, list) else [values]
                if not values:
                    return "FALSE"
                return f"({self.expr(value)} IN ({', '.join(sql_literal(x) for x in values)}))"
            return f"list_contains({self.expr(options)}, {self.expr(value)})"
        raise JXError(f"'in' expects {{field: [values]}} or [expr, {{literal: [...]}}], not {a!r}")

    def _junction(self, a: Any, op: str, empty: str) -> str:
        items = _list(a)
        if not items:
            return empty
        return "(" + f" {op} ".join(f"coalesce({self.boolean(x)}, FALSE)" for x in items) + ")"

    def _exists(self, a: Any, *, negate: bool) -> str:
        if isinstance(a, Mapping) and "field" in a:
            a = a["field"]
        if isinstance(a, str) and self.resolve(a) is None:
            cols = self.leaves(a)
            if cols:
                test = " OR ".join(f"{quote_ident(c)} IS NOT NULL" for _, c in cols)
                return f"(NOT ({test}))" if negate else f"({test})"
        sql = self.expr(a)
        blank = f"({sql} IS NULL OR CAST({sql} AS VARCHAR) = '')"
        return blank if negate else f"(NOT {blank})"

    def _string_test(self, a: Any, fn: str) -> str:
        pairs = self._pairs(a)
        if not pairs:
            return "TRUE"  # {"prefix": {}}: no condition
        return (
            "("
            + " AND ".join(f"{fn}(CAST({x} AS VARCHAR), CAST({y} AS VARCHAR))" for x, y in pairs)
            + ")"
        )

    def _between(self, a: Any) -> str:
        if isinstance(a, list) and len(a) == 3:
            value, lo, hi = (self.expr(x) for x in a)
            return f"({value} BETWEEN {lo} AND {hi})"
        if isinstance(a, Mapping):
            if "value" in a:
                value = self.expr(a["value"])
                prefix = self._constant(a.get("prefix"))
                suffix = self._constant(a.get("suffix"))
            elif len(a) == 1:
                name, bounds = next(iter(a.items()))
                value = self.variable(name)
                prefix, suffix = (self._constant(b) for b in bounds)
            else:
                raise JXError(f"cannot read {a!r} as 'between'")
            return _between_sql(value, prefix, suffix, a.get("start"))
        raise JXError(f"'between' expects [value, low, high] or {{field: [prefix, suffix]}}: {a!r}")

    def _arith(self, a: Any, op: str) -> str:
        items = _list(a) if not isinstance(a, Mapping) else [next(iter(a)), *a.values()]
        sqls = [self.expr(x) for x in items]
        if op == "+" and len(sqls) > 1:  # JX add skips missing terms; all missing is missing
            nums = [f"TRY_CAST({x} AS DOUBLE)" for x in sqls]
            none = " AND ".join(f"{x} IS NULL" for x in nums)
            total = " + ".join(f"coalesce({x}, 0)" for x in nums)
            return f"(CASE WHEN {none} THEN NULL ELSE {total} END)"
        return "(" + f" {op} ".join(sqls) + ")"

    def _binary(self, a: Any, op: str) -> str:
        x, y = self._pairs(a)[0]
        return f"({x} {op} {y})"

    def _div(self, a: Any) -> str:
        x, y = self._pairs(a)[0]
        return f"(TRY_CAST({x} AS DOUBLE) / nullif(TRY_CAST({y} AS DOUBLE), 0))"

    def _floor(self, a: Any) -> str:
        if isinstance(a, Mapping) and len(a) == 1 and not (set(a) & set(self._ops)):
            a = [next(iter(a)), next(iter(a.values()))]  # {"floor": {"a": 2}}: to a multiple
        if isinstance(a, list) and len(a) == 1:
            a = a[0]
        if isinstance(a, list) and len(a) == 2:
            x, y = (self.expr(v) for v in a)
            return f"(floor(CAST({x} AS DOUBLE) / {y}) * {y})"
        return f"floor({self.expr(a)})"

    def _concat(self, a: Any) -> str:
        sep = "''"
        items = a.get("terms") or [] if isinstance(a, Mapping) and "concat" not in a else _list(a)
        if isinstance(a, Mapping):
            items = a.get("concat", a.get("terms", []))
        parts = [f"CAST({self.expr(x)} AS VARCHAR)" for x in _list(items)]
        if not parts:
            return "NULL"
        return f"nullif(concat_ws({sep}, {', '.join(parts)}), '')"

    def _slice(self, a: Any, kind: str) -> str:
        x, n = self._pairs(a)[0]
        s = f"CAST({x} AS VARCHAR)"
        n = f"greatest(0, {n})"
        sql = {
            "left": f"left({s}, {n})",
            "right": f"right({s}, {n})",
            "not_left": f"substr({s}, {n} + 1)",
            "not_right": f"left({s}, greatest(0, length({s}) - {n}))",
        }[kind]
        return f"nullif({sql}, '')"

    def _find(self, a: Any) -> str:
        x, y = self._pairs(a)[0]
        start = "0"
        if "start" in self._options:
            start = self.expr(self._options["start"])
        return f"nullif(strpos(substr(CAST({x} AS VARCHAR), {start} + 1), {y}), 0) - 1 + {start}"

    def _case(self, a: Any) -> str:
        items = _list(a)
        parts = []
        default = "NULL"
        for item in items:
            if isinstance(item, Mapping) and "when" in item:
                then = self.expr(item.get("then"))
                parts.append(f"WHEN coalesce({self.expr(item['when'])}, FALSE) THEN {then}")
            else:
                default = self.expr(item)
        return f"(CASE {' '.join(parts)} ELSE {default} END)" if parts else default

    def _when(self, a: Any) -> str:
        if not isinstance(a, Mapping):
            raise JXError(f"'when' needs 'then': {a!r}")
        cond = self.boolean(a["when"])
        then = self.expr(a.get("then"))
        other = self.expr(a.get("else"))
        return f"(CASE WHEN coalesce({cond}, FALSE) THEN {then} ELSE {other} END)"

    def _date(self, a: Any) -> str:
        if isinstance(a, Mapping) and "literal" in a:
            a = a["literal"]
        if isinstance(a, str | int | float):
            try:
                return sql_literal(parse_date(a, self.now))
            except JXError:
                if isinstance(a, str):  # a duration: "day", "-week"
                    sign = -1.0 if a.startswith("-") else 1.0
                    return sql_literal(sign * parse_duration(a.lstrip("+-")))
                raise
        raise JXError(f"'date' expects a literal such as 'today-week', not {a!r}")

    def _string(self, a: Any) -> str:
        sql = self.expr(a)
        return f"CAST({sql} AS VARCHAR)"

    def _tuple(self, a: Any) -> str:
        return "[" + ", ".join(self.expr(x) for x in _list(a)) + "]"


def _literal_of(x: Any) -> Any:
    if isinstance(x, Mapping) and set(x) == {"literal"}:
        return x["literal"]
    if isinstance(x, Mapping | list):
        raise JXError(f"expecting constants, not {x!r}")
    return x


def _list(a: Any) -> list[Any]:
    if a is None:
        return []
    return list(a) if isinstance(a, list | tuple) else [a]


def _between_sql(value: str, prefix: str, suffix: str, start: Any) -> str:
    s = f"CAST({value} AS VARCHAR)"
    begin = "1" if prefix == "NULL" else f"(nullif(strpos({s}, {prefix}), 0) + length({prefix}))"
    rest = f"substr({s}, {begin})"
    if suffix == "NULL":
        return rest
    end = f"nullif(strpos({rest}, {suffix}), 0)"
    return f"left({rest}, {end} - 1)"


def names_of(select: Sequence[Any]) -> list[str]:
    return [str(s) for s in select]
