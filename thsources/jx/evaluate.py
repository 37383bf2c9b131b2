"""A JX query evaluator over DuckDB: ActiveData's query language without Elasticsearch.

A table is any DuckDB relation whose columns are dotted paths (``run.result``); documents can
be loaded into one with :func:`load_documents` (nested arrays are exploded when a query reads
``table.path``). :class:`Evaluator` turns a JX query into SQL, runs it, and shapes the rows
into the answer ActiveData would send in the requested format (``list``, ``table``,
``cube``; ``value`` for an aggregate without edges asked as a list), envelope included, so
the emulator can serve it as is and :func:`~thsources.jx.decode.decode` reads it back.

Covered: select values, objects, ``*`` and expressions; aggregates (count, sum, min, max,
avg, median, percentile, cardinality, std, var, union, stats); where; groupby; edges with
default, set, range, time and duration domains (complete, with the null part); sort; limit
(default 10, capped at 10,000 as the server does). Not covered: ``window``, edges over a
``range`` of two fields, partitions with their own ``where``, ``having``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import orjson

from .expressions import AGGREGATES, Compiler, JXError, parse_date, parse_duration, quote_ident

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "Evaluator",
    "JXError",
    "TableRef",
    "load_documents",
    "unflatten",
]

PARENT_ONLY: Final = "__parent_only"
"""Marks the row kept for a document with no element in the nested array a query reads."""

DEFAULT_LIMIT: Final = 10
MAX_LIMIT: Final = 10_000
_QUERY_KEYS: Final = frozenset(
    {
        "from",
        "select",
        "where",
        "edges",
        "groupby",
        "sort",
        "limit",
        "format",
        "destination",
        "meta",
        "chunk_size",
        "window",
        "having",
        "isLean",
        "tuple",
    }
)


@dataclass
class TableRef:
    """A relation the evaluator can read: SQL text (a name or a subquery) and its columns.

    ``json_columns`` hold JSON text for values that are arrays (parsed on the way out).
    """

    relation: str
    columns: dict[str, str]
    json_columns: set[str] = field(default_factory=set)
    nested: str | None = None
    parent_only: str | None = None
    """A boolean column marking rows kept for documents without nested elements."""


TableResolver = Callable[[str], TableRef]


# -- loading documents ----------------------------------------------------------------------


def _flatten_doc(doc: Any, prefix: str, out: dict[str, Any], skip: str | None = None) -> None:
    if isinstance(doc, Mapping):
        for k, v in doc.items():
            name = f"{prefix}.{k}" if prefix else str(k).replace(".", "\\.")
            if skip is not None and name == skip:
                continue
            _flatten_doc(v, name, out, skip)
        return
    if doc is None:
        return
    out[prefix or "."] = doc


def _explode(doc: Mapping[str, Any], path: list[str], prefix: str) -> list[dict[str, Any]]:
    """Rows for the nested array at ``path`` (one per element, parent fields repeated)."""
    head, rest = path[0], path[1:]
    name = f"{prefix}.{head}" if prefix else head
    parent: dict[str, Any] = {}
    _flatten_doc(doc, prefix, parent, skip=name)
    child = doc.get(head) if isinstance(doc, Mapping) else None
    elements = child if isinstance(child, list) else ([] if child is None else [child])
    elements = [e for e in elements if isinstance(e, Mapping)] if rest else elements
    if not elements or (all(isinstance(e, Mapping) and not e for e in elements) and not rest):
        # Aggregations still count a document without nested elements (in the null part).
        return [{**parent, PARENT_ONLY: True}]
    rows = []
    for element in elements:
        if rest:
            if isinstance(element, Mapping):
                for sub in _explode(element, rest, name):
                    rows.append({**parent, **sub})
            continue
        row = dict(parent)
        _flatten_doc(element, name, row)
        rows.append(row)
    return rows


def _duck_type(values: Iterable[Any]) -> tuple[str, bool]:
    kinds = set()
    for v in values:
        if isinstance(v, bool):
            kinds.add("BOOLEAN")
        elif isinstance(v, int):
            kinds.add("BIGINT")
        elif isinstance(v, float):
            kinds.add("DOUBLE")
        elif isinstance(v, str):
            kinds.add("VARCHAR")
        else:
            kinds.add("JSON")
    if kinds <= {"BOOLEAN"}:
        return "BOOLEAN", False
    if kinds == {"BIGINT"}:
        return "BIGINT", False
    if kinds <= {"BIGINT", "DOUBLE"}:
        return "DOUBLE", False
    if kinds == {"VARCHAR"}:
        return "VARCHAR", False
    if kinds == {"JSON"}:
        return "VARCHAR", True
    return "VARCHAR", True  # mixed kinds: keep each value as JSON text


def load_documents(
    con: duckdb.DuckDBPyConnection,
    name: str,
    docs: Sequence[Mapping[str, Any]],
    nested: str | None = None,
) -> TableRef:
    """Create table ``name`` in ``con`` from JSON documents, one column per dotted leaf path.

    With ``nested`` (a path to an array of objects) there is one row per element of that
    array, carrying its parent's fields too.
    """
    if nested:
        rows = [r for d in docs for r in _explode(d, nested.split("."), "")]
    else:
        rows = []
        for d in docs:
            row: dict[str, Any] = {}
            _flatten_doc(d, "", row)
            rows.append(row)
    names: dict[str, None] = {}
    for r in rows:
        names.update(dict.fromkeys(r))
    columns: dict[str, str] = {}
    json_cols: set[str] = set()
    for col in names:
        if col == PARENT_ONLY:
            continue
        ctype, is_json = _duck_type(r[col] for r in rows if col in r)
        columns[col] = ctype
        if is_json:
            json_cols.add(col)
    con.execute(f"DROP TABLE IF EXISTS {quote_ident(name)}")
    stored = {**columns, PARENT_ONLY: "BOOLEAN"}
    defs = ", ".join(f"{quote_ident(c)} {t}" for c, t in stored.items())
    con.execute(f"CREATE TABLE {quote_ident(name)} ({defs})")
    if rows:
        marks = ", ".join("?" for _ in stored)
        con.executemany(
            f"INSERT INTO {quote_ident(name)} VALUES ({marks})",
            [
                [
                    orjson.dumps(r[c]).decode() if c in json_cols and c in r else r.get(c)
                    for c in columns
                ]
                + [bool(r.get(PARENT_ONLY))]
                for r in rows
            ],
        )
    return TableRef(quote_ident(name), columns, json_cols, nested, quote_ident(PARENT_ONLY))


# -- output helpers -------------------------------------------------------------------------


def _split_path(name: str) -> list[str]:
    """Split a dotted name; ``\\.`` is a literal dot inside one part."""
    parts = name.replace("\\.", "\x00").split(".")
    return [p.replace("\x00", ".") for p in parts]


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` as ``{"a": {"b": 1}}`` (nulls dropped), as ActiveData's list format."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        if value is None:
            continue
        if key == ".":
            if isinstance(value, Mapping):
                for k, v in value.items():
                    out[k] = v
            continue
        node = out
        parts = _split_path(key)
        for p in parts[:-1]:
            nxt = node.get(p)
            if not isinstance(nxt, dict):
                nxt = {}
                node[p] = nxt
            node = nxt
        node[parts[-1]] = value
    return out


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp()
    if hasattr(value, "as_tuple"):  # Decimal
        return _clean(float(value))
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (2, 0)
    if isinstance(value, bool | int | float):
        return (0, value)
    return (1, str(value))


# -- queries --------------------------------------------------------------------------------


@dataclass
class _Select:
    name: str
    value: Any
    aggregate: str | None = None
    percentile: float | None = None
    default: Any = None
    star: bool = False


@dataclass
class _Edge:
    name: str
    value: Any
    domain: dict[str, Any]
    allow_nulls: bool = True
    parts: list[dict[str, Any]] = field(default_factory=list)
    keys: list[Any] = field(default_factory=list)  # what each partition stands for
    key_sql: str = ""
    by_index: bool = False  # key_sql yields a partition index, not a value


class Evaluator:
    """Runs JX queries on DuckDB tables; ``tables`` maps a JX table name to a :class:`TableRef`.

    ``strict`` makes a variable that names no column an error (the sample's fixed layout);
    without it such a variable is null (documents, where any property may be absent).
    ``now`` fixes the clock that ``today``, ``now`` and relative dates read.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        tables: Mapping[str, TableRef] | TableResolver,
        *,
        strict: bool = False,
        now: dt.datetime | None = None,
    ) -> None:
        self.con = con
        self._tables = tables
        self.strict = strict
        self.now = now

    # -- entry point ---------------------------------------------------------------------------

    def run(self, query: Mapping[str, Any], *, max_limit: int = MAX_LIMIT) -> dict[str, Any]:
        """The answer ActiveData gives to ``query``: ``{"meta": {...}, "data": ..., ...}``.

        ``limit`` is capped at ``max_limit`` silently, as the server does (bulk mode raises it).
        """
        if not isinstance(query, Mapping):
            raise JXError(f"a JX query is a JSON object, not {type(query).__name__}")
        unknown = sorted(set(query) - _QUERY_KEYS)
        if unknown:
            raise JXError(f"unknown query clause {unknown[0]!r}")
        if query.get("edges") and query.get("groupby"):
            raise JXError("Expecting edges or groupby, not both")
        if query.get("having") is not None:
            raise JXError("'having' is not implemented")
        fmt = query.get("format") or ("table" if query.get("groupby") else "cube")
        if fmt not in ("list", "table", "cube"):
            raise JXError(f"unknown format {fmt!r}; use list, table or cube")
        limit = _limit(query.get("limit"), max_limit)
        table = self._table(query.get("from"))
        comp = Compiler(table.columns, nested=table.nested, now=self.now)
        if self.strict:
            self._check_fields(query, comp)
        where = comp.boolean(query["where"]) if query.get("where") is not None else "TRUE"
        where = f"coalesce({where}, FALSE)"
        single = not isinstance(query.get("select"), list)
        if query.get("edges") or query.get("groupby"):
            return self._grouped(query, table, comp, where, fmt, limit)
        selects = _selects(query.get("select"), default=".")
        if any(s.aggregate for s in selects):
            return self._aggregate_only(query, table, comp, where, fmt, selects, single)
        return self._set_op(query, table, comp, where, fmt, limit, selects, single)

    # -- tables -----------------------------------------------------------------------------

    def _table(self, name: Any) -> TableRef:
        if not isinstance(name, str) or not name:
            raise JXError("Expecting 'from' to name a table")
        if callable(self._tables):
            return self._tables(name)
        tables = self._tables
        if name in tables:
            return tables[name]
        raise JXError(
            f"{name!r} is not a known table; known tables are {', '.join(sorted(tables))}"
        )

    def _check_fields(self, query: Mapping[str, Any], comp: Compiler) -> None:
        for var in _variables(query):
            if var in (".", "*") or var.endswith(".*"):
                continue
            if comp.resolve(var) is None and not comp.leaves(var):
                raise JXError(f"no field {var!r} in table {query.get('from')!r}")

    # -- set operations ------------------------------------------------------------------------

    def _set_op(
        self,
        query: Mapping[str, Any],
        table: TableRef,
        comp: Compiler,
        where: str,
        fmt: str,
        limit: int,
        selects: list[_Select],
        single: bool,
    ) -> dict[str, Any]:
        # Each select becomes one or more SQL columns: (select index, sub-path or None, sql).
        outs: list[tuple[int, str | None, str]] = []
        headers: list[tuple[int, str]] = []  # table/cube columns: (select index, name)
        for i, s in enumerate(selects):
            if s.star:
                base = s.value[:-1].rstrip(".") if s.value != "*" else "."
                leaves = comp.leaves(base)
                for suffix, col in leaves:
                    out_name = suffix if base == "." else f"{s.name}.{suffix}"
                    outs.append((i, out_name, quote_ident(col)))
                    headers.append((i, out_name))
                continue
            headers.append((i, s.name))
            if isinstance(s.value, str) and comp.resolve(s.value) is None:
                leaves = comp.leaves(s.value)
                if leaves:
                    for suffix, col in leaves:
                        outs.append((i, suffix, quote_ident(col)))
                    continue
            sql = comp.expr(s.value)
            if s.default is not None:
                sql = f"coalesce({sql}, {comp.expr(s.default)})"
            outs.append((i, None, sql))
        if table.parent_only:
            where = f"{where} AND NOT {table.parent_only}"
        order = self._order_sql(query, comp, selects)
        select_sql = ", ".join(f"{sql} AS c{n}" for n, (_, _, sql) in enumerate(outs)) or "1"
        sql = f"SELECT {select_sql} FROM {table.relation} WHERE {where}{order} LIMIT {limit}"
        rows = self._fetch(sql)
        json_cols = {
            n
            for n, (_, _, s) in enumerate(outs)
            if any(s == quote_ident(c) for c in table.json_columns)
        }
        values: list[list[Any]] = []  # per row, per header
        records: list[dict[str, Any]] = []
        for row in rows:
            cells = [
                _clean(orjson.loads(v)) if n in json_cols and v is not None else _clean(v)
                for n, v in enumerate(row)
            ]
            per_select: dict[int, Any] = {}
            star_cells: dict[str, Any] = {}
            for (i, sub, _), v in zip(outs, cells, strict=True):
                s = selects[i]
                if s.star:
                    star_cells[sub or s.name] = v
                elif sub is None:
                    per_select[i] = v
                else:
                    obj = per_select.setdefault(i, {})
                    if v is not None:
                        obj[sub] = v
            objects = {
                i: (unflatten(v) or None) if isinstance(v, dict) else v
                for i, v in per_select.items()
            }
            values.append(
                [star_cells.get(name) if selects[i].star else objects.get(i) for i, name in headers]
            )
            rec: dict[str, Any] = {}
            for i, name in headers:
                rec[name] = star_cells.get(name) if selects[i].star else objects.get(i)
            records.append(rec)
        names = [name for _, name in headers]
        if fmt == "list":
            if single and not selects[0].star:
                data: Any = [r.get(names[0]) for r in records]
            else:
                data = [unflatten(r) for r in records]
            return {"meta": {"format": "list"}, "data": data}
        if fmt == "table":
            return {"meta": {"format": "table"}, "header": names, "data": values}
        return {
            "meta": {"format": "cube"},
            "edges": [
                {
                    "name": "rownum",
                    "domain": {"type": "rownum", "min": 0, "max": len(values), "interval": 1},
                }
            ],
            "data": {n: [row[k] for row in values] for k, n in enumerate(names)},
        }

    def _order_sql(self, query: Mapping[str, Any], comp: Compiler, selects: list[_Select]) -> str:
        sorts = _sorts(query.get("sort"))
        if not sorts:
            return ""
        by_name = {s.name: s for s in selects if not s.star}
        parts = []
        for value, direction in sorts:
            if isinstance(value, str) and value in by_name and comp.resolve(value) is None:
                sql = comp.expr(by_name[value].value)
            else:
                sql = comp.expr(value)
            parts.append(f"{sql} {'DESC' if direction < 0 else 'ASC'} NULLS LAST")
        return " ORDER BY " + ", ".join(parts)

    # -- aggregates -----------------------------------------------------------------------------

    def _agg_sql(self, s: _Select, comp: Compiler, where_extra: str = "") -> list[str]:
        """SQL aggregate(s) for one select (``stats`` needs several)."""
        agg = AGGREGATES.get(s.aggregate or "")
        if agg is None:
            raise JXError(f"ES can not aggregate {s.aggregate!r}")
        value = s.value
        if agg == "count":
            if value in (None, ".", "*"):
                return ["count(*)"]
            return [f"count({comp.expr(value)})"]
        x = comp.expr(value)
        num = f"TRY_CAST({x} AS DOUBLE)"
        if agg in ("sum", "avg", "median", "stddev", "variance"):
            fn = {"stddev": "stddev_pop", "variance": "var_pop"}.get(agg, agg)
            return [f"{fn}({num})"]
        if agg in ("min", "max"):
            return [f"{agg}({x})"]
        if agg == "percentile":
            p = 0.5 if s.percentile is None else float(s.percentile)
            return [f"quantile_cont({num}, {p!r})"]
        if agg == "cardinality":
            return [f"count(DISTINCT {x})"]
        if agg == "union":
            return [f"list_sort(list(DISTINCT {x}) FILTER (WHERE {x} IS NOT NULL))"]
        if agg == "stats":
            return [
                f"count({x})",
                f"sum({num})",
                f"min({num})",
                f"max({num})",
                f"avg({num})",
                f"median({num})",
                f"stddev_pop({num})",
                f"var_pop({num})",
                f"sum({num} * {num})",
            ]
        if agg in ("and", "or"):
            return [f"bool_{agg}(CAST({x} AS BOOLEAN))"]
        return [f"any_value({x})"]  # none / one

    @staticmethod
    def _agg_value(s: _Select, cells: Sequence[Any]) -> Any:
        if AGGREGATES.get(s.aggregate or "") == "stats":
            keys = ("count", "sum", "min", "max", "avg", "median", "std", "var", "sos")
            return {k: _clean(v) for k, v in zip(keys, cells, strict=True)}
        value = _clean(cells[0])
        if isinstance(value, list) and not value:
            return None
        return value

    def _aggregate_only(
        self,
        query: Mapping[str, Any],
        table: TableRef,
        comp: Compiler,
        where: str,
        fmt: str,
        selects: list[_Select],
        single: bool,
    ) -> dict[str, Any]:
        if any(not s.aggregate for s in selects):
            raise JXError("cannot mix aggregates and plain values without groupby or edges")
        sqls = [self._agg_sql(s, comp) for s in selects]
        flat = [x for group in sqls for x in group]
        row = self._fetch(f"SELECT {', '.join(flat)} FROM {table.relation} WHERE {where}")[0]
        values = []
        pos = 0
        for s, group in zip(selects, sqls, strict=True):
            values.append(self._agg_value(s, row[pos : pos + len(group)]))
            pos += len(group)
        names = [s.name for s in selects]
        if fmt == "list":
            data = values[0] if single else unflatten(dict(zip(names, values, strict=True)))
            return {"meta": {"format": "value"}, "data": data}
        if fmt == "table":
            return {"meta": {"format": "table"}, "header": names, "data": [values]}
        return {
            "meta": {"format": "cube"},
            "edges": [],
            "data": dict(zip(names, values, strict=True)),
        }

    # -- groupby and edges ----------------------------------------------------------------------

    def _grouped(
        self,
        query: Mapping[str, Any],
        table: TableRef,
        comp: Compiler,
        where: str,
        fmt: str,
        limit: int,
    ) -> dict[str, Any]:
        is_edges = bool(query.get("edges"))
        raw = query.get("edges") if is_edges else query.get("groupby")
        edges = [_edge(e) for e in (raw if isinstance(raw, list) else [raw])]
        edges = self._expand_star_edges(edges, comp)
        select = query.get("select")
        if select is None:
            selects = [_Select("count", None, "count")]
        else:
            selects = _selects(select, default=None) if select not in ([], {}) else []
        for s in selects:
            if not s.aggregate:
                s.aggregate = "none"  # a plain value per group: any one of its values
        for e in edges:
            self._domain(e, comp, table, where, limit, is_edges)
        key_sql = [e.key_sql for e in edges]
        agg_sqls = [self._agg_sql(s, comp) for s in selects]
        flat = [x for g in agg_sqls for x in g]
        group = ", ".join(f"k{i}" for i in range(len(edges)))
        keys = ", ".join(f"{k} AS k{i}" for i, k in enumerate(key_sql))
        null_filter = " AND ".join(
            f"k{i} IS NOT NULL" for i, e in enumerate(edges) if not e.allow_nulls
        )
        sql = (
            f"SELECT {keys}, {', '.join(flat)} FROM {table.relation} WHERE {where} GROUP BY {group}"
        )
        if null_filter:
            sql = f"SELECT * FROM ({sql}) WHERE {null_filter}"
        rows = self._fetch(sql)
        counts = {s.name for s in selects if AGGREGATES.get(s.aggregate or "") == "count"}
        cells: dict[tuple[int, ...], list[Any]] = {}
        n_edges = len(edges)
        for row in rows:
            index = []
            for e, k in zip(edges, row[:n_edges], strict=True):
                index.append(_partition_index(e, k))
            if any(i < 0 for i in index):
                continue
            values = []
            pos = n_edges
            for s, g in zip(selects, agg_sqls, strict=True):
                values.append(self._agg_value(s, row[pos : pos + len(g)]))
                pos += len(g)
            cells[tuple(index)] = values
        names = [s.name for s in selects]
        edge_names = [e.name for e in edges]
        axes = [list(range(len(e.keys))) + ([len(e.keys)] if e.allow_nulls else []) for e in edges]

        def value_at(index: tuple[int, ...]) -> list[Any]:
            found = cells.get(index)
            if found is None:
                found = [0 if n in counts else None for n in names]
            return [
                s.default if v is None and s.default is not None else v
                for s, v in zip(selects, found, strict=True)
            ]

        def edge_value(e: _Edge, i: int) -> Any:
            return e.keys[i] if i < len(e.keys) else None

        if is_edges or fmt == "cube":
            indexes = list(itertools.product(*axes))
        else:
            indexes = sorted(
                cells,
                key=lambda ix: [
                    _sort_key(edge_value(e, i)) for e, i in zip(edges, ix, strict=True)
                ],
            )
        rows_out: list[tuple[list[Any], list[Any]]] = [
            ([edge_value(e, i) for e, i in zip(edges, ix, strict=True)], value_at(ix))
            for ix in indexes
        ]
        if fmt == "cube":
            return {
                "meta": {"format": "cube"},
                "edges": [_edge_description(e) for e in edges],
                "select": [{"name": n} for n in names],
                "data": {n: _nest(axes, _column_of(value_at, k)) for k, n in enumerate(names)},
            }
        rows_out = self._sort_grouped(query, rows_out, edge_names, names)
        if not is_edges:
            rows_out = rows_out[:limit]
        header = [*edge_names, *names]
        if fmt == "table":
            return {
                "meta": {"format": "table"},
                "header": header,
                "data": [[*k, *v] for k, v in rows_out],
            }
        return {
            "meta": {"format": "list"},
            "data": [unflatten(dict(zip(header, [*k, *v], strict=True))) for k, v in rows_out],
        }

    def _sort_grouped(
        self,
        query: Mapping[str, Any],
        rows: list[tuple[list[Any], list[Any]]],
        edge_names: list[str],
        names: list[str],
    ) -> list[tuple[list[Any], list[Any]]]:
        sorts = _sorts(query.get("sort"))
        if not sorts:
            return rows
        header = [*edge_names, *names]
        out = list(rows)
        for value, direction in reversed(sorts):
            if not isinstance(value, str) or value not in header:
                raise JXError(f"can only sort grouped results by an output column, not {value!r}")
            k = header.index(value)

            def cell(r: tuple[list[Any], list[Any]], k: int = k) -> Any:
                return [*r[0], *r[1]][k]

            present = [r for r in out if cell(r) is not None]
            absent = [r for r in out if cell(r) is None]
            present.sort(key=lambda r: _sort_key(cell(r)), reverse=direction < 0)
            out = present + absent
        return out

    def _expand_star_edges(self, edges: list[_Edge], comp: Compiler) -> list[_Edge]:
        out = []
        for e in edges:
            if isinstance(e.value, str) and e.value.endswith(".*"):
                base = e.value[:-2]
                for suffix, col in comp.leaves(base):
                    out.append(_Edge(f"{base}.{suffix}", col, {"type": "default"}, e.allow_nulls))
                continue
            out.append(e)
        return out

    def _domain(
        self, e: _Edge, comp: Compiler, table: TableRef, where: str, limit: int, is_edges: bool
    ) -> None:
        """Fill the edge's partitions and the SQL that maps a row to its partition."""
        d = e.domain
        kind = d.get("type", "default")
        value_sql = comp.expr(e.value) if e.value is not None else "NULL"
        parts = d.get("partitions")
        if kind in ("range", "time", "duration") and parts is None:
            lo, hi, step = (
                _domain_number(d.get(k), kind, self.now) for k in ("min", "max", "interval")
            )
            if step <= 0:
                raise JXError(f"edge {e.name!r}: the interval must be positive")
            count = max(0, math.ceil((hi - lo) / step - 1e-9))
            e.keys = [_clean(lo + i * step) for i in range(count)]
            e.parts = [
                {"min": _clean(lo + i * step), "max": _clean(lo + (i + 1) * step)}
                for i in range(count)
            ]
            v = f"TRY_CAST({value_sql} AS DOUBLE)"
            e.key_sql = (
                f"CASE WHEN {v} >= {lo!r} AND {v} < {hi!r} "
                f"THEN CAST(floor(({v} - {lo!r}) / {step!r}) AS BIGINT) END"
            )
            e.by_index = True
            return
        if kind == "range" and parts is not None:
            v = f"TRY_CAST({value_sql} AS DOUBLE)"
            whens = []
            for i, p in enumerate(parts):
                lo_p, hi_p = float(p["min"]), float(p["max"])
                whens.append(f"WHEN {v} >= {lo_p!r} AND {v} < {hi_p!r} THEN {i}")
            key = d.get("key", "min")
            e.keys = [p.get(key) for p in parts]
            e.parts = [dict(p) for p in parts]
            e.key_sql = f"CASE {' '.join(whens)} END" if whens else "NULL"
            e.by_index = True
            return
        if parts is not None:
            if any(isinstance(p, Mapping) and "where" in p for p in parts):
                raise JXError(
                    f"edge {e.name!r}: partitions with their own 'where' are not supported"
                )
            keys = [p.get("value", p.get("name")) if isinstance(p, Mapping) else p for p in parts]
            e.keys = keys
            e.parts = [{"value": k} for k in keys]
            e.key_sql = _in_domain(value_sql, keys)
            return
        if kind not in ("default", "set"):
            raise JXError(f"edge {e.name!r}: unknown domain type {kind!r}")
        # Default domain: the values present, the most frequent first, up to the limit.
        # Edges are complete: their domain is every value in the table, the filter aside.
        dlimit = int(d.get("limit") or (limit if is_edges else MAX_LIMIT))
        scope = "TRUE" if is_edges else where
        found = self._fetch(
            f"SELECT v FROM (SELECT {value_sql} AS v, count(*) AS n FROM {table.relation} "
            f"WHERE {scope} GROUP BY 1) WHERE v IS NOT NULL ORDER BY n DESC, v LIMIT {dlimit}"
        )
        keys = sorted((_clean(r[0]) for r in found), key=_sort_key)
        e.keys = keys
        e.parts = [{"value": k} for k in keys]
        e.key_sql = _in_domain(value_sql, keys) if len(keys) == dlimit else value_sql

    # -- running -----------------------------------------------------------------------------

    def _fetch(self, sql: str) -> list[tuple[Any, ...]]:
        import duckdb

        try:
            return self.con.execute(sql).fetchall()
        except duckdb.Error as exc:
            raise JXError(f"could not evaluate the query: {exc}") from None


