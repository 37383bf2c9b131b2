"""SQL translated to JX on the client, with mo-sql-parsing.

ActiveData's own ``/sql`` endpoint used a parser that no longer installs, and the JX it made
needed fixes anyway (``orderby`` for ``sort``, aggregates inside select values, ``like`` and
``nin`` that JX does not have). Translating here means the JX that is sent can be read, a
construct ActiveData cannot run is refused before any request, with its name, and the same
SQL works on the local evaluator.

Supported: one table; SELECT values, ``*``, aliases and the aggregates count, sum, avg, min,
max, median, percentile, count(DISTINCT x); WHERE with comparisons, AND/OR/NOT, IN, NOT IN,
LIKE, IS [NOT] NULL, BETWEEN, arithmetic, CASE, COALESCE, ``date('today-week')``; GROUP BY;
ORDER BY; LIMIT. Refused: JOIN, a subquery, UNION, HAVING, OFFSET, DISTINCT, window
functions, and any function not in the list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from ..errors import UnsupportedQuery

__all__ = ["sql_to_jx"]

_AGGREGATES: Final = {
    "count": "count",
    "sum": "sum",
    "avg": "average",
    "average": "average",
    "min": "min",
    "max": "max",
    "median": "median",
    "percentile": "percentile",
}
_BINARY: Final = {"eq", "neq", "gt", "gte", "lt", "lte", "add", "sub", "mul", "div", "mod"}
_FUNCTIONS: Final = {"floor", "coalesce", "concat", "length", "left", "right", "abs"}
_CLAUSES: Final = {"select", "from", "where", "groupby", "orderby", "limit"}
_REFUSED: Final = {
    "having": "HAVING",
    "offset": "OFFSET",
    "select_distinct": "SELECT DISTINCT",
    "union": "UNION",
    "union_all": "UNION ALL",
    "intersect": "INTERSECT",
    "except": "EXCEPT",
    "with": "WITH",
    "window": "a window clause",
}


def sql_to_jx(sql: str, *, source: str | None = None) -> dict[str, Any]:
    """The JX query for ``sql``; :class:`UnsupportedQuery` names what cannot be translated."""
    from mo_sql_parsing import parse

    try:
        tree = parse(sql)
    except Exception as exc:  # mo-parsing raises its own ParseException family
        text = " ".join(str(exc).split())
        raise UnsupportedQuery(f"cannot parse the SQL: {text}", source=source) from None
    return _Translator(source).query(tree)


class _Translator:
    def __init__(self, source: str | None) -> None:
        self.source = source

    def refuse(self, what: str) -> UnsupportedQuery:
        return UnsupportedQuery(
            f"ActiveData cannot run {what}; rewrite the query without it "
            "(or send the SQL as-is to /sql with sql_endpoint=True)",
            source=self.source,
        )

    def query(self, tree: Mapping[str, Any]) -> dict[str, Any]:
        for key, what in _REFUSED.items():
            if key in tree:
                raise self.refuse(what)
        unknown = sorted(set(tree) - _CLAUSES)
        if unknown:
            raise self.refuse(f"the {unknown[0].upper()} clause")
        source = tree.get("from")
        if isinstance(source, list) or (isinstance(source, Mapping) and "join" in source):
            raise self.refuse("a JOIN (ActiveData queries one table)")
        if isinstance(source, Mapping):
            if "select" in source or "value" in source:
                raise self.refuse("a subquery in FROM")
            raise self.refuse(f"FROM {source!r}")
        if not isinstance(source, str):
            raise self.refuse("a query without FROM")
        jx: dict[str, Any] = {"from": source}
        selects = self._selects(tree.get("select"))
        if "where" in tree:
            jx["where"] = self.expr(tree["where"])
        if "groupby" in tree:
            groups = tree["groupby"] if isinstance(tree["groupby"], list) else [tree["groupby"]]
            jx["groupby"], selects = self._groupby(groups, selects)
        if selects is not None:
            jx["select"] = selects
        if "orderby" in tree:
            order = tree["orderby"] if isinstance(tree["orderby"], list) else [tree["orderby"]]
            jx["sort"] = [
                {
                    "value": self.expr(o.get("value")),
                    "sort": -1 if str(o.get("sort", "asc")).lower() == "desc" else 1,
                }
                for o in order
            ]
        if "limit" in tree:
            limit = tree["limit"]
            if not isinstance(limit, int) or isinstance(limit, bool):
                raise self.refuse(f"LIMIT {limit!r} (use a plain number)")
            jx["limit"] = limit
        return jx

    # -- select and groupby --------------------------------------------------------------------

    def _selects(self, select: Any) -> list[dict[str, Any]] | str | None:
        if select is None:
            raise self.refuse("a query without SELECT")
        items = select if isinstance(select, list) else [select]
        out: list[dict[str, Any]] = []
        for item in items:
            if isinstance(item, Mapping) and "all_columns" in item:
                if len(items) > 1:
                    raise self.refuse("* mixed with other columns")
                return "*"
            if not isinstance(item, Mapping) or "value" not in item:
                raise self.refuse(f"the select item {item!r}")
            out.append(self._select_item(item["value"], item.get("name")))
        return out

    def _select_item(self, value: Any, name: str | None) -> dict[str, Any]:
        if isinstance(value, Mapping) and len(value) >= 1:
            op = next(iter(value))
            if op in _AGGREGATES:
                return self._aggregate(op, value, name)
        out: dict[str, Any] = {"value": self.expr(value)}
        out["name"] = name if name is not None else (value if isinstance(value, str) else None)
        if out["name"] is None:
            raise self.refuse("an expression without a name; add AS <name>")
        return out

    def _aggregate(self, op: str, value: Mapping[str, Any], name: str | None) -> dict[str, Any]:
        args = value[op]
        item: dict[str, Any] = {"aggregate": _AGGREGATES[op]}
        if value.get("distinct"):
            if op != "count":
                raise self.refuse(f"{op.upper()}(DISTINCT ...)")
            item["aggregate"] = "cardinality"
        if op == "percentile":
            if not (isinstance(args, list) and len(args) == 2):
                raise self.refuse("percentile() without (value, fraction)")
            item["value"] = self.expr(args[0])
            item["percentile"] = args[1]
        elif op == "count" and (args in ("*", 1, {}) or args is None):
            pass
        else:
            item["value"] = self.expr(args)
        default = item.get("value") if isinstance(item.get("value"), str) else op
        item["name"] = name if name is not None else default
        return item

    def _groupby(
        self, groups: list[Any], selects: list[dict[str, Any]] | str | None
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | str | None]:
        if selects == "*":
            raise self.refuse("SELECT * with GROUP BY")
        remaining: list[dict[str, Any]] = [] if isinstance(selects, str) else list(selects or [])
        out = []
        for g in groups:
            value = self.expr(g.get("value") if isinstance(g, Mapping) else g)
            name = value if isinstance(value, str) else None
            for s in list(remaining):
                if "aggregate" not in s and s.get("value") == value:
                    name = s.get("name") or name  # the select item names the group
                    remaining.remove(s)
            if name is None:
                raise self.refuse("GROUP BY an expression that no select item names")
            out.append({"name": name, "value": value})
        plain = [s for s in remaining if "aggregate" not in s]
        if plain:
            raise self.refuse(f"the column {plain[0]['name']!r}, neither grouped nor aggregated")
        return out, remaining

    # -- expressions ---------------------------------------------------------------------------

    def expr(self, e: Any) -> Any:
        if e is None or isinstance(e, bool | int | float | str):
            return e
        if isinstance(e, list):
            return [self.expr(x) for x in e]
        if not isinstance(e, Mapping):
            raise self.refuse(f"the expression {e!r}")
        if "select" in e or "union" in e:
            raise self.refuse("a subquery")
        op = next(iter(e))
        args = e[op]
        if op == "literal":
            return {"literal": args}
        if op == "date":
            return {"date": args if isinstance(args, Mapping) else {"literal": args}}
        if op in _BINARY:
            return {op: [self.expr(a) for a in args]}
        if op in ("and", "or"):
            return {op: [self.expr(a) for a in (args if isinstance(args, list) else [args])]}
        if op == "not":
            return {"not": self.expr(args)}
        if op in ("missing", "exists"):
            return {op: self.expr(args)}
        if op == "in":
            return {"in": [self.expr(args[0]), self._in_values(args[1])]}
        if op == "nin":
            return {"not": {"in": [self.expr(args[0]), self._in_values(args[1])]}}
        if op in ("like", "not_like"):
            translated = self._like(args)
            return {"not": translated} if op == "not_like" else translated
        if op == "between":
            return {"between": [self.expr(a) for a in args]}
        if op == "case":
            return {
                "case": [self._case_item(c) for c in (args if isinstance(args, list) else [args])]
            }
        if op in _FUNCTIONS:
            return {op: self.expr(args)}
        if op in _AGGREGATES:
            raise self.refuse(f"the aggregate {op}() inside an expression")
        raise self.refuse(f"the function or operator {op!r}")

    def _case_item(self, c: Any) -> Any:
        if isinstance(c, Mapping) and "when" in c:
            return {"when": self.expr(c["when"]), "then": self.expr(c.get("then"))}
        return self.expr(c)

    def _in_values(self, values: Any) -> Any:
        if isinstance(values, Mapping) and ("select" in values or "union" in values):
            raise self.refuse("a subquery")
        if isinstance(values, Mapping) and "literal" in values:
            lit = values["literal"]
            return {"literal": lit if isinstance(lit, list) else [lit]}
        items = values if isinstance(values, list) else [values]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in items):
            return {"literal": items}
        raise self.refuse(f"IN with non-constant values {values!r}")

    def _like(self, args: Any) -> dict[str, Any]:
        value, pattern = args
        if not (isinstance(pattern, Mapping) and isinstance(pattern.get("literal"), str)):
            raise self.refuse("LIKE with a pattern that is not a constant string")
        text = pattern["literal"]
        target = self.expr(value)
        stem = text[:-1]
        if text.endswith("%") and not any(ch in stem for ch in "%_") and isinstance(target, str):
            return {"prefix": {target: stem}}
        regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in text)
        if not isinstance(target, str):
            raise self.refuse("LIKE on an expression (use a column)")
        return {"regexp": {target: regex}}