def _partition_index(e: _Edge, key: Any) -> int:
    """The partition a group key falls in; ``len(keys)`` for the null part, -1 to drop."""
    if key is None:
        return len(e.keys)
    if e.by_index:
        i = int(key)
        return i if 0 <= i < len(e.keys) else len(e.keys)
    key = _clean(key)
    for i, k in enumerate(e.keys):
        if (k == key and type(k) is not bool) or k is key:
            return i
    return len(e.keys)


def _column_of(
    value_at: Callable[[tuple[int, ...]], list[Any]], k: int
) -> Callable[[tuple[int, ...]], Any]:
    return lambda ix: value_at(ix)[k]


def _in_domain(value_sql: str, keys: Sequence[Any]) -> str:
    """The value when it is one of the partitions, else null (the null part)."""
    from .expressions import sql_literal

    literals = [sql_literal(k) for k in keys if not isinstance(k, list | dict)]
    if not literals:
        return "NULL"
    return f"CASE WHEN {value_sql} IN ({', '.join(literals)}) THEN {value_sql} END"


def _nest(axes: list[list[int]], cell: Callable[[tuple[int, ...]], Any]) -> Any:
    def build(prefix: tuple[int, ...], depth: int) -> Any:
        if depth == len(axes):
            return cell(prefix)
        return [build((*prefix, i), depth + 1) for i in axes[depth]]

    return build((), 0)


def _edge_description(e: _Edge) -> dict[str, Any]:
    kind = e.domain.get("type", "default")
    domain: dict[str, Any] = {"type": "set" if kind == "default" else kind}
    if e.by_index:
        domain["key"] = e.domain.get("key", "min")
        domain["partitions"] = e.parts
        for k in ("min", "max", "interval"):
            if k in e.domain:
                domain[k] = e.domain[k]
    else:
        domain["key"] = "value"
        domain["partitions"] = e.parts
    return {"name": e.name, "allowNulls": e.allow_nulls, "domain": domain}


def _domain_number(value: Any, kind: str, now: dt.datetime | None) -> float:
    if value is None:
        raise JXError(f"a {kind} domain needs min, max and interval")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value)
    if kind == "time":
        try:
            return parse_duration(text)
        except JXError:
            return parse_date(text, now or dt.datetime.now(dt.UTC))
    if kind == "duration":
        sign = -1.0 if text.startswith("-") else 1.0
        return sign * parse_duration(text.lstrip("+-"))
    raise JXError(f"cannot read {value!r} as a number")


def _limit(value: Any, max_limit: int = MAX_LIMIT) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise JXError("Expecting limit >= 0")
    if isinstance(value, float) and not value.is_integer():
        raise JXError("Expecting limit >= 0")
    return min(int(value), max_limit)


def _select_name(value: Any) -> str:
    if isinstance(value, str):
        return value.rstrip(".*") if value.endswith(".*") else value
    return "."


def _selects(select: Any, *, default: str | None) -> list[_Select]:
    if select is None:
        select = default
    if select is None:
        return []
    items = select if isinstance(select, list) else [select]
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(_Select(_select_name(item), item, star=item == "*" or item.endswith(".*")))
            continue
        if not isinstance(item, Mapping) or not ("value" in item or "aggregate" in item):
            raise JXError("Expecting `value` or `aggregate` in select ")
        value = item.get("value")
        aggregate = item.get("aggregate")
        if aggregate is not None and aggregate not in AGGREGATES:
            raise JXError(f"ES can not aggregate {aggregate!r}")
        name = item.get("name")
        if name is None:
            if isinstance(value, str):
                name = _select_name(value)
                if value == "." and aggregate:
                    name = aggregate
            else:
                name = aggregate or "."
        star = isinstance(value, str) and (value == "*" or value.endswith(".*"))
        out.append(
            _Select(str(name), value, aggregate, item.get("percentile"), item.get("default"), star)
        )
    return out


def _edge(e: Any) -> _Edge:
    if isinstance(e, str):
        return _Edge(e, e, {"type": "default"})
    if not isinstance(e, Mapping):
        raise JXError(f"cannot read {e!r} as an edge or groupby")
    if "range" in e:
        raise JXError("edges over a 'range' of two fields are not supported")
    value = e.get("value")
    domain = dict(e.get("domain") or {"type": "default"})
    name = e.get("name")
    if name is None:
        name = value if isinstance(value, str) else None
    if name is None:
        raise JXError(f"an edge needs a name or a variable as its value: {e!r}")
    if value is None and "partitions" not in domain:
        value = name
    return _Edge(str(name), value, domain, e.get("allowNulls", True) is not False)


def _sorts(sort: Any) -> list[tuple[Any, int]]:
    if sort is None:
        return []
    items = sort if isinstance(sort, list) else [sort]
    out = []
    for s in items:
        if isinstance(s, str):
            out.append((s, 1))
        elif isinstance(s, Mapping) and "value" in s:
            d = s.get("sort", 1)
            out.append((s["value"], -1 if d in (-1, "desc", "descending") else 1))
        elif isinstance(s, Mapping) and len(s) == 1:
            k, d = next(iter(s.items()))
            out.append((k, -1 if d in (-1, "desc", "descending") else 1))
        else:
            raise JXError(f"cannot read {s!r} as a sort")
    return out


def _variables(query: Mapping[str, Any]) -> set[str]:
    """Variables a query names in select, where, groupby, edges (for strict checking)."""
    found: set[str] = set()

    def walk(e: Any, formal: bool = True) -> None:
        if isinstance(e, str):
            if formal:
                found.add(e)
        elif isinstance(e, list):
            for x in e:
                walk(x)
        elif isinstance(e, Mapping):
            for op, args in e.items():
                if op in ("literal", "date"):
                    continue
                if isinstance(args, Mapping) and op in _SIMPLE_FORM:
                    found.update(k for k in args)
                    for v in args.values():
                        if isinstance(v, Mapping):
                            walk(v)
                    continue
                walk(args, op not in ("prefix", "suffix"))

    for s in _listify(query.get("select")):
        walk(s.get("value") if isinstance(s, Mapping) else s)
    walk(query.get("where"))
    for e in _listify(query.get("groupby")) + _listify(query.get("edges")):
        walk(e.get("value") if isinstance(e, Mapping) else e)
    return found


_SIMPLE_FORM: Final = frozenset(
    {"eq", "term", "ne", "neq", "gt", "gte", "lt", "lte", "in", "terms", "prefix", "suffix",
     "postfix", "regexp", "regex", "between"}
)  # fmt: skip


def _listify(x: Any) -> list[Any]:
    if x is None:
        return []
    return list(x) if isinstance(x, list) else [x]
